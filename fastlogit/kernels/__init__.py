"""Kernel dispatch: one validated interface over the NumPy, Numba and Cython backends.

Every backend module (``numpy_ref``, ``numba_impl``, ``cython_impl``) provides the same *raw*
functions, which do arithmetic only: no checks, no allocation, every buffer passed in::

    log1pexp(z, out)            log_sigmoid(z, out)           sigmoid(z, out)
    loss_grad_{dense,csr}(X.., y, s, w, b, grad_out, hess_out, n_threads) -> (loss_sum, grad_b)
    loss_{dense,csr}(X.., y, s, w, b, n_threads) -> loss_sum
    decision_{dense,csr}(X.., w, b, out, n_threads)
    hessp_{dense,csr}(X.., d, v, v_b, out, n_threads) -> out_b
    hess_diag_{dense,csr}(X.., d, out, n_threads)
    gram_{dense,csr}(X.., d, out, n_threads)
    multinomial_loss_grad_{dense,csr}(X.., Y, s, W, B, grad_out, grad_b_out, proba_out,
                                      n_threads) -> loss_sum
    multinomial_hessp_{dense,csr}(X.., P, s, V, v_b, out, out_b, n_threads)

SGD epochs (modules ``sgd_ref``, ``sgd_numba``, ``sgd_cython``; algorithm and argument
meanings in the docstring of :mod:`fastlogit.kernels.sgd_ref`)::

    sgd_epoch_{dense,csr}(X.., Y, s, order, W, b, avg_W, avg_b, q, state, schedule, eta0,
                          power_t, alpha, t0, lam2, lam1, fit_intercept, average_start,
                          n_threads) -> loss_sum
    sgd_epoch_hogwild_csr(...same...)      lock-free parallel, binary, no L1; not deterministic

Unlike the other kernels, the SGD state (W (d, K), b (K,), avg_W, avg_b, q, state) is float64
whatever X's dtype; Y (n, K) and s are in X's dtype and ``order`` is int64.

where ``X..`` is ``X`` (C-ordered, shape (n, d)) for ``_dense`` and ``data, indices, indptr``
for ``_csr``.  CSR rows may be unsorted and empty, ``indptr[0]`` need not be 0 (a row block
of a larger matrix is ``indptr[start:stop + 1]`` over the same ``data``/``indices``), and
``indices`` are int32 or int64.  ``s`` of length 0 means unit sample weights; ``hess_out`` and
``proba_out`` of length 0 mean "do not write".  Every float array has the dtype of X
(float32 or float64); sums are accumulated in float64 and returned as Python floats.

The quantities, with ``z_i = x_i . w + b`` and ``r_i = s_i (sigmoid(z_i) - y_i)``::

    loss_sum  = sum_i s_i [log(1 + exp(z_i)) - y_i z_i]
    grad_out  = X^T r,           grad_b = sum_i r_i
    hess_out  = s_i sigmoid(z_i) (1 - sigmoid(z_i))          (the IRLS weights)
    hessp     : u = X v + v_b;   out = X^T (d * u),   out_b = sum_i d_i u_i
    hess_diag : out_j = sum_i d_i x_ij^2
    gram      : out = X^T diag(d) X                           (shape (d, d))
    multinomial, Z = X W + B (W shape (d, K)), P = softmax(Z), rows of Y sum to 1:
      loss_sum = sum_i s_i [logsumexp(Z_i) - Y_i . Z_i],  grad_out = X^T (s * (P - Y)),
      grad_b_out = sum_i s_i (P_i - Y_i);   multinomial_hessp: U = X V + v_b,
      T_i = s_i (P_i * U_i - P_i (P_i . U_i)),  out = X^T T,  out_b = sum_i T_i

This module owns the Python boundary: :class:`KernelSet` checks shapes, dtypes and
contiguity once per call (O(1) work) and raises ``ValueError`` naming the argument.
CSR structure (index range, ``indptr`` monotonicity) is checked once per data set, by
:func:`as_design` or by the :class:`Design` constructor (a hand-built Design is validated
too); the result is passed to every kernel call.  NaN in X, w or any weight propagates as in
the NumPy reference (the same outputs are NaN) in every backend.
"""
import importlib
import operator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._config import effective_n_threads, forked_child, kernel_threads
from .._docstring import fill_doc

__all__ = ["Design", "KernelSet", "as_design", "available_backends", "get", "BACKENDS"]

#: Backend name -> modules that together implement its raw functions (one per concern:
#: linear-model kernels, SGD epoch loops).
BACKENDS = {
    "cython": ("fastlogit.kernels.cython_impl", "fastlogit.kernels.sgd_cython"),
    "numba": ("fastlogit.kernels.numba_impl", "fastlogit.kernels.sgd_numba"),
    "numpy": ("fastlogit.kernels.numpy_ref", "fastlogit.kernels.sgd_ref"),
}
#: Order in which "auto" tries the backends (fastest first, see benchmarks/).
AUTO_ORDER = ("cython", "numba", "numpy")
#: Raw kernels that "auto" takes from another backend than the first available one, where
#: the benchmarks measured it faster (CSR/dense gram: Numba's panel loops ~3x Cython's on a9a).
AUTO_OVERRIDES = {"gram_dense": "numba", "gram_csr": "numba"}

_FLOATS = (np.float32, np.float64)


