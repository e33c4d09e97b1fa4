"""Dual coordinate descent for linear SVMs (Hsieh et al., ICML 2008), with a duality-gap stop.

The primal problems (``c_i = C s_i``, ``y~_i`` in {-1, +1}, ``z_i = x_i . w + b``)::

    hinge          P(w, b) = sum_i c_i max(0, 1 - y~_i z_i)   + 1/2 ||w||^2
    squared hinge  P(w, b) = sum_i c_i max(0, 1 - y~_i z_i)^2 + 1/2 ||w||^2

For a *fixed* intercept ``b`` their duals are box-constrained quadratics in ``alpha`` (n,)::

    D_b(alpha) = sum_i alpha_i (1 - y~_i b) - 1/2 ||w(alpha)||^2 - 1/2 sum_i D_ii alpha_i^2,
    w(alpha) = sum_i alpha_i y~_i x_i,
    hinge: 0 <= alpha_i <= c_i, D_ii = 0;   squared hinge: alpha_i >= 0, D_ii = 1 / (2 c_i)

(samples with c_i = 0 keep alpha_i = 0).  Weak duality ``D_b(alpha) <= min_w P(w, b) <=
P(w(alpha), b)`` gives the certificate: :func:`dcd_fixed_b` updates one alpha_i at a time
exactly (with LIBLINEAR's shrinking of variables stuck at a bound) and stops when the relative
gap ``(P - D_b) / P <= tol``, ``w`` recomputed from ``alpha`` before the confirming check.
Any primal point bounds P* from above, so without an intercept the certificate uses the best
one seen: ``w`` at any check, or for the hinge, whose ``P(w(alpha))`` lags far behind
``D(alpha)``, the free-set polish (:meth:`_Problem.polish`: the margin equations of the
samples with ``0 < alpha_i < c_i`` solved for w by least squares).

The unpenalised intercept (``fit_intercept=True``) adds the equality ``sum_i alpha_i y~_i = 0``
to the dual, which one-coordinate steps cannot keep.  :func:`dcd_svm` keeps it exactly by an
outer one-dimensional search over ``b``: ``phi(b) = min_w P(w, b)`` is convex with
``phi'(b) = -g(b)``, ``g(b) = sum_i alpha_i(b) y~_i`` (Danskin), so ``g`` is non-increasing and
the optimal ``b`` is its root.  The root is bracketed, then found by regula falsi (Illinois)
with warm-started inner solves.  With ``g(b_lo) > 0 > g(b_hi)`` the convex combination
``alpha' = lam alpha_lo + (1 - lam) alpha_hi`` with ``sum alpha'_i y~_i = 0`` is feasible for
the full dual, so ``D(alpha') <= P* <= P(w, b)`` (the best primal point seen) certifies the
full problem.
"""
import numpy as np
from numba import njit


__all__ = ["dcd_fixed_b", "dcd_start", "dcd_svm"]

_JIT = dict(cache=True, nogil=True)
EPS0 = 1e-3
#: The hinge's free-set polish (:meth:`_Problem.polish`) is tried once the relative duality
#: gap is within this factor of the tolerance (earlier, the free set is still moving).
POLISH_FROM = 100.0
#: ... and only while dual CD is slow: when the gap's rate predicts more than this many
#: times ``check_every * n`` further visits (the polish costs dozens of passes over the free
#: samples plus the conjugate gradients' vector work in d dimensions).
POLISH_STALL = 2.0


@njit(**_JIT)
def _row_dot(indptr, indices, data, Xd, dense, i, w):
    acc = 0.0
    if dense:
        for j in range(Xd.shape[1]):
            acc += Xd[i, j] * w[j]
    else:
        for k in range(indptr[i], indptr[i + 1]):
            acc += data[k] * w[indices[k]]
    return acc


@njit(**_JIT)
def _row_axpy(indptr, indices, data, Xd, dense, i, a, w):
    if dense:
        for j in range(Xd.shape[1]):
            w[j] += a * Xd[i, j]
    else:
        for k in range(indptr[i], indptr[i + 1]):
            w[indices[k]] += a * data[k]


