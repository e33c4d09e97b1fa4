"""Regularisation paths and cross-validated logistic regression, with warm starts that pay.

:func:`regularization_path` fits one model per C of a grid on the same data: the data are
validated once, the columns a sparse X never uses are dropped once
(:meth:`fastlogit.objective.Objective.compact_columns`), one
:class:`~fastlogit.objective.Objective` serves every C (``objective.C`` is a plain attribute,
F = C L + R, and the data term's cache holds the unscaled L, so it stays valid), the grid is
walked from the strongest penalty (smallest C) up, the first fit starts at the
intercept-only optimum and each later one at the previous C's solution or, unless F is
known to be no lower there, at its extrapolation along the path (:func:`warm_path`).  The
stopping rule of the deterministic solvers is relative to ``||grad F(0)||_inf``
(:mod:`fastlogit.solvers._result`), not to the gradient at the start, so a warm start saves
iterations instead of tightening the rule.

:class:`LogisticRegressionCV` is scikit-learn's ``LogisticRegressionCV`` (same parameters,
defaults and fitted attributes, 1.9's deprecations included) on top: each fold (and
l1_ratio) is one warm-started path; the paths run in parallel threads (``n_jobs``, or with
``n_jobs=None`` the kernel thread budget shared out over them), so that paths x threads
never exceed the budget (:func:`fastlogit._config.effective_n_threads`).  The threads take
the paths' fits one at a time, the least advanced path first (:func:`_run_interleaved`), so
that 5 folds on 2 threads end together instead of the fifth running alone; each path's fits
are the same whichever thread runs them.

Shared along a path: the validated data (once per :class:`LogisticRegressionCV` fit; a fold's
training rows are one copy of its rows, made once per path: shuffled folds are no view, and
zero weights on the test rows instead would make every pass of the path a quarter longer
for 5 folds), the compacted columns, the data term's kernels and caches (for L1
the l1 solver's column copy of the fold, built once), the reference gradient of the stopping
rule (cached per data term) and the last two gradients (:class:`_KeepsLastGradients`).  A
fit whose start is optimal to the rule's floor ``tol`` (every C below the one where the
first feature enters an L1 model; "A step at every C" below) costs that one check, not a
solver call; after an l1 solver's fit the check uses
the gradient the solver hands out (``grad_out``), rescaled to the next C, and the solver
starts from it (``grad_start``), so neither makes a gradient pass there.  With
``n_threads=None``, paths that are still running take over the threads of finished ones
(:class:`_ThreadShare`), so the last of 5 folds on 2 threads does not run on one while the
other idles.  The refit of a binary L1 / elastic-net CV whose passes run on one kernel
thread starts while the folds fit their last C, at the best pair of the scores so far
(:class:`_Speculation`), and is kept when the last C does not change that pair: the same
refit, without the other core idling through it.

A step at every C: the stopping rule's threshold, ``tol`` times ``C ||grad F(0)||_inf``
(with an L1 part the minimum-norm subgradient), grows with C, while the previous optimum's
violation at the next C does not: with an L1 part it is about ``C_next / C_prev - 1`` times
the L1 strength (on the support ``C grad L`` has size exactly the strength), with L2 about
``(C_next / C_prev - 1) ||w||_inf``.  So from some C on every warm start met the rule at
once, and the path's later fits returned the previous C's model unmoved: equal scores,
which the CV's tie rule resolves to the smallest C (w8a's L1 CV picked 2.78 where every
fold's optimum gives 21.5; benchmarks/results/cv_race.md).  As LIBLINEAR's solvers and
glmnet do at every fit, each deterministic fit of a path therefore takes at least one step
(the solvers' ``min_iter=1``), unless its start is optimal to the rule's floor ``tol`` (as
the intercept-only start of an L1 path below the first feature's entry).

Not used, and why:

* gap-safe screening for L1 paths (:func:`fastlogit.solvers.l1.gap_safe_screen`): on
  scikit-learn's default grid (a factor 7.7 between neighbouring Cs) the duality gap at the
  previous optimum is too large to prove features inactive after the first fit, and the
  screening pass cost more than it saved (benchmarks/results/cv_race.md); sequential strong
  rules discard nothing there either (their bound ``2 / C_new - 1 / C_old`` is negative when
  C grows by more than a factor 2);
* a looser tolerance at the Cs far from the best: the scores of a fit depend on its test
  margins, and no bound on the distance to the optimum that an L1 (not strongly convex)
  problem offers bounds them, so the chosen C_ and its score could not be proved unchanged;
* starting a fold's fits from the whole data's path: that start carries the fold's own test
  rows, and at tol 1e-4 the large-C fits stop after their one step, so their scores
  would see the test rows.  Each fold's path starts from its own data only.
"""
import numbers
import warnings
from dataclasses import dataclass

import numpy as np
from numba import njit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import check_cv
from sklearn.utils import column_or_1d
from sklearn.utils.validation import check_is_fitted, validate_data

from . import kernels as _kernels
from ._docstring import filler
from .base import store_params
from .estimator import (FitPlan, LinearLogitOutputs, LogisticRegression,
                        check_known_labels, with_constant_column)
from .kernels.numba_impl import UINDEX
from .solvers._result import (ConvergenceWarning, binary_reference_norm, data_grad_at_zero,
                              deferred_convergence_warnings, reference_gradient_norm,
                              stopping_threshold, threshold_after)
from .validation import (check_C, check_l1_ratio, check_max_iter, check_n_jobs, check_tol,
                         resolve_penalty)

__all__ = ["regularization_path", "RegularizationPath", "LogisticRegressionCV"]

#: Coordinate-descent sweeps per proximal Newton model on a binary L1 path (the l1 solver's
#: ``max_sweeps``; its default is 200): warm-started fits took a few more Newton steps and far
#: fewer sweeps, every fit converging; the CVs took less time (figures in
#: benchmarks/results/cv_race.md).
_L1_PATH_SWEEPS = 20
#: The l1 solver's model tolerance on a binary L1 path (its ``kappa``: a model is solved until
#: its violations sum to kappa times the working set's; its default is 0.1): with the sweep cap
#: the L1 CVs took less time (figures in benchmarks/results/cv_race.md).
_L1_PATH_KAPPA = 0.2



@dataclass
class RegularizationPath:
    """Coefficients along a C grid, made by :func:`regularization_path`.

    ``n_rows`` is 1 for a binary model and K for a multinomial one.

    Parameters
    ----------
    Cs : ndarray of shape (n_Cs,)
        The grid, float64, in the order given.
    coefs : ndarray of shape (n_Cs, n_rows, n_features)
        The coefficients at each C, float64.
    intercepts : ndarray of shape (n_Cs, n_rows)
        The intercepts at each C, float64 (zeros without an intercept).
    n_iter : ndarray of shape (n_Cs,)
        Solver iterations of each fit, int.
    converged : ndarray of shape (n_Cs,)
        Whether each fit met the stopping rule, bool.
    classes : ndarray of shape (n_classes,)
        The class labels, sorted.
    solver : str
        The fastlogit solver that ran.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.model_selection import RegularizationPath
    >>> path = RegularizationPath(Cs=np.array([0.1, 1.0]), coefs=np.zeros((2, 1, 3)),
    ...                           intercepts=np.zeros((2, 1)), n_iter=np.array([3, 4]),
    ...                           converged=np.array([True, True]), classes=np.array([0, 1]),
    ...                           solver="newton-cholesky")
    >>> path.coefs[1, 0].shape  # the binary model's coefficients at C = 1
    (3,)
    """

    Cs: np.ndarray
    coefs: np.ndarray
    intercepts: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray
    classes: np.ndarray
    solver: str


#: The start of LogisticRegressionCV's method examples: a generated 90 x 4 binary problem.
_fill_doc = filler({"cv_example": """\
>>> from sklearn.datasets import make_classification
>>> from fastlogit.model_selection import LogisticRegressionCV
>>> X, y = make_classification(n_samples=90, n_features=4, random_state=0)"""})


def _check_Cs(Cs):
    """A C grid: an int n (scikit-learn's ``np.logspace(-4, 4, n)``) or positive numbers."""
    if isinstance(Cs, numbers.Integral) and not isinstance(Cs, bool):
        if Cs < 1:
            raise ValueError(f"Cs must be a positive integer or a sequence of positive "
                             f"numbers, got {Cs!r}")
        return np.logspace(-4, 4, int(Cs))
    values = np.asarray(Cs, dtype=object).reshape(-1)
    if values.size == 0:
        raise ValueError("Cs must not be empty")
    return np.array([check_C(c, allow_inf=True) for c in values], dtype=np.float64)


def warm_path(objective, Cs, solver="auto", theta0=None, *, tol=1e-4, max_iter=100,
              verbose=0, threads=None):
    """Fit ``objective`` at every C of ``Cs``, each fit warm-started from the previous one.

    :func:`_warm_steps` run to its end (the same fits, one after another).

    Parameters
    ----------
    objective : :class:`fastlogit.objective.Objective`
        Its ``C`` is set to each value in turn (and left at the last one fitted).
    Cs : ndarray (n_Cs,) of positive finite floats
        Fitted in ascending order (the strongest penalty first: its optimum is nearest 0),
        returned in the order given.  A fit whose start already meets the stopping rule
        (deterministic solvers) is recorded without calling the solver, with 0 iterations
        (the solver would return it unmoved); every other fit takes at least one step
        (``min_iter=1``: the rule is checked against its floor ``tol`` here, module
        docstring, "A step at every C"); from the third C on, a fit starts at the
        secant extrapolation (in log C) of the last two optima unless F is known to be no
        lower there than at the last optimum (:func:`_next_start`); the optima reached are
        the solver's either way.
    solver : str
        A fastlogit solver name or "auto" (:func:`fastlogit.solvers.choose_solver`, chosen
        once for the path on the compacted columns; where it picks "lbfgs" for a binary L2
        objective, the wide shape, the path runs "newton-cg" without a preconditioner and
        with line minimisation instead; a binary L1 path runs the l1 solver on X's full
        column copy with at most ``_L1_PATH_SWEEPS`` sweeps per Newton model and the model
        tolerance ``_L1_PATH_KAPPA``).
    theta0 : ndarray (n_params,), list of them, or None
        Start of the first fit (None: zero coefficients, and for a binary log-loss with an
        intercept the intercept-only optimum, :func:`_intercept_start`); of a list, the
        one where F at the first C is lowest (one value pass each).
    threads : callable () -> int or None, optional
        Asked before each fit for the data term's kernel ``n_threads`` of that fit
        (:class:`_ThreadShare`: paths running in parallel take over the threads of paths
        that have finished); None leaves the data term's own.

    Returns
    -------
    (thetas (n_Cs, n_params) float64, n_iter (n_Cs,) int, converged (n_Cs,) bool, solver)
    """
    from .solvers._result import blas_limit

    with blas_limit():  # once around the path, not per fit
        return _drain(_warm_steps(objective, Cs, solver, theta0, tol=tol, max_iter=max_iter,
                                  verbose=verbose, threads=threads, blas_limited=True))


