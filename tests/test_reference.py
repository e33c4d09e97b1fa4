"""The NumPy reference kernels against their definitions: mpmath, finite differences, sklearn."""
import mpmath
import numpy as np
import pytest
import scipy.sparse as sp

from fastlogit import kernels
from conftest import awkward_csr

REF = kernels.get("numpy")
mpmath.mp.dps = 50

EXTREME = np.array([-1e4, -800.0, -745.5, -40.0, -37.0, -20.0, -2.0, -1e-8, 0.0, 1e-8, 2.0, 18.0,
                    20.0, 33.3, 40.0, 800.0, 1e4])


def _ulps(got, exact):
    exact = np.asarray(exact, dtype=np.float64)
    return np.abs(got - exact) / np.spacing(np.maximum(np.abs(exact), np.finfo(float).tiny))


@pytest.mark.parametrize("fn,mp_fn", [
    ("log1pexp", lambda z: mpmath.log1p(mpmath.exp(z))),
    ("log_sigmoid", lambda z: -mpmath.log1p(mpmath.exp(-z))),
    ("sigmoid", lambda z: 1 / (1 + mpmath.exp(-z))),
], ids=["log1pexp", "log_sigmoid", "sigmoid"])
def test_pointwise_against_mpmath(fn, mp_fn):
    z = np.concatenate([EXTREME, np.random.default_rng(0).uniform(-50, 50, 200)])
    exact = np.array([float(mp_fn(mpmath.mpf(float(v)))) for v in z])
    got = getattr(REF, fn)(z)
    assert np.all(np.isfinite(got))
    assert _ulps(got, exact).max() <= 4


def test_loss_grad_matches_sklearn_log_loss(rng):
    from sklearn.metrics import log_loss

    X = awkward_csr(rng, 60, 9)
    y = (rng.random(60) < 0.4).astype(float)
    s = rng.uniform(0, 2, 60)
    w = rng.standard_normal(9)
    grad = np.empty(9)
    loss_sum, _ = REF.loss_grad(X, y, s, w, 0.3, grad)
    p = REF.sigmoid(X @ w + 0.3)
    assert loss_sum == pytest.approx(log_loss(y, p, sample_weight=s, normalize=False), rel=1e-12)


@pytest.mark.parametrize("dense", [True, False], ids=["dense", "csr"])
def test_loss_grad_finite_difference(rng, dense):
    n, d = 40, 6
    X = awkward_csr(rng, n, d, density=0.5)
    X = X.toarray() if dense else X
    y = rng.random(n)  # soft labels
    s = rng.uniform(0, 2, n)
    w, b = rng.standard_normal(d), 0.2
    grad = np.empty(d)
    _, grad_b = REF.loss_grad(X, y, s, w, b, grad)
    f = lambda w_, b_: REF.loss(X, y, s, w_, b_)
    h = 1e-4
    for j in range(d):
        e = np.zeros(d)
        e[j] = h
        fd = (-f(w + 2 * e, b) + 8 * f(w + e, b) - 8 * f(w - e, b) + f(w - 2 * e, b)) / (12 * h)
        assert grad[j] == pytest.approx(fd, rel=1e-7, abs=1e-9)
    fd_b = (-f(w, b + 2 * h) + 8 * f(w, b + h) - 8 * f(w, b - h) + f(w, b - 2 * h)) / (12 * h)
    assert grad_b == pytest.approx(fd_b, rel=1e-7)


