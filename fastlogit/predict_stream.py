"""Streaming batch prediction: score svmlight text or a CSR cache chunk by chunk.

:func:`predict_file` is what ``fastlogit predict`` runs.  svmlight text (plain or compressed,
a path, an open file or stdin) is scored while it is parsed: each block of ``chunk_bytes`` of
(decompressed) text goes through one compiled pass that parses a row and accumulates its
decision values without storing its entries (:func:`fastlogit.io.score_svmlight`: the
parser's grammar and errors naming file and line, the decision kernel's arithmetic).  A CSR
cache is read in row blocks of ``chunk_nnz`` non-zeros and scored by the model's decision
kernel.  Each block's lines are written at once (:mod:`fastlogit._format_numba`), so memory
holds a few blocks, whatever the input's length.  The output is the same, byte for byte, as
formatting the in-memory ``model.predict`` / ``predict_proba`` / ``decision_function`` of the
whole input.

Output layout (LIBLINEAR's ``predict``, ``-b 1`` for probabilities)::

    kind="label":  one predicted label per line
    kind="proba":  a header "labels c0 c1 ...", then per line the label with the largest
                   probability and P(c0) P(c1) ...
    kind="raw":    a header "scores c1" (binary: the log-odds of classes_[1]) or
                   "scores c0 c1 ..." (multinomial: one linear predictor per class), then per
                   line the predicted label and the scores

Labels are written as integers when integral (``1``, ``-1``), else as ``repr`` of the float;
probabilities and scores as C's ``%.8g``.
"""
import contextlib
import os
import sys

import numpy as np
import scipy.sparse as sp

from .io import decompressing, is_csr_cache, iter_row_blocks, score_svmlight

__all__ = ["predict_file", "iter_predictions", "iter_chunks", "format_label", "KINDS"]

#: Output kinds of :func:`predict_file`.
KINDS = ("label", "proba", "raw")
#: Non-zeros per row block read from a CSR cache.
CHUNK_NNZ = 1 << 22


def format_label(v):
    """A class label as written in prediction files: ``1`` for 1.0, ``repr`` otherwise."""
    v = float(v)
    return str(int(v)) if v.is_integer() else repr(v)


def _cache_chunks(path, n_features, dtype, chunk_nnz, finite):
    from .io import CSRCache

    cache = CSRCache(path).validate()
    labels = cache._map("labels", np.dtype("<f8"), cache.shape[0], True)
    for start, stop in cache.row_blocks(max_nnz=chunk_nnz):
        data, indices, indptr = cache.read_rows(start, stop)

        def where(i, start=start):
            return f"{path}: row {start + i + 1} of the CSR cache"

        if finite:
            bad_y = np.flatnonzero(~np.isfinite(np.asarray(labels[start:stop])))
            bad = np.flatnonzero(~np.isfinite(data))
            rows = [int(bad_y[0])] if bad_y.size else []
            if bad.size:
                rows.append(int(np.searchsorted(indptr, bad[0], side="right")) - 1)
            if rows:
                raise ValueError(f"{where(min(rows))}: NaN or infinite label or value; NaN "
                                 "and infinity are not accepted")
        if indices.size and int(indices.max()) >= n_features:
            k = int(np.argmax(indices >= n_features))
            row = int(np.searchsorted(indptr, k, side="right")) - 1
            raise ValueError(f"{where(row)}: feature {int(indices[k])} (zero-based) is beyond "
                             f"the model's {n_features} features")
        if data.dtype != dtype:
            data = data.astype(dtype)
        yield sp.csr_matrix((data, indices, indptr), shape=(stop - start, n_features)), where


