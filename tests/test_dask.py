"""fastlogit.dask on a real distributed.LocalCluster (2 worker processes, 1 thread each).

Every test is bounded: reductions carry a ``timeout`` and a faulthandler watchdog ends the
process (with all thread stacks) if a test hangs anyway.
"""
import faulthandler
import os
import signal
import time
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from fastlogit.datasets import make_sparse_classification  # noqa: E402
from fastlogit.objective import Objective  # noqa: E402

fdask = pytest.importorskip("fastlogit.dask")

TIMEOUT = 60  # seconds: one reduction (DaskObjective timeout) and the per-test watchdog


@pytest.fixture(autouse=True)
def watchdog():
    faulthandler.dump_traceback_later(3 * TIMEOUT, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, worker_dashboard_address=None)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def _data(n=1200, d=80, k=2, seed=0, dense=False, dtype=np.float64):
    X, y = make_sparse_classification(n, d, mean_nnz=8, n_classes=k, dtype=dtype,
                                      random_state=seed)
    return (X.toarray() if dense else X), y


def _blocks(X, y, rows=300, s=None):
    dX = da.from_array(X, chunks=(rows, X.shape[1]), asarray=False)
    dy = da.from_array(y, chunks=(rows,) + y.shape[1:])
    ds = None if s is None else da.from_array(s, chunks=rows)
    return dX, dy, ds


CASES = [
    pytest.param(False, 2, True, True, id="csr-binary-intercept-weights"),
    pytest.param(True, 2, False, False, id="dense-binary-nointercept"),
    pytest.param(False, 3, True, False, id="csr-multinomial-intercept"),
    pytest.param(True, 4, False, True, id="dense-multinomial-nointercept-weights"),
]


