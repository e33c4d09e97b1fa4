"""Linear SVMs on the library's objective: hinge and squared hinge, for comparison with log-loss.

::

    F(w, b) = C * sum_i s_i l(y~_i z_i) + R(w),     z_i = x_i . w + b,   y~_i in {-1, +1}

with ``l`` the squared hinge ``max(0, 1 - m)^2`` (L2-SVM, LIBLINEAR ``-s 2``) or the hinge
``max(0, 1 - m)`` (L1-SVM, LIBLINEAR ``-s 3``) and the penalties of
:mod:`fastlogit.penalties` (intercept unpenalised, as everywhere in the library; LIBLINEAR
penalises its bias term, so compare with ``fit_intercept=False``).

* The squared hinge is C^1 with a generalised Hessian: every solver of the library applies
  (Newton-Cholesky, trust-region, L-BFGS; ``"l1"`` for an L1 part), through
  :class:`fastlogit.margin_losses.MarginData`.
* The hinge is not differentiable.  It is solved with the L2 penalty by *continuation*: the
  smoothed hinge (within ``mu/2`` of the hinge per sample) is minimised by Newton steps for
  ``mu = 1, 0.1, 0.01, ...``, each stage warm-started, until the duality gap certifies the
  requested accuracy.  The dual point comes from the smoothed optimum,
  ``alpha_i = C s_i clip((1 - m_i) / mu, 0, 1)`` in ``[0, C s_i]``, and::

      D(alpha) = sum_i alpha_i - 1/2 ||sum_i alpha_i y~_i x_i||^2  <=  F*  <=  F(w)

  so ``(F(w) - D(alpha)) / F(w) <= tol`` bounds the relative suboptimality (with an intercept
  the dual constraint ``sum_i alpha_i y~_i = 0`` holds to the solver's tolerance).

Only ``decision_function`` / ``predict``: margin losses are not likelihoods and give no
probabilities (see :mod:`fastlogit.margin_losses`); :mod:`fastlogit.calibration` maps scores
to probabilities when needed.
"""
import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from .margin_losses import MarginData, SmoothedHinge, SquaredHinge
from .objective import Objective
from .solvers import ConvergenceWarning, solve
from .validation import check_C, check_max_iter, check_sample_weight, check_tol

__all__ = ["LinearSVM", "fit_hinge"]


def _hinge_value(yt, z, s):
    return float(s @ np.maximum(0.0, 1.0 - yt * z))


def _duality_gap(data, theta, alpha, C):
    """(relative gap, primal F, dual D) of the L2 hinge problem at (theta, alpha)."""
    d = data.n_features
    z = data.margins(theta)
    s, yt = data._s, data._yt
    w_alpha = data._rmatvec(alpha * yt)[:d]
    primal = C * _hinge_value(yt, z, s) + 0.5 * float(theta[:d] @ theta[:d])
    dual = float(alpha.sum()) - 0.5 * float(w_alpha @ w_alpha)
    return (primal - dual) / max(abs(primal), np.finfo(float).tiny), primal, dual


def fit_hinge(data_kwargs, C, *, tol=1e-6, max_iter=100, solver="auto", theta0=None,
              mu0=1.0, mu_min=1e-12):
    """Minimise ``C sum s_i max(0, 1 - y~_i z_i) + 1/2 ||w||^2`` by smoothing continuation.

    Parameters
    ----------
    data_kwargs : dict
        Arguments of :class:`~fastlogit.margin_losses.MarginData` except ``loss``.
    C : float > 0
    tol : float
        Target relative duality gap ``(F - D) / F``.
    max_iter : int
        Iterations per smoothing stage.

    Returns
    -------
    theta : ndarray (n_params,)
    info : dict with ``"gap"`` (relative duality gap reached), ``"objective"`` (F),
        ``"dual"`` (D), ``"mu"`` (last smoothing), ``"n_iter"`` (Newton iterations in all),
        ``"converged"`` (gap <= tol).
    """
    mu = float(mu0)
    theta = theta0
    n_iter = 0
    info = {}
    while True:
        data = MarginData(loss=SmoothedHinge(mu), **data_kwargs)
        ob = Objective(data, C=C, penalty="l2")
        # each stage only needs to be accurate enough for its own smoothing level: the duality
        # gap, not the stage's gradient, certifies the result
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            res = solve(ob, solver, theta, tol=max(min(1e-4, tol), 1e-10), max_iter=max_iter)
        theta = res.theta
        n_iter += res.n_iter
        margin_gap = 1.0 - data._yt * data.margins(theta)
        alpha = C * data._s * np.clip(margin_gap / mu, 0.0, 1.0)
        gap, primal, dual = _duality_gap(data, theta, alpha, C)
        info = {"gap": gap, "objective": primal, "dual": dual, "mu": mu, "n_iter": n_iter,
                "converged": gap <= tol}
        if gap <= tol or mu <= mu_min:
            return theta, info
        mu *= 0.1


