"""save / load: round trips, atomic writes, and rejection of truncated, damaged, foreign or
forged files (each case of issue 13 items 5-7 with the exception it raised before)."""
import hashlib
import io
import json
import os
import stat
import zipfile

import numpy as np
import pytest

import fastlogit
from fastlogit import _atomic, persistence
from fastlogit.persistence import FORMAT_VERSION, load, save

solvers = pytest.importorskip("fastlogit.solvers")
if not getattr(solvers, "SOLVERS", None):
    pytest.skip("no solvers registered yet", allow_module_level=True)

from fastlogit.estimator import LogisticRegression  # noqa: E402
from fastlogit.sgd_estimator import SGDLogisticRegression  # noqa: E402


def fitted(rng, n_classes=2, dtype=np.float64, labels=None, **params):
    X = rng.standard_normal((60, 4)).astype(dtype)
    y = rng.integers(0, n_classes, 60)
    if labels is not None:
        y = np.asarray(labels)[y]
    return LogisticRegression(**params).fit(X, y), X


@pytest.mark.parametrize("case", ["binary", "multinomial", "strings", "float32", "params",
                                  "bool", "sgd"])
def test_round_trip(rng, tmp_path, case):
    if case == "sgd":
        X = rng.standard_normal((60, 4))
        model = SGDLogisticRegression(random_state=0, max_iter=5, tol=None).fit(
            X, rng.integers(0, 2, 60))
    else:
        kwargs = {
            "binary": {}, "multinomial": dict(n_classes=3),
            "strings": dict(n_classes=3, labels=np.array(["a", "bb", "ccc"], dtype=object)),
            "float32": dict(dtype=np.float32),
            "params": dict(C=np.float64(0.25), class_weight={0: 2.0, 1: 1.0},
                           label_smoothing=0.1, tol=1e-6,
                           noise_transition=np.array([[0.9, 0.1], [0.2, 0.8]])),
            "bool": dict(labels=np.array([False, True])),
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
    for name in persistence.ATTRIBUTES[type(model).__name__]:
        assert getattr(loaded, name) == getattr(model, name), name
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


def test_schema_lists_every_persisted_scalar():
    """The estimators' own lists of fitted scalars stay within the file schema."""
    for cls in (LogisticRegression, SGDLogisticRegression):
        declared = set(getattr(cls, "_persisted_scalars", ()))
        assert declared <= set(persistence.ATTRIBUTES[cls.__name__]), cls.__name__


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


def test_model_outside_the_schema_is_not_saved(rng, tmp_path):
    model, _ = fitted(rng)
    model.coef_ = model.coef_.copy()
    model.coef_[0, 1] = np.nan
    with pytest.raises(ValueError, match="cannot save.*NaN"):
        model.save(tmp_path / "m.npz")
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


# ----------------------------------------------------------------------------- forging helpers
def _members(path):
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def _write(out, members, meta=None, resign=True):
    """Write ``members`` (+ ``meta`` as the metadata) to ``out``; with ``resign`` every
    checksum is recomputed, as a forger would."""
    members = dict(members)
    if meta is not None:
        if resign:
            meta = dict(meta)
            if isinstance(meta.get("arrays"), dict):
                meta["arrays"] = {n: {"dtype": a.dtype.str, "shape": list(a.shape),
                                  "sha256": hashlib.sha256(a.tobytes()).hexdigest()}
                                  for n, a in members.items() if n != "__metadata__"}
            meta.pop("sha256", None)
            body = json.dumps(meta, sort_keys=True, separators=(",", ":"))
            meta["sha256"] = hashlib.sha256(body.encode()).hexdigest()
        members["__metadata__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(out, **members)


def _forge(path, out, change_meta=None, change_arrays=None, resign=True):
    members = _members(path)
    meta = json.loads(members.pop("__metadata__").tobytes())
    if change_arrays:
        change_arrays(members)
    if change_meta:
        change_meta(meta)
    _write(out, members, meta, resign=resign)


@pytest.fixture
def saved(rng, tmp_path):
    model, X = fitted(rng)
    path = tmp_path / "m.npz"
    model.save(path)
    return path, model, X


def _set(**kv):
    return lambda m: m.update(kv)


def _attr(**kv):
    return lambda m: m["attributes"].update(kv)


# Issue 13 item 5: each of these loaded (and predicted wrongly) or crashed before.
@pytest.mark.parametrize("change_meta,change_arrays,match", [
    (None, lambda a: a.update(coef_=a["coef_"] + 1.0), None),
    (_attr(coef_=[[float("nan")] * 4]), None, "NaN is not allowed"),
    (_attr(coef_=[[9.0] * 4]), None, "unknown attribute 'coef_'"),
    (_attr(intercept_=[5.0]), None, "unknown attribute 'intercept_'"),
    (_attr(predict_proba=1), None, "unknown attribute 'predict_proba'"),
    (_attr(converged_="yes"), None, "converged_ must be true or false"),
    (_attr(solver_=["lbfgs"]), None, "solver_ must be a string"),
    (_attr(n_features_in_=5), None, "do not fit"),
    (lambda m: m["attributes"].pop("n_features_in_"), None, "n_features_in_ is missing"),
    (None, lambda a: a.update(classes_=a["classes_"][::-1].copy()), "sorted and unique"),
    (None, lambda a: a.update(coef_=np.full_like(a["coef_"], np.nan)), "NaN or infinity"),
    (None, lambda a: a.update(coef_=a["coef_"].astype(np.float32)), "one dtype"),
    (None, lambda a: a.pop("intercept_"), "missing array intercept_"),
    (None, lambda a: a.update(predict_proba=np.zeros(2)), "unknown array 'predict_proba'"),
    (_set(format_version=FORMAT_VERSION + 1), None, "format_version"),
    (_set(format_version=1), None, "version 1 files carry no checksum"),
    (_set(format="other"), None, "format is 'other'"),
    (_set(estimator="os.system"), None, "unknown estimator"),
    (lambda m: m["params"].update(C={"__float__": "-1.0"}), None, "C must"),
    (lambda m: m["params"].update(n_threads=10**9), None, "n_threads"),
    (lambda m: m["params"].update(backend="rm -rf"), None, "cannot rebuild"),
    (lambda m: m["params"].update(C=[[[[[[[[[[1]]]]]]]]]]), None, "nested deeper"),
    (lambda m: m["params"].update(noise_transition={"__array__": [1], "dtype": "|O"}), None,
     "dtype '|O' is not allowed"),
    (lambda m: m["params"].update(bogus=1), None, "cannot rebuild"),
    (_set(params=[1, 2]), None, "field 'params' must be a JSON object"),
    (_set(arrays="x"), None, "field 'arrays' must be a JSON object"),
], ids=["array-values", "nan-coef-attr", "coef-attr", "intercept-attr", "method-attr", "bool-attr",
        "str-attr", "n-features", "no-n-features", "classes-reversed", "nan-coef", "dtype",
        "missing", "extra-array", "version", "version-1", "format", "estimator", "bad-param",
        "n-threads", "backend", "deep-param", "object-dtype", "unknown-param",
        "params-not-dict", "arrays-not-dict"])
def test_forged_file_is_rejected(saved, tmp_path, change_meta, change_arrays, match):
    path, _, X = saved
    bad = tmp_path / "bad.npz"
    _forge(path, bad, change_meta, change_arrays, resign=True)
    if match is None:  # a forger re-signing changed coefficients: a valid, different model
        assert not np.array_equal(load(bad).coef_, load(path).coef_)
        return
    with pytest.raises(ValueError, match=f"not a valid fastlogit-model file: .*{match}"):
        load(bad)


@pytest.mark.parametrize("change_meta,change_arrays", [
    (_attr(converged_=False), None),
    (lambda m: m["params"].update(tol={"__float__": "0.5"}), None),
    (None, lambda a: a.update(classes_=a["classes_"][::-1].copy())),
    (None, lambda a: a.update(coef_=a["coef_"] * 2.0)),
])
def test_unsigned_edit_fails_the_checksum(saved, tmp_path, change_meta, change_arrays):
    """Issue 13 item 5: every byte of the metadata is covered, not only the arrays."""
    path, _, _ = saved
    bad = tmp_path / "bad.npz"
    members = _members(path)
    meta = json.loads(members.pop("__metadata__").tobytes())
    if change_arrays:  # keep the array digests: only the metadata digest could notice
        change_arrays(members)
        meta["arrays"] = {n: dict(meta["arrays"][n], sha256=hashlib.sha256(
            members[n].tobytes()).hexdigest()) for n in members}
    if change_meta:
        change_meta(meta)
    _write(bad, members, meta, resign=False)
    with pytest.raises(ValueError, match="metadata fails its SHA-256 checksum"):
        load(bad)


def test_same_metadata_in_another_layout_loads(saved, tmp_path):
    """The metadata digest is over its canonical serialisation: whitespace and key order
    (which change no value) do not matter."""
    path, model, X = saved
    members = _members(path)
    meta = json.loads(members.pop("__metadata__").tobytes())
    reordered = dict(reversed(list(meta.items())))
    members["__metadata__"] = np.frombuffer(json.dumps(reordered, indent=3).encode(), np.uint8)
    np.savez(tmp_path / "b.npz", **members)
    np.testing.assert_array_equal(load(tmp_path / "b.npz").predict_proba(X),
                                  model.predict_proba(X))


def test_sgd_attribute_schema(rng, tmp_path):
    X = rng.standard_normal((40, 3))
    model = SGDLogisticRegression(random_state=0, max_iter=3, tol=None).fit(
        X, rng.integers(0, 2, 40))
    path = tmp_path / "s.npz"
    model.save(path)
    for value, match in ((float("inf"), "Infinity is not allowed"), (-1.0, "t_ must be a finite"),
                         ("3", "t_ must be a finite")):
        _forge(path, tmp_path / "bad.npz", _attr(t_=value))
        with pytest.raises(ValueError, match=match):
            load(tmp_path / "bad.npz")
    _forge(path, tmp_path / "bad.npz", _attr(solver_="lbfgs"))
    with pytest.raises(ValueError, match="unknown attribute 'solver_' for SGDLogisticRegression"):
        load(tmp_path / "bad.npz")


# Issue 13 item 6: damaged and foreign files raised other exception types before.
def _zip_with(tmp_path, members):
    out = tmp_path / "f.npz"
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out


def _npy_bytes(header, body=b""):
    fh = io.BytesIO()
    np.lib.format.write_array_header_1_0(fh, header)
    return fh.getvalue() + body


def test_flipped_compression_method(saved, tmp_path):
    """Was NotImplementedError ('That compression method is not supported')."""
    path, _, _ = saved
    blob = bytearray(path.read_bytes())
    cd = blob.rfind(b"PK\x01\x02")  # last central-directory entry: compression at +10
    blob[cd + 10] = 99
    bad = tmp_path / "bad.npz"
    bad.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="compressed"):
        load(bad)


@pytest.mark.parametrize("meta", [b"[1, 2]", b'{"format": "fastlogit-model", '
                                  b'"format_version": 2, "params": 3, "arrays": []}',
                                  b"[" * 100000 + b"]" * 100000, b'"text"', b"NaN"],
                         ids=["list", "fields-not-dicts", "deeply-nested", "string", "nan"])
def test_metadata_of_the_wrong_shape(saved, tmp_path, meta):
    """Was AttributeError (JSON fields not dicts) or RecursionError (deep nesting)."""
    path, _, _ = saved
    members = _members(path)
    members["__metadata__"] = np.frombuffer(meta, dtype=np.uint8)
    bad = tmp_path / "bad.npz"
    np.savez(bad, **members)
    with pytest.raises(ValueError, match="not a valid fastlogit-model"):
        load(bad)


def test_foreign_files(tmp_path, saved):
    """A .npy (was TypeError), a PNG (numpy's allow_pickle text), a header declaring 1e12
    items (was MemoryError), an object array, a non-npy member."""
    path, _, _ = saved
    npy = tmp_path / "a.npy"
    np.save(npy, np.arange(3.0))
    png = tmp_path / "a.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    huge = _zip_with(tmp_path, {"__metadata__.npy": _npy_bytes(
        {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}, bytes(64))})
    cases = [(npy, "looks like a single .npy array"), (png, "looks like a PNG image"),
             (huge, "declares 1000000000000 items")]
    for target, match in cases:
        with pytest.raises(ValueError, match=match):
            load(target)
    obj = tmp_path / "o.npz"
    np.savez(obj, __metadata__=np.frombuffer(b"{}", dtype=np.uint8),
             coef_=np.array([object()], dtype=object))
    with pytest.raises(ValueError, match="dtype object"):
        load(obj)
    other = _zip_with(tmp_path, {"readme.txt": b"hello"})
    with pytest.raises(ValueError, match="not a .npy array"):
        load(other)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.npz")