def _drain(steps):
    """Run the generator ``steps`` to its end; its return value."""
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value


def _warm_steps(objective, Cs, solver="auto", theta0=None, *, tol=1e-4, max_iter=100,
                verbose=0, threads=None, out=None, out_zeroed=False, keep=None,
                blas_limited=False):
    """:func:`warm_path` as a generator: it yields (None) after each C's fit and returns
    warm_path's result, so that a scheduler can run the fits of several paths interleaved
    over threads (:func:`_run_interleaved`); each path's fits are the same, in the same
    order, whichever thread runs them.  The setup (column compaction, the solver's choice)
    runs at the first ``next``.  ``out``: a float64 array (n_Cs, n_params) the thetas are
    written to and returned as (a view of the CV's result array: no copy of every C's
    coefficients afterwards); None: a new one.  ``out_zeroed``: ``out`` holds zeros, so
    the entries outside the compacted columns are written only when the start is not zero
    there.  ``keep``: ``objective`` is already compacted by the caller
    (:func:`_compacted_rows`, as ``compact_columns`` would have made it): a bool mask
    (n_params of the full layout,) of the entries it covers; the thetas returned are of the
    full layout.  ``blas_limited``: the caller holds BLAS at one thread
    (:func:`fastlogit.solvers._result.blas_limit`) around the whole path, so the solver runs
    without its own per-call limit (threadpoolctl's, Python's cost at every fit)."""
    from .solvers import INFO, check_solver, choose_solver

    Cs = np.asarray(Cs, dtype=np.float64)
    if keep is not None:
        inner, n = objective, keep.size
    else:
        compact = (objective.compact_columns() if hasattr(objective, "compact_columns")
                   else None)
        inner, keep = compact if compact is not None else (objective, None)
        n = objective.n_params
    name = choose_solver(inner) if solver == "auto" else solver
    options = {}
    if (solver == "auto" and name == "lbfgs" and objective.n_classes == 1
            and not objective.l1_strength and objective.l2_strength):
        # A wide binary L2 path (the shape where "auto" picks L-BFGS): Newton-CG without a
        # preconditioner (Jacobi scaling on raw word counts slows CG down), with line
        # minimisation, and with CG stopped once its residual is about the stopping rule's
        # size (residual_floor) took far fewer passes along the warm paths of news20's and
        # rcv1_small's folds, and CG's products skip the rows of negligible curvature
        # (curvature_tol): at large C most rows of news20's folds
        # (benchmarks/results/news20_cv.md).
        name = "newton-cg"
        options.update(preconditioner=None, line_search="minimize", residual_floor=2.0,
                       curvature_tol=0.3)
    # The solver function itself, not solvers.solve(): the columns are compacted here once,
    # and solve() would scan X for empty columns again at every C.
    run = check_solver(name, inner)
    if blas_limited:
        run = _without_blas_limit(run)
    data = inner.data  # the data term whose kernels the fits run
    kept = _KeepsLastGradients(data)
    # the path's own checks read (and keep) the data term's gradients through ``checks``;
    # the l1 solver's column path wants the in-memory data term itself
    checks = inner.with_data(kept)
    # A solver's last iterate is the next fit's start, whose gradient the next check asks
    # for: kept, it saves that pass.  Newton-type solvers evaluate a few points per fit, and
    # copying each costs little; L-BFGS evaluates many, and on wide sparse data (rcv1_small)
    # copying them all cost about the pass it saved, so its iterates are not kept.
    keep_iterates = name != "lbfgs"
    if name != "l1":
        inner = checks
    deterministic = not INFO[name].stochastic
    if name == "l1" and objective.n_classes == 1:
        # The l1 column path on the data term's full column copy, built once and kept for
        # the whole path, instead of extracting each working set's columns from the rows
        # at every fit (measured in benchmarks/results/cv_race.md); each model solved by at
        # most _L1_PATH_SWEEPS coordinate sweeps, to _L1_PATH_KAPPA times the working set's
        # violation.
        options.update(full_columns=True, max_sweeps=_L1_PATH_SWEEPS, kappa=_L1_PATH_KAPPA)
    # every deterministic fit of the path takes a step unless its start is optimal to the
    # rule's floor (module docstring, "A step at every C")
    if deterministic:
        options["min_iter"] = 1
    thetas = np.empty((Cs.size, n)) if out is None else out
    if theta0 is None and keep is not None and out is not None and out_zeroed:
        # the intercept-only start: zero outside the compacted columns, which ``out``
        # already holds there, so it is made in the compacted space only
        start = _intercept_start(inner)
        keep = np.flatnonzero(keep)
    else:
        starts = ([_full_width(_intercept_start(inner), keep, n)] if theta0 is None else
                  [np.array(t, dtype=np.float64).reshape(n)
                   for t in (theta0 if isinstance(theta0, list) else [theta0])])
        for theta in starts:
            if keep is not None and (objective.l1_strength or objective.l2_strength):
                theta[~keep] = 0.0  # unused columns: their optimum under the penalty
        theta = starts[0] if len(starts) == 1 else _lowest(checks, starts, keep, Cs.min())
        if keep is not None:
            if out is None or not out_zeroed or np.any(theta[~keep]):
                thetas[:] = theta  # the entries outside the compacted columns, once
            keep = np.flatnonzero(keep)
        start = theta if keep is None else theta[keep]
    n_iter = np.zeros(Cs.size, dtype=np.int64)
    converged = np.zeros(Cs.size, dtype=bool)
    fitted = []  # (log C, theta) of the last two fits, at distinct C
    # the l1 solver (binary column path) computes its gradients itself, so nothing kept the
    # one at its optimum: it hands it out (grad_out), and the next C's check rescales it
    # to that C (_rescaled_grad) instead of a pass over the data; the solver then starts
    # from it (grad_start) when the start is that optimum (or the path's first start, whose
    # gradient the first check computes)
    hand_out = name == "l1" and objective.n_classes == 1 and objective.l2_strength is not None
    last_grad = None  # (C, smooth gradient) at ``start``, from the l1 solver
    for i in np.argsort(Cs, kind="stable"):
        C = float(Cs[i])
        inner.C = checks.C = objective.C = C
        if threads is not None:
            data.n_threads = threads()
        done = False
        grad = None if last_grad is None else _rescaled_grad(checks, start, *last_grad)
        if grad is None and hand_out:
            # the check's own gradient at the start (the path's first, or the refit's: kept
            # by ``kept`` when _lowest chose it), kept for the solver's start (grad_start)
            # and, rescaled, for the next C's check: no pass of theirs
            grad = checks.value_grad(start)[1]
        if deterministic:
            previous = start
            start, done = _next_start(checks, start, fitted, np.log(C), tol, grad,
                                      floor=True)
            if start is not previous:
                grad = None
        if done:
            # the start already meets the solver's stopping rule at this C: the solver
            # would return it after its first check, without a step
            result = _Unmoved(np.array(start, dtype=np.float64), 0, True)
        else:
            kw = dict(options)
            if hand_out:
                kw["grad_out"] = np.empty(start.size)
                if grad is not None:
                    kw["grad_start"] = grad
            kept.keep = keep_iterates
            try:
                result = run(inner, start, tol=tol, max_iter=max_iter, verbose=verbose, **kw)
            finally:
                kept.keep = True
            grad = kw.get("grad_out")
        last_grad = None if grad is None else (C, grad)
        if fitted and np.log(C) == fitted[-1][0]:
            fitted.pop()
        fitted = fitted[-1:] + [(np.log(C), result.theta)]
        start = result.theta
        if keep is None:
            thetas[i] = start
        else:
            _scatter(thetas[i], keep, start)
        n_iter[i] = result.n_iter
        converged[i] = result.converged
        yield
    return thetas, n_iter, converged, name


def _without_blas_limit(run):
    """The solver function ``run`` without the BLAS limit that
    :func:`fastlogit.solvers._result.single_threaded_blas` wraps around it (for a caller
    that holds the limit itself); ``run`` itself when it is not such a wrapper."""
    from .solvers._result import single_threaded_blas

    if getattr(run, "__code__", None) is single_threaded_blas(_drain).__code__:
        return run.__wrapped__
    return run


def _full_width(theta, keep, n):
    """``theta`` (over the entries ``keep`` of an n-entry layout; None: all) as n entries,
    zeros elsewhere."""
    if keep is None or theta.size == n:
        return theta
    full = np.zeros(n)
    full[keep] = theta
    return full


@njit(cache=True, nogil=True)
def _scatter(row, idx, values):  # pragma: no cover (compiled)
    """``row[idx] = values`` (idx int64) in one loop: NumPy's fancy assignment of a path's
    compacted coefficients into its full-width row took several times longer.  Indices
    unsigned, as in :mod:`fastlogit.solvers._cd` (no wraparound check per access)."""
    for k in range(UINDEX(idx.shape[0])):
        row[UINDEX(idx[k])] = values[k]


