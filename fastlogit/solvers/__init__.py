"""Solvers: functions over an Objective, each declaring what it needs, registered in SOLVERS.

Every solver has the signature::

    solver(objective, theta0, *, tol=1e-4, max_iter=100, callback=None, verbose=0,
           random_state=None, **options) -> SolverResult

and the deterministic ones stop at ``||grad F||_inf <= tol * max(1, ||grad F(0)||_inf)`` (the
reference gradient at theta = 0 does not depend on the starting point, so warm starts pay)
(:mod:`fastlogit.solvers._result`), warning with :class:`ConvergenceWarning` otherwise.
They also take ``min_iter=0``: steps taken before that rule may end the fit, unless the
start's measure is within the rule's floor ``tol``
(:func:`fastlogit.solvers._result.threshold_after`; a regularisation path passes 1).

Each solver carries a :class:`fastlogit.contract.SolverInfo` (``@declare`` in its module):
the objective methods it calls, whether it handles a penalty with an L1 part, whether it
needs a convex loss, whether it is stochastic.  :func:`solvers_for` and :func:`check_solver`
derive every list of valid solvers (estimators, CLI, Dask) from those declarations.

=================  ==========================================================  ============
name               method                                                      penalties
=================  ==========================================================  ============
newton-cholesky    Newton, dense Hessian (gram kernel) + Cholesky, line search  smooth
newton-cg          truncated Newton, PCG on hessp, line search                  smooth
trust-region       TRON-style trust-region Newton-CG                            smooth
lbfgs              L-BFGS (compact form, Armijo on margins) on value_grad       smooth
l1                 proximal Newton: CD on working sets (else FISTA), zeros     all
sgd                SGD, compiled epochs: schedules, averaging, lazy L2, Hogwild all
minibatch          mini-batch SGD over row blocks (fused loss_grad), averaging  all
=================  ==========================================================  ============

The stochastic solvers (sgd, minibatch) count epochs in ``max_iter`` and run on
:mod:`fastlogit.stochastic`'s one driver (its stopping rule and restarts); see that module.
"""
import numpy as np

from .. import stochastic as _stochastic
from ._result import ConvergenceWarning, SolverResult
from .l1 import l1_newton
from .lbfgs import lbfgs
from .minibatch import minibatch
from .newton import newton_cg, newton_cholesky, trust_region
from .sgd import sgd

__all__ = ["SOLVERS", "INFO", "ConvergenceWarning", "SolverResult", "choose_solver",
           "check_solver", "solve", "solvers_for", "objective_capabilities", "why_not"]

#: Every solver, by the name its declaration (``solver.info``, a
#: :class:`fastlogit.contract.SolverInfo`) gives.
SOLVERS = {f.info.name: f for f in (newton_cholesky, newton_cg, trust_region, lbfgs, l1_newton,
                                    sgd, minibatch)}
#: The declarations, by name.
INFO = {name: f.info for name, f in SOLVERS.items()}


def objective_capabilities(objective):
    """What an objective offers solvers: ``(methods, nonsmooth, convex)``.

    ``methods``: the :data:`fastlogit.contract.SOLVER_METHODS` it implements (``row_blocks``
    when the stochastic driver can stream its rows: :func:`fastlogit.stochastic.supports`,
    in memory or chunked); ``nonsmooth``: its penalty has an L1 part; ``convex``: its data
    term is convex (Newton steps are safe).
    """
    data = getattr(objective, "data", objective)
    methods = {"value", "value_grad", "hessp", "hess_diag", "hessian", "line", "margins",
               "prox", "min_norm_subgradient"}
    if _stochastic.supports(data):
        methods.add("row_blocks")
    return (frozenset(methods), bool(objective.l1_strength),
            bool(getattr(data, "is_convex", True)))


def why_not(name, capabilities):
    """None when solver ``name`` runs on an objective with ``capabilities`` (the triple of
    :func:`objective_capabilities`: methods, nonsmooth, convex), else the reason in words
    ("does not handle a penalty with an L1 part", ...).  For fronts that must refuse a solver
    before building the objective (Dask: before the data reach the workers)."""
    if name not in INFO:
        return f"is not a solver (choose one of {', '.join(map(repr, sorted(SOLVERS)))})"
    return _why_not(INFO[name], capabilities)


def _why_not(info, capabilities):
    methods, nonsmooth, convex = capabilities
    if nonsmooth and not info.nonsmooth:
        return "does not handle a penalty with an L1 part"
    if info.convex_only and not convex:
        return "needs a convex loss (Newton steps)"
    missing = info.needs - methods
    if missing:
        return f"needs {', '.join(sorted(missing))}, which this data does not offer"
    return None


def solvers_for(objective=None, *, nonsmooth=False, convex=True, methods=None):
    """Names of the solvers that run on ``objective`` (or on the capabilities given as
    keywords), sorted.  Every front's list of valid solvers comes from here.

    Parameters
    ----------
    objective : Objective, default=None
        The objective (any data term); its capabilities come from
        :func:`objective_capabilities` and the keywords are ignored.  None: the keywords
        describe the objective.
    nonsmooth : bool, default=False
        The penalty has an L1 part (only solvers declaring ``nonsmooth`` qualify).
    convex : bool, default=True
        The loss is convex (False excludes the solvers declaring ``convex_only``).
    methods : iterable of str, default=None
        The objective methods offered (:data:`fastlogit.contract.SOLVER_METHODS`); None:
        every method any solver needs (an in-memory objective).

    Returns
    -------
    list of str
        The solver names, sorted.

    Examples
    --------
    >>> from fastlogit.solvers import solvers_for
    >>> "newton-cg" in solvers_for(), solvers_for(nonsmooth=True)
    (True, ['l1', 'minibatch', 'sgd'])
    """
    if objective is not None:
        caps = objective_capabilities(objective)
    else:
        all_methods = frozenset(m for info in INFO.values() for m in info.needs)
        caps = (all_methods if methods is None else frozenset(methods), nonsmooth, convex)
    return sorted(name for name, info in INFO.items() if _why_not(info, caps) is None)


