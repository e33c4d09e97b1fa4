"""Calibration metrics against direct NumPy computations and scikit-learn; score calibrators."""
import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, log_loss

from fastlogit.calibration import (PlattScaling, TemperatureScaling, brier_score,
                                   expected_calibration_error, log_loss_decomposition,
                                   reliability_table)


def _data(n=5000, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.001, 0.999, n)
    y = (rng.random(n) < p ** 1.3).astype(float)  # miscalibrated on purpose
    return y, p, rng.uniform(0.2, 3.0, n)


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_reliability_table_equals_sklearn_calibration_curve(strategy):
    y, p, _ = _data()
    table = reliability_table(y, p, n_bins=12, strategy=strategy)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=12, strategy=strategy)
    np.testing.assert_allclose(table.observed, prob_true, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(table.mean_predicted, prob_pred, rtol=1e-12, atol=1e-12)
    assert np.all(table.ci_low <= table.observed) and np.all(table.observed <= table.ci_high)


def test_ece_and_brier_equal_direct_computations():
    y, p, s = _data(seed=1)
    edges = np.linspace(0, 1, 11)
    b = np.clip(np.searchsorted(edges[1:-1], p, side="right"), 0, 9)
    ece = sum((s[b == k].sum() / s.sum()) * abs((s[b == k] @ y[b == k]) / s[b == k].sum()
                                                 - (s[b == k] @ p[b == k]) / s[b == k].sum())
              for k in range(10) if np.any(b == k))
    assert expected_calibration_error(y, p, n_bins=10, sample_weight=s) == pytest.approx(
        ece, rel=1e-12)
    direct = float(s @ (p - y) ** 2 / s.sum())
    assert brier_score(y, p, sample_weight=s) == pytest.approx(direct, rel=1e-12)
    assert brier_score(y, p, sample_weight=s) == pytest.approx(
        brier_score_loss(y, p, sample_weight=s), rel=1e-12)


def test_log_loss_decomposition_adds_up_and_vanishes_when_calibrated():
    y, p, s = _data(seed=2)
    dec = log_loss_decomposition(y, p, sample_weight=s)
    assert dec["log_loss"] == pytest.approx(log_loss(y, p, sample_weight=s), rel=1e-12)
    parts = dec["refinement"] + dec["calibration"] + dec["within_bin"]
    assert parts == pytest.approx(dec["log_loss"], rel=1e-12)
    assert dec["calibration"] > 0.005 and dec["refinement"] > 0
    # p constant per bin: no within-bin term; the calibration term is the KL sum, direct
    centres = (np.floor(p * 10) + 0.5) / 10
    dec = log_loss_decomposition(y, centres, sample_weight=s)
    assert dec["within_bin"] == pytest.approx(0.0, abs=1e-12)
    b = np.floor(p * 10).astype(int)
    kl = 0.0
    for k in np.unique(b):
        m = b == k
        o, q = (s[m] @ y[m]) / s[m].sum(), centres[m][0]
        kl += s[m].sum() * (o * np.log(o / q) + (1 - o) * np.log((1 - o) / (1 - q)))
    assert dec["calibration"] == pytest.approx(kl / s.sum(), rel=1e-10)


def test_temperature_and_platt_recover_known_maps():
    rng = np.random.default_rng(3)
    scores = rng.standard_normal(20000) * 3
    y = (rng.random(scores.size) < 1 / (1 + np.exp(-(0.5 * scores - 0.4)))).astype(float)
    platt = PlattScaling().fit(scores, y)
    assert platt.slope_ == pytest.approx(0.5, abs=0.05)
    assert platt.offset_ == pytest.approx(-0.4, abs=0.08)
    temp = TemperatureScaling().fit(scores, y)
    assert temp.offset_ == 0.0 and temp.temperature_ == pytest.approx(2.0, rel=0.15)
    proba = platt.predict_proba(scores)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # the fitted map is the likelihood optimum: it beats the true map only by noise, and
    # beats the raw scores' sigmoid by far
    assert log_loss(y, proba[:, 1]) < log_loss(y, 1 / (1 + np.exp(-scores))) - 0.05


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="binary labels"):
        reliability_table([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="probabilities in"):
        brier_score([0, 1], [0.1, 1.5])
    with pytest.raises(ValueError, match="n_bins"):
        expected_calibration_error([0, 1], [0.1, 0.2], n_bins=0)
    with pytest.raises(ValueError, match="scores must be finite"):
        PlattScaling().fit([np.nan, 1.0], [0, 1])
    with pytest.raises(ValueError, match="not fitted yet: call fit"):
        PlattScaling().predict_proba([0.0])
    with pytest.raises(ValueError, match="scores must be finite"):
        TemperatureScaling().fit([-1.0, 1.0], [0, 1]).predict_proba([0.0, np.nan])


def test_calibrated_probabilities_keep_the_small_tail():
    """Both columns of predict_proba are computed directly: for a score of 50 the class-0
    probability is exp(-50) to full relative precision (1 - p would give exactly 0)."""
    platt = PlattScaling().fit([-2.0, -1.0, 0.0, 0.5, 1.0, 3.0], [0, 0, 1, 0, 1, 1])
    z = platt.slope_ * 50.0 + platt.offset_
    p0 = platt.predict_proba([50.0])[0, 0]
    assert p0 > 0 and p0 == pytest.approx(np.exp(-z) / (1 + np.exp(-z)), rel=1e-14)
