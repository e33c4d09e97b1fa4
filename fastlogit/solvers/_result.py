"""What every solver returns, its per-iteration history, and the stopping rule.

Stopping rule of the deterministic solvers (DESIGN.md sec. 3)::

    ||grad F(theta)||_inf <= tol * max(1, ||grad F(theta_0)||_inf)

(for L1 / elastic net the minimum-norm subgradient of F stands for grad F).  A solver that
stops short of it warns with :class:`ConvergenceWarning`, naming the gradient norm reached.
"""
import contextlib
import functools
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

__all__ = ["ConvergenceWarning", "History", "SolverResult", "stopping_threshold",
           "warn_not_converged", "single_threaded_blas"]

_CONTROLLER = []


def _blas_limit():
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
        with _blas_limit():
            return solver(*args, **kwargs)

    return wrapped


class ConvergenceWarning(UserWarning):
    """A solver stopped before meeting its stopping rule (like scikit-learn's)."""


@dataclass
class SolverResult:
    """Outcome of a solver run.

    Attributes
    ----------
    theta : ndarray of shape (n_params,), float64
        The parameters reached (layout of :class:`fastlogit.objective.Objective`).
    n_iter : int
        Outer iterations done.
    converged : bool
        Whether the stopping rule was met.
    message : str
    history : dict of lists
        ``"objective"`` (F, L1 part included), ``"grad_norm"`` (inf-norm of the (sub)gradient)
        and ``"time"`` (seconds since the solver started); entry 0 is the starting point.
    n_evals : dict
        Counts of objective passes: ``"value_grad"``, ``"hessp"`` etc. (diagnostics).
    solver : str or None
        The solver's name, set by :func:`fastlogit.solvers.solve`.
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
        """F at ``theta`` (last history entry)."""
        return self.history["objective"][-1] if self.history.get("objective") else np.nan

    @property
    def grad_norm(self):
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


def stopping_threshold(tol, gnorm0):
    """Absolute gradient inf-norm at which a solver stops: ``tol * max(1, gnorm0)``."""
    if not (np.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
    return float(tol) * max(1.0, float(gnorm0))


def warn_not_converged(name, gnorm, threshold, n_iter, reason="max_iter reached"):
    """Warn that solver ``name`` stopped at gradient norm ``gnorm`` above ``threshold``."""
    msg = (f"{name} did not converge ({reason}) after {n_iter} iterations: "
           f"||grad F||_inf = {gnorm:.3e} > {threshold:.3e}. Increase max_iter or tol, "
           f"or scale the data.")
    warnings.warn(msg, ConvergenceWarning, stacklevel=3)
    return msg
