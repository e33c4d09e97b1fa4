"""scikit-learn compatible logistic regression on fastlogit's objectives and solvers.

The fitted problem is scikit-learn's convention (docs/user_guide/objective.md)::

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

Callbacks: ``fit(X, y, callback=f)`` calls ``f(theta)`` after every solver iteration
(returning True stops the fit), with any solver.  scikit-learn 1.9's callback framework works
too: ``LogisticRegression(...).set_callbacks(ProgressBar(), ...)`` (``sklearn.callback``) runs
one task per solver iteration, every solver included (:mod:`fastlogit.sklearn_callbacks`).
"""
import copy
import warnings

import numpy as np
import scipy.sparse as sp
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import column_or_1d
from sklearn.utils.validation import check_is_fitted, validate_data

from . import kernels as _kernels
from ._docstring import fill_doc
from .base import store_params
from .penalties import PENALTY_NAMES
from .sklearn_callbacks import CallbackSupport, IterationTasks, chain, with_callbacks
from .validation import (check_C, check_focal_gamma, check_intercept_scaling, check_l1_ratio,
                         check_label_smoothing, check_max_iter, check_n_jobs,
                         check_sample_weight, check_tol, class_weight_per_sample,
                         encode_targets, resolve_penalty, smooth_labels)

__all__ = ["LogisticRegression", "LinearLogitOutputs", "FitPlan"]


def class_index(z):
    """Index of the predicted class from decision values, (n,) intp.

    ``z`` is (n,) for a binary model (log-odds of class 1; ties at 0 go to class 0) or
    (n, K) (the first largest column wins).  The one rule behind every front's ``predict``
    (in memory, Dask blocks, streamed files).
    """
    return (z > 0).astype(np.intp) if z.ndim == 1 else z.argmax(axis=1)


def class_labels(z, classes):
    """``classes[class_index(z)]``: predicted labels (n,) from decision values ``z``."""
    return classes[class_index(z)]


def check_known_labels(y, classes):
    """Raise ValueError naming them when labels ``y`` (array-like) hold values not in the
    fitted ``classes`` (scoring them would count silent misses); the same message on every
    front (in memory and per Dask block)."""
    unknown = set(np.unique(np.asarray(y)).tolist()) - set(np.asarray(classes).tolist())
    if unknown:
        raise ValueError(f"y contains labels {sorted(map(str, unknown))} not in classes_ "
                         f"{np.asarray(classes).tolist()}")


def class_log_probabilities(z):
    """log P(class | x) from decision values, (n, K) float64, never log(0).

    ``z``: (n,) binary log-odds (K = 2, columns [class 0, class 1]) or (n, K) logits.  Binary:
    log sigmoid(-z), log sigmoid(z), exact in the tails; multinomial: z - logsumexp(z).
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim == 1:
        kernels = _kernels.get("numpy")
        return np.column_stack([kernels.log_sigmoid(-z), kernels.log_sigmoid(z)])
    return z - logsumexp(z, axis=1, keepdims=True)


def class_probabilities(z):
    """P(class | x) from decision values, (n, K) float64, rows sum to 1.

    Same input as :func:`class_log_probabilities`; binary columns are sigmoid(-z) and
    sigmoid(z), each computed directly (not 1 - p, which loses the small tail).
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim == 1:
        kernels = _kernels.get("numpy")
        return np.column_stack([kernels.sigmoid(-z), kernels.sigmoid(z)])
    return np.exp(z - logsumexp(z, axis=1, keepdims=True))


