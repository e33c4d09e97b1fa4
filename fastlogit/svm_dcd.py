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
samples with ``0 < alpha_i < c_i`` solved for w by least squares).  For the hinge on sparse
X, groups of nearly parallel rows with one support (near-duplicate documents,
:meth:`_Problem.clusters`) also take an exact joint step after every epoch
(:func:`_cluster_steps`): along the differences of their alphas the dual is nearly flat,
and one-coordinate steps there move by a small fraction of the way per pass.

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
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic


__all__ = ["dcd_fixed_b", "dcd_start", "dcd_svm"]

_JIT = dict(cache=True, nogil=True)
EPS0 = 1e-3
#: The hinge's free-set polish (:meth:`_Problem.polish`) is tried once the relative duality
#: gap is within this factor of the tolerance (earlier, the free set is still moving).
POLISH_FROM = 100.0
#: ... and only where it is cheaper than the dual CD it may save: when the nonzeros the
#: further visits predicted by the gap's rate would touch exceed its cost in the same
#: unit, ``POLISH_ITER`` iterations of its CGLS plus a pass over X (a CGLS iteration's two
#: sequential passes over the compact free rows take about as long as one visit of each
#: in dual CD's random order, which loads each row from memory: benchmarks/results).
POLISH_ITER = 50
#: A check placed where the gap's rate predicted ``tol`` that finds the gap above it means
#: the rate is slowing: the polish's cost is then weighed against this many times the
#: predicted visits.
POLISH_MISSED = 3.0
#: The polish's CGLS stops once its normal-equations residual has fallen by this factor.
POLISH_RTOL = 1e-6


