"""
Calibration (reliability) diagram
=================================

A classifier is *calibrated* when, among the samples it gives probability ``p``, a fraction
``p`` is positive. A reliability diagram bins the predicted probabilities of a held-out set
(here in ten bins of equal counts) and plots, per bin, the observed fraction of positives
against the mean prediction: a calibrated model lies on the diagonal.

The log-loss is a proper scoring rule, so a well-specified logistic regression is
calibrated. Two of fastlogit's options move it away from the diagonal on purpose:
label smoothing (targets pulled towards 1/2: under-confident predictions, which can help
against over-fitted, noisy labels) and the focal loss (which down-weights well-classified
samples and so also pulls probabilities towards 1/2).
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_classification
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split

import fastlogit
from fastlogit.calibration import brier_score, expected_calibration_error, reliability_table

X, y = make_classification(n_samples=20_000, n_features=20, n_informative=6, n_redundant=2,
                           flip_y=0.05, class_sep=0.8, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, random_state=0)

models = {
    "log-loss": fastlogit.LogisticRegression(C=1.0),
    "label smoothing 0.2": fastlogit.LogisticRegression(C=1.0, label_smoothing=0.2),
    "focal loss, gamma = 2": fastlogit.LogisticRegression(C=1.0, focal_gamma=2.0),
}

fig, (ax, hist) = plt.subplots(2, 1, figsize=(5.5, 6.5), gridspec_kw={"height_ratios": [3, 1]},
                               sharex=True)
ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="calibrated")
for name, model in models.items():
    p = model.fit(X_train, y_train).predict_proba(X_test)[:, 1]
    table = reliability_table(y_test, p, n_bins=10, strategy="quantile")
    ax.errorbar(table.mean_predicted, table.observed, marker="o", label=name,
                yerr=[table.observed - table.ci_low, table.ci_high - table.observed])
    hist.hist(p, bins=20, range=(0, 1), histtype="step", label=name)
    ece = expected_calibration_error(y_test, p, n_bins=10, strategy="quantile")
    print(f"{name:22s} log-loss {log_loss(y_test, p):.4f}  Brier {brier_score(y_test, p):.4f}"
          f"  ECE {ece:.4f}")

ax.set_ylabel("observed fraction of positives")
ax.set_title("reliability diagram (held-out half)")
ax.legend(loc="upper left")
hist.set_xlabel("predicted probability of class 1")
hist.set_ylabel("count")
fig.tight_layout()
plt.show()

# %%
# The error bars are 95% Wilson intervals of each bin's observed frequency
# (:func:`fastlogit.calibration.reliability_table`); the expected calibration error (ECE)
# is the count-weighted mean distance to the diagonal. The command line tool prints the
# same table: ``fastlogit evaluate MODEL DATA --plot reliability.png``.
