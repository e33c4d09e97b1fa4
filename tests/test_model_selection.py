"""Warm-started regularisation paths, LogisticRegressionCV, threads (issue 17)."""
import functools
import os
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegressionCV as SkLogisticRegressionCV
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastlogit._config import effective_n_threads
from fastlogit.estimator import LogisticRegression
from fastlogit.model_selection import LogisticRegressionCV, regularization_path, warm_path
from fastlogit.objective import Objective
from fastlogit.solvers import INFO, ConvergenceWarning, choose_solver, solve, solvers_for

#: Every deterministic solver, from the declarations: (name, penalty it is tested with).
DETERMINISTIC = ([(s, "l2") for s in solvers_for() if not INFO[s].stochastic
                  and not INFO[s].nonsmooth]
                 + [(s, "l1") for s in solvers_for(nonsmooth=True) if not INFO[s].stochastic])


def _binary(rng, n=400, d=30, sparse=False):
    X = rng.standard_normal((n, d))
    if sparse:
        X[rng.random((n, d)) < 0.7] = 0.0
    w = rng.standard_normal(d) * (rng.random(d) < 0.3)
    y = (X @ w + rng.logistic(size=n) > 0).astype(float)
    return (sp.csr_matrix(X) if sparse else X), y


@functools.lru_cache(maxsize=1)
def _a9a_head(n=2000):
    """The first n rows of the shared a9a set, or None when ../shared is absent."""
    try:
        from benchmarks.shared_data import load_shared

        X, y = load_shared("a9a")
    except (ImportError, FileNotFoundError):
        return None
    return X[:n], y[:n]


def _iterations(objective, Cs, solver, warm):
    total, theta = 0, None
    for C in Cs:
        objective.C = C
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            r = solve(objective, solver, theta if warm else None, tol=1e-4, max_iter=300)
        total += r.n_iter
        theta = r.theta
    return total


# ---------------------------------------------------------------- warm starts pay
@pytest.mark.parametrize("solver,penalty", DETERMINISTIC, ids=lambda v: str(v))
@pytest.mark.parametrize("source", ["synthetic", "a9a"])
def test_warm_path_needs_fewer_iterations_than_cold_fits(rng, solver, penalty, source):
    data = _binary(rng, sparse=True) if source == "synthetic" else _a9a_head()
    if data is None:
        pytest.skip("shared data sets (../shared/datasets) not available")
    X, y = data
    Cs = np.logspace(-2, 0.5, 20)  # the range of the issue (0.01 ... 3)
    objective = Objective(X, y, C=1.0, penalty=penalty, n_threads=1)
    cold = _iterations(objective, Cs, solver, warm=False)
    warm = _iterations(objective, Cs, solver, warm=True)
    assert warm < cold, (solver, warm, cold)


