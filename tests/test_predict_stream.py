"""Streaming batch prediction (fastlogit.predict_stream, ``fastlogit predict``): the streamed
output equals the in-memory predictions formatted whole, errors name file and line."""
import bz2
import gzip
import io
import lzma

import numpy as np
import pytest

from fastlogit import LogisticRegression, predict_stream
from fastlogit.cli import main
from fastlogit.datasets import make_sparse_classification
from fastlogit.io import SvmlightFormatError, load_svmlight, save_csr_cache
from fastlogit.predict_stream import format_label, iter_predictions, predict_file

CHUNK = 4096  # bytes of text per block: the test files span dozens of blocks


def _svmlight_text(X, y):
    lines = []
    for i in range(X.shape[0]):
        lo, hi = X.indptr[i], X.indptr[i + 1]
        feats = " ".join(f"{j + 1}:{v!r}" for j, v in zip(X.indices[lo:hi].tolist(),
                                                          X.data[lo:hi].tolist()))
        lines.append(f"{format_label(y[i])} {feats}".rstrip())
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(scope="module", params=[2, 4], ids=["binary", "multinomial"])
def case(request, tmp_path_factory):
    """(model, path of an svmlight file of ~100 kB, the text)."""
    k = request.param
    X, y = make_sparse_classification(n_samples=1500, n_features=60, mean_nnz=8, n_classes=k,
                                      random_state=k)
    y = np.where(y == 0, -1, y) if k == 2 else y + 1.0
    model = LogisticRegression(C=10.0).fit(X, y)
    d = tmp_path_factory.mktemp(f"stream{k}")
    text = _svmlight_text(X, y)
    path = d / "data.svm"
    path.write_bytes(text)
    return model, path, text


def _expected(model, path, kind):
    """The output of the whole file read in memory, formatted line by line in Python."""
    X, _ = load_svmlight(path, n_features=model.n_features_in_)
    if kind == "label":
        return "".join(format_label(c) + "\n" for c in model.predict(X))
    if kind == "proba":
        values = model.predict_proba(X)
        labels = model.classes_[values.argmax(axis=1)]
        head = "labels " + " ".join(map(format_label, model.classes_)) + "\n"
    else:
        values = model.decision_function(X)
        labels = model.predict(X)
        values = values[:, None] if values.ndim == 1 else values
        scored = model.classes_[1:] if len(model.classes_) == 2 else model.classes_
        head = "scores " + " ".join(map(format_label, scored)) + "\n"
    return head + "".join(format_label(c) + "".join(" %.8g" % v for v in row) + "\n"
                          for c, row in zip(labels, values))


@pytest.mark.parametrize("kind", ["label", "proba", "raw"])
def test_streamed_output_equals_in_memory_predict(case, kind, tmp_path):
    model, path, _ = case
    expected = _expected(model, path, kind)
    out = tmp_path / "p.txt"
    n = predict_file(model, path, out, kind=kind, chunk_bytes=CHUNK)
    assert n == model_rows(path) and out.read_text() == expected
    # and the arrays themselves, block by block
    X, _ = load_svmlight(path, n_features=model.n_features_in_)
    blocks = list(iter_predictions(model, path, kind=kind, chunk_bytes=CHUNK))
    assert len(blocks) > 10
    labels = np.concatenate([b[0] for b in blocks])
    if kind == "label":
        np.testing.assert_array_equal(labels, model.predict(X))
    else:
        values = np.concatenate([b[1] for b in blocks])
        ref = model.predict_proba(X) if kind == "proba" else model.decision_function(X)
        np.testing.assert_array_equal(values, ref if ref.ndim == 2 else ref[:, None])


def model_rows(path):
    return sum(1 for line in path.read_bytes().splitlines() if line.strip())


@pytest.mark.parametrize("how", ["gz", "bz2", "xz", "stdin-xz", "fileobj", "cache", "cli"])
def test_every_input_form_gives_the_same_output(case, how, tmp_path, capsysbinary,
                                                monkeypatch):
    model, path, text = case
    expected = _expected(model, path, "proba").encode()
    pack = {"gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress,
            "stdin-xz": lzma.compress}
    if how in pack:
        src = tmp_path / f"data.{how}"
        src.write_bytes(pack[how](text))
    elif how == "cache":
        X, y = load_svmlight(path)
        src = tmp_path / "data.flc"
        save_csr_cache(src, X, y)
    else:
        src = path
    if how == "stdin-xz":
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BufferedReader(
            io.BytesIO(src.read_bytes()))))
        src = "-"
    if how == "cli":
        model_path = tmp_path / "m.npz"
        model.save(model_path)
        assert main(["predict", str(model_path), str(src), "--proba", "--chunk-mb",
                     "0.004"]) == 0
        assert capsysbinary.readouterr().out == expected
        return
    sink = io.BytesIO()
    if how == "fileobj":
        with open(src, "rb") as fh:
            predict_file(model, fh, sink, kind="proba", chunk_bytes=CHUNK)
    else:
        predict_file(model, src, sink, kind="proba", chunk_bytes=CHUNK, chunk_nnz=500)
    assert sink.getvalue() == expected


