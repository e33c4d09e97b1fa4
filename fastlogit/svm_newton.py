"""Finite Newton method for the squared-hinge SVM with few features (Keerthi & DeCoste, 2005).

::

    F(w, b) = sum_i c_i max(0, 1 - y~_i z_i)^2 + 1/2 ||w||^2,   z_i = x_i . w + b,  c_i = C s_i

F is a convex piecewise quadratic: on the set I = {i : y~_i z_i < 1} of samples inside the
margin it is the quadratic with gradient and (generalised) Hessian, x~_i = [x_i, 1]::

    g = [w; 0] - 2 sum_{i in I} c_i (1 - y~_i z_i) y~_i x~_i
    H = diag(1, ..., 1, 0) + 2 sum_{i in I} c_i x~_i x~_i^T

Each iteration builds g and H in one pass over the rows (only the rows in I enter H: rows
outside the margin cost their dot product only), solves ``H d = -g`` by Cholesky (d x d), and
minimises F *exactly* along d: ``F(theta + t d)`` is a one-dimensional convex piecewise
quadratic whose derivative is found from the margins' directions ``delta = X~ d`` (one pass)
by safeguarded Newton steps on breakpoints, no further pass over X.  Once I is the optimum's
set the Newton step is exact, so the method ends in finitely many iterations.

Stopping rule: the Newton decrement ``-g . d / 2`` (the decrease the quadratic model predicts,
exact once I is settled) at most ``tol * F``.
"""
import numpy as np
from numba import njit

from .solvers.newton import cholesky_factor

__all__ = ["finite_newton_squared_hinge"]

_JIT = dict(cache=True, nogil=True)


@njit(**_JIT)
def _grad_hess_csr(indptr, indices, data, yt, c, w, b, fit_b, z, H, g):
    """z = X w + b; g = -2 sum_I c_i r_i y~_i x~_i; H += 2 sum_I c_i x~_i x~_i^T (lower
    triangle); returns sum_I c_i r_i^2 (the loss)."""
    d = w.shape[0]
    loss = 0.0
    for i in range(z.shape[0]):
        acc = b
        for t in range(indptr[i], indptr[i + 1]):
            acc += data[t] * w[indices[t]]
        z[i] = acc
        r = 1.0 - yt[i] * acc
        if r > 0.0 and c[i] > 0.0:
            loss += c[i] * r * r
            coef = -2.0 * c[i] * r * yt[i]
            h = 2.0 * c[i]
            for t in range(indptr[i], indptr[i + 1]):
                j = indices[t]
                xj = data[t]
                g[j] += coef * xj
                for u in range(indptr[i], t + 1):
                    H[j, indices[u]] += h * xj * data[u]
            if fit_b:
                g[d] += coef
                H[d, d] += h
                for t in range(indptr[i], indptr[i + 1]):
                    H[d, indices[t]] += h * data[t]
    return loss


@njit(**_JIT)
def _directions_csr(indptr, indices, data, dw, db, out):
    for i in range(out.shape[0]):
        acc = db
        for t in range(indptr[i], indptr[i + 1]):
            acc += data[t] * dw[indices[t]]
        out[i] = acc


@njit(**_JIT)
def _line_derivative(r, ydelta, c, t, wd, dd):
    """(phi'(t), phi''(t)) of phi(t) = sum c max(0, r - t yd)^2 + 1/2 ||w + t dw||^2."""
    d1 = wd + t * dd
    d2 = dd
    for i in range(r.shape[0]):
        s = r[i] - t * ydelta[i]
        if s > 0.0:
            d1 -= 2.0 * c[i] * ydelta[i] * s
            d2 += 2.0 * c[i] * ydelta[i] * ydelta[i]
    return d1, d2


def _exact_step(r, ydelta, c, wd, dd):
    """The minimiser t >= 0 of the convex piecewise quadratic phi (safeguarded Newton)."""
    lo, hi = 0.0, np.inf
    t = 1.0
    for _ in range(100):
        d1, d2 = _line_derivative(r, ydelta, c, t, wd, dd)
        if d1 == 0.0:
            return t
        if d1 > 0:
            hi = t
        else:
            lo = t
        nt = t - d1 / d2 if d2 > 0 else np.inf
        if not (lo < nt < hi):
            nt = 0.5 * (lo + hi) if np.isfinite(hi) else 2.0 * max(t, 1.0)
        if abs(nt - t) <= 1e-15 * max(1.0, t):
            return nt
        t = nt
    return t


def finite_newton_squared_hinge(X, yt, c, *, fit_intercept, tol=1e-8, max_iter=100,
                                theta0=None):
    """Minimise the squared-hinge SVM of the module docstring; X dense (n, d) or scipy sparse.

    Every iteration forms the dense (d + 1) x (d + 1) generalised Hessian, so this is for
    few features.  The d x d factorisations run on one BLAS thread: at these sizes a second
    thread gains little, and on a busy machine a multithreaded LAPACK call can stall for a
    time slice.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        The design, used as float64 (C-contiguous dense, or canonical CSR).
    yt : ndarray of shape (n_samples,)
        Labels as -1.0 / +1.0.
    c : ndarray of shape (n_samples,)
        Per-sample weights ``c_i = C s_i >= 0`` of the squared hinge terms.
    fit_intercept : bool
        Whether theta ends with an unpenalised intercept; keyword-only, required.
    tol : float, default=1e-8
        Stop when the Newton decrement is at most ``tol * F``.
    max_iter : int, default=100
        Most Newton iterations; reaching it leaves ``info["converged"]`` False.
    theta0 : ndarray of shape (n_features + fit_intercept,), default=None
        Starting point (e.g. dual CD's); None starts from zeros.

    Returns
    -------
    theta : ndarray of shape (n_features + fit_intercept,)
        The coefficients, then the intercept when fitted; float64.
    info : dict
        ``"objective"`` (F at theta), ``"decrement"`` (the last Newton decrement relative
        to F), ``"n_iter"``, ``"converged"``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.svm_newton import finite_newton_squared_hinge
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 3))
    >>> yt = np.where(X[:, 0] + 0.3 * rng.normal(size=60) > 0, 1.0, -1.0)
    >>> theta, info = finite_newton_squared_hinge(X, yt, np.ones(60), fit_intercept=True)
    >>> info["converged"], theta.shape
    (True, (4,))
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _finite_newton(X, yt, c, fit_intercept, tol, max_iter, theta0)


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
    theta = np.zeros(p) if theta0 is None else np.array(theta0, dtype=np.float64)
    z = np.empty(n)
    delta = np.empty(n)
    info = {"converged": False}
    for it in range(1, max_iter + 1):
        w, b = theta[:d], (theta[d] if fit_intercept else 0.0)
        H = np.zeros((p, p))
        g = np.zeros(p)
        if sparse:
            loss = _grad_hess_csr(indptr, indices, data, yt, c, w, b, fit_intercept, z, H, g)
            H = np.tril(H) + np.tril(H, -1).T
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
        info = {"objective": F, "decrement": decrement / max(F, np.finfo(float).tiny),
                "n_iter": it - 1, "converged": decrement <= tol * F}
        if info["converged"]:
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
