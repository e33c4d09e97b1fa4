"""The one stochastic driver: SGD state, epochs over row blocks, the stopping rule.

Every stochastic front runs on this module: the ``sgd`` and ``minibatch`` solvers
(:mod:`fastlogit.solvers`), :class:`fastlogit.SGDLogisticRegression` (``fit`` /
``partial_fit``), out-of-core training (:func:`fastlogit.outofcore.minibatch_sgd`) and Dask
local SGD (:func:`local_epochs` on each worker's part, :func:`fit_epochs` on the client).

Scaling.  Steps are taken on ``G = F / (C n)``, the mean-loss form of the objective, as
scikit-learn's ``SGDClassifier(loss="log_loss")`` does::

    G(theta) = 1/n sum_i s_i l(y_i, z_i) + alpha R(w),      alpha = 1 / (C n)

so ``eta0``, ``power_t`` and the schedules mean what they mean in scikit-learn (its ``alpha``
is our ``1 / (C n)``).  Reported objective values are those of F.  ``n`` is the number of
rows of the whole data set (on a Dask worker too: every part steps on the same G).

Pieces, in the order they are used:

* :class:`Schedule`: the learning rate ``eta(t)`` (t = steps taken, from 1)::

      "constant"    eta0
      "invscaling"  eta0 / t ** power_t
      "optimal"     1 / (alpha (t0 + t - 1)),   t0 = 1 / (alpha sqrt(1 / sqrt(alpha)))
      "adaptive"    eta0, halved after every epoch that did not lower F by tol |F|

* :class:`SGDState`: the parameters as the compiled epochs hold them (``w = scale * W``,
  intercepts ``b``, the step counter ``t``, Polyak averaging sums, cumulative L1 penalties).
* Row sources (:func:`row_source`): where the rows come from.  In memory
  (:class:`fastlogit.objective.LogLossData`): one piece, the whole data; chunked
  (:class:`fastlogit.outofcore.ChunkedData`): one piece per chunk, read when visited, chunks
  in a random order.  A Dask worker's part is an in-memory piece.
* Epochs: :func:`sample_epoch` (per-sample SGD: one compiled ``KernelSet.sgd_epoch`` call per
  piece, rows in a random order; the penalty enters through the kernels' lazy L2 scaling and
  cumulative L1 truncation when it is of the elastic-net form, ``penalty.l2_strength`` not
  None; any other penalty takes the generic path, one Python-level step per sample) and
  :func:`block_epoch` (mini-batch steps: a block's gradient by the fused ``loss_grad`` kernel,
  the penalty's smooth part by ``penalty.smooth_grad``, its L1 part by ``penalty.prox``).
* :func:`fit_epochs`: the epoch loop and the stopping rule (below), over any *optimizer*
  (an object with ``start``, ``epoch``, ``iterate``: :class:`SGD` here, the Dask rounds there).

The stopping rule (:func:`fit_epochs`), the same for every front.  ``F_0`` is F at theta0.
After each epoch, F is measured at the iterate that would be returned (the average once
averaging has begun, else the current one): exactly, one pass over the data
(``monitor="objective"``, with the gradient when the penalty is smooth), or estimated for free
from the losses seen during the epoch (``monitor="epoch_loss"``, as scikit-learn does).  Then:

1. *restarts*: a non-finite iterate or F, or an epoch that ends a run (the epochs since the
   last restart) still at an exact F >= F_0, means the steps are too large: the run restarts
   from theta0 with every step size divided by 10 and its first step capped at
   ``1 / L_max`` (the largest safe step, :func:`max_step_curvature`); at most
   ``max_restarts`` times, epochs counting against ``max_iter``;
2. ``||grad F||_inf <= tol * max(1, ||grad F(theta_0)||_inf)`` (smooth penalty,
   ``monitor="objective"``; checked at theta0 too) stops, converged;
3. an epoch *improves* when F < F_best - tol |F_best|; ``n_iter_no_change`` epochs in a row
   without improvement stop, converged (or, when no iterate has yet got below F_0, restart
   as in 1);
4. otherwise ``max_iter`` epochs end the fit with a :class:`ConvergenceWarning`.

After theta0, a fit is only ever reported converged (2, 3, or an "adaptive" rate that ran
out) once an iterate got below F_0 (by more than ``PROGRESS_RTOL`` relative, so that
rounding is not progress); a fit that never did (after its restarts) warns that it made no
progress, and a divergence left after the last restart raises
:class:`fastlogit.layout.NonFiniteError`.

The best iterate seen is returned (``keep_best=True``; appended to the history once more when
it is not the last epoch's, so that ``SolverResult.fun`` is F of the returned theta), or the
last one (``keep_best=False``: ``SGDLogisticRegression``, whose state continues the stream).
With ``tol=None`` the loop runs ``max_iter`` epochs and evaluates nothing.
"""
import math
import warnings
from collections import namedtuple