@intrinsic
def _prefetch(typingctx, arr, idx):
    """``_prefetch(arr, i)``: ask the CPU to bring ``arr[i]`` (a 1-D array, ``0 <= i <
    arr.size`` unchecked) into its caches ahead of use (LLVM's ``llvm.prefetch``, a hint:
    no effect on results, none on an index past the end but the wasted hint)."""
    ir = cgutils.ir  # llvmlite's IR builder, as numba uses it

    def codegen(context, builder, signature, args):
        aty = signature.args[0]
        ary = context.make_array(aty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aty, ary, [args[1]], wraparound=False,
                                       boundscheck=False)
        i8p, i32 = cgutils.voidptr_t, cgutils.int32_t
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        # read (0), highest temporal locality (3), data cache (1)
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3),
                          ir.Constant(i32, 1)])
        return context.get_dummy_value()
    return types.void(arr, idx), codegen


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
def _records(indptr, data, Xd, dense, yt, cw, squared):
    """The per-sample record of :func:`_epochs`, (n, 8), in one pass over X: ``[y~, Q_ii,
    upper bound, D_ii, alpha = 0, row start, row end, 0]`` with ``Q_ii = ||x_i||^2 + D_ii``
    (hinge: ``D_ii = 0``, bound ``c_i``; squared hinge: ``D_ii = 1 / (2 c_i)``, bound inf;
    a sample with ``c_i <= 0``: bound 0, ``D_ii = 0``)."""
    n = yt.shape[0]
    rec = np.zeros((n, 8))
    for i in range(n):
        q = 0.0
        if dense:
            for j in range(Xd.shape[1]):
                q += Xd[i, j] * Xd[i, j]
        else:
            for t in range(indptr[i], indptr[i + 1]):
                q += data[t] * data[t]
            rec[i, 5] = indptr[i]
            rec[i, 6] = indptr[i + 1]
        D = 0.0
        if cw[i] > 0.0:
            if squared:
                D = 1.0 / (2.0 * cw[i])
                rec[i, 2] = np.inf
            else:
                rec[i, 2] = cw[i]
        rec[i, 0] = yt[i]
        rec[i, 1] = q + D
        rec[i, 3] = D
    return rec


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
def _cgls_free(indptr, indices, data, Xd, dense, free, yt, b, w, iter_lim, rtol):
    """CGLS for :meth:`_Problem.polish`: ``w`` (d,) += the least-squares solution ``delta``
    of ``y~_i x_i . delta = e_i = 1 - y~_i (b + x_i . w)`` over the rows ``free`` (k,),
    ``delta`` from 0 in their row space.  Stops after ``iter_lim`` iterations (one product
    with A and one with A^T each) or once ``||A^T r|| <= rtol ||A^T e||``.

    On a sparse X the vectors of the column space hold only the m columns the free rows
    use (a compact copy of those rows, columns renumbered), so an iteration costs about
    two passes over their nonzeros plus O(k + m).  Returns the iterations run."""
    k = free.shape[0]
    if dense:
        m = Xd.shape[1]
        cols = np.arange(m)
        nnz = k * m
        cptr = np.arange(k + 1) * m
        cidx = np.empty(nnz, dtype=np.uint64)
        cdat = np.empty(nnz)
        for r in range(k):
            for j in range(m):
                cidx[r * m + j] = j
                cdat[r * m + j] = Xd[free[r], j]
    else:
        slot = np.full(w.shape[0], -1, dtype=np.int64)
        nnz = 0
        for r in range(k):
            nnz += indptr[free[r] + 1] - indptr[free[r]]
        cols = np.empty(nnz, dtype=np.int64)
        cptr = np.empty(k + 1, dtype=np.int64)
        cidx = np.empty(nnz, dtype=np.uint64)
        cdat = np.empty(nnz)
        m = 0
        pos = 0
        cptr[0] = 0
        for r in range(k):
            i = free[r]
            for t in range(indptr[i], indptr[i + 1]):
                j = indices[t]
                if slot[j] < 0:
                    slot[j] = m
                    cols[m] = j
                    m += 1
                cidx[pos] = slot[j]
                cdat[pos] = data[t]
                pos += 1
            cptr[r + 1] = pos
    # e = 1 - y~ (b + X_F w); s = A^T e (A = diag(y~_F) X_F, compact columns)
    res = np.empty(k)
    s = np.zeros(m)
    for r in range(k):
        i = free[r]
        acc = 0.0
        for t in range(cptr[r], cptr[r + 1]):
            acc += cdat[t] * w[np.uint64(cols[cidx[t]])]
        res[r] = 1.0 - yt[i] * (b + acc)
        for t in range(cptr[r], cptr[r + 1]):
            s[cidx[t]] += yt[i] * res[r] * cdat[t]
    p = s.copy()
    delta = np.zeros(m)
    q = np.empty(k)
    gamma = 0.0
    for j in range(m):
        gamma += s[j] * s[j]
    stop = rtol * rtol * gamma
    it = 0
    while it < iter_lim and gamma > stop:
        it += 1
        qq = 0.0
        for r in range(k):
            acc = 0.0
            for t in range(cptr[r], cptr[r + 1]):
                acc += cdat[t] * p[cidx[t]]
            q[r] = yt[free[r]] * acc
            qq += q[r] * q[r]
        if not qq > 0.0:
            break
        step = gamma / qq
        for j in range(m):
            delta[j] += step * p[j]
            s[j] = 0.0
        for r in range(k):
            res[r] -= step * q[r]
            a = yt[free[r]] * res[r]
            for t in range(cptr[r], cptr[r + 1]):
                s[cidx[t]] += a * cdat[t]
        gamma_new = 0.0
        for j in range(m):
            gamma_new += s[j] * s[j]
        beta = gamma_new / gamma
        gamma = gamma_new
        for j in range(m):
            p[j] = s[j] + beta * p[j]
    for j in range(m):
        w[cols[j]] += delta[j]
    return it


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


#: Pair sweeps of :func:`_cluster_steps` per cluster and epoch, at most.
CLUSTER_SWEEPS = 50
#: Rows of one column sequence join a cluster when ``|cos| >= CLUSTER_COS`` with the first
#: of them (rows of a common support that are less close are left to the one-coordinate
#: steps).
CLUSTER_COS = 0.999
#: Groups of more rows than this form no cluster: near-duplicate documents come in a few
#: copies, large families of nearly parallel rows are dense low-dimensional data where the
#: joint steps did not pay (the measurements behind both values: benchmarks/results).
CLUSTER_MAX = 8


@njit(**_JIT)
def _box_step(g, q, a, U):
    """The minimiser d of ``g d + q d^2 / 2`` (q >= 0) over ``0 <= a + d <= U``."""
    if q > 0.0:
        return min(max(-g / q, -a), U - a)
    return U - a if g < 0.0 else -a


