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


# ------------------------------------------------------------------ scoring while parsing
# fastlogit.io.score_svmlight (what predict_file runs on text) against the parser's matrix
# scored by decision_function: equal bit for bit (same values, same summation order), and
# the same error, message and line, wherever the parser raises one.
from fastlogit import kernels  # noqa: E402
from fastlogit.io import score_svmlight, svmlight  # noqa: E402

parse_slow = svmlight._parse_slow_line

D = 12  # features of the small models below


def _small_model(n_classes, backend, seed=0):
    """A fitted model whose coefficients span 16 orders of magnitude (so that the order of
    the sums shows in the last bits)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((60, D))
    y = np.arange(60) % n_classes
    model = LogisticRegression(C=1.0, backend=backend).fit(X, y)
    k = model.coef_.shape[0]
    model.coef_ = rng.standard_normal((k, D)) * 10.0 ** rng.integers(-8, 8, (k, D))
    model.intercept_ = rng.standard_normal(k)
    return model


def _edge_text(rng, n_rows, zero_id):
    """svmlight text with everything the parser accepts: comments (whole and trailing),
    blank lines, qid, CR LF, tabs, explicit zeros, rows of 0 to 12 entries (four-sum
    groups and their tails), values outside the fast grammar (Python's parse: 25
    significant digits, 1e-30, 1_5), label forms, no final newline."""
    slow_values = ["1.0000000000000000000000001", "1e-30", "1_5", "-2.5E+3", "0.0", "-0"]
    lines = []
    for i in range(n_rows):
        n = int(rng.integers(0, D + 1))
        ids = np.sort(rng.choice(np.arange(1 - zero_id, D + 1 - zero_id), n, replace=False))
        vals = [f"{v:.{d}g}" for v, d in zip(rng.standard_normal(ids.size) * 10.0 ** rng.integers(
            -6, 6, ids.size), rng.integers(1, 16, ids.size))]  # up to 15 digits: fast grammar
        if i % 17 == 3 and vals:
            vals[0] = slow_values[i % len(slow_values)]
        sep = "\t" if i % 11 == 5 else " "
        feats = sep.join(f"{j}:{v}" for j, v in zip(ids.tolist(), vals))
        label = ["1", "-1", "+1", "2", "1.0e0", "3"][i % 6]
        qid = " qid:7" if i % 13 == 2 else ""
        tail = ["", " # note", "\r", "  "][i % 4]
        lines.append(f"{label}{qid}{sep}{feats}{tail}")
        if i % 29 == 7:
            lines.append(["", "# comment only", "   "][i % 3])
    return "\n".join(lines).encode()  # no final newline


def _long_rows(rng, zero_id):
    """Rows of 250-700 entries (more than the scorer's 256 at a time) over wide ids."""
    out = []
    for n in (250, 256, 257, 259, 513, 700):
        ids = np.arange(n) + 1 - zero_id
        vals = rng.standard_normal(n) * 10.0 ** rng.integers(-8, 8, n)
        out.append("1 " + " ".join(f"{j}:{v:.12g}" for j, v in zip(ids.tolist(),
                                                                  vals.tolist())))
    return ("\n".join(out) + "\n").encode()


_CASES = ([(b, t, k, "auto") for b in kernels.available_backends()
           for t in (np.float64, np.float32) for k in (2, 3)]
          + [("auto", np.float64, k, z) for k in (2, 3) for z in (True, False)])


@pytest.mark.parametrize("backend, dtype, n_classes, zero_based", _CASES,
                         ids=[f"{b}-{np.dtype(t).name}-{k}cls-zb={z}" for b, t, k, z in _CASES])
def test_scores_while_parsing_equal_decision_function(tmp_path, monkeypatch, backend, dtype,
                                                      n_classes, zero_based):
    """Bitwise: the same parsed (and dtype-rounded) values, summed in the decision kernel's
    order (four partial sums for Cython, in order for Numba / NumPy, scipy's order for
    multinomial) give the same IEEE results; no tolerance is needed or allowed."""
    rng = np.random.default_rng(1)
    zero_id = int(zero_based is True or (zero_based == "auto" and n_classes == 3))
    path = tmp_path / "edge.svm"
    path.write_bytes(_edge_text(rng, 700, zero_id))
    slow_lines = []
    monkeypatch.setattr(svmlight, "_parse_slow_line", lambda line, *a: slow_lines.append(
        line) or parse_slow(line, *a))
    model = _small_model(n_classes, backend)
    X, _ = load_svmlight(path, n_features=D, dtype=dtype, zero_based=zero_based)
    expected = model.decision_function(X)
    coef, b = model.coef_, model.intercept_
    four = predict_stream._Scorer(model, dtype).four_sums and n_classes == 2
    with pytest.warns(UserWarning, match="qid fields on"):
        blocks = list(score_svmlight(path, coef, b, dtype=dtype, zero_based=zero_based,
                                     four_sums=four, chunk_bytes=9000, n_threads=2))
    assert len(blocks) > 5
    z = np.concatenate([blk[2] for blk in blocks])
    lines = np.concatenate([blk[1] for blk in blocks])
    assert z.dtype == dtype and lines.size == X.shape[0]
    assert z.reshape(expected.shape).tobytes() == expected.tobytes()
    # both paths taken: most lines scored by the compiled pass, some by the Python parser
    assert 0 < len(slow_lines) < X.shape[0] // 10
    # rows longer than the scorer's scratch of 256 entries, the model as wide as needed
    wide = tmp_path / "wide.svm"
    wide.write_bytes(_long_rows(rng, zero_id))
    Xw, _ = load_svmlight(wide, n_features=700, dtype=dtype, zero_based=zero_based)
    model_w = _small_model(n_classes, backend)
    model_w.coef_ = rng.standard_normal((coef.shape[0], 700)) * 10.0 ** rng.integers(
        -8, 8, (coef.shape[0], 700))
    model_w.n_features_in_ = 700
    zw = np.concatenate([blk[2] for blk in score_svmlight(
        wide, model_w.coef_, b, dtype=dtype, zero_based=zero_based, four_sums=four)])
    ref = model_w.decision_function(Xw)
    assert zw.reshape(ref.shape).tobytes() == ref.tobytes()
    if n_classes == 2 and dtype == np.float64:  # the order matters: the test can see it
        other = np.concatenate([blk[2] for blk in score_svmlight(
            wide, model_w.coef_, b, zero_based=zero_based, four_sums=not four)])
        assert other.tobytes() != ref.tobytes()


def _outcome(fn):
    """('ok', array) or ('error', message) of running fn (qid warnings ignored)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return "ok", fn()
        except ValueError as exc:
            return "error", str(exc)


def _parser_path(model, path, **kw):
    """The parser's blocks scored in memory (iter_chunks, then the decision kernel)."""
    scorer = predict_stream._Scorer(model, kw.get("dtype", np.float64))
    return np.concatenate([scorer(X) for X, _ in predict_stream.iter_chunks(
        path, D, **kw)])


def _fused_path(model, path, **kw):
    return np.concatenate([z for z, _ in predict_stream._Scorer(
        model, kw.get("dtype", np.float64)).text(path, kw.get("zero_based", "auto"), None,
                                                  kw.get("chunk_bytes"), kw.get("finite", True))])


def _check_same(model, path, **kw):
    ref = _outcome(lambda: _parser_path(model, path, **kw))
    got = _outcome(lambda: _fused_path(model, path, **kw))
    assert got[0] == ref[0], (got, ref)
    if ref[0] == "error":
        assert got[1] == ref[1]
    else:
        assert got[1].tobytes() == ref[1].tobytes()


@pytest.mark.parametrize("bad, fragment", [
    (b"1 3:x", "invalid value b'x'"), (b"1 3:1 2:1", "must be increasing"),
    (b"1 2:nan", "has the value nan"), (b"inf 2:1", "label inf is not a finite"),
    (b"1 13:1", "is beyond n_features=12"), (b"1 0:1", "feature id 0 after one-based"),
    (b"1 qid 2:1", "malformed qid"), (b"1 2", "missing colon"), (b"1 -2:1", "invalid feature"),
    (b"1 2:1e39", "beyond the float32 range"), (b"1 2:1\x003:1", "invalid value"),
    (b"x 2:1", "invalid label")], ids=lambda v: repr(v)[:14])
def test_errors_equal_the_parsers(tmp_path, bad, fragment):
    """Each bad line, placed late in a file, gives the parser's error word for word; and
    within one block errors rank as the parser ranks them (malformed, then NaN / infinity,
    then id 0 after one-based, then beyond the model), whatever their order of lines."""
    model = _small_model(2, "auto")
    good = b"".join(b"1 1:0.5 3:-2 12:1\n" for _ in range(400))
    path = tmp_path / "bad.svm"
    path.write_bytes(good + bad + b"\n" + good)
    dtype = np.float32 if b"1e39" in bad else np.float64
    msg = _outcome(lambda: _fused_path(model, path, dtype=dtype, chunk_bytes=2000))[1]
    assert msg.startswith(f"{path}:401: ") and fragment in msg, msg
    _check_same(model, path, dtype=dtype, chunk_bytes=2000)
    # the same block holding a lower-ranked error earlier
    for earlier in (b"1 13:1\n", b"1 0:1\n", b"1 2:inf\n"):
        path.write_bytes(good + earlier + b"1 1:1\n" * 3 + bad + b"\n")
        _check_same(model, path, dtype=dtype, chunk_bytes=1 << 20)


hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies
_value = st.one_of(st.floats(-1e3, 1e3).map(lambda v: f"{v:.6g}"), st.floats().map(repr),
                   st.sampled_from(
    ["0", "-0", "1e5", "2.5E-3", "inf", "nan", "1e400", "1_0", ".5", "5.", "1e", "x", "",
     "+7", "9" * 22, "0." + "0" * 30 + "1"]))
_entry = st.tuples(st.integers(0, 14), _value).map(lambda t: f"{t[0]}:{t[1]}")
_text_line = st.tuples(
    st.sampled_from(["1", "-1", "2", "+1", "x", "nan", ""]),
    st.lists(st.one_of(_entry, _entry, _entry, st.sampled_from(
        ["qid:3", "qid", "#c", "\x00", "7", ":1", "\r"])), max_size=7),
    st.sampled_from([" ", "\t"]),
).map(lambda t: t[0] + t[2] + t[2].join(t[1]))


@hypothesis.settings(max_examples=150, deadline=None)
@hypothesis.given(lines=st.lists(_text_line, min_size=1, max_size=12),
                  zero_based=st.sampled_from([True, False, "auto"]),
                  dtype=st.sampled_from([np.float64, np.float32]),
                  n_classes=st.sampled_from([2, 3]), finite=st.booleans())
def test_fuzz_scores_and_errors_equal_the_parsers(tmp_path_factory, lines, zero_based, dtype,
                                                  n_classes, finite):
    """Random lines (valid, slow-grammar, malformed, ids beyond the model, id 0, qid, NUL,
    comments) in blocks of 40 bytes: the same error message or the same bits."""
    path = tmp_path_factory.mktemp("fuzz") / "f.svm"
    path.write_bytes(("\n".join(lines) + "\n").encode())
    model = _MODELS[n_classes]
    _check_same(model, path, dtype=dtype, zero_based=zero_based, chunk_bytes=40,
                finite=finite)


_MODELS = {k: _small_model(k, "auto", seed=k) for k in (2, 3)}


def test_predict_stream_imports_no_private_io_name():
    """predict_stream uses the io package through its public names."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(predict_stream))
    private = [a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
               and (node.module or "").startswith("io") for a in node.names
               if a.name.startswith("_")]
    assert private == []