class LinearSVM(LinearClassifierMixin, BaseEstimator):
    """Binary linear SVM (hinge or squared hinge) on fastlogit's solvers and kernels.

    Parameters
    ----------
    loss : {"squared_hinge", "hinge"}, default="squared_hinge"
    C : float > 0, default=1.0
        Multiplies the summed loss (scikit-learn's and LIBLINEAR's convention).
    penalty : {"l2", "l1", "elasticnet", None} or Penalty, default="l2"
        The hinge supports "l2" only (its solver works through the dual).
    l1_ratio : float in [0, 1] or None
        For penalty="elasticnet".
    fit_intercept : bool, default=True
        The intercept is not penalised.
    tol : float, default=1e-4
        Squared hinge: the solvers' gradient tolerance; hinge: relative duality gap.
    max_iter : int, default=100
    solver : str, default="auto"
        A fastlogit solver for the squared hinge and for each smoothing stage of the hinge.
    backend, n_threads : kernel backend and thread count.

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features)
    intercept_ : ndarray of shape (1,)
    classes_ : ndarray of shape (2,)
    n_iter_ : int
    converged_ : bool
    duality_gap_ : float or None
        The hinge's final duality gap (None for the squared hinge).

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import StandardScaler
    >>> from fastlogit.svm import LinearSVM
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> round(LinearSVM(C=0.1).fit(X, y).score(X, y), 2)
    0.99
    """

    def __init__(self, loss="squared_hinge", *, C=1.0, penalty="l2", l1_ratio=None,
                 fit_intercept=True, tol=1e-4, max_iter=100, solver="auto", backend="auto",
                 n_threads=None):
        self.loss = loss
        self.C = C
        self.penalty = penalty
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.solver = solver
        self.backend = backend
        self.n_threads = n_threads

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def fit(self, X, y, sample_weight=None):
        """Fit on X (n, d) dense or sparse, binary y, optional sample weights (n,)."""
        if self.loss not in ("squared_hinge", "hinge"):
            raise ValueError(f"loss must be 'squared_hinge' or 'hinge', got {self.loss!r}")
        C = check_C(self.C)
        tol = check_tol(self.tol)
        max_iter = check_max_iter(self.max_iter)
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=[np.float64, np.float32],
                             order="C", accept_large_sparse=True)
        check_classification_targets(y)
        classes, y_idx = np.unique(y, return_inverse=True)
        if classes.shape[0] != 2:
            raise ValueError(f"LinearSVM is binary: y must hold exactly 2 classes, got "
                             f"{classes.shape[0]}")
        sw = check_sample_weight(sample_weight, X.shape[0])
        kwargs = dict(X=X, y=y_idx.astype(np.float64), sample_weight=sw,
                      fit_intercept=self.fit_intercept, backend=self.backend,
                      n_threads=self.n_threads)
        self.duality_gap_ = None
        if self.loss == "hinge":
            if self.penalty != "l2":
                raise ValueError(f"loss='hinge' supports penalty='l2' only, got "
                                 f"{self.penalty!r}")
            theta, info = fit_hinge(kwargs, C, tol=tol, max_iter=max_iter, solver=self.solver)
            self.n_iter_, self.converged_ = info["n_iter"], info["converged"]
            self.duality_gap_ = info["gap"]
            if not info["converged"]:
                warnings.warn(f"LinearSVM(loss='hinge') stopped at relative duality gap "
                              f"{info['gap']:.3e} > tol={tol:g}", ConvergenceWarning)
        else:
            data = MarginData(loss=SquaredHinge(), **kwargs)
            ob = Objective(data, C=C, penalty=self.penalty, l1_ratio=self.l1_ratio)
            res = solve(ob, self.solver, tol=tol, max_iter=max_iter)
            theta = res.theta
            self.n_iter_, self.converged_ = res.n_iter, res.converged
        d = X.shape[1]
        self.coef_ = theta[:d].reshape(1, d).astype(X.dtype)
        self.intercept_ = np.array([theta[d] if self.fit_intercept else 0.0], dtype=X.dtype)
        self.classes_ = classes
        return self
