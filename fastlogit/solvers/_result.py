"""What every solver returns, its per-iteration history, and the stopping rule.

Stopping rule of the deterministic solvers (docs/user_guide/objective.md, solver contract)::

    ||grad F(theta)||_inf <= tol * max(1, ||grad F(0)||_inf)

(for L1 / elastic net the minimum-norm subgradient of F stands for grad F).  The reference
``||grad F(0)||_inf`` is taken at theta = 0, *not* at the starting point: a warm start
(a previous fit, the neighbouring C of a regularisation path) then stops at the same
threshold as a cold fit of the same problem, so it saves iterations instead of tightening the
rule by the factor its better start gained (scikit-learn#6524 is that flaw in liblinear).
:func:`reference_gradient_norm` computes it; the unscaled data gradient at 0 behind it is
computed once per data term and cached, so for a C grid over one data term it costs one
kernel pass in all (none for a cold start, whose first gradient is the reference).

A solver that stops short of the rule warns with :class:`ConvergenceWarning` (a subclass of
scikit-learn's, so ``pytest.warns(sklearn.exceptions.ConvergenceWarning)`` and scikit-learn's
warning filters catch it), naming the gradient norm reached.
"""
import contextlib
import functools
import threading
import time
import warnings
import weakref
from dataclasses import dataclass, field

import numpy as np
from numba import njit
from sklearn.exceptions import ConvergenceWarning as _SklearnConvergenceWarning

__all__ = ["ConvergenceWarning", "History", "SolverResult", "stopping_threshold",
           "reference_gradient_norm", "data_grad_at_zero", "binary_reference_norm",
           "warn_not_converged", "deferred_convergence_warnings", "single_threaded_blas",
           "blas_limit",
           "begin_smooth_fit", "finish_fit"]

_CONTROLLER = []


def blas_limit():
    """Context limiting BLAS to one thread (threadpoolctl), or a no-op without it."""
    if not _CONTROLLER:
        try:
            from threadpoolctl import ThreadpoolController

            _CONTROLLER.append(ThreadpoolController())
        except Exception:  # pragma: no cover - threadpoolctl missing or broken
            _CONTROLLER.append(None)
    ctl = _CONTROLLER[0]
    return contextlib.nullcontext() if ctl is None else ctl.limit(limits=1, user_api="blas")


def single_threaded_blas(solver):
    """Run ``solver`` with BLAS limited to one thread.

    The solvers' own linear algebra is level-1 work on p-vectors (dots, axpys), for which a
    multi-threaded BLAS only adds synchronisation, and on busy cores its waiting threads can
    make such a call orders of magnitude slower (figures in benchmarks/results/NOTES.md).
    The passes over X run in fastlogit's own kernels with their own ``n_threads`` and are
    unaffected.
    """
    @functools.wraps(solver)
    def wrapped(*args, **kwargs):
        with blas_limit():
            return solver(*args, **kwargs)

    return wrapped


class ConvergenceWarning(_SklearnConvergenceWarning):
    """A solver stopped before meeting its stopping rule.

    Subclasses :class:`sklearn.exceptions.ConvergenceWarning` (itself a ``UserWarning``), so
    code filtering scikit-learn's warning filters fastlogit's too.  Its message names the
    solver and the gradient norm reached against the threshold.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning
    >>> from fastlogit.objective import Objective
    >>> from fastlogit.solvers import ConvergenceWarning, solve
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     result = solve(Objective(X, [0, 0, 1, 1]), "lbfgs", max_iter=1)
    >>> result.converged, caught[0].category is ConvergenceWarning
    (False, True)
    >>> issubclass(ConvergenceWarning, SklearnConvergenceWarning)
    True
    """