import numpy as np

from . import kernels as _kernels
from ._config import effective_n_threads
from ._design_rows import row_sq_norms
from .layout import NonFiniteError
from .objective import LogLossData
from .outofcore import ChunkedData
from .validation import check_max_iter, check_tol

__all__ = ["Schedule", "SGDState", "SGD", "row_source", "supports", "sample_epoch",
           "block_epoch", "fit_epochs", "check_loop_options", "epoch_callback",
           "local_epochs", "LocalResult", "max_step_curvature", "make_rng", "MAX_RESTARTS",
           "PARALLEL_NNZ", "PROGRESS_RTOL"]

#: Restarts with 10x smaller steps before a run that makes no progress gives up.
MAX_RESTARTS = 8
#: An iterate has made progress when its F is below F(theta0) by more than this (relative):
#: rounding is not progress.
PROGRESS_RTOL = 1e-12
#: Step-size factor of a restart.
RESTART_FACTOR = 0.1
_MONITORS = ("objective", "epoch_loss")
#: Mini-batch blocks with fewer non-zeros than this run their kernel calls on one thread.
PARALLEL_NNZ = 100_000


def _positive(name, value, allow_zero=False):
    ok = (isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
          and math.isfinite(value) and (value >= 0 if allow_zero else value > 0))
    if not ok:
        what = "a non-negative" if allow_zero else "a positive"
        raise ValueError(f"{name} must be {what} finite number, got {value!r}")
    return float(value)


def make_rng(random_state):
    """A NumPy random generator from an int / None / Generator / RandomState (kept as is:
    both offer the ``shuffle`` and ``permutation`` the sources use)."""
    if isinstance(random_state, (np.random.Generator, np.random.RandomState)):
        return random_state
    return np.random.default_rng(random_state)


# ----------------------------------------------------------------------------- schedule
class Schedule:
    """Learning rate ``eta(t)`` of step t (from 1), in the mean-loss scaling.

    Parameters
    ----------
    kind : {"constant", "invscaling", "optimal", "adaptive"}
    alpha : float > 0
        ``1 / (C n)``; used by "optimal" (and its default t0).
    eta0 : float > 0
        Initial rate (every kind but "optimal", which ignores it).
    power_t : float >= 0
        Exponent of "invscaling".
    t0 : float > 0 or None
        Offset of "optimal"; None: scikit-learn's heuristic ``1 / (alpha sqrt(1/sqrt(alpha)))``
        (a typical weight ``alpha ** -1/4`` as the first step, the log-loss derivative being
        at most 1).

    Small and picklable (a Dask client sends it to the workers).
    """

    KINDS = ("constant", "invscaling", "optimal", "adaptive")

    def __init__(self, kind="optimal", *, alpha, eta0=None, power_t=0.5, t0=None):
        if kind not in self.KINDS:
            raise ValueError(f"learning_rate must be one of {self.KINDS}, got {kind!r}")
        self.kind = kind
        self.alpha = _positive("alpha", alpha)
        self.power_t = _positive("power_t", power_t, allow_zero=True)
        if kind == "optimal":
            self.eta0 = 0.0
            self.t0 = (1.0 / (self.alpha * np.sqrt(1.0 / np.sqrt(self.alpha))) if t0 is None
                       else _positive("t0", t0))
        else:
            self.eta0 = _positive("eta0", eta0)
            self.t0 = 1.0
        self.eta_now = self.eta0

    def __repr__(self):
        return (f"Schedule({self.kind!r}, alpha={self.alpha!r}, eta0={self.eta0!r}, "
                f"power_t={self.power_t!r}, t0={self.t0!r})")

    def eta(self, t):
        """The rate of step t (t >= 1)."""
        if self.kind == "optimal":
            return 1.0 / (self.alpha * (self.t0 + t - 1.0))
        if self.kind == "invscaling":
            return self.eta0 / t ** self.power_t
        return self.eta_now

    def kernel_args(self):
        """The schedule keywords of ``KernelSet.sgd_epoch`` ("adaptive" is "constant" at the
        current rate within an epoch)."""
        kind = "constant" if self.kind == "adaptive" else self.kind
        return dict(schedule=kind, eta0=self.eta_now, power_t=self.power_t, alpha=self.alpha,
                    t0=self.t0)

    def scaled(self, factor):
        """The same schedule with every step multiplied by ``factor`` (a restart)."""
        out = Schedule.__new__(Schedule)
        out.__dict__.update(self.__dict__)
        if self.kind == "optimal":
            out.t0 = self.t0 / factor  # the first steps scale by factor, the tail 1/(alpha t) not
        else:
            out.eta0 = self.eta0 * factor
            out.eta_now = out.eta0
        return out

    def restart(self, step_scale, safe_step=None):
        """The schedule of a (re)start: every step times ``step_scale`` and, for a restart
        (``step_scale < 1``) with ``safe_step`` given, the first step capped at ``safe_step``
        (``1 / L_max``, :func:`max_step_curvature`)."""
        out = self.scaled(step_scale)  # a copy: "adaptive" changes its rate
        if step_scale < 1.0 and safe_step is not None:
            first = out.eta(1.0)
            if first > safe_step:
                out = out.scaled(safe_step / first)
        return out

    def end_epoch(self, improved):
        """After an epoch: "adaptive" halves its rate when the epoch did not improve; returns a
        stop message once it falls below 1e-6 eta0, else None."""
        if self.kind == "adaptive" and not improved:
            self.eta_now *= 0.5
            if self.eta_now < 1e-6 * self.eta0:
                return "adaptive learning rate fell below 1e-6 eta0"
        return None


