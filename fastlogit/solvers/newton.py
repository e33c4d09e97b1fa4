"""Newton solvers for the smooth (L2 / no penalty) objective.

``newton_cholesky``
    Full Newton (IRLS): the dense Hessian from the gram kernel, a Cholesky solve and an Armijo
    line search.  For n_params up to a few thousand, dense or sparse X.  A singular Hessian
    (penalty=None on separable or rank-deficient data, the multinomial intercept direction)
    gets a growing ridge; if even that fails the step is the steepest-descent direction.
``newton_cg``
    Truncated (inexact) Newton: preconditioned conjugate gradients on ``hessp`` with the
    forcing term eta_k = min(0.5, sqrt(||g_k|| / ||g_0||)) (superlinear, quadratic in the limit
    as CG tolerance shrinks with the gradient), negative curvature guarded, Armijo line search
    or (``line_search="minimize"``) a step near the line's minimum when the full step fails.
``trust_region``
    Trust-region Newton-CG in the manner of LIBLINEAR's TRON (Lin, Weng & Keerthi 2008):
    Steihaug-Toint CG inside a ball, ratio test of actual against predicted reduction, radius
    update by safeguarded interpolation.  No line search: each outer iteration costs one fused
    value+gradient pass plus the CG Hessian-vector passes; rejected trial points keep the
    cached curvature of the current point (the objective caches two points).

All follow the stopping rule of :mod:`fastlogit.solvers._result`::

    ||grad F(theta)||_inf <= tol * max(1, ||grad F(0)||_inf)

(the reference at theta = 0, not at the start, so that warm starts save iterations)

and warn with :class:`~fastlogit.solvers._result.ConvergenceWarning` when they stop short.
"""
import math

import numpy as np
from scipy import linalg

from . import _tr_cg
from ._line_search import armijo, minimizing_step
from ..contract import declare
from ._result import begin_smooth_fit, finish_fit, single_threaded_blas, threshold_after

__all__ = ["newton_cholesky", "newton_cg", "trust_region", "cholesky_factor", "pcg"]


#: M = I for _tr_cg's compiled loops (an empty diagonal)
_NO_DIAG = np.empty(0)


def _norm(v):
    """||v||_2 as NumPy's norm computes it (sqrt of v.dot(v)), without its dispatch."""
    return math.sqrt(float(v.dot(v)))


class _Cholesky:
    """Upper Cholesky factor of a symmetric positive definite matrix, solved with LAPACK's
    potrs directly (scipy.linalg.cho_solve's argument checks cost more than a p = 100
    solve)."""

    __slots__ = ("factor", "_potrs")

    def __init__(self, factor, potrs):
        self.factor, self._potrs = factor, potrs

    def solve(self, r):
        """H^{-1} r for r of shape (p,), float64."""
        x, info = self._potrs(self.factor, r, lower=False)
        return x


def cholesky_factor(H):
    """:class:`_Cholesky` of H (p, p), float64, with a growing ridge if (numerically)
    singular; None when even the largest ridge fails."""
    potrf, potrs = linalg.get_lapack_funcs(("potrf", "potrs"), (H,))
    scale = max(float(np.abs(np.diag(H)).max()), 1e-300)
    for ridge in (0.0, 1e-12, 1e-10, 1e-8, 1e-6, 1e-4):
        Hr = H if ridge == 0.0 else H + (ridge * scale) * np.eye(H.shape[0])
        factor, info = potrf(Hr, lower=False, clean=False, overwrite_a=ridge != 0.0)
        if info == 0 and np.all(np.isfinite(factor.diagonal())):
            return _Cholesky(factor, potrs)
    return None


def _solve_with(factor, g):
    """-H^{-1} g from a :class:`_Cholesky`; None if the solve is not finite."""
    d = -factor.solve(g)
    return d if np.all(np.isfinite(d)) else None


@declare("newton-cholesky", needs={"value_grad", "hessian", "hessp", "line"},
         convex_only=True)
