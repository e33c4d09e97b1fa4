"""Deterministic solvers: same optimum as each other and as scikit-learn, L1 zero patterns,
quadratic Newton convergence, warnings and errors."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from fastlogit.objective import Objective
from fastlogit.solvers import SOLVERS, ConvergenceWarning, check_solver, choose_solver
from tests.conftest import shared_or_skip

SMOOTH = ["newton-cholesky", "newton-cg", "trust-region", "lbfgs", "l1"]


def _binary(rng, n=300, d=12, sparse=False):
    X = rng.standard_normal((n, d))
    if sparse:
        X = sp.random(n, d, density=0.3, format="csr", random_state=rng) * 3.0
    w = rng.standard_normal(d)
    z = X @ w + 0.5
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-z))).astype(float)
    return X, y


def _multinomial(rng, n=300, d=8, k=3):
    X = rng.standard_normal((n, d))
    W = rng.standard_normal((d, k))
    Z = X @ W
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(k, p=p) for p in P])
    return X, labels


def _solve(name, ob, tol=1e-10, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # lbfgs may stop at round-off
        return SOLVERS[name](ob, np.zeros(ob.n_params), tol=tol, max_iter=500, **kw)


def _sklearn(X, y, C, solver="newton-cholesky", fit_intercept=True):
    est = LogisticRegression(C=C, solver=solver, tol=1e-10, max_iter=10_000,
                             fit_intercept=fit_intercept)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    return est


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("name", SMOOTH)
def test_binary_l2_matches_sklearn(rng, name, sparse):
    X, y = _binary(rng, sparse=sparse)
    C = 0.5
    ob = Objective(X, y, C=C)
    res = _solve(name, ob)
    est = _sklearn(X, y, C)
    ref = np.r_[est.coef_[0], est.intercept_]
    assert ob.value(res.theta) <= ob.value(ref) * (1 + 1e-8)
    np.testing.assert_allclose(res.theta, ref, rtol=1e-5, atol=1e-7)
    assert name == "lbfgs" or res.converged
    h = res.history
    assert len(h["objective"]) == len(h["grad_norm"]) == len(h["time"])
    if name == "l1":  # one entry per working-set round, a round of one or more steps (l1.py)
        assert 2 <= len(h["objective"]) <= res.n_iter + 1
    else:
        assert len(h["objective"]) == res.n_iter + 1
    assert np.all(np.diff(h["objective"]) <= 1e-9 * abs(h["objective"][0]))


@pytest.mark.parametrize("name", SMOOTH)
def test_multinomial_l2_matches_sklearn(rng, name):
    X, labels = _multinomial(rng)
    Y = np.eye(3)[labels]
    C = 2.0
    ob = Objective(X, Y, C=C)
    res = _solve(name, ob)
    est = _sklearn(X, labels, C, solver="lbfgs")  # multinomial for K > 2 (sklearn >= 1.5)
    ref = np.column_stack([est.coef_, est.intercept_]).ravel()
    assert ob.value(res.theta) <= ob.value(ref) * (1 + 1e-8)
    theta = res.theta.reshape(3, -1)
    np.testing.assert_allclose(theta[:, :-1], est.coef_, rtol=1e-5, atol=1e-6)
    # intercepts are defined up to a common shift (the softmax is invariant to it)
    np.testing.assert_allclose(theta[:, -1] - theta[:, -1].mean(),
                               est.intercept_ - est.intercept_.mean(), rtol=1e-5, atol=1e-6)


def test_sample_weight_and_float32(rng):
    X, y = _binary(rng, sparse=True)
    s = rng.random(X.shape[0]) * 2
    est = LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-10, max_iter=1000)
    est.fit(X, y, sample_weight=s)
    ref = np.r_[est.coef_[0], est.intercept_]
    for dtype, rtol in ((np.float64, 1e-6), (np.float32, 2e-3)):
        ob = Objective(X.astype(dtype), y, s)
        res = _solve("trust-region", ob, tol=1e-7)
        np.testing.assert_allclose(res.theta, ref, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("dataset", ["mushrooms", "rcv1_small"])
def test_real_data_all_solvers_agree(dataset):
    X, y = shared_or_skip(dataset)
    ob = Objective(X, y, C=1.0)
    names = ["trust-region", "newton-cg", "lbfgs"]
    if X.shape[1] <= 1000:
        names.append("newton-cholesky")
    values = {n: ob.value(_solve(n, ob, tol=1e-8).theta) for n in names}
    est = _sklearn(X, y, 1.0, solver="newton-cg")
    f_sk = ob.value(np.r_[est.coef_[0], est.intercept_])
    best = min(values.values())
    for n, v in values.items():
        assert v <= f_sk * (1 + 1e-8), n
        assert v <= best * (1 + 1e-9), n


def test_l1_zero_pattern_matches_liblinear(rng):
    n, d = 400, 20
    X = rng.standard_normal((n, d))
    w = np.zeros(d)
    w[:5] = rng.standard_normal(5) * 2
    y = (rng.random(n) < 1 / (1 + np.exp(-X @ w))).astype(float)
    C = 0.05
    ob = Objective(X, y, C=C, penalty="l1", fit_intercept=False)
    res = _solve("l1", ob)
    assert res.converged
    est = LogisticRegression(C=C, l1_ratio=1.0, solver="liblinear", tol=1e-12, max_iter=10_000,
                             fit_intercept=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    assert np.array_equal(res.theta == 0, est.coef_[0] == 0)
    assert 0 < np.count_nonzero(res.theta) < d
    np.testing.assert_allclose(res.theta, est.coef_[0], rtol=1e-4, atol=1e-5)
    assert ob.value(res.theta) <= ob.value(est.coef_[0]) * (1 + 1e-8)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense-cd", "csr-fista"])
def test_elasticnet_matches_saga(rng, sparse):
    X, y = _binary(rng, n=300, d=10)
    C, r = 0.1, 0.5
    Xin = sp.csr_matrix(X) if sparse else X
    ob = Objective(Xin, y, C=C, penalty="elasticnet", l1_ratio=r)
    res = _solve("l1", ob, dense_max=0 if sparse else 1500)
    est = LogisticRegression(C=C, l1_ratio=r, solver="saga", tol=1e-12, max_iter=100_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    ref = np.r_[est.coef_[0], est.intercept_]
    assert ob.value(res.theta) <= ob.value(ref) + 1e-8 * abs(ob.value(ref))
    np.testing.assert_allclose(res.theta, ref, rtol=1e-4, atol=1e-5)
    assert np.array_equal(res.theta[:-1] == 0, np.abs(est.coef_[0]) < 1e-10)


def test_multinomial_l1_exact_zeros(rng):
    X, labels = _multinomial(rng, d=10)
    X[:, 5:] *= 0.05  # weak features: driven to zero
    ob = Objective(X, np.eye(3)[labels], C=0.1, penalty="l1")
    res = _solve("l1", ob)
    assert res.converged
    W = res.theta.reshape(3, -1)[:, :-1]
    assert np.count_nonzero(W == 0) > 0


@pytest.mark.parametrize("name,options", [
    ("newton-cholesky", {}), ("newton-cg", {}), ("trust-region", {"eps_q": 0.0}),
], ids=["newton-cholesky", "newton-cg", "trust-region-residual-cg"])
def test_newton_converges_quadratically(rng, name, options):
    X, y = _binary(rng, n=500, d=10)
    ob = Objective(X, y, C=1.0)
    res = _solve(name, ob, tol=1e-14, **options)
    g = np.array(res.history["grad_norm"]) / res.history["grad_norm"][0]
    start = np.flatnonzero(g < 1e-2)[0]
    end = np.flatnonzero(g < 1e-11)[0]
    assert end - start <= 3  # 1e-2 -> 1e-4 -> 1e-8 -> 1e-16: three steps when quadratic
    k = np.arange(start, end)
    assert np.all(g[k + 1] <= 50 * g[k] ** 1.5 + 1e-13)


def test_penalty_none_separable_data_falls_back(rng):
    X = rng.standard_normal((60, 3))
    y = (X[:, 0] > 0).astype(float)  # separable: no finite optimum
    ob = Objective(X, y, penalty=None)
    with pytest.warns(ConvergenceWarning, match=r"\|\|grad F\|\|_inf"):
        res = SOLVERS["newton-cholesky"](ob, np.zeros(ob.n_params), tol=1e-12, max_iter=5)
    assert np.all(np.isfinite(res.theta)) and not res.converged
    assert res.history["objective"][-1] < res.history["objective"][0]


@pytest.mark.parametrize("name", SMOOTH)
def test_non_convergence_warns_with_grad_norm(rng, name):
    X, y = _binary(rng)
    ob = Objective(X, y, C=10.0)
    with pytest.warns(ConvergenceWarning, match=r"did not converge.*\|\|grad F\|\|_inf = "):
        res = SOLVERS[name](ob, np.zeros(ob.n_params), tol=1e-12, max_iter=1)
    assert not res.converged


def test_callback_called_and_can_stop(rng):
    X, y = _binary(rng)
    ob = Objective(X, y)
    seen = []
    res = SOLVERS["trust-region"](ob, np.zeros(ob.n_params), tol=1e-10,
                                  callback=lambda th: seen.append(th.copy()) or len(seen) >= 3)
    assert len(seen) == 3 and res.n_iter == 2 and "callback" in res.message


def test_errors_for_unknown_solver_and_penalty(rng):
    X, y = _binary(rng)
    l1 = Objective(X, y, penalty="l1")
    with pytest.raises(ValueError, match="unknown solver 'foo'"):
        check_solver("foo", l1)
    for name in ("newton-cholesky", "newton-cg", "trust-region", "lbfgs"):
        with pytest.raises(ValueError, match=f"solver '{name}' does not support penalty='l1'"):
            check_solver(name, l1)
        with pytest.raises(ValueError, match="does not support penalty='l1'"):
            SOLVERS[name](l1, np.zeros(l1.n_params))
    with pytest.raises(ValueError, match="penalty must be one of"):
        Objective(X, y, penalty="l0")
    assert choose_solver(l1) == "l1"
    assert choose_solver(Objective(X, y)) == "newton-cholesky"
    assert choose_solver(Objective(sp.csr_matrix((10, 5000)), np.zeros(10))) == "lbfgs"
    assert choose_solver(Objective(sp.csr_matrix((3000, 5000)), np.zeros(3000))) == "trust-region"
    # softmax: L-BFGS whatever the shape (benchmarks/results/softmax_race.md)
    Y3 = np.eye(3)[np.arange(3000) % 3]
    assert choose_solver(Objective(sp.csr_matrix((3000, 5000)), Y3)) == "lbfgs"


@pytest.mark.parametrize("penalty", ["l2", None, "elasticnet"])
@pytest.mark.parametrize("multinomial", [False, True], ids=["binary", "multinomial"])
def test_solve_on_compacted_columns_is_exact(rng, penalty, multinomial):
    """Columns without non-zeros: solve() runs on the used columns and maps back exactly."""
    from fastlogit.solvers import solve

    n, d = 300, 400
    X = sp.random(n, d, density=0.1, format="csr", random_state=rng)
    X = X @ sp.diags((np.arange(d) % 4 == 0).astype(float))  # 3 in 4 columns empty
    X = sp.csr_matrix(X)
    X.eliminate_zeros()
    if multinomial:
        y = np.eye(3)[rng.integers(0, 3, n)]
    else:
        y = (rng.random(n) < 0.4).astype(float)
    ob = Objective(X, y, C=3.0, penalty=penalty, l1_ratio=0.5)
    reduced, keep = ob.compact_columns()
    assert reduced.n_features == 100 and keep.sum() == reduced.n_params
    theta0 = rng.standard_normal(ob.n_params) * 0.1
    name = "l1" if penalty == "elasticnet" else "trust-region"
    seen = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = solve(ob, name, theta0, tol=1e-9, max_iter=300, callback=lambda t: seen.append(t))
        ref = SOLVERS[name](Objective(X.toarray(), y, C=3.0, penalty=penalty, l1_ratio=0.5),
                            theta0, tol=1e-9, max_iter=300)
    assert res.solver == name and res.theta.shape == (ob.n_params,)
    assert all(t.shape == (ob.n_params,) for t in seen)
    # used columns and intercepts: the same optimum as the full (dense) problem (softmax
    # parameters are unique only up to a common shift of the intercepts: compare F there)
    if not multinomial:
        np.testing.assert_allclose(res.theta[keep], ref.theta[keep], rtol=1e-6, atol=1e-8)
    # empty columns: 0 under a penalty, untouched (theta0) without one
    expect = theta0[~keep] if penalty is None else 0.0
    np.testing.assert_array_equal(res.theta[~keep], expect)
    assert ob.value(res.theta) <= ob.value(ref.theta) + 1e-9 * abs(ob.value(ref.theta))


def test_compact_columns_declines_dense_and_mostly_used(rng):
    X, y = _binary(rng, n=400, d=300)
    assert Objective(X, y).compact_columns() is None  # dense X
    Xs = sp.csr_matrix(X)
    assert Objective(Xs, y).compact_columns() is None  # every column used
    Xs[:, :50] = 0.0
    Xs.eliminate_zeros()
    assert Objective(Xs, y).compact_columns() is None  # 5/6 used: not worth it
    Xs[:, :200] = 0.0
    Xs.eliminate_zeros()
    assert Objective(Xs, y).compact_columns()[0].n_features == 100


def test_newton_cholesky_reuses_its_factor(rng):
    """With the factor kept as CG preconditioner, fewer grams, the same optimum."""
    X, y = _binary(rng, n=2000, d=30)
    ob = Objective(X, y, C=10.0)
    fresh = SOLVERS["newton-cholesky"](ob, ob.zeros(), tol=1e-12, reuse_cg=0)
    ob2 = Objective(X, y, C=10.0)
    reuse = SOLVERS["newton-cholesky"](ob2, ob2.zeros(), tol=1e-12)
    assert reuse.converged and reuse.n_evals["hessian"] < fresh.n_evals["hessian"]
    np.testing.assert_allclose(reuse.theta, fresh.theta, rtol=1e-9, atol=1e-12)


def _two_loop_direction(pairs, g):
    """-H g by the classical two-loop recursion over (s, y) pairs, oldest first."""
    q = -g.copy()
    alphas = []
    for s, y in reversed(pairs):
        a = (s @ q) / (s @ y)
        alphas.append(a)
        q -= a * y
    s, y = pairs[-1]
    q *= (s @ y) / (y @ y)
    for (s, y), a in zip(pairs, reversed(alphas)):
        q += (a - (y @ q) / (s @ y)) * s
    return q


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lbfgs_compact_direction_equals_two_loop(rng, dtype):
    """The compact-form product of the compiled memory passes (ring buffer wrapped around
    twice, a rejected pair, a cleared memory; several chunks) agrees with the two-loop
    recursion over the stored pairs to round-off, its slope is g.d, its ||g||_inf is exact,
    and two threads give bitwise the one-thread direction."""
    from fastlogit._config import exact_threads
    from fastlogit.solvers._lbfgs_memory import CHUNK
    from fastlogit.solvers.lbfgs import _Memory

    with exact_threads():
        _check_memory_against_two_loop(rng, dtype, _Memory, 2 * CHUNK + 77, 4)


def test_lbfgs_memory_blocks_of_four_pairs(rng):
    """The passes take the stored pairs four at a time plus a remainder: with m = 7 every
    count of pairs from 1 to 7 (a block and 0-3 left over) agrees with the two-loop recursion
    and is bitwise the same on two threads."""
    from fastlogit._config import exact_threads
    from fastlogit.solvers._lbfgs_memory import CHUNK
    from fastlogit.solvers.lbfgs import _Memory

    with exact_threads():
        _check_memory_against_two_loop(rng, np.float32, _Memory, CHUNK + 5, 7)


def _check_memory_against_two_loop(rng, dtype, _Memory, n, m):
    diag = rng.uniform(0.5, 3.0, n)
    U = rng.standard_normal((n, 3))
    mems = [_Memory(m, n, dtype, n_threads=t) for t in (1, 2)]
    pairs = []
    theta, g = rng.standard_normal(n), rng.standard_normal(n)
    for it in range(11):
        s = rng.standard_normal(n)
        y = diag * s + U @ (U.T @ s) / n  # SPD curvature; pair 5 negated: rejected
        if it == 5:
            y = -y
        theta_new, g_new = theta + s, g + y
        for mem in mems:
            kept, gnorm = mem.push(theta_new, theta, g_new, g)
            assert kept == (it != 5) and gnorm == np.abs(g_new).max()
        if kept:
            stored = [(theta_new - theta).astype(dtype).astype(float),
                      (g_new - g).astype(dtype).astype(float)]
            pairs = (pairs + [stored])[-m:]
        theta, g = theta_new, g_new
        d = [np.empty(n) for _ in mems]
        slopes = [mem.direction(g, out) for mem, out in zip(mems, d)]
        np.testing.assert_allclose(d[0], _two_loop_direction(pairs, g), rtol=1e-9, atol=1e-11)
        np.testing.assert_array_equal(d[0], d[1])
        assert slopes[0] == slopes[1] and slopes[0] == pytest.approx(g @ d[0], rel=1e-12)
        if it == 8:
            for mem in mems:
                mem.clear()
                out = np.empty(n)
                mem.direction(g, out)
                np.testing.assert_array_equal(out, -g)
            pairs = []
            theta, g = theta + 1.0, g + 1e-3  # the next pair starts from a fresh memory


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lbfgs_direction_sweep_writes_the_unit_step(rng, dtype):
    """The direction pass asked for the unit step's point writes ``theta + d`` bitwise (as
    NumPy's sum), leaves d and the slope bitwise as without it, at one and two threads; and
    armijo handed that point as ``trial`` returns what it returns when it builds the point."""
    from fastlogit._config import exact_threads
    from fastlogit.solvers._lbfgs_memory import CHUNK
    from fastlogit.solvers._line_search import armijo
    from fastlogit.solvers.lbfgs import _Memory

    n = 2 * CHUNK + 77
    diag = rng.uniform(0.5, 3.0, n)
    with exact_threads():
        mems = [_Memory(5, n, dtype, n_threads=t) for t in (1, 2)]
        theta, g = rng.standard_normal(n), rng.standard_normal(n)
        for _ in range(7):  # wraps the ring of 5 pairs
            s = rng.standard_normal(n)
            for mem in mems:
                assert mem.push(theta + s, theta, g + diag * s, g)[0]
            theta, g = theta + s, g + diag * s
        for mem in mems:
            d, d_plain, trial = np.empty(n), np.empty(n), np.empty(n)
            slope = mem.direction(g, d, theta, trial)
            assert slope == mem.direction(g, d_plain)
            np.testing.assert_array_equal(d, d_plain)
            np.testing.assert_array_equal(trial, theta + d)

    X = rng.standard_normal((60, 8))
    obj = Objective(X, (X[:, 0] + rng.standard_normal(60) > 0).astype(float), C=2.0)
    th = rng.standard_normal(obj.n_params) * 0.1
    f, gr = obj.value_grad(th)
    for d in (-0.3 * gr, -40.0 * gr):  # accepted at t = 1; rejected there, backtracked
        built = armijo(obj, th, f, gr, d)
        given = armijo(obj, th, f, gr, d, trial=th + d)
        assert built[0] == given[0] and built[2] == given[2]
        np.testing.assert_array_equal(built[1], given[1])
        np.testing.assert_array_equal(built[3], given[3])
    assert built[0] < 1.0


def test_lbfgs_float32_memory_reaches_the_optimum(rng):
    """Pairs stored in float32 (the default for a large memory) change the path, not the
    optimum: a softmax fit at tol 1e-10 ends within 1e-12 (relative) of F of the float64
    memory's; a dtype that is neither is refused by name."""
    from fastlogit.solvers.lbfgs import FLOAT32_MEMORY_BYTES, _memory_dtype

    X = sp.random(300, 400, density=0.05, random_state=3, format="csr")
    Y = np.eye(4)[rng.integers(0, 4, 300)]
    ob = Objective(X, Y, C=5.0)
    ends = {}
    for dtype in (np.float32, np.float64):
        res = SOLVERS["lbfgs"](ob, ob.zeros(), tol=1e-10, max_iter=5000, memory_dtype=dtype)
        assert res.converged
        ends[dtype] = ob.value(res.theta)
    assert ends[np.float32] == pytest.approx(ends[np.float64], rel=1e-12)
    assert _memory_dtype(None, 20, 10) == np.float64
    assert _memory_dtype(None, 20, FLOAT32_MEMORY_BYTES // 8) == np.float32
    with pytest.raises(ValueError, match="memory_dtype"):
        SOLVERS["lbfgs"](ob, ob.zeros(), memory_dtype=np.int32)


def test_lbfgs_softmax_fit_on_two_threads(rng):
    """A softmax L-BFGS fit whose memory passes run on two threads (float32 pairs, several
    chunks) is bitwise the one-thread fit: every part of an iteration (the kernels' outputs,
    loss and intercept sums included, the layout moves, the memory passes) is independent of
    the thread count, so both take the same iterations to the same bits."""
    from fastlogit._config import exact_threads

    X = sp.random(400, 3000, density=0.01, random_state=4, format="csr")
    Y = np.eye(5)[rng.integers(0, 5, 400)]
    fits = []
    with exact_threads():
        for threads in (1, 2):
            ob = Objective(X, Y, C=2.0, n_threads=threads)
            res = SOLVERS["lbfgs"](ob, ob.zeros(), tol=1e-9, max_iter=2000,
                                   memory_dtype=np.float32)
            assert res.converged and res.n_iter > 20
            fits.append(res)
    assert fits[0].n_iter == fits[1].n_iter
    np.testing.assert_array_equal(fits[0].theta, fits[1].theta)


@pytest.mark.parametrize("name", ["trust-region", "newton-cg"])
def test_newton_memory_is_a_few_vectors(rng, name):
    """Issue 18: beyond X and the cached curvature (2 n-vectors), a trust-region / newton-cg
    solve holds at most 16 n_params-vectors at its peak (its CG vectors live in one reused
    workspace, the caches hand gradients over instead of copying them); the allocating
    form this replaced peaked at 20 (trust-region) and 18 (newton-cg) here."""
    import tracemalloc

    n, d = 4000, 40_000
    X = sp.random(n, d, density=10 / d, format="csr", random_state=rng)
    X.data[:] = 1.0
    y = (rng.random(n) < 0.5).astype(float)
    ob = Objective(X, y, C=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        SOLVERS[name](ob, np.zeros(ob.n_params), tol=1e-12, max_iter=2)  # caches filled
        tracemalloc.start()
        try:
            res = SOLVERS[name](ob, np.zeros(ob.n_params), tol=1e-12, max_iter=6)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert res.n_iter == 6
    assert peak <= 8 * (16 * ob.n_params + 2 * n), peak / (8 * ob.n_params)


def test_busy_cores_cap_the_default_thread_count(monkeypatch):
    """Cores other processes keep busy are not used by n_threads=None kernels; an explicit
    count and exact_threads() are left alone; one reading serves LOAD_TTL seconds."""
    from fastlogit import _config

    monkeypatch.delenv("FASTLOGIT_EXACT_THREADS", raising=False)
    monkeypatch.delenv("FASTLOGIT_NUM_THREADS", raising=False)
    monkeypatch.setattr(_config, "_exact", False)
    monkeypatch.setattr(_config, "_available_cores", lambda: 4)
    monkeypatch.setattr(_config.os, "cpu_count", lambda: 4)
    monkeypatch.setattr(_config, "runtime_thread_limit", lambda: None)
    big = (10**7, 10**9, 10)  # rows, nnz, buffer: worth every core
    state = {"machine": 1, "own": 1}
    monkeypatch.setattr(_config, "_machine_running", lambda: state["machine"])
    monkeypatch.setattr(_config, "_own_running", lambda: state["own"])
    monkeypatch.setattr(_config, "_LOAD", [float("-inf"), 0])
    assert _config.busy_cores() == 0 and _config.kernel_threads(None, *big) == 4
    state.update(machine=6, own=3)  # 3 busy cores; our own spinning workers do not count
    assert _config.busy_cores() == 0  # the reading of LOAD_TTL ago still holds
    _config._LOAD[0] = float("-inf")
    assert _config.busy_cores() == 3
    assert _config.kernel_threads(None, *big) == 1
    assert _config.kernel_threads(4, *big) == 4
    with _config.exact_threads():
        assert _config.kernel_threads(None, *big) == 4
    state.update(machine=9, own=1)  # more busy than cores: still one thread
    _config._LOAD[0] = float("-inf")
    assert _config.kernel_threads(None, *big) == 1
    # a cpuset of 4 of the machine's 16 cores: a quarter of the 8 busy threads fall on it
    monkeypatch.setattr(_config.os, "cpu_count", lambda: 16)
    _config._LOAD[0] = float("-inf")
    assert _config.busy_cores() == 2 and _config.kernel_threads(None, *big) == 2


def test_own_running_threads_include_the_caller():
    """The thread reading /proc/self/task is itself running (state R)."""
    from fastlogit import _config

    if not hasattr(__import__("os"), "sched_getaffinity") or not _proc_available():
        pytest.skip("no /proc (not Linux)")
    assert _config._own_running() >= 1
    assert _config._machine_running() >= 1


def _proc_available():
    import os

    return os.path.exists("/proc/self/task") and os.path.exists("/proc/loadavg")


def test_lbfgs_default_pairs_halve_for_large_memories():
    """m=None keeps 20 pairs, or 10 where 20 would take more than FLOAT32_MEMORY_BYTES in
    float64; a bad m is a ValueError that names it."""
    import importlib

    lb = importlib.import_module("fastlogit.solvers.lbfgs")  # the module, not the function
    many, few = lb.DEFAULT_PAIRS
    edge = lb.FLOAT32_MEMORY_BYTES // (2 * (many + 1) * 8)
    assert lb._pairs(None, edge) == many
    assert lb._pairs(None, edge + 1) == few
    assert lb._pairs(7, 10**9) == 7
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="m must be a positive integer"):
            lb._pairs(bad, 10)


@pytest.mark.parametrize("n", [7, 3 * (1 << 16) + 5])
def test_line_search_trial_point_is_numpys_bits(n):
    """The line search's trial point theta + t d: bitwise NumPy's expression, on one thread
    and on the compiled pass shared by two (no fused multiply-add, no reordering)."""
    from fastlogit.solvers._line_search import _step

    rng = np.random.default_rng(5)
    theta, d = rng.normal(size=n) * 1e3, rng.normal(size=n) * 1e-3
    for threads in (1, 2):
        np.testing.assert_array_equal(_step(theta, 0.3719, d, threads), theta + 0.3719 * d)


def _steihaug_numpy(H, g, delta, rtol, max_cg, minv, eps_q):
    """Preconditioned Steihaug-Toint CG in plain NumPy (the reference of newton._steihaug):
    (s, r, n_cg, on_boundary)."""
    m = np.ones_like(g) if minv is None else 1.0 / minv
    mi = np.ones_like(g) if minv is None else minv
    s, r = np.zeros_like(g), -g
    z = mi * r
    d, rz, q = z.copy(), r @ z, 0.0
    stop = rtol * np.linalg.norm(g)
    for k in range(max_cg):
        if np.linalg.norm(r) <= stop:
            return s, r, k, False
        Hd = H @ d
        dHd, sMs, sMd, dMd = d @ Hd, s @ (m * s), s @ (m * d), d @ (m * d)
        alpha = rz / dHd if dHd > 1e-16 * dMd else 0.0
        if dHd <= 1e-16 * dMd or sMs + 2 * alpha * sMd + alpha ** 2 * dMd >= delta ** 2:
            tau = max(np.roots([dMd, 2 * sMd, sMs - delta ** 2]).real)
            return s + tau * d, r - tau * Hd, k + 1, True
        s, r = s + alpha * d, r - alpha * Hd
        if eps_q:
            q_new = 0.5 * (g @ s - s @ r)
            if k > 0 and (q - q_new) * (k + 1) <= eps_q * abs(q_new):
                return s, r, k + 1, False
            q = q_new
        z = mi * r
        d, rz = z + (r @ z / rz) * d, r @ z
    return s, r, max_cg, False


@pytest.mark.parametrize("precond", [False, True], ids=["identity", "diag"])
@pytest.mark.parametrize("case", ["interior", "boundary", "negative", "eps_q", "max_cg"])
def test_steihaug_matches_numpy(rng, precond, case):
    """The trust-region CG (its vector work in compiled loops, solvers/_tr_cg.py) against a
    plain NumPy Steihaug-Toint CG: the same step count and exit, s and r to rounding."""
    from fastlogit.solvers.newton import CGWork, _steihaug

    n = 40
    Q = rng.standard_normal((n, n))
    H = Q @ Q.T / n + np.diag(rng.uniform(0.5, 5.0, n))
    if case == "negative":
        H -= 3.0 * np.eye(n)
    g = rng.standard_normal(n)
    minv = 1.0 / np.diag(H).clip(0.5) if precond else None
    delta = 0.05 if case == "boundary" else 1e6
    rtol = 1e-12 if case == "max_cg" else 1e-6
    eps_q = 0.5 if case == "eps_q" else 0.0
    max_cg = 5 if case == "max_cg" else 200
    got = _steihaug(lambda v: H @ v, g, delta, rtol, max_cg, minv, eps_q, CGWork(n))
    ref = _steihaug_numpy(H, g, delta, rtol, max_cg, minv, eps_q)
    assert got[2:] == ref[2:]
    assert got[3] == (case in ("boundary", "negative"))
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got[1], ref[1], rtol=1e-9, atol=1e-9 * np.abs(g).max())
    if case == "interior":  # a solve: H s = -g to rtol
        assert np.linalg.norm(H @ got[0] + g) <= 1e-6 * np.linalg.norm(g)
    if got[3]:
        m = 1.0 if minv is None else 1.0 / minv
        assert np.sqrt(got[0] @ (m * got[0])) == pytest.approx(delta, rel=1e-9)