def _lowest(objective, starts, keep, C):
    """The start (n_params,) of ``starts`` where F (L1 part included) at ``C`` is lowest,
    the first of equals; ``objective`` is over the columns ``keep`` (indices; None: all).
    Sets ``objective.C`` to C.  One value pass each (kept by :class:`_KeepsLastGradients`
    for the next check when it wraps the data term)."""
    objective.C = C
    best, f_best = None, np.inf
    for theta in starts:
        t = theta if keep is None else theta[keep]
        f = objective.value_grad(t)[0] + objective.l1_value(t)
        if best is None or f < f_best:
            best, f_best = theta, f
    return best


@dataclass
class _Unmoved:
    """A fit the path did not hand to the solver (its start met the stopping rule)."""

    theta: np.ndarray
    n_iter: int
    converged: bool


class _KeepsLastGradients:
    """A data term that keeps copies of the last two ``(theta, L, grad L)`` the path asked for.

    A path asks for the gradient at each fit's start, which is the previous fit's last
    point (or, for the extrapolated start, both); the in-memory data term hands its gradient
    out without keeping it (memory), so without these copies every fit of the path would
    begin with a repeated pass.  :meth:`Objective.value_grad` asks a data term that has
    ``l2_loss_grad`` (the elastic-net family's fused value and gradient) for that instead of
    ``loss_grad``, so the wrapper has it too when the wrapped term does, served from a kept
    ``(L, grad L)`` when there is one.  While ``keep`` is False kept points are still
    served but new ones are not kept, and ``l2_loss_grad`` is the wrapped term's own
    (:func:`warm_path` sets it while L-BFGS runs: its iterates are many, and copying each
    one cost about the pass it might save).  Everything else is the wrapped data term's.
    """

    def __init__(self, data):
        self._data = data
        self._kept = []
        self.keep = True

    def __getattr__(self, name):
        if name in ("_data", "_kept"):
            raise AttributeError(name)
        if name == "l2_loss_grad" and hasattr(self._data, name):
            return self._l2_loss_grad
        return getattr(self._data, name)

    def _find(self, theta):
        for t, loss, grad in self._kept:
            # the last entry first: a new point is told apart without an O(p) comparison
            if (t.shape == theta.shape and (t.size == 0 or t[-1] == theta[-1])
                    and (t == theta).all()):
                return loss, grad.copy()
        return None

    def loss_grad(self, theta):
        """(L, grad L) at theta; the grad array is the caller's."""
        found = self._find(theta)
        if found is not None:
            return found
        loss, grad = self._data.loss_grad(theta)
        if self.keep:
            self._kept = [(theta.copy(), loss, grad.copy())] + self._kept[:1]
        return loss, grad

    def _l2_loss_grad(self, theta, C, a):
        """``(C L + a/2 ||w||^2, its gradient)`` (the data term's ``l2_loss_grad``); a kept
        point through :meth:`loss_grad` (the in-memory binary term computes its
        ``l2_loss_grad`` the same way, so the numbers are the same)."""
        from .objective import add_l2

        layout = getattr(self._data, "layout", None)
        found = self._find(theta)
        if layout is None or (found is None and (not self.keep or self._data.n_classes > 1)):
            return self._data.l2_loss_grad(theta, C, a)
        loss, grad = found if found is not None else self.loss_grad(theta)
        return add_l2(layout, theta, loss, grad, C, a)


def _intercept_start(objective):
    """The first fit's start: zero coefficients and, for a binary log-loss with an intercept,
    the intercept's optimum at w = 0, logit of the weighted mean label (the optimum of the
    strongest penalty is near there; from b = 0 an imbalanced set spends Newton steps on
    the intercept alone).  Zeros otherwise (and when the labels are all of one class)."""
    theta = np.zeros(objective.n_params)
    y = getattr(objective, "y", None)
    if (not objective.fit_intercept or objective.n_classes != 1 or y is None
            or np.ndim(y) != 1):
        return theta
    sw = getattr(objective, "sample_weight", None)
    p = float(np.average(y, weights=sw))
    if 0.0 < p < 1.0:
        theta[-1] = np.log(p / (1.0 - p))
    return theta


def _meets_rule(objective, theta, tol, floor=False):
    """(whether theta meets the deterministic solvers' stopping rule at ``objective.C``,
    the smooth part f(theta) of F): the rule is ``||S||_inf <= tol * max(1, ref)``, S the
    minimum-norm subgradient of F (its gradient without an L1 part) and ref
    :func:`fastlogit.solvers._result.reference_gradient_norm`, as every deterministic solver
    checks it before its first step.  ``floor``: the rule's floor ``||S||_inf <= tol``
    (when it is lower), as the l1 solver checks it before its ``min_iter`` steps.  One
    value/gradient pass unless the data term kept it."""
    f, g = objective.value_grad(theta)
    return _rule_holds(objective, theta, g, tol, floor), f


def _rule_holds(objective, theta, g, tol, floor=False):
    """Whether theta, where the smooth part's gradient is g, meets the stopping rule at
    ``objective.C`` (:func:`_meets_rule`; ``floor`` as there), without a pass over the data.

    For a binary elastic-net-family objective (every path of the CV's binary folds) the
    measure and the reference are one compiled loop each (:func:`_binary_rule_measure`,
    :func:`fastlogit.solvers._result.binary_reference_norm`), with the same arithmetic as
    ``min_norm_subgradient`` and ``reference_gradient_norm``, so the same numbers;
    elsewhere those two themselves."""
    n = objective.n_params
    if (objective.n_classes == 1 and objective.l2_strength is not None and n
            and hasattr(objective, "data") and np.any(theta)):
        # grad L(0) cached per data term: the wrapped one (the path's checks see it through
        # _KeepsLastGradients), whose entry the l1 solver's own reference then reads
        data = objective.data
        data = data._data if isinstance(data, _KeepsLastGradients) else data
        d, lam = objective.n_features, float(objective.l1_strength)
        measure = _binary_rule_measure(np.asarray(theta, dtype=np.float64),
                                       np.asarray(g, dtype=np.float64), d, lam)
        reference = binary_reference_norm(data_grad_at_zero(data, n), d, lam,
                                          float(objective.C))
        # (with ``floor``: the threshold a solver asked for a step checks before it)
        return measure <= threshold_after(stopping_threshold(tol, reference), tol, 0, int(floor))
    thr = threshold_after(stopping_threshold(tol, reference_gradient_norm(objective, theta, g)),
                          tol, 0, int(floor))
    if objective.l1_strength:
        g = objective.min_norm_subgradient(theta, g)
    measure = float(np.abs(g).max()) if g.size else 0.0
    return measure <= thr


@njit(cache=True, nogil=True)
def _binary_rule_measure(theta, g, d, lam):  # pragma: no cover (compiled)
    """``||S(theta)||_inf`` of a binary layout (d coefficients, then the intercept if any),
    the stopping rule's measure in one loop: S the minimum-norm subgradient of F at theta
    where the smooth part's gradient is g, ``lam`` the L1 strength.  Entry by entry as
    ``Objective.min_norm_subgradient`` computes it (``g + (m - g)``, m the penalty's
    minimum-norm element; for ``lam == 0`` S is g itself), so the same number.  An entry at
    0 whose gradient lies in ``[-lam, lam]`` is 0 there and is skipped (the maximum starts
    at 0).  The rule's reference is :func:`fastlogit.solvers._result.binary_reference_norm`."""
    measure = 0.0
    start = 0
    if lam != 0.0:
        start = min(d, g.shape[0])
        for j in range(start):
            gj = g[j]
            if theta[j] != 0.0:
                m = gj + lam * np.sign(theta[j])
                measure = max(measure, abs(gj + (m - gj)))
            elif not abs(gj) <= lam:  # (NaN included)
                m = np.sign(gj) * max(abs(gj) - lam, 0.0)
                measure = max(measure, abs(gj + (m - gj)))
    for j in range(start, g.shape[0]):  # the intercept, or every entry without an L1 part
        measure = max(measure, abs(g[j]))
    return measure


def _rescaled_grad(objective, theta, C_old, grad):
    """The smooth part's gradient at theta at ``objective.C`` from ``grad``, the one at
    ``C_old`` (binary layout, F = C L + a/2 ||w||^2 + the L1 part): ``C grad L`` scales
    with C, ``a w`` does not.  No pass over the data; equal to a fresh gradient to
    rounding."""
    r = objective.C / C_old
    out = r * grad
    a = objective.l2_strength
    if a:
        d = objective.n_features
        out[:d] += (1.0 - r) * a * theta[:d]
    return out


def _next_start(objective, last, fitted, log_C, tol, grad=None, floor=False):
    """(start of the next fit on a path, whether it already meets the stopping rule; with
    ``floor`` the rule's floor, :func:`_meets_rule`).

    ``last`` is the last fit's result (or the path's first start), ``fitted`` the optima
    [(log C, theta), ...] of the last two fits at distinct C, oldest first.  A ``last`` that
    meets the rule at the new C is returned as it is, and the path records it as the fit
    (the solver would return it unmoved after its first check).  Else, after two fits,
    the secant through the last two optima, linear in log C (at large C the coefficients
    of separable directions grow like log C), unless it is known to be no better than
    ``last``:

    * without ``grad``: when F is not lower there (one value pass);
    * with ``grad``, the smooth part's gradient at ``last`` and the new C (the l1 solver's,
      rescaled: :func:`_rescaled_grad`): when F's directional derivative at ``last``
      towards it is >= 0 (:func:`_slope_towards`), for F is convex, so F there is then no
      lower.  No pass over the data (comparing F took two loss passes a C:
      benchmarks/results/cv_race.md).

    (Scaling the coefficients by C_new / C_last, the small-C regime, was tried as a second
    candidate: no fewer iterations on a9a, more passes.)
    """
    if grad is None:
        met, f_last = _meets_rule(objective, last, tol, floor)
    else:
        met = _rule_holds(objective, last, grad, tol, floor)
    if met or len(fitted) < 2 or log_C <= fitted[-1][0]:
        return last, met
    (l0, t0), (l1, t1) = fitted
    guess = t1 + (t1 - t0) * ((log_C - l1) / (l1 - l0))
    if grad is not None:
        slope = _slope_towards(np.asarray(last, dtype=np.float64),
                               np.asarray(guess, dtype=np.float64),
                               np.asarray(grad, dtype=np.float64), objective.n_features,
                               float(objective.l1_strength or 0.0))
        return (guess if slope < 0.0 else last), False
    f_last += objective.l1_value(last)
    f_guess = objective.value_grad(guess)[0] + objective.l1_value(guess)
    return (guess if f_guess < f_last else t1), False