@njit(**_JIT)
def _row_sq(indptr, indices, data, Xd, dense, n):
    out = np.zeros(n)
    for i in range(n):
        acc = 0.0
        if dense:
            for j in range(Xd.shape[1]):
                acc += Xd[i, j] * Xd[i, j]
        else:
            for k in range(indptr[i], indptr[i + 1]):
                acc += data[k] * data[k]
        out[i] = acc
    return out


@njit(**_JIT)
def _w_from_alpha(indptr, indices, data, Xd, dense, yt, alpha, w):
    w[:] = 0.0
    for i in range(alpha.shape[0]):
        if alpha[i] != 0.0:
            _row_axpy(indptr, indices, data, Xd, dense, i, alpha[i] * yt[i], w)


@njit(**_JIT)
def _start_pass(indptr, indices, data, Xd, dense, yt, cw, squared, stride, w):
    """One pass of dual CD from alpha = 0, w = 0 (``w`` (d,) updated in place), visiting the
    rows in the fixed interleaved order 0, stride, 2 stride, ..., 1, 1 + stride, ...

    A cheap start for the primal Newton methods: each alpha_i is visited once, while
    still 0, so the exact coordinate step is ``alpha_i = min(U_i, max(0, -G_i / Q_ii))``
    with ``G_i = y~_i x_i . w - 1``; ``Q_ii`` is formed on the way.  The interleaved order
    keeps most of a sequential pass's memory locality, and unlike it does not meet a set
    sorted by label as one class after the other."""
    n = yt.shape[0]
    for first in range(stride):
        for i in range(first, n, stride):
            ci = cw[i]
            if ci <= 0.0:
                continue
            acc = 0.0
            q = 0.0
            if dense:
                for j in range(Xd.shape[1]):
                    acc += Xd[i, j] * w[j]
                    q += Xd[i, j] * Xd[i, j]
            else:
                for k in range(indptr[i], indptr[i + 1]):
                    acc += data[k] * w[indices[k]]
                    q += data[k] * data[k]
            if squared:
                q += 1.0 / (2.0 * ci)
            G = yt[i] * acc - 1.0
            if G < 0.0 and q > 0.0:
                a = -G / q
                if not squared and a > ci:
                    a = ci
                _row_axpy(indptr, indices, data, Xd, dense, i, a * yt[i], w)


def dcd_start(X, yt, cw, *, squared, stride=101):
    """w after one pass of dual CD from alpha = 0 (:func:`_start_pass`), float64 (d,).

    Parameters
    ----------
    X : {ndarray, scipy.sparse CSR matrix} of shape (n_samples, n_features)
        Float64; dense C-contiguous or CSR.
    yt, cw : ndarray of shape (n_samples,)
        Labels in {-1, +1} and the weights ``c_i = C s_i >= 0``, float64.
    squared : bool
        Squared hinge (no upper bound on alpha_i) or hinge (``alpha_i <= c_i``).
    stride : int, default=101
        Interleave of the visiting order, >= 1.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.svm_dcd import dcd_start
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> dcd_start(X, np.array([1.0, -1.0]), np.ones(2), squared=False)
    array([ 1. , -0.5])
    """
    import scipy.sparse as sp

    d = X.shape[1]
    w = np.zeros(d)
    yt = np.ascontiguousarray(yt, dtype=np.float64)
    cw = np.ascontiguousarray(cw, dtype=np.float64)
    if sp.issparse(X):
        _start_pass(X.indptr, X.indices, np.asarray(X.data, dtype=np.float64), np.zeros((0, 0)),
                    False, yt, cw, bool(squared), max(1, int(stride)), w)
    else:
        _start_pass(np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int32), np.zeros(0),
                    np.ascontiguousarray(X, dtype=np.float64), True, yt, cw, bool(squared),
                    max(1, int(stride)), w)
    return w


@njit(**_JIT)
def _gap(indptr, indices, data, Xd, dense, yt, cw, squared, b, alpha, w, exact):
    """(P(w, b), D_b(alpha)); with ``exact`` w = w(alpha) is recomputed first (else the
    incrementally updated w is used: one pass instead of two)."""
    if exact:
        _w_from_alpha(indptr, indices, data, Xd, dense, yt, alpha, w)
    ww = 0.0
    for j in range(w.shape[0]):
        ww += w[j] * w[j]
    loss = 0.0
    lin = 0.0
    quad = 0.0
    for i in range(alpha.shape[0]):
        if cw[i] > 0.0:
            slack = 1.0 - yt[i] * (_row_dot(indptr, indices, data, Xd, dense, i, w) + b)
            if slack > 0.0:
                loss += cw[i] * (slack * slack if squared else slack)
            if squared:
                quad += alpha[i] * alpha[i] / (2.0 * cw[i])
        lin += alpha[i] * (1.0 - yt[i] * b)
    return loss + 0.5 * ww, lin - 0.5 * ww - 0.5 * quad


