"""Finite Newton method for the squared-hinge SVM with few features (Keerthi & DeCoste, 2005).

::

    F(w, b) = sum_i c_i max(0, 1 - y~_i z_i)^2 + 1/2 ||w||^2,   z_i = x_i . w + b,  c_i = C s_i

F is a convex piecewise quadratic: on the set I = {i : y~_i z_i < 1} of samples inside the
margin it is the quadratic with gradient and (generalised) Hessian, x~_i = [x_i, 1]::

    g = [w; 0] - 2 sum_{i in I} c_i (1 - y~_i z_i) y~_i x~_i
    H = diag(1, ..., 1, 0) + 2 sum_{i in I} c_i x~_i x~_i^T

Each iteration builds g and H in one pass over the rows (only the rows in I enter H: rows
outside the margin cost their dot product only; for CSR, H is updated by the rows that
entered or left I since the last iteration when they are fewer than I), solves ``H d = -g``
by Cholesky (d x d), and minimises F *exactly* along d: ``F(theta + t d)`` is a
one-dimensional convex piecewise quadratic whose derivative is found from the margins'
directions ``delta = X~ d`` (one pass) by safeguarded Newton steps on breakpoints
(:func:`_exact_step`), no further pass over X.  Once I is the optimum's
set the Newton step is exact, so the method ends in finitely many iterations.

Stopping rule: the relative duality gap at most ``tol`` (a certificate: see
:func:`finite_newton_squared_hinge`), checked once the Newton decrement ``-g . d / 2`` (the
decrease the quadratic model predicts, exact once I is settled) is at most ``tol * F``.
"""
import numpy as np
from numba import njit

from ._design_rows import row_subset
from ._docstring import filler
from .solvers._result import single_threaded_blas
from .solvers.newton import cholesky_factor, pcg
from .svm_dcd import dcd_start

__all__ = ["finite_newton_squared_hinge", "truncated_newton_squared_hinge"]

_JIT = dict(cache=True, nogil=True)

#: The entries both solvers' docstrings share (:func:`fastlogit._docstring.filler`).
_fill_doc = filler({"yt_c_fit_intercept_tol": """\
yt : ndarray of shape (n_samples,)
    Labels as -1.0 / +1.0.
c : ndarray of shape (n_samples,)
    Per-sample weights ``c_i = C s_i >= 0`` of the squared hinge terms.
fit_intercept : bool
    Whether theta ends with an unpenalised intercept; keyword-only, required.
tol : float, default=1e-8
    Target relative duality gap, > 0."""})


@njit(**_JIT)
def _outer_csr(indptr, indices, data, i, h, fit_b, d, H):
    """H += h x~_i x~_i^T, lower triangle (x~_i = [x_i, 1] with an intercept)."""
    for t in range(indptr[i], indptr[i + 1]):
        j = indices[t]
        xj = h * data[t]
        for u in range(indptr[i], t + 1):
            H[j, indices[u]] += xj * data[u]
    if fit_b:
        H[d, d] += h
        for t in range(indptr[i], indptr[i + 1]):
            H[d, indices[t]] += h * data[t]


@njit(**_JIT)
def _grad_hess_csr(indptr, indices, data, yt, c, w, b, fit_b, z, on, H, g):
    """z = X w + b; g = -2 sum_I c_i r_i y~_i x~_i (g zero on entry); returns
    (sum_I c_i r_i^2, rows whose state changed), I the rows inside the margin.

    ``H`` (lower triangle) holds ``2 sum c_i x~_i x~_i^T`` over the rows flagged in ``on``
    (int8 (n,)) and is brought to the new I: by adding and subtracting the rows that
    entered or left it when they are fewer than I, else rebuilt from I.  ``on`` is updated.
    """
    d = w.shape[0]
    loss = 0.0
    n_on = 0
    n_changed = 0
    for i in range(z.shape[0]):
        acc = b
        for t in range(indptr[i], indptr[i + 1]):
            acc += data[t] * w[indices[t]]
        z[i] = acc
        r = 1.0 - yt[i] * acc
        now = r > 0.0 and c[i] > 0.0
        if now:
            n_on += 1
            loss += c[i] * r * r
            coef = -2.0 * c[i] * r * yt[i]
            for t in range(indptr[i], indptr[i + 1]):
                g[indices[t]] += coef * data[t]
            if fit_b:
                g[d] += coef
        if now != (on[i] == 1):
            n_changed += 1
            on[i] = 3 if now else 2  # 2 + new state: changed
    if n_changed <= n_on:
        for i in range(z.shape[0]):
            if on[i] >= 2:
                on[i] -= 2
                _outer_csr(indptr, indices, data, i, 2.0 * c[i] if on[i] == 1 else -2.0 * c[i],
                           fit_b, d, H)
    else:
        H[:, :] = 0.0
        for i in range(z.shape[0]):
            if on[i] >= 2:
                on[i] -= 2
            if on[i] == 1:
                _outer_csr(indptr, indices, data, i, 2.0 * c[i], fit_b, d, H)
    return loss, n_changed


