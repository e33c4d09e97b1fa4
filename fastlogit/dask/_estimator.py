"""The Dask estimator: fastlogit's LogisticRegression API over a dask array of row blocks.

Validation is :mod:`fastlogit.validation`'s, as for the in-memory estimator: parameters on
the client before any work; labels through their classes (computed on the workers, checked
on the client: NaN / inf, continuous, fewer than two classes); sample weights and every X
block checked on the workers as the blocks are read (NaN / inf in X: "Input X contains
NaN."); prediction on a dask X of the wrong width refused on the client before any work.
The valid solvers are derived from the solvers' declarations
(:func:`fastlogit.solvers.solvers_for` with what Dask data offers), plus "local-sgd".
"""
import warnings

import numpy as np
import dask.array as da
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from .. import kernels as _kernels
from .._docstring import filler
from ..base import store_params
from ..estimator import (LinearLogitOutputs, check_known_labels, class_labels,
                         class_log_probabilities, class_probabilities)
from ..penalties import PENALTY_NAMES, Penalty, make_penalty
from ..validation import (check_C, check_classes, check_finite_X, check_l1_ratio,
                          check_max_iter, check_n_features, check_n_threads,
                          check_sample_weight, check_tol, class_weight_per_sample,
                          resolve_penalty)
from ._data import OFFERED_METHODS, DaskObjective, as_block, as_row_blocks
from ._local_sgd import local_sgd
from ._transport import client_or_current

__all__ = ["LogisticRegression"]

_LOCAL_SGD = "local-sgd"


def _encode_labels(y, classes):
    """Labels -> (n,) {0, 1} (two classes) or (n, K) one-hot; unknown labels are an error."""
    y = np.asarray(y).reshape(-1)
    idx = np.searchsorted(classes, y)
    idx = np.minimum(idx, len(classes) - 1)
    if y.size and not np.array_equal(classes[idx], y):
        raise ValueError(f"labels {sorted(set(y.tolist()) - set(classes.tolist()))[:5]} not in "
                         f"classes {classes.tolist()}")
    if len(classes) == 2:
        return (idx == 1).astype(np.float64)
    Y = np.zeros((y.size, len(classes)))
    Y[np.arange(y.size), idx] = 1.0
    return Y


def _checked_weights(s):
    """A block of sample weights through :func:`fastlogit.validation.check_sample_weight`."""
    s = np.asarray(s, dtype=np.float64).reshape(-1)
    return check_sample_weight(s, s.shape[0])


def _known_labels_block(y, classes):
    """A block of labels, checked by :func:`fastlogit.estimator.check_known_labels`."""
    check_known_labels(y, classes)
    return y


def _class_index(y, classes):
    """Index of each label of a block in ``classes`` (sorted)."""
    return np.searchsorted(classes, np.asarray(y).reshape(-1))


def _class_weight_block(y, classes, cw, s):
    w = cw[np.searchsorted(classes, np.asarray(y).reshape(-1))]
    return w if s is None else w * np.asarray(s, dtype=np.float64).reshape(-1)


def _decision_block(X, coef, intercept):
    X = check_finite_X(as_block(X))
    Z = np.asarray(X @ coef.T, dtype=np.float64) + intercept
    return Z[:, 0] if coef.shape[0] == 1 else Z


def dask_solvers(penalty):
    """Names of the solvers that fit ``penalty`` on Dask data, sorted: the declared solvers
    whose needs Dask data offers (:data:`fastlogit.dask._data.OFFERED_METHODS`), plus
    "local-sgd" (any penalty, through :mod:`fastlogit.stochastic`)."""
    from ..solvers import solvers_for

    names = solvers_for(nonsmooth=not penalty.is_smooth, methods=OFFERED_METHODS)
    return sorted(names + [_LOCAL_SGD])


