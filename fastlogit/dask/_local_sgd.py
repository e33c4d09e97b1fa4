"""Local SGD over a :class:`~fastlogit.dask.DaskObjective`'s parts, with periodic averaging,
on the one stochastic driver (:mod:`fastlogit.stochastic`).

Each round every input row block runs ``local_epochs`` SGD epochs
(:func:`fastlogit.stochastic.local_epochs`: the compiled SGD epoch kernel for penalties of
the elastic-net form, any other penalty through the driver's generic path; scikit-learn's
"optimal" step ``1 / (alpha (t0 + t))`` by default, the step counter continued across
rounds) from the current average, on the worker that holds it; then the models are averaged,
weighted by the blocks' sample-weight sums.  The rounds are the epochs of
:func:`fastlogit.stochastic.fit_epochs` (the stopping rule every stochastic front uses:
gradient test, stalled progress, restarts with smaller steps, never "converged" without
progress from the start).

Because the step size decreases to zero this is *local SGD with periodic averaging*: for the
convex objective it converges to the same minimiser as the deterministic solvers (Stich
2019, "Local SGD converges fast and communicates little"; Khaled et al. 2020 for blocks that
are not identically distributed), at SGD's sublinear rate; with a constant step it would
stop in a neighbourhood of the optimum biased towards the blocks' own minimisers.  Use it
for a quick approximate fit; use "lbfgs", "newton-cg" or "l1" for a tight one.
"""
import numpy as np

from ..stochastic import (Schedule, fit_epochs, local_epochs as _local_epochs,
                          max_step_curvature, row_source)
from ._data import DaskObjective
from ._transport import tree_sum

__all__ = ["local_sgd"]


def _part_sgd(part, theta, schedule, options, seeds, t_starts):
    """One round on each input block of a part (rows apart, as if alone), from ``theta``
    (unchanged); returns the sums ``(sum_b weight_b theta_b, sum_b weight_b, loss sum)``.
    ``options``: the keywords ``C``, ``penalty``, ``n_total``, ``epochs``, ``average``,
    ``batch_size`` of :func:`fastlogit.stochastic.local_epochs`."""
    bounds = np.cumsum([0] + part.block_sizes)
    results = []
    for a, b, seed, t_start in zip(bounds[:-1], bounds[1:], seeds, t_starts):
        res = _local_epochs(part.data.rows(a, b), theta, schedule, t_start=t_start, seed=seed,
                            n_threads=1, **options)
        results.append((res.weight * res.theta, res.weight, res.loss_sum))
    return tree_sum(*results)


def _part_max_curvature(part, penalty, alpha):
    """The part's ``L_max`` (:func:`fastlogit.stochastic.max_step_curvature`)."""
    return max_step_curvature(row_source(part.data), penalty, alpha)


class _Rounds:
    """The optimizer :func:`fastlogit.stochastic.fit_epochs` drives: one epoch = one round of
    local epochs on every block, then the weighted average."""

    def __init__(self, objective, theta0, schedule, options, rng):
        self.objective = objective
        self.parts = objective.data.parts
        self.theta0 = np.array(theta0, dtype=np.float64)
        self.base = schedule
        self.options = options
        self.rng = rng
        self.sizes = np.asarray(objective.data.block_sizes, dtype=np.float64)
        # the input blocks of each part, in order
        self.ends = np.cumsum([0] + self.parts.blocks_per_part)
        self.n_rounds = 0
        self._safe_step = None

    def start(self, step_scale):
        """(Re)start at theta0 with the steps scaled; a restart caps the first step at
        ``1 / L_max`` (the largest over the parts, computed on the workers once)."""
        self.schedule = self.base.scaled(step_scale)
        if step_scale < 1.0:
            if self._safe_step is None:
                alpha = self.base.alpha
                top = max(self.parts.map(_part_max_curvature, self.options["penalty"], alpha))
                self._safe_step = 1.0 / top
            first = self.schedule.eta(1.0)
            if first > self._safe_step:
                self.schedule = self.schedule.scaled(self._safe_step / first)
        self.theta = self.theta0.copy()
        self.counters = np.zeros(self.sizes.size)

    def epoch(self):
        seeds = self.rng.integers(0, 2**63 - 1, size=self.sizes.size)
        per_part = [(seeds[a:b].tolist(), self.counters[a:b].tolist())
                    for a, b in zip(self.ends[:-1], self.ends[1:])]
        total, weight, loss = self.parts.map_reduce(
            _part_sgd, self.parts.put(self.theta), self.schedule, self.options,
            per_part=per_part)
        steps = self.sizes if self.options["batch_size"] is None else np.ceil(
            self.sizes / self.options["batch_size"])
        self.counters += self.options["epochs"] * steps
        self.theta = total / weight
        self.n_rounds += 1
        return loss

    def iterate(self):
        return self.theta

    def end_epoch(self, improved):
        return self.schedule.end_epoch(improved)