def test_not_an_archive(tmp_path):
    path = tmp_path / "x.npz"
    path.write_text("hello")
    with pytest.raises(ValueError, match="not a ZIP archive"):
        load(path)


# ----------------------------------------------------------------------------- saving
def test_crash_during_write_keeps_old_file(rng, tmp_path, monkeypatch):
    old, X = fitted(rng)
    path = tmp_path / "m.npz"
    old.save(path)
    before = path.read_bytes()
    new, _ = fitted(rng, n_classes=3)

    def crash(fd):
        raise OSError("disk on fire")

    monkeypatch.setattr(_atomic.os, "fsync", crash)
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

    monkeypatch.setattr(_atomic.os, "replace", spy)
    save(model, path)
    assert len(calls) == 1 and os.fspath(calls[0][1]) == os.fspath(path)
    assert os.path.dirname(calls[0][0]) == os.fspath(tmp_path)


@pytest.fixture
def umask():
    def set_(mask):
        os.umask(mask)
    old = os.umask(0o022)
    yield set_
    os.umask(old)


def test_file_mode_follows_umask(saved, tmp_path, umask):
    """Issue 13 item 7: models were written 0600 even over a 0644 file."""
    _, model, _ = saved
    umask(0o022)
    model.save(tmp_path / "new.npz")
    with open(tmp_path / "plain", "w"):
        pass
    assert stat.S_IMODE(os.stat(tmp_path / "new.npz").st_mode) == 0o644
    assert stat.S_IMODE(os.stat(tmp_path / "plain").st_mode) == 0o644
    umask(0o077)
    model.save(tmp_path / "private.npz")
    assert stat.S_IMODE(os.stat(tmp_path / "private.npz").st_mode) == 0o600
    model.save(tmp_path / "new.npz")  # replacing keeps the existing file's mode
    assert stat.S_IMODE(os.stat(tmp_path / "new.npz").st_mode) == 0o644
    os.chmod(tmp_path / "new.npz", 0o640)
    model.save(tmp_path / "new.npz")
    assert stat.S_IMODE(os.stat(tmp_path / "new.npz").st_mode) == 0o640


