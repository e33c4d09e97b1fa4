"""Mini-batch SGD: row blocks through the fused ``loss_grad`` kernels.

A thin front over the stochastic driver :mod:`fastlogit.stochastic` (same mean-loss scaling
as :mod:`fastlogit.solvers.sgd`: ``G = F / (C n)``, ``alpha = 1/(C n)``; same stopping rule).
In memory the rows are shuffled once (a permuted copy of the data, so that contiguous row
blocks are random batches even for data sorted by label; ``shuffle=False`` skips the copy) and
each epoch visits the blocks of ``batch_size`` rows in a new random order; on a
:class:`fastlogit.outofcore.ChunkedObjective` each epoch visits the chunks in a random order
and the blocks of each chunk in a random order.  A block's gradient is one ``loss_grad`` call
of the fused kernel over a zero-copy row view::

    g = 1/B sum_{i in block} s_i grad l_i + alpha grad S(w)     (S: the penalty's smooth part)
    theta <- theta - eta g
    L1 part: w <- prox(w, eta alpha)   (the penalty's prox: soft thresholding)

Learning rates (t = blocks seen, from 1): "constant" eta0, "invscaling" eta0 / t**power_t,
"adaptive": eta0, halved after every epoch whose objective did not decrease by
``tol * |F|`` from the previous epoch's (stop when it falls below 1e-6 eta0).  The
default ``eta0`` is ``1 / L_max`` (the largest per-sample curvature, a safe step for every
batch size).  ``average`` returns the running (Polyak) average of the iterates.

Each step costs O(nnz of the block + d): the kernels fill a dense d-long gradient, so very
small batches on very wide data are better served by :func:`fastlogit.solvers.sgd.sgd`.
Results are deterministic for a seed and a thread count.
"""
import numpy as np

from ..contract import declare
from .sgd import check_rate_options, run_stochastic

__all__ = ["minibatch"]

_RATES = ("constant", "invscaling", "adaptive")


@declare("minibatch", needs={"row_blocks"}, nonsmooth=True, stochastic=True)
def minibatch(objective, theta0, *, tol=1e-4, max_iter=100, callback=None, verbose=0,
              random_state=None, batch_size=256, learning_rate="constant", eta0=None,
              power_t=0.5, average=False, n_iter_no_change=5, shuffle=True,
              monitor="objective", n_threads=None):
    """Mini-batch SGD over epochs (see the module docstring).

    Parameters
    ----------
    objective : Objective (in memory) or ChunkedObjective
    theta0 : ndarray of shape (n_params,)
    tol, max_iter, callback, verbose, random_state, n_iter_no_change, monitor :
        As in :func:`fastlogit.solvers.sgd.sgd` (max_iter counts epochs).
    batch_size : int
        Rows per block (the last block of an epoch, or of a chunk, may be smaller).
    learning_rate : {"constant", "invscaling", "adaptive"}
    eta0 : float or None
        None takes ``1 / L_max`` (see :func:`fastlogit.solvers.sgd.sgd`).
    power_t : float
    average : bool or int
        Polyak averaging of the iterates; an int starts after that many blocks.
    shuffle : bool
        Permute the rows (in memory: once, a copy) and the block order every epoch.
    n_threads : int or None
        Threads of the per-block kernel calls; None: one thread for blocks of fewer than
        ``fastlogit.stochastic.PARALLEL_NNZ`` non-zeros (waking threads would cost more than
        the work), else the objective's ``n_threads``.  Per-epoch objective evaluations use
        the objective's own.

    Returns
    -------
    SolverResult
    """
    check_rate_options(learning_rate, _RATES, power_t, eta0)
    if not (isinstance(batch_size, (int, np.integer)) and batch_size >= 1):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return run_stochastic(objective, theta0, "mini-batch SGD", learning_rate=learning_rate,
                          eta0=eta0, power_t=power_t, average=average,
                          batch_size=int(batch_size), random_state=random_state,
                          shuffle=shuffle, n_threads=n_threads, tol=tol, max_iter=max_iter,
                          n_iter_no_change=n_iter_no_change, monitor=monitor,
                          callback=callback, verbose=verbose)