@single_threaded_blas
def newton_cholesky(objective, theta0, *, tol=1e-4, max_iter=100, callback=None, verbose=0,
                    random_state=None, max_params=5000, reuse_cg=2, min_iter=0):
    """Newton's method with the dense Hessian (gram kernel) and a Cholesky solve.

    Per iteration: one fused value/gradient/IRLS-weight pass (shared with the line search's
    first trial) and the Newton system H d = -g.  A fresh Hessian costs the gram pass(es) and
    an O(p^3) factorisation; near the optimum H changes little, so the last factor is kept as
    the preconditioner of CG on the exact ``hessp`` (each CG step one Hessian-vector pass,
    several times cheaper than a gram).  The system is solved to the relative residual
    eta_k = min(0.5, ||g_k|| / max(1, ||g_0||)), which keeps Newton's quadratic convergence;
    when CG needs more than ``reuse_cg`` steps for that, its direction is still used but the
    next iteration refactors.  ``reuse_cg=0`` refactors every iteration (plain IRLS).  With
    the default 2, the kernel cost to 1e-6 suboptimality (in hessp units, a gram ~ 4) fell
    from 58 to 41 on mushrooms and w8a, 39 to 29 on a9a, 39 to 26 on ijcnn1 (3 and 4 steps
    cost more).
    ``max_params`` guards the O(p^2) memory.
    """
    name = "newton-cholesky"
    if objective.n_params > max_params:
        raise ValueError(f"{name}: {objective.n_params} parameters exceed max_params="
                         f"{max_params} (dense Hessian); use 'newton-cg' or 'trust-region'")
    theta, hist, f, g, gnorm, thr, stopped = begin_smooth_fit(name, objective, theta0, tol,
                                                              callback, verbose)
    if stopped:
        return stopped
    g0 = max(1.0, _norm(g))
    it, message = 0, "max_iter reached"
    factor, diag_max, refactor = None, 1.0, True
    while gnorm > threshold_after(thr, tol, it, min_iter) and it < max_iter:
        it += 1
        d = None
        if not refactor:
            th = theta
            eta = min(0.5, _norm(g) / g0)
            d, n_cg, solved = pcg(lambda v: objective.hessp(th, v), g, eta, reuse_cg,
                                   factor.solve)
            refactor = not solved
            if not float(g @ d) < 0:
                d = None
        if d is None:
            H = objective.hessian(theta)
            diag_max = max(1.0, float(np.abs(np.diag(H)).max()))
            factor = cholesky_factor(H)
            d = None if factor is None else _solve_with(factor, g)
            refactor = factor is None or reuse_cg <= 0
        if d is None or not float(g @ d) < 0:
            d = -g
        t, theta_new, f_new, g_new = armijo(objective, theta, f, g, d)
        if t == 0.0 and d is not g:
            t, theta_new, f_new, g_new = armijo(objective, theta, f, g, -g, t0=1.0 / diag_max)
        if t == 0.0:
            message = "line search failed"
            break
        theta, f, g = theta_new, f_new, g_new
        gnorm = float(np.abs(g).max())
        if hist.record(theta, f, gnorm):
            return finish_fit(name, objective, theta, it, hist, gnorm, thr, by_callback=True)
    return finish_fit(name, objective, theta, it, hist, gnorm, thr, message)


def _preconditioner(objective, theta, kind):
    """1 / the (Jacobi or mixed) diagonal, or None.

    Multinomial: the diagonal is averaged over classes per feature (and per intercept), so
    the preconditioner treats every class alike.  The softmax loss is invariant to adding one
    vector to every class, so H maps the subspace of theta whose class sums are zero into
    itself; a class-symmetric preconditioner does too, and CG from a zero-sum point (theta0 =
    0) stays in it, where the L2 optimum lies.  A class-dependent diagonal stepped out of it
    at every iteration, and only the weak penalty pulled the class sums back: at large C the
    fit stopped with class sums near the coefficients' own scale.
    """
    if kind is None or kind is False:
        return None
    if kind not in ("diag", "mixed"):
        raise ValueError(f"preconditioner must be None, 'diag' or 'mixed', got {kind!r}")
    diag = objective.hess_diag(theta)
    k = objective.n_classes
    if k > 1:
        rows = diag.reshape(k, -1)
        rows[...] = rows.mean(axis=0)
    if kind == "mixed":  # LIBLINEAR's (1 - a) I + a diag(H), a = 0.01 (in place)
        diag *= 0.01
        diag += 0.99
    np.copyto(diag, 1.0, where=~(diag > 1e-12 * max(1.0, float(diag.max()))))
    return np.divide(1.0, diag, out=diag)