@njit(cache=True, nogil=True)
def _slope_towards(theta, target, g, d, lam):  # pragma: no cover (compiled)
    """F's directional derivative at theta towards ``target`` (binary layout: d
    coefficients, then the intercept if any), g the smooth part's gradient at theta and
    ``lam`` the L1 strength: ``g . u + lam * sum_j (sign(theta_j) u_j if theta_j != 0 else
    |u_j|)``, u = target - theta, j over the coefficients.  F convex: a value >= 0 proves
    F(target) >= F(theta)."""
    slope = 0.0
    for j in range(g.shape[0]):
        u = target[j] - theta[j]
        slope += g[j] * u
        if j < d and lam != 0.0:
            if theta[j] != 0.0:
                slope += lam * np.sign(theta[j]) * u
            else:
                slope += lam * abs(u)
    return slope


def _shifted_start(mean, Cs, ic, ratio):
    """The folds' mean path read off at ``C = Cs[ic] * ratio`` by linear interpolation in
    log C between ``Cs[ic]`` and the next larger C of the grid (beyond it: the same line
    extended); None when ``Cs[ic]`` is the largest.  ``mean(i)`` is the folds' mean at
    ``Cs[i]`` (computed for the two Cs used only).

    A refit on all the data at C is the fold problems' with ``ratio`` (all the rows' weight
    over a training fold's, about 5/4 for 5 folds) times as much data term, about the folds'
    optimum at ``ratio * C`` rather than at C, and often closer than the folds' mean at C
    (L-BFGS refits took far fewer iterations from it: benchmarks/results/cv_race.md).
    """
    logs = np.log(np.asarray(Cs, dtype=np.float64))
    above = np.flatnonzero(logs > logs[ic])
    if above.size == 0:
        return None
    j = above[np.argmin(logs[above])]
    t = np.log(ratio) / (logs[j] - logs[ic])
    at_C = mean(ic)
    return at_C + t * (mean(j) - at_C)


def _as_rows(thetas, n_rows, n_features, fit_intercept, penalty):
    """thetas (m, n_params) as a view (m, n_rows, n_features + fit_intercept), made in place
    the multinomial representative the estimator reports (intercepts summing to zero; the
    coefficients too without a penalty); binary thetas are left as they are."""
    T = thetas.reshape(thetas.shape[0], n_rows, -1)
    if n_rows > 1:
        if fit_intercept:
            T[:, :, n_features] -= T[:, :, n_features].mean(axis=1, keepdims=True)
        if penalty is None:
            T[:, :, :n_features] -= T[:, :, :n_features].mean(axis=1, keepdims=True)
    return T


def _split_theta(thetas, n_rows, n_features, fit_intercept, penalty):
    """(coefs (m, n_rows, d), intercepts (m, n_rows)), new contiguous arrays, from thetas
    (m, n_params) in the estimator's representative (:func:`_as_rows`)."""
    T = _as_rows(thetas.copy(), n_rows, n_features, fit_intercept, penalty)
    intercepts = (T[:, :, n_features].copy() if fit_intercept
                  else np.zeros((T.shape[0], n_rows)))
    return np.ascontiguousarray(T[:, :, :n_features]), intercepts


def _best_pair(table):
    """``(j, i)``: the (l1_ratio, C) indices of the largest entry of ``table`` (shape
    (n_l1_ratios, n_Cs): the fold scores summed over the folds in fold order, or one
    fold's), ties going to the smallest C and, among one C's, to the first l1_ratio:
    scikit-learn's ``LogisticRegressionCV`` rule (its argmax over a (Cs, l1_ratios)
    table)."""
    i, j = np.unravel_index(np.argmax(table.T), table.T.shape)
    return int(j), int(i)


def _fit_plan(C, l1_ratio, **params):
    """The :class:`fastlogit.estimator.FitPlan` of a LogisticRegression carrying the
    parameters (its checks, penalty rules, solver mapping and objective builder are the
    estimator's own)."""
    return FitPlan(LogisticRegression(C=C, l1_ratio=l1_ratio, **params))


def regularization_path(X, y, Cs=10, *, l1_ratio=0.0, fit_intercept=True, sample_weight=None,
                        class_weight=None, solver="auto", tol=1e-4, max_iter=100,
                        backend="auto", n_threads=None, verbose=0):
    """Logistic-regression coefficients along a grid of C, warm-started.

    Each fit starts from the previous one's solution (ascending C), so the path costs far
    less than independent fits.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Training data; float32 and CSR are kept, other input is converted as
        :class:`fastlogit.LogisticRegression` converts it.
    y : array-like of shape (n_samples,)
        Class labels: two classes give a binary model, more a multinomial one.
    Cs : int or array-like of float, default=10
        An int n means scikit-learn's grid ``np.logspace(-4, 4, n)``; else positive
        numbers, ``np.inf`` meaning no penalty.  Anything else raises ValueError.
    l1_ratio : float, default=0.0
        The penalty, as in :class:`fastlogit.LogisticRegression`: 0 L2, 1 L1, between
        elastic net; in [0, 1].
    fit_intercept : bool, default=True
        Whether to fit an unpenalised intercept.
    sample_weight : array-like of shape (n_samples,), default=None
        Finite non-negative weights of the samples' losses; None means 1 each.
    class_weight : dict, "balanced" or None, default=None
        Per-class factors multiplied into the sample weights, as in
        :class:`fastlogit.LogisticRegression`.
    solver : str, default="auto"
        A fastlogit solver (or scikit-learn name, mapped as the estimator maps it) used for
        every C; "auto" chooses by shape ("l1" with an L1 part; on a wide binary L2 problem
        "newton-cg" without a preconditioner and with line minimisation).
    tol : float, default=1e-4
        Stopping rule of every fit, as in :class:`fastlogit.LogisticRegression`.
    max_iter : int, default=100
        Most iterations of every fit.
    backend : {"auto", "numpy", "numba", "cython"}, default="auto"
        Kernel implementation (:func:`fastlogit.kernels.get`).
    n_threads : int, default=None
        Kernel threads; None: :func:`fastlogit._config.effective_n_threads`.
    verbose : int, default=0
        Print one line per solver iteration when positive.

    Returns
    -------
    RegularizationPath
        The coefficients, intercepts and convergence of every fit, in the order of ``Cs``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import StandardScaler
    >>> from fastlogit.model_selection import regularization_path
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> path = regularization_path(X, y, Cs=[0.01, 0.1, 1.0], l1_ratio=1.0)
    >>> nonzeros = (path.coefs != 0).sum(axis=(1, 2))
    >>> path.coefs.shape, path.solver, bool(np.all(np.diff(nonzeros) >= 0))
    ((3, 1, 30), 'l1', True)
    """
    Cs = _check_Cs(Cs)
    l1_ratio = check_l1_ratio(l1_ratio)
    plan = _fit_plan(1.0, l1_ratio, fit_intercept=fit_intercept, class_weight=class_weight,
                     solver=solver, tol=tol, max_iter=max_iter, backend=backend,
                     n_threads=n_threads, verbose=verbose)
    X, classes, Y, sw = plan.validate(X, y, sample_weight)
    n_rows = 1 if classes.shape[0] == 2 else classes.shape[0]
    d = X.shape[1]
    coefs, intercepts = np.zeros((Cs.size, n_rows, d)), np.zeros((Cs.size, n_rows))
    n_iter, converged = np.zeros(Cs.size, dtype=np.int64), np.zeros(Cs.size, dtype=bool)
    name = None
    finite = np.isfinite(Cs)
    for mask in (finite, ~finite):  # C = np.inf: no penalty, one fit
        if not mask.any():
            continue
        penalty, _, r = resolve_penalty("deprecated", float(Cs[mask][0]), l1_ratio)
        thetas, it, conv, name = _fit_rows(plan, X, Y, sw, None, Cs[mask], penalty, r,
                                           classes.shape[0], n_threads)
        c, b = _split_theta(thetas, n_rows, d, fit_intercept, penalty)
        coefs[mask], intercepts[mask], n_iter[mask], converged[mask] = c, b, it, conv
    return RegularizationPath(Cs=Cs, coefs=coefs, intercepts=intercepts, n_iter=n_iter,
                              converged=converged, classes=classes, solver=name)


def _fit_rows(plan, X, Y, sw, rows, Cs, penalty, l1_ratio, n_classes, n_threads,
              theta0=None, share=None):
    """Warm path over ``Cs`` on the rows ``rows`` (None = all) of validated data; returns
    ``(thetas in the estimator's fitted layout, n_iter, converged, solver)``: liblinear's
    synthetic intercept column is folded back (times intercept_scaling).  BLAS is limited to
    one thread once around the whole path (not per fit)."""
    from .solvers._result import blas_limit

    with blas_limit():
        return _drain(_fit_rows_steps(plan, X, Y, sw, rows, Cs, penalty, l1_ratio, n_classes,
                                      n_threads, theta0, share, blas_limited=True))


