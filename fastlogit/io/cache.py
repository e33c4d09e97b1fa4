"""Binary CSR cache: a text data set converted once into memory-mappable arrays.

Layout (format ``fastlogit-csr-cache``, version 1) -- a directory holding::

    header.json    {"format": "fastlogit-csr-cache", "version": 1, "shape": [n, d], "nnz": nnz,
                    "dtype": "<f8", "index_dtype": "<i4", "indptr_dtype": "<i4",
                    "label_dtype": "<f8", "files": {"data": "data.bin", ...}, "source": ...,
                    "created": "2026-...Z"}
    data.bin       nnz values (dtype)                      raw little-endian arrays, no header:
    indices.bin    nnz column ids, sorted within each row  np.fromfile / np.memmap read them
    indptr.bin     n + 1 row offsets starting at 0
    labels.bin     n labels as written in the source (float64; see io.binary_labels)

``indptr`` and ``indices`` share one integer type (int32 while nnz and d fit, else int64) so
that scipy wraps the mapped arrays without a copy: :func:`load_csr_cache` opens a cache of any
size in milliseconds.  :meth:`CSRCache.read_rows` reads one row block into memory and nothing
else, which is how data larger than RAM (or than the address space one allows) is streamed.

Writing is atomic: everything goes into a hidden temporary directory next to the target,
files are fsync'ed, ``header.json`` is written last, and the directory is renamed into place.
An interrupted conversion leaves no cache (only, at worst, the temporary directory, of
:mod:`fastlogit._atomic`'s naming, which the next conversion to the same target removes once
its process is gone).
"""
import datetime
import json
import os
import shutil
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .._atomic import fsync_dir, remove_stale, temp_path
from .._docstring import filler

__all__ = ["CSRCache", "save_csr_cache", "load_csr_cache", "convert_svmlight", "is_csr_cache",
           "CacheFormatError", "FORMAT", "VERSION"]

FORMAT = "fastlogit-csr-cache"
VERSION = 1
_FILES = {"data": "data.bin", "indices": "indices.bin", "indptr": "indptr.bin",
          "labels": "labels.bin"}
_I32 = np.iinfo(np.int32).max

#: The start of the CSRCache members' examples: a 4 x 2 cache (4 non-zeros) in a temporary
#: folder, which each example removes at its end (``folder.cleanup()``).
_fill_doc = filler({"cache_example": """\
>>> import os, tempfile
>>> import numpy as np
>>> from fastlogit.io import save_csr_cache
>>> folder = tempfile.TemporaryDirectory()
>>> X = np.array([[0.0, 1.5], [2.0, 0.0], [0.0, 0.0], [3.0, 4.0]])
>>> cache = save_csr_cache(os.path.join(folder.name, "c"), X, [1, 0, 1, 0])"""})


class CacheFormatError(ValueError):
    """Not a fastlogit CSR cache, an unknown version, or inconsistent files.

    A :class:`ValueError` whose message names the offending file and the problem; raised
    by :class:`CSRCache` (opening, :meth:`CSRCache.validate`) and :func:`load_csr_cache`.

    Examples
    --------
    >>> import tempfile
    >>> from fastlogit.io import CacheFormatError, load_csr_cache
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     try:
    ...         load_csr_cache(folder)
    ...     except CacheFormatError as exc:
    ...         print(str(exc).endswith("not a fastlogit CSR cache (no header.json)"))
    True
    """


def is_csr_cache(path):
    """True if ``path`` is a directory with a fastlogit cache header.

    Only the header's format name is read: a damaged cache still says True (opening it with
    :class:`CSRCache` says what is wrong).

    Parameters
    ----------
    path : str or os.PathLike
        The candidate directory (a missing path gives False).

    Returns
    -------
    bool
        Whether ``path/header.json`` exists and names the format ``fastlogit-csr-cache``.

    Examples
    --------
    >>> import os, tempfile
    >>> from fastlogit.io import is_csr_cache, save_csr_cache
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = save_csr_cache(os.path.join(folder, "c"), [[1.0, 0.0]], [1])
    ...     is_csr_cache(os.path.join(folder, "c")), is_csr_cache(folder)
    (True, False)
    """
    header = Path(path) / "header.json"
    if not header.is_file():
        return False
    try:
        header = json.loads(header.read_text())
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(header, dict) and header.get("format") == FORMAT


