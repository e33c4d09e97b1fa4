"""Shared fixtures: seeded generators, backends, and problem builders with awkward CSR."""
import os

import numpy as np
import pytest
import scipy.sparse as sp

from fastlogit.kernels import available_backends

# Hypothesis: deterministic and bounded so the suite stays well under its time budget.
try:
    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "fastlogit", max_examples=int(os.environ.get("FASTLOGIT_HYPOTHESIS_EXAMPLES", 40)),
        deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow],
    )
    settings.load_profile("fastlogit")
except ImportError:  # pragma: no cover
    pass

BACKENDS = available_backends()
FAST_BACKENDS = [b for b in BACKENDS if b != "numpy"]


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def awkward_csr(rng, n, d, density=0.2, dtype=np.float64, index_dtype=np.int32,
                empty_rows=True, unsorted=True):
    """A CSR with empty rows and unsorted (duplicate-free) column indices."""
    X = sp.random(n, d, density=density, format="csr", random_state=rng, dtype=np.float64)
    X.data = rng.standard_normal(X.nnz)
    if empty_rows and n > 2:
        keep = np.ones(n)
        keep[rng.choice(n, size=max(1, n // 5), replace=False)] = 0.0
        X = (sp.diags(keep) @ X).tocsr()
        X.eliminate_zeros()
    X = X.astype(dtype)
    if unsorted:
        for i in range(n):
            lo, hi = X.indptr[i], X.indptr[i + 1]
            perm = rng.permutation(hi - lo) + lo
            X.indices[lo:hi] = X.indices[perm]
            X.data[lo:hi] = X.data[perm]
        X.has_sorted_indices = False
    X.indices = X.indices.astype(index_dtype)
    X.indptr = X.indptr.astype(index_dtype)
    return X


def shared_or_skip(name):
    """Load a shared real data set, skipping (with the reason) if ../shared is absent."""
    from benchmarks.shared_data import load_shared

    try:
        return load_shared(name)
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