class LinearLogitOutputs:
    """Prediction methods shared by the fastlogit estimators (need ``coef_``, ``intercept_``,
    ``classes_``, ``backend``, ``n_threads``) and their scikit-learn tag: sparse input
    accepted (listed before ClassifierMixin / BaseEstimator in the bases)."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _validate_X(self, X):
        check_is_fitted(self)
        return validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32],
                             order="C", reset=False, accept_large_sparse=True)

    def _raw(self, X):
        """Decision values in X's dtype: (n,) binary, (n, K) multinomial."""
        design = _kernels.as_design(X)
        dtype = design.dtype
        coef = self.coef_
        coef = (coef.toarray() if sp.issparse(coef) else coef).astype(dtype, copy=False)
        if coef.shape[0] == 1:
            kernels = _kernels.get(self.backend)
            return kernels.decision(design, np.ascontiguousarray(coef[0]),
                                    float(self.intercept_[0]), n_threads=self.n_threads)
        Z = X @ coef.T
        return np.asarray(Z, dtype=dtype) + self.intercept_.astype(dtype)

    @fill_doc
    def decision_function(self, X):
        """The linear predictor ``X coef_^T + intercept_`` of each sample.

        Parameters
        ----------
        {X_predict}

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
            In X's dtype (float32 stays float32): for two classes the log-odds of
            ``classes_[1]``, shape (n_samples,); otherwise one column per class of
            ``classes_`` (the logits; one-vs-rest: each class's own log-odds).

        Examples
        --------
        {fitted_example}
        >>> clf.decision_function(X).round(3)  # log-odds of "yes"
        array([-1.837, -1.2  ,  1.2  ,  1.837])
        """
        return self._raw(self._validate_X(X))

    @fill_doc
    def predict(self, X):
        """The predicted class of each sample: the largest decision value's.

        Parameters
        ----------
        {X_predict}

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_`` (their dtype); for two classes ``classes_[1]`` where
            the log-odds are > 0, ``classes_[0]`` otherwise (ties included).

        Examples
        --------
        {fitted_example}
        >>> clf.predict([[0.5, 0.0], [-3.0, 2.0]])
        array(['yes', 'no'], dtype='<U3')
        """
        return class_labels(self.decision_function(X), self.classes_)

    # Probabilities are returned in float64 even for float32 X (the logits stay float32):
    # a float32 probability rounds 1 - 3e-9 to 1, while its stable log keeps -3e-9, so only
    # float64 outputs let predict_log_proba equal log(predict_proba) to 1e-9.
    @fill_doc
    def predict_log_proba(self, X):
        """log P(class | x), computed from the logits: never log(0), exact in the tails.

        Parameters
        ----------
        {X_predict}

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            float64 (also for float32 X), columns in the order of ``classes_``.

        Examples
        --------
        {fitted_example}
        >>> np.exp(clf.predict_log_proba(X[:2])).round(3)  # predict_proba's values
        array([[0.863, 0.137],
               [0.769, 0.231]])
        >>> round(float(clf.predict_log_proba([[40.0, 0.0]])[0, 0]), 1)  # P(no) ~ 3e-18
        -40.5
        """
        return class_log_probabilities(self.decision_function(X))

    @fill_doc
    def predict_proba(self, X):
        """P(class | x): the sigmoid of the log-odds (two classes) or the softmax of the logits.

        Parameters
        ----------
        {X_predict}

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            float64 (also for float32 X), columns in the order of ``classes_``, rows
            summing to 1; for two classes both columns are computed directly (the small one
            keeps its digits).

        Examples
        --------
        {fitted_example}
        >>> clf.classes_, clf.predict_proba(X[:2]).round(3)
        (array(['no', 'yes'], dtype='<U3'), array([[0.863, 0.137],
               [0.769, 0.231]]))
        """
        return class_probabilities(self.decision_function(X))

    @fill_doc
    def score(self, X, y, sample_weight=None):
        """Mean accuracy of :meth:`predict` on (X, y), weighted by ``sample_weight``.

        Parameters
        ----------
        {X_predict, y_score, sample_weight_score}

        Returns
        -------
        float
            The (weighted) fraction of samples predicted right, in [0, 1].

        Examples
        --------
        {fitted_example}
        >>> clf.score(X, y), clf.score(X, ["no", "yes", "yes", "yes"])
        (1.0, 0.75)
        >>> round(clf.score(X, ["no", "yes", "yes", "yes"], sample_weight=[1, 1, 1, 3]), 3)
        0.833
        """
        check_is_fitted(self)
        y = column_or_1d(y, warn=True)
        check_known_labels(y, self.classes_)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, y.shape[0], allow_all_zero=False)
        return super().score(X, y, sample_weight=sample_weight)

    @fill_doc
    def save(self, path):
        """Save the fitted model: non-pickle, versioned, atomic (:mod:`fastlogit.persistence`).

        Only :class:`fastlogit.LogisticRegression` and
        :class:`fastlogit.SGDLogisticRegression` have a model file format; the other
        estimators that inherit this method raise ValueError.  A sparsified ``coef_`` is
        stored dense.  :func:`fastlogit.load` reads the file back.

        Parameters
        ----------
        path : str or os.PathLike
            Target file, conventionally ending in ``.npz``; an existing file is replaced
            only once the new one is complete on disk.

        Raises
        ------
        ValueError
            If the model is not fitted, its class has no file format, or a fitted value is
            outside the file schema (e.g. a NaN coefficient); nothing is written then.

        Examples
        --------
        >>> import os, tempfile
        {fitted_example}
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     clf.save(os.path.join(folder, "model.npz"))
        ...     loaded = fastlogit.load(os.path.join(folder, "model.npz"))
        >>> loaded.predict(X).tolist(), bool((loaded.coef_ == clf.coef_).all())
        (['no', 'no', 'yes', 'yes'], True)
        """
        from .persistence import save

        if sp.issparse(getattr(self, "coef_", None)):  # a sparsified model is stored dense
            self = copy.copy(self)
            self.coef_ = self.coef_.toarray()
        save(self, path)