def test_hessp_is_derivative_of_gradient(rng):
    n, d = 50, 5
    X = awkward_csr(rng, n, d, density=0.6)
    y = (rng.random(n) < 0.5).astype(float)
    w, b = rng.standard_normal(d), -0.1
    hess = np.empty(n)
    g0 = np.empty(d)
    REF.loss_grad(X, y, None, w, b, g0, hess_out=hess)
    v, v_b = rng.standard_normal(d), 0.7
    out = np.empty(d)
    out_b = REF.hessp(X, hess, v, out, v_b=v_b)
    h = 1e-6
    gp, gm = np.empty(d), np.empty(d)
    _, bp = REF.loss_grad(X, y, None, w + h * v, b + h * v_b, gp)
    _, bm = REF.loss_grad(X, y, None, w - h * v, b - h * v_b, gm)
    np.testing.assert_allclose(out, (gp - gm) / (2 * h), rtol=1e-6, atol=1e-8)
    assert out_b == pytest.approx((bp - bm) / (2 * h), rel=1e-6)
    G = np.empty((d, d))
    REF.gram(X, hess, G)
    hv = np.empty(d)
    REF.hessp(X, hess, v, hv)  # v_b = 0: exactly the Gram matrix times v
    np.testing.assert_allclose(G @ v, hv, rtol=1e-12)
    np.testing.assert_allclose(np.diag(G), REF.hess_diag(X, hess, np.empty(d)), rtol=1e-12)


def test_multinomial_gradient_and_hessp_finite_difference(rng):
    n, d, k = 40, 4, 3
    X = awkward_csr(rng, n, d, density=0.6)
    Y = np.eye(k)[rng.integers(0, k, n)]
    s = rng.uniform(0.5, 1.5, n)
    W, B = rng.standard_normal((d, k)), rng.standard_normal(k)
    G, GB, P = np.empty((d, k)), np.empty(k), np.empty((n, k))
    REF.multinomial_loss_grad(X, Y, s, W, B, G, GB, proba_out=P)
    f = lambda W_, B_: REF.multinomial_loss_grad(X, Y, s, W_, B_, np.empty((d, k)), np.empty(k))
    h = 1e-6
    E = rng.standard_normal((d, k))
    eb = rng.standard_normal(k)
    fd = (f(W + h * E, B + h * eb) - f(W - h * E, B - h * eb)) / (2 * h)
    assert (G * E).sum() + GB @ eb == pytest.approx(fd, rel=1e-6)
    out, out_b = np.empty((d, k)), np.empty(k)
    REF.multinomial_hessp(X, P, s, E, eb, out, out_b)
    Gp, GBp, Gm, GBm = np.empty((d, k)), np.empty(k), np.empty((d, k)), np.empty(k)
    REF.multinomial_loss_grad(X, Y, s, W + h * E, B + h * eb, Gp, GBp)
    REF.multinomial_loss_grad(X, Y, s, W - h * E, B - h * eb, Gm, GBm)
    np.testing.assert_allclose(out, (Gp - Gm) / (2 * h), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(out_b, (GBp - GBm) / (2 * h), rtol=1e-5, atol=1e-7)


def test_boundary_rejects_bad_arguments(rng):
    X = awkward_csr(rng, 10, 4)
    y, w, g = np.zeros(10), np.zeros(4), np.empty(4)
    with pytest.raises(ValueError, match="w must have shape"):
        REF.loss_grad(X, y, None, np.zeros(5), 0.0, g)
    with pytest.raises(ValueError, match="y must have dtype"):
        REF.loss_grad(X, y.astype(np.float32), None, w, 0.0, g)
    with pytest.raises(ValueError, match="grad_out must be C-contiguous"):
        REF.loss_grad(X, y, None, w, 0.0, np.empty(8)[::2])
    bad = sp.csr_matrix((np.ones(1), np.array([7]), np.array([0, 1])), shape=(1, 4))
    with pytest.raises(ValueError, match="column indices"):
        kernels.as_design(bad)
    with pytest.raises(ValueError, match="unknown backend"):
        kernels.get("fortran")


def test_auto_backend_composes_the_fastest_kernels():
    auto = kernels.get("auto")
    names = kernels.available_backends()
    assert auto is kernels.get("auto")
    assert auto.module.loss_grad_csr is kernels.get(names[0]).module.loss_grad_csr
    for raw_name, other in kernels.AUTO_OVERRIDES.items():
        if other in names:
            assert getattr(auto.module, raw_name) is getattr(kernels.get(other).module, raw_name)