# ----------------------------------------------------------------------------- state
class SGDState:
    """The parameters in the form the compiled epochs update in place.

    ``W`` (d, K) and ``b`` (K,) float64 with ``w = scale * W`` (lazy L2 scaling); ``vec`` =
    ``[scale, t, beta, count, u]`` (t: steps taken; averaging keeps ``Sum_w = avg_W + beta W``
    over ``count`` averaged steps; u: cumulative L1 penalty); ``avg_W`` / ``avg_b`` the
    averaging sums (``avg_W`` None without averaging); ``q`` (d, K) the L1 penalty applied to
    each weight so far (None without L1).  K = 1 for binary.  See
    :mod:`fastlogit.kernels.sgd_ref` for the update that keeps these invariants.

    Parameters
    ----------
    layout : :class:`fastlogit.layout.Layout`
    theta : float64 (n_params,) or None (zeros)
    average_start : int >= 0
        Average the iterates of steps ``t >= average_start`` (0: no averaging).
    l1 : bool
        Keep the cumulative L1 penalties (a penalty with an L1 part).
    """

    def __init__(self, layout, theta=None, *, average_start=0, l1=False):
        self.layout = layout
        d, k = layout.n_features, layout.n_classes
        self.average_start = int(average_start)
        self.W = np.zeros((d, k))
        self.b = np.zeros(k)
        if theta is not None:
            self._unpack(layout.check(theta, "theta0"))
        self.vec = np.array([1.0, 0.0, 0.0, 0.0, 0.0])
        self.avg_W = np.zeros((d, k)) if self.average_start > 0 else None
        self.avg_b = np.zeros(k)
        self.q = np.zeros((d, k)) if l1 else None

    @property
    def t(self):
        """Steps taken so far (float)."""
        return float(self.vec[1])

    def _unpack(self, theta):
        T = self.layout.rows(theta)
        d = self.layout.n_features
        self.W[...] = T[:, :d].T
        self.b[...] = T[:, d] if self.layout.fit_intercept else 0.0

    def _pack(self, W, b):
        return self.layout.join(W.T, b)

    def theta(self):
        """The current iterate, float64 (n_params,)."""
        return self._pack(self.vec[0] * self.W, self.b)

    def averaged(self):
        """The average of the averaged iterates, or None before averaging has begun."""
        if self.avg_W is None or self.vec[3] <= 0:
            return None
        count = self.vec[3]
        return self._pack((self.avg_W + self.vec[2] * self.W) / count, self.avg_b / count)

    def iterate(self):
        """What a solver returns: the average once averaging has begun, else the current."""
        avg = self.averaged()
        return self.theta() if avg is None else avg

    def fold(self):
        """Make ``scale`` 1 and ``beta`` 0 (the same iterate and average): the form
        mini-batch steps update directly."""
        if self.avg_W is not None:
            self.avg_W += self.vec[2] * self.W
        self.vec[2] = 0.0
        self.W *= self.vec[0]
        self.vec[0] = 1.0


# ----------------------------------------------------------------------------- sources
def supports(data):
    """True when :func:`row_source` can stream ``data`` (an objective or a data term): the
    in-memory log-loss or the chunked one."""
    data = getattr(data, "data", data)
    return isinstance(data, (LogLossData, ChunkedData))


def row_source(data):
    """The row source of an objective or data term: in memory or chunked (ValueError else)."""
    data = getattr(data, "data", data)
    if isinstance(data, LogLossData):
        return _InMemoryRows(data)
    if isinstance(data, ChunkedData):
        return _ChunkedRows(data)
    raise ValueError(f"stochastic solvers need the log-loss in memory or chunked; "
                     f"{type(data).__name__} offers no row blocks")


def _kernel_targets(data):
    """(Y (m, K), s (m,) or None) in the data dtype, as ``sgd_epoch`` takes them."""
    m = data.n_samples
    Y = np.ascontiguousarray(np.asarray(data.y).reshape(m, -1), dtype=data.dtype)
    s = data.sample_weight
    return Y, None if s is None else np.ascontiguousarray(s, dtype=data.dtype)


