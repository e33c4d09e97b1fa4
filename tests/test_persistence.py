"""save / load: round trips, atomic writes, and rejection of truncated or tampered files."""
import io
import json
import os
import zipfile

import numpy as np
import pytest

import fastlogit
from fastlogit import persistence
from fastlogit.persistence import FORMAT_VERSION, load, save

solvers = pytest.importorskip("fastlogit.solvers")
if not getattr(solvers, "SOLVERS", None):
    pytest.skip("no solvers registered yet", allow_module_level=True)

from fastlogit.estimator import LogisticRegression  # noqa: E402


def fitted(rng, n_classes=2, dtype=np.float64, labels=None, **params):
    X = rng.standard_normal((60, 4)).astype(dtype)
    y = rng.integers(0, n_classes, 60)
    if labels is not None:
        y = np.asarray(labels)[y]
    return LogisticRegression(**params).fit(X, y), X


@pytest.mark.parametrize("case", ["binary", "multinomial", "strings", "float32", "params"])
def test_round_trip(rng, tmp_path, case):
    kwargs = {
        "binary": {}, "multinomial": dict(n_classes=3),
        "strings": dict(n_classes=3, labels=np.array(["a", "bb", "ccc"], dtype=object)),
        "float32": dict(dtype=np.float32),
        "params": dict(C=np.float64(0.25), class_weight={0: 2.0, 1: 1.0}, label_smoothing=0.1,
                       noise_transition=np.array([[0.9, 0.1], [0.2, 0.8]]), tol=1e-6),
    }[case]
    model, X = fitted(rng, **kwargs)
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = fastlogit.load(path)
    assert type(loaded) is type(model)
    for name in ("coef_", "intercept_", "classes_", "n_iter_"):
        got, want = getattr(loaded, name), getattr(model, name)
        np.testing.assert_array_equal(got, want)
        assert got.dtype == want.dtype or name == "classes_"
    assert loaded.n_features_in_ == model.n_features_in_
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    params, want = loaded.get_params(), model.get_params()
    for key in want:
        if isinstance(want[key], np.ndarray):
            np.testing.assert_array_equal(params[key], want[key])
        else:
            assert params[key] == want[key], key
    # the file is a plain npz: readable without pickle
    with np.load(path, allow_pickle=False) as npz:
        meta = json.loads(npz["__metadata__"].tobytes())
    assert meta["format"] == "fastlogit-model" and meta["format_version"] == FORMAT_VERSION


def test_feature_names_round_trip(rng, tmp_path):
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(rng.standard_normal((30, 2)), columns=["age", "dose"])
    model = LogisticRegression().fit(X, rng.integers(0, 2, 30))
    model.save(tmp_path / "m.npz")
    loaded = load(tmp_path / "m.npz")
    assert list(loaded.feature_names_in_) == ["age", "dose"]
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_unfitted_model_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not fitted"):
        LogisticRegression().save(tmp_path / "m.npz")
    assert not os.listdir(tmp_path)