def iter_chunks(data, n_features, *, dtype=np.float64, zero_based="auto", n_threads=None,
                chunk_bytes=None, chunk_nnz=CHUNK_NNZ, finite=True):
    """Yield ``(X, where)`` for consecutive row blocks of ``data``.

    Parameters
    ----------
    data : str, path-like, binary file object, ndarray or sparse matrix
        A matrix (n, n_features) is one block.  Otherwise svmlight / libsvm text (plain, .gz,
        .bz2 or .xz, recognised by magic bytes, also on an open file or stdin), ``"-"`` for
        standard input, or a CSR cache directory (``fastlogit convert``).
    n_features : int
        Columns of every block (the model's); a larger feature id is an error.
    dtype : float32 or float64
    zero_based : bool or "auto"
        As :func:`fastlogit.io.load_svmlight`, except that "auto" decides on the first block
        holding entries (one-based unless it has an id 0), and an id 0 in a later block of
        data taken as one-based is an error naming its line (the whole input is not seen
        first).
    n_threads : int or None
        Threads of the parser (and of the scoring of svmlight text, which runs inside its
        pass); row blocks of a cache are scored and lines written on the calling thread.
    chunk_bytes : int or None
        Bytes of text per block (default :data:`fastlogit.io.svmlight.CHUNK_BYTES`).
    chunk_nnz : int
        Non-zeros per block of a CSR cache.
    finite : bool
        Refuse NaN and infinite labels and values (error naming file and line, or row).

    Yields
    ------
    X : csr_matrix of shape (m, n_features), dtype ``dtype``, m >= 1
    where : callable
        ``where(i)`` names row ``i`` of the block: ``"file:line"`` or the cache row.

    Raises
    ------
    SvmlightFormatError, CacheFormatError, ValueError
        Naming the file and line (or row): malformed text, an id beyond ``n_features``, no
        samples, NaN / infinity with ``finite``.
    """
    dtype, zero_based = _check_options(dtype, zero_based)
    n_features = int(n_features)
    if sp.issparse(data) or isinstance(data, np.ndarray):  # already in memory: one block
        if data.shape[1] != n_features:
            raise ValueError(f"X has {data.shape[1]} features, the model expects {n_features}")
        yield (data.astype(dtype, copy=False),
               lambda i: f"row {i + 1} of the data")
        return
    source = _svmlight_source(data)
    if source is None:
        yield from _cache_chunks(os.fspath(data), n_features, dtype, int(chunk_nnz), finite)
        return
    for name, lines, values, indices, indptr in iter_row_blocks(
            source, n_features, dtype=dtype, zero_based=zero_based, n_threads=n_threads,
            chunk_bytes=chunk_bytes, finite=finite):
        X = sp.csr_matrix((values, indices, indptr), shape=(lines.size, n_features))
        yield X, _where_lines(name, lines)


def _check_options(dtype, zero_based):
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    if zero_based not in (True, False, "auto"):
        raise ValueError(f"zero_based must be True, False or 'auto', got {zero_based!r}")
    return dtype, zero_based


def _svmlight_source(data):
    """``data`` as the svmlight parser takes it (a path, or a binary stream decompressed
    if compressed: stdin for ``"-"``), or None for a CSR cache directory."""
    if isinstance(data, (str, os.PathLike)) and os.fspath(data) == "-":
        return decompressing(sys.stdin.buffer, "<stdin>")
    if hasattr(data, "read"):
        return decompressing(data, getattr(data, "name", repr(data)))
    if os.path.isdir(data) and is_csr_cache(data):
        return None
    return data


def _where_lines(name, lines):
    return lambda i: f"{name}:{int(lines[i])}"