def _with_threads(block, n_threads):
    """``block`` with the threads of its kernel calls set: ``n_threads``, or (None) one thread
    for blocks of fewer than ``PARALLEL_NNZ`` non-zeros (waking threads would cost more than
    the work), else the data term's."""
    if n_threads is None:
        X = block.design
        nnz = (int(X.arrays[2][-1] - X.arrays[2][0]) if X.kind == "csr"
               else X.n_rows * X.n_cols)
        n_threads = 1 if nnz < PARALLEL_NNZ else block.n_threads
    block.n_threads = n_threads
    return block


class _InMemoryRows:
    """One piece: the whole in-memory data term.  Per-sample epochs shuffle one row order in
    place, epoch after epoch; mini-batch epochs permute the rows once (a copy, so that
    contiguous blocks are random batches even for data sorted by label) and the block order
    every epoch."""

    def __init__(self, data):
        self.data = data
        self.layout = data.layout
        self.n_samples = data.n_samples
        self._order = np.arange(data.n_samples, dtype=np.int64)
        self._targets = None
        self._blocks = None

    def pieces(self):
        yield self.data

    def sample_pieces(self, rng, shuffle):
        if self._targets is None:
            self._targets = _kernel_targets(self.data)
        if shuffle:
            rng.shuffle(self._order)
        yield (self.data, *self._targets, self._order)

    def blocks(self, rng, shuffle, batch_size, n_threads):
        if self._blocks is None:
            d = self.data
            if shuffle:
                perm = rng.permutation(d.n_samples)
                design = _kernels.as_design(d.design.to_scipy()[perm])
                sw = None if d.sample_weight is None else d.sample_weight[perm]
                d = LogLossData.trusted(design, d.y[perm], sw, d.fit_intercept, d.kernels,
                                        d.n_threads)
            self._blocks = d
        d = self._blocks
        starts = np.arange(0, d.n_samples, batch_size)
        for lo in (rng.permutation(starts) if shuffle else starts):
            yield _with_threads(d.rows(lo, min(lo + batch_size, d.n_samples)), n_threads)



class _ChunkedRows:
    """One piece per chunk of a :class:`fastlogit.outofcore.ChunkedData`, each read from its
    source when visited; the chunks in a random order every epoch, the rows (per-sample) or
    blocks (mini-batch) of a chunk in a random order.  Without shuffling the rows are visited
    in their order, as in memory."""

    def __init__(self, data):
        self.data = data
        self.layout = data.layout
        self.n_samples = data.n_samples

    def _chunks(self, rng, shuffle):
        chunks = self.data.chunks
        for c in (rng.permutation(len(chunks)) if shuffle else range(len(chunks))):
            yield self.data.chunk(*chunks[c])

    def pieces(self):
        return self._chunks(None, False)

    def sample_pieces(self, rng, shuffle):
        for chunk in self._chunks(rng, shuffle):
            m = chunk.n_samples
            order = rng.permutation(m).astype(np.int64) if shuffle else np.arange(m,
                                                                                   dtype=np.int64)
            yield (chunk, *_kernel_targets(chunk), order)

    def blocks(self, rng, shuffle, batch_size, n_threads):
        for chunk in self._chunks(rng, shuffle):
            starts = np.arange(0, chunk.n_samples, batch_size)
            for lo in (rng.permutation(starts) if shuffle else starts):
                yield _with_threads(chunk.rows(lo, min(lo + batch_size, chunk.n_samples)),
                                    n_threads)



def max_step_curvature(source, penalty, alpha):
    """``L_max = c max_i s_i (||x_i||^2 + fit_intercept) + alpha h``: the largest curvature of
    one sample's term of G (c = 1/4 binary, 1/2 softmax; h the largest curvature of the
    penalty's smooth part at 0).  A constant step below ``1 / L_max`` is safe for every batch
    size.  One pass over the rows (a read of every chunk when chunked)."""
    top = 0.0
    for piece in source.pieces():
        sq = row_sq_norms(piece.design) + float(piece.fit_intercept)
        if piece.sample_weight is not None:
            sq = sq * np.asarray(piece.sample_weight, dtype=np.float64)
        top = max(top, float(sq.max(initial=0.0)))
    lay = source.layout
    h = penalty.l2_strength
    if h is None:
        h = float(np.max(penalty.smooth_hess_diag(np.zeros(lay.n_coef)), initial=0.0))
    return (0.25 if lay.n_classes == 1 else 0.5) * top + alpha * h


