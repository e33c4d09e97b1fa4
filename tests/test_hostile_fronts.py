"""One table of bad inputs, run against every front: LogisticRegression, SGDLogisticRegression,
the Dask estimator and the CLI.  Each case must raise ValueError (the CLI: exit status 1 or 2)
with a message matching the case's pattern, the same on every front."""
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

from fastlogit import LogisticRegression, SGDLogisticRegression

RNG = np.random.default_rng(0)
X0 = RNG.standard_normal((40, 3))
Y0 = (X0[:, 0] > 0).astype(int)


def _with(array, index, value):
    out = np.array(array, dtype=np.float64)
    out[index] = value
    return out


# name, data overrides (X, y, sample_weight), estimator parameters, message pattern
CASES = [
    ("nan-in-X", dict(X=_with(X0, (3, 1), np.nan)), {}, r"Input X contains NaN"),
    ("nan-in-csr-X", dict(X=sp.csr_matrix(_with(X0, (3, 1), np.nan))), {},
     r"Input X contains NaN"),
    ("inf-in-X", dict(X=_with(X0, (3, 1), np.inf)), {}, r"Input X contains infinity"),
    ("nan-label", dict(y=_with(Y0, 2, np.nan)), {}, r"Input y contains NaN"),
    ("one-class", dict(y=np.zeros(40)), {}, r"only one class"),
    ("negative-weight", dict(sample_weight=-np.ones(40)), {},
     r"sample_weight must be finite and non-negative"),
    ("nan-weight", dict(sample_weight=_with(np.ones(40), 0, np.nan)), {},
     r"sample_weight must be finite and non-negative"),
    ("short-weight", dict(sample_weight=np.ones(39)), {}, r"sample_weight must have shape"),
    ("short-y", dict(y=Y0[:30]), {}, r"inconsistent numbers of samples"),
    ("negative-tol", {}, dict(tol=-1.0), r"tol must be a finite number >= 0"),
    ("negative-max-iter", {}, dict(max_iter=-1), r"max_iter must be a"),
    ("negative-class-weight", {}, dict(class_weight={0: -1.0, 1: 1.0}),
     r"class_weight for class 0 must be finite and >= 0"),
    ("nan-class-weight", {}, dict(class_weight={0: np.nan, 1: 1.0}),
     r"class_weight for class 0 must be finite and >= 0"),
    ("l1-ratio-above-1", {}, dict(l1_ratio=2.0), r"l1_ratio must lie in \[0, 1\]"),
]
# the regularisation strength is C for LogisticRegression and alpha for the SGD estimator
STRENGTH = [("C", v, r"C must be a positive") for v in (0.0, -1.0, np.nan)] + \
           [("alpha", v, r"alpha must be a finite number > 0") for v in (0.0, -1.0, np.nan)]


def _fit(est, data):
    X = data.get("X", X0)
    y = data.get("y", Y0)
    return est.fit(X, y, sample_weight=data.get("sample_weight"))


@pytest.mark.parametrize("front", [LogisticRegression, SGDLogisticRegression],
                         ids=lambda c: c.__name__)
@pytest.mark.parametrize("name,data,params,pattern", CASES, ids=[c[0] for c in CASES])
def test_in_memory_fronts(front, name, data, params, pattern):
    if front is SGDLogisticRegression and "l1_ratio" in params:
        params = dict(params, penalty="elasticnet")
    with pytest.raises(ValueError, match=pattern):
        _fit(front(**params), data)


@pytest.mark.parametrize("name,value,pattern", STRENGTH, ids=lambda v: str(v))
def test_regularisation_strength(name, value, pattern):
    front = LogisticRegression if name == "C" else SGDLogisticRegression
    with pytest.raises(ValueError, match=pattern):
        _fit(front(**{name: value}), {})


def test_predict_checks_width_and_nan_on_every_in_memory_front():
    for front in (LogisticRegression, SGDLogisticRegression):
        est = front().fit(X0, Y0)
        with pytest.raises(ValueError, match="X has 2 features"):
            est.predict(X0[:, :2])
        with pytest.raises(ValueError, match="Input X contains NaN"):
            est.predict_proba(_with(X0, (0, 0), np.nan))


# ----------------------------------------------------------------------------------- Dask
@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                       dashboard_address=None)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.mark.parametrize("name,data,params,pattern", CASES, ids=[c[0] for c in CASES])
def test_dask_front(client, name, data, params, pattern):
    da = pytest.importorskip("dask.array")
    from fastlogit.dask import LogisticRegression as DaskLogisticRegression

    X = data.get("X", X0)
    y = np.asarray(data.get("y", Y0))
    dX = da.from_array(X, chunks=(20, X.shape[1]), asarray=not sp.issparse(X))
    dy = da.from_array(y, chunks=20)
    sw = data.get("sample_weight")
    dsw = None if sw is None else da.from_array(sw, chunks=20)
    with pytest.raises(ValueError, match=pattern):
        DaskLogisticRegression(**params).fit(dX, dy, sample_weight=dsw)


# ----------------------------------------------------------------------------------- CLI
def _cli(*args):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, "-m", "fastlogit.cli", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize("line,pattern", [
    ("1 1:0.5 2:nan", r"bad\.svm:1: .*NaN"),
    ("1 1:0.5 2:inf", r"bad\.svm:1: .*infinity"),
    ("nan 1:0.5", r"bad\.svm:1"),
], ids=["nan-value", "inf-value", "nan-label"])
def test_cli_names_file_and_line(tmp_path, line, pattern):
    path = tmp_path / "bad.svm"
    path.write_text(line + "\n0 1:0.1\n1 2:1\n")
    res = _cli("fit", path, "-o", tmp_path / "m.npz")
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr
    assert __import__("re").search(pattern, res.stderr), res.stderr
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize("option,value", [("--C", "-1"), ("--C", "nan"), ("--tol", "-1"),
                                          ("--max-iter", "-1"), ("--l1-ratio", "2")])
def test_cli_names_the_option(tmp_path, option, value):
    path = tmp_path / "ok.svm"
    path.write_text("1 1:0.5 2:0.3\n0 1:0.1\n1 2:1\n0 1:-1\n")
    extra = ["--penalty", "elasticnet"] if option == "--l1-ratio" else []
    res = _cli("fit", path, "-o", tmp_path / "m.npz", option, value, *extra)
    assert res.returncode == 2 and option in res.stderr and "Traceback" not in res.stderr