@dataclass(frozen=True)
class Design:
    """A validated design matrix, dense or CSR, as the raw kernels take it.

    The constructor checks everything the compiled kernels rely on to stay inside their
    arrays, and raises ``ValueError`` naming the problem otherwise: O(1) for dense X, an
    O(n_rows + nnz) scan of ``indptr`` and ``indices`` for CSR.  :func:`as_design` is the
    usual way to get one.  Frozen; ``n_rows``, ``n_cols``, ``nnz`` and ``nbytes`` are
    derived properties.

    Parameters
    ----------
    kind : {"dense", "csr"}
        The storage of the matrix.
    arrays : tuple of ndarray
        ``(X,)`` with X C-contiguous of shape ``shape`` and dtype ``dtype``; or
        ``(data, indices, indptr)``, all 1-D and C-contiguous: ``data`` of dtype ``dtype``,
        ``indices`` and ``indptr`` int32 or int64, ``indptr`` of length ``n_rows + 1``,
        non-negative and non-decreasing, ``indptr[-1] <= len(data), len(indices)``, and
        every ``indices[indptr[0]:indptr[-1]]`` in ``[0, n_cols)``.  ``indptr[0]`` need not
        be 0 (a row block of a larger matrix, see :meth:`rows`).
    shape : tuple of int
        ``(n_rows, n_cols)``, both >= 0.
    dtype : numpy.dtype
        float32 or float64, the dtype of X or ``data``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.kernels import Design
    >>> data, indices = np.array([1.0, 2.0, 3.0]), np.array([0, 2, 1], dtype=np.int32)
    >>> indptr = np.array([0, 2, 3], dtype=np.int32)
    >>> X = Design("csr", (data, indices, indptr), (2, 3), np.float64)
    >>> X.nnz, X.to_scipy().toarray()
    (3, array([[1., 0., 2.],
           [0., 3., 0.]]))
    >>> Design("csr", (data, indices, indptr), (2, 2), np.float64)
    Traceback (most recent call last):
    ...
    ValueError: Design column indices must lie in [0, 2) (n_cols of shape (2, 2)), found [0, 2]
    """

    kind: str
    arrays: tuple
    shape: tuple
    dtype: np.dtype

    def __post_init__(self):
        kind, arrays, shape, dtype = _check_design(self.kind, self.arrays, self.shape,
                                                   self.dtype)
        for name, value in (("arrays", arrays), ("shape", shape), ("dtype", dtype)):
            object.__setattr__(self, name, value)

    @classmethod
    def trusted(cls, kind, arrays, shape, dtype):
        """A Design from parts the caller has already checked (no validation, O(1)).

        For constructions from a validated Design or from arrays just checked (:func:`as_design`,
        :meth:`rows`, column compaction, merged rows); anything else goes through
        :func:`as_design`.  Nothing is checked: parts that break an invariant of the class
        docstring give wrong results or crash the compiled kernels.

        Parameters
        ----------
        kind : {"dense", "csr"}
            The layout.
        arrays : tuple of ndarray
            ``(X,)`` for "dense" (C-contiguous), ``(data, indices, indptr)`` for "csr"
            (indices int32 or int64, in ``[0, n_cols)``; indptr non-decreasing from 0).
        shape : tuple of int
            ``(n_rows, n_cols)``.
        dtype : numpy.dtype
            float32 or float64, the dtype of ``X`` or ``data``.

        Returns
        -------
        Design

        Examples
        --------
        >>> import numpy as np
        >>> from fastlogit.kernels import Design, as_design
        >>> X = np.array([[1.0, 2.0], [3.0, 4.0]])
        >>> D = Design.trusted("dense", (X,), X.shape, X.dtype)  # as as_design(X) makes it
        >>> D.shape == as_design(X).shape, D.kind
        (True, 'dense')
        """
        self = object.__new__(cls)
        for name, value in (("kind", kind), ("arrays", arrays), ("shape", shape),
                            ("dtype", dtype)):
            object.__setattr__(self, name, value)
        return self

    @property
    def n_rows(self):
        """Number of rows, ``shape[0]`` (int).

        Examples
        --------
        >>> import numpy as np
        >>> from fastlogit.kernels import as_design
        >>> as_design(np.zeros((3, 2))).n_rows
        3
        """
        return self.shape[0]

    @property
    def n_cols(self):
        """Number of columns, ``shape[1]`` (int).

        Examples
        --------
        >>> import numpy as np
        >>> from fastlogit.kernels import as_design
        >>> as_design(np.zeros((3, 2))).n_cols
        2
        """
        return self.shape[1]

    @property
    def nnz(self):
        """Stored values one pass reads (int): n_rows * n_cols for dense X, the entries
        between ``indptr[0]`` and ``indptr[-1]`` for CSR.

        Examples
        --------
        >>> import numpy as np
        >>> import scipy.sparse as sp
        >>> from fastlogit.kernels import as_design
        >>> X = np.array([[0.0, 1.0], [2.0, 3.0], [0.0, 0.0]])
        >>> csr = as_design(sp.csr_matrix(X))
        >>> as_design(X).nnz, csr.nnz, csr.rows(1, 3).nnz
        (6, 3, 2)
        """
        if self.kind == "dense":
            return self.n_rows * self.n_cols
        indptr = self.arrays[2]
        return int(indptr[-1] - indptr[0])

    @property
    def nbytes(self):
        """Bytes a full pass over the matrix reads (int): the sum of ``arrays``' sizes.

        Examples
        --------
        >>> import numpy as np
        >>> import scipy.sparse as sp
        >>> from fastlogit.kernels import as_design
        >>> X = np.array([[0.0, 1.0], [2.0, 3.0]], dtype=np.float32)
        >>> as_design(X).nbytes, as_design(sp.csr_matrix(X)).nbytes  # 3 values, ids, indptr
        (16, 36)
        """
        return sum(a.nbytes for a in self.arrays)

    def rows(self, start, stop):
        """The row block ``[start, stop)`` as a Design; no copy of the matrix values.

        Parameters
        ----------
        start, stop : int
            The row range, as a Python slice ``start:stop`` reads it (negative values count
            from the end, both are clipped to [0, n_rows]; ``stop <= start`` gives no rows).

        Returns
        -------
        Design
            Of shape (stop - start, n_cols) after clipping, X's dtype, sharing the arrays
            (a CSR block keeps ``data``/``indices`` and slices ``indptr``, whose first entry
            is then not 0).

        Examples
        --------
        >>> import numpy as np
        >>> import scipy.sparse as sp
        >>> from fastlogit.kernels import as_design
        >>> X = as_design(sp.csr_matrix(np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 0.0]])))
        >>> block = X.rows(1, 3)
        >>> block.shape, block.arrays[2], block.to_scipy().toarray()
        ((2, 2), array([1, 3, 4], dtype=int32), array([[2., 3.],
               [4., 0.]]))
        """
        start, stop, _ = slice(start, stop).indices(self.n_rows)
        stop = max(stop, start)
        if self.kind == "dense":
            arrays = (self.arrays[0][start:stop],)
        else:
            data, indices, indptr = self.arrays
            arrays = (data, indices, indptr[start:stop + 1])
        return Design.trusted(self.kind, arrays, (stop - start, self.n_cols), self.dtype)

    def to_scipy(self):
        """The matrix as SciPy and NumPy users hold it.

        Returns
        -------
        ndarray or scipy.sparse.csr_matrix of shape (n_rows, n_cols)
            The dense array itself, or a CSR matrix sharing ``data`` and ``indices`` (its
            ``indptr`` is rebased to start at 0), in the Design's dtype.

        Examples
        --------
        >>> import numpy as np
        >>> from fastlogit.kernels import as_design
        >>> X = np.array([[1.0, 2.0], [3.0, 4.0]])
        >>> as_design(X).to_scipy() is X
        True
        """
        if self.kind == "dense":
            return self.arrays[0]
        data, indices, indptr = self.arrays
        lo, hi = int(indptr[0]), int(indptr[-1])
        return sp.csr_matrix(
            (data[lo:hi], indices[lo:hi], indptr - indptr[0]), shape=self.shape
        )