def _fit_rows_steps(plan, X, Y, sw, rows, Cs, penalty, l1_ratio, n_classes, n_threads,
                    theta0=None, share=None, out=None, out_zeroed=False, blas_limited=False):
    """:func:`_fit_rows` as a generator (:func:`_warm_steps`, ``out``, ``out_zeroed`` and
    ``blas_limited`` as there): yields after each C's fit, returns _fit_rows' result; the
    rows are sliced at the first ``next`` (a CSR X's rows, all of them for ``rows=None``,
    and their column compaction in one compiled pass, :func:`_compacted_rows`, where the
    path would compact them)."""
    est = plan.estimator
    fit_intercept = bool(est.fit_intercept)
    scaling = None
    if plan.liblinear_intercept:
        scaling = float(est.intercept_scaling)
        fit_intercept = False
    keep = None
    found = None
    if scaling is None and penalty is not None and not plan.uses_extras:
        # (every row for rows=None, the refit: the same arrays as the path's compact_columns)
        found = _compacted_rows(X, np.arange(X.shape[0]) if rows is None else rows,
                                fit_intercept, 1 if n_classes == 2 else n_classes)
    if found is not None:
        X, keep = found
    elif rows is not None:
        X = X[rows]
    if rows is not None:
        Y = Y[rows]
        sw = None if sw is None else sw[rows]
    if scaling is not None:
        X = with_constant_column(X, scaling)
    est.n_threads = n_threads
    objective = plan.objective(_kernels.as_design(X), Y, sw, float(Cs[0]) if penalty else
                               1.0, penalty, l1_ratio, fit_intercept)
    solver = plan.solver_name(objective, n_classes)
    if theta0 is not None and scaling is not None:
        theta0 = [t.copy() for t in (theta0 if isinstance(theta0, list) else [theta0])]
        for t in theta0:
            t[-1] /= scaling
    thetas, n_iter, converged, name = yield from _warm_steps(
        objective, Cs if penalty else np.ones(1), solver, theta0, tol=float(est.tol),
        max_iter=int(est.max_iter), verbose=est.verbose, threads=share, out=out,
        out_zeroed=out_zeroed, keep=keep, blas_limited=blas_limited)
    if scaling is not None:
        thetas[:, -1] *= scaling
    return thetas, n_iter, converged, name


def _compacted_rows(X, rows, fit_intercept, n_rows):
    """The rows ``rows`` of X over only the columns they use, as a
    :class:`fastlogit.kernels.Design`, and the keep mask (bool, the full layout's n_params
    = n_rows (d + fit_intercept)) of the theta entries it covers: what ``X[rows]`` and
    :meth:`fastlogit.objective.Objective.compact_columns` make (the same arrays: rows in
    the order given, each row's entries in their stored order, columns renumbered in
    ascending order), in two compiled passes (:func:`_rows_used_columns`,
    :func:`_compact_rows`) instead of scipy's slice, a scan and a re-indexing copy.

    None where compact_columns would not compact (X not scipy CSR, at most
    ``_COMPACT_MIN_FEATURES`` columns, or more than 80 % of them used); the caller then
    slices X itself.
    """
    import scipy.sparse as sp

    from .objective import _COMPACT_MIN_FEATURES

    if not sp.issparse(X) or X.format != "csr" or X.shape[1] <= _COMPACT_MIN_FEATURES:
        return None
    d = X.shape[1]
    rows = np.asarray(rows, dtype=np.int64)
    used, rank, nnz = _rows_used_columns(X.indptr, X.indices, rows, d)
    n_used = int(rank[-1]) + 1 if d else 0
    if n_used > 0.8 * d:  # compact_columns' max_fraction
        return None
    small = max(nnz, d) <= np.iinfo(np.int32).max
    index = np.int32 if small else np.int64  # scipy's slice and as_design's types
    indptr = np.empty(rows.size + 1, dtype=index)
    indices = np.empty(nnz, dtype=index)
    data = np.empty(nnz, dtype=X.dtype)
    _compact_rows(X.indptr, X.indices, X.data, rows, rank, indptr, indices, data)
    # X validated by the caller: in-range indices, so the parts need no second check
    design = _kernels.Design.trusted("csr", (data, indices, indptr), (int(rows.size), n_used),
                                      np.dtype(X.dtype))
    keep = np.concatenate((used, np.ones(int(fit_intercept), dtype=bool)))
    return design, (keep if n_rows == 1 else np.tile(keep, n_rows))


@njit(cache=True, nogil=True)
def _rows_used_columns(indptr, indices, rows, d):  # pragma: no cover (compiled)
    """(used (d,) bool: whether any of the rows ``rows`` of a CSR X (indptr, indices) holds
    an entry in the column; rank (d,) int64: ``cumsum(used) - 1``, a used column's place
    among the used ones; those rows' stored entries in all).  Indices unsigned (as
    :func:`_scatter`)."""
    used = np.zeros(d, dtype=np.bool_)
    nnz = 0
    for t in range(UINDEX(rows.shape[0])):
        i = UINDEX(rows[t])
        nnz += indptr[i + UINDEX(1)] - indptr[i]
        for q in range(UINDEX(indptr[i]), UINDEX(indptr[i + UINDEX(1)])):
            used[UINDEX(indices[q])] = True
    rank = np.empty(d, dtype=np.int64)
    r = -1
    for j in range(d):
        if used[j]:
            r += 1
        rank[j] = r
    return used, rank, nnz


@njit(cache=True, nogil=True)
def _compact_rows(indptr, indices, data, rows, rank, out_indptr, out_indices,
                  out_data):  # pragma: no cover (compiled)
    """The rows ``rows`` of a CSR X into ``out_*`` (preallocated), each row's entries in
    their order, column j renamed ``rank[j]``.  Indices unsigned (as :func:`_scatter`)."""
    k = UINDEX(0)
    out_indptr[0] = 0
    for t in range(UINDEX(rows.shape[0])):
        i = UINDEX(rows[t])
        for q in range(UINDEX(indptr[i]), UINDEX(indptr[i + UINDEX(1)])):
            out_indices[k] = rank[UINDEX(indices[q])]
            out_data[k] = data[q]
            k += UINDEX(1)
        out_indptr[t + UINDEX(1)] = k


#: Scorings computed from the margins of every C at once (one sparse product per fold),
#: by scikit-learn's definitions: accuracy = weighted mean of (predicted == true);
#: neg_log_loss = -weighted mean of -log(clip(p_true, eps, 1 - eps)), eps of float64.
_FAST_SCORES = {None: "accuracy", "accuracy": "accuracy", "neg_log_loss": "neg_log_loss"}


def _fast_scores(kind, X, test, yt_index, sw, coefs, intercepts):
    """Scores (n_Cs,) of the models (coefs (m, n_rows, d), intercepts (m, n_rows), views of
    the path's array are fine) on the rows ``test`` of X with true class positions
    ``yt_index``.  A CSR X: the margins by :func:`_csr_margins` on X's own rows (no copy of
    the test rows or of the coefficients), in the order and arithmetic of scipy's
    ``Xt @ coefs.T`` (the same numbers); else that product."""
    import scipy.sparse as sp

    m, n_rows, d = coefs.shape
    if sp.issparse(X) and X.format == "csr":
        Z = _csr_margins(X.indptr, X.indices, X.data, np.asarray(test, dtype=np.int64),
                         coefs, intercepts)
    else:
        Z = X[test] @ coefs.reshape(m * n_rows, d).T
        Z = np.asarray(Z, dtype=np.float64).reshape(-1, m, n_rows) + intercepts[None]
    n = Z.shape[0]
    if n_rows == 1:
        z = Z[:, :, 0]
        if kind == "accuracy":
            correct = (z > 0) == (yt_index[:, None] == 1)
            return np.average(correct, axis=0, weights=sw)
        p1 = _kernels.get("numpy").sigmoid(z)
        p_true = np.where(yt_index[:, None] == 1, p1, _kernels.get("numpy").sigmoid(-z))
    else:
        if kind == "accuracy":
            correct = Z.argmax(axis=2) == yt_index[:, None]
            return np.average(correct, axis=0, weights=sw)
        Z = Z - Z.max(axis=2, keepdims=True)
        P = np.exp(Z)
        P /= P.sum(axis=2, keepdims=True)
        p_true = P[np.arange(n), :, yt_index]
    eps = np.finfo(np.float64).eps
    return np.average(np.log(np.clip(p_true, eps, 1 - eps)), axis=0, weights=sw)


@njit(cache=True, nogil=True)
def _csr_margins(indptr, indices, data, rows, coefs, intercepts):  # pragma: no cover
    """Z (len(rows), m, n_rows) float64: ``Z[t, k, c] = sum_j X[rows[t], j] coefs[k, c, j] +
    intercepts[k, c]`` over a CSR X (indptr, indices, data).  Each sum runs over the row's
    stored entries in their order from 0.0, the product in float64, then the intercept is
    added: scipy's sparse-times-dense order (``csr_matvecs``) followed by ``+ intercepts``,
    so the same numbers as ``X[rows] @ coefs.reshape(m * n_rows, d).T + intercepts``."""
    m, n_rows = coefs.shape[0], coefs.shape[1]
    Z = np.empty((rows.shape[0], m, n_rows))
    for k in range(m):
        for c in range(n_rows):
            w = coefs[k, c]  # one model's coefficients: a row of the path's array
            for t in range(rows.shape[0]):
                i = UINDEX(rows[t])  # unsigned indices, as in _scatter
                acc = 0.0
                for jj in range(UINDEX(indptr[i]), UINDEX(indptr[i + UINDEX(1)])):
                    acc += np.float64(data[jj]) * w[UINDEX(indices[jj])]
                Z[t, k, c] = acc + intercepts[k, c]
    return Z