# ----------------------------------------------------------------------------- epochs
def sample_epoch(source, state, schedule, penalty, alpha, rng, *, shuffle=True,
                 hogwild=False, n_threads=None):
    """One per-sample SGD epoch over every row of ``source``; updates ``state``.

    Elastic-net form (``penalty.l2_strength`` not None): one compiled ``sgd_epoch`` call per
    piece with ``lam2 = alpha l2_strength``, ``lam1 = alpha l1_strength``.  Any other penalty:
    :func:`block_epoch` with blocks of one row (the generic, slower path).  ``hogwild`` runs the
    kernels' lock-free parallel epoch on ``n_threads`` threads (CSR, binary, no L1; not
    deterministic).  Returns the loss sum ``sum_i s_i l_i`` seen, each before its step.
    """
    if penalty.l2_strength is None:  # the generic path: the same rows in the same order
        rows = (_with_threads(piece.rows(i, i + 1), 1)
                for piece, _, _, order in source.sample_pieces(rng, shuffle) for i in order)
        return _step_blocks(rows, state, schedule, penalty, alpha)
    lam2 = alpha * penalty.l2_strength
    lam1 = alpha * penalty.l1_strength
    if lam1 > 0 and state.q is None:
        state.q = np.zeros_like(state.W)
    kargs = schedule.kernel_args()
    n_threads = effective_n_threads(n_threads)
    loss = 0.0
    for piece, Y, s, order in source.sample_pieces(rng, shuffle):
        loss += piece.kernels.sgd_epoch(
            piece.design, Y, s, order, state.W, state.b, state.vec, avg_W=state.avg_W,
            avg_b=state.avg_b, q=state.q, lam2=lam2, lam1=lam1,
            fit_intercept=state.layout.fit_intercept, average_start=state.average_start,
            hogwild=hogwild, n_threads=n_threads, **kargs)
    return loss


def block_epoch(source, state, schedule, penalty, alpha, rng, *, batch_size, shuffle=True,
                n_threads=None):
    """One mini-batch epoch: for each block B of ``batch_size`` rows (t += 1)::

        g = 1/|B| sum_{i in B} s_i grad l_i  +  alpha grad S(w)      (fused loss_grad kernel)
        theta <- theta - eta(t) g;   w <- prox_{eta(t) alpha l1 ||.||_1}(w)
        t >= average_start: add theta to the averaging sums

    ``n_threads`` is the threads of each block's kernel call (None: one thread for blocks of
    fewer than ``PARALLEL_NNZ`` non-zeros, else the data term's).
    Returns the loss sum of the blocks, each before its step.
    """
    return _step_blocks(source.blocks(rng, shuffle, batch_size, n_threads), state, schedule,
                        penalty, alpha)


def _step_blocks(blocks, state, schedule, penalty, alpha):
    """The steps of :func:`block_epoch`, one per in-memory data term of ``blocks``."""
    lay = state.layout
    state.fold()
    theta = state.theta()
    averaging = state.avg_W is not None
    avg = state._pack(state.avg_W, state.avg_b) if averaging else None
    l1 = bool(penalty.l1_strength)
    count = 0
    loss = 0.0
    for blk in blocks:
        state.vec[1] += 1.0
        t = state.vec[1]
        f, g = blk.loss_grad(theta)
        loss += f
        g *= 1.0 / blk.n_samples
        w = lay.coef(theta)
        lay.add_coef(g, alpha * penalty.smooth_grad(w))
        step = schedule.eta(t)
        theta -= step * g
        if l1:
            w = lay.coef(theta)
            lay.add_coef(theta, penalty.prox(w, step * alpha) - w)
        if averaging and t >= state.average_start:
            avg += theta
            count += 1
    state._unpack(theta)
    if averaging:
        T = lay.rows(avg)
        state.avg_W[...] = T[:, :lay.n_features].T
        state.avg_b[...] = T[:, lay.n_features] if lay.fit_intercept else 0.0
        state.vec[3] += count
    return loss


