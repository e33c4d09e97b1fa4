"""Out-of-core training: a data term over row chunks read one at a time.

:class:`ChunkedData` is a :class:`fastlogit.contract.DataTerm`; :class:`ChunkedObjective` is
the :class:`fastlogit.objective.Objective` over it (any penalty), so every deterministic
solver of :data:`fastlogit.solvers.SOLVERS` runs on it unchanged; and
:func:`minibatch_sgd` streams mini-batch SGD epochs over the chunks.  The matrix is never whole
in memory: each pass reads a chunk (:meth:`fastlogit.io.CSRCache.read_rows`: ``np.fromfile``
of its byte range, no mapping of the rest), runs the *same* Objective code on it and drops it
before reading the next one::

    L(theta)      = sum_chunks sum_{i in chunk} s_i l_i
    grad, H v, diag H, H  likewise: per-chunk data-term results summed

(C and the penalty are the Objective's, added once.)  Each chunk is an in-memory
:class:`~fastlogit.objective.LogLossData` on the chunk's rows, so the loss, gradient and
Hessian code is the in-memory one.  What stays in memory is O(n + p): labels, weights, the curvature
(IRLS weights or probabilities) at the last two thetas, handed back to each chunk's Objective
for ``hessp`` so that a Hessian product costs one read and one kernel pass per chunk.
Sums over chunks are in a fixed order, so results are deterministic; they match the in-memory
Objective to rounding (a different summation order).
"""
import numpy as np

from . import kernels as _kernels
from ._docstring import fill_doc
from .layout import Layout
from .objective import LogLossData, Objective, pointwise_loss_sum
from .validation import check_sample_weight, check_targets

__all__ = ["ChunkedData", "ChunkedObjective", "minibatch_sgd", "DEFAULT_CHUNK_NNZ"]

#: Non-zeros per chunk (about 50 MB of float64 data + int32 indices).
DEFAULT_CHUNK_NNZ = 1 << 22


