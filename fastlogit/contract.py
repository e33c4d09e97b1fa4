"""The model contract: data term x penalty -> objective -> solver, written as Protocols.

Four concepts, each in its own module, composed by :class:`fastlogit.objective.Objective`::

    F(theta) = C * L(theta) + R(w)        w = the coefficients of theta (no intercepts)

* **data term** ``L`` (:class:`DataTerm`): the *unpenalised, unscaled* sum
  ``sum_i s_i l(y_i, z_i)`` of a loss over a data set, and its derivatives.  The loss and the
  place the data live are the data term's business: in memory through the fused kernels
  (:class:`fastlogit.objective.LogLossData`, binary or softmax), in memory through a pointwise
  loss on margins (:mod:`fastlogit.extras`: focal, noise-corrected), read chunk by chunk from
  a cache on disk (:mod:`fastlogit.outofcore`), or summed over Dask workers
  (:mod:`fastlogit.dask`).  A chunked or distributed data term is a sum of in-memory ones:
  only the transport differs.
* **penalty** ``R`` (:class:`fastlogit.penalties.Penalty`): smooth part + ``l1_strength``
  times ||w||_1; value, gradient, Hessian products, prox, optimality measure.
* **layout** (:class:`fastlogit.layout.Layout`): how theta packs coefficients and intercepts.
* **solvers** (:mod:`fastlogit.solvers`) call only what :class:`SolverObjective` lists, and
  each declares (:class:`SolverInfo`) which of those methods it needs and whether it handles
  a non-smooth penalty or is stochastic.  Every list of valid solvers (estimators, CLI, Dask)
  is derived from those declarations (:func:`fastlogit.solvers.solvers_for`).

Invariants every implementation keeps:

* theta is a float64 array of shape ``(n_params,)``; gradients, Hessian products and
  diagonals are float64 of the same shape; ``hessian`` is ``(n_params, n_params)``;
* the intercept is never penalised;
* ``loss_grad(theta)`` may cache the curvature at theta (LIBLINEAR's ``D``), so that a
  following ``hessp`` / ``hess_diag`` / ``hessian`` at the same theta costs one pass over X;
  a Hessian method called at another theta computes what it needs first;
* results for a given thread count are deterministic;
* a non-finite theta, or one of another length, raises
  :class:`fastlogit.layout.NonFiniteError` / ValueError at the objective (the
  :class:`SolverObjective`, which checks theta with ``Layout.check`` before a data term
  sees it); data terms trust their caller and do not check theta again (one O(n_params)
  scan per call saved on the inner path).
"""
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = ["DataTerm", "SolverObjective", "SolverInfo", "SOLVER_METHODS", "declare"]


@runtime_checkable
class DataTerm(Protocol):
    """L(theta) = sum_i s_i l(y_i, z_i(theta)) over one data set: no C, no penalty.

    Attributes: ``layout`` (:class:`~fastlogit.layout.Layout`), ``n_samples``, ``dtype`` (of
    the data: float32 or float64).

    Optional: ``l2_loss_grad(theta, C, a)`` returning ``(C L + a/2 ||w||^2, its gradient)``
    (a new array), the same values as ``loss_grad`` scaled and the L2 term added, with the
    same caching; :meth:`fastlogit.objective.Objective.value_grad` calls it for a penalty
    whose smooth part is ``a/2 ||w||^2`` (``l2_strength`` not None), so that a data term can
    fuse the scaling and the penalty into its own passes (the in-memory softmax does).
    """

    layout: object
    n_samples: int

    def loss(self, theta):
        """L(theta), float."""

    def loss_grad(self, theta):
        """(L(theta), grad L(theta)); may cache the curvature at theta."""

    def hessp(self, theta, v):
        """Hess L(theta) v."""

    def hess_diag(self, theta):
        """diag Hess L(theta)."""

    def hessian(self, theta):
        """Dense Hess L(theta), (n_params, n_params); small n_params only."""

    def margins(self, theta, intercept=True):
        """z = X w (+ b): (n,) binary, (n, K) multinomial, float64."""

    def loss_from_margins(self, z):
        """L at the theta whose margins are ``z`` (O(n), no pass over X)."""


@runtime_checkable
class SolverObjective(Protocol):
    """What a solver may call on an objective (:class:`fastlogit.objective.Objective`).

    ``value`` is the full F; ``value_grad``, ``hessp``, ``hess_diag``, ``hessian`` describe
    the *smooth part* f = C L + S(w) (F minus the L1 part); ``line(theta, d)`` returns an
    object whose ``value(t)`` is f(theta + t d) at O(n + p) per trial; ``prox`` and
    ``min_norm_subgradient`` handle the L1 part; ``row_block(start, stop)`` is the same
    objective on a block of rows (stochastic solvers).
    """

    n_params: int
    layout: object
    penalty: object
    C: float

    def value(self, theta): ...

    def value_grad(self, theta): ...

    def hessp(self, theta, v): ...

    def hess_diag(self, theta): ...

    def hessian(self, theta): ...

    def line(self, theta, direction, z=None): ...

    def prox(self, theta, step): ...

    def min_norm_subgradient(self, theta, grad): ...


#: The objective methods a solver may declare that it needs.
SOLVER_METHODS = frozenset({"value", "value_grad", "hessp", "hess_diag", "hessian", "line",
                            "margins", "prox", "min_norm_subgradient", "row_blocks"})


@dataclass(frozen=True)
class SolverInfo:
    """What a solver needs from an objective and what it handles.

    name : str
        The name the estimators, the CLI and Dask accept.
    needs : frozenset of names from :data:`SOLVER_METHODS`
        ``"row_blocks"`` means log-loss row blocks the stochastic driver can stream
        (:func:`fastlogit.stochastic.supports`: in memory, or chunk by chunk from disk).
    nonsmooth : bool
        Handles a penalty with an L1 part (through prox / subgradients).
    convex_only : bool
        Relies on a positive semi-definite Hessian (Newton steps): not offered for the
        non-convex data terms (``data.is_convex`` False).
    stochastic : bool
        Counts epochs in ``max_iter``; stops on stalled progress, not a gradient norm.
    """

    name: str
    needs: frozenset = field(default_factory=frozenset)
    nonsmooth: bool = False
    convex_only: bool = False
    stochastic: bool = False

    def __post_init__(self):
        unknown = set(self.needs) - SOLVER_METHODS
        if unknown:
            raise ValueError(f"unknown objective methods {sorted(unknown)}")


def declare(name, *, needs, nonsmooth=False, convex_only=False, stochastic=False):
    """Decorator: attach a :class:`SolverInfo` to a solver function as ``solver.info``."""
    info = SolverInfo(name, frozenset(needs), nonsmooth, convex_only, stochastic)

    def attach(func):
        func.info = info
        return func

    return attach