@njit(**_JIT)
def _directions_csr(indptr, indices, data, dw, db, out):
    for i in range(out.shape[0]):
        acc = db
        for t in range(indptr[i], indptr[i + 1]):
            acc += data[t] * dw[indices[t]]
        out[i] = acc


@njit(**_JIT)
def _exact_step(r, ydelta, c, wd, dd):
    """The minimiser t >= 0 of the convex piecewise quadratic
    ``phi(t) = sum_i c_i max(0, r_i - t yd_i)^2 + 1/2 ||w + t dw||^2`` (``wd = w . dw``,
    ``dd = dw . dw``), float.

    phi' is continuous, non-decreasing and piecewise linear, with a breakpoint where a term
    switches on or off.  Terms whose state is the same for every t >= 0 (or, later, for every
    t in the current bracket (lo, hi) around the root) are folded into ``A + B t``; only the
    undecided ones are kept, in a list that every evaluation compacts.  Newton steps on the
    bracket (bisection or doubling when a step leaves it) therefore cost less each time, and
    once no term is undecided phi' is linear on the bracket and its root is exact.
    """
    n = r.shape[0]
    undecided = np.empty(n, dtype=np.int64)
    m = 0
    A = wd  # phi'(t) = A + B t + (undecided terms)
    B = dd
    for i in range(n):
        ci = c[i]
        if ci <= 0.0:
            continue
        ri = r[i]
        yi = ydelta[i]
        if yi == 0.0:
            continue  # constant term: no part in phi'
        if (yi > 0.0 and ri <= 0.0):
            continue  # off for every t >= 0
        if yi < 0.0 and ri > 0.0:  # on for every t >= 0
            A -= 2.0 * ci * yi * ri
            B += 2.0 * ci * yi * yi
            continue
        undecided[m] = i
        m += 1
    lo, hi = 0.0, np.inf
    t = 1.0
    for _ in range(200):
        d1 = A + B * t
        d2 = B
        for k in range(m):
            i = undecided[k]
            s = r[i] - t * ydelta[i]
            if s > 0.0:
                d1 -= 2.0 * c[i] * ydelta[i] * s
                d2 += 2.0 * c[i] * ydelta[i] * ydelta[i]
        if d1 == 0.0:
            return t
        if d1 > 0.0:
            hi = t
        else:
            lo = t
        # fold the terms whose breakpoint r_i / yd_i lies outside (lo, hi)
        kept = 0
        for k in range(m):
            i = undecided[k]
            bp = r[i] / ydelta[i]
            if lo < bp < hi:
                undecided[kept] = i
                kept += 1
                continue
            leaving = ydelta[i] > 0.0  # on below its breakpoint, off above
            on = (bp >= hi) if leaving else (bp <= lo)
            if on:
                A -= 2.0 * c[i] * ydelta[i] * r[i]
                B += 2.0 * c[i] * ydelta[i] * ydelta[i]
        m = kept
        if m == 0 and B > 0.0:
            root = -A / B
            return min(max(root, lo), hi)
        nt = t - d1 / d2 if d2 > 0.0 else np.inf
        if not (lo < nt < hi):
            nt = 0.5 * (lo + hi) if hi < np.inf else 2.0 * max(t, 1.0)
        if abs(nt - t) <= 1e-15 * max(1.0, t):
            return nt
        t = nt
    return t


