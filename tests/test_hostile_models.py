"""Hostile model files: every single-byte flip and truncation of a small saved model, edits of
its metadata (unsigned and re-signed), and a process killed at random moments while saving.

Outcome of every case: the file loads and predicts exactly as the saved model did (a byte
that changes no prediction, e.g. a ZIP timestamp), or ``load`` raises the documented
ValueError.  Counted and asserted zero: crashes (another exception type), silent wrong
results (loads but predicts differently).  ``FASTLOGIT_FUZZ_SCALE`` (default 1) multiplies
the number of kill-during-save rounds.
"""
import collections
import hashlib
import io
import json
import os
import random
import signal
import time
import warnings

import numpy as np
import pytest

from fastlogit import _atomic
from fastlogit.estimator import LogisticRegression
from fastlogit.persistence import load, save

SCALE = max(1, int(os.environ.get("FASTLOGIT_FUZZ_SCALE", "1")))


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((40, 3))
    model = LogisticRegression().fit(X, (X[:, 0] + 0.3 * rng.standard_normal(40) > 0))
    path = tmp_path_factory.mktemp("model") / "m.npz"
    model.save(path)
    return path, model, X


class _Named(io.BytesIO):
    name = "hostile.npz"


def _outcome(counts, blob, X, want):
    """Load the model file ``blob`` (bytes, from memory: this file system truncates slowly);
    count: rejected (ValueError), identical, silent_wrong or crash."""
    counts["cases"] += 1
    path = _Named.name
    try:
        loaded = load(_Named(blob))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = (loaded.predict(X), loaded.predict_proba(X), loaded.decision_function(X))
    except ValueError as exc:
        if "not a valid fastlogit-model file" not in str(exc) or str(path) not in str(exc):
            counts["wrong_message"] += 1
            return f"message: {exc}"
        counts["rejected"] += 1
        return None
    except Exception as exc:  # noqa: BLE001 - a crash is what is being counted
        counts["crashes"] += 1
        return f"{type(exc).__name__}: {exc}"
    same = all(np.array_equal(g, w) and g.dtype == w.dtype for g, w in zip(got, want))
    if not same:
        counts["silent_wrong"] += 1
        return "loaded with different predictions"
    counts["identical"] += 1
    return None


def _predictions(model, X):
    return model.predict(X), model.predict_proba(X), model.decision_function(X)