class _Scorer:
    """The decision values of a fitted model, as ``decision_function`` gives them, on row
    blocks (CSR caches, in-memory matrices) or on svmlight text while it is parsed
    (:func:`fastlogit.io.score_svmlight`, the same numbers bitwise): the coefficients cast
    to the blocks' dtype once, not per block.

    One thread for the row blocks: a block's scores cost a few per cent of its read, and a
    Cython parallel region between the Numba parser's would have idle OpenMP threads spin
    against it (measured in benchmarks/results/predict_stream.md)."""

    def __init__(self, model, dtype):
        from . import kernels

        coef = model.coef_
        self.coef = (coef.toarray() if sp.issparse(coef) else np.asarray(coef)).astype(dtype)
        self.intercept = np.asarray(model.intercept_)
        self.binary = self.coef.shape[0] == 1
        self.dtype = np.dtype(dtype)
        self.kernels = kernels.get(model.backend)

    @property
    def four_sums(self):
        """Whether the binary decision kernel sums a row in four interleaved partial sums
        (the Cython kernel) rather than in order (Numba, NumPy): what the text scorer has
        to repeat to give the same bits."""
        from . import kernels

        try:
            cython = kernels.get("cython")
        except ValueError:  # not built here
            return False
        return self.kernels.module.decision_csr is cython.module.decision_csr

    def __call__(self, X):
        from . import kernels

        design = X if isinstance(X, kernels.Design) else kernels.as_design(X)
        if self.binary:
            return self.kernels.decision(design, np.ascontiguousarray(self.coef[0]),
                                         float(self.intercept[0]), n_threads=1)
        return (np.asarray(design.to_scipy() @ self.coef.T, dtype=self.dtype)
                + self.intercept.astype(self.dtype))

    def text(self, source, zero_based, n_threads, chunk_bytes, finite):
        """Yield ``(z, where)`` per block of svmlight ``source``, scored while parsed."""
        for name, lines, z in score_svmlight(
                source, self.coef, self.intercept, dtype=self.dtype, zero_based=zero_based,
                four_sums=self.binary and self.four_sums, n_threads=n_threads,
                chunk_bytes=chunk_bytes, finite=finite):
            yield (z[:, 0] if self.binary else z), _where_lines(name, lines)


def _outputs(z, kind):
    """(class index per row, values per row or None) of decision values ``z``, as
    ``predict`` / ``predict_proba`` / ``decision_function`` give them."""
    from .estimator import class_index, class_probabilities

    index = class_index(z)
    if kind == "label":
        return index, None
    if kind == "raw":
        return index, (z[:, None] if z.ndim == 1 else z).astype(np.float64)
    return index, class_probabilities(z)


def iter_predictions(model, data, *, kind="label", dtype=np.float64, zero_based="auto",
                     n_threads=None, chunk_bytes=None, chunk_nnz=CHUNK_NNZ, finite=True):
    """Yield ``(labels, values)`` per row block of ``data`` (see :func:`iter_chunks`).

    ``labels`` (m,) are ``model.classes_`` entries; ``values`` is None for
    ``kind="label"``, the (m, K) probabilities (float64) for ``"proba"``, the (m, 1) binary
    log-odds or (m, K) linear predictors (float64) for ``"raw"``.  Concatenated, they equal
    ``model.predict``, ``predict_proba`` / ``classes_[argmax]``, ``decision_function`` of the
    whole input read in memory.
    """
    for index, values, _ in _iter_indexed(model, data, kind, dtype, zero_based, n_threads,
                                          chunk_bytes, chunk_nnz, finite):
        yield model.classes_[index], values


def _iter_indexed(model, data, kind, dtype, zero_based, n_threads, chunk_bytes, chunk_nnz,
                  finite):
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model)
    dtype, zero_based = _check_options(dtype, zero_based)
    scorer = _Scorer(model, dtype)
    source = None if sp.issparse(data) or isinstance(data, np.ndarray) else \
        _svmlight_source(data)
    if source is not None:
        blocks = scorer.text(source, zero_based, n_threads, chunk_bytes, finite)
    else:
        blocks = ((scorer(X), where) for X, where in iter_chunks(
            data, model.n_features_in_, dtype=dtype, zero_based=zero_based,
            n_threads=n_threads, chunk_bytes=chunk_bytes, chunk_nnz=chunk_nnz, finite=finite))
    for z, where in blocks:
        index, values = _outputs(z, kind)
        yield index, values, where