@_fill_doc
def finite_newton_squared_hinge(X, yt, c, *, fit_intercept, tol=1e-8, max_iter=100,
                                theta0=None):
    """Minimise the squared-hinge SVM of the module docstring; X dense (n, d) or scipy sparse.

    Every iteration forms the dense (d + 1) x (d + 1) generalised Hessian, so this is for
    few features.  The d x d factorisations run on one BLAS thread: at these sizes a second
    thread gains little, and on a busy machine a multithreaded LAPACK call can stall for a
    time slice.

    Stopping rule: the relative duality gap ``(F - D) / F <= tol`` (``D <= F* <= F``, so it
    bounds the relative suboptimality), checked at an iterate once its Newton decrement is
    at most ``tol * F``.  The dual point is the one the gradient already holds,
    ``alpha_i = 2 c_i max(0, 1 - y~_i z_i)``, with ``w(alpha) = w - grad_w F``::

        D(alpha) = sum_i alpha_i - 1/2 ||w(alpha)||^2 - sum_i alpha_i^2 / (4 c_i)

    With an intercept the dual also needs ``sum_i alpha_i y~_i = 0``: the larger of the two
    classes' sums of alpha is scaled down to the smaller (one more pass, for ``w(alpha)``).

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        The design, used as float64 (C-contiguous dense, or canonical CSR).
    {yt_c_fit_intercept_tol}
    max_iter : int, default=100
        Most Newton iterations; reaching it leaves ``info["converged"]`` False.
    theta0 : ndarray of shape (n_features + fit_intercept,), default=None
        Starting point; None starts from one pass of dual coordinate descent from
        alpha = 0 (:func:`fastlogit.svm_dcd.dcd_start`; intercept 0), which on the shared
        sets saves the first Newton iterations' overshoot from zero.

    Returns
    -------
    theta : ndarray of shape (n_features + fit_intercept,)
        The coefficients, then the intercept when fitted; float64.
    info : dict
        ``"objective"`` (F at theta), ``"dual"`` (D, or -inf when not checked),
        ``"gap"`` (relative duality gap, inf when not checked), ``"decrement"`` (the
        last Newton decrement relative to F), ``"n_iter"``, ``"converged"`` (gap <= tol).

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.svm_newton import finite_newton_squared_hinge
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 3))
    >>> yt = np.where(X[:, 0] + 0.3 * rng.normal(size=60) > 0, 1.0, -1.0)
    >>> theta, info = finite_newton_squared_hinge(X, yt, np.ones(60), fit_intercept=True)
    >>> # weak duality (D <= P) up to rounding: at the optimum the gap is 0 to the last bits
    >>> info["converged"], bool(info["dual"] <= info["objective"] * (1 + 1e-12)), theta.shape
    (True, True, (4,))
    """
    return _finite_newton(X, yt, c, fit_intercept, tol, max_iter, theta0)


def _dual_value(rmatvec, yt, c, r, w, g, fit_intercept):
    """D(alpha) at alpha = 2 c max(0, r) (made feasible for the intercept's equality), with
    ``g`` the gradient at (w, b) (see :func:`finite_newton_squared_hinge`) and ``rmatvec(v)``
    computing ``X^T v`` (d,) (needed only when the intercept's rescaling moves alpha)."""
    d = w.shape[0]
    alpha = 2.0 * c * np.maximum(r, 0.0)
    wa = w - g[:d]
    if fit_intercept:
        pos = yt > 0
        sp_, sn_ = float(alpha[pos].sum()), float(alpha[~pos].sum())
        if sp_ != sn_:
            if sp_ > sn_:
                alpha[pos] *= sn_ / sp_
            else:
                alpha[~pos] *= sp_ / sn_
            wa = rmatvec(alpha * yt)
    on = c > 0
    quad = float(alpha[on] @ (alpha[on] / c[on])) / 4.0
    return float(alpha.sum()) - 0.5 * float(wa @ wa) - quad


