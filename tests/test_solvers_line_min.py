"""newton-cg's line minimisation (``line_search="minimize"``): the 1-D search itself, the step
it takes against backtracking, and the optimum the solver reaches with it."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from fastlogit.objective import Objective
from fastlogit.solvers import SOLVERS, ConvergenceWarning
from fastlogit.solvers._line_search import LINE_MIN_STEPS, _line_minimum, armijo, minimizing_step


class _Parabola:
    """A stand-in for Objective.line: phi(t) = (t - m)^2, counting its calls."""

    def __init__(self, m):
        self.m, self.calls = m, 0

    def value(self, t):
        self.calls += 1
        return (t - self.m) ** 2


@pytest.mark.parametrize("m", [0.03, 0.4, 0.7, 1e-5])
def test_line_minimum_brackets_then_narrows_to_the_minimiser(m):
    line = _Parabola(m)
    t, phi = _line_minimum(line, m * m, (1.0 - m) ** 2)
    # the bracket spans at most 3 m (between halvings around m), and golden-section steps
    # shrink it by 0.618 each
    assert abs(t - m) <= 3 * m * 0.62 ** LINE_MIN_STEPS
    assert phi == pytest.approx((t - m) ** 2)
    assert phi < m * m
    assert line.calls <= 62 + LINE_MIN_STEPS + 2


def test_line_minimum_returns_zero_when_no_trial_decreases():
    class Rising:
        def value(self, t):
            return 1.0 + t

    assert _line_minimum(Rising(), 1.0, 2.0, max_halvings=10) == (0.0, 1.0)


def _counts(rng, n=60, d=200, density=0.05):
    """Wide sparse word-count-like data (d > 2n), nearly separable."""
    X = sp.random(n, d, density=density, format="csr", random_state=rng,
                  data_rvs=lambda k: rng.integers(1, 20, size=k).astype(float))
    w = rng.standard_normal(d)
    y = (X @ w + 0.1 * rng.standard_normal(n) > 0).astype(float)
    return X, y


def test_minimizing_step_lands_nearer_the_line_minimum_than_backtracking(rng):
    X, y = _counts(rng)
    ob = Objective(X, y, C=0.1)  # the penalty makes a long step overshoot
    theta = np.zeros(ob.n_params)
    f, g = ob.value_grad(theta)
    d = -40.0 * np.linalg.solve(ob.hessian(theta), g)  # a Newton direction 40x too long
    t_min, th_min, f_min, g_min = minimizing_step(ob, theta, f, g, d)
    t_bt, _, f_bt, _ = armijo(ob, theta, f, g, d)
    assert 0.0 < t_min < 1.0 and 0.0 < t_bt < 1.0
    assert f_min <= f + 1e-4 * t_min * float(g @ d)  # Armijo's sufficient decrease
    assert f_min < f_bt
    np.testing.assert_array_equal(th_min, theta + t_min * d)
    f_chk, g_chk = ob.value_grad(th_min)
    assert f_min == f_chk
    np.testing.assert_array_equal(g_min, g_chk)
    # along the line, f at t_min is no higher than at nearby lengths
    line = ob.line(theta, d)
    assert line.value(t_min) <= min(line.value(0.9 * t_min), line.value(1.1 * t_min))


def test_minimizing_step_takes_the_full_step_when_it_decreases_f(rng):
    X, y = _counts(rng)
    ob = Objective(X, y, C=0.01)
    theta = np.zeros(ob.n_params)
    f, g = ob.value_grad(theta)
    d = -np.linalg.solve(ob.hessian(theta), g)
    t, th, f_new, _ = minimizing_step(ob, theta, f, g, d)
    assert t == 1.0
    assert f_new == armijo(ob, theta, f, g, d)[2]


@pytest.mark.parametrize("C", [1.0, 1e3])
def test_newton_cg_without_preconditioner_minimizing_reaches_the_optimum(rng, C):
    X, y = _counts(rng)
    ob = Objective(X, y, C=C)
    ref = SOLVERS["newton-cholesky"](ob, np.zeros(ob.n_params), tol=1e-12, max_iter=500)
    # from zero and from a poor warm start (the optimum of a 30x smaller C, scaled up)
    poor = 3.0 * SOLVERS["newton-cholesky"](Objective(X, y, C=C / 30), np.zeros(ob.n_params),
                                             tol=1e-10, max_iter=500).theta
    for start in (np.zeros(ob.n_params), poor):
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            res = SOLVERS["newton-cg"](ob, start, tol=1e-10, max_iter=200, preconditioner=None,
                                       line_search="minimize")
        assert res.converged
        f_ref, g_ref = ob.value_grad(ref.theta)
        f_res, g_res = ob.value_grad(res.theta)
        assert f_res <= f_ref + 1e-10 * abs(f_ref)
        assert np.abs(g_res).max() <= 1e-10 * max(1.0, np.abs(C * ob.data.loss_grad(
            np.zeros(ob.n_params))[1]).max())
        np.testing.assert_allclose(res.theta, ref.theta, rtol=0, atol=1e-6 * max(
            1.0, np.abs(ref.theta).max()))


def test_newton_cg_rejects_an_unknown_line_search(rng):
    X, y = _counts(rng)
    with pytest.raises(ValueError, match="line_search must be 'armijo' or 'minimize'"):
        SOLVERS["newton-cg"](Objective(X, y), np.zeros(X.shape[1] + 1), line_search="wolfe")


def test_residual_floor_keeps_cg_from_oversolving_and_reaches_the_rule(rng, monkeypatch):
    import fastlogit.solvers.newton as newton
    from fastlogit.solvers._result import reference_gradient_norm

    X, y = _counts(rng)
    ob = Objective(X, y, C=30.0)
    tol = 1e-7
    thr = tol * max(1.0, reference_gradient_norm(ob))
    seen = []
    pcg = newton.pcg

    def recording(hessp, g, rtol, *args, **kwargs):
        seen.append((rtol, float(np.linalg.norm(g))))
        calls = [0]

        def counted(v):
            calls[0] += 1
            return hessp(v)

        out = pcg(counted, g, rtol, *args, **kwargs)
        seen[-1] += (calls[0],)
        return out

    monkeypatch.setattr(newton, "pcg", recording)
    runs = {}
    for floor in (0.0, 2.0):
        seen.clear()
        res = SOLVERS["newton-cg"](ob, np.zeros(ob.n_params), tol=tol, max_iter=200,
                                   preconditioner=None, line_search="minimize",
                                   residual_floor=floor)
        assert res.converged
        assert np.abs(ob.value_grad(res.theta)[1]).max() <= thr
        runs[floor] = (res.theta, list(seen))
    for (rtol0, g2, _), (rtol2, g2b, _) in zip(runs[0.0][1], runs[2.0][1]):
        if g2 == g2b:  # the same iterate: the floor can only loosen CG's tolerance
            assert rtol2 == min(0.5, max(rtol0, 2.0 * thr / g2))
    # every step's tolerance is at least the floor, and fewer Hessian products in all
    assert all(r >= min(0.5, 2.0 * thr / g) for r, g, _ in runs[2.0][1])
    assert sum(c for *_, c in runs[2.0][1]) < sum(c for *_, c in runs[0.0][1])
    f0, f2 = ob.value_grad(runs[0.0][0])[0], ob.value_grad(runs[2.0][0])[0]
    assert abs(f2 - f0) <= 1e-7 * abs(f0)  # both meet the rule; F to its accuracy


def test_residual_floor_rejects_bad_values(rng):
    X, y = _counts(rng)
    for bad in (-1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match="residual_floor must be a finite number >= 0"):
            SOLVERS["newton-cg"](Objective(X, y), np.zeros(X.shape[1] + 1), residual_floor=bad)