@njit(**_JIT)
def _epochs(indices, data, Xd, dense, rec, b, w, active, state, eps, max_visits, seed):
    """Shrinking DCD epochs until ``max_visits`` coordinates have been visited (at least one
    epoch); stops early when the projected-gradient range over the full set is <= eps.

    ``rec`` (n, 8) holds per sample ``[y~, Q_ii, upper bound, D_ii, alpha, row start, row end,
    0]``: one 64-byte cache line per visited sample instead of one miss per array (the visit
    order is random, so these loads miss the cache on data larger than it).  ``active`` (n,)
    holds the active indices in its first ``state[2]`` entries; ``state = [M_bar, m_bar,
    n_active]`` persists between calls.  ``active`` lists only samples with a positive bound
    (a zero-weight sample's alpha_i stays 0).
    Returns (epochs run, coordinates visited, stopped by the eps criterion)."""
    n = active.shape[0]
    rng = np.uint64(seed) * np.uint64(6364136223846793005) + np.uint64(1442695040888963407)
    inf = np.inf
    M_bar, m_bar, n_active = state[0], state[1], int(state[2])
    visits = 0
    epoch = 0
    while visits < max_visits:
        epoch += 1
        visits += n_active
        for k in range(n_active - 1):
            # xorshift64: a cheap permutation is all the method needs
            rng ^= rng << np.uint64(13)
            rng ^= rng >> np.uint64(7)
            rng ^= rng << np.uint64(17)
            r = k + np.int64(((rng >> np.uint64(32)) * np.uint64(n_active - k)) >> np.uint64(32))
            tmp = active[k]
            active[k] = active[r]
            active[r] = tmp
        M = -inf
        m = inf
        k = 0
        while k < n_active:
            i = active[k]
            yi, Qii, U, Dii, a = rec[i, 0], rec[i, 1], rec[i, 2], rec[i, 3], rec[i, 4]
            start, end = np.int64(rec[i, 5]), np.int64(rec[i, 6])
            acc = 0.0
            if dense:
                for j in range(Xd.shape[1]):
                    acc += Xd[i, j] * w[j]
            else:
                for t in range(start, end):
                    acc += data[t] * w[indices[t]]
            G = yi * (acc + b) - 1.0 + Dii * a
            PG = 0.0
            if a == 0.0:
                if G > M_bar:
                    n_active -= 1
                    active[k] = active[n_active]
                    active[n_active] = i
                    continue
                if G < 0.0:
                    PG = G
            elif a == U:
                if G < m_bar:
                    n_active -= 1
                    active[k] = active[n_active]
                    active[n_active] = i
                    continue
                if G > 0.0:
                    PG = G
            else:
                PG = G
            if PG > M:
                M = PG
            if PG < m:
                m = PG
            if PG != 0.0 and U > 0.0:
                if Qii > 0.0:
                    new = min(max(a - G / Qii, 0.0), U)
                else:
                    new = U if G < 0.0 else 0.0
                if new != a:
                    rec[i, 4] = new
                    step = (new - a) * yi
                    if dense:
                        for j in range(Xd.shape[1]):
                            w[j] += step * Xd[i, j]
                    else:
                        for t in range(start, end):
                            w[indices[t]] += step * data[t]
            k += 1
        if M - m <= eps:
            if n_active == n:
                state[0], state[1], state[2] = inf, -inf, n
                return epoch, visits, True
            n_active = n
            M_bar, m_bar = inf, -inf
            continue
        M_bar = M if M > 0.0 else inf
        m_bar = m if m < 0.0 else -inf
    state[0], state[1], state[2] = M_bar, m_bar, n_active
    return epoch, visits, False


