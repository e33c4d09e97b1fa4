"""
Log-loss gives calibrated probabilities, the hinge does not
===========================================================

Logistic regression minimises the log-loss, a proper scoring rule: on held-out data its
predicted probabilities match the observed frequencies. A linear SVM minimises the hinge
loss, which is flat beyond the margin, so its scores carry no probability: squashing them
with a sigmoid gives over- or under-confident numbers. A calibration map fitted on a
separate split (Platt scaling) repairs that. The data set is scikit-learn's bundled
breast-cancer data (real measurements), split into train / calibration / test.
"""

import matplotlib.pyplot as plt
import numpy as np
from scipy.special import expit
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import fastlogit
from fastlogit.calibration import (PlattScaling, brier_score, expected_calibration_error,
                                   reliability_table)
from fastlogit.svm import LinearSVM

X, y = load_breast_cancer(return_X_y=True)
X_train, X_rest, y_train, y_rest = train_test_split(X, y, test_size=0.5, random_state=0)
X_cal, X_test, y_cal, y_test = train_test_split(X_rest, y_rest, test_size=0.5,
                                                random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_cal, X_test = (scaler.transform(a) for a in (X_train, X_cal, X_test))

logit = fastlogit.LogisticRegression(C=0.1).fit(X_train, y_train)
svm = LinearSVM("hinge", C=0.1).fit(X_train, y_train)
platt = PlattScaling().fit(svm.decision_function(X_cal), y_cal)

probabilities = {
    "log-loss": logit.predict_proba(X_test)[:, 1],
    "hinge, sigmoid of the score": expit(svm.decision_function(X_test)),
    "hinge + Platt scaling": platt.predict_proba(svm.decision_function(X_test))[:, 1],
}

fig, ax = plt.subplots(figsize=(5, 5))
ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--")
for label, p in probabilities.items():
    table = reliability_table(y_test, p, n_bins=5, strategy="quantile")
    ece = expected_calibration_error(y_test, p, n_bins=5, strategy="quantile")
    ax.errorbar(table.mean_predicted, table.observed,
                yerr=np.maximum(0, [table.observed - table.ci_low, table.ci_high - table.observed]),
                marker="o", capsize=3, label=f"{label} (ECE {ece:.3f})")
    print(f"{label:>28}: ECE {ece:.3f}  Brier {brier_score(y_test, p):.4f}")
ax.set_xlabel("mean predicted probability")
ax.set_ylabel("observed frequency (95 % Wilson interval)")
ax.legend(loc="upper left", fontsize=8)
fig.tight_layout()
plt.show()
