"""L-BFGS on the smooth objective (binary and multinomial).

Our own limited-memory BFGS over the last ``m`` pairs (s, y) = (theta_{k+1} - theta_k,
g_{k+1} - g_k), applied in compact form (:class:`_Memory`), initial matrix gamma I with
gamma = s.y / y.y of the newest pair, and the Armijo line search of
:mod:`fastlogit.solvers._line_search` (the full step costs one fused value+gradient pass and
is accepted in almost every iteration; a rejected one is refined along the precomputed
margins, O(n) per trial).  A pair is kept only when s.y > 1e-10 ||s|| ||y|| (always so on
the strictly convex log-loss; the check matters for the non-convex extras), which keeps the
implicit inverse Hessian positive definite without a Wolfe curvature test.

Why not SciPy's L-BFGS-B (used before): its bound-constrained machinery (Cauchy point,
subspace minimisation) is dead weight for an unconstrained problem, and on wide sparse data it
cost more per iteration than the kernel passes themselves.  Its Wolfe line search saves a few
passes, but not enough to pay for that overhead (figures in benchmarks/results/NOTES.md).

Stopping rule of :mod:`fastlogit.solvers._result`::

    ||grad F(theta)||_inf <= tol * max(1, ||grad F(0)||_inf)

(the reference at theta = 0, independent of the start: a warm start stops at the same
threshold as a cold fit, so it saves iterations; the memory starts empty either way)
"""
import numpy as np
from scipy import linalg

from ._line_search import armijo
from ..contract import declare
from ._result import single_threaded_blas
from .newton import _begin, _finish

__all__ = ["lbfgs"]


class _Memory:
    """The last ``m`` correction pairs and the inverse-Hessian product in compact form.

    With the pairs in chronological order as the columns of S and Y (n, k), R the upper
    triangle of S^T Y, D its diagonal and H0 = gamma I (Byrd, Nocedal & Schnabel 1994)::

        H g = gamma g + S p + gamma Y q,   u = R^-1 S^T g,   q = -u,
                                           p = R^-T ((D + gamma Y^T Y) u - gamma Y^T g)

    which equals the classical two-loop recursion (tested) with the stored pairs read by BLAS
    matrix-vector products (S^T g, Y^T g; the combination) instead of 4k separate dots and
    axpys; R and Y^T Y gain one column per new pair (S^T y, Y^T y).  The memory holds
    2 m n floats, which for a large multinomial model is more than X itself: two BLAS sweeps
    over it instead of 4k vector operations keep its cost below a kernel pass (figures in
    benchmarks/results/NOTES.md).  Pairs live in ring-buffer slots; ``order`` lists the slots
    oldest first.
    """

    def __init__(self, m, n):
        self.S = np.empty((m, n))
        self.Y = np.empty((m, n))
        # chronological (oldest first): StY[i, j] = s_i . y_j for i <= j, YtY[i, j] = y_i . y_j
        self.StY = np.zeros((m, m))
        self.YtY = np.zeros((m, m))
        self.order = []
        self.gamma = 1.0
        self._cached = None  # (g, S^T g, Y^T g) in slot order, from the last push

    def push(self, s, y, g):
        """Store the pair (s, y) if its curvature s.y is safely positive; ``g`` is the gradient
        the next :meth:`direction` will be asked for.  Returns whether the pair was kept."""
        sy = float(s @ y)
        yy = float(y @ y)
        if not sy > 1e-10 * np.sqrt(float(s @ s) * yy):
            self._cached = None
            return False
        m = self.S.shape[0]
        if len(self.order) == m:  # drop the oldest pair: its slot, its row and column
            slot = self.order.pop(0)
            for M in (self.StY, self.YtY):
                M[:-1, :-1] = M[1:, 1:].copy()
        else:
            slot = len(self.order)
        self.S[slot] = s
        self.Y[slot] = y
        self.order.append(slot)
        self.gamma = sy / yy
        k = len(self.order)
        o = np.asarray(self.order)
        S, Y = self.S[:k], self.Y[:k]
        self.StY[:k, k - 1] = (S @ y)[o]
        self.YtY[k - 1, :k] = self.YtY[:k, k - 1] = (Y @ y)[o]
        self._cached = (g, S @ g, Y @ g)
        return True

    def clear(self):
        self.order = []
        self.gamma = 1.0
        self._cached = None

    def direction(self, g):
        """-H g with H the L-BFGS inverse-Hessian approximation (-g with no pairs)."""
        k = len(self.order)
        if k == 0:
            return -g
        if self._cached is not None and self._cached[0] is g:
            _, sg, yg = self._cached
        else:
            sg, yg = self.S[:k] @ g, self.Y[:k] @ g
        o = np.asarray(self.order)
        R = self.StY[:k, :k]  # its upper triangle; LAPACK's trtrs reads nothing else
        gamma = self.gamma
        u = _upper_solve(R, sg[o])
        w = np.diagonal(R) * u + gamma * (self.YtY[:k, :k] @ u) - gamma * yg[o]
        p = _upper_solve(R, w, transpose=True)
        coef_s = np.empty(k)
        coef_y = np.empty(k)
        coef_s[o] = p
        coef_y[o] = -gamma * u
        d = self.S[:k].T @ coef_s
        d += self.Y[:k].T @ coef_y
        d += gamma * g
        d *= -1.0
        return d