@njit(**_JIT)
def _pair_step(Gi, Gj, Kii, Kij, Kjj, ai, aj, Ui, Uj):
    """The exact minimiser ``(di, dj)`` of ``Gi di + Gj dj + 1/2 d^T K d`` over the box
    ``0 <= ai + di <= Ui``, ``0 <= aj + dj <= Uj`` (``K = [[Kii, Kij], [Kij, Kjj]]``
    positive semi-definite, ``Kii, Kjj >= 0``; ``Ui, Uj`` may be inf).

    The unconstrained minimiser when K is well conditioned and it lies in the box; else the
    minimum lies on an edge of the box (a convex quadratic over a box: any minimiser off the
    box's interior, and with a singular K one of the minimisers, lies on its boundary), and
    each edge's is one clipped one-dimensional step: the best of the four."""
    det = Kii * Kjj - Kij * Kij
    if det > 1e-12 * Kii * Kjj:
        di = -(Kjj * Gi - Kij * Gj) / det
        dj = -(Kii * Gj - Kij * Gi) / det
        if 0.0 <= ai + di <= Ui and 0.0 <= aj + dj <= Uj:
            return di, dj
    best, bi, bj = 0.0, 0.0, 0.0
    for side in range(4):
        bound = (0.0, Ui, 0.0, Uj)[side]
        if bound == np.inf:
            continue
        if side < 2:  # alpha_i at a bound, alpha_j minimised
            di = bound - ai
            dj = _box_step(Gj + Kij * di, Kjj, aj, Uj)
        else:
            dj = bound - aj
            di = _box_step(Gi + Kij * dj, Kii, ai, Ui)
        if not (np.isfinite(di) and np.isfinite(dj)):
            continue
        f = Gi * di + Gj * dj + 0.5 * (Kii * di * di + 2.0 * Kij * di * dj + Kjj * dj * dj)
        if f < best:
            best, bi, bj = f, di, dj
    return bi, bj


@njit(**_JIT)
def _cluster_steps(indices, data, rec, b, w, ptr, members, gram, gram_ptr):
    """Solve the dual restricted to each cluster's alphas (the others fixed), ``w`` and
    ``rec[:, 4]`` updated in place; returns the rows visited (two per member).

    Cluster c is ``members[ptr[c]:ptr[c + 1]]`` (k sparse rows of one support, see
    :meth:`_Problem.clusters`) with the k x k matrix ``K_pq = y~_p y~_q x_p . x_q
    (+ D_pp on the diagonal)`` row-major at ``gram[gram_ptr[c]:]``.  Nearly parallel rows
    make the dual nearly flat along the differences of their alphas, where one-coordinate
    steps move by about ``1 - cos`` of the way per pass; here the gradient is formed once
    (k row dots), the k-dimensional box QP is solved by sweeps of exact two-variable steps
    (:func:`_pair_step`) on K alone, up to ``CLUSTER_SWEEPS`` or until no step moves, and
    ``w`` takes the net change (k row updates)."""
    visited = 0
    for c in range(ptr.shape[0] - 1):
        s0 = ptr[c]
        k = ptr[c + 1] - s0
        g0 = gram_ptr[c]
        G = np.empty(k)
        a = np.empty(k)
        d = np.zeros(k)
        amax = 0.0
        for p in range(k):
            i = members[s0 + p]
            acc = 0.0
            for t in range(np.int64(rec[i, 5]), np.int64(rec[i, 6])):
                acc += data[t] * w[indices[t]]
            a[p] = rec[i, 4]
            amax = max(amax, a[p])
            G[p] = rec[i, 0] * (acc + b) - 1.0 + rec[i, 3] * a[p]
        visited += 2 * k
        for _ in range(CLUSTER_SWEEPS):
            moved = 0.0
            for p in range(k - 1):
                for q in range(p + 1, k):
                    dp, dq = _pair_step(G[p], G[q], gram[g0 + p * k + p], gram[g0 + p * k + q],
                                        gram[g0 + q * k + q], a[p] + d[p], a[q] + d[q],
                                        rec[members[s0 + p], 2], rec[members[s0 + q], 2])
                    if dp != 0.0 or dq != 0.0:
                        d[p] += dp
                        d[q] += dq
                        for r in range(k):
                            G[r] += gram[g0 + r * k + p] * dp + gram[g0 + r * k + q] * dq
                        moved = max(moved, abs(dp), abs(dq))
            if moved <= 1e-13 * (1.0 + amax):
                break
        for p in range(k):
            if d[p] != 0.0:
                i = members[s0 + p]
                new = min(max(a[p] + d[p], 0.0), rec[i, 2])
                rec[i, 4] = new
                step = (new - a[p]) * rec[i, 0]
                for t in range(np.int64(rec[i, 5]), np.int64(rec[i, 6])):
                    w[indices[t]] += step * data[t]
    return visited