@single_threaded_blas
def _finite_newton(X, yt, c, fit_intercept, tol, max_iter, theta0):
    import scipy.sparse as sp

    n, d = X.shape
    p = d + int(fit_intercept)
    sparse = sp.issparse(X)
    if sparse:
        X = sp.csr_matrix(X)
        if not X.has_canonical_format:  # the lower-triangle accumulation needs sorted,
            X = X.copy()                # duplicate-free rows
            X.sum_duplicates()
        indptr = np.asarray(X.indptr, dtype=np.int64)
        indices = np.asarray(X.indices, dtype=np.int32)
        data = np.asarray(X.data, dtype=np.float64)
    else:
        X = np.ascontiguousarray(X, dtype=np.float64)
    yt = np.ascontiguousarray(yt, dtype=np.float64)
    c = np.ascontiguousarray(c, dtype=np.float64)
    if theta0 is None:
        theta = np.zeros(p)
        theta[:d] = dcd_start(X, yt, c, squared=True)
    else:
        theta = np.array(theta0, dtype=np.float64)
    z = np.empty(n)
    delta = np.empty(n)
    if sparse:  # the Hessian's sum over the margin rows, kept between iterations
        on = np.zeros(n, dtype=np.int8)
        H_margin = np.zeros((p, p))
    info = {"converged": False}
    tiny = np.finfo(float).tiny
    for it in range(1, max_iter + 1):
        w, b = theta[:d], (theta[d] if fit_intercept else 0.0)
        H = np.zeros((p, p))
        g = np.zeros(p)
        if sparse:
            loss, _ = _grad_hess_csr(indptr, indices, data, yt, c, w, b, fit_intercept, z, on,
                                     H_margin, g)
            H = np.tril(H_margin) + np.tril(H_margin, -1).T
        else:
            np.dot(X, w, out=z)
            z += b
            r = 1.0 - yt * z
            act = (r > 0) & (c > 0)
            cr = c[act] * r[act]
            loss = float(cr @ r[act])
            Xa = X[act]
            coef = -2.0 * cr * yt[act]
            g[:d] = Xa.T @ coef
            Hw = (Xa * (2.0 * c[act])[:, None]).T @ Xa
            H[:d, :d] = Hw
            if fit_intercept:
                g[d] = coef.sum()
                col = 2.0 * (c[act] @ Xa)
                H[d, :d] = H[:d, d] = col
                H[d, d] = 2.0 * c[act].sum()
        g[:d] += w
        H[np.arange(d), np.arange(d)] += 1.0
        F = loss + 0.5 * float(w @ w)
        # (no sample inside the margin leaves b free: the factorisation adds a small ridge)
        factor = cholesky_factor(H)
        step = -factor.solve(g) if factor is not None else \
            -np.linalg.lstsq(H, g, rcond=None)[0]
        decrement = -0.5 * float(g @ step)
        info = {"objective": F, "dual": -np.inf, "gap": np.inf,
                "decrement": decrement / max(F, tiny), "n_iter": it - 1, "converged": False}
        if decrement <= tol * F:
            dual = _dual_value(lambda v: np.asarray(X.T @ v).ravel(), yt, c, 1.0 - yt * z,
                               w, g, fit_intercept)
            gap = (F - dual) / max(abs(F), tiny)
            info.update(dual=dual, gap=gap, converged=gap <= tol)
            if info["converged"] or decrement <= 1e-15 * F:  # (rounding: no more progress)
                return theta, info
        dw, db = step[:d], (step[d] if fit_intercept else 0.0)
        if sparse:
            _directions_csr(indptr, indices, data, dw, db, delta)
        else:
            np.dot(X, dw, out=delta)
            delta += db
        t = _exact_step(1.0 - yt * z, yt * delta, c, float(w @ dw), float(dw @ dw))
        theta = theta + t * step
    info["n_iter"] = max_iter
    return theta, info


#: The truncated Newton method's diagonal preconditioner is ``1 + PRECOND_MIX * diag(X_I^T
#: D X_I)`` on the coefficients (LIBLINEAR's ``-s 2`` mixes the same way): pure Jacobi
#: scaling over-weights the columns of a few long rows (raw counts) and took more CG
#: iterations (benchmarks/results/svm_race.md).
PRECOND_MIX = 0.01
#: Largest tolerance of the CG's quadratic-decrease stop (Nash and Sofer's rule,
#: :func:`fastlogit.solvers.newton.pcg` with ``rtol = 0``); the tolerance is
#: ``min(CG_EPS, sqrt(||g||_{M^-1}))``.  LIBLINEAR takes 0.5; a tighter cap gave fewer
#: Newton iterations for a similar total of CG products, and each iteration also costs a
#: pass over X and a gather of the margin rows (measured in benchmarks/results/svm_race.md).
CG_EPS = 0.1