def _check_header(header, where):
    """Raise CacheFormatError naming ``where`` unless ``header`` has the documented layout."""
    def bad(problem):
        raise CacheFormatError(f"{where}: {problem} (damaged or foreign cache)")

    if not isinstance(header, dict) or header.get("format") != FORMAT:
        bad("not a fastlogit CSR cache header")
    if header.get("version") != VERSION:
        raise CacheFormatError(f"{where}: cache version {header.get('version')!r:.40} is not "
                               f"supported (this fastlogit reads version {VERSION})")

    def count(value):
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0

    shape = header.get("shape")
    if not (isinstance(shape, list) and len(shape) == 2 and all(map(count, shape))):
        bad(f"shape must be two non-negative integers, got {shape!r:.60}")
    if not count(header.get("nnz")):
        bad(f"nnz must be a non-negative integer, got {header.get('nnz')!r:.60}")
    for key, allowed in (("dtype", ("<f4", "<f8")), ("index_dtype", ("<i4", "<i8")),
                         ("indptr_dtype", ("<i4", "<i8")), ("label_dtype", ("<f8",))):
        if header.get(key) not in allowed:
            bad(f"{key} must be one of {', '.join(allowed)}, got {header.get(key)!r:.40}")
    files = header.get("files")
    if not (isinstance(files, dict) and set(files) == set(_FILES)
            and all(isinstance(f, str) and f and f == os.path.basename(f)
                    and f not in (".", "..") for f in files.values())):
        bad(f"files must name {', '.join(sorted(_FILES))} inside the cache directory, got "
            f"{files!r:.80}")


def _recast_file(path, src_dtype, dst_dtype, step):
    """Rewrite a raw array file in another dtype, ``step`` values at a time."""
    tmp = path.with_name(path.name + ".recast")
    with open(path, "rb") as fin, open(tmp, "wb") as fout:
        while True:
            block = np.fromfile(fin, dtype=src_dtype, count=step)
            if not block.size:
                break
            fout.write(block.astype(dst_dtype).tobytes())
    os.replace(tmp, path)


