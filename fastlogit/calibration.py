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
from sklearn.exceptions import NotFittedError
from sklearn.metrics import brier_score_loss, log_loss

from ._docstring import filler
from .estimator import class_probabilities

__all__ = ["ReliabilityTable", "reliability_table", "expected_calibration_error",
           "brier_score", "log_loss_decomposition", "TemperatureScaling", "PlattScaling"]


#: Parameter entries shared by the binned scores' docstrings (:func:`fastlogit._docstring.filler`).
_fill_doc = filler({
    "y_true": """\
y_true : array-like of shape (n_samples,)
    Binary labels, every value 0 or 1.""",
    "proba": """\
proba : array-like of shape (n_samples,)
    Predicted probabilities of the label 1, finite and in [0, 1].""",
    "n_bins": """\
n_bins : int, default=10
    Number of bins, a positive integer (see :func:`reliability_table`).""",
    "strategy": """\
strategy : {"uniform", "quantile"}, default="uniform"
    Bins of equal width, or edges at the percentiles of ``proba``.""",
    "sample_weight": """\
sample_weight : array-like of shape (n_samples,), default=None
    Finite non-negative weights; None gives every sample weight 1.""",
    "invalid_input": """\
ValueError
    On invalid labels, probabilities, weights, ``n_bins`` or ``strategy``, as
    :func:`reliability_table`.""",
})


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


