"""Out-of-core training: ChunkedObjective equals the in-memory Objective; a fit under an
address-space cap smaller than the data equals the in-memory fit."""
import json
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from fastlogit.io import save_csr_cache
from fastlogit.objective import Objective
from fastlogit.outofcore import ChunkedObjective, minibatch_sgd
from fastlogit.solvers import SOLVERS


def random_csr(rng, n, d, row_nnz, dtype=np.float64):
    """Quick CSR with about ``row_nnz`` sorted, unique columns per row (some rows empty)."""
    cols = np.sort(rng.integers(0, d, (n, row_nnz)), axis=1)
    keep = np.ones_like(cols, dtype=bool)
    keep[:, 1:] = cols[:, 1:] != cols[:, :-1]
    keep[rng.random(n) < 0.05] = False  # empty rows
    counts = keep.sum(axis=1)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices = cols[keep].astype(np.int32)
    data = rng.standard_normal(indices.size).astype(dtype) / np.sqrt(row_nnz)
    return sp.csr_matrix((data, indices, indptr), shape=(n, d))


@pytest.fixture
def problem(rng):
    X = random_csr(rng, 1500, 60, 8)
    w = rng.standard_normal(60) * 2
    y = (rng.random(1500) < 1 / (1 + np.exp(-(X @ w)))).astype(float)
    return X, y, rng.uniform(0.5, 2.0, 1500)