def _run_interleaved(paths, jobs):
    """Run the generators ``paths`` (:func:`_warm_steps`: one step a fit) to their ends on
    ``jobs`` threads (the calling thread and ``jobs - 1`` started ones); their return values,
    in the order of ``paths``.

    A step may yield a generator: a task that joins the paths (ahead of them, as one that
    has made no step; its return value is not returned).
    A thread takes the ready path that has made the fewest steps (ties: the first in
    ``paths``), runs its next step and puts it back, so the paths advance together and end
    at about the same time: with whole paths per thread, 5 folds on 2 threads run as
    2 + 2 + 1 paths and one thread idles through the fifth.  A path is stepped by one
    thread at a time and its steps are the same whichever thread runs them, so the results
    do not depend on the interleaving (kernel thread counts aside, :class:`_ThreadShare`).

    BLAS is limited to one thread once around all of them: a solver limits it around its
    own run (threadpoolctl, process-wide), and with paths in threads one path's exit would
    restore the multi-threaded setting under the others.  The solvers' cached threadpoolctl
    controller (:func:`fastlogit.solvers._result.blas_limit`), plain threads instead of a
    joblib ``Parallel`` and a fresh ``threadpool_limits`` (their start-up was a visible part
    of the whole fit on small sets: benchmarks/results/cv_race.md).  The first exception a
    step raises is raised here, after the other threads have finished their current step.
    """
    import heapq
    import threading

    from .solvers._result import blas_limit

    paths = list(paths)
    n_paths = len(paths)
    results = [None] * n_paths
    ready = [(0, k) for k in range(n_paths)]  # (steps made, index): a heap
    state = {"done": 0, "error": None}
    cond = threading.Condition()

    def worker():
        current = None  # (steps made, index) of the path this thread runs
        while True:
            with cond:
                if current is not None and ready and ready[0][0] < current[0]:
                    current = heapq.heappushpop(ready, current)  # the lagging path instead
                    cond.notify()
                while current is None:
                    if state["error"] is not None or state["done"] == len(paths):
                        return
                    if ready:
                        current = heapq.heappop(ready)
                    else:
                        cond.wait()
            steps, k = current
            try:
                task = next(paths[k])
            except StopIteration as stop:
                results[k] = stop.value
                current = None
                with cond:
                    state["done"] += 1
                    cond.notify_all()
            except BaseException as exc:  # raised by the caller below
                with cond:
                    if state["error"] is None:
                        state["error"] = exc
                    cond.notify_all()
                return
            else:
                current = (steps + 1, k)
                if task is not None:  # a new task joins the paths, ahead of them
                    with cond:
                        paths.append(task)
                        results.append(None)
                        heapq.heappush(ready, (0, len(paths) - 1))
                        cond.notify()

    with blas_limit():
        # the calling thread is one of the workers (one thread less to start and to wake)
        threads = [threading.Thread(target=worker, daemon=True)
                   for _ in range(min(jobs, len(paths)) - 1)]
        for t in threads:
            t.start()
        worker()
        for t in threads:
            t.join()
    if state["error"] is not None:
        raise state["error"]
    return results[:n_paths]


