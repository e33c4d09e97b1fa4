"""Benchmarks: the scorer is right, every competitor's parameter mapping lands on OUR optimum,
and compare.py and solver_race.py run end to end on a tiny data set in a few seconds."""
import json
import warnings

import numpy as np
import pytest

from benchmarks import common, compare, harness, report, runners
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
    return harness.reference_optimum(X, y, C)


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


@pytest.mark.parametrize("name", [n for n in runners.all_runners()], ids=str)
def test_competitor_lands_on_our_optimum(tiny, reference, name):
    X, y = tiny
    runner = runners.all_runners()[name]
    try:
        ctx = runner.prepare(X, y, C, 1)
    except runners.Unavailable as exc:
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


def test_solver_race_times_every_solver_at_the_target(tiny):
    """solver_race's rows map onto our parameter layout (scikit-learn's tight solution is our
    optimum), and harness.race() reports a time for the tolerance that reaches the target."""
    from benchmarks import solver_race

    X, y = tiny
    fstar, ob = harness.our_optimum(X, y, C)
    rows = solver_race.race_runners(["auto", "newton-cholesky"], ["lbfgs"])
    fits, skipped = solver_race.prepared_fits(rows, X, y, C, None)
    assert ob.value(fits["ours newton-cholesky"][0](1e-12)) == pytest.approx(fstar, rel=1e-12)
    assert ob.value(fits["sklearn lbfgs"][0](1e-12)) == pytest.approx(fstar, rel=1e-8)
    race_fits = {k: fits[k] for k in ("ours auto", "sklearn lbfgs")}
    res = harness.race(race_fits, ob.value, fstar, 1e-6, repeats=2, settle_s=0.0)
    for name, (seconds, tol) in res.items():
        assert seconds is not None and seconds > 0, name
        theta = fits[name][0](tol)
        assert (ob.value(theta) - fstar) / fstar <= 1e-6, name


def test_solver_race_cli_table(tiny, monkeypatch, capsys):
    """solver_race.main on a tiny set: a row per set, a cell per solver, and the speed-up
    column equal to best scikit-learn / best ours of the same row's cells."""
    from benchmarks import solver_race

    monkeypatch.setattr(solver_race, "load_shared", lambda name: tiny)
    rows = solver_race.main(["--datasets", "tiny", "--repeats", "1", "--settle", "0",
                             "--no-saga", "--solvers", "auto", "lbfgs"])
    out = capsys.readouterr().out
    table = [line for line in out.splitlines() if line.startswith("| tiny 400x30 |")]
    assert len(table) == 1
    cells = [c.strip() for c in table[0].strip("|").split("|")]
    cols = list(solver_race.race_runners(["auto", "lbfgs"], ["lbfgs", "newton-cholesky",
                                                               "newton-cg", "liblinear"]))
    assert len(cells) == len(cols) + 3
    (name, shape, fstar, res), = rows
    assert cells[1:-2] == [f"{res[c][0]:.4f}" if res[c][0] else f"({res[c][1]})" for c in cols]
    ours = min(res[c][0] for c in cols if c.startswith("ours"))
    theirs = min(res[c][0] for c in cols if c.startswith("sklearn") and res[c][0])
    assert cells[-2:] == [f"{ours:.4f} / {theirs:.4f}", f"{theirs / ours:.2f}x"]
    assert res["ours lbfgs"][1] in solver_race.LADDER


def test_race_table_marks_missing_rows():
    res = {"ours a": (0.5, 1e-4), "ours b": (None, "d too large"), "sklearn c": (2.0, 1e-6)}
    line = report.race_table([("set", (3, 2), 1.0, res)], list(res))[-1]
    assert line == "| set 3x2 | 0.5000 | (d too large) | 2.0000 | 0.5000 / 2.0000 | 4.00x |"
    res["sklearn c"] = (None, "not reached")
    assert report.race_table([("set", (3, 2), 1.0, res)], list(res))[-1].endswith("| n/a | n/a |")


def test_fastlogit_runner_rejects_unknown_mode_and_solver(tiny):
    with pytest.raises(ValueError, match="via must be"):
        runners.Fastlogit("lbfgs", via="script")
    with pytest.raises(runners.Unavailable, match="no 'nonsense' solver"):
        runners.Fastlogit("nonsense").prepare(*tiny, C, 1)