_TRTRS = linalg.get_lapack_funcs("trtrs", dtype=np.float64)


def _upper_solve(R, b, transpose=False):
    """R^-1 b (or R^-T b) for the upper triangle of R (k, k), float64, by LAPACK's trtrs
    directly (scipy.linalg.solve_triangular's checks cost several times the k = 20 solve)."""
    x, info = _TRTRS(R, b, lower=0, trans=int(transpose))
    if info != 0:
        raise np.linalg.LinAlgError("L-BFGS: singular curvature matrix")
    return x


def _first_step(g):
    """Length of a steepest-descent step taken without curvature pairs: min(1, 1 / ||g||_2)."""
    return min(1.0, 1.0 / max(float(np.linalg.norm(g)), 1e-300))


@declare("lbfgs", needs={"value_grad", "line"})
@single_threaded_blas
def lbfgs(objective, theta0, *, tol=1e-4, max_iter=100, callback=None, verbose=0,
          random_state=None, m=20, max_ls=40):
    """Minimise the smooth objective with L-BFGS (``m`` correction pairs).

    The first step (and the first after a memory reset) is steepest descent of length
    ``min(1, 1 / ||g||_2)``; afterwards the step t = 1 is tried first.  If the line search
    fails on an L-BFGS direction the memory is cleared and steepest descent retried once.
    """
    name = "lbfgs"
    theta, hist, f, g, gnorm, thr, stopped = _begin(name, objective, theta0, tol, callback, verbose)
    if stopped:
        return stopped
    memory = _Memory(int(m), theta.size)
    it, message = 0, "max_iter reached"
    while gnorm > thr and it < max_iter:
        it += 1
        d = memory.direction(g)
        t0 = 1.0 if memory.order else _first_step(g)
        t, theta_new, f_new, g_new = armijo(objective, theta, f, g, d, t0=t0,
                                            max_backtracks=max_ls)
        if t == 0.0 and memory.order:
            memory.clear()
            d = -g
            t, theta_new, f_new, g_new = armijo(objective, theta, f, g, d, t0=_first_step(g),
                                                max_backtracks=max_ls)
        if t == 0.0:
            message = "line search failed (no decrease beyond round-off)"
            break
        memory.push(theta_new - theta, g_new - g, g_new)
        theta, f, g = theta_new, f_new, g_new
        gnorm = float(np.abs(g).max())
        if hist.record(theta, f, gnorm):
            return _finish(name, objective, theta, it, hist, gnorm, thr, by_callback=True)
    return _finish(name, objective, theta, it, hist, gnorm, thr, message)
