"""The model contract: a penalty defined outside the package fits on every data term with every
smooth solver; data terms agree with each other; solver lists derive from declarations."""
import numpy as np
import pytest
import scipy.optimize as so
import scipy.sparse as sp

from fastlogit.contract import DataTerm, SolverInfo
from fastlogit.extras import PointwiseData
from fastlogit.io import save_csr_cache
from fastlogit.layout import Layout, NonFiniteError
from fastlogit.objective import LogLossData, Objective
from fastlogit.outofcore import ChunkedData, ChunkedObjective
from fastlogit.penalties import ElasticNet, L1, L2, NoPenalty, Penalty, make_penalty
from fastlogit.solvers import INFO, SOLVERS, check_solver, solve, solvers_for


class WeightedL2(Penalty):
    """R(w) = 1/2 sum_j a_j w_j^2 with per-coefficient weights a_j > 0: defined here, outside
    the package, through the Penalty contract only."""

    name = "weighted-l2"

    def __init__(self, weights):
        self.weights = np.asarray(weights, dtype=np.float64)

    def smooth_value(self, w):
        return 0.5 * float(self.weights @ (w * w))

    def smooth_grad(self, w):
        return self.weights * w

    def smooth_hessp(self, w, v):
        return self.weights * v

    def smooth_hess_diag(self, w):
        return self.weights.copy()


def _problem(n=300, d=12, k=1, seed=0, sparse=False):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X[rng.random((n, d)) < 0.5] = 0.0
    w = rng.standard_normal((d, max(k, 1)))
    z = X @ w + 0.3 * rng.standard_normal((n, max(k, 1)))
    if k == 1:
        y = (z[:, 0] > 0).astype(np.float64)
    else:
        y = np.eye(k)[z.argmax(axis=1)]
    s = rng.uniform(0.5, 2.0, n)
    return (sp.csr_matrix(X) if sparse else X), y, s


def _scipy_optimum(objective):
    """Independent optimum: scipy's L-BFGS-B on the full F with its gradient, tight tol."""
    res = so.minimize(lambda t: objective.value_grad(t), objective.zeros(), jac=True,
                      method="L-BFGS-B", options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 5000})
    return res.x, res.fun


@pytest.mark.parametrize("k", [1, 3], ids=["binary", "softmax"])
def test_custom_penalty_fits_on_memory_and_chunked_data(tmp_path, k):
    X, y, s = _problem(k=k, sparse=True)
    n_coef = max(k, 1) * X.shape[1]
    pen = WeightedL2(np.linspace(0.2, 3.0, n_coef))
    memory = Objective(X, y, s, C=2.0, penalty=pen)
    _, f_ref = _scipy_optimum(memory)
    cache = save_csr_cache(tmp_path / "cache", X, np.zeros(X.shape[0]))
    chunked = ChunkedObjective(cache, y, s, C=2.0, penalty=pen, chunk_nnz=600)
    assert len(chunked.chunks) > 2
    for ob in (memory, chunked):
        for solver in ("newton-cg", "trust-region", "lbfgs"):
            res = solve(ob, solver, tol=1e-10, max_iter=500)
            assert res.converged, (solver, res.message)
            assert ob.value(res.theta) == pytest.approx(f_ref, rel=1e-8), solver
    # the penalty really is the weighted one: its gradient enters value_grad
    theta = np.random.default_rng(1).standard_normal(memory.n_params)
    _, g = memory.value_grad(theta)
    _, g0 = Objective(X, y, s, C=2.0, penalty=None).value_grad(theta)
    np.testing.assert_allclose(memory.layout.coef(g - g0), pen.smooth_grad(
        memory.layout.coef(theta)), rtol=1e-12, atol=1e-12)


def test_custom_penalty_hessian_and_line_match_finite_differences():
    X, y, s = _problem(d=6)
    pen = WeightedL2(np.arange(1.0, 7.0))
    ob = Objective(X, y, s, C=0.7, penalty=pen)
    rng = np.random.default_rng(3)
    theta, v = rng.standard_normal((2, ob.n_params))
    eps = 1e-6
    fd = (ob.value_grad(theta + eps * v)[1] - ob.value_grad(theta - eps * v)[1]) / (2 * eps)
    np.testing.assert_allclose(ob.hessp(theta, v), fd, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ob.hessian(theta) @ v, ob.hessp(theta, v), rtol=1e-10)
    np.testing.assert_allclose(ob.hess_diag(theta), np.diag(ob.hessian(theta)), rtol=1e-10)
    line = ob.line(theta, v)
    for t in (0.0, 0.3, 1.0):
        assert line.value(t) == pytest.approx(ob.value_grad(theta + t * v)[0], rel=1e-12)


