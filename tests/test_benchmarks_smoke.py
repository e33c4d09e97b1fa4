"""Benchmarks: the scorer is right, every competitor's parameter mapping lands on OUR optimum,
and compare.py runs end to end on a tiny data set in a few seconds."""
import json
import warnings

import numpy as np
import pytest

from benchmarks import common, compare
from fastlogit.datasets import make_sparse_classification

C = 0.7


@pytest.fixture(scope="module")
def tiny():
    X, y = make_sparse_classification(400, 30, mean_nnz=6, random_state=3)
    X = common._to_int32_csr(X)
    return X, y


@pytest.fixture(scope="module")
def reference(tiny):
    X, y = tiny
    return common.reference_optimum(X, y, C)


def test_objective_gradient_finite_differences(tiny):
    X, y = tiny
    rng = np.random.default_rng(0)
    w, b = rng.standard_normal(X.shape[1]), 0.3
    f, gw, gb = common.objective_grad(X, y, w, b, C)
    assert f == pytest.approx(common.objective(X, y, w, b, C), rel=1e-14)
    h = 1e-5
    for j in (0, 7, X.shape[1] - 1):
        e = np.zeros_like(w)
        e[j] = h
        fd = (common.objective(X, y, w + e, b, C) - common.objective(X, y, w - e, b, C)) / (2 * h)
        assert gw[j] == pytest.approx(fd, rel=1e-6, abs=1e-8)
    fd = (common.objective(X, y, w, b + h, C) - common.objective(X, y, w, b - h, C)) / (2 * h)
    assert gb == pytest.approx(fd, rel=1e-6, abs=1e-8)
    # no overflow / cancellation for huge margins: F is finite and equals the exact limit
    wbig = np.full(X.shape[1], 1e4)
    assert np.isfinite(common.objective(X, y, wbig, 0.0, C))


def test_reference_solvers_agree(tiny, reference):
    X, y = tiny
    assert reference["rel_disagreement"] < 1e-11
    assert reference["grad_inf_at_star"] < 1e-6


# Deterministic solvers must land on F* at their tightest setting; the stochastic ones get a
# looser bound, and for them the test also shows that the mapping matters.
TIGHT = {"sklearn SGDClassifier": 2e-3, "sklearn saga": 1e-7}


@pytest.mark.parametrize("name", [n for n in compare.all_runners()], ids=str)
def test_competitor_lands_on_our_optimum(tiny, reference, name):
    X, y = tiny
    runner = compare.all_runners()[name]
    try:
        ctx = runner.prepare(X, y, C, 1)
    except compare.Unavailable as exc:
        pytest.skip(str(exc))
    level = runner.levels[-1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w, b = runner.fit(ctx, level)
    f = common.objective(X, y, w, b, C)
    subopt = (f - reference["F_star"]) / reference["F_star"]
    assert subopt > -1e-12, "a solver beat F*: the reference solve is not tight"
    assert subopt < TIGHT.get(name, 1e-9), f"{name}: (F - F*)/F* = {subopt:.2e}"


def test_sgd_mapping_is_what_makes_it_close(tiny, reference):
    """alpha = 1/(C n) is the mapping; alpha = 1/C (a plausible slip) lands far off."""
    from sklearn.linear_model import SGDClassifier

    X, y = tiny
    est = SGDClassifier(loss="log_loss", alpha=1.0 / C, max_iter=500, tol=None,
                        random_state=0).fit(X, y)
    f = common.objective(X, y, est.coef_.ravel(), est.intercept_[0], C)
    assert (f - reference["F_star"]) / reference["F_star"] > 1e-2


def test_liblinear_bias_unpenalised(tiny, reference):
    """Without -R LIBLINEAR penalises the bias and misses our optimum; with it, it does not."""
    from liblinear.liblinearutil import parameter, problem, train

    X, y = tiny
    prob = problem(np.where(y > 0, 1.0, -1.0), X)
    m = train(prob, parameter(f"-s 0 -B 1 -c {C!r} -e 1e-10 -q"))
    w, b = m.get_decfun()
    sign = 1.0 if m.get_labels()[0] == 1 else -1.0
    f = common.objective(X, y, sign * np.asarray(w), sign * b, C)
    assert (f - reference["F_star"]) / reference["F_star"] > 1e-8


def test_compare_end_to_end(tmp_path, tiny):
    from sklearn.datasets import dump_svmlight_file

    X, y = tiny
    path = tmp_path / "tiny.svm"
    dump_svmlight_file(X, y, str(path))
    out = tmp_path / "out"
    result = compare.main(["--data", str(path), "--repeats", "2", "--cap", "60", "--out", str(out),
                           "--fstar", str(tmp_path / "fstar.json"), "--no-kernels", "--solvers", "LIBLINEAR,sklearn lbfgs,sklearn SGD,"
                           "fastlogit lbfgs"])
    md = (out / "README.md").read_text()
    assert "| LIBLINEAR -s 0 |" in md and "Headline" in md
    assert (out / "subopt_tiny.png").stat().st_size > 1000
    summary = result["datasets"]["tiny"]["summary"]
    lib = summary["LIBLINEAR -s 0"]
    assert lib["status"] == "ok" and lib["to"][1e-8] is not None
    assert lib["to"][1e-8]["n"] == 2  # re-run to a median of --repeats
    assert lib["to"][1e-4]["time"] <= lib["to"][1e-8]["time"]
    # SGD's row is present and its status is reported whatever it reached
    assert summary["sklearn SGDClassifier"]["ladder"]
    saved = json.loads((out / "compare.json").read_text())
    assert saved["datasets"]["tiny"]["reference"]["rel_disagreement"] < 1e-10


def test_solver_race_times_every_solver_at_the_target(tiny, monkeypatch):
    """solver_race: each fit maps onto our parameter layout (scikit-learn's tight solution is
    our optimum), and race() reports a time for the tolerance that reaches the target."""
    from benchmarks import solver_race
    from fastlogit.objective import Objective

    X, y = tiny
    ob = Objective(X, y, C=C)
    fstar = ob.value(solver_race.ours("newton-cholesky")(X, y, C, 1e-12))
    sk_theta = solver_race.sklearn("lbfgs")(X, y, C, 1e-12)
    assert ob.value(sk_theta) == pytest.approx(fstar, rel=1e-8)
    monkeypatch.setattr(solver_race, "SETTLE_S", [0.0])
    fits = {"ours auto": (solver_race.ours("auto"), solver_race.LADDER),
            "sklearn lbfgs": (solver_race.sklearn("lbfgs"), solver_race.LADDER)}
    res = solver_race.race(fits, X, y, C, ob, fstar, 1e-6, repeats=2)
    for name, (seconds, tol) in res.items():
        assert seconds is not None and seconds > 0, name
        theta = fits[name][0](X, y, C, tol)
        assert (ob.value(theta) - fstar) / fstar <= 1e-6, name
