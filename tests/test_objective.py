"""Objective: derivatives against finite differences, layout equivalences, caching, errors."""
import numpy as np
import pytest

from fastlogit.objective import Objective, pointwise_loss_sum
from tests.conftest import BACKENDS, awkward_csr

PENALTIES = [("l2", 0.0), (None, 0.0), ("elasticnet", 0.4), ("l1", 0.0)]


def _problem(rng, n=60, d=6, k=1, sparse=False, dtype=np.float64):
    X = awkward_csr(rng, n, d, density=0.5, dtype=dtype) if sparse else \
        rng.standard_normal((n, d)).astype(dtype)
    if k == 1:
        y = rng.random(n)  # soft labels exercise the general formula
    else:
        y = rng.dirichlet(np.ones(k), size=n)
    s = rng.random(n) + 0.1
    return X, y, s


def _fd_grad(fun, theta, h=1e-4):
    """5-point central finite-difference gradient."""
    g = np.empty_like(theta)
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = h
        g[j] = (-fun(theta + 2 * e) + 8 * fun(theta + e) - 8 * fun(theta - e)
                + fun(theta - 2 * e)) / (12 * h)
    return g


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("k", [1, 3], ids=["binary", "multinomial"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("fit_intercept", [True, False], ids=["icpt", "noicpt"])
def test_derivatives_match_finite_differences(rng, backend, k, sparse, fit_intercept):
    X, y, s = _problem(rng, k=k, sparse=sparse)
    ob = Objective(X, y, s, C=0.7, fit_intercept=fit_intercept, backend=backend)
    theta = 0.3 * rng.standard_normal(ob.n_params)
    f, g = ob.value_grad(theta)
    np.testing.assert_allclose(g, _fd_grad(lambda t: ob.value_grad(t)[0], theta),
                               rtol=1e-7, atol=1e-7)
    v = rng.standard_normal(ob.n_params)
    hv = ob.hessp(theta, v)
    h = 1e-4
    grads = [ob.value_grad(theta + c * h * v)[1] for c in (2, 1, -1, -2)]
    fd_hv = (-grads[0] + 8 * grads[1] - 8 * grads[2] + grads[3]) / (12 * h)
    np.testing.assert_allclose(hv, fd_hv, rtol=1e-6, atol=1e-6)
    H = ob.hessian(theta)
    np.testing.assert_allclose(H, H.T, atol=1e-10)
    np.testing.assert_allclose(H @ v, ob.hessp(theta, v), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(np.diag(H), ob.hess_diag(theta), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("penalty,l1_ratio", PENALTIES, ids=lambda p: str(p))
def test_value_is_full_objective(rng, penalty, l1_ratio):
    X, y, s = _problem(rng)
    ob = Objective(X, y, s, C=2.0, penalty=penalty, l1_ratio=l1_ratio, backend="numpy")
    theta = rng.standard_normal(ob.n_params)
    w, b = theta[:-1], theta[-1]
    z = X @ w + b
    loss = np.logaddexp(0, z) - y * z
    r = {"l2": 0.5 * w @ w, None: 0.0, "l1": np.abs(w).sum(),
         "elasticnet": 0.4 * np.abs(w).sum() + 0.3 * w @ w}[penalty]
    assert ob.value(theta) == pytest.approx(2.0 * s @ loss + r, rel=1e-12)
    f, _ = ob.value_grad(theta)
    assert f == pytest.approx(ob.value(theta) - ob.l1_value(theta), rel=1e-12)
    assert ob.l1_strength == {"l1": 1.0, "elasticnet": 0.4}.get(penalty, 0.0)


@pytest.mark.parametrize("k", [1, 3], ids=["binary", "multinomial"])
def test_dense_equals_csr(rng, k):
    X, y, s = _problem(rng, k=k, sparse=True)
    a = Objective(X, y, s, backend="numpy")
    b = Objective(X.toarray(), y, s, backend="numpy")
    theta = rng.standard_normal(a.n_params)
    fa, ga = a.value_grad(theta)
    fb, gb = b.value_grad(theta)
    assert fa == pytest.approx(fb, rel=1e-12)
    np.testing.assert_allclose(ga, gb, rtol=1e-11, atol=1e-12)
    v = rng.standard_normal(a.n_params)
    np.testing.assert_allclose(a.hessp(theta, v), b.hessp(theta, v), rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("k", [1, 3], ids=["binary", "multinomial"])
def test_intercept_equals_unpenalised_column_of_ones(rng, k):
    X, y, s = _problem(rng, k=k)
    with_b = Objective(X, y, s, C=1.5, backend="numpy")
    ones = Objective(np.hstack([X, np.ones((X.shape[0], 1))]), y, s, C=1.5,
                     fit_intercept=False, penalty=None, backend="numpy")
    theta = rng.standard_normal(with_b.n_params)
    f1, g1 = with_b.value_grad(theta)
    f2, g2 = ones.value_grad(theta)
    w = theta.reshape(max(k, 1), -1)[:, :-1]
    assert f1 == pytest.approx(f2 + 0.5 * np.sum(w * w), rel=1e-12)
    pen = np.zeros_like(theta)
    pen.reshape(max(k, 1), -1)[:, :-1] = w
    np.testing.assert_allclose(g1, g2 + pen, rtol=1e-11, atol=1e-12)


def test_sample_weight_equals_repeated_rows(rng):
    X, y, _ = _problem(rng)
    reps = rng.integers(0, 4, size=X.shape[0])
    weighted = Objective(X, y, reps.astype(float), backend="numpy")
    repeated = Objective(np.repeat(X, reps, axis=0), np.repeat(y, reps), backend="numpy")
    theta = rng.standard_normal(weighted.n_params)
    f1, g1 = weighted.value_grad(theta)
    f2, g2 = repeated.value_grad(theta)
    assert f1 == pytest.approx(f2, rel=1e-12)
    np.testing.assert_allclose(g1, g2, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("backend", BACKENDS)
def test_float32_data_float64_theta(rng, backend):
    X, y, s = _problem(rng, sparse=True)
    o32 = Objective(X.astype(np.float32), y, s, backend=backend)
    o64 = Objective(X, y, s, backend=backend)
    assert o32.dtype == np.float32
    theta = 0.5 * rng.standard_normal(o64.n_params)
    f32, g32 = o32.value_grad(theta)
    f64, g64 = o64.value_grad(theta)
    assert g32.dtype == np.float64
    assert f32 == pytest.approx(f64, rel=1e-5)
    np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("k", [1, 3], ids=["binary", "multinomial"])
def test_line_function_matches_value(rng, k):
    X, y, s = _problem(rng, k=k, sparse=True)
    ob = Objective(X, y, s, C=0.9, backend="numpy")
    theta, d = rng.standard_normal((2, ob.n_params))
    line = ob.line(theta, d)
    for t in (0.0, 0.3, 1.0, 2.5):
        assert line.value(t) == pytest.approx(ob.value_grad(theta + t * d)[0], rel=1e-12)


def test_pointwise_loss_is_stable():
    z = np.array([-1e4, -800.0, -40.0, 0.0, 40.0, 800.0, 1e4])
    y = np.array([0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    loss = [pointwise_loss_sum(y[i:i + 1], z[i:i + 1]) for i in range(z.size)]
    expected = [0.0, 800.0, np.log1p(np.exp(-40.0)), np.log(2.0), np.log1p(np.exp(-40.0)),
                800.0, 0.0]
    np.testing.assert_allclose(loss, expected, rtol=1e-15, atol=1e-300)


def test_hessp_reuses_cached_curvature(rng):
    X, y, s = _problem(rng)
    ob = Objective(X, y, s, backend="numpy")
    theta, trial, v = rng.standard_normal((3, ob.n_params))
    ob.value_grad(theta)
    ob.value_grad(trial)  # a rejected trial point must not evict theta's state
    before = ob.n_evals["value_grad"]
    ob.hessp(theta, v)
    ob.hessp(trial, v)
    ob.hess_diag(theta)
    assert ob.n_evals["value_grad"] == before


def test_rows_block(rng):
    X, y, s = _problem(rng, sparse=True)
    ob = Objective(X, y, s, C=1.3, backend="numpy")
    blk = ob.rows(10, 35)
    ref = Objective(X[10:35], y[10:35], s[10:35], C=1.3, backend="numpy")
    theta = rng.standard_normal(ob.n_params)
    assert blk.n_samples == 25
    f1, g1 = blk.value_grad(theta)
    f2, g2 = ref.value_grad(theta)
    assert f1 == pytest.approx(f2, rel=1e-12)
    np.testing.assert_allclose(g1, g2, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kwargs,match", [
    (dict(penalty="l3"), "penalty"),
    (dict(C=0.0), "C must be"),
    (dict(penalty="elasticnet", l1_ratio=1.5), "l1_ratio"),
])
def test_bad_parameters_raise(rng, kwargs, match):
    X, y, s = _problem(rng)
    with pytest.raises(ValueError, match=match):
        Objective(X, y, s, **kwargs)


def test_bad_targets_and_weights_raise(rng):
    X, y, s = _problem(rng)
    with pytest.raises(ValueError, match="y must"):
        Objective(X, y * 2, s)
    with pytest.raises(ValueError, match="sum to 1"):
        Objective(X, rng.random((X.shape[0], 3)))
    with pytest.raises(ValueError, match="sample_weight"):
        Objective(X, y, -s)
    with pytest.raises(ValueError, match="theta"):
        Objective(X, y).value_grad(np.zeros(3))


@pytest.mark.parametrize("k", [1, 3], ids=["binary", "softmax"])
def test_gradient_is_the_callers_own_array(rng, k):
    """value_grad / loss_grad hand over a fresh gradient: changing it in place leaves the
    objective's state intact (a repeated call gives the same values, the curvature cache
    still serves hessp without a new pass)."""
    X, y, s = _problem(rng, k=k, sparse=True)
    ob = Objective(X, y, s, C=0.7)
    theta, v = rng.standard_normal((2, ob.n_params))
    f, g = ob.value_grad(theta)
    expect = g.copy()
    g *= -3.0
    f2, g2 = ob.value_grad(theta)
    assert f2 == f and g2 is not g
    np.testing.assert_array_equal(g2, expect)
    ref = Objective(X, y, s, C=0.7).data.loss_grad(theta)[1]
    gl = ob.data.loss_grad(theta)[1]
    gl[:] = np.nan
    np.testing.assert_array_equal(ob.data.loss_grad(theta)[1], ref)
    passes = ob.n_evals["value_grad"]
    ob.hessp(theta, v)
    assert ob.n_evals["value_grad"] == passes


def test_strided_theta_equals_contiguous(rng):
    """Binary float64 data passes d-slices of theta / v to the kernels without a copy
    buffer: a strided theta or direction gives the results of a contiguous one, bitwise."""
    X, y, s = _problem(rng, sparse=True)
    p = Objective(X, y, s).n_params
    theta, v = rng.standard_normal((2, 2 * p))[:, ::2]
    a, b = Objective(X, y, s).data, Objective(X, y, s).data
    assert a.loss(theta) == b.loss(theta.copy())
    (la, ga), (lb, gb) = a.loss_grad(theta), b.loss_grad(theta.copy())
    assert la == lb
    np.testing.assert_array_equal(ga, gb)
    np.testing.assert_array_equal(a.hessp(theta, v), b.hessp(theta.copy(), v.copy()))
    np.testing.assert_array_equal(a.hess_diag(theta), b.hess_diag(theta.copy()))
    np.testing.assert_array_equal(a.margins(theta), b.margins(theta.copy()))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fit_intercept", [True, False], ids=["icpt", "noicpt"])
def test_softmax_theta_moves_match_numpy(rng, dtype, fit_intercept):
    """The compiled softmax layout moves: ``load`` gives W = theta's coefficient rows
    transposed (in the data dtype), the intercepts, an exact copy of theta and ||w||^2;
    ``store_grad`` gives C G^T + a w in theta's layout and C g_b on the intercepts; both
    bitwise the same on 1 and 2 threads (several feature blocks and a partial one)."""
    from fastlogit import _softmax_theta as moves
    from fastlogit._config import exact_threads

    K, d = 3, 2 * moves.FEATURES + 5
    m = d + fit_intercept
    theta = rng.standard_normal(K * m)
    rows = theta.reshape(K, m)
    G = rng.standard_normal((d, K)).astype(dtype)
    gb = rng.standard_normal(K).astype(dtype)
    outs = []
    with exact_threads():
        for threads in (1, 2):
            W, B, keep, grad = np.empty((d, K), dtype), np.zeros(K, dtype), np.empty(K * m), \
                np.empty(K * m)
            ss = moves.load(theta, d, fit_intercept, W, B, keep, n_threads=threads)
            moves.store_grad(G, gb, 0.7, 0.3, theta, d, fit_intercept, grad, n_threads=threads)
            np.testing.assert_array_equal(W, rows[:, :d].T.astype(dtype))
            np.testing.assert_array_equal(B, rows[:, d].astype(dtype) if fit_intercept else 0)
            np.testing.assert_array_equal(keep, theta)
            assert ss == pytest.approx(float(np.sum(rows[:, :d] ** 2)), rel=1e-13)
            want = rows.copy()
            want[:, :d] = 0.7 * G.T.astype(float) + 0.3 * rows[:, :d]
            if fit_intercept:
                want[:, d] = 0.7 * gb.astype(float)
            np.testing.assert_allclose(grad, want.ravel(), rtol=1e-15, atol=0)
            outs.append((ss, grad))
    assert outs[0][0] == outs[1][0]
    np.testing.assert_array_equal(outs[0][1], outs[1][1])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fit_intercept", [True, False], ids=["icpt", "noicpt"])
@pytest.mark.parametrize("penalty,l1_ratio", [("l2", 0.0), ("elasticnet", 0.3), (None, 0.0)])
def test_softmax_value_grad_fused_equals_parts(rng, dtype, fit_intercept, penalty, l1_ratio):
    """Softmax value_grad (the data term's fused path for the elastic-net family) equals
    C times the data term's own (L, grad L) plus the penalty's smooth part and gradient on
    the coefficients, computed apart in NumPy; the data term's loss_grad at the same theta
    afterwards is still the unscaled one."""
    X, y, s = _problem(rng, k=4, sparse=True, dtype=dtype)
    ob = Objective(X, y, s, C=0.7, penalty=penalty, l1_ratio=l1_ratio,
                   fit_intercept=fit_intercept)
    ref = Objective(X, y, s, C=0.7, penalty=penalty, l1_ratio=l1_ratio,
                    fit_intercept=fit_intercept)
    theta = 0.3 * rng.standard_normal(ob.n_params)
    f, g = ob.value_grad(theta)
    loss, grad = ref.data.loss_grad(theta)
    w = ob.layout.coef(theta)
    want_g = 0.7 * grad
    ob.layout.add_coef(want_g, ob.penalty.smooth_grad(w))
    assert f == pytest.approx(0.7 * loss + ob.penalty.smooth_value(w), rel=1e-13)
    np.testing.assert_allclose(g, want_g, rtol=1e-13, atol=1e-15)
    loss2, grad2 = ob.data.loss_grad(theta)  # the cached state at theta: L, unscaled
    assert loss2 == loss
    np.testing.assert_allclose(grad2, grad, rtol=1e-13, atol=1e-15)


def test_softmax_cache_is_not_fooled_by_a_reused_array(rng):
    """The cache keeps its own copy of each softmax theta: a caller that overwrites its
    array in place between calls gets the values at the new point, and a Hessian product
    at a cached point makes no second loss pass."""
    X, y, s = _problem(rng, k=3, sparse=True)
    ob = Objective(X, y, s, C=1.3)
    theta = 0.2 * rng.standard_normal(ob.n_params)
    first = ob.value_grad(theta)
    theta *= -2.0  # same array, new point
    second = ob.value_grad(theta)
    fresh = Objective(X, y, s, C=1.3).value_grad(theta.copy())
    assert second[0] == fresh[0] and second[0] != first[0]
    np.testing.assert_array_equal(second[1], fresh[1])
    passes = ob.data.n_evals["value_grad"]
    ob.hessp(theta, np.ones(ob.n_params))
    assert ob.data.n_evals["value_grad"] == passes


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("fit_intercept", [True, False], ids=["icpt", "noicpt"])
def test_hess_diag_from_the_value_grad_pass(rng, backend, dtype, fit_intercept):
    """Binary: after the first hess_diag, value_grad passes also make the diagonal, and
    hess_diag at such a point makes no pass; it equals a fresh objective's separate pass (the
    two-slot cache, a rejected trial point between, and seeded curvature (which has no
    diagonal) included)."""
    X, y, s = _problem(rng, n=80, d=7, sparse=True, dtype=dtype)
    fused = Objective(X, y, s, C=0.9, fit_intercept=fit_intercept, backend=backend)
    a, trial, b = 0.3 * rng.standard_normal((3, fused.n_params))

    def fresh_diag(theta):
        ob = Objective(X, y, s, C=0.9, fit_intercept=fit_intercept, backend=backend)
        ob.value_grad(theta)
        return ob.hess_diag(theta)

    fused.value_grad(a)
    np.testing.assert_array_equal(fused.hess_diag(a), fresh_diag(a))  # one pass of its own
    assert fused.data.n_evals["hess_diag"] == 1
    f_t, g_t = fused.value_grad(trial)
    f_b, g_b = fused.value_grad(b)  # evicts a; the slots hold trial and b
    for theta, g in ((trial, g_t), (b, g_b)):
        np.testing.assert_array_equal(fused.hess_diag(theta), fresh_diag(theta))
        ref = Objective(X, y, s, C=0.9, fit_intercept=fit_intercept, backend=backend)
        np.testing.assert_array_equal(ref.value_grad(theta)[1], g)
    assert fused.data.n_evals["hess_diag"] == 1 and fused.data.n_evals["value_grad"] == 3
    # a was evicted: its new value / gradient pass makes the diagonal as well
    np.testing.assert_array_equal(fused.hess_diag(a), fresh_diag(a))
    assert fused.data.n_evals["hess_diag"] == 1 and fused.data.n_evals["value_grad"] == 4
    fused.data.seed_curvature(b, fused.data.curvature(a))  # b's slot: a's weights, no diagonal
    np.testing.assert_allclose(fused.hess_diag(b), fused.hess_diag(a), rtol=1e-12)
    assert fused.data.n_evals["hess_diag"] == 2


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_used_columns_matches_bincount(rng, index_dtype):
    """The compiled scan of column compaction against np.bincount, on a row block (indptr not
    starting at 0), unsorted ids, and no stored values."""
    from fastlogit._columns import used_columns

    X = awkward_csr(rng, 50, 300, density=0.01, index_dtype=index_dtype)
    ind = X.indices
    for lo, hi in ((0, X.nnz), (X.indptr[10], X.indptr[40]), (7, 7)):
        got = used_columns(ind, lo, hi, 300)
        assert got.dtype == np.bool_ and got.shape == (300,)
        np.testing.assert_array_equal(got, np.bincount(ind[lo:hi], minlength=300) > 0)
    ob = Objective(X, rng.random(50))
    reduced, keep = ob.compact_columns()
    assert reduced.n_features == np.unique(ind).size
    np.testing.assert_array_equal(np.flatnonzero(keep[:-1]), np.unique(ind))


def test_used_columns_stop(rng):
    """With ``stop``, the scan ends once more than ``stop`` columns are marked: whether more
    than ``stop`` are used is decided as by the full scan, and a scan that does not stop
    returns the full mask."""
    from fastlogit._columns import used_columns

    for _ in range(50):
        d = int(rng.integers(1, 40))
        ind = rng.integers(0, d, int(rng.integers(0, 80))).astype(np.int32)
        full = used_columns(ind, 0, ind.size, d)
        for stop in range(d + 1):
            got = used_columns(ind, 0, ind.size, d, stop=stop)
            assert (np.count_nonzero(got) > stop) == (np.count_nonzero(full) > stop)
            if np.count_nonzero(full) <= stop:
                np.testing.assert_array_equal(got, full)


def test_hess_diag_fusion_only_for_small_d(rng, monkeypatch):
    """Above FUSE_DIAG_MAX_FEATURES the value / gradient pass does not make the diagonal (its
    memory): every hess_diag at a new point is a pass of its own, with the same result."""
    import fastlogit.objective as objective_module

    X, y, s = _problem(rng, n=50, d=7, sparse=True)
    monkeypatch.setattr(objective_module, "FUSE_DIAG_MAX_FEATURES", 6)
    big = Objective(X, y, s)
    monkeypatch.setattr(objective_module, "FUSE_DIAG_MAX_FEATURES", 7)
    small = Objective(X, y, s)
    for theta in 0.3 * rng.standard_normal((3, big.n_params)):
        for ob in (big, small):
            ob.value_grad(theta)
        np.testing.assert_array_equal(big.hess_diag(theta), small.hess_diag(theta))
    assert big.data.n_evals["hess_diag"] == 3 and small.data.n_evals["hess_diag"] == 1
    assert big.data._states[0].diag is None and big.data._states[1].diag is None


@pytest.mark.parametrize("k", [1, 3], ids=["binary", "multinomial"])
@pytest.mark.parametrize("fit_intercept", [True, False], ids=["icpt", "noicpt"])
@pytest.mark.parametrize("a", [1.3, 0.0])
def test_add_l2_compiled_pass_equals_numpy(rng, k, fit_intercept, a):
    """add_l2's one compiled pass: the gradient has the bits of NumPy's ``grad *= C;
    grad[w] += a * w`` (no fused multiply-add), f equals C L + a/2 ||w||^2 to rounding
    (another summation order), intercepts are only scaled, and ``keep`` gets theta's bits."""
    from fastlogit.layout import Layout
    from fastlogit.objective import add_l2
    layout = Layout(1001, k, fit_intercept)
    theta = rng.standard_normal(layout.n_params)
    grad = rng.standard_normal(layout.n_params)
    C = 0.37
    want = grad.copy()
    want *= C
    w = layout.split(theta)[0].reshape(k, 1001)
    if a:
        layout.split(want)[0].reshape(k, 1001)[...] += a * w
    want_f = C * 2.5 + (0.5 * a * float(np.einsum("ij,ij->", w, w)) if a else 0.0)
    keep = np.full_like(theta, np.nan)
    f, got = add_l2(layout, theta, 2.5, grad, C, a, keep=keep)
    assert got is grad  # in place
    np.testing.assert_array_equal(got, want)
    assert f == pytest.approx(want_f, rel=1e-14)
    np.testing.assert_array_equal(keep, theta)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("backend", BACKENDS)
def test_binary_raw_kernel_path_equals_checked_entry_point(rng, sparse, dtype, backend):
    """The binary data term's direct call of the raw kernel (arguments checked once, thread
    count from KernelThreads) gives the bits of KernelSet.loss_grad's checked path (taken for
    a KernelSet subclass), value, gradient, curvature and fused diagonal alike, and the
    cache still tells points apart (a reused array overwritten in place)."""
    from fastlogit import kernels
    from fastlogit.objective import LogLossData

    class Checked(kernels.KernelSet):
        calls = 0

        def loss_grad(self, *args, **kwargs):
            Checked.calls += 1
            return super().loss_grad(*args, **kwargs)

    X, y, s = _problem(rng, sparse=sparse, dtype=dtype)
    ks = kernels.get(backend)
    fast = Objective(LogLossData(X, y, s, backend=ks), C=0.6)
    slow = Objective(LogLossData(X, y, s, backend=Checked(ks.name, ks.module)), C=0.6)
    assert fast.data._raw is not None and slow.data._raw is None
    theta = 0.3 * rng.standard_normal(fast.n_params)
    for step in range(3):
        theta[:] = theta + 0.1 * step  # the same array, new values
        f1, g1 = fast.value_grad(theta)
        f2, g2 = slow.value_grad(theta)
        assert f1 == f2
        np.testing.assert_array_equal(g1, g2)
        np.testing.assert_array_equal(fast.hess_diag(theta), slow.hess_diag(theta))
        np.testing.assert_array_equal(fast.data.curvature(theta), slow.data.curvature(theta))
        assert fast.data.loss_grad(theta)[0] == slow.data.loss_grad(theta)[0]
    assert Checked.calls >= 3


def test_value_grad_still_rejects_bad_theta_on_the_fast_path(rng):
    """The binary fast path keeps the objective's front door: a non-finite theta raises
    NonFiniteError, a wrong length ValueError, before any pass."""
    from fastlogit.layout import NonFiniteError
    X, y, s = _problem(rng, sparse=True)
    ob = Objective(X, y, s)
    theta = np.zeros(ob.n_params)
    theta[2] = np.nan
    with pytest.raises(NonFiniteError, match="NaN or inf"):
        ob.value_grad(theta)
    with pytest.raises(ValueError, match="entries"):
        ob.value_grad(np.zeros(ob.n_params + 1))
    assert ob.data.n_evals["value_grad"] == 0