def _check_design(kind, arrays, shape, dtype):
    """Validate the parts of a :class:`Design`; returns them normalised (tuple arrays, shape
    of Python ints, numpy dtype) or raises ValueError naming the problem."""
    if kind not in ("dense", "csr"):
        raise ValueError(f"Design kind must be 'dense' or 'csr', got {kind!r}")
    try:
        dtype = np.dtype(dtype)
    except TypeError as exc:
        raise ValueError(f"Design dtype must be float32 or float64, got {dtype!r}") from exc
    if dtype not in _FLOATS:
        raise ValueError(f"Design dtype must be float32 or float64, got {dtype}")
    try:
        shape = tuple(operator.index(v) for v in shape)
    except TypeError as exc:
        raise ValueError(f"Design shape must be two integers, got {shape!r}") from exc
    if len(shape) != 2 or min(shape) < 0:
        raise ValueError(f"Design shape must be two integers >= 0, got {shape!r}")
    n, d = shape
    names = ("X",) if kind == "dense" else ("data", "indices", "indptr")
    if not isinstance(arrays, (tuple, list)) or len(arrays) != len(names):
        raise ValueError(f"Design arrays for kind {kind!r} must be a tuple "
                         f"({', '.join(names)}), got {type(arrays).__name__} of "
                         f"{len(arrays) if isinstance(arrays, (tuple, list)) else '?'}")
    arrays = tuple(arrays)
    for name, a in zip(names, arrays):
        if not isinstance(a, np.ndarray):
            raise ValueError(f"Design {name} must be a numpy array, got {type(a).__name__}")
        if not a.flags.c_contiguous:
            raise ValueError(f"Design {name} must be C-contiguous")
    if kind == "dense":
        X = arrays[0]
        if X.dtype != dtype:
            raise ValueError(f"Design X has dtype {X.dtype}, declared {dtype}")
        if X.shape != shape:
            raise ValueError(f"Design X has shape {X.shape}, declared {shape}")
        return kind, arrays, shape, dtype
    data, indices, indptr = arrays
    for name, a in zip(names, arrays):
        if a.ndim != 1:
            raise ValueError(f"Design {name} must be 1-dimensional, got shape {a.shape}")
    if data.dtype != dtype:
        raise ValueError(f"Design data has dtype {data.dtype}, declared {dtype}")
    for name, a in (("indices", indices), ("indptr", indptr)):
        if a.dtype not in (np.int32, np.int64):
            raise ValueError(f"Design {name} must be int32 or int64, got {a.dtype}")
    if indptr.shape[0] != n + 1:
        raise ValueError(f"Design indptr has {indptr.shape[0]} entries; shape {shape} "
                         f"needs n_rows + 1 = {n + 1}")
    lo, hi = int(indptr[0]), int(indptr[-1])
    if lo < 0:
        raise ValueError(f"Design indptr must be non-negative, starts at {lo}")
    if n and np.any(indptr[1:] < indptr[:-1]):
        raise ValueError("Design indptr must be non-decreasing")
    if hi > data.shape[0] or hi > indices.shape[0]:
        raise ValueError(f"Design indptr ends at {hi}, beyond data ({data.shape[0]}) or "
                         f"indices ({indices.shape[0]})")
    if hi > lo:
        used = indices[lo:hi]
        if used.min() < 0 or used.max() >= d:
            raise ValueError(f"Design column indices must lie in [0, {d}) (n_cols of shape "
                             f"{shape}), found [{used.min()}, {used.max()}]")
    return kind, arrays, shape, dtype


