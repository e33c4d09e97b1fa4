"""L-BFGS on the smooth objective (binary and multinomial).

Our own limited-memory BFGS over the last ``m`` pairs (s, y) = (theta_{k+1} - theta_k,
g_{k+1} - g_k), applied in compact form (:class:`_Memory`), initial matrix gamma I with
gamma = s.y / y.y of the newest pair, and the Armijo line search of
:mod:`fastlogit.solvers._line_search` (the full step costs one fused value+gradient pass and
is accepted in almost every iteration; a rejected one is refined along the precomputed
margins, O(n) per trial).  A pair is kept only when s.y > 1e-10 ||s|| ||y|| (always so on
the strictly convex log-loss; the check matters for the non-convex extras), which keeps the
implicit inverse Hessian positive definite without a Wolfe curvature test.

Each iteration sweeps the stored pairs twice, in the compiled passes of
:mod:`fastlogit.solvers._lbfgs_memory` (one forms the new pair and every dot the compact form
needs, the other writes the direction), on the objective's threads (``n_threads``, through
the kernels' cost model) and with results that do not depend on the thread count; a memory
larger than ``FLOAT32_MEMORY_BYTES`` in float64 is stored in float32.  The number of pairs is
20 by default, 10 (scipy's L-BFGS-B default) where 20 pairs would pass that size: there the
two sweeps stream the pairs from memory, and halving them cost fewer seconds than the extra
iterations they save (measured in benchmarks/results/softmax_race.md).

Why not SciPy's L-BFGS-B (used before): its bound-constrained machinery (Cauchy point,
subspace minimisation) is dead weight for an unconstrained problem, and on wide sparse data it
cost more per iteration than the kernel passes themselves.  Its Wolfe line search saves a few
passes, but not enough to pay for that overhead (figures in benchmarks/results/NOTES.md).

Stopping rule of :mod:`fastlogit.solvers._result`::

    ||grad F(theta)||_inf <= tol * max(1, ||grad F(0)||_inf)

(the reference at theta = 0, independent of the start: a warm start stops at the same
threshold as a cold fit, so it saves iterations; the memory starts empty either way)
"""
import math

import numpy as np

from . import _lbfgs_memory as _lbm
from ._line_search import armijo
from ..contract import declare
from ._result import single_threaded_blas
from ._result import begin_smooth_fit, finish_fit, threshold_after

__all__ = ["lbfgs"]


