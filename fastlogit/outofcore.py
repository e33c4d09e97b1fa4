"""Out-of-core training: the Objective interface over row chunks read one at a time.

:class:`ChunkedObjective` has the interface of :class:`fastlogit.objective.Objective`
(``value``, ``value_grad``, ``hessp``, ``hess_diag``, ``hessian``, ``margins``, ``line``, ...),
so every deterministic solver of :data:`fastlogit.solvers.SOLVERS` runs on it unchanged; and
:func:`minibatch_sgd` streams mini-batch SGD epochs over the chunks.  The matrix is never whole
in memory: each pass reads a chunk (:meth:`fastlogit.io.CSRCache.read_rows`: ``np.fromfile``
of its byte range, no mapping of the rest), runs the *same* Objective code on it and drops it
before reading the next one::

    f(theta)      = sum_chunks C * sum_{i in chunk} s_i l_i  +  l2_strength/2 ||w||^2
    grad, H v, diag H, H  likewise: per-chunk Objective results summed, penalty added once

Each chunk is an :class:`~fastlogit.objective.Objective` built without penalty on the chunk's
rows (the way ``Objective.rows`` builds row blocks), so the loss, gradient and Hessian code is
the Objective's own.  What stays in memory is O(n + p): labels, weights, the curvature
(IRLS weights or probabilities) at the last two thetas, handed back to each chunk's Objective
for ``hessp`` so that a Hessian product costs one read and one kernel pass per chunk.
Sums over chunks are in a fixed order, so results are deterministic; they match the in-memory
Objective to rounding (a different summation order).
"""
import numpy as np
import scipy.sparse as sp

from . import kernels as _kernels
from .objective import LineFunction, Objective

__all__ = ["ChunkedObjective", "minibatch_sgd", "DEFAULT_CHUNK_NNZ"]

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