def as_design(X, dtype=None, check_finite=False):
    """Validate ``X`` once and return a :class:`Design` for the kernels.

    Parameters
    ----------
    X : ndarray of shape (n, d), scipy.sparse matrix/array, or Design
        Dense input is made C-contiguous; sparse input is converted to CSR (never densified).
        Integer CSR indices are kept int32/int64, converted to int32 when they fit.
    dtype : {numpy.float32, numpy.float64}, default=None
        ``None`` keeps float32/float64 input and casts anything else to float64.
    check_finite : bool, default=False
        Also reject NaN and inf values (an O(nnz) scan).

    Returns
    -------
    Design
        ``X`` itself when it is a Design of the requested dtype; otherwise a new one
        sharing memory with ``X`` where no conversion was needed.

    Raises
    ------
    ValueError
        If X is not 2-D or not numeric, ``dtype`` is not a float type, the CSR structure
        is inconsistent, or (with ``check_finite``) X holds NaN or inf.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> from fastlogit.kernels import as_design
    >>> X = as_design(sp.csr_matrix(np.array([[0.0, 1.0], [2.0, 0.0]], dtype=np.float32)))
    >>> X.kind, X.shape, X.dtype, X.nnz
    ('csr', (2, 2), dtype('float32'), 2)
    >>> as_design([[1, 2], [3, 4]]).dtype  # integers become float64
    dtype('float64')
    """
    if isinstance(X, Design):
        if dtype is None or np.dtype(dtype) == X.dtype:
            return X
        X = X.to_scipy()
    if dtype is not None:
        dtype = np.dtype(dtype)
        if dtype not in _FLOATS:
            raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    if sp.issparse(X):
        X = X.tocsr() if X.format != "csr" else X
        if X.ndim != 2:
            raise ValueError(f"X must be 2-dimensional, got shape {X.shape}")
        target = dtype or (X.dtype if X.dtype in _FLOATS else np.dtype(np.float64))
        data = np.ascontiguousarray(X.data, dtype=target)
        indptr = np.asarray(X.indptr)
        indices = np.asarray(X.indices)
        n, d = X.shape
        if indptr.shape != (n + 1,) or indptr[0] != 0:
            raise ValueError("X: CSR indptr must have n_rows + 1 entries starting at 0")
        nnz = int(indptr[-1])
        from . import numba_impl as _nb  # compiled checks: one pass each

        if not _nb.non_decreasing(indptr):
            raise ValueError("X: CSR indptr must be non-decreasing")
        if data.shape[0] < nnz or indices.shape[0] < nnz:
            raise ValueError("X: CSR data/indices shorter than indptr[-1]")
        data, indices = data[:nnz], indices[:nnz]
        if nnz:
            lo, hi = _nb.min_max(indices)
            if lo < 0 or hi >= d:
                raise ValueError(f"X: CSR column indices must lie in [0, {d})")
        index_type = np.int32 if d <= np.iinfo(np.int32).max else np.int64
        if indices.dtype not in (np.int32, np.int64) or indices.dtype != index_type:
            indices = indices.astype(index_type)
        indices = np.ascontiguousarray(indices)
        indptr = np.ascontiguousarray(indptr, dtype=np.int64 if nnz > 2**31 - 1 else indptr.dtype)
        if indptr.dtype not in (np.int32, np.int64):
            indptr = indptr.astype(np.int64)
        if check_finite and not np.isfinite(data).all():
            raise ValueError("X contains NaN or infinity")
        return Design.trusted("csr", (data, indices, indptr), (n, d), data.dtype)
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-dimensional, got shape {X.shape}")
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise ValueError(f"X must be numeric, got dtype {X.dtype}")
    target = dtype or (X.dtype if X.dtype in _FLOATS else np.dtype(np.float64))
    X = np.ascontiguousarray(X, dtype=target)
    if check_finite and not np.isfinite(X).all():
        raise ValueError("X contains NaN or infinity")
    return Design.trusted("dense", (X,), X.shape, X.dtype)


def _check_vec(name, a, length, dtype, writable=False, ndim=1):
    if not isinstance(a, np.ndarray):
        raise ValueError(f"{name} must be a numpy array, got {type(a).__name__}")
    if a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {a.shape}")
    if length is not None:
        shape = (length,) if isinstance(length, (int, np.integer)) else tuple(length)
        if a.shape != shape:
            raise ValueError(f"{name} must have shape {shape}, got {a.shape}")
    if a.dtype != dtype:
        raise ValueError(f"{name} must have dtype {np.dtype(dtype)} (that of X), got {a.dtype}")
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous")
    if writable and not a.flags.writeable:
        raise ValueError(f"{name} must be writeable")
    return a


def _check_rows(name, a, n, dtype):
    """Check a C-contiguous (n, K) array of dtype ``dtype`` (one row per row of X); returns K."""
    _check_vec(name, a, None, dtype, ndim=2)
    if a.shape[0] != n:
        raise ValueError(f"{name} must have {n} rows (those of X), got {a.shape[0]}")
    return a.shape[1]


def _optional(name, a, length, dtype, writable=False, ndim=1):
    """Check an optional array; ``None`` becomes the length-0 array the raw kernels expect."""
    if a is None:
        return np.empty((0,) * ndim, dtype=dtype)
    return _check_vec(name, a, length, dtype, writable, ndim)


def _elementwise(raw):
    def kernel(z, out=None):
        z = np.asarray(z)
        if z.dtype not in _FLOATS:
            z = z.astype(np.float64)
        z = np.ascontiguousarray(z)
        flat = z.reshape(-1)
        if out is None:
            out = np.empty_like(z)
        _check_vec("out", out, None, z.dtype, writable=True, ndim=z.ndim)
        if out.shape != z.shape:
            raise ValueError(f"out must have shape {z.shape}, got {out.shape}")
        raw(flat, out.reshape(-1))
        return out

    kernel.__name__ = raw.__name__
    kernel.__doc__ = raw.__doc__
    return kernel