@pytest.mark.parametrize("where", ["matrix", "cache"])
@pytest.mark.parametrize("kind", ["binary", "multinomial"])
@pytest.mark.parametrize("fit_intercept", [True, False], ids=["intercept", "no-intercept"])
def test_chunked_equals_in_memory(tmp_path, rng, problem, where, kind, fit_intercept):
    X, y, sw = problem
    if kind == "multinomial":
        y = np.eye(3)[rng.integers(0, 3, X.shape[0])]
    source = X if where == "matrix" else save_csr_cache(tmp_path / "c", X, np.zeros(X.shape[0]))
    kw = dict(C=0.7, fit_intercept=fit_intercept)
    ob = Objective(X, y, sw, **kw)
    ch = ChunkedObjective(source, y, sw, chunk_nnz=1000, **kw)
    assert len(ch.chunks) > 5
    theta = rng.standard_normal(ob.n_params) * 0.3
    v = rng.standard_normal(ob.n_params)
    f0, g0 = ob.value_grad(theta)
    f1, g1 = ch.value_grad(theta)
    np.testing.assert_allclose(f1, f0, rtol=1e-12)
    np.testing.assert_allclose(g1, g0, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ch.value(theta), ob.value(theta), rtol=1e-12)
    np.testing.assert_allclose(ch.value(theta + v), ob.value(theta + v), rtol=1e-12)
    np.testing.assert_allclose(ch.hessp(theta, v), ob.hessp(theta, v), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ch.hess_diag(theta), ob.hess_diag(theta), rtol=1e-10)
    np.testing.assert_allclose(ch.hessian(theta), ob.hessian(theta), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ch.margins(theta), ob.margins(theta), rtol=1e-12, atol=1e-12)
    # hessp at the older of two cached thetas still uses its own curvature
    ch.value_grad(theta + v)
    np.testing.assert_allclose(ch.hessp(theta, v), ob.hessp(theta, v), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg", "trust-region", "newton-cholesky"])
def test_solvers_run_unchanged(tmp_path, problem, solver):
    X, y, sw = problem
    cache = save_csr_cache(tmp_path / "c", X, y)
    ob = Objective(X, y, sw, C=2.0)
    ch = ChunkedObjective(cache, None, sw, C=2.0, chunk_nnz=2000)  # labels from the cache
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = SOLVERS["newton-cholesky"](ob, ob.zeros(), tol=1e-10, max_iter=100)
        res = SOLVERS[solver](ch, ch.zeros(), tol=1e-7, max_iter=500)
    assert ref.converged
    np.testing.assert_allclose(res.theta, ref.theta, atol=1e-4 * np.abs(ref.theta).max())
    assert ch.value(res.theta) <= ob.value(ref.theta) * (1 + 1e-9)


def test_minibatch_sgd_streams(tmp_path, problem):
    X, y, _ = problem
    cache = save_csr_cache(tmp_path / "c", X, y)
    ch = ChunkedObjective(cache, y, C=1.0, chunk_nnz=2000)
    ob = Objective(X, y, C=1.0)
    opt = SOLVERS["newton-cholesky"](ob, ob.zeros(), tol=1e-10).theta
    theta = minibatch_sgd(ch, ch.zeros(), epochs=40, batch_size=32, random_state=0)
    gap = (ob.value(theta) - ob.value(opt)) / ob.value(opt)
    assert 0 <= gap < 0.02
    # any penalty streams now (the stochastic driver's prox for the L1 part): near the optimum
    # of the deterministic l1 solver on the in-memory data
    l1_ch = ChunkedObjective(cache, y, C=1.0, penalty="l1", chunk_nnz=2000)
    l1_ob = Objective(X, y, C=1.0, penalty="l1")
    l1_opt = SOLVERS["l1"](l1_ob, l1_ob.zeros(), tol=1e-10).theta
    theta = minibatch_sgd(l1_ch, l1_ch.zeros(), epochs=40, batch_size=32, random_state=0)
    gap = (l1_ob.value(theta) - l1_ob.value(l1_opt)) / l1_ob.value(l1_opt)
    assert 0 <= gap < 0.02


def test_arguments(tmp_path, problem):
    X, y, _ = problem
    with pytest.raises(ValueError, match="y is required"):
        ChunkedObjective(X)
    with pytest.raises(ValueError, match="not a fastlogit CSR cache"):
        ChunkedObjective(str(tmp_path), y)
    with pytest.raises(ValueError, match="C must be"):
        ChunkedObjective(X, y, C=-1)


CAPPED = textwrap.dedent("""
    import json, resource, sys, warnings
    import numpy as np
    from fastlogit.io import CSRCache
    from fastlogit.outofcore import ChunkedObjective
    from fastlogit.solvers import SOLVERS

    def vm_size():
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024

    cache_path, out_path, headroom = sys.argv[1], sys.argv[2], int(sys.argv[3])
    cache = CSRCache(cache_path)
    ob = ChunkedObjective(cache, C=1.0, chunk_nnz=1 << 17)
    # warm up every kernel the solvers use (Numba cache load, OpenMP threads, arenas)
    t = ob.zeros()
    ob.value_grad(t); ob.hessp(t, t); ob.hess_diag(t); ob.value(t + 1e-3); ob.margins(t)
    base = vm_size()
    resource.setrlimit(resource.RLIMIT_AS, (base + headroom, base + headroom))
    report = {"base": base, "data": cache.nbytes}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = SOLVERS["newton-cg"](ob, ob.zeros(), tol=1e-8, max_iter=50)
    np.save(out_path, res.theta)
    report["after_over_base"] = vm_size() - base
    report["chunk_reads"] = ob.n_chunk_reads
    try:  # the whole data set does not fit under this cap
        cache.load(mmap=False)
        report["full_load"] = "ok"
    except MemoryError:
        report["full_load"] = "MemoryError"
    print(json.dumps(report))
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS / procfs")
def test_fit_under_address_space_cap_equals_in_memory_fit(tmp_path):
    rng = np.random.default_rng(1)
    X = random_csr(rng, 30_000, 3_000, 130)  # ~3.7M non-zeros, ~45 MB of data + indices
    w = rng.standard_normal(3_000)
    y = (rng.random(X.shape[0]) < 1 / (1 + np.exp(-(X @ w)))).astype(float)
    cache = save_csr_cache(tmp_path / "big", X, y)
    headroom = 16 << 20  # well below the data size
    assert cache.nbytes > 2.5 * headroom
    env = dict(os.environ, MALLOC_ARENA_MAX="2")
    proc = subprocess.run(
        [sys.executable, "-c", CAPPED, str(cache.path), str(tmp_path / "theta.npy"),
         str(headroom)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["full_load"] == "MemoryError", report
    assert report["after_over_base"] <= headroom
    theta = np.load(tmp_path / "theta.npy")
    ob = Objective(X, y, C=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = SOLVERS["newton-cg"](ob, ob.zeros(), tol=1e-8, max_iter=50)
    np.testing.assert_allclose(theta, ref.theta, rtol=0, atol=1e-6 * np.abs(ref.theta).max())
    assert abs(ob.value(theta) - ob.value(ref.theta)) <= 1e-10 * ob.value(ref.theta)
