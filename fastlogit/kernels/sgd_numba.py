"""Numba SGD epochs: the raw ``sgd_epoch_*`` functions of :mod:`fastlogit.kernels`.

Semantics, signatures and the order of floating-point operations are those of the reference
:mod:`fastlogit.kernels.sgd_ref` (whose docstring states the algorithm); the whole epoch runs in
one compiled call, one sample after another (no Python per sample).  No ``fastmath``: the
per-sample formulas contain stability branches and the tests compare with the reference to
rounding.

Hogwild (``sgd_epoch_hogwild_csr``, binary, L2 or no penalty).  The epoch's positions are
dealt round-robin to ``n_threads`` threads (thread k takes positions k, k + T, k + 2T, ...)
that update the shared weights without locks (Niu et al., 2011).  Because the learning rate
and the L2 shrink factor depend only on the step number, the lazy scale, the averaging
coefficient ``beta`` and the rates are precomputed per position, so the threads share no
scalar state except the intercept: each thread adds its intercept steps to the shared ``b``
every ``_FLUSH`` samples (racily, like the weights) instead of every sample, so that the
threads do not fight over one cache line.  Results are therefore
NOT deterministic for more than one thread; with one thread the epoch equals the sequential
one to rounding.
"""
import numpy as np
from numba import njit, prange

from . import sgd_ref
from .numba_impl import entry_column, entry_value, numba_threads, row_span
from .sgd_ref import hogwild_epoch

__all__ = ["sgd_epoch_dense", "sgd_epoch_csr", "sgd_epoch_hogwild_csr"]

_JIT = dict(cache=True, nogil=True)
#: = sgd_ref.RESCALE_BELOW (a test checks).  Defined here, not imported: Numba's cache is keyed
#: on this file only and would keep a stale value of an imported global.
RESCALE_BELOW = 1e-6
_PAR = dict(cache=True, nogil=True, parallel=True)
#: Hogwild: samples between a thread's additions of its intercept steps to the shared b.
_FLUSH = 32


# The per-sample functions of the reference, compiled: one copy of that maths.  Numba's cache
# of this module's functions is keyed on this file only: after editing them in sgd_ref.py,
# clear the cache (or touch this file) so that the epochs below are compiled again.
_eta = njit(**_JIT)(sgd_ref._eta)
_binary_point = njit(**_JIT)(sgd_ref._binary_point)
_softmax_point = njit(**_JIT)(sgd_ref._softmax_point)
_fold = njit(**_JIT)(sgd_ref._fold)
_l1_clip = njit(**_JIT)(sgd_ref._l1_clip)


@njit(**_JIT)
def _epoch(X, Y, s, order, W, b, avg_W, avg_b, q, state, schedule, eta0, power_t, alpha, t0,
           lam2, lam1, fit_intercept, average_start):
    """One sequential epoch; X is the dense array or the CSR tuple (numba_impl's row
    accessors give row i's entries: positions range(*row_span), columns entry_column,
    values entry_value)."""
    K = W.shape[1]
    averaging = avg_W.shape[0] > 0
    use_l1 = q.shape[0] > 0 and lam1 > 0.0
    weighted = s.shape[0] > 0
    z = np.zeros(K)
    r = np.zeros(K)
    loss_sum = 0.0
    # The scalar state lives in locals during the epoch (W's stores could alias it).
    sc, tt, bt, cnt, uu = state[0], state[1], state[2], state[3], state[4]
    for p in range(order.shape[0]):
        i = order[p]
        lo, hi = row_span(X, i)
        tt += 1.0
        t = tt
        eta = _eta(schedule, eta0, power_t, alpha, t0, t)
        si = np.float64(s[i]) if weighted else 1.0
        scale = sc
        if K == 1:
            acc = 0.0
            for kk in range(lo, hi):
                acc += np.float64(entry_value(X, i, kk)) * W[entry_column(X, i, kk), 0]
            loss, res = _binary_point(np.float64(Y[i, 0]), scale * acc + b[0])
            r[0] = si * res
        else:
            for k in range(K):
                z[k] = 0.0
            for kk in range(lo, hi):
                x = np.float64(entry_value(X, i, kk))
                j = entry_column(X, i, kk)
                for k in range(K):
                    z[k] += x * W[j, k]
            for k in range(K):
                z[k] = scale * z[k] + b[k]
            loss = _softmax_point(Y[i], z, r)
            for k in range(K):
                r[k] = si * r[k]
        loss_sum += si * loss
        if lam2 > 0.0:
            sc *= max(0.0, 1.0 - eta * lam2)
            if sc < RESCALE_BELOW:
                state[0] = sc
                state[2] = bt
                _fold(W, avg_W, state)
                sc = state[0]
                bt = state[2]
        scale = sc
        beta = bt
        for k in range(K):
            if r[k] != 0.0:
                c = -eta * r[k] / scale
                for kk in range(lo, hi):
                    delta = c * np.float64(entry_value(X, i, kk))
                    j = entry_column(X, i, kk)
                    W[j, k] += delta
                    if averaging:
                        avg_W[j, k] -= beta * delta
                if fit_intercept:
                    b[k] -= eta * r[k]
        if use_l1:
            uu += eta * lam1
            u = uu
            for k in range(K):
                for kk in range(lo, hi):
                    _l1_clip(W, avg_W, q, entry_column(X, i, kk), k, scale, u, beta, averaging)
        if averaging and t >= average_start:
            bt += sc
            cnt += 1.0
            for k in range(K):
                avg_b[k] += b[k]
    state[0], state[1], state[2], state[3], state[4] = sc, tt, bt, cnt, uu
    return loss_sum