class KernelSet:
    """The kernels of one backend behind checked, allocation-free entry points.

    ``X`` may be a :class:`Design` (checked once by :func:`as_design`, the fast path), an
    ndarray or a scipy sparse matrix (validated on every call).  ``n_threads=None`` means all
    cores (see :func:`fastlogit._config.effective_n_threads`); it is an upper bound: the
    row-parallel kernels run on the number of threads that
    :func:`fastlogit._config.kernel_threads` finds worth their start-up and buffer cost for
    the size of X (the same for both compiled backends; ``gram`` and ``sgd_epoch`` use the
    count as given).  Usually obtained from :func:`get`.

    Parameters
    ----------
    name : str
        The backend's name (``"numpy"``, ``"numba"``, ``"cython"``, ``"auto (...)"``).
    module : module or namespace
        The backend's raw kernels: ``log1pexp``, ``log_sigmoid``, ``sigmoid`` and one
        ``<op>_dense`` / ``<op>_csr`` function per operation.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit import kernels
    >>> ref = kernels.get("numpy")
    >>> ref.name, ref.sigmoid(np.array([0.0, 800.0, -800.0]))
    ('numpy', array([0.5, 1. , 0. ]))
    >>> X = np.array([[1.0, 2.0], [0.0, -1.0]])
    >>> grad = np.empty(2)
    >>> loss, grad_b = ref.loss_grad(X, np.array([1.0, 0.0]), None, np.zeros(2), 0.0, grad)
    >>> round(loss, 6), grad, grad_b  # at w = 0: 2 log 2, X^T (1/2 - y), sum (1/2 - y)
    (1.386294, array([-0.5, -1.5]), 0.0)
    """

    def __init__(self, name, module):
        self.name = name
        self.module = module
        self.log1pexp = _elementwise(module.log1pexp)
        self.log_sigmoid = _elementwise(module.log_sigmoid)
        self.sigmoid = _elementwise(module.sigmoid)

    def __repr__(self):
        return f"KernelSet({self.name!r})"

    def _raw(self, op, X):
        X = as_design(X)
        return X, getattr(self.module, f"{op}_{X.kind}")

    @staticmethod
    def _threads(X, n_threads, buffer_len, k=1):
        """Thread count for a row-parallel kernel over X (k values per stored value / row)."""
        return kernel_threads(n_threads, X.n_rows * k, X.nnz * k, buffer_len)

    @fill_doc
    def loss_grad(self, X, y, s, w, b, grad_out, hess_out=None, n_threads=None,
                  diag_out=None):
        """Binary log-loss sum and its gradient, fused in one pass over X.

        With ``z = X w + b`` and ``r = s (sigmoid(z) - y)``: the loss sum
        ``sum_i s_i [log(1 + exp(z_i)) - y_i z_i]``, ``grad_out = X^T r`` and ``sum_i r_i``.

        Parameters
        ----------
        {kernel_X, kernel_y, kernel_s, kernel_w, kernel_b}
        grad_out : ndarray of shape (d,)
            Overwritten with ``X^T r``; X's dtype, C-contiguous, writeable.
        hess_out : ndarray of shape (n,), default=None
            When given (X's dtype, C-contiguous, writeable), overwritten with the IRLS
            weights ``s * sigmoid(z) * (1 - sigmoid(z))``.
        {kernel_n_threads}
        diag_out : ndarray of shape (d,), default=None
            When given (X's dtype, C-contiguous, writeable; ``hess_out`` required), overwritten
            with the Hessian diagonal ``sum_i hess_out_i x_ij^2`` (what :meth:`hess_diag`
            returns for ``hess_out``), from the same pass: the gradient's scatter over X
            also adds each row's weight times its squared values.

        Returns
        -------
        loss_sum : float
            The weighted loss sum (accumulated in float64).
        grad_b : float
            ``sum_i r_i``, the derivative with respect to b.

        Raises
        ------
        {kernel_raises}

        Examples
        --------
        {kernel_example}
        >>> grad, hess = np.empty(2), np.empty(3)
        >>> loss, grad_b = ref.loss_grad(X, np.array([1.0, 0.0, 1.0]), None, np.zeros(2), 0.0,
        ...                              grad, hess)
        >>> round(loss, 6), grad, grad_b, hess  # at w = 0: 3 log 2, X^T (1/2 - y), ...
        (2.079442, array([-2. , -1.5]), -0.5, array([0.25, 0.25, 0.25]))
        """
        if diag_out is not None and hess_out is None:
            raise ValueError("diag_out needs hess_out: the diagonal is weighted by the IRLS "
                             "weights the pass writes there")
        X, raw = self._raw("loss_grad" if diag_out is None else "loss_grad_diag", X)
        n, d = X.shape
        t = X.dtype
        args = [
            _check_vec("y", y, n, t), _optional("sample_weight", s, n, t), _check_vec("w", w, d, t),
            float(b), _check_vec("grad_out", grad_out, d, t, True),
            _optional("hess_out", hess_out, n, t, True),
        ]
        if diag_out is not None:  # the raw loss_grad_diag_*: one more output, 2 d per buffer
            args.append(_check_vec("diag_out", diag_out, d, t, True))
            if np.may_share_memory(diag_out, grad_out):
                raise ValueError("diag_out must not overlap grad_out")
        args.append(self._threads(X, n_threads, d if diag_out is None else 2 * d))
        loss_sum, grad_b = raw(*X.arrays, *args)
        return float(loss_sum), float(grad_b)

    @fill_doc
    def loss(self, X, y, s, w, b, n_threads=None):
        """Binary log-loss sum only, ``sum_i s_i [log(1 + exp(z_i)) - y_i z_i]`` (for line
        searches): one pass, no gradient.

        Parameters
        ----------
        {kernel_X, kernel_y, kernel_s, kernel_w, kernel_b, kernel_n_threads}

        Returns
        -------
        float
            The weighted loss sum (accumulated in float64), the first value of
            :meth:`loss_grad`.

        Raises
        ------
        ValueError
            If an array is not a NumPy array of the stated shape, of X's dtype and
            C-contiguous; the message names it.

        Examples
        --------
        {kernel_example}
        >>> y, w = np.array([1.0, 0.0, 1.0]), np.array([0.5, -0.5])
        >>> loss = ref.loss(X, y, np.array([1.0, 2.0, 1.0]), w, 0.1)
        >>> bool(np.isclose(loss, ref.loss_grad(X, y, np.array([1.0, 2.0, 1.0]), w, 0.1,
        ...                                     np.empty(2))[0]))
        True
        """
        X, raw = self._raw("loss", X)
        n, d = X.shape
        t = X.dtype
        return float(raw(*X.arrays, _check_vec("y", y, n, t), _optional("sample_weight", s, n, t),
                         _check_vec("w", w, d, t), float(b), self._threads(X, n_threads, 0)))

    @fill_doc
    def decision(self, X, w, b, out=None, n_threads=None):
        """The binary linear predictor ``z = X w + b``.

        Parameters
        ----------
        {kernel_X, kernel_w, kernel_b}
        out : ndarray of shape (n,), default=None
            Written with z when given (X's dtype, C-contiguous, writeable); None allocates.
        {kernel_n_threads}

        Returns
        -------
        ndarray of shape (n,)
            z in X's dtype (``out`` itself when given).

        Examples
        --------
        {kernel_example}
        >>> ref.decision(X, np.array([1.0, 1.0]), 0.5)
        array([ 3.5, -0.5,  3.5])
        """
        X, raw = self._raw("decision", X)
        n, d = X.shape
        if out is None:
            out = np.empty(n, dtype=X.dtype)
        raw(*X.arrays, _check_vec("w", w, d, X.dtype), float(b),
            _check_vec("out", out, n, X.dtype, True), self._threads(X, n_threads, 0))
        return out

    @fill_doc
    def hessp(self, X, d, v, out, v_b=0.0, n_threads=None):
        """Weighted Gram matrix times a vector: ``out = X^T (d * (X v + v_b))``.

        With d the IRLS weights (``hess_out`` of :meth:`loss_grad`) this is the log-loss
        Hessian-vector product; the intercept's row of it is returned.

        Parameters
        ----------
        {kernel_X}
        d : ndarray of shape (n,)
            Row weights, X's dtype, C-contiguous.
        v : ndarray of shape (d,)
            The coefficient part of the vector, X's dtype, C-contiguous.
        out : ndarray of shape (d,)
            Overwritten with the product; X's dtype, C-contiguous, writeable.
        v_b : float, default=0.0
            The intercept part of the vector.
        {kernel_n_threads}

        Returns
        -------
        float
            ``sum_i d_i (x_i . v + v_b)``, the intercept entry of the product.

        Examples
        --------
        {kernel_example}
        >>> out, d = np.empty(2), np.array([1.0, 2.0, 0.5])
        >>> out_b = ref.hessp(X, d, np.array([1.0, 0.0]), out, v_b=1.0)
        >>> out, out_b, X.to_scipy().T @ (d * (X.to_scipy() @ [1.0, 0.0] + 1.0))
        (array([8., 2.]), 6.0, array([8., 2.]))
        """
        X, raw = self._raw("hessp", X)
        n, p = X.shape
        t = X.dtype
        return float(raw(*X.arrays, _check_vec("d", d, n, t), _check_vec("v", v, p, t), float(v_b),
                         _check_vec("out", out, p, t, True), self._threads(X, n_threads, p)))

    @fill_doc
    def hess_diag(self, X, d, out, n_threads=None):
        """Diagonal of the weighted Gram matrix: ``out_j = sum_i d_i x_ij^2``.

        Parameters
        ----------
        {kernel_X}
        d : ndarray of shape (n,)
            Row weights, X's dtype, C-contiguous.
        out : ndarray of shape (d,)
            Overwritten with the diagonal; X's dtype, C-contiguous, writeable.
        {kernel_n_threads}

        Returns
        -------
        ndarray of shape (d,)
            ``out``.

        Examples
        --------
        {kernel_example}
        >>> ref.hess_diag(X, np.array([1.0, 2.0, 0.5]), np.empty(2))
        array([5.5, 6. ])
        """
        X, raw = self._raw("hess_diag", X)
        n, p = X.shape
        raw(*X.arrays, _check_vec("d", d, n, X.dtype), _check_vec("out", out, p, X.dtype, True),
            self._threads(X, n_threads, p))
        return out

    @fill_doc
    def gram(self, X, d, out, n_threads=None):
        """The weighted Gram matrix ``out = X^T diag(d) X`` (a Newton step's Hessian).

        Parameters
        ----------
        {kernel_X}
        d : ndarray of shape (n,)
            Row weights, X's dtype, C-contiguous.
        out : ndarray of shape (d, d)
            Overwritten with the matrix; X's dtype, C-contiguous, writeable.
        {kernel_n_threads}

        Returns
        -------
        ndarray of shape (d, d)
            ``out``, symmetric.

        Examples
        --------
        {kernel_example}
        >>> ref.gram(X, np.array([1.0, 2.0, 0.5]), np.empty((2, 2)))
        array([[5.5, 2. ],
               [2. , 6. ]])
        """
        X, raw = self._raw("gram", X)
        n, p = X.shape
        raw(*X.arrays, _check_vec("d", d, n, X.dtype),
            _check_vec("out", out, (p, p), X.dtype, True, ndim=2), effective_n_threads(n_threads))
        return out

    @fill_doc
    def multinomial_loss_grad(self, X, Y, s, W, B, grad_out, grad_b_out, proba_out=None,
                              n_threads=None):
        """Softmax loss sum and its gradient.

        With ``Z = X W + B``, ``P = softmax(Z)`` by rows and ``R = s (P - Y)``: the loss sum
        ``sum_i s_i [logsumexp(Z_i) - Y_i . Z_i]``, ``grad_out = X^T R`` and
        ``grad_b_out = sum_i R_i``.  Two passes over X per chunk of rows (residuals by row
        blocks, then X^T R by blocks of the output), so that no thread holds a (d, K)
        buffer; the gradient does not depend on the thread count.

        Parameters
        ----------
        {kernel_X}
        Y : ndarray of shape (n, K)
            Class probabilities (one-hot or soft, rows summing to 1), X's dtype,
            C-contiguous; K >= 2.
        {kernel_s}
        W : ndarray of shape (d, K)
            The coefficients, one column per class, X's dtype, C-contiguous.
        B : ndarray of shape (K,)
            The intercepts, X's dtype.
        grad_out : ndarray of shape (d, K)
            Overwritten with ``X^T R``; X's dtype, C-contiguous, writeable.
        grad_b_out : ndarray of shape (K,)
            Overwritten with ``sum_i R_i``; X's dtype, writeable.
        proba_out : ndarray of shape (n, K), default=None
            When given (X's dtype, C-contiguous, writeable), overwritten with P.
        {kernel_n_threads}

        Returns
        -------
        float
            The weighted loss sum (accumulated in float64).

        Raises
        ------
        {kernel_raises}

        Examples
        --------
        {kernel_example}
        >>> Y = np.eye(3)  # row i in class i
        >>> grad, grad_b = np.empty((2, 3)), np.empty(3)
        >>> loss = ref.multinomial_loss_grad(X, Y, None, np.zeros((2, 3)), np.zeros(3),
        ...                                  grad, grad_b)
        >>> round(loss, 6)  # 3 log 3: P = 1/3 everywhere
        3.295837
        >>> bool(np.allclose(grad, X.to_scipy().T @ (1 / 3 - Y))), bool(np.allclose(grad_b, 0))
        (True, True)
        """
        X, raw = self._raw("multinomial_loss_grad", X)
        n, d = X.shape
        t = X.dtype
        k = _check_rows("Y", Y, n, t)
        args = (
            Y, _optional("sample_weight", s, n, t), _check_vec("W", W, (d, k), t, ndim=2),
            _check_vec("B", B, k, t), _check_vec("grad_out", grad_out, (d, k), t, True, 2),
            _check_vec("grad_b_out", grad_b_out, k, t, True),
            _optional("proba_out", proba_out, (n, k), t, True, 2),
            self._threads(X, n_threads, k + 1, k),  # per thread: loss and K sums
        )
        return float(raw(*X.arrays, *args))

    @fill_doc
    def multinomial_hessp(self, X, P, s, V, v_b, out, out_b, n_threads=None):
        """Softmax Hessian-vector product at the probabilities P.

        With ``U = X V + v_b`` and ``T_i = s_i (P_i * U_i - P_i (P_i . U_i))``:
        ``out = X^T T`` and ``out_b = sum_i T_i``.

        Parameters
        ----------
        {kernel_X}
        P : ndarray of shape (n, K)
            The class probabilities at the current point (``proba_out`` of
            :meth:`multinomial_loss_grad`), X's dtype, C-contiguous.
        {kernel_s}
        V : ndarray of shape (d, K)
            The coefficient part of the vector, X's dtype, C-contiguous.
        v_b : ndarray of shape (K,)
            The intercept part of the vector, X's dtype.
        out : ndarray of shape (d, K)
            Overwritten with ``X^T T``; X's dtype, C-contiguous, writeable.
        out_b : ndarray of shape (K,)
            Overwritten with ``sum_i T_i``; X's dtype, writeable.
        {kernel_n_threads}

        Returns
        -------
        ndarray of shape (d, K)
            ``out``.

        Examples
        --------
        {kernel_example}
        >>> P, V = np.full((3, 2), 0.5), np.array([[1.0, -1.0], [0.0, 0.0]])
        >>> out, out_b = np.empty((2, 2)), np.empty(2)
        >>> ref.multinomial_hessp(X, P, None, V, np.zeros(2), out, out_b), out_b
        (array([[ 5., -5.],
               [ 1., -1.]]), array([ 2., -2.]))
        """
        X, raw = self._raw("multinomial_hessp", X)
        n, d = X.shape
        t = X.dtype
        k = _check_rows("P", P, n, t)
        raw(*X.arrays, P, _optional("sample_weight", s, n, t),
            _check_vec("V", V, (d, k), t, ndim=2),
            _check_vec("v_b", v_b, k, t), _check_vec("out", out, (d, k), t, True, 2),
            _check_vec("out_b", out_b, k, t, True), self._threads(X, n_threads, k + 1, k))
        return out

    @fill_doc
    def sgd_epoch(self, X, Y, s, order, W, b, state, *, avg_W=None, avg_b=None, q=None,
                  schedule="optimal", eta0=0.0, power_t=0.5, alpha=1.0, t0=1.0, lam2=0.0,
                  lam1=0.0, fit_intercept=True, average_start=1, hogwild=False,
                  n_threads=None):
        """One SGD epoch over the rows ``order`` (algorithm: :mod:`fastlogit.kernels.sgd_ref`).

        Minimises ``1/n sum_i s_i l_i + lam1 ||w||_1 + lam2/2 ||w||^2`` (scikit-learn's
        ``SGDClassifier`` scaling) one sample at a time, the weights held as
        ``w = scale * W``.  Unlike the other kernels the state is float64 whatever X's dtype.

        Parameters
        ----------
        {kernel_X}
        Y : ndarray of shape (n, K)
            Labels in X's dtype, C-contiguous: K = 1 binary (probabilities of the label 1),
            K >= 2 rows of class probabilities.
        {kernel_s}
        order : ndarray of shape (m,)
            int64 row indices in [0, n), visited in this order (repeats allowed).
        W : ndarray of shape (d, K)
            The scaled coefficients, float64, C-contiguous; updated in place.
        b : ndarray of shape (K,)
            The intercepts, float64; updated in place.
        state : ndarray of shape (5,)
            float64 ``[scale, t, beta, count, u]`` (start: ``[1, 0, 0, 0, 0]``), updated in
            place: weight scale, samples seen, averaging factor, averaged steps, cumulative
            L1 penalty.
        avg_W : ndarray of shape (d, K), default=None
            float64 averaging accumulator, updated; None: no averaging.
        avg_b : ndarray of shape (K,), default=None
            float64 intercept accumulator, required with ``avg_W``.
        q : ndarray of shape (d, K), default=None
            float64 L1 penalty applied to each weight so far, updated; required when
            ``lam1 > 0``.
        schedule : {"optimal", "invscaling", "constant"}, default="optimal"
            Learning rate at step t: ``1 / (alpha (t0 + t - 1))``, ``eta0 / t**power_t`` or
            ``eta0``.
        eta0 : float, default=0.0
            Initial learning rate of "constant" and "invscaling".
        power_t : float, default=0.5
            Exponent of "invscaling".
        alpha : float, default=1.0
            Regularisation scale of "optimal" (``1 / (C n)`` for an objective's fit).
        t0 : float, default=1.0
            Offset of "optimal".
        lam2 : float, default=0.0
            L2 strength (``alpha * l2_strength``).
        lam1 : float, default=0.0
            L1 strength (``alpha * l1_strength``), cumulative-penalty clipping.
        fit_intercept : bool, default=True
            Whether b is updated.
        average_start : int, default=1
            First step (1-based ``t``) added to the average.
        hogwild : bool, default=False
            Run the lock-free parallel epoch on ``n_threads`` threads: CSR X, K = 1,
            ``lam1 = 0`` and a backend that has it (else ValueError); not deterministic.
        {kernel_n_threads}

        Returns
        -------
        float
            The epoch's loss sum, each sample's loss taken before its update.

        Raises
        ------
        ValueError
            For an array of the wrong shape, dtype or contiguity (named), ``order`` out of
            range, an unknown ``schedule``, ``avg_W`` without ``avg_b``, ``lam1 > 0``
            without ``q``, or ``hogwild`` where it does not run.

        Examples
        --------
        {kernel_example}
        >>> Y = np.array([[1.0], [0.0], [1.0]])
        >>> W, b, state = np.zeros((2, 1)), np.zeros(1), np.array([1.0, 0.0, 0.0, 0.0, 0.0])
        >>> order = np.array([0, 1, 2], dtype=np.int64)
        >>> loss = ref.sgd_epoch(X, Y, None, order, W, b, state, schedule="constant", eta0=0.1)
        >>> round(loss, 6), int(state[1]), bool(W[0, 0] > 0)  # 3 samples seen
        (1.981986, 3, True)
        """
        X = as_design(X)
        n, d = X.shape
        t = X.dtype
        k = _check_rows("Y", Y, n, t)
        f8 = np.dtype(np.float64)
        order = _check_vec("order", order, None, np.dtype(np.int64))
        if order.shape[0] and (order.min() < 0 or order.max() >= n):
            raise ValueError(f"order must hold row indices in [0, {n})")
        if schedule not in _SCHEDULES:
            raise ValueError(f"schedule must be one of {sorted(_SCHEDULES)}, got {schedule!r}")
        args = (
            Y, _optional("sample_weight", s, n, t), order,
            _check_vec("W", W, (d, k), f8, True, 2), _check_vec("b", b, k, f8, True),
            _optional("avg_W", avg_W, (d, k), f8, True, 2),
            _check_vec("avg_b", avg_b, k, f8, True) if avg_b is not None else np.zeros(k),
            _optional("q", q, (d, k), f8, True, 2), _check_vec("state", state, 5, f8, True),
            _SCHEDULES[schedule], float(eta0), float(power_t), float(alpha), float(t0),
            float(lam2), float(lam1), bool(fit_intercept), int(average_start),
            effective_n_threads(n_threads),
        )
        if avg_W is not None and avg_W.shape[0] and avg_b is None:
            raise ValueError("avg_b is required with avg_W")
        if q is None and lam1 > 0:
            raise ValueError("q is required when lam1 > 0")
        if hogwild:
            raw = getattr(self.module, "sgd_epoch_hogwild_csr", None)
            if raw is None:
                raise ValueError(f"hogwild is not available in the {self.name!r} backend")
            if X.kind != "csr" or k != 1 or lam1 > 0:
                raise ValueError("hogwild needs CSR X, a binary problem and no L1 penalty")
        else:
            raw = getattr(self.module, f"sgd_epoch_{X.kind}")
        return float(raw(*X.arrays, *args))