def test_save_through_a_symlink(rng, tmp_path):
    """Issue 13 item 7: saving to a symlink replaced the link; now it writes the target."""
    model, X = fitted(rng)
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "model.npz"
    target.write_bytes(b"old")
    link = tmp_path / "link.npz"
    link.symlink_to(target)
    chain = tmp_path / "chain.npz"
    chain.symlink_to(link)
    model.save(chain)
    assert chain.is_symlink() and link.is_symlink()
    np.testing.assert_array_equal(load(target).predict(X), model.predict(X))
    assert sorted(os.listdir(tmp_path / "real")) == ["model.npz"]


def _dead_pid():
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_temp_files_are_cleaned_on_the_next_save(saved, tmp_path):
    """Issue 13 item 7: a killed save left a full-size hidden temp file forever."""
    path, model, _ = saved
    host = _atomic._host()
    dead = tmp_path / f".m.npz.fastlogit-tmp.{host}.{_dead_pid()}.0123abcd"
    live = tmp_path / f".m.npz.fastlogit-tmp.{host}.{os.getppid()}.0123abcd"
    other_host = tmp_path / f".m.npz.fastlogit-tmp.elsewhere.{_dead_pid()}.0123abcd"
    other_target = tmp_path / f".n.npz.fastlogit-tmp.{host}.{_dead_pid()}.0123abcd"
    user_file = tmp_path / ".m.npz.fastlogit-tmp.notes"
    for f in (dead, live, other_host, other_target, user_file):
        f.write_bytes(b"x" * 100)
    assert _atomic.stale_temp_files(path) == [str(dead)]
    model.save(path)
    left = sorted(os.listdir(tmp_path))
    assert dead.name not in left
    for f in (live, other_host, other_target, user_file):  # not ours to delete
        assert f.name in left
    load(path)


