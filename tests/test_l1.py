"""The L1 / elastic-net solver (fastlogit/solvers/l1.py) against exact and independent
references: SciPy's L-BFGS-B on the split formulation w = u - v (u, v >= 0), scikit-learn's
saga, the in-memory objective for chunked data, and the optimality conditions computed here
in NumPy."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import minimize

from fastlogit.datasets import make_sparse_classification
from fastlogit.objective import Objective
from fastlogit.outofcore import ChunkedObjective
from fastlogit.solvers import ConvergenceWarning, solve
from fastlogit.solvers import _cd
from fastlogit.solvers.l1 import _fista, gap_safe_screen, l1_newton, softmax_l1_optimality


def _binary(n=120, d=10, seed=0, sparse=False, scale=1.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * scale
    w = np.zeros(d)
    w[: d // 2] = rng.standard_normal(d // 2) * 2.0
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(X @ w) - 0.3))).astype(np.float64)
    return (sp.csr_matrix(X) if sparse else X), y


def _split_reference(X, Y, C, lam, a, s=None):
    """argmin C sum_i s_i l_i + lam ||W||_1 + a/2 ||W||^2 with W = U - V, U, V >= 0 and free
    intercepts, by L-BFGS-B; Y (n,) binary or (n, K) one-hot.  Returns (theta in fastlogit's
    layout, F)."""
    X = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    n, d = X.shape
    binary = Y.ndim == 1
    K = 1 if binary else Y.shape[1]
    s = np.ones(n) if s is None else s

    def unpack(x):
        U = x[: K * d].reshape(d, K)
        V = x[K * d: 2 * K * d].reshape(d, K)
        return U, V, x[2 * K * d:]

    def fg(x):
        U, V, B = unpack(x)
        W = U - V
        Z = X @ W + B
        if binary:
            z = Z[:, 0]
            loss = np.logaddexp(0, z) - Y * z
            R = (1.0 / (1.0 + np.exp(-z)) - Y)[:, None]
        else:
            m = Z.max(axis=1, keepdims=True)
            lse = m[:, 0] + np.log(np.exp(Z - m).sum(axis=1))
            loss = lse - (Y * Z).sum(axis=1)
            R = np.exp(Z - lse[:, None]) - Y
        R = C * s[:, None] * R
        GW = X.T @ R + a * W
        f = C * s @ loss + lam * (U.sum() + V.sum()) + 0.5 * a * (W * W).sum()
        return f, np.r_[(GW + lam).ravel(), (-GW + lam).ravel(), R.sum(axis=0)]

    x0 = np.zeros(2 * K * d + K)
    bounds = [(0, None)] * (2 * K * d) + [(None, None)] * K
    res = minimize(fg, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                   options={"ftol": 1e-16, "gtol": 1e-12, "maxiter": 50_000, "maxcor": 30})
    U, V, B = unpack(res.x)
    W = U - V
    theta = np.c_[W.T, B].ravel()
    return theta, float(res.fun)


def _coef(ob, theta):
    return ob.layout.coef(np.asarray(theta))


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("C,l1_ratio", [(0.05, 1.0), (1.0, 1.0), (0.3, 0.5)])
def test_binary_matches_split_reference(sparse, C, l1_ratio):
    X, y = _binary(sparse=sparse, seed=1)
    ob = Objective(X, y, C=C, penalty="elasticnet", l1_ratio=l1_ratio)
    res = solve(ob, "l1", tol=1e-10)
    assert res.converged
    ref, F_ref = _split_reference(X, y, C, l1_ratio, 1.0 - l1_ratio)
    F = ob.value(res.theta)
    assert abs(F - F_ref) <= 1e-8 * abs(F_ref)
    assert F <= F_ref + 1e-12 * abs(F_ref)
    w, w_ref = _coef(ob, res.theta), _coef(ob, ref)
    np.testing.assert_array_equal(w != 0, np.abs(w_ref) > 1e-6)
    np.testing.assert_allclose(res.theta, ref, atol=1e-5)


def test_multinomial_matches_split_reference():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((90, 6))
    labels = np.argmax(X[:, :3] + 0.5 * rng.standard_normal((90, 3)), axis=1)
    Y = np.eye(3)[labels]
    ob = Objective(X, Y, C=0.5, penalty="l1")
    res = solve(ob, "l1", tol=1e-10)
    assert res.converged
    ref, F_ref = _split_reference(X, Y, 0.5, 1.0, 0.0)
    F = ob.value(res.theta)
    assert abs(F - F_ref) <= 1e-8 * abs(F_ref)
    np.testing.assert_array_equal(_coef(ob, res.theta) != 0, np.abs(_coef(ob, ref)) > 1e-6)
    # the hessp (FISTA) model solver reaches the same optimum
    res2 = solve(ob, "l1", tol=1e-10, dense_max=0, column_path=False)
    assert res2.converged
    assert abs(ob.value(res2.theta) - F_ref) <= 1e-8 * abs(F_ref)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_multinomial_weighted_matches_split_reference(sparse, dtype, l1_ratio):
    """Softmax with sample weights, dense and CSR, float32 and float64 data, L1 and elastic
    net: the optimum of the split formulation (computed in float64 on the same values)."""
    rng = np.random.default_rng(8)
    X = rng.standard_normal((80, 5)) * (rng.random((80, 5)) < 0.7)
    labels = np.argmax(X[:, :4] @ rng.standard_normal((4, 4))
                       + 0.7 * rng.standard_normal((80, 4)), axis=1)
    Y = np.eye(4)[labels]
    sw = rng.uniform(0.2, 3.0, 80)
    sw[:5] = 0.0
    Xd = X.astype(dtype)
    ob = Objective(sp.csr_matrix(Xd) if sparse else Xd, Y, sw, C=0.4,
                   penalty="elasticnet", l1_ratio=l1_ratio)
    res = solve(ob, "l1", tol=1e-10)
    assert res.converged
    X64 = Xd.astype(np.float64)
    ref, F_ref = _split_reference(X64, Y, 0.4, l1_ratio, 1.0 - l1_ratio, s=sw)
    # F in float64 on the same values (the float32 objective rounds its value to ~1e-7)
    F = Objective(X64, Y, sw, C=0.4, penalty="elasticnet", l1_ratio=l1_ratio).value(res.theta)
    assert abs(F - F_ref) <= 1e-8 * abs(F_ref)
    assert F <= F_ref + 1e-12 * abs(F_ref)
    w = _coef(ob, res.theta)
    assert (w == 0).any() and (w != 0).any()  # the penalty leaves a proper sparse optimum
    # softmax is unchanged by a shift of a feature's (or the intercepts') row across the
    # classes, and with 4 classes the L1 term is flat over such shifts: the minimiser is not
    # unique, the probabilities are
    def proba(theta):
        T = theta.reshape(4, 6)
        Z = X64 @ T[:, :5].T + T[:, 5]
        E = np.exp(Z - Z.max(axis=1, keepdims=True))
        return E / E.sum(axis=1, keepdims=True)

    np.testing.assert_allclose(proba(res.theta), proba(ref), atol=1e-5)
    # the joint multinomial working-set path (used above dense_max)
    joint = solve(ob, "l1", tol=1e-10, dense_max=0)
    assert joint.converged
    F_joint = Objective(X64, Y, sw, C=0.4, penalty="elasticnet",
                        l1_ratio=l1_ratio).value(joint.theta)
    assert abs(F_joint - F_ref) <= 1e-8 * abs(F_ref)
    np.testing.assert_allclose(proba(joint.theta), proba(ref), atol=1e-5)


def test_multinomial_joint_path_matches_the_dense_model_path():
    """The joint multinomial path (used above dense_max, forced here by dense_max=0) with a
    working set started far below the support reaches the optimum of the exact dense-model
    path and reports the optimality measure computed here."""
    rng = np.random.default_rng(11)
    n, d, K = 150, 60, 5
    X = sp.random(n, d, density=0.15, random_state=rng, format="csr") * 3.0
    labels = np.argmax(np.asarray(X @ rng.standard_normal((d, K))) * 4.0
                       + 0.3 * rng.standard_normal((n, K)), axis=1)
    Y = np.eye(K)[labels]
    ob = Objective(X, Y, C=20.0, penalty="l1")
    joint = solve(ob, "l1", tol=1e-9, dense_max=0, ws_min=4)
    assert joint.converged
    g0 = softmax_l1_optimality(X, Y, np.zeros(ob.n_params), 20.0)
    kkt = softmax_l1_optimality(X, Y, joint.theta, 20.0)
    assert kkt == pytest.approx(joint.grad_norm, rel=1e-6, abs=1e-9)
    assert kkt <= 1e-9 * g0
    exact = solve(ob, "l1", tol=1e-10)  # the generic path, dense joint model Hessian
    assert exact.converged
    F = ob.value(exact.theta)
    assert abs(ob.value(joint.theta) - F) <= 1e-9 * F
    # elastic net without intercepts: the same agreement
    ob = Objective(X, Y, C=20.0, penalty="elasticnet", l1_ratio=0.7, fit_intercept=False)
    joint = solve(ob, "l1", tol=1e-10, dense_max=0, ws_min=4)
    exact = solve(ob, "l1", tol=1e-10)
    assert joint.converged and exact.converged
    F = ob.value(exact.theta)
    assert abs(ob.value(joint.theta) - F) <= 1e-9 * F


def test_multinomial_joint_path_with_saturating_classes():
    """news20's failure mode in small: many rare features, ten nearly separable classes at
    a large C (probabilities saturate, some model steps go astronomically far and the line
    search fails until the model is damped); the fit meets the optimality conditions
    computed here (the per-class block path this replaced did not converge on news20)."""
    X, _ = make_sparse_classification(300, 2000, mean_nnz=30, random_state=3)
    rng = np.random.default_rng(0)
    K = 10
    labels = np.argmax(np.asarray(X @ rng.standard_normal((2000, K)))
                       + 0.1 * rng.standard_normal((300, K)), axis=1)
    Y = np.eye(K)[labels]
    ob = Objective(X, Y, C=10.0, penalty="l1")
    res = solve(ob, "l1", tol=1e-9, dense_max=0)
    assert res.converged
    g0 = softmax_l1_optimality(X, Y, np.zeros(ob.n_params), 10.0)
    kkt = softmax_l1_optimality(X, Y, res.theta, 10.0)
    assert kkt == pytest.approx(res.grad_norm, rel=1e-6, abs=1e-9)
    assert kkt <= 1e-9 * g0


def test_sample_weights_equal_repeated_rows():
    X, y = _binary(n=60, d=8, seed=4, sparse=True)
    sw = np.random.default_rng(0).integers(0, 4, size=60).astype(np.float64)
    rep = np.repeat(np.arange(60), sw.astype(int))
    ob_w = Objective(X, y, sw, C=0.7, penalty="l1")
    ob_r = Objective(X[rep], y[rep], C=0.7, penalty="l1")
    res_w = solve(ob_w, "l1", tol=1e-11)
    res_r = solve(ob_r, "l1", tol=1e-11)
    np.testing.assert_allclose(res_w.theta, res_r.theta, atol=1e-8)
    ref, F_ref = _split_reference(X, y, 0.7, 1.0, 0.0, s=sw)
    assert abs(ob_w.value(res_w.theta) - F_ref) <= 1e-8 * abs(F_ref)


def test_elastic_net_matches_saga():
    from sklearn.linear_model import LogisticRegression

    X, y = _binary(n=150, d=8, seed=5)
    C, r = 0.2, 0.5
    ob = Objective(X, y, C=C, penalty="elasticnet", l1_ratio=r)
    res = solve(ob, "l1", tol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = LogisticRegression(C=C, l1_ratio=r, penalty="elasticnet", solver="saga",
                                 tol=1e-10, max_iter=100_000).fit(X, y)
    F_saga = ob.value(np.r_[est.coef_.ravel(), est.intercept_])
    F = ob.value(res.theta)
    assert F <= F_saga * (1 + 1e-12)
    assert abs(F - F_saga) <= 1e-6 * abs(F_saga)


def test_chunked_equals_in_memory():
    X, y = make_sparse_classification(300, 150, mean_nnz=12, random_state=2)
    mem = Objective(X, y, C=2.0, penalty="l1")
    chunked = ChunkedObjective(X, y, C=2.0, penalty="l1", chunk_nnz=700)
    assert len(chunked.chunks) > 3
    r_mem = solve(mem, "l1", tol=1e-10)
    r_chk = solve(chunked, "l1", tol=1e-10)   # generic path: the contract only
    assert r_mem.converged and r_chk.converged
    F = mem.value(r_mem.theta)
    assert abs(mem.value(r_chk.theta) - F) <= 1e-10 * F
    np.testing.assert_array_equal(r_mem.theta != 0, r_chk.theta != 0)


def test_float32_data_fits_to_float64_precision():
    X, y = make_sparse_classification(200, 300, mean_nnz=15, random_state=3,
                                      dtype=np.float32)
    ob32 = Objective(X, y, C=3.0, penalty="l1")
    ob64 = Objective(X.astype(np.float64), y, C=3.0, penalty="l1")
    r32 = solve(ob32, "l1", tol=1e-10)
    r64 = solve(ob64, "l1", tol=1e-10)
    assert r32.converged
    F64 = ob64.value(r64.theta)
    assert abs(ob64.value(r32.theta) - F64) <= 1e-10 * F64
    np.testing.assert_array_equal(r32.theta != 0, r64.theta != 0)


def _kkt(X, y, theta, C, lam, a=0.0):
    """inf-norm of the minimum-norm subgradient of F, computed here in NumPy."""
    d = X.shape[1]
    w, b = theta[:d], theta[d]
    z = np.asarray(X @ w).ravel() + b
    r = C * (1.0 / (1.0 + np.exp(-z)) - y)
    g = np.asarray(X.T @ r).ravel() + a * w
    sub = np.where(w != 0, g + lam * np.sign(w), np.sign(g) * np.maximum(np.abs(g) - lam, 0))
    return max(np.abs(sub).max(), abs(r.sum()))


def test_result_reports_the_optimality_measure():
    X, y = make_sparse_classification(400, 2000, mean_nnz=20, random_state=4)
    ob = Objective(X, y, C=4.0, penalty="l1")
    res = solve(ob, "l1", tol=1e-7)
    assert res.converged
    kkt = _kkt(X, y, res.theta, 4.0, 1.0)
    assert kkt == pytest.approx(res.grad_norm, rel=1e-6, abs=1e-12)
    g0 = _kkt(X, y, np.zeros(ob.n_params), 4.0, 1.0)
    assert kkt <= 1e-7 * max(1.0, g0)


def test_not_converged_warns_with_the_measure():
    X, y = make_sparse_classification(400, 2000, mean_nnz=20, random_state=4)
    ob = Objective(X, y, C=4.0, penalty="l1")
    with pytest.warns(ConvergenceWarning, match=r"\|\|grad F\|\|_inf = [0-9.e+-]+ >"):
        res = solve(ob, "l1", tol=1e-10, max_iter=2)
    assert not res.converged
    assert res.grad_norm == pytest.approx(_kkt(X, y, res.theta, 4.0, 1.0), rel=1e-6)


def test_warm_started_path_costs_fewer_iterations():
    X, y = make_sparse_classification(500, 3000, mean_nnz=25, random_state=5)
    ob = Objective(X, y, C=1.0, penalty="l1")
    Cs = np.geomspace(0.5, 20, 6)
    cold = warm = 0
    theta = None
    for C in Cs:
        ob.C = float(C)
        r_cold = l1_newton(ob, np.zeros(ob.n_params), tol=1e-8)
        r_warm = l1_newton(ob, np.zeros(ob.n_params) if theta is None else theta, tol=1e-8)
        assert r_cold.converged and r_warm.converged
        F = ob.value(r_cold.theta)
        assert abs(ob.value(r_warm.theta) - F) <= 1e-9 * F
        theta = r_warm.theta
        cold += r_cold.n_iter
        warm += r_warm.n_iter
    assert warm < cold


def test_fista_with_an_underestimated_curvature_still_solves_the_model():
    """The news20 failure: the model's FISTA ran with a Lipschitz constant 5x below the
    Hessian's largest eigenvalue (an estimate from an earlier iterate), diverged to overflow
    and the step was reported as 'no descent direction'.  The backtracking must recover."""
    rng = np.random.default_rng(6)
    A = rng.standard_normal((40, 25)) * 3.0
    H = A.T @ A
    g = rng.standard_normal(25) * 20.0
    theta = rng.standard_normal(25) * (rng.random(25) < 0.5)
    lam = np.full(25, 5.0)
    lam[-1] = 0.0  # one unpenalised entry, like an intercept
    lmax = np.linalg.eigvalsh(H)[-1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow would raise here
        u, L = _fista(lambda v: H @ v, g, theta, lam, lmax / 5.0, 1e-9, 20_000)
    exact, _, viol = _cd.cd_dense(H, g, theta, lam, 1e-12, 100_000)
    assert viol <= 1e-12
    assert L >= lmax / 5.0
    np.testing.assert_allclose(u, exact, atol=1e-7)


def test_wide_sparse_both_paths_reach_the_optimum():
    """A news20-like problem (many more features than rows, Zipf frequencies, large C): the
    column path and the generic hessp path agree and meet the optimality conditions."""
    X, y = make_sparse_classification(300, 4000, mean_nnz=40, random_state=7)
    X = X * 3.0
    ob = Objective(X, y, C=10.0, penalty="l1")
    r_col = solve(ob, "l1", tol=1e-8)
    r_gen = solve(ob, "l1", tol=1e-8, column_path=False, dense_max=0)
    assert r_col.converged and r_gen.converged
    F = ob.value(r_col.theta)
    assert abs(ob.value(r_gen.theta) - F) <= 1e-9 * F
    g0 = _kkt(X, y, np.zeros(ob.n_params), 10.0, 1.0)
    assert _kkt(X, y, r_col.theta, 10.0, 1.0) <= 1e-8 * g0


def test_news20_subset_reaches_the_optimum():
    """Rows of the shared news20 set (binary y > 10), where the former solver stopped 19 %
    above the optimum: the optimality conditions hold to tol, computed independently."""
    shared = pytest.importorskip("benchmarks.shared_data")
    try:
        X, y = shared.load_shared("news20")
    except FileNotFoundError as exc:
        pytest.skip(f"news20 not available: {exc}")
    rows = np.random.default_rng(0).choice(X.shape[0], 3000, replace=False)
    X, y = X[np.sort(rows)], y[np.sort(rows)]
    ob = Objective(X, y, C=1.0, penalty="l1")
    res = solve(ob, "l1", tol=1e-8)
    assert res.converged
    g0 = _kkt(X, y, np.zeros(ob.n_params), 1.0, 1.0)
    assert _kkt(X, y, res.theta, 1.0, 1.0) <= 1e-8 * g0


@pytest.mark.parametrize("l1_ratio,weighted", [(1.0, False), (0.5, True)])
def test_gap_safe_screening_is_safe_and_tight(l1_ratio, weighted):
    """Weak duality (dual <= F* <= primal), every feature screened at any point is zero at
    the optimum, and at the optimum the gap vanishes and most zeros are screened."""
    X, y = make_sparse_classification(400, 600, mean_nnz=15, random_state=11)
    sw = np.random.default_rng(1).uniform(0.0, 2.0, 400) if weighted else None
    ob = Objective(X, y, sw, C=2.0, penalty="elasticnet", l1_ratio=l1_ratio)
    opt = solve(ob, "l1", tol=1e-12)
    assert opt.converged
    F_star = ob.value(opt.theta)
    zero = _coef(ob, opt.theta).ravel() == 0
    ob_far = Objective(X, y, sw, C=1.0, penalty="elasticnet", l1_ratio=l1_ratio)
    far = solve(ob_far, "l1", tol=1e-8).theta  # the previous C of a path
    for theta in (np.zeros(ob.n_params), far, solve(ob, "l1", tol=1e-3).theta, opt.theta):
        sc = gap_safe_screen(ob, theta)
        assert sc.primal == pytest.approx(ob.value(theta), rel=1e-12)
        assert sc.dual <= F_star * (1 + 1e-12) and F_star <= sc.primal * (1 + 1e-12)
        assert sc.gap >= sc.primal - F_star - 1e-12 * F_star
        assert not (sc.inactive & ~zero).any()  # never a feature of the optimum
    assert sc.gap <= 1e-6 * F_star
    assert sc.inactive.sum() >= 0.9 * zero.sum()


def test_gap_safe_screening_refuses_what_it_cannot_prove():
    X, y = _binary(seed=2)
    with pytest.raises(ValueError, match="gap_safe_screen needs .*l1_strength > 0"):
        gap_safe_screen(Objective(X, y, C=1.0, penalty="l2"), np.zeros(X.shape[1] + 1))
    Y = np.eye(3)[np.arange(X.shape[0]) % 3]
    with pytest.raises(ValueError, match="binary log-loss"):
        gap_safe_screen(Objective(X, Y, C=1.0, penalty="l1"), np.zeros(3 * (X.shape[1] + 1)))


def test_screened_path_step_equals_the_plain_fit():
    """A path step screened at the previous C's optimum, the proof handed to the solver:
    the same optimum as the unscreened fit; a malformed mask is refused."""
    X, y = make_sparse_classification(400, 800, mean_nnz=15, random_state=12)
    prev = solve(Objective(X, y, C=1.9, penalty="l1"), "l1", tol=1e-10).theta
    ob = Objective(X, y, C=2.0, penalty="l1")
    sc = gap_safe_screen(ob, prev)
    assert sc.inactive.sum() > 0.3 * X.shape[1]
    plain = l1_newton(ob, prev, tol=1e-10)
    screened = l1_newton(ob, prev, tol=1e-10, inactive=sc.inactive)
    assert plain.converged and screened.converged
    F = ob.value(plain.theta)
    assert abs(ob.value(screened.theta) - F) <= 1e-12 * F
    np.testing.assert_array_equal(plain.theta != 0, screened.theta != 0)
    assert _kkt(X, y, screened.theta, 2.0, 1.0) <= 1e-9 * _kkt(X, y, 0 * prev, 2.0, 1.0)
    with pytest.raises(ValueError, match=r"inactive must be a boolean mask of shape"):
        l1_newton(ob, prev, inactive=np.zeros(X.shape[1], dtype=int))
    # through solve(), which drops empty columns first: the mask follows the kept columns
    Xe = sp.hstack([X, sp.csr_matrix((X.shape[0], 2))]).tocsr()
    obe = Objective(Xe, y, C=2.0, penalty="l1")
    prev_e = np.r_[prev[:-1], 0.0, 0.0, prev[-1]]
    mask = gap_safe_screen(obe, prev_e).inactive
    assert mask[-2:].all()
    res = solve(obe, "l1", prev_e, tol=1e-10, inactive=mask)
    assert res.converged and abs(obe.value(res.theta) - F) <= 1e-12 * F


def test_cold_start_at_the_intercepts_optimum_keeps_the_fit_exact():
    """A cold start with few violators begins at w = 0, b = logit(weighted mean label) (the
    first entry the callback sees); the stopping rule's reference stays the gradient at 0,
    and the fit matches the split reference."""
    X, y = _binary(n=150, d=12, seed=11, sparse=True)
    sw = np.random.default_rng(2).uniform(0.0, 3.0, 150)
    C = 0.08
    ob = Objective(X, y, sw, C=C, penalty="l1")
    seen = []
    res = solve(ob, "l1", tol=1e-10, callback=lambda th: seen.append(th.copy()) and False)
    assert res.converged
    ybar = float(sw @ y) / float(sw.sum())
    np.testing.assert_array_equal(seen[0][:12], 0.0)
    assert seen[0][12] == pytest.approx(np.log(ybar / (1.0 - ybar)), rel=1e-12)
    ref, F_ref = _split_reference(X, y, C, 1.0, 0.0, s=sw)
    assert abs(ob.value(res.theta) - F_ref) <= 1e-8 * abs(F_ref)
    assert 0 < np.count_nonzero(res.theta[:12]) < 12
    # stopped on the reference at 0 (not at the start): the measure, recomputed here with
    # the weights, is below tol * ||minimum-norm subgradient at 0||
    def kkt(theta):
        w, b = theta[:12], theta[12]
        r = C * sw * (1.0 / (1.0 + np.exp(-(X @ w + b))) - y)
        g = X.T @ r
        sub = np.where(w != 0, g + np.sign(w), np.sign(g) * np.maximum(np.abs(g) - 1.0, 0))
        return max(np.abs(sub).max(), abs(r.sum()))

    assert res.grad_norm == pytest.approx(kkt(res.theta), rel=1e-6, abs=1e-13)
    assert kkt(res.theta) <= 1e-10 * max(1.0, kkt(np.zeros(13)))


def test_csr_with_duplicate_entries_fits_as_its_sum_and_is_left_unchanged(monkeypatch):
    """The column path reads X's rows in place only when they are canonical; a CSR matrix with
    duplicate entries (which scipy sums) is fitted through a summed copy, on the working
    set's columns (extracted from the rows) and on the full column copy alike."""
    X, y = make_sparse_classification(300, 900, mean_nnz=15, random_state=7)
    X = sp.csr_matrix(X, dtype=np.float64)
    # split every row's first entry into two halves at the same column
    indptr, indices, data = X.indptr, X.indices, X.data
    first = indptr[:-1][np.diff(indptr) > 0]
    new_idx = np.insert(indices, first, indices[first])
    new_dat = np.insert(data, first, 0.5 * data[first])
    new_dat[first + np.arange(first.size) + 1] *= 0.5
    counts = np.diff(indptr) + (np.diff(indptr) > 0)
    Xd = sp.csr_matrix((new_dat, new_idx, np.r_[0, np.cumsum(counts)]), shape=X.shape)
    assert not Xd.has_canonical_format
    before = Xd.data.copy()
    from fastlogit.solvers import l1

    copies = []
    full_copy_of = l1._csc_of
    monkeypatch.setattr(l1, "_csc_of",
                        lambda data, *counts: copies.append(1) or full_copy_of(data, *counts))
    # 2 / 177 non-zeros; working sets of at least 900 features hold most of X's entries
    for C, ws_min, full_copy in ((0.5, 256, False), (10.0, 900, True)):
        ref = solve(Objective(X, y, C=C, penalty="l1"), "l1", tol=1e-10)
        copies.clear()
        res = solve(Objective(Xd, y, C=C, penalty="l1"), "l1", tol=1e-10, ws_min=ws_min)
        assert res.converged and ref.converged
        np.testing.assert_allclose(res.theta, ref.theta, atol=1e-8)
        assert 0 < np.count_nonzero(res.theta[:-1]) < 900
        assert bool(copies) == full_copy  # both ways of reaching the columns ran
    np.testing.assert_array_equal(Xd.data, before)


