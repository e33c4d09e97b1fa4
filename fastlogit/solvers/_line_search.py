"""Line searches for the smooth part of an Objective: backtracking (Armijo), or a step near
the line's minimum.

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

:func:`minimizing_step` shares the first trial and the acceptance test but, when the full
step is rejected, looks for a step near the line's minimum (halvings to bracket it, then
golden-section steps on the same O(n) line values) instead of the first acceptable
backtracked length; it falls back to :func:`armijo` when that step fails the test.
"""
import math

import numpy as np
from numba import njit, prange

from .._config import kernel_threads
from ..kernels.numba_impl import numba_threads

__all__ = ["armijo", "minimizing_step"]

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


#: Golden-section steps of :func:`_line_minimum` after its bracket is found.
LINE_MIN_STEPS = 12

_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


def _line_minimum(line, f, f_full, max_halvings=60, steps=LINE_MIN_STEPS):
    """A step length near the minimiser of phi(t) = f(theta + t d) on (0, 1), for a line
    where the full step does not decrease f enough (phi(1) = ``f_full``).

    t is halved from 1 until phi is below ``f`` = phi(0) and rises again at the next
    halving (or t reaches 2**-max_halvings); the minimiser then lies between the last two
    halvings' neighbours, and ``steps`` golden-section steps narrow that bracket.  Each
    trial is one ``line.value`` (:meth:`fastlogit.objective.Objective.line`: O(n + p), no
    pass over X).

    Returns
    -------
    (t, phi(t)) : (float, float)
        The lowest trial; t = 0.0 (and ``f``) when no trial went below ``f``.
    """
    ts, fs = [1.0], [f_full]
    t = 1.0
    for _ in range(max_halvings):
        t *= 0.5
        ts.append(t)
        fs.append(line.value(t))
        if fs[-1] < f and fs[-2] <= fs[-1]:
            break
    i = min(range(len(fs)), key=fs.__getitem__)
    if not fs[i] < f:
        return 0.0, f
    lo = ts[i + 1] if i + 1 < len(ts) else 0.0
    hi = ts[i - 1] if i > 0 else ts[i]
    best_t, best_f = ts[i], fs[i]
    a, b = lo, hi
    x1, x2 = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
    f1, f2 = line.value(x1), line.value(x2)
    for _ in range(steps):
        if f1 < f2:
            b, x2, f2 = x2, x1, f1
            x1 = b - _GOLDEN * (b - a)
            f1 = line.value(x1)
        else:
            a, x1, f1 = x1, x2, f2
            x2 = a + _GOLDEN * (b - a)
            f2 = line.value(x2)
    for x, fx in ((x1, f1), (x2, f2)):
        if fx < best_f:
            best_t, best_f = x, fx
    return best_t, best_f


def minimizing_step(objective, theta, f, g, d, c1=1e-4):
    """Like :func:`armijo` (same return values, the same
    first trial t = 1 by ``value_grad`` and the same acceptance), but a rejected full step
    is followed by :func:`_line_minimum` on the line instead of backtracking: an inexact
    Newton direction far from the optimum of a nearly separable problem can be many times
    too long, and backtracking then accepts the first length that decreases f enough,
    often far short of the line's minimum, step after step.  Falls back to ``armijo`` when
    the minimum found does not pass Armijo's test."""
    slope = float(g @ d)
    if not slope < 0:
        return 0.0, theta, f, g
    threads = getattr(objective, "n_threads", 1)
    theta_t = _step(theta, 1.0, d, threads)
    f_t, g_t = objective.value_grad(theta_t)
    if f_t <= f + c1 * slope or (_within_roundoff(f_t, f)
                                 and np.abs(g_t).max() <= np.abs(g).max()):
        return 1.0, theta_t, f_t, g_t
    theta_t = g_t = None
    t, phi = _line_minimum(objective.line(theta, d), f, f_t)
    if t > 0.0 and phi <= f + c1 * t * slope:
        theta_t = _step(theta, t, d, threads)
        f_t, g_t = objective.value_grad(theta_t)
        if f_t <= f + c1 * t * slope:
            return t, theta_t, f_t, g_t
    return armijo(objective, theta, f, g, d)
