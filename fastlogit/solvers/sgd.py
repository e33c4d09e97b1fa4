"""Stochastic gradient descent with compiled epochs (averaging, lazy L2 scaling, Hogwild).

A thin front over the stochastic driver :mod:`fastlogit.stochastic`, which holds the scaling
(steps on ``G = F / (C n)``, scikit-learn's ``SGDClassifier`` convention, so ``eta0``,
``power_t`` and the schedules mean what they mean there), the SGD state, the epochs and the
stopping rule.  Each epoch visits the rows in a new random order
(``np.random.default_rng(random_state)``) and is one call of the compiled kernel
``KernelSet.sgd_epoch`` per piece of the data: the whole data in memory, each chunk in turn
for a :class:`fastlogit.outofcore.ChunkedObjective` (see :mod:`fastlogit.kernels.sgd_ref` for
the per-sample update: lazy scaling ``w = scale * W`` so that a sparse step costs O(nnz of the
row), averaging in O(nnz) per step, L1 / elastic net by the cumulative-penalty truncation of
Tsuruoka et al. 2009).  A penalty that is not of the elastic-net form takes the driver's
generic per-sample path.  Multinomial problems use the softmax loss with the same update.

Schedules (t = samples seen, counted from 1 over all epochs)::

    "constant"    eta = eta0
    "invscaling"  eta = eta0 / t ** power_t
    "optimal"     eta = 1 / (alpha (t0 + t - 1)),   t0 = 1 / (alpha sqrt(1 / sqrt(alpha)))

Stopping: :func:`fastlogit.stochastic.fit_epochs` (a run whose steps are too large, one that
ends an epoch above F(theta0) or diverges, restarts with 10x smaller steps; a run that made no
progress is never reported converged).
"""
import numpy as np

from .. import stochastic as _st
from ..contract import declare

__all__ = ["sgd"]

_SCHEDULES = ("constant", "invscaling", "optimal")


def _average_start(average):
    """The first averaged step for ``average`` (bool, or the step to start at)."""
    if average is False or average is None:
        return 0
    if average is True:
        return 1
    if isinstance(average, (int, np.integer)) and average >= 1:
        return int(average)
    raise ValueError(f"average must be a bool or a positive integer, got {average!r}")


def check_rate_options(learning_rate, rates, power_t, eta0):
    """Raise ValueError naming the option unless ``learning_rate`` is one of ``rates``,
    ``power_t`` >= 0 and ``eta0`` is valid (shared by the SGD and mini-batch solvers)."""
    if learning_rate not in rates:
        raise ValueError(f"learning_rate must be one of {rates}, got {learning_rate!r}")
    if not (np.isscalar(power_t) and power_t >= 0):
        raise ValueError(f"power_t must be a non-negative number, got {power_t!r}")
    if eta0 is not None and not (np.isscalar(eta0) and eta0 > 0):
        raise ValueError(f"eta0 must be a positive number or None, got {eta0!r}")


def run_stochastic(objective, theta0, name, *, learning_rate, eta0, power_t, average,
                   batch_size, random_state, shuffle, hogwild=False, n_threads=None, **loop):
    """Build the driver's :class:`~fastlogit.stochastic.SGD` for ``objective`` and run
    :func:`~fastlogit.stochastic.fit_epochs` (``loop``: its keywords).  ``eta0=None`` with a
    rate other than "optimal" takes ``1 / L_max``
    (:func:`~fastlogit.stochastic.max_step_curvature`)."""
    _st.check_loop_options(loop["tol"], loop["max_iter"], loop["n_iter_no_change"],
                           loop["monitor"])
    theta0 = np.asarray(theta0, dtype=np.float64)
    if theta0.shape != (objective.n_params,):
        raise ValueError(f"theta0 must have shape ({objective.n_params},), got {theta0.shape}")
    average_start = _average_start(average)
    source = _st.row_source(objective)
    alpha = 1.0 / (objective.C * objective.n_samples)
    if eta0 is None and learning_rate != "optimal":
        eta0 = 1.0 / _st.max_step_curvature(source, objective.penalty, alpha)
    schedule = _st.Schedule(learning_rate, alpha=alpha, eta0=eta0, power_t=power_t)
    opt = _st.SGD(objective, theta0, schedule, objective.penalty, alpha,
                  _st.make_rng(random_state), batch_size=batch_size,
                  average_start=average_start, shuffle=shuffle, hogwild=hogwild,
                  n_threads=n_threads)
    return _st.fit_epochs(objective, theta0, opt, name=name, **loop)


@declare("sgd", needs={"row_blocks"}, nonsmooth=True, stochastic=True)
def sgd(objective, theta0, *, tol=1e-4, max_iter=100, callback=None, verbose=0,
        random_state=None, learning_rate="optimal", eta0=None, power_t=0.5, average=False,
        n_iter_no_change=5, shuffle=True, monitor="objective", hogwild=False, n_threads=None):
    """Plain or averaged SGD over epochs (see the module docstring).

    Parameters
    ----------
    objective : Objective (in memory) or ChunkedObjective
    theta0 : ndarray of shape (n_params,)
    tol, max_iter, n_iter_no_change, monitor : the stopping rule of
        :func:`fastlogit.stochastic.fit_epochs`; max_iter counts epochs.
    callback : callable(theta) or None
        Called at theta0 and after each epoch with the current (averaged) iterate; returning
        True stops.
    random_state : int, Generator, RandomState or None
        Seeds the per-epoch shuffles; the same seed gives identical coefficients (except
        with ``hogwild=True`` and more than one thread).
    learning_rate : {"optimal", "invscaling", "constant"}
    eta0 : float or None
        Initial rate for "constant"/"invscaling"; None takes ``1 / L_max`` with
        ``L_max = max_i s_i (||x_i||^2 + fit_intercept) / 4 + alpha l2_strength`` (1/2 for
        softmax), the largest per-sample curvature.
    power_t : float
    average : bool or int
        Return the average of the iterates (averaged SGD); an int starts averaging once that
        many samples have been seen (as scikit-learn's ``average``).
    shuffle : bool
        Visit the rows in a new random order each epoch (else in the given order).
    hogwild : bool
        Lock-free parallel epochs on ``n_threads`` threads (in-memory CSR data, binary, no
        L1).  NOT deterministic with more than one thread.
    n_threads : int or None
        Threads of Hogwild epochs (None: the objective's ``n_threads``).

    Returns
    -------
    SolverResult
    """
    check_rate_options(learning_rate, _SCHEDULES, power_t, eta0)
    design = getattr(objective.data, "design", None)
    if hogwild and (design is None or design.kind != "csr" or objective.n_classes != 1
                    or objective.l1_strength > 0):
        raise ValueError("hogwild=True needs in-memory CSR data, a binary problem and no L1 "
                         "penalty")
    if n_threads is None:
        n_threads = getattr(objective.data, "n_threads", None)
    return run_stochastic(objective, theta0, "SGD", learning_rate=learning_rate, eta0=eta0,
                          power_t=power_t, average=average, batch_size=None,
                          random_state=random_state, shuffle=shuffle, hogwild=hogwild,
                          n_threads=n_threads, tol=tol, max_iter=max_iter,
                          n_iter_no_change=n_iter_no_change, monitor=monitor,
                          callback=callback, verbose=verbose)