@_fill_doc
def truncated_newton_squared_hinge(X, yt, c, *, fit_intercept, tol=1e-8, max_iter=1000,
                                   theta0=None, backend="auto", n_threads=None):
    """Minimise the squared-hinge SVM of the module docstring by truncated Newton: any d.

    The primal counterpart of :func:`finite_newton_squared_hinge` for many features (no
    d x d matrix): each iteration takes the gradient and the generalised Hessian over the
    rows inside the margin, ``I = {i : y~_i z_i < 1}``, gathered once per iteration
    (:func:`fastlogit.margin_losses.row_subset`); the Newton system ``H s = -g`` is solved
    approximately by preconditioned conjugate gradients on Hessian-vector products
    ``v + 2 X~_I^T (c_I * X~_I v)`` (the kernels' ``hessp`` over those rows only; diagonal
    preconditioner :data:`PRECOND_MIX`), stopped by Nash and Sofer's quadratic-decrease rule
    with tolerance ``min(CG_EPS, sqrt(||g||_{M^-1}))`` (LIBLINEAR's ``-s 2`` rule with a
    smaller cap, :data:`CG_EPS`: looser far from the optimum, tighter near it); then F is
    minimised *exactly* along s
    (:func:`_exact_step`, from the directions ``X~ s``: one pass over all rows).  The margins
    are carried along (``z += t X~ s``) and recomputed exactly before the gap is trusted.

    Stopping rule: the relative duality gap ``(F - D) / F <= tol``, the dual point
    ``alpha_i = 2 c_i max(0, 1 - y~_i z_i)`` as in :func:`finite_newton_squared_hinge`
    (checked at every iterate without an intercept, where it costs O(n + d); with one, once
    the model's predicted decrease is at most ``tol * F``, since its equality constraint may
    cost one pass).

    Parameters
    ----------
    X : {ndarray, sparse matrix, fastlogit.kernels.Design} of shape (n_samples, n_features)
        The design; used as float64 (a copy when it is not).
    {yt_c_fit_intercept_tol}
    max_iter : int, default=1000
        Most Newton iterations; reaching it leaves ``info["converged"]`` False.
    theta0 : ndarray of shape (n_features + fit_intercept,), default=None
        Starting point (e.g. dual coordinate descent's); None starts from one pass of dual
        CD from alpha = 0 (:func:`fastlogit.svm_dcd.dcd_start`).
    backend : str, default="auto"
        Kernel backend of the passes over X (:func:`fastlogit.kernels.get`).
    n_threads : int or None, default=None
        Threads of the kernels' passes (:func:`fastlogit._config.effective_n_threads`).

    Returns
    -------
    theta : ndarray of shape (n_features + fit_intercept,)
        The coefficients, then the intercept when fitted; float64.
    info : dict
        ``"objective"`` (F at theta), ``"dual"`` (D, -inf when not checked), ``"gap"``
        (relative duality gap, inf when not checked), ``"n_iter"``, ``"n_cg"`` (Hessian
        products), ``"converged"`` (gap <= tol).

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.sparse import random as sparse_random
    >>> from fastlogit.svm_newton import truncated_newton_squared_hinge
    >>> X = sparse_random(200, 500, density=0.02, random_state=0, format="csr")
    >>> yt = np.where(np.arange(200) % 2 == 0, 1.0, -1.0)  # 500 features: separable
    >>> theta, info = truncated_newton_squared_hinge(X, yt, np.ones(200), fit_intercept=True)
    >>> info["converged"], bool(info["gap"] <= 1e-8), theta.shape
    (True, True, (501,))
    """
    return _truncated_newton(X, yt, c, fit_intercept, tol, max_iter, theta0, backend,
                             n_threads)


def _rmatvec(ks, design, v, n_threads):
    """(X^T v (d,), sum v) over ``design``'s rows: the kernels' ``hessp`` with direction 0
    and intercept part 1."""
    out = np.empty(design.n_cols)
    total = ks.hessp(design, np.ascontiguousarray(v, dtype=np.float64), np.zeros(design.n_cols),
                     out, 1.0, n_threads=n_threads)
    return out, total


