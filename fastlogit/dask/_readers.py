"""Files as lazy dask arrays, read on the workers: svmlight directories and CSR caches.

Nothing is loaded on the client: each file (or each ``rows_per_block`` rows of a cache)
becomes one row block, parsed or read from disk by the worker that needs it.
"""
import dask
import dask.array as da
import numpy as np
import scipy.sparse as sp

__all__ = ["read_svmlight_dir", "read_csr_cache_dir"]


def _files(path, pattern):
    import glob
    import os

    if isinstance(path, (list, tuple)):
        files = [str(p) for p in path]
    elif os.path.isdir(path):
        files = sorted(p for p in glob.glob(os.path.join(str(path), pattern))
                       if os.path.isfile(p))
    else:
        files = sorted(glob.glob(str(path)))
    if not files:
        raise FileNotFoundError(f"no input files match {path!r} (pattern {pattern!r})")
    return files


def _read_svmlight_file(path, n_features, dtype, zero_based):
    """One file's (CSR, labels), parsed on the worker; NaN / inf labels or values raise
    ValueError naming the file and line."""
    from ..io import load_svmlight

    X, y = load_svmlight(path, n_features=n_features, dtype=dtype, zero_based=zero_based,
                         n_threads=1, finite=True)
    return sp.csr_matrix(X), np.asarray(y, dtype=np.float64)


def _stack_parts(parts, n_features, dtype):
    """(X, y) dask arrays of unknown row chunks from delayed (csr, labels) pairs."""
    from operator import itemgetter

    meta = sp.csr_matrix((0, n_features), dtype=dtype)
    xs = [da.from_delayed(dask.delayed(itemgetter(0))(p), shape=(np.nan, n_features),
                          dtype=dtype, meta=meta) for p in parts]
    ys = [da.from_delayed(dask.delayed(itemgetter(1))(p), shape=(np.nan,), dtype=np.float64,
                          meta=np.empty(0)) for p in parts]
    return da.concatenate(xs, axis=0), da.concatenate(ys, axis=0)


def read_svmlight_dir(path, n_features, *, pattern="*", dtype=np.float64, zero_based=False):
    """A directory of svmlight / libsvm files (plain, .gz, .bz2, .xz) as lazy dask arrays.

    Each file becomes one row block, parsed on a worker by :func:`fastlogit.io.load_svmlight`
    when the block is needed; nothing is read on the client.  A NaN or infinite label or
    value raises ValueError naming the file and line (``finite=True``).  Row counts are unknown until
    then (chunks of size ``nan``), which :class:`LogisticRegression` handles.

    Parameters
    ----------
    path : str or list of str
        A directory (files matching ``pattern``, sorted by name), a glob, or a list of files.
    n_features : int
        Number of columns (every file must agree; a larger feature id is an error).
    pattern : str, default="*"
        Glob of the file names taken from a directory ``path`` (ignored otherwise).
    dtype : {numpy.float32, numpy.float64}, default=numpy.float64
        Dtype of the blocks' values.
    zero_based : bool, default=False
        Whether feature ids start at 0.  Must be True or False (else ValueError):
        scikit-learn's "auto" rule would be decided per file and could shift the columns of
        some blocks only.

    Returns
    -------
    X : dask.array.Array of shape (n_samples, n_features)
        Lazy, one scipy.sparse CSR block per file, row counts unknown (``nan``).
    y : dask.array.Array of shape (n_samples,)
        Lazy float64 labels as written in the files.

    Raises
    ------
    FileNotFoundError
        If no file matches ``path`` and ``pattern``.

    Examples
    --------
    >>> import os, tempfile
    >>> from fastlogit.dask import read_svmlight_dir
    >>> files = {"part-0.svm": "1 1:0.5 3:1.0\\n0 2:2.0\\n", "part-1.svm": "1 3:4.0\\n"}
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     for name, text in files.items():
    ...         with open(os.path.join(folder, name), "w") as f:
    ...             _ = f.write(text)
    ...     X, y = read_svmlight_dir(folder, n_features=3)  # nothing is read yet
    ...     X_read, y_read = X.compute(), y.compute()
    >>> X.numblocks, X_read.toarray(), y_read
    ((2, 1), array([[0.5, 0. , 1. ],
           [0. , 2. , 0. ],
           [0. , 0. , 4. ]]), array([1., 0., 1.]))
    """
    if zero_based not in (True, False):
        raise ValueError("zero_based must be True or False (decided once for all files), "
                         f"got {zero_based!r}")
    n_features = int(n_features)
    dtype = np.dtype(dtype)
    read = dask.delayed(_read_svmlight_file, pure=True)
    parts = [read(f, n_features, dtype, zero_based) for f in _files(path, pattern)]
    return _stack_parts(parts, n_features, dtype)


