"""scikit-learn compatible logistic regression on fastlogit's objectives and solvers.

The fitted problem is DESIGN.md section 1, scikit-learn's convention::

    F(w, b) = C * sum_i s_i * l(y_i, z_i) + R(w)       (intercept never penalised)

so ``coef_`` matches ``sklearn.linear_model.LogisticRegression`` for the same C, penalty,
sample and class weights.  Extras from the log-loss literature (module :mod:`fastlogit.extras`
holds the non-log-loss objectives):

* ``soft_labels=True``: ``y`` holds probabilities, shape (n,) in [0, 1] (binary, classes
  ``[0, 1]``) or (n, K) rows summing to 1 (classes ``0..K-1``).
* ``label_smoothing=eps``: targets ``Y' = (1 - eps) Y + eps / K``.
* ``class_weight``: dict or "balanced" (scikit-learn's rule, sample-weighted), multiplied
  into the sample weights; with soft labels a sample's weight is ``sum_k Y_ik cw_k``.
* ``focal_gamma=gamma``: focal loss ``-sum_k Y_k (1 - p_k)^gamma log p_k`` (0 = log-loss).
* ``noise_transition=T``: forward noise correction, ``T[i, j] = P(observed j | true i)``;
  the fitted model predicts the *clean* class probabilities.
* :meth:`LogisticRegression.summary`: standard errors, z-scores and p-values.
"""
import numbers

import numpy as np
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_array, column_or_1d, compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import kernels as _kernels

__all__ = ["LogisticRegression", "LinearLogitOutputs"]

_PENALTIES = ("l2", "l1", "elasticnet", None)
#: Solvers that handle a non-smooth (L1 / elastic-net) penalty.
_L1_SOLVERS = ("l1", "sgd", "minibatch")
#: Solvers usable with the non-convex extras objectives (need value_grad only).
_EXTRA_SOLVERS = ("lbfgs",)


class LinearLogitOutputs:
    """Prediction methods shared by the fastlogit estimators (need ``coef_``, ``intercept_``,
    ``classes_``, ``backend``, ``n_threads``)."""

    def _validate_X(self, X):
        check_is_fitted(self)
        return validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32],
                             order="C", reset=False, accept_large_sparse=True)

    def _raw(self, X):
        """Decision values in X's dtype: (n,) binary, (n, K) multinomial."""
        design = _kernels.as_design(X)
        dtype = design.dtype
        coef = self.coef_.astype(dtype, copy=False)
        if coef.shape[0] == 1:
            kernels = _kernels.get(self.backend)
            return kernels.decision(design, np.ascontiguousarray(coef[0]),
                                    float(self.intercept_[0]), n_threads=self.n_threads)
        Z = X @ coef.T
        return np.asarray(Z, dtype=dtype) + self.intercept_.astype(dtype)

    def decision_function(self, X):
        """Linear predictor: shape (n,) for binary (log-odds of ``classes_[1]``), else (n, K)."""
        return self._raw(self._validate_X(X))

    def predict(self, X):
        """Class labels, shape (n,)."""
        z = self.decision_function(X)
        index = (z > 0).astype(np.intp) if z.ndim == 1 else z.argmax(axis=1)
        return self.classes_[index]

    # Probabilities are returned in float64 even for float32 X (the logits stay float32):
    # a float32 probability rounds 1 - 3e-9 to 1, while its stable log keeps -3e-9, so only
    # float64 outputs let predict_log_proba equal log(predict_proba) to 1e-9.
    def predict_log_proba(self, X):
        """log P(class | x), shape (n, K), float64; from the logits, never log(0)."""
        z = self.decision_function(X).astype(np.float64)
        if z.ndim == 1:
            kernels = _kernels.get("numpy")
            return np.column_stack([kernels.log_sigmoid(-z), kernels.log_sigmoid(z)])
        return z - logsumexp(z, axis=1, keepdims=True)

    def predict_proba(self, X):
        """P(class | x), shape (n, K), float64, rows sum to 1."""
        z = self.decision_function(X).astype(np.float64)
        if z.ndim == 1:
            kernels = _kernels.get("numpy")
            return np.column_stack([kernels.sigmoid(-z), kernels.sigmoid(z)])
        return np.exp(z - logsumexp(z, axis=1, keepdims=True))

    def score(self, X, y, sample_weight=None):
        """Mean accuracy; raises ValueError for labels the model was not fitted on."""
        check_is_fitted(self)
        y = column_or_1d(y, warn=True)
        unknown = set(np.unique(y).tolist()) - set(self.classes_.tolist())
        if unknown:
            raise ValueError(f"y contains labels {sorted(map(str, unknown))} not in classes_ "
                             f"{self.classes_.tolist()}")
        return super().score(X, y, sample_weight=sample_weight)

    def save(self, path):
        """Save the fitted model: non-pickle, versioned, atomic (:mod:`fastlogit.persistence`)."""
        from .persistence import save

        save(self, path)