def _value_grad(ks, design, yt, c, r, w, fit_intercept, n_threads):
    """F and its gradient at the point with slacks ``r = 1 - y~ z`` and coefficients w.

    Returns ``(F, g, rows, block)``: ``F = sum_I c_i r_i^2 + ||w||^2 / 2``, ``g`` (p,) =
    ``[w; 0] - 2 X~_I^T (c_I r_I y~_I)``, ``rows`` the sorted indices of I (the rows inside
    the margin, ``c_i > 0``) and ``block`` those rows of ``design``
    (:func:`fastlogit.margin_losses.row_subset`), which the gradient and every Hessian
    product at this point read instead of all of X."""
    rows = np.flatnonzero((r > 0.0) & (c > 0.0))
    cr = c[rows] * r[rows]
    block = row_subset(design, rows)
    g_w, g_b = _rmatvec(ks, block, -2.0 * cr * yt[rows], n_threads)
    g_w += w
    g = np.append(g_w, g_b) if fit_intercept else g_w
    return float(cr @ r[rows]) + 0.5 * float(w @ w), g, rows, block


@single_threaded_blas
def _truncated_newton(X, yt, c, fit_intercept, tol, max_iter, theta0, backend, n_threads):
    from . import kernels

    design = kernels.as_design(X, dtype=np.float64)
    ks = kernels.get(backend)
    n, d = design.shape
    p = d + int(fit_intercept)
    yt = np.ascontiguousarray(yt, dtype=np.float64)
    c = np.ascontiguousarray(c, dtype=np.float64)
    if theta0 is None:
        theta = np.zeros(p)
        theta[:d] = dcd_start(design.to_scipy() if design.kind == "csr" else design.arrays[0],
                              yt, c, squared=True)
    else:
        theta = np.array(theta0, dtype=np.float64)
    z, delta = np.empty(n), np.empty(n)

    def margins(w, b, dst):
        return ks.decision(design, np.ascontiguousarray(w), b, dst, n_threads=n_threads)

    def rmatvec(v):
        return _rmatvec(ks, design, v, n_threads)[0]

    tiny = np.finfo(float).tiny
    margins(theta[:d], theta[d] if fit_intercept else 0.0, z)
    exact, n_cg, decrease = True, 0, np.inf
    info = {"objective": np.inf, "dual": -np.inf, "gap": np.inf, "n_iter": 0, "n_cg": 0,
            "converged": False}
    it = 0
    while True:
        w = theta[:d]
        r = 1.0 - yt * z
        F, g, rows, block = _value_grad(ks, design, yt, c, r, w, fit_intercept, n_threads)
        info.update(objective=F, n_iter=it, n_cg=n_cg)
        if not fit_intercept or decrease <= tol * F:
            dual = _dual_value(rmatvec, yt, c, r, w, g, fit_intercept)
            gap = (F - dual) / max(abs(F), tiny)
            info.update(dual=dual, gap=gap, converged=gap <= tol)
            if gap <= tol:
                if exact:
                    return theta, info
                margins(w, theta[d] if fit_intercept else 0.0, z)  # confirm on exact margins
                exact = True
                continue
        if it >= max_iter or decrease <= 1e-15 * F:  # (rounding: no more progress)
            return theta, info
        it += 1
        c2 = np.ascontiguousarray(2.0 * c[rows])
        minv = np.empty(p)
        minv[:d] = 1.0 / (1.0 + PRECOND_MIX * ks.hess_diag(block, c2, np.empty(d),
                                                           n_threads=n_threads))
        if fit_intercept:
            minv[d] = 1.0 / max(float(c2.sum()), tiny)
        v_w, hv_w = np.empty(d), np.empty(d)

        def hessp(v):
            v_w[:] = v[:d]
            hb = ks.hessp(block, c2, v_w, hv_w, float(v[d]) if fit_intercept else 0.0,
                          n_threads=n_threads)
            np.add(hv_w, v_w, out=hv_w)
            return np.append(hv_w, hb) if fit_intercept else hv_w

        eps_q = min(CG_EPS, float(np.sqrt(np.sqrt(g @ (minv * g)))))
        step, k, _ = pcg(hessp, g, 0.0, max(p, 5), eps_q=eps_q, minv=minv)
        n_cg += k
        decrease = -0.5 * float(g @ step)
        if not decrease > 0.0:  # no descent (singular, rounding): a preconditioned gradient step
            step = -minv * g
            decrease = -0.5 * float(g @ step)
        dw, db = step[:d], (float(step[d]) if fit_intercept else 0.0)
        margins(dw, db, delta)
        t = _exact_step(r, yt * delta, c, float(w @ dw), float(dw @ dw))
        theta = theta + t * step
        z += t * delta
        exact = False
