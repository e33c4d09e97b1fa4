"""Hostile input through the command line: a table of bad data files, CSR caches, model files
and options, each run through every command that reads it.

Each case must end with exit status 1 and one line ``fastlogit CMD: error: ...`` naming the
file (and line, for a bad line of text), or exit status 2 naming the option; or, for input
that is merely unusual, succeed.  Counted and asserted zero: crashes (an exception escaping
``main``), tracebacks, messages that name neither the file nor the option.
"""
import bz2
import collections
import gzip
import json
import os
import random

import numpy as np
import pytest

from fastlogit.cli import main

pytest.importorskip("sklearn")

GOOD = "1 1:0.5 3:1\n-1 2:1\n1 1:1 2:0.25\n-1 3:2 4:1\n" * 5


def _flip_stream_crc(blob):
    return blob[:-3] + bytes([blob[-3] ^ 0x20]) + blob[-2:]


# name: (bytes of the file, fragment the error must contain ({} = the file's path));
# fragment None: the input is valid (a success is expected of fit / info)
DATA = {
    "nan-value": (b"1 1:1\n-1 2:nan\n", "{}:2: feature 2 has the value nan"),
    "inf-label": (b"1 1:1\ninf 2:1\n", "{}:2: label inf is not a finite number"),
    "bad-value": (b"1 1:1\n-1 2:x\n", "{}:2: invalid value"),
    "no-colon": (b"1 1:1\n-1 2\n", "{}:2: expected <id>:<value>"),
    "unsorted": (b"1 3:1 2:1\n", "{}:1: feature ids must be increasing"),
    "huge-id": (b"1 4294967296:1\n", "{}:1: feature id 4294967296 too large"),
    "negative-id": (b"1 -3:1\n", "{}:1: invalid feature id -3"),
    "label-missing": (b"1:1 2:1\n", "{}:1: invalid label"),
    "empty": (b"", "{}: no samples"),
    "comments-only": (b"# a\n\n#b\n", "{}: no samples"),
    "png": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "{}:1:"),
    "nul-bytes": (b"\x00" * 100, "{}:1:"),
    "truncated-gz": (gzip.compress(GOOD.encode())[:-6], "{}: cannot read: truncated or corrupt"),
    "bz2-stream-crc": (_flip_stream_crc(bz2.compress(GOOD.encode())),
                       "{}: cannot read: truncated or corrupt"),
    "crlf-no-newline": (GOOD.replace("\n", "\r\n").encode()[:-2], None),
    "qid": (b"1 qid:3 1:1\n-1 qid:3 2:1\n", None),
}


def _run(capsys, argv):
    """(exit status, stderr) of ``main``; a crash is any exception other than SystemExit."""
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as exc:
        rc = exc.code
    out, err = capsys.readouterr()
    return rc, err


def _judge(counts, problems, case, rc, err, expect, names):
    """Count one run: ``expect`` None means success is expected; otherwise exit 1 or 2 whose
    last stderr line is ``fastlogit CMD: error: ...`` holding ``expect`` and one of ``names``."""
    counts["cases"] += 1
    last = err.strip().splitlines()[-1] if err.strip() else ""
    if "Traceback" in err:
        counts["tracebacks"] += 1
        problems.append((case, "traceback", err[-400:]))
    elif expect is None:
        if rc == 0:
            counts["succeeded"] += 1
        else:
            counts["false_failures"] += 1
            problems.append((case, rc, err))
    elif rc not in (1, 2):
        counts["wrong_status"] += 1
        problems.append((case, rc, err))
    elif not (last.startswith("fastlogit ") and ": error: " in last and expect in last
              and any(n in last for n in names)):
        counts["unclear_messages"] += 1
        problems.append((case, expect, err))
    else:
        counts["clear_errors"] += 1


def _report(counts, problems, name):
    print(f"\n{name}: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    assert not problems, problems[:5]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile_cli")
    (d / "good.svm").write_text(GOOD)
    path = d / "m.npz"
    assert main(["fit", str(d / "good.svm"), "-o", str(path), "-q"]) == 0
    return path, d / "good.svm"


def test_bad_data_files(capsys, tmp_path, model):
    model_path, _ = model
    counts, problems = collections.Counter(), []
    for name, (blob, fragment) in DATA.items():
        path = tmp_path / f"{name}.svm"
        path.write_bytes(blob)
        expect = None if fragment is None else fragment.format(path)
        runs = [["fit", path, "-q", "--threads", 2], ["predict", model_path, path],
                ["evaluate", model_path, path], ["convert", path, "-o", tmp_path / "c.flc"],
                ["info", path]]
        for argv in runs:
            nonfinite = name in ("nan-value", "inf-label")
            want = None if (argv[0] == "info" and nonfinite) else expect
            if expect is None and argv[0] == "evaluate":
                want = None
            rc, err = _run(capsys, argv)
            _judge(counts, problems, (name, argv[0]), rc, err, want, [str(path)])
    _report(counts, problems, "CLI, bad data files")


def _cache(tmp_path, name, change):
    from fastlogit.io import save_csr_cache

    X = np.array([[1.0, 0, 2], [0, 3.0, 0], [4.0, 0, 0], [0, 0, 5.0]])
    path = tmp_path / name
    save_csr_cache(path, X, np.array([0.0, 1.0, 0.0, 1.0]))
    change(path)
    return path