def test_full_columns_path_same_optimum():
    """full_columns=True (the column path on X's full column copy from the first round, as a
    regularisation path asks for) reaches the plain fit's optimum and support, and is the
    empty-mask run bitwise."""
    X, y = make_sparse_classification(400, 800, mean_nnz=15, random_state=13)
    ob = Objective(X, y, C=1.5, penalty="l1")
    start = np.zeros(ob.n_params)
    plain = l1_newton(ob, start, tol=1e-10)
    full = l1_newton(ob, start, tol=1e-10, full_columns=True)
    empty = l1_newton(ob, start, tol=1e-10, inactive=np.zeros(X.shape[1], dtype=bool))
    assert plain.converged and full.converged
    F = ob.value(plain.theta)
    assert abs(ob.value(full.theta) - F) <= 1e-12 * F
    np.testing.assert_array_equal(plain.theta != 0, full.theta != 0)
    np.testing.assert_array_equal(full.theta, empty.theta)


def test_column_kernels_against_numpy():
    """The column path's helpers against plain NumPy: per-coordinate violations (a NaN
    gradient stays visible), pointwise terms at repeated margins (the cached exponential is
    the same bits), column extraction from the rows, the gradient pass's non-zero counts and max |entry|."""
    rng = np.random.default_rng(5)
    d = 40
    g = rng.standard_normal(d) * 2.0
    w = np.where(rng.random(d) < 0.5, 0.0, rng.standard_normal(d))
    lam = 0.7
    out = np.empty(d)
    vmax = _cd.violation(g, w, lam, out)
    ref = np.where(w != 0, np.abs(g + lam * np.sign(w)), np.maximum(np.abs(g) - lam, 0.0))
    np.testing.assert_array_equal(out, ref)
    assert vmax == ref.max()
    for k in range(7):  # every length modulo the four running maxima, the maximum anywhere
        assert _cd.violation(g[k:], w[k:], lam, out[k:]) == ref[k:].max()
        assert _cd.violation(g[:k + 1], w[:k + 1], lam, out[:k + 1]) == ref[:k + 1].max()
    assert _cd.violation(g[:0], w[:0], lam, out[:0]) == 0.0
    g[3] = np.nan
    assert np.isnan(_cd.violation(g, w, lam, out))
    g[3] = 0.0
    g[-1] = np.nan  # in the remainder after the groups of four
    assert not np.isnan(_cd.violation(g[:39], w[:39], lam, out[:39]))
    assert np.isnan(_cd.violation(g, w, lam, out))
    # pointwise: margins with runs of equal values, against one sample at a time
    n = 50
    z = np.repeat(rng.standard_normal(10) * 5, 5)
    z[:7] = 0.0
    y = (rng.random(n) < 0.5).astype(np.float64)
    s = rng.random(n)
    r, D, p = np.empty(n), np.empty(n), np.empty(n)
    loss = _cd.pointwise(z, y, s, 2.0, r, D, p)
    r1, D1, p1 = np.empty(1), np.empty(1), np.empty(1)
    parts = []
    for i in range(n):
        parts.append(_cd.pointwise(z[i:i + 1], y[i:i + 1], s[i:i + 1], 2.0, r1, D1, p1))
        assert (r[i], D[i], p[i]) == (r1[0], D1[0], p1[0])
    assert loss == pytest.approx(sum(parts), rel=1e-14)
    np.testing.assert_allclose(p, 1.0 / (1.0 + np.exp(-z)), rtol=1e-15)
    # columns of a CSR matrix extracted with their counts given
    X = sp.random(30, 12, density=0.3, random_state=rng, format="csr")
    X.data -= 0.5
    ip64 = np.asarray(X.indptr, dtype=np.int64)
    r = rng.standard_normal(30)
    g1, g2, counts = np.empty(12), np.empty(12), np.empty(12, dtype=np.int64)
    amax, ones = _cd.grad_rows(ip64, X.indices, X.data, r, g1, 2 * r, g2, counts)
    np.testing.assert_allclose(g1, X.T @ r, rtol=1e-13)
    np.testing.assert_allclose(g2, X.T @ (2 * r), rtol=1e-13)
    np.testing.assert_array_equal(counts, X.getnnz(axis=0))
    assert amax == np.abs(X.data).max() and not ones
    # the counting pass tells a binary X (every stored value 1.0), as all_ones does
    ones_data = np.ones(X.nnz)
    for vals, want in ((ones_data, True), (np.r_[ones_data[:-1], 2.0], False),
                       (np.r_[ones_data[:-1], 0.5], False), (-ones_data, False)):
        _, got = _cd.grad_rows(ip64, X.indices, vals, r, g1, r[:0], g2, counts)
        assert got == want == _cd.all_ones(vals)
    assert _cd.grad_rows(ip64, X.indices, ones_data, r, g1, r[:0], g2, counts[:0]) == (0.0, False)
    # a binary X's values need not be read: the same bits
    _cd.grad_rows(ip64, X.indices, ones_data, r, g1, 2 * r, g2, counts[:0])
    u1, u2 = np.empty(12), np.empty(12)
    _cd.grad_rows(ip64, X.indices, ones_data, r, u1, 2 * r, u2, counts[:0], True)
    np.testing.assert_array_equal(u1, g1)
    np.testing.assert_array_equal(u2, g2)
    cols = np.array([7, 2, 9], dtype=np.int64)
    pos = np.full(12, -1, dtype=np.int64)
    pos[cols] = np.arange(3)
    cp = np.r_[0, np.cumsum(counts[cols])].astype(np.int64)
    ip, ri, rv = _cd.cols_of_rows(ip64, X.indices, X.data, pos, cp)
    got = sp.csc_matrix((rv, ri, ip), shape=(30, 3)).toarray()
    np.testing.assert_array_equal(got, X[:, cols].toarray())
    # with the rows of the first k columns from the same pass: rows_of_cols' arrays
    order = np.array([2, 7, 9, 0, 5], dtype=np.int64)
    pos = np.full(12, -1, dtype=np.int64)
    pos[order] = np.arange(5)
    cp = np.r_[0, np.cumsum(counts[order])].astype(np.int64)
    for k in (1, 3, 5):
        csc, wrows = _cd.cols_and_rows_of_rows(ip64, X.indices, X.data, pos, cp, k)
        for u, v in zip(csc, _cd.cols_of_rows(ip64, X.indices, X.data, pos, cp)):
            np.testing.assert_array_equal(u, v)
        if k <= 3:  # pos increasing in j on the first k columns: rows_of_cols' order too
            ref = _cd.rows_of_cols(*csc, np.arange(k, dtype=np.int64), 30)
            for u, v in zip(wrows, ref):
                assert u.dtype == v.dtype
                np.testing.assert_array_equal(u, v)
        np.testing.assert_array_equal(sp.csr_matrix(wrows[::-1], shape=(30, k)).toarray(),
                                      X[:, order[:k]].toarray())