def test_race_regression_flags_a_slower_set():
    """race_table -> parse_race_table round trip, and the before/after comparison uses the
    ratio within each run: a set whose speed-up fell by 20 % is flagged, one that only got
    uniformly slower (both libraries 2x) is not."""
    cols = ["ours lbfgs", "ours trust-region", "sklearn lbfgs", "LIBLINEAR -s 0 -R"]

    def table(rows):
        return "header text\n\n" + "\n".join(report.race_table(
            [(n, (10, 3), 1.0, {c: (t, 1e-4) if t else (None, "d too large")
                                for c, t in zip(cols, ts)}) for n, ts in rows], cols))

    before = report.parse_race_table(table([("a", (0.1, 0.2, 0.4, 0.3)),
                                            ("b", (0.1, None, 0.3, 0.3))]))
    assert before["b"] == {"ours lbfgs": 0.1, "ours trust-region": None, "sklearn lbfgs": 0.3,
                           "LIBLINEAR -s 0 -R": 0.3}
    after = report.parse_race_table(table([("a", (0.2, 0.4, 0.8, 0.6)),
                                           ("b", (0.125, None, 0.3, 0.3))]))
    lines = report.race_regression(before, after, threshold=0.15)
    row_a = next(line for line in lines if line.startswith("| a |"))
    row_b = next(line for line in lines if line.startswith("| b |"))
    assert "| 1.00 |" in row_a and "slower" not in row_a
    assert "| 0.80 |" in row_b and "**slower**" in row_b
    with pytest.raises(ValueError, match="no solver_race table"):
        report.parse_race_table("nothing here")


def test_ab_fits_same_tree_same_iterates(tmp_path, tiny):
    """ab_fits.py with one tree on both sides: each worker imports fastlogit from its root,
    and the two processes reach the same iterates (same iteration count and F to the last
    digit) with positive CPU times."""
    from sklearn.datasets import dump_svmlight_file

    from benchmarks import ab_fits

    X, y = tiny
    path = tmp_path / "tiny.svm"
    dump_svmlight_file(X, y, str(path))
    root = str(common.ROOT)
    rows = ab_fits.main([root, root, "--datasets", str(path), "--solvers", "lbfgs",
                         "--rounds", "1", "--fits", "1", "--tol", "1e-8"])
    assert [key for _, key, *_ in rows] == ["value_grad", "hessp", "lbfgs"]
    label, key, before, after, last = rows[-1]
    assert label == "tiny" and before > 0 and after > 0
    assert last["before"]["n_iter"] == last["after"]["n_iter"] > 0
    assert last["before"]["F"] == last["after"]["F"]


def test_elastic_net_split_reference(tiny):
    """benchmarks/en_reference.py's independent elastic-net reference: its split-form
    gradient against finite differences, and its L-BFGS-B optimum against our l1 solver's
    (F within 1e-10 relative; at the optimum min(u, v) = 0, so the split F is ours)."""
    from benchmarks import en_reference, l1_race

    X, y = tiny
    fun = en_reference.split_objective(X, 2.0 * y - 1.0, C, 0.5)
    rng = np.random.default_rng(1)
    x = np.r_[rng.uniform(0.1, 1.0, 2 * X.shape[1]), 0.2]
    g = fun(x)[1]
    h = 1e-6
    for j in (0, 5, X.shape[1] + 3, 2 * X.shape[1]):
        e = np.zeros_like(x)
        e[j] = h
        fd = (fun(x + e)[0] - fun(x - e)[0]) / (2 * h)
        assert g[j] == pytest.approx(fd, rel=1e-6, abs=1e-6)
    theta, pg, _, _ = en_reference.split_lbfgsb(X, y, C, 0.5, 1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = l1_race.ours(X, y, C, 1e-12, 0.5)
    f_ref = l1_race.l1_objective(X, y, theta, C, 0.5)
    f_ours = l1_race.l1_objective(X, y, ours, C, 0.5)
    assert pg < 1e-6
    assert abs(f_ref - f_ours) <= 1e-10 * f_ours


def test_ab_cv_links_each_tree_as_its_own_package(tmp_path):
    """ab_cv.py imports each tree's fastlogit under a name of its own (the same tree twice:
    two packages, two estimator classes, files under the tree), and compares fits bit for
    bit over its attributes."""
    from types import SimpleNamespace

    from benchmarks import ab_cv

    root = common.ROOT
    added = list(ab_cv.link_trees([root, root], tmp_path))
    try:
        first, second = added
        assert first.__name__ == "fastlogit_0" and second.__name__ == "fastlogit_1"
        assert first.LogisticRegressionCV is not second.LogisticRegressionCV
        assert first.__file__.startswith(str(tmp_path))
    finally:
        import sys

        for name in [m for m in sys.modules if m.split(".")[0] in ("fastlogit_0", "fastlogit_1")]:
            del sys.modules[name]
        sys.path.remove(str(tmp_path))
    fit = SimpleNamespace(C_=1.0, scores_=np.ones((2, 1, 3)), coef_=np.zeros((1, 4)),
                          coefs_paths_=np.zeros((2, 1, 3, 1, 5)))
    other = SimpleNamespace(**{**vars(fit), "coef_": np.full((1, 4), -0.0)})
    assert all(ab_cv.bitwise_same(fit, fit).values())
    assert ab_cv.bitwise_same(other, fit) == {"C_": True, "scores_": True, "coef_": False,
                                              "coefs_paths_": True}  # -0.0 is not 0.0
    other.scores_ = other.scores_ * 0.5
    assert not ab_cv.bitwise_same(other, fit)["scores_"]