@dataclass
class SolverResult:
    """Outcome of a solver run (a dataclass; every solver returns one).

    ``fun`` and ``grad_norm`` (properties) are the last entries of ``history["objective"]``
    and ``history["grad_norm"]`` (NaN when the history is empty).

    Parameters
    ----------
    theta : ndarray of shape (n_params,)
        The parameters reached, float64 (layout of :class:`fastlogit.objective.Objective`:
        coefficients, then the intercept).
    n_iter : int
        Outer iterations done (epochs for the stochastic solvers).
    converged : bool
        Whether the stopping rule was met.
    message : str
        Why the solver stopped, in words.
    history : dict of str to list of float, default={}
        ``"objective"`` (F, L1 part included), ``"grad_norm"`` (inf-norm of the (sub)gradient)
        and ``"time"`` (seconds since the solver started); entry 0 is the starting point.
    n_evals : dict of str to int, default={}
        Counts of objective passes: ``"value_grad"``, ``"hessp"`` etc. (diagnostics).
    solver : str, default=None
        The solver's name, set by :func:`fastlogit.solvers.solve`.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.objective import Objective
    >>> from fastlogit.solvers import solve
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    >>> result = solve(Objective(X, [0, 0, 1, 1], C=1.0), "newton-cholesky")
    >>> result.solver, result.converged, result.theta.shape
    ('newton-cholesky', True, (3,))
    >>> bool(result.fun == result.history["objective"][-1] <= result.history["objective"][0])
    True
    """

    theta: np.ndarray
    n_iter: int
    converged: bool
    message: str
    history: dict = field(default_factory=dict)
    n_evals: dict = field(default_factory=dict)
    solver: str = None

    @property
    def fun(self):
        """F at ``theta``: the last entry of ``history["objective"]`` (a float), NaN when the
        history has none.

        Examples
        --------
        >>> from fastlogit.solvers import SolverResult
        >>> result = SolverResult([0.0], 2, True, "done", history={"objective": [0.69, 0.4, 0.3]})
        >>> result.fun
        0.3
        >>> SolverResult([0.0], 0, False, "no history").fun
        nan
        """
        return self.history["objective"][-1] if self.history.get("objective") else np.nan

    @property
    def grad_norm(self):
        """Infinity norm of the (sub)gradient of F at ``theta``: the last entry of
        ``history["grad_norm"]`` (a non-negative float), NaN when the history has none.

        Examples
        --------
        >>> from fastlogit.solvers import SolverResult
        >>> result = SolverResult([0.0], 1, True, "done", history={"grad_norm": [0.5, 1e-7]})
        >>> result.grad_norm
        1e-07
        >>> SolverResult([0.0], 0, False, "no history").grad_norm
        nan
        """
        return self.history["grad_norm"][-1] if self.history.get("grad_norm") else np.nan


class History:
    """Per-iteration record (objective, gradient inf-norm, elapsed time) plus the callback."""

    def __init__(self, callback=None, verbose=0, name="solver"):
        self.t0 = time.perf_counter()
        self.callback = callback
        self.verbose = verbose
        self.name = name
        self.objective = []
        self.grad_norm = []
        self.time = []

    def record(self, theta, fval, gnorm):
        """Append one entry; call the callback with ``theta``. Returns True to stop early."""
        self.objective.append(float(fval))
        self.grad_norm.append(float(gnorm))
        self.time.append(time.perf_counter() - self.t0)
        if self.verbose:
            print(f"[{self.name}] iter {len(self.objective) - 1:4d}  F = {fval:.12g}  "
                  f"|g|_inf = {gnorm:.3e}  t = {self.time[-1]:.4f}s")
        if self.callback is not None:
            return bool(self.callback(theta))
        return False

    def as_dict(self):
        return {"objective": self.objective, "grad_norm": self.grad_norm, "time": self.time}