def test_canonical_rows_is_scipys_canonical_format():
    """canonical_rows says what SciPy's has_canonical_format says: on random CSR matrices
    with empty rows, with a duplicate entry, with a row out of order (also at a row's first
    entry against the previous row's last, which must not count), and on 0 or 1 entries."""
    rng = np.random.default_rng(31)
    for seed in range(40):
        X = sp.random(30, 9, density=rng.uniform(0.0, 0.6), random_state=seed, format="csr")
        ip, ind = np.asarray(X.indptr, dtype=np.int64), X.indices.copy()
        cases = [ind]
        rows = np.flatnonzero(np.diff(X.indptr) >= 2)
        if rows.size:
            q = X.indptr[rows[0]]
            dup, swap = ind.copy(), ind.copy()
            dup[q + 1] = dup[q]
            swap[q], swap[q + 1] = swap[q + 1], swap[q]
            cases += [dup, swap]
        for c in cases:
            want = sp.csr_matrix((X.data, c, X.indptr), shape=X.shape).has_canonical_format
            assert _cd.canonical_rows(ip, c) == want
    # a row starting below the previous row's last index is still canonical
    assert _cd.canonical_rows(np.array([0, 2, 4], dtype=np.int64),
                              np.array([3, 8, 0, 1], dtype=np.int32))
    for ip, ind in (([0, 0, 0], []), ([0, 1], [4])):
        assert _cd.canonical_rows(np.array(ip, dtype=np.int64), np.array(ind, dtype=np.int32))