@pytest.mark.parametrize("solver,penalty", DETERMINISTIC, ids=lambda v: str(v))
def test_warm_path_with_extrapolation_beats_cold_fits(rng, solver, penalty):
    # warm_path itself (extrapolated starts, kept gradients) against a cold fit per C, on
    # the same 20-C grid: fewer iterations in all, and the same optima
    X, y = _binary(rng, sparse=True)
    Cs = np.logspace(-2, 1, 20)
    objective = Objective(X, y, C=1.0, penalty=penalty, n_threads=1)
    cold = _iterations(objective, Cs, solver, warm=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        thetas, n_iter, _, _ = warm_path(objective, Cs, solver, tol=1e-4, max_iter=300)
    assert n_iter.sum() < cold, (solver, n_iter.sum(), cold)
    tight, _, conv, _ = warm_path(Objective(X, y, penalty=penalty, n_threads=1), Cs[::4],
                                  solver, tol=1e-10, max_iter=3000)
    for C, theta in zip(Cs[::4], tight):
        objective.C = C
        ref = solve(objective, "l1" if penalty == "l1" else "newton-cholesky", None,
                    tol=1e-10, max_iter=3000).theta
        np.testing.assert_allclose(theta, ref, atol=1e-6)


def test_extrapolated_start_is_taken_only_when_better(rng):
    from fastlogit.model_selection import _next_start

    X, y = _binary(rng)
    objective = Objective(X, y, C=1.0, n_threads=1)
    thetas = []
    for C in (0.1, 0.3):
        objective.C = C
        thetas.append(solve(objective, "newton-cholesky", None, tol=1e-12).theta)
    objective.C = 0.9
    fitted = [(np.log(0.1), thetas[0]), (np.log(0.3), thetas[1])]
    start, done = _next_start(objective, thetas[1], fitted, np.log(0.9), tol=1e-8)
    value = [objective.value_grad(t)[0] for t in (start, thetas[1])]
    assert value[0] < value[1] and not done
    # a last optimum that already meets the rule at the new C is kept as it is, and the
    # path is told so (it records the fit without calling the solver)
    kept, done = _next_start(objective, thetas[1], fitted, np.log(0.9), tol=1e3)
    assert kept is thetas[1] and done
    # a bad extrapolation (far beyond) is refused: F is lower at the last optimum
    worse, done = _next_start(objective, thetas[1], [(np.log(0.3), thetas[1] + 50.0),
                                                      (np.log(0.31), thetas[1])],
                              np.log(0.9), tol=1e-8)
    assert worse is thetas[1] and not done


def test_fits_whose_start_meets_the_rule_skip_the_solver(rng):
    # L1 on a path from C = 1e-4: below C_max = 1 / ||grad L(w=0, b*)||_inf every optimum is
    # the intercept-only model, which the path's start already is; those fits are recorded
    # with 0 iterations without a solver call, and every fit agrees with an independent
    # cold fit of the solver at the same C (same rule, same optimum within the tolerance)
    from fastlogit.solvers import SOLVERS

    X, y = _binary(rng, sparse=True)
    Cs = np.logspace(-4, 1, 8)
    calls = []

    real = SOLVERS["l1"]

    def counted(*args, **kwargs):
        calls.append(args[0].C)
        return real(*args, **kwargs)

    counted.info = real.info
    SOLVERS["l1"] = counted
    try:
        objective = Objective(X, y, penalty="l1", n_threads=1)
        thetas, n_iter, conv, _ = warm_path(objective, Cs, "l1", tol=1e-8, max_iter=500)
    finally:
        SOLVERS["l1"] = real
    zero = n_iter == 0
    assert zero[:3].all() and conv.all()  # C <= 1e-3 * 5: w = 0 is optimal here
    assert len(calls) == int((~zero).sum())  # only the fits that move call the solver
    assert not thetas[zero][:, :-1].any()
    for C, theta in zip(Cs, thetas):
        objective.C = C
        ref = solve(objective, "l1", None, tol=1e-10, max_iter=3000).theta
        np.testing.assert_allclose(theta, ref, atol=1e-5)


@pytest.mark.parametrize("solver", [s for s, p in DETERMINISTIC if p == "l2"])
def test_l2_path_takes_a_step_at_every_C(solver):
    # The same imbalanced data with L2: the rule's threshold grows with C, the previous
    # optimum's gradient at the next C is about (C_next / C_prev - 1) ||w||_inf, and the
    # plain rule returned the large-C fits' starts unmoved; each fit now takes a step and
    # ends below the previous optimum's F at its C.
    X, y = _imbalanced_binary()
    Cs = np.logspace(-2, 6, 9)
    objective = Objective(X, y, n_threads=1)
    thetas, n_iter, conv, _ = warm_path(objective, Cs, solver, tol=1e-4, max_iter=200)
    assert conv.all() and (n_iter >= 1).all()
    for i in range(1, Cs.size):
        objective.C = Cs[i]
        F = [objective.value_grad(t)[0] for t in thetas[i - 1:i + 1]]
        assert F[1] < F[0] - 1e-3  # (the previous optimum: F equal to the last bit)


@pytest.mark.parametrize("l1_ratio", [0.0, 1.0])
def test_estimator_warm_start_steps_at_a_larger_C(l1_ratio):
    # A path by hand (warm_start=True, C raised between fits): the refit takes a step and
    # ends lower at the new C than its start, as regularization_path's fits do; a refit at
    # an optimum to the absolute tol returns it unmoved.
    X, y = _imbalanced_binary()
    clf = LogisticRegression(l1_ratio=l1_ratio, C=1e3, solver="auto", tol=1e-4,
                             warm_start=True).fit(X, y)
    start = np.append(clf.coef_.ravel(), clf.intercept_)
    clf.set_params(C=1e4).fit(X, y)
    assert clf.n_iter_[0] >= 1 and clf.converged_
    objective = Objective(X, y, C=1e4, penalty="l1" if l1_ratio else "l2")
    F = [objective.value_grad(t)[0] + objective.l1_value(t)
         for t in (start, np.append(clf.coef_.ravel(), clf.intercept_))]
    assert F[1] < F[0] - 1e-3
    clf.set_params(tol=1e-12, max_iter=1000).fit(X, y)
    coef = clf.coef_.copy()
    clf.set_params(tol=1e-4).fit(X, y)
    assert clf.n_iter_[0] == 0 and np.array_equal(clf.coef_, coef)


def _imbalanced_binary(n=3000, d=60):
    rng = np.random.default_rng(0)
    X = (rng.random((n, d)) < 0.08).astype(float)
    w = rng.standard_normal(d) * 2 * (rng.random(d) < 0.3)
    y = (X @ w - 4.0 + rng.logistic(size=n) > 0).astype(float)
    return sp.csr_matrix(X), y


def test_l1_path_takes_a_step_at_every_C_above_the_first_entry():
    # Imbalanced binary features (as w8a): the rule's threshold tol * C ||S(0)||_inf grows
    # with C while the previous optimum's violation stays about C_next / C_prev - 1, so with
    # the plain rule the fits at C >= 167 returned the previous C's model unmoved (0
    # iterations, F equal).  Each fit above the first entry now takes a step and ends below
    # the previous optimum's F at its C; the intercept-only fits below it still skip the
    # solver, and a start optimal to the rule's floor is returned unmoved.
    from fastlogit.solvers.l1 import l1_newton

    X, y = _imbalanced_binary()
    Cs = np.logspace(-4, 4, 10)
    objective = Objective(X, y, penalty="l1", n_threads=1)
    thetas, n_iter, conv, _ = warm_path(objective, Cs, "l1", tol=1e-4, max_iter=100)
    assert conv.all()
    moved = np.flatnonzero([t[:-1].any() for t in thetas])
    assert moved.size == 7 and (n_iter[:moved[0]] == 0).all()
    assert (n_iter[moved] >= 1).all()
    for i in moved:
        objective.C = Cs[i]
        F = [objective.value_grad(t)[0] + objective.l1_value(t) for t in thetas[i - 1:i + 1]]
        assert F[1] < F[0] - 0.01  # (the previous optimum: F equal to the last bit)
    objective.C = Cs[-1]
    best = l1_newton(objective, thetas[-1], tol=1e-12, max_iter=500)
    again = l1_newton(objective, best.theta, tol=1e-4, min_iter=1)
    assert best.grad_norm <= 1e-4 and again.n_iter == 0 and again.converged
    assert np.array_equal(again.theta, best.theta)


def test_path_starts_at_the_intercept_only_optimum(rng):
    from fastlogit.model_selection import _intercept_start

    X, y = _binary(rng)
    y[:300] = 0.0  # imbalanced
    sw = rng.uniform(0.5, 2.0, y.size)
    objective = Objective(X, y, sample_weight=sw, penalty=None)
    theta = _intercept_start(objective)
    assert not theta[:-1].any()
    # the intercept-only model's optimum: the gradient's intercept entry vanishes there
    assert abs(objective.value_grad(theta)[1][-1]) < 1e-10
    assert not _intercept_start(Objective(X, np.zeros_like(y))).any()  # one class: zeros
    assert not _intercept_start(Objective(X, y, fit_intercept=False)).any()


def test_kept_gradients_spare_repeated_passes(rng):
    from fastlogit.model_selection import _KeepsLastGradients

    X, y = _binary(rng)
    data = Objective(X, y).data
    kept = _KeepsLastGradients(data)
    a, b = np.zeros(X.shape[1] + 1), np.full(X.shape[1] + 1, 0.01)
    la, ga = kept.loss_grad(a)
    lb, gb = kept.loss_grad(b)
    passes = data.n_evals["value_grad"]
    la2, ga2 = kept.loss_grad(a)
    lb2, gb2 = kept.loss_grad(b)
    assert data.n_evals["value_grad"] == passes  # both points still kept
    assert la2 == la and lb2 == lb and np.array_equal(ga2, ga) and np.array_equal(gb2, gb)
    ga2 += 1.0  # the caller owns what it gets
    assert np.array_equal(kept.loss_grad(a)[1], ga)
    assert kept.n_features == data.n_features  # everything else is the data term's
    # Objective.value_grad asks an L2 / elastic-net data term for its fused l2_loss_grad:
    # through the wrapper it is served from the kept gradients, the same numbers as the data
    # term's own, without a pass
    for penalty in ("l2", "elasticnet", "l1"):
        objective = Objective(X, y, C=0.7, penalty=penalty, l1_ratio=0.5)
        checks = objective.with_data(_KeepsLastGradients(objective.data))
        f, g = objective.value_grad(b)
        passes = objective.data.n_evals["value_grad"]
        f1, g1 = checks.value_grad(b)
        checks.C = objective.C = 2.0  # a path's next C: the kept unscaled gradient serves
        f2, g2 = checks.value_grad(b)
        assert objective.data.n_evals["value_grad"] == passes + 1
        assert f1 == f and np.array_equal(g1, g)
        f3, g3 = objective.value_grad(b)
        assert f2 == f3 and np.array_equal(g2, g3)
    # while a solver runs (keep False) kept points are served, new ones not kept
    kept.keep = False
    c = np.full(X.shape[1] + 1, -0.02)
    passes = data.n_evals["value_grad"]
    kept.loss_grad(a)
    kept.loss_grad(c)
    kept.loss_grad(c)
    assert data.n_evals["value_grad"] == passes + 2


def test_paths_in_threads_keep_order_limit_blas_and_raise():
    import threading
    import time

    from threadpoolctl import threadpool_info

    from fastlogit.model_selection import _run_interleaved

    def blas_threads():
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    seen = []

    def path(i, delay):
        for step in range(3):
            time.sleep(delay)  # the later paths' steps finish first
            seen.append((i, step, threading.get_ident(), blas_threads()))
            yield
        return i

    out = _run_interleaved([path(i, 0.01 * (4 - i)) for i in range(5)], 2)
    assert out == [0, 1, 2, 3, 4]
    assert len({ident for _, _, ident, _ in seen}) == 2  # two worker threads shared the steps
    assert all(all(n == 1 for n in counts) for *_, counts in seen)  # BLAS on one thread
    for i in range(5):  # each path's steps in order, one at a time
        assert [s for k, s, _, _ in seen if k == i] == [0, 1, 2]
    # the paths advance together: the last path's first step long before the first
    # path's last (whole paths per thread would start it after paths 0 and 1 ended)
    order = [(k, step) for k, step, _, _ in seen]
    assert order.index((4, 0)) < order.index((0, 2))

    def fails(i):
        yield
        if i == 3:
            raise ValueError("fold 3 failed")
        return i

    with pytest.raises(ValueError, match="fold 3 failed"):
        _run_interleaved([fails(i) for i in range(5)], 2)


@pytest.mark.parametrize("n_jobs,total,n_tasks,want", [
    (None, 2, 5, (2, 1)), (None, 8, 5, (5, 1)), (None, 1, 5, (1, 1)), (None, 4, 1, (1, 4)),
    (1, 4, 5, (1, 4)), (2, 4, 5, (2, 2)), (-1, 2, 5, (2, 1))])
def test_threads_are_shared_out_over_paths(n_jobs, total, n_tasks, want):
    from joblib import effective_n_jobs

    from fastlogit.model_selection import _share_threads

    jobs, threads = _share_threads(n_jobs, total, n_tasks, lambda j: min(
        effective_n_jobs(j), 2) if j == -1 else effective_n_jobs(j))
    assert (jobs, threads) == want
    if n_jobs is None:
        assert jobs * threads <= total


@pytest.mark.parametrize("total,jobs,n_tasks,given,want", [
    # 5 folds on 2 threads: one thread each while 2 or more are left; the last alone gets
    # None (the kernels' own load-aware count of every core)
    (2, 2, 5, None, [1, 1, 1, 1, None]),
    (4, 4, 6, None, [1, 1, 1, 1, 2, None]),  # 3 left on 4 threads: still 1 each
    (8, 2, 3, None, [4, 4, None]),
    (2, 2, 5, 2, [1, 1, 1, 1, 1]),  # an explicit n_threads: fixed counts (reproducible)
])
def test_finished_paths_hand_their_threads_to_the_tail(total, jobs, n_tasks, given, want):
    from fastlogit.model_selection import _ThreadShare

    share = _ThreadShare(total, max(1, total // jobs), jobs, n_tasks, given)
    seen = []
    for _ in range(n_tasks):
        seen.append(share())  # a running path's next fit, then that path ends
        share.finished()
    assert seen == want
    assert share() == max(1, total // jobs)  # nothing left: the static count


def test_cv_with_the_tail_share_matches_one_thread(rng, monkeypatch):
    # n_threads=None on a 2-thread budget (two fold paths at a time, the fifth with the
    # freed thread) chooses the same C_ with the same scores as everything on one thread
    import fastlogit._config as config

    X, y = _binary(rng, n=1500, d=40, sparse=True)
    kw = dict(Cs=5, cv=5, l1_ratios=(0.0,), scoring="accuracy", solver="lbfgs", tol=1e-8,
              max_iter=500, use_legacy_attributes=False)
    one = LogisticRegressionCV(n_threads=1, **kw).fit(X, y)
    seen = []
    monkeypatch.setattr(config, "effective_n_threads", lambda n=None: 2 if n is None else n)
    from fastlogit.model_selection import _ThreadShare

    call = _ThreadShare.__call__
    monkeypatch.setattr(_ThreadShare, "__call__", lambda self: seen.append(call(self))
                        or seen[-1])
    tail = LogisticRegressionCV(n_threads=None, **kw).fit(X, y)
    assert len(seen) == 5 * 5 and set(seen) <= {1, None}
    assert tail.C_ == one.C_
    np.testing.assert_allclose(tail.scores_, one.scores_, atol=1e-12)
    np.testing.assert_allclose(tail.coef_, one.coef_, rtol=1e-7, atol=1e-9)



def _no_speculation(monkeypatch):
    from fastlogit import model_selection

    monkeypatch.setattr(model_selection._Speculation, "arrive", lambda self, f, j, early: None)


@pytest.mark.parametrize("scoring,l1_ratios,weighted,fit_intercept", [
    ("accuracy", (1.0,), False, True), ("neg_log_loss", (1.0,), True, True),
    ("accuracy", (1.0,), True, False), ("neg_log_loss", (0.5, 1.0), False, True),
    ("accuracy", (0.0,), False, True)])
def test_speculated_refit_is_the_refit(rng, monkeypatch, scoring, l1_ratios, weighted,
                                       fit_intercept):
    # with the paths in threads the refit of a penalty with an L1 part starts once every
    # path has fitted all Cs but the last, at the best pair so far, and is kept when the
    # last C does not change it: the fit (coef_, C_, scores_, paths) is the one made
    # without the speculation; an L2 CV does not speculate
    from fastlogit import model_selection

    X, y = _binary(rng, n=500, d=60, sparse=True)
    sw = rng.uniform(0.5, 2.0, y.size) if weighted else None
    kw = dict(Cs=np.logspace(-2, 2, 6), cv=4, l1_ratios=l1_ratios, scoring=scoring,
              solver="auto", tol=1e-6, max_iter=300, use_legacy_attributes=False,
              n_threads=2, fit_intercept=fit_intercept)
    made = []
    result_for = model_selection._Speculation.result_for
    monkeypatch.setattr(model_selection._Speculation, "result_for",
                        lambda self, jl, ic: made.append(result_for(self, jl, ic)) or made[-1])
    fast = LogisticRegressionCV(**kw).fit(X, y, sample_weight=sw)
    if any(l1_ratios):
        assert len(made) == 1 and made[0] is not None  # speculated and kept
    else:
        assert not made
    _no_speculation(monkeypatch)
    slow = LogisticRegressionCV(**kw).fit(X, y, sample_weight=sw)
    assert fast.C_ == slow.C_ and fast.l1_ratio_ == slow.l1_ratio_
    for name in ("coef_", "intercept_", "scores_", "coefs_paths_", "n_iter_"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(slow, name))


def test_speculated_refit_is_made_again_when_the_last_C_wins(rng, monkeypatch):
    # scores where the last C is strictly best: the refit made at the early best pair is
    # dropped and the refit made at the last C, as without the speculation
    from fastlogit import model_selection

    real = model_selection._fast_scores

    def rigged(kind, X, test, yt, sw, coefs, intercepts):  # early best C 0, then C 5
        out = real(kind, X, test, yt, sw, coefs, intercepts)
        return np.r_[1.0, np.zeros(out.size - 1)] if out.size > 1 else np.array([2.0])

    monkeypatch.setattr(model_selection, "_fast_scores", rigged)
    X, y = _binary(rng, n=400, d=30, sparse=True)
    kw = dict(Cs=np.logspace(-2, 2, 6), cv=3, l1_ratios=(1.0,), scoring="accuracy",
              solver="auto", tol=1e-6, max_iter=300, use_legacy_attributes=False,
              n_threads=2)
    pairs = []
    arrive = model_selection._Speculation.arrive

    def arrived(self, f, j, early):
        task = arrive(self, f, j, early)
        pairs.append(self.pair)
        return task

    monkeypatch.setattr(model_selection._Speculation, "arrive", arrived)
    fast = LogisticRegressionCV(**kw).fit(X, y)
    assert (0, 0) in pairs and fast.C_ == kw["Cs"][-1]
    _no_speculation(monkeypatch)
    slow = LogisticRegressionCV(**kw).fit(X, y)
    np.testing.assert_array_equal(fast.coef_, slow.coef_)
    np.testing.assert_array_equal(fast.intercept_, slow.intercept_)


def test_no_speculated_refit_where_its_passes_take_two_threads(rng, monkeypatch):
    # a refit whose passes over all the rows would take two kernel threads is not started
    # beside the last paths (it would share their cores): made after them, as before
    import fastlogit._config as config
    from fastlogit import model_selection

    arrived = []
    arrive = model_selection._Speculation.arrive
    monkeypatch.setattr(model_selection._Speculation, "arrive",
                        lambda self, *a: arrived.append(1) or arrive(self, *a))
    X, y = _binary(rng, n=400, d=30, sparse=True)
    kw = dict(Cs=np.logspace(-2, 2, 6), cv=3, l1_ratios=(1.0,), scoring="accuracy",
              solver="auto", tol=1e-6, max_iter=300, use_legacy_attributes=False,
              n_threads=2)
    LogisticRegressionCV(**kw).fit(X, y)
    assert len(arrived) == 3  # one path per fold: speculated
    arrived.clear()
    monkeypatch.setattr(config, "kernel_threads", lambda *args: 2)
    LogisticRegressionCV(**kw).fit(X, y)
    assert not arrived


def test_dropped_speculated_refit_does_not_warn_and_a_kept_one_warns_once():
    # the speculated refit's ConvergenceWarnings are kept (per thread) and issued only when
    # its result is used: a refit thrown away must not report a non-convergence
    import threading

    from fastlogit import model_selection
    from fastlogit.solvers._result import (ConvergenceWarning, deferred_convergence_warnings,
                                           warn_not_converged)

    def refit(jl, ic):
        warn_not_converged("l1", 1.0, 0.5, 3)
        return ("theta", jl, ic)

    def speculate():
        spec = model_selection._Speculation(1, (1, 1, 3), refit)
        spec.early[:] = 0.0
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            task = spec.arrive(0, 0, np.array([1.0, 0.0, 0.0]))  # best so far: C 0
            for _ in task:
                pass
        assert spec.pair == (0, 0) and not caught  # deferred, not issued
        return spec

    spec = speculate()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert spec.result_for(0, 1) is None  # the last C changed the pair: dropped
    assert not caught
    spec = speculate()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert spec.result_for(0, 0) == ("theta", 0, 0)
    assert [w.category for w in caught] == [ConvergenceWarning]
    assert "did not converge" in str(caught[0].message)

    # the deferral is this thread's: another thread's solver warns as usual meanwhile
    seen = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with deferred_convergence_warnings() as kept:
            other = threading.Thread(target=lambda: seen.append(
                warn_not_converged("lbfgs", 2.0, 1.0, 5)))
            other.start()
            other.join()
            warn_not_converged("l1", 1.0, 0.5, 3)
    assert len(kept) == 1 and "l1 did not converge" in kept[0]
    assert [str(w.message) for w in caught] == seen


def test_speculated_refit_that_raises_is_made_again(rng, monkeypatch):
    # an exception in the speculated refit drops it: the refit is made after the paths
    from fastlogit import model_selection

    real = model_selection._fit_rows
    calls = []

    def flaky(*args, **kwargs):
        calls.append(args[4])  # rows: None, the refit's
        if len(calls) == 1:
            raise RuntimeError("speculated refit failed")
        return real(*args, **kwargs)

    X, y = _binary(rng, n=400, d=30, sparse=True)
    kw = dict(Cs=np.logspace(-2, 2, 6), cv=3, l1_ratios=(1.0,), scoring="accuracy",
              solver="auto", tol=1e-6, max_iter=300, use_legacy_attributes=False,
              n_threads=2)
    monkeypatch.setattr(model_selection, "_fit_rows", flaky)
    fast = LogisticRegressionCV(**kw).fit(X, y)
    # the speculated refit (raised), then the refit after the paths
    assert len(calls) == 2 and calls[0] is None and calls[1] is None
    monkeypatch.setattr(model_selection, "_fit_rows", real)
    _no_speculation(monkeypatch)
    slow = LogisticRegressionCV(**kw).fit(X, y)
    np.testing.assert_array_equal(fast.coef_, slow.coef_)
    assert fast.C_ == slow.C_

def test_interleaved_paths_run_the_tasks_a_step_hands_over():
    from fastlogit.model_selection import _run_interleaved

    ran = []

    def task(i):
        ran.append(i)
        return "ignored"
        yield

    def path(i):
        yield task(i) if i == 2 else None
        yield
        return i

    assert _run_interleaved([path(i) for i in range(4)], 2) == [0, 1, 2, 3]
    assert ran == [2]

def test_warm_start_at_the_optimum_stops_at_once(rng):
    # The threshold does not depend on the start: a start at the optimum meets it.
    X, y = _binary(rng)
    objective = Objective(X, y, C=0.5)
    first = solve(objective, "lbfgs", None, tol=1e-6)
    again = solve(objective, "lbfgs", first.theta, tol=1e-6)
    assert first.n_iter > 5 and again.n_iter == 0 and again.converged


def test_path_equals_cold_fits_and_keeps_order(rng):
    X, y = _binary(rng, sparse=True)
    Cs = np.array([1.0, 0.01, 10.0, 0.1])
    path = regularization_path(X, y, Cs, tol=1e-10, max_iter=500)
    assert np.array_equal(path.Cs, Cs) and path.coefs.shape == (4, 1, X.shape[1])
    for k, C in enumerate(Cs):
        cold = LogisticRegression(C=C, solver="auto", tol=1e-10, max_iter=500).fit(X, y)
        np.testing.assert_allclose(path.coefs[k], cold.coef_, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(path.intercepts[k], cold.intercept_, rtol=1e-6, atol=1e-8)


def test_path_l1_is_sparse_and_matches_estimator(rng):
    X, y = _binary(rng)
    path = regularization_path(X, y, [0.01, 0.1, 1.0], l1_ratio=1.0, tol=1e-8, max_iter=500)
    nnz = (path.coefs != 0).sum(axis=(1, 2))
    assert path.solver == "l1" and nnz[0] <= nnz[1] <= nnz[2] and nnz[0] < X.shape[1]
    ref = LogisticRegression(C=0.1, l1_ratio=1.0, solver="saga", tol=1e-8,
                             max_iter=500).fit(X, y)
    np.testing.assert_allclose(path.coefs[1], ref.coef_, atol=1e-5)


def test_path_rejects_bad_grid(rng):
    X, y = _binary(rng, n=50, d=3)
    for bad, match in [([0.1, -1.0], "C must be"), ([], "Cs must not be empty"),
                       (0, "Cs must be")]:
        with pytest.raises(ValueError, match=match):
            regularization_path(X, y, bad)


def test_warm_path_on_objective_sets_C(rng):
    X, y = _binary(rng)
    objective = Objective(X, y, C=1.0)
    thetas, n_iter, converged, name = warm_path(objective, np.array([0.1, 1.0]), "newton-cg")
    assert objective.C == 1.0 and converged.all() and name == "newton-cg"
    assert thetas.shape == (2, objective.n_params)


def test_warm_path_starts_at_the_lowest_of_several_starts(rng):
    X, y = _binary(rng)
    objective = Objective(X, y, C=1.0)
    good = solve(objective, "lbfgs", None, tol=1e-10, max_iter=500).theta
    bad = np.full(objective.n_params, 3.0)
    one = warm_path(objective, np.array([1.0]), "lbfgs", good, tol=1e-6)
    for starts in ([bad, good], [good, bad]):
        two = warm_path(objective, np.array([1.0]), "lbfgs", starts, tol=1e-6)
        assert two[1][0] == one[1][0] == 0 and np.array_equal(two[0], one[0])



@pytest.mark.parametrize("start", ["intercept", "given"])
def test_l1_path_hands_the_first_checks_gradient_to_the_solver(rng, monkeypatch, start):
    # the path's first check computes the gradient at the path's start; it is handed to the
    # l1 solver (grad_start) at the first fit that moves, as the solver's own (grad_out) is
    # at every later fit that starts at the last optimum (not at a secant start): each
    # grad_start is the smooth part's gradient at that call's theta0, and the fits reach
    # the optima to the rule
    from fastlogit.solvers import SOLVERS

    X, y = _binary(rng, sparse=True)
    Cs = np.logspace(-3, 2, 7)
    calls = []
    real = SOLVERS["l1"]

    def spy(objective, theta0, **kwargs):
        want = objective.value_grad(theta0)[1]
        calls.append((kwargs.get("grad_start"), want))
        return real(objective, theta0, **kwargs)

    spy.info = real.info
    monkeypatch.setitem(SOLVERS, "l1", spy)
    objective = Objective(X, y, penalty="l1", n_threads=1)
    theta0 = None if start == "intercept" else 0.01 * rng.standard_normal(objective.n_params)
    thetas, n_iter, conv, _ = warm_path(objective, Cs, "l1", theta0, tol=1e-8, max_iter=500)
    assert conv.all() and len(calls) >= 3
    assert calls[0][0] is not None  # the first solver call: the first check's gradient
    for given, want in calls:
        if given is not None:
            np.testing.assert_allclose(given, want, rtol=1e-9, atol=1e-12)
    monkeypatch.setitem(SOLVERS, "l1", real)
    for C, theta in zip(Cs, thetas):
        objective.C = C
        ref = solve(objective, "l1", None, tol=1e-10, max_iter=3000).theta
        np.testing.assert_allclose(theta, ref, atol=1e-5)

@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_l1_paths_check_the_solvers_gradient_rescaled(rng, l1_ratio):
    # the l1 solver's gradient at its optimum (grad_out), rescaled to the next C, is the
    # fresh gradient there, and the rule decided on it is the pass-made check's decision
    from fastlogit.model_selection import _meets_rule, _rescaled_grad, _rule_holds

    X, y = _binary(rng, sparse=True)
    penalty = "l1" if l1_ratio == 1.0 else "elasticnet"
    objective = Objective(X, y, penalty=penalty, l1_ratio=l1_ratio)
    decided = []
    for tol in (1e-2, 1e-4):
        for C_old in np.logspace(-2, 2, 9):
            objective.C = C_old
            g_old = np.empty(objective.n_params)
            theta = solve(objective, "l1", None, tol=tol, max_iter=500, grad_out=g_old).theta
            for C in C_old * np.array([1.0, 1.1, 2.0, 7.7, 60.0]):
                objective.C = C
                g = _rescaled_grad(objective, theta, C_old, g_old)
                np.testing.assert_allclose(g, objective.value_grad(theta)[1], rtol=1e-9,
                                           atol=1e-9 * C)
                met = _rule_holds(objective, theta, g, tol)
                assert met == _meets_rule(objective, theta, tol)[0]
                decided.append(met)
    assert 0 < sum(decided) < len(decided)  # both outcomes seen
    # a path on these checks reaches the cold fits' optima
    Cs = np.logspace(-2, 2, 6)
    path = warm_path(Objective(X, y, penalty=penalty, l1_ratio=l1_ratio), Cs, "l1", tol=1e-6)
    for k, C in enumerate(Cs):
        ref = solve(Objective(X, y, C=C, penalty=penalty, l1_ratio=l1_ratio), "l1", None,
                    tol=1e-10, max_iter=1000).theta
        np.testing.assert_allclose(path[0][k], ref, atol=1e-4)


def test_shifted_start_reads_the_mean_path_at_ratio_times_C():
    from fastlogit.model_selection import _shifted_start

    Cs = np.array([10.0, 0.1, 1.0])  # any order: the next larger C of the grid is used
    mean = np.array([[4.0], [0.0], [2.0]]).__getitem__
    # C = 0.1 * sqrt(10): half-way in log C from 0.1 to 1.0
    np.testing.assert_allclose(_shifted_start(mean, Cs, 1, np.sqrt(10.0)), [1.0])
    np.testing.assert_allclose(_shifted_start(mean, Cs, 2, 100.0), [6.0])  # extended line
    assert _shifted_start(mean, Cs, 0, 1.25) is None  # the largest C: nothing above


def test_cv_refit_equals_a_cold_fit_at_C_(rng):
    # the refit starts from the folds' mean or the shifted mean path, whichever F prefers;
    # the optimum is the same
    X, y = _binary(rng, sparse=True)
    for r in (0.0, 1.0):
        cv = LogisticRegressionCV(Cs=5, cv=4, l1_ratios=(r,), scoring="accuracy", tol=1e-10,
                                  solver="auto", max_iter=1000,
                                  use_legacy_attributes=False).fit(X, y)
        cold = LogisticRegression(C=cv.C_, l1_ratio=r, solver="auto", tol=1e-10,
                                  max_iter=1000).fit(X, y)
        np.testing.assert_allclose(cv.coef_, cold.coef_, atol=1e-6)
        np.testing.assert_allclose(cv.intercept_, cold.intercept_, atol=1e-6)


# ---------------------------------------------------------------- LogisticRegressionCV
@pytest.mark.parametrize("scoring", ["accuracy", "neg_log_loss"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_cv_picks_sklearns_C_with_the_same_scores(rng, scoring, n_classes):
    from sklearn.datasets import make_classification

    X, y = make_classification(300, 12, n_informative=6, n_classes=n_classes,
                               random_state=0)
    cv = StratifiedKFold(4, shuffle=True, random_state=0)
    kw = dict(Cs=np.logspace(-3, 2, 8), cv=cv, scoring=scoring, tol=1e-10, max_iter=2000,
              l1_ratios=(0.0,), use_legacy_attributes=True)
    ours = LogisticRegressionCV(solver="auto", **kw).fit(X, y)
    ref = SkLogisticRegressionCV(solver="newton-cholesky", **kw).fit(X, y)
    assert np.array_equal(ours.C_, ref.C_)
    for key in ref.scores_:
        np.testing.assert_allclose(ours.scores_[key], ref.scores_[key], rtol=0, atol=1e-6)
        assert ours.coefs_paths_[key].shape == ref.coefs_paths_[key].shape
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-5, atol=1e-6)
    assert ours.n_iter_.shape == ref.n_iter_.shape
    assert ours.l1_ratio_.shape == ref.l1_ratio_.shape


@pytest.mark.parametrize("scoring", [None, "accuracy", "neg_log_loss"])
def test_cv_score_rejects_labels_it_was_not_fitted_on(scoring):
    """score raises ValueError naming an unknown label under every scoring (a named scorer
    would count it as a silent miss, or score log-loss against the wrong columns)."""
    from sklearn.datasets import make_classification

    X, y = make_classification(90, 4, random_state=0)
    clf = LogisticRegressionCV(Cs=3, cv=3, l1_ratios=(0.0,), scoring=scoring,
                               use_legacy_attributes=False).fit(X, y)
    with pytest.raises(ValueError, match=r"y contains labels \['7'\] not in classes_"):
        clf.score(X, np.where(np.arange(90) == 5, 7, y))
    assert np.isfinite(clf.score(X, y))


@pytest.mark.parametrize("scoring", ["accuracy", "neg_log_loss"])
def test_cv_l1_picks_sklearns_C_with_the_same_scores(scoring):
    # without an intercept liblinear's L1 problem is exactly ours (it penalises the
    # intercept otherwise); no redundant features, so each optimum is unique
    from sklearn.datasets import make_classification

    X, y = make_classification(240, 10, n_informative=5, n_redundant=0, random_state=1)
    cv = StratifiedKFold(4, shuffle=True, random_state=0)
    kw = dict(Cs=np.logspace(-2, 1, 7), cv=cv, scoring=scoring, tol=1e-10, max_iter=10000,
              l1_ratios=(1.0,), fit_intercept=False, use_legacy_attributes=False)
    ours = LogisticRegressionCV(solver="auto", **kw).fit(X, y)
    ref = SkLogisticRegressionCV(solver="liblinear", **kw).fit(X, y)
    assert ours.solver_ == "l1" and ours.C_ == ref.C_
    np.testing.assert_allclose(ours.scores_, ref.scores_, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-5)


def test_cv_new_attribute_layout_matches_sklearn(rng):
    X, y = _binary(rng, n=200, d=6)
    kw = dict(Cs=4, l1_ratios=(0.0, 0.5), scoring="neg_log_loss", use_legacy_attributes=False,
              tol=1e-8, max_iter=1000)
    ours = LogisticRegressionCV(solver="saga", **kw).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = SkLogisticRegressionCV(solver="saga", **kw).fit(X, y)
    for name in ("coefs_paths_", "scores_", "n_iter_", "Cs_", "l1_ratios_"):
        assert np.shape(getattr(ours, name)) == np.shape(getattr(ref, name)), name
    assert isinstance(ours.C_, float) and isinstance(ours.l1_ratio_, float)
    assert ours.l1_ratio_ in (0.0, 0.5)


def test_cv_parallel_folds_equal_serial(rng):
    X, y = _binary(rng, sparse=True)
    kw = dict(Cs=5, cv=3, l1_ratios=(0.0,), scoring="neg_log_loss", solver="auto",
              use_legacy_attributes=False)
    serial = LogisticRegressionCV(n_jobs=1, **kw).fit(X, y)
    parallel = LogisticRegressionCV(n_jobs=2, **kw).fit(X, y)
    np.testing.assert_allclose(parallel.scores_, serial.scores_, rtol=0, atol=1e-12)
    assert parallel.C_ == serial.C_


def test_cv_refit_false_and_sklearn_warnings(rng):
    X, y = _binary(rng, n=120, d=4)
    with pytest.warns(FutureWarning, match="l1_ratios"):
        LogisticRegressionCV(Cs=3, scoring="accuracy", use_legacy_attributes=True).fit(X, y)
    with pytest.warns(FutureWarning, match="scoring"):
        LogisticRegressionCV(Cs=3, l1_ratios=(0,), use_legacy_attributes=True).fit(X, y)
    est = LogisticRegressionCV(Cs=3, l1_ratios=(0,), scoring="accuracy", refit=False,
                               use_legacy_attributes=False).fit(X, y)
    assert est.coef_.shape == (1, 4) and est.C_ > 0


def test_cv_rejects_bad_parameters(rng):
    X, y = _binary(rng, n=60, d=3)
    for params, match in [(dict(Cs=[-1.0]), "C must be"), (dict(l1_ratios=[2.0]), "l1_ratios"),
                          (dict(tol=-1.0), "tol"), (dict(n_jobs=0), "n_jobs"),
                          (dict(dual=True), "dual=False")]:
        with pytest.raises(ValueError, match=match):
            LogisticRegressionCV(scoring="accuracy", use_legacy_attributes=False,
                                 **{"l1_ratios": (0,), **params}).fit(X, y)


@parametrize_with_checks([LogisticRegressionCV(Cs=(0.01, 0.1, 1.0), cv=3, l1_ratios=(0.0,),
                                               scoring="accuracy", use_legacy_attributes=False,
                                               tol=1e-12, max_iter=1000, backend="numpy")])
def test_cv_sklearn_compatible(estimator, check):
    check(estimator)


# ---------------------------------------------------------------- threads
class _Recorder(LogisticRegression):
    """Records the kernel threads a fit in this process would use."""

    def fit(self, X, y, sample_weight=None):
        self.threads_seen_ = effective_n_threads(self.n_threads)
        return super().fit(X, y, sample_weight)


def test_joblib_workers_do_not_oversubscribe(rng):
    from threadpoolctl import threadpool_info

    X, y = _binary(rng, n=200, d=5)
    cores = len(os.sched_getaffinity(0))
    out = cross_validate(_Recorder(solver="auto"), X, y, cv=4, n_jobs=2, return_estimator=True)
    seen = [est.threads_seen_ for est in out["estimator"]]
    assert all(2 * t <= max(cores, 2) for t in seen), (seen, cores)
    # the limit the workers got is joblib's (cores // n_jobs), counted by threadpoolctl here
    # for comparison: this process is not limited
    here = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "openmp"]
    assert not here or max(here) >= min(seen)


def test_threadpool_limits_and_env_are_respected(monkeypatch):
    from threadpoolctl import threadpool_limits

    import fastlogit.kernels  # noqa: F401  (loads the OpenMP runtime when built)

    with threadpool_limits(limits=1):
        assert effective_n_threads(None) == 1
        assert effective_n_threads(2) == 2  # an explicit count wins
    monkeypatch.setenv("FASTLOGIT_NUM_THREADS", "1")
    with threadpool_limits(limits=2):
        assert effective_n_threads(None) == 1  # FASTLOGIT_NUM_THREADS before the runtime


def test_fits_are_bitwise_reproducible_for_a_thread_count(rng):
    from threadpoolctl import threadpool_limits

    X, y = _binary(rng, n=3000, d=40, sparse=True)
    fits = [LogisticRegression(solver="lbfgs", n_threads=2, tol=1e-8).fit(X, y).coef_
            for _ in range(2)]
    assert np.array_equal(fits[0], fits[1])
    one = LogisticRegression(solver="lbfgs", n_threads=1, tol=1e-8).fit(X, y).coef_
    with threadpool_limits(limits=1):
        limited = LogisticRegression(solver="lbfgs", tol=1e-8).fit(X, y).coef_
    assert np.array_equal(one, limited)


@pytest.mark.parametrize("l1_ratio,solver", [(1.0, "auto"), (0.0, "lbfgs")])
def test_cv_fold_results_do_not_depend_on_the_thread_count(rng, l1_ratio, solver):
    # The fold paths' fits are interleaved over the threads (_run_interleaved); each path's
    # fits are the same whichever thread runs them, so with an explicit n_threads (one
    # kernel thread per path) the fold results are bitwise those of one thread.
    X, y = _binary(rng, n=600, d=60, sparse=True)
    kw = dict(Cs=6, cv=5, l1_ratios=(l1_ratio,), scoring="accuracy", solver=solver,
              tol=1e-6, max_iter=300, use_legacy_attributes=False)
    ref = LogisticRegressionCV(n_threads=1, **kw).fit(X, y)
    for n_threads in (2, 3):
        cv = LogisticRegressionCV(n_threads=n_threads, **kw).fit(X, y)
        assert cv.C_ == ref.C_
        for name in ("coefs_paths_", "scores_", "n_iter_"):
            np.testing.assert_array_equal(getattr(cv, name), getattr(ref, name))
        np.testing.assert_allclose(cv.coef_, ref.coef_, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("penalty,l1_ratio", [("l1", None), ("elasticnet", 0.3), ("l2", None)])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_compiled_rule_check_gives_the_same_numbers(rng, penalty, l1_ratio, fit_intercept):
    # _binary_rule_measure and binary_reference_norm: the measure and reference of the
    # stopping rule in compiled loops, equal (==) to min_norm_subgradient's and
    # reference_gradient_norm's
    from fastlogit.model_selection import _binary_rule_measure, _rule_holds
    from fastlogit.solvers._result import (binary_reference_norm, data_grad_at_zero,
                                           reference_gradient_norm)

    X, y = _binary(rng, n=200, d=40, sparse=True)
    kw = {} if l1_ratio is None else {"l1_ratio": l1_ratio}
    objective = Objective(X, y, C=3.7, penalty=penalty, fit_intercept=fit_intercept, **kw)
    d = X.shape[1]
    theta = rng.standard_normal(objective.n_params) * (rng.random(objective.n_params) < 0.4)
    theta[0] = 0.0
    g = objective.value_grad(theta)[1]
    g[0] = 0.3 * objective.l1_strength if objective.l1_strength else 0.3  # inside the band
    lam = float(objective.l1_strength)
    g0 = data_grad_at_zero(objective.data, theta.size)
    measure = _binary_rule_measure(theta, g, d, lam)
    reference = binary_reference_norm(g0, d, lam, objective.C)
    want_measure = np.abs(objective.min_norm_subgradient(theta, g)).max()
    want_reference = reference_gradient_norm(objective)
    assert measure == want_measure and reference == want_reference
    assert reference == binary_reference_norm(g0, d, lam, objective.C)
    edge = want_measure / max(1.0, want_reference)
    assert _rule_holds(objective, theta, g, edge * (1 + 1e-9))  # the rule at the edge
    assert not _rule_holds(objective, theta, g, edge * (1 - 1e-9))



def test_compiled_rule_parts_at_the_band_edges(rng):
    # _binary_rule_measure skips the coefficients at 0 whose gradient lies in [-lam, lam]:
    # with binary_reference_norm, the same numbers as the entry-by-entry formulas (here in
    # NumPy) at +-0, at |g| == lam exactly, on both sides of the band, with and without an
    # L1 part
    from fastlogit.model_selection import _binary_rule_measure
    from fastlogit.solvers._result import binary_reference_norm

    def want(theta, g, g0, d, lam, C):
        r = C * g0
        if lam:
            w, gw, rw = theta[:d], g[:d], r[:d]
            m = np.where(w != 0, gw + lam * np.sign(w),
                         np.sign(gw) * np.maximum(np.abs(gw) - lam, 0.0))
            m0 = np.sign(rw) * np.maximum(np.abs(rw) - lam, 0.0)
            g = np.r_[gw + (m - gw), g[d:]]
            r = np.r_[rw + (m0 - rw), r[d:]]
        return np.abs(g).max(initial=0.0), np.abs(r).max(initial=0.0)

    special = np.array([0.0, -0.0, 0.7, -0.7, 0.7000000000000001, 1e-300, 3.0, -2.5])
    for _ in range(300):
        n = int(rng.integers(1, 40))
        d = int(rng.integers(0, n + 1))
        lam = float(rng.choice([0.0, 0.7, 1.3]))
        C = float(rng.choice([1.0, 0.37, 21.5]))
        theta, g, g0 = (np.where(rng.random(n) < 0.5, rng.choice(special, n),
                                 rng.standard_normal(n)) for _ in range(3))
        theta[rng.random(n) < 0.5] = 0.0
        got = (_binary_rule_measure(theta, g, d, lam), binary_reference_norm(g0, d, lam, C))
        assert got == want(theta, g, g0, d, lam, C)

@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_rows", [1, 3])
def test_compiled_test_margins_equal_scipys_product(rng, index_dtype, dtype, n_rows):
    # _csr_margins scores the test rows on X's own CSR arrays and the path's strided view:
    # the same numbers (==) as scipy's X[test] @ coefs.reshape(m * n_rows, d).T + intercepts
    # (the route before it), duplicate and empty rows, zero coefficients and a negative
    # zero included
    from fastlogit.model_selection import _csr_margins, _fast_scores

    X = sp.random(60, 50, density=0.2, format="csr", random_state=3, dtype=dtype)
    X.indices = X.indices.astype(index_dtype)
    X.indptr = X.indptr.astype(index_dtype)
    X.data[::7] *= -1e3
    m, d = 4, X.shape[1]
    full = rng.standard_normal((m, n_rows, d + 1)) * (rng.random((m, n_rows, d + 1)) < 0.5)
    full[0] = 0.0
    full[1, 0, 3] = -0.0
    coefs, intercepts = full[:, :, :d], full[:, :, d]
    test = np.array([5, 0, 5, 59, 17, 30])
    X[30] = 0.0  # an empty row
    X.eliminate_zeros()
    got = _csr_margins(X.indptr, X.indices, X.data, test.astype(np.int64), coefs, intercepts)
    want = np.asarray(X[test] @ coefs.reshape(m * n_rows, d).T,
                      dtype=np.float64).reshape(-1, m, n_rows) + intercepts[None]
    np.testing.assert_array_equal(got, want)
    # and the accuracy from them, with the other route (dense X) agreeing on the margins' signs
    y_index = rng.integers(0, max(2, n_rows), size=test.size)
    np.testing.assert_array_equal(
        _fast_scores("accuracy", X, test, y_index, None, coefs, intercepts),
        _fast_scores("accuracy", X.toarray(), test, y_index, None, coefs, intercepts))


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_l1_extrapolation_is_refused_by_convexity_without_a_pass(rng, l1_ratio):
    # with the solver's gradient the path decides on the secant by F's directional
    # derivative at the last optimum (no pass): _slope_towards is that derivative (a one-sided
    # difference quotient of F agrees), the secant is taken when it is negative, and where it
    # is >= 0 the last optimum is kept, F at the secant being no lower (convexity)
    from fastlogit.model_selection import _next_start, _rescaled_grad, _slope_towards

    X, y = _binary(rng, sparse=True)
    penalty = "l1" if l1_ratio == 1.0 else "elasticnet"
    objective = Objective(X, y, penalty=penalty, l1_ratio=l1_ratio)
    d, lam = objective.n_features, float(objective.l1_strength)

    F = objective.value  # the L1 part included

    thetas, grads = [], []
    for C in (0.3, 1.0):
        objective.C = C
        grads.append(np.empty(objective.n_params))
        thetas.append(solve(objective, "l1", None, tol=1e-10, max_iter=500,
                            grad_out=grads[-1]).theta)
    objective.C = 3.0
    g = _rescaled_grad(objective, thetas[1], 1.0, grads[1])
    fitted = [(np.log(0.3), thetas[0]), (np.log(1.0), thetas[1])]
    guess = thetas[1] + (thetas[1] - thetas[0]) * (np.log(3.0) / np.log(1.0 / 0.3))
    slope = _slope_towards(thetas[1], guess, g, d, lam)
    h = 1e-7
    assert slope == pytest.approx((F(thetas[1] + h * (guess - thetas[1])) - F(thetas[1])) / h,
                                  rel=1e-4, abs=1e-6)
    start, done = _next_start(objective, thetas[1], fitted, np.log(3.0), 1e-8, g)
    assert not done and (start is thetas[1]) == (slope >= 0)
    # at the new C's own optimum every direction has a slope >= 0: a secant that moves
    # zero coefficients out of their band is refused, and F there is indeed not lower
    g_opt = np.empty(objective.n_params)
    opt = solve(objective, "l1", None, tol=1e-12, max_iter=500, grad_out=g_opt).theta
    away = opt.copy()
    zeros = np.flatnonzero(opt[:d] == 0.0)
    assert zeros.size
    away[zeros] -= 0.5
    worse, done = _next_start(objective, opt, [(np.log(1.0), away), (np.log(2.0), opt)],
                              np.log(3.0), 0.0, g_opt)
    bad_guess = opt + (opt - away) * (np.log(1.5) / np.log(2.0))
    assert _slope_towards(opt, bad_guess, g_opt, d, lam) > 0
    assert worse is opt and not done and F(bad_guess) >= F(opt)


def test_wide_binary_l2_paths_run_newton_cg_to_lbfgs_optima(rng):
    # solver="auto" on a wide binary L2 problem (where the estimator's "auto" picks L-BFGS)
    # walks the path with Newton-CG (no preconditioner, line minimisation): the optima are
    # L-BFGS's cold fits'; multinomial and L1 paths keep their solvers
    X = sp.random(80, 1500, density=0.02, format="csr", random_state=2) * 3.0
    s = np.asarray(X.sum(axis=1)).ravel() + 0.3 * rng.standard_normal(80)
    y = (s > np.median(s)).astype(int)
    Cs = np.logspace(-2, 2, 5)
    assert choose_solver(Objective(X, y).compact_columns()[0]) == "lbfgs"
    path = regularization_path(X, y, Cs, solver="auto", tol=1e-10, max_iter=500)
    assert path.solver == "newton-cg"
    for k, C in enumerate(Cs):
        ref = LogisticRegression(C=C, solver="lbfgs", tol=1e-12, max_iter=5000).fit(X, y)
        np.testing.assert_allclose(path.coefs[k, 0], ref.coef_[0], atol=1e-6)
        np.testing.assert_allclose(path.intercepts[k], ref.intercept_, atol=1e-6)
    y3 = np.arange(80) % 3
    assert regularization_path(X, y3, Cs[:2], solver="auto").solver == "lbfgs"
    assert regularization_path(X, y, Cs[:2], solver="auto", l1_ratio=1.0).solver == "l1"
    cv = LogisticRegressionCV(Cs=3, cv=3, l1_ratios=(0.0,), solver="auto", scoring="accuracy",
                              use_legacy_attributes=False).fit(X, y)
    assert cv.solver_ == "newton-cg"


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fit_intercept,n_rows", [(True, 1), (False, 1), (True, 3)])
def test_compacted_rows_equal_scipys_slice_then_compact_columns(index_dtype, dtype,
                                                                fit_intercept, n_rows):
    # a fold's rows and their column compaction in one compiled pass: the same arrays (values,
    # order and dtypes) and keep mask as X[rows] followed by Objective.compact_columns;
    # rows in any order, repeated, unsorted and duplicate entries within a row kept as stored
    from fastlogit.kernels import as_design
    from fastlogit.model_selection import _compacted_rows

    X = sp.random(40, 600, density=0.01, format="csr", random_state=4, dtype=dtype)
    X.indices = X.indices.astype(index_dtype)
    X.indptr = X.indptr.astype(index_dtype)
    X.indices[X.indptr[7]:X.indptr[8]] = X.indices[X.indptr[7]:X.indptr[8]][::-1].copy()
    X.has_sorted_indices = False
    rows = np.array([9, 3, 7, 7, 0, 33, 21, 8])
    design, keep = _compacted_rows(X, rows, fit_intercept, n_rows)
    want_X = as_design(X[rows])
    reduced, want_keep = Objective(want_X, np.arange(rows.size) % 2, fit_intercept=fit_intercept,
                                   penalty="l1").compact_columns()  # (binary: the layout)
    want = reduced.data.design
    assert design.shape == want.shape and design.dtype == want.dtype
    for got, ref in zip(design.arrays, want.arrays):
        assert got.dtype == ref.dtype
        np.testing.assert_array_equal(got, ref)
    # the multinomial layout: the binary mask once per class
    np.testing.assert_array_equal(keep, np.tile(want_keep, n_rows))
    # no compaction where compact_columns makes none: most columns used, or few columns
    assert _compacted_rows(X, np.arange(40), fit_intercept, n_rows) is None or \
        np.count_nonzero(keep) <= 0.8 * X.shape[1]
    dense_enough = sp.random(40, 300, density=0.5, format="csr", random_state=1)
    assert _compacted_rows(dense_enough, rows, fit_intercept, n_rows) is None
    assert _compacted_rows(X[:, :200].tocsr(), rows, fit_intercept, n_rows) is None
    assert _compacted_rows(X.toarray(), rows, fit_intercept, n_rows) is None


def test_path_under_the_callers_blas_limit_runs_the_bare_solver(rng, monkeypatch):
    # warm_path and the CV hold BLAS at one thread once around a whole path: the solvers then
    # run without their per-fit threadpoolctl limit, to the same fits
    import fastlogit.solvers._result as result
    from fastlogit.model_selection import _without_blas_limit
    from fastlogit.solvers import SOLVERS

    for name in ("l1", "lbfgs", "newton-cg", "newton-cholesky", "trust-region"):
        bare = _without_blas_limit(SOLVERS[name])
        assert bare is not SOLVERS[name] and bare is SOLVERS[name].__wrapped__
    assert _without_blas_limit(SOLVERS["sgd"]) is SOLVERS["sgd"]  # not such a wrapper
    X = sp.random(60, 400, density=0.03, format="csr", random_state=5)
    s = np.asarray(X.sum(axis=1)).ravel()
    y = (s > np.median(s)).astype(int)
    Cs = np.logspace(-1, 2, 4)
    want = regularization_path(X, y, Cs, l1_ratio=1.0, tol=1e-8)
    calls = []
    limit = result.blas_limit
    monkeypatch.setattr(result, "blas_limit", lambda: calls.append(1) or limit())
    got = regularization_path(X, y, Cs, l1_ratio=1.0, tol=1e-8)
    assert len(calls) == 1  # one limit for the whole path, none per fit
    np.testing.assert_array_equal(got.coefs, want.coefs)
    np.testing.assert_array_equal(got.n_iter, want.n_iter)


def test_l1_path_with_capped_sweeps_reaches_cold_optima(rng):
    # binary L1 paths solve each Newton model by at most _L1_PATH_SWEEPS sweeps (the solver's
    # default allows 200) and to a looser model tolerance (kappa): every fit still meets the
    # stopping rule, at the cold fits' optima
    from fastlogit.model_selection import _L1_PATH_KAPPA, _L1_PATH_SWEEPS
    from fastlogit.solvers.l1 import _KAPPA, l1_newton

    assert _L1_PATH_SWEEPS < 200 and _KAPPA < _L1_PATH_KAPPA < 1
    X = sp.random(150, 900, density=0.03, format="csr", random_state=6) * 2.0
    w = np.zeros(900)
    w[:30] = rng.standard_normal(30) * 3
    y = (X @ w + 0.3 * rng.standard_normal(150) > 0).astype(int)
    Cs = np.logspace(0, 3, 3)
    path = regularization_path(X, y, Cs, l1_ratio=1.0, tol=1e-9, max_iter=500)
    assert path.solver == "l1" and path.converged.all()
    for k, C in enumerate(Cs):
        objective = Objective(X, y, C=C, penalty="l1")
        cold = l1_newton(objective, objective.zeros(), tol=1e-9, max_iter=500)
        assert cold.converged
        np.testing.assert_allclose(path.coefs[k, 0], cold.theta[:-1], atol=2e-5 * max(1, C))
        np.testing.assert_allclose(path.intercepts[k, 0], cold.theta[-1], atol=2e-5 * max(1, C))


# ---------------------------------------------------------------- the converged reference
@pytest.mark.parametrize("sparse", [False, True])
def test_cv_l1_scores_are_the_converged_fits_scores(sparse):
    # Every fold score of the L1 CV (warm-started compacted paths, the paths' model
    # tolerance and sweep cap, the compiled scoring) at a tight tol is the accuracy of that
    # fold's optimum, here a cold fit at tol 1e-12 with an unpenalised intercept, and C_ is
    # the argmax of their fold sums (ties to the smallest C), as on the shared sets
    # (benchmarks/cv_race.py --agree-reference).
    X, y = _binary(np.random.default_rng(3), n=400, d=60, sparse=sparse)
    Cs = np.logspace(-3, 3, 10)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    ref = np.array([[np.mean(LogisticRegression(C=C, l1_ratio=1.0, solver="auto", tol=1e-12,
                                                max_iter=10000).fit(X[tr], y[tr]).predict(X[te])
                             == y[te]) for C in Cs] for tr, te in folds])
    cv = LogisticRegressionCV(Cs=Cs, cv=folds, l1_ratios=(1.0,), scoring="accuracy",
                              solver="auto", tol=1e-8, max_iter=1000,
                              use_legacy_attributes=False).fit(X, y)
    np.testing.assert_allclose(cv.scores_[:, 0], ref, rtol=0, atol=1e-6)
    assert cv.C_ == Cs[np.argmax(ref.sum(axis=0))]


def test_best_pair_is_sklearns_tie_rule():
    from fastlogit.model_selection import _best_pair

    # (n_l1_ratios, n_Cs); the maximum 3.0 at (l1 0, C 3) and (l1 2, C 1): the smaller C
    table = np.array([[1.0, 2.0, 2.5, 3.0], [1.0, 2.0, 3.0, 3.0], [1.0, 3.0, 2.0, 1.0]])
    assert _best_pair(table) == (2, 1)
    table[2, 1] = 2.0  # then C 2, where l1 1 is the only maximum
    assert _best_pair(table) == (1, 2)
    table[0, 2] = 3.0  # two l1_ratios at C 2: the first
    assert _best_pair(table) == (0, 2)


@pytest.mark.parametrize("refit", [True, False])
def test_cv_ties_go_to_the_smallest_C_then_the_first_l1_ratio(refit):
    # scikit-learn's LogisticRegressionCV takes the argmax of its (Cs, l1_ratios) table of
    # summed fold scores (refit) or of each fold's (refit=False): among equal maxima the
    # smallest C, then the first l1_ratio.  Nearly separable data: several (C, l1_ratio)
    # pairs share the best accuracy, the smallest such C not at the first l1_ratio.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 5))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    Cs, ratios = np.logspace(-3, 3, 7), (0.0, 0.5, 1.0)
    cv = LogisticRegressionCV(Cs=Cs, cv=StratifiedKFold(3, shuffle=True, random_state=0),
                              l1_ratios=ratios, scoring="accuracy", solver="auto", tol=1e-10,
                              max_iter=10000, refit=refit, use_legacy_attributes=False).fit(X, y)
    tables = [cv.scores_.sum(axis=0)] if refit else list(cv.scores_)
    picks = []
    for table in tables:  # (n_l1_ratios, n_Cs)
        ic, jl = np.unravel_index(np.argmax(table.T), table.T.shape)  # scikit-learn's order
        picks.append((Cs[ic], ratios[jl]))
    if refit:
        jl_first, ic_first = np.unravel_index(np.argmax(tables[0]), tables[0].shape)
        assert (Cs[ic_first], ratios[jl_first]) != picks[0]  # the tie this test is about
        assert (cv.C_, cv.l1_ratio_) == picks[0]
    else:
        assert cv.C_ == pytest.approx(np.mean([c for c, _ in picks]), rel=1e-15)
        assert cv.l1_ratio_ == pytest.approx(np.mean([r for _, r in picks]), rel=1e-15)