class LogisticRegression(LinearLogitOutputs, ClassifierMixin, BaseEstimator):
    """Logistic regression (binary and multinomial) with fused kernels and Newton/L-BFGS solvers.

    Parameters
    ----------
    penalty : {"l2", "l1", "elasticnet", None}, default="l2"
    C : float > 0, default=1.0
        Inverse regularisation strength; multiplies the summed sample losses.
    l1_ratio : float in [0, 1] or None
        Elastic-net mixing r (required for ``penalty="elasticnet"``).
    fit_intercept : bool, default=True
    tol : float > 0, default=1e-4
        Stopping rule ``||grad F||_inf <= tol * max(1, ||grad F(theta_0)||_inf)``.
    max_iter : int >= 1, default=100
    class_weight : dict, "balanced" or None
    warm_start : bool, default=False
        Start from the previous ``coef_``/``intercept_`` when their shapes still fit.
    verbose : int, default=0
    random_state : int, RandomState or None
        Passed to stochastic solvers.
    solver : {"auto", "newton-cholesky", "newton-cg", "trust-region", "lbfgs", "l1", ...}
        "auto": ``fastlogit.solvers.choose_solver`` on the used columns ("l1" with an L1
        part, "newton-cholesky" for binary problems with at most 1000 parameters, "lbfgs"
        with more than twice as many features as samples, "trust-region" otherwise); "lbfgs"
        for the focal / noise-corrected losses.  ``solver_`` names the one that ran.
    backend : {"auto", "numpy", "numba", "cython"}, default="auto"
    n_threads : int or None
        Kernel threads (None = all cores).
    soft_labels : bool, default=False
    label_smoothing : float in [0, 1), default=0.0
    focal_gamma : float >= 0, default=0.0
    noise_transition : array of shape (K, K) or None

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features), dtype of X
    intercept_ : ndarray of shape (1,) or (n_classes,)
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    n_iter_ : ndarray of shape (1,)
    solver_ : str, the solver used
    converged_ : bool
    """

    _persisted_scalars = ("solver_", "converged_")

    def __init__(self, penalty="l2", *, C=1.0, l1_ratio=None, fit_intercept=True, tol=1e-4,
                 max_iter=100, class_weight=None, warm_start=False, verbose=0,
                 random_state=None, solver="auto", backend="auto", n_threads=None,
                 soft_labels=False, label_smoothing=0.0, focal_gamma=0.0,
                 noise_transition=None):
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.verbose = verbose
        self.random_state = random_state
        self.solver = solver
        self.backend = backend
        self.n_threads = n_threads
        self.soft_labels = soft_labels
        self.label_smoothing = label_smoothing
        self.focal_gamma = focal_gamma
        self.noise_transition = noise_transition

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # ------------------------------------------------------------------ checks
    def _check_params(self):
        def positive(name, value, allow_inf=False):
            if (not isinstance(value, numbers.Real) or isinstance(value, bool)
                    or not (value > 0) or (not allow_inf and not np.isfinite(value))):
                raise ValueError(f"{name} must be a positive finite number, got {value!r}")

        positive("C", self.C)
        positive("tol", self.tol)
        if (not isinstance(self.max_iter, numbers.Integral) or isinstance(self.max_iter, bool)
                or self.max_iter < 1):
            raise ValueError(f"max_iter must be a positive integer, got {self.max_iter!r}")
        if self.penalty not in _PENALTIES:
            raise ValueError(f"unknown penalty {self.penalty!r}; choose one of {_PENALTIES}")
        if self.penalty == "elasticnet":
            r = self.l1_ratio
            if not isinstance(r, numbers.Real) or not 0 <= r <= 1:
                raise ValueError(f"penalty='elasticnet' needs l1_ratio in [0, 1], got {r!r}")
        eps = self.label_smoothing
        if not isinstance(eps, numbers.Real) or not 0 <= eps < 1:
            raise ValueError(f"label_smoothing must lie in [0, 1), got {eps!r}")
        gamma = self.focal_gamma
        if not isinstance(gamma, numbers.Real) or not (0 <= gamma < np.inf):
            raise ValueError(f"focal_gamma must be a finite number >= 0, got {gamma!r}")
        if gamma > 0 and self.noise_transition is not None:
            raise ValueError("focal_gamma and noise_transition cannot be combined")
        kernels = _kernels.get(self.backend)  # ValueError naming an unknown backend
        return kernels

    def _uses_extras(self):
        return self.focal_gamma > 0 or self.noise_transition is not None

    def _l1_part(self):
        if self.penalty == "l1":
            return True
        return self.penalty == "elasticnet" and self.l1_ratio > 0

    def _choose_solver(self):
        """The solver name for solvers.solve(): "auto" (its choice by shape, made on the used
        columns) or a checked name; the non-convex extras take "lbfgs" (first-order only)."""
        from .solvers import SOLVERS

        solver = self.solver
        if solver == "auto":
            if not self._uses_extras():
                return "auto"
            solver = "lbfgs"
        if solver not in SOLVERS:
            raise ValueError(f"unknown solver {self.solver!r}; choose 'auto' or one of "
                             + ", ".join(map(repr, sorted(SOLVERS))))
        if self._l1_part() and solver not in _L1_SOLVERS:
            raise ValueError(f"solver {solver!r} does not support penalty={self.penalty!r}; "
                             f"use solver='l1' or 'auto'")
        if self._uses_extras():
            if solver not in _EXTRA_SOLVERS:
                raise ValueError(f"solver {solver!r} does not support the focal / "
                                 f"noise-corrected losses; use solver='lbfgs' or 'auto'")
            if self._l1_part():
                raise ValueError("the focal / noise-corrected losses support penalty 'l2' or "
                                 "None only")
        return solver

    def _validate_targets(self, y, n_samples):
        """Encode y: returns (classes, Y) with Y (n,) in [0, 1] or (n, K) rows of probabilities."""
        if self.soft_labels:
            y = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
            if y.ndim == 2 and y.shape[1] == 1:
                y = y.ravel()
            if y.shape[0] != n_samples:
                raise ValueError(f"X has {n_samples} samples but y has {y.shape[0]}")
            if np.any(y < 0) or np.any(y > 1):
                raise ValueError("soft labels must be probabilities in [0, 1]; got values in "
                                 f"[{y.min():.6g}, {y.max():.6g}]")
            if y.ndim == 1:
                return np.array([0, 1]), y
            if y.ndim != 2 or y.shape[1] < 2:
                raise ValueError(f"soft labels must have shape (n,) or (n, K), got {y.shape}")
            if not np.allclose(y.sum(axis=1), 1.0, rtol=0, atol=1e-6):
                raise ValueError("soft label rows of shape (n, K) must sum to 1")
            return np.arange(y.shape[1]), y
        check_classification_targets(y)
        classes, y_idx = np.unique(y, return_inverse=True)
        y_idx = y_idx.reshape(-1)
        if classes.shape[0] < 2:
            raise ValueError("This solver needs samples of at least 2 classes in the data, "
                             f"but the data contains only one class: {classes[0]!r}")
        if classes.shape[0] == 2:
            return classes, (y_idx == 1).astype(np.float64)
        Y = np.zeros((n_samples, classes.shape[0]))
        Y[np.arange(n_samples), y_idx] = 1.0
        return classes, Y

    def _class_weights(self, classes, y, Y, sample_weight):
        """Per-sample class weights, shape (n,), or None."""
        if self.class_weight is None:
            return None
        Yk = np.column_stack([1 - Y, Y]) if Y.ndim == 1 else Y
        if self.soft_labels:
            if self.class_weight == "balanced":
                mass = sample_weight @ Yk
                if np.any(mass <= 0):
                    raise ValueError("class_weight='balanced' needs every class to carry weight")
                cw = sample_weight.sum() / (Yk.shape[1] * mass)
            elif isinstance(self.class_weight, dict):
                unknown = set(self.class_weight) - set(classes.tolist())
                if unknown:
                    raise ValueError(f"class_weight has labels {sorted(unknown)} not in classes "
                                     f"{classes.tolist()}")
                cw = np.array([float(self.class_weight.get(c, 1.0)) for c in classes])
            else:
                raise ValueError(f"class_weight must be a dict, 'balanced' or None, "
                                 f"got {self.class_weight!r}")
        else:
            cw = compute_class_weight(self.class_weight, classes=classes, y=y,
                                      sample_weight=sample_weight)
        cw = np.asarray(cw, dtype=np.float64)
        if not np.all(np.isfinite(cw)) or np.any(cw < 0):
            raise ValueError("class weights must be finite and non-negative")
        return Yk @ cw

    # ------------------------------------------------------------------ fit
    def _validate_fit(self, X, y, sample_weight):
        kernels = self._check_params()
        multi = self.soft_labels
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=[np.float64, np.float32],
                             order="C", multi_output=multi, y_numeric=multi,
                             accept_large_sparse=True)
        n = X.shape[0]
        if not self.soft_labels:
            y = column_or_1d(y, warn=True)
        classes, Y = self._validate_targets(y, n)
        sw = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        cw = self._class_weights(classes, y, Y, sw)
        if cw is not None:
            sw = sw * cw
        if self.label_smoothing > 0:
            k = 2 if Y.ndim == 1 else Y.shape[1]
            Y = (1.0 - self.label_smoothing) * Y + self.label_smoothing / k
        return kernels, X, classes, Y, sw

    def _objective(self, design, Y, sw):
        common = dict(C=float(self.C), penalty=self.penalty,
                      l1_ratio=float(self.l1_ratio or 0.0), fit_intercept=self.fit_intercept,
                      backend=self.backend, n_threads=self.n_threads)
        if self.focal_gamma > 0:
            from .extras import FocalObjective

            return FocalObjective(design, Y, sw, gamma=float(self.focal_gamma), **common)
        if self.noise_transition is not None:
            from .extras import NoiseCorrectedObjective

            return NoiseCorrectedObjective(design, Y, sw, transition=self.noise_transition,
                                           **common)
        from .objective import Objective

        return Objective(design, Y, sw, **common)

    def _theta0(self, n_rows, n_features):
        width = n_features + bool(self.fit_intercept)
        theta = np.zeros((n_rows, width))
        if (self.warm_start and hasattr(self, "coef_")
                and self.coef_.shape == (n_rows, n_features)):
            theta[:, :n_features] = self.coef_
            if self.fit_intercept:
                theta[:, n_features] = self.intercept_
        return theta.ravel() if n_rows > 1 else theta[0]

    def fit(self, X, y, sample_weight=None, callback=None):
        """Fit the model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            float32 stays float32; sparse input is converted to CSR, never densified.
        y : array-like of shape (n_samples,) (or (n_samples, K) with ``soft_labels=True``)
        sample_weight : array-like of shape (n_samples,), non-negative, or None
        callback : callable or None
            Passed to the solver: called after every iteration (see
            ``fastlogit.solvers._result.History``); returning True stops the fit.
        """
        kernels, X, classes, Y, sw = self._validate_fit(X, y, sample_weight)
        design = _kernels.as_design(X)
        n_rows = 1 if classes.shape[0] == 2 else classes.shape[0]
        n_features = X.shape[1]
        sw_arg = None if np.all(sw == 1.0) else sw
        objective = self._objective(design, Y, sw_arg)
        solver = self._choose_solver()
        theta0 = self._theta0(n_rows, n_features)
        from .solvers import solve

        result = solve(objective, solver, theta0, tol=float(self.tol),
                       max_iter=int(self.max_iter), verbose=self.verbose,
                       random_state=self.random_state, callback=callback)
        theta = np.asarray(result.theta, dtype=np.float64).reshape(n_rows, -1)
        if n_rows > 1 and self.noise_transition is None:
            # Softmax is invariant to adding one vector to every class: the unpenalised
            # intercepts (and, without a penalty, the coefficients) are fixed only up to it.
            # Report the representative summing to zero over classes, as scikit-learn does.
            if self.fit_intercept:
                theta[:, n_features] -= theta[:, n_features].mean()
            if self.penalty is None:
                theta[:, :n_features] -= theta[:, :n_features].mean(axis=0)
        dtype = design.dtype
        self.coef_ = np.ascontiguousarray(theta[:, :n_features], dtype=dtype)
        self.intercept_ = (theta[:, n_features].astype(dtype) if self.fit_intercept
                           else np.zeros(n_rows, dtype=dtype))
        self.classes_ = classes
        self.n_iter_ = np.array([int(result.n_iter)], dtype=np.int32)
        self.solver_ = result.solver
        self.converged_ = bool(result.converged)
        self.fit_result_ = result
        return self

    # ------------------------------------------------------------------ extras
    def summary(self, X, y, sample_weight=None):
        """Coefficient table with standard errors, z-scores and p-values (binary models).

        ``X, y, sample_weight`` must be the training data (the model keeps no copy);
        class weights are applied as in :meth:`fit` (label smoothing does not change the
        Fisher information, which depends on the fitted probabilities only).  See
        :mod:`fastlogit.summary` for the covariance used (Fisher information = Hessian).
        """
        from .summary import coefficient_summary

        check_is_fitted(self)
        if self.classes_.shape[0] != 2:
            raise ValueError("summary() supports binary models only")
        if self._uses_extras():
            raise ValueError("summary() needs the log-loss likelihood; not available with "
                             "focal_gamma or noise_transition")
        _, X, _, _, sw = self._validate_fit_for_summary(X, y, sample_weight)
        z = self._raw(X).astype(np.float64)
        kernels = _kernels.get("numpy")
        p = kernels.sigmoid(z)
        names = getattr(self, "feature_names_in_", None)
        return coefficient_summary(self.coef_[0].astype(np.float64),
                                   float(self.intercept_[0]), p, X, sw, C=float(self.C),
                                   penalty=self.penalty, fit_intercept=self.fit_intercept,
                                   feature_names=names)

    def _validate_fit_for_summary(self, X, y, sample_weight):
        # Same preprocessing as fit, without resetting n_features_in_ / feature names.
        kernels = self._check_params()
        X = validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32],
                          order="C", reset=False)
        if not self.soft_labels:
            y = column_or_1d(y, warn=True)
        classes, Y = self._validate_targets(y, X.shape[0])
        if not np.array_equal(classes, self.classes_):
            raise ValueError(f"y has classes {classes.tolist()}, the model "
                             f"{self.classes_.tolist()}")
        sw = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        cw = self._class_weights(classes, y, Y, sw)
        if cw is not None:
            sw = sw * cw
        return kernels, X, classes, Y, sw
