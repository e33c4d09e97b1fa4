"""Streaming batch prediction: score svmlight text or a CSR cache chunk by chunk.

:func:`predict_file` is what ``fastlogit predict`` runs.  The input is read in blocks of
``chunk_bytes`` of (decompressed) text by the svmlight parser of :mod:`fastlogit.io.svmlight`
(the same parse, the same errors naming file and line), or in row blocks of ``chunk_nnz``
non-zeros from a CSR cache; each block is scored with the model's compiled decision kernel and
its lines are written at once (:mod:`fastlogit._format_numba`), so memory holds a few blocks,
whatever the input's length.  The output is the same, byte for byte, as formatting the
in-memory ``model.predict`` / ``predict_proba`` / ``decision_function`` of the whole input.

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
import io
import os
import sys
import warnings

import numpy as np
import scipy.sparse as sp

from .kernels import Design

__all__ = ["predict_file", "iter_predictions", "iter_chunks", "format_label", "KINDS"]

#: Output kinds of :func:`predict_file`.
KINDS = ("label", "proba", "raw")
#: Non-zeros per row block read from a CSR cache.
CHUNK_NNZ = 1 << 22


def format_label(v):
    """A class label as written in prediction files: ``1`` for 1.0, ``repr`` otherwise."""
    v = float(v)
    return str(int(v)) if v.is_integer() else repr(v)


class _BinaryStream(io.RawIOBase):
    """A readable binary stream with ``mode == "rb"`` over a decompressor object (whose
    ``mode`` is not a string in every Python version) or any object with ``read``."""

    def __init__(self, inner, name):
        self._inner = inner
        self.name = name
        self.mode = "rb"

    def readable(self):
        return True

    def read(self, size=-1):
        return self._inner.read(size)

    def readinto(self, b):  # pragma: no cover - read() is what the parser calls
        data = self._inner.read(len(b))
        b[:len(data)] = data
        return len(data)


def _decompressing(fh, name):
    """``fh`` (binary, with ``peek``) decompressed when it starts with a gzip / bz2 / xz
    magic; used for stdin and open files, whose name says nothing."""
    import bz2
    import gzip
    import lzma

    from .io.svmlight import _MAGIC

    head = fh.peek(6)[:6] if hasattr(fh, "peek") else b""
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            inner = {"gzip": lambda: gzip.GzipFile(fileobj=fh, mode="rb"),
                     "bz2": lambda: bz2.BZ2File(fh, "rb"),
                     "xz": lambda: lzma.LZMAFile(fh, "rb")}[kind]()
            return _BinaryStream(inner, name)
    return fh


def _shift_and_check(parsed, name, state, n_features):
    """Column ids of one parsed svmlight block made zero-based and checked against
    ``n_features``, in place; errors name the file and line."""
    from .io.svmlight import SvmlightFormatError

    indices = parsed["indices"]
    if not indices.size:
        return

    def line_of(k):
        row = int(np.searchsorted(np.cumsum(parsed["counts"]), k, side="right"))
        return int(parsed["lines"][row])

    if state["shift"] is None:  # zero_based="auto": decided by the first block with entries
        state["shift"] = bool(indices.min() > 0)
    elif state["shift"] and state["auto"] and indices.min() == 0:
        k = int(np.argmax(indices == 0))
        raise SvmlightFormatError(
            name, line_of(k), "feature id 0 after one-based ids: zero_based='auto' took the "
            "data as one-based from its first block (no id 0 there); pass zero_based=True "
            "(--zero-based yes) for zero-based data")
    if state["shift"]:
        indices -= 1
    if int(indices.max()) >= n_features:
        k = int(np.argmax(indices >= n_features))
        raise SvmlightFormatError(
            name, line_of(k), f"feature id {int(indices[k]) + int(state['shift'])} is beyond "
                              f"n_features={n_features} (the model's number of features)")


def _svmlight_chunks(src, n_features, dtype, zero_based, n_threads, chunk_bytes, finite):
    from .io.svmlight import SvmlightFormatError, _iter_blocks, _name

    state = {"shift": {True: False, False: True}.get(zero_based), "auto": zero_based == "auto"}
    name = _name(src)
    n_rows = n_qid = 0
    for name, parsed in _iter_blocks(src, zero_based, dtype, n_threads,
                                     chunk_bytes=chunk_bytes, finite=finite):
        m = parsed["labels"].size
        n_qid += parsed["n_qid"]
        if not m:
            continue
        _shift_and_check(parsed, name, state, n_features)
        indptr = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(parsed["counts"], out=indptr[1:])
        # checked here (ids in range, offsets from counts): no second O(nnz) validation
        X = Design._trusted("csr", (parsed["data"], parsed["indices"], indptr),
                            (m, n_features), np.dtype(dtype))
        lines = parsed["lines"]
        n_rows += m
        yield X, (lambda i, lines=lines, name=name: f"{name}:{int(lines[i])}")
    if n_qid:
        warnings.warn(f"qid fields on {n_qid} rows were ignored", UserWarning, stacklevel=3)
    if not n_rows:
        raise SvmlightFormatError(name, None, "no samples (empty input)")


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
        A matrix (n, n_features) is one block.  Otherwise svmlight / libsvm text (plain, .gz, .bz2 or .xz, recognised by magic bytes, also on
        an open file or stdin), ``"-"`` for standard input, or a CSR cache directory
        (``fastlogit convert``).
    n_features : int
        Columns of every block (the model's); a larger feature id is an error.
    dtype : float32 or float64
    zero_based : bool or "auto"
        As :func:`fastlogit.io.load_svmlight`, except that "auto" decides on the first block
        holding entries (one-based unless it has an id 0), and an id 0 in a later block of
        data taken as one-based is an error naming its line (the whole input is not seen
        first).
    n_threads : int or None
        Parser threads (scoring and writing run on the calling thread).
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
    from .io import is_csr_cache

    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    if zero_based not in (True, False, "auto"):
        raise ValueError(f"zero_based must be True, False or 'auto', got {zero_based!r}")
    n_features = int(n_features)
    if sp.issparse(data) or isinstance(data, np.ndarray):  # already in memory: one block
        if data.shape[1] != n_features:
            raise ValueError(f"X has {data.shape[1]} features, the model expects {n_features}")
        yield (data.astype(dtype, copy=False),
               lambda i: f"row {i + 1} of the data")
        return
    if isinstance(data, (str, os.PathLike)) and os.fspath(data) == "-":
        data = _decompressing(sys.stdin.buffer, "<stdin>")
    elif hasattr(data, "read"):
        data = _decompressing(data, getattr(data, "name", repr(data)))
    elif os.path.isdir(data) and is_csr_cache(data):
        yield from _cache_chunks(os.fspath(data), n_features, dtype, int(chunk_nnz), finite)
        return
    for X, where in _svmlight_chunks(data, n_features, dtype, zero_based, n_threads,
                                     chunk_bytes, finite):
        yield X.to_scipy(), where


def _blocks(data, n_features, dtype, zero_based, n_threads, chunk_bytes, chunk_nnz, finite):
    """:func:`iter_chunks` without its checks of the arguments, svmlight blocks as
    :class:`fastlogit.kernels.Design` (validated by the parse)."""
    from .io import is_csr_cache

    if (isinstance(data, (str, os.PathLike)) and os.fspath(data) != "-"
            and not (os.path.isdir(data) and is_csr_cache(data))):
        yield from _svmlight_chunks(data, int(n_features), np.dtype(dtype), zero_based,
                                    n_threads, chunk_bytes, finite)
        return
    yield from iter_chunks(data, n_features, dtype=dtype, zero_based=zero_based,
                           n_threads=n_threads, chunk_bytes=chunk_bytes, chunk_nnz=chunk_nnz,
                           finite=finite)


class _Scorer:
    """The decision values of a fitted model on row blocks, as ``decision_function`` gives
    them: the model's coefficients cast to the blocks' dtype once, not per block.

    One thread: a block's scores cost a few per cent of its parse, and a parallel region
    between the parser's regions would have the parser's idle OpenMP threads spin against
    it (on a busy 2-core machine this made the whole prediction 1.5-2x slower; see
    benchmarks/results/predict_stream.md)."""

    def __init__(self, model, dtype):
        from . import kernels

        coef = model.coef_
        coef = (coef.toarray() if sp.issparse(coef) else np.asarray(coef)).astype(dtype)
        self.binary = coef.shape[0] == 1
        self.n_threads = 1
        self.dtype = np.dtype(dtype)
        if self.binary:
            self.kernels = kernels.get(model.backend)
            self.w = np.ascontiguousarray(coef[0])
            self.b = float(model.intercept_[0])
        else:
            self.coef_t = coef.T
            self.intercept = np.asarray(model.intercept_).astype(dtype)

    def __call__(self, X):
        from . import kernels

        design = X if isinstance(X, kernels.Design) else kernels.as_design(X)
        if self.binary:
            return self.kernels.decision(design, self.w, self.b, n_threads=self.n_threads)
        return (np.asarray(design.to_scipy() @ self.coef_t, dtype=self.dtype)
                + self.intercept)


def _outputs(z, kind):
    """(class index per row, values per row or None) of decision values ``z``, as
    ``predict`` / ``predict_proba`` / ``decision_function`` give them."""
    from scipy.special import logsumexp

    from . import kernels

    if kind == "label":
        return ((z > 0).astype(np.intp) if z.ndim == 1 else z.argmax(axis=1)), None
    if kind == "raw":
        index = (z > 0).astype(np.intp) if z.ndim == 1 else z.argmax(axis=1)
        return index, (z[:, None] if z.ndim == 1 else z).astype(np.float64)
    z = z.astype(np.float64)
    if z.ndim == 1:
        ref = kernels.get("numpy")
        P = np.column_stack([ref.sigmoid(-z), ref.sigmoid(z)])
    else:
        P = np.exp(z - logsumexp(z, axis=1, keepdims=True))
    return P.argmax(axis=1), P


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
    scorer = _Scorer(model, dtype)
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    if zero_based not in (True, False, "auto"):
        raise ValueError(f"zero_based must be True, False or 'auto', got {zero_based!r}")
    for X, where in _blocks(data, model.n_features_in_, dtype, zero_based, n_threads,
                            chunk_bytes, chunk_nnz, finite):
        index, values = _outputs(scorer(X), kind)
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