class LogisticRegression(CallbackSupport, LinearLogitOutputs, ClassifierMixin, BaseEstimator):
    """Logistic regression (binary and multinomial) with fused kernels and Newton/L-BFGS solvers.

    The constructor is scikit-learn's (1.8+) ``LogisticRegression``'s, same parameters, same
    defaults, same ``get_params`` keys, followed by fastlogit's own (``backend`` ...).

    Parameters
    ----------
    penalty : {"l2", "l1", "elasticnet", None}, default="deprecated"
        Deprecated as in scikit-learn >= 1.8 (FutureWarning when set): ``l1_ratio`` and ``C``
        decide the penalty.  When set it is honoured (never a silently different penalty),
        with scikit-learn's warnings when ``l1_ratio`` disagrees
        (:func:`fastlogit.validation.resolve_penalty`).
    C : float > 0 or np.inf, default=1.0
        Inverse regularisation strength; multiplies the summed sample losses.  ``np.inf``:
        no penalty.
    l1_ratio : float in [0, 1], default=0.0
        Elastic-net mixing r: 0 -> L2, 1 -> L1, between -> elastic net
        ``C sum l + r ||w||_1 + (1 - r)/2 ||w||^2``.
    dual : bool, default=False
        Only ``dual=False`` exists here, except with ``solver="liblinear"`` and an L2 penalty,
        where the same (primal) problem is solved; otherwise scikit-learn's ValueError.
    tol : float >= 0, default=1e-4
        Stopping rule ``||grad F||_inf <= tol * max(1, ||grad F(0)||_inf)`` (deterministic
        solvers; :mod:`fastlogit.solvers._result`).
    fit_intercept : bool, default=True
        Whether to fit an intercept (never penalised, except with ``solver="liblinear"``).
    intercept_scaling : float > 0, default=1
        Used with ``solver="liblinear"`` only, as there: the intercept is the coefficient of
        a synthetic constant feature of this value, penalised like the others.
    class_weight : dict, "balanced" or None
        Per-class factors multiplied into the sample weights; "balanced" gives class k the
        weight ``n / (K n_k)`` (sample-weighted counts), scikit-learn's rule.
    random_state : int, RandomState or None
        Passed to the stochastic solvers.
    solver : str, default="lbfgs"
        A fastlogit solver (the names of ``fastlogit.solvers.solvers_for(...)``: which of
        them apply to the objective comes from the solvers' declarations), "auto", or a
        scikit-learn name, mapped to the fastlogit solver minimising the same objective:

        ===================  =====================================================
        solver               runs
        ===================  =====================================================
        "lbfgs"              fastlogit's L-BFGS (smooth penalties)
        "newton-cg"          fastlogit's truncated Newton-CG (smooth penalties)
        "newton-cholesky"    fastlogit's Newton with dense Hessian (smooth)
        "liblinear"          "trust-region" (L2; TRON as LIBLINEAR) or "l1"
                             (L1; newGLMNET-style as LIBLINEAR), intercept
                             penalised through ``intercept_scaling`` as there;
                             binary only, no elastic net, no C=np.inf (its errors)
        "sag"                "auto" (smooth penalties only, as scikit-learn)
        "saga"               "auto": "l1" with an L1 part, else by shape
        "auto"               :func:`fastlogit.solvers.choose_solver`
        ===================  =====================================================

        ``solver_`` names the one that ran.  The focal / noise-corrected losses take "lbfgs".
    max_iter : int >= 0, default=100
        ``0``: no iteration, the start (zeros or the warm start) is returned with a
        ConvergenceWarning, as scikit-learn does.
    verbose : int, default=0
        Print one line per solver iteration when positive.
    warm_start : bool, default=False
        Start from the previous ``coef_``/``intercept_`` when their shapes still fit; the
        deterministic solvers then take at least one step unless that start is optimal to
        the absolute tolerance ``tol`` (``min_iter=1``, as on a regularisation path: the
        stopping rule grows with C, so a warm start at a larger C could otherwise be
        returned unmoved).
    n_jobs : None
        No effect, as in scikit-learn >= 1.8 (FutureWarning when set); the kernels' threads
        are ``n_threads``.
    backend : {"auto", "numpy", "numba", "cython"}, default="auto"
        Kernel implementation (:func:`fastlogit.kernels.get`): "auto" takes each kernel from
        the fastest backend available; all agree to rounding.
    n_threads : int or None
        Kernel threads; None: :func:`fastlogit._config.effective_n_threads` (respects
        FASTLOGIT_NUM_THREADS, threadpoolctl limits and OMP_NUM_THREADS).
    soft_labels : bool, default=False
        ``y`` holds target probabilities: shape (n_samples,) in [0, 1] (classes ``[0, 1]``)
        or (n_samples, K) with rows summing to 1 (classes ``0..K-1``).
    label_smoothing : float in [0, 1), default=0.0
        Targets ``(1 - eps) Y + eps / K`` instead of ``Y``.
    focal_gamma : float >= 0, default=0.0
        Focal loss ``-sum_k Y_k (1 - p_k)^gamma log p_k`` (0: the log-loss); non-convex,
        fitted with "lbfgs".
    noise_transition : array of shape (K, K) or None
        Forward noise correction: ``T[i, j] = P(observed j | true i)``, rows summing to 1;
        the model predicts the clean-label probabilities.

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features), dtype of X
        (a scipy CSR matrix after :meth:`sparsify`)
    intercept_ : ndarray of shape (1,) or (n_classes,)
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    n_iter_ : ndarray of shape (1,), int32
    solver_ : str, the fastlogit solver used
    converged_ : bool

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import StandardScaler
    >>> import fastlogit
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> clf = fastlogit.LogisticRegression(C=1.0).fit(X, y)
    >>> clf.solver_, round(clf.score(X, y), 2)
    ('lbfgs', 0.99)
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    >>> lasso = fastlogit.LogisticRegression(l1_ratio=1.0, C=0.1, solver="auto").fit(X, y)
    >>> lasso.solver_, int((lasso.coef_ != 0).sum()) < X.shape[1]
    ('l1', True)
    """

    _persisted_scalars = ("solver_", "converged_")

    def __init__(self, penalty="deprecated", *, C=1.0, l1_ratio=0.0, dual=False, tol=1e-4,
                 fit_intercept=True, intercept_scaling=1, class_weight=None,
                 random_state=None, solver="lbfgs", max_iter=100, verbose=0,
                 warm_start=False, n_jobs=None, backend="auto", n_threads=None,
                 soft_labels=False, label_smoothing=0.0, focal_gamma=0.0,
                 noise_transition=None):
        store_params(self, locals())

    # ------------------------------------------------------------------ checks
    @fill_doc
    def check_params(self):
        """Check the constructor parameters that need no data, as :meth:`fit` does first.

        Raises ValueError naming the first bad parameter (no warnings: the deprecation
        warnings of ``penalty`` come with :meth:`fit`); :func:`fastlogit.load` runs it on a
        model file's stored parameters.

        Returns
        -------
        {check_params_returns}

        Examples
        --------
        >>> from fastlogit import LogisticRegression
        >>> LogisticRegression(tol=-1.0).check_params()
        Traceback (most recent call last):
        ...
        ValueError: tol must be a finite number >= 0, got -1.0
        """
        check_C(self.C, allow_inf=True)
        if self.l1_ratio is not None:
            check_l1_ratio(self.l1_ratio)
        check_tol(self.tol)
        check_max_iter(self.max_iter, allow_zero=True)
        check_intercept_scaling(self.intercept_scaling)
        check_n_jobs(self.n_jobs)
        if self.penalty not in ("deprecated",) + PENALTY_NAMES:
            raise ValueError(f"unknown penalty {self.penalty!r}; choose one of "
                             f"{PENALTY_NAMES} (deprecated: use l1_ratio and C)")
        check_label_smoothing(self.label_smoothing)
        gamma = check_focal_gamma(self.focal_gamma)
        if gamma > 0 and self.noise_transition is not None:
            raise ValueError("focal_gamma and noise_transition cannot be combined")
        if not isinstance(self.solver, str):
            raise ValueError(f"solver must be a string, got {self.solver!r}")
        return _kernels.get(self.backend)  # ValueError naming an unknown backend

    def _resolved_penalty(self):
        """(name, C, l1_ratio) actually fitted (scikit-learn's rules, with its warnings)."""
        return resolve_penalty(self.penalty, self.C, self.l1_ratio)

    def _uses_extras(self):
        return self.focal_gamma > 0 or self.noise_transition is not None

    def _solver_name(self, objective, n_classes):
        """The fastlogit solver for ``self.solver`` on ``objective`` (see the class
        docstring's table); validity comes from the solvers' declarations."""
        from .solvers import check_solver

        solver, penalty = self.solver, objective.penalty.name
        nonsmooth = bool(objective.l1_strength)
        if self.dual and solver != "liblinear":
            raise ValueError(f"Solver {solver} supports only dual=False, got dual={self.dual}")
        if self._uses_extras():
            if objective.l1_strength:
                raise ValueError("the focal / noise-corrected losses support the L2 penalty "
                                 "or none only (l1_ratio=0)")
            solver = "lbfgs" if solver in ("auto", "lbfgs") else solver
            if solver != "lbfgs":
                raise ValueError(f"solver {solver!r} does not support the focal / "
                                 f"noise-corrected losses; use solver='lbfgs' or 'auto'")
            return solver
        if solver == "liblinear":
            if n_classes > 2:
                raise ValueError("The 'liblinear' solver does not support multiclass "
                                 "classification (n_classes >= 3). Either use another solver "
                                 "or wrap the estimator in a OneVsRestClassifier to keep "
                                 "applying a one-versus-rest scheme.")
            if penalty == "elasticnet":
                raise ValueError("Only 'saga' solver supports elasticnet penalty, got "
                                 "solver=liblinear.")
            if penalty == "none":
                raise ValueError("C=np.inf as well as penalty=None is not supported for the "
                                 "liblinear solver")
            if self.dual and nonsmooth:
                raise ValueError("Unsupported set of arguments: The combination of "
                                 "penalty='l1' and loss='logistic_regression' are not "
                                 "supported when dual=True")
            solver = "l1" if nonsmooth else "trust-region"
        elif solver == "sag":
            if nonsmooth:
                raise ValueError(f"Solver sag supports only 'l2' or None penalties, got "
                                 f"{penalty} penalty.")
            solver = "auto"
        elif solver == "saga":
            solver = "auto"
        if solver == "auto":
            return solver
        try:
            check_solver(solver, objective)
        except ValueError as exc:
            if "unknown solver" in str(exc):
                raise ValueError(f"{exc}, 'auto', or scikit-learn's 'liblinear', 'sag', "
                                 f"'saga'") from None
            raise
        return solver

    # ------------------------------------------------------------------ fit
    def _validate_fit(self, X, y, sample_weight, reset=True):
        """Validated (kernels, X, classes, Y, sw, index): X CSR or C-ordered float32/64; Y
        and sw float64 with class weights and label smoothing applied (sw None = ones)."""
        kernels = self.check_params()
        multi = self.soft_labels
        if reset:
            X, y = validate_data(self, X, y, accept_sparse="csr",
                                 dtype=[np.float64, np.float32], order="C", multi_output=multi,
                                 y_numeric=multi, accept_large_sparse=True)
        else:
            X = validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32],
                              order="C", reset=False)
        if not self.soft_labels:
            y = column_or_1d(y, warn=True)
        n = X.shape[0]
        classes, Y, index = encode_targets(y, n, soft_labels=self.soft_labels)
        sw = check_sample_weight(sample_weight, n, allow_all_zero=False)
        cw = class_weight_per_sample(self.class_weight, classes, Y, sw)
        if cw is not None:
            sw = cw if sw is None else sw * cw
        Y = smooth_labels(Y, self.label_smoothing)
        return kernels, X, classes, Y, sw, index

    def _objective(self, design, Y, sw, C, penalty, l1_ratio, fit_intercept):
        common = dict(C=C, penalty=penalty, l1_ratio=l1_ratio, fit_intercept=fit_intercept,
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

    def _theta0(self, n_rows, n_features, fit_intercept):
        """(start, whether it is the previous fit's coefficients: ``warm_start``)."""
        width = n_features + bool(fit_intercept)
        theta = np.zeros((n_rows, width))
        warm = False
        if self.warm_start and hasattr(self, "coef_"):
            coef = _dense(self.coef_)
            if coef.shape == (n_rows, n_features):
                warm = True
                theta[:, :n_features] = coef
                if fit_intercept:
                    theta[:, n_features] = self.intercept_
        return (theta.ravel() if n_rows > 1 else theta[0]), warm

    def _liblinear_intercept(self):
        """liblinear's penalised intercept: a synthetic feature of value intercept_scaling."""
        return self.solver == "liblinear" and self.fit_intercept

    @with_callbacks
    @fill_doc
    def fit(self, X, y, sample_weight=None, callback=None):
        """Fit the model: minimise the penalised log-loss with the solver ``solver`` names.

        Parameters
        ----------
        {X_train}
        y : array-like of shape (n_samples,) or (n_samples, K)
            Class labels, at least two classes (any sortable labels: numbers, strings);
            with ``soft_labels=True`` target probabilities instead, shape (n_samples,) in
            [0, 1] or (n_samples, K) with rows summing to 1.  NaN, inf or a single class
            raise ValueError.
        sample_weight : array-like of shape (n_samples,), default=None
            Finite non-negative weights multiplying each sample's loss, not all zero
            (``class_weight`` multiplies into them); None means 1 each.
        callback : callable, default=None
            Passed to the solver: ``callback(theta)`` at the start and after every
            iteration (``n_iter_ + 1`` calls), theta a float64 (n_params,) vector in the
            layout of :mod:`fastlogit.layout` (see ``fastlogit.solvers._result.History``);
            returning True stops the fit.

        Returns
        -------
        self : LogisticRegression
            The fitted estimator: ``coef_`` (1, n_features) for two classes or (K,
            n_features), in X's dtype; ``intercept_``, ``classes_``, ``n_iter_``,
            ``solver_``, ``converged_`` and ``fit_result_`` (the solver's
            :class:`fastlogit.solvers.SolverResult`; None with ``max_iter=0``).

        Examples
        --------
        >>> import numpy as np
        >>> import fastlogit
        >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0], [4.0, 1.0]])
        >>> clf = fastlogit.LogisticRegression().fit(X, ["a", "b", "b", "c", "c"])
        >>> clf.classes_.tolist(), clf.coef_.shape, clf.converged_  # multinomial
        (['a', 'b', 'c'], (3, 2), True)
        >>> seen = []
        >>> clf = fastlogit.LogisticRegression().fit(X, [0, 0, 1, 1, 1], callback=seen.append)
        >>> len(seen) == int(clf.n_iter_[0]) + 1, seen[-1].shape  # the start, each iteration
        (True, (3,))
        """
        from .solvers import INFO, ConvergenceWarning, solve

        # (the class index per sample, n intp, is not kept: it would stay alive for the fit)
        kernels, X, classes, Y, sw = self._validate_fit(X, y, sample_weight)[:5]
        X_validated = X
        penalty, C, l1_ratio = self._resolved_penalty()
        if self.n_jobs is not None:
            warnings.warn(f"'n_jobs' has no effect since 1.8 and will be removed in 1.10. You "
                          f"provided 'n_jobs={self.n_jobs}', please leave it unspecified.",
                          FutureWarning)
        n_rows = 1 if classes.shape[0] == 2 else classes.shape[0]
        n_features = X.shape[1]
        fit_intercept = bool(self.fit_intercept)
        liblinear = self._liblinear_intercept()
        if liblinear:
            X = with_constant_column(X, float(self.intercept_scaling))
            fit_intercept = False
        design = _kernels.as_design(X)
        objective = self._objective(design, Y, sw, C, penalty, l1_ratio, fit_intercept)
        solver = self._solver_name(objective, classes.shape[0])
        theta0, warm = self._theta0(n_rows, n_features, self.fit_intercept)
        if liblinear and self.warm_start and hasattr(self, "coef_") and n_rows == 1:
            theta0[-1] /= float(self.intercept_scaling)
        def attributes(theta):
            coef, intercept = self._coef_intercept(theta, n_rows, n_features, liblinear,
                                                   penalty, design.dtype)
            return {"coef_": coef, "intercept_": intercept, "classes_": classes,
                    "n_features_in_": n_features}

        tasks = None
        if getattr(self, "_skl_callbacks", None):  # set by CallbackSupport.set_callbacks
            tasks = IterationTasks(self._init_callback_context(max_subtasks=self.max_iter),
                                   self, X_validated, y, None if sample_weight is None
                                   else {"sample_weight": sample_weight}, attributes, theta0)
        if self.max_iter == 0:
            warnings.warn(f"{solver} did not converge after 0 iterations (max_iter=0): the "
                          f"starting point is returned. Increase max_iter.", ConvergenceWarning)
            theta, n_iter, name, converged, result = theta0, 0, solver, False, None
        else:
            # a warm start takes a step, as a regularisation path's fits do
            # (fastlogit.model_selection, "A step at every C")
            steps = ({"min_iter": 1} if warm and (solver == "auto"
                                                   or not INFO[solver].stochastic) else {})
            result = solve(objective, solver, theta0, tol=float(self.tol),
                           max_iter=int(self.max_iter), verbose=self.verbose,
                           random_state=self.random_state, callback=chain(callback, tasks),
                           **steps)
            theta, n_iter = result.theta, int(result.n_iter)
            name, converged = result.solver, bool(result.converged)
        if tasks is not None:
            tasks.close()
        self.coef_, self.intercept_ = self._coef_intercept(theta, n_rows, n_features,
                                                           liblinear, penalty, design.dtype)
        self.classes_ = classes
        self.n_iter_ = np.array([n_iter], dtype=np.int32)
        self.solver_ = name
        self.converged_ = converged
        self.fit_result_ = result
        return self

    def _coef_intercept(self, theta, n_rows, n_features, liblinear, penalty, dtype):
        """(coef_, intercept_) in the data's dtype from the solver's theta (n_params,)."""
        theta = np.array(theta, dtype=np.float64).reshape(n_rows, -1)
        if liblinear:
            theta[:, n_features] *= float(self.intercept_scaling)
        if n_rows > 1 and self.noise_transition is None:
            # Softmax is invariant to adding one vector to every class: the unpenalised
            # intercepts (and, without a penalty, the coefficients) are fixed only up to it.
            # Report the representative summing to zero over classes, as scikit-learn does.
            if self.fit_intercept:
                theta[:, n_features] -= theta[:, n_features].mean()
            if penalty is None:
                theta[:, :n_features] -= theta[:, :n_features].mean(axis=0)
        coef = np.ascontiguousarray(theta[:, :n_features], dtype=dtype)
        intercept = (theta[:, n_features].astype(dtype) if self.fit_intercept
                     else np.zeros(n_rows, dtype=dtype))
        return coef, intercept

    # ------------------------------------------------------------------ sparse coef
    @fill_doc
    def sparsify(self):
        """Convert ``coef_`` to a scipy CSR matrix (predictions unchanged), as scikit-learn's
        linear models do; :meth:`densify` undoes it.

        Returns
        -------
        self : LogisticRegression
            With ``coef_`` a ``scipy.sparse.csr_matrix`` of the same shape and dtype.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the model is not fitted.

        Examples
        --------
        {fitted_example}
        >>> before = clf.predict_proba(X)
        >>> clf.sparsify().coef_.format, bool((clf.predict_proba(X) == before).all())
        ('csr', True)
        """
        check_is_fitted(self)
        self.coef_ = sp.csr_matrix(self.coef_)
        return self

    @fill_doc
    def densify(self):
        """Convert a sparse ``coef_`` (after :meth:`sparsify`) back to a dense ndarray.

        Returns
        -------
        self : LogisticRegression
            With ``coef_`` an ndarray of the same shape and dtype (unchanged if it was
            dense).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the model is not fitted.

        Examples
        --------
        {fitted_example}
        >>> type(clf.sparsify().densify().coef_).__name__, clf.coef_.shape
        ('ndarray', (1, 2))
        """
        check_is_fitted(self)
        self.coef_ = _dense(self.coef_)
        return self

    # ------------------------------------------------------------------ extras
    @fill_doc
    def summary(self, X, y, sample_weight=None):
        """Coefficient table with standard errors, z-scores and p-values (binary models).

        ``X, y, sample_weight`` must be the training data (the model keeps no copy);
        class weights are applied as in :meth:`fit` (label smoothing does not change the
        Fisher information, which depends on the fitted probabilities only).  See
        :mod:`fastlogit.summary` for the covariance used (Fisher information = Hessian).

        Parameters
        ----------
        {X_train}
        y : array-like of shape (n_samples,)
            The training labels, the two classes of ``classes_`` (other classes raise
            ValueError).
        sample_weight : array-like of shape (n_samples,), default=None
            The training sample weights; None means 1 each.

        Returns
        -------
        fastlogit.summary.CoefficientSummary
            Per parameter (coefficients, then the intercept): ``coef``, ``std_err``, ``z``,
            ``p_values``, ``conf_int``; ``print`` shows the table.

        Raises
        ------
        ValueError
            For a multinomial model, ``focal_gamma`` or ``noise_transition`` (no log-loss
            likelihood), or y whose classes are not the model's.

        Examples
        --------
        {fitted_example}
        >>> table = clf.summary(X, y)
        >>> table.names, table.std_err.shape, bool((table.p_values > 0.05).all())
        (['x0', 'x1', 'intercept'], (3,), True)
        """
        from .summary import coefficient_summary

        check_is_fitted(self)
        if self.classes_.shape[0] != 2:
            raise ValueError("summary() supports binary models only")
        if self._uses_extras():
            raise ValueError("summary() needs the log-loss likelihood; not available with "
                             "focal_gamma or noise_transition")
        _, X, classes, _, sw, _ = self._validate_fit(X, y, sample_weight, reset=False)
        if not np.array_equal(classes, self.classes_):
            raise ValueError(f"y has classes {classes.tolist()}, the model "
                             f"{self.classes_.tolist()}")
        with warnings.catch_warnings():  # fit warned already
            warnings.simplefilter("ignore")
            penalty, C, _ = self._resolved_penalty()
        z = self._raw(X).astype(np.float64)
        p = _kernels.get("numpy").sigmoid(z)
        names = getattr(self, "feature_names_in_", None)
        return coefficient_summary(_dense(self.coef_)[0].astype(np.float64),
                                   float(self.intercept_[0]), p, X, sw, C=C, penalty=penalty,
                                   fit_intercept=self.fit_intercept, feature_names=names)



class FitPlan:
    """What a :class:`LogisticRegression`'s parameters make of a fit, for the package's
    drivers of many fits (:mod:`fastlogit.model_selection`'s paths and CV).

    The same parameter checks, data validation, objective builder and solver mapping as
    :meth:`LogisticRegression.fit` uses, so that every fit of a path minimises exactly the
    problem the estimator would, with its errors and warnings.  The estimator is read, never
    fitted.

    Parameters
    ----------
    estimator : LogisticRegression
        Carries the parameters (``C`` and ``l1_ratio`` are the drivers' own per fit).

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.estimator import FitPlan, LogisticRegression
    >>> plan = FitPlan(LogisticRegression(solver="liblinear"))
    >>> X, classes, Y, sw = plan.validate(np.array([[0.0], [1.0]]), ["a", "b"], None)
    >>> classes.tolist(), Y.tolist(), plan.liblinear_intercept
    (['a', 'b'], [0.0, 1.0], True)
    """

    def __init__(self, estimator):
        self.estimator = estimator

    def check_params(self):
        """Check the parameters that need no data (ValueError naming the problem); returns
        the KernelSet of ``backend``."""
        return self.estimator.check_params()

    def validate(self, X, y, sample_weight):
        """``(X, classes, Y, sw)`` as :meth:`LogisticRegression.fit` validates them: X CSR or
        C-ordered float32/64, ``Y`` and ``sw`` float64 with class weights and label smoothing
        applied (``sw`` None means ones).  Sets the estimator's ``n_features_in_``."""
        _, X, classes, Y, sw, _ = self.estimator._validate_fit(X, y, sample_weight)
        return X, classes, Y, sw

    def objective(self, design, Y, sw, C, penalty, l1_ratio, fit_intercept):
        """The objective the estimator minimises on ``design`` (a kernels Design) at ``C``:
        the focal / noise-corrected losses when asked for, else :class:`fastlogit.objective.
        Objective`; ``backend`` and ``n_threads`` from the estimator."""
        return self.estimator._objective(design, Y, sw, C, penalty, l1_ratio, fit_intercept)

    def solver_name(self, objective, n_classes):
        """The fastlogit solver ``solver`` names for ``objective`` (scikit-learn's names
        mapped, ``"auto"`` kept), or the ValueError the estimator raises."""
        return self.estimator._solver_name(objective, n_classes)

    @property
    def liblinear_intercept(self):
        """bool: the intercept is liblinear's penalised synthetic feature of value
        ``intercept_scaling``."""
        return self.estimator._liblinear_intercept()

    @property
    def uses_extras(self):
        """bool: the loss is the focal or the noise-corrected one (not the log loss)."""
        return self.estimator._uses_extras()


def _dense(coef):
    return coef.toarray() if sp.issparse(coef) else np.asarray(coef)


def with_constant_column(X, value):
    """X with a last column of ``value`` (CSR stays CSR), X's dtype."""
    n = X.shape[0]
    if sp.issparse(X):
        col = sp.csr_matrix(np.full((n, 1), value, dtype=X.dtype))
        return sp.hstack([X, col], format="csr", dtype=X.dtype)
    return np.ascontiguousarray(np.hstack([X, np.full((n, 1), value, dtype=X.dtype)]))