def _share_threads(n_jobs, total, n_tasks, effective_n_jobs):
    """(parallel paths, kernel threads per path), their product at most ``total`` (the
    kernel thread budget, :func:`fastlogit._config.effective_n_threads`) when ``n_jobs`` is
    None.

    ``n_jobs=None``: the budget goes to whole paths first, ``min(total, n_tasks)`` of them
    in parallel threads, the rest split into each path's kernel passes.  One path per
    thread needs no synchronisation per pass, which a small fold's pass (a fraction of a
    millisecond) cannot amortise.  An explicit ``n_jobs``: that many paths (joblib's
    meaning, -1 all cores), each with ``max(1, total // jobs)`` kernel threads.
    """
    jobs = total if n_jobs is None else effective_n_jobs(n_jobs)
    jobs = max(1, min(jobs, n_tasks))
    return jobs, max(1, total // jobs)


class _ThreadShare:
    """Kernel threads per fit of paths that run in parallel threads (the tail of the queue).

    While at least as many paths are left (running or queued) as there are path threads
    (``jobs``), each fit gets ``per_path`` threads.  Once fewer are left (5 folds on 2
    threads: the fifth runs alone), the running paths split the whole budget at their next
    fit, so the threads of finished paths are not left idle.  Only with ``n_threads=None``
    (``given`` None): the counts then depend on when the other paths finish, and kernels'
    results differ in their last bits between thread counts, which ``n_threads=None`` does
    not promise to keep (the kernels already leave out busy cores,
    :func:`fastlogit._config.kernel_threads`); a path left alone gets ``None``, the kernels'
    own load-aware count.  With an explicit ``n_threads`` every fit keeps ``per_path`` (the
    results stay reproducible).

    Parameters
    ----------
    total, per_path, jobs, n_tasks : int
        The thread budget, the threads of one path, the paths run at once and in all.
    given : int or None
        The ``n_threads`` the user gave.
    """

    def __init__(self, total, per_path, jobs, n_tasks, given):
        import threading

        self.total, self.per_path, self.jobs, self.given = total, per_path, jobs, given
        self.left = n_tasks
        self._lock = threading.Lock()

    def finished(self):
        """One path is done."""
        with self._lock:
            self.left -= 1

    def __call__(self):
        """Kernel ``n_threads`` for a running path's next fit."""
        left = self.left
        if self.given is not None or left >= self.jobs or left < 1:
            return self.per_path
        if left == 1:
            return None
        return max(self.per_path, self.total // left)


class _Speculation:
    """The refit of :class:`LogisticRegressionCV` started before the last C's scores.

    Each path hands in the scores of its Cs but the last (:meth:`arrive`, at the step
    before its last fit); the last to arrive gets the refit at the best (l1_ratio, C) of
    the summed scores so far as a task (a generator of one step, which
    :func:`_run_interleaved` runs on a free thread), unless that C's next one, whose folds'
    mean the refit's shifted start reads, is the last C (not fitted yet).  The final
    choice, with the last C's column, differs only where that column holds a strictly
    better entry (the tie rule takes the smaller C), and :meth:`result_for` hands the
    refit out only for the pair it was made at; the refit is the same call as the one
    made after the paths, so the same result.  An exception in the task drops it (the
    refit is then made after the paths, and raises there).

    Parameters
    ----------
    n_tasks : int
        Paths that arrive.
    shape : tuple (n_folds, n_l1_ratios, n_Cs - 1)
        Of the early scores.
    refit : callable (jl, ic) -> the refit's ``_fit_rows`` result
    """

    def __init__(self, n_tasks, shape, refit):
        import threading

        self.left = n_tasks
        self.early = np.empty(shape)
        self.refit = refit
        self.pair = self.result = None
        self.messages = []  # the speculated refit's ConvergenceWarning messages
        self._lock = threading.Lock()

    def arrive(self, f, j, early):
        """Path (fold f, l1_ratio j) hands in its early scores (n_Cs - 1,); the refit task
        for the last to arrive (None for the others, and where no refit can start)."""
        self.early[f, j] = early
        with self._lock:
            self.left -= 1
            last = self.left == 0
        if not last:
            return None
        jl, ic = _best_pair(self.early.sum(axis=0))
        if ic + 1 >= self.early.shape[2]:  # the next C is the last: its mean is not made
            return None
        self.pair = (jl, ic)
        return self._task(jl, ic)

    def _task(self, jl, ic):
        try:
            # a refit that is dropped must not warn: its ConvergenceWarnings are kept and
            # issued by result_for when it is used
            with deferred_convergence_warnings() as self.messages:
                self.result = self.refit(jl, ic)
        except Exception:  # made again after the paths, raising there
            self.pair = None
        return
        yield  # (a generator: one step)

    def result_for(self, jl, ic):
        """The speculated refit when it was made at (jl, ic), its ConvergenceWarnings
        issued now (on the calling thread); else None."""
        if self.pair != (jl, ic):
            return None
        for msg in self.messages:
            warnings.warn(msg, ConvergenceWarning, stacklevel=3)
        return self.result


class LogisticRegressionCV(LinearLogitOutputs, ClassifierMixin, BaseEstimator):
    """Logistic regression with C (and l1_ratio) chosen by cross-validation, scikit-learn's
    ``LogisticRegressionCV`` (1.9) on warm-started fastlogit paths.

    Parameters
    ----------
    Cs : int or array-like of positive floats, default=10
        An int n: ``np.logspace(-4, 4, n)``.
    l1_ratios : array-like of floats in [0, 1], default="warn"
        As scikit-learn 1.9: "warn" means None (L2) with its FutureWarning.  All 0: L2, all
        1: L1, else elastic net over each value.
    fit_intercept : bool, default=True
        Whether to fit an unpenalised intercept.
    cv : int, cross-validation generator or iterable, default=None
        The folds, as scikit-learn's ``check_cv`` reads them: None is 5-fold stratified, an
        int that many stratified folds.
    dual : bool, default=False
        Only False; True raises scikit-learn's error, as the estimator does.
    penalty : {"l2", "l1", "elasticnet", None}, default="deprecated"
        Deprecated as in scikit-learn 1.8 (FutureWarning when set): ``l1_ratios`` decide
        the penalty.  An unknown value raises ValueError.
    scoring : str, callable or None, default="warn"
        A scikit-learn scorer; None (and "warn", with scikit-learn's FutureWarning) means
        accuracy.
    solver : str, default="lbfgs"
        As :class:`fastlogit.LogisticRegression` (scikit-learn names mapped; "auto" picks
        by shape).
    tol : float >= 0, default=1e-4
        Stopping rule of every fit, as in :class:`fastlogit.LogisticRegression`.
    max_iter : int >= 0, default=100
        Most iterations of every fit.
    class_weight : dict, "balanced" or None, default=None
        Per-class factors multiplied into the sample weights ("balanced" computed on the
        whole y, as scikit-learn does).
    n_jobs : int or None
        Folds (x l1_ratios) fitted in parallel threads; each gets
        ``max(1, threads // n_jobs)`` kernel threads.  None: the kernel thread budget
        (``n_threads``) is shared out over the folds, one path per thread first, so that
        paths x threads never exceed it (``n_threads=1`` runs the folds one after another).
        With ``n_threads=None``, once fewer paths are left than threads, the paths still
        running take over the finished ones' threads at their next C.
    verbose : int, default=0
        Print one line per solver iteration when positive.
    refit : bool, default=True
        Refit the best (C, l1_ratio) of the summed fold scores (ties: the smallest C, then
        the first l1_ratio, as scikit-learn) on all the data,
        warm-started from the folds' mean at that C or, where F is lower, from the folds'
        mean path read off at C times (all rows' weight / a training fold's)
        (:func:`_shifted_start`); False: the model is the mean over the folds of each
        fold's best coefficients.
    intercept_scaling : float, default=1.0
        Used with ``solver="liblinear"`` only, as in :class:`fastlogit.LogisticRegression`.
    random_state : int, RandomState or None, default=None
        Passed to the stochastic solvers.
    use_legacy_attributes : bool, default="warn"
        scikit-learn 1.9's transition flag ("warn" = True with its FutureWarning): the
        layout of ``coefs_paths_``, ``scores_``, ``C_``, ``l1_ratio_``, ``n_iter_``.
    backend : {"auto", "numpy", "numba", "cython"}, default="auto"
    n_threads : int or None
        Total kernel threads (None: :func:`fastlogit._config.effective_n_threads`).

    Attributes
    ----------
    classes_, coef_ (1 or K, n_features), intercept_, Cs_ (n_Cs,), l1_ratios_,
    coefs_paths_, scores_, C_, l1_ratio_, n_iter_ : as scikit-learn's (legacy layout: dicts
    keyed by class, ``coefs_paths_[c]`` of shape (n_folds, n_Cs[, n_l1_ratios],
    n_features + fit_intercept); new layout: arrays (n_folds, n_l1_ratios, n_Cs, n_classes,
    n_dof)), n_features_in_, solver_ (the fastlogit solver that ran).

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import StandardScaler
    >>> from fastlogit.model_selection import LogisticRegressionCV
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> clf = LogisticRegressionCV(Cs=4, cv=3, l1_ratios=(0.0,), scoring="accuracy",
    ...                            use_legacy_attributes=False).fit(X, y)
    >>> clf.C_ in clf.Cs_, clf.scores_.shape, round(clf.score(X, y), 2)
    (True, (3, 1, 4), 0.98)
    """

    def __init__(self, *, Cs=10, l1_ratios="warn", fit_intercept=True, cv=None, dual=False,
                 penalty="deprecated", scoring="warn", solver="lbfgs", tol=1e-4,
                 max_iter=100, class_weight=None, n_jobs=None, verbose=0, refit=True,
                 intercept_scaling=1.0, random_state=None, use_legacy_attributes="warn",
                 backend="auto", n_threads=None):
        store_params(self, locals())

    # ------------------------------------------------------------------ parameters
    def _penalty_grid(self):
        """(penalty name, l1_ratios list, l1_ratios given or None) by scikit-learn 1.9's
        rules, with its warnings."""
        if isinstance(self.l1_ratios, str) and self.l1_ratios == "warn":
            warnings.warn("The default value for l1_ratios will change from None to (0.0,) in "
                          "version 1.10. From version 1.10 onwards, only array-like with "
                          "values in [0, 1] will be allowed, None will be forbidden. To avoid "
                          "this warning, explicitly set a value, e.g. l1_ratios=(0,).",
                          FutureWarning)
            given = None
        else:
            given = self.l1_ratios
        if given is not None:
            if isinstance(given, str) or np.ndim(given) != 1 or len(given) == 0:
                raise ValueError(f"l1_ratios must be an array-like of numbers between 0 and 1; "
                                 f"got (l1_ratios={given!r})")
            given = [check_l1_ratio(r, name="l1_ratios") for r in given]
        if self.penalty == "deprecated":
            if self.l1_ratios is None:
                warnings.warn("'l1_ratios=None' was deprecated in version 1.8 and will trigger "
                              "an error in 1.10. Use an array-like with values in [0, 1] "
                              "instead.", FutureWarning)
            if given is None or all(r == 0 for r in given):
                penalty = "l2"
            elif all(r == 1 for r in given):
                penalty = "l1"
            else:
                penalty = "elasticnet"
        else:
            if self.penalty not in ("l2", "l1", "elasticnet", None):
                raise ValueError(f"unknown penalty {self.penalty!r}")
            penalty = self.penalty
            warnings.warn("'penalty' was deprecated in version 1.8 and will be removed in "
                          "1.10. To avoid this warning, leave 'penalty' set to its default "
                          "value and use 'l1_ratios' and 'Cs' instead.", FutureWarning)
        if penalty == "elasticnet":
            if given is None:
                raise ValueError("l1_ratios must be an array-like of numbers between 0 and 1; "
                                 "got (l1_ratios=None)")
            grid = list(given)
        else:
            fixed = {"l2": 0.0, "l1": 1.0, None: 0.0}[penalty]
            grid = [fixed] * (1 if given is None else len(given))
        return penalty, grid, given

    def _scorer(self, build=True):
        """The scorer of ``scoring`` (scikit-learn's FutureWarning for "warn"); None without
        ``build`` (a scoring the CV computes itself, ``_FAST_SCORES``: no scorer object)."""
        from sklearn.metrics import get_scorer

        scoring = self.scoring
        if isinstance(scoring, str) and scoring == "warn":
            warnings.warn("The default value of the parameter 'scoring' will change from None, "
                          "i.e. accuracy, to 'neg_log_loss' in version 1.11. To silence this "
                          "warning, explicitly set the scoring parameter: "
                          "scoring='neg_log_loss' for the new, scoring='accuracy' or "
                          "scoring=None for the old default.", FutureWarning)
            scoring = None
        return get_scorer("accuracy" if scoring is None else scoring) if build else None

    def _legacy(self):
        if isinstance(self.use_legacy_attributes, str) and self.use_legacy_attributes == "warn":
            warnings.warn("The fitted attributes of LogisticRegressionCV will be simplified in "
                          "scikit-learn 1.10 to remove redundancy. Set "
                          "`use_legacy_attributes=False` to enable the new behavior now, or set "
                          "it to `True` to silence this warning during the transition period "
                          "while keeping the deprecated behavior for the time being.",
                          FutureWarning)
            return True
        return bool(self.use_legacy_attributes)

    def _plan(self, C, l1_ratio):
        return _fit_plan(C, l1_ratio, fit_intercept=self.fit_intercept, dual=self.dual,
                         tol=self.tol, max_iter=self.max_iter,
                         intercept_scaling=self.intercept_scaling, solver=self.solver,
                         random_state=self.random_state, verbose=max(0, self.verbose - 1),
                         backend=self.backend, n_threads=self.n_threads)

    # ------------------------------------------------------------------ fit
    @_fill_doc
    def fit(self, X, y, sample_weight=None):
        """Cross-validate every (C, l1_ratio), then (``refit``) fit the best on all data.

        Parameters
        ----------
        {X_train}
        y : array-like of shape (n_samples,)
            Class labels (two: binary, more: multinomial).
        sample_weight : array-like of shape (n_samples,), default=None
            Finite non-negative weights of the training losses, also passed to the scorer;
            None means 1 each.

        Returns
        -------
        self
            The fitted estimator (``C_``, ``scores_``, ``coefs_paths_`` set).

        Examples
        --------
        {cv_example}
        >>> clf = LogisticRegressionCV(Cs=3, cv=3, l1_ratios=(0.0,), scoring="accuracy",
        ...                            use_legacy_attributes=False)
        >>> clf.fit(X, y) is clf, clf.Cs_
        (True, array([1.e-04, 1.e+00, 1.e+04]))
        >>> clf.scores_.shape, clf.coefs_paths_.shape  # (folds, l1_ratios, Cs[, classes, dof])
        ((3, 1, 3), (3, 1, 3, 1, 5))
        """
        from joblib import effective_n_jobs

        from ._config import effective_n_threads, kernel_threads
        from .validation import class_weight_per_sample, encode_targets, check_sample_weight

        Cs = _check_Cs(self.Cs)
        check_tol(self.tol)
        check_max_iter(self.max_iter, allow_zero=True)
        check_n_jobs(self.n_jobs)
        penalty, grid, given = self._penalty_grid()
        scoring = self.scoring
        fast = (_FAST_SCORES.get(None if scoring == "warn" else scoring)
                if scoring is None or isinstance(scoring, str) else None)
        scorer = self._scorer(build=fast is None)
        legacy = self._legacy()
        if penalty is None or np.all(np.isinf(Cs)):
            Cs_fit, penalty = np.ones(1), None
        else:
            Cs_fit = Cs
        plan = self._plan(1.0, grid[0])
        plan.check_params()
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=[np.float64, np.float32],
                             order="C", accept_large_sparse=True)
        from sklearn.utils import column_or_1d

        y = column_or_1d(y, warn=True)
        n, d = X.shape
        classes, Y, index = encode_targets(y, n)
        n_classes = classes.shape[0]
        n_rows = 1 if n_classes == 2 else n_classes
        sw = check_sample_weight(sample_weight, n, allow_all_zero=False)
        cw = class_weight_per_sample(self.class_weight, classes, Y, sw)
        sw_fit = sw if cw is None else (cw if sw is None else sw * cw)
        folds = list(check_cv(self.cv, y, classifier=True).split(X, y))
        tasks = [(f, j) for f in range(len(folds)) for j in range(len(grid))]
        total = effective_n_threads(self.n_threads)
        jobs, threads = _share_threads(self.n_jobs, total, len(tasks), effective_n_jobs)
        share = (_ThreadShare(total, threads, jobs, len(tasks), self.n_threads) if jobs > 1
                 else None)
        n_dof = d + bool(self.fit_intercept)

        def fold_scores(f, coefs, intercepts):
            test = folds[f][1]
            return _fast_scores(fast, X, test, index[test], None if sw is None else sw[test],
                                coefs, intercepts)

        def run(f, j):
            train, test = folds[f]
            p = self._plan(1.0, grid[j])
            steps = _fit_rows_steps(p, X, Y, sw_fit, train, Cs_fit, penalty, grid[j],
                                    n_classes, threads, share=share,
                                    out=paths[f, j].reshape(n_c, -1), out_zeroed=True,
                                    blas_limited=True)
            early = None  # the scores of every C but the last (speculation only)
            made = 0  # the path's fits made (one a step)
            try:
                while True:
                    try:
                        next(steps)
                    except StopIteration as stop:
                        thetas, n_iter, _, name = stop.value
                        break
                    made += 1
                    task = None
                    if spec is not None and made == n_c - 1:
                        # every C but the last (the grid ascends) is fitted and final (binary,
                        # no intercept scaling): their scores now, the last C's at the end
                        rows = paths[f, j, :-1]
                        early = fold_scores(f, rows[:, :, :d], rows[:, :, d] if
                                            self.fit_intercept else np.zeros((n_c - 1, 1)))
                        task = spec.arrive(f, j, early)
                    yield task
            finally:
                if share is not None:
                    share.finished()
            # the path's array (paths[f, j], written in place), viewed as (n_Cs, n_rows,
            # n_dof): no copies of the coefficients (d may be large)
            full = _as_rows(thetas, n_rows, d, self.fit_intercept, penalty)
            coefs = full[:, :, :d]
            intercepts = (full[:, :, d] if self.fit_intercept
                          else np.zeros((len(thetas), n_rows)))
            if early is not None:  # (each C's score is its own: the same numbers)
                scores = np.concatenate((early, fold_scores(f, coefs[-1:], intercepts[-1:])))
            elif fast is not None:
                scores = fold_scores(f, coefs, intercepts)
            else:
                Xt, yt = X[test], y[test]
                scores = np.empty(len(thetas))
                shell = LogisticRegression(backend=self.backend, n_threads=threads)
                shell.classes_, shell.n_features_in_ = classes, d
                kw = {} if sw is None else {"sample_weight": sw[test]}
                for i in range(len(thetas)):
                    shell.coef_ = coefs[i].astype(X.dtype)
                    shell.intercept_ = intercepts[i].astype(X.dtype)
                    scores[i] = scorer(shell, Xt, yt, **kw)
            return scores, n_iter, name

        n_f, n_l, n_c = len(folds), len(grid), len(Cs_fit)
        # paths (n_folds, n_l1, n_Cs, n_rows, n_dof), written by the fold paths themselves
        # (_warm_steps' out); scores / n_iter (n_folds, n_l1, n_Cs)
        # zeros (fresh pages from the allocator, no fill pass of ours): each path then writes
        # only its compacted columns (_warm_steps' out_zeroed)
        paths = np.zeros((n_f, n_l, n_c, n_rows, n_dof))
        weight = (lambda rows: len(rows)) if sw_fit is None else (
            lambda rows: float(sw_fit[rows].sum()))
        ratio = weight(np.arange(n)) / np.mean([weight(tr) for tr, _ in folds])

        def refit(jl, ic):
            """The refit at (l1_ratio grid[jl], C Cs_fit[ic]) from the folds' paths."""
            means = {}

            def mean(i):  # the folds' mean (n_rows, n_dof) at Cs_fit[i], once each
                if i not in means:
                    means[i] = paths[:, jl, i].mean(axis=0)
                return means[i]

            starts = [mean(ic).ravel()]
            if penalty is not None:
                shifted = _shifted_start(mean, Cs_fit, ic, ratio)
                if shifted is not None:
                    starts.append(shifted.ravel())
            return _fit_rows(self._plan(1.0, grid[jl]), X, Y, sw_fit, None,
                             np.array([float(Cs_fit[ic])]) if penalty is not None else Cs_fit,
                             penalty, grid[jl], n_classes, effective_n_threads(self.n_threads),
                             theta0=starts)

        # The refit speculated (_Speculation): with the paths in threads, once every path
        # has fitted all Cs but the last, the refit at the best (l1_ratio, C) of their scores
        # so far runs as a task of its own, on the thread that frees first, while the paths
        # fit their last C, instead of alone on one core after them.  Kept when the last C
        # does not change the best pair (its column is not strictly better), else made
        # again; the same call either way, so the same refit.  For binary fits whose rows
        # are final as written (no liblinear intercept scaling), the scorings computed here,
        # and an ascending grid of at least three Cs (the shifted start needs the next C);
        # for a penalty with an L1 part (the l1 solver's passes are single-threaded) whose
        # passes over all the rows run on one kernel thread (kernel_threads): a refit whose
        # passes take every thread slowed the a9a and w8a CVs down beside the last paths
        # (benchmarks/results/cv_race.md).
        spec = None
        if (self.refit and penalty in ("l1", "elasticnet") and jobs > 1 and fast is not None
                and n_rows == 1 and not plan.liblinear_intercept and n_c >= 3
                and np.all(np.diff(Cs_fit) > 0)
                and kernel_threads(self.n_threads, n, X.size, 0) == 1):  # (size: nnz)
            spec = _Speculation(len(tasks), (n_f, n_l, n_c - 1), refit)
        if jobs == 1:
            from .solvers._result import blas_limit

            with blas_limit():  # once, not per fit (the paths run without their own)
                out = [_drain(run(f, j)) for f, j in tasks]
        else:  # (_run_interleaved limits BLAS around its threads)
            out = _run_interleaved([run(f, j) for f, j in tasks], jobs)
        scores = np.stack([o[0] for o in out]).reshape(n_f, n_l, n_c)
        n_iter = np.stack([o[1] for o in out]).reshape(n_f, n_l, n_c)
        self.Cs_ = Cs if penalty is not None else Cs[:1]
        self.l1_ratios_ = np.asarray([None]) if given is None else np.asarray(grid)
        if self.refit:
            jl, ic = _best_pair(scores.sum(axis=0))
            best_C, best_r = float(self.Cs_[ic]), grid[jl]
            made = None if spec is None else spec.result_for(jl, ic)
            thetas, it, conv, name = refit(jl, ic) if made is None else made
            coefs, intercepts = _split_theta(thetas, n_rows, d, self.fit_intercept, penalty)
            coef, intercept = coefs[0], intercepts[0]
            C_, r_ = best_C, (None if given is None else best_r)
            self.solver_ = name
        else:
            jls, ics = np.array([_best_pair(scores[f]) for f in range(n_f)]).T
            w = np.mean([paths[f, jls[f], ics[f]] for f in range(n_f)], axis=0)
            coef = w[:, :d]
            intercept = w[:, d] if self.fit_intercept else np.zeros(n_rows)
            C_ = float(np.mean(self.Cs_[ics]))
            r_ = float(np.mean([grid[j] for j in jls])) if penalty == "elasticnet" else 0.0
            self.solver_ = out[0][2]
        self.classes_ = classes
        self.coef_ = np.ascontiguousarray(coef, dtype=X.dtype)
        self.intercept_ = np.asarray(intercept, dtype=X.dtype)
        self._set_cv_attributes(legacy, paths, scores, n_iter, C_, r_, penalty, given,
                                n_rows, classes)
        return self

    def _set_cv_attributes(self, legacy, paths, scores, n_iter, C_, r_, penalty, given,
                           n_rows, classes):
        """scikit-learn 1.9's fitted attributes, legacy or new layout."""
        if not legacy:
            self.coefs_paths_ = np.moveaxis(paths, 3, 3)  # (folds, l1, Cs, classes, dof)
            self.scores_ = scores
            self.n_iter_ = n_iter
            self.C_ = float(C_)
            self.l1_ratio_ = (float(r_) if given is not None
                              else (1.0 if penalty == "l1" else 0.0))
            return
        keys = classes[1:] if n_rows == 1 else classes
        # per class: (n_folds, n_Cs, n_l1, n_dof), scores (n_folds, n_Cs, n_l1)
        per_class = np.moveaxis(paths, (3, 1), (0, 3))
        sc = np.swapaxes(scores, 1, 2)
        it = np.swapaxes(n_iter, 1, 2)[None]
        if given is None:
            per_class, sc, it = per_class[:, :, :, 0], sc[:, :, 0], it[:, :, :, 0]
        self.coefs_paths_ = {c: per_class[k] for k, c in enumerate(keys)}
        self.scores_ = {c: sc.copy() for c in keys}
        self.n_iter_ = it
        self.C_ = np.full(n_rows, C_, dtype=np.float64)
        self.l1_ratio_ = np.full(n_rows, r_, dtype=object if r_ is None else np.float64)

    @_fill_doc
    def score(self, X, y, sample_weight=None):
        """The ``scoring`` score (accuracy for None / "warn") of the fitted model on (X, y).

        Parameters
        ----------
        {X_predict}
        y : array-like of shape (n_samples,)
            True labels; a label not in ``classes_`` raises ValueError naming it, whatever
            the scoring (a scorer would count it as a silent miss).
        sample_weight : array-like of shape (n_samples,), default=None
            Weights passed to the scorer; None means 1 each.

        Returns
        -------
        float
            The score, greater is better (scikit-learn's scorer convention).

        Examples
        --------
        {cv_example}
        >>> clf = LogisticRegressionCV(Cs=3, cv=3, l1_ratios=(0.0,), scoring="neg_log_loss",
        ...                            use_legacy_attributes=False).fit(X, y)
        >>> round(clf.score(X, y), 3)  # minus the mean log-loss, as the scorer says
        -0.092
        """
        from sklearn.metrics import get_scorer

        scoring = None if (isinstance(self.scoring, str) and self.scoring == "warn") \
            else self.scoring
        if scoring is None:
            return super().score(X, y, sample_weight=sample_weight)
        check_is_fitted(self)
        check_known_labels(column_or_1d(y, warn=True), self.classes_)
        kw = {} if sample_weight is None else {"sample_weight": sample_weight}
        return get_scorer(scoring)(self, X, y, **kw)
