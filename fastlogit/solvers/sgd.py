"""Stochastic gradient descent with compiled epochs (averaging, lazy L2 scaling, Hogwild).

Scaling.  The solver works on ``G = F / (C n)``, the mean-loss form of the objective of
DESIGN.md section 1, exactly as scikit-learn's ``SGDClassifier(loss="log_loss")`` does::

    G(w, b) = 1/n sum_i s_i l(y_i, z_i) + alpha (l1_strength ||w||_1 + l2_strength/2 ||w||^2)
    alpha   = 1 / (C n)

so ``eta0``, ``power_t`` and the schedules mean what they mean in scikit-learn (its ``alpha``
is our ``1 / (C n)``).  Reported objective values are those of F.

Schedules (t = samples seen, counted from 1 over all epochs)::

    "constant"    eta = eta0
    "invscaling"  eta = eta0 / t ** power_t
    "optimal"     eta = 1 / (alpha (t0 + t - 1)),   t0 = 1 / (alpha sqrt(1 / sqrt(alpha)))
                  (scikit-learn's heuristic for t0 with the log-loss)

Every epoch visits the rows in a new random order (``np.random.default_rng(random_state)``)
and is ONE call of the compiled kernel ``KernelSet.sgd_epoch`` (see
:mod:`fastlogit.kernels.sgd_ref` for the per-sample update: lazy scaling ``w = scale * W``
so that a sparse step costs O(nnz of the row), averaging in O(nnz) per step, L1/elastic net
by the cumulative-penalty truncation of Tsuruoka et al. 2009).  Multinomial problems use the
softmax loss with the same update.

Stopping.  After each epoch the objective F is evaluated at the returned iterate (the
average when averaging) with one fused pass (``monitor="objective"``), or estimated for free
from the losses seen during the epoch (``monitor="epoch_loss"``, as scikit-learn does).
The solver stops, converged, when ``||grad F||_inf <= tol * max(1, ||grad F(theta0)||_inf)``
(smooth penalties with ``monitor="objective"``) or when F has not decreased by more than
``tol * |F_best|`` for ``n_iter_no_change`` consecutive epochs; reaching ``max_iter`` epochs
otherwise warns (ConvergenceWarning).  The best iterate seen is returned; when it is not the
last epoch's, it is appended to the history once more (so ``history`` may hold n_iter + 2
entries and ``SolverResult.fun`` is F of the returned theta; with ``monitor="epoch_loss"``
it is the estimate).
"""
import numpy as np

from .._config import effective_n_threads
from ..contract import declare
from ._result import History, SolverResult, warn_not_converged

__all__ = ["sgd"]

_SCHEDULES = ("constant", "invscaling", "optimal")


# ----------------------------------------------------------------------------- helpers
class _Layout:
    """theta (float64, the contract's layout) <-> kernel arrays W (d, K), b (K,)."""

    def __init__(self, objective):
        self.d = objective.n_features
        self.k = objective.n_classes
        self.fit_intercept = bool(objective.fit_intercept)
        self.width = self.d + self.fit_intercept

    def unpack(self, theta):
        T = np.asarray(theta, dtype=np.float64).reshape(self.k, self.width)
        W = np.ascontiguousarray(T[:, :self.d].T)
        b = T[:, self.d].copy() if self.fit_intercept else np.zeros(self.k)
        return W, b

    def pack(self, W, b):
        T = np.empty((self.k, self.width))
        T[:, :self.d] = W.T
        if self.fit_intercept:
            T[:, self.d] = b
        return T.ravel()


def _targets(objective):
    """Labels as the (n, K) array in the data dtype that the kernels take."""
    y = np.asarray(objective.y)
    return np.ascontiguousarray(y.reshape(objective.n_samples, -1), dtype=objective.dtype)


def _weights(objective):
    s = objective.sample_weight
    if s is None:
        return None
    return np.ascontiguousarray(s, dtype=objective.dtype)


def _penalty_value(objective, theta):
    """R(w) of DESIGN.md sec. 1 at theta (intercepts excluded)."""
    lay = _Layout(objective)
    W, _ = lay.unpack(theta)
    return (objective.l1_strength * np.abs(W).sum()
            + 0.5 * objective.l2_strength * float(np.vdot(W, W)))


