"""The fastlogit command line tool: fit / predict / evaluate / convert / info / demo."""
import os
import subprocess
import sys

import numpy as np
import pytest

from fastlogit import cli
from fastlogit.cli import main

sklearn = pytest.importorskip("sklearn")


def run(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def field(out, name):
    line = next(l for l in out.splitlines() if l.startswith(name))
    return float(line.split()[1])


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A small binary svmlight train/test pair with labels in {-1, +1}."""
    rng = np.random.default_rng(0)
    d = tmp_path_factory.mktemp("cli")
    w = rng.standard_normal(20)

    def make(name, n):
        X = (rng.random((n, 20)) < 0.3) * rng.standard_normal((n, 20))
        y = np.where(rng.random(n) < 1 / (1 + np.exp(-X @ w)), 1, -1)
        lines = []
        for xi, yi in zip(X, y):
            nz = np.flatnonzero(xi)
            lines.append(f"{yi:+d} " + " ".join(f"{j + 1}:{float(xi[j])!r}" for j in nz))
        path = d / name
        path.write_text("\n".join(lines) + "\n")
        return path

    return make("train.svm", 600), make("test.svm", 300), d


@pytest.fixture(scope="module")
def model_file(data):
    """A model fitted on the training file by ``fastlogit fit``."""
    train, _, d = data
    path = d / "fitted.npz"
    assert main(["fit", str(train), "-o", str(path), "-q"]) == 0
    return path


def objective(X, y01, coef, b, C):
    z = X @ coef + b
    return C * np.sum(np.logaddexp(0, z) - y01 * z) + 0.5 * coef @ coef


def test_demo_main_job(capsys, tmp_path):
    rc, out, err = run(capsys, "demo", "-o", tmp_path / "bc.model")
    assert rc == 0, err
    from sklearn.datasets import load_breast_cancer

    import fastlogit

    X, y = load_breast_cancer(return_X_y=True)
    model = fastlogit.load(tmp_path / "bc.model")
    F = objective(X, y, model.coef_[0], model.intercept_[0], 1.0)
    assert field(out, "objective") == pytest.approx(F, rel=1e-8)
    assert field(out, "accuracy") == pytest.approx(model.score(X, y))
    assert "time       fit" in out and field(out, "accuracy") > 0.9


def test_fit_predict_evaluate(capsys, data, tmp_path):
    train, test, _ = data
    model_path = tmp_path / "m.npz"
    rc, out, err = run(capsys, "fit", train, "-o", model_path, "--C", 0.5, "--solver",
                       "newton-cg", "--tol", 1e-8, "-q")
    assert rc == 0 and err == ""
    from sklearn.datasets import load_svmlight_file
    from sklearn.linear_model import LogisticRegression as SkLR
    from sklearn.metrics import accuracy_score, brier_score_loss, log_loss, roc_auc_score

    import fastlogit

    X, y = load_svmlight_file(str(train), n_features=20)
    ref = SkLR(C=0.5, tol=1e-10, max_iter=1000).fit(X, y)
    model = fastlogit.load(model_path)
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-5, atol=1e-6)
    F = objective(X.toarray(), (y > 0).astype(float), model.coef_[0], model.intercept_[0], 0.5)
    assert field(out, "objective") == pytest.approx(F, rel=1e-9)
    assert "solver=newton-cg" in out

    Xt, yt = load_svmlight_file(str(test), n_features=20)
    rc, out, err = run(capsys, "predict", model_path, test, "-o", tmp_path / "p.txt")
    assert rc == 0
    labels = np.loadtxt(tmp_path / "p.txt")
    np.testing.assert_array_equal(labels, model.predict(Xt))
    rc, out, _ = run(capsys, "predict", model_path, test, "--proba")
    lines = out.splitlines()
    assert lines[0] == "labels -1 1"
    table = np.array([l.split() for l in lines[1:]], dtype=float)
    np.testing.assert_allclose(table[:, 1:], model.predict_proba(Xt), rtol=1e-7)

    rc, out, err = run(capsys, "evaluate", model_path, test, "--plot", tmp_path / "rel.png",
                       "--bins", 5)
    assert rc == 0, err
    P = model.predict_proba(Xt)
    assert field(out, "log-loss") == pytest.approx(log_loss(yt, P), abs=1e-6)
    assert field(out, "accuracy") == pytest.approx(accuracy_score(yt, model.predict(Xt)))
    assert float(out.split("ROC AUC")[1].split()[0]) == pytest.approx(
        roc_auc_score(yt, P[:, 1]), abs=1e-6)
    assert field(out, "Brier") == pytest.approx(brier_score_loss(yt, P[:, 1], pos_label=1),
                                                abs=1e-6)
    rows = [l for l in out.splitlines() if l[:1] in ("[", "(")]
    assert len(rows) == 5 and sum(int(r.split()[2]) for r in rows) == 300
    from sklearn.calibration import calibration_curve

    observed, predicted = calibration_curve(yt > 0, P[:, 1], n_bins=5)
    shown = np.array([[float(r.split()[3]), float(r.split()[4])] for r in rows
                      if r.split()[3] != "-"])
    np.testing.assert_allclose(shown, np.column_stack([predicted, observed]), atol=6e-5)
    assert (tmp_path / "rel.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_metrics_multiclass():
    rng = np.random.default_rng(0)
    from sklearn.metrics import roc_auc_score

    P = rng.dirichlet(np.ones(3), 200)
    y = rng.integers(0, 3, 200).astype(float) + 1
    res = cli.evaluate_probabilities(y, P, np.array([1.0, 2.0, 3.0]), 4)
    assert res["roc_auc"] == pytest.approx(roc_auc_score(y, P, multi_class="ovr"))
    assert sum(r[2] for r in res["calibration"]) == 200


def test_convert_info_and_out_of_core_fit(capsys, data, tmp_path):
    train, _, _ = data
    cache = tmp_path / "train.flc"
    rc, out, _ = run(capsys, "convert", train, "-o", cache)
    assert rc == 0 and "600 samples x 20 features" in out
    rc, out, _ = run(capsys, "info", cache)
    assert rc == 0 and "600 samples x 20 features" in out and "-1:" in out
    rc, out, _ = run(capsys, "info", train)
    assert rc == 0 and "svmlight" in out
    rc, out_mem, _ = run(capsys, "fit", cache, "-o", tmp_path / "a.npz", "--tol", 1e-9)
    rc2, out_ooc, err = run(capsys, "fit", cache, "-o", tmp_path / "b.npz", "--tol", 1e-9,
                            "--out-of-core", "--chunk-nnz", 500)
    assert rc == rc2 == 0, err
    assert "out of core" in out_ooc
    import fastlogit

    a, b = fastlogit.load(tmp_path / "a.npz"), fastlogit.load(tmp_path / "b.npz")
    np.testing.assert_allclose(b.coef_, a.coef_, rtol=1e-6, atol=1e-8)
    assert field(out_ooc, "objective") == pytest.approx(field(out_mem, "objective"), rel=1e-9)
    assert field(out_ooc, "accuracy") == field(out_mem, "accuracy")
    rc, out_sgd, err = run(capsys, "fit", cache, "--out-of-core", "--chunk-nnz", 500,
                           "--solver", "minibatch", "--max-iter", 30, "-q")
    assert rc == 0 and "solver=minibatch" in out_sgd, err
    assert field(out_mem, "objective") <= field(out_sgd, "objective") \
        <= 1.05 * field(out_mem, "objective")


def test_feature_count_mismatch(capsys, data, tmp_path):
    train, _, d = data
    model_path = tmp_path / "m.npz"
    assert run(capsys, "fit", train, "-o", model_path, "-q")[0] == 0
    # data with fewer features than the model: trailing features absent, padded
    narrow = tmp_path / "narrow.svm"
    narrow.write_text("1 1:0.5 3:1\n-1 2:1\n")
    rc, out, _ = run(capsys, "predict", model_path, narrow)
    assert rc == 0 and len(out.split()) == 2
    # data with more features than the model: an error naming file and line
    wide = tmp_path / "wide.svm"
    wide.write_text("1 1:0.5 3:1\n-1 2:1 25:1\n")
    rc, _, err = run(capsys, "predict", model_path, wide)
    assert rc == 1 and "wide.svm:2: feature id 25 is beyond n_features=20" in err
    rc, _, err = run(capsys, "evaluate", model_path, "builtin:breast_cancer")
    assert rc == 1 and "has 30 features, the model expects 20" in err


@pytest.mark.parametrize("case", ["corrupt", "missing", "empty", "model", "labels"])
def test_errors_exit_1_with_message(capsys, data, tmp_path, case):
    train, _, _ = data
    if case == "corrupt":
        bad = tmp_path / "bad.svm"
        bad.write_text("1 1:1\n-1 2:x\n")
        rc, _, err = run(capsys, "fit", bad, "-o", tmp_path / "m.npz")
        assert "bad.svm:2: invalid value b'x'" in err
    elif case == "missing":
        rc, _, err = run(capsys, "info", tmp_path / "nope.svm")
        assert "No such file" in err and "nope.svm" in err
    elif case == "empty":
        (tmp_path / "e.svm").write_text("")
        rc, _, err = run(capsys, "fit", tmp_path / "e.svm")
        assert "e.svm: no samples" in err
    elif case == "model":
        (tmp_path / "junk.npz").write_bytes(b"not a model")
        rc, _, err = run(capsys, "predict", tmp_path / "junk.npz", train)
        assert "junk.npz: not a valid fastlogit-model file: not a ZIP archive" in err
    else:
        m = tmp_path / "m.npz"
        run(capsys, "fit", train, "-o", m, "-q")
        other = tmp_path / "o.svm"
        other.write_text("3 1:1\n")
        rc, _, err = run(capsys, "evaluate", m, other)
        assert "o.svm:1: label 3 is not among the model's classes ['-1', '1']" in err
    assert rc == 1
    assert not (tmp_path / "m.npz").exists() or case == "labels"


def test_usage_errors_exit_2(capsys):
    for argv in (["fit"], ["frobnicate"], ["fit", "x", "--C", "abc"], []):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
    capsys.readouterr()


def test_interrupted_outputs_leave_no_partial_file(capsys, data, tmp_path, monkeypatch):
    train, test, _ = data
    model_path = tmp_path / "m.npz"
    assert run(capsys, "fit", train, "-o", model_path, "-q")[0] == 0
    before = sorted(os.listdir(tmp_path))
    # predict interrupted while writing: the old output stays, no temporary file remains
    out = tmp_path / "p.txt"
    out.write_text("old\n")
    from fastlogit import predict_stream

    calls = {"n": 0}
    real = predict_stream._format_chunk

    def flaky(*a):  # the second block of predictions is never written
        calls["n"] += 1
        if calls["n"] > 1:
            raise KeyboardInterrupt
        return real(*a)

    monkeypatch.setattr(predict_stream, "_format_chunk", flaky)
    rc, _, err = run(capsys, "predict", model_path, test, "-o", out, "--chunk-mb", 0.004)
    assert rc == 1 and "interrupted" in err and calls["n"] == 2
    assert out.read_text() == "old\n"
    monkeypatch.setattr(predict_stream, "_format_chunk", real)
    # fit interrupted inside the solver: no model file
    from fastlogit import solvers

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setitem(solvers.SOLVERS, "newton-cholesky", boom)
    rc, _, err = run(capsys, "fit", train, "-o", tmp_path / "new.npz", "--solver",
                     "newton-cholesky")
    assert rc == 1 and "interrupted" in err
    assert sorted(os.listdir(tmp_path)) == sorted(before + ["p.txt"])


def test_console_script_and_module(capsys, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "fastlogit", "--help"], capture_output=True,
                          text=True)
    assert proc.returncode == 0 and "examples:" in proc.stdout and "fastlogit demo" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "fastlogit", "info", str(tmp_path / "x")],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stdout == "" and "error" in proc.stderr
    for sub in ("fit", "predict", "evaluate", "convert", "info", "demo"):
        with pytest.raises(SystemExit) as info:
            main([sub, "--help"])
        assert info.value.code == 0 and "example" in capsys.readouterr().out, sub


# ------------------------------------------------------------------ issue 13 item 8: messages
def test_nan_in_data_names_file_and_line(capsys, data, model_file, tmp_path):
    """Was 'Input X contains NaN' with no file or line."""
    train, _, _ = data
    bad = tmp_path / "bad.svm"
    bad.write_text("1 1:1\n# comment\n-1 2:nan\n")
    rc, _, err = run(capsys, "fit", bad, "-o", tmp_path / "m.npz")
    assert rc == 1 and "bad.svm:3: feature 2 has the value nan" in err
    assert not (tmp_path / "m.npz").exists()
    for cmd in ("predict", "evaluate"):
        rc, _, err = run(capsys, cmd, model_file, bad)
        assert rc == 1 and "bad.svm:3: feature 2 has the value nan" in err, cmd
    rc, _, err = run(capsys, "convert", bad, "-o", tmp_path / "c.flc")
    assert rc == 1 and "bad.svm:3:" in err and not (tmp_path / "c.flc").exists()
    rc, out, _ = run(capsys, "info", bad)  # describing the data is fine
    assert rc == 0 and "2 samples" in out
    from fastlogit.io import save_csr_cache

    save_csr_cache(tmp_path / "nan.flc", np.array([[1.0, 0.0], [0.0, np.inf]]),
                   np.array([0.0, 1.0]))
    for extra in ((), ("--out-of-core",)):
        rc, _, err = run(capsys, "fit", tmp_path / "nan.flc", *extra)
        assert rc == 1 and "nan.flc: row 2 of the CSR cache: feature 1 (zero-based) has " \
                           "the value inf" in err, extra


def test_outputs_are_checked_before_the_work(capsys, data, model_file, tmp_path, monkeypatch):
    """-o in a missing directory failed only after the whole fit, naming the temp file."""
    train, test, _ = data
    model = model_file
    from fastlogit import LogisticRegression

    def no_work(*args, **kwargs):
        raise AssertionError("the work started")

    monkeypatch.setattr(LogisticRegression, "fit", no_work)
    monkeypatch.setattr(cli, "load_data", no_work)
    missing = tmp_path / "nope" / "x"
    (tmp_path / "adir").mkdir()
    cases = [("fit", train, "-o", missing), ("predict", model, test, "-o", missing),
             ("evaluate", model, test, "--plot", missing),
             ("fit", train, "-o", tmp_path / "adir")]
    for argv in cases:
        rc, _, err = run(capsys, *argv)
        option = argv[-2]
        assert rc == 1 and f"error: {option} {argv[-1]}: cannot write there" in err, argv
        assert "the work started" not in err and ".fastlogit-tmp" not in err
    assert sorted(os.listdir(tmp_path)) == ["adir"]


def test_out_of_core_needs_a_cache(capsys, data):
    train, _, _ = data
    rc, _, err = run(capsys, "fit", train, "--out-of-core")
    assert rc == 1 and "{args.data" not in err
    assert f"--out-of-core needs a CSR cache, and {train} is not one" in err


def test_png_as_a_model(capsys, data, tmp_path):
    """Loading a PNG as a model printed NumPy's 'allow_pickle' text."""
    train, _, _ = data
    png = tmp_path / "plot.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    rc, _, err = run(capsys, "predict", png, train)
    assert rc == 1 and "plot.png: not a valid fastlogit-model file: not a ZIP archive (it " \
                       "looks like a PNG image)" in err
    assert "allow_pickle" not in err and "Traceback" not in err


def test_plot_without_matplotlib(capsys, data, model_file, tmp_path, monkeypatch):
    """Was an uncaught ImportError."""
    _, test, _ = data
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    rc, _, err = run(capsys, "evaluate", model_file, test, "--plot", tmp_path / "r.png")
    assert rc == 1 and "--plot needs matplotlib" in err and "pip install fastlogit[plot]" in err


@pytest.mark.parametrize("argv,message", [
    (["fit", "x", "--solver", "foo"], "argument --solver: 'foo' is not a solver; choose from "
                                      "auto, l1, lbfgs"),
    (["fit", "x", "--solver", "newton-cg", "--penalty", "l1"],
     "argument --solver: 'newton-cg' does not handle --penalty l1; choose from auto, l1"),
    (["fit", "x", "--penalty", "elasticnet"], "argument --l1-ratio: --penalty elasticnet needs"),
    (["evaluate", "m", "x", "--bins", "-5"], "argument --bins: must be an integer in [1, 10000], "
                                             "got '-5'"),
    (["fit", "x", "--C", "-1"], "argument --C/-C: must be a positive finite number, got '-1'"),
    (["fit", "x", "--C", "nan"], "argument --C/-C: must be a positive finite number"),
    (["fit", "x", "--tol", "0"], "argument --tol: must be a positive finite number"),
    (["fit", "x", "--max-iter", "0"], "argument --max-iter: must be a positive integer"),
    (["fit", "x", "--l1-ratio", "2"], "argument --l1-ratio: must be a number in [0, 1]"),
    (["fit", "x", "--chunk-nnz", "-3"], "argument --chunk-nnz: must be a positive integer"),
    (["info", "x", "--threads", "0"], "argument --threads: must be a non-zero integer"),
    (["fit", "x", "--random-state", "-1"], "argument --random-state: must be an integer in"),
])
def test_bad_command_lines_exit_2_naming_the_option(capsys, argv, message):
    """--solver foo exited 1 (the help promises 2); --bins -5 did not name the option."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and message in err, err


def test_bad_thread_variable_is_named(capsys, data, monkeypatch):
    train, _, _ = data
    monkeypatch.setenv("FASTLOGIT_NUM_THREADS", "abc")
    with pytest.raises(SystemExit) as info:
        main(["info", str(train)])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert "environment variable FASTLOGIT_NUM_THREADS must be a positive integer, got 'abc'" \
        in err
    from fastlogit._config import effective_n_threads

    with pytest.raises(ValueError, match="FASTLOGIT_NUM_THREADS"):
        effective_n_threads()
    monkeypatch.setenv("FASTLOGIT_NUM_THREADS", "1")
    assert effective_n_threads() == 1
    with pytest.raises(ValueError, match="n_threads must be"):
        effective_n_threads("many")


def test_writes_go_through_the_one_atomic_helper(capsys, data, tmp_path, monkeypatch):
    """fit -o, predict -o and --plot all write through fastlogit._atomic.atomic_write."""
    from fastlogit import _atomic

    train, test, _ = data
    seen = []
    real = _atomic.atomic_write

    def spy(path, mode="wb", encoding=None):
        seen.append(os.path.basename(path))
        return real(path, mode, encoding)

    monkeypatch.setattr(_atomic, "atomic_write", spy)
    monkeypatch.setattr(cli, "atomic_write", spy)
    from fastlogit import persistence

    monkeypatch.setattr(persistence, "atomic_write", spy)
    assert run(capsys, "fit", train, "-o", tmp_path / "m.npz", "-q")[0] == 0
    assert run(capsys, "predict", tmp_path / "m.npz", test, "-o", tmp_path / "p.txt")[0] == 0
    assert run(capsys, "evaluate", tmp_path / "m.npz", test, "--plot", tmp_path / "r.png")[0] == 0
    assert seen == ["m.npz", "p.txt", "r.png"]
    import inspect

    assert "mkstemp" not in inspect.getsource(cli) and "os.replace" not in inspect.getsource(cli)


def test_evaluate_with_one_class_present(capsys, model_file, tmp_path):
    one = tmp_path / "one.svm"
    one.write_text("1 1:1\n1 2:1 3:0.5\n1 4:2\n")
    rc, out, err = run(capsys, "evaluate", model_file, one, "--bins", 2)
    assert rc == 0, err
    assert "ROC AUC   nan (undefined: the data holds one class only)" in out
    rows = [l for l in out.splitlines() if l[:1] in ("[", "(")]
    assert sum(int(r.split()[2]) for r in rows) == 3


def test_predict_to_dev_null(capsys, data, model_file):
    _, test, _ = data
    rc, _, err = run(capsys, "predict", model_file, test, "-o", os.devnull)
    assert rc == 0, err