# ----------------------------------------------------------------------------- optimizer
class SGD:
    """Per-sample or mini-batch SGD over a row source: the optimizer :func:`fit_epochs` drives.

    Parameters
    ----------
    data : objective or data term (in memory or chunked, see :func:`row_source`)
    theta0 : float64 (n_params,)
    schedule : :class:`Schedule`
    penalty : :class:`fastlogit.penalties.Penalty`
    alpha : float, ``1 / (C n)``
    rng : random generator (:func:`make_rng`)
    batch_size : int or None
        None: per-sample epochs (:func:`sample_epoch`); else mini-batch (:func:`block_epoch`).
    average_start : int >= 0 (0: no averaging)
    shuffle, hogwild, n_threads : as for the epochs.
    state : :class:`SGDState` or None
        Continue this state (``start(1.0)`` keeps it once; restarts start fresh at theta0).

    Attributes: ``state`` (the current :class:`SGDState`), ``schedule`` (the current one).
    """

    def __init__(self, data, theta0, schedule, penalty, alpha, rng, *, batch_size=None,
                 average_start=0, shuffle=True, hogwild=False, n_threads=None, state=None):
        self.source = row_source(data)
        self.theta0 = np.array(theta0, dtype=np.float64)
        self.base = schedule
        self.penalty = penalty
        self.alpha = float(alpha)
        self.rng = rng
        self.batch_size = batch_size
        self.average_start = int(average_start)
        self.shuffle = bool(shuffle)
        self.hogwild = bool(hogwild)
        self.n_threads = n_threads
        self._given = state
        self._safe_step = None
        self.state = None
        self.schedule = None

    def start(self, step_scale):
        """(Re)start at theta0 with steps ``step_scale`` times the schedule's; a restart
        (``step_scale < 1``) also caps the first step at ``1 / L_max``
        (:func:`max_step_curvature`), the largest step that is safe for every sample."""
        if step_scale < 1.0 and self._safe_step is None:
            self._safe_step = 1.0 / max_step_curvature(self.source, self.penalty, self.alpha)
        self.schedule = self.base.restart(step_scale, self._safe_step)
        if self._given is not None:
            self.state, self._given = self._given, None
        else:
            self.state = SGDState(self.source.layout, self.theta0,
                                  average_start=self.average_start,
                                  l1=bool(self.penalty.l1_strength))

    def epoch(self):
        if self.batch_size is None:
            return sample_epoch(self.source, self.state, self.schedule, self.penalty,
                                self.alpha, self.rng, shuffle=self.shuffle,
                                hogwild=self.hogwild, n_threads=self.n_threads)
        return block_epoch(self.source, self.state, self.schedule, self.penalty, self.alpha,
                           self.rng, batch_size=self.batch_size, shuffle=self.shuffle,
                           n_threads=self.n_threads)

    def iterate(self):
        return self.state.iterate()

    def end_epoch(self, improved):
        return self.schedule.end_epoch(improved)


# ----------------------------------------------------------------------------- the loop
_RESTART = "restart"


