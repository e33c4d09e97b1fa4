"""Streaming logistic regression: SGD epochs through the fused SGD kernels, with ``partial_fit``.

The objective is the per-sample (mean-loss) form of scikit-learn's ``SGDClassifier``::

    G(w, b) = 1/n sum_i s_i l(y_i, z_i) + alpha R(w)      (= F / (C n) with C = 1 / (alpha n))

with R as in docs/user_guide/objective.md (l2, l1, elasticnet, None).  The epochs,
the SGD state and the stopping rule are those of the stochastic driver
:mod:`fastlogit.stochastic` (each epoch one call of
:meth:`fastlogit.kernels.KernelSet.sgd_epoch`; algorithm and schedules in
:mod:`fastlogit.kernels.sgd_ref`); the estimator keeps the driver's
:class:`~fastlogit.stochastic.SGDState` (lazily scaled weights, step counter, averaging sums,
cumulative L1 penalties) between calls, which is what lets ``partial_fit`` continue a stream
exactly where the last batch stopped: feeding the same rows batch by batch gives the same
model as one epoch over their concatenation.
"""
import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from . import kernels as _kernels
from . import stochastic as _st
from ._docstring import fill_doc
from .base import store_params
from .estimator import LinearLogitOutputs
from .layout import Layout, NonFiniteError
from .objective import LogLossData, Objective
from .penalties import make_penalty
from .validation import (check_l1_ratio, check_max_iter, check_number, check_sample_weight,
                         check_tol, check_two_classes, class_weight_per_sample)

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
        :meth:`fit` stops by the stopping rule of :func:`fastlogit.stochastic.fit_epochs` with
        ``monitor="epoch_loss"``: when the epoch's objective (estimated from the losses seen
        during the epoch) has not improved on the best by ``tol`` *relative* for
        ``n_iter_no_change`` consecutive epochs; an epoch that ends above the starting
        objective, or diverges, restarts the fit with smaller steps.  None: run ``max_iter``
        epochs and evaluate nothing.
    n_iter_no_change : int, default=5
        Epochs without improvement before :meth:`fit` stops.
    shuffle : bool, default=True
        Visit the rows in a new random order every epoch.
    random_state : int, RandomState or None
        Seed of the shuffling; with a fixed seed and thread count a fit is deterministic.
    learning_rate : {"optimal", "invscaling", "constant"}, default="optimal"
        Step size of the t-th update: optimal: ``eta_t = 1 / (alpha (t0 + t - 1))`` with
        scikit-learn's heuristic ``t0``; invscaling: ``eta0 / t ** power_t``; constant:
        ``eta0``.  Another value raises ValueError.
    eta0 : float > 0, default=0.01
        Initial step size of "constant" and "invscaling" (ignored by "optimal", whose steps
        come from ``alpha``).
    power_t : float >= 0, default=0.5
        Exponent of the "invscaling" schedule (checked, unused by the others).
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
    backend : {"auto", "numpy", "numba", "cython"}, default="auto"
        Kernel implementation of the SGD epochs (:func:`fastlogit.kernels.get`), as in
        :class:`fastlogit.LogisticRegression`; an unknown or unavailable name raises
        ValueError.
    n_threads : int or None, default=None
        Threads of the kernels' passes over X (objective evaluations);
        None: :func:`fastlogit._config.effective_n_threads`.  The per-sample updates run in
        order, so with a fixed seed a fit is deterministic for a given thread count.

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
        store_params(self, locals())

    # ------------------------------------------------------------------ checks
    @fill_doc
    def check_params(self):
        """Check the constructor parameters that need no data, as :meth:`fit` and
        :meth:`partial_fit` do first; ValueError names the first bad one.
        :func:`fastlogit.load` runs it on a model file's stored parameters.

        Returns
        -------
        {check_params_returns}

        Examples
        --------
        >>> from fastlogit import SGDLogisticRegression
        >>> SGDLogisticRegression(learning_rate="fast").check_params()
        Traceback (most recent call last):
        ...
        ValueError: unknown learning_rate 'fast'; choose 'optimal', 'invscaling' or 'constant'
        """
        check_number("alpha", self.alpha)
        if self.penalty not in _PENALTIES:
            raise ValueError(f"unknown penalty {self.penalty!r}; choose one of {_PENALTIES}")
        if self.penalty == "elasticnet":
            check_l1_ratio(self.l1_ratio)
        check_max_iter(self.max_iter)
        if self.tol is not None:
            check_tol(self.tol)
        if not isinstance(self.n_iter_no_change, numbers.Integral) or self.n_iter_no_change < 1:
            raise ValueError(f"n_iter_no_change must be a positive integer, "
                             f"got {self.n_iter_no_change!r}")
        if self.learning_rate not in ("optimal", "invscaling", "constant"):
            raise ValueError(f"unknown learning_rate {self.learning_rate!r}; choose 'optimal', "
                             "'invscaling' or 'constant'")
        if self.learning_rate != "optimal":
            check_number("eta0", self.eta0)
        check_number("power_t", self.power_t, strict=False)
        if not isinstance(self.average, (bool, np.bool_, numbers.Integral)) or self.average < 0:
            raise ValueError(f"average must be a bool or a non-negative int, got {self.average!r}")
        return _kernels.get(self.backend)

    def _penalty(self):
        return make_penalty(self.penalty, self.l1_ratio if self.penalty == "elasticnet" else None)

    def _schedule(self):
        eta0 = None if self.learning_rate == "optimal" else float(self.eta0)
        return _st.Schedule(self.learning_rate, alpha=float(self.alpha), eta0=eta0,
                            power_t=float(self.power_t))

    def _average_start(self):
        """First averaged step: after ``average`` samples (an int), from the first (True)."""
        if not self.average:
            return 0
        return 1 if self.average is True else int(self.average) + 1

    def _new_state(self, layout, theta=None):
        return _st.SGDState(layout, theta, average_start=self._average_start(),
                            l1=bool(self._penalty().l1_strength))

    def _publish(self, dtype):
        """coef_/intercept_ from the optimiser state (averaged once averaging has begun)."""
        state = self._sgd
        lay = state.layout
        T = lay.rows(state.iterate())
        d = lay.n_features
        self.coef_ = np.ascontiguousarray(T[:, :d], dtype=dtype)
        b = T[:, d] if lay.fit_intercept else np.zeros(lay.n_classes)
        self.intercept_ = np.asarray(b, dtype=dtype).copy()
        self.t_ = state.t

    # ------------------------------------------------------------------ data
    def _validate(self, X, y, sample_weight, reset):
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=[np.float64, np.float32],
                             order="C", reset=reset, accept_large_sparse=True)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        # LogisticRegression's check and messages; a partial_fit batch may weigh nothing
        sw = check_sample_weight(sample_weight, X.shape[0], allow_all_zero=not reset)
        return X, y, np.ones(X.shape[0]) if sw is None else sw

    def _data(self, X, y, sw, classes, kernels):
        """The in-memory log-loss data term: targets (n,) binary or one-hot (n, K), sample
        weights times class weights (None when all ones)."""
        index = np.searchsorted(classes, y)
        index = np.clip(index, 0, classes.shape[0] - 1)
        if np.any(classes[index] != y):
            unknown = sorted(set(np.unique(y).tolist()) - set(classes.tolist()))
            raise ValueError(f"y contains labels {unknown} not in classes_ {classes.tolist()}")
        k = classes.shape[0]
        if k == 2:
            Y = (index == 1).astype(np.float64)
        else:
            Y = np.zeros((X.shape[0], k))
            Y[np.arange(X.shape[0]), index] = 1.0
        cw = class_weight_per_sample(self.class_weight, classes, Y, sw)
        if cw is not None:
            sw = sw * cw
        sw = None if np.all(sw == 1.0) else sw
        return LogLossData.trusted(_kernels.as_design(X), Y, sw, bool(self.fit_intercept),
                                   kernels, self.n_threads)

    # ------------------------------------------------------------------ API
    @fill_doc
    def fit(self, X, y, sample_weight=None):
        """Run up to ``max_iter`` epochs over (X, y) from a fresh (or warm) start, under the
        driver's stopping rule (see ``tol``).

        Parameters
        ----------
        {X_train}
        y : array-like of shape (n_samples,)
            Class labels, at least two classes.
        {sample_weight}

        Returns
        -------
        self
            The fitted estimator (``n_iter_`` epochs run).

        Examples
        --------
        >>> import numpy as np
        >>> from fastlogit import SGDLogisticRegression
        >>> rng = np.random.default_rng(0)
        >>> X = rng.standard_normal((200, 3))
        >>> y = (X[:, 0] - X[:, 1] > 0).astype(int)
        >>> clf = SGDLogisticRegression(alpha=1e-3, random_state=0).fit(X, y)
        >>> clf.coef_.shape, bool(clf.score(X, y) > 0.9), 1 <= int(clf.n_iter_[0]) <= clf.max_iter
        ((1, 3), True, True)
        """
        kernels = self.check_params()
        X, y, sw = self._validate(X, y, sample_weight, reset=True)
        classes = np.unique(y)
        check_two_classes(classes)
        k = 1 if classes.shape[0] == 2 else classes.shape[0]
        warm = (self.warm_start and hasattr(self, "coef_")
                and self.coef_.shape == (k, X.shape[1])
                and np.array_equal(getattr(self, "classes_", None), classes))
        data = self._data(X, y, sw, classes, kernels)
        self.classes_ = classes
        lay = data.layout
        theta0 = lay.join(self.coef_, self.intercept_) if warm else lay.zeros()
        penalty = self._penalty()
        n = X.shape[0]
        objective = Objective(data, C=1.0 / (float(self.alpha) * n), penalty=penalty)
        opt = _st.SGD(data, theta0, self._schedule(), penalty, float(self.alpha),
                      check_random_state(self.random_state),
                      average_start=self._average_start(), shuffle=self.shuffle,
                      n_threads=self.n_threads)
        result = _st.fit_epochs(objective, theta0, opt, name="SGDLogisticRegression",
                                tol=self.tol, max_iter=self.max_iter,
                                n_iter_no_change=self.n_iter_no_change, monitor="epoch_loss",
                                verbose=self.verbose, keep_best=False)
        self._sgd = opt.state
        self.n_iter_ = np.array([result.n_iter], dtype=np.int32)
        self._publish(data.dtype)
        return self

    @fill_doc
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over the batch (X, y), continuing the optimiser state of earlier calls.

        Parameters
        ----------
        {X_train}
        y : array-like of shape (n_samples,)
            Class labels of the batch, all among ``classes``.
        classes : array-like of shape (n_classes,), default=None
            Every label of the stream: required on the first call, and must agree with
            ``classes_`` afterwards; labels outside it raise ``ValueError``.
        {sample_weight}

        Returns
        -------
        self
            The estimator, one epoch further.

        Examples
        --------
        >>> import numpy as np
        >>> from fastlogit import SGDLogisticRegression
        >>> rng = np.random.default_rng(0)
        >>> X = rng.standard_normal((300, 3))
        >>> y = np.array(["low", "high"])[(X[:, 0] > 0).astype(int)]
        >>> clf = SGDLogisticRegression(alpha=1e-3, random_state=0)
        >>> for batch in np.array_split(np.arange(300), 3):  # a stream of three batches
        ...     clf = clf.partial_fit(X[batch], y[batch], classes=["low", "high"])
        >>> clf.classes_.tolist(), bool(clf.score(X, y) > 0.9)
        (['high', 'low'], True)
        """
        kernels = self.check_params()
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
        data = self._data(X, y, sw, self.classes_, kernels)
        if first:
            self._sgd = self._new_state(data.layout)
        elif not hasattr(self, "_sgd"):  # a loaded model: rebuild the state from coef_
            lay = Layout(X.shape[1], self.coef_.shape[0], bool(self.fit_intercept))
            self._sgd = self._new_state(lay, lay.join(self.coef_, self.intercept_))
            self._sgd.vec[1] = getattr(self, "t_", 0.0)
        loss = _st.sample_epoch(_st.row_source(data), self._sgd, self._schedule(),
                                self._penalty(), float(self.alpha), self._rng(),
                                shuffle=self.shuffle, n_threads=self.n_threads)
        if not (np.isfinite(loss) and np.isfinite(self._sgd.W).all()):
            raise NonFiniteError("SGD diverged (non-finite loss or weights); lower eta0, "
                                     "raise alpha, or scale the features")
        self.n_iter_ = np.array([1], dtype=np.int32)
        self._publish(X.dtype)
        return self

    def _rng(self):
        if not hasattr(self, "_stream_rng"):
            self._stream_rng = check_random_state(self.random_state)
        return self._stream_rng
