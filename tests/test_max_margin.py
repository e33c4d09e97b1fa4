"""The max-margin limit of unregularised log-loss on separable data."""
import numpy as np
import pytest
from sklearn.svm import LinearSVC

from fastlogit.max_margin import gradient_descent_directions, max_margin_direction


def _separable(n=150, d=5, gap=0.2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w0 = rng.standard_normal(d)
    m = X @ w0 / np.linalg.norm(w0)
    keep = np.abs(m) > gap
    return X[keep], (m[keep] > 0).astype(np.float64)


def _angle(a, b):
    return np.degrees(np.arccos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1, 1)))


def test_max_margin_direction_equals_linear_svc_at_large_C():
    X, y = _separable()
    direction, margin = max_margin_direction(X, y)
    svc = LinearSVC(fit_intercept=False, C=1e4, loss="hinge", tol=1e-10,
                    max_iter=1_000_000).fit(X, y)
    assert _angle(direction, svc.coef_[0]) < 1e-3
    yt = 2 * y - 1
    assert (yt * (X @ direction)).min() == pytest.approx(margin, rel=1e-6)


def test_gradient_descent_turns_toward_the_max_margin_direction():
    X, y = _separable()
    svc = LinearSVC(fit_intercept=False, C=1e4, loss="hinge", tol=1e-10,
                    max_iter=1_000_000).fit(X, y)
    out = gradient_descent_directions(X, y, n_iter=20000, step="normalized", eta=1.0)
    angles = out["angle_degrees"]
    # the growing normalised steps overshoot at first; from a tenth of the run on the angle
    # falls monotonically, to below one degree of scikit-learn's hard-margin direction
    late = out["iterations"] >= out["iterations"][-1] / 10
    assert np.all(np.diff(angles[late]) <= 1e-9)
    assert angles[0] > 5 and _angle(out["reference"], svc.coef_[0]) < 1e-3
    assert angles[-1] < 1.0
    w_end = out["reference"]
    plain = gradient_descent_directions(X, y, n_iter=2000)
    assert np.all(np.diff(plain["angle_degrees"]) <= 1e-9)
    assert np.all(np.diff(plain["norm"]) > 0)  # ||w|| grows without bound
    assert w_end.shape == (X.shape[1],)


def test_non_separable_data_is_refused():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, 3))
    y = (rng.random(60) < 0.5).astype(float)
    with pytest.raises(ValueError, match="not linearly separable"):
        max_margin_direction(X, y)
    with pytest.raises(ValueError, match="step must be"):
        gradient_descent_directions(*_separable(n=40), step="fast")
