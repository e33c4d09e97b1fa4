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
lbfgs              SciPy L-BFGS-B on value_grad                                 l2, None
l1                 proximal Newton (CD / FISTA inner solver), exact zeros       all
sgd                SGD, compiled epochs: schedules, averaging, lazy L2, Hogwild all
minibatch          mini-batch SGD over row blocks (fused loss_grad), averaging  all
=================  ==========================================================  ============

The stochastic solvers (sgd, minibatch) count epochs in ``max_iter`` and also stop when F
stalls (``tol`` relative, ``n_iter_no_change`` epochs); see their modules.
"""
from ._result import ConvergenceWarning, SolverResult
from .l1 import l1_newton
from .lbfgs import lbfgs
from .newton import newton_cg, newton_cholesky, trust_region

__all__ = ["SOLVERS", "SMOOTH_ONLY", "ConvergenceWarning", "SolverResult", "choose_solver",
           "check_solver"]

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
    (cheap gram + O(p^3) factorisation, quadratic convergence); otherwise the TRON-style
    "trust-region" (hessp passes only).
    """
    if objective.l1_strength:
        return "l1"
    if objective.n_params <= CHOLESKY_MAX_PARAMS and objective.n_classes == 1:
        return "newton-cholesky"
    return "trust-region"