def _finite_scores(scores):
    """Scores as a flat float64 array; ValueError unless every one is finite."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores must be finite (no NaN or inf)")
    return scores


def _check_scores(scores, y_true, sample_weight):
    """(scores, y, s) float64 for a calibrator: finite scores, binary y, valid weights."""
    scores = _finite_scores(scores)
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
    """Reliability table: one entry per non-empty bin, bins in increasing order.

    Made by :func:`reliability_table`.  Every array has shape (n_nonempty_bins,) and dtype
    float64; with sample weights, counts are weight sums and means are weighted means.

    Parameters
    ----------
    edges_low : ndarray of shape (n_nonempty_bins,)
        Lower edge of each bin (inclusive).
    edges_high : ndarray of shape (n_nonempty_bins,)
        Upper edge of each bin (exclusive, except 1.0, which belongs to the last bin).
    count : ndarray of shape (n_nonempty_bins,)
        Weight sum of the samples in each bin (their number without weights); all > 0.
    mean_predicted : ndarray of shape (n_nonempty_bins,)
        Weighted mean of the predicted probabilities in each bin.
    observed : ndarray of shape (n_nonempty_bins,)
        Weighted frequency of ``y = 1`` in each bin.
    ci_low : ndarray of shape (n_nonempty_bins,)
        Lower end of the Wilson score interval of ``observed`` (effective count ``count``),
        clipped to [0, 1].
    ci_high : ndarray of shape (n_nonempty_bins,)
        Upper end of that interval, clipped to [0, 1].
    confidence : float
        Coverage of the intervals, in (0, 1).

    Examples
    --------
    >>> from fastlogit.calibration import reliability_table
    >>> table = reliability_table([0, 1, 1, 1], [0.2, 0.4, 0.7, 0.9], n_bins=2)
    >>> table.rows()[1]["observed"], table.rows()[1]["count"]
    (1.0, 2.0)
    """

    edges_low: np.ndarray
    edges_high: np.ndarray
    count: np.ndarray
    mean_predicted: np.ndarray
    observed: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    confidence: float

    def rows(self):
        """The table as a list of dicts, one per non-empty bin, in increasing order.

        Returns
        -------
        list of dict of str to float
            Keys ``"edges_low"``, ``"edges_high"``, ``"count"``, ``"mean_predicted"``,
            ``"observed"``, ``"ci_low"`` and ``"ci_high"`` (the fields of the table), values
            Python floats.

        Examples
        --------
        >>> from fastlogit.calibration import reliability_table
        >>> table = reliability_table([0, 0, 1, 1], [0.1, 0.3, 0.6, 0.8], n_bins=2)
        >>> first = table.rows()[0]
        >>> first["edges_low"], first["edges_high"], first["count"], first["observed"]
        (0.0, 0.5, 2.0, 0.0)
        """
        keys = ("edges_low", "edges_high", "count", "mean_predicted", "observed", "ci_low",
                "ci_high")
        return [dict(zip(keys, map(float, vals))) for vals in zip(*(getattr(self, k)
                                                                     for k in keys))]


def reliability_table(y_true, proba, *, n_bins=10, strategy="uniform", sample_weight=None,
                      confidence=0.95):
    """Reliability table of binary probabilities against the observed labels.

    Bins of [0, 1] as described in the module docstring; a probability p falls into bin b
    when ``edges[b] <= p < edges[b + 1]`` (p = 1 into the last bin).  Empty bins are dropped.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary labels, every value 0 or 1 (any numeric dtype).
    proba : array-like of shape (n_samples,)
        Predicted probabilities of the label 1, finite and in [0, 1].
    n_bins : int, default=10
        Number of bins, a positive integer.
    strategy : {"uniform", "quantile"}, default="uniform"
        ``"uniform"``: bins of equal width.  ``"quantile"``: edges at the percentiles of
        ``proba`` (bins of about equal count), the outer edges set to 0 and 1.
    sample_weight : array-like of shape (n_samples,), default=None
        Finite non-negative weights; None gives every sample weight 1.
    confidence : float, default=0.95
        Coverage of the Wilson score interval of each bin's observed frequency, in (0, 1).

    Returns
    -------
    ReliabilityTable
        One entry per non-empty bin, in increasing order of probability.

    Raises
    ------
    ValueError
        If ``y_true`` and ``proba`` differ in length, ``y_true`` holds a value other than 0
        or 1, ``proba`` is outside [0, 1] or NaN, a weight is negative, not finite or the
        weights' length differs, ``n_bins`` is not a positive integer or ``strategy`` is
        unknown.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.calibration import reliability_table
    >>> y = np.array([0, 0, 1, 0, 1, 1, 1, 1])
    >>> p = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9])
    >>> table = reliability_table(y, p, n_bins=2)
    >>> table.count, table.mean_predicted, table.observed
    (array([4., 4.]), array([0.25, 0.75]), array([0.25, 1.  ]))
    """
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


@_fill_doc
def expected_calibration_error(y_true, proba, *, n_bins=10, strategy="uniform",
                               sample_weight=None):
    """Expected calibration error over the non-empty bins of :func:`reliability_table`.

    ::

        ECE = sum_b (n_b / n) |o_b - p_b|

    with ``n_b`` the weight in bin b, ``n`` the total weight, ``o_b`` the observed frequency
    of the label 1 and ``p_b`` the mean predicted probability in the bin.

    Parameters
    ----------
    {y_true, proba, n_bins, strategy, sample_weight}

    Returns
    -------
    float
        The ECE, in [0, 1]; 0 when every bin's mean probability equals its frequency.

    Raises
    ------
    {invalid_input}

    Examples
    --------
    >>> from fastlogit.calibration import expected_calibration_error
    >>> y = [0, 0, 1, 0, 1, 1, 1, 1]
    >>> p = [0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9]
    >>> round(expected_calibration_error(y, p, n_bins=2), 6)
    0.125
    """
    table = reliability_table(y_true, proba, n_bins=n_bins, strategy=strategy,
                              sample_weight=sample_weight)
    w = table.count / table.count.sum()
    return float(w @ np.abs(table.observed - table.mean_predicted))


@_fill_doc
def brier_score(y_true, proba, *, sample_weight=None):
    """Brier score: the weighted mean squared error of the probabilities.

    ``sum_i s_i (p_i - y_i)^2 / sum_i s_i``, computed by scikit-learn's
    :func:`sklearn.metrics.brier_score_loss` after the checks below.

    Parameters
    ----------
    {y_true, proba, sample_weight}

    Returns
    -------
    float
        The Brier score, in [0, 1]; lower is better.

    Raises
    ------
    ValueError
        If the lengths differ, ``y_true`` is not binary, ``proba`` is outside [0, 1] or
        NaN, or a weight is negative or not finite.

    Examples
    --------
    >>> from fastlogit.calibration import brier_score
    >>> round(brier_score([0, 1, 1], [0.1, 0.8, 0.5]), 4)
    0.1
    """
    y, p, s = _check(y_true, proba, sample_weight)
    return float(brier_score_loss(y, p, sample_weight=s))


@_fill_doc
def log_loss_decomposition(y_true, proba, *, n_bins=10, strategy="uniform",
                           sample_weight=None):
    """Split the log loss into refinement, calibration and within-bin terms.

    ``log_loss = refinement + calibration + within_bin``, each per unit weight, over the bins
    of :func:`reliability_table` (formulas in the module docstring).  ``refinement`` and
    ``calibration`` are >= 0; ``within_bin`` is zero when ``proba`` is constant in each bin.

    Parameters
    ----------
    {y_true, proba, n_bins, strategy, sample_weight}

    Returns
    -------
    dict of str to float
        Keys ``"log_loss"`` (scikit-learn's weighted mean log loss), ``"refinement"``,
        ``"calibration"`` and ``"within_bin"``.

    Raises
    ------
    {invalid_input}

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.calibration import log_loss_decomposition
    >>> rng = np.random.default_rng(0)
    >>> p = rng.random(1000)
    >>> y = (rng.random(1000) < p ** 2).astype(int)  # p over-estimates P(y = 1)
    >>> parts = log_loss_decomposition(y, p)
    >>> total = parts["refinement"] + parts["calibration"] + parts["within_bin"]
    >>> bool(abs(total - parts["log_loss"]) < 1e-12), bool(parts["calibration"] > 0)
    (True, True)
    """
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
    """p = sigmoid(a * score + b) fitted by maximum likelihood on (score, y); a subclass's
    ``_set_params(scores, y, s)`` fits and sets ``slope_`` and ``offset_``."""

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

    def fit(self, scores, y, sample_weight=None):
        """Fit the parameters by maximum likelihood (BFGS on the weighted log loss).

        Parameters
        ----------
        scores : array-like of shape (n_samples,)
            Finite real-valued scores, e.g. a margin model's ``decision_function``.
        y : array-like of shape (n_samples,)
            Binary labels, every value 0 or 1.
        sample_weight : array-like of shape (n_samples,), default=None
            Finite non-negative weights; None gives every sample weight 1.

        Returns
        -------
        self
            The fitted calibrator.

        Raises
        ------
        ValueError
            If a score is not finite, ``y`` is not binary, the lengths differ or a weight is
            negative or not finite; for :class:`TemperatureScaling`, also if the fitted
            slope is not positive (scores anti-correlated with ``y``).

        Examples
        --------
        >>> from fastlogit.calibration import PlattScaling, TemperatureScaling
        >>> scores, y = [-2.0, -1.0, 0.0, 0.5, 1.0, 3.0], [0, 0, 1, 0, 1, 1]
        >>> platt = PlattScaling().fit(scores, y)
        >>> round(platt.slope_, 3), round(platt.offset_, 3)
        (1.874, -0.331)
        >>> round(TemperatureScaling().fit(scores, y).temperature_, 3)  # no offset
        0.559
        """
        scores, y, s = _check_scores(scores, y, sample_weight)
        self._set_params(scores, y, s)
        return self

    def predict_proba(self, scores):
        """Calibrated probabilities of the scores.

        Parameters
        ----------
        scores : array-like of shape (n_samples,)
            Scores on the scale the calibrator was fitted on.

        Returns
        -------
        ndarray of shape (n_samples, 2)
            Columns P(y = 0) and P(y = 1), float64; rows sum to 1 (each column computed
            directly, so a probability near 0 keeps its relative precision).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If ``fit`` has not been called.
        ValueError
            If a score is NaN or infinite.

        Examples
        --------
        >>> from fastlogit.calibration import PlattScaling
        >>> platt = PlattScaling().fit([-2.0, -1.0, 0.0, 0.5, 1.0, 3.0], [0, 0, 1, 0, 1, 1])
        >>> platt.predict_proba([-1.0, 0.0, 3.0]).round(3)
        array([[0.901, 0.099],
               [0.582, 0.418],
               [0.005, 0.995]])
        """
        if not hasattr(self, "slope_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit "
                                 "before predict_proba")
        return class_probabilities(self.slope_ * _finite_scores(scores) + self.offset_)


class TemperatureScaling(_ScoreCalibrator):
    """p = sigmoid(score / T), one parameter T > 0 fitted by maximum likelihood.

    Keeps the ranking and the decision threshold at score 0.  Takes no constructor
    arguments.

    Attributes
    ----------
    temperature_ : float
        The fitted temperature T > 0.
    slope_ : float
        ``1 / T``.
    offset_ : float
        Always 0.0.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.calibration import TemperatureScaling
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=400)
    >>> y = (rng.random(400) < 1 / (1 + np.exp(-z / 2))).astype(int)  # true T = 2
    >>> cal = TemperatureScaling().fit(3 * z, y)  # scores three times too large
    >>> 3 < cal.temperature_ < 12
    True
    >>> cal.predict_proba([0.0]).round(3)
    array([[0.5, 0.5]])
    """

    def _set_params(self, scores, y, s):
        (a,) = self._fit_params(scores, y, s, True, False)
        if not a > 0:
            raise ValueError("the scores are anti-correlated with y: no temperature T > 0 fits")
        self.slope_, self.offset_, self.temperature_ = float(a), 0.0, 1.0 / float(a)


class PlattScaling(_ScoreCalibrator):
    """p = sigmoid(a * score + b) (Platt, 1999), both parameters by maximum likelihood.

    Takes no constructor arguments.

    Attributes
    ----------
    slope_ : float
        The fitted slope a (negative when the scores are anti-correlated with y).
    offset_ : float
        The fitted offset b.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.calibration import PlattScaling
    >>> rng = np.random.default_rng(0)
    >>> scores = rng.normal(size=2000)
    >>> y = (rng.random(2000) < 1 / (1 + np.exp(-(2 * scores - 1)))).astype(int)
    >>> cal = PlattScaling().fit(scores, y)  # true a = 2, b = -1
    >>> bool(abs(cal.slope_ - 2) < 0.4 and abs(cal.offset_ + 1) < 0.3)
    True
    >>> cal.predict_proba(scores[:3]).shape
    (3, 2)
    """

    def _set_params(self, scores, y, s):
        a, b = self._fit_params(scores, y, s, True, True)
        self.slope_, self.offset_ = float(a), float(b)
