"""The L1 solver's parallel passes (fastlogit/solvers/_cd.py: ``nt`` arguments, ``threads``,
``threaded``): every kernel gives the same bits on one thread and on several, edge cases
(fewer rows than blocks, empty rows, one column, no samples) included, and so does a whole
fit; a forked child runs them on one thread."""
import multiprocessing as mp

import numba
import numpy as np
import pytest
import scipy.sparse as sp

from fastlogit._config import exact_threads
from fastlogit.objective import Objective
from fastlogit.solvers import _cd, solve

two_threads = pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2,
                                 reason="Numba runs one thread here")


def _csr(n, d, density, seed, binary=False, empty_rows=()):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, random_state=rng, format="csr")
    if binary:
        X.data[:] = 1.0
    else:
        X.data -= 0.5
    X = X.tolil()
    for i in empty_rows:
        X.rows[i] = []
        X.data[i] = []
    X = X.tocsr()
    X.sort_indices()
    return np.asarray(X.indptr, dtype=np.int64), X.indices, X.data, X


# rows large enough for the split into two halves (_SPLIT_NNZ), and small sets without it;
# rows 0, 5 and the last empty; a third of the curvature weights zero
@two_threads
@pytest.mark.parametrize("n, d, density", [(4000, 60, 0.3), (50, 8, 0.4), (1, 5, 0.8)])
@pytest.mark.parametrize("binary, fit_b", [(False, True), (True, True), (False, False)])
def test_gram_and_grad_rows_same_bits_on_two_threads(n, d, density, binary, fit_b):
    ip, ind, val, X = _csr(n, d, density, 3, binary, [i for i in (0, 5, n - 1) if i < n])
    rng = np.random.default_rng(1)
    cols = np.sort(rng.choice(d, d // 2 + 1, replace=False)).astype(np.int64)
    pos = np.full(d, -1, dtype=np.int64)
    pos[cols] = np.arange(cols.size)
    D = rng.random(n)
    D[::3] = 0.0
    p = cols.size + fit_b
    H1, H2 = np.full((p, p), np.nan), np.full((p, p), np.nan)
    _cd.gram_rows(ip, ind, val, pos, D, fit_b, H1, binary, 1)
    with _cd.threaded(2):
        _cd.gram_rows(ip, ind, val, pos, D, fit_b, H2, binary, 2)
    np.testing.assert_array_equal(H1, H2)
    A = X[:, cols].toarray()
    if fit_b:
        A = np.c_[A, np.ones(n)]
    np.testing.assert_allclose(H1, A.T @ (D[:, None] * A), rtol=1e-12, atol=1e-12)
    # the stale update: the same bits on two threads as well
    Du1 = D * (1 + rng.random(n))
    Du2 = Du1.copy()
    K1, K2 = H1.copy(), H1.copy()
    D2 = D * (1 + 0.5 * rng.random(n))
    u1 = _cd.gram_rows_stale(ip, ind, val, pos, D2, Du1, 0.3, fit_b, K1, binary, 1)
    with _cd.threaded(2):
        u2 = _cd.gram_rows_stale(ip, ind, val, pos, D2, Du2, 0.3, fit_b, K2, binary, 2)
    assert u1 == u2
    np.testing.assert_array_equal(K1, K2)
    np.testing.assert_array_equal(Du1, Du2)
    # X^T r (and X^T r2) with the columns' counts, max |x_ij| and the binary flag
    r = rng.standard_normal(n)
    out = [np.full(d, np.nan) for _ in range(4)]
    counts = [np.full(d, -1, dtype=np.int64) for _ in range(2)]
    res1 = _cd.grad_rows(ip, ind, val, r, out[0], 2 * r, out[1], counts[0], False, 1)
    with _cd.threaded(2):
        res2 = _cd.grad_rows(ip, ind, val, r, out[2], 2 * r, out[3], counts[1], False, 2)
    assert res1 == res2 == (np.abs(val).max(initial=0.0), binary and val.size > 0)
    for a, b in ((out[0], out[2]), (out[1], out[3]), (counts[0], counts[1])):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(out[0], X.T @ r, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(counts[0], np.diff(X.tocsc().indptr))
    # without counting, binary values unread
    with _cd.threaded(2):
        _cd.grad_rows(ip, ind, val, r, out[2], r[:0], out[3], counts[1][:0], binary, 2)
    np.testing.assert_array_equal(out[2], out[0])


@two_threads
@pytest.mark.parametrize("m", [0, 1, 2, 40])
def test_column_passes_same_bits_on_two_threads(m):
    """grad_hdiag_cols and grad_hdiag_kept on more threads than columns (m = 1, 2), none
    (m = 0) and many; kept features copied, the others computed, the same bits; grad_skip
    over the other columns likewise."""
    ip, ind, val, X = _csr(300, 50, 0.2, 7)
    Xc = X.tocsc()
    cp = np.asarray(Xc.indptr, dtype=np.int64)
    rng = np.random.default_rng(2)
    cols = np.sort(rng.choice(50, m, replace=False)).astype(np.int64)
    r, D = rng.standard_normal(300), rng.random(300)
    g1, h1, g2, h2 = (np.full(m, np.nan) for _ in range(4))
    _cd.grad_hdiag_cols(cp, Xc.indices, Xc.data, cols, r, D, g1, h1, False, 1)
    with _cd.threaded(4):
        _cd.grad_hdiag_cols(cp, Xc.indices, Xc.data, cols, r, D, g2, h2, False, 4)
    np.testing.assert_array_equal(g1, g2)
    np.testing.assert_array_equal(h1, h2)
    np.testing.assert_allclose(g1, Xc[:, cols].T @ r, rtol=1e-12, atol=1e-12)
    kf = cols[::2].copy()
    kg, kh = np.full(kf.size, 7.0), np.full(kf.size, 9.0)
    g3, h3 = np.full(m, np.nan), np.full(m, np.nan)
    with _cd.threaded(2):
        _cd.grad_hdiag_kept(cp, Xc.indices, Xc.data, cols, cols, r, D, kf, kg, kh, g3, h3,
                            False, 2)
    np.testing.assert_array_equal(g3[::2], 7.0)
    np.testing.assert_array_equal(h3[::2], 9.0)
    np.testing.assert_array_equal(g3[1::2], g1[1::2])
    np.testing.assert_array_equal(h3[1::2], h1[1::2])
    # the full gradient over every column but the skipped ones (left untouched)
    skip = np.zeros(50, dtype=bool)
    skip[cols] = True
    w = rng.standard_normal(50)
    o1, o2 = np.full(50, np.nan), np.full(50, np.nan)
    _cd.grad_skip(cp, Xc.indices, Xc.data, skip, r, w, 0.3, o1, 1)
    with _cd.threaded(4):
        _cd.grad_skip(cp, Xc.indices, Xc.data, skip, r, w, 0.3, o2, 4)
    np.testing.assert_array_equal(o1, o2)
    assert np.isnan(o1[skip]).all()
    np.testing.assert_allclose(o1[~skip], (Xc.T @ r + 0.3 * w)[~skip], rtol=1e-12, atol=1e-12)


@two_threads
@pytest.mark.parametrize("n", [0, 1, 2047, 2 * _cd.TRIAL_BLOCK + 5])
def test_trials_same_bits_on_two_threads(n):
    """try_step and try_step_l with fewer samples than a block (one block: no parallel
    region), none, and several blocks (with weights)."""
    rng = np.random.default_rng(5)
    z = rng.standard_normal(n)
    p = 1.0 / (1.0 + np.exp(-z))
    lo = np.logaddexp(0.0, z)
    xd = rng.standard_normal(n)
    y = (rng.random(n) < 0.5).astype(np.float64)
    s = rng.random(n) + 0.5
    outs = [[np.full(n, np.nan) for _ in range(5)] for _ in range(2)]
    a = _cd.try_step(z, p, xd, 0.5, y, s, 2.0, *outs[0][:4], np.empty(0), 1)
    fa = _cd.try_step_l(z, lo, xd, 0.5, y, s, 2.0, *outs[0], 1)
    with _cd.threaded(2):
        b = _cd.try_step(z, p, xd, 0.5, y, s, 2.0, *outs[1][:4], np.empty(0), 2)
        fb = _cd.try_step_l(z, lo, xd, 0.5, y, s, 2.0, *outs[1], 2)
    assert a == b and fa == fb
    for u, v in zip(*outs):
        np.testing.assert_array_equal(u, v)
    if n:
        zn = z + 0.5 * xd
        want = (s * (np.logaddexp(0.0, zn) - y * zn - np.logaddexp(0.0, z) + y * z)).sum()
        assert a == pytest.approx(want, rel=1e-12, abs=1e-12)
    else:
        assert a == 0.0 and fa == (0.0, 0.0)


def _onehot_repeats(n=20000, groups=(6, 9, 12, 15, 20), seed=0):
    """Binary one-hot rows that repeat (the fit merges them), most of X's entries on a
    working set over its rows: the dense model's Hessian from the rows."""
    rng = np.random.default_rng(seed)
    blocks, w = [], []
    for k in groups:
        c = rng.integers(0, k, n)
        blocks.append(sp.csr_matrix((np.ones(n), (np.arange(n), c)), shape=(n, k)))
        w.append(rng.standard_normal(k))
    X = sp.hstack(blocks).tocsr()
    z = X @ np.concatenate(w) - 0.5
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-z))).astype(np.float64)
    return X, y