def _quadratic_stop(gs, sr, k, q_prev, eps_q):
    """Nash & Sofer's rule: stop when the model Q(s) = g.s + s.Hs/2 = (g.s - s.r)/2 improved
    by less than ``eps_q * |Q| / k`` in the last step (``gs`` = g.s, ``sr`` = s.r, r = -g - Hs
    the CG residual).  Returns (stop, Q)."""
    q = 0.5 * (gs - sr)
    return (eps_q > 0 and k > 0 and (q_prev - q) * (k + 1) <= eps_q * abs(q)), q


class CGWork:
    """The p-vectors of a CG loop, allocated once per solve and reused every iteration, so
    that an iteration allocates only the Hessian products the objective returns: s, r, d
    (step, residual, search direction) and ``z``, which holds the diagonally preconditioned
    residual from its computation until it is folded into d, and otherwise serves as
    scratch (``tmp``: products such as alpha * d before they are added, M-weighted dots).
    Results are bit-for-bit those of the allocating form: every operation is the same, only
    its output array differs."""

    __slots__ = ("s", "r", "z", "d")

    def __init__(self, n):
        self.s, self.r, self.z, self.d = (np.empty(n) for _ in range(4))

    @property
    def tmp(self):
        return self.z


def _axpy(y, a, x, tmp, sign=1):
    """y += a * x (sign 1) or y -= a * x (sign -1), with a * x formed in ``tmp``."""
    np.multiply(x, a, out=tmp)
    if sign > 0:
        y += tmp
    else:
        y -= tmp


