"""Proximal Newton for L1 and elastic-net penalties (binary and multinomial).

Outer iteration (newGLMNET-style, Yuan, Ho & Lin 2012): at theta, with f, g and H of the
smooth part (the L2 share of an elastic net lives there), solve the penalised quadratic model

    min_u  g.(u - theta) + 1/2 (u - theta)^T H (u - theta) + lam ||u_w||_1

inexactly, then line-search F along d = u - theta with the composite Armijo rule

    F(theta + t d) <= F(theta) + sigma t Delta,   Delta = g.d + lam (||u_w||_1 - ||theta_w||_1).

The inner solver is cyclic coordinate descent with soft-thresholding on the dense Hessian
(objective.hessian) when n_params is small (``dense_max``), else FISTA with restarts on
``objective.hessp`` (one kernel pass per inner iteration).  Both produce exact zeros; a full
step (t = 1, the rule near the optimum) keeps them.  Intercepts are never penalised.

Stopping rule: the minimum-norm subgradient of F, ``||grad F||_inf`` below
``tol * max(1, ||grad F(theta_0)||_inf)`` (see :mod:`fastlogit.solvers._result`).
"""
import numpy as np

from ..contract import declare
from ._result import (History, SolverResult, single_threaded_blas, stopping_threshold,
                      warn_not_converged)

__all__ = ["l1_newton", "min_norm_subgradient"]

_EPS = np.finfo(np.float64).eps


def min_norm_subgradient(g, theta, lam):
    """Minimum-norm element of grad f + lam * d||.||_1 (lam per coordinate, 0 = unpenalised)."""
    out = g.copy()
    nz = theta != 0
    out[nz] += lam[nz] * np.sign(theta[nz])
    z = ~nz & (lam > 0)
    out[z] = np.sign(g[z]) * np.maximum(np.abs(g[z]) - lam[z], 0.0)
    return out


def _soft(x, t):
    return np.sign(x) * np.maximum(np.abs(x) - t, 0.0)


def _cd_dense(H, g, theta, lam, tol, max_sweeps):
    """Coordinate descent on the model with dense H; returns u."""
    p = g.shape[0]
    u = theta.copy()
    Hd = np.zeros(p)
    diag = np.diag(H).copy()
    order = np.flatnonzero(diag > 0)
    active = order
    for sweep in range(max_sweeps):
        worst = 0.0
        for j in active:
            hjj = diag[j]
            gj = g[j] + Hd[j]
            uj = u[j]
            z = uj - gj / hjj
            lj = lam[j]
            if lj > 0:
                new = z - lj / hjj if z > lj / hjj else (z + lj / hjj if z < -lj / hjj else 0.0)
            else:
                new = z
            delta = new - uj
            if delta != 0.0:
                u[j] = new
                Hd += delta * H[j]
                step = abs(delta) * hjj
                if step > worst:
                    worst = step
        if worst <= tol:
            if active is order:
                break
            active = order  # confirm on a full sweep
        elif sweep >= 1 and active is order:
            # restrict to the non-zero / unpenalised coordinates until they settle
            active = order[(u[order] != 0) | (lam[order] == 0)]
            if active.size == 0:
                active = order
    return u


def _fista(hv, g, theta, lam, L, tol, max_iter):
    """FISTA with function-value restarts on the model with Hessian products ``hv``."""
    u = theta.copy()
    y = u.copy()
    tk = 1.0
    step = 1.0 / L
    for _ in range(max_iter):
        grad = g + hv(y - theta)
        u_new = y - step * grad
        pen = lam > 0
        u_new[pen] = _soft(u_new[pen], step * lam[pen])
        move = u_new - y
        if float(np.abs(move).max()) * L <= tol:
            u = u_new
            break
        if float(grad @ (u_new - u)) > 0:  # restart (O'Donoghue & Candes)
            tk = 1.0
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * tk * tk))
        y = u_new + ((tk - 1.0) / t_new) * (u_new - u)
        u, tk = u_new, t_new
    return u


