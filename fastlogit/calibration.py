"""Calibration of binary probabilities: reliability table, ECE, Brier, log-loss decomposition,
and temperature / Platt scaling to turn scores (e.g. a margin loss's) into probabilities.

Binning: ``n_bins`` bins of [0, 1], uniform width (``strategy="uniform"``) or equal counts
(``"quantile"``), the edges of scikit-learn's :func:`sklearn.calibration.calibration_curve`;
a probability p falls into bin ``b`` with ``edges[b] <= p < edges[b + 1]`` (p = 1 in the last
bin), where scikit-learn puts a p exactly on an interior edge into the lower bin: the tables
agree except for such ties.  Empty bins are dropped.  With sample weights every count is a weight sum.

::

    ECE    = sum_b (n_b / n) |o_b - p_b|         o_b: observed frequency, p_b: mean probability
    Brier  = sum_i s_i (p_i - y_i)^2 / sum_i s_i
    LL(p)  = refinement + calibration + within-bin
             refinement  = sum_b n_b H(o_b)                 the loss left after the best
                                                            per-bin recalibration, >= 0
             calibration = sum_b n_b KL(o_b || p_b) >= 0    zero when every bin's mean
                                                            probability equals its frequency
             within-bin  = the rest                         zero when p is constant per bin
    (each divided by the total weight; H the binary entropy, KL between Bernoulli laws)

Confidence intervals of o_b are Wilson score intervals (effective count n_b).
"""
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats
from sklearn.metrics import brier_score_loss, log_loss

__all__ = ["ReliabilityTable", "reliability_table", "expected_calibration_error",
           "brier_score", "log_loss_decomposition", "TemperatureScaling", "PlattScaling"]


def _check(y_true, proba, sample_weight=None):
    y = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(proba, dtype=np.float64).ravel()
    if y.shape != p.shape:
        raise ValueError(f"y_true and proba must have the same length, got {y.size} and "
                         f"{p.size}")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("y_true must hold binary labels in {0, 1}")
    if not np.all(np.isfinite(p)) or p.size and (p.min() < 0 or p.max() > 1):
        raise ValueError("proba must hold probabilities in [0, 1] (no NaN)")
    s = np.ones_like(y) if sample_weight is None else np.asarray(sample_weight, np.float64)
    if s.shape != y.shape or not np.all(np.isfinite(s)) or np.any(s < 0):
        raise ValueError("sample_weight must be finite, >= 0 and as long as y_true")
    return y, p, s