class _MatrixSource:
    """Row chunks of an in-memory (or memory-mapped) matrix, as zero-copy Design blocks."""

    def __init__(self, X, dtype):
        self.design = _kernels.as_design(X, dtype=dtype)
        self.shape = self.design.shape
        self.dtype = self.design.dtype

    def row_blocks(self, max_nnz):
        n = self.shape[0]
        if self.design.kind == "dense":
            step = max(1, int(max_nnz) // max(1, self.shape[1]))
            return [(a, min(a + step, n)) for a in range(0, n, step)]
        indptr = np.asarray(self.design.arrays[2], dtype=np.int64)
        return _blocks_from_indptr(indptr, max_nnz)

    def read(self, start, stop):
        return self.design.rows(start, stop)


class _CacheSource:
    """Row chunks of a :class:`fastlogit.io.CSRCache`, each read from disk when asked for."""

    def __init__(self, cache, dtype):
        self.cache = cache
        self.shape = cache.shape
        self.dtype = np.dtype(dtype) if dtype is not None else cache.dtype

    def row_blocks(self, max_nnz):
        return self.cache.row_blocks(max_nnz=max_nnz)

    def read(self, start, stop):
        data, indices, indptr = self.cache.read_rows(start, stop)
        if data.dtype != self.dtype:
            data = data.astype(self.dtype)
        return _kernels.Design("csr", (data, indices, indptr), (stop - start, self.shape[1]),
                               self.dtype)


def _blocks_from_indptr(indptr, max_nnz):
    n = indptr.size - 1
    blocks, start = [], 0
    while start < n:
        stop = int(np.searchsorted(indptr, indptr[start] + max_nnz, side="right")) - 1
        stop = min(max(stop, start + 1), n)
        blocks.append((start, stop))
        start = stop
    return blocks


def _as_source(source, dtype):
    from .io.cache import CSRCache, is_csr_cache

    if isinstance(source, CSRCache):
        return _CacheSource(source, dtype)
    if isinstance(source, (str, bytes)) or hasattr(source, "__fspath__"):
        if not is_csr_cache(source):
            raise ValueError(f"{source}: not a fastlogit CSR cache (see fastlogit convert)")
        return _CacheSource(CSRCache(source), dtype)
    if isinstance(source, (_MatrixSource, _CacheSource)):
        return source
    return _MatrixSource(source, dtype)


class ChunkedData:
    """The log-loss data term (:class:`fastlogit.contract.DataTerm`) of a data set read chunk
    by chunk: a sum of in-memory :class:`~fastlogit.objective.LogLossData` terms, one per row
    chunk, each read, used and dropped in turn.

    Parameters
    ----------
    source : CSRCache, path of a cache, or a matrix (ndarray / scipy sparse / Design)
        A cache is read one row chunk at a time; a matrix is split into zero-copy row blocks
        (e.g. a memory-mapped CSR, whose pages the OS can then evict between chunks).
    y : array of shape (n,) in [0, 1] or (n, K), or None
        None: the cache's labels mapped to {0, 1} by :func:`fastlogit.io.binary_labels`.
    sample_weight, fit_intercept, backend, n_threads :
        As for :class:`~fastlogit.objective.LogLossData`.
    chunk_nnz : int
        Most non-zeros per chunk (a chunk holds at least one row).
    dtype : float32, float64 or None (the source's dtype)

    Attributes
    ----------
    layout, n_samples, n_features, n_classes, n_params, fit_intercept, dtype, y,
    sample_weight, kernels, n_threads, chunks (the row ranges), n_chunk_reads (chunks read so
    far), n_evals.  What stays in memory is O(n + p): labels, weights and the curvature at the
    last two thetas.
    """

    def __init__(self, source, y=None, sample_weight=None, *, fit_intercept=True,
                 backend="auto", n_threads=None, chunk_nnz=DEFAULT_CHUNK_NNZ, dtype=None):
        self.source = _as_source(source, dtype)
        n, d = self.source.shape
        if y is None:
            if not isinstance(self.source, _CacheSource):
                raise ValueError("y is required unless the source is a CSR cache")
            from .io import binary_labels

            y = binary_labels(self.source.cache.labels())[0]
        self.y = check_targets(y, n)
        self.sample_weight = check_sample_weight(sample_weight, n)
        self.kernels = _kernels.get(backend)
        self.n_threads = n_threads
        self.dtype = self.source.dtype
        self.n_samples = n
        self.n_classes = 1 if self.y.ndim == 1 else self.y.shape[1]
        self.fit_intercept = bool(fit_intercept)
        self.layout = Layout(d, self.n_classes, self.fit_intercept)
        self.n_features, self.n_params = d, self.layout.n_params
        self.chunks = self.source.row_blocks(int(chunk_nnz))
        self.n_chunk_reads = 0
        self.n_evals = {"value_grad": 0, "value": 0, "hessp": 0, "hessian": 0, "hess_diag": 0,
                        "margins": 0}
        shape = (n,) if self.n_classes == 1 else (n, self.n_classes)
        # the last two (theta, loss, grad, curvature) states, most recent first
        self._states = [[None, None, None, np.zeros(shape, dtype=self.dtype)] for _ in range(2)]

    def __repr__(self):
        return (f"ChunkedData(n_samples={self.n_samples}, n_features={self.n_features}, "
                f"n_classes={self.n_classes}, chunks={len(self.chunks)}, dtype={self.dtype})")

    def chunk(self, start, stop):
        """The in-memory data term of rows [start, stop), read now."""
        design = self.source.read(start, stop)
        self.n_chunk_reads += 1
        sw = None if self.sample_weight is None else self.sample_weight[start:stop]
        return LogLossData.trusted(design, self.y[start:stop], sw, self.fit_intercept,
                                   self.kernels, self.n_threads)

    rows = chunk

    def _chunks_at(self, theta):
        """Each chunk's data term with its curvature at theta seeded (no loss pass)."""
        st = self._state(theta)
        for a, b in self.chunks:
            part = self.chunk(a, b)
            part.seed_curvature(st[0], st[3][a:b])
            yield part

    def _find(self, theta):
        for st in self._states:
            if st[0] is not None and np.array_equal(st[0], theta):
                return st
        return None

    def _state(self, theta):
        st = self._find(theta)
        if st is None:
            self.loss_grad(theta)
            st = self._states[0]
        return st

    # ------------------------------------------------------------------ DataTerm
    def loss_grad(self, theta):
        """(L, grad L) summed over the chunks; keeps the curvature at theta for hessp."""
        st = self._find(theta)
        if st is None:
            self.n_evals["value_grad"] += 1
            st = self._states.pop()  # the older state is overwritten
            curv = st[3]
            loss, g = 0.0, np.zeros(self.n_params)
            for a, b in self.chunks:
                part = self.chunk(a, b)
                lc, gc = part.loss_grad(theta)
                loss += lc
                g += gc
                curv[a:b] = part.curvature(theta)
            st[:3] = theta.copy(), loss, g
            self._states.insert(0, st)
        elif st is not self._states[0]:
            self._states.remove(st)
            self._states.insert(0, st)
        return st[1], st[2].copy()

    def loss(self, theta):
        st = self._find(theta)
        if st is not None:
            return st[1]
        self.n_evals["value"] += 1
        return sum(self.chunk(a, b).loss(theta) for a, b in self.chunks)

    def hessp(self, theta, v):
        """Hess L v: one read + one kernel pass per chunk."""
        self.n_evals["hessp"] += 1
        return sum(part.hessp(theta, v) for part in self._chunks_at(theta))

    def hess_diag(self, theta):
        self.n_evals["hess_diag"] += 1
        return sum(part.hess_diag(theta) for part in self._chunks_at(theta))

    def hessian(self, theta):
        self.n_evals["hessian"] += 1
        return sum(part.hessian(theta) for part in self._chunks_at(theta))

    def margins(self, theta, intercept=True):
        """z = X w (+ b), float64, (n,) or (n, K), computed chunk by chunk."""
        self.n_evals["margins"] += 1
        shape = (self.n_samples,) if self.n_classes == 1 else (self.n_samples, self.n_classes)
        out = np.empty(shape)
        for a, b in self.chunks:
            out[a:b] = self.chunk(a, b).margins(theta, intercept)
        return out

    def loss_from_margins(self, z):
        return pointwise_loss_sum(self.y, z, self.sample_weight)


@fill_doc
class ChunkedObjective(Objective):
    """:class:`~fastlogit.objective.Objective` over a :class:`ChunkedData`: every solver runs
    on it unchanged, any penalty included.

    ``objective.data`` is the ChunkedData (``chunks``, ``n_chunk_reads`` are reachable on the
    objective too); ``rows(a, b)`` is the in-memory objective of rows [a, b).

    Parameters
    ----------
    source : CSRCache, str, os.PathLike, ndarray, sparse matrix or fastlogit.kernels.Design
        A :class:`fastlogit.io.CSRCache` or the path of one (read one row chunk at a time;
        a path that is not a cache raises ValueError), or a matrix of shape
        (n_samples, n_features) split into zero-copy row blocks (e.g. a memory-mapped CSR,
        whose pages the OS can evict between chunks).
    y : array-like of shape (n_samples,) or (n_samples, K), default=None
        Targets as for :class:`~fastlogit.objective.Objective` (probabilities of the label
        1, or rows of class probabilities).  None: the cache's labels mapped to {0, 1} by
        :func:`fastlogit.io.binary_labels` (a matrix source then raises ValueError).
    {sample_weight, C, penalty, l1_ratio, fit_intercept, backend, n_threads}
    chunk_nnz : int, default=DEFAULT_CHUNK_NNZ
        Most non-zeros per chunk (a chunk holds at least one row); ``2**22``, about 50 MB of
        float64 values and int32 indices, by default.
    dtype : {numpy.float32, numpy.float64}, default=None
        Dtype of the chunks' values (the kernels run in it); None keeps the source's.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> from fastlogit.objective import Objective
    >>> from fastlogit.outofcore import ChunkedObjective
    >>> from fastlogit.solvers import solve
    >>> rng = np.random.default_rng(0)
    >>> X = sp.random(300, 5, density=0.5, format="csr", random_state=0)
    >>> y = (X @ np.ones(5) + 0.3 * rng.normal(size=300) > 1.2).astype(float)
    >>> chunked = ChunkedObjective(X, y, C=1.0, chunk_nnz=200)  # 4 chunks here
    >>> len(chunked.chunks) > 1
    True
    >>> theta = solve(chunked, "lbfgs", tol=1e-8).theta
    >>> in_memory = solve(Objective(X, y, C=1.0), "lbfgs", tol=1e-8).theta
    >>> bool(np.allclose(theta, in_memory, atol=1e-5))
    True
    """

    def __init__(self, source, y=None, sample_weight=None, *, C=1.0, penalty="l2",
                 l1_ratio=0.0, fit_intercept=True, backend="auto", n_threads=None,
                 chunk_nnz=DEFAULT_CHUNK_NNZ, dtype=None):
        data = ChunkedData(source, y, sample_weight, fit_intercept=fit_intercept,
                           backend=backend, n_threads=n_threads, chunk_nnz=chunk_nnz,
                           dtype=dtype)
        super().__init__(data, C=C, penalty=penalty, l1_ratio=l1_ratio)


def minibatch_sgd(objective, theta0, *, epochs=5, batch_size=256, eta0=None, random_state=0,
                  callback=None):
    """Mini-batch SGD streamed over the chunks of a :class:`ChunkedObjective`, any penalty.

    The mini-batch epochs of the stochastic driver (:func:`fastlogit.stochastic.block_epoch`,
    the same as the ``minibatch`` solver's): each epoch visits the chunks in a random order and,
    inside a chunk, its blocks of ``batch_size`` rows in a random order; a step uses the
    chunk's fused ``loss_grad`` on the block::

        G(theta) = F(theta) / (C n),  theta <- theta - eta0 * grad G_block(theta)
        grad G_block = 1/B sum_{i in block} s_i grad l_i + grad S(w) / (C n)
        L1 part: w <- prox(w, eta0 / (C n))        (S: the penalty's smooth part)

    ``eta0`` defaults to ``1 / L_max`` (:func:`fastlogit.stochastic.max_step_curvature`, the
    largest per-sample curvature: a safe constant step; one extra read of the chunks).
    Runs exactly ``epochs`` epochs (no stopping rule: the ``minibatch`` solver runs on a
    ChunkedObjective with one).

    Parameters
    ----------
    objective : ChunkedObjective
        The objective streamed over (an in-memory :class:`~fastlogit.objective.Objective`
        works too; its rows are one chunk).
    theta0 : ndarray of shape (n_params,)
        Starting point (finite; a wrong size raises ValueError).
    epochs : int, default=5
        Number of passes over the data.
    batch_size : int, default=256
        Rows per mini-batch (the last block of a chunk may be smaller).
    eta0 : float, default=None
        Constant step size in the mean-loss scaling G; None takes ``1 / L_max``.
    random_state : int, numpy.random.Generator, numpy.random.RandomState or None, default=0
        Seed of the chunk and block orders; a fixed seed gives the same iterates.
    callback : callable, default=None
        ``callback(epoch, theta)`` after each epoch (epoch from 0; its return value is
        ignored).

    Returns
    -------
    ndarray of shape (n_params,)
        The last iterate, float64.

    Raises
    ------
    fastlogit.layout.NonFiniteError
        If the run diverges (non-finite loss or weights; lower ``eta0``).

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.outofcore import ChunkedObjective, minibatch_sgd
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 3))
    >>> y = (X[:, 0] + 0.5 * rng.normal(size=400) > 0).astype(float)
    >>> ob = ChunkedObjective(X, y, C=1.0, chunk_nnz=300)
    >>> theta = minibatch_sgd(ob, np.zeros(4), epochs=20, batch_size=32)
    >>> bool(ob.value(theta) < 0.6 * ob.value(np.zeros(4)))
    True
    """
    from . import stochastic as st

    ob = objective
    theta0 = ob.layout.check(theta0, "theta0")
    alpha = 1.0 / (ob.C * ob.n_samples)
    if eta0 is None:
        eta0 = 1.0 / st.max_step_curvature(st.row_source(ob), ob.penalty, alpha)
    opt = st.SGD(ob, theta0, st.Schedule("constant", alpha=alpha, eta0=eta0), ob.penalty,
                 alpha, st.make_rng(random_state), batch_size=int(batch_size))
    return st.fit_epochs(ob, theta0, opt, name="out-of-core mini-batch SGD", tol=None,
                         max_iter=epochs, callback=st.epoch_callback(callback)).theta