class _Problem:
    """The arrays of one SVM problem, in the layout the compiled loops take."""

    def __init__(self, X, yt, cw, squared):
        import scipy.sparse as sp

        from .kernels import Design

        if isinstance(X, Design):
            if X.kind == "dense":
                X = X.arrays[0]
            else:
                data, indices, indptr = X.arrays
                X = sp.csr_matrix((data, indices, indptr - indptr[0]), shape=X.shape) \
                    if indptr[0] == 0 else sp.csr_matrix(
                        (data[indptr[0]:indptr[-1]], indices[indptr[0]:indptr[-1]],
                         indptr - indptr[0]), shape=X.shape)
        if sp.issparse(X):
            X = sp.csr_matrix(X)
            self.indptr = np.asarray(X.indptr, dtype=np.int64)
            wide = X.shape[1] > np.iinfo(np.int32).max
            self.indices = np.asarray(X.indices, dtype=np.int64 if wide else np.int32)
            self.data = np.asarray(X.data, dtype=np.float64)
            self.Xd = np.zeros((0, 0))
            self.dense = False
        else:
            self.Xd = np.ascontiguousarray(X, dtype=np.float64)
            self.indptr = np.zeros(1, dtype=np.int64)
            self.indices = np.zeros(0, dtype=np.int32)
            self.data = np.zeros(0)
            self.dense = True
        self.n, self.d = X.shape
        self._kernels = None  # (KernelSet, Design) for the polish: :meth:`kernels`
        self.yt = np.ascontiguousarray(yt, dtype=np.float64)
        self.cw = np.ascontiguousarray(cw, dtype=np.float64)
        self.squared = bool(squared)
        self.Qii = _row_sq(self.indptr, self.indices, self.data, self.Xd, self.dense, self.n)
        if self.squared:
            pos = self.cw > 0
            self.Qii[pos] += 1.0 / (2.0 * self.cw[pos])
        self.upper = self.cw if not self.squared else np.where(self.cw > 0, np.inf, 0.0)
        self.diag = np.zeros(self.n)
        if self.squared:
            self.diag[self.cw > 0] = 1.0 / (2.0 * self.cw[self.cw > 0])
        self.rec = np.zeros((self.n, 8))
        self.rec[:, 0], self.rec[:, 1], self.rec[:, 2], self.rec[:, 3] = (
            self.yt, self.Qii, self.upper, self.diag)
        if not self.dense:
            self.rec[:, 5], self.rec[:, 6] = self.indptr[:-1], self.indptr[1:]

    def args(self):
        return self.indptr, self.indices, self.data, self.Xd, self.dense

    def gap(self, b, alpha, w, exact=True):
        return _gap(*self.args(), self.yt, self.cw, self.squared, b, alpha, w, exact)

    def w_of(self, alpha):
        w = np.zeros(self.d)
        _w_from_alpha(*self.args(), self.yt, alpha, w)
        return w

    def scipy_X(self):
        """X as a SciPy CSR matrix or the dense array (no copy)."""
        import scipy.sparse as sp

        if self.dense:
            return self.Xd
        return sp.csr_matrix((self.data, self.indices, self.indptr), shape=(self.n, self.d))

    def polish_sets(self, alpha):
        """(F, B) of :meth:`polish`: the sorted indices with ``0 < alpha_i < c_i`` and with
        ``alpha_i = c_i`` (to a relative 1e-12)."""
        cw = self.cw
        rel = 1e-12 * np.maximum(cw, 1e-300)
        return (np.flatnonzero((alpha > rel) & (alpha < cw - rel)),
                np.flatnonzero((alpha >= cw - rel) & (cw > 0)))

    def polish(self, b, alpha, iter_lim=50):
        """A primal candidate from the hinge dual's free set: ``(P(w', b), w')``.

        At the optimum the samples with ``0 < alpha_i < c_i`` (F) lie on the margin,
        ``y~_i (x_i . w + b) = 1``, and ``w = w_B + A^T beta`` with ``w_B`` the sum over the
        samples at the upper bound (B) and ``A = diag(y~_F) X_F``.  Taking F and B from
        ``alpha``, ``w' = w_B + u`` with ``u`` the least-squares solution of
        ``A u = 1 - y~_F (b + X_F w_B)`` by conjugate gradients on the normal equations
        from ``u0 = A^T alpha_F`` (CGLS, which is LSQR in exact arithmetic: ``u`` stays in
        the row space of A; at most ``iter_lim`` products of ``A^T A = X_F^T X_F``, the
        kernels' ``hessp`` over the free rows, on one thread).  Once F and B are those of
        the optimum, w' is the optimum itself, while ``w(alpha)`` approaches it only as fast
        as the dual converges.  ``P(w', b)`` is evaluated exactly (one pass): whatever F
        and B were, it is a valid upper bound for the certificate."""
        from .margin_losses import row_subset
        from .svm_newton import conjugate_gradient  # (svm_newton imports this module)

        ks, design = self.kernels()
        cw, yt = self.cw, self.yt
        free, upper = self.polish_sets(alpha)
        weights = np.zeros(self.n)
        weights[upper] = cw[upper] * yt[upper]
        w_p = self.rmatvec(design, weights)  # w_B
        if free.shape[0]:
            block, y_f = row_subset(design, free), yt[free]
            u0 = self.rmatvec(block, y_f * alpha[free])
            # the normal equations A^T A delta = A^T e for u = u0 + delta, A^T A = X_F^T X_F
            e = 1.0 - y_f * (b + ks.decision(block, w_p + u0, 0.0, n_threads=1))
            g = -self.rmatvec(block, y_f * e)
            ones, hv = np.ones(free.shape[0]), np.empty(self.d)

            def hessp(v):
                ks.hessp(block, ones, v, hv, 0.0, n_threads=1)
                return hv

            delta, _ = conjugate_gradient(hessp, g, np.ones(self.d), 0.0, iter_lim)
            w_p += u0 + delta
        slack = np.maximum(0.0, 1.0 - yt * ks.decision(design, w_p, b, n_threads=1))
        return float(cw @ slack) + 0.5 * float(w_p @ w_p), w_p

    def kernels(self):
        """(the compiled kernels, X as a validated :class:`fastlogit.kernels.Design`),
        built at the first call and kept."""
        if self._kernels is None:
            from . import kernels

            self._kernels = (kernels.get("auto"), kernels.as_design(self.scipy_X()))
        return self._kernels

    def rmatvec(self, design, v):
        """X_rows^T v (d,) over ``design``'s rows, one pass on one thread."""
        out = np.empty(self.d)
        self.kernels()[0].hessp(design, np.ascontiguousarray(v, dtype=np.float64),
                                np.zeros(self.d), out, 1.0, n_threads=1)
        return out

    def dual(self, alpha, w):
        """D(alpha) for sum alpha_i y~_i = 0 (no b term), w = w(alpha)."""
        quad = 0.0
        if self.squared:
            pos = self.cw > 0
            quad = float(np.sum(alpha[pos] ** 2 / (2.0 * self.cw[pos])))
        return float(alpha.sum()) - 0.5 * float(w @ w) - 0.5 * quad