def _run_epoch(X, Y, s, order, W, b, avg_W, avg_b, q, state, schedule, eta0, power_t, alpha,
               t0, lam2, lam1, fit_intercept, average_start):
    return _epoch(X, Y, s, order, W, b, avg_W, avg_b, q, state, int(schedule), float(eta0),
                  float(power_t), float(alpha), float(t0), float(lam2), float(lam1),
                  bool(fit_intercept), float(average_start))


def sgd_epoch_csr(data, indices, indptr, *args):
    """One sequential SGD epoch over CSR rows (see :mod:`fastlogit.kernels.sgd_ref`); the
    arguments after indptr are those of ``sgd_ref.sgd_epoch_csr`` (n_threads last, unused)."""
    return _run_epoch((data, indices, indptr), *args[:-1])


def sgd_epoch_dense(X, *args):
    """One sequential SGD epoch over dense rows (see :mod:`fastlogit.kernels.sgd_ref`); the
    arguments after X are those of ``sgd_ref.sgd_epoch_dense`` (n_threads last, unused)."""
    return _run_epoch(X, *args[:-1])


# ----------------------------------------------------------------------------- Hogwild
@njit(**_JIT)
def _plan(m, state, schedule, eta0, power_t, alpha, t0, lam2, average_start, averaging,
          etas, scales, betas):
    """Per-position rate, scale after the shrink and averaging beta before the step.

    The scale is relative to the weights at the start of the segment that holds the
    position; a new segment starts where the scale would drop below RESCALE_BELOW (the
    weights are folded between segments).  Returns the segment bounds.
    """
    bounds = np.empty(m + 1, dtype=np.int64)
    nb = 0
    bounds[0] = 0
    scale = 1.0
    beta = state[2]
    for p in range(m):
        t = state[1] + p + 1.0
        eta = _eta(schedule, eta0, power_t, alpha, t0, t)
        etas[p] = eta
        f = max(0.0, 1.0 - eta * lam2) if lam2 > 0.0 else 1.0
        if scale * f < RESCALE_BELOW and p > bounds[nb]:
            nb += 1
            bounds[nb] = p
            scale = 1.0
            beta = 0.0
        scale *= f
        scales[p] = scale
        betas[p] = beta
        if averaging and t >= average_start:
            beta += scale
    nb += 1
    bounds[nb] = m
    return bounds[:nb + 1]


@njit(**_PAR)
def _hogwild_segment(data, indices, indptr, Y, s, order, W, b, avg_W, etas, scales, betas,
                     lo_p, hi_p, fit_intercept, t_start, average_start, n_blocks, parts):
    averaging = avg_W.shape[0] > 0
    weighted = s.shape[0] > 0
    flush = 1 if n_blocks == 1 else _FLUSH
    for k in prange(n_blocks):
        loss_sum = 0.0
        b_sum = 0.0
        n_avg = 0.0
        b_local = 0.0  # intercept steps not yet added to the shared b (see the docstring)
        since = 0
        for p in range(lo_p + k, hi_p, n_blocks):
            i = order[p]
            lo = indptr[i]
            hi = indptr[i + 1]
            before = scales[p - 1] if p > lo_p else 1.0
            acc = 0.0
            for kk in range(lo, hi):
                acc += np.float64(data[kk]) * W[indices[kk], 0]
            si = np.float64(s[i]) if weighted else 1.0
            loss, res = _binary_point(np.float64(Y[i, 0]), before * acc + (b[0] + b_local))
            loss_sum += si * loss
            r = si * res
            eta = etas[p]
            if r != 0.0:
                c = -eta * r / scales[p]
                beta = betas[p]
                for kk in range(lo, hi):
                    delta = c * np.float64(data[kk])
                    j = indices[kk]
                    W[j, 0] += delta
                    if averaging:
                        avg_W[j, 0] -= beta * delta
                if fit_intercept:
                    b_local -= eta * r
            since += 1
            if since >= flush:
                b[0] += b_local
                b_local = 0.0
                since = 0
            if averaging and t_start + p + 1.0 >= average_start:
                b_sum += b[0] + b_local
                n_avg += 1.0
        b[0] += b_local
        parts[k, 0] += loss_sum
        parts[k, 1] += b_sum
        parts[k, 2] += n_avg


@njit(**_JIT)
def _scale_weights(W, avg_W, beta, factor):
    d, K = W.shape
    averaging = avg_W.shape[0] > 0
    for j in range(d):
        for k in range(K):
            if averaging:
                avg_W[j, k] += beta * W[j, k]
            W[j, k] *= factor


def sgd_epoch_hogwild_csr(data, indices, indptr, Y, s, order, W, b, avg_W, avg_b, q, state,
                          schedule, eta0, power_t, alpha, t0, lam2, lam1, fit_intercept,
                          average_start, n_threads):
    """Lock-free parallel SGD epoch (binary, no L1) over CSR rows; NOT deterministic.

    Same arguments and result as :func:`sgd_epoch_csr`; with ``n_threads == 1`` it equals the
    sequential epoch to rounding.
    """
    return hogwild_epoch(_plan, _hogwild_segment, _scale_weights, numba_threads, data, indices,
                         indptr, Y, s, order, W, b, avg_W, avg_b, state, schedule, eta0,
                         power_t, alpha, t0, lam2, fit_intercept, average_start, n_threads)