class _Run:
    """The stopping rule of :func:`fit_epochs`: history, best iterate, progress, restarts."""

    def __init__(self, objective, theta0, name, tol, n_iter_no_change, monitor, callback,
                 verbose, max_restarts):
        from .solvers._result import History

        self.objective = objective
        self.name = name
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.monitor = monitor
        self.max_restarts = max_restarts
        self.restarts = 0
        self.use_grad = (tol is not None and monitor == "objective"
                         and not objective.penalty.l1_strength)
        self.n_evals = {"value_grad": 0, "value": 0}
        self.history = History(callback, verbose, name)
        self.theta0 = np.array(theta0, dtype=np.float64)
        self.f0, self.g0 = (np.nan, np.nan) if tol is None else self.evaluate(self.theta0, None)
        self.gtol = tol * max(1.0, self.g0) if np.isfinite(self.g0) else np.nan
        self.stop_requested = self.history.record(self.theta0, self.f0, self.g0)
        self.best = (self.f0, self.g0, 0, self.theta0)  # F, grad norm, history index, theta
        self.no_change = 0
        self.run_progress = False  # the current run (since the last restart) went below F_0
        self.progress = False      # some run went below F_0

    def evaluate(self, theta, loss_sum, exact=False):
        """(F, ||grad F||_inf or NaN) at theta: the estimate from ``loss_sum`` with
        ``monitor="epoch_loss"`` (unless ``exact``), else exact (one pass)."""
        ob = self.objective
        if loss_sum is not None and not exact and (self.monitor == "epoch_loss"
                                                   or self.tol is None):
            return ob.C * loss_sum + ob.penalty.value(ob.layout.coef(theta)), np.nan
        if self.tol is None:
            return np.nan, np.nan
        if self.use_grad:
            self.n_evals["value_grad"] += 1
            f, g = ob.value_grad(theta)
            return float(f), float(np.max(np.abs(g))) if g.size else 0.0
        self.n_evals["value"] += 1
        return float(ob.value(theta)), np.nan

    def _restart_or(self, can_restart, verdict):
        if can_restart and self.restarts < self.max_restarts:
            self.restarts += 1
            self.no_change, self.run_progress = 0, False
            return _RESTART
        return verdict

    def step(self, theta, loss_sum, can_restart):
        """Record an epoch ending at ``theta``; returns None (go on), ``_RESTART``, or
        ``(message, converged)``."""
        h = self.history
        diverged = not np.isfinite(theta).all() or (
            loss_sum is not None and not math.isfinite(loss_sum))
        f, g = (np.inf, np.nan) if diverged else self.evaluate(theta, loss_sum)
        if diverged or (self.tol is not None and not math.isfinite(f)):
            h.record(self.theta0, self.f0, self.g0)  # the run ends where it started
            tried = f" after {self.restarts} restarts with smaller steps" if self.restarts else ""
            verdict = self._restart_or(can_restart and self.tol is not None, None)
            if verdict is None:
                raise NonFiniteError(
                    f"{self.name} diverged (non-finite iterate or objective){tried}; scale "
                    f"the features (e.g. StandardScaler / MaxAbsScaler), lower eta0 or C (raise "
                    f"alpha)")
            return verdict
        stop = h.record(theta, f, g)
        if self.tol is None:
            return ("stopped by the callback", False) if stop else None
        if not self.run_progress:
            # Has this run gone below F_0?  Decided on the exact F (an epoch-loss estimate
            # is biased upwards): if not, its steps are too large.
            f_exact = f if self.monitor == "objective" else self.evaluate(theta, None, True)[0]
            if f_exact < self.f0 - PROGRESS_RTOL * abs(self.f0):
                self.run_progress = self.progress = True
            elif not stop and self._restart_or(can_restart, None) is _RESTART:
                return _RESTART
        if stop:
            return "stopped by the callback", False
        tol = self.tol
        best_f = self.best[0]
        improved = f < best_f - tol * abs(best_f)
        if f < best_f:
            self.best = (f, g, len(h.objective) - 1, theta)
        if self.progress and np.isfinite(g) and g <= self.gtol:
            return f"gradient norm {g:.3g} <= {self.gtol:.3g}", True
        self.no_change = 0 if improved else self.no_change + 1
        if self.no_change < self.n_iter_no_change:
            return None
        if self.progress:
            return (f"objective improved by less than tol * |F| = {tol:g} * |F| over "
                    f"{self.n_iter_no_change} epochs"), True
        return self._restart_or(can_restart, ("no progress", False))

    def finish(self, optimizer, n_iter, message, converged, keep_best):
        """The :class:`SolverResult`; warns when the run did not converge."""
        from .solvers._result import ConvergenceWarning, SolverResult

        h = self.history
        tried = f" and {self.restarts} restarts with smaller steps" if self.restarts else ""
        theta_out = np.asarray(optimizer.iterate(), dtype=np.float64)
        if self.tol is None:
            message = message or f"ran max_iter = {n_iter} epochs (tol=None)"
        elif message == "stopped by the callback" or (converged and n_iter == 0):
            pass
        elif not self.progress:
            converged = False
            message = (f"{self.name} made no progress from the starting point (F = "
                       f"{self.f0:.6g}) in {n_iter} epochs{tried}: its steps are too large "
                       f"for these data (or theta0 is already optimal). Scale the features "
                       f"(e.g. StandardScaler / MaxAbsScaler), or lower eta0 or C (raise "
                       f"alpha).")
            warnings.warn(message, ConvergenceWarning, stacklevel=4)
        elif message is None:
            message = (f"{self.name} did not converge in max_iter = {n_iter} epochs{tried} "
                       f"(F = {h.objective[-1]:.6g}); increase max_iter or tol, or scale the "
                       f"data.")
            warnings.warn(message, ConvergenceWarning, stacklevel=4)
        elif self.restarts:
            message += f" (after {self.restarts} restarts with smaller steps)"
        if keep_best and self.tol is not None:
            f_best, g_best, index, theta_out = self.best
            if index != len(h.objective) - 1:
                # the returned iterate is recorded last, so that SolverResult.fun is F(theta)
                h.objective.append(f_best)
                h.grad_norm.append(g_best)
                h.time.append(h.time[-1])
                message += f"; returned the best iterate (epoch {index})"
        return SolverResult(theta=np.array(theta_out, dtype=np.float64), n_iter=n_iter,
                            converged=bool(converged), message=message, history=h.as_dict(),
                            n_evals=dict(self.n_evals))


def epoch_callback(callback):
    """A :func:`fit_epochs` callback (called with theta at theta0, then after each epoch)
    from ``callback(epoch, theta)`` called after each epoch only (epoch from 0; its return
    value ignored); None stays None."""
    if callback is None:
        return None
    calls = iter(range(-1, 1 << 62))

    def wrapped(theta):
        epoch = next(calls)
        if epoch >= 0:
            callback(epoch, theta)
        return False

    return wrapped


def check_loop_options(tol, max_iter, n_iter_no_change, monitor):
    """``(tol, max_iter, n_iter_no_change)`` checked (ValueError naming the option)."""
    max_iter = check_max_iter(max_iter)
    if tol is not None:
        tol = check_tol(tol)
    if (not isinstance(n_iter_no_change, (int, np.integer)) or isinstance(n_iter_no_change, bool)
            or n_iter_no_change < 1):
        raise ValueError(f"n_iter_no_change must be a positive integer, got {n_iter_no_change!r}")
    if monitor not in _MONITORS:
        raise ValueError(f"monitor must be 'objective' or 'epoch_loss', got {monitor!r}")
    return tol, max_iter, int(n_iter_no_change)