def stopping_threshold(tol, reference):
    """Absolute gradient inf-norm at which a solver stops: ``tol * max(1, reference)``.

    ``reference`` is :func:`reference_gradient_norm` of the objective (the rule of this
    module); a number that depends on the starting point makes warm starts pay nothing.
    """
    if not (np.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
    return float(tol) * max(1.0, float(reference))


def threshold_after(thr, tol, it, min_iter):
    """The threshold a solver compares its optimality measure with after ``it`` steps.

    ``thr`` (:func:`stopping_threshold`) once ``min_iter`` steps are taken; before that the
    rule's floor ``tol`` when it is lower, so that a fit asked to take ``min_iter`` steps
    (a regularisation path's warm-started fits: :func:`fastlogit.model_selection.warm_path`)
    returns its start unmoved only when the start is optimal to the absolute tolerance.

    Parameters
    ----------
    thr : float
        The fit's stopping threshold.
    tol : float >= 0
        The fit's tolerance.
    it, min_iter : int
        Steps taken, steps asked for.

    Returns
    -------
    float
    """
    return thr if it >= min_iter else min(thr, stopping_threshold(tol, 0.0))


#: data term -> float64 gradient of its unscaled L at theta = 0 (weakly keyed: dropped with
#: the data term).  Data terms are immutable after construction, so the entry stays valid.
_GRAD_AT_ZERO = weakref.WeakKeyDictionary()


def data_grad_at_zero(data, n_params):
    """grad L(0) of the data term ``data`` (unscaled, float64, shape (n_params,)): one
    ``loss_grad`` pass the first time, then cached per data term (weakly keyed)."""
    try:
        g = _GRAD_AT_ZERO.get(data)
    except TypeError:  # not weakly referenceable: no cache
        g = None
    if g is None or g.shape != (n_params,):
        g = np.array(data.loss_grad(np.zeros(n_params))[1], dtype=np.float64)
        try:
            _GRAD_AT_ZERO[data] = g
        except TypeError:
            pass
    return g


def reference_gradient_norm(objective, theta0=None, grad0=None):
    """``||grad F(0)||_inf``: the reference of the stopping rule, independent of the start.

    For a penalty with an L1 part the minimum-norm subgradient of F at 0 stands for the
    gradient (zero when 0 is the optimum: then the rule's ``max(1, .)`` applies).

    Parameters
    ----------
    objective : :class:`fastlogit.contract.SolverObjective`
        When it has ``data`` (a :class:`fastlogit.contract.DataTerm`), ``C``, ``layout``
        and ``penalty`` (every :class:`fastlogit.objective.Objective`), the reference is
        ``C * grad L(0)`` plus the penalty's smooth gradient at 0, with ``grad L(0)``
        computed once per data term and cached: changing ``objective.C`` between fits
        (a regularisation path) costs no pass over the data.  Otherwise one
        ``value_grad(0)``.
    theta0, grad0 : ndarray of shape (n_params,) or None
        The solver's start and the smooth part's gradient there: when theta0 is all zeros
        the reference is read off ``grad0`` (no pass at all).

    Returns
    -------
    float (>= 0)
    """
    n = objective.n_params
    if theta0 is not None and grad0 is not None and not np.any(theta0):
        g = np.asarray(grad0, dtype=np.float64)
    else:
        data, C = getattr(objective, "data", None), getattr(objective, "C", None)
        if data is None or C is None or not hasattr(objective, "penalty"):
            g = objective.value_grad(np.zeros(n))[1]
        else:
            g = float(C) * data_grad_at_zero(data, n)
            pen, layout = objective.penalty, objective.layout
            if pen.l2_strength is None:  # a general smooth part; a/2||w||^2 has zero slope
                g = g.copy()
                layout.add_coef(g, pen.smooth_grad(layout.coef(np.zeros(n))))
    if getattr(objective, "l1_strength", 0):
        g = objective.min_norm_subgradient(np.zeros(n), g)
    return float(np.abs(g).max()) if g.size else 0.0


@njit(cache=True, nogil=True)
def binary_reference_norm(g0, d, lam, C):  # pragma: no cover (compiled)
    """:func:`reference_gradient_norm` of a binary Objective in one compiled loop, for callers
    that check the rule at many Cs of one data term (the l1 solver's path fits, the CV's
    checks): ``||S_0||_inf``, S_0 the minimum-norm subgradient of F at 0 where the smooth
    part's gradient is ``C g0`` (``g0`` = :func:`data_grad_at_zero`, d coefficients then the
    intercept if any, ``lam`` the L1 strength).  Entry by entry with
    ``Objective.min_norm_subgradient``'s arithmetic (``g + (m - g)``, m the soft threshold
    of g), so the same number (tested ``==``)."""
    ref = 0.0
    for j in range(g0.shape[0]):
        rj = C * g0[j]
        if j < d and lam != 0.0:
            m = np.sign(rj) * max(abs(rj) - lam, 0.0)
            rj = rj + (m - rj)
        ref = max(ref, abs(rj))
    return ref


#: this thread's list of deferred warning messages (deferred_convergence_warnings), if any
_DEFERRED = threading.local()


def warn_not_converged(name, gnorm, threshold, n_iter, reason="max_iter reached"):
    """Warn that solver ``name`` stopped at gradient norm ``gnorm`` above ``threshold``
    (or, inside :func:`deferred_convergence_warnings` on this thread, keep the message for
    its caller)."""
    msg = (f"{name} did not converge ({reason}) after {n_iter} iterations: "
           f"||grad F||_inf = {gnorm:.3e} > {threshold:.3e}. Increase max_iter or tol, "
           f"or scale the data.")
    kept = getattr(_DEFERRED, "messages", None)
    if kept is not None:
        kept.append(msg)
    else:
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
    return msg


@contextlib.contextmanager
def deferred_convergence_warnings():
    """Within it, this thread's solvers keep their :class:`ConvergenceWarning` messages in
    the list it yields instead of warning; the caller warns with them (``warnings.warn(msg,
    ConvergenceWarning)``) if the fit's result is used, or drops them with a result it
    throws away (a speculated fit).  Per thread: other threads' fits warn as usual, which
    ``warnings.catch_warnings`` (process-wide state) could not guarantee."""
    outer = getattr(_DEFERRED, "messages", None)
    _DEFERRED.messages = messages = []
    try:
        yield messages
    finally:
        _DEFERRED.messages = outer


def _check_smooth(objective, name):
    if objective.l1_strength:
        raise ValueError(f"solver {name!r} does not support penalty="
                         f"{objective.penalty.name!r} with an L1 part; use solver='l1'")


def _start(objective, theta0):
    theta = np.array(theta0, dtype=np.float64).reshape(-1)
    if theta.shape != (objective.n_params,):
        raise ValueError(f"theta0 must have {objective.n_params} entries, got {theta.size}")
    return theta


def finish_fit(name, objective, theta, it, hist, gnorm, thr, message="max_iter reached",
            by_callback=False):
    """The SolverResult at ``theta``: converged when ``gnorm <= thr``; otherwise it warns with
    ``message`` as the reason, unless the callback asked to stop (``by_callback``)."""
    converged = gnorm <= thr
    if by_callback:
        message = "stopped by callback"
    elif converged:
        message = "converged"
    else:
        message = warn_not_converged(name, gnorm, thr, it, message)
    return SolverResult(theta=theta, n_iter=it, converged=converged, message=message,
                        history=hist.as_dict(), n_evals=dict(getattr(objective, "n_evals", {})))


def begin_smooth_fit(name, objective, theta0, tol, callback, verbose):
    """Common start of the smooth solvers (Newton's and L-BFGS): checks, first value/gradient, the
    stopping threshold ``tol * max(1, ||grad F(0)||_inf)`` (:func:`reference_gradient_norm`:
    read off the first gradient when theta0 = 0, else cached per data term).

    Returns ``(theta, hist, f, g, gnorm, thr, stopped)``; ``stopped`` is the finished
    SolverResult when the callback asked to stop at the starting point, else None.
    """
    _check_smooth(objective, name)
    theta = _start(objective, theta0)
    hist = History(callback, verbose, name)
    f, g = objective.value_grad(theta)
    gnorm = float(np.abs(g).max())
    thr = stopping_threshold(tol, reference_gradient_norm(objective, theta, g))
    stopped = None
    if hist.record(theta, f, gnorm):
        stopped = finish_fit(name, objective, theta, 0, hist, gnorm, thr, by_callback=True)
    return theta, hist, f, g, gnorm, thr, stopped