class _Memory:
    """The last ``m`` correction pairs and the inverse-Hessian product in compact form.

    With the pairs in chronological order as the columns of S and Y (n, k), R the upper
    triangle of S^T Y, D its diagonal and H0 = gamma I (Byrd, Nocedal & Schnabel 1994)::

        H g = gamma g + S p + gamma Y q,   u = R^-1 S^T g,   q = -u,
                                           p = R^-T ((D + gamma Y^T Y) u - gamma Y^T g)

    which equals the classical two-loop recursion (tested).  Every sweep over the stored
    pairs is one of the two compiled passes of :mod:`fastlogit.solvers._lbfgs_memory`:
    :meth:`push` forms the new pair and reads S^T y, Y^T y (the new column of R and of
    Y^T Y), S^T g, Y^T g (for the next direction) and the pair's own dots in one sweep;
    :meth:`direction` writes -H g and its slope in another.  The memory holds
    2 (m + 1) n values (a spare row takes the next pair before its curvature is known), in
    ``dtype`` (float32 halves the traffic of both sweeps; sums are float64).  Rows of S and
    Y are slots; ``order`` lists the slots of the stored pairs, oldest first.  The k x k
    steps (the new pair's row and column, the two triangular solves) are compiled as well
    (:func:`~fastlogit.solvers._lbfgs_memory.store_pair`,
    :func:`~fastlogit.solvers._lbfgs_memory.compact_coefficients`).
    """

    def __init__(self, m, n, dtype=np.float64, n_threads=1):
        self.m = int(m)
        self.S = np.empty((self.m + 1, n), dtype=dtype)
        self.Y = np.empty((self.m + 1, n), dtype=dtype)
        # chronological (oldest first): StY[i, j] = s_i . y_j for i <= j, YtY[i, j] = y_i . y_j
        self.StY = np.zeros((self.m, self.m))
        self.YtY = np.zeros((self.m, self.m))
        self.order = []
        self.spare = 0
        self.gamma = 1.0
        # threads of both passes, by the kernels' cost model at a full memory (once per fit)
        self.threads = _lbm.pass_threads(n_threads, n, self.m)
        self._act = np.zeros(0, dtype=np.int64)  # ``order`` as an array
        self._sg = self._yg = np.zeros(0)  # S^T g, Y^T g (chronological) at the pushed g
        # buffers of the compiled k x k steps (store_pair, compact_coefficients)
        self._sg_buf, self._yg_buf = np.zeros(self.m), np.zeros(self.m)
        self._cs, self._cy = np.zeros(self.m), np.zeros(self.m)

    def push(self, theta_new, theta, g_new, g):
        """Store the pair (theta_new - theta, g_new - g) if its curvature s.y is safely
        positive, and prepare :meth:`direction` at ``g_new``.

        Returns
        -------
        kept : bool
        gnorm : float
            ||g_new||_inf.
        """
        k = len(self.order)
        sums = _lbm.pair_pass(theta_new, theta, g_new, g, self.S, self.Y, self.spare,
                              self._act, self.threads)
        sy, yy, ss, _, _, gnorm = sums[4 * k:].tolist()
        if not sy > 1e-10 * math.sqrt(ss * yy):
            self._sg, self._yg = sums[2 * k:3 * k], sums[3 * k:4 * k]
            return False, gnorm
        # sums as [S.y, Y.y, S.g, Y.g] blocks of k, then the new pair's own dots: the new
        # column of R and Y^T Y, and S^T g, Y^T g, in one compiled step (the oldest pair's
        # row and column dropped first when the memory is full)
        kn = _lbm.store_pair(self.StY, self.YtY, sums, k, self._sg_buf, self._yg_buf)
        self._sg, self._yg = self._sg_buf[:kn], self._yg_buf[:kn]
        new = self.spare
        if k == self.m:  # the oldest pair's slot is the new spare
            self.spare = self.order.pop(0)
        self.order.append(new)
        if k < self.m:
            self.spare = min(set(range(self.m + 1)).difference(self.order))
        self._act = np.array(self.order, dtype=np.int64)
        self.gamma = sy / yy
        return True, gnorm

    def clear(self):
        self.order = []
        self._act = np.zeros(0, dtype=np.int64)
        self.gamma = 1.0
        self._sg = self._yg = np.zeros(0)

    def direction(self, g, out, theta=None, trial=None):
        """Write -H g into ``out`` (float64, shape (n,); -g with no pairs) and return the slope
        g . out.  ``g`` must be the gradient of the last :meth:`push` (or any g with no pairs
        stored).  With ``theta`` and ``trial`` (float64, shape (n,)), the same sweep also
        writes ``trial = theta + out`` (the unit step's point, the bits of ``theta + out``)."""
        k = len(self.order)
        gamma = self.gamma
        if k == 0:
            coef_s = coef_y = self._sg
            gamma = 1.0
        else:
            coef_s, coef_y = self._cs[:k], self._cy[:k]
            if not _lbm.compact_coefficients(self.StY, self.YtY, self._sg, self._yg, gamma, k,
                                             coef_s, coef_y):
                raise np.linalg.LinAlgError("L-BFGS: singular curvature matrix")
        return _lbm.direction_pass(g, self.S, self.Y, self._act, coef_s, coef_y, gamma, out,
                                   self.threads, theta, trial)


#: Above this size of the pairs in float64 (2 (m + 1) n_params values), they are stored in
#: float32: the two sweeps over them per iteration are memory-bound, and beyond the caches
#: float32 halves their time; iterates, gradients and sums stay float64.
FLOAT32_MEMORY_BYTES = 64 << 20