def pcg(hessp, g, rtol, max_cg, precond=None, eps_q=0.0, minv=None, work=None):
    """Preconditioned conjugate gradients from 0 on ``H s = -g``, H symmetric positive
    (semi-)definite, given only by its products (newton-cg's and the squared-hinge truncated
    Newton method's inner solver).

    Stops at step k (0-based) on the first of: the residual test ``||r|| <= rtol ||g||``
    (``r = -g - H s``); Nash and Sofer's quadratic-decrease rule when ``eps_q > 0``, on the
    model ``Q(s) = g.s + s.Hs/2``: ``(k + 1) (Q_{k-1} - Q_k) <= eps_q |Q_k|`` from the second
    step on; non-positive curvature ``p.Hp <= 1e-16 p.p``; ``max_cg`` products.  Besides the
    Hessian product, a step is two or three compiled loops over the parameters
    (:mod:`fastlogit.solvers._tr_cg`; their sums are reassociated, so they agree with NumPy's
    dots to rounding); no BLAS call.

    Parameters
    ----------
    hessp : callable
        ``hessp(v)`` -> H v, ndarray of shape (m,) (it may return the same buffer every
        call: each product is used before the next is asked for).
    g : ndarray of shape (m,)
        The right-hand side's negative (a gradient), float64.
    rtol : float
        Relative residual tolerance, >= 0 (0: only the other stops).
    max_cg : int
        Most products, >= 1.
    precond : callable, optional
        ``precond(r)`` -> M^-1 r (a new array); takes precedence over ``minv``.
    eps_q : float, default=0.0
        Tolerance of the quadratic-decrease rule (0: the rule is off).
    minv : ndarray of shape (m,), optional
        M^-1 as a positive diagonal; neither ``precond`` nor ``minv``: M = I.
    work : CGWork, optional
        The vectors s, r, z, d (allocated here when None).

    Returns
    -------
    s : ndarray of shape (m,)
        The step; on non-positive curvature at the first product the first direction
        ``M^-1 (-g)``.  ``work.s`` or ``work.d``: valid until the next call with ``work``.
    n_cg : int
        The products of H used.
    solved : bool
        True when the residual or quadratic-decrease test was met.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.solvers.newton import pcg
    >>> H = np.array([[4.0, 1.0], [1.0, 3.0]])  # s solves H s = -g
    >>> s, k, solved = pcg(lambda v: H @ v, np.array([1.0, 2.0]), 1e-12, 10)
    >>> bool(np.allclose(H @ s, [-1.0, -2.0])), k <= 3, solved
    (True, True, True)
    """
    work = CGWork(g.size) if work is None else work
    s, r, z, p = work.s, work.r, work.z, work.d
    s.fill(0.0)
    np.negative(g, out=r)
    diag = _NO_DIAG if minv is None else minv
    if precond is not None:
        z = precond(r)
    elif minv is not None:
        np.multiply(minv, r, out=z)
    else:
        z[...] = r
    p[...] = z
    rz = float(r @ z)
    stop = rtol * float(np.sqrt(g @ g))
    q = 0.0
    Hp = None
    for k in range(max_cg):
        Hp = None  # the previous product is released before the next is allocated
        Hp = hessp(p)
        curv, _, _, pp = _tr_cg.curvature(p, Hp, s, _NO_DIAG)
        if curv <= 1e-16 * pp:
            if k == 0:
                s = p
            return s, k + 1, False
        alpha = rz / curv
        # s += alpha p, r -= alpha Hp, z = M^-1 r (z = r for a callable M^-1, applied below)
        rr, rz_new, gs, sr = _tr_cg.advance(s, r, work.z, p, Hp, g, diag, alpha)
        if math.sqrt(rr) <= stop:
            return s, k + 1, True
        if eps_q:
            done, q = _quadratic_stop(gs, sr, k, q, eps_q)
            if done:
                return s, k + 1, True
        if precond is not None:
            z = precond(r)
            rz_new = float(r @ z)
        else:
            z = work.z
        _tr_cg.new_direction(p, z, rz_new / rz)
        rz = rz_new
    return s, max_cg, False


