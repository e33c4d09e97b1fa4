"""Group DRO: the minimax optimum against cvxpy's exponential-cone solution, the worst group
never worse than the plain fit's, softmax, weights, CSR, the estimator."""
import numpy as np
import pytest
import scipy.sparse as sp

from fastlogit.group_dro import GroupDROLogisticRegression, group_dro
from fastlogit.objective import Objective
from fastlogit.solvers import solve

cp = pytest.importorskip("cvxpy")


def _shifted(n=300, d=5, minority=0.15, seed=0, k=1):
    """A majority and a minority group whose labels depend on feature 0 with opposite signs:
    the average-loss optimum serves the majority and leaves the minority far behind."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    g = (rng.random(n) < minority).astype(int)
    w = rng.standard_normal((d, max(k, 2)))
    w[0] = 2.0 * np.arange(max(k, 2))
    Z = X @ w
    Z[g == 1] -= 2 * X[g == 1, :1] * w[0]
    Z += 0.5 * rng.standard_normal(Z.shape)
    y = (Z[:, 1] > Z[:, 0]).astype(np.float64) if k == 1 else np.eye(k)[Z[:, :k].argmax(1)]
    return X, y, g, rng.uniform(0.5, 2.0, n)


def _group_losses(X, y, g, theta, k, s=None):
    s = np.ones(X.shape[0]) if s is None else s
    d = X.shape[1]
    if k == 1:
        z = X @ theta[:d] + theta[d]
        loss = np.logaddexp(0, z) - y * z
    else:
        rows = theta.reshape(k, d + 1)
        Z = X @ rows[:, :d].T + rows[:, d]
        loss = np.logaddexp.reduce(Z, axis=1) - (y * Z).sum(1)
    return np.array([s[g == j] @ loss[g == j] / s[g == j].sum() for j in np.unique(g)])


def _cvxpy_dro(X, y, g, C, s, k):
    n, d = X.shape
    S = s.sum()
    W = cp.Variable((d, k)) if k > 1 else cp.Variable(d)
    b = cp.Variable(k) if k > 1 else cp.Variable()
    t = cp.Variable()
    cons = []
    for j in np.unique(g):
        m = g == j
        if k == 1:
            z = X[m] @ W + b
            loss = cp.logistic(z) - cp.multiply(y[m], z)
        else:
            Z = X[m] @ W + np.ones((m.sum(), 1)) @ cp.reshape(b, (1, k), order="C")
            loss = cp.log_sum_exp(Z, axis=1) - cp.sum(cp.multiply(y[m], Z), axis=1)
        cons.append(s[m] @ loss / s[m].sum() <= t)
    prob = cp.Problem(cp.Minimize(C * S * t + 0.5 * cp.sum_squares(W)), cons)
    prob.solve(solver="CLARABEL")
    return prob.value, W.value, b.value


@pytest.mark.parametrize("k,sparse", [(1, False), (1, True), (3, False)],
                         ids=["binary-dense", "binary-csr", "softmax"])
def test_minimax_matches_cvxpy(k, sparse):
    X, y, g, s = _shifted(k=k, seed=k)
    C = 0.05
    res = group_dro(sp.csr_matrix(X) if sparse else X, y, g, s, C=C, tol=1e-10)
    assert res.converged and res.gap <= 1e-10
    f_ref, W, b = _cvxpy_dro(X, y, g, C, s, k)
    assert res.objective == pytest.approx(f_ref, rel=1e-6)
    theta_ref = (np.r_[W, b] if k == 1 else np.column_stack([W.T, b]).ravel())
    if k == 1:  # softmax coefficients are fixed up to no shift with L2; compare values
        np.testing.assert_allclose(res.theta, theta_ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(res.group_losses, _group_losses(X, y, g, res.theta, k, s),
                               rtol=1e-10)
    assert res.q.sum() == pytest.approx(1.0) and np.all(res.q >= 0)
    # complementary slackness: weight only on the groups at the maximum
    active = res.q > 1e-6
    np.testing.assert_allclose(res.group_losses[active], res.worst_group_loss, rtol=1e-6)


def test_worst_group_not_worse_than_the_plain_fit():
    X, y, g, _ = _shifted(n=400, minority=0.1, seed=5)
    C = 0.05
    plain = solve(Objective(X, y, C=C), tol=1e-10).theta
    before = _group_losses(X, y, g, plain, 1)
    assert before.max() > 2 * before.min()  # the average-loss fit leaves one group behind
    res = group_dro(X, y, g, C=C, tol=1e-10)
    assert res.worst_group_loss <= before.max()
    assert res.worst_group_loss < 0.9 * before.max()


def test_one_group_is_the_plain_fit_and_estimator_front():
    X, y, g, s = _shifted(seed=7)
    C = 0.3
    plain = solve(Objective(X, y, s, C=C), tol=1e-10)
    clf = GroupDROLogisticRegression(C=C, tol=1e-10).fit(X, y, sample_weight=s)
    np.testing.assert_allclose(np.r_[clf.coef_[0], clf.intercept_], plain.theta, rtol=1e-7,
                               atol=1e-9)
    clf = GroupDROLogisticRegression(C=C).fit(X, y, groups=np.where(g == 1, "b", "a"))
    assert list(clf.group_labels_) == ["a", "b"]
    assert clf.predict_proba(X).shape == (X.shape[0], 2)
    assert clf.converged_ and clf.duality_gap_ <= 1e-8
    with pytest.raises(ValueError, match="groups must have shape"):
        GroupDROLogisticRegression().fit(X, y, groups=g[:-1])
    with pytest.raises(ValueError, match="positive total sample weight"):
        GroupDROLogisticRegression().fit(X, y, groups=g, sample_weight=np.where(g == 1, 0, 1.))
    with pytest.raises(ValueError, match="smooth penalty"):
        group_dro(X, y, g, penalty="l1")


def test_scikit_learn_estimator_checks():
    from sklearn.utils.estimator_checks import check_estimator

    check_estimator(GroupDROLogisticRegression())


@pytest.mark.parametrize("name", ["a9a", "mushrooms"])
def test_minimax_matches_cvxpy_on_real_data(name):
    from tests.conftest import shared_or_skip

    # the first 400 rows of a shared set, the groups given by one of its binary features
    # (the one present in the share of rows closest to 30 %), the columns those rows use:
    # a9a ends with all weight on one group, mushrooms with both groups tied at the maximum
    X, y = shared_or_skip(name)
    X, y = X[:400], y[:400]
    X = X[:, np.flatnonzero(X.getnnz(axis=0))].toarray()
    share = (X != 0).mean(axis=0)
    column = int(np.argmin(np.abs(share - 0.3)))
    g = (X[:, column] != 0).astype(int)
    X = np.delete(X, column, axis=1)
    s = np.random.default_rng(3).uniform(0.5, 2.0, X.shape[0])
    C = 0.05
    res = group_dro(sp.csr_matrix(X), y, g, s, C=C, tol=1e-10)
    assert res.converged and res.gap <= 1e-10
    f_ref, W, b = _cvxpy_dro(X, y, g, C, s, 1)
    assert res.objective == pytest.approx(f_ref, rel=1e-6)
    np.testing.assert_allclose(res.theta, np.r_[W, b], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(res.group_losses, _group_losses(X, y, g, res.theta, 1, s),
                               rtol=1e-10)
    assert res.worst_group_loss == pytest.approx(res.group_losses.max(), rel=1e-12)