def test_skipping_kept_and_reference_kernels_match_their_numpy_forms():
    """grad_skip equals grad_cols over the kept columns plus a w there, bit for bit, and
    leaves the skipped entries alone; grad_hdiag_kept copies the kept features' values and
    computes the others as grad_hdiag_cols does (==); binary_reference_norm is
    reference_gradient_norm's number (==) for L1 and elastic net, with and without an
    intercept, and at lam = 0."""
    from fastlogit.solvers._result import (binary_reference_norm, data_grad_at_zero,
                                           reference_gradient_norm)

    rng = np.random.default_rng(8)
    X = sp.random(40, 25, density=0.3, random_state=rng, format="csc")
    X.data -= 0.5
    ip = np.asarray(X.indptr, dtype=np.int64)
    r, w = rng.standard_normal(40), rng.standard_normal(25)
    skip = rng.random(25) < 0.4
    out = np.full(25, 7.0)
    _cd.grad_skip(ip, X.indices, X.data, skip, r, w, 0.3, out)
    keep = np.flatnonzero(~skip).astype(np.int64)
    sub = np.empty(keep.size)
    _cd.grad_cols(ip, X.indices, X.data, keep, r, sub)
    np.testing.assert_array_equal(out[keep], sub + 0.3 * w[keep])
    assert (out[skip] == 7.0).all()
    # grad_hdiag_kept: kept features copied, the others as grad_hdiag_cols computes them
    D = rng.random(40)
    feats = np.array([1, 4, 5, 9, 13, 20, 24], dtype=np.int64)
    kf = np.array([0, 4, 9, 10, 24], dtype=np.int64)
    kg, kh = rng.standard_normal(5), rng.random(5)
    g1, h1 = np.empty(7), np.empty(7)
    _cd.grad_hdiag_kept(ip, X.indices, X.data, feats, feats, r, D, kf, kg, kh, g1, h1)
    g2, h2 = np.empty(7), np.empty(7)
    _cd.grad_hdiag_cols(ip, X.indices, X.data, feats, r, D, g2, h2)
    hit = np.isin(feats, kf)
    np.testing.assert_array_equal(g1[~hit], g2[~hit])
    np.testing.assert_array_equal(h1[~hit], h2[~hit])
    np.testing.assert_array_equal(g1[hit], kg[np.searchsorted(kf, feats[hit])])
    np.testing.assert_array_equal(h1[hit], kh[np.searchsorted(kf, feats[hit])])
    np.testing.assert_allclose(g2, X[:, feats].T @ r, rtol=1e-13)
    np.testing.assert_allclose(h2, X[:, feats].power(2).T @ D, rtol=1e-13)
    Xs, ys = make_sparse_classification(60, 30, mean_nnz=6, random_state=3)
    for fit_intercept in (True, False):
        for penalty, extra in (("l1", {}), ("elasticnet", {"l1_ratio": 0.5}),
                               ("elasticnet", {"l1_ratio": 0.0})):
            for C in (0.01, 0.7, 30.0):
                ob = Objective(Xs, ys, C=C, penalty=penalty, fit_intercept=fit_intercept,
                               **extra)
                g0 = data_grad_at_zero(ob.data, ob.n_params)
                got = binary_reference_norm(g0, ob.n_features,
                                            float(ob.penalty.l1_strength), float(C))
                assert got == reference_gradient_norm(ob, ob.zeros() + 1.0)
                # the column path's cold start: from a smooth gradient at 0 with C in it
                g = C * g0 + rng.standard_normal(g0.size) * 0.1
                got = binary_reference_norm(g, ob.n_features, float(ob.penalty.l1_strength),
                                            1.0)
                assert got == reference_gradient_norm(ob, ob.zeros(), g)


def test_gradient_in_and_out_for_paths():
    """grad_out holds the smooth gradient at the returned theta (against value_grad); a fit
    given grad_start (the path's gradient at its start) reaches the plain fit's optimum;
    a grad_start that wrongly claims optimality is not trusted; bad arrays are refused."""
    X, y = make_sparse_classification(300, 500, mean_nnz=12, random_state=21)
    ob = Objective(X, y, C=0.5, penalty="l1")
    g1 = np.empty(ob.n_params)
    first = l1_newton(ob, np.zeros(ob.n_params), tol=1e-10, full_columns=True, grad_out=g1)
    assert first.converged
    np.testing.assert_allclose(g1, ob.value_grad(first.theta)[1], rtol=1e-9, atol=1e-10)
    ob2 = Objective(X, y, C=2.0, penalty="l1")
    plain = l1_newton(ob2, first.theta, tol=1e-10, full_columns=True)
    g2 = np.empty(ob2.n_params)
    given = l1_newton(ob2, first.theta, tol=1e-10, full_columns=True, grad_start=4.0 * g1,
                      grad_out=g2)
    assert plain.converged and given.converged
    F = ob2.value(plain.theta)
    assert abs(ob2.value(given.theta) - F) <= 1e-12 * F
    np.testing.assert_allclose(g2, ob2.value_grad(given.theta)[1], rtol=1e-9, atol=1e-10)
    lied = l1_newton(ob2, first.theta, tol=1e-10, full_columns=True,
                     grad_start=np.zeros(ob2.n_params))
    assert lied.converged and lied.n_iter > 0
    assert abs(ob2.value(lied.theta) - F) <= 1e-12 * F
    # the generic path fills grad_out through value_grad
    g3 = np.empty(ob.n_params)
    gen = l1_newton(ob, np.zeros(ob.n_params), tol=1e-8, column_path=False, grad_out=g3)
    np.testing.assert_array_equal(g3, ob.value_grad(gen.theta)[1])
    with pytest.raises(ValueError, match="grad_start must be a float64 array of shape"):
        l1_newton(ob, np.zeros(ob.n_params), grad_start=np.zeros(3))
    with pytest.raises(ValueError, match="grad_out must be a float64 array"):
        l1_newton(ob, np.zeros(ob.n_params), grad_out=np.zeros(ob.n_params, np.float32))
    with pytest.raises(ValueError, match="grad_start holds non-finite"):
        l1_newton(ob, np.zeros(ob.n_params), grad_start=np.full(ob.n_params, np.nan))


def test_small_first_working_set_when_violations_come_from_the_intercept(capsys):
    """Non-negative sparse features and an unbalanced label: at 0 far more features violate
    than at the intercept's optimum, so the fit starts at 0 with a first working set of
    _WS_FIRST columns (growing by doubling to ws_min) on X's full column copy (made once,
    kept with the data term) and still reaches the split reference's optimum."""
    from fastlogit.solvers import l1

    rng = np.random.default_rng(5)
    n, d, C = 300, 120, 0.2
    X = sp.random(n, d, density=0.3, random_state=rng, format="csr")
    X.data = rng.uniform(0.5, 1.5, X.nnz)
    w = np.zeros(d)
    w[:6] = rng.standard_normal(6) * 3.0
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(X @ w) + 1.5))).astype(np.float64)
    n_b = np.count_nonzero(np.abs(X.T @ (C * (y.mean() - y))) > 1.0)
    n_0 = np.count_nonzero(np.abs(X.T @ (C * (0.5 - y))) > 1.0)
    ws_min = 24
    assert ws_min < n_b and n_0 > l1._WS_RATIO * n_b  # the rule's condition holds here
    ob = Objective(X, y, C=C, penalty="l1")
    res = solve(ob, "l1", tol=1e-10, ws_min=ws_min, verbose=2)
    sizes = [int(line.split("|W| = ")[1].split(",")[0])
             for line in capsys.readouterr().out.splitlines() if "|W| = " in line]
    assert sizes[0] == l1._WS_FIRST
    assert l1._cached(l1._CSC, ob.data) is not None  # the full copy, not per-round extracts
    assert res.converged
    _, F_ref = _split_reference(X, y, C, 1.0, 0.0)
    assert abs(ob.value(res.theta) - F_ref) <= 1e-8 * abs(F_ref)