def local_sgd(objective, theta0, *, tol=1e-4, max_iter=100, callback=None, verbose=0,
              random_state=None, local_epochs=1, eta0=None, learning_rate="optimal",
              power_t=0.5, batch_size=None, n_iter_no_change=5, average=True):
    """SGD over a :class:`DaskObjective`'s blocks: local epochs, then weighted averaging.

    One iteration (round): every block runs ``local_epochs`` shuffled SGD epochs over its
    rows starting from the current theta and returns the Polyak average of its iterates over
    the round (``average=True``; else its last iterate); the new theta is the average of the
    blocks' results weighted by their sample-weight sums.  After each round one
    ``value_grad`` pass (a ``value`` pass for a penalty with an L1 part) measures F for the
    history and the stopping rule of :func:`fastlogit.stochastic.fit_epochs`.

    Parameters
    ----------
    objective : DaskObjective
        Any penalty: of the elastic-net form through the compiled epochs (lazy L2 scaling,
        cumulative L1 truncation), any other through the driver's generic path (it must be
        importable on the workers).
    theta0 : ndarray of shape (n_params,)
        Starting point, finite (a wrong size raises ValueError).
    tol : float >= 0 or None, default=1e-4
        The stopping rule of :mod:`fastlogit.stochastic` on F after each round (gradient
        rule, and a round improves when it lowers F by ``tol |F|``); None runs
        ``max_iter`` rounds.
    max_iter : int >= 1, default=100
        Rounds in total, restarts included; stopping there warns with
        :class:`fastlogit.solvers.ConvergenceWarning`.
    callback : callable, default=None
        ``callback(theta)`` at theta0 and after each round; returning True stops.
    verbose : int, default=0
        Print one line per round when positive.
    random_state : int, numpy.random.Generator or None, default=None
        Seed of the blocks' shuffling; a fixed seed gives the same rounds.
    local_epochs : int >= 1, default=1
        Epochs over its block each worker runs between two averagings.
    learning_rate, eta0, power_t
        The :class:`fastlogit.stochastic.Schedule` (mean-loss scaling, ``alpha = 1/(C n)``);
        "optimal" ignores ``eta0`` unless given, then ``t0 = 1 / (alpha eta0)``.
    batch_size : int or None
        None: per-sample steps; an int: mini-batch steps of that many rows.
    n_iter_no_change : int >= 1, default=5
        Rounds in a row without improvement before the run stops (converged).
    average : bool, default=True
        Each block returns the Polyak average of its iterates over the round (True) or its
        last iterate (False).

    Returns
    -------
    SolverResult
        A :class:`fastlogit.solvers.SolverResult`; ``n_evals["sgd_rounds"]`` counts the
        rounds.

    Raises
    ------
    TypeError
        If ``objective`` is not a :class:`DaskObjective`.
    ValueError
        If ``local_epochs`` or ``batch_size`` is not a positive integer, or a schedule
        option is invalid.

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> from distributed import Client
    >>> from fastlogit.dask import DaskObjective, local_sgd
    >>> from fastlogit.solvers import solve
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 3))
    >>> y = (X[:, 0] + 0.5 * rng.normal(size=400) > 0).astype(float)
    >>> with Client(processes=False, n_workers=1, dashboard_address=None):
    ...     dX, dy = da.from_array(X, chunks=(100, 3)), da.from_array(y, chunks=100)
    ...     with DaskObjective(dX, dy, C=1.0) as objective:
    ...         sgd = local_sgd(objective, np.zeros(4), tol=1e-3, max_iter=50, random_state=0)
    ...         best = solve(objective, "lbfgs", tol=1e-8)
    >>> sgd.converged, bool(sgd.fun <= 1.01 * best.fun)
    (True, True)
    """
    if not isinstance(objective, DaskObjective):
        raise TypeError("local_sgd runs on a DaskObjective")
    if isinstance(local_epochs, bool) or not isinstance(local_epochs, (int, np.integer)) \
            or local_epochs < 1:
        raise ValueError(f"local_epochs must be an integer >= 1, got {local_epochs!r}")
    if batch_size is not None and (isinstance(batch_size, bool)
                                   or not isinstance(batch_size, (int, np.integer))
                                   or batch_size < 1):
        raise ValueError(f"batch_size must be None or an integer >= 1, got {batch_size!r}")
    C, n = objective.C, objective.n_samples
    alpha = 1.0 / (C * n)
    if learning_rate == "optimal":
        t0 = None if eta0 is None else 1.0 / (alpha * float(eta0))
        schedule = Schedule("optimal", alpha=alpha, t0=t0)
    else:
        schedule = Schedule(learning_rate, alpha=alpha, eta0=eta0, power_t=power_t)
    options = {"C": C, "penalty": objective.penalty, "n_total": n,
               "epochs": int(local_epochs), "average": bool(average),
               "batch_size": None if batch_size is None else int(batch_size)}
    theta0 = objective.layout.check(np.array(theta0, dtype=np.float64), "theta0")
    rounds = _Rounds(objective, theta0, schedule, options, np.random.default_rng(random_state))
    result = fit_epochs(objective, theta0, rounds, name="local-sgd", tol=tol,
                        max_iter=max_iter, n_iter_no_change=n_iter_no_change,
                        monitor="objective", callback=callback, verbose=verbose)
    result.n_evals["sgd_rounds"] = rounds.n_rounds
    return result