class _Writer:
    """Streams row blocks into a temporary cache directory; :meth:`finish` publishes it."""

    def __init__(self, path, dtype, overwrite=True):
        self.path = Path(path)
        if self.path.exists() and not overwrite:
            raise FileExistsError(f"{self.path} exists (pass overwrite=True to replace it)")
        if self.path.exists() and not (self.path.is_dir() and is_csr_cache(self.path)):
            raise FileExistsError(f"{self.path} exists and is not a fastlogit cache; "
                                  "refusing to replace it")
        self.dtype = np.dtype(dtype).newbyteorder("<")
        parent = self.path.parent
        parent.mkdir(parents=True, exist_ok=True)
        remove_stale(self.path)  # temporary directories of killed conversions
        self.tmp = Path(temp_path(os.path.abspath(self.path)))
        self.tmp.mkdir()
        self.files = {k: open(self.tmp / f, "wb") for k, f in _FILES.items()}
        self.n_rows = 0
        self.nnz = 0
        self.files["indptr"].write(np.zeros(1, dtype="<i8").tobytes())

    def append(self, data, indices, counts, labels):
        data = np.ascontiguousarray(data, dtype=self.dtype)
        self.files["data"].write(data.tobytes())
        self.files["indices"].write(np.ascontiguousarray(indices, dtype="<i4").tobytes())
        ends = self.nnz + np.cumsum(counts, dtype=np.int64)
        self.files["indptr"].write(ends.astype("<i8").tobytes())
        self.files["labels"].write(np.ascontiguousarray(labels, dtype="<f8").tobytes())
        self.n_rows += len(labels)
        self.nnz += int(data.size)

    def finish(self, n_features, shift=False, meta=None):
        for fh in self.files.values():
            fh.close()
        step = 1 << 24
        if shift and self.nnz:  # one-based ids on disk -> zero-based, block by block
            with open(self.tmp / _FILES["indices"], "r+b") as fh:
                for lo in range(0, self.nnz, step):
                    fh.seek(4 * lo)
                    block = np.fromfile(fh, dtype="<i4", count=min(step, self.nnz - lo))
                    block -= 1
                    fh.seek(4 * lo)
                    fh.write(block.tobytes())
        index_dtype = "<i4" if (self.nnz <= _I32 and n_features <= _I32) else "<i8"
        if index_dtype == "<i4":  # rewrite the int64 row offsets as int32
            _recast_file(self.tmp / _FILES["indptr"], "<i8", "<i4", step)
        else:
            _recast_file(self.tmp / _FILES["indices"], "<i4", "<i8", step)
        header = {
            "format": FORMAT, "version": VERSION,
            "shape": [int(self.n_rows), int(n_features)], "nnz": int(self.nnz),
            "dtype": self.dtype.str, "index_dtype": index_dtype, "indptr_dtype": index_dtype,
            "label_dtype": "<f8", "files": dict(_FILES),
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
        header.update(meta or {})
        for name in _FILES.values():
            with open(self.tmp / name, "rb+") as fh:
                os.fsync(fh.fileno())
        with open(self.tmp / "header.json", "w") as fh:
            json.dump(header, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        fsync_dir(self.tmp)
        old = None
        if self.path.exists():
            old = temp_path(os.path.abspath(self.path))
            os.rename(self.path, old)
        os.rename(self.tmp, self.path)
        fsync_dir(self.path.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return CSRCache(self.path)

    def abort(self):
        for fh in self.files.values():
            fh.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def save_csr_cache(path, X, y, *, source=None, overwrite=True):
    """Write CSR ``X`` and labels ``y`` as a cache at ``path`` (atomically).

    Parameters
    ----------
    path : str or os.PathLike
        The cache directory to create (missing parent directories are created).
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The data, stored as CSR with sorted indices; float32 and float64 kept, any other
        dtype stored as float64.
    y : array-like of shape (n_samples,)
        Labels, stored as float64 as given (:func:`binary_labels` maps them when read);
        another length raises ValueError.
    source : str, default=None
        Where the data came from, recorded in the header (``header["source"]``).
    overwrite : bool, default=True
        Replace an existing cache at ``path`` (only once the new one is complete); False
        raises FileExistsError if ``path`` exists.  A path that exists and is not a cache
        is never replaced (FileExistsError).

    Returns
    -------
    CSRCache
        The written cache, opened.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from fastlogit.io import load_csr_cache, save_csr_cache
    >>> X = np.array([[0.0, 1.5], [2.0, 0.0], [0.0, 0.0]])
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     cache = save_csr_cache(os.path.join(folder, "train"), X, [1, -1, 1])
    ...     X_read, y_read = load_csr_cache(cache.path, mmap=False)
    >>> cache.shape, cache.nnz, bool((X_read.toarray() == X).all()), y_read
    ((3, 2), 2, True, array([ 1., -1.,  1.]))
    """
    X = sp.csr_matrix(X)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if not X.has_sorted_indices:
        X = X.sorted_indices()
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"y has {y.shape[0]} entries, X has {X.shape[0]} rows")
    writer = _Writer(path, X.dtype, overwrite)
    try:
        writer.append(X.data, X.indices, np.diff(X.indptr), y)
        return writer.finish(X.shape[1], meta={"source": None if source is None else str(source)})
    except BaseException:
        writer.abort()
        raise


def convert_svmlight(src, dst, *, n_features=None, dtype=np.float64, zero_based="auto",
                     n_threads=None, progress=False, overwrite=True, finite=False):
    """Convert svmlight text (plain / .gz / .bz2 / .xz, or a list of shards) into a cache.

    Streams: blocks are parsed (:func:`fastlogit.io.load_svmlight`'s parser) and appended to
    the cache files as they come, so the text set never has to fit in memory.  The matrix is
    the one :func:`~fastlogit.io.load_svmlight` returns.  Writing is atomic: a failed
    conversion leaves no cache.

    Parameters
    ----------
    src : str, os.PathLike, binary file object, or a list of them
        The svmlight input; several inputs are shards stacked in order (``zero_based="auto"``
        decides over all of them).
    dst : str or os.PathLike
        The cache directory to create.
    n_features : int, default=None
        Number of columns; None: the largest feature id + 1 (after the id shift).  A feature
        id beyond it raises :class:`SvmlightFormatError` naming the file and line.
    dtype : {numpy.float32, numpy.float64}, default=numpy.float64
        dtype of the stored values.
    zero_based : bool or "auto", default="auto"
        Whether feature ids start at 0; "auto" (scikit-learn's rule): one-based unless some
        id is 0.
    n_threads : int, default=None
        Parser threads (None: all cores).
    progress : bool, default=False
        Show a tqdm progress bar over the (compressed) input bytes.
    overwrite : bool, default=True
        Replace an existing cache at ``dst`` once the new one is complete; False raises
        FileExistsError if ``dst`` exists (as does a ``dst`` that is not a cache).
    finite : bool, default=False
        Refuse NaN and infinite labels and values with an error naming the file and line
        (as :func:`~fastlogit.io.load_svmlight`).

    Returns
    -------
    CSRCache
        The written cache, opened.

    Raises
    ------
    SvmlightFormatError
        On malformed input (with file and line), no samples, or a feature id beyond
        ``n_features``.

    Examples
    --------
    >>> import os, tempfile
    >>> from fastlogit.io import convert_svmlight
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     with open(os.path.join(folder, "train.svm"), "w") as f:
    ...         _ = f.write("+1 1:0.5 3:2\\n-1 2:1\\n")
    ...     cache = convert_svmlight(os.path.join(folder, "train.svm"),
    ...                              os.path.join(folder, "train.cache"))
    ...     X, y = cache.load(mmap=False)
    >>> cache.shape, X.toarray(), y
    ((2, 3), array([[0.5, 0. , 2. ],
           [0. , 1. , 0. ]]), array([ 1., -1.]))
    """
    from .svmlight import SvmlightFormatError, iter_blocks, source_name

    dtype = np.dtype(dtype)
    sources = list(src) if isinstance(src, (list, tuple)) else [src]
    writer = _Writer(dst, dtype, overwrite)
    raw_min, raw_max = None, -1
    over = None  # first (source, line, name, id) with raw id > n_features: bad for any base
    at = None  # first (source, line, name, id) with raw id == n_features: bad if zero-based
    try:
        for k_src, source in enumerate(sources):
            for name, b in iter_blocks(source, zero_based, dtype, n_threads, progress,
                                        finite=finite):
                idx = b["indices"]
                if idx.size:
                    raw_min = int(idx.min()) if raw_min is None else min(raw_min, int(idx.min()))
                    raw_max = max(raw_max, int(idx.max()))
                    if n_features is not None and raw_max >= n_features:
                        rows = np.repeat(np.arange(b["counts"].size), b["counts"])
                        if over is None and (idx > n_features).any():
                            k = int(np.argmax(idx > n_features))
                            over = (k_src, int(b["lines"][rows[k]]), name, int(idx[k]))
                        if at is None and (idx == n_features).any():
                            k = int(np.argmax(idx == n_features))
                            at = (k_src, int(b["lines"][rows[k]]), name, int(idx[k]))
                writer.append(b["data"], idx, b["counts"], b["labels"])
        if writer.n_rows == 0:
            raise SvmlightFormatError(source_name(sources[0]), None, "no samples (empty input)")
        shift = zero_based is False or (zero_based == "auto" and raw_min is not None
                                        and raw_min > 0)
        n_f = (raw_max - int(shift) + 1) if raw_min is not None else 1
        if n_features is None:
            n_features = n_f
        elif n_features < n_f:
            hits = [h for h in ((over,) if shift else (over, at)) if h is not None]
            _, line, name, raw_id = min(hits)
            raise SvmlightFormatError(
                name, line, f"feature id {raw_id} is beyond n_features={n_features} "
                            f"(the data has {n_f} features)")
        names = [source_name(s) for s in sources]
        meta = {"source": names if len(names) > 1 else names[0], "zero_based": not shift}
        return writer.finish(int(n_features), shift=shift, meta=meta)
    except BaseException:
        writer.abort()
        raise


class CSRCache:
    """An opened cache: header, lazily read labels/indptr, whole or row-block access.

    Opening reads and checks the header and the files' sizes and the first and last row
    offsets (:meth:`validate` checks the rest); nothing else is read.

    Parameters
    ----------
    path : str or os.PathLike
        The cache directory (made by :func:`save_csr_cache` or :func:`convert_svmlight`).
        A missing or inconsistent cache raises :class:`CacheFormatError` naming the file.

    Attributes
    ----------
    path : pathlib.Path
        The cache directory.
    header : dict
        The parsed ``header.json``.
    shape : tuple of int
        ``(n_samples, n_features)``.
    nnz : int
        Stored non-zeros.
    dtype : numpy.dtype
        dtype of the values.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from fastlogit.io import CSRCache, save_csr_cache
    >>> X = np.arange(8.0).reshape(4, 2)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = save_csr_cache(os.path.join(folder, "c"), X, [0, 1, 0, 1])
    ...     cache = CSRCache(os.path.join(folder, "c"))
    ...     blocks = cache.row_blocks(max_nnz=4)
    ...     data, indices, indptr = cache.read_rows(*blocks[1])
    >>> cache.shape, blocks, data
    ((4, 2), [(0, 2), (2, 4)], array([4., 5., 6., 7.]))
    """

    def __init__(self, path):
        self.path = Path(path)
        header_path = self.path / "header.json"
        try:
            header = json.loads(header_path.read_text())
        except FileNotFoundError:
            raise CacheFormatError(f"{self.path}: not a fastlogit CSR cache (no header.json)")
        except (ValueError, RecursionError) as exc:  # also UnicodeDecodeError
            raise CacheFormatError(f"{header_path}: unreadable header ({exc})") from None
        _check_header(header, header_path)
        self.header = header
        self.shape = tuple(int(v) for v in header["shape"])
        self.nnz = int(header["nnz"])
        self.dtype = np.dtype(header["dtype"])
        self._index_dtype = np.dtype(header["index_dtype"])
        self._indptr_dtype = np.dtype(header["indptr_dtype"])
        self._files = {k: self.path / v for k, v in header["files"].items()}
        sizes = {"data": self.nnz * self.dtype.itemsize,
                 "indices": self.nnz * self._index_dtype.itemsize,
                 "indptr": (self.shape[0] + 1) * self._indptr_dtype.itemsize,
                 "labels": self.shape[0] * 8}
        for k, size in sizes.items():
            try:
                actual = self._files[k].stat().st_size
            except FileNotFoundError:
                raise CacheFormatError(f"{self._files[k]}: missing (damaged cache)") from None
            if actual != size:
                raise CacheFormatError(f"{self._files[k]}: {actual} bytes, the header implies "
                                       f"{size} (truncated or foreign file)")
        self._indptr = None
        ends = self._map("indptr", self._indptr_dtype, self.shape[0] + 1, True)
        if int(ends[0]) != 0 or int(ends[-1]) != self.nnz:
            raise CacheFormatError(f"{self._files['indptr']}: row offsets run from "
                                   f"{int(ends[0])} to {int(ends[-1])}, not 0 to nnz={self.nnz}")

    def __repr__(self):
        return (f"CSRCache({str(self.path)!r}, shape={self.shape}, nnz={self.nnz}, "
                f"dtype={self.dtype})")

    @property
    @_fill_doc
    def n_samples(self):
        """Number of rows, ``shape[0]`` (an int).

        Examples
        --------
        {cache_example}
        >>> cache.n_samples
        4
        >>> folder.cleanup()
        """
        return self.shape[0]

    @property
    @_fill_doc
    def n_features(self):
        """Number of columns, ``shape[1]`` (an int).

        Examples
        --------
        {cache_example}
        >>> cache.n_features
        2
        >>> folder.cleanup()
        """
        return self.shape[1]

    @property
    @_fill_doc
    def nbytes(self):
        """Bytes of the data, indices and indptr files on disk (an int; the labels not
        counted).

        Examples
        --------
        {cache_example}
        >>> cache.nbytes  # 4 float64 values, 4 int32 column ids, 5 int32 row offsets
        68
        >>> folder.cleanup()
        """
        return sum(f.stat().st_size for k, f in self._files.items() if k != "labels")

    def _map(self, key, dtype, count, mmap):
        if count == 0:
            return np.zeros(0, dtype=dtype.newbyteorder("="))
        if mmap:
            return np.memmap(self._files[key], dtype=dtype, mode="r", shape=(count,))
        return np.fromfile(self._files[key], dtype=dtype, count=count)

    @_fill_doc
    def labels(self):
        """The labels as stored, read from disk on every call.

        Returns
        -------
        ndarray of shape (n_samples,)
            float64, in memory (a new array).

        Examples
        --------
        {cache_example}
        >>> cache.labels()
        array([1., 0., 1., 0.])
        >>> folder.cleanup()
        """
        return self._map("labels", np.dtype("<f8"), self.shape[0], False)

    @_fill_doc
    def indptr(self):
        """The CSR row offsets, read on the first call and kept.

        Returns
        -------
        ndarray of shape (n_samples + 1,)
            Non-decreasing offsets from 0 to ``nnz``, the cache's index dtype (int32 or
            int64); row i holds the non-zeros ``indptr[i]:indptr[i + 1]``.  Do not modify
            it: later calls return the same array.

        Examples
        --------
        {cache_example}
        >>> cache.indptr()
        array([0, 1, 2, 2, 4], dtype=int32)
        >>> folder.cleanup()
        """
        if self._indptr is None:
            self._indptr = self._map("indptr", self._indptr_dtype, self.shape[0] + 1, False)
        return self._indptr

    @_fill_doc
    def validate(self, step=1 << 22):
        """Check what opening does not: row offsets non-decreasing, column ids in
        ``[0, n_features)`` (one pass over the offsets and the ids).

        Parameters
        ----------
        step : int, default=2**22
            Column ids checked per read (bounds the memory used).

        Returns
        -------
        CSRCache
            ``self``.

        Raises
        ------
        CacheFormatError
            Naming the file and the first bad position.

        Examples
        --------
        {cache_example}
        >>> cache.validate() is cache
        True
        >>> folder.cleanup()
        """
        indptr = np.asarray(self.indptr())
        if indptr.size > 1 and (np.diff(indptr) < 0).any():
            row = int(np.argmax(np.diff(indptr) < 0))
            raise CacheFormatError(f"{self._files['indptr']}: row offsets decrease at row "
                                   f"{row + 1} (damaged cache)")
        indices = self._map("indices", self._index_dtype, self.nnz, True)
        d = self.shape[1]
        for lo in range(0, self.nnz, step):
            part = np.asarray(indices[lo:lo + step])
            if part.size and (int(part.min()) < 0 or int(part.max()) >= d):
                k = lo + int(np.argmax((part < 0) | (part >= d)))
                raise CacheFormatError(f"{self._files['indices']}: column id {int(indices[k])} "
                                       f"at position {k} is outside [0, {d}) (damaged cache)")
        return self

    @_fill_doc
    def load(self, mmap=True):
        """The whole cache as ``(X, y)``.

        Parameters
        ----------
        mmap : bool, default=True
            X's arrays memory-mapped read-only (opened in milliseconds whatever the size);
            False reads them into memory.

        Returns
        -------
        X : scipy.sparse.csr_matrix of shape (n_samples, n_features)
            Sorted indices.
        y : ndarray of shape (n_samples,)
            float64 labels, in memory.

        Examples
        --------
        {cache_example}
        >>> X_read, y_read = cache.load(mmap=False)
        >>> bool((X_read.toarray() == X).all()), y_read
        (True, array([1., 0., 1., 0.]))
        >>> folder.cleanup()
        """
        data = self._map("data", self.dtype, self.nnz, mmap)
        indices = self._map("indices", self._index_dtype, self.nnz, mmap)
        indptr = self._map("indptr", self._indptr_dtype, self.shape[0] + 1, mmap)
        X = sp.csr_matrix((data, indices, indptr), shape=self.shape, copy=False)
        X.has_sorted_indices = True
        return X, self.labels()

    @_fill_doc
    def row_blocks(self, max_nnz=1 << 22, max_rows=None):
        """Row ranges covering all rows in order, for reading the cache block by block.

        Parameters
        ----------
        max_nnz : int, default=2**22
            Most non-zeros per block (a block holds at least one row, even a longer one).
        max_rows : int, default=None
            Most rows per block; None: no limit.

        Returns
        -------
        list of tuple of int
            ``[(start, stop), ...]``, contiguous, from 0 to ``n_samples``.

        Examples
        --------
        {cache_example}
        >>> cache.row_blocks(max_nnz=2)  # rows 0-2 hold 2 non-zeros, row 3 holds 2
        [(0, 3), (3, 4)]
        >>> cache.row_blocks(max_rows=3)
        [(0, 3), (3, 4)]
        >>> folder.cleanup()
        """
        indptr = np.asarray(self.indptr(), dtype=np.int64)
        n = self.shape[0]
        blocks, start = [], 0
        max_rows = n if max_rows is None else max(1, int(max_rows))
        while start < n:
            stop = int(np.searchsorted(indptr, indptr[start] + max_nnz, side="right")) - 1
            stop = min(max(stop, start + 1), start + max_rows, n)
            blocks.append((start, stop))
            start = stop
        return blocks

    @_fill_doc
    def read_rows(self, start, stop):
        """Rows ``[start, stop)`` read into memory; nothing else of the cache is mapped or kept.

        Parameters
        ----------
        start : int
            First row.
        stop : int
            One past the last row (``start <= stop <= n_samples``).

        Returns
        -------
        data : ndarray
            The block's values, the cache's dtype.
        indices : ndarray
            Their column ids (int32 or int64).
        indptr : ndarray of shape (stop - start + 1,)
            int64 row offsets starting at 0.

        Examples
        --------
        {cache_example}
        >>> data, indices, indptr = cache.read_rows(1, 4)  # rows 1, 2 and 3
        >>> data, indices, indptr
        (array([2., 3., 4.]), array([0, 0, 1], dtype=int32), array([0, 1, 1, 3]))
        >>> folder.cleanup()
        """
        indptr = self.indptr()
        n = indptr.shape[0] - 1
        if not (isinstance(start, (int, np.integer)) and isinstance(stop, (int, np.integer))
                and 0 <= start <= stop <= n):
            raise ValueError(f"read_rows needs integers 0 <= start <= stop <= n_samples = {n}, "
                             f"got start={start!r}, stop={stop!r}")
        lo, hi = int(indptr[start]), int(indptr[stop])
        with open(self._files["data"], "rb") as fh:
            fh.seek(lo * self.dtype.itemsize)
            data = np.fromfile(fh, dtype=self.dtype, count=hi - lo)
        with open(self._files["indices"], "rb") as fh:
            fh.seek(lo * self._index_dtype.itemsize)
            indices = np.fromfile(fh, dtype=self._index_dtype, count=hi - lo)
        ptr = np.asarray(indptr[start:stop + 1], dtype=np.int64) - lo
        if data.dtype.byteorder == ">":  # pragma: no cover - big-endian hosts
            data, indices = data.astype(data.dtype.newbyteorder("=")), indices.astype(
                indices.dtype.newbyteorder("="))
        return data, indices, ptr


def load_csr_cache(path, mmap=True):
    """``(X, y)`` of the cache at ``path`` (see :meth:`CSRCache.load`).

    Parameters
    ----------
    path : str or os.PathLike
        The cache directory.
    mmap : bool, default=True
        Memory-map the arrays (read-only, opened in milliseconds whatever the size); False
        reads them into memory.

    Returns
    -------
    X : scipy.sparse.csr_matrix of shape (n_samples, n_features)
        The data, sorted indices.
    y : ndarray of shape (n_samples,)
        float64 labels as stored.

    Raises
    ------
    CacheFormatError
        If ``path`` is not a cache, or its files are missing, truncated or inconsistent.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from fastlogit.io import load_csr_cache, save_csr_cache
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = save_csr_cache(os.path.join(folder, "c"), np.eye(3), [0, 1, 1])
    ...     X, y = load_csr_cache(os.path.join(folder, "c"), mmap=False)
    >>> X.nnz, y
    (3, array([0., 1., 1.]))
    """
    return CSRCache(path).load(mmap=mmap)