@pytest.mark.parametrize("fit_b", [True, False])
def test_dense_rows_gram_matches_the_scattered_build(fit_b):
    """dense_cols is X[:, cols] (and a ones column with an intercept) exactly; gram_dense's
    Hessian from those rows equals gram_rows' (to rounding: another summation order),
    symmetric bit for bit, for a row count that is not a multiple of its row blocks and
    with zero curvature weights; gram_cols' from the columns equals gram_rows' (==);
    dense_rows_of makes dense_cols' array from the rows, and grad_hdiag_dense and
    matvec_dense from it the columns' gradient, curvature and margins (==)."""
    rng = np.random.default_rng(21)
    X = sp.random(37, 9, density=0.6, random_state=rng, format="csr")
    X.data -= 0.5
    Xc = X.tocsc()
    cols = np.array([1, 4, 5, 8], dtype=np.int64)
    D = rng.random(37)
    D[::5] = 0.0
    Xd = _cd.dense_cols(np.asarray(Xc.indptr, dtype=np.int64), Xc.indices, Xc.data, cols,
                        37, fit_b)
    want = X[:, cols].toarray()
    if fit_b:
        want = np.c_[want, np.ones(37)]
    np.testing.assert_array_equal(Xd, want)
    pos = np.full(9, -1, dtype=np.int64)
    pos[cols] = np.arange(cols.size)
    np.testing.assert_array_equal(
        _cd.dense_rows_of(np.asarray(X.indptr, dtype=np.int64), X.indices, X.data, pos,
                          cols.size, fit_b), want)
    # the working set's gradient and curvature from the dense rows: the columns' bits
    r = rng.standard_normal(37)
    g1, h1, g2, h2 = (np.empty(cols.size) for _ in range(4))
    _cd.grad_hdiag_dense(Xd, r, D, g1, h1)
    _cd.grad_hdiag_cols(np.asarray(Xc.indptr, dtype=np.int64), Xc.indices, Xc.data, cols, r,
                        D, g2, h2)
    np.testing.assert_array_equal(g1, g2)
    np.testing.assert_array_equal(h1, h2)
    # a step's margins from them: col_matvec's (==), a zero value included
    vals = rng.standard_normal(cols.size)
    vals[1] = 0.0
    xd1, xd2 = np.empty(37), np.empty(37)
    _cd.matvec_dense(Xd, vals, 0.7, xd1)
    _cd.col_matvec(np.asarray(Xc.indptr, dtype=np.int64), Xc.indices, Xc.data, cols, vals,
                   0.7, xd2)
    np.testing.assert_array_equal(xd1, xd2)
    p = cols.size + fit_b
    H, H2 = np.empty((p, p)), np.empty((p, p))
    _cd.gram_rows(np.asarray(X.indptr, dtype=np.int64), X.indices, X.data, pos, D, fit_b, H)
    _cd.gram_dense(Xd, D, H2)
    np.testing.assert_allclose(H2, want.T @ (D[:, None] * want), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(H2, H, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(H2, H2.T)
    # from the columns: the rows' build bit for bit, and the scatter vector left at zero
    tmp = np.zeros(37)
    H3 = np.full((p, p), np.nan)
    _cd.gram_cols(np.asarray(Xc.indptr, dtype=np.int64), Xc.indices, Xc.data, cols, D, fit_b,
                  H3, tmp)
    np.testing.assert_array_equal(H3, H)
    assert not tmp.any()


def _mostly_nonzero_problem():
    X, y = _binary(n=3000, d=12, seed=5)
    return sp.csr_matrix(np.where(np.abs(X) < 0.3, 0.0, X)), y, 0.5  # ~3/4 non-zero


def _small_support_problem():
    X, y = make_sparse_classification(2000, 300, mean_nnz=10, random_state=3)
    return X, y, 0.05


@pytest.mark.parametrize("kernel, problem", [("gram_dense", _mostly_nonzero_problem),
                                             ("gram_cols", _small_support_problem)])
def test_dense_model_builds_reach_the_column_models_optimum(monkeypatch, kernel, problem):
    """The dense models' Hessian builds from the dense rows (working sets mostly non-zero)
    and from the columns (a small support) are used (the kernel is called), and each fit
    reaches the optimum of the fit with column models only (F to 1e-12 relative, the same
    support, converged at tol 1e-10)."""
    calls = []
    real = getattr(_cd, kernel)
    monkeypatch.setattr(_cd, kernel, lambda *args: calls.append(1) or real(*args))
    X, y, C = problem()
    ob = Objective(X, y, C=C, penalty="l1")
    fit = l1_newton(ob, np.zeros(ob.n_params), tol=1e-10)
    assert calls
    ref = l1_newton(ob, np.zeros(ob.n_params), tol=1e-10, model="columns")
    assert fit.converged and ref.converged
    F = ob.value(ref.theta)
    assert abs(ob.value(fit.theta) - F) <= 1e-12 * F
    np.testing.assert_array_equal(fit.theta != 0, ref.theta != 0)


def _one_hot_problem(n=3000, levels=(2, 3, 2, 3, 2, 4), seed=7):
    """A binary X of one-hot categorical features (each row one 1 per feature: its rows
    repeat on a few columns, as mushrooms' do) and labels from a logistic model."""
    rng = np.random.default_rng(seed)
    offsets = np.cumsum((0,) + levels[:-1])
    cols = np.stack([rng.integers(0, k, n) + o for k, o in zip(levels, offsets)], axis=1)
    X = sp.csr_matrix((np.ones(cols.size), cols.ravel(),
                       np.arange(0, cols.size + 1, len(levels))), shape=(n, sum(levels)))
    beta = 1.5 * rng.standard_normal(sum(levels))
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(X @ beta)))).astype(float)
    return X, y


@pytest.mark.parametrize("C, grouping", [(1.0, "row_groups_of_rows"), (0.01, "row_groups")])
def test_grouped_dense_models_reach_the_column_models_optimum(monkeypatch, C, grouping):
    """On one-hot data the dense models are built per group of equal rows (from X's rows
    when the model is built from them, from the working set's columns when its own rows
    would be made): the grouping succeeds and gram_groups is called, and the fit reaches
    the column models' F to 1e-12 relative (converged at tol 1e-10; the supports are not
    compared: one-hot columns sum to the intercept's, so the optimum need not be unique)."""
    calls = {"gram_groups": 0, grouping: 0}
    for name in calls:
        real = getattr(_cd, name)

        def counted(*args, real=real, name=name):
            out = real(*args)
            calls[name] += 1 if name == "gram_groups" or out[0].size else 0
            return out
        monkeypatch.setattr(_cd, name, counted)
    X, y = _one_hot_problem()
    ob = Objective(X, y, C=C, penalty="l1")
    fit = l1_newton(ob, np.zeros(ob.n_params), tol=1e-10)
    assert calls["gram_groups"] and calls[grouping]
    monkeypatch.undo()
    ref = l1_newton(ob, np.zeros(ob.n_params), tol=1e-10, model="columns")
    assert fit.converged and ref.converged
    F = ob.value(ref.theta)
    assert abs(ob.value(fit.theta) - F) <= 1e-12 * F


def test_compiled_working_set_matches_the_numpy_one_or_defers_on_ties():
    from fastlogit.solvers.l1 import _working_set

    rng = np.random.default_rng(3)
    deferred = 0
    for trial in range(400):
        d = int(rng.integers(1, 200))
        w = np.zeros(d)
        k = int(rng.integers(0, d + 1) * rng.random() ** 3)
        w[rng.choice(d, k, replace=False)] = rng.standard_normal(k)
        score = rng.standard_normal(d)
        if trial % 3 == 0:
            score = np.round(score, 1)  # many tied scores
        if trial % 7 == 0:
            score[rng.integers(0, d)] = np.nan
        ws_min = int(rng.integers(1, 150))
        got = _cd.working_set(w, score, ws_min)
        ref = _working_set(w != 0, score, ws_min)
        if got is None:  # only when tied scores compete for the last places
            deferred += 1
            cand = np.sort(score[(w == 0) & (score > 0)])[::-1]
            room = ref.size - np.count_nonzero(w)
            assert 0 < room < cand.size and cand[room - 1] == cand[room]
            continue
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, ref)
    assert 0 < deferred < 400


@pytest.mark.parametrize("unit", [True, False])
def test_compiled_line_search_matches_the_python_one(unit):
    from fastlogit.solvers.l1 import _line_search

    rng = np.random.default_rng(4)
    n, m = 300, 40
    y = (rng.random(n) < 0.5).astype(np.float64)
    s = np.empty(0) if unit else rng.random(n) + 0.5
    z = rng.standard_normal(n)
    p = 1.0 / (1.0 + np.exp(-z))
    w = rng.standard_normal(m) * (rng.random(m) < 0.5)
    for scale, delta in ((0.1, -1.0), (30.0, -1e-3), (1e4, -1e-9)):
        xd = rng.standard_normal(n) * scale
        dw = rng.standard_normal(m) * scale
        out_a = [np.empty(n) for _ in range(4)]
        out_b = [np.empty(n) for _ in range(4)]
        ta, la = _line_search(lambda t: _cd.try_step(z, p, xd, t, y, s, 2.0, *out_a),
                              w, dw, delta, 2.0, 0.3, 0.7)
        tb, lb, _ = _cd.line_search(z, p, xd, y, s, 2.0, *out_b, w, dw, delta, 0.3, 0.7, 0.01,
                                    30)
        if ta is None:
            assert tb == -1.0
            continue
        assert (ta, la) == (tb, lb)
        for u, v in zip(out_a, out_b):
            np.testing.assert_array_equal(u, v)
        # from the log-terms (pointwise's lo): the same step and pointwise terms, the loss
        # change within try_step_l's bound, and the trial point's log-terms in lon
        lo, lon = np.empty(n), np.empty(n)
        _cd.pointwise(z, y, s, 2.0, np.empty(n), np.empty(n), np.empty(n), lo)
        np.testing.assert_allclose(lo, np.logaddexp(0.0, z), rtol=1e-15, atol=1e-300)
        out_c = [np.empty(n) for _ in range(4)]
        tc, lc, _ = _cd.line_search(z, p, xd, y, s, 2.0, *out_c, w, dw, delta, 0.3, 0.7, 0.01, 30,
                                 lo, lon, True)
        assert tc == tb
        for u, v in zip(out_b, out_c):
            np.testing.assert_array_equal(u, v)
        _, err = _cd.try_step_l(z, lo, xd, tc, y, s, 2.0, *(np.empty(n) for _ in range(4)),
                                np.empty(n))
        assert abs(lc - lb) <= err + 1e-14 * abs(lb)
        np.testing.assert_allclose(lon, np.logaddexp(0.0, out_c[0]), rtol=1e-15, atol=1e-300)


def test_log_term_line_search_falls_back_on_a_close_decision():
    """try_step_l's change agrees with try_step's within its bound; a line search whose
    Armijo threshold sits within that bound of the first trial's change repeats the trial
    with try_step, so its decision and loss change are try_step's."""
    rng = np.random.default_rng(9)
    n = 500
    y = (rng.random(n) < 0.3).astype(np.float64)
    z = rng.standard_normal(n) * 2
    p = 1.0 / (1.0 + np.exp(-z))
    lo = np.logaddexp(0.0, z)
    xd = rng.standard_normal(n) * 1e-7
    s = np.empty(0)
    exact = _cd.try_step(z, p, xd, 1.0, y, s, 1.0, *(np.empty(n) for _ in range(4)))
    fast, err = _cd.try_step_l(z, lo, xd, 1.0, y, s, 1.0, *(np.empty(n) for _ in range(4)),
                               np.empty(n))
    assert 0 < err < 1e-9 and abs(fast - exact) <= err and fast != exact
    w, dw = np.zeros(3), np.zeros(3)
    # threshold sigma * delta placed inside the rounding band of the fast change: fallback
    delta = (fast + 0.5 * err) / 0.01
    t, dl, _ = _cd.line_search(z, p, xd, y, s, 1.0, *(np.empty(n) for _ in range(4)), w, dw,
                            delta, 0.0, 1.0, 0.01, 1, lo, np.empty(n), True)
    assert dl == (exact if t == 1.0 else 0.0) and t == (1.0 if exact <= 0.01 * delta else -1.0)