def _format_chunk(index, values, label_table):
    """The lines of one block as bytes: ``label[index[i]]`` then `` %.8g`` of each value."""
    from . import _format_numba as F

    label_bytes, label_start = label_table
    n = index.size
    k = 0 if values is None else values.shape[1]
    flat = np.ascontiguousarray(values, dtype=np.float64).ravel() if k else np.zeros(0)
    pieces = np.empty((flat.size, F.WIDTH), dtype=np.uint8)
    lengths = np.empty(flat.size, dtype=np.int64)
    if flat.size:
        F.format_values(flat, pieces, lengths)
        for j in np.flatnonzero(lengths < 0):  # NaN, inf, extreme magnitudes: C's %.8g
            text = ("%.8g" % flat[j]).encode()
            pieces[j, :len(text)] = np.frombuffer(text, dtype=np.uint8)
            lengths[j] = len(text)
    index = np.ascontiguousarray(index, dtype=np.int64)
    line_len = (label_start[index + 1] - label_start[index]) + 1
    if k:
        line_len += (lengths.reshape(n, k) + 1).sum(axis=1)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(line_len, out=offsets[1:])
    buf = np.empty(int(offsets[-1]), dtype=np.uint8)
    F.join_rows(label_bytes, label_start, index, pieces, lengths, k, offsets, buf)
    return buf


def _label_table(classes):
    texts = [format_label(c).encode() for c in classes]
    start = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in texts], out=start[1:])
    return np.frombuffer(b"".join(texts), dtype=np.uint8).copy(), start


def predict_file(model, data, output=None, *, kind="label", dtype=np.float64,
                 zero_based="auto", n_threads=None, chunk_bytes=None, chunk_nnz=CHUNK_NNZ,
                 finite=True):
    """Write the predictions of ``model`` on ``data`` to ``output``, block by block.

    Parameters
    ----------
    model : fitted fastlogit LogisticRegression (or an estimator with the same outputs:
        ``coef_`` (K or 1, d), ``intercept_``, ``classes_``, ``n_features_in_``, ``backend``,
        ``n_threads``)
    data : path, "-" (stdin) or binary file object
        See :func:`iter_chunks`.
    output : path, binary file object, or None
        A path is written atomically (:func:`fastlogit._atomic.atomic_write`: complete or
        not at all); None writes to ``sys.stdout``; a file object gets bytes.
    kind : {"label", "proba", "raw"}
        What each line holds (module docstring).
    dtype, zero_based, n_threads, chunk_bytes, chunk_nnz, finite
        As :func:`iter_chunks`.

    Returns
    -------
    n_rows : int
        Lines of predictions written (the header not counted).

    Memory: the parser's few blocks of ``chunk_bytes`` (and their parsed arrays), one block's
    scores and its text: bounded by a small multiple of ``chunk_bytes`` plus the model,
    independent of the input's length (measured in benchmarks/results/predict_stream.md).
    """
    from ._atomic import atomic_write

    label_table = _label_table(model.classes_)
    header = b""
    if kind == "proba":
        header = ("labels " + " ".join(format_label(c) for c in model.classes_) + "\n").encode()
    elif kind == "raw":
        scored = model.classes_[1:] if len(model.classes_) == 2 else model.classes_
        header = ("scores " + " ".join(format_label(c) for c in scored) + "\n").encode()
    chunks = _iter_indexed(model, data, kind, dtype, zero_based, n_threads, chunk_bytes,
                           chunk_nnz, finite)
    if output is None:
        sys.stdout.flush()
        target = contextlib.nullcontext(sys.stdout.buffer)
    elif hasattr(output, "write"):
        target = contextlib.nullcontext(output)
    else:
        target = atomic_write(output, "wb")
    n_rows = 0
    with contextlib.ExitStack() as stack:
        fh = None
        for index, values, _ in chunks:
            if fh is None:  # nothing is written (or created) for input without samples
                fh = stack.enter_context(target)
                fh.write(header)
            fh.write(_format_chunk(index, values, label_table))
            n_rows += index.size
    if output is None:
        sys.stdout.buffer.flush()
    return n_rows