def _report(counts, name, problems):
    print(f"\n{name}: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    assert not problems, problems[:10]
    for key in ("crashes", "silent_wrong", "wrong_message"):
        assert counts[key] == 0, dict(counts)


def test_every_byte_flip_and_truncation(small_model):
    """Every byte XOR 0xFF, one random bit of every byte, and every truncation length."""
    path, model, X = small_model
    want = _predictions(model, X)
    blob = path.read_bytes()
    rng = random.Random(0)
    counts, problems = collections.Counter(), []
    for i in range(len(blob)):
        for mask in (0xFF, 1 << rng.randrange(8)):
            damaged = bytearray(blob)
            damaged[i] ^= mask
            problem = _outcome(counts, bytes(damaged), X, want)
            if problem:
                problems.append((i, mask, problem))
    for cut in range(len(blob)):
        problem = _outcome(counts, blob[:cut], X, want)
        if problem:
            problems.append(("cut", cut, problem))
    _report(counts, f"byte flips and truncations of a {len(blob)}-byte model", problems)
    assert counts["cases"] == 3 * len(blob)
    assert counts["rejected"] > 0.9 * counts["cases"]


def _paths(node, prefix=()):
    """Every key path of a JSON value (dict keys and list indices)."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


def _replaced(meta, path, value):
    meta = json.loads(json.dumps(meta))
    node = meta
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return meta


_DELETE = object()
_VALUES = [_DELETE, None, True, 0, -1, 1, 2**63, 1.5, 1e308, "", "x", "NaN", [], [1], {},
           {"__float__": "nan"}, {"__array__": [1], "dtype": "<f8"}, {"__pairs__": []},
           [[[[[[[[[[[[1]]]]]]]]]]]]]


def _sign(meta):
    body = json.dumps({k: v for k, v in meta.items() if k != "sha256"}, sort_keys=True,
                      separators=(",", ":"))
    return dict(meta, sha256=hashlib.sha256(body.encode()).hexdigest())


def test_metadata_edits(small_model):
    """Every key path of the metadata set to each of 19 hostile JSON values (or deleted),
    once as is (the metadata checksum must catch it unless the content is unchanged) and once
    re-signed as a forger would (the schema must catch it, or the model predicts as before)."""
    path, model, X = small_model
    want = _predictions(model, X)
    with np.load(path, allow_pickle=False) as npz:
        members = {k: npz[k] for k in npz.files}
    meta = json.loads(members.pop("__metadata__").tobytes())
    counts, problems = collections.Counter(), []
    for key_path in list(_paths(meta))[1:]:
        for value in _VALUES:
            edited = _replaced(meta, key_path, value)
            for resign in (False, True):
                new = _sign(edited) if resign and key_path != ("sha256",) else edited
                text = json.dumps(new).encode()
                fh = io.BytesIO()
                np.savez(fh, __metadata__=np.frombuffer(text, dtype=np.uint8), **members)
                problem = _outcome(counts, fh.getvalue(), X, want)
                if problem:
                    problems.append((key_path, value, resign, problem))
    _report(counts, "metadata edits", problems)
    assert counts["cases"] >= 1000


# ----------------------------------------------------------------------------- kill during save
def _big_models(n_features=200_000):
    """Two valid models of ~1.6 MB each (a small fit, widened), so a save takes a while."""
    rng = np.random.default_rng(9)
    X = rng.standard_normal((30, 2))
    out = []
    for k in range(2):
        m = LogisticRegression().fit(X, np.arange(30) % 2)
        m.coef_ = rng.standard_normal((1, n_features))
        m.n_features_in_ = n_features
        out.append(m)
    return out


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_kill_during_save(tmp_path):
    """A child process saves two models in turn, forever; it is SIGKILLed at random moments
    (half of the time just after its temporary file appeared).  After each kill the target
    is absent (no save finished yet) or one of the two complete models; the next save in this
    process leaves no temporary file behind."""
    models = _big_models()
    target = tmp_path / "m.npz"
    rounds = 16 * SCALE
    counts = collections.Counter()
    rng = random.Random(1)
    finished_once = False
    for r in range(rounds):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
            pid = os.fork()
        if pid == 0:  # the child: save until killed
            try:
                k = 0
                while True:
                    save(models[k % 2], target)
                    k += 1
            finally:
                os._exit(0)
        if r % 2 == 0:  # wait for a temporary file, then kill within ~3 ms
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline and not any(
                    ".fastlogit-tmp." in n for n in os.listdir(tmp_path)):
                time.sleep(0.0002)
            time.sleep(rng.uniform(0, 0.003))
        else:
            time.sleep(rng.uniform(0, 0.08))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        counts["kills"] += 1
        temps = [n for n in os.listdir(tmp_path) if ".fastlogit-tmp." in n]
        counts["kills_mid_write"] += bool(_atomic.stale_temp_files(target))
        counts["max_temp_files"] = max(counts["max_temp_files"], len(temps))
        if not target.exists():
            assert not finished_once, "a complete model file disappeared"
            counts["no_file_yet"] += 1
            continue
        loaded = load(target)  # complete: one of the two models, bit for bit
        match = [np.array_equal(loaded.coef_, m.coef_) for m in models]
        assert any(match), "the target holds neither model"
        finished_once = True
        counts["complete_file"] += 1
    save(models[0], target)
    left = sorted(os.listdir(tmp_path))
    print(f"\nkill during save: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    assert left == ["m.npz"], left
    assert counts["kills"] == rounds and counts["kills_mid_write"] >= 1, dict(counts)
    np.testing.assert_array_equal(load(target).coef_, models[0].coef_)