class ChunkedObjective:
    """The :class:`~fastlogit.objective.Objective` of a data set read chunk by chunk.

    Parameters
    ----------
    source : CSRCache, path of a cache, or a matrix (ndarray / scipy sparse / Design)
        A cache is read one row chunk at a time; a matrix is split into zero-copy row blocks
        (e.g. a memory-mapped CSR, whose pages the OS can then evict between chunks).
    y : array of shape (n,) in [0, 1] or (n, K), or None
        None: the cache's labels mapped to {0, 1} by :func:`fastlogit.io.binary_labels`.
    sample_weight, C, penalty, l1_ratio, fit_intercept, backend, n_threads :
        As for :class:`~fastlogit.objective.Objective`.
    chunk_nnz : int
        Most non-zeros per chunk (a chunk holds at least one row).
    dtype : float32, float64 or None (the source's dtype)

    Attributes
    ----------
    Those of Objective (``design`` is None: there is no whole design), plus ``chunks`` (the
    row ranges) and ``n_chunk_reads`` (chunks read so far).
    """

    def __init__(self, source, y=None, sample_weight=None, *, C=1.0, penalty="l2",
                 l1_ratio=0.0, fit_intercept=True, backend="auto", n_threads=None,
                 chunk_nnz=DEFAULT_CHUNK_NNZ, dtype=None):
        self.source = _as_source(source, dtype)
        n, d = self.source.shape
        if y is None:
            if not isinstance(self.source, _CacheSource):
                raise ValueError("y is required unless the source is a CSR cache")
            from .io import binary_labels

            y = binary_labels(self.source.cache.labels())[0]
        # A prototype on an empty (n, d) CSR: validates the arguments with the Objective's own
        # checks and supplies the layout helpers (split, penalized_mask, ...).
        empty = sp.csr_matrix((n, d), dtype=self.source.dtype)
        proto = Objective(empty, y, sample_weight, C=C, penalty=penalty, l1_ratio=l1_ratio,
                          fit_intercept=fit_intercept, backend=backend, n_threads=n_threads)
        self._proto = proto
        for name in ("y", "sample_weight", "C", "penalty", "l1_ratio", "fit_intercept",
                     "kernels", "n_samples", "n_features", "n_classes", "n_params", "dtype",
                     "l1_strength", "l2_strength", "n_threads", "_s64"):
            setattr(self, name, getattr(proto, name))
        self.design = None
        self.chunks = self.source.row_blocks(int(chunk_nnz))
        self.n_chunk_reads = 0
        self.n_evals = {"value_grad": 0, "value": 0, "hessp": 0, "hessian": 0, "hess_diag": 0,
                        "margins": 0}
        self._mask = proto.penalized_mask().astype(np.float64)
        shape = (n,) if self.n_classes == 1 else (n, self.n_classes)
        # the last two (theta, f, grad, curvature) states, most recent first
        self._states = [[None, None, None, np.zeros(shape, dtype=self.dtype)] for _ in range(2)]

    def __repr__(self):
        return (f"ChunkedObjective(n_samples={self.n_samples}, n_features={self.n_features}, "
                f"n_classes={self.n_classes}, chunks={len(self.chunks)}, C={self.C}, "
                f"penalty={self.penalty!r}, dtype={self.dtype})")

    # ------------------------------------------------------------------ layout (prototype's)
    @property
    def is_binary(self):
        return self.n_classes == 1

    def split(self, theta):
        return self._proto.split(theta)

    def penalized_mask(self):
        return self._proto.penalized_mask()

    def zeros(self):
        return self._proto.zeros()

    def l1_value(self, theta):
        return self._proto.l1_value(theta)

    def _check_theta(self, theta):
        return self._proto._check_theta(theta)

    def _coef_view(self, theta):
        return self._proto._coef_view(theta)

    def _weights_sq(self, theta):
        return self._proto._weights_sq(theta)

    def smooth_from_margins(self, z, theta):
        return self._proto.smooth_from_margins(z, theta)

    def line(self, theta, direction, z=None):
        return LineFunction(self, theta, direction, z)

    # ------------------------------------------------------------------ chunks
    def _chunk(self, start, stop, theta=None, curv=None):
        """The unpenalised Objective of rows [start, stop), read now; with ``curv``, its
        curvature cache is seeded for ``theta`` (so hessp & co. need no loss pass)."""
        design = self.source.read(start, stop)
        self.n_chunk_reads += 1
        sw = None if self.sample_weight is None else self.sample_weight[start:stop]
        ob = object.__new__(Objective)
        ob._setup(design, self.y[start:stop], sw, self.C, None, 0.0, self.fit_intercept,
                  self.kernels, self.n_threads)
        if curv is not None:
            st = ob._states[0]
            st.theta, st.f, st.grad, st.curv = theta, 0.0, None, curv[start:stop]
        return ob

    def _find(self, theta):
        for st in self._states:
            if st[0] is not None and np.array_equal(st[0], theta):
                return st
        return None

    def _state(self, theta):
        st = self._find(theta)
        if st is None:
            self.value_grad(theta)
            st = self._find(theta)
        return st

    # ------------------------------------------------------------------ interface
    def value_grad(self, theta):
        """Smooth part f and its gradient; keeps the curvature at theta for hessp."""
        theta = self._check_theta(theta)
        st = self._find(theta)
        if st is None:
            self.n_evals["value_grad"] += 1
            st = self._states.pop()  # the older state is overwritten
            curv = st[3]
            f, g = 0.0, np.zeros(self.n_params)
            for a, b in self.chunks:
                ob = self._chunk(a, b)
                fc, gc = ob.value_grad(theta)
                f += fc
                g += gc
                curv[a:b] = ob._find(theta).curv
            if self.l2_strength:
                f += 0.5 * self.l2_strength * self._weights_sq(theta)
                g += self.l2_strength * self._mask * theta
            st[:3] = theta.copy(), f, g
            self._states.insert(0, st)
        elif st is not self._states[0]:
            self._states.remove(st)
            self._states.insert(0, st)
        return st[1], st[2].copy()

    def value(self, theta):
        """The full objective F, L1 part included."""
        theta = self._check_theta(theta)
        st = self._find(theta)
        if st is not None:
            f = st[1]
        else:
            self.n_evals["value"] += 1
            f = 0.0
            for a, b in self.chunks:
                f += self._chunk(a, b).value(theta)
            if self.l2_strength:
                f += 0.5 * self.l2_strength * self._weights_sq(theta)
        return f + self.l1_value(theta)

    def hessp(self, theta, v):
        """Hessian of the smooth part at theta times v: one read + one pass per chunk."""
        theta = self._check_theta(theta)
        v = np.asarray(v, dtype=np.float64).reshape(-1)
        st = self._state(theta)
        self.n_evals["hessp"] += 1
        out = np.zeros(self.n_params)
        for a, b in self.chunks:
            out += self._chunk(a, b, st[0], st[3]).hessp(st[0], v)
        if self.l2_strength:
            out += self.l2_strength * self._mask * v
        return out

    def hess_diag(self, theta):
        theta = self._check_theta(theta)
        st = self._state(theta)
        self.n_evals["hess_diag"] += 1
        out = np.zeros(self.n_params)
        for a, b in self.chunks:
            out += self._chunk(a, b, st[0], st[3]).hess_diag(st[0])
        if self.l2_strength:
            out += self.l2_strength * self._mask
        return out

    def hessian(self, theta):
        theta = self._check_theta(theta)
        st = self._state(theta)
        self.n_evals["hessian"] += 1
        H = np.zeros((self.n_params, self.n_params))
        for a, b in self.chunks:
            H += self._chunk(a, b, st[0], st[3]).hessian(st[0])
        if self.l2_strength:
            idx = np.flatnonzero(self._mask)
            H[idx, idx] += self.l2_strength
        return H

    def margins(self, theta, intercept=True):
        """z = X w (+ b), float64, (n,) or (n, K), computed chunk by chunk."""
        theta = self._check_theta(theta)
        self.n_evals["margins"] += 1
        shape = (self.n_samples,) if self.n_classes == 1 else (self.n_samples, self.n_classes)
        out = np.empty(shape)
        for a, b in self.chunks:
            out[a:b] = self._chunk(a, b).margins(theta, intercept)
        return out

    def rows(self, start, stop):
        """The in-memory Objective of rows [start, stop) (same C and penalty)."""
        ob = self._chunk(start, stop)
        ob._setup(ob.design, ob.y, ob.sample_weight, self.C, self.penalty, self.l1_ratio,
                  self.fit_intercept, self.kernels, self.n_threads)
        return ob