def _check_scores(scores, y_true, sample_weight):
    """(scores, y, s) float64 for a calibrator: finite scores, binary y, valid weights."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores must be finite (no NaN or inf)")
    y, _, s = _check(y_true, np.full(np.shape(y_true), 0.5), sample_weight)
    if y.shape != scores.shape:
        raise ValueError(f"scores and y must have the same length, got {scores.size} and "
                         f"{y.size}")
    return scores, y, s


def _bin_index(p, n_bins, strategy):
    if not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    elif strategy == "quantile":
        edges = np.percentile(p, np.linspace(0, 100, n_bins + 1))
        edges[0], edges[-1] = 0.0, 1.0
    else:
        raise ValueError(f"strategy must be 'uniform' or 'quantile', got {strategy!r}")
    # same assignment as scikit-learn's calibration_curve: interior edges, right side
    idx = np.searchsorted(edges[1:-1], p, side="right")
    return idx, edges


@dataclass
class ReliabilityTable:
    """Per non-empty bin: ``edges_low``, ``edges_high``, ``count`` (weight sum),
    ``mean_predicted``, ``observed`` (weighted frequency of y = 1), ``ci_low``, ``ci_high``
    (Wilson interval at ``confidence``)."""

    edges_low: np.ndarray
    edges_high: np.ndarray
    count: np.ndarray
    mean_predicted: np.ndarray
    observed: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    confidence: float

    def rows(self):
        """The table as a list of dicts (one per bin)."""
        keys = ("edges_low", "edges_high", "count", "mean_predicted", "observed", "ci_low",
                "ci_high")
        return [dict(zip(keys, map(float, vals))) for vals in zip(*(getattr(self, k)
                                                                     for k in keys))]


def reliability_table(y_true, proba, *, n_bins=10, strategy="uniform", sample_weight=None,
                      confidence=0.95):
    """:class:`ReliabilityTable` of binary probabilities ``proba`` against ``y_true``."""
    y, p, s = _check(y_true, proba, sample_weight)
    idx, edges = _bin_index(p, n_bins, strategy)
    count = np.bincount(idx, weights=s, minlength=n_bins)
    pred = np.bincount(idx, weights=s * p, minlength=n_bins)
    pos = np.bincount(idx, weights=s * y, minlength=n_bins)
    keep = count > 0
    n_b, o_b = count[keep], pos[keep] / count[keep]
    zq = stats.norm.ppf(0.5 + confidence / 2)
    centre = (o_b + zq * zq / (2 * n_b)) / (1 + zq * zq / n_b)
    half = zq * np.sqrt(o_b * (1 - o_b) / n_b + zq * zq / (4 * n_b * n_b)) / (1 + zq * zq / n_b)
    return ReliabilityTable(edges[:-1][keep], edges[1:][keep], n_b, pred[keep] / n_b, o_b,
                            np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1),
                            float(confidence))


def expected_calibration_error(y_true, proba, *, n_bins=10, strategy="uniform",
                               sample_weight=None):
    """ECE = ``sum_b (n_b / n) |o_b - p_b|`` over the non-empty bins."""
    table = reliability_table(y_true, proba, n_bins=n_bins, strategy=strategy,
                              sample_weight=sample_weight)
    w = table.count / table.count.sum()
    return float(w @ np.abs(table.observed - table.mean_predicted))


def brier_score(y_true, proba, *, sample_weight=None):
    """Mean squared error of the probabilities (scikit-learn's ``brier_score_loss``)."""
    y, p, s = _check(y_true, proba, sample_weight)
    return float(brier_score_loss(y, p, sample_weight=s))


def log_loss_decomposition(y_true, proba, *, n_bins=10, strategy="uniform",
                           sample_weight=None):
    """``{"log_loss", "refinement", "calibration", "within_bin"}`` per unit weight, with
    log_loss = refinement + calibration + within_bin (module docstring)."""
    table = reliability_table(y_true, proba, n_bins=n_bins, strategy=strategy,
                              sample_weight=sample_weight)
    y, p, s = _check(y_true, proba, sample_weight)
    total = s.sum()
    o, pb, n = table.observed, table.mean_predicted, table.count
    ll = float(log_loss(y, p, sample_weight=s, labels=[0, 1]))
    refinement = float(n @ (special.entr(o) + special.entr(1 - o))) / total
    calibration = float(n @ (special.rel_entr(o, pb) + special.rel_entr(1 - o, 1 - pb))) / total
    return {"log_loss": ll, "refinement": refinement, "calibration": calibration,
            "within_bin": ll - refinement - calibration}


class _ScoreCalibrator:
    """p = sigmoid(a * score + b) fitted by maximum likelihood on (score, y)."""

    def _fit_params(self, scores, y, s, fit_slope, fit_offset):

        def nll(params):
            a = params[0] if fit_slope else 1.0
            b = params[-1] if fit_offset else 0.0
            z = a * scores + b
            # log(1 + e^z) - y z and its derivative sigmoid(z) - y
            r = s * (special.expit(z) - y)
            grad = []
            if fit_slope:
                grad.append(r @ scores)
            if fit_offset:
                grad.append(r.sum())
            return float(s @ (np.logaddexp(0, z) - y * z)), np.array(grad)

        x0 = np.array([1.0] * fit_slope + [0.0] * fit_offset)
        res = optimize.minimize(nll, x0, jac=True, method="BFGS", options={"gtol": 1e-10})
        return res.x

    def predict_proba(self, scores):
        """Calibrated probabilities, shape (n, 2): columns P(y=0), P(y=1)."""
        p1 = special.expit(self.slope_ * np.asarray(scores, dtype=np.float64) + self.offset_)
        return np.column_stack([1 - p1, p1])


class TemperatureScaling(_ScoreCalibrator):
    """p = sigmoid(score / T), one parameter T > 0 fitted by maximum likelihood.

    Keeps the ranking and the decision threshold at score 0.  Attributes: ``temperature_``,
    ``slope_ = 1 / T``, ``offset_ = 0``.
    """

    def fit(self, scores, y, sample_weight=None):
        scores, y, s = _check_scores(scores, y, sample_weight)
        (a,) = self._fit_params(scores, y, s, True, False)
        if not a > 0:
            raise ValueError("the scores are anti-correlated with y: no temperature T > 0 fits")
        self.slope_, self.offset_, self.temperature_ = float(a), 0.0, 1.0 / float(a)
        return self


class PlattScaling(_ScoreCalibrator):
    """p = sigmoid(a * score + b) (Platt, 1999), both parameters by maximum likelihood.

    Attributes: ``slope_``, ``offset_``.
    """

    def fit(self, scores, y, sample_weight=None):
        scores, y, s = _check_scores(scores, y, sample_weight)
        a, b = self._fit_params(scores, y, s, True, True)
        self.slope_, self.offset_ = float(a), float(b)
        return self
