"""Local SGD over a :class:`~fastlogit.dask.DaskObjective`'s parts, with periodic averaging.

Each round every input row block runs ``local_epochs`` epochs of SGD (the compiled SGD epoch
kernel, scikit-learn's "optimal" step ``1 / (alpha (t0 + t))`` with a step counter continued
across rounds) from the current average, on the worker that holds it; then the models are
averaged, weighted by the blocks' sample-weight sums.  Because the step size decreases to
zero this is *local SGD with periodic averaging*: for the convex objective it converges to
the same minimiser as the deterministic solvers (Stich 2019, "Local SGD converges fast and
communicates little"; Khaled et al. 2020 for blocks that are not identically distributed),
at SGD's sublinear rate; with a constant step it would stop in a neighbourhood of the
optimum biased towards the blocks' own minimisers.  Use it for a quick approximate fit;
use "lbfgs", "newton-cg" or "l1" for a tight one.
"""
import math

import numpy as np

from ._data import DaskObjective
from ._transport import tree_sum

__all__ = ["local_sgd"]


def _part_sgd(part, theta, params, seeds, t_starts):
    """:func:`_block_sgd` on each input block of a part; returns the sums of its results."""
    bounds = np.cumsum([0] + part.block_sizes)
    return tree_sum(*[_block_sgd(part.data.rows(a, b), theta, seed, t_start, params)
                      for a, b, seed, t_start in zip(bounds[:-1], bounds[1:], seeds, t_starts)])


def _block_sgd(data, theta, seed, t_start, params):
    """``local_epochs`` SGD epochs on one block's LogLossData from ``theta``; returns
    (weight * theta_b, weight), theta_b float64 of shape (n_params,) (the Polyak average of
    the round's iterates), weight the block's sample-weight sum.

    The step counter starts at ``t_start`` so that the step size keeps decreasing across
    rounds; ``alpha`` / ``lam2`` use the *global* sample count (the mean-loss scaling of
    :mod:`fastlogit.kernels.sgd_ref`), so every block takes steps on the same objective.
    ``theta`` is left unchanged (the blocks of a part share it).
    """
    n, d = data.design.shape
    k = data.n_classes
    Y = np.ascontiguousarray(np.asarray(data.y).reshape(n, -1), dtype=data.dtype)
    s = data.sample_weight
    s = None if s is None else np.ascontiguousarray(s, dtype=data.dtype)
    t2 = np.asarray(theta, dtype=np.float64).reshape(k, -1)
    # copies: the kernel updates W and b in place
    W = np.array(t2[:, :d].T, order="C")
    b = np.array(t2[:, d]) if data.fit_intercept else np.zeros(k)
    state = np.array([1.0, float(t_start), 0.0, 0.0, 0.0])
    avg_W, avg_b = np.zeros_like(W), np.zeros(k)
    rng = np.random.default_rng(seed)
    for _ in range(params["local_epochs"]):
        order = rng.permutation(n).astype(np.int64)
        data.kernels.sgd_epoch(data.design, Y, s, order, W, b, state, avg_W=avg_W,
                               avg_b=avg_b, schedule="optimal", alpha=params["alpha"],
                               t0=params["t0"], lam2=params["lam2"],
                               fit_intercept=data.fit_intercept,
                               average_start=int(t_start) + 1, n_threads=1)
    out = np.empty_like(t2)
    count = max(state[3], 1.0)
    out[:, :d] = ((avg_W + state[2] * W) / count).T
    if data.fit_intercept:
        out[:, d] = avg_b / count
    weight = float(n if s is None else np.sum(s, dtype=np.float64))
    return weight * out.reshape(-1), weight


