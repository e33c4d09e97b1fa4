"""NumPy/Python reference for the SGD epoch kernels: one readable loop, the ground truth.

The compiled epochs (:mod:`fastlogit.kernels.sgd_numba`, :mod:`fastlogit.kernels.sgd_cython`)
perform exactly the same floating-point operations in the same order (the Numba epoch
compiles this module's per-sample functions ``_eta``, ``_binary_point``, ``_softmax_point``,
``_fold`` and ``_l1_clip`` themselves, so they must stay Numba-compilable), so that they agree with
this reference to rounding (the tests ask for 1e-12 in float64).  This module is slow by
design (a Python loop per sample) and meant for small test problems only.

The algorithm (one epoch over ``order``), in the mean-loss scaling of scikit-learn's
``SGDClassifier``: the objective is ``G = F / (C n) = 1/n sum_i s_i l_i + lam1 ||w||_1 +
lam2/2 ||w||^2`` with ``alpha = 1/(C n)``, ``lam1 = alpha * l1_strength``, ``lam2 = alpha *
l2_strength``.  The weights are held as ``w = scale * W`` (lazy L2 scaling) so that the L2
shrinkage of a step costs O(1) and a sparse step costs O(nnz of the row)::

    for p in range(len(order)):
        i = order[p];  t += 1                                    (t: samples seen, 1-based)
        eta = eta0 | eta0 / t**power_t | 1 / (alpha (t0 + t - 1))   (constant/invscaling/optimal)
        z = scale * (x_i . W) + b                                (K columns for multinomial)
        r = s_i (sigmoid(z) - y_i)   |   s_i (softmax(z) - Y_i)      loss += s_i l(y_i, z)
        scale *= max(0, 1 - eta lam2);  if scale < 1e-6: fold scale into W (and reset it to 1)
        W[j] -= eta r x_ij / scale   for the non-zeros j of x_i;  b -= eta r  (fit_intercept)
        lam1 > 0: u += eta lam1 and the cumulative-penalty clipping of Tsuruoka et al. (2009)
                  on the non-zeros of x_i (every column for dense X; q holds the penalty
                  applied to each weight so far)
        t >= average_start: Sum_w += w, Sum_b += b, count += 1

Averaging keeps ``Sum_w = A + beta * W`` (A = ``avg_W``): a change ``delta`` of W on the
non-zeros of x_i is matched by ``A -= beta delta`` and each averaged step adds ``scale`` to
beta, so the average also costs O(nnz) per step.  The averaged weights are
``(A + beta W) / count`` and the averaged intercept ``avg_b / count``.

Raw signature (``X..`` = ``X`` or ``data, indices, indptr``)::

    sgd_epoch_{dense,csr}(X.., Y, s, order, W, b, avg_W, avg_b, q, state,
                          schedule, eta0, power_t, alpha, t0, lam2, lam1,
                          fit_intercept, average_start, n_threads) -> loss_sum

    Y      (n, K) labels in X's dtype; K = 1 is binary (y in [0, 1]), K >= 2 multinomial
    s      (n,) sample weights in X's dtype, or length 0 for unit weights
    order  (m,) int64 row indices visited in this order
    W      (d, K) float64, updated;  b (K,) float64, updated
    avg_W  (d, K) float64 or shape (0, K) (no averaging); avg_b (K,) float64
    q      (d, K) float64 or shape (0, K) (no L1)
    state  (5,) float64 [scale, t, beta, count, u], updated
    schedule 0 constant, 1 invscaling, 2 optimal
"""
import math

import numpy as np

__all__ = ["sgd_epoch_dense", "sgd_epoch_csr", "SCHEDULES", "RESCALE_BELOW"]

#: Learning-rate schedule codes passed to the compiled epochs.
SCHEDULES = {"constant": 0, "invscaling": 1, "optimal": 2}
#: The scale is folded into the weights when it drops below this (scikit-learn uses 1e-9;
#: a larger bound keeps the averaged representation A + beta W free of cancellation: its
#: relative error grows like eps / scale).
RESCALE_BELOW = 1e-6


