"""One-vs-rest logistic regression: K binary fits, run in parallel over the classes.

LIBLINEAR's default for multiclass data (``-s 0`` with K > 2 labels): class k's model is the
binary logistic regression of "k" against every other class, on the same X, C and sample
weights,

    F_k(w_k, b_k) = C * sum_i s_i l(1[y_i = k], x_i . w_k + b_k) + 1/2 ||w_k||^2

(intercept unpenalised).  The K problems are independent: they share one validated design
(and, for a sparse X with empty columns, one column compaction) and run on a pool of
``n_jobs`` Python threads, each fit's kernels on ``n_threads // n_jobs`` threads, so that
jobs x kernel threads never exceed the thread budget.  The compiled kernels release the GIL,
so the fits overlap; only the solvers' few Python operations per iteration take turns.
"""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import column_or_1d
from sklearn.utils.validation import check_is_fitted, validate_data

from . import kernels as _kernels
from ._config import effective_n_threads
from ._docstring import filler
from .base import store_params
from .estimator import LinearLogitOutputs
from .validation import check_C, check_max_iter, check_sample_weight, check_tol, encode_targets

__all__ = ["OneVsRestLogisticRegression", "ovr_threads"]

#: The Examples set-up of the methods' docstrings (:func:`fastlogit._docstring.filler`).
_fill_doc = filler({"ovr_example": """\
>>> import numpy as np
>>> import fastlogit
>>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
>>> clf = fastlogit.OneVsRestLogisticRegression().fit(X, ["a", "a", "b", "b", "c"])"""})