def _predicted_visits(history, visits, gap, tol):
    """Coordinate visits the last two checks' rate (linear convergence of the gap in log
    scale) predicts the gap needs to reach ``tol``; inf without a previous check or when the
    gap did not fall."""
    if history is None or not (0.0 < gap < history[1]) or visits <= history[0]:
        return np.inf
    rate = np.log(gap / history[1]) / (visits - history[0])
    return np.log(min(tol / gap, 1.0)) / rate


def _next_check(need, longest, n):
    """Coordinate visits until the next gap check: the predicted ``need``
    (:func:`_predicted_visits`) plus 10 %, kept within [n / 2, longest] (``check_every * n``).
    Checks land near where the gap crosses tol instead of up to ``longest`` visits past it;
    each costs one sequential pass."""
    return int(longest) if not np.isfinite(need) else int(min(max(1.1 * need, 0.5 * n),
                                                               longest))


def dcd_fixed_b(prob, b, alpha, w, tol, max_visits, *, check_every=8.0, seed=0, polish=None,
                give_up=None):
    """Minimise the fixed-``b`` dual from ``alpha`` (n,) in place, ``w`` = w(alpha) (d,) in
    place, to relative duality gap ``tol`` or until ``max_visits`` coordinate visits.

    The gap (one pass over X) is checked after ``check_every * n`` coordinate visits, then
    where the last two checks' rate predicts it to reach ``tol`` (:func:`_next_check`; at
    most ``check_every * n`` visits apart), or when the projected-gradient range falls below
    its current threshold.  Each check first recomputes ``w = w(alpha)`` (one pass over the
    rows with ``alpha_i != 0``), so that the incremental updates' rounding never enters the
    certificate (a confirming second check would cost a whole pass more).

    ``polish``: None, or a dict that receives ``"w"`` and ``"primal"``, the best primal
    point seen: ``w`` at a check, or for the hinge the free-set candidate
    (:meth:`_Problem.polish`), tried at each check once the gap is within ``POLISH_FROM``
    times ``tol`` and converging slowly (``POLISH_STALL``).  The certificate uses that best
    primal value, and ``polish["w"]`` (not ``w``, which stays w(alpha)) is its point.

    ``give_up``: None, or ``(ahead, after)`` in passes: the run stops early (before
    ``max_visits``, the gap above ``tol``) at a check past ``after * n`` visits where the
    last two checks' rate predicts more than ``ahead * n`` further visits to ``tol`` (or the
    gap did not fall), for a caller that has a faster method for slowly converging duals
    (:func:`fastlogit.svm.fit_squared_hinge`).

    Returns ``(primal, dual, visits)``: the best primal value and ``D_b(alpha)`` at the last
    check.
    """
    active = np.flatnonzero(prob.upper > 0).astype(np.int64)
    state = np.array([np.inf, -np.inf, float(active.shape[0])])
    eps = EPS0
    visits = 0
    if alpha.any():
        primal, dual = prob.gap(b, alpha, w, exact=True)
    else:  # alpha = 0, w = 0: every margin is y~_i b (no pass over X); D_b(0) = 0
        slack = np.maximum(0.0, 1.0 - prob.yt * b)
        primal = float(prob.cw @ (slack * slack if prob.squared else slack))
        dual = 0.0
    if active.shape[0] == 0:
        return primal, dual, visits
    tiny = np.finfo(float).tiny
    keep = polish is not None  # the caller takes the best primal point from ``polish``
    use_polish = keep and not prob.squared
    if keep:
        polish["primal"], polish["w"] = np.inf, None

    def best_primal(primal):
        if keep and primal < polish["primal"]:
            polish["primal"], polish["w"] = primal, w.copy()
        return polish["primal"] if keep else primal

    history, need, polished = None, np.inf, None
    while True:
        best = best_primal(primal)
        if (use_polish and tol * abs(best) < best - dual <= POLISH_FROM * tol * abs(best)
                and POLISH_STALL * check_every * prob.n < need < np.inf):
            sets = prob.polish_sets(alpha)
            key = (sets[0].tobytes(), sets[1].tobytes())
            if key != polished:  # the same sets give about the same point: not again
                polished = key
                p_pol, w_pol = prob.polish(b, alpha)
                if p_pol < polish["primal"]:
                    polish["primal"], polish["w"] = p_pol, w_pol
                best = polish["primal"]
        if best - dual <= tol * abs(best) or visits >= max_visits:
            return best, dual, visits
        interval = _next_check(need, check_every * prob.n, prob.n)
        prob.rec[:, 4] = alpha
        _, ran, met = _epochs(prob.indices, prob.data, prob.Xd, prob.dense, prob.rec, b, w,
                              active, state, eps, max(1, min(interval, max_visits - visits)),
                              seed + visits)
        alpha[:] = prob.rec[:, 4]
        visits += ran
        primal, dual = prob.gap(b, alpha, w, exact=True)
        gap = (min(best, primal) - dual) / max(abs(min(best, primal)), tiny)
        need = _predicted_visits(history, visits, gap, tol)
        if (give_up is not None and history is not None and visits >= give_up[1] * prob.n
                and need > give_up[0] * prob.n):
            return best_primal(primal), dual, visits
        history = (visits, gap)
        if met:
            eps *= 0.1