def minibatch_sgd(objective, theta0, *, epochs=5, batch_size=256, eta0=None, random_state=0,
                  callback=None):
    """Mini-batch SGD streamed over the chunks of a :class:`ChunkedObjective`.

    Each epoch visits the chunks in a random order and, inside a chunk, its blocks of
    ``batch_size`` rows in a random order; a step uses the chunk Objective's fused
    ``value_grad`` on the block (the kernels of the in-memory solvers)::

        G(theta) = F(theta) / (C n),  step: theta <- theta - eta * grad G_block(theta),
        grad G_block = 1/B sum_{i in block} s_i grad l_i + l2_strength/(C n) w

    ``eta0`` defaults to ``1 / L_max`` with ``L_max = max_i ||x_i||^2 / 4 + l2/(C n)``
    (the largest per-sample curvature, a safe constant step).  Only the smooth (L2 / None)
    penalty is supported.  Returns ``theta`` after ``epochs`` epochs;
    ``callback(epoch, theta)`` is called after each.
    """
    ob = objective
    if ob.l1_strength:
        raise ValueError("minibatch_sgd supports penalty 'l2' or None only")
    rng = np.random.default_rng(random_state)
    theta = np.array(ob._check_theta(theta0), dtype=np.float64)
    n = ob.n_samples
    lam = ob.l2_strength / (ob.C * n)
    mask = ob._mask
    if eta0 is None:
        sq_max = 0.0
        for a, b in ob.chunks:
            X = ob._chunk(a, b).design.to_scipy()
            sq = np.asarray(X.multiply(X).sum(axis=1)).ravel() if sp.issparse(X) else (X * X).sum(1)
            sq_max = max(sq_max, float(sq.max()) if sq.size else 0.0)
        eta0 = 1.0 / ((sq_max + ob.fit_intercept) * (0.25 if ob.n_classes == 1 else 0.5) + lam)
    for epoch in range(epochs):
        for c in rng.permutation(len(ob.chunks)):
            a, b = ob.chunks[c]
            chunk = ob._chunk(a, b)
            starts = np.arange(0, b - a, batch_size)
            for s in rng.permutation(starts):
                block = chunk.rows(s, min(s + batch_size, b - a))
                _, g = block.value_grad(theta)
                g /= ob.C * block.n_samples
                if lam:
                    g += lam * mask * theta
                theta -= eta0 * g
        if callback is not None:
            callback(epoch, theta)
    return theta
