"""
Fitting on a Dask cluster
=========================

:class:`fastlogit.dask.LogisticRegression` fits a :class:`dask.array.Array` whose row
blocks are dense arrays or SciPy CSR matrices. The blocks stay on the workers; each
iteration sends the coefficient vector out and brings back one partial loss and gradient
(or Hessian-vector product) per worker, so the traffic per iteration does not depend on
the number of samples. The result is the single-machine fit.

A real deployment connects a :class:`distributed.Client` to a running scheduler. Here a
two-worker :class:`~distributed.LocalCluster` runs in this process (threads instead of
processes, so the example starts in a second); the calls are the same.
"""

import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
from distributed import Client, LocalCluster

import fastlogit
import fastlogit.dask
from fastlogit.datasets import make_sparse_classification

X, y = make_sparse_classification(n_samples=20_000, n_features=2_000, mean_nnz=20,
                                  random_state=2)

with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                  dashboard_address=":0") as cluster, Client(cluster):
    # Eight row blocks of 2 500 rows; on a real cluster they would be read on the workers
    # (fastlogit.dask.read_svmlight_dir, read_csr_cache_dir) instead of sent from here.
    dX = da.from_array(X, chunks=(2_500, X.shape[1]), asarray=False)
    dy = da.from_array(y, chunks=2_500)
    dask_clf = fastlogit.dask.LogisticRegression(C=1.0, solver="trust-region", tol=1e-6)
    dask_clf.fit(dX, dy)
    print("Dask fit:", dask_clf.n_iter_, "iterations")

# %%
# The same model on one machine.
local_clf = fastlogit.LogisticRegression(C=1.0, solver="trust-region", tol=1e-6).fit(X, y)
diff = np.abs(dask_clf.coef_ - local_clf.coef_).max()
print(f"max |coef difference| = {diff:.2e}")
print("accuracy (Dask model, in memory):", dask_clf.score(X, y))

fig, ax = plt.subplots(figsize=(4.5, 4.5))
ax.scatter(local_clf.coef_.ravel(), dask_clf.coef_.ravel(), s=4)
lims = [local_clf.coef_.min(), local_clf.coef_.max()]
ax.plot(lims, lims, color="grey", linestyle=":")
ax.set_xlabel("coefficient, one machine")
ax.set_ylabel("coefficient, 2 Dask workers")
ax.set_title("the same model")
fig.tight_layout()
plt.show()