@pytest.mark.parametrize("transport", ["actors", "tasks"])
@pytest.mark.parametrize("dense, k, fit_intercept, weighted", CASES)
def test_objective_matches_single_machine(client, rng, dense, k, fit_intercept, weighted,
                                          transport):
    """value / gradient / Hessian products equal the one-machine Objective's (sums reordered)."""
    X, y = _data(k=k, dense=dense)
    Y = y if k == 2 else np.eye(k)[y.astype(int)]
    s = rng.uniform(0.2, 3.0, X.shape[0]) if weighted else None
    ref = Objective(X, Y, s, C=0.7, fit_intercept=fit_intercept)
    dob = fdask.DaskObjective(*_blocks(X, Y, 250, s), C=0.7, fit_intercept=fit_intercept,
                              n_threads=1, client=client, timeout=TIMEOUT, transport=transport)
    try:
        assert (dob.n_samples, dob.n_features, dob.n_classes, dob.n_params) == (
            ref.n_samples, ref.n_features, ref.n_classes, ref.n_params)
        assert dob.n_blocks == 5 and dob.transport == transport
        # The blocks are spread evenly over the two workers (a call waits for the slowest),
        # each worker's run of blocks stacked into one part (one kernel call per pass).
        assert sorted((len(args) - 1) // 3 for args in dob._make_args) == [2, 3]
        assert sorted(len(parts) for _, parts in dob._groups) == [1, 1]
        theta = 0.3 * rng.standard_normal(ref.n_params)
        v = rng.standard_normal(ref.n_params)
        f, g = dob.value_grad(theta)
        f0, g0 = ref.value_grad(theta)
        assert f == pytest.approx(f0, rel=1e-12)
        np.testing.assert_allclose(g, g0, rtol=1e-10, atol=1e-10 * np.abs(g0).max())
        sent = dob.bytes_sent
        hv, hv0 = dob.hessp(theta, v), ref.hessp(theta, v)
        np.testing.assert_allclose(hv, hv0, rtol=1e-10, atol=1e-10 * np.abs(hv0).max())
        # theta is held on the workers since value_grad: only v goes out, H v comes back.
        n_workers = len(client.scheduler_info()["workers"])
        assert dob.bytes_sent - sent == 2 * n_workers * 8 * ref.n_params
        np.testing.assert_allclose(dob.hess_diag(theta), ref.hess_diag(theta), rtol=1e-10)
        assert dob.value(2 * theta) == pytest.approx(ref.value(2 * theta), rel=1e-12)
        line, line0 = dob.line(theta, v), ref.line(theta, v)
        for t in (0.0, 0.3, 1.0):
            assert line.value(t) == pytest.approx(line0.value(t), rel=1e-11)
        # hessp at a theta the blocks have not cached recomputes the curvature there.
        theta2 = theta + 0.1
        hv2, hv20 = dob.hessp(theta2, v), ref.hessp(theta2, v)
        np.testing.assert_allclose(hv2, hv20, rtol=1e-10, atol=1e-10 * np.abs(hv20).max())
    finally:
        dob.close()


def _single_machine_F(X, y, s, C, fit_intercept):
    """The one-machine objective and its optimum (trust-region Newton, tight tolerance)."""
    from fastlogit.solvers import SOLVERS

    k = len(np.unique(y))
    Y = y if k == 2 else np.eye(k)[np.searchsorted(np.unique(y), y)]
    ob = Objective(X, Y, s, C=C, fit_intercept=fit_intercept)
    with warnings.catch_warnings():  # may stop at round-off just short of the tolerance
        warnings.simplefilter("ignore")
        res = SOLVERS["trust-region"](ob, np.zeros(ob.n_params), tol=1e-10, max_iter=200)
    assert res.grad_norm <= 1e-7 * max(1.0, res.history["grad_norm"][0])
    return ob, res.theta


@pytest.mark.parametrize("solver, k", [("newton-cg", 2), ("trust-region", 3)],
                         ids=["newton-cg-binary", "trust-region-multinomial"])
def test_fit_equals_single_machine(client, rng, solver, k):
    """The distributed fit reaches the one-machine optimum (F within 1e-8 relative)."""
    from fastlogit.solvers import SOLVERS

    if solver not in SOLVERS:
        pytest.skip(f"solver {solver!r} not in this build")
    X, y = _data(k=k, seed=3)
    s = rng.uniform(0.5, 2.0, X.shape[0])
    ob, theta_ref = _single_machine_F(X, y, s, C=2.0, fit_intercept=True)
    clf = fdask.LogisticRegression(C=2.0, solver=solver, tol=1e-8, max_iter=500, n_threads=1,
                                   client=client, timeout=TIMEOUT)
    clf.fit(*_blocks(X, y, 400, s))
    assert clf.converged_
    theta = np.column_stack([clf.coef_, clf.intercept_]).ravel()
    F, F_ref = ob.value(theta), ob.value(theta_ref)
    assert abs(F - F_ref) <= 1e-8 * abs(F_ref)
    # Coefficients (intercepts of a multinomial model are defined up to a common shift).
    coef_ref = theta_ref.reshape(clf.coef_.shape[0], -1)[:, :-1]
    np.testing.assert_allclose(clf.coef_, coef_ref, atol=1e-3 * np.abs(coef_ref).max())
    np.testing.assert_array_equal(clf.classes_, np.unique(y))
    # Prediction on a dask array equals the in-memory prediction.
    dX = da.from_array(X, chunks=(500, X.shape[1]), asarray=False)
    np.testing.assert_allclose(clf.predict_proba(dX).compute(), clf.predict_proba(X),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(clf.predict(dX).compute(), clf.predict(X))
    assert clf.score(dX, da.from_array(y, chunks=500)) == pytest.approx(clf.score(X, y))
    # Bytes per fit: only theta-sized messages, never the data.
    n_evals = clf.fit_result_.n_evals
    assert clf.bytes_sent_ < 50 * sum(n_evals.values()) * 8 * theta.size + 1e6


def test_read_svmlight_dir_unknown_chunks(client, tmp_path):
    """One block per file, read on the workers; labels as written (-1/+1) are encoded."""
    from sklearn.datasets import dump_svmlight_file

    X, y = _data(n=900, d=60, seed=5)
    labels = np.where(y > 0, 1, -1)
    for i, (a, b) in enumerate([(0, 250), (250, 300), (300, 900)]):
        dump_svmlight_file(X[a:b], labels[a:b], str(tmp_path / f"part-{i:02d}.svm"),
                           zero_based=False)
    # The parser's Numba cache is written here once, not compiled in each worker.
    from fastlogit.io import load_svmlight

    load_svmlight(str(tmp_path / "part-01.svm"), n_features=60, zero_based=False)
    dX, dy = fdask.read_svmlight_dir(tmp_path, n_features=60)
    assert dX.numblocks == (3, 1) and np.isnan(dX.shape[0])
    clf = fdask.LogisticRegression(C=0.5, solver="newton-cg", tol=1e-9, max_iter=100,
                                   n_threads=1, client=client, timeout=TIMEOUT).fit(dX, dy)
    ob, theta_ref = _single_machine_F(X, y, None, C=0.5, fit_intercept=True)
    theta = np.column_stack([clf.coef_, clf.intercept_]).ravel()
    assert abs(ob.value(theta) - ob.value(theta_ref)) <= 1e-8 * ob.value(theta_ref)
    np.testing.assert_array_equal(clf.classes_, [-1, 1])
    with pytest.raises(ValueError, match="zero_based"):
        fdask.read_svmlight_dir(tmp_path, n_features=60, zero_based="auto")
    with pytest.raises(FileNotFoundError):
        fdask.read_svmlight_dir(tmp_path / "missing", n_features=60)


def test_read_csr_cache_dir(client, tmp_path):
    """Memory-mapped CSR caches: one cache cut in row blocks, or a directory of caches."""
    from fastlogit.io import save_csr_cache

    X, y = _data(n=700, d=40, seed=9)
    save_csr_cache(str(tmp_path / "one"), X, y)
    dX, dy = fdask.read_csr_cache_dir(tmp_path / "one", rows_per_block=200)
    assert dX.chunks[0] == (200, 200, 200, 100)
    np.testing.assert_array_equal(dX.compute().toarray(), X.toarray())
    np.testing.assert_array_equal(dy.compute(), y)
    parts = tmp_path / "parts"
    parts.mkdir()
    for i, (a, b) in enumerate([(0, 300), (300, 700)]):
        save_csr_cache(str(parts / f"part-{i}"), X[a:b], y[a:b])
    dX2, dy2 = fdask.read_csr_cache_dir(parts)
    assert dX2.chunks[0] == (300, 400)
    clf = fdask.LogisticRegression(C=0.5, solver="newton-cg", tol=1e-9, n_threads=1,
                                   client=client, timeout=TIMEOUT).fit(dX2, dy2)
    ob, theta_ref = _single_machine_F(X, y, None, C=0.5, fit_intercept=True)
    theta = np.column_stack([clf.coef_, clf.intercept_]).ravel()
    assert abs(ob.value(theta) - ob.value(theta_ref)) <= 1e-8 * ob.value(theta_ref)
    with pytest.raises(FileNotFoundError):
        fdask.read_csr_cache_dir(tmp_path / "missing")


@pytest.mark.parametrize("dense", [False, True], ids=["csr", "dense"])
def test_part_sgd_runs_each_block_as_if_alone(dense):
    """A worker's part stacks its blocks; a local-SGD round on it equals the rounds on the
    blocks apart (each from the same theta, which is left unchanged)."""
    X, y = _data(n=600, d=30, dense=dense)
    options = {"fit_intercept": True, "backend": "auto", "n_threads": 1}
    cuts = [(0, 200), (200, 600)]
    part = fdask._make_part(options, *[a for i, j in cuts for a in (X[i:j], y[i:j], None)])
    alone = [fdask._make_part(options, X[i:j], y[i:j], None) for i, j in cuts]
    assert part.n_samples == 600 and part.block_sizes == [200, 400]
    params = {"alpha": 1 / 600, "t0": 100.0, "lam2": 1 / 600, "local_epochs": 2}
    theta = np.full(31, 0.1)
    seeds, starts = [3, 4], [0.0, 50.0]
    got = fdask._part_sgd(part, theta, seeds, starts, params)
    want = fdask._sum(*[fdask._part_sgd(p, theta, [sd], [st], params)
                        for p, sd, st in zip(alone, seeds, starts)])
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    assert got[1] == want[1] == 600
    assert np.all(theta == 0.1)


def test_local_sgd_approaches_optimum(client):
    """Local SGD with averaging decreases F towards the deterministic optimum F*."""
    X, y = _data(n=2000, d=50, seed=7)
    ob, theta_ref = _single_machine_F(X, y, None, C=1.0, fit_intercept=True)
    F_star = ob.value(theta_ref)
    clf = fdask.LogisticRegression(C=1.0, solver="local-sgd", max_iter=15, tol=1e-12,
                                   random_state=0, n_threads=1, client=client, timeout=TIMEOUT)
    with pytest.warns(UserWarning, match="did not converge"):
        clf.fit(*_blocks(X, y, 500))
    F = np.array(clf.fit_result_.history["objective"])
    assert F[-1] < F[0]
    assert (F[-1] - F_star) / F_star < 1e-2
    assert (F[-1] - F_star) < 0.1 * (F[1] - F_star)


def test_errors(client):
    X, y = _data(n=300, d=20)
    dX, dy, _ = _blocks(X, y, 100)
    with pytest.raises(ValueError, match="penalty"):
        fdask.DaskObjective(dX, dy, penalty="l1", client=client)
    with pytest.raises(ValueError, match="transport"):
        fdask.DaskObjective(dX, dy, transport="mpi", client=client)
    with pytest.raises(ValueError, match="has 250 rows"):
        fdask.DaskObjective(dX, da.from_array(y[:250], chunks=125), client=client)
    # Labels chunked differently are aligned with X's row blocks.
    dob = fdask.DaskObjective(dX, da.from_array(y, chunks=150), client=client, n_threads=1)
    assert dob.n_blocks == 3 and dob.n_samples == 300
    dob.close()
    with pytest.raises(ValueError, match="at least 2 classes"):
        fdask.LogisticRegression(client=client).fit(dX, da.zeros(300, chunks=100))
    with pytest.raises(ValueError, match="unknown solver"):
        fdask.LogisticRegression(solver="nope", client=client).fit(dX, dy)


@pytest.mark.filterwarnings("ignore:lbfgs did not converge")  # its ftol stop, F is checked
@pytest.mark.parametrize("transport", ["actors", "tasks"])
def test_worker_killed_mid_fit(client, transport):
    """A worker killed mid-fit: the fit recovers with the same answer or fails clearly."""
    X, y = _data(n=3000, d=100, seed=11)
    ob, theta_ref = _single_machine_F(X, y, None, C=1.0, fit_intercept=True)
    pids = client.run(os.getpid)
    victim = sorted(pids)[0]
    state = {"iter": 0, "killed": False}

    def kill_at_iteration_3(theta):
        state["iter"] += 1
        if state["iter"] == 3 and not state["killed"]:
            os.kill(pids[victim], signal.SIGKILL)
            state["killed"] = True
        return False

    clf = fdask.LogisticRegression(C=1.0, tol=1e-9, max_iter=500, n_threads=1, client=client,
                                   timeout=TIMEOUT, transport=transport,
                                   solver_options={"callback": kill_at_iteration_3})
    t0 = time.perf_counter()
    try:
        clf.fit(*_blocks(X, y, 300))
    except (distributed.KilledWorker, TimeoutError, OSError, RuntimeError) as exc:  # clear
        assert str(exc)
    else:
        theta = np.column_stack([clf.coef_, clf.intercept_]).ravel()
        F, F_ref = ob.value(theta), ob.value(theta_ref)
        assert abs(F - F_ref) <= 1e-8 * abs(F_ref)
        if transport == "actors":
            assert clf.n_rebuilds_ >= 1  # the actors were rebuilt after the loss
    assert state["killed"]
    assert time.perf_counter() - t0 < 2 * TIMEOUT
    client.wait_for_workers(2, timeout=TIMEOUT)


def test_worker_killed_during_a_call(client):
    """A worker killed while a call runs on it: the actors are rebuilt where Dask recomputed
    the blocks, and the call is repeated with the same answer (bounded by the timeout)."""
    import threading

    X, y = _data(n=2000, d=40, seed=12, dense=True)
    ref = Objective(X, y, C=1.0, fit_intercept=True)
    dob = fdask.DaskObjective(*_blocks(X, y, 500)[:2], C=1.0, n_threads=1, client=client,
                              timeout=TIMEOUT, transport="actors")
    try:
        theta = 0.01 * np.arange(ref.n_params, dtype=float)
        dob.value_grad(-theta)

        def slow_value_grad(block, theta):  # the kill lands while the workers sleep here
            time.sleep(0.5)
            return fdask._block_value_grad(block, theta)

        pids = client.run(os.getpid)
        timer = threading.Timer(0.2, os.kill, (pids[sorted(pids)[0]], signal.SIGKILL))
        t0 = time.perf_counter()
        timer.start()
        loss, grad = dob._call(slow_value_grad, [("theta", theta)])
        timer.join()
        f0, g0 = Objective(X, y, C=1.0, penalty=None).value_grad(theta)
        assert loss == pytest.approx(f0, rel=1e-12)
        np.testing.assert_allclose(grad, g0, rtol=1e-10, atol=1e-10 * np.abs(g0).max())
        assert dob.n_rebuilds >= 1
        assert time.perf_counter() - t0 < TIMEOUT
        f, _ = dob.value_grad(theta)  # the rebuilt actors answer the next calls
        assert f == pytest.approx(ref.value(theta), rel=1e-12)
    finally:
        dob.close()
    client.wait_for_workers(2, timeout=TIMEOUT)


def test_error_on_a_worker_is_raised_not_retried(client):
    """An exception of the computation itself reaches the caller at once (no rebuild)."""
    X, y = _data(n=300, d=20)
    dob = fdask.DaskObjective(*_blocks(X, y, 100)[:2], client=client, n_threads=1,
                              timeout=TIMEOUT, transport="actors")
    try:
        def broken(block, theta):
            raise ZeroDivisionError("a block failed")

        with pytest.raises(ZeroDivisionError, match="a block failed"):
            dob._call(broken, [("theta", np.zeros(dob.n_params))])
        assert dob.n_rebuilds == 0
        f, _ = dob.value_grad(np.zeros(dob.n_params))  # the actors still answer
        assert f == pytest.approx(Objective(X, y).value(np.zeros(dob.n_params)), rel=1e-12)
    finally:
        dob.close()
