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
from fastlogit.penalties import L2  # noqa: E402
from fastlogit.stochastic import Schedule  # noqa: E402
from test_contract import WeightedL2, _scipy_optimum  # noqa: E402

fdask = pytest.importorskip("fastlogit.dask")
from fastlogit.dask._data import make_part, on_data  # noqa: E402
from fastlogit.dask._local_sgd import _part_sgd  # noqa: E402
from fastlogit.dask._transport import tree_sum  # noqa: E402

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
        assert sorted(dob.data.parts.blocks_per_part) == [2, 3]
        assert dob.data.parts.n_workers == 2
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
            if t == 0.0:  # theta and the direction are held on the workers from now on
                sent = dob.bytes_sent
        # later trials of the same line: one float back per worker, nothing else travels
        assert dob.bytes_sent - sent == 2 * n_workers * 8
        # the DataTerm contract's margins / loss_from_margins (n values each way)
        z = dob.data.margins(theta)
        np.testing.assert_allclose(z, ref.data.margins(theta), rtol=1e-12, atol=1e-12)
        assert dob.data.loss_from_margins(z) == pytest.approx(ref.data.loss(theta), rel=1e-12)
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


@pytest.mark.parametrize("k", [2, 3])
def test_class_probabilities_on_dask_equal_in_memory_in_the_tails(client, k):
    """predict_proba / predict_log_proba of a dask array equal the in-memory values (to 1e-12:
    the blocks compute X @ coef with another summation order than the binary decision kernel),
    also where a probability underflows (margins near 1e3): log-probabilities stay finite
    (from the logits, never log(0)), and the small binary column is sigmoid(-z), not 1 - p."""
    X, y = _data(n=400, d=5, k=k, seed=4, dense=True)
    clf = fdask.LogisticRegression(n_threads=1, client=client, timeout=TIMEOUT)
    clf.fit(*_blocks(X, y, 200))
    scale = np.geomspace(1.0, 1e3, X.shape[0])[:, None]
    Xt = X * scale
    dX = da.from_array(Xt, chunks=(150, Xt.shape[1]), asarray=False)
    log_p = clf.predict_log_proba(dX).compute()
    assert np.isfinite(log_p).all()
    assert log_p.min() < -700  # some probabilities underflow to 0 in float64
    np.testing.assert_allclose(log_p, clf.predict_log_proba(Xt), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(clf.predict_proba(dX).compute(), clf.predict_proba(Xt),
                               rtol=1e-12, atol=1e-300)
    np.testing.assert_array_equal(clf.predict(dX).compute(), clf.predict(Xt))


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
    # a NaN label or an infinite value: the file and line are named (read on the workers)
    for i, text in enumerate(["1 1:0.5\nnan 2:1.0\n", "1 1:0.5\n0 2:inf\n"]):
        bad = tmp_path / f"bad{i}"
        bad.mkdir()
        (bad / "part-00.svm").write_text("1 3:1.0\n0 4:1.0\n")
        (bad / "part-01.svm").write_text(text)
        with pytest.raises(ValueError, match=r"part-01\.svm:2: "):
            fdask.LogisticRegression(client=client, timeout=TIMEOUT).fit(
                *fdask.read_svmlight_dir(bad, n_features=60))


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
    part = make_part(options, *[a for i, j in cuts for a in (X[i:j], y[i:j], None)])
    alone = [make_part(options, X[i:j], y[i:j], None) for i, j in cuts]
    assert part.n_samples == 600 and part.block_sizes == [200, 400]
    schedule = Schedule("optimal", alpha=1 / 600, t0=100.0)
    options = {"C": 1.0, "penalty": L2(), "n_total": 600, "epochs": 2, "average": True,
               "batch_size": None}
    theta = np.full(31, 0.1)
    seeds, starts = [3, 4], [0.0, 50.0]
    got = _part_sgd(part, theta, schedule, options, seeds, starts)
    want = tree_sum(*[_part_sgd(p, theta, schedule, options, [sd], [st])
                      for p, sd, st in zip(alone, seeds, starts)])
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    assert got[1] == want[1] == 600
    assert np.all(theta == 0.1)


@pytest.mark.parametrize("l1_ratio, options", [(0.0, {}), (0.5, {"batch_size": 16})],
                         ids=["l2-per-sample", "elasticnet-minibatch"])
def test_local_sgd_approaches_optimum(client, l1_ratio, options):
    """Local SGD with averaging (the stochastic driver's epochs on every block) decreases F
    towards the deterministic optimum F* (the "l1" solver's for elastic net)."""
    from fastlogit.solvers import solve

    X, y = _data(n=2000, d=50, seed=7)
    ob = Objective(X, y, C=1.0, penalty="elasticnet", l1_ratio=l1_ratio, n_threads=1)
    F_star = solve(ob, "l1", tol=1e-10, max_iter=200).fun
    clf = fdask.LogisticRegression(C=1.0, l1_ratio=l1_ratio, solver="local-sgd", max_iter=15,
                                   tol=1e-12, random_state=0, n_threads=1, client=client,
                                   timeout=TIMEOUT, solver_options=options)
    with pytest.warns(UserWarning, match="did not converge"):
        clf.fit(*_blocks(X, y, 500))
    F = np.array(clf.fit_result_.history["objective"])
    assert clf.fit_result_.n_evals["sgd_rounds"] == 15
    assert F[-1] < F[0]
    assert (F[-1] - F_star) / F_star < 1e-2
    assert (F[-1] - F_star) < 0.1 * (F[1] - F_star)
    theta = np.column_stack([clf.coef_, clf.intercept_]).ravel()
    assert ob.value(theta) == pytest.approx(F[-1], rel=1e-12)


def test_errors(client):
    X, y = _data(n=300, d=20)
    dX, dy, _ = _blocks(X, y, 100)
    with pytest.raises(ValueError, match="penalty must be one of"):
        fdask.DaskObjective(dX, dy, penalty="l3", client=client)
    closed = fdask.DaskObjective(dX, dy, client=client, n_threads=1)
    closed.close()
    with pytest.raises(ValueError, match=r"released \(close\(\) was called\)"):
        closed.value_grad(closed.zeros())
    with pytest.raises(ValueError, match="transport"):
        fdask.DaskObjective(dX, dy, transport="mpi", client=client)
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[300, 250\]"):
        fdask.DaskObjective(dX, da.from_array(y[:250], chunks=125), client=client)
    # Labels chunked differently are aligned with X's row blocks.
    dob = fdask.DaskObjective(dX, da.from_array(y, chunks=150), client=client, n_threads=1)
    assert dob.n_blocks == 3 and dob.n_samples == 300
    dob.close()
    with pytest.raises(ValueError, match="at least 2 classes"):
        fdask.LogisticRegression(client=client).fit(dX, da.zeros(300, chunks=100))
    with pytest.raises(ValueError, match="unknown solver 'nope'"):
        fdask.LogisticRegression(solver="nope", client=client).fit(dX, dy)
    # the valid solvers derive from the declarations: no in-memory row blocks on Dask data,
    # no L1 part without a solver that handles it
    with pytest.raises(ValueError, match="'sgd' does not support.*row_blocks"):
        fdask.LogisticRegression(solver="sgd", client=client).fit(dX, dy)
    with pytest.raises(ValueError, match="'lbfgs' does not support penalty='l1'.*'l1'"):
        fdask.LogisticRegression(l1_ratio=1.0, solver="lbfgs", client=client).fit(dX, dy)
    # max_iter=0: the start, with the in-memory estimator's ConvergenceWarning
    with pytest.warns(UserWarning, match=r"after 0 iterations \(max_iter=0\)"):
        clf = fdask.LogisticRegression(max_iter=0, client=client, n_threads=1).fit(dX, dy)
    assert not clf.converged_ and not clf.coef_.any() and clf.n_iter_[0] == 0
    with pytest.raises(ValueError, match="local_epochs must be an integer >= 1"):
        fdask.LogisticRegression(solver="local-sgd", solver_options={"local_epochs": 0},
                                 client=client).fit(dX, dy)


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

        def slow_value_grad(part, theta):  # the kill lands while the workers sleep here
            time.sleep(0.5)
            return on_data("loss_grad")(part, theta)

        pids = client.run(os.getpid)
        timer = threading.Timer(0.2, os.kill, (pids[sorted(pids)[0]], signal.SIGKILL))
        t0 = time.perf_counter()
        timer.start()
        loss, grad = dob.data._call(slow_value_grad, [("theta", theta)])
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
        def broken(part, theta):
            raise ZeroDivisionError("a block failed")

        with pytest.raises(ZeroDivisionError, match="a block failed"):
            dob.data._call(broken, [("theta", np.zeros(dob.n_params))])
        assert dob.n_rebuilds == 0
        f, _ = dob.value_grad(np.zeros(dob.n_params))  # the actors still answer
        assert f == pytest.approx(Objective(X, y).value(np.zeros(dob.n_params)), rel=1e-12)
    finally:
        dob.close()


# ------------------------------------------------------------------ the penalty is the client's
# WeightedL2: the penalty tests/test_contract.py defines outside the package (Penalty contract only)
@pytest.mark.parametrize("k", [2, 3], ids=["binary", "softmax"])
def test_custom_penalty_on_dask_data(client, rng, k):
    """A penalty the package has never seen: DaskObjective equals the in-memory Objective with
    the same penalty (value, gradient, Hessian products, diagonal, Hessian, line); binary:
    newton-cg, trust-region and lbfgs on the Dask data reach scipy's optimum of the
    in-memory F to 1e-8."""
    from fastlogit.solvers import solve

    X, y = _data(n=900, d=30, k=k, seed=21)
    Y = y if k == 2 else np.eye(k)[y.astype(int)]
    s = rng.uniform(0.5, 2.0, X.shape[0])
    n_coef = (1 if k == 2 else k) * X.shape[1]
    pen = WeightedL2(np.linspace(0.2, 3.0, n_coef))
    ref = Objective(X, Y, s, C=2.0, penalty=pen, n_threads=1)
    with fdask.DaskObjective(*_blocks(X, Y, 300, s), C=2.0, penalty=pen, n_threads=1,
                             client=client, timeout=TIMEOUT) as dob:
        assert dob.penalty is pen
        theta, v = 0.2 * rng.standard_normal((2, ref.n_params))
        f, g = dob.value_grad(theta)
        f0, g0 = ref.value_grad(theta)
        assert f == pytest.approx(f0, rel=1e-12)
        np.testing.assert_allclose(g, g0, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(dob.hessp(theta, v), ref.hessp(theta, v), rtol=1e-10,
                                   atol=1e-12)
        np.testing.assert_allclose(dob.hess_diag(theta), ref.hess_diag(theta), rtol=1e-10)
        np.testing.assert_allclose(dob.hessian(theta), ref.hessian(theta), rtol=1e-10,
                                   atol=1e-12)
        line, line0 = dob.line(theta, v), ref.line(theta, v)
        for t in (0.2, 0.7):
            assert line.value(t) == pytest.approx(line0.value(t), rel=1e-11)
        if k > 2:
            return
        f_ref = _scipy_optimum(ref)[1]
        for solver in ("newton-cg", "trust-region", "lbfgs"):
            res = solve(dob, solver, tol=1e-10, max_iter=500)
            assert res.converged, (solver, res.message)
            assert ref.value(res.theta) == pytest.approx(f_ref, rel=1e-8), solver


FITS = [
    pytest.param({"l1_ratio": 1.0, "C": 0.3, "solver": "l1"}, 2, id="l1-binary"),
    pytest.param({"l1_ratio": 0.5, "C": 0.3, "solver": "l1"}, 2, id="elasticnet-binary"),
    pytest.param({"l1_ratio": 0.7, "C": 0.3, "solver": "l1"}, 3, id="elasticnet-softmax"),
    pytest.param({"C": np.inf, "solver": "trust-region"}, 2, id="no-penalty-C-inf"),
]


@pytest.mark.parametrize("params, k", FITS)
def test_penalties_fit_equal_in_memory(client, rng, params, k):
    """L1 / elastic net with solver "l1" (and no penalty through C=np.inf) on a 2-worker
    cluster: the Dask estimator's fit has the in-memory estimator's objective (1e-8
    relative) and zero pattern."""
    from fastlogit import LogisticRegression

    X, y = _data(n=1200, d=60, k=k, seed=31)
    s = rng.uniform(0.5, 2.0, X.shape[0])
    common = dict(tol=1e-10, max_iter=200, **params)
    mem = LogisticRegression(**common).fit(X, y, sample_weight=s)
    clf = fdask.LogisticRegression(n_threads=1, client=client, timeout=TIMEOUT,
                                   **common).fit(*_blocks(X, y, 300, s))
    assert clf.converged_ and mem.converged_ and clf.solver_ == mem.solver_
    Y = y if k == 2 else np.eye(k)[y.astype(int)]
    r = params.get("l1_ratio", 0.0)
    penalty = None if params["C"] == np.inf else ("l1" if r == 1 else "elasticnet")
    ob = Objective(X, Y, s, C=1.0 if penalty is None else params["C"], penalty=penalty,
                   l1_ratio=r)

    def F(model):
        return ob.value(np.column_stack([model.coef_, model.intercept_]).ravel())

    assert abs(F(clf) - F(mem)) <= 1e-8 * abs(F(mem))
    if penalty is not None:
        assert np.count_nonzero(mem.coef_ == 0) > 0  # the penalty really makes zeros here
        np.testing.assert_array_equal(clf.coef_ == 0, mem.coef_ == 0)
        np.testing.assert_allclose(clf.coef_, mem.coef_, atol=1e-5 * np.abs(mem.coef_).max())


# ------------------------------------------------------------------ item 9: the same checks
def _first_line(exc_info):
    return str(exc_info.value).splitlines()[0]


def _bad_data(kind):
    """(X, y, sample_weight) in memory with one bad entry in the *second* row block."""
    X, y = _data(n=300, d=20, seed=41, dense=kind.startswith("dense"))
    y = y.astype(np.float64)
    s = None
    if kind.endswith("nan-x") or kind.endswith("inf-x"):
        bad = np.nan if kind.endswith("nan-x") else np.inf
        if sp.issparse(X):
            X = X.tolil()
            X[150, 3] = bad
            X = X.tocsr()
        else:
            X[150, 3] = bad
    elif kind in ("nan-label", "inf-label"):
        y[150] = np.nan if kind == "nan-label" else np.inf
    elif kind == "one-class":
        y[:] = 1.0
    elif kind == "continuous-label":
        y = y + 0.5 * np.arange(300) / 300
    elif kind in ("nan-weight", "negative-weight"):
        s = np.ones(300)
        s[150] = np.nan if kind == "nan-weight" else -1.0
    elif kind == "zero-weights":
        s = np.zeros(300)
    elif kind == "class-without-weight":
        s = np.where(y == 1, 0.0, 1.0)
    return X, y, s


# Every bad input the in-memory estimator rejects: the Dask estimator must reject it with the
# same message (first line: scikit-learn's NaN message adds a hint about imputers).
BAD_INPUTS = [
    ("C=0", {"C": 0}, "ok"),
    ("C=-inf", {"C": -np.inf}, "ok"),
    ("tol=-1", {"tol": -1.0}, "ok"),
    ("max_iter=-1", {"max_iter": -1}, "ok"),
    ("l1_ratio=2", {"l1_ratio": 2.0}, "ok"),
    ("unknown-penalty", {"penalty": "l3"}, "ok"),
    ("l1-with-lbfgs", {"l1_ratio": 1.0, "solver": "lbfgs"}, "ok"),
    ("unknown-backend", {"backend": "fortran"}, "ok"),
    ("negative-class-weight", {"class_weight": {0.0: -1.0}}, "ok"),
    ("nan-class-weight", {"class_weight": {1.0: np.nan}}, "ok"),
    ("unknown-class-weight-label", {"class_weight": {7.0: 2.0}}, "ok"),
    ("bad-class-weight", {"class_weight": "even"}, "ok"),
    ("balanced-class-without-weight", {"class_weight": "balanced"}, "class-without-weight"),
    ("nan-in-dense-X", {}, "dense-nan-x"),
    ("inf-in-dense-X", {}, "dense-inf-x"),
    ("nan-in-csr-X", {}, "csr-nan-x"),
    ("inf-in-csr-X", {}, "csr-inf-x"),
    ("nan-label", {}, "nan-label"),
    ("inf-label", {}, "inf-label"),
    ("one-class", {}, "one-class"),
    ("continuous-label", {}, "continuous-label"),
    ("nan-sample-weight", {}, "nan-weight"),
    ("negative-sample-weight", {}, "negative-weight"),
    ("negative-sample-weight-balanced", {"class_weight": "balanced"}, "negative-weight"),
    ("all-zero-sample-weight", {}, "zero-weights"),
]


@pytest.mark.parametrize("params, kind", [c[1:] for c in BAD_INPUTS],
                         ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_same_message_as_in_memory(client, params, kind):
    """Issue 13 item 9: the same checks and messages as the in-memory estimator (NaN / inf in
    one block of X, dense or CSR, caught on the workers; labels and weights too)."""
    from fastlogit import LogisticRegression

    X, y, s = _bad_data(kind)
    with pytest.raises(ValueError) as memory:
        LogisticRegression(**params).fit(X, y, sample_weight=s)
    dX, dy, ds = _blocks(X, y, 100, s)
    with pytest.raises(ValueError) as distributed_:
        fdask.LogisticRegression(client=client, n_threads=1, timeout=TIMEOUT,
                                 **params).fit(dX, dy, ds)
    want, got = _first_line(memory), _first_line(distributed_)
    if "infinity" in want:  # scikit-learn adds "or a value too large for dtype(...)"
        assert got.startswith("Input ") and got.rstrip(".") in want
    elif "does not support penalty" in want:  # "on this objective" / "on Dask data"
        assert got.split(" on ")[0] == want.split(" on ")[0] and "use one of 'l1'" in got
    else:
        assert got == want


def test_predict_bad_input_same_message_as_in_memory(client):
    """A dask X of the wrong width is refused on the client before any work, with the
    in-memory estimator's message; NaN rows raise its "Input X contains NaN."."""
    from fastlogit import LogisticRegression

    X, y, _ = _bad_data("ok")
    clf = fdask.LogisticRegression(client=client, n_threads=1, timeout=TIMEOUT)
    clf.fit(*_blocks(X, y, 100)[:2])
    mem = LogisticRegression().fit(X, y)
    narrow = X[:, :15]
    with pytest.raises(ValueError) as memory:
        mem.predict(narrow)
    # the scheduler's task keys: the fit's own may still be released meanwhile (so counts
    # can fall), but a refused call must add none
    def task_keys():
        return client.run_on_scheduler(lambda dask_scheduler: set(map(str, dask_scheduler.tasks)))

    before = task_keys()
    for method in ("predict", "predict_proba", "decision_function"):
        with pytest.raises(ValueError) as exc:
            getattr(clf, method)(da.from_array(narrow, chunks=(100, 15), asarray=False))
        assert str(exc.value) == str(memory.value)
    assert task_keys() <= before
    Xn = X.toarray()
    Xn[150, 2] = np.nan
    with pytest.raises(ValueError) as memory:
        mem.predict_proba(Xn)
    for method in ("predict", "predict_proba"):
        with pytest.raises(ValueError) as exc:
            getattr(clf, method)(da.from_array(Xn, chunks=(100, 20))).compute()
        assert _first_line(exc) == _first_line(memory)


def test_score_bad_targets_same_message_as_in_memory(client):
    """score on dask input raises the in-memory estimator's ValueError for labels the model
    was not fitted on (not a silent miss) and for weights that are negative or all zero."""
    from fastlogit import LogisticRegression

    X, y, _ = _bad_data("ok")
    clf = fdask.LogisticRegression(client=client, n_threads=1, timeout=TIMEOUT)
    clf.fit(*_blocks(X, y, 100)[:2])
    mem = LogisticRegression().fit(X, y)
    dX = da.from_array(X, chunks=(100, X.shape[1]), asarray=False)
    unseen = np.where(np.arange(y.size) == 7, 5, y)
    bad_weights = [np.zeros(y.size), np.where(np.arange(y.size) == 3, -1.0, 1.0)]
    cases = [(unseen, None)] + [(y, w) for w in bad_weights]
    for labels, weights in cases:
        with pytest.raises(ValueError) as memory:
            mem.score(X, labels, sample_weight=weights)
        for as_dask in (False, True):
            yy = da.from_array(labels, chunks=100) if as_dask else labels
            ww = (da.from_array(weights, chunks=100) if as_dask and weights is not None
                  else weights)
            with pytest.raises(ValueError) as exc:
                clf.score(dX, yy, sample_weight=ww)
            assert _first_line(exc) == _first_line(memory)
    assert clf.score(dX, y) == pytest.approx(mem.score(X, y), abs=0.01)