#: Pairs kept by default (``m=None``): ``DEFAULT_PAIRS[0]``, or ``DEFAULT_PAIRS[1]`` when the
#: first would take more than ``FLOAT32_MEMORY_BYTES`` in float64.
DEFAULT_PAIRS = (20, 10)


def _pairs(m, n):
    """The number of pairs for ``m`` (an int >= 1, or None: :data:`DEFAULT_PAIRS`)."""
    if m is None:
        many, few = DEFAULT_PAIRS
        return few if 2 * (many + 1) * n * 8 > FLOAT32_MEMORY_BYTES else many
    if isinstance(m, bool) or int(m) != m or m < 1:
        raise ValueError(f"m must be a positive integer or None, got {m!r}")
    return int(m)


def _memory_dtype(memory_dtype, m, n):
    """The dtype the pairs are stored in (``memory_dtype`` of :func:`lbfgs`)."""
    if memory_dtype is None:
        big = 2 * (m + 1) * n * 8 > FLOAT32_MEMORY_BYTES
        return np.dtype(np.float32 if big else np.float64)
    dtype = np.dtype(memory_dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"memory_dtype must be float32, float64 or None, got {memory_dtype!r}")
    return dtype


def _first_step(g):
    """Length of a steepest-descent step taken without curvature pairs: min(1, 1 / ||g||_2)."""
    return min(1.0, 1.0 / max(float(np.linalg.norm(g)), 1e-300))


@declare("lbfgs", needs={"value_grad", "line"})
@single_threaded_blas
def lbfgs(objective, theta0, *, tol=1e-4, max_iter=100, callback=None, verbose=0,
          random_state=None, m=None, max_ls=40, memory_dtype=None, min_iter=0):
    """Minimise the smooth objective with L-BFGS (``m`` correction pairs; None: 20, or 10
    when 20 would take more than ``FLOAT32_MEMORY_BYTES`` in float64, :data:`DEFAULT_PAIRS`).

    The first step (and the first after a memory reset) is steepest descent of length
    ``min(1, 1 / ||g||_2)``; afterwards the step t = 1 is tried first.  If the line search
    fails on an L-BFGS direction the memory is cleared and steepest descent retried once.
    ``memory_dtype`` (float32, float64, or None: float32 when the pairs would take more than
    ``FLOAT32_MEMORY_BYTES`` in float64) is the storage of the pairs; the iterates, gradients
    and every sum stay float64.
    """
    name = "lbfgs"
    theta, hist, f, g, gnorm, thr, stopped = begin_smooth_fit(name, objective, theta0, tol,
                                                              callback, verbose)
    if stopped:
        return stopped
    m = _pairs(m, theta.size)
    memory = _Memory(m, theta.size, _memory_dtype(memory_dtype, m, theta.size),
                     getattr(objective, "n_threads", 1))
    d = np.empty_like(theta)
    it, message = 0, "max_iter reached"
    while gnorm > threshold_after(thr, tol, it, min_iter) and it < max_iter:
        it += 1
        if memory.order:  # the unit step first: its point theta + d comes from the same sweep
            t0, trial = 1.0, np.empty_like(theta)
            slope = memory.direction(g, d, theta, trial)  # g . d: armijo skips its dot
        else:
            t0, trial = _first_step(g), None
            slope = memory.direction(g, d)
        t, theta_new, f_new, g_new = armijo(objective, theta, f, g, d, t0=t0,
                                            max_backtracks=max_ls, slope=slope, trial=trial)
        if t == 0.0 and memory.order:
            memory.clear()
            d = -g
            t, theta_new, f_new, g_new = armijo(objective, theta, f, g, d, t0=_first_step(g),
                                                max_backtracks=max_ls)
        if t == 0.0:
            message = "line search failed (no decrease beyond round-off)"
            break
        gnorm = memory.push(theta_new, theta, g_new, g)[1]
        theta, f, g = theta_new, f_new, g_new
        if hist.record(theta, f, gnorm):
            return finish_fit(name, objective, theta, it, hist, gnorm, thr, by_callback=True)
    return finish_fit(name, objective, theta, it, hist, gnorm, thr, message)
