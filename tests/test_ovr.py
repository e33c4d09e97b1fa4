"""One-vs-rest estimator: each row is the binary fit of its class, scikit-learn's
OneVsRestClassifier agrees, the thread split respects the budget, check_estimator passes."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastlogit import LogisticRegression, OneVsRestLogisticRegression
from fastlogit.ovr import ovr_threads


@parametrize_with_checks([OneVsRestLogisticRegression(backend="numpy", tol=1e-8)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def make_data(rng, n=150, d=12, k=4, sparse=False, dtype=np.float64):
    X = rng.standard_normal((n, d))
    X[:, 3] = 0.0  # an empty column: the shared column compaction is exercised
    X[rng.random((n, d)) < 0.5] = 0.0
    W = rng.standard_normal((d, k))
    y = np.argmax(X @ W + rng.gumbel(size=(n, k)), axis=1)
    X = X.astype(dtype)
    return (sp.csr_matrix(X) if sparse else X), y


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_rows_are_the_binary_fits(rng, sparse, dtype):
    """Row k equals the binary LogisticRegression of class k against the rest (1e-6 relative
    in float64, the solvers' tolerance), and scikit-learn's OneVsRestClassifier (1e-4)."""
    X, y = make_data(rng, sparse=sparse, dtype=dtype)
    tol = 1e-10 if dtype == np.float64 else 1e-5  # float32 gradients are not exact to 1e-10
    ovr = OneVsRestLogisticRegression(C=0.7, tol=tol, max_iter=1000, n_threads=2).fit(X, y)
    assert ovr.coef_.shape == (4, X.shape[1]) and ovr.coef_.dtype == dtype
    assert ovr.converged_ and ovr.n_iter_.shape == (4,)
    rtol = 1e-6 if dtype == np.float64 else 1e-3
    for k in range(4):
        one = LogisticRegression(C=0.7, tol=tol, max_iter=1000, solver="trust-region").fit(
            X, (y == k).astype(int))
        scale = np.abs(one.coef_).max()
        np.testing.assert_allclose(ovr.coef_[k], one.coef_[0], atol=rtol * scale)
        np.testing.assert_allclose(ovr.intercept_[k], one.intercept_[0], atol=rtol * scale)
    sk = OneVsRestClassifier(SkLogisticRegression(C=0.7, tol=1e-10, max_iter=10000)).fit(
        X.astype(np.float64), y)
    coef = np.vstack([e.coef_ for e in sk.estimators_])
    np.testing.assert_allclose(ovr.coef_, coef, atol=max(rtol, 1e-4) * np.abs(coef).max())
    Xt = X[:20]
    np.testing.assert_allclose(ovr.predict_proba(Xt), sk.predict_proba(Xt.astype(np.float64)),
                               atol=max(rtol, 1e-4))
    np.testing.assert_array_equal(ovr.predict(Xt), ovr.classes_[ovr.decision_function(Xt)
                                                               .argmax(axis=1)])
    np.testing.assert_allclose(ovr.predict_log_proba(Xt), np.log(ovr.predict_proba(Xt)),
                               rtol=1e-10, atol=1e-12)


def test_two_classes_is_one_binary_model(rng):
    X, y = make_data(rng, k=2)
    ovr = OneVsRestLogisticRegression(tol=1e-10).fit(X, y)
    one = LogisticRegression(tol=1e-10, solver="trust-region").fit(X, y)
    assert ovr.coef_.shape == (1, X.shape[1])
    np.testing.assert_allclose(ovr.coef_, one.coef_, atol=1e-7)
    np.testing.assert_allclose(ovr.predict_proba(X), one.predict_proba(X), atol=1e-7)


def test_jobs_and_threads_agree(rng):
    """One job on two kernel threads, two jobs on one thread each: the same models (the
    kernels' results differ only by float64 rounding across thread counts)."""
    X, y = make_data(rng, n=400, d=30, k=5, sparse=True)
    a = OneVsRestLogisticRegression(tol=1e-10, n_jobs=1, n_threads=2).fit(X, y)
    b = OneVsRestLogisticRegression(tol=1e-10, n_jobs=2, n_threads=2).fit(X, y)
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-8 * np.abs(a.coef_).max())


def test_ovr_threads_budget():
    """jobs x threads never exceeds the budget (or the jobs asked for), jobs <= fits."""
    for fits in (1, 2, 3, 20):
        for budget in (1, 2, 3, 8):
            for n_jobs in (None, -1, 1, 2, 5, 64):
                jobs, threads = ovr_threads(fits, n_jobs, budget)
                assert 1 <= jobs <= fits and threads >= 1
                assert jobs * threads <= max(budget, jobs)
                if n_jobs in (None, -1):
                    assert jobs == min(fits, budget)
    for bad in (0, -2, 1.5, "2", True):
        with pytest.raises(ValueError, match="n_jobs"):
            ovr_threads(4, bad, 2)


def test_bad_input_is_named(rng):
    X, y = make_data(rng)
    with pytest.raises(ValueError, match="C"):
        OneVsRestLogisticRegression(C=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="n_jobs"):
        OneVsRestLogisticRegression(n_jobs=0).fit(X, y)
    with pytest.raises(ValueError, match="unknown solver"):
        OneVsRestLogisticRegression(solver="nope").fit(X, y)
    with pytest.raises(ValueError, match="one class"):
        OneVsRestLogisticRegression().fit(X, np.zeros(X.shape[0]))


def test_convergence_warning_reaches_the_caller(rng):
    from fastlogit.solvers import ConvergenceWarning

    X, y = make_data(rng)
    with pytest.warns(ConvergenceWarning):
        est = OneVsRestLogisticRegression(max_iter=1, tol=1e-12, solver="lbfgs").fit(X, y)
    assert not est.converged_


def test_docstring_example():
    import doctest

    import fastlogit.ovr

    result = doctest.testmod(fastlogit.ovr, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
