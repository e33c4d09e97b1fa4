"""Focal loss and forward noise correction: against their definitions, stability, gradients."""
import mpmath
import numpy as np
import pytest
import scipy.sparse as sp

from fastlogit.extras import (FocalObjective, NoiseCorrectedObjective, check_transition,
                              focal_loss, noise_corrected_loss)

mpmath.mp.dps = 50


def softmax_mp(z):
    m = [mpmath.mpf(float(v)) for v in z]
    total = sum(mpmath.exp(v) for v in m)
    return [mpmath.exp(v) / total for v in m]


def focal_mp(y, z, gamma):
    p = softmax_mp(z)
    return float(-sum(mpmath.mpf(float(yk)) * (1 - pk) ** gamma * mpmath.log(pk)
                      for yk, pk in zip(y, p)))


def noisy_mp(y, z, T):
    p = softmax_mp(z)
    q = [sum(p[i] * mpmath.mpf(float(T[i][j])) for i in range(len(p))) for j in range(len(p))]
    return float(-sum(mpmath.mpf(float(yj)) * mpmath.log(qj) for yj, qj in zip(y, q) if yj))


Z_CASES = [[0.0, 0.0], [0.0, 20.0], [0.0, -40.0], [0.0, 800.0], [3.0, -2.0, 0.5],
           [-700.0, 5.0, 1.0], [1e4, 0.0, -1e4]]