@pytest.mark.parametrize("penalty,l1_ratio", [("l1", None), ("elasticnet", 0.5)])
@pytest.mark.parametrize("k", [1, 3], ids=["binary", "softmax"])
def test_l1_and_elastic_net_on_chunked_data_equal_in_memory(tmp_path, penalty, l1_ratio, k):
    X, y, s = _problem(k=k, sparse=True, seed=4)
    memory = Objective(X, y, s, C=0.5, penalty=penalty, l1_ratio=l1_ratio)
    cache = save_csr_cache(tmp_path / "cache", X, np.zeros(X.shape[0]))
    chunked = ChunkedObjective(cache, y, s, C=0.5, penalty=penalty, l1_ratio=l1_ratio,
                               chunk_nnz=500)
    ref = solve(memory, "l1", tol=1e-10, max_iter=200)
    res = solve(chunked, "l1", tol=1e-10, max_iter=200)
    assert ref.converged and res.converged
    assert chunked.value(res.theta) == pytest.approx(memory.value(ref.theta), rel=1e-8)
    np.testing.assert_array_equal(res.theta == 0, ref.theta == 0)


def test_data_terms_follow_the_protocol_and_agree(tmp_path):
    X, y, s = _problem(sparse=True, seed=5)
    cache = save_csr_cache(tmp_path / "cache", X, np.zeros(X.shape[0]))
    memory = LogLossData(X, y, s)
    chunked = ChunkedData(cache, y, s, chunk_nnz=700)
    for data in (memory, chunked, PointwiseData(X, y, s, pointwise=lambda Y, Z: (Z[:, 0], Z))):
        assert isinstance(data, DataTerm)
    theta = np.random.default_rng(6).standard_normal(memory.layout.n_params)
    v = np.random.default_rng(7).standard_normal(memory.layout.n_params)
    l_m, g_m = memory.loss_grad(theta)
    l_c, g_c = chunked.loss_grad(theta)
    assert l_c == pytest.approx(l_m, rel=1e-12)
    np.testing.assert_allclose(g_c, g_m, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(chunked.hessp(theta, v), memory.hessp(theta, v), rtol=1e-11,
                               atol=1e-11)
    np.testing.assert_allclose(chunked.hess_diag(theta), memory.hess_diag(theta), rtol=1e-11)
    assert memory.loss_from_margins(memory.margins(theta)) == pytest.approx(l_m, rel=1e-12)


def test_penalty_objects_match_their_definitions():
    rng = np.random.default_rng(8)
    w, g = rng.standard_normal((2, 20))
    w[:5] = 0.0
    for pen, value in [(NoPenalty(), 0.0), (L2(), 0.5 * w @ w), (L1(), np.abs(w).sum()),
                       (ElasticNet(0.3), 0.3 * np.abs(w).sum() + 0.35 * w @ w)]:
        assert pen.value(w) == pytest.approx(value, rel=1e-14)
    # prox of the L1 part: argmin 1/(2 step) ||u - w||^2 + lam ||u||_1 checked coordinatewise
    pen, step = ElasticNet(0.6), 0.7
    u = pen.prox(w, step)
    grid = np.linspace(-4, 4, 80001)
    for j in range(w.size):
        obj = (grid - w[j]) ** 2 / (2 * step) + pen.l1_strength * np.abs(grid)
        assert u[j] == pytest.approx(grid[obj.argmin()], abs=1e-4)
    # min-norm subgradient: zero exactly where 0 is in the subdifferential
    sub = L1().min_norm_subgradient(w, g)
    zero = w == 0
    np.testing.assert_allclose(sub[~zero], g[~zero] + np.sign(w[~zero]))
    np.testing.assert_allclose(sub[zero], np.sign(g[zero]) * np.maximum(np.abs(g[zero]) - 1, 0))
    with pytest.raises(ValueError, match="l1_ratio must lie in"):
        make_penalty("elasticnet", 1.5)
    with pytest.raises(ValueError, match="penalty must be one of"):
        make_penalty("l3")


def test_solver_lists_derive_from_declarations():
    X, y, s = _problem()
    smooth = Objective(X, y, C=1.0)
    l1 = Objective(X, y, C=1.0, penalty="l1")
    assert all(isinstance(INFO[name], SolverInfo) for name in SOLVERS)
    assert set(solvers_for(smooth)) == set(SOLVERS)
    assert set(solvers_for(l1)) == {name for name, info in INFO.items() if info.nonsmooth}
    focal = PointwiseData(X, y, pointwise=lambda Y, Z: (Z[:, 0], Z))
    # a pointwise loss offers no compiled row blocks and is not convex: only first-order
    # solvers that need neither remain
    usable = {name for name, info in INFO.items()
              if not info.convex_only and "row_blocks" not in info.needs}
    assert "lbfgs" in usable
    assert set(solvers_for(Objective(focal))) == usable
    with pytest.raises(ValueError, match="does not handle a penalty with an L1 part"):
        check_solver("lbfgs", l1)
    with pytest.raises(ValueError, match="needs a convex loss"):
        check_solver("newton-cg", Objective(focal))


def test_layout_round_trip_and_non_finite_theta():
    lay = Layout(4, 3, True)
    theta = np.arange(lay.n_params, dtype=np.float64)
    W, b = lay.split(theta)
    np.testing.assert_array_equal(lay.join(W, b), theta)
    np.testing.assert_array_equal(lay.coef(theta), W.ravel())
    assert lay.penalized_mask().sum() == lay.n_coef == 12
    X, y, _ = _problem()
    ob = Objective(X, y)
    bad = ob.zeros()
    bad[0] = np.nan
    for call in (ob.value, ob.value_grad, lambda t: ob.hessp(t, t)):
        with pytest.raises(NonFiniteError, match="NaN or inf"):
            call(bad)