def local_sgd(objective, theta0, *, tol=1e-4, max_iter=100, callback=None, verbose=0,
              random_state=None, local_epochs=1, eta0=None):
    """Mini-batch SGD over a :class:`DaskObjective`'s blocks: local epochs, then averaging.

    One iteration (round): every block runs ``local_epochs`` shuffled SGD epochs over its
    rows starting from the current theta and returns the Polyak average of its iterates over
    the round; the new theta is the average of the blocks' results weighted by their
    sample-weight sums.  After each round one ``value_grad`` pass measures F and the gradient
    for the history and the stopping rule ``||grad F||_inf <= tol * max(1, ||grad
    F(theta_0)||_inf)``.

    Parameters
    ----------
    objective : DaskObjective
        Its penalty must be ``a/2 ||w||^2`` (``penalty.l2_strength`` not None, no L1 part:
        "l2", None, elastic net with l1_ratio 0); ValueError otherwise.
    theta0 : ndarray of shape (n_params,)
    tol, max_iter, callback, verbose, random_state
        As for every solver (:mod:`fastlogit.solvers`); ``max_iter`` counts rounds.
    local_epochs : int >= 1, default=1
        Epochs over its block each worker runs between two averagings.
    eta0 : float or None
        Initial step size; None uses scikit-learn's heuristic for the "optimal" schedule.

    Returns
    -------
    :class:`fastlogit.solvers.SolverResult`
    """
    from ..solvers._result import (History, SolverResult, stopping_threshold,
                                   warn_not_converged)

    if not isinstance(objective, DaskObjective):
        raise TypeError("local_sgd runs on a DaskObjective")
    pen = objective.penalty
    if pen.l1_strength or pen.l2_strength is None:
        raise ValueError(f"solver 'local-sgd' supports penalties a/2 ||w||^2 only ('l2', None), "
                         f"got {pen!r}; use solver 'l1' or 'lbfgs'")
    if int(local_epochs) < 1:
        raise ValueError(f"local_epochs must be >= 1, got {local_epochs!r}")
    parts = objective.data.parts
    rng = np.random.default_rng(random_state)
    C, n = objective.C, objective.n_samples
    alpha = 1.0 / (C * n)
    lam2 = alpha * pen.l2_strength
    if eta0 is None:
        # scikit-learn's "optimal" schedule: typical weight size 1 / sqrt(sqrt(alpha)), and
        # the log-loss derivative is at most 1, so the first step is about that size.
        eta0 = 1.0 / math.sqrt(math.sqrt(alpha))
    params = {"alpha": alpha, "t0": 1.0 / (alpha * float(eta0)), "lam2": lam2,
              "local_epochs": int(local_epochs)}
    history = History(callback, verbose, "local-sgd")
    theta = objective.layout.check(np.array(theta0, dtype=np.float64), "theta0").copy()
    f, g = objective.value_grad(theta)
    gnorm = float(np.max(np.abs(g))) if g.size else 0.0
    threshold = stopping_threshold(tol, gnorm)
    stopped = history.record(theta, f, gnorm)
    sizes = np.asarray(objective.data.block_sizes, dtype=np.float64)
    counters = np.zeros(objective.data.n_blocks)
    ends = np.cumsum([0] + parts.blocks_per_part)  # the input blocks of each part, in order
    n_iter, converged, message = 0, gnorm <= threshold, "converged"
    if stopped:
        message = "stopped by callback"
    while not stopped and not converged and n_iter < max_iter:
        seeds = rng.integers(0, 2**63 - 1, size=objective.data.n_blocks)
        per_part = [(seeds[a:b].tolist(), counters[a:b].tolist())
                    for a, b in zip(ends[:-1], ends[1:])]
        total, weight = parts.map_reduce(_part_sgd, parts.put(theta), params,
                                         per_part=per_part)
        counters += local_epochs * sizes
        theta = total / weight
        f, g = objective.value_grad(theta)
        gnorm = float(np.max(np.abs(g)))
        n_iter += 1
        if history.record(theta, f, gnorm):
            message = "stopped by callback"
            break
        converged = gnorm <= threshold
    if not converged and message == "converged":
        message = warn_not_converged("local-sgd", gnorm, threshold, n_iter)
    return SolverResult(theta=theta, n_iter=n_iter, converged=bool(converged), message=message,
                        history=history.as_dict(),
                        n_evals={"value_grad": n_iter + 1, "sgd_rounds": n_iter})