def check_dask_solver(name, penalty):
    """``name`` ("auto", "local-sgd" or a solver of :data:`fastlogit.solvers.SOLVERS`) when it
    fits ``penalty`` on Dask data, else ValueError naming the reason (from the solver's
    declaration, :func:`fastlogit.solvers.why_not`) and the valid ones."""
    from ..solvers import INFO, why_not

    if name == "local_sgd":
        name = _LOCAL_SGD
    valid = dask_solvers(penalty)
    if name == "auto" or name in valid:
        return name
    if name not in INFO:
        every = dask_solvers(make_penalty("l2"))  # (every solver that handles L1 handles L2)
        raise ValueError(f"unknown solver {name!r}; choose 'auto' or one of "
                         + ", ".join(map(repr, every)))
    why = why_not(name, (OFFERED_METHODS, not penalty.is_smooth, True))
    raise ValueError(f"solver {name!r} does not support penalty={penalty.name!r} on Dask data: "
                     f"it {why}; use one of " + ", ".join(map(repr, valid)))


#: The data entry of the prediction methods' docstrings (:func:`fastlogit._docstring.filler`).
_fill_doc = filler({"X_predict": """\
X : dask.array.Array or {array-like, sparse matrix} of shape (n_samples, n_features)
    Row blocks dense NumPy or scipy.sparse CSR (lazy result, computed block by block on
    the workers); in-memory data gives a NumPy result, as the in-memory estimator's.""",
                      "dask_example": """\
>>> import numpy as np
>>> import dask.array as da
>>> from distributed import Client
>>> from fastlogit.dask import LogisticRegression
>>> X = np.array([[-2.0, 1.0], [-1.0, -1.0], [1.0, 1.0], [2.0, -1.0]] * 25)
>>> y = np.array(["no", "no", "yes", "yes"] * 25)
>>> dX, dy = da.from_array(X, chunks=(50, 2)), da.from_array(y, chunks=50)
>>> client = Client(processes=False, n_workers=1, dashboard_address=":0")"""})