@njit(**_JIT)
def _support_hashes(indptr, indices):
    """A 64-bit hash (FNV-1a) per CSR row of its column sequence."""
    n = indptr.shape[0] - 1
    out = np.empty(n, dtype=np.uint64)
    prime = np.uint64(1099511628211)
    for i in range(n):
        h = np.uint64(14695981039346656037)
        for t in range(indptr[i], indptr[i + 1]):
            h = (h ^ np.uint64(indices[t])) * prime
        out[i] = h
    return out


@njit(**_JIT)
def _same_support(indptr, indices, i, j):
    if indptr[i + 1] - indptr[i] != indptr[j + 1] - indptr[j]:
        return False
    oi, oj = indptr[i], indptr[j]
    for t in range(indptr[i + 1] - oi):
        if indices[oi + t] != indices[oj + t]:
            return False
    return True


@njit(**_JIT)
def _support_groups(order, h, indptr, indices):
    """rep (n,): for each CSR row the smallest index of the rows with its column sequence,
    given ``order``, a stable argsort of their hashes ``h`` (:func:`_support_hashes`): rows
    of equal hash are compared exactly, so a collision never joins different supports."""
    n = order.shape[0]
    rep = np.empty(n, dtype=np.int64)
    heads = np.empty(n, dtype=np.int64)
    start = 0
    while start < n:
        end = start + 1
        while end < n and h[order[end]] == h[order[start]]:
            end += 1
        n_heads = 0
        for t in range(start, end):
            i = order[t]
            rep[i] = i
            for u in range(n_heads):
                if _same_support(indptr, indices, heads[u], i):
                    rep[i] = heads[u]
                    break
            if rep[i] == i:
                heads[n_heads] = i
                n_heads += 1
        start = end
    return rep


@njit(**_JIT)
def _near_parallel(indptr, data, members, rep, cos_min, cos_max):
    """keep (k,): whether each row of ``members`` (grouped by ``rep``, the rows of a group
    sharing one column sequence) has ``|cos| >= cos_min`` with its group's first member."""
    keep = np.zeros(members.shape[0], dtype=np.bool_)
    head = -1
    for r in range(members.shape[0]):
        i = members[r]
        if r == 0 or rep[i] != rep[members[r - 1]]:
            head = i
            keep[r] = True
            continue
        dot = 0.0
        qi = 0.0
        qh = 0.0
        for t in range(indptr[i + 1] - indptr[i]):
            a = data[indptr[i] + t]
            c = data[indptr[head] + t]
            dot += a * c
            qi += a * a
            qh += c * c
        keep[r] = dot * dot >= cos_min * cos_min * qi * qh
        if dot * dot >= cos_max * cos_max * qi * qh:
            keep[r] = False
    return keep


@njit(**_JIT)
def _cluster_gram(indptr, data, yt, diag, members, ptr, gram_ptr):
    """The matrices ``K`` of :func:`_cluster_steps` (the rows of a cluster share their
    column sequence: their dot products are dots of their value slices)."""
    gram = np.empty(gram_ptr[-1])
    for c in range(ptr.shape[0] - 1):
        k = ptr[c + 1] - ptr[c]
        for p in range(k):
            i = members[ptr[c] + p]
            for q in range(p, k):
                j = members[ptr[c] + q]
                acc = 0.0
                for t in range(indptr[i + 1] - indptr[i]):
                    acc += data[indptr[i] + t] * data[indptr[j] + t]
                acc *= yt[i] * yt[j]
                if p == q:
                    acc += diag[i]
                gram[gram_ptr[c] + p * k + q] = acc
                gram[gram_ptr[c] + q * k + p] = acc
    return gram