@declare("newton-cg", needs={"value_grad", "hessp", "hess_diag", "line"}, convex_only=True)
@single_threaded_blas
def newton_cg(objective, theta0, *, tol=1e-4, max_iter=100, callback=None, verbose=0,
              random_state=None, preconditioner="diag", max_cg=None, eta_max=0.5, eps_q=0.0,
              line_search="armijo", residual_floor=0.0, curvature_tol=0.0, min_iter=0):
    """Truncated Newton-CG with a line search (binary and multinomial).

    The CG residual tolerance is eta_k = min(eta_max, sqrt(||g_k|| / max(1, ||g_0||))) relative
    to ||g_k||; ``preconditioner`` is None, "diag" (Jacobi) or "mixed" (0.99 + 0.01 diag H).
    ``line_search`` is "armijo" (backtracking, :func:`~fastlogit.solvers._line_search.armijo`)
    or "minimize": the full step when it decreases f enough, else a step near the line's
    minimum (:func:`~fastlogit.solvers._line_search.minimizing_step`; its trials cost
    O(n + p) each, no pass over X).
    ``residual_floor`` > 0 keeps CG from solving a step more accurately than the stopping
    rule needs: the residual tolerance is at least ``residual_floor * thr / ||g_k||_2`` (thr
    the rule's threshold on ``||grad F||_inf``; the quadratic model's gradient after the step
    is the CG residual, so near the optimum the last step's CG stops once that gradient is
    about the threshold's size); 0 leaves eta_k as above.
    Without a preconditioner, with "minimize" and ``residual_floor=2`` it is what the
    regularisation paths of wide binary L2 problems run (:mod:`fastlogit.model_selection`),
    chosen by Hessian products and time on the warm paths of news20's folds, wide word
    counts where Jacobi scaling slows CG down (benchmarks/results/news20_cv.md).
    ``curvature_tol`` > 0 (binary L2 objectives over in-memory data) runs each Newton
    step's CG on the Hessian without the rows of least curvature
    (:meth:`~fastlogit.objective.Objective.row_subset_hessp`; a row-subset copy of X made
    once per step, each product a pass over the kept rows): those whose rank-one terms
    ``C D_i x~_i x~_i^T`` sum to at most ``curvature_tol`` times the L2 strength a in trace,
    and (with an intercept) whose weights sum to at most ``curvature_tol / 10`` times the
    kept rows'.  The skipped part is positive semi-definite, of 2-norm at most
    ``curvature_tol * a`` while the coefficients' block is at least a I, and the intercept's
    curvature loses at most that share of the weights: CG solves with a matrix close to the
    Hessian, the step is a descent direction close to Newton's, and the gradient, the line
    search and the stopping rule stay exact.  At large C most rows of a nearly separable
    problem have negligible curvature.  A step's copy serves the next step again, with the
    rows it lacks appended, while it holds little more than the rows to keep.  A step that
    would keep nearly every row (more than 90 % of X's values) uses the full Hessian, and
    after successive such steps the subset is not asked for in the next 1, 2, 4, ... steps
    (the kept share changes little from step to step of a fit, and the choice itself costs
    a pass over the rows).  0 (or another penalty, or a data term without row subsets) uses
    the full Hessian throughout.
    """
    name = "newton-cg"
    if line_search not in ("armijo", "minimize"):
        raise ValueError(f"line_search must be 'armijo' or 'minimize', got {line_search!r}")
    if not (residual_floor >= 0 and math.isfinite(residual_floor)):
        raise ValueError(f"residual_floor must be a finite number >= 0, got {residual_floor!r}")
    if not (curvature_tol >= 0 and math.isfinite(curvature_tol)):
        raise ValueError(f"curvature_tol must be a finite number >= 0, got {curvature_tol!r}")
    strength = getattr(objective, "l2_strength", None) if curvature_tol else None
    subset = getattr(objective, "row_subset_hessp", None) if strength else None
    # the intercept's curvature loses exactly the skipped weights, while the trace bound on
    # the coefficients' block is loose: the weights' share is held ten times tighter
    weight_rtol = 0.1 * curvature_tol if getattr(objective, "fit_intercept", True) else None
    search = armijo if line_search == "armijo" else minimizing_step
    theta, hist, f, g, gnorm, thr, stopped = begin_smooth_fit(name, objective, theta0, tol,
                                                              callback, verbose)
    if stopped:
        return stopped
    g0 = max(1.0, _norm(g))
    max_cg = max_cg or min(objective.n_params, 500)
    it, message = 0, "max_iter reached"
    work = CGWork(theta.size)
    rows, next_ask, wait = None, 0, 1  # the current step's row subset (curvature_tol)
    while gnorm > threshold_after(thr, tol, it, min_iter) and it < max_iter:
        it += 1
        g2 = _norm(g)
        eta = float(np.sqrt(g2 / g0))
        if residual_floor:
            eta = max(eta, residual_floor * threshold_after(thr, tol, it - 1, min_iter) / g2)
        eta = min(eta_max, eta)
        minv = None  # the previous diagonal is released before the next is computed
        minv = _preconditioner(objective, theta, preconditioner)
        th = theta
        if subset is not None and it >= next_ask:  # the last step's copy may serve again
            rows = subset(theta, curvature_tol * strength, weight_rtol, reuse=rows)
            # declined (too much kept): not asked for the next 1, 2, 4, ... steps
            next_ask, wait = (it + 1, 1) if rows is not None else (it + 1 + wait, 2 * wait)
        hessp = (lambda v: objective.hessp(th, v)) if rows is None else rows[0]
        d, _, _ = pcg(hessp, g, eta, max_cg, None, min(eps_q, np.sqrt(eta)), minv, work)
        if not float(g @ d) < 0:
            d = -g if minv is None else -minv * g
        t, theta_new, f_new, g_new = search(objective, theta, f, g, d)
        if t == 0.0:
            message = "line search failed"
            break
        theta, f, g = theta_new, f_new, g_new
        theta_new = g_new = d = hessp = None
        gnorm = float(np.abs(g).max())
        if hist.record(theta, f, gnorm):
            return finish_fit(name, objective, theta, it, hist, gnorm, thr, by_callback=True)
    return finish_fit(name, objective, theta, it, hist, gnorm, thr, message)