@pytest.mark.parametrize("z", Z_CASES, ids=str)
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_focal_matches_high_precision_definition(z, gamma):
    k = len(z)
    for label in range(k):
        y = np.eye(k)[label]
        loss, grad = focal_loss(y[None], np.array([z]), gamma)
        ref = focal_mp(y, z, gamma)
        assert np.isfinite(loss).all() and np.isfinite(grad).all()
        np.testing.assert_allclose(loss[0], ref, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_focal_gradient_finite_difference(rng, gamma):
    Z = rng.standard_normal((20, 3)) * 3
    Y = rng.dirichlet(np.ones(3), size=20)
    _, grad = focal_loss(Y, Z, gamma)
    h = 1e-6
    for j in range(3):
        e = np.zeros(3)
        e[j] = h
        fd = (focal_loss(Y, Z + e, gamma)[0] - focal_loss(Y, Z - e, gamma)[0]) / (2 * h)
        np.testing.assert_allclose(grad[:, j], fd, rtol=1e-6, atol=1e-8)


def test_focal_gamma_zero_is_exactly_log_loss(rng):
    from fastlogit.kernels import numpy_ref

    Z = np.column_stack([np.zeros(50), rng.standard_normal(50) * 10])
    y = rng.random(50)
    loss, grad = focal_loss(np.column_stack([1 - y, y]), Z, 0.0)
    ref = np.empty(50)
    numpy_ref.log1pexp(Z[:, 1], ref)
    np.testing.assert_allclose(loss, ref - y * Z[:, 1], rtol=1e-13, atol=1e-15)
    p = 1 / (1 + np.exp(-Z[:, 1]))
    np.testing.assert_allclose(grad[:, 1], p - y, atol=1e-15)


def test_focal_downweights_easy_examples():
    z = np.array([[0.0, 4.0], [0.0, -0.5]])  # an easy and a hard positive
    y = np.array([[0.0, 1.0], [0.0, 1.0]])
    ratio = focal_loss(y, z, 2.0)[0] / focal_loss(y, z, 0.0)[0]
    assert ratio[0] < 1e-3 < ratio[1]


T2 = [[0.8, 0.2], [0.3, 0.7]]
T3 = [[0.8, 0.1, 0.1], [0.05, 0.9, 0.05], [0.0, 0.4, 0.6]]


@pytest.mark.parametrize("z", Z_CASES, ids=str)
def test_noise_corrected_matches_high_precision_definition(z):
    k = len(z)
    T = np.array(T2 if k == 2 else T3)
    for label in range(k):
        y = np.eye(k)[label]
        with np.errstate(divide="ignore"):
            logT = np.log(T)
        loss, grad = noise_corrected_loss(y[None], np.array([z]), logT)
        assert np.isfinite(loss).all() and np.isfinite(grad).all()
        np.testing.assert_allclose(loss[0], noisy_mp(y, z, T), rtol=1e-12)


def test_noise_corrected_gradient_and_identity(rng):
    Z = rng.standard_normal((20, 3)) * 3
    Y = rng.dirichlet(np.ones(3), size=20)
    with np.errstate(divide="ignore"):
        logT = np.log(np.array(T3))
    _, grad = noise_corrected_loss(Y, Z, logT)
    h = 1e-6
    for j in range(3):
        e = np.zeros(3)
        e[j] = h
        fd = (noise_corrected_loss(Y, Z + e, logT)[0] - noise_corrected_loss(Y, Z - e, logT)[0])
        np.testing.assert_allclose(grad[:, j], fd / (2 * h), rtol=1e-6, atol=1e-8)
    with np.errstate(divide="ignore"):
        ident = np.log(np.eye(3))
    np.testing.assert_allclose(noise_corrected_loss(Y, Z, ident)[0],
                               focal_loss(Y, Z, 0.0)[0], rtol=1e-13)


@pytest.mark.parametrize("kind", ["focal", "noise"])
@pytest.mark.parametrize("n_classes", [1, 3], ids=["binary", "multinomial"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_objective_gradient_and_hessp(rng, kind, n_classes, sparse, dtype, backend):
    n, d = 30, 4
    X = rng.standard_normal((n, d))
    X[rng.random((n, d)) < 0.3] = 0
    X = (sp.csr_matrix(X) if sparse else X).astype(dtype)
    y = rng.random(n) if n_classes == 1 else rng.dirichlet(np.ones(3), size=n)
    s = rng.uniform(0.5, 2, n)
    if kind == "focal":
        obj = FocalObjective(X, y, s, gamma=1.5, C=2.0, backend=backend)
    else:
        obj = NoiseCorrectedObjective(X, y, s, transition=T2 if n_classes == 1 else T3,
                                      C=2.0, backend=backend)
    theta = rng.standard_normal(obj.n_params) * 0.5
    f, g = obj.value_grad(theta)
    assert g.dtype == np.float64 and g.shape == (obj.n_params,)
    h = 1e-4 if dtype == np.float32 else 1e-6
    fd = np.array([(obj.value_grad(theta + h * e)[0] - obj.value_grad(theta - h * e)[0])
                   / (2 * h) for e in np.eye(obj.n_params)])
    tol = 2e-3 if dtype == np.float32 else 1e-6
    np.testing.assert_allclose(g, fd, rtol=tol, atol=tol)
    v = rng.standard_normal(obj.n_params)
    hv = obj.hessp(theta, v)
    fd_hv = (obj.value_grad(theta + h * v)[1] - obj.value_grad(theta - h * v)[1]) / (2 * h)
    np.testing.assert_allclose(hv, fd_hv, rtol=10 * tol, atol=10 * tol)
    np.testing.assert_allclose(obj.hessian(theta) @ v, hv, rtol=10 * tol, atol=10 * tol)
    # the L2 part: value = smooth part for penalty l2
    assert obj.value(theta) == pytest.approx(f)


def test_objective_value_is_definition(rng):
    """F = C * sum s l + 1/2 ||w||^2, binary focal written naively."""
    X = rng.standard_normal((25, 3))
    y = (rng.random(25) < 0.5).astype(float)
    s = rng.uniform(0.5, 2, 25)
    obj = FocalObjective(X, y, s, gamma=2.0, C=0.5, backend="numpy")
    theta = rng.standard_normal(4)
    p = 1 / (1 + np.exp(-(X @ theta[:3] + theta[3])))
    loss = -(y * (1 - p) ** 2 * np.log(p) + (1 - y) * p ** 2 * np.log(1 - p))
    np.testing.assert_allclose(obj.value(theta), 0.5 * (s * loss).sum()
                               + 0.5 * theta[:3] @ theta[:3], rtol=1e-12)
    l1 = FocalObjective(X, y, s, gamma=2.0, C=0.5, penalty="l1", backend="numpy")
    np.testing.assert_allclose(l1.value(theta), 0.5 * (s * loss).sum()
                               + np.abs(theta[:3]).sum(), rtol=1e-12)


def test_bad_arguments():
    X = np.zeros((4, 2))
    with pytest.raises(ValueError, match="gamma"):
        FocalObjective(X, np.zeros(4), gamma=-1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        FocalObjective(X, np.full(4, 2.0))
    with pytest.raises(ValueError, match="non-negative"):
        FocalObjective(X, np.zeros(4), -np.ones(4))
    with pytest.raises(ValueError, match="C must"):
        FocalObjective(X, np.zeros(4), C=0)
    with pytest.raises(ValueError, match="sum to 1"):
        check_transition([[0.5, 0.4], [0.1, 0.9]], 2)
    with pytest.raises(ValueError, match="invertible"):
        check_transition([[0.5, 0.5], [0.5, 0.5]], 2)
    with pytest.raises(ValueError, match="non-negative"):
        check_transition([[1.5, -0.5], [0.0, 1.0]], 2)