def test_truncated_file_is_rejected(rng, tmp_path):
    model, _ = fitted(rng)
    path = tmp_path / "m.npz"
    model.save(path)
    blob = path.read_bytes()
    for cut in (0, 10, len(blob) // 2, len(blob) - 1):
        bad = tmp_path / f"cut{cut}.npz"
        bad.write_bytes(blob[:cut])
        with pytest.raises(ValueError, match="not a valid fastlogit-model"):
            load(bad)


def _rewrite(path, out, mutate):
    """Copy the archive, letting ``mutate(name, array)`` replace members (None drops one)."""
    with np.load(path, allow_pickle=False) as npz:
        members = {k: npz[k] for k in npz.files}
    new = {}
    for k, v in members.items():
        v = mutate(k, v)
        if v is not None:
            new[k] = v
    np.savez(out, **new)


def _with_meta(change):
    def mutate(name, a):
        if name != "__metadata__":
            return a
        meta = json.loads(a.tobytes())
        change(meta)
        return np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    return mutate


@pytest.mark.parametrize("tamper,match", [
    (lambda k, a: a + 1.0 if k == "coef_" else a, "checksum"),
    (lambda k, a: a.astype(np.float32) if k == "coef_" else a, "dtype"),
    (lambda k, a: None if k == "intercept_" else a, "do not match"),
    (lambda k, a: None if k == "__metadata__" else a, "no metadata"),
    (lambda k, a: np.frombuffer(b"{not json", dtype=np.uint8) if k == "__metadata__" else a,
     "JSON"),
    (_with_meta(lambda m: m.update(format_version=FORMAT_VERSION + 1)), "format_version"),
    (_with_meta(lambda m: m.update(format="other")), "format"),
    (_with_meta(lambda m: m.update(estimator="os.system")), "unknown estimator"),
    (_with_meta(lambda m: m["attributes"].update(n_features_in_=5)), "do not fit"),
    (_with_meta(lambda m: m["params"].update(C={"__float__": "-1.0"})), "C must"),
], ids=["values", "dtype", "missing", "no-meta", "bad-json", "version", "format", "estimator",
        "shape", "bad-param"])
def test_tampered_file_is_rejected(rng, tmp_path, tamper, match):
    model, X = fitted(rng)
    path = tmp_path / "m.npz"
    model.save(path)
    bad = tmp_path / "bad.npz"
    _rewrite(path, bad, tamper)
    with pytest.raises(ValueError, match=match):
        loaded = load(bad)
        loaded.predict(X)  # a bad parameter surfaces at the latest when used


def test_pickled_member_is_rejected(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, __metadata__=np.frombuffer(b"{}", dtype=np.uint8),
             coef_=np.array([object()], dtype=object))
    with pytest.raises(ValueError, match="not a valid"):
        load(path)


def test_not_an_archive(tmp_path):
    path = tmp_path / "x.npz"
    path.write_text("hello")
    with pytest.raises(ValueError, match="cannot read the archive"):
        load(path)


def test_crash_during_write_keeps_old_file(rng, tmp_path, monkeypatch):
    old, X = fitted(rng)
    path = tmp_path / "m.npz"
    old.save(path)
    before = path.read_bytes()
    new, _ = fitted(rng, n_classes=3)

    def crash(fd):
        raise OSError("disk on fire")

    monkeypatch.setattr(persistence.os, "fsync", crash)
    with pytest.raises(OSError, match="disk on fire"):
        new.save(path)
    assert path.read_bytes() == before  # old model intact
    assert sorted(os.listdir(tmp_path)) == ["m.npz"]  # no temp file left behind
    np.testing.assert_array_equal(load(path).coef_, old.coef_)


def test_save_replaces_atomically(rng, tmp_path, monkeypatch):
    model, _ = fitted(rng)
    path = tmp_path / "m.npz"
    calls = []
    real_replace = os.replace

    def spy(src, dst):
        # when the rename happens, the temp file is complete and loadable
        assert zipfile.is_zipfile(src) and not os.path.exists(dst)
        with open(src, "rb") as fh:
            np.load(io.BytesIO(fh.read()), allow_pickle=False).close()
        calls.append((src, dst))
        real_replace(src, dst)

    monkeypatch.setattr(persistence.os, "replace", spy)
    save(model, path)
    assert len(calls) == 1 and os.fspath(calls[0][1]) == os.fspath(path)
    assert os.path.dirname(calls[0][0]) == os.fspath(tmp_path)


def test_object_classes_of_mixed_type_are_refused(rng, tmp_path):
    model, _ = fitted(rng)
    model.classes_ = np.array([1, "a"], dtype=object)
    with pytest.raises(ValueError, match="mixed"):
        model.save(tmp_path / "m.npz")
    assert not os.listdir(tmp_path)
