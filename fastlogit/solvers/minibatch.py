"""Mini-batch SGD: row blocks through the fused ``loss_grad`` kernels.

Same mean-loss scaling as :mod:`fastlogit.solvers.sgd` (``G = F / (C n)``, ``alpha = 1/(C n)``).
Rows are shuffled once (a permuted copy of the data, so that contiguous row blocks are random
batches even for data sorted by label; ``shuffle=False`` skips the copy), and each epoch visits
the blocks of ``batch_size`` rows in a new random order.  A block's gradient is one
``Objective.rows(lo, hi).value_grad`` call: one pass of the fused (parallel, on the
objective's ``n_threads``) ``loss_grad`` / ``multinomial_loss_grad`` kernel over a zero-copy
row view::

    g = 1/B sum_{i in block} s_i grad l_i + lam2 w        (lam2 = alpha l2_strength)
    w <- w - eta g,   b <- b - eta g_b
    L1 part (lam1 = alpha l1_strength): w <- sign(w) max(|w| - eta lam1, 0)   (proximal step)

Learning rates (t = blocks seen, from 1): "constant" eta0, "invscaling" eta0 / t**power_t,
"adaptive": eta0, halved after every epoch whose objective did not decrease by
``tol * |F|`` from the previous epoch's (stop when it falls below 1e-6 eta0).  The
default ``eta0`` is ``1 / L_max`` (the largest per-sample curvature, a safe step for every
batch size).  ``average`` returns the running (Polyak) average of the iterates.

Each step costs O(nnz of the block + d): the kernels fill a dense d-long gradient, so very
small batches on very wide data are better served by :func:`fastlogit.solvers.sgd.sgd`.
Results are deterministic for a seed and a thread count.  Stopping and the reported history
are those of :mod:`fastlogit.solvers.sgd`.
"""
import numpy as np

from ..contract import declare
from ..objective import Objective
from .sgd import _Monitor, _average_start, _check_common, _max_curvature, _penalty_value

__all__ = ["minibatch"]

_RATES = ("constant", "invscaling", "adaptive")
#: Blocks with fewer (expected) non-zeros than this run single-threaded by default.
_PARALLEL_NNZ = 100_000


@declare("minibatch", needs={"row_blocks"}, nonsmooth=True, stochastic=True)
def minibatch(objective, theta0, *, tol=1e-4, max_iter=100, callback=None, verbose=0,
              random_state=None, batch_size=256, learning_rate="constant", eta0=None,
              power_t=0.5, average=False, n_iter_no_change=5, shuffle=True,
              monitor="objective", n_threads=None):
    """Mini-batch SGD over epochs (see the module docstring).

    Parameters
    ----------
    objective : Objective
    theta0 : ndarray of shape (n_params,)
    tol, max_iter, callback, verbose, random_state, n_iter_no_change, monitor :
        As in :func:`fastlogit.solvers.sgd.sgd` (max_iter counts epochs).
    batch_size : int
        Rows per block (the last block of an epoch may be smaller).
    learning_rate : {"constant", "invscaling", "adaptive"}
    eta0 : float or None
        None takes ``1 / L_max`` (see :func:`fastlogit.solvers.sgd.sgd`).
    power_t : float
    average : bool or int
        Polyak averaging of the iterates; an int starts after that many blocks.
    shuffle : bool
        Permute the rows once (a copy) and the block order every epoch.
    n_threads : int or None
        Threads of the per-block kernel calls; None: one thread for blocks of fewer than
        ``_PARALLEL_NNZ`` non-zeros (waking threads would cost more than the work), else the
        objective's ``n_threads``.  Per-epoch objective evaluations use the objective's own.

    Returns
    -------
    SolverResult
    """
    _check_common(max_iter, tol, n_iter_no_change, monitor)
    if learning_rate not in _RATES:
        raise ValueError(f"learning_rate must be one of {_RATES}, got {learning_rate!r}")
    if not (isinstance(batch_size, (int, np.integer)) and batch_size >= 1):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not (np.isscalar(power_t) and power_t >= 0):
        raise ValueError(f"power_t must be a non-negative number, got {power_t!r}")
    if eta0 is not None and not (np.isscalar(eta0) and eta0 > 0):
        raise ValueError(f"eta0 must be a positive number or None, got {eta0!r}")
    average_start = _average_start(average)
    theta0 = np.asarray(theta0, dtype=np.float64)
    if theta0.shape != (objective.n_params,):
        raise ValueError(f"theta0 must have shape ({objective.n_params},), got {theta0.shape}")

    n = objective.n_samples
    C = objective.C
    alpha = 1.0 / (C * n)
    l2 = objective.l2_strength
    lam2 = alpha * l2
    lam1 = alpha * objective.l1_strength
    if eta0 is None:
        eta0 = 1.0 / _max_curvature(objective, lam2)
    eta0 = float(eta0)
    rng = np.random.default_rng(random_state)
    if n_threads is None:
        X = objective.design
        row_cost = X.arrays[0].shape[0] / max(n, 1) if X.kind == "csr" else X.n_cols
        n_threads = 1 if batch_size * row_cost < _PARALLEL_NNZ else objective.n_threads
    perm = rng.permutation(n) if shuffle else slice(None)
    sw = objective.sample_weight
    data = Objective(objective.design.to_scipy()[perm] if shuffle else objective.design,
                     objective.y[perm], None if sw is None else sw[perm], C=C,
                     penalty=objective.penalty, l1_ratio=objective.l1_ratio,
                     fit_intercept=objective.fit_intercept, backend=objective.kernels,
                     n_threads=n_threads)
    mask = objective.penalized_mask().astype(np.float64)
    theta = theta0.copy()
    avg, n_avg = np.zeros_like(theta), 0
    starts = np.arange(0, n, batch_size)
    eta = eta0
    t = 0

    def current():
        return avg.copy() if average_start and n_avg > 0 else theta.copy()

    mon = _Monitor(objective, theta0, tol, n_iter_no_change, monitor, verbose, callback,
                   "mini-batch SGD")
    message = "stopped by the callback" if mon.stop_requested else None
    epoch = 0
    for epoch in range(1, max_iter + 1 if message is None else 1):
        loss_sum = 0.0
        for lo in (rng.permutation(starts) if shuffle else starts):
            hi = min(lo + batch_size, n)
            t += 1
            f_blk, g = data.rows(lo, hi).value_grad(theta)
            # The block's smooth part is C sum_block s l + l2/2 ||w||^2: take the loss part out.
            pen = l2 * mask * theta
            loss_sum += (f_blk - 0.5 * float(pen @ theta)) / C
            g -= pen
            g *= 1.0 / (C * (hi - lo))
            g += lam2 * mask * theta
            step = eta / t ** power_t if learning_rate == "invscaling" else eta
            theta -= step * g
            if lam1 > 0:
                shrunk = np.copysign(np.maximum(np.abs(theta) - step * lam1, 0.0), theta)
                theta = np.where(mask > 0, shrunk, theta)
            if average_start and t >= average_start:
                n_avg += 1
                avg += (theta - avg) / n_avg
        now = current()
        estimate = (C * loss_sum + _penalty_value(objective, now)
                    if monitor == "epoch_loss" else None)
        message = mon.step(now, estimate)
        if learning_rate == "adaptive":
            f_prev, f_now = mon.history.objective[-2], mon.history.objective[-1]
            if f_now > f_prev - mon.tol * abs(f_prev):
                eta *= 0.5
                if eta < 1e-6 * eta0:
                    message = message or "adaptive learning rate fell below 1e-6 eta0"
        if message is not None:
            break
    return mon.finish(epoch, message)