def ovr_threads(n_fits, n_jobs, n_threads):
    """(jobs, kernel threads per job) for ``n_fits`` independent fits.

    ``n_threads`` (None: all cores, :func:`fastlogit._config.effective_n_threads`) is the
    budget; ``n_jobs`` (None or -1: as many as the budget allows) concurrent fits, at most
    ``n_fits``; each fit gets ``budget // jobs`` kernel threads (at least 1), so that
    ``jobs * threads <= max(budget, jobs)``.
    """
    budget = effective_n_threads(n_threads)
    if n_jobs is None or n_jobs == -1:
        jobs = budget
    elif isinstance(n_jobs, (int, np.integer)) and not isinstance(n_jobs, bool) and n_jobs >= 1:
        jobs = int(n_jobs)
    else:
        raise ValueError(f"n_jobs must be None, -1 or a positive integer, got {n_jobs!r}")
    jobs = max(1, min(jobs, n_fits))
    return jobs, max(1, budget // jobs)


class OneVsRestLogisticRegression(LinearLogitOutputs, ClassifierMixin, BaseEstimator):
    """One-vs-rest L2 logistic regression, the K binary fits in parallel (module docstring).

    Parameters
    ----------
    C : float > 0, default=1.0
        Inverse regularisation strength of every binary fit (scikit-learn's C).
    tol : float > 0, default=1e-4
        Stopping tolerance of each binary fit (its solver's gradient test).
    fit_intercept : bool, default=True
        Fit an unpenalised intercept per class.
    solver : str, default="auto"
        Solver of each binary fit: "auto" (:func:`fastlogit.solvers.choose_solver`) or a
        smooth solver of :data:`fastlogit.solvers.SOLVERS`.
    max_iter : int >= 1, default=100
        Iteration limit of each binary fit.
    n_jobs : int, -1 or None, default=None
        Concurrent binary fits (None / -1: as many as the thread budget).
    n_threads : int or None, default=None
        Thread budget shared by the jobs (None: all cores); see :func:`ovr_threads`.
    backend : {"auto", "numpy", "numba", "cython"}, default="auto"
        Kernel implementation (:func:`fastlogit.kernels.get`).

    Attributes
    ----------
    classes_ : ndarray of shape (K,)
    coef_ : ndarray of shape (1, n_features) for two classes, else (K, n_features)
        In X's dtype; row k separates ``classes_[k]`` from the rest (two classes: one
        binary model of ``classes_[1]``, as scikit-learn's binary LogisticRegression).
    intercept_ : ndarray of shape (1,) or (K,)
    n_iter_ : ndarray of shape (n_fits,), int32
        Iterations of each binary fit.
    converged_ : bool
        True when every binary fit met ``tol``.
    n_features_in_ : int

    Notes
    -----
    ``predict`` takes the class of the largest decision value; ``predict_proba`` the
    per-class sigmoids normalised to sum 1 (LIBLINEAR's and scikit-learn's one-vs-rest
    rule); with two classes both are those of the binary model.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit import OneVsRestLogisticRegression
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
    >>> y = np.array([0, 1, 2, 2, 1, 0])
    >>> model = OneVsRestLogisticRegression(C=10.0).fit(X, y)
    >>> model.coef_.shape, model.predict_proba(X).sum(axis=1).round(12).tolist()
    ((3, 2), [1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    """

    def __init__(self, C=1.0, *, tol=1e-4, fit_intercept=True, solver="auto", max_iter=100,
                 n_jobs=None, n_threads=None, backend="auto"):
        store_params(self, locals())

    @_fill_doc
    def fit(self, X, y, sample_weight=None):
        """Fit the K one-vs-rest models (one binary model for two classes).

        Parameters
        ----------
        {X_train}
        y : array-like of shape (n_samples,)
            Class labels, at least two classes (else ValueError).
        sample_weight : array-like of shape (n_samples,), default=None
            Finite non-negative weights s_i of the sample losses, shared by the K fits, not
            all zero; None means 1 each.

        Returns
        -------
        self : OneVsRestLogisticRegression
            The fitted estimator: ``coef_`` (K, n_features) in X's dtype, one row per class
            (one row for two classes), ``n_iter_`` (K,) per fit.

        Examples
        --------
        {ovr_example}
        >>> clf.coef_.shape, clf.n_iter_.shape, clf.classes_
        ((3, 2), (3,), array(['a', 'b', 'c'], dtype='<U1'))
        """
        from .objective import LogLossData, Objective
        from .solvers import check_solver, choose_solver

        C = check_C(self.C)
        tol = check_tol(self.tol)
        max_iter = check_max_iter(self.max_iter)
        if not isinstance(self.solver, str):
            raise ValueError(f"solver must be a string, got {self.solver!r}")
        kernels = _kernels.get(self.backend)
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=[np.float64, np.float32],
                             order="C", accept_large_sparse=True)
        y = column_or_1d(y, warn=True)
        n = X.shape[0]
        classes, Y, _ = encode_targets(y, n)
        sw = check_sample_weight(sample_weight, n, allow_all_zero=False)
        design = _kernels.as_design(X)
        fit_intercept = bool(self.fit_intercept)
        targets = [Y] if Y.ndim == 1 else [np.ascontiguousarray(Y[:, k])
                                           for k in range(Y.shape[1])]
        jobs, threads = ovr_threads(len(targets), self.n_jobs, self.n_threads)
        # One column compaction for every class (the columns used do not depend on y).
        first = LogLossData.trusted(design, targets[0], sw, fit_intercept, kernels, threads)
        compact = first.compact_columns()
        inner, keep = (compact[0].design, compact[1]) if compact is not None else (design, None)
        name = self.solver
        if name == "auto":
            name = choose_solver(Objective(LogLossData.trusted(inner, targets[0], sw,
                                                               fit_intercept, kernels, 1), C=C))

        def fit_one(target):
            data = LogLossData.trusted(inner, target, sw, fit_intercept, kernels, threads)
            objective = Objective(data, C=C)
            run = check_solver(name, objective)
            # no warnings.catch_warnings here: it swaps process-wide state and is not
            # thread-safe (concurrent fits left a recording handler installed for good); a
            # warning raised in a pool thread goes to the process's handlers as it is
            return run(objective, np.zeros(objective.n_params), tol=tol, max_iter=max_iter)

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            outcomes = list(pool.map(fit_one, targets))
        d = X.shape[1]
        theta = np.zeros((len(targets), d + fit_intercept))
        for k, result in enumerate(outcomes):
            if keep is None:
                theta[k] = result.theta
            else:
                theta[k, keep] = result.theta
        self.classes_ = classes
        self.coef_ = np.ascontiguousarray(theta[:, :d], dtype=design.dtype)
        self.intercept_ = (theta[:, d] if fit_intercept else np.zeros(len(targets))).astype(
            design.dtype)
        self.n_iter_ = np.array([r.n_iter for r in outcomes], dtype=np.int32)
        self.converged_ = all(bool(r.converged) for r in outcomes)
        self.solver_ = name
        return self

    def _ovr_proba(self, X):
        """Per-class sigmoids of the decision values and their row sums (K > 2)."""
        z = self.decision_function(X).astype(np.float64)
        p = _kernels.get("numpy").sigmoid(z)
        return p, p.sum(axis=1, keepdims=True)

    @_fill_doc
    def predict_proba(self, X):
        """Class probabilities: the K models' sigmoids normalised to sum 1 per row.

        For two classes, the one binary model's probabilities (both columns computed directly).

        Parameters
        ----------
        {X_predict}

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            float64 (also for float32 X), columns in the order of ``classes_``, rows
            summing to 1.

        Examples
        --------
        {ovr_example}
        >>> P = clf.predict_proba(X[:2])
        >>> P.shape, P.sum(axis=1)
        ((2, 3), array([1., 1.]))
        """
        check_is_fitted(self)
        if self.coef_.shape[0] == 1:
            return super().predict_proba(X)
        p, total = self._ovr_proba(X)
        return p / total

    @_fill_doc
    def predict_log_proba(self, X):
        """The log of :meth:`predict_proba`, computed from the log-sigmoids (never log(0)).

        Parameters
        ----------
        {X_predict}

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            float64, columns in the order of ``classes_``.

        Examples
        --------
        {ovr_example}
        >>> bool(np.allclose(np.exp(clf.predict_log_proba(X)), clf.predict_proba(X)))
        True
        """
        check_is_fitted(self)
        if self.coef_.shape[0] == 1:
            return super().predict_log_proba(X)
        z = self.decision_function(X).astype(np.float64)
        logp = _kernels.get("numpy").log_sigmoid(z)  # log sigmoid, never log(0)
        shift = logp.max(axis=1, keepdims=True)
        return logp - (shift + np.log(np.exp(logp - shift).sum(axis=1, keepdims=True)))
