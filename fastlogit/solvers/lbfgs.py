"""L-BFGS on the smooth objective through SciPy's L-BFGS-B (binary and multinomial).

SciPy's ``gtol`` is a bound on the inf-norm of the projected gradient, which for an
unconstrained problem is exactly the stopping rule of :mod:`fastlogit.solvers._result`::

    ||grad F(theta)||_inf <= tol * max(1, ||grad F(theta_0)||_inf)

``ftol`` (relative f decrease) defaults to 0 so that it does not stop the run
first; if SciPy stops for another reason the result says so and a ConvergenceWarning is raised.
Each SciPy iteration costs one or more fused value+gradient passes (``objective.value_grad``).
"""
import numpy as np
from scipy import optimize

from ._result import (History, SolverResult, single_threaded_blas, stopping_threshold,
                      warn_not_converged)
from .newton import _check_smooth, _start

__all__ = ["lbfgs"]


class _Stop(Exception):
    pass


@single_threaded_blas
def lbfgs(objective, theta0, *, tol=1e-4, max_iter=100, callback=None, verbose=0,
          random_state=None, m=20, ftol=None, max_ls=50):
    """Minimise the smooth objective with L-BFGS (``m`` correction pairs)."""
    name = "lbfgs"
    _check_smooth(objective, name)
    theta = _start(objective, theta0)
    hist = History(callback, verbose, name)
    f, g = objective.value_grad(theta)
    gnorm = float(np.abs(g).max())
    thr = stopping_threshold(tol, gnorm)
    if hist.record(theta, f, gnorm) or gnorm <= thr:
        return SolverResult(theta, 0, gnorm <= thr, "converged" if gnorm <= thr else
                            "stopped by callback", hist.as_dict(), dict(getattr(objective, "n_evals", {})))
    state = {"it": 0, "theta": theta, "stopped": False}

    def on_iter(xk):
        fk, gk = objective.value_grad(xk)  # cached: the last accepted point
        state["it"] += 1
        state["theta"] = np.array(xk)
        stop = hist.record(state["theta"], fk, float(np.abs(gk).max()))
        if stop:
            state["stopped"] = True
            raise _Stop

    ftol = 0.0 if ftol is None else ftol
    try:
        res = optimize.minimize(
            objective.value_grad, theta, method="L-BFGS-B", jac=True, callback=on_iter,
            options={"maxcor": m, "maxiter": max_iter, "gtol": thr, "ftol": ftol,
                     "maxls": max_ls, "maxfun": 20 * max_iter + 50})
        theta = np.asarray(res.x, dtype=np.float64)
        scipy_message = str(res.message)
    except _Stop:
        theta = state["theta"]
        scipy_message = "stopped by callback"
    f, g = objective.value_grad(theta)
    gnorm = float(np.abs(g).max())
    converged = gnorm <= thr
    it = state["it"]
    message = "converged" if converged else f"stopped: {scipy_message}"
    if not converged and not state["stopped"]:
        message = warn_not_converged(name, gnorm, thr, it, scipy_message)
    return SolverResult(theta, it, converged, message, hist.as_dict(), dict(getattr(objective, "n_evals", {})))
