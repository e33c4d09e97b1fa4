"""Solvers: functions over an Objective, registered in SOLVERS.

Every solver has the signature::

    solver(objective, theta0, *, tol=1e-4, max_iter=100, callback=None, verbose=0,
           random_state=None, **options) -> SolverResult

and the deterministic ones stop at ``||grad F||_inf <= tol * max(1, ||grad F(theta0)||_inf)``
(:mod:`fastlogit.solvers._result`), warning with :class:`ConvergenceWarning` otherwise.

=================  ==========================================================  ============
name               method                                                      penalties
=================  ==========================================================  ============
newton-cholesky    Newton, dense Hessian (gram kernel) + Cholesky, line search  l2, None
newton-cg          truncated Newton, PCG on hessp, line search                  l2, None
trust-region       TRON-style trust-region Newton-CG                            l2, None
lbfgs              L-BFGS (compact form, Armijo on margins) on value_grad       l2, None
l1                 proximal Newton (CD / FISTA inner solver), exact zeros       all
sgd                SGD, compiled epochs: schedules, averaging, lazy L2, Hogwild all
minibatch          mini-batch SGD over row blocks (fused loss_grad), averaging  all
=================  ==========================================================  ============

The stochastic solvers (sgd, minibatch) count epochs in ``max_iter`` and also stop when F
stalls (``tol`` relative, ``n_iter_no_change`` epochs); see their modules.
"""
import numpy as np

from ._result import ConvergenceWarning, SolverResult
from .l1 import l1_newton
from .lbfgs import lbfgs
from .newton import newton_cg, newton_cholesky, trust_region

__all__ = ["SOLVERS", "SMOOTH_ONLY", "ConvergenceWarning", "SolverResult", "choose_solver",
           "check_solver", "solve"]

SOLVERS = {
    "newton-cholesky": newton_cholesky,
    "newton-cg": newton_cg,
    "trust-region": trust_region,
    "lbfgs": lbfgs,
    "l1": l1_newton,
}

# ---- stochastic solvers (owned by the SGD developer): register "sgd" / "minibatch" here ----
from .minibatch import minibatch  # noqa: E402
from .sgd import sgd  # noqa: E402

SOLVERS["sgd"] = sgd
SOLVERS["minibatch"] = minibatch
# ---- end of stochastic solvers ----

#: Solvers that only handle a smooth objective (no L1 part).
SMOOTH_ONLY = ("newton-cholesky", "newton-cg", "trust-region", "lbfgs")

#: Largest n_params for which choose_solver picks the dense Cholesky Newton solver.
CHOLESKY_MAX_PARAMS = 1000


def check_solver(name, objective):
    """Raise ValueError with a clear message for an unknown solver or unsupported penalty."""
    if name not in SOLVERS:
        raise ValueError(f"unknown solver {name!r}; choose one of "
                         + ", ".join(map(repr, sorted(SOLVERS))))
    if objective.l1_strength and name in SMOOTH_ONLY:
        raise ValueError(f"solver {name!r} does not support penalty={objective.penalty!r} "
                         f"with an L1 part; use solver='l1'")
    return SOLVERS[name]


def choose_solver(objective):
    """The deterministic solver name we expect to be fastest for this objective's shape.

    L1 part -> "l1"; at most CHOLESKY_MAX_PARAMS parameters (binary) -> "newton-cholesky"
    (cheap gram + O(p^3) factorisation, quadratic convergence); more than twice as many
    features as samples -> "lbfgs"; otherwise the TRON-style "trust-region" (hessp passes
    only).  Measured (benchmarks/solver_race.py, time to 1e-6 suboptimality, second session):
    lbfgs beat trust-region 1.9x on news20 binary (62061 features, 15935 rows) and on
    rcv1_small (1000 rows); trust-region beat lbfgs 1.5x on reuters (8315 features, 7770
    rows).  In the third session's race: news20 lbfgs 1.25x faster, rcv1_small trust-region
    1.45x faster (4 ms fits, within this machine's noise), reuters trust-region 1.6x.
    """
    if objective.l1_strength:
        return "l1"
    if objective.n_params <= CHOLESKY_MAX_PARAMS and objective.n_classes == 1:
        return "newton-cholesky"
    if objective.n_features > 2 * objective.n_samples:
        return "lbfgs"
    return "trust-region"


def solve(objective, solver="auto", theta0=None, *, callback=None, **options):
    """Run ``SOLVERS[solver]`` ("auto": :func:`choose_solver`) from ``theta0`` (zeros).

    The entry point of the estimator and the benchmarks.  When a sparse X leaves many columns
    empty, the solver runs on :meth:`Objective.compact_columns` (exact: those coefficients
    are set to their optimum, 0, or kept from ``theta0`` where nothing penalises them) and
    the result is mapped back, so ``result.theta``, the callback's theta and the history are
    those of the full problem.  ``result.solver`` names the solver that ran.
    """
    theta0 = np.zeros(objective.n_params) if theta0 is None else np.asarray(
        theta0, dtype=np.float64).reshape(-1)
    compact = objective.compact_columns() if hasattr(objective, "compact_columns") else None
    inner, keep = compact if compact is not None else (objective, None)
    name = choose_solver(inner) if solver == "auto" else solver
    run = check_solver(name, objective)
    if keep is None:
        result = run(objective, theta0, callback=callback, **options)
    else:
        full = theta0.copy()
        if objective.l1_strength or objective.l2_strength:
            full[objective.penalized_mask()] = 0.0

        def _expanded(theta_c):
            theta = full.copy()
            theta[keep] = theta_c
            return theta

        inner_cb = None if callback is None else (lambda theta_c: callback(_expanded(theta_c)))
        result = run(inner, theta0[keep], callback=inner_cb, **options)
        result.theta = _expanded(result.theta)
    result.solver = name
    return result