def _text_like(n=6000, d=400, seed=1):
    X = sp.random(n, d, density=0.04, random_state=np.random.default_rng(seed), format="csr")
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(d) * (rng.random(d) < 0.2)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(X @ w) * 4))).astype(np.float64)
    return X, y, rng.random(n) + 0.5


@two_threads
@pytest.mark.parametrize("case", ["onehot", "weighted"])
def test_fit_same_bits_on_one_and_two_threads(case, monkeypatch):
    """A whole column-path fit: n_threads=1 and 2 give the same theta bit for bit (the
    passes forced onto two threads by exact_threads, whatever their size); the fit did run
    passes on two threads."""
    if case == "onehot":
        X, y = _onehot_repeats()
        s, C = None, 1.0
    else:
        X, y, s = _text_like()
        C = 0.5
    counts = []
    real = _cd.threads

    def spy(*args):
        counts.append(real(*args))
        return counts[-1]

    monkeypatch.setattr(_cd, "threads", spy)
    thetas = []
    with exact_threads():
        for nt in (1, 2, 2):
            ob = Objective(X, y, C=C, penalty="l1", sample_weight=s, n_threads=nt)
            res = solve(ob, "l1", tol=1e-8)
            assert res.converged
            thetas.append(res.theta)
    assert max(counts) == 2
    np.testing.assert_array_equal(thetas[0], thetas[1])
    np.testing.assert_array_equal(thetas[1], thetas[2])


def _child_threads(send):
    send.send(_cd.threads(2, 10 ** 6, 10 ** 8))


@two_threads
def test_forked_child_runs_on_one_thread():
    """GNU OpenMP's pool does not survive a fork (Numba's OpenMP layer ends a child that
    starts a parallel region): a forked child's passes take one thread."""
    with exact_threads():
        assert _cd.threads(2, 10 ** 6, 10 ** 8) == 2
        ctx = mp.get_context("fork")
        recv, send = ctx.Pipe(duplex=False)
        child = ctx.Process(target=_child_threads, args=(send,))
        child.start()
        assert recv.poll(60)
        assert recv.recv() == 1
        child.join()