def _steihaug(hessp, g, delta, rtol, max_cg, minv, eps_q=0.0, work=None, mdiag=None):
    """Preconditioned Steihaug-Toint CG for min g.s + 1/2 s.Hs subject to ||s||_M <= delta.

    M = diag(1 / minv) (identity when minv is None); ``mdiag`` is 1 / minv when the caller
    keeps it.  Returns ``(s, r, n_cg, on_boundary)`` with r = -g - H s (the residual, from
    which the predicted reduction follows without an extra Hessian product); s and r are
    ``work.s`` / ``work.r`` (:class:`CGWork`, allocated here when None), valid until the next
    call with the same ``work``.  Besides the Hessian product, a step is three compiled loops
    over the parameters (:mod:`fastlogit.solvers._tr_cg`).
    """
    work = CGWork(g.size) if work is None else work
    s, r, z, d = work.s, work.r, work.z, work.d
    s.fill(0.0)
    np.negative(g, out=r)
    if minv is None:
        minv = mdiag = _NO_DIAG
        z[...] = r
    else:
        if mdiag is None:
            mdiag = 1.0 / minv
        np.multiply(minv, r, out=z)
    d[...] = z
    rz = float(r @ z)
    rr = float(r @ r)
    stop = rtol * math.sqrt(rr)
    q = 0.0
    Hd = None
    for k in range(max_cg):
        if math.sqrt(rr) <= stop:
            return s, r, k, False
        Hd = None  # the previous product is released before the next is allocated
        Hd = hessp(d)
        dHd, sMs, sMd, dMd = _tr_cg.curvature(d, Hd, s, mdiag)
        alpha = rz / dHd if dHd > 1e-16 * dMd else 0.0
        if dHd <= 1e-16 * dMd or sMs + 2 * alpha * sMd + alpha * alpha * dMd >= delta * delta:
            tau = _to_boundary(sMs, sMd, dMd, delta)
            _axpy(s, tau, d, z)
            _axpy(r, tau, Hd, z, -1)
            return s, r, k + 1, True
        rr, rz_new, gs, sr = _tr_cg.advance(s, r, z, d, Hd, g, minv, alpha)
        if eps_q:
            done, q = _quadratic_stop(gs, sr, k, q, eps_q)
            if done:
                return s, r, k + 1, False
        _tr_cg.new_direction(d, z, rz_new / rz)
        rz = rz_new
    return s, r, max_cg, False


def _to_boundary(sMs, sMd, dMd, delta):
    """tau >= 0 with ||s + tau d||_M = delta (stable root)."""
    rad = max(sMd * sMd + dMd * (delta * delta - sMs), 0.0)
    root = np.sqrt(rad)
    if sMd >= 0:
        return (delta * delta - sMs) / (sMd + root) if (sMd + root) > 0 else 0.0
    return (root - sMd) / dMd