@njit(**_JIT)
def _epochs(indices, data, Xd, dense, rec, b, w, active, state, eps, max_visits, seed, clusters):
    """Shrinking DCD epochs until ``max_visits`` coordinates have been visited (at least one
    epoch); stops early when the projected-gradient range over the full set is <= eps.

    ``rec`` (n, 8) holds per sample ``[y~, Q_ii, upper bound, D_ii, alpha, row start, row end,
    0]``: one 64-byte cache line per visited sample instead of one miss per array (the visit
    order is random, so these loads miss the cache on data larger than it).  ``active`` (n,)
    holds the active indices in its first ``state[2]`` entries; ``state = [M_bar, m_bar,
    n_active]`` persists between calls.  ``active`` lists only samples with a positive bound
    (a zero-weight sample's alpha_i stays 0).  ``clusters``: the ``(ptr, members, gram,
    gram_ptr)`` of :func:`_cluster_steps`, run after every epoch (its row visits counted).
    Returns (epochs run, coordinates visited, stopped by the eps criterion)."""
    n = active.shape[0]
    recflat = rec.reshape(-1)
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
            # the visit order is random: each row's first cache lines would miss; ask for the
            # next row's (its bounds from the record asked for one visit earlier) and the
            # record after it while this row is worked on (a hint: no effect on results)
            if k + 2 < n_active:
                _prefetch(recflat, np.int64(active[k + 2]) * 8)
            if not dense and k + 1 < n_active:
                nxt = np.int64(rec[active[k + 1], 5])
                _prefetch(data, nxt)
                _prefetch(indices, nxt)
                _prefetch(data, nxt + 8)
                _prefetch(indices, nxt + 16)
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
        if clusters[0].shape[0] > 1:
            visits += _cluster_steps(indices, data, rec, b, w, clusters[0], clusters[1],
                                     clusters[2], clusters[3])
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
            # held unsigned (a view, no copy): indexing with an unsigned integer spares the
            # compiled loops the negative-index wrap-around test of every gather and scatter
            self.indices = np.asarray(X.indices, dtype=np.int64 if wide else np.int32).view(
                np.uint64 if wide else np.uint32)
            self.data = np.asarray(X.data, dtype=np.float64)
            self.Xd = np.zeros((0, 0))
            self.dense = False
        else:
            self.Xd = np.ascontiguousarray(X, dtype=np.float64)
            self.indptr = np.zeros(1, dtype=np.int64)
            self.indices = np.zeros(0, dtype=np.uint32)
            self.data = np.zeros(0)
            self.dense = True
        self.n, self.d = X.shape
        self.row_nnz = np.diff(self.indptr) if not self.dense else np.full(self.n, self.d)
        self.nnz = int(self.row_nnz.sum())
        self.yt = np.ascontiguousarray(yt, dtype=np.float64)
        self.cw = np.ascontiguousarray(cw, dtype=np.float64)
        self.squared = bool(squared)
        self.rec = _records(self.indptr, self.data, self.Xd, self.dense, self.yt, self.cw,
                            self.squared)
        self.Qii, self.upper, self.diag = self.rec[:, 1], self.rec[:, 2], self.rec[:, 3]
        #: near-duplicate clusters for :func:`_cluster_steps` (set by :func:`dcd_svm` for
        #: the hinge; the empty default runs none)
        self.groups = (np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0),
                       np.zeros(1, dtype=np.int64))

    def args(self):
        return self.indptr, self.indices, self.data, self.Xd, self.dense

    def clusters(self):
        """``(ptr, members, gram, gram_ptr)`` of :func:`_cluster_steps`: groups of 2 to
        ``CLUSTER_MAX`` samples with a positive bound whose rows have one non-empty column
        sequence and are nearly parallel, ``CLUSTER_COS <= |cos| < 1`` with the group's
        first row (near-duplicate documents; exact copies are left out: along their
        difference the dual is exactly flat, which one-coordinate steps do not mind); none
        for a dense X."""
        none = (np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0),
                np.zeros(1, dtype=np.int64))
        if self.dense:
            return none
        h = _support_hashes(self.indptr, self.indices)
        rep = _support_groups(np.argsort(h, kind="stable"), h, self.indptr, self.indices)
        ok = (self.upper > 0) & (np.diff(self.indptr) > 0)
        count = np.bincount(rep[ok], minlength=self.n)
        members = np.flatnonzero(ok & (count[rep] >= 2))
        members = members[np.argsort(rep[members], kind="stable")]
        members = members[_near_parallel(self.indptr, self.data, members, rep, CLUSTER_COS,
                                         1.0 - 1e-12)]
        count = np.bincount(rep[members], minlength=self.n)[rep[members]]
        members = members[(count >= 2) & (count <= CLUSTER_MAX)]
        if members.shape[0] == 0:
            return none
        ptr = np.r_[0, np.flatnonzero(rep[members][1:] != rep[members][:-1]) + 1,
                    members.shape[0]].astype(np.int64)
        gram_ptr = np.r_[0, np.cumsum(np.diff(ptr) ** 2)].astype(np.int64)
        gram = _cluster_gram(self.indptr, self.data, self.yt, self.diag, members, ptr,
                             gram_ptr)
        return ptr, members.astype(np.int64), gram, gram_ptr

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
        signed = self.indices.view(np.int64 if self.indices.itemsize == 8 else np.int32)
        return sp.csr_matrix((self.data, signed, self.indptr), shape=(self.n, self.d))

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
        ``alpha``, ``w' = w_0 + delta`` with ``w_0 = w_B + A^T alpha_F`` and ``delta`` the
        least-squares solution of ``A delta = 1 - y~_F (b + X_F w_0)`` in the row space of A,
        by conjugate gradients on the normal equations from 0 (CGLS, :func:`_cgls_free`:
        at most ``iter_lim`` products with A and with A^T, compiled, in the columns the free
        rows use).  Once F and B are those of the optimum, w' is the optimum itself, while
        ``w(alpha)`` approaches it only as fast as the dual converges.  ``P(w', b)`` is
        evaluated exactly (one pass): whatever F and B were, it is a valid upper bound for
        the certificate."""
        free, upper = self.polish_sets(alpha)
        start = np.zeros(self.n)
        start[upper] = self.cw[upper]
        start[free] = alpha[free]
        w_p = self.w_of(start)
        if free.shape[0]:
            _cgls_free(*self.args(), free, self.yt, b, w_p, iter_lim, POLISH_RTOL)
        primal, _ = self.gap(b, np.zeros(self.n), w_p, exact=False)
        return primal, w_p

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
    times ``tol``, its free and bound sets changed since the last try, and where its cost
    is below that of the visits the gap's rate predicts (``POLISH_ITER``, ``POLISH_MISSED``;
    no prediction at the first check).  The certificate uses that best primal value, and
    ``polish["w"]`` (not ``w``, which stays w(alpha)) is its point.

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

    history, need, polished, missed = None, np.inf, None, False
    while True:
        best = best_primal(primal)
        if use_polish and tol * abs(best) < best - dual <= POLISH_FROM * tol * abs(best):
            sets = prob.polish_sets(alpha)
            key = (sets[0].tobytes(), sets[1].tobytes())
            # its cost and the dual CD it may save, in nonzeros visited (POLISH_ITER)
            cost = POLISH_ITER * int(prob.row_nnz[sets[0]].sum()) + prob.nnz
            ahead = need * (POLISH_MISSED if missed else 1.0)
            # the same sets give about the same point: not again
            if key != polished and not ahead * prob.nnz < cost * prob.n:
                polished = key
                p_pol, w_pol = prob.polish(b, alpha, iter_lim=POLISH_ITER)
                if p_pol < polish["primal"]:
                    polish["primal"], polish["w"] = p_pol, w_pol
                best = polish["primal"]
        if best - dual <= tol * abs(best) or visits >= max_visits:
            return best, dual, visits
        interval = _next_check(need, check_every * prob.n, prob.n)
        # a check placed where the gap's rate predicted tol: if the gap is still above
        # tol there, the rate is slowing (the prediction is no measure of what is left)
        aimed = bool(np.isfinite(need))
        prob.rec[:, 4] = alpha
        _, ran, met = _epochs(prob.indices, prob.data, prob.Xd, prob.dense, prob.rec, b, w,
                              active, state, eps, max(1, min(interval, max_visits - visits)),
                              seed + visits, prob.groups)
        alpha[:] = prob.rec[:, 4]
        visits += ran
        primal, dual = prob.gap(b, alpha, w, exact=True)
        gap = (min(best, primal) - dual) / max(abs(min(best, primal)), tiny)
        need = _predicted_visits(history, visits, gap, tol)
        missed = aimed and gap > tol
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
        P*), ``"gap"`` (relative), ``"passes"`` (visits / n, the rows of a joint step on
        a cluster counted twice each), ``"converged"`` (``gap <= tol``), ``"alpha"`` (the
        dual point certifying the gap, (n_samples,)),
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
    if not squared:  # the hinge: near-duplicate rows solved jointly (_cluster_steps)
        prob.groups = prob.clusters()
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
