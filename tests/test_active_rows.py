"""Hessian products over the rows whose curvature matters (``Objective.row_subset_hessp``,
``LogLossData.row_subset_curvature``) and newton-cg's ``curvature_tol`` that uses them."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from fastlogit.objective import Objective, RowSubsetCurvature
from fastlogit.solvers import SOLVERS, ConvergenceWarning


def _separable(rng, n=240, d=400, density=0.04):
    """Wide sparse count data, separable by a known w: at large C and a point near the
    separator most rows have negligible curvature."""
    X = sp.random(n, d, density=density, format="csr", random_state=rng,
                  data_rvs=lambda k: rng.integers(1, 6, size=k).astype(float))
    w = rng.standard_normal(d)
    y = (X @ w > 0).astype(float)
    return X, y, w


def _explicit_hessp(ob, theta, v, rows):
    """C X~_S^T diag(D_S) X~_S v + a v_w from SciPy, S = ``rows`` (the reference)."""
    X = sp.csr_matrix(ob.design.to_scipy(), dtype=np.float64)[rows]
    D = ob.data.curvature(theta).astype(np.float64)[rows]
    d = ob.n_features
    u = X @ v[:d] + (v[d] if ob.fit_intercept else 0.0)
    out = np.empty(ob.n_params)
    out[:d] = ob.C * (X.T @ (D * u)) + ob.l2_strength * v[:d]
    if ob.fit_intercept:
        out[d] = ob.C * float(D @ u)
    return out


@pytest.mark.parametrize("dense", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_row_subset_product_within_its_bound_of_the_full_product(rng, dense, dtype,
                                                                 fit_intercept):
    X, y, w = _separable(rng)
    Xd = (X.toarray() if dense else X).astype(dtype)
    sw = rng.uniform(0.5, 2.0, size=y.size)
    ob = Objective(Xd, y, sample_weight=sw, C=1e3, fit_intercept=fit_intercept)
    theta = np.r_[3.0 * w, 0.1] if fit_intercept else 3.0 * w
    ob.value_grad(theta)
    max_bound = 0.5
    hessp, bound, _ = ob.row_subset_hessp(theta, max_bound, max_fraction=1.0)
    sub = ob.data.row_subset_curvature(theta, max_bound / ob.C, max_fraction=1.0)
    assert isinstance(sub, RowSubsetCurvature)
    # most rows are skipped, and the stated bound is the skipped rows' traces, <= max_bound
    assert sub.n_kept < 0.6 * y.size
    D = ob.data.curvature(theta).astype(np.float64)
    row_sq = np.asarray(X.multiply(X).sum(axis=1)).ravel() + fit_intercept
    skipped = np.setdiff1d(np.arange(y.size), sub.rows)
    assert bound == pytest.approx(ob.C * float(D[skipped] @ row_sq[skipped]), rel=1e-5)
    assert bound <= max_bound * (1 + 1e-12)
    eps = 1e-12 if dtype == np.float64 else 1e-5  # the kernels' rounding in X's dtype
    for _ in range(5):
        v = rng.standard_normal(ob.n_params)
        full, part = ob.hessp(theta, v), hessp(v)
        ref = _explicit_hessp(ob, theta, v, sub.rows)
        scale = float(np.abs(full).max())
        np.testing.assert_allclose(part, ref, rtol=0, atol=eps * scale)
        # ||(H - H_S) v|| <= bound ||v||, and H - H_S is positive semi-definite
        assert np.linalg.norm(full - part) <= bound * np.linalg.norm(v) + eps * scale
        assert float(v @ (full - part)) >= -eps * scale * np.linalg.norm(v)


@pytest.mark.parametrize("penalty", ["l2", "elasticnet", None])
def test_row_subset_keeps_every_row_of_non_negligible_weight(rng, penalty):
    X, y, w = _separable(rng)
    ob = Objective(X, y, C=1.0, penalty=penalty, l1_ratio=0.3 if penalty else 0.0)
    theta = ob.zeros()  # every weight 1/4: nothing can be skipped within a small bound
    ob.value_grad(theta)
    sub = ob.data.row_subset_curvature(theta, 1e-3, max_fraction=1.0)
    assert sub.n_kept == y.size and sub.bound == 0.0
    v = rng.standard_normal(ob.n_params)
    hessp, bound, _ = ob.row_subset_hessp(theta, 1e-3, max_fraction=1.0)
    np.testing.assert_array_equal(hessp(v), ob.hessp(theta, v))
    # by default a subset that keeps (nearly) all of X is declined: the copy would not pay
    assert ob.row_subset_hessp(theta, 1e-3) is None


@pytest.mark.parametrize("weight_rtol", [0.0, 1e-3, 0.1])
def test_row_subset_weight_share_bounds_the_intercepts_curvature(rng, weight_rtol):
    X, y, w = _separable(rng)
    ob = Objective(X, y, C=1e3)
    theta = np.r_[0.3 * w, 0.1]  # weights spread over many decades
    ob.value_grad(theta)
    D = ob.data.curvature(theta).astype(np.float64)
    wide = ob.data.row_subset_curvature(theta, 1e6, max_fraction=1.0)
    sub = ob.data.row_subset_curvature(theta, 1e6, weight_rtol, max_fraction=1.0)
    kept = D[sub.rows].sum()
    assert D.sum() - kept <= weight_rtol * kept * (1 + 1e-12)
    assert wide.n_kept < sub.n_kept  # the weights' share, not the trace, was binding
    # the intercept's entry of the product with e_b is the kept weights' sum, times C
    hessp, _, _ = ob.row_subset_hessp(theta, 1e6 * ob.C, weight_rtol, max_fraction=1.0)
    e_b = np.zeros(ob.n_params)
    e_b[-1] = 1.0
    assert hessp(e_b)[-1] == pytest.approx(ob.C * kept, rel=1e-12)


def _check_product(ob, theta, found, rng):
    v = rng.standard_normal(ob.n_params)
    ref = _explicit_hessp(ob, theta, v, found[2].rows)
    np.testing.assert_allclose(found[0](v), ref, rtol=0, atol=1e-12 * np.abs(ref).max())
    # the bound is over the rows outside the copy
    D = ob.data.curvature(theta).astype(np.float64)
    X = ob.design.to_scipy()
    out = np.setdiff1d(np.arange(ob.n_samples), found[2].rows)
    want = ob.C * float(D[out] @ (np.asarray(X.multiply(X).sum(axis=1)).ravel()[out] + 1))
    assert found[1] == pytest.approx(want, rel=1e-9, abs=1e-300)


def test_row_subset_copy_serves_again_with_missing_rows_appended(rng):
    X, y, w = _separable(rng)
    ob = Objective(X, y, C=1e3)
    theta = np.r_[3.0 * w, 0.1]
    ob.value_grad(theta)
    first = ob.row_subset_hessp(theta, 0.5, max_fraction=1.0)
    # a little further along: weights shrink, the kept set is a subset of the first one's
    theta2 = np.r_[3.05 * w, 0.1]
    ob.value_grad(theta2)
    fresh = ob.row_subset_hessp(theta2, 0.5, max_fraction=1.0)
    assert set(fresh[2].rows) < set(first[2].rows)
    again = ob.row_subset_hessp(theta2, 0.5, max_fraction=1.0, reuse=first)
    # the copy serves again (same memory, no row appended): every earlier row kept
    assert np.shares_memory(again[2].design.arrays[0], first[2].design.arrays[0])
    np.testing.assert_array_equal(again[2].rows, first[2].rows)
    assert again[1] <= fresh[1] * (1 + 1e-12) and fresh[1] <= 0.5 * (1 + 1e-12)
    _check_product(ob, theta2, again, rng)
    # back at the first point from the second's (smaller) copy: its missing rows appended
    ob.value_grad(theta)
    small = ob.row_subset_hessp(theta2, 0.5, max_fraction=1.0)
    big = ob.row_subset_hessp(theta, 0.5, max_fraction=1.0, reuse=small)
    assert set(big[2].rows) == set(first[2].rows)
    assert np.shares_memory(big[2].design.arrays[0], small[2].design.arrays[0])
    _check_product(ob, theta, big, rng)
    _check_product(ob, theta2, small, rng)  # the earlier result is intact
    # an earlier result of a copy that has grown since is not appended to again
    other = ob.row_subset_hessp(theta, 0.5, max_fraction=1.0, reuse=small)
    assert not np.shares_memory(other[2].design.arrays[0], small[2].design.arrays[0])
    _check_product(ob, theta, other, rng)
    _check_product(ob, theta, big, rng)


def test_newton_cg_asks_for_subsets_less_often_once_declined(rng, monkeypatch):
    X, y, w = _separable(rng)
    ob = Objective(X, y, C=1e-3)  # every weight near 1/4: nothing worth skipping
    calls = []
    original = Objective.row_subset_hessp

    def counted(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        calls.append(out is None)
        return out

    monkeypatch.setattr(Objective, "row_subset_hessp", counted)
    res = _fit(ob, curvature_tol=0.3)
    # asked at steps 1, 3, 6, 11, ...: declined each time, 1, 2, 4, ... steps apart
    asked = [1, 3, 6, 11, 20, 37]
    assert res.n_iter >= 2
    assert calls == [True] * sum(k <= res.n_iter for k in asked)


def test_rows_to_skip_is_the_sorted_prefix(rng):
    """The bucketed choice takes the rows a full sort would: increasing t while both sums
    fit (weights over many decades, exact zeros, with and without the weights' cap)."""
    from fastlogit.objective import _NO_PTR, _rows_to_skip

    for trial in range(60):
        n = int(rng.integers(1, 2000))
        curv = 0.25 * rng.random(n) ** int(rng.integers(1, 40))
        curv[rng.random(n) < 0.05] = 0.0
        row_sq = rng.integers(1, 500, n).astype(float)
        max_bound = 10 ** rng.uniform(-8, 2)
        cap = np.inf if trial % 2 else 10 ** rng.uniform(-6, 1)
        rows, total, nnz = _rows_to_skip(curv, row_sq, max_bound, cap, _NO_PTR, 7)
        t = curv * row_sq
        want, st, sd = [], 0.0, 0.0
        for i in np.argsort(t, kind="stable"):
            if st + t[i] > max_bound or sd + curv[i] > cap:
                break
            st, sd = st + t[i], sd + curv[i]
            want.append(i)
        assert sorted(rows.tolist()) == sorted(want)
        assert nnz == 7 * len(want)
        assert total == pytest.approx(float(t[want].sum()), rel=1e-12, abs=1e-300)


def test_row_subset_of_a_row_block(rng):
    """A block's CSR indptr does not start at 0: the gathered rows are still its own."""
    X, y, w = _separable(rng)
    block = Objective(X, y, C=1e3).rows(40, 200)
    theta = np.r_[3.0 * w, 0.0]
    block.value_grad(theta)
    sub = block.data.row_subset_curvature(theta, 1e-3, max_fraction=1.0)
    np.testing.assert_array_equal(sub.design.to_scipy().toarray(),
                                  X[40:200][sub.rows].toarray())


def test_row_subset_declines_softmax_and_rejects_bad_bounds(rng):
    X, y, w = _separable(rng)
    Y = np.eye(3)[rng.integers(0, 3, size=y.size)]
    soft = Objective(X, Y, C=10.0)
    assert soft.row_subset_hessp(soft.zeros(), 1.0, max_fraction=1.0) is None
    ob = Objective(X, y)
    for bad in (-1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match="max_bound must be a finite number >= 0"):
            ob.row_subset_hessp(ob.zeros(), bad)
        with pytest.raises(ValueError, match="curvature_tol must be a finite number >= 0"):
            SOLVERS["newton-cg"](ob, ob.zeros(), curvature_tol=bad)


def _fit(ob, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        return SOLVERS["newton-cg"](ob, ob.zeros(), tol=1e-10, max_iter=300,
                                    preconditioner=None, line_search="minimize", **kw)


@pytest.mark.parametrize("C", [1.0, 1e2, 1e4])
def test_newton_cg_with_row_subsets_reaches_the_same_optimum(rng, C, monkeypatch):
    X, y, w = _separable(rng)
    calls = []
    original = RowSubsetCurvature.hessp

    def counted(self, v):
        calls.append(self.n_kept)
        return original(self, v)

    monkeypatch.setattr(RowSubsetCurvature, "hessp", counted)
    ref = _fit(Objective(X, y, C=C))
    assert not calls
    ob = Objective(X, y, C=C)
    res = _fit(ob, curvature_tol=1.0)
    assert res.converged
    if C >= 1e2:  # at large C products over subsets were used
        assert calls and min(calls) < 0.95 * y.size
    # both stop at ||grad||_inf <= thr = 1e-10 max(1, ||grad F(0)||_inf), the same rule, and
    # the Hessian is >= I on w (a = 1): the two points agree to about thr, entry by entry
    thr = 1e-10 * max(1.0, float(np.abs(ob.value_grad(ob.zeros())[1]).max()))
    assert float(np.abs(ob.value_grad(res.theta)[1]).max()) <= thr
    np.testing.assert_allclose(res.theta, ref.theta, rtol=0, atol=thr)


def test_curvature_tol_is_ignored_where_no_subset_applies(rng):
    """Softmax (no row subsets) and a penalty without an L2 strength: the fit is the one
    without the option, bit for bit."""
    X, y, w = _separable(rng, n=120, d=60, density=0.2)
    Y = np.eye(3)[rng.integers(0, 3, size=y.size)]
    for ob_a, ob_b in ((Objective(X, Y, C=10.0), Objective(X, Y, C=10.0)),
                       (Objective(X, y, C=10.0, penalty=None),
                        Objective(X, y, C=10.0, penalty=None))):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            a = SOLVERS["newton-cg"](ob_a, ob_a.zeros(), tol=1e-8, max_iter=50)
            b = SOLVERS["newton-cg"](ob_b, ob_b.zeros(), tol=1e-8, max_iter=50,
                                     curvature_tol=1.0)
        np.testing.assert_array_equal(a.theta, b.theta)
