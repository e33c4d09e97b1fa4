"""Data input: svmlight/libsvm reader and memory-mappable CSR caches.

- :func:`load_svmlight`: parallel svmlight/libsvm parser (plain, .gz, .bz2, .xz), the matrix
  scikit-learn's ``load_svmlight_file`` gives, errors with file name and line (``finite=True``:
  NaN and infinity too); :func:`read_svmlight` also maps rows back to file and line;
- :func:`binary_labels`: {0, 1} / {-1, +1} / {1, 2} labels to {0, 1};
- :func:`convert_svmlight`, :func:`save_csr_cache`, :func:`load_csr_cache`, :class:`CSRCache`:
  the binary cache (``fastlogit convert``), memory-mapped or read row block by row block;
- streaming: :func:`iter_text_blocks` (text in blocks of whole lines), :func:`iter_blocks`
  (parsed blocks), :func:`iter_row_blocks` (CSR row blocks checked against a width),
  :func:`score_svmlight` (a linear model's decision values while parsing, no entry stored),
  :func:`decompressing` (gzip / bz2 / xz recognised on an open stream), :func:`source_name`.
"""
from .cache import (CacheFormatError, CSRCache, convert_svmlight, is_csr_cache, load_csr_cache,
                    save_csr_cache)
from .svmlight import (SvmlightFormatError, binary_labels, decompressing, iter_blocks,
                       iter_row_blocks, iter_text_blocks, load_svmlight, read_svmlight,
                       score_svmlight, source_name)

__all__ = ["load_svmlight", "read_svmlight", "binary_labels", "SvmlightFormatError",
           "convert_svmlight", "save_csr_cache", "load_csr_cache", "is_csr_cache", "CSRCache",
           "CacheFormatError", "iter_text_blocks", "iter_blocks", "iter_row_blocks",
           "score_svmlight", "decompressing", "source_name"]