def _header(update):
    def change(path):
        header = json.loads((path / "header.json").read_text())
        header = update(header)
        (path / "header.json").write_text(json.dumps(header))
    return change


def _raw(fname, dtype, edit):
    def change(path):
        a = np.fromfile(path / fname, dtype=dtype)
        edit(a)
        a.tofile(path / fname)
    return change


CACHES = {
    "header-list": _header(lambda h: [h]),
    "header-garbage": lambda p: (p / "header.json").write_bytes(b"{\"format\": \"fastlogit-csr"),
    "no-shape": _header(lambda h: {k: v for k, v in h.items() if k != "shape"}),
    "shape-string": _header(lambda h: dict(h, shape="4x3")),
    "negative-shape": _header(lambda h: dict(h, shape=[-4, 3])),
    "object-dtype": _header(lambda h: dict(h, dtype="|O")),
    "bad-dtype": _header(lambda h: dict(h, dtype="float128x")),
    "files-outside": _header(lambda h: dict(h, files=dict(h["files"], data="../../etc/passwd"))),
    "files-not-dict": _header(lambda h: dict(h, files=["data.bin"])),
    "nnz-wrong": _header(lambda h: dict(h, nnz=h["nnz"] + 1)),
    "truncated-data": lambda p: (p / "data.bin").write_bytes((p / "data.bin").read_bytes()[:-8]),
    "index-out-of-range": _raw("indices.bin", "<i4", lambda a: a.__setitem__(1, 10**6)),
    "negative-index": _raw("indices.bin", "<i4", lambda a: a.__setitem__(1, -5)),
    "indptr-decreasing": _raw("indptr.bin", "<i4", lambda a: a.__setitem__(2, 0)),
    "indptr-beyond-nnz": _raw("indptr.bin", "<i4", lambda a: a.__setitem__(-1, 10**6)),
    "nan-value": _raw("data.bin", "<f8", lambda a: a.__setitem__(2, np.nan)),
    "nan-label": _raw("labels.bin", "<f8", lambda a: a.__setitem__(1, np.nan)),
}


def test_bad_caches(capsys, tmp_path, model):
    model_path, _ = model
    counts, problems = collections.Counter(), []
    for name, change in CACHES.items():
        path = _cache(tmp_path, name, change)
        for argv in (["fit", path, "-q"], ["fit", path, "-q", "--out-of-core", "--chunk-nnz", 2],
                     ["predict", model_path, path], ["evaluate", model_path, path],
                     ["info", path]):
            rc, err = _run(capsys, argv)
            want = "" if not (argv[0] == "info" and name.startswith("nan")) else None
            if want is None:
                _judge(counts, problems, (name, argv), rc, err, None, [])
            else:
                _judge(counts, problems, (name, argv), rc, err, "error:", [str(path)])
    _report(counts, problems, "CLI, bad CSR caches")


def test_bad_model_files(capsys, tmp_path, model):
    """Foreign and damaged files given as MODEL to predict / evaluate; a damaged file either
    gives the documented error or (a byte no prediction reads) the same output as the
    intact model."""
    model_path, data = model
    blob = model_path.read_bytes()
    rc, reference = None, None
    main(["predict", str(model_path), str(data), "-o", str(tmp_path / "ref.txt")])
    reference = (tmp_path / "ref.txt").read_text()
    foreign = {"png": b"\x89PNG\r\n\x1a\n" + bytes(64), "text": b"hello",
               "empty": b"", "npy": None, "svmlight": GOOD.encode()}
    counts, problems = collections.Counter(), []
    for name, content in foreign.items():
        path = tmp_path / f"{name}.model"
        if content is None:
            np.save(tmp_path / "a.npy", np.arange(3.0))
            os.replace(tmp_path / "a.npy", path)
        else:
            path.write_bytes(content)
        for cmd in ("predict", "evaluate"):
            rc, err = _run(capsys, [cmd, path, data])
            _judge(counts, problems, (name, cmd), rc, err, "not a valid fastlogit-model file",
                   [str(path)])
    for cmd in ("predict", "evaluate"):
        rc, err = _run(capsys, [cmd, tmp_path, data])  # a directory
        _judge(counts, problems, ("directory", cmd), rc, err, "cannot read model", [str(tmp_path)])
    rng = random.Random(3)
    out = tmp_path / "p.txt"
    for i in rng.sample(range(len(blob)), 150):
        damaged = bytearray(blob)
        damaged[i] ^= 1 << rng.randrange(8)
        path = tmp_path / "damaged.npz"
        path.write_bytes(bytes(damaged))
        rc, err = _run(capsys, ["predict", path, data, "-o", out])
        if rc == 0:
            counts["cases"] += 1
            if out.read_text() == reference:
                counts["same_output"] += 1
            else:
                counts["silent_wrong"] += 1
                problems.append(("flip", i, "different predictions"))
        else:
            _judge(counts, problems, ("flip", i), rc, err, "not a valid fastlogit-model file",
                   [str(path)])
    _report(counts, problems, "CLI, bad model files")
