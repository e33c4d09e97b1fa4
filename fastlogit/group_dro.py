"""Group distributionally robust logistic regression: the worst group's loss, minimised exactly.

::

    P(theta) = C S max_g L_g(theta) + R(w)  =  max_{q in simplex} C S sum_g q_g L_g + R
    L_g(theta) = sum_{i in g} s_i l(y_i, z_i) / S_g,   S_g = sum_{i in g} s_i,   S = sum_g S_g

(the library's scale: with one group, or when every group's mean loss is the same, P is the
plain objective ``C sum_i s_i l_i + R``, so C means what it means for LogisticRegression).
P is convex; by Sion's minimax theorem it equals ``max_q phi(q)`` with the concave dual

::

    phi(q) = min_theta  C S sum_g q_g L_g(theta) + R(w)

whose inner problem is an ordinary weighted logistic regression (sample weights
``S s_i q_g / S_g``): any solver, penalty, layout (binary or softmax, dense or CSR) of the
library.  ``phi`` is maximised over the simplex by Newton steps in q: with
``theta*(q)`` the inner optimum, H its Hessian and J the (G, p) matrix of the ``grad L_g``,

::

    grad phi = C S [L_g(theta*)]_g,    Hess phi = -(C S)^2 J H^{-1} J^T   (negative semidefinite)

(envelope theorem and the implicit-function derivative of theta*).  Each step maximises that
quadratic model over the simplex (a G-dimensional QP) and backtracks on ``phi``; each
evaluation of ``phi`` is a warm-started inner fit.  Stopping rule: the duality gap

::

    P(theta*(q)) - phi(q) = C S (max_g L_g - sum_g q_g L_g) >= 0

relative to P, at most ``tol``.  Rows are grouped once (one permutation of X), so that the
group losses and gradients come from zero-copy row blocks: one pass over X for all groups.
"""
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import optimize
from scipy.sparse.linalg import LinearOperator, cg
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from . import kernels as _kernels
from ._docstring import fill_doc
from .base import store_params
from .estimator import LinearLogitOutputs
from .objective import LogLossData, Objective
from .solvers import ConvergenceWarning, solve
from .validation import (check_C, check_classes, check_max_iter, check_sample_weight,
                         check_targets, check_tol)

__all__ = ["GroupDROResult", "group_dro", "GroupDROLogisticRegression"]


@dataclass
class GroupDROResult:
    """Outcome of :func:`group_dro` (G groups, in the sorted order of their labels).

    Parameters
    ----------
    theta : ndarray of shape (n_params,)
        The parameters at the last inner optimum (layout of
        :class:`~fastlogit.layout.Layout`: coefficients, then the intercept), float64.
    q : ndarray of shape (G,)
        Group weights on the simplex (>= 0, summing to 1) at the dual optimum.
    groups : ndarray of shape (G,)
        The distinct group labels, sorted (``q``, ``group_losses`` follow this order).
    group_losses : ndarray of shape (G,)
        Weighted mean losses L_g at ``theta``.
    worst_group_loss : float
        ``max(group_losses)``.
    objective : float
        The primal value ``P(theta) = C S max_g L_g + R(w)``.
    dual : float
        The dual value ``phi(q) <= P*`` (a certified lower bound).
    gap : float
        Relative duality gap ``(objective - dual) / objective``.
    n_iter : int
        Inner weighted fits run, >= 1.
    converged : bool
        Whether ``gap <= tol``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.group_dro import group_dro
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((100, 2))
    >>> groups = np.where(np.arange(100) < 20, "rare", "common")
    >>> res = group_dro(X, (X[:, 0] > 0).astype(float), groups, C=0.1)
    >>> res.groups.tolist(), bool(res.q.sum().round(12) == 1), bool(res.dual <= res.objective)
    (['common', 'rare'], True, True)
    """

    theta: np.ndarray
    q: np.ndarray
    groups: np.ndarray
    group_losses: np.ndarray
    worst_group_loss: float
    objective: float
    dual: float
    gap: float
    n_iter: int
    converged: bool


def _simplex_qp(g, K, q):
    """argmax_d g.d + 1/2 d^T K d with q + d in the simplex (K negative semidefinite)."""
    G = q.size
    cons = [{"type": "eq", "fun": lambda d: d.sum(), "jac": lambda d: np.ones(G)}]
    bounds = [(-qi, 1.0 - qi) for qi in q]
    res = optimize.minimize(lambda d: -(g @ d + 0.5 * d @ K @ d), np.zeros(G),
                            jac=lambda d: -(g + K @ d), bounds=bounds, constraints=cons,
                            method="SLSQP", options={"ftol": 1e-15, "maxiter": 200})
    return res.x