@pytest.mark.parametrize("kinds, unit", [(5, True), (5, False), (700, True), (None, True)])
def test_try_step_memo_gives_each_samples_own_bits(kinds, unit):
    """try_step's memo of repeated (z, xd, p): every output, and the loss change summed in
    sample order per block of TRIAL_BLOCK samples and over the blocks in order, are those of
    the samples computed one by one (n = 1: no memo), on one thread and on two (the same
    bits).  Few distinct samples (the memo serves most), more distinct ones than memo slots
    (collisions), and distinct samples first with repeats later (the memo dropped)."""
    rng = np.random.default_rng(11)
    n = 5000
    if kinds is None:
        z = rng.standard_normal(n)
        xd = rng.standard_normal(n) * 3.0
        z[3000:] = z[0]
        xd[3000:] = xd[1]
    else:
        zk = rng.standard_normal(kinds) * 2.0
        xk = rng.standard_normal(kinds) * 3.0
        xk[0] = 0.0  # a sample whose margin does not move
        xk[1] = -40.0  # the direct log-term difference (log1p argument below -1/2)
        # margins and steps drawn apart: equal margins with different steps (and the reverse)
        z, xd = zk[rng.integers(0, kinds, n)], xk[rng.integers(0, kinds, n)]
    p = 1.0 / (1.0 + np.exp(-z))
    y = (rng.random(n) < 0.5).astype(np.float64)
    s = np.empty(0) if unit else rng.random(n) + 0.5
    for t in (1.0, 0.25):
        got = [np.empty(n) for _ in range(4)]
        change = _cd.try_step(z, p, xd, t, y, s, 2.0, *got)
        one = [np.empty(1) for _ in range(4)]
        ref = [np.empty(n) for _ in range(4)]
        total = block = 0.0
        for i in range(n):
            block += _cd.try_step(z[i:i + 1], p[i:i + 1], xd[i:i + 1], t, y[i:i + 1],
                                  s[i:i + 1] if s.size else s, 2.0, *one)
            for r, o in zip(ref, one):
                r[i] = o[0]
            if (i + 1) % _cd.TRIAL_BLOCK == 0 or i == n - 1:
                total, block = total + block, 0.0
        assert change == total
        for r, g in zip(ref, got):
            np.testing.assert_array_equal(g, r)
        two = [np.empty(n) for _ in range(4)]
        with _cd.threaded(2):
            assert _cd.try_step(z, p, xd, t, y, s, 2.0, *two, np.empty(0), 2) == change
        for r, g in zip(ref, two):
            np.testing.assert_array_equal(g, r)


def test_transpose_is_scipys_csc():
    rng = np.random.default_rng(6)
    for n, d, density in ((50, 30, 0.2), (1, 5, 1.0), (40, 60, 0.0), (200, 7, 0.5)):
        X = sp.random(n, d, density=density, format="csr", random_state=rng)
        X.data[::3] = 0.0  # stored zeros stay stored
        cp = np.zeros(d + 1, dtype=np.int64)
        np.cumsum(np.bincount(X.indices, minlength=d), out=cp[1:])
        ri, rv = np.empty(X.nnz, dtype=np.int32), np.empty(X.nnz)
        _cd.transpose(X.indptr.astype(np.int64), X.indices, X.data, cp, ri, rv)
        Xc = X.tocsc()
        np.testing.assert_array_equal(cp, Xc.indptr)
        np.testing.assert_array_equal(ri, Xc.indices)
        np.testing.assert_array_equal(rv, Xc.data)


def test_model_terms_and_l1_change_match_numpy():
    rng = np.random.default_rng(8)
    for m, n in ((0, 5), (3, 9), (40, 300), (129, 1000)):
        g, h = rng.standard_normal(m), rng.random(m)
        w = rng.standard_normal(m) * (rng.random(m) < 0.5)
        r, D = rng.standard_normal(n), rng.random(n)
        a, shift, lam = 0.3, 0.3 + 1e-12, 0.8
        g0, h0, vio = g.copy(), h.copy(), np.empty(m)
        for fit_b in (True, False):
            g, h = g0.copy(), h0.copy()
            kg, kh, gb, dsum, vmax, vsum = _cd.model_terms(g, h, w, a, shift, r, D, fit_b,
                                                           lam, vio)
            np.testing.assert_array_equal(kg, g0)
            np.testing.assert_array_equal(kh, h0)
            np.testing.assert_array_equal(g, g0 + a * w)
            np.testing.assert_array_equal(h, h0 + shift)
            ref = np.where(w != 0, np.abs(g + lam * np.sign(w)), np.maximum(np.abs(g) - lam, 0))
            np.testing.assert_array_equal(vio, ref)
            assert (gb, dsum, vsum) == ((r.sum() if fit_b else 0.0), D.sum(), ref.sum())
            assert vmax == (ref.max() if m else 0.0)
            g2, h2 = g0.copy(), h0.copy()
            *same, dsum2, vmax2, vsum2 = _cd.model_terms(g2, h2, w, a, shift, r, D, fit_b, lam,
                                                         vio, False)
            assert dsum2 == 0.0 and (vmax2, vsum2) == (vmax, vsum)
            np.testing.assert_array_equal(g2, g)
        dw = rng.standard_normal(m)
        assert _cd.l1_change(w, dw, lam) == lam * float((np.abs(w + dw) - np.abs(w)).sum())