def _eta(schedule, eta0, power_t, alpha, t0, t):
    if schedule == 0:
        return eta0
    if schedule == 1:
        return eta0 / t ** power_t
    return 1.0 / (alpha * (t0 + t - 1.0))


def _binary_point(y, z):
    """(loss, sigmoid(z) - y) in the stable forms of numpy_ref."""
    e = math.exp(-abs(z))
    if z > 0.0:
        loss = math.log1p(e) + (1.0 - y) * z
    else:
        loss = math.log1p(e) - y * z
    if z >= 0.0:
        res = ((1.0 - y) - y * e) / (1.0 + e)
    else:
        res = ((1.0 - y) * e - y) / (1.0 + e)
    return loss, res


def _softmax_point(Yi, z, res):
    """Softmax loss of one row; writes p - y into res (all float64)."""
    K = z.shape[0]
    m = z[0]
    for k in range(1, K):
        m = max(m, z[k])
    total = 0.0
    for k in range(K):
        res[k] = math.exp(z[k] - m)
        total += res[k]
    lse = m + math.log(total)
    loss = lse
    for k in range(K):
        loss -= float(Yi[k]) * z[k]
        res[k] = res[k] / total - float(Yi[k])
    return loss


def _fold(W, avg_W, state):
    """w = scale * W with scale = 1 afterwards; the average representation absorbs beta."""
    if avg_W.shape[0]:
        avg_W += state[2] * W
        state[2] = 0.0
    W *= state[0]
    state[0] = 1.0


def _l1_clip(W, avg_W, q, j, k, scale, u, beta, averaging):
    """Cumulative-penalty clipping of the weight W[j, k] (q[j, k]: penalty applied so far)."""
    wj = scale * W[j, k]
    if wj > 0.0:
        new = max(0.0, wj - (u + q[j, k]))
    elif wj < 0.0:
        new = min(0.0, wj + (u - q[j, k]))
    else:
        return
    q[j, k] += new - wj
    delta = new / scale - W[j, k]
    W[j, k] += delta
    if averaging:
        avg_W[j, k] -= beta * delta


def _epoch(row, n_rows, Y, s, order, W, b, avg_W, avg_b, q, state, schedule, eta0, power_t,
           alpha, t0, lam2, lam1, fit_intercept, average_start):
    K = W.shape[1]
    averaging = avg_W.shape[0] > 0
    use_l1 = q.shape[0] > 0 and lam1 > 0.0
    z = np.zeros(K)
    r = np.zeros(K)
    loss_sum = 0.0
    for p in range(order.shape[0]):
        i = int(order[p])
        cols, vals = row(i)
        state[1] += 1.0
        t = state[1]
        eta = _eta(schedule, eta0, power_t, alpha, t0, t)
        si = float(s[i]) if s.shape[0] else 1.0
        scale = state[0]
        for k in range(K):
            acc = 0.0
            for j, x in zip(cols, vals):
                acc += float(x) * W[j, k]
            z[k] = scale * acc + b[k]
        if K == 1:
            loss, res = _binary_point(float(Y[i, 0]), z[0])
            r[0] = si * res
        else:
            loss = _softmax_point(Y[i], z, r)
            for k in range(K):
                r[k] = si * r[k]
        loss_sum += si * loss
        if lam2 > 0.0:
            state[0] *= max(0.0, 1.0 - eta * lam2)
            if state[0] < RESCALE_BELOW:
                _fold(W, avg_W, state)
        scale = state[0]
        beta = state[2]
        for k in range(K):
            if r[k] != 0.0:
                c = -eta * r[k] / scale
                for j, x in zip(cols, vals):
                    delta = c * float(x)
                    W[j, k] += delta
                    if averaging:
                        avg_W[j, k] -= beta * delta
                if fit_intercept:
                    b[k] -= eta * r[k]
        if use_l1:
            state[4] += eta * lam1
            u = state[4]
            for k in range(K):
                for j in cols:
                    _l1_clip(W, avg_W, q, j, k, scale, u, beta, averaging)
        if averaging and t >= average_start:
            state[2] += state[0]
            state[3] += 1.0
            for k in range(K):
                avg_b[k] += b[k]
    return loss_sum