class LogisticRegression(LinearLogitOutputs, ClassifierMixin, BaseEstimator):
    """Logistic regression fitted on a Dask cluster; the estimator API of fastlogit's.

    ``fit`` takes dask arrays (row blocks: dense NumPy or scipy.sparse CSR; labels and
    sample weights with the same row chunks) or in-memory data (split into row blocks of
    100 000); the blocks are persisted on the workers once and each solver iteration moves
    only theta-sized vectors (see :mod:`fastlogit.dask`).  Prediction methods accept
    in-memory data (NumPy results) or dask arrays (lazy dask results, computed block by
    block on the workers).

    Parameters
    ----------
    penalty : {"l2", "l1", "elasticnet", None}, a :class:`fastlogit.penalties.Penalty`, or
        "deprecated" (the default)
        As for :class:`fastlogit.LogisticRegression` (scikit-learn >= 1.8's rules,
        :func:`fastlogit.validation.resolve_penalty`): by default ``l1_ratio`` and ``C``
        decide the penalty.  A Penalty object (any, e.g. one of your own) is used as it is,
        with ``C`` (finite).  The penalty is applied on the client to the sums the workers
        return, so every penalty works on Dask data.
    C : float > 0 or np.inf, default=1.0
        ``np.inf``: no penalty.
    l1_ratio : float in [0, 1], default=0.0
        0 -> L2, 1 -> L1 (fit with solver "l1"), between -> elastic net.
    fit_intercept : bool, default=True
        Whether to fit an (unpenalised) intercept.
    tol : float >= 0, default=1e-4
        Stopping rule ``||grad F||_inf <= tol * max(1, ||grad F(0)||_inf)``.
    max_iter : int >= 0, default=100
        ``0``: the start (zeros) is returned with a ConvergenceWarning, as in memory.
    class_weight : dict, "balanced" or None, default=None
        Per-class factors multiplied into the sample weights; "balanced" gives class k the
        weight ``n / (K n_k)`` with the (weighted) class counts computed on the workers.
    verbose : int, default=0
        Print one line per solver iteration when positive.
    random_state : int or None
        Seeds "local-sgd".
    solver : str, default="lbfgs"
        "auto" (:func:`fastlogit.solvers.choose_solver`), a solver of
        :data:`fastlogit.solvers.SOLVERS` whose declared needs Dask data offers ("lbfgs",
        "newton-cg", "trust-region", "newton-cholesky"; "l1" for a penalty with an L1 part),
        or "local-sgd" (:func:`fastlogit.dask.local_sgd`).  :func:`dask_solvers` lists them.
    solver_options : dict or None
        Extra keyword arguments of the solver (e.g. ``{"local_epochs": 2}``).
    backend, n_threads
        Kernel backend and thread count on each worker.
    client : distributed.Client or None
        The current client when None.
    split_every : int, default=8
        Fan-in of the tree reductions.
    timeout : float or None
        Seconds to wait for one distributed call before ``TimeoutError``.
    transport : {"auto", "actors", "tasks"}, default="auto"
        How each call reaches the workers (see :mod:`fastlogit.dask._transport`).

    Attributes
    ----------
    coef_, intercept_, classes_, n_features_in_, n_iter_, converged_, solver_, fit_result_
        As in :class:`fastlogit.LogisticRegression`.
    bytes_sent_ : int
        Client-side bytes (vectors out to the workers, results back) during the fit.
    n_rebuilds_ : int
        Times the actors were rebuilt during the fit because a worker was lost.

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> from distributed import Client
    >>> from sklearn.datasets import make_classification
    >>> import fastlogit
    >>> from fastlogit.dask import LogisticRegression
    >>> X, y = make_classification(n_samples=400, n_features=5, random_state=0)
    >>> with Client(processes=False, n_workers=1, dashboard_address=None):
    ...     dX, dy = da.from_array(X, chunks=(100, 5)), da.from_array(y, chunks=100)
    ...     clf = LogisticRegression(C=1.0, tol=1e-8).fit(dX, dy)
    >>> local = fastlogit.LogisticRegression(C=1.0, tol=1e-8).fit(X, y)
    >>> bool(np.allclose(clf.coef_, local.coef_, atol=1e-5)), clf.bytes_sent_ > 0
    (True, True)
    """

    def __init__(self, penalty="deprecated", *, C=1.0, l1_ratio=0.0, fit_intercept=True, tol=1e-4,
                 max_iter=100, class_weight=None, verbose=0, random_state=None,
                 solver="lbfgs", solver_options=None, backend="auto", n_threads=None,
                 client=None, split_every=8, timeout=None, transport="auto"):
        store_params(self, locals())

    # ------------------------------------------------------------------ checks
    def _check_params(self):
        """(C, tol, max_iter, Penalty, solver name), checked on the client before any work
        with the in-memory estimator's checks and messages (:mod:`fastlogit.validation`)."""
        check_C(self.C, allow_inf=True)
        if self.l1_ratio is not None:
            check_l1_ratio(self.l1_ratio)
        tol = check_tol(self.tol)
        max_iter = check_max_iter(self.max_iter, allow_zero=True)
        check_n_threads(self.n_threads)
        if isinstance(self.penalty, Penalty):
            penalty, C = self.penalty, check_C(self.C)
        elif self.penalty not in ("deprecated",) + PENALTY_NAMES:
            raise ValueError(f"unknown penalty {self.penalty!r}; choose one of "
                             f"{PENALTY_NAMES} (deprecated: use l1_ratio and C)")
        else:
            name, C, l1_ratio = resolve_penalty(self.penalty, self.C, self.l1_ratio)
            penalty = make_penalty(name, l1_ratio)
        if not isinstance(self.solver, str):
            raise ValueError(f"solver must be a string, got {self.solver!r}")
        _kernels.get(self.backend)  # ValueError naming an unknown backend
        return C, tol, max_iter, penalty, check_dask_solver(self.solver, penalty)

    def _class_weights(self, y, classes, sample_weight):
        """Per-class weights (K,) float64 by :func:`fastlogit.validation.class_weight_per_sample`
        (the in-memory rules and messages), given one sample per class weighing the class's
        total weight ("balanced" counts the weighted classes on the workers)."""
        k = classes.shape[0]
        mass = None
        if isinstance(self.class_weight, str) and self.class_weight == "balanced":
            idx = y.map_blocks(_class_index, classes, dtype=np.intp)
            mass, = self._compute(da.bincount(idx, weights=sample_weight, minlength=k))
        one_per_class = np.array([0.0, 1.0]) if k == 2 else np.eye(k)
        return class_weight_per_sample(self.class_weight, classes, one_per_class, mass)

    def _compute(self, *collections):
        """The values of dask collections, computed on the cluster of ``client`` (the
        current one when None), never on the client machine."""
        client = client_or_current(self.client)
        return client.gather(client.compute(list(collections)))

    @staticmethod
    def _aligned_targets(X, y, sample_weight):
        """(y, sample_weight) as 1-D dask arrays with X's row chunks (weights None or checked
        block by block where they are read, :func:`fastlogit.validation.check_sample_weight`);
        ValueError for a wrong shape, or in-memory targets when X's row chunks are unknown."""
        chunks = X.chunks[0]
        known = not any(np.isnan(c) for c in chunks)
        if not isinstance(y, da.Array):
            y = np.asarray(y).reshape(-1)
            if not known:
                raise ValueError("y must be a dask array when X's row chunks are unknown")
            if y.shape[0] != X.shape[0]:
                raise ValueError(f"X has {X.shape[0]} samples but y has {y.shape[0]}")
            y = da.from_array(y, chunks=(chunks,))
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ValueError(f"y must be 1-dimensional, got shape {y.shape}")
        if sample_weight is not None:
            if not isinstance(sample_weight, da.Array):
                if not known:
                    raise ValueError("sample_weight must be a dask array when X's row chunks "
                                     "are unknown")
                sample_weight = da.from_array(check_sample_weight(sample_weight, X.shape[0]),
                                              chunks=(chunks,))
            else:
                sample_weight = sample_weight.map_blocks(_checked_weights, dtype=np.float64)
        return y, sample_weight

    def _labels(self, X, y, sample_weight):
        """(classes, encoded labels, sample weights): dask arrays with X's row chunks; the
        weight blocks are checked (:func:`fastlogit.validation.check_sample_weight`) where
        they are read."""
        y, sample_weight = self._aligned_targets(X, y, sample_weight)
        if sample_weight is None:
            labels, = self._compute(da.unique(y))
        else:  # one pass: the labels, and the weights checked block by block and summed
            labels, total = self._compute(da.unique(y), sample_weight.sum())
            check_sample_weight(np.array([total]), 1, allow_all_zero=False)
        classes = check_classes(np.unique(np.asarray(labels)))
        k = classes.shape[0]
        if k == 2:
            Y = y.map_blocks(_encode_labels, classes, dtype=np.float64)
        else:
            Y = y.map_blocks(_encode_labels, classes, dtype=np.float64, new_axis=1,
                             chunks=(y.chunks[0], (k,)))
        if self.class_weight is not None:
            cw = self._class_weights(y, classes, sample_weight)
            if sample_weight is None:
                sample_weight = y.map_blocks(_class_weight_block, classes, cw, None,
                                             dtype=np.float64)
            else:
                sample_weight = da.map_blocks(_class_weight_block, y, classes, cw,
                                              sample_weight, dtype=np.float64)
        return classes, Y, sample_weight

    # ------------------------------------------------------------------ fit
    @_fill_doc
    def fit(self, X, y, sample_weight=None):
        """Fit on a dask array (or in-memory data) of shape (n_samples, n_features).

        Parameters
        ----------
        X : dask.array.Array or {array-like, sparse matrix} of shape (n_samples, n_features)
            Row blocks dense NumPy or scipy.sparse CSR (row chunks may be unknown); in-memory
            data is split into row blocks of 100 000.
        y : dask.array.Array or array-like of shape (n_samples,)
            Class labels with X's row chunks (an in-memory y needs X's row chunks known).
        sample_weight : dask.array.Array of shape (n_samples,), default=None
            Finite non-negative weights with X's row chunks; None means 1 each.

        Returns
        -------
        self
            The fitted estimator.

        Raises
        ------
        ValueError
            With the in-memory estimator's message, for bad parameters, NaN / inf in X, y
            or the weights, fewer than two classes, or a solver that does not run on Dask
            data with this penalty.

        Examples
        --------
        {dask_example}
        >>> clf = LogisticRegression(tol=1e-8).fit(dX, dy)  # 2 row blocks on the worker
        >>> clf.classes_.tolist(), clf.coef_.shape, clf.converged_, clf.bytes_sent_ > 0
        (['no', 'yes'], (1, 2), True, True)
        >>> client.close()
        """
        from ..solvers import solve

        C, tol, max_iter, penalty, solver = self._check_params()
        X = as_row_blocks(X)
        classes, Y, sw = self._labels(X, y, sample_weight)
        objective = DaskObjective(
            X, Y, sw, C=C, penalty=penalty, fit_intercept=self.fit_intercept,
            backend=self.backend, n_threads=self.n_threads, client=self.client,
            split_every=self.split_every, timeout=self.timeout, transport=self.transport)
        options = dict(tol=tol, max_iter=max_iter, verbose=self.verbose,
                       random_state=self.random_state, **(self.solver_options or {}))
        try:
            theta0 = np.zeros(objective.n_params)
            if max_iter == 0:
                from ..solvers import ConvergenceWarning, SolverResult

                warnings.warn(f"{solver} did not converge after 0 iterations (max_iter=0): the "
                              f"starting point is returned. Increase max_iter.",
                              ConvergenceWarning)
                result = SolverResult(theta=theta0, n_iter=0, converged=False,
                                      message="max_iter=0", history={}, n_evals={})
                result.solver = solver
            elif solver == _LOCAL_SGD:
                result = local_sgd(objective, theta0, **options)
                result.solver = solver
            else:
                result = solve(objective, solver, theta0, **options)
        finally:
            objective.close()
        k, d = objective.n_classes, objective.n_features
        theta = np.asarray(result.theta, dtype=np.float64).reshape(k, -1).copy()
        if k > 1:  # softmax: report the representative the in-memory estimator reports
            if self.fit_intercept:
                theta[:, d] -= theta[:, d].mean()
            if penalty.name == "none":
                theta[:, :d] -= theta[:, :d].mean(axis=0)
        self.coef_ = np.ascontiguousarray(theta[:, :d], dtype=objective.dtype)
        self.intercept_ = (theta[:, d].astype(objective.dtype) if self.fit_intercept
                           else np.zeros(k, dtype=objective.dtype))
        self.classes_ = classes
        self.n_features_in_ = d
        self.n_iter_ = np.array([int(result.n_iter)], dtype=np.int32)
        self.converged_ = bool(result.converged)
        self.solver_ = result.solver
        self.fit_result_ = result
        self.bytes_sent_ = objective.bytes_sent
        self.n_rebuilds_ = objective.n_rebuilds
        return self

    # ------------------------------------------------------------------ prediction
    @_fill_doc
    def decision_function(self, X):
        """Linear predictor: (n,) binary, (n, K) multinomial; lazy for a dask array (a
        block holding NaN / inf raises "Input X contains NaN." when computed).

        Parameters
        ----------
        {X_predict}

        Returns
        -------
        dask.array.Array or ndarray of shape (n_samples,) or (n_samples, n_classes)
            The margins: (n_samples,) the log-odds of ``classes_[1]`` for two classes, one
            column per class otherwise; float64 for a dask array, X's dtype for in-memory
            data (as the in-memory estimator).

        Examples
        --------
        {dask_example}
        >>> clf = LogisticRegression(tol=1e-8).fit(dX, dy)
        >>> z = clf.decision_function(dX)  # lazy: nothing computed yet
        >>> type(z).__name__, z.shape, bool((z[:4].compute() == clf.decision_function(X[:4])).all())
        ('Array', (100,), True)
        >>> client.close()
        """
        if not isinstance(X, da.Array):
            return super().decision_function(X)
        check_is_fitted(self)
        X = as_row_blocks(X)
        check_n_features(X.shape[1], self.n_features_in_, type(self).__name__)
        coef = self.coef_.astype(np.float64)
        icpt = self.intercept_.astype(np.float64)
        if coef.shape[0] == 1:
            return X.map_blocks(_decision_block, coef, icpt, drop_axis=1, dtype=np.float64,
                                meta=np.empty(0))
        return X.map_blocks(_decision_block, coef, icpt, dtype=np.float64,
                            chunks=(X.chunks[0], (coef.shape[0],)), meta=np.empty((0, 0)))

    @_fill_doc
    def predict_proba(self, X):
        """P(class | x), (n, K) float64; lazy for a dask array.

        Parameters
        ----------
        {X_predict}

        Returns
        -------
        dask.array.Array or ndarray of shape (n_samples, n_classes)
            Class probabilities, float64, columns in the order of ``classes_``, rows summing
            to 1.

        Examples
        --------
        {dask_example}
        >>> clf = LogisticRegression(tol=1e-8).fit(dX, dy)
        >>> P = clf.predict_proba(dX)
        >>> P.shape, bool(np.allclose(P.sum(axis=1).compute(), 1)), P[0].compute().round(2)
        ((100, 2), True, array([0.99, 0.01]))
        >>> client.close()
        """
        if not isinstance(X, da.Array):
            return super().predict_proba(X)
        return self._class_columns(X, class_probabilities)

    @_fill_doc
    def predict_log_proba(self, X):
        """log P(class | x), (n, K) float64; lazy for a dask array.

        Parameters
        ----------
        {X_predict}

        Returns
        -------
        dask.array.Array or ndarray of shape (n_samples, n_classes)
            Log class probabilities, float64, columns in the order of ``classes_`` (from
            the logits: never log(0)).

        Examples
        --------
        {dask_example}
        >>> clf = LogisticRegression(tol=1e-8).fit(dX, dy)
        >>> logP = clf.predict_log_proba(dX).compute()
        >>> logP.shape, bool(np.allclose(np.exp(logP), clf.predict_proba(X)))
        ((100, 2), True)
        >>> client.close()
        """
        if not isinstance(X, da.Array):
            return super().predict_log_proba(X)
        return self._class_columns(X, class_log_probabilities)

    def _class_columns(self, X, block_function):
        """``block_function`` (decision values -> (m, K) float64) mapped over the row blocks
        of dask array ``X``'s decision values, lazily."""
        Z = self.decision_function(X)
        k = len(self.classes_)
        return Z.map_blocks(block_function, dtype=np.float64, chunks=(Z.chunks[0], (k,)),
                            new_axis=1 if Z.ndim == 1 else None, meta=np.empty((0, 0)))

    @_fill_doc
    def predict(self, X):
        """Class labels (n,); lazy for a dask array.

        Parameters
        ----------
        {X_predict}

        Returns
        -------
        dask.array.Array or ndarray of shape (n_samples,)
            The most probable class of each row, from ``classes_`` (their dtype).

        Examples
        --------
        {dask_example}
        >>> clf = LogisticRegression(tol=1e-8).fit(dX, dy)
        >>> clf.predict(dX)[:4].compute().tolist(), clf.predict([[0.5, 0.0]]).tolist()
        (['no', 'no', 'yes', 'yes'], ['yes'])
        >>> client.close()
        """
        if not isinstance(X, da.Array):
            return super().predict(X)
        Z = self.decision_function(X)
        return Z.map_blocks(class_labels, self.classes_, dtype=self.classes_.dtype,
                            drop_axis=1 if Z.ndim == 2 else None,
                            meta=np.empty(0, dtype=self.classes_.dtype))

    @_fill_doc
    def score(self, X, y, sample_weight=None):
        """Mean (weighted) accuracy; computed on the workers for dask input.

        Parameters
        ----------
        {X_predict}
        y : dask.array.Array or array-like of shape (n_samples,)
            True labels.
        sample_weight : dask.array.Array or array-like of shape (n_samples,), default=None
            Weights of the rows; None means 1 each.

        Returns
        -------
        float
            The (weighted) fraction of rows predicted right, in [0, 1].

        Examples
        --------
        {dask_example}
        >>> clf = LogisticRegression(tol=1e-8).fit(dX, dy)
        >>> clf.score(dX, dy), clf.score(X[:4], ["no", "yes", "yes", "yes"])
        (1.0, 0.75)
        >>> client.close()
        """
        if not isinstance(X, da.Array):
            return super().score(X, np.asarray(y), sample_weight)
        check_is_fitted(self)
        y, s = self._aligned_targets(X, y, sample_weight)
        y = y.map_blocks(_known_labels_block, self.classes_, dtype=y.dtype)
        hit = (self.predict(X) == y).astype(np.float64)
        if s is None:
            return float(self._compute(hit.mean())[0])
        hits, total = self._compute((hit * s).sum(), s.sum())
        check_sample_weight(np.array([total]), 1, allow_all_zero=False)
        return float(hits / total)
