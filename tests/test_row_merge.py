"""Merging repeated rows (fastlogit/row_merge.py) and the L1 solver's use of it: the merged
data term is the same function of theta (value, gradient, Hessian products to rounding), a
fit on data with repeated rows equals the fit on the same rows without the merge, and bad
input is refused with a message naming the problem."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from fastlogit.objective import LogLossData, Objective
from fastlogit.row_merge import merge_rows, merged_log_loss
from fastlogit.solvers import l1


def _planted(n_distinct=60, copies=4, d=12, seed=0, binary=False, density=0.4):
    """Rows drawn from ``n_distinct`` patterns (each repeated up to ``copies`` times, some
    with the other label), shuffled; sparse, with explicit structure for the merge."""
    rng = np.random.default_rng(seed)
    P = rng.standard_normal((n_distinct, d)) * (rng.random((n_distinct, d)) < density)
    if binary:
        P = (P != 0).astype(np.float64)
    labels = (rng.random(n_distinct) < 0.5).astype(np.float64)
    reps = rng.integers(1, copies + 1, size=n_distinct)
    idx = np.repeat(np.arange(n_distinct), reps)
    X = P[idx]
    y = labels[idx].copy()
    flip = rng.random(idx.size) < 0.15  # some copies with the other label: other groups
    y[flip] = 1.0 - y[flip]
    order = rng.permutation(idx.size)
    return X[order], y[order]


def _reference_groups(X, y):
    """Group ids of the (row, label) pairs by first appearance (pure Python)."""
    Xc = sp.csr_matrix(X)
    Xc.sort_indices()
    seen, out = {}, []
    for i in range(Xc.shape[0]):
        a, b = Xc.indptr[i], Xc.indptr[i + 1]
        key = (Xc.indices[a:b].tobytes(), Xc.data[a:b].tobytes(), float(y[i]))
        out.append(seen.setdefault(key, len(seen)))
    return np.array(out)


def _csr_arrays(X):
    Xc = sp.csr_matrix(X, dtype=np.float64)
    Xc.sort_indices()
    return Xc.indptr.astype(np.int64), Xc.indices, Xc.data


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("binary", [False, True])
def test_merge_rows_groups_exactly_and_sums_the_weights(weighted, binary):
    X, y = _planted(binary=binary, seed=1)
    n = X.shape[0]
    s = np.random.default_rng(2).uniform(0.1, 3.0, n) if weighted else None
    mr = merge_rows(*_csr_arrays(X), y, X.shape[1], s, columns=True)
    ref = _reference_groups(X, y)
    np.testing.assert_array_equal(mr.inverse, ref)
    assert mr.n_groups == ref.max() + 1 < n
    M = sp.csr_matrix((mr.data, mr.indices, mr.indptr), shape=(mr.n_groups, X.shape[1]))
    np.testing.assert_array_equal(M[mr.inverse].toarray(), X)  # every row is its group's
    np.testing.assert_array_equal(mr.y[mr.inverse], y)
    np.testing.assert_array_equal(mr.first, [np.flatnonzero(ref == g)[0]
                                             for g in range(mr.n_groups)])
    expect = np.bincount(ref, weights=np.ones(n) if s is None else s)
    np.testing.assert_allclose(mr.sample_weight, expect, rtol=1e-14)
    assert mr.unit == binary
    np.testing.assert_array_equal(mr.col_counts, np.diff(M.tocsc().indptr))
    cp, ri, rv = mr.columns  # the CSC arrays of the same merged rows, rows sorted
    Mc = M.tocsc()
    Mc.sort_indices()
    np.testing.assert_array_equal(cp, Mc.indptr)
    np.testing.assert_array_equal(ri, Mc.indices)
    np.testing.assert_array_equal(rv, Mc.data)


def test_merge_rows_gives_up_below_the_share():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((600, 8))  # no two rows alike
    y = (rng.random(600) < 0.5).astype(np.float64)
    assert merge_rows(*_csr_arrays(X), y, 8, min_share=0.05) is None
    X[1] = X[0]
    y[1] = y[0]
    arrays = _csr_arrays(X)
    assert merge_rows(*arrays, y, 8, min_share=0.05) is None  # one copy in 600
    mr = merge_rows(*arrays, y, 8)  # no share asked: merged all the same
    assert mr.n_groups == 599 and mr.inverse[1] == 0
    # many copies: past the sample and the exact count (600 rows of 60 patterns)
    Xp, yp = _planted(n_distinct=60, copies=20, d=8, seed=4)
    mr = merge_rows(*_csr_arrays(Xp), yp, 8, min_share=0.1)
    assert mr is not None and mr.n_groups < 0.9 * Xp.shape[0]


def test_merge_rows_refuses_bad_input():
    X, y = _planted(seed=5)
    indptr, indices, data = _csr_arrays(X)
    d = X.shape[1]
    with pytest.raises(ValueError, match="n_features"):
        merge_rows(indptr, indices, data, y, d - 1)
    with pytest.raises(ValueError, match="y must have shape"):
        merge_rows(indptr, indices, data, y[:-1], d)
    with pytest.raises(ValueError, match="sample_weight must have shape"):
        merge_rows(indptr, indices, data, y, d, np.ones(3))
    with pytest.raises(ValueError, match="min_share"):
        merge_rows(indptr, indices, data, y, d, min_share=1.0)
    bad = indptr.copy()
    bad[3], bad[4] = bad[4], bad[3] - 1
    with pytest.raises(ValueError, match="non-decreasing"):
        merge_rows(bad, indices, data, y, d)
    with pytest.raises(ValueError, match="indptr"):
        merge_rows(indptr + 1, indices, data, y, d)
    Y = np.eye(3)[np.arange(X.shape[0]) % 3]
    with pytest.raises(ValueError, match="binary"):
        merged_log_loss(LogLossData(X, Y), merge_rows(indptr, indices, data, y, d))


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_merged_data_term_is_the_same_function(sparse, weighted, fit_intercept):
    X, y = _planted(seed=6)
    n, d = X.shape
    s = np.random.default_rng(7).uniform(0.2, 2.0, n) if weighted else None
    data = LogLossData(sp.csr_matrix(X) if sparse else X, y, s, fit_intercept=fit_intercept)
    mr = merge_rows(*_csr_arrays(X), data.y, d, data.sample_weight)
    merged = merged_log_loss(data, mr)
    assert merged.n_samples == mr.n_groups < n and merged.layout == data.layout
    rng = np.random.default_rng(8)
    for _ in range(3):
        theta = rng.standard_normal(data.n_params)
        v = rng.standard_normal(data.n_params)
        f0, g0 = data.loss_grad(theta)
        f1, g1 = merged.loss_grad(theta)
        assert f1 == pytest.approx(f0, rel=1e-13)
        np.testing.assert_allclose(g1, g0, rtol=1e-12, atol=1e-12 * np.abs(g0).max())
        h0, h1 = data.hessp(theta, v), merged.hessp(theta, v)
        np.testing.assert_allclose(h1, h0, rtol=1e-12, atol=1e-12 * np.abs(h0).max())
        # per-sample quantities of the merged rows map back through ``inverse``
        np.testing.assert_allclose(merged.margins(theta)[mr.inverse], data.margins(theta),
                                   rtol=1e-14, atol=1e-14)


def _fit(X, y, s, C, merge, monkeypatch, **kw):
    ob = Objective(X, y, s, C=C, penalty="l1")
    with monkeypatch.context() as mp:
        if not merge:
            mp.setattr(l1, "_merged_of", lambda data, compute=True: None)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            res = l1.l1_newton(ob, np.zeros(ob.n_params), tol=1e-10, max_iter=500, **kw)
    found = l1._cached(l1._MERGED, ob.data)
    return res, ob, found


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("full_columns", [False, True])
def test_fit_with_repeated_rows_equals_the_fit_without_the_merge(sparse, weighted,
                                                                 full_columns, monkeypatch):
    # few features, every one in the first working set: the fit takes X's full column copy
    # (and merges its rows) in its first round, or at once with full_columns
    X, y = _planted(n_distinct=150, copies=6, d=10, seed=9, density=0.5)
    s = np.random.default_rng(10).uniform(0.5, 2.0, X.shape[0]) if weighted else None
    Xs = sp.csr_matrix(X) if sparse else X
    merged, ob, found = _fit(Xs, y, s, 0.5, True, monkeypatch, full_columns=full_columns)
    assert found is not None and found is not False, "the rows were not merged"
    assert found.n_samples < 0.7 * X.shape[0]
    plain, ob2, found2 = _fit(Xs, y, s, 0.5, False, monkeypatch, full_columns=full_columns)
    assert found2 is None
    assert merged.converged and plain.converged
    F1, F2 = ob.value(merged.theta), ob.value(plain.theta)
    assert abs(F1 - F2) <= 1e-12 * abs(F2)
    np.testing.assert_allclose(merged.theta, plain.theta, rtol=1e-7, atol=1e-8)
    # and against the objective's own optimality measure on the original rows
    g = ob.value_grad(merged.theta)[1]
    assert np.abs(ob.min_norm_subgradient(merged.theta, g)).max() <= 1e-8 * max(
        1.0, np.abs(ob.value_grad(np.zeros(ob.n_params))[1]).max())


def test_sets_without_repeats_are_not_merged(monkeypatch):
    rng = np.random.default_rng(11)
    X = rng.standard_normal((400, 6))
    y = (rng.random(400) < 1 / (1 + np.exp(-X[:, 0]))).astype(np.float64)
    res, ob, found = _fit(X, y, None, 1.0, True, monkeypatch, full_columns=True)
    assert found is False and res.converged