def sgd_epoch_dense(X, Y, s, order, W, b, avg_W, avg_b, q, state, schedule, eta0, power_t,
                    alpha, t0, lam2, lam1, fit_intercept, average_start, n_threads):
    """One SGD epoch over dense rows (see the module docstring). Returns the loss sum."""
    cols = range(X.shape[1])
    return _epoch(lambda i: (cols, X[i]), X.shape[0], Y, s, order, W, b, avg_W, avg_b, q,
                  state, int(schedule), float(eta0), float(power_t), float(alpha), float(t0),
                  float(lam2), float(lam1), bool(fit_intercept), float(average_start))


def sgd_epoch_csr(data, indices, indptr, Y, s, order, W, b, avg_W, avg_b, q, state, schedule,
                  eta0, power_t, alpha, t0, lam2, lam1, fit_intercept, average_start, n_threads):
    """One SGD epoch over CSR rows (see the module docstring). Returns the loss sum."""
    def row(i):
        lo, hi = int(indptr[i]), int(indptr[i + 1])
        return indices[lo:hi].tolist(), data[lo:hi]

    return _epoch(row, indptr.shape[0] - 1, Y, s, order, W, b, avg_W, avg_b, q, state,
                  int(schedule), float(eta0), float(power_t), float(alpha), float(t0),
                  float(lam2), float(lam1), bool(fit_intercept), float(average_start))


def hogwild_epoch(plan, segment, scale_weights, threads, data, indices, indptr, Y, s, order, W,
                  b, avg_W, avg_b, state, schedule, eta0, power_t, alpha, t0, lam2,
                  fit_intercept, average_start, n_threads):
    """Driver of the compiled Hogwild epochs (Numba and Cython supply the three kernels).

    Folds the scale into the weights, plans the per-position rate / scale / beta, runs each
    segment (a run of positions over which the scale stays above RESCALE_BELOW) in parallel
    and folds between segments; leaves ``state`` as the sequential epoch would.
    """
    m = order.shape[0]
    averaging = avg_W.shape[0] > 0
    scale_weights(W, avg_W, float(state[2]), float(state[0]))
    state[0], state[2] = 1.0, 0.0
    etas, scales, betas = np.empty(m), np.empty(m), np.empty(m)
    bounds = plan(m, state, int(schedule), float(eta0), float(power_t), float(alpha),
                  float(t0), float(lam2), float(average_start), bool(averaging), etas, scales,
                  betas)
    if m and scales.min() <= 0.0:
        raise ValueError("hogwild needs eta * lam2 < 1 at every step (a step would zero w)")
    n_blocks = max(1, min(int(n_threads), m))
    parts = np.zeros((n_blocks, 3))
    t_start = float(state[1])

    def end_beta(p):  # beta after the averaging update of position p
        averaged = averaging and t_start + p + 1 >= average_start
        return betas[p] + (scales[p] if averaged else 0.0)

    with threads(n_blocks):
        for g in range(len(bounds) - 1):
            lo_p, hi_p = int(bounds[g]), int(bounds[g + 1])
            if g > 0:
                scale_weights(W, avg_W, end_beta(lo_p - 1), float(scales[lo_p - 1]))
            segment(data, indices, indptr, Y, s, order, W, b, avg_W, etas, scales, betas,
                    lo_p, hi_p, bool(fit_intercept), t_start, float(average_start), n_blocks,
                    parts)
    if m:
        state[0] = scales[m - 1]
        state[2] = end_beta(m - 1)
    state[1] = t_start + m
    state[3] += parts[:, 2].sum()
    avg_b[0] += parts[:, 1].sum()
    return float(parts[:, 0].sum())