def fit_epochs(objective, theta0, optimizer, *, name="SGD", tol=1e-4, max_iter=100,
               n_iter_no_change=5, monitor="objective", callback=None, verbose=0,
               keep_best=True, max_restarts=MAX_RESTARTS):
    """Run ``optimizer`` epoch by epoch under the stopping rule of the module docstring.

    Parameters
    ----------
    objective : an :class:`fastlogit.objective.Objective` (any data term: F is evaluated
        through it) with ``C``, ``penalty``, ``layout``.
    theta0 : float64 (n_params,)
    optimizer : object with ``start(step_scale)``, ``epoch() -> loss_sum or None``,
        ``iterate() -> theta`` and optionally ``end_epoch(improved) -> message or None``
        (:class:`SGD`; the Dask rounds).  ``start`` is called once with 1.0, then with
        ``RESTART_FACTOR ** k`` at the k-th restart.
    name : str (messages, history printing)
    tol : float >= 0 or None (None: run max_iter epochs, evaluate nothing, never warn)
    max_iter : int >= 1, epochs in total (restarts included)
    n_iter_no_change : int >= 1
    monitor : {"objective", "epoch_loss"}
    callback : callable(theta) or None; called at theta0 and after each epoch with the
        iterate; returning True stops.
    keep_best : bool, return the best iterate (else the last one)
    max_restarts : int >= 0

    Returns
    -------
    :class:`fastlogit.solvers.SolverResult` (``n_evals`` counts the evaluations of F).
    """
    tol, max_iter, n_iter_no_change = check_loop_options(tol, max_iter, n_iter_no_change,
                                                         monitor)
    run = _Run(objective, theta0, name, tol, n_iter_no_change, monitor, callback, verbose,
               int(max_restarts))
    end_epoch = getattr(optimizer, "end_epoch", None)
    optimizer.start(1.0)
    message, converged = None, False
    if run.stop_requested:
        message = "stopped by the callback"
    elif run.use_grad and run.g0 <= tol:
        message, converged = "theta0 meets the gradient test", True
    epoch = 0
    while message is None and epoch < max_iter:
        epoch += 1
        loss_sum = optimizer.epoch()
        verdict = run.step(np.asarray(optimizer.iterate(), dtype=np.float64), loss_sum,
                           epoch < max_iter)
        if verdict is _RESTART:
            optimizer.start(RESTART_FACTOR ** run.restarts)
        elif verdict is not None:
            message, converged = verdict
        elif end_epoch is not None and tol is not None:
            f_prev, f = run.history.objective[-2:]
            said = end_epoch(f < f_prev - tol * abs(f_prev))
            if said is not None:
                message, converged = said, run.progress
    return run.finish(optimizer, epoch, message, converged, keep_best)


# ----------------------------------------------------------------------------- Dask parts
LocalResult = namedtuple("LocalResult", "theta t loss_sum weight")
LocalResult.__doc__ = """What :func:`local_epochs` returns: the iterate to average (float64
(n_params,)), the step counter after the call, the loss sum seen, the data's weight sum."""


def local_epochs(data, theta, schedule, *, C, penalty, n_total, epochs=1, t_start=0,
                 seed=None, average=True, batch_size=None, n_threads=1):
    """``epochs`` SGD epochs over an in-memory (or chunked) data term from ``theta``: the
    worker side of Dask local SGD.

    Steps are those of G = F / (C n_total) (``alpha = 1 / (C n_total)``: every part steps on
    the whole data set's objective); the step counter starts at ``t_start``, so a schedule
    keeps decreasing across rounds.  ``penalty`` is any :class:`fastlogit.penalties.Penalty`.
    ``average``: return the average of this call's iterates, else the last one.
    ``batch_size``: None per-sample epochs (compiled), an int mini-batch steps.
    ``theta`` is not modified.  Returns a :class:`LocalResult`.
    """
    source = row_source(data)
    start = int(t_start)
    state = SGDState(source.layout, theta, average_start=start + 1 if average else 0,
                     l1=bool(penalty.l1_strength))
    state.vec[1] = float(start)
    alpha = 1.0 / (float(C) * float(n_total))
    rng = make_rng(seed)
    loss = 0.0
    for _ in range(int(epochs)):
        if batch_size is None:
            loss += sample_epoch(source, state, schedule, penalty, alpha, rng,
                                 n_threads=n_threads)
        else:
            loss += block_epoch(source, state, schedule, penalty, alpha, rng,
                                batch_size=int(batch_size), n_threads=n_threads)
    s = source.data.sample_weight
    weight = float(source.n_samples if s is None else np.sum(s, dtype=np.float64))
    return LocalResult(state.iterate(), state.t, loss, weight)
