"""
Regularisation path
===================

With an L1 penalty (``l1_ratio=1``), ``F(w, b) = C * sum_i log-loss_i + ||w||_1``, small
``C`` sets most coefficients exactly to zero and larger ``C`` lets them enter one by one.
We trace the path over a grid of ``C`` on scikit-learn's breast-cancer data
(standardised), starting each fit from the previous solution (``warm_start=True``), which
makes the whole path cost little more than a few cold fits.
"""

import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

import fastlogit

data = load_breast_cancer()
X = StandardScaler().fit_transform(data.data)
y = data.target

Cs = np.logspace(-2.5, 0.5, 16)
clf = fastlogit.LogisticRegression(l1_ratio=1.0, solver="l1", warm_start=True, tol=1e-6,
                                   max_iter=200)
coefs, n_iter = [], []
t0 = time.perf_counter()
for C in Cs:  # from strong to weak regularisation: each fit starts at the last solution
    clf.set_params(C=C).fit(X, y)
    coefs.append(clf.coef_[0].copy())
    n_iter.append(int(clf.n_iter_[0]))
elapsed = time.perf_counter() - t0
coefs = np.array(coefs)
n_nonzero = (coefs != 0).sum(axis=1)
print(f"{len(Cs)} fits in {elapsed:.2f} s, {sum(n_iter)} iterations in all")
print("non-zero coefficients along the path:", n_nonzero.tolist())

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