class _Monitor:
    """Per-epoch objective evaluation, history, best iterate and the stopping rules."""

    def __init__(self, objective, theta0, tol, n_iter_no_change, monitor, verbose, callback,
                 name):
        self.objective = objective
        self.name = name
        self.tol = float(tol)
        self.n_iter_no_change = int(n_iter_no_change)
        self.use_grad = monitor == "objective" and objective.l1_strength == 0
        self.monitor = monitor
        self.n_evals = {"value_grad": 0, "value": 0}
        self.history = History(callback, verbose, name)
        f0, g0 = self.evaluate(theta0)
        self.gtol = self.tol * max(1.0, g0) if np.isfinite(g0) else np.nan
        self.stop_requested = self.history.record(theta0, f0, g0)
        self.best_f, self.best_g, self.best_epoch = f0, g0, 0
        self.best_theta = np.array(theta0, dtype=np.float64)
        self.no_change = 0

    def evaluate(self, theta, estimate=None):
        if self.monitor == "epoch_loss" and estimate is not None:
            return estimate, np.nan
        if self.use_grad:
            self.n_evals["value_grad"] += 1
            f, g = self.objective.value_grad(theta)
            return float(f), float(np.max(np.abs(g))) if g.size else 0.0
        self.n_evals["value"] += 1
        return float(self.objective.value(theta)), np.nan

    def step(self, theta, estimate=None):
        """Record an epoch; return a stop message, or None to go on."""
        f, g = self.evaluate(theta, estimate)
        stop = self.history.record(theta, f, g)
        if not np.isfinite(f):
            raise FloatingPointError(
                f"{self.name} diverged (objective is not finite); lower eta0 or use 'optimal'")
        if f < self.best_f:
            improved = f < self.best_f - self.tol * abs(self.best_f)
            self.best_f, self.best_g = f, g
            self.best_epoch = len(self.history.objective) - 1
            self.best_theta = np.array(theta, dtype=np.float64)
        else:
            improved = False
        if np.isfinite(g) and g <= self.gtol:
            return f"gradient norm {g:.3g} <= {self.gtol:.3g}"
        self.no_change = 0 if improved else self.no_change + 1
        if self.no_change >= self.n_iter_no_change:
            return (f"objective improved by less than tol * |F| = {self.tol:g} * |F| over "
                    f"{self.n_iter_no_change} epochs")
        if stop:
            return "stopped by the callback"
        return None

    def finish(self, n_iter, message):
        converged = message is not None and message != "stopped by the callback"
        if message is None:
            g = self.history.grad_norm[-1]
            message = warn_not_converged(self.name, g, self.gtol, n_iter,
                                         reason=f"max_iter = {n_iter} epochs reached")
        h = self.history
        if self.best_epoch != len(h.objective) - 1:
            # The returned iterate is the best epoch's: record it last, so that
            # SolverResult.fun is F(theta).
            h.objective.append(self.best_f)
            h.grad_norm.append(self.best_g)
            h.time.append(h.time[-1])
            message += f"; returned the best iterate (epoch {self.best_epoch})"
        return SolverResult(theta=self.best_theta, n_iter=n_iter, converged=converged,
                            message=message, history=self.history.as_dict(),
                            n_evals=dict(self.n_evals))


def _check_common(max_iter, tol, n_iter_no_change, monitor):
    if not (isinstance(max_iter, (int, np.integer)) and max_iter >= 1):
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    if not (np.isscalar(tol) and tol >= 0):
        raise ValueError(f"tol must be a non-negative number, got {tol!r}")
    if not (isinstance(n_iter_no_change, (int, np.integer)) and n_iter_no_change >= 1):
        raise ValueError(f"n_iter_no_change must be a positive integer, got {n_iter_no_change!r}")
    if monitor not in ("objective", "epoch_loss"):
        raise ValueError(f"monitor must be 'objective' or 'epoch_loss', got {monitor!r}")


def _average_start(average):
    if average is False or average is None:
        return 0
    if average is True:
        return 1
    if isinstance(average, (int, np.integer)) and average >= 1:
        return int(average)
    raise ValueError(f"average must be a bool or a positive integer, got {average!r}")