def dcd_svm(X, yt, cw, *, squared, fit_intercept, tol=1e-6, max_passes=10000, check_every=8.0,
            seed=0, alpha0=None, give_up=None):
    """Minimise the hinge / squared hinge SVM of the module docstring by dual CD.

    Parameters
    ----------
    X : {ndarray, sparse matrix, fastlogit.kernels.Design} of shape (n_samples, n_features)
        The design, any float dtype; used as float64 (a copy when it is not).
    yt : ndarray of shape (n_samples,)
        Labels as -1.0 / +1.0.
    cw : ndarray of shape (n_samples,)
        Per-sample weights ``c_i = C s_i >= 0``: the upper bound of alpha_i for the hinge,
        ``D_ii = 1 / (2 c_i)`` for the squared hinge; a sample with ``c_i = 0`` is ignored.
    squared : bool
        Squared hinge (True) or hinge (False); keyword-only, required.
    fit_intercept : bool
        Unpenalised intercept, found by the outer search over b (module docstring);
        keyword-only, required.
    tol : float, default=1e-6
        Target relative duality gap ``(P - D) / P`` of the whole problem, > 0.
    max_passes : float, default=10000
        Budget in coordinate visits, as a multiple of n (one unshrunk epoch is one pass);
        the run stops there with ``info["converged"] = False``.
    check_every : float, default=8.0
        The duality gap (one pass over X) is checked at most every ``check_every * n``
        coordinate visits, earlier where the gap's rate predicts it to reach ``tol`` or
        when the projected-gradient range falls below its threshold.
    seed : int, default=0
        Seed of the random coordinate order (an xorshift generator); a given seed gives
        the same result on every run.
    alpha0 : ndarray of shape (n_samples,), default=None
        Warm start (clipped into the dual box), e.g. a previous call's ``info["alpha"]``;
        None starts from alpha = 0.
    give_up : tuple of float, default=None
        None, or ``(ahead, after)``: stop early, ``info["stalled"]`` True, once the duality
        gap's rate predicts more than ``ahead`` further passes, ``after`` passes or more
        into the run (:func:`dcd_fixed_b`; with
        an intercept, in the first solve at b = 0, whose point is then returned with
        ``b = 0`` and an infinite gap).

    Returns
    -------
    w : ndarray of shape (n_features,)
        The primal coefficients, float64.
    b : float
        The intercept (0.0 without ``fit_intercept``).
    info : dict
        ``"primal"`` (P at the returned point), ``"dual"`` (a certified lower bound on
        P*), ``"gap"`` (relative), ``"passes"`` (visits / n), ``"converged"``
        (``gap <= tol``), ``"alpha"`` (the dual point certifying the gap, (n_samples,)),
        ``"stalled"`` (stopped by ``give_up``).

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.svm_dcd import dcd_svm
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 3))
    >>> yt = np.where(X[:, 0] + 0.3 * rng.normal(size=60) > 0, 1.0, -1.0)
    >>> w, b, info = dcd_svm(X, yt, np.ones(60), squared=False, fit_intercept=True, tol=1e-6)
    >>> info["converged"], bool(info["dual"] <= info["primal"]), w.shape
    (True, True, (3,))
    """
    prob = _Problem(X, yt, cw, squared)
    if alpha0 is None:
        alpha, w = np.zeros(prob.n), np.zeros(prob.d)
    else:
        alpha = np.clip(np.asarray(alpha0, dtype=np.float64), 0.0, prob.upper)
        w = prob.w_of(alpha)
    budget = max(1, int(max_passes * prob.n))
    # with an intercept, b = 0 is only the search's start: solved loosely (see below)
    inner_tol = max(0.1 * tol, 1e-3) if fit_intercept else tol
    polish = None if fit_intercept else {}
    primal, dual, visits = dcd_fixed_b(prob, 0.0, alpha, w, inner_tol, budget,
                                       check_every=check_every, seed=seed, polish=polish,
                                       give_up=give_up)
    tiny = np.finfo(float).tiny
    stalled = (give_up is not None and visits < budget
               and primal - dual > inner_tol * max(abs(primal), tiny))
    if stalled and fit_intercept:
        return w, 0.0, {"primal": primal, "dual": -np.inf, "gap": np.inf,
                        "passes": visits / prob.n, "converged": False, "alpha": alpha,
                        "stalled": True}
    if not fit_intercept:
        if polish["w"] is not None:
            w = polish["w"]  # the best primal point of the checks (hinge: or its polish)
        gap = (primal - dual) / max(abs(primal), tiny)
        return w, 0.0, {"primal": primal, "dual": dual, "gap": gap,
                        "passes": visits / prob.n, "converged": gap <= tol, "alpha": alpha,
                        "stalled": stalled}
    return _search_intercept(prob, alpha, w, primal, visits, tol, inner_tol, budget,
                             check_every, seed)


