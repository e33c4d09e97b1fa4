"""Streaming logistic regression: SGD epochs through the fused SGD kernels, with ``partial_fit``.

The objective is the per-sample (mean-loss) form of scikit-learn's ``SGDClassifier``::

    G(w, b) = 1/n sum_i s_i l(y_i, z_i) + alpha R(w)      (= F / (C n) with C = 1 / (alpha n))

with R as in docs/user_guide/objective.md (l2, l1, elasticnet with ``l1_ratio``, None).  Each epoch
is one call of :meth:`fastlogit.kernels.KernelSet.sgd_epoch` (algorithm and schedules in
:mod:`fastlogit.kernels.sgd_ref`); the estimator owns the optimiser state (lazily scaled
weights, step counter, averaging sums, cumulative L1 penalties) between calls, which is what
lets ``partial_fit`` continue a stream exactly where the last batch stopped: feeding the same
rows batch by batch gives the same model as one epoch over their concatenation.
"""
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state, column_or_1d, compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, validate_data

from . import kernels as _kernels
from .estimator import LinearLogitOutputs
from .solvers import ConvergenceWarning

__all__ = ["SGDLogisticRegression"]

_PENALTIES = ("l2", "l1", "elasticnet", None)


class SGDLogisticRegression(LinearLogitOutputs, ClassifierMixin, BaseEstimator):
    """Logistic regression by stochastic gradient descent; binary and multinomial.

    Parameters
    ----------
    penalty : {"l2", "l1", "elasticnet", None}, default="l2"
        The penalty R(w) on the coefficients (never on the intercept), as defined in
        docs/user_guide/objective.md.
    alpha : float > 0, default=1e-4
        Regularisation strength of the mean-loss objective (module docstring).
    l1_ratio : float in [0, 1], default=0.15
        Elastic-net mixing r (used by "elasticnet" only).
    fit_intercept : bool, default=True
        Whether to fit an (unpenalised) intercept.
    max_iter : int >= 1, default=1000
        Epochs of :meth:`fit`.
    tol : float or None, default=1e-3
        :meth:`fit` stops when the epoch's mean loss has not improved on the best by ``tol``
        for ``n_iter_no_change`` consecutive epochs (None: run ``max_iter`` epochs).
    n_iter_no_change : int, default=5
        Epochs without improvement before :meth:`fit` stops.
    shuffle : bool, default=True
        Visit the rows in a new random order every epoch.
    random_state : int, RandomState or None
        Seed of the shuffling; with a fixed seed and thread count a fit is deterministic.
    learning_rate : {"optimal", "invscaling", "constant"}, default="optimal"
        optimal: ``eta_t = 1 / (alpha (t0 + t - 1))`` with scikit-learn's heuristic ``t0``.
    eta0 : float, default=0.01 (constant / invscaling)
    power_t : float, default=0.5 (invscaling)
    average : bool or int, default=False
        Polyak-Ruppert averaging; an int starts averaging after that many samples.
    class_weight : dict, "balanced" or None
        Per-class factors multiplied into the sample weights ("balanced" not with
        ``partial_fit``).
    warm_start : bool, default=False
        :meth:`fit` continues from the previous coefficients and optimiser state (same
        shape and classes) instead of zeros.
    verbose : int, default=0
        Print one line per epoch when positive.
    backend, n_threads : as :class:`fastlogit.LogisticRegression`

    Attributes
    ----------
    coef_, intercept_, classes_, n_features_in_ : as LogisticRegression
    n_iter_ : ndarray of shape (1,), epochs of the last :meth:`fit` (partial_fit counts 1 each)
    t_ : float, samples seen by the optimiser (its step counter)

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import StandardScaler
    >>> from fastlogit import SGDLogisticRegression
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> clf = SGDLogisticRegression(alpha=1e-3, random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.95
    True
    >>> clf.partial_fit(X[:100], y[:100]).coef_.shape
    (1, 30)
    """

    _persisted_scalars = ("t_",)

    def __init__(self, penalty="l2", *, alpha=1e-4, l1_ratio=0.15, fit_intercept=True,
                 max_iter=1000, tol=1e-3, n_iter_no_change=5, shuffle=True, random_state=None,
                 learning_rate="optimal", eta0=0.01, power_t=0.5, average=False,
                 class_weight=None, warm_start=False, verbose=0, backend="auto",
                 n_threads=None):
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.shuffle = shuffle
        self.random_state = random_state
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.average = average
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.verbose = verbose
        self.backend = backend
        self.n_threads = n_threads

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # ------------------------------------------------------------------ checks
    def _check_params(self):
        def real(name, value, low, strict=True):
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(
                value) and (value > low if strict else value >= low)
            if not ok:
                raise ValueError(f"{name} must be a finite number {'>' if strict else '>='} "
                                 f"{low}, got {value!r}")

        real("alpha", self.alpha, 0)
        if self.penalty not in _PENALTIES:
            raise ValueError(f"unknown penalty {self.penalty!r}; choose one of {_PENALTIES}")
        if self.penalty == "elasticnet":
            real("l1_ratio", self.l1_ratio, 0, strict=False)
            if self.l1_ratio > 1:
                raise ValueError(f"l1_ratio must lie in [0, 1], got {self.l1_ratio!r}")
        if not isinstance(self.max_iter, numbers.Integral) or self.max_iter < 1:
            raise ValueError(f"max_iter must be a positive integer, got {self.max_iter!r}")
        if self.tol is not None:
            real("tol", self.tol, 0, strict=False)
        if not isinstance(self.n_iter_no_change, numbers.Integral) or self.n_iter_no_change < 1:
            raise ValueError(f"n_iter_no_change must be a positive integer, "
                             f"got {self.n_iter_no_change!r}")
        if self.learning_rate not in ("optimal", "invscaling", "constant"):
            raise ValueError(f"unknown learning_rate {self.learning_rate!r}; choose 'optimal', "
                             "'invscaling' or 'constant'")
        if self.learning_rate != "optimal":
            real("eta0", self.eta0, 0)
        real("power_t", self.power_t, 0, strict=False)
        if not isinstance(self.average, (bool, np.bool_, numbers.Integral)) or self.average < 0:
            raise ValueError(f"average must be a bool or a non-negative int, got {self.average!r}")
        return _kernels.get(self.backend)

    def _strengths(self):
        r = float(self.l1_ratio) if self.penalty == "elasticnet" else 0.0
        l1, l2 = {"l2": (0.0, 1.0), "l1": (1.0, 0.0), None: (0.0, 0.0),
                  "elasticnet": (r, 1.0 - r)}[self.penalty]
        return self.alpha * l1, self.alpha * l2

    def _t0(self):
        # scikit-learn's "optimal" heuristic: a typical weight 1/sqrt(sqrt(alpha)) taken as the
        # first step size (the log-loss derivative is bounded by 1).
        typical_w = np.sqrt(1.0 / np.sqrt(self.alpha))
        return 1.0 / (typical_w * self.alpha)

    # ------------------------------------------------------------------ state
    def _init_state(self, n_features, k, coef=None, intercept=None):
        self._W = np.zeros((n_features, k))
        self._b = np.zeros(k)
        if coef is not None:
            self._W[:] = np.asarray(coef, dtype=np.float64).T
            self._b[:] = intercept
        averaging = bool(self.average)
        self._avg_W = np.zeros((n_features, k)) if averaging else None
        self._avg_b = np.zeros(k) if averaging else None
        lam1, _ = self._strengths()
        self._q = np.zeros((n_features, k)) if lam1 > 0 else None
        self._state = np.array([1.0, 0.0, 0.0, 0.0, 0.0])  # scale, t, beta, count, u

    def _publish(self, dtype):
        """coef_/intercept_ from the optimiser state (averaged once averaging has begun)."""
        scale, _, beta, count, _ = self._state
        if self._avg_W is not None and count > 0:
            W = (self._avg_W + beta * self._W) / count
            b = self._avg_b / count
        else:
            W = scale * self._W
            b = self._b
        self.coef_ = np.ascontiguousarray(W.T, dtype=dtype)
        self.intercept_ = np.asarray(b, dtype=dtype).copy()
        self.t_ = float(self._state[1])

    def _epoch(self, kernels, design, Y, sw, order):
        lam1, lam2 = self._strengths()
        average_start = (1 if self.average is True else int(self.average) + 1) \
            if self.average else 1
        return kernels.sgd_epoch(
            design, Y, sw, order, self._W, self._b, self._state, avg_W=self._avg_W,
            avg_b=self._avg_b, q=self._q, schedule=self.learning_rate, eta0=float(self.eta0),
            power_t=float(self.power_t), alpha=float(self.alpha), t0=self._t0(), lam2=lam2,
            lam1=lam1, fit_intercept=bool(self.fit_intercept), average_start=average_start,
            n_threads=self.n_threads)

    # ------------------------------------------------------------------ data
    def _validate(self, X, y, sample_weight, reset):
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=[np.float64, np.float32],
                             order="C", reset=reset, accept_large_sparse=True)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        sw = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        return X, y, sw

    def _targets(self, X, y, sw, classes):
        """One-hot Y in X's dtype ((n, 1) binary), and sample weights with class weights."""
        index = np.searchsorted(classes, y)
        index = np.clip(index, 0, classes.shape[0] - 1)
        if np.any(classes[index] != y):
            unknown = sorted(set(np.unique(y).tolist()) - set(classes.tolist()))
            raise ValueError(f"y contains labels {unknown} not in classes_ {classes.tolist()}")
        k = classes.shape[0]
        if k == 2:
            Y = (index == 1).astype(X.dtype)[:, None]
        else:
            Y = np.zeros((X.shape[0], k), dtype=X.dtype)
            Y[np.arange(X.shape[0]), index] = 1
        if self.class_weight is not None:
            cw = compute_class_weight(self.class_weight, classes=classes, y=y, sample_weight=sw)
            sw = sw * np.asarray(cw, dtype=np.float64)[index]
        sw_arg = None if np.all(sw == 1.0) else np.ascontiguousarray(sw, dtype=X.dtype)
        return np.ascontiguousarray(Y), sw_arg

    # ------------------------------------------------------------------ API
    def fit(self, X, y, sample_weight=None):
        """Run up to ``max_iter`` epochs over (X, y) from a fresh (or warm) start."""
        kernels = self._check_params()
        X, y, sw = self._validate(X, y, sample_weight, reset=True)
        classes = np.unique(y)
        if classes.shape[0] < 2:
            raise ValueError("This solver needs samples of at least 2 classes in the data, "
                             f"but the data contains only one class: {classes[0]!r}")
        k = 1 if classes.shape[0] == 2 else classes.shape[0]
        warm = (self.warm_start and hasattr(self, "coef_")
                and self.coef_.shape == (k, X.shape[1])
                and np.array_equal(getattr(self, "classes_", None), classes))
        self._init_state(X.shape[1], k, *((self.coef_, self.intercept_) if warm else ()))
        self.classes_ = classes
        Y, sw_arg = self._targets(X, y, sw, classes)
        design = _kernels.as_design(X)
        rng = check_random_state(self.random_state)
        n = X.shape[0]
        best, stall, epochs = np.inf, 0, 0
        order = np.arange(n, dtype=np.int64)
        total_weight = float(sw.sum()) or 1.0
        for epochs in range(1, self.max_iter + 1):
            if self.shuffle:
                rng.shuffle(order)
            mean_loss = self._epoch(kernels, design, Y, sw_arg, order) / total_weight
            if self.verbose:
                print(f"-- epoch {epochs}: mean loss {mean_loss:.6g}, t = {self._state[1]:.0f}")
            if not np.isfinite(mean_loss):
                raise ValueError("SGD diverged (non-finite loss); lower eta0 or raise alpha")
            if self.tol is not None:
                stall = stall + 1 if mean_loss > best - self.tol else 0
                best = min(best, mean_loss)
                if stall >= self.n_iter_no_change:
                    break
        else:
            if self.tol is not None and self.max_iter > 1:
                warnings.warn(f"SGD did not converge in max_iter={self.max_iter} epochs "
                              f"(mean loss {mean_loss:.6g}); raise max_iter", ConvergenceWarning)
        self.n_iter_ = np.array([epochs], dtype=np.int32)
        self._publish(design.dtype)
        return self

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over the batch (X, y), continuing the optimiser state of earlier calls.

        ``classes`` (all labels of the stream) is required on the first call and must agree
        with ``classes_`` afterwards; labels outside it raise ``ValueError``.
        """
        kernels = self._check_params()
        first = not hasattr(self, "classes_")
        if self.class_weight == "balanced":
            raise ValueError("class_weight='balanced' needs the whole data; pass a dict for "
                             "partial_fit")
        if first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
            classes = np.unique(np.asarray(classes))
            if classes.shape[0] < 2:
                raise ValueError(f"classes must hold at least 2 labels, got {classes.tolist()}")
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes {np.unique(classes).tolist()} differ from those of the "
                             f"first partial_fit call {self.classes_.tolist()}")
        X, y, sw = self._validate(X, y, sample_weight, reset=first)
        if first:
            self.classes_ = classes
            k = 1 if classes.shape[0] == 2 else classes.shape[0]
            self._init_state(X.shape[1], k)
        elif not hasattr(self, "_state"):  # a loaded model: rebuild the state from coef_
            self._init_state(X.shape[1], self.coef_.shape[0], self.coef_, self.intercept_)
            self._state[1] = getattr(self, "t_", 0.0)
        Y, sw_arg = self._targets(X, y, sw, self.classes_)
        order = np.arange(X.shape[0], dtype=np.int64)
        if self.shuffle:
            self._rng().shuffle(order)
        self._epoch(kernels, _kernels.as_design(X), Y, sw_arg, order)
        self.n_iter_ = np.array([1], dtype=np.int32)
        self._publish(X.dtype)
        return self

    def _rng(self):
        if not hasattr(self, "_stream_rng"):
            self._stream_rng = check_random_state(self.random_state)
        return self._stream_rng