def test_lbfgs_compiled_small_steps_equal_numpy(rng):
    """L-BFGS's compiled k x k steps against NumPy / SciPy: store_pair keeps the compact
    form's matrices as a chronological rebuild from the pairs has them (oldest pair dropped
    when full, only copies: bitwise), and compact_coefficients equals the two triangular
    solves of the compact form to rounding; a singular R is reported, not divided by."""
    from scipy.linalg import solve_triangular

    from fastlogit.solvers import _lbfgs_memory as lbm

    n, m = 50, 4
    S_all, Y_all = [], []
    StY, YtY = np.zeros((m, m)), np.zeros((m, m))
    sg, yg = np.zeros(m), np.zeros(m)
    for step in range(7):
        s, y, g = rng.standard_normal(n), rng.standard_normal(n), rng.standard_normal(n)
        y += 3.0 * s  # s.y > 0
        k = len(S_all)
        sums = np.concatenate([[si @ y for si in S_all], [yi @ y for yi in Y_all],
                               [si @ g for si in S_all], [yi @ g for yi in Y_all],
                               [s @ y, y @ y, s @ s, s @ g, y @ g, np.abs(g).max()]])
        kn = lbm.store_pair(StY, YtY, sums, k, sg, yg)
        S_all, Y_all = (S_all + [s])[-m:], (Y_all + [y])[-m:]
        assert kn == len(S_all)
        # the dots of each pair are the ones pair_pass handed in (the same bits)
        want_sty = np.array([[S_all[i] @ Y_all[j] for j in range(kn)] for i in range(kn)])
        want_yty = np.array([[Y_all[i] @ Y_all[j] for j in range(kn)] for i in range(kn)])
        iu = np.triu_indices(kn)
        np.testing.assert_array_equal(StY[:kn, :kn][iu], want_sty[iu])
        np.testing.assert_array_equal(YtY[:kn, :kn], want_yty)
        np.testing.assert_array_equal(sg[:kn], [si @ g for si in S_all])
        np.testing.assert_array_equal(yg[:kn], [yi @ g for yi in Y_all])
        gamma = (s @ y) / (y @ y)
        cs, cy = np.zeros(m), np.zeros(m)
        assert lbm.compact_coefficients(StY, YtY, sg, yg, gamma, kn, cs, cy)
        R = StY[:kn, :kn]
        u = solve_triangular(R, sg[:kn], lower=False)
        w = np.diag(R) * u + gamma * (YtY[:kn, :kn] @ u) - gamma * yg[:kn]
        np.testing.assert_allclose(cs[:kn], solve_triangular(R, w, trans=1, lower=False),
                                   rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(cy[:kn], -gamma * u, rtol=1e-12, atol=1e-14)
    StY[1, 1] = 0.0
    assert not lbm.compact_coefficients(StY, YtY, sg, yg, 1.0, m, np.zeros(m), np.zeros(m))


def test_lbfgs_numpy_sum_is_numpys_bitwise(rng):
    """The compiled sum of the direction pass's chunk slopes adds in NumPy's pairwise order:
    the bits of ``a.sum()`` for lengths 0 to 5,000 (each branch: < 8, <= 128, halves),
    with values of mixed magnitudes and signs."""
    from fastlogit.solvers._lbfgs_memory import numpy_sum

    for n in list(range(0, 300)) + [511, 512, 513, 1024, 1099, 5000]:
        a = rng.standard_normal(n) * 10.0 ** rng.integers(-8, 8, n)
        assert numpy_sum(a) == a.sum(), n


def test_lbfgs_numpy_sum_keeps_its_bits_after_a_fast_math_caller(tmp_path):
    """``numpy_sum`` first compiled as the callee of the direction pass (fast-math flags) is
    still NumPy's order when called on its own: a fresh process and Numba cache run an
    L-BFGS fit first, then compare the bits of ``a.sum()`` (four values whose sequential sum
    and reassociated sums differ in the last bit)."""
    import os
    import subprocess
    import sys

    code = (
        "import numpy as np\n"
        "from fastlogit.objective import Objective\n"
        "from fastlogit.solvers import solve\n"
        "from fastlogit.solvers._lbfgs_memory import numpy_sum\n"
        "rng = np.random.default_rng(0)\n"
        "X = rng.standard_normal((200, 20)); y = (rng.random(200) < 0.5).astype(float)\n"
        "solve(Objective(X, y, C=1.0), 'lbfgs', tol=1e-8)\n"
        "a = np.array([-1.2654214710460525, -6.232744625373522e-09, 413.259793472436,\n"
        "              -2325.0307746388344])\n"
        "print(repr(float(numpy_sum(a))), repr(float(a.sum())))\n")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    ours, numpys = out.stdout.split()
    assert ours == numpys