def _search_intercept(prob, alpha, w, primal, visits, tol, tol0, budget, check_every, seed):
    """Outer regula falsi on g(b) = sum alpha_i(b) y~_i (module docstring).

    Inner solves are only as accurate as the outer search needs: relative gap
    ``max(tol / 10, min(1e-3, gap / 10))`` with ``gap`` the current certificate's (any
    alpha in the box gives a valid certificate, however loosely it was solved); a bracket end
    solved more than 10 times looser than that is solved again before it is used."""
    yt = prob.yt
    best = (primal, w.copy(), 0.0)
    pts = {}  # "lo": (b, g >= 0, alpha, w, tol), "hi": (b, g <= 0, alpha, w, tol)
    tiny = np.finfo(float).tiny

    def record(b, alpha, w, primal, itol):
        nonlocal best
        g = float(alpha @ yt)
        if primal < best[0]:
            best = (primal, w.copy(), b)
        if g >= 0:
            pts["lo"] = (b, g, alpha.copy(), w.copy(), itol)
        if g <= 0:
            pts["hi"] = (b, g, alpha.copy(), w.copy(), itol)
        return g

    def certificate():
        if not ("lo" in pts and "hi" in pts):
            return -np.inf, None
        _, g_lo, a_lo, w_lo, _ = pts["lo"]
        _, g_hi, a_hi, w_hi, _ = pts["hi"]
        lam = 1.0 if g_lo == g_hi else -g_hi / (g_lo - g_hi)
        a = lam * a_lo + (1.0 - lam) * a_hi
        return prob.dual(a, lam * w_lo + (1.0 - lam) * w_hi), a

    record(0.0, alpha, w, primal, tol0)
    step, kept, n_outer = 1.0, None, 0
    while visits < budget:
        if "lo" in pts and "hi" in pts:
            dual, _ = certificate()
            gap = (best[0] - dual) / max(abs(best[0]), tiny)
            b_lo, g_lo = pts["lo"][:2]
            b_hi, g_hi = pts["hi"][:2]
            if gap <= tol or abs(b_hi - b_lo) <= 1e-15 * (1.0 + abs(b_lo)):
                break
            itol = max(0.1 * tol, min(1e-3, 0.1 * gap))
            stale = [side for side in ("lo", "hi") if pts[side][4] > 10 * itol]
            if stale:  # re-solve a loose end; if its sign changes, bracket again
                b, _, a0, w0, _ = pts.pop(stale[0])
                step = max(abs(b_hi - b_lo), 1e-12 * (1.0 + abs(b)))
                kept = None
            else:
                # Illinois: halve the g of the end kept the last time
                glo = g_lo * (0.5 if kept == "lo" else 1.0)
                ghi = g_hi * (0.5 if kept == "hi" else 1.0)
                b = b_lo + (b_hi - b_lo) * glo / (glo - ghi) if glo != ghi else \
                    0.5 * (b_lo + b_hi)
                near = "lo" if abs(b - b_lo) <= abs(b - b_hi) else "hi"
                a0, w0 = pts[near][2], pts[near][3]
        else:
            # bracket the root of the non-increasing g: step away, doubling the step
            itol = max(0.1 * tol, min(1e-3, tol0))
            side = "lo" if "lo" in pts else "hi"
            b0, _, a0, w0, _ = pts[side]
            b = b0 + (step if side == "lo" else -step)
            step *= 2.0
        alpha[:], w[:] = a0, w0
        p, _, ran = dcd_fixed_b(prob, b, alpha, w, itol, budget - visits,
                                check_every=check_every, seed=seed + visits)
        visits += ran
        n_outer += 1
        g = record(b, alpha, w, p, itol)
        if "lo" in pts and "hi" in pts:
            kept = "lo" if g < 0 else "hi"
    dual, a_cert = certificate()  # (-inf, None) while the root is not bracketed
    gap = (best[0] - dual) / max(abs(best[0]), tiny)
    return best[1], best[2], {"primal": best[0], "dual": dual, "gap": gap,
                              "passes": visits / prob.n, "converged": gap <= tol,
                              "alpha": alpha.copy() if a_cert is None else a_cert,
                              "outer": n_outer, "stalled": False}