class _Problem:
    """The grouped data: one permuted design, per-group zero-copy row blocks."""

    def __init__(self, X, y, groups, sample_weight, C, penalty, l1_ratio, fit_intercept,
                 backend, n_threads):
        design = _kernels.as_design(X)
        n = design.shape[0]
        groups = np.asarray(groups)
        if groups.shape != (n,):
            raise ValueError(f"groups must have shape ({n},), got {groups.shape}")
        labels, gidx = np.unique(groups, return_inverse=True)
        if labels.size < 1:
            raise ValueError("groups is empty")
        y = check_targets(y, n)
        s = check_sample_weight(sample_weight, n)
        s = np.ones(n) if s is None else s
        order = np.argsort(gidx, kind="stable")
        bounds = np.searchsorted(gidx[order], np.arange(labels.size + 1))
        sizes = np.add.reduceat(s[order], bounds[:-1]) if n else np.zeros(labels.size)
        if np.any(sizes <= 0):
            raise ValueError("every group needs a positive total sample weight (the sample "
                             "weights of a group are all zero)")
        self.labels, self.bounds, self.sizes = labels, bounds, sizes
        self.design = _kernels.as_design(design.to_scipy()[order])
        self.y, self.s = y[order], s[order]
        self.kernels = _kernels.get(backend)
        # C S: the objective's scale (module docstring)
        self.C = check_C(C) * float(s.sum())
        self.penalty, self.l1_ratio = penalty, l1_ratio
        self.fit_intercept, self.n_threads = bool(fit_intercept), n_threads
        self.group_of_row = np.repeat(np.arange(labels.size), np.diff(bounds))

    def objective(self, q):
        """The inner weighted objective for group weights q."""
        w = self.s * (q / self.sizes)[self.group_of_row]
        data = LogLossData.trusted(self.design, self.y, w, self.fit_intercept, self.kernels,
                                   self.n_threads)
        return Objective(data, C=self.C, penalty=self.penalty, l1_ratio=self.l1_ratio)

    def group_terms(self, theta, with_grad):
        """(L (G,), J (G, p) or None): mean losses and their gradients, one pass over X."""
        losses, grads = [], []
        full = LogLossData.trusted(self.design, self.y, self.s, self.fit_intercept,
                                   self.kernels, self.n_threads)
        for g in range(self.labels.size):
            block = full.rows(self.bounds[g], self.bounds[g + 1])
            if with_grad:
                loss, grad = block.loss_grad(theta)
                grads.append(grad / self.sizes[g])
            else:
                loss = block.loss(theta)
            losses.append(loss / self.sizes[g])
        return np.array(losses), (np.array(grads) if with_grad else None)


