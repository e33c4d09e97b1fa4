"""LogisticRegression: scikit-learn API, agreement with scikit-learn, extras, bad input."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import fastlogit
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastlogit.estimator import LogisticRegression
from fastlogit.sgd_estimator import SGDLogisticRegression

SOLVERS = getattr(pytest.importorskip("fastlogit.solvers"), "SOLVERS", None)
if not SOLVERS:
    pytest.skip("no solvers registered yet", allow_module_level=True)
from fastlogit.solvers import ConvergenceWarning  # noqa: E402

# Checks deliberately expected to fail, with the reason.  LogisticRegression: none.
EXPECTED_FAILED_CHECKS = {
    LogisticRegression: {},
    SGDLogisticRegression: {
        "check_sample_weight_equivalence_on_dense_data":
            "SGD visits a row of weight 2 once with a doubled step, not twice with two steps "
            "(so does scikit-learn's SGDClassifier, which xfails this check too)",
        "check_sample_weight_equivalence_on_sparse_data":
            "same as the dense variant: stochastic steps are not weight-equivalent",
    },
}

SMOOTH_SOLVERS = [s for s in ("newton-cholesky", "newton-cg", "trust-region", "lbfgs")
                  if s in SOLVERS]


# tol=1e-8: check_sample_weight_equivalence compares two fits at rtol 1e-7, which the
# default tol=1e-4 meets only by luck (the fits agree to the solver's tolerance, ~1e-8 abs).
@parametrize_with_checks([LogisticRegression(backend="numpy", tol=1e-8),
                          SGDLogisticRegression(backend="numpy", random_state=0)],
                         expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS[type(est)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def make_data(rng, n=120, d=5, n_classes=2, sparse=False, dtype=np.float64):
    X = rng.standard_normal((n, d))
    if sparse:
        X[rng.random((n, d)) < 0.5] = 0.0
    W = rng.standard_normal((d, n_classes))
    logits = X @ W + rng.gumbel(size=(n, n_classes))
    y = logits.argmax(axis=1)
    X = X.astype(dtype)
    return (sp.csr_matrix(X) if sparse else X), y


def sk_fit(X, y, *, C=1.0, l1_ratio=0.0, sample_weight=None, class_weight=None,
           fit_intercept=True):
    sk = SkLogisticRegression(C=C, l1_ratio=l1_ratio, solver="newton-cholesky", tol=1e-12,
                              max_iter=1000, class_weight=class_weight,
                              fit_intercept=fit_intercept)
    return sk.fit(X, y, sample_weight=sample_weight)


def assert_coef_close(ours, ref, rtol):
    scale = max(1.0, np.abs(ref.coef_).max())
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=rtol * scale)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=0, atol=rtol * scale)


# ----------------------------------------------------------------------- agreement
@pytest.mark.parametrize("solver", ["auto"] + SMOOTH_SOLVERS)
@pytest.mark.parametrize("n_classes", [2, 3], ids=["binary", "multinomial"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("weights", [None, "sample", "class", "both"])
def test_matches_sklearn(rng, solver, n_classes, sparse, weights):
    X, y = make_data(rng, n_classes=n_classes, sparse=sparse)
    sw = rng.uniform(0.2, 3.0, size=y.shape[0]) if weights in ("sample", "both") else None
    cw = {0: 2.0, 1: 0.5} if weights in ("class", "both") else None
    with warnings.catch_warnings():
        if solver == "lbfgs":
            # SciPy's L-BFGS-B may stop on its own relative-reduction-of-F test just short of
            # the gradient rule at tol=1e-8 (and warns); the coefficients are checked anyway.
            warnings.simplefilter("ignore", ConvergenceWarning)
        ours = LogisticRegression(C=0.7, solver=solver, tol=1e-8, max_iter=500,
                                  class_weight=cw, backend="numpy").fit(X, y, sample_weight=sw)
    ref = sk_fit(X, y, C=0.7, sample_weight=sw, class_weight=cw)
    assert_coef_close(ours, ref, 1e-5)
    assert ours.coef_.shape == ref.coef_.shape and ours.n_iter_.shape == (1,)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-6)
    np.testing.assert_array_equal(ours.classes_, ref.classes_)


def test_matches_sklearn_unpenalised_and_balanced(rng):
    X, y = make_data(rng, n=300)
    ours = LogisticRegression(penalty=None, tol=1e-8, max_iter=500).fit(X, y)
    assert_coef_close(ours, sk_fit(X, y, C=np.inf), 1e-5)
    y_imb = np.where(rng.random(300) < 0.15, 1, 0)
    sw = rng.uniform(0.5, 2.0, size=300)
    ours = LogisticRegression(class_weight="balanced", tol=1e-8, max_iter=500).fit(
        X, y_imb, sample_weight=sw)
    assert_coef_close(ours, sk_fit(X, y_imb, sample_weight=sw, class_weight="balanced"), 1e-5)


def test_no_intercept_matches_sklearn(rng):
    X, y = make_data(rng, n_classes=3)
    ours = LogisticRegression(fit_intercept=False, tol=1e-8, max_iter=500).fit(X, y)
    ref = sk_fit(X, y, fit_intercept=False)
    assert_coef_close(ours, ref, 1e-5)
    assert np.all(ours.intercept_ == 0)


@pytest.mark.skipif("l1" not in SOLVERS, reason="L1 solver not built")
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_l1_matches_sklearn_saga(rng, l1_ratio):
    X, y = make_data(rng, n=200)
    ours = LogisticRegression(l1_ratio=l1_ratio, C=0.1, tol=1e-8, solver="saga",
                              max_iter=2000).fit(X, y)
    ref = SkLogisticRegression(C=0.1, l1_ratio=l1_ratio, solver="saga", tol=1e-12,
                               max_iter=100000).fit(X, y)
    assert_coef_close(ours, ref, 1e-4)
    assert ours.solver_ == "l1"


# ----------------------------------------------------------------------- dtype / sparsity
def test_float32_stays_float32_and_sparse_never_densified(rng, monkeypatch):
    X, y = make_data(rng, n_classes=3, sparse=True, dtype=np.float32)
    for cls in (sp.csr_matrix, sp.csr_array):
        def refuse(self, *a, **k):
            raise AssertionError("sparse input was densified")
        monkeypatch.setattr(cls, "toarray", refuse)
        monkeypatch.setattr(cls, "todense", refuse)
    for yy in (y, (y == 1).astype(int)):
        model = LogisticRegression(backend="numpy").fit(X, yy)
        assert model.coef_.dtype == np.float32 and model.intercept_.dtype == np.float32
        assert model.decision_function(X).dtype == np.float32
        # probabilities are float64 by design (see LinearLogitOutputs)
        np.testing.assert_allclose(np.log(model.predict_proba(X)), model.predict_log_proba(X),
                                   atol=1e-12)
        model.predict(X)


def test_float32_close_to_float64(rng):
    X, y = make_data(rng, n_classes=3)
    # float32 gradients carry rounding noise ~1e-6 relative: ask for what float32 can reach
    m32 = LogisticRegression(tol=1e-5, max_iter=500).fit(X.astype(np.float32), y)
    m64 = LogisticRegression(tol=1e-8, max_iter=500).fit(X, y)
    np.testing.assert_allclose(m32.coef_, m64.coef_, rtol=1e-3, atol=1e-3)


@pytest.mark.filterwarnings("ignore::UserWarning")  # max_iter=5: only a fitted shell needed
def test_predict_log_proba_is_stable():
    X = np.array([[-1.0], [1.0]])
    model = LogisticRegression(penalty=None, max_iter=5).fit(X, [0, 1])
    model.coef_ = np.array([[800.0]])
    model.intercept_ = np.array([0.0])
    logp = model.predict_log_proba(np.array([[-2.0], [2.0]]))
    assert np.all(np.isfinite(logp))
    np.testing.assert_allclose(logp[0], [0.0, -1600.0])
    np.testing.assert_allclose(logp[1], [-1600.0, 0.0])
    # multinomial: logits 1e4 apart
    model3 = LogisticRegression(max_iter=5).fit(np.eye(3), [0, 1, 2])
    model3.coef_ = np.diag([1e4, 0.0, 0.0])
    model3.intercept_ = np.zeros(3)
    logp = model3.predict_log_proba(np.array([[1.0, 0.0, 0.0]]))
    np.testing.assert_allclose(logp, [[0.0, -1e4, -1e4]])


def test_warm_start_continues(rng):
    X, y = make_data(rng, n_classes=3)
    model = LogisticRegression(warm_start=True, tol=1e-8, max_iter=500).fit(X, y)
    first = model.n_iter_[0]
    model.fit(X, y)
    assert model.n_iter_[0] < first
    np.testing.assert_allclose(model.coef_, sk_fit(X, y).coef_, atol=1e-5)


def test_string_labels_and_score(rng):
    X, y = make_data(rng, n_classes=3)
    labels = np.array(["cat", "dog", "eel"])[y]
    model = LogisticRegression().fit(X, labels)
    assert set(model.predict(X)) <= set(labels)
    assert model.score(X, labels) > 0.6


# ----------------------------------------------------------------------- extras (estimator level)
def test_soft_labels_equal_duplicated_weighted_rows(rng):
    """Definition: a soft label q contributes q l(1, z) + (1 - q) l(0, z)."""
    X, _ = make_data(rng, n=80)
    q = rng.random(80)
    soft = LogisticRegression(soft_labels=True, tol=1e-8, max_iter=500).fit(X, q)
    Xd = np.vstack([X, X])
    yd = np.r_[np.ones(80), np.zeros(80)]
    hard = LogisticRegression(tol=1e-8, max_iter=500).fit(Xd, yd, sample_weight=np.r_[q, 1 - q])
    np.testing.assert_allclose(soft.coef_, hard.coef_, atol=1e-6)
    np.testing.assert_allclose(soft.intercept_, hard.intercept_, atol=1e-6)
    np.testing.assert_array_equal(soft.classes_, [0, 1])


def test_soft_labels_multinomial_one_hot_equals_hard(rng):
    X, y = make_data(rng, n_classes=3)
    hard = LogisticRegression(tol=1e-8, max_iter=500).fit(X, y)
    soft = LogisticRegression(soft_labels=True, tol=1e-8, max_iter=500).fit(X, np.eye(3)[y])
    np.testing.assert_allclose(soft.coef_, hard.coef_, atol=1e-6)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_label_smoothing_definition(rng, n_classes):
    X, y = make_data(rng, n_classes=n_classes)
    eps = 0.2
    smoothed = LogisticRegression(label_smoothing=eps, tol=1e-8, max_iter=500).fit(X, y)
    Y = np.eye(n_classes)[y]
    target = (1 - eps) * Y + eps / n_classes
    soft = LogisticRegression(soft_labels=True, tol=1e-8, max_iter=500).fit(
        X, target[:, 1] if n_classes == 2 else target)
    np.testing.assert_allclose(smoothed.coef_, soft.coef_, atol=1e-6)
    # smoothing shrinks the logits' scale
    assert np.abs(smoothed.coef_).sum() < np.abs(
        LogisticRegression(tol=1e-8).fit(X, y).coef_).sum()


def test_class_weight_equals_sample_weight(rng):
    X, y = make_data(rng, n_classes=3)
    cw = {0: 3.0, 1: 1.0, 2: 0.25}
    a = LogisticRegression(class_weight=cw, tol=1e-8, max_iter=500).fit(X, y)
    b = LogisticRegression(tol=1e-8, max_iter=500).fit(
        X, y, sample_weight=np.array([cw[c] for c in y]))
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-8)


def test_focal_gamma_zero_is_log_loss(rng):
    X, y = make_data(rng, n_classes=3)
    plain = LogisticRegression(solver="lbfgs", tol=1e-8, max_iter=500).fit(X, y)
    # the extras path is only taken for gamma > 0; tiny gamma -> same model to first order
    focal = LogisticRegression(focal_gamma=1e-9, tol=1e-8, max_iter=500).fit(X, y)
    np.testing.assert_allclose(focal.coef_, plain.coef_, atol=1e-6)


def test_focal_fit_is_stationary_point_of_definition(rng):
    from scipy.optimize import approx_fprime

    X, y = make_data(rng, n=100, d=3)
    gamma, C = 2.0, 1.0
    model = LogisticRegression(focal_gamma=gamma, C=C, tol=1e-8, max_iter=1000).fit(X, y)

    def F(theta):  # the definition, written naively (moderate logits here)
        z = X @ theta[:-1] + theta[-1]
        p = 1 / (1 + np.exp(-z))
        loss = -(y * (1 - p) ** gamma * np.log(p) + (1 - y) * p ** gamma * np.log(1 - p))
        return C * loss.sum() + 0.5 * theta[:-1] @ theta[:-1]

    theta = np.r_[model.coef_[0], model.intercept_]
    assert np.abs(approx_fprime(theta, F, 1e-7)).max() < 1e-4
    assert model.solver_ == "lbfgs"


def test_noise_correction_identity_is_log_loss_and_recovers_clean_model(rng):
    n, d = 4000, 2
    X = rng.standard_normal((n, d))
    w_true = np.array([2.0, -1.5])
    clean = (rng.random(n) < 1 / (1 + np.exp(-(X @ w_true)))).astype(int)
    T = np.array([[0.7, 0.3], [0.1, 0.9]])
    flip = rng.random(n) < T[clean, 1 - clean]
    noisy = np.where(flip, 1 - clean, clean)
    ident = LogisticRegression(noise_transition=np.eye(2), tol=1e-8).fit(X, noisy)
    plain = LogisticRegression(tol=1e-8).fit(X, noisy)
    np.testing.assert_allclose(ident.coef_, plain.coef_, atol=1e-5)
    corrected = LogisticRegression(noise_transition=T, tol=1e-6).fit(X, noisy)
    err_plain = np.linalg.norm(plain.coef_[0] - w_true)
    err_corr = np.linalg.norm(corrected.coef_[0] - w_true)
    assert err_corr < 0.5 * err_plain


def test_summary_matches_statsmodels(rng):
    sm = pytest.importorskip("statsmodels.api")
    X, y = make_data(rng, n=300, d=4)
    model = LogisticRegression(penalty=None, tol=1e-12, max_iter=500).fit(X, y)
    s = model.summary(X, y)
    ref = sm.Logit(y, sm.add_constant(X, prepend=False)).fit(disp=0, tol=1e-12)
    np.testing.assert_allclose(s.coef, ref.params, rtol=1e-6)
    np.testing.assert_allclose(s.std_err, ref.bse, rtol=1e-6)
    np.testing.assert_allclose(s.z, ref.tvalues, rtol=1e-6)
    np.testing.assert_allclose(s.p_values, ref.pvalues, rtol=1e-5, atol=1e-300)
    np.testing.assert_allclose(s.conf_int, ref.conf_int(), rtol=1e-6)
    assert "intercept" in str(s)
    # sparse input gives the same table
    s_sp = model.summary(sp.csr_matrix(X), y)
    np.testing.assert_allclose(s_sp.std_err, s.std_err, rtol=1e-8)


def test_summary_sample_weights_are_frequency_weights(rng):
    sm = pytest.importorskip("statsmodels.api")
    X, y = make_data(rng, n=200, d=3)
    w = rng.integers(1, 4, 200).astype(float)
    model = LogisticRegression(penalty=None, tol=1e-12, max_iter=500).fit(X, y, sample_weight=w)
    s = model.summary(X, y, sample_weight=w)
    ref = sm.GLM(y, sm.add_constant(X, prepend=False), family=sm.families.Binomial(),
                 freq_weights=w).fit(tol=1e-12)
    np.testing.assert_allclose(s.coef, ref.params, rtol=1e-6)
    np.testing.assert_allclose(s.std_err, ref.bse, rtol=1e-6)
    np.testing.assert_allclose(s.p_values, ref.pvalues, rtol=1e-5, atol=1e-300)


def test_summary_l2_is_inverse_penalised_hessian(rng):
    X, y = make_data(rng, n=150, d=3)
    C = 0.3
    model = LogisticRegression(C=C, tol=1e-12, max_iter=500).fit(X, y)
    s = model.summary(X, y)
    X1 = np.hstack([X, np.ones((150, 1))])
    p = 1 / (1 + np.exp(-(X1 @ s.coef)))
    H = X1.T @ (X1 * (p * (1 - p))[:, None]) + np.diag([1 / C] * 3 + [0.0])
    np.testing.assert_allclose(s.covariance, np.linalg.inv(H), rtol=1e-8)
    with pytest.raises(ValueError, match="penalty"):
        model.set_params(penalty="l1").summary(X, y)


# ----------------------------------------------------------------------- bad input
@pytest.fixture
def data(rng):
    return make_data(rng, n=40, d=3)


@pytest.mark.parametrize("where", ["X", "y", "sample_weight"])
@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "inf"])
def test_rejects_non_finite(data, where, bad):
    X, y = data
    X, y, sw = X.copy(), y.astype(float), np.ones(len(y))
    {"X": X[3], "y": y[3:4], "sample_weight": sw[3:4]}[where][0] = bad
    with pytest.raises(ValueError, match="(?i)nan|inf"):
        LogisticRegression().fit(X, y, sample_weight=sw)


def test_rejects_non_finite_sparse(data):
    X, y = data
    Xs = sp.csr_matrix(X)
    Xs.data[0] = np.nan
    with pytest.raises(ValueError, match="(?i)nan"):
        LogisticRegression().fit(Xs, y)


def test_rejects_length_mismatch(data):
    X, y = data
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        LogisticRegression().fit(X, y[:-1])
    with pytest.raises(ValueError, match="sample_weight"):
        LogisticRegression().fit(X, y, sample_weight=np.ones(len(y) + 1))


def test_rejects_single_class(data):
    X, _ = data
    with pytest.raises(ValueError, match="one class"):
        LogisticRegression().fit(X, np.zeros(X.shape[0]))


def test_rejects_unknown_labels_at_score(data):
    X, y = data
    model = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="not in classes_"):
        model.score(X, np.where(y == 0, 7, y))


def test_rejects_wrong_number_of_features(data):
    X, y = data
    model = LogisticRegression().fit(X, y)
    for method in (model.predict, model.predict_proba, model.decision_function):
        with pytest.raises(ValueError, match="features"):
            method(X[:, :2])


def test_rejects_negative_sample_weight(data):
    X, y = data
    sw = np.ones(len(y))
    sw[0] = -1
    with pytest.raises(ValueError, match="(?i)negative"):
        LogisticRegression().fit(X, y, sample_weight=sw)


@pytest.mark.parametrize("params,match", [
    (dict(C=0.0), "C must be"), (dict(C=-1.0), "C must be"), (dict(C=np.nan), "C must be"),
    (dict(tol=-1.0), "tol"), (dict(max_iter=-1), "max_iter"),
    (dict(solver="bogus"), "unknown solver"), (dict(backend="bogus"), "unknown backend"),
    (dict(penalty="l3"), "unknown penalty"),
    (dict(penalty="elasticnet", l1_ratio=None), "l1_ratio"),
    (dict(penalty="l1", solver="lbfgs"), "does not support penalty"),
    (dict(focal_gamma=2.0, solver="newton-cholesky"), "does not support the focal"),
    (dict(focal_gamma=-1.0), "focal_gamma"),
    (dict(label_smoothing=1.0), "label_smoothing"),
    (dict(noise_transition=[[0.5, 0.6], [0.0, 1.0]]), "sum to 1"),
    (dict(noise_transition=np.eye(3)), "shape"),
], ids=lambda v: str(v)[:30])
def test_rejects_bad_parameters(data, params, match):
    X, y = data
    if params.get("solver") not in (None, "bogus") and params["solver"] not in SOLVERS:
        pytest.skip(f"solver {params['solver']} not built")
    with pytest.raises(ValueError, match=match):
        LogisticRegression(**params).fit(X, y)


@pytest.mark.parametrize("bad", [np.array([0.2, 1.5]), np.array([-0.1, 0.5])])
def test_rejects_soft_labels_outside_unit_interval(data, bad):
    X, _ = data
    q = np.full(X.shape[0], 0.5)
    q[:2] = bad
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        LogisticRegression(soft_labels=True).fit(X, q)
    with pytest.raises(ValueError, match="sum to 1"):
        LogisticRegression(soft_labels=True).fit(X, np.full((X.shape[0], 3), 0.5))


def test_rejects_continuous_targets_without_soft_labels(data):
    X, _ = data
    with pytest.raises(ValueError, match="Unknown label type"):
        LogisticRegression().fit(X, np.linspace(0, 1, X.shape[0]))


# ----------------------------------------------------------------------- SGDLogisticRegression
@pytest.mark.parametrize("n_classes", [2, 3], ids=["binary", "multinomial"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_sgd_approaches_batch_optimum(rng, n_classes, sparse):
    """G = mean loss + alpha R is F / (C n) with C = 1 / (alpha n): same minimiser."""
    n, alpha = 1500, 1e-2
    X, y = make_data(rng, n=n, n_classes=n_classes, sparse=sparse)
    sgd = SGDLogisticRegression(alpha=alpha, average=5 * n, tol=None, max_iter=30,
                                random_state=0).fit(X, y)
    ref = LogisticRegression(C=1 / (alpha * n), tol=1e-8).fit(X, y)
    scale = np.abs(ref.coef_).max()
    np.testing.assert_allclose(sgd.coef_, ref.coef_, atol=2e-2 * scale)
    np.testing.assert_allclose(sgd.intercept_, ref.intercept_, atol=2e-2 * scale)
    assert sgd.n_iter_[0] == 30 and sgd.t_ == 30 * n


@pytest.mark.parametrize("n_classes", [2, 3], ids=["binary", "multinomial"])
@pytest.mark.parametrize("average", [False, True])
def test_partial_fit_stream_equals_fit_epochs(rng, n_classes, average):
    X, y = make_data(rng, n=90, n_classes=n_classes)
    sw = rng.uniform(0.5, 2.0, 90)
    params = dict(alpha=1e-3, shuffle=False, average=average, penalty="elasticnet",
                  backend="numpy")
    full = SGDLogisticRegression(tol=None, max_iter=3, **params).fit(X, y, sample_weight=sw)
    stream = SGDLogisticRegression(**params)
    for _ in range(3):
        for lo in range(0, 90, 30):
            stream.partial_fit(X[lo:lo + 30], y[lo:lo + 30], classes=np.unique(y),
                               sample_weight=sw[lo:lo + 30])
    np.testing.assert_allclose(stream.coef_, full.coef_, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(stream.intercept_, full.intercept_, rtol=1e-12, atol=1e-14)


def test_partial_fit_errors(rng):
    X, y = make_data(rng, n=40, n_classes=3)
    model = SGDLogisticRegression()
    with pytest.raises(ValueError, match="classes must be passed"):
        model.partial_fit(X, y)
    model.partial_fit(X[:20], y[:20], classes=[0, 1, 2])
    with pytest.raises(ValueError, match="not in classes_"):
        model.partial_fit(X, np.where(y == 2, 5, y))
    with pytest.raises(ValueError, match="differ"):
        model.partial_fit(X, y, classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="features"):
        model.partial_fit(X[:, :2], y)
    with pytest.raises(ValueError, match="balanced"):
        SGDLogisticRegression(class_weight="balanced").partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="alpha"):
        SGDLogisticRegression(alpha=0).fit(X, y)
    with pytest.raises(ValueError, match="learning_rate"):
        SGDLogisticRegression(learning_rate="fast").fit(X, y)


def test_sgd_float32_sparse_and_resume_after_load(rng, tmp_path):
    X, y = make_data(rng, n=200, sparse=True, dtype=np.float32)
    model = SGDLogisticRegression(random_state=0, max_iter=5, tol=None).fit(X, y)
    assert model.coef_.dtype == np.float32
    model.save(tmp_path / "sgd.npz")
    loaded = fastlogit.load(tmp_path / "sgd.npz")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.t_ == model.t_
    loaded.partial_fit(X, y)  # continues the stream from the stored weights
    assert loaded.t_ == model.t_ + X.shape[0]


def test_fit_callback_sees_every_iteration_and_can_stop():
    from sklearn.datasets import make_classification

    from fastlogit import LogisticRegression

    X, y = make_classification(200, 8, random_state=0)
    seen = []
    clf = LogisticRegression(solver="lbfgs", tol=1e-10, backend="numpy")
    clf.fit(X, y, callback=lambda theta: seen.append(np.array(theta)) or False)
    # called at the starting point and after each iteration
    assert len(seen) == int(clf.n_iter_[0]) + 1 and len(seen) > 3
    np.testing.assert_allclose(seen[-1], np.append(clf.coef_[0], clf.intercept_), rtol=1e-12)
    calls = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stopped = LogisticRegression(solver="newton-cg", tol=1e-12, backend="numpy").fit(
            X, y, callback=lambda theta: calls.append(1) or len(calls) >= 3)
    assert len(calls) == 3 and int(stopped.n_iter_[0]) == 2 and not stopped.converged_


# ----------------------------------------------------------------------- scikit-learn 1.9 API
def test_constructor_has_sklearns_parameters_and_defaults():
    ours, ref = LogisticRegression().get_params(), SkLogisticRegression().get_params()
    for key, value in ref.items():
        assert key in ours, key
        assert ours[key] == value or (ours[key] is value), (key, ours[key], value)


def test_l1_ratio_decides_the_penalty(rng):
    X, y = make_data(rng, n=200, d=30)
    ours = LogisticRegression(l1_ratio=1.0, C=0.1, solver="saga", tol=1e-8,
                              max_iter=1000).fit(X, y)
    ref = SkLogisticRegression(l1_ratio=1.0, C=0.1, solver="saga", tol=1e-10,
                               max_iter=100000).fit(X, y)
    assert ours.solver_ == "l1"
    assert (ours.coef_ != 0).sum() == (np.abs(ref.coef_) > 1e-6).sum() < X.shape[1]
    # the default solver (lbfgs) cannot honour L1: an error, never a silent L2 fit
    with pytest.raises(ValueError, match="does not support penalty='l1'"):
        LogisticRegression(l1_ratio=1.0, C=0.1).fit(X, y)


def test_C_inf_means_no_penalty(rng):
    X, y = make_data(rng, n=150)
    free = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-10).fit(X, y)
    with pytest.warns(FutureWarning, match="'penalty' was deprecated"):
        old = LogisticRegression(penalty=None, solver="newton-cholesky", tol=1e-10).fit(X, y)
    np.testing.assert_allclose(free.coef_, old.coef_, rtol=1e-8)
    ref = SkLogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-12).fit(X, y)
    np.testing.assert_allclose(free.coef_, ref.coef_, rtol=1e-5, atol=1e-6)


def test_explicit_penalty_warns_like_sklearn_and_is_honoured(rng):
    X, y = make_data(rng, n=150, d=10)
    with pytest.warns(FutureWarning, match="'penalty' was deprecated"):
        l1 = LogisticRegression(penalty="l1", l1_ratio=1.0, C=0.05, solver="saga").fit(X, y)
    assert (l1.coef_ == 0).any()
    with pytest.warns(UserWarning, match="Inconsistent values: penalty=l2 with l1_ratio=0.5"):
        l2 = LogisticRegression(penalty="l2", l1_ratio=0.5, C=0.05).fit(X, y)
    assert (l2.coef_ != 0).all()  # l2 fitted, as scikit-learn does (and said so)
    with pytest.warns(FutureWarning, match="n_jobs"):
        LogisticRegression(n_jobs=2).fit(X, y)


@pytest.mark.parametrize("params,match", [
    (dict(dual=True), "supports only dual=False"),
    (dict(solver="liblinear", l1_ratio=0.5), "Only 'saga' solver supports elasticnet"),
    (dict(solver="liblinear", C=np.inf), "not supported for the liblinear solver"),
    (dict(solver="sag", l1_ratio=1.0), "Solver sag supports only 'l2' or None"),
    (dict(penalty="l1", C=np.inf), "C=np.inf means no penalty"),
    (dict(intercept_scaling=0.0), "intercept_scaling"),
    (dict(solver="nonsense"), "unknown solver.*liblinear"),
])
def test_sklearn_errors(data, params, match):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        with pytest.raises(ValueError, match=match):
            LogisticRegression(**params).fit(X, y)


def test_liblinear_multiclass_raises_sklearns_error(rng):
    X, y = make_data(rng, n=90, n_classes=3)
    with pytest.raises(ValueError, match="does not support multiclass"):
        LogisticRegression(solver="liblinear").fit(X, y)


@pytest.mark.parametrize("l1_ratio", [0.0, 1.0])
def test_liblinear_objective_penalises_the_intercept_as_liblinear(rng, l1_ratio):
    X, y = make_data(rng, n=200, d=6)
    X = X + 2.0  # an intercept far from 0, so that penalising it matters
    ours = LogisticRegression(solver="liblinear", l1_ratio=l1_ratio, C=0.3,
                              intercept_scaling=2.0, tol=1e-10, max_iter=1000).fit(X, y)
    ref = SkLogisticRegression(solver="liblinear", l1_ratio=l1_ratio, C=0.3,
                               intercept_scaling=2.0, tol=1e-12, max_iter=100000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=2e-5)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=2e-5)


def test_max_iter_zero_returns_the_start_with_sklearns_warning(rng):
    from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning

    X, y = make_data(rng, n=60)
    with pytest.warns(SkConvergenceWarning, match="0 iterations"):
        model = LogisticRegression(max_iter=0).fit(X, y)
    assert not model.coef_.any() and model.n_iter_[0] == 0 and not model.converged_
    warm = LogisticRegression(warm_start=True, tol=1e-8).fit(X, y)
    coef = warm.coef_.copy()
    with pytest.warns(SkConvergenceWarning):
        warm.set_params(max_iter=0).fit(X, y)
    np.testing.assert_array_equal(warm.coef_, coef)


def test_convergence_warning_is_sklearns():
    from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning

    assert issubclass(ConvergenceWarning, SkConvergenceWarning)


def test_sparsify_densify_keep_predictions(rng, tmp_path):
    X, y = make_data(rng, n=150, d=20)
    model = LogisticRegression(l1_ratio=1.0, C=0.05, solver="saga").fit(X, y)
    proba = model.predict_proba(X)
    assert sp.issparse(model.sparsify().coef_)
    np.testing.assert_allclose(model.predict_proba(X), proba, rtol=1e-12)
    model.save(tmp_path / "m.flm")
    np.testing.assert_allclose(fastlogit.load(tmp_path / "m.flm").predict_proba(X), proba,
                               rtol=1e-12)
    assert isinstance(model.densify().coef_, np.ndarray)
    np.testing.assert_allclose(model.predict_proba(X), proba, rtol=1e-12)


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cholesky", "trust-region", "saga"])
def test_sklearn_callbacks_see_every_iteration_and_can_stop_the_fit(rng, solver):
    pytest.importorskip("sklearn.callback")
    from sklearn.callback import ProgressBar  # noqa: F401  (the framework is there)

    class Recorder:
        """A FitCallback: records the root and iteration tasks, stops after ``stop_at``."""

        def __init__(self, stop_at=None):
            self.stop_at, self.begun, self.ended, self.scores = stop_at, 0, 0, []

        def setup(self, estimator, context):
            self.setup_called = True

        def teardown(self, estimator, context):
            self.teardown_called = True

        def on_fit_task_begin(self, estimator, context, *, fitted_estimator=None):
            self.begun += 1

        def on_fit_task_end(self, estimator, context, *, X=None, y=None,
                            fitted_estimator=None):
            self.ended += 1
            if fitted_estimator is not None:  # an iteration: the model as it stands
                self.scores.append(fitted_estimator.score(X, y))
            return self.stop_at is not None and len(self.scores) >= self.stop_at

    X, y = make_data(rng, n=300, d=8)
    full = Recorder()
    model = LogisticRegression(solver=solver, tol=1e-8, max_iter=50).set_callbacks(full)
    model.fit(X, y)
    n_iter = int(model.n_iter_[0])
    assert full.setup_called and full.teardown_called
    # one task per iteration, and the task begun after the last iteration (ended empty)
    assert full.begun == full.ended == n_iter + 1
    assert len(full.scores) == n_iter
    # the last iteration's fitted_estimator is the fitted model
    assert full.scores[-1] == pytest.approx(model.score(X, y), abs=1e-12)

    stopper = Recorder(stop_at=2)
    # stopped on request: not converged, and no ConvergenceWarning (the user asked for it)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        stopped = LogisticRegression(solver=solver, tol=1e-12, max_iter=50).set_callbacks(
            stopper).fit(X, y)
    assert int(stopped.n_iter_[0]) == 2 and not stopped.converged_
    assert stopper.begun == stopper.ended == 3


def test_set_callbacks_rejects_what_is_not_a_callback():
    pytest.importorskip("sklearn.callback")
    with pytest.raises(TypeError, match="FitCallback"):
        LogisticRegression().set_callbacks(lambda theta: None)


def test_package_dir_lists_lazy_names():
    names = dir(fastlogit)
    for name in ("LogisticRegression", "LogisticRegressionCV", "SGDLogisticRegression",
                 "regularization_path", "load"):
        assert name in names


def test_no_private_sklearn_imports():
    import ast
    import pathlib

    for module in ("estimator.py", "model_selection.py", "validation.py"):
        tree = ast.parse((pathlib.Path(fastlogit.__file__).parent / module).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sklearn"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private and "._" not in node.module, (module, node.module, private)


@pytest.mark.parametrize("C", [1e-3, 1e-1, 10.0, 1e3])
@pytest.mark.parametrize("solver", ["lbfgs", "auto", "newton-cg", "trust-region",
                                    "newton-cholesky"])
def test_multinomial_l2_class_sums_vanish(C, solver):
    # With L2 the optimum's coefficients sum to zero over classes; at the default tol the
    # fit (the solver's own theta, before any reporting) must be that close to it.
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LogisticRegression(C=C, solver=solver).fit(X, y)
    W = model.fit_result_.theta.reshape(3, -1)[:, :-1]
    assert np.abs(W.sum(axis=0)).max() <= 1e-6 * np.abs(W).max()
