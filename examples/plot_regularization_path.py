"""
Regularisation path
===================

With an L1 penalty (``l1_ratio=1``), ``F(w, b) = C * sum_i log-loss_i + ||w||_1``, small
``C`` sets most coefficients exactly to zero and larger ``C`` lets them enter one by one.
:func:`fastlogit.model_selection.regularization_path` traces the path over a grid of ``C``
on scikit-learn's breast-cancer data (standardised), starting each fit from the previous
solution, which makes the whole path cost little more than a few cold fits.
"""

import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

import fastlogit
from fastlogit.model_selection import regularization_path

data = load_breast_cancer()
X = StandardScaler().fit_transform(data.data)
y = data.target

Cs = np.logspace(-2.5, 0.5, 16)
t0 = time.perf_counter()
path = regularization_path(X, y, Cs, l1_ratio=1.0, tol=1e-6, max_iter=200)
elapsed = time.perf_counter() - t0
coefs = path.coefs[:, 0, :]  # (n_Cs, n_features): one row of coefficients per C
n_nonzero = (coefs != 0).sum(axis=1)
print(f"{len(Cs)} fits ({path.solver}) in {elapsed:.2f} s, {path.n_iter.sum()} iterations in all")
print("non-zero coefficients along the path:", n_nonzero.tolist())

# %%
# The same path by hand: an estimator with ``warm_start=True``, refitted for each ``C``.
clf = fastlogit.LogisticRegression(l1_ratio=1.0, solver="l1", warm_start=True, tol=1e-6,
                                   max_iter=200)
by_hand = np.array([clf.set_params(C=C).fit(X, y).coef_[0] for C in Cs])
print("largest difference to regularization_path:", np.abs(by_hand - coefs).max())

fig, (ax, ax2) = plt.subplots(2, 1, figsize=(6, 6), sharex=True,
                              gridspec_kw={"height_ratios": [3, 1]})
ax.semilogx(Cs, coefs)
ax.set_ylabel("coefficient")
ax.set_title("L1 regularisation path (breast cancer, 30 features)")
ax2.semilogx(Cs, n_nonzero, drawstyle="steps-post")
ax2.set_xlabel("C")
ax2.set_ylabel("non-zeros")
fig.tight_layout()
plt.show()

# %%
# Towards large ``C`` the path approaches the unpenalised fit. On this almost separable
# data set that fit does not exist (the coefficients grow without bound), which is one
# reason to keep some penalty. An elastic net (``l1_ratio`` in (0, 1)) traces
# a smoother path that keeps groups of correlated features together.