#: Largest n_params for which choose_solver picks the dense Cholesky Newton solver.
CHOLESKY_MAX_PARAMS = 1000


def check_solver(name, objective):
    """The solver function for ``name``; ValueError with a clear message for an unknown
    solver or one whose declaration does not cover this objective."""
    if name not in SOLVERS:
        raise ValueError(f"unknown solver {name!r}; choose one of "
                         + ", ".join(map(repr, sorted(SOLVERS))))
    why = _why_not(INFO[name], objective_capabilities(objective))
    if why is not None:
        valid = ", ".join(map(repr, solvers_for(objective)))
        raise ValueError(f"solver {name!r} does not support penalty={objective.penalty.name!r} "
                         f"on this objective: it {why}; use one of {valid}")
    return SOLVERS[name]


def choose_solver(objective):
    """The deterministic solver name we expect to be fastest for this objective's shape.

    L1 part -> "l1"; at most CHOLESKY_MAX_PARAMS parameters (binary) -> "newton-cholesky"
    (cheap gram + O(p^3) factorisation, quadratic convergence); softmax (n_classes > 1) or
    more than twice as many features as samples -> "lbfgs"; otherwise the TRON-style
    "trust-region" (hessp passes only).  The binary shape rule is what timed fastest to 1e-6
    suboptimality in benchmarks/solver_race.py on the shared sets (figures in
    benchmarks/results/NOTES.md); for softmax, L-BFGS took the fewest passes and least CPU
    to 1e-6 on news20 both as it is (d > 2n) and cut to its 2000 most frequent columns
    (n > 2d), against newton-cg and trust-region (benchmarks/results/softmax_race.md).

    Parameters
    ----------
    objective : Objective
        The objective to solve (its ``l1_strength``, ``n_params``, ``n_classes``,
        ``n_features`` and ``n_samples`` decide).

    Returns
    -------
    str
        ``"l1"``, ``"newton-cholesky"``, ``"lbfgs"`` or ``"trust-region"``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.objective import Objective
    >>> from fastlogit.solvers import choose_solver
    >>> X, y = np.ones((10, 3)), np.r_[np.zeros(5), np.ones(5)]
    >>> choose_solver(Objective(X, y)), choose_solver(Objective(X, y, penalty="l1"))
    ('newton-cholesky', 'l1')
    >>> choose_solver(Objective(np.ones((10, 2000)), y))  # wide: more features than samples
    'lbfgs'
    """
    if objective.l1_strength:
        return "l1"
    if objective.n_params <= CHOLESKY_MAX_PARAMS and objective.n_classes == 1:
        return "newton-cholesky"
    if objective.n_classes > 1 or objective.n_features > 2 * objective.n_samples:
        return "lbfgs"
    return "trust-region"


def solve(objective, solver="auto", theta0=None, *, callback=None, **options):
    """Run ``SOLVERS[solver]`` ("auto": :func:`choose_solver`) from ``theta0`` (zeros).

    The entry point of the estimator and the benchmarks.  When a sparse X leaves many columns
    empty, the solver runs on :meth:`Objective.compact_columns` (exact: those coefficients
    are set to their optimum, 0, or kept from ``theta0`` where nothing penalises them) and
    the result is mapped back, so ``result.theta``, the callback's theta and the history are
    those of the full problem.  ``result.solver`` names the solver that ran.

    Parameters
    ----------
    objective : Objective
        The objective to minimise (in memory, chunked, Dask, or over any data term).
    solver : str, default="auto"
        A name of :data:`SOLVERS` or "auto" (:func:`choose_solver`, on the compacted
        columns).  An unknown name, or a solver whose declaration does not cover the
        objective (e.g. "lbfgs" with an L1 part), raises ValueError naming the valid ones.
    theta0 : array-like of shape (n_params,), default=None
        Starting point; None starts from zeros.
    callback : callable, default=None
        ``callback(theta)`` after each iteration (theta of the full problem); returning
        True stops the solver.
    **options : dict
        The solver's keyword arguments: ``tol``, ``max_iter``, ``verbose``,
        ``random_state`` and its own options (see each solver).

    Returns
    -------
    SolverResult
        The outcome, ``result.solver`` set.  A solver that stops short of its rule warns
        with :class:`ConvergenceWarning`.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.objective import Objective
    >>> from fastlogit.solvers import solve
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 3))
    >>> y = (X[:, 0] + 0.5 * rng.normal(size=100) > 0).astype(float)
    >>> objective = Objective(X, y, C=1.0)
    >>> a = solve(objective, "auto", tol=1e-10)
    >>> b = solve(objective, "lbfgs", tol=1e-10)
    >>> a.solver, bool(np.allclose(a.theta, b.theta, atol=1e-6))
    ('newton-cholesky', True)
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
        if options.get("inactive") is not None:  # l1's per-feature mask, to the kept columns
            rows = keep.reshape(objective.n_classes, -1)[0, :objective.n_features]
            options = dict(options, inactive=np.asarray(options["inactive"])[rows]
                           if np.shape(options["inactive"]) == rows.shape
                           else options["inactive"])
        result = run(inner, theta0[keep], callback=inner_cb, **options)
        result.theta = _expanded(result.theta)
    result.solver = name
    return result