@fill_doc
def group_dro(X, y, groups, sample_weight=None, *, C=1.0, penalty="l2", l1_ratio=None,
              fit_intercept=True, solver="auto", tol=1e-8, max_iter=50, inner_tol=None,
              backend="auto", n_threads=None):
    """Minimise ``C S max_g L_g(theta) + R(w)`` exactly (module docstring).

    Parameters
    ----------
    {X, y}
    groups : array-like of shape (n_samples,)
        Group label of each row (any values ``np.unique`` sorts); every group needs a
        positive total sample weight (else ValueError).
    {sample_weight}
    C : float, default=1.0
        Inverse regularisation strength, a positive finite number (the objective's scale
        of the module docstring: with one group, P is the plain objective).
    penalty : {"l2", None} or fastlogit.penalties.Penalty, default="l2"
        A smooth penalty: the dual Hessian uses the inner Hessian, so a penalty with an L1
        part raises ValueError.
    l1_ratio : float, default=None
        Elastic-net mixing, passed to :func:`fastlogit.penalties.make_penalty` (only a
        smooth result is accepted).
    {fit_intercept}
    solver : str, default="auto"
        The solver of the inner weighted fits (:func:`fastlogit.solvers.solve`).
    tol : float, default=1e-8
        Target relative duality gap ``(P - phi) / P``.
    max_iter : int, default=50
        Most outer (Newton in q) iterations.
    inner_tol : float, default=None
        Tolerance of the inner fits; None means ``min(1e-10, tol / 100)``.
    {backend, n_threads}

    Returns
    -------
    GroupDROResult
        ``converged`` False when ``max_iter`` or the line search ran out first (no warning
        here; :class:`GroupDROLogisticRegression` warns).

    Raises
    ------
    ValueError
        On invalid X, y, weights, C, groups of the wrong length, a group of zero weight, or
        a non-smooth penalty.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.group_dro import group_dro
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 2))
    >>> g = (np.arange(200) < 40).astype(int)  # group 1 is small and reversed
    >>> y = (X[:, 0] * np.where(g == 1, -1, 1) > 0).astype(float)
    >>> res = group_dro(X, y, g, C=0.1)
    >>> res.converged, bool(np.isclose(res.group_losses[0], res.group_losses[1], rtol=1e-4))
    (True, True)
    """
    pb = _Problem(X, y, groups, sample_weight, C, penalty, l1_ratio, fit_intercept, backend,
                  n_threads)
    G = pb.labels.size
    inner_tol = min(1e-10, tol / 100) if inner_tol is None else inner_tol
    cache = {}
    n_fits = [0]

    def inner(q, theta0):
        key = q.tobytes()
        if key not in cache:
            n_fits[0] += 1
            ob = pb.objective(q)
            if ob.l1_strength:
                raise ValueError("group_dro needs a smooth penalty ('l2', None or a smooth "
                                 "Penalty): the dual Hessian uses the inner Hessian")
            res = solve(ob, solver, theta0, tol=inner_tol, max_iter=500)
            theta = res.theta
            L, J = pb.group_terms(theta, with_grad=True)
            pen = ob.penalty.value(ob.layout.coef(theta))
            cache.clear()
            cache[key] = (ob, theta, L, J, pb.C * float(q @ L) + pen, pen)
        return cache[key]

    q = np.full(G, 1.0 / G)
    ob, theta, L, J, phi, pen = inner(q, None)
    converged, it = False, 0
    for it in range(1, max_iter + 1):
        primal = pb.C * float(L.max()) + pen
        gap = (primal - phi) / max(abs(primal), np.finfo(float).tiny)
        if gap <= tol:
            converged = True
            it -= 1
            break
        # Hess phi = -C^2 J H^{-1} J^T by G conjugate-gradient solves on Hessian products
        p = theta.size
        H = LinearOperator((p, p), matvec=lambda v: ob.hessp(theta, v), dtype=np.float64)
        HiJ = np.column_stack([cg(H, J[g], rtol=1e-12, atol=0.0, maxiter=10 * p)[0]
                               for g in range(G)])
        K = -(pb.C ** 2) * (J @ HiJ)
        K = 0.5 * (K + K.T)
        grad = pb.C * L
        d = _simplex_qp(grad, K, q)
        slope = float(grad @ d)
        if not slope > 0:
            break
        t, accepted = 1.0, False
        for _ in range(30):
            q_new = np.clip(q + t * d, 0.0, None)
            q_new /= q_new.sum()
            ob_n, theta_n, L_n, J_n, phi_n, pen_n = inner(q_new, theta)
            if phi_n >= phi + 1e-4 * t * slope or abs(phi_n - phi) <= 1e-15 * abs(phi):
                accepted = True
                break
            t *= 0.5
        if not accepted:
            break
        q, ob, theta, L, J, phi, pen = q_new, ob_n, theta_n, L_n, J_n, phi_n, pen_n
    primal = pb.C * float(L.max()) + pen
    gap = (primal - phi) / max(abs(primal), np.finfo(float).tiny)
    converged = converged or gap <= tol
    return GroupDROResult(theta, q, pb.labels, L, float(L.max()), primal, phi, gap, n_fits[0],
                          converged)