# ----------------------------------------------------------------------------- solver
@declare("sgd", needs={"row_blocks"}, nonsmooth=True, stochastic=True)
def sgd(objective, theta0, *, tol=1e-4, max_iter=100, callback=None, verbose=0,
        random_state=None, learning_rate="optimal", eta0=None, power_t=0.5, average=False,
        n_iter_no_change=5, shuffle=True, monitor="objective", hogwild=False, n_threads=None):
    """Plain or averaged SGD over epochs (see the module docstring).

    Parameters
    ----------
    objective : Objective
    theta0 : ndarray of shape (n_params,)
    tol, max_iter : stopping (see the module docstring); max_iter counts epochs.
    callback : callable(theta) or None
        Called at theta0 and after each epoch with the current (averaged) iterate; returning
        True stops.
    random_state : int, Generator or None
        Seeds the per-epoch shuffles; the same seed gives identical coefficients (except
        with ``hogwild=True`` and more than one thread).
    learning_rate : {"optimal", "invscaling", "constant"}
    eta0 : float or None
        Initial rate for "constant"/"invscaling"; None takes ``1 / L_max`` with
        ``L_max = max_i s_i (||x_i||^2 + fit_intercept) / 4 + alpha l2_strength``, the largest
        per-sample curvature.
    power_t : float
    average : bool or int
        Return the average of the iterates (averaged SGD); an int starts averaging once that
        many samples have been seen (as scikit-learn's ``average``).
    n_iter_no_change : int
    shuffle : bool
        Visit the rows in a new random order each epoch (else in the given order).
    monitor : {"objective", "epoch_loss"}
        How the per-epoch objective is obtained (an extra fused pass, or free).
    hogwild : bool
        Lock-free parallel epochs on ``n_threads`` threads (CSR data, binary, no L1).
        NOT deterministic with more than one thread.
    n_threads : int or None
        Threads of Hogwild epochs (None: the objective's ``n_threads``).

    Returns
    -------
    SolverResult
    """
    _check_common(max_iter, tol, n_iter_no_change, monitor)
    if learning_rate not in _SCHEDULES:
        raise ValueError(f"learning_rate must be one of {_SCHEDULES}, got {learning_rate!r}")
    if not (np.isscalar(power_t) and power_t >= 0):
        raise ValueError(f"power_t must be a non-negative number, got {power_t!r}")
    if eta0 is not None and not (np.isscalar(eta0) and eta0 > 0):
        raise ValueError(f"eta0 must be a positive number or None, got {eta0!r}")
    average_start = _average_start(average)
    if hogwild and (objective.design.kind != "csr" or objective.n_classes != 1
                    or objective.l1_strength > 0):
        raise ValueError("hogwild=True needs CSR data, a binary problem and no L1 penalty")
    theta0 = np.asarray(theta0, dtype=np.float64)
    if theta0.shape != (objective.n_params,):
        raise ValueError(f"theta0 must have shape ({objective.n_params},), got {theta0.shape}")

    n = objective.n_samples
    alpha = 1.0 / (objective.C * n)
    lam2 = alpha * objective.l2_strength
    lam1 = alpha * objective.l1_strength
    if learning_rate == "optimal":
        t0 = 1.0 / (alpha * np.sqrt(1.0 / np.sqrt(alpha)))
        eta0 = 0.0
    else:
        t0 = 1.0
        if eta0 is None:
            eta0 = 1.0 / _max_curvature(objective, lam2)
    lay = _Layout(objective)
    W, b = lay.unpack(theta0)
    k = lay.k
    state = np.array([1.0, 0.0, 0.0, 0.0, 0.0])
    averaging = average_start > 0
    avg_W = np.zeros_like(W) if averaging else None
    avg_b = np.zeros(k)
    q = np.zeros_like(W) if lam1 > 0 else None
    Y = _targets(objective)
    s = _weights(objective)
    rng = np.random.default_rng(random_state)
    kernels = objective.kernels
    X = objective.design
    n_threads = effective_n_threads(objective.n_threads if n_threads is None else n_threads)
    order = np.arange(n, dtype=np.int64)

    def current():
        if averaging and state[3] > 0:
            return lay.pack((avg_W + state[2] * W) / state[3], avg_b / state[3])
        return lay.pack(state[0] * W, b)

    mon = _Monitor(objective, theta0, tol, n_iter_no_change, monitor, verbose, callback, "SGD")
    message = "stopped by the callback" if mon.stop_requested else None
    epoch = 0
    for epoch in range(1, max_iter + 1 if message is None else 1):
        if shuffle:
            rng.shuffle(order)
        loss_sum = kernels.sgd_epoch(
            X, Y, s, order, W, b, state, avg_W=avg_W, avg_b=avg_b, q=q,
            schedule=learning_rate, eta0=eta0, power_t=power_t, alpha=alpha, t0=t0,
            lam2=lam2, lam1=lam1, fit_intercept=lay.fit_intercept,
            average_start=average_start, hogwild=hogwild, n_threads=n_threads)
        theta = current()
        estimate = (objective.C * loss_sum + _penalty_value(objective, theta)
                    if monitor == "epoch_loss" else None)
        message = mon.step(theta, estimate)
        if message is not None:
            break
    return mon.finish(epoch, message)


def _max_curvature(objective, lam2):
    """max_i s_i (||x_i||^2 + fit_intercept) / 4 + lam2: the largest per-sample curvature
    of the mean-scaled loss (a safe constant step is below 1 / this)."""
    X = objective.design
    if X.kind == "dense":
        sq = np.einsum("ij,ij->i", X.arrays[0], X.arrays[0], dtype=np.float64)
    else:
        data, _, indptr = X.arrays
        lo = int(indptr[0])
        sq = np.add.reduceat(np.concatenate([data[lo:int(indptr[-1])].astype(np.float64) ** 2,
                                             [0.0]]), np.asarray(indptr[:-1]) - lo)
        sq[np.diff(indptr) == 0] = 0.0
    sq = sq + float(objective.fit_intercept)
    if objective.sample_weight is not None:
        sq = sq * np.asarray(objective.sample_weight, dtype=np.float64)
    return 0.25 * float(sq.max(initial=0.0)) + lam2
