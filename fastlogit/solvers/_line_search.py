"""Backtracking (Armijo) line search for the smooth part of an Objective.

The first trial, the full step t = 1, is evaluated with ``objective.value_grad``: it is one
fused pass over X and, when accepted (the usual case for Newton steps), its gradient is the one
the next iteration needs anyway.  Only when it is rejected are the margins along the direction
computed (:meth:`fastlogit.objective.Objective.line`, two passes) so that every further trial
costs O(n) instead of a pass over X (scikit-learn's Newton solver does the same in
raw-prediction space).  Trial lengths come from safeguarded quadratic interpolation.

Acceptance (sufficient decrease)::

    f(theta + t d) <= f(theta) + c1 * t * g.d

with a round-off guard near the optimum: a step whose f change is within a few ulps of f is
accepted when it does not increase the gradient norm.
"""
import numpy as np
from numba import njit, prange

from .._config import kernel_threads
from ..kernels.numba_impl import numba_threads

__all__ = ["armijo"]

#: Parameters per chunk of the compiled trial-point pass (chunks are shared between threads).
STEP_CHUNK = 1 << 16

_EPS = np.finfo(np.float64).eps


@njit(parallel=True, cache=True, nogil=True)
def _step_par(theta, t, d, out):
    n = theta.size
    for c in prange((n + STEP_CHUNK - 1) // STEP_CHUNK):
        for i in range(c * STEP_CHUNK, min(n, (c + 1) * STEP_CHUNK)):
            out[i] = theta[i] + t * d[i]


def _step(theta, t, d, n_threads=1):
    """A new array ``theta + t * d``, the bits of NumPy's ``theta + t * d`` (elementwise, no
    fused multiply-add): one allocation, and for large theta one compiled pass shared by the
    kernels' threads (their cost model, ``n_threads`` as the objective's)."""
    n = theta.size
    threads = kernel_threads(n_threads, -(-n // STEP_CHUNK), n, 0) if n > STEP_CHUNK else 1
    out = np.empty_like(theta)
    if threads > 1:
        with numba_threads(threads):
            _step_par(theta, float(t), d, out)
        return out
    np.multiply(d, t, out=out)
    out += theta
    return out


def _within_roundoff(f_new, f):
    return abs(f_new - f) <= 64 * _EPS * max(1.0, abs(f))


def armijo(objective, theta, f, g, d, *, t0=1.0, c1=1e-4, max_backtracks=40, z=None,
           slope=None, trial=None):
    """Armijo backtracking along ``d`` from ``theta``.

    Parameters
    ----------
    objective : Objective
    theta, g, d : ndarray (n_params,)
        Point, gradient of the smooth part there, search direction (a descent direction).
    f : float
        Smooth part at theta.
    t0 : float
        First step length tried.
    z : ndarray or None
        Margins at theta if the caller has them (saves a pass when backtracking).
    slope : float or None
        ``g @ d`` if the caller has it (L-BFGS's direction pass returns it): saves one dot
        over the parameters; None computes it.
    trial : ndarray (n_params,) or None
        ``theta + t0 * d`` if the caller has it (L-BFGS's direction pass writes
        ``theta + d`` in the same sweep as d): the first trial point, not built again; it
        must be a new array (it is returned as ``theta_new`` when accepted).  None builds it.

    Returns
    -------
    t, theta_new, f_new, g_new : float, ndarray, float, ndarray
        ``t == 0`` (and the inputs returned) when no acceptable step was found.
    """
    slope = float(g @ d) if slope is None else float(slope)
    if not slope < 0:
        return 0.0, theta, f, g
    t = float(t0)
    threads = getattr(objective, "n_threads", 1)
    theta_t = _step(theta, t, d, threads) if trial is None else trial
    f_t, g_t = objective.value_grad(theta_t)
    if f_t <= f + c1 * t * slope:
        return t, theta_t, f_t, g_t
    if _within_roundoff(f_t, f) and np.abs(g_t).max() <= np.abs(g).max():
        return t, theta_t, f_t, g_t
    line = objective.line(theta, d, z=z)
    for _ in range(max_backtracks):
        denom = 2.0 * (f_t - f - slope * t)
        t_new = -slope * t * t / denom if denom > 0 else 0.5 * t
        t = float(np.clip(t_new, 0.1 * t, 0.5 * t)) if np.isfinite(t_new) else 0.5 * t
        f_t = line.value(t)
        if f_t <= f + c1 * t * slope or (_within_roundoff(f_t, f) and t < 1e-3):
            theta_t = _step(theta, t, d, threads)
            f_t, g_t = objective.value_grad(theta_t)
            if f_t <= f + c1 * t * slope or _within_roundoff(f_t, f):
                return t, theta_t, f_t, g_t
    return 0.0, theta, f, g