def _read_cache_rows(path, start, stop, dtype):
    """Rows [start, stop) of a CSR cache, read on the worker (nothing else is loaded)."""
    from ..io import CSRCache

    cache = CSRCache(path)
    data, indices, indptr = cache.read_rows(start, stop)
    X = sp.csr_matrix((data.astype(dtype, copy=False), indices, indptr),
                      shape=(stop - start, cache.n_features))
    return X, np.asarray(cache.labels()[start:stop], dtype=np.float64)


def read_csr_cache_dir(path, *, rows_per_block=None, pattern="*", dtype=None):
    """fastlogit CSR caches (:func:`fastlogit.io.save_csr_cache`) as lazy dask arrays.

    Each cache gives one row block, or blocks of ``rows_per_block`` rows; only the cache
    headers are read on the client (so the row chunks are known), and each block's rows are
    read from disk on the worker that needs them.

    Parameters
    ----------
    path : str, os.PathLike or list of str
        One cache, a directory of caches (those matching ``pattern``, sorted by name), or a
        list of caches.
    rows_per_block : int, default=None
        Rows per block (the last block of each cache may be smaller); None: one block per
        cache.
    pattern : str, default="*"
        Glob of the cache names taken from a directory ``path``.
    dtype : {numpy.float32, numpy.float64}, default=None
        Dtype of the blocks' values; None keeps the first cache's.

    Returns
    -------
    X : dask.array.Array of shape (n_samples, n_features)
        Lazy, scipy.sparse CSR blocks with known row counts.
    y : dask.array.Array of shape (n_samples,)
        Lazy float64 labels as stored.

    Raises
    ------
    FileNotFoundError
        If no cache is found at ``path``.
    ValueError
        If the caches disagree on the number of features.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from fastlogit.dask import read_csr_cache_dir
    >>> from fastlogit.io import save_csr_cache
    >>> X = np.arange(12.0).reshape(6, 2)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = save_csr_cache(os.path.join(folder, "train.cache"), X, [0, 1, 0, 1, 0, 1])
    ...     dX, dy = read_csr_cache_dir(folder, rows_per_block=4)
    ...     X_read = dX.compute()
    >>> dX.chunks[0], bool((X_read.toarray() == X).all())
    ((4, 2), True)
    """
    import glob
    import os
    from operator import itemgetter

    from ..io import CSRCache, is_csr_cache

    if isinstance(path, (list, tuple)):
        paths = [str(p) for p in path]
    elif is_csr_cache(path):
        paths = [str(path)]
    else:
        paths = sorted(p for p in glob.glob(os.path.join(str(path), pattern))
                       if is_csr_cache(p))
    if not paths:
        raise FileNotFoundError(f"no fastlogit CSR cache at {path!r} (pattern {pattern!r})")
    caches = [CSRCache(p) for p in paths]
    widths = {c.n_features for c in caches}
    if len(widths) != 1:
        raise ValueError(f"the caches disagree on n_features: {sorted(widths)}")
    n_features = widths.pop()
    dtype = np.dtype(dtype or caches[0].dtype)
    read = dask.delayed(_read_cache_rows, pure=True)
    meta = sp.csr_matrix((0, n_features), dtype=dtype)
    xs, ys = [], []
    for c, p in zip(caches, paths):
        step = int(rows_per_block or max(c.n_samples, 1))
        for a in range(0, c.n_samples, step):
            b = min(a + step, c.n_samples)
            part = read(p, a, b, dtype)
            xs.append(da.from_delayed(dask.delayed(itemgetter(0))(part),
                                      shape=(b - a, n_features), dtype=dtype, meta=meta))
            ys.append(da.from_delayed(dask.delayed(itemgetter(1))(part), shape=(b - a,),
                                      dtype=np.float64, meta=np.empty(0)))
    return da.concatenate(xs, axis=0), da.concatenate(ys, axis=0)