def test_save_to_a_directory_or_missing_directory(saved, tmp_path):
    _, model, _ = saved
    (tmp_path / "d").mkdir()
    with pytest.raises(IsADirectoryError):
        model.save(tmp_path / "d")
    with pytest.raises(FileNotFoundError):
        model.save(tmp_path / "nope" / "m.npz")
    assert sorted(os.listdir(tmp_path)) == ["d", "m.npz"]
    assert not os.listdir(tmp_path / "d")


def test_object_classes_of_mixed_type_are_refused(rng, tmp_path):
    model, _ = fitted(rng)
    model.classes_ = np.array([1, "a"], dtype=object)
    with pytest.raises(ValueError, match="mixed"):
        model.save(tmp_path / "m.npz")
    assert not os.listdir(tmp_path)


def test_damaged_directory_offset(saved, tmp_path):
    """A flipped byte in the end-of-central-directory record made zipfile seek to a negative
    offset: OSError [Errno 22] (found by tests/test_hostile_models.py)."""
    path, _, _ = saved
    blob = bytearray(path.read_bytes())
    eocd = blob.rfind(b"PK\x05\x06")
    blob[eocd + 19] ^= 0xFF  # most significant byte of the central directory's offset
    (tmp_path / "bad.npz").write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="not a valid fastlogit-model file"):
        load(tmp_path / "bad.npz")


