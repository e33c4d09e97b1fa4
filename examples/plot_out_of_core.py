"""
Out-of-core training
====================

When the training set does not fit in memory, convert it once into fastlogit's binary CSR
cache and fit the model on the cache *chunk by chunk*: each pass over the data reads one
chunk, runs the same kernels as an in-memory fit on it, and drops it before reading the
next. Memory use is that of one chunk plus a few vectors of length ``n_samples`` and
``n_features``. The solvers are unchanged: they see an objective with the same methods,
and the answer equals the in-memory fit to rounding.

Here the "large" file is small (generated, written to a temporary folder) so that the
example runs in seconds; the calls are the ones you would make on a file of any size.
"""

import shutil
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import dump_svmlight_file
from tqdm.auto import tqdm

import fastlogit
from fastlogit.datasets import make_sparse_classification
from fastlogit.io import convert_svmlight
from fastlogit.outofcore import ChunkedObjective
from fastlogit.solvers import solve

X, y = make_sparse_classification(n_samples=10_000, n_features=2_000, mean_nnz=25,
                                  random_state=1)
folder = Path(tempfile.mkdtemp(prefix="fastlogit-example-"))
dump_svmlight_file(X, y, str(folder / "train.svm"), zero_based=False)

# %%
# Convert the text file once (streamed: the text never has to fit in memory either). The
# command line equivalent is ``fastlogit convert train.svm -o train.flc``.
cache = convert_svmlight(folder / "train.svm", folder / "train.flc", n_features=X.shape[1])
print(cache)

# %%
# Build the chunked objective (here 75 000 non-zeros per chunk, so three chunks) and
# run a solver on it, with a progress bar fed by the solver's per-iteration callback.
objective = ChunkedObjective(cache, C=1.0, chunk_nnz=75_000)
print(f"{len(objective.chunks)} chunks")

with tqdm(desc="trust-region (out of core)", unit="it") as bar:

    def progress(theta):
        """Called after every iteration; returning True would stop the solver."""
        bar.update(1)

    result = solve(objective, "trust-region", tol=1e-6, max_iter=100, callback=progress)
print(result.message, "after", result.n_iter, "iterations;",
      objective.n_chunk_reads, "chunk reads")

# %%
# The same model fitted in memory gives the same coefficients.
in_memory = fastlogit.LogisticRegression(C=1.0, solver="trust-region", tol=1e-6).fit(X, y)
w_chunked = result.theta[:-1]
print("max |w_chunked - w_in_memory| =", np.abs(w_chunked - in_memory.coef_[0]).max())

fig, ax = plt.subplots(figsize=(6, 4))
history = result.history
ax.semilogy(np.arange(len(history["grad_norm"])), history["grad_norm"], marker="o",
            label="out of core (chunked)")
mem = in_memory.fit_result_.history
ax.semilogy(np.arange(len(mem["grad_norm"])), mem["grad_norm"], marker="x", linestyle="--",
            label="in memory")
ax.set_xlabel("iteration")
ax.set_ylabel("||grad F||_inf")
ax.set_title("trust-region Newton: the same iterates in and out of core")
ax.legend()
fig.tight_layout()
plt.show()

shutil.rmtree(folder)

# %%
# From the command line: ``fastlogit fit train.flc -o model.npz --out-of-core
# --chunk-nnz 1000000`` (progress bars are shown on a terminal).