_SCHEDULES = {"constant": 0, "invscaling": 1, "optimal": 2}
_CACHE = {}


class _Namespace:
    """The raw functions of several modules seen as one (later modules win on clashes)."""

    def __init__(self, modules):
        for module in modules:
            self.__dict__.update({k: getattr(module, k) for k in module.__all__})


def _load(name):
    if name not in _CACHE:
        try:
            modules = [importlib.import_module(m) for m in BACKENDS[name]]
            _CACHE[name] = KernelSet(name, _Namespace(modules))
        except ImportError as exc:
            _CACHE[name] = exc
    return _CACHE[name]


def _load_auto():
    """The first available backend, with the raw kernels of AUTO_OVERRIDES swapped in; in a
    forked child (:func:`fastlogit._config.forked_child`) without Numba's kernels, whose
    parallel regions end such a process."""
    forked = forked_child()
    key = "auto, forked" if forked else "auto"
    if key not in _CACHE:
        names = [name for name in available_backends() if not (forked and name == "numba")]
        best = _load(names[0])
        namespace = _Namespace([])
        namespace.__dict__.update(vars(best.module))
        for raw_name, other in AUTO_OVERRIDES.items():
            if other in names and other != names[0]:
                setattr(namespace, raw_name, getattr(_load(other).module, raw_name))
        _CACHE[key] = KernelSet(f"auto ({names[0]})", namespace)
    return _CACHE[key]