def test_binary_kernels_and_gram_cost_from_the_rest_match_the_general_forms():
    """On a binary X (every stored value 1.0, all_ones True; False once one value is not):
    col_matvec with ``unit=True`` (the values not read) gives the general path's bits,
    grad_hdiag_cols its sums and cd_model its model solution to rounding; gram_cost_rest, counted from the
    columns outside a working set, is gram_cost's integer (empty, partial and full sets) and
    leaves its scratch at zero; and an l1 fit on a binary X reaches the split reference's F
    to 1e-8 relative."""
    rng = np.random.default_rng(31)
    X = sp.random(70, 12, density=0.3, random_state=rng, format="csr")
    X.data[:] = 1.0
    Xc = X.tocsc()
    ip, ri, rv = np.asarray(Xc.indptr, dtype=np.int64), Xc.indices, Xc.data
    assert _cd.all_ones(rv) and not _cd.all_ones(np.r_[rv, 0.5])
    cols = np.array([0, 2, 3, 7, 11], dtype=np.int64)
    r, D = rng.standard_normal(70), rng.random(70)
    outs = []
    for unit in (False, True):
        g, h, xd = np.empty(5), np.empty(5), np.empty(70)
        _cd.grad_hdiag_cols(ip, ri, rv, cols, r, D, g, h, unit)
        _cd.col_matvec(ip, ri, rv, cols, np.linspace(-0.5, 1.0, 5), 0.3, xd, unit)
        dw, xm = np.zeros(5), np.zeros(70)
        w = np.array([0.0, 0.4, 0.0, -0.2, 0.0])
        db, sweeps, _ = _cd.cd_model(ip, ri, rv, cols, w, g, h + 1e-3, D, 0.5, 0.0, True,
                                     float(r.sum()), float(D.sum()), dw, xm, 1e-10, 50, 70,
                                     True, unit)
        outs.append((g, h, xd, dw, xm, db))
    # col_matvec: the general path's bits; grad_hdiag_cols' binary sums in four partial sums
    # each: the same to rounding
    np.testing.assert_array_equal(outs[0][2], outs[1][2])
    for a, b in zip(outs[0][:2], outs[1][:2]):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14 * np.abs(a).max())
    # the columns from the rows (all of them, or some) without reading the values
    rows = (np.asarray(X.indptr, dtype=np.int64), X.indices, X.data)
    t_ri, t_rv = np.empty(X.nnz, dtype=np.int64), np.full(X.nnz, np.nan)
    _cd.transpose(*rows, ip, t_ri, t_rv, True)
    np.testing.assert_array_equal(t_ri, ri)
    np.testing.assert_array_equal(t_rv, rv)
    pos = np.full(12, -1, dtype=np.int64)
    pos[cols] = np.arange(5)
    cp = np.r_[0, np.cumsum(np.diff(ip)[cols])].astype(np.int64)
    for a, b in zip(_cd.cols_of_rows(*rows, pos, cp, True), _cd.cols_of_rows(*rows, pos, cp)):
        np.testing.assert_array_equal(a, b)
    # cd_model's binary sweeps sum a column in four partial sums: the same model solution
    # (both solved to 1e-10 of their violations) to rounding
    for a, b in zip(outs[0][3:], outs[1][3:]):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(outs[0][0], X[:, cols].T @ r, rtol=1e-13)
    # gram_cost from the complement: the same integer
    k = np.diff(X.indptr).astype(np.int64)
    e = np.zeros(70, dtype=np.int64)
    for sel in (np.zeros(12, bool), rng.random(12) < 0.5, np.ones(12, bool)):
        c = np.flatnonzero(sel).astype(np.int64)
        want = _cd.gram_cost(ip, ri, c, 70)
        counts = np.asarray((X[:, c] != 0).sum(axis=1)).ravel()
        assert want == int((counts * (counts + 1) // 2).sum())
        assert _cd.gram_cost_rest(ip, ri, sel, k, int(k @ k), int(np.diff(ip)[c].sum()),
                                  e) == want
        assert not e.any()
    # a whole fit on the binary X (the unit path) against the exact split reference
    y = (rng.random(70) < 0.4).astype(np.float64)
    res = solve(Objective(X, y, C=3.0, penalty="l1"), "l1", tol=1e-10)
    _, F_ref = _split_reference(X, y, 3.0, 1.0, 0.0)
    F = Objective(X, y, C=3.0, penalty="l1").value(res.theta)
    assert res.converged and abs(F - F_ref) <= 1e-8 * abs(F_ref)


@pytest.mark.parametrize("fit_b", [True, False])
def test_stale_gram_stays_within_its_bound_of_the_exact_hessian(fit_b):
    """gram_rows with unit=True on a binary X gives the general path's bits; gram_rows_stale
    updates exactly the rows whose curvature moved by more than rho relative (their count
    returned), after which every kept weight is within rho D_i of D_i, H is gram_rows' matrix
    for those weights (to rounding), symmetric, and (1 - rho) H_exact <= H <= (1 + rho)
    H_exact in the positive semi-definite order; with more than half of the rows moved it
    rebuilds (gram_rows' bits, weights = D)."""
    rng = np.random.default_rng(5)
    n, d = 90, 8
    X = sp.random(n, d, density=0.4, random_state=rng, format="csr")
    ip = np.asarray(X.indptr, dtype=np.int64)
    pos = np.array([0, -1, 1, 2, -1, 3, 4, 5], dtype=np.int64)
    p = 6 + fit_b
    Xb = X.copy()
    Xb.data[:] = 1.0
    H1, H2 = np.empty((p, p)), np.empty((p, p))
    D = rng.random(n)
    D[::7] = 0.0
    _cd.gram_rows(ip, Xb.indices, Xb.data, pos, D, fit_b, H1, False)
    _cd.gram_rows(ip, Xb.indices, Xb.data, pos, D, fit_b, H2, True)
    np.testing.assert_array_equal(H1, H2)
    rho = 0.3
    Du0 = rng.random(n) + 0.1
    H = np.empty((p, p))
    _cd.gram_rows(ip, X.indices, X.data, pos, Du0, fit_b, H)
    Dn = Du0.copy()
    moved = rng.random(n) < 0.3
    Dn[moved] *= rng.choice([0.2, 3.0], moved.sum())
    Dn[~moved] *= rng.uniform(0.8, 1.2, (~moved).sum())
    Du = Du0.copy()
    want = np.abs(Dn - Du0) > rho * Dn
    assert _cd.gram_rows_stale(ip, X.indices, X.data, pos, Dn, Du, rho, fit_b, H) == want.sum()
    np.testing.assert_array_equal(Du[want], Dn[want])
    np.testing.assert_array_equal(Du[~want], Du0[~want])
    assert (np.abs(Du - Dn) <= rho * Dn).all()
    ref, exact = np.empty((p, p)), np.empty((p, p))
    _cd.gram_rows(ip, X.indices, X.data, pos, Du, fit_b, ref)
    _cd.gram_rows(ip, X.indices, X.data, pos, Dn, fit_b, exact)
    np.testing.assert_allclose(H, ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(H, H.T)
    tol = 1e-10 * np.abs(exact).max()
    assert np.linalg.eigvalsh(H - (1 - rho) * exact).min() >= -tol
    assert np.linalg.eigvalsh((1 + rho) * exact - H).min() >= -tol
    # most rows moved: rebuilt from scratch
    D3 = Du * 5.0
    assert _cd.gram_rows_stale(ip, X.indices, X.data, pos, D3, Du, rho, fit_b, H) == n
    _cd.gram_rows(ip, X.indices, X.data, pos, D3, fit_b, ref)
    np.testing.assert_array_equal(H, ref)
    np.testing.assert_array_equal(Du, D3)


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_sparse_kernels_with_either_index_width_match_scipy(index_dtype):
    """The kernels that index through stored entries (their loops run on unsigned indices)
    give SciPy's / NumPy's values for int32 and int64 index arrays, with empty rows and
    columns (empty index ranges) and a column past every row's entries."""
    rng = np.random.default_rng(12)
    n, d = 37, 15
    X = sp.random(n, d, density=0.3, random_state=rng, format="csr")
    X.data -= 0.5
    X = X.tolil()
    X[5, :] = 0.0  # an empty row
    X[:, 3] = 0.0  # an empty column
    X = X.tocsr()
    X.eliminate_zeros()
    rows = (X.indptr.astype(np.int64), X.indices.astype(index_dtype), X.data)
    Xc = X.tocsc()
    csc = (Xc.indptr.astype(np.int64), Xc.indices.astype(index_dtype), Xc.data)
    dense = X.toarray()
    r, D, w = rng.standard_normal(n), rng.random(n), rng.standard_normal(d)
    w[[0, 3, 7]] = 0.0
    out, counts = np.empty(d), np.empty(d, dtype=np.int64)
    _cd.grad_rows(*rows, r, out, np.empty(0), np.empty(0), counts)
    np.testing.assert_allclose(out, dense.T @ r, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(counts, np.diff(Xc.indptr))
    z = np.empty(n)
    _cd.row_matvec(*rows, w, 0.25, z)
    np.testing.assert_allclose(z, dense @ w + 0.25, rtol=1e-13, atol=1e-15)
    z2 = np.empty(n)
    _cd.margins_nz(*csc, w, 0.25, z2)
    np.testing.assert_allclose(z2, z, rtol=1e-13, atol=1e-15)
    skip = np.zeros(d, dtype=bool)
    g = np.empty(d)
    _cd.grad_skip(*csc, skip, r, w, 0.5, g)
    np.testing.assert_allclose(g, dense.T @ r + 0.5 * w, rtol=1e-13, atol=1e-15)
    cols = np.array([1, 3, 8, 14], dtype=np.int64)
    gw, hw = np.empty(4), np.empty(4)
    _cd.grad_hdiag_cols(*csc, cols, r, D, gw, hw)
    np.testing.assert_allclose(gw, dense[:, cols].T @ r, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(hw, (dense[:, cols] ** 2).T @ D, rtol=1e-13, atol=1e-15)
    xd = np.empty(n)
    _cd.col_matvec(*csc, cols, w[cols], -1.0, xd)
    np.testing.assert_allclose(xd, dense[:, cols] @ w[cols] - 1.0, rtol=1e-13, atol=1e-15)
    rp, rk, rv = _cd.rows_of_cols(*csc, cols, n)
    sub = sp.csr_matrix((rv, rk, rp), shape=(n, 4)).toarray()
    np.testing.assert_array_equal(sub, dense[:, cols])
    want = (dense[:, cols].T * D) @ dense[:, cols]
    pos = np.full(d, -1, dtype=np.int64)
    pos[cols] = np.arange(4)
    for H_of in (lambda H: _cd.gram_rows(*rows, pos, D, True, H),
                 lambda H: _cd.gram_rows(rp, rk, rv, np.arange(4, dtype=np.int64), D, True, H),
                 lambda H: _cd.gram_cols(*csc, cols, D, True, H, np.zeros(n))):
        H = np.empty((5, 5))
        H_of(H)
        np.testing.assert_allclose(H[:4, :4], want, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(H[4, :4], D @ dense[:, cols], rtol=1e-13, atol=1e-15)
        assert H[4, 4] == pytest.approx(D.sum(), rel=1e-14)
    nnz_row = (dense[:, cols] != 0).sum(axis=1)
    assert _cd.gram_cost(*csc[:2], cols, n) == int((nnz_row * (nnz_row + 1) // 2).sum())
    cp = np.zeros(d + 1, dtype=np.int64)
    np.cumsum(counts, out=cp[1:])
    ri, rv2 = np.empty(X.nnz, dtype=index_dtype), np.empty(X.nnz)
    _cd.transpose(*rows, cp, ri, rv2)
    np.testing.assert_array_equal(ri, Xc.indices)
    np.testing.assert_array_equal(rv2, Xc.data)
    np.testing.assert_array_equal(_cd.dense_cols(*csc, cols, n, True)[:, :4], dense[:, cols])
    np.testing.assert_array_equal(_cd.dense_rows_of(*rows, pos, 4, False), dense[:, cols])


@pytest.mark.parametrize("m, n, density", [(5, 40, 0.4), (64, 3000, 0.5), (30, 2500, 0.05),
                                          (128, 5000, 0.3), (70, 2100, 0.2)])
def test_grouped_rows_hessian_matches_the_dense_reference(m, n, density):
    """row_groups / row_groups_of_rows + gram_groups: the model Hessian of a binary X's
    working set from its rows' patterns (rows that repeat; up to 128 columns, the most a
    pattern holds, in two words) equals X_W^T diag(D) X_W with the intercept's row, to
    rounding; every row lands in the group of its own pattern, from the columns and from the
    rows alike."""
    rng = np.random.default_rng(m)
    d = m + 7
    base = (rng.random((n // 4 + 1, d)) < density).astype(float)
    dense = base[rng.integers(0, base.shape[0], n)]  # rows that repeat
    dense[:, 3] = 0.0  # an empty column
    Xc = sp.csc_matrix(dense)
    Xr = sp.csr_matrix(dense)
    cols = np.sort(rng.choice(d, m, replace=False)).astype(np.int64)
    pos = np.full(d, -1, dtype=np.int64)
    pos[cols] = np.arange(m)
    g, keys = _cd.row_groups(Xc.indptr.astype(np.int64), Xc.indices, cols, n)
    g2, keys2 = _cd.row_groups_of_rows(Xr.indptr.astype(np.int64), Xr.indices, pos, n)
    np.testing.assert_array_equal(g2, g)
    np.testing.assert_array_equal(keys2, keys)
    W = dense[:, cols]
    k = np.arange(m)
    bits = ((keys[:, k // 64] >> (k % 64).astype(np.uint64)) & np.uint64(1)).astype(bool)
    np.testing.assert_array_equal(bits[g], W != 0)
    assert keys.shape == (np.unique(W, axis=0).shape[0], 2)
    assert np.unique(keys, axis=0).shape[0] == keys.shape[0]
    labels, first = np.unique(g, return_index=True)  # numbered by their first row
    np.testing.assert_array_equal(labels, np.arange(keys.shape[0]))
    assert np.all(np.diff(first) > 0)
    D = rng.random(n)
    for fit_b in (True, False):
        H = np.full((m + fit_b, m + fit_b), np.nan)
        _cd.gram_groups(g, keys, D, fit_b, H, np.empty(n))
        np.testing.assert_allclose(H[:m, :m], (W.T * D) @ W, rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(H, H.T)
        if fit_b:
            np.testing.assert_allclose(H[m, :m], D @ W, rtol=1e-12, atol=1e-14)
            assert H[m, m] == pytest.approx(D.sum(), rel=1e-13)


def test_grouping_rows_gives_up_on_rows_that_mostly_differ():
    """row_groups_of_rows returns empty arrays once a block of rows has mostly begun new
    groups (distinct rows), and groups rows that repeat past that block."""
    rng = np.random.default_rng(5)
    n, d = 3000, 40
    distinct = sp.csr_matrix((rng.random((n, d)) < 0.5).astype(float))
    pos = np.arange(d, dtype=np.int64)
    g, keys = _cd.row_groups_of_rows(distinct.indptr.astype(np.int64), distinct.indices,
                                     pos, n)
    assert g.size == 0 and keys.shape == (0, 2)
    few = sp.csr_matrix(distinct.toarray()[rng.integers(0, 50, n)])
    g, keys = _cd.row_groups_of_rows(few.indptr.astype(np.int64), few.indices, pos, n)
    assert g.size == n and keys.shape[0] == np.unique(few.toarray(), axis=0).shape[0]


def test_dense_model_cost_lower_bound_is_below_the_exact_count():
    """_gram_lower never exceeds the cost the exact gram_cost count gives (the dense-model
    choice may skip gram_cost's pass on it), on random working sets of random sparse X,
    equal row counts (the bound's equality case) included."""
    from fastlogit.solvers import l1 as l1mod

    rng = np.random.default_rng(17)
    for trial in range(30):
        n, d = int(rng.integers(1, 80)), int(rng.integers(1, 30))
        X = sp.random(n, d, density=rng.uniform(0.05, 1.0), random_state=rng, format="csc")
        if trial == 0:
            X = sp.csc_matrix(np.ones((n, d)))
        ip = np.asarray(X.indptr, dtype=np.int64)
        cols = np.flatnonzero(rng.random(d) < 0.6).astype(np.int64)
        nnz_w = int(np.diff(ip)[cols].sum())
        for m_cache in (5, 500):
            for compact in (True, False):
                lower = l1mod._gram_lower(nnz_w, n, m_cache, compact, X.nnz)
                exact = (_cd.gram_cost(ip, X.indices, cols, n)
                         * (l1mod._GRAM_IN_CACHE if m_cache < l1mod._GRAM_M_CACHE else 1.0)
                         + (2 * nnz_w if compact else X.nnz))
                assert lower <= exact


def test_kappa_keyword_keeps_the_optimum_and_rejects_bad_values():
    """A looser model tolerance (``kappa``) changes the path, not the optimum: both fits meet
    the stopping rule and agree with the default fit to the tolerance's order; kappa outside
    (0, 1) is refused with a message naming it."""
    X, y = make_sparse_classification(300, 80, mean_nnz=8, random_state=4)
    ob = Objective(X, y, C=2.0, penalty="l1")
    base = l1_newton(ob, ob.zeros(), tol=1e-10)
    loose = l1_newton(ob, ob.zeros(), tol=1e-10, kappa=0.3)
    assert base.converged and loose.converged
    assert ob.value(loose.theta) == pytest.approx(ob.value(base.theta), rel=1e-12)
    np.testing.assert_allclose(loose.theta, base.theta, atol=1e-7)
    for bad in (0.0, 1.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="kappa must lie in"):
            l1_newton(ob, ob.zeros(), kappa=bad)


@pytest.mark.parametrize("fit_b", [True, False])
def test_weighted_column_model_is_the_same_solve(fit_b):
    """cd_model with the working set's x_ij D_i precomputed (``weighted``) makes the same
    iterates as without, bit for bit (the same products in the same order), with Anderson
    extrapolation and shrinking at work over many sweeps."""
    rng = np.random.default_rng(21)
    n, d = 200, 40
    X = sp.random(n, d, density=0.2, random_state=rng, format="csc")
    ip = np.asarray(X.indptr, dtype=np.int64)
    cols = np.array([0, 3, 4, 9, 17, 22, 30, 39], dtype=np.int64)
    m = cols.size
    w = rng.standard_normal(m) * (rng.random(m) < 0.5)
    g = rng.standard_normal(m) * 3.0
    D = rng.random(n) * 0.25
    h = np.asarray(X[:, cols].power(2).T @ D).ravel() + 0.1 + 1e-12
    outs = []
    for weighted in (False, True):
        dw, xd = np.zeros(m), np.zeros(n)
        db, sweeps, viol = _cd.cd_model(ip, X.indices, X.data, cols, w, g, h, D, 0.7, 0.1,
                                        fit_b, 0.3, float(D.sum()) + 1e-12, dw, xd, 1e-12,
                                        200, n, True, weighted)
        outs.append((db, sweeps, viol, dw, xd))
    (a, b) = outs
    assert a[:3] == b[:3] and a[1] > 5
    np.testing.assert_array_equal(a[3], b[3])
    np.testing.assert_array_equal(a[4], b[4])


def _one_hot_with_intercept_null_space(n=5000, levels=(2, 3, 4, 3), seed=0):
    """One-hot groups whose columns sum to the intercept's constant column, and a duplicate
    of column 3: the design [X, 1] has null directions (a group's columns +s, the intercept
    -s; a column +s, its duplicate -s) along which only the L1 term moves F."""
    rng = np.random.default_rng(seed)
    offsets = np.cumsum((0,) + levels[:-1])
    cols = np.stack([rng.integers(0, k, n) + o for k, o in zip(levels, offsets)], axis=1)
    X = sp.csr_matrix((np.ones(cols.size), cols.ravel(),
                       np.arange(0, cols.size + 1, len(levels))), shape=(n, sum(levels)))
    X = sp.hstack([X, X[:, [3]]], format="csr")
    beta = 0.5 * rng.standard_normal(X.shape[1])
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(X @ beta)))).astype(np.float64)
    return X, y


def _l1_value(X, y, theta, C):
    """F = C sum log-loss + ||w||_1 at theta = (w, b), in NumPy."""
    z = np.asarray(X @ theta[:-1]).ravel() + theta[-1]
    return float(C * (np.logaddexp(0.0, z) - y * z).sum() + np.abs(theta[:-1]).sum())


def _split_trust_constr(X, y, C):
    """theta = (w, b) minimising C sum log-loss + ||w||_1 (free intercept) on the split form
    w = u - v, u, v >= 0, by SciPy's trust-constr with the exact Hessian, over X's distinct
    (row, label) pairs weighted by their counts (the same F)."""
    from scipy.optimize import Bounds

    rows, counts = np.unique(np.c_[X.toarray(), y], axis=0, return_counts=True)
    Xm, ym, s = rows[:, :-1], rows[:, -1], counts.astype(np.float64)
    d = Xm.shape[1]
    A = np.c_[Xm, -Xm, np.ones(len(s))]
    pen = np.r_[np.ones(2 * d), 0.0]

    def fg(x):
        z = A @ x
        p = np.exp(-np.logaddexp(0.0, -z))
        return (C * s @ (np.logaddexp(0.0, z) - ym * z) + pen @ x,
                C * A.T @ (s * (p - ym)) + pen)

    def hess(x):
        p = np.exp(-np.logaddexp(0.0, -(A @ x)))
        return C * (A.T * (s * p * (1.0 - p))) @ A

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = minimize(fg, np.zeros(2 * d + 1), jac=True, hess=hess, method="trust-constr",
                       bounds=Bounds(np.r_[np.zeros(2 * d), -np.inf], np.inf),
                       options={"gtol": 1e-14, "xtol": 1e-14, "maxiter": 5000})
    return np.r_[res.x[:d] - res.x[d:2 * d], res.x[2 * d]]


@pytest.mark.parametrize("column_path", [True, False])
@pytest.mark.parametrize("C", [1e4, 1e5])
def test_one_hot_groups_at_large_C_converge(C, column_path):
    """Issue 16, a9a at C >= 167: one-hot groups summing to the intercept's column (and a
    duplicate column) leave F flat but for its L1 term along the null directions of
    [X, 1]; at a large C coordinate descent crossed them by ~lam / H_jj per sweep and the
    fit stalled (before the null-direction moves: not converged after 300 steps on both
    the column path's dense models and the generic path, F 1.6e-8 above the optimum at
    C = 1e4).  The fit converges at tol 1e-8 (the measure computed here in NumPy), within
    1e-10 relative of the split form's optimum (trust-constr, whose F agreed to 2e-11) and
    no higher than it but for rounding."""
    X, y = _one_hot_with_intercept_null_space()
    ob = Objective(X, y, C=C, penalty="l1")
    res = l1_newton(ob, np.zeros(ob.n_params), tol=1e-8, max_iter=300,
                    column_path=column_path)
    g0 = _kkt(X, y, np.zeros(ob.n_params), C, 1.0)
    kkt = _kkt(X, y, res.theta, C, 1.0)
    assert res.converged and res.n_iter < 50
    assert kkt <= 1e-8 * max(1.0, g0)
    assert kkt == pytest.approx(res.grad_norm, rel=1e-4, abs=1e-9 * g0)
    F, F_ref = _l1_value(X, y, res.theta, C), _l1_value(X, y, _split_trust_constr(X, y, C), C)
    assert F <= F_ref * (1.0 + 1e-12)
    assert F_ref - F <= 1e-10 * F_ref


@pytest.mark.parametrize("C", [1e3, 1e4])
def test_multinomial_one_hot_at_large_C_converges(C):
    """The generic path (multinomial in memory) on the one-hot groups: a shift of one
    feature's K coefficients is one more null direction of the softmax loss; the fit
    stalled at C = 1e3 and 1e4 (|S| 1.6 after 300 steps) and now converges at tol 1e-8,
    the minimum-norm subgradient computed here in NumPy."""
    X, _ = _one_hot_with_intercept_null_space()
    rng = np.random.default_rng(1)
    Z = X @ rng.standard_normal((X.shape[1], 3))
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    Y = np.eye(3)[[rng.choice(3, p=row) for row in P]]
    ob = Objective(X, Y, C=C, penalty="l1")
    res = l1_newton(ob, np.zeros(ob.n_params), tol=1e-8, max_iter=300)

    def kkt(theta):
        W, b = theta.reshape(3, -1)[:, :-1], theta.reshape(3, -1)[:, -1]
        Zt = np.asarray(X @ W.T) + b
        Pt = np.exp(Zt - Zt.max(axis=1, keepdims=True))
        Pt /= Pt.sum(axis=1, keepdims=True)
        R = C * (Pt - Y)
        G = np.asarray(X.T @ R).T
        sub = np.where(W != 0, G + np.sign(W), np.sign(G) * np.maximum(np.abs(G) - 1.0, 0))
        return max(np.abs(sub).max(), np.abs(R.sum(axis=0)).max())
    assert res.converged and res.n_iter < 50
    assert kkt(res.theta) <= 1e-8 * max(1.0, kkt(np.zeros(ob.n_params)))


def test_null_moves_minimise_the_model_along_each_direction():
    """direction_min's step minimises a s + c s^2 / 2 + sum lam_j |u_j + s v_j| (checked on a
    fine grid around it; at a kink the coordinate it names is the one made 0), and
    null_moves lowers the dense model, zeroes the kink's coordinate exactly and keeps Hd =
    H (u - u0)."""
    rng = np.random.default_rng(5)
    for trial in range(200):
        k = int(rng.integers(1, 7))
        idx = np.sort(rng.choice(8, k, replace=False)).astype(np.int64)
        val = rng.choice([-1.0, 1.0, 0.5, 2.0], k)
        u = rng.standard_normal(8) * (rng.random(8) < 0.7)
        lam = np.where(rng.random(8) < 0.8, rng.random(8) + 0.1, 0.0)
        c = 0.0 if trial % 2 else float(rng.random())
        wsum = float(lam[idx] @ np.abs(val))
        a = float(rng.uniform(-1, 1)) * wsum if c == 0.0 else float(rng.standard_normal())
        s, jz = _cd.direction_min(a, c, u, idx, val, lam, np.empty(8), np.empty(8))

        def phi(t):
            return a * t + 0.5 * c * t * t + float(lam[idx] @ np.abs(u[idx] + t * val))
        if wsum == 0.0 and c == 0.0:
            assert s == 0.0
            continue
        grid = s + np.linspace(-3, 3, 601)
        assert phi(s) <= min(phi(t) for t in grid) + 1e-12
        if jz >= 0:
            q = int(np.flatnonzero(idx == jz)[0])
            assert s == -u[jz] / val[q]
    # null_moves on a dense model whose H has the null direction e0 + e1 - e2
    A = rng.standard_normal((30, 3))
    A[:, 2] = A[:, 0] + A[:, 1]
    H = A.T @ A
    g = rng.standard_normal(3)
    g -= (g @ [1.0, 1.0, -1.0]) / 3.0 * np.array([1.0, 1.0, -1.0])  # g . v = 0 (as a loss)
    lam = np.array([1.0, 1.0, 0.0])
    u0 = np.array([0.7, 1.3, 0.2])
    u, Hd = u0.copy(), np.zeros(3)
    v = np.array([1.0, 1.0, -1.0])
    HN = (H @ v)[None, :].copy()
    moved = _cd.null_moves(u, g, Hd, lam, np.array([0, 3], dtype=np.int64),
                           np.arange(3, dtype=np.int64), v, HN,
                           np.array([max(float(v @ H @ v), 0.0)]), np.empty(3), np.empty(3))

    def model(x):
        dx = x - u0
        return g @ dx + 0.5 * dx @ H @ dx + lam @ np.abs(x)
    assert moved == 1 and model(u) < model(u0) - 0.5
    assert u[0] == 0.0  # the kink: the smaller coordinate reaches 0 exactly
    np.testing.assert_allclose(Hd, H @ (u - u0), atol=1e-12)