def _lipschitz(hv, p, rng, n_iter=30):
    v = rng.standard_normal(p)
    v /= np.linalg.norm(v)
    lam = 0.0
    for _ in range(n_iter):
        w = hv(v)
        lam_new = float(np.linalg.norm(w))
        if lam_new == 0:
            return 1.0
        v = w / lam_new
        if abs(lam_new - lam) <= 1e-3 * lam_new:
            lam = lam_new
            break
        lam = lam_new
    return 1.1 * lam


@declare("l1", needs={"value_grad", "hessian", "hessp", "line"}, nonsmooth=True,
         convex_only=True)
@single_threaded_blas
def l1_newton(objective, theta0, *, tol=1e-4, max_iter=100, callback=None, verbose=0,
              random_state=None, dense_max=1500, max_inner=None, sigma=1e-4):
    """Proximal Newton for penalty "l1" / "elasticnet" (also runs for "l2" / None)."""
    name = "l1"
    theta = np.array(theta0, dtype=np.float64).reshape(-1)
    if theta.shape != (objective.n_params,):
        raise ValueError(f"theta0 must have {objective.n_params} entries, got {theta.size}")
    lam = objective.l1_strength * objective.penalized_mask().astype(np.float64)
    dense = objective.n_params <= dense_max
    rng = np.random.default_rng(0 if random_state is None else random_state)
    hist = History(callback, verbose, name)
    f, g = objective.value_grad(theta)
    F = f + float(lam @ np.abs(theta))
    sub = min_norm_subgradient(g, theta, lam)
    gnorm = float(np.abs(sub).max())
    thr = stopping_threshold(tol, gnorm)
    gnorm0 = max(1.0, gnorm)
    if hist.record(theta, F, gnorm):
        return SolverResult(theta, 0, gnorm <= thr, "stopped by callback", hist.as_dict(),
                            dict(getattr(objective, "n_evals", {})))
    it, message, L = 0, "max_iter reached", None
    while gnorm > thr and it < max_iter:
        it += 1
        inner_tol = min(0.1, np.sqrt(gnorm / gnorm0)) * gnorm
        if dense:
            H = objective.hessian(theta)
            u = _cd_dense(H, g, theta, lam, inner_tol, max_inner or 1000)
        else:
            th = theta

            def hv(v):
                return objective.hessp(th, v)

            L = _lipschitz(hv, theta.shape[0], rng) if L is None or it % 5 == 1 else L
            u = _fista(hv, g, theta, lam, L, inner_tol, max_inner or 500)
        d = u - theta
        # the L1 change as one sum of per-coordinate differences: the difference of the two
        # norms cancels catastrophically near the optimum, where delta ~ ||g||^2 is tiny
        delta = float(g @ d) + float(lam @ (np.abs(u) - np.abs(theta)))
        if not delta < 0:
            if gnorm <= thr:
                break
            message = "no descent direction from the quadratic model"
            break
        # composite Armijo: first trial is the fused pass the next iteration reuses
        f1, g1 = objective.value_grad(u)
        F1 = f1 + float(lam @ np.abs(u))
        roundoff = abs(F1 - F) <= 64 * _EPS * max(1.0, abs(F))
        if F1 <= F + sigma * delta or roundoff:
            theta, f, g, F = u, f1, g1, F1
        else:
            line = objective.line(theta, d)
            t, ok = 1.0, False
            for _ in range(40):
                t *= 0.5
                cand = theta + t * d
                Ft = line.value(t) + float(lam @ np.abs(cand))
                if Ft <= F + sigma * t * delta:
                    ok = True
                    break
            if not ok:
                message = "line search failed"
                break
            theta = cand
            f, g = objective.value_grad(theta)
            F = f + float(lam @ np.abs(theta))
        sub = min_norm_subgradient(g, theta, lam)
        gnorm = float(np.abs(sub).max())
        if hist.record(theta, F, gnorm):
            return SolverResult(theta, it, gnorm <= thr, "stopped by callback", hist.as_dict(),
                                dict(getattr(objective, "n_evals", {})))
    converged = gnorm <= thr
    if not converged:
        message = warn_not_converged(name, gnorm, thr, it, message)
    return SolverResult(theta, it, converged, "converged" if converged else message,
                        hist.as_dict(), dict(getattr(objective, "n_evals", {})))