@declare("trust-region", needs={"value_grad", "hessp", "hess_diag"}, convex_only=True)
@single_threaded_blas
def trust_region(objective, theta0, *, tol=1e-4, max_iter=100, callback=None, verbose=0,
                 random_state=None, preconditioner="mixed", max_cg=None, eta_max=0.3,
                 delta0=None, eps_q=0.5, min_iter=0):
    """Trust-region Newton-CG (TRON-style); binary and multinomial.

    Radius rules (eta0, eta1, eta2) = (1e-4, 0.25, 0.75) and (sigma1, sigma2, sigma3) =
    (0.25, 0.5, 4) as in the TRON paper; the first radius is ||g_0||_M^-1 shrunk to the first
    step's length.  CG stops at ||r|| <= min(eta_max, sqrt(||g|| / max(1, ||g_0||))) ||g||, or
    earlier by Nash & Sofer's quadratic-decrease rule with ``eps_q`` (0.5, as LIBLINEAR >= 2.40
    uses; ``eps_q=0`` disables it), with LIBLINEAR's mixed preconditioner 0.99 + 0.01 diag(H).
    The rule trades the quadratic local rate of pure residual-controlled CG (``eps_q=0``,
    which the tests check) for fewer Hessian products to a given suboptimality; with
    ``eta_max=0.3`` (rather than 0.1) it took fewer kernel passes on most shipped sparse
    sets (the counts are in benchmarks/results/NOTES.md).
    """
    name = "trust-region"
    eta0, eta1, eta2 = 1e-4, 0.25, 0.75
    sigma1, sigma2, sigma3 = 0.25, 0.5, 4.0
    theta, hist, f, g, gnorm, thr, stopped = begin_smooth_fit(name, objective, theta0, tol,
                                                              callback, verbose)
    if stopped:
        return stopped
    g0 = max(1.0, _norm(g))
    max_cg = max_cg or min(objective.n_params, 500)
    work = CGWork(theta.size)
    minv = _preconditioner(objective, theta, preconditioner)
    mdiag = None if minv is None else 1.0 / minv
    delta = delta0 or float(np.sqrt(g @ g if minv is None
                                    else np.multiply(minv, g, out=work.tmp) @ g))
    it, n_outer, message = 0, 0, "max_iter reached"
    first = True
    while gnorm > threshold_after(thr, tol, it, min_iter) and it < max_iter:
        n_outer += 1
        rtol = min(eta_max, float(np.sqrt(_norm(g) / g0)))
        th = theta
        s, r, _, _ = _steihaug(lambda v: objective.hessp(th, v), g, delta, rtol, max_cg, minv,
                               eps_q, work, mdiag)
        gs = float(g @ s)
        prered = -0.5 * (gs - float(s @ r))
        theta_new = theta + s
        f_new, g_new = objective.value_grad(theta_new)
        actred = f - f_new
        snorm = float(np.sqrt(s @ s if minv is None
                              else np.divide(s, minv, out=work.tmp) @ s))
        if first:
            delta = min(delta, snorm)
            first = False
        slope_term = f_new - f - gs
        alpha = sigma3 if slope_term <= 0 else max(sigma1, -0.5 * (gs / slope_term))
        if actred < eta0 * prered:
            delta = min(max(alpha, sigma1) * snorm, sigma2 * delta)
        elif actred < eta1 * prered:
            delta = max(sigma1 * delta, min(alpha * snorm, sigma2 * delta))
        elif actred < eta2 * prered:
            delta = max(sigma1 * delta, min(alpha * snorm, sigma3 * delta))
        else:
            delta = max(delta, min(alpha * snorm, sigma3 * delta))
        gnorm_new = float(np.abs(g_new).max())
        tiny = 1e-12 * max(1.0, abs(f))
        accept = actred > eta0 * prered or (abs(actred) <= tiny and prered <= tiny
                                            and gnorm_new < gnorm)
        if accept:
            it += 1
            theta, f, g, gnorm = theta_new, f_new, g_new, gnorm_new
            if hist.record(theta, f, gnorm):
                return finish_fit(name, objective, theta, it, hist, gnorm, thr, by_callback=True)
            if gnorm <= threshold_after(thr, tol, it, min_iter):
                break
            if preconditioner:
                minv = mdiag = None  # released before the next diagonal is computed
                minv = _preconditioner(objective, theta, preconditioner)
                mdiag = 1.0 / minv
        elif prered <= 0 or (abs(actred) <= tiny and prered <= tiny) or delta < 1e-300:
            message = "no further progress possible (trust region collapsed)"
            break
        theta_new = g_new = None  # a rejected trial point is not kept through the next CG
        if n_outer > 10 * max_iter:
            break
    return finish_fit(name, objective, theta, it, hist, gnorm, thr, message)