def available_backends():
    """Names of the backends that import on this machine, fastest first.

    ``"numpy"`` (the reference) is always there; ``"numba"`` needs numba, ``"cython"`` the
    compiled extension.

    Returns
    -------
    list of str
        A sub-list of ``["cython", "numba", "numpy"]``, in that order.

    Examples
    --------
    >>> import fastlogit
    >>> backends = fastlogit.available_backends()
    >>> backends[-1], set(backends) <= {"cython", "numba", "numpy"}
    ('numpy', True)
    """
    return [name for name in AUTO_ORDER if isinstance(_load(name), KernelSet)]


def get(backend="auto"):
    """The :class:`KernelSet` of ``backend``: "numpy", "numba", "cython" or "auto".

    Parameters
    ----------
    backend : {"auto", "numpy", "numba", "cython"} or KernelSet, default="auto"
        "auto" takes each kernel from the fastest backend available here; a KernelSet is
        returned as is.

    Returns
    -------
    KernelSet
        The checked kernels; ValueError names an unknown or unavailable backend.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit import kernels
    >>> ref = kernels.get("numpy")
    >>> X = kernels.as_design(np.array([[1.0, 2.0], [0.0, -1.0]]))
    >>> ref.decision(X, np.array([0.5, 0.25]), 1.0)
    array([2.  , 0.75])
    """
    if isinstance(backend, KernelSet):
        return backend
    if backend == "auto":
        return _load_auto()
    if backend not in BACKENDS:
        raise ValueError(
            f"unknown backend {backend!r}; choose one of 'auto', " + ", ".join(map(repr, BACKENDS))
        )
    kernels = _load(backend)
    if not isinstance(kernels, KernelSet):
        raise ValueError(f"backend {backend!r} is not available here: {kernels}")
    if backend == "numba" and forked_child():
        raise RuntimeError("backend 'numba' cannot run in a process forked from one that "
                           "imported fastlogit (GNU OpenMP does not survive fork(), and "
                           "Numba's OpenMP layer ends the process): use backend='auto', "
                           "'cython' or 'numpy' here, or start the process with "
                           "multiprocessing's 'spawn' or 'forkserver' method")
    return kernels