def _error(model, text, tmp_path, name="bad.svm", **kw):
    path = tmp_path / name
    path.write_bytes(text)
    out = tmp_path / "p.txt"
    with pytest.raises(ValueError) as info:
        predict_file(model, path, out, chunk_bytes=CHUNK, **kw)
    assert not out.exists()  # atomic: a failure leaves no partial output
    return str(info.value), path


def test_errors_name_file_and_line(case, tmp_path):
    model, _, text = case
    lines = text.splitlines(keepends=True)
    n = len(lines)
    at = n - 7  # far past the first blocks
    for bad, fragment in [(b"1 3:x\n", "invalid value b'x'"),
                          (b"1 3:1 2:1\n", "feature ids must be increasing"),
                          (b"1 2:nan\n", "feature 2 has the value nan"),
                          (b"1 61:1\n", "feature id 61 is beyond n_features=60"),
                          (b"1 0:1\n", "feature id 0 after one-based ids")]:
        msg, path = _error(model, b"".join(lines[:at - 1] + [bad] + lines[at:]), tmp_path)
        assert msg.startswith(f"{path}:{at}: ") and fragment in msg, msg
    msg, path = _error(model, b"# nothing\n\n", tmp_path, "empty.svm")
    assert msg == f"{path}: no samples (empty input)"
    # zero-based data: fine when said so, and 'auto' decides it from an id 0 in the first block
    zero = b"".join(b"1 0:1 3:2\n" for _ in range(2000))
    (tmp_path / "zero.svm").write_bytes(zero)
    a = [b[0] for b in iter_predictions(model, tmp_path / "zero.svm", chunk_bytes=CHUNK)]
    b = [b[0] for b in iter_predictions(model, tmp_path / "zero.svm", chunk_bytes=CHUNK,
                                        zero_based=True)]
    np.testing.assert_array_equal(np.concatenate(a), np.concatenate(b))


def test_cli_errors_name_file_and_line(case, tmp_path, capsys):
    model, _, text = case
    model_path = tmp_path / "m.npz"
    model.save(model_path)
    bad = tmp_path / "bad.svm.gz"
    bad.write_bytes(gzip.compress(text + b"1 5:1 4:1\n"))
    line = text.count(b"\n") + 1
    assert main(["predict", str(model_path), str(bad), "-o", str(tmp_path / "p"), "--raw",
                 "--chunk-mb", "0.004"]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:{line}: feature ids must be increasing" in err
    assert not (tmp_path / "p").exists()


def test_format_values_is_printf_g8():
    """The compiled writer gives C's %.8g, ties to even included, for every magnitude."""
    from fastlogit import _format_numba as F

    rng = np.random.default_rng(5)
    ties = (rng.integers(10**7, 10**8, 3000) + 0.5) * 2.0 ** rng.integers(-30, 4, 3000)
    ties = ties[ties == np.round(ties * 2) / 2]  # only those exactly representable
    values = np.concatenate([
        rng.random(5000), -rng.random(2000), rng.standard_normal(5000) * 10.0 ** rng.integers(
            -20, 35, 5000),
        (rng.integers(10**7, 10**8, 3000) + 0.5) * 10.0 ** rng.integers(-12, 4, 3000),
        ties, np.nextafter(ties, 0), np.nextafter(ties, 1e300),
        [0.0, -0.0, 0.5, 1.0, 12345678.5, 12345677.5, 99999999.5, 9999999.95, 1e-5, 1e-4,
         99999.99995, 1e8, 1e-15, 1e30, 1e-300, 5e-324, np.nan, np.inf, -np.inf]])
    index = np.zeros(values.size, dtype=np.int64)
    got = predict_stream._format_chunk(index, values[:, None],
                                       predict_stream._label_table([7.0]))
    expected = "".join("7 %.8g\n" % v for v in values)
    assert got.tobytes().decode() == expected