@fill_doc
class GroupDROLogisticRegression(LinearLogitOutputs, ClassifierMixin, BaseEstimator):
    """Logistic regression minimising the worst group's loss (:func:`group_dro`).

    ``fit(X, y, groups=..., sample_weight=None)``; ``groups`` is requested through
    scikit-learn's metadata routing (``set_fit_request(groups=True)``) inside meta-estimators.

    Parameters
    ----------
    C : float > 0, default=1.0
        As for :class:`fastlogit.LogisticRegression` (module docstring: the objective's scale).
    penalty : {"l2", None} or fastlogit.penalties.Penalty, default="l2"
        The penalty on the coefficients; it must be smooth (no L1 part, else ValueError in
        :meth:`fit`), since the dual Hessian uses the inner Hessian.
    fit_intercept : bool, default=True
        Whether to fit an unpenalised intercept (one per class).
    tol : float, default=1e-8
        Relative duality gap at which the fit stops.
    max_iter : int, default=50
        Newton steps on the group weights.
    solver : str, default="auto"
        The solver of the inner weighted fits.
    {backend, n_threads}

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Coefficients, dtype of X.
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts (zeros without ``fit_intercept``).
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    group_labels_ : ndarray of shape (G,)
        The distinct group labels, sorted.
    group_weights_ : ndarray of shape (G,)
        The optimal group weights q on the simplex.
    group_losses_ : ndarray of shape (G,)
        Weighted mean log-loss of each group at the fit.
    worst_group_loss_ : float
        ``max(group_losses_)``.
    duality_gap_ : float
        Relative duality gap reached.
    n_iter_ : int
        Inner weighted fits run.
    converged_ : bool
        Whether the gap reached ``tol`` (a ConvergenceWarning is raised otherwise).

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.group_dro import GroupDROLogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 3)); g = (np.arange(200) < 40).astype(int)
    >>> y = (X[:, 0] * np.where(g == 1, -1, 1) > 0).astype(int)
    >>> clf = GroupDROLogisticRegression(C=0.1).fit(X, y, groups=g)
    >>> bool(clf.worst_group_loss_ == clf.group_losses_.max())
    True
    """

    def __init__(self, *, C=1.0, penalty="l2", fit_intercept=True, tol=1e-8, max_iter=50,
                 solver="auto", backend="auto", n_threads=None):
        store_params(self, locals())

    @fill_doc
    def fit(self, X, y, groups=None, sample_weight=None):
        """Minimise the worst group's loss (:func:`group_dro`).

        Parameters
        ----------
        {X_train}
        y : array-like of shape (n_samples,)
            Class labels (two: binary, more: multinomial).
        groups : array-like of shape (n_samples,), default=None
            Group label of each row; None: one group, which is the plain fit.
        {sample_weight}

        Returns
        -------
        self
            The fitted estimator (the group weights in ``group_weights_``).

        Examples
        --------
        >>> import numpy as np
        >>> from fastlogit.group_dro import GroupDROLogisticRegression
        >>> rng = np.random.default_rng(1)
        >>> X = rng.standard_normal((120, 2))
        >>> groups = np.where(np.arange(120) < 30, "minority", "majority")
        >>> y = (X[:, 0] * np.where(groups == "minority", -1, 1) > 0).astype(int)
        >>> clf = GroupDROLogisticRegression(C=0.1).fit(X, y, groups=groups)
        >>> clf.group_labels_.tolist(), bool(np.isclose(clf.group_weights_.sum(), 1))
        (['majority', 'minority'], True)
        >>> bool(clf.worst_group_loss_ == clf.group_losses_.max()), clf.converged_
        (True, True)
        """
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=[np.float64, np.float32],
                             order="C", accept_large_sparse=True)
        check_classification_targets(y)
        classes, idx = np.unique(y, return_inverse=True)
        check_classes(classes)
        Y = idx.astype(np.float64) if classes.size == 2 else np.eye(classes.size)[idx]
        groups = np.zeros(X.shape[0], dtype=int) if groups is None else groups
        res = group_dro(X, Y, groups, sample_weight, C=self.C, penalty=self.penalty,
                        fit_intercept=self.fit_intercept, solver=self.solver,
                        tol=check_tol(self.tol), max_iter=check_max_iter(self.max_iter),
                        backend=self.backend, n_threads=self.n_threads)
        if not res.converged:
            warnings.warn(f"group_dro stopped at relative duality gap {res.gap:.3e} > "
                          f"tol={self.tol:g} after {res.n_iter} iterations",
                          ConvergenceWarning)
        k = 1 if classes.size == 2 else classes.size
        rows = res.theta.reshape(k, -1)
        d = X.shape[1]
        self.coef_ = np.ascontiguousarray(rows[:, :d], dtype=X.dtype)
        self.intercept_ = (rows[:, d] if self.fit_intercept else np.zeros(k)).astype(X.dtype)
        self.classes_ = classes
        self.group_labels_, self.group_weights_ = res.groups, res.q
        self.group_losses_, self.worst_group_loss_ = res.group_losses, res.worst_group_loss
        self.duality_gap_, self.n_iter_, self.converged_ = res.gap, res.n_iter, res.converged
        return self