def test_load_from_a_file_object(saved):
    path, model, X = saved
    with open(path, "rb") as fh:
        np.testing.assert_array_equal(load(fh).predict_proba(X), model.predict_proba(X))
    with pytest.raises(ValueError, match=r"^<stream>: not a valid"):
        load(io.BytesIO(b"junk"))
    with open(path) as fh, pytest.raises(TypeError, match="binary file object"):
        load(fh)


def test_check_writable_names_the_directory(tmp_path, monkeypatch):
    """A refused probe is reported with the directory, never the temporary file's name."""
    real_open = os.open

    def refuse(path, *args, **kwargs):
        if ".fastlogit-tmp." in os.fspath(path):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(_atomic.os, "open", refuse)
    with pytest.raises(PermissionError) as info:
        _atomic.check_writable(tmp_path / "m.npz")
    assert info.value.filename == str(tmp_path) and ".fastlogit-tmp" not in str(info.value)


def test_data_given_as_a_model_is_not_read_whole(tmp_path, monkeypatch):
    """Swapped MODEL and DATA: a text file is refused after its first bytes."""
    data = tmp_path / "train.svm"
    data.write_text("1 1:0.5 2:1\n" * 1000)
    reads = []
    real_open = open

    class Spy:
        def __init__(self, fh):
            self.fh = fh

        def read(self, n=-1):
            reads.append(n)
            return self.fh.read(n)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    monkeypatch.setattr(persistence, "open", lambda p, m: Spy(real_open(p, m)), raising=False)
    with pytest.raises(ValueError, match="train.svm: not a valid fastlogit-model file: not a ZIP "
                                         r"archive \(it looks like a text file"):
        load(data)
    assert reads == [64]


def test_atomic_write_to_a_device_or_fifo(tmp_path):
    """/dev/null or a named pipe cannot be renamed over: written in place (the temporary file
    would have gone to /dev)."""
    _atomic.check_writable(os.devnull)
    with _atomic.atomic_write(os.devnull, "w") as fh:
        fh.write("x")
    assert os.path.exists(os.devnull) and not stat.S_ISREG(os.stat(os.devnull).st_mode)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    import threading

    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
    reader.start()
    with _atomic.atomic_write(fifo, "wb") as fh:
        fh.write(b"through the pipe")
    reader.join(10)
    assert got == [b"through the pipe"] and stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert sorted(os.listdir(tmp_path)) == ["pipe"]


def test_other_classes_are_not_saved(rng, tmp_path):
    """A subclass, or another class named LogisticRegression (fastlogit.dask has one), would
    have been written under that name and loaded as fastlogit.LogisticRegression."""
    model, _ = fitted(rng)

    class Mine(LogisticRegression):
        pass

    LogisticRegression_ = type("LogisticRegression", (LogisticRegression,), {})
    for cls in (Mine, LogisticRegression_):
        other = cls()
        other.__dict__.update(model.__dict__)
        with pytest.raises(ValueError, match="cannot save a .*model files hold "
                                             "fastlogit.LogisticRegression"):
            save(other, tmp_path / "m.npz")
    assert not os.listdir(tmp_path)
