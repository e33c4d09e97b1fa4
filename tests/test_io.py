"""fastlogit.io.load_svmlight: agreement with scikit-learn's reader, errors with file and line."""
import bz2
import gzip
import io
import json
import lzma
import os

import numpy as np
import pytest
import scipy.sparse as sp

from benchmarks.shared_data import SHARED_DATASETS, shared_dataset_path
from benchmarks.shared_data import open_compressed as _open
from fastlogit.io import SvmlightFormatError, binary_labels, load_svmlight

sklearn_datasets = pytest.importorskip("sklearn.datasets")
load_svmlight_file = sklearn_datasets.load_svmlight_file


def _have_shared():
    try:
        shared_dataset_path("a9a")
        return True
    except FileNotFoundError:
        return False


needs_shared = pytest.mark.skipif(not _have_shared(), reason="../shared/datasets not found")


def assert_same(ours, ref, dtype=np.float64):
    (X, y), (Xr, yr) = ours, ref
    assert sp.issparse(X) and X.format == "csr"
    assert X.shape == Xr.shape
    assert X.dtype == np.dtype(dtype) == Xr.dtype
    np.testing.assert_array_equal(X.indptr, Xr.indptr)
    np.testing.assert_array_equal(X.indices, Xr.indices)
    # bitwise equality, NaN and signed zeros included
    assert X.data.tobytes() == np.ascontiguousarray(Xr.data).tobytes()
    assert y.dtype == np.float64
    assert y.tobytes() == np.asarray(yr, dtype=np.float64).tobytes()


def write(tmp_path, text, name="data.svm", compress=None):
    raw = text.encode() if isinstance(text, str) else text
    path = tmp_path / name
    opener = {None: open, "gz": gzip.open, "bz2": bz2.open, "xz": lzma.open}[compress]
    with opener(path, "wb") as fh:
        fh.write(raw)
    return str(path)


def reference(text, **kw):
    raw = text.encode() if isinstance(text, str) else text
    return load_svmlight_file(io.BytesIO(raw), **kw)


# ------------------------------------------------------------------ real data
@needs_shared
@pytest.mark.parametrize("name", list(SHARED_DATASETS), ids=list(SHARED_DATASETS))
def test_shared_sets_equal_sklearn(name):
    path = shared_dataset_path(name)
    with _open(path) as fh:
        raw = fh.read()
    assert_same(load_svmlight(str(path)), reference(raw))
    if name in ("a9a", "rcv1_small", "reuters"):
        assert_same(load_svmlight(str(path), dtype=np.float32),
                    reference(raw, dtype=np.float32), np.float32)
    n_features = SHARED_DATASETS[name][1]
    X, _ = load_svmlight(str(path), n_features=n_features)
    assert X.shape[1] == n_features


@needs_shared
def test_load_shared_uses_our_reader():
    from benchmarks.shared_data import load_shared

    X, y = load_shared("rcv1_small")
    assert X.shape == (1000, 47236) and set(np.unique(y)) == {0.0, 1.0}


# ------------------------------------------------------------------ format features
TEXT = """\
# a comment line
+1 1:0.5 3:-2.25e-3 10:7 # trailing comment
-1 2:1e5 4:.5 5:5. 6:-0

1\t 3:1E+2\t7:0.000001
-1
 -1.0   qid:3 1:1 2:2
"""


@pytest.mark.parametrize("compress", [None, "gz", "bz2", "xz"])
def test_features_and_compression(tmp_path, compress):
    path = write(tmp_path, TEXT, compress=compress)
    with pytest.warns(UserWarning, match="qid fields on 1 rows"):
        ours = load_svmlight(path)
    assert_same(ours, reference(TEXT))
    X, y = ours
    assert X.shape == (5, 10)
    np.testing.assert_array_equal(y, [1, -1, 1, -1, -1])


@pytest.mark.parametrize("zero_based", [True, False, "auto"], ids=str)
def test_zero_based(tmp_path, zero_based):
    one = "1 1:1 3:2\n0 2:5\n"
    zero = "1 0:1 3:2\n0 2:5\n"
    for text in (one, zero):
        path = write(tmp_path, text)
        if zero_based is False and text is zero:
            with pytest.raises(SvmlightFormatError, match=r"data.svm:1: invalid feature id 0"):
                load_svmlight(path, zero_based=zero_based)
            continue
        assert_same(load_svmlight(path, zero_based=zero_based),
                    reference(text, zero_based=zero_based))
    assert load_svmlight(write(tmp_path, one))[0].shape == (2, 3)  # auto: one-based
    assert load_svmlight(write(tmp_path, zero))[0].shape == (2, 4)  # auto: zero-based


def test_crlf_no_trailing_newline_and_empty_rows(tmp_path):
    text = "1 1:1 2:2\r\n-1\r\n\r\n1 3:0.25"
    assert_same(load_svmlight(write(tmp_path, text)), reference(text))


def test_slow_path_values_equal_sklearn(tmp_path):
    # outside the fast grammar: parsed by Python's float()/int(), as scikit-learn does
    text = ("1 1:inf 2:-nan 3:1e400 4:1.2345678901234567890123 5:1_0 +6:3 7:4.9e-324\n"
            "2.5e-30 1:123456789012345678901234567890 8:0.1e-330 9:  \n"
            "infinity 2:0x1 \n".replace("0x1", "1.5"))
    text = text.replace("9:  ", "9:2")
    X, y = load_svmlight(write(tmp_path, text))
    assert_same((X, y), reference(text))
    assert np.isnan(X.data[1]) and np.isinf(X.data[0])


def test_many_blocks_and_float32(tmp_path, rng):
    n = 3000
    lines = []
    for i in range(n):
        ids = np.sort(rng.choice(50, size=rng.integers(0, 8), replace=False)) + 1
        vals = rng.standard_normal(ids.size) * 10.0 ** rng.integers(-5, 5, ids.size)
        feats = " ".join(f"{j}:{v:.{int(rng.integers(1, 18))}g}" for j, v in zip(ids, vals))
        lines.append(f"{rng.integers(0, 2)} {feats}")
    text = "\n".join(lines) + "\n"
    path = write(tmp_path, text, compress="gz")
    for dtype in (np.float64, np.float32):
        ours = load_svmlight(path, dtype=dtype, chunk_bytes=997, n_threads=2)
        assert_same(ours, reference(text, dtype=dtype), dtype)
    # an error in a later block still reports the right line
    bad = text.splitlines()
    bad[2500] = bad[2500] + " 60:x"
    path = write(tmp_path, "\n".join(bad) + "\n", name="bad.svm")
    with pytest.raises(SvmlightFormatError, match=r"bad\.svm:2501: invalid value b'x'"):
        load_svmlight(path, chunk_bytes=997)


def test_several_paths_and_file_objects(tmp_path):
    a, b = "1 1:1\n-1 2:2\n", "1 3:3\n"
    X, y = load_svmlight([write(tmp_path, a, "a.svm"), write(tmp_path, b, "b.svm")])
    assert_same((X, y), reference(a + b))
    with open(write(tmp_path, a + b), "rb") as fh:
        assert_same(load_svmlight(fh), reference(a + b))


def test_n_features(tmp_path):
    path = write(tmp_path, "1 1:1 2:2\n-1 5:1\n")
    assert load_svmlight(path, n_features=10)[0].shape == (2, 10)
    with pytest.raises(SvmlightFormatError,
                       match=r"data.svm:2: feature id 5 is beyond n_features=3"):
        load_svmlight(path, n_features=3)
    # zero-based data: the id is reported as written
    path = write(tmp_path, "1 0:1 2:2\n-1 4:1\n")
    with pytest.raises(SvmlightFormatError, match=r"data.svm:2: feature id 4 is beyond"):
        load_svmlight(path, n_features=4)


# ------------------------------------------------------------------ errors
BAD_LINES = {
    "non-numeric value": ("1 1:abc", r"invalid value b'abc'"),
    "missing colon": ("1 1:1 3", r"expected <id>:<value>, got b.3. \(missing colon\)"),
    "negative id": ("1 -2:1", r"invalid feature id -2"),
    "non-increasing ids": ("1 3:1 2:1", r"must be increasing.*2 after 3"),
    "duplicate id": ("1 3:1 3:1", r"must be increasing"),
    "label missing": ("1:1 2:1", r"invalid label b'1:1' \(label missing\?\)"),
    "bad label": ("yes 1:1", r"invalid label b'yes'"),
    "bad id": ("1 a:1", r"invalid feature id b'a'"),
    "huge id": ("1 99999999999:1", r"too large"),
    "bad qid": ("1 qid 1:1", r"malformed qid"),
}


@pytest.mark.parametrize("case", list(BAD_LINES), ids=list(BAD_LINES))
@pytest.mark.parametrize("compress", [None, "xz"])
def test_corrupt_line_reports_file_and_line(tmp_path, case, compress):
    line, message = BAD_LINES[case]
    text = f"1 1:1\n# comment\n\n{line}\n-1 2:1\n"
    path = write(tmp_path, text, name="input.txt", compress=compress)
    with pytest.raises(SvmlightFormatError, match=rf"input\.txt:4: .*{message}") as info:
        load_svmlight(path)
    assert info.value.lineno == 4 and info.value.path == path
    with pytest.raises(Exception):  # scikit-learn rejects it too
        reference(text)


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"], ids=["empty", "blank",
                                                                         "comment"])
def test_empty_input(tmp_path, text):
    with pytest.raises(SvmlightFormatError, match="data.svm: no samples"):
        load_svmlight(write(tmp_path, text))


@pytest.mark.parametrize("compress", ["gz", "xz", "bz2"])
def test_truncated_compressed_file(tmp_path, compress):
    text = "".join(f"{i % 2} 1:{i} 2:{i * 0.5}\n" for i in range(20000))
    path = write(tmp_path, text, name=f"data.svm.{compress}", compress=compress)
    raw = open(path, "rb").read()
    with open(path, "wb") as fh:
        fh.write(raw[: len(raw) // 2])
    with pytest.raises(SvmlightFormatError, match=rf"data.svm.{compress}: cannot read: truncated"):
        load_svmlight(path)


def test_unreadable_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.svm"):
        load_svmlight(str(tmp_path / "nope.svm"))
    with pytest.raises(IsADirectoryError):
        load_svmlight(str(tmp_path))


def test_argument_checks(tmp_path):
    path = write(tmp_path, "1 1:1\n")
    with pytest.raises(ValueError, match="dtype"):
        load_svmlight(path, dtype=np.int64)
    with pytest.raises(ValueError, match="zero_based"):
        load_svmlight(path, zero_based="yes")
    with open(path) as fh, pytest.raises(ValueError, match="binary mode"):
        load_svmlight(fh)


# ------------------------------------------------------------------ labels
@pytest.mark.parametrize("form", [(0, 1), (-1, 1), (1, 2)], ids=["01", "pm1", "12"])
def test_binary_labels_forms(form):
    y = np.array([form[1], form[0], form[1]], dtype=float)
    y01, classes = binary_labels(y)
    np.testing.assert_array_equal(y01, [1, 0, 1])
    np.testing.assert_array_equal(classes, form)
    # a single class present: the form is recognised by its other value, or classes are given
    only = {(0, 1): 0, (-1, 1): -1, (1, 2): 2}[form]
    y01, classes = binary_labels(np.full(3, only, dtype=float))
    np.testing.assert_array_equal(classes, form)
    y01, _ = binary_labels(np.full(2, form[1], dtype=float), classes=form)
    np.testing.assert_array_equal(y01, [1, 1])


def test_binary_labels_errors():
    with pytest.raises(ValueError, match="3 distinct"):
        binary_labels([0, 1, 2])
    with pytest.raises(ValueError, match="cannot tell"):
        binary_labels([1, 1])
    with pytest.raises(ValueError, match="not among the classes"):
        binary_labels([0, 3], classes=[0, 1])


# ------------------------------------------------------------------ fuzz
hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

_number = st.one_of(
    st.integers(-10**6, 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(width=32).map(lambda v: f"{v:.6e}"),
    st.sampled_from(["", ".", "-", "1e", "1.5.2", "0x10", "1_000", "+.5", "-0", "nan", "1e999",
                     "00012", "1.0000000000000000000001", "9" * 25]),
)
_id = st.one_of(st.integers(0, 40).map(str), st.sampled_from(["-1", "", "a", "+3", "007",
                                                              "4294967296"]))
_token = st.one_of(
    st.tuples(_id, _number).map(lambda t: f"{t[0]}:{t[1]}"),
    st.tuples(_id, _number).map(lambda t: f"{t[0]}{t[1]}"),
    st.sampled_from(["qid:1", "qid", "#", "# c", ":", "1:2:3", "\x00", "\t", "\r", "\x0b"]),
)
_line = st.tuples(_number, st.lists(_token, max_size=6),
                  st.sampled_from([" ", "\t", "  "])).map(
    lambda t: t[0] + t[2] + t[2].join(t[1]))
# mostly valid rows: increasing ids with fast-grammar values
_valid_line = st.tuples(
    st.sampled_from(["1", "-1", "0", "2", "+1", "1.0"]),
    st.lists(st.tuples(st.integers(1, 5), st.floats(-1e6, 1e6)), max_size=5),
).map(lambda t: t[0] + "".join(
    f" {i}:{v!r}" for i, v in zip(np.cumsum([a for a, _ in t[1]]).tolist(), [v for _, v in t[1]])))


@hypothesis.given(lines=st.lists(st.one_of(_line, _valid_line, _valid_line), min_size=1,
                                 max_size=8),
                  zero_based=st.sampled_from([True, False, "auto"]))
def test_fuzz_against_sklearn(tmp_path_factory, lines, zero_based):
    text = "\n".join(lines) + "\n"
    path = write(tmp_path_factory.mktemp("fuzz"), text)
    try:
        ref = reference(text, zero_based=zero_based)
    except Exception:
        ref = None
    if ref is not None and ref[0].shape[0] == 0:
        ref = None  # no rows: scikit-learn returns an empty matrix, we raise
    if ref is None:
        with pytest.raises(SvmlightFormatError):
            load_svmlight(path, zero_based=zero_based)
    else:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert_same(load_svmlight(path, zero_based=zero_based, chunk_bytes=64), ref)


# ------------------------------------------------------------------ binary cache
from fastlogit.io import (CacheFormatError, CSRCache, convert_svmlight,  # noqa: E402
                          is_csr_cache, load_csr_cache, save_csr_cache)


def _is_mapped(a):
    import mmap

    while a is not None:
        if isinstance(a, (np.memmap, mmap.mmap)):
            return True
        a = getattr(a, "base", None)
    return False


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_convert_and_cache_round_trip(tmp_path, dtype):
    text = "".join(f"{i % 2} {i % 7 + 1}:{i * 0.25} {i % 7 + 9}:1.5\n" for i in range(5000))
    src = write(tmp_path, text, compress="xz")
    cache = convert_svmlight(src, tmp_path / "c.flc", dtype=dtype)
    assert is_csr_cache(cache.path) and not is_csr_cache(tmp_path)
    X, y = load_csr_cache(cache.path)  # memory-mapped
    assert _is_mapped(X.data) and _is_mapped(X.indices) and _is_mapped(X.indptr)
    assert_same((X, y), reference(text, dtype=dtype), dtype)
    assert cache.header["zero_based"] is False and cache.header["source"] == src
    Xm, ym = CSRCache(cache.path).load(mmap=False)
    assert_same((Xm, ym), (X, y), dtype)
    blocks = cache.row_blocks(max_nnz=1000)
    assert blocks[0][0] == 0 and blocks[-1][1] == X.shape[0] and len(blocks) > 5
    parts = [sp.csr_matrix(cache.read_rows(a, b), shape=(b - a, X.shape[1])) for a, b in blocks]
    assert_same((sp.vstack(parts, format="csr"), y), (X, y), dtype)
    for start, stop in [(3, 1), (0, X.shape[0] + 1), (-1, 2), (0.0, 2)]:
        with pytest.raises(ValueError, match="read_rows needs integers 0 <= start <= stop"):
            cache.read_rows(start, stop)
    # save_csr_cache of an in-memory matrix gives the same cache; replacing is allowed
    save_csr_cache(tmp_path / "c.flc", X, y)
    assert_same(load_csr_cache(tmp_path / "c.flc"), (X, y), dtype)
    with pytest.raises(FileExistsError):
        save_csr_cache(tmp_path / "c.flc", X, y, overwrite=False)


def test_convert_streams_blocks_and_checks_n_features(tmp_path):
    text = "".join(f"1 {i % 50}:1\n" for i in range(3000))  # zero-based (id 0 present)
    src = write(tmp_path, text)
    from fastlogit.io import svmlight

    old = svmlight.CHUNK_BYTES
    svmlight.CHUNK_BYTES = 500
    try:
        cache = convert_svmlight([src, src], tmp_path / "c")
        with pytest.raises(SvmlightFormatError, match=r"data.svm:50: feature id 49 is beyond"):
            convert_svmlight(src, tmp_path / "d", n_features=49)
    finally:
        svmlight.CHUNK_BYTES = old
    assert_same(load_csr_cache(cache.path), reference(text + text))
    assert not (tmp_path / "d").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_failed_convert_leaves_nothing(tmp_path):
    src = write(tmp_path, "1 1:1\n1 2:x\n")
    with pytest.raises(SvmlightFormatError, match="data.svm:2"):
        convert_svmlight(src, tmp_path / "c")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.svm"]
    with pytest.raises(SvmlightFormatError, match="no samples"):
        convert_svmlight(write(tmp_path, "", "e.svm"), tmp_path / "c")


def test_cache_format_errors(tmp_path):
    X = sp.csr_matrix(np.eye(3))
    cache = save_csr_cache(tmp_path / "c", X, np.arange(3.0))
    with pytest.raises(CacheFormatError, match="not a fastlogit CSR cache"):
        CSRCache(tmp_path)
    with open(cache.path / "data.bin", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(CacheFormatError, match="data.bin: 25 bytes, the header implies 24"):
        CSRCache(cache.path)
    header = json.loads((cache.path / "header.json").read_text())
    header["version"] = 99
    (cache.path / "header.json").write_text(json.dumps(header))
    with pytest.raises(CacheFormatError, match="version 99 is not supported"):
        CSRCache(cache.path)


# ------------------------------------------------------------------ parallel bz2
def _multiblock_text(n=40000):
    rng = np.random.default_rng(3)
    return "".join(f"{i % 2} {i % 50 + 1}:{rng.random():.6f} {i % 50 + 60}:{rng.random():.3f}\n"
                   for i in range(n)).encode()


@pytest.mark.parametrize("streams", [1, 2], ids=["one-stream", "two-streams"])
def test_parallel_bz2_blocks(tmp_path, streams):
    text = _multiblock_text()
    half = len(text) // 2
    raw = (bz2.compress(text, 1) if streams == 1
           else bz2.compress(text[:half], 1) + bz2.compress(text[half:], 1))
    path = tmp_path / "d.svm.bz2"
    path.write_bytes(raw)
    assert len(text) > 3 * 100_000  # several 100 kB blocks at level 1
    ref = reference(text)
    assert_same(load_svmlight(str(path), n_threads=2, chunk_bytes=150_000), ref)
    assert_same(load_svmlight(str(path), n_threads=1), ref)


def test_parallel_bz2_falls_back_when_a_block_fails(tmp_path, monkeypatch):
    """A block that does not decompress (e.g. a magic-like bit pattern inside the data) sends
    the reader back to the serial decompressor, continuing after the text delivered."""
    from fastlogit.io import svmlight

    text = _multiblock_text()
    path = tmp_path / "d.svm.bz2"
    path.write_bytes(bz2.compress(text, 1))
    real = bz2.decompress
    calls = {"n": 0}

    class FlakyBz2:
        def __getattr__(self, name):
            return getattr(bz2, name)

        @staticmethod
        def decompress(data):
            calls["n"] += 1
            if calls["n"] == 3:
                raise OSError("Invalid data stream")
            return real(data)

    monkeypatch.setattr(svmlight, "bz2", FlakyBz2())
    assert_same(load_svmlight(str(path), n_threads=2, chunk_bytes=100_000), reference(text))
    assert calls["n"] >= 3


def _damaged_bz2(raw, case):
    if case.startswith("cut"):
        return raw[:-int(case[3:])]
    if case == "stream-crc":  # the last 4-5 bytes hold the stream CRC (and padding)
        return raw[:-3] + bytes([raw[-3] ^ 0x10]) + raw[-2:]
    if case == "garbage":  # trailing bytes after the stream: bz2.open ignores them
        return raw + b"not bz2 at all"
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["cut1", "cut3", "cut4", "cut6", "stream-crc"])
@pytest.mark.parametrize("streams", [1, 2], ids=["one-stream", "two-streams"])
def test_parallel_bz2_checks_the_stream_crc(tmp_path, case, streams):
    """Issue 13 item 11: with n_threads >= 2 a .bz2 missing its last bytes or with a damaged
    stream CRC was accepted (the blocks' own CRCs were checked, the stream's was not)."""
    text = _multiblock_text()
    half = len(text) // 2
    raw = (bz2.compress(text, 1) if streams == 1
           else bz2.compress(text[:half], 1) + bz2.compress(text[half:], 1))
    path = tmp_path / "d.svm.bz2"
    path.write_bytes(_damaged_bz2(raw, case))
    for n_threads in (1, 2, 4):
        with pytest.raises(SvmlightFormatError, match="truncated or corrupt"):
            load_svmlight(str(path), n_threads=n_threads)


def test_parallel_bz2_path_is_taken_for_intact_files(tmp_path, monkeypatch):
    """The layout check does not send intact files (one or two streams) to the serial
    decompressor; trailing non-bz2 bytes do, and give the serial reader's answer."""
    from fastlogit.io import svmlight

    text = _multiblock_text()
    half = len(text) // 2
    one = tmp_path / "one.bz2"
    one.write_bytes(bz2.compress(text, 1))
    two = tmp_path / "two.bz2"
    two.write_bytes(bz2.compress(text[:half], 9) + bz2.compress(text[half:], 1))
    garbage = tmp_path / "garbage.bz2"
    garbage.write_bytes(_damaged_bz2(bz2.compress(text, 1), "garbage"))
    ref = reference(text)
    serial = {"n": 0}
    real_open = bz2.open

    class CountingBz2:
        def __getattr__(self, name):
            return getattr(bz2, name)

        @staticmethod
        def open(*args, **kwargs):
            serial["n"] += 1
            return real_open(*args, **kwargs)

    monkeypatch.setattr(svmlight, "bz2", CountingBz2())
    for path in (one, two):
        assert_same(load_svmlight(str(path), n_threads=2, chunk_bytes=150_000), ref)
    assert serial["n"] == 0
    assert_same(load_svmlight(str(garbage), n_threads=2), ref)
    assert serial["n"] == 1
    assert_same(load_svmlight(str(garbage), n_threads=1), ref)


# ------------------------------------------------------------------ non-finite numbers
@pytest.mark.parametrize("line,problem", [
    ("nan 1:1", "label nan is not a finite number"),
    ("1 1:1 4:nan", "feature 4 has the value nan"),
    ("1 2:-inf", "feature 2 has the value -inf"),
    ("-inf 2:nan", "label -inf is not a finite number"),
], ids=["label", "value", "inf", "label-first"])
@pytest.mark.parametrize("chunk_bytes", [None, 16], ids=["one-block", "many-blocks"])
def test_finite_names_file_and_line(tmp_path, line, problem, chunk_bytes):
    """Issue 13 item 8: NaN in a data file gave 'Input X contains NaN' (no file, no line)."""
    text = "# header\n1 1:0.5\n\n-1 2:1 3:2\n" + line + "\n1 1:1\n"
    path = write(tmp_path, text)
    X, y = load_svmlight(path)  # kept by default, as scikit-learn keeps them
    assert_same((X, y), reference(text))
    with pytest.raises(SvmlightFormatError, match=f"data.svm:5: {problem}") as info:
        load_svmlight(path, finite=True, chunk_bytes=chunk_bytes)
    assert info.value.lineno == 5
    with pytest.raises(SvmlightFormatError, match=f"data.svm:5: {problem}"):
        convert_svmlight(path, tmp_path / "c.flc", finite=True)
    assert not (tmp_path / "c.flc").exists()


def test_finite_float32_overflow(tmp_path):
    path = write(tmp_path, "1 1:1\n1 1:1e39\n")
    assert np.isinf(load_svmlight(path, dtype=np.float32)[0].data[1])
    with pytest.raises(SvmlightFormatError, match=r":2: feature 1 has the value inf "
                                                  r"\(beyond the float32 range\)"):
        load_svmlight(path, dtype=np.float32, finite=True)
    load_svmlight(path, finite=True)  # fits float64


def test_read_svmlight_locates_rows(tmp_path):
    from fastlogit.io.svmlight import read_svmlight

    a = write(tmp_path, "# c\n1 1:1\n\n2 2:1\n", name="a.svm")
    b = write(tmp_path, "3 1:1\n#\n4 3:1\n", name="b.svm")
    X, y, where = read_svmlight([a, b], chunk_bytes=8)
    assert y.tolist() == [1, 2, 3, 4]
    assert [where(i) for i in range(4)] == [(a, 2), (a, 4), (b, 1), (b, 3)]


# ------------------------------------------------------------------ damaged caches
@pytest.mark.parametrize("edit,match", [
    (lambda h: [h], "not a fastlogit CSR cache header"),  # was AttributeError
    (lambda h: {k: v for k, v in h.items() if k != "shape"}, "shape must be"),  # KeyError
    (lambda h: dict(h, shape="3x3"), "shape must be"),
    (lambda h: dict(h, shape=[-3, 3]), "shape must be"),
    (lambda h: dict(h, nnz=None), "nnz must be"),  # TypeError
    (lambda h: dict(h, dtype="|O"), "dtype must be one of"),
    (lambda h: dict(h, dtype="float128x"), "dtype must be one of"),  # TypeError
    (lambda h: dict(h, files=["data.bin"]), "files must name"),  # AttributeError
    (lambda h: dict(h, files=dict(h["files"], data="../../etc/passwd")), "files must name"),
    (lambda h: dict(h, files=dict(h["files"], data="gone.bin")), "gone.bin: missing"),
    (lambda h: dict(h, nnz=h["nnz"] - 1, shape=[3, 3]), "bytes, the header implies"),
], ids=["list", "no-shape", "shape-str", "shape-neg", "nnz-null", "object-dtype", "bad-dtype",
        "files-list", "files-outside", "files-missing", "nnz-wrong"])
def test_damaged_cache_header(tmp_path, edit, match):
    cache = save_csr_cache(tmp_path / "c", sp.csr_matrix(np.eye(3)), np.arange(3.0))
    header = json.loads((cache.path / "header.json").read_text())
    (cache.path / "header.json").write_text(json.dumps(edit(header)))
    with pytest.raises(CacheFormatError, match=match):
        CSRCache(cache.path)
    (cache.path / "header.json").write_text("[" * 100000)  # was RecursionError
    with pytest.raises(CacheFormatError, match="unreadable header"):
        CSRCache(cache.path)
    assert not is_csr_cache(cache.path)


@pytest.mark.parametrize("name,dtype,at,value,match", [
    ("indptr.bin", "<i4", -1, 99, "row offsets run from 0 to 99, not 0 to nnz=3"),
    ("indptr.bin", "<i4", 2, 0, "row offsets decrease at row 2"),
    ("indices.bin", "<i4", 1, 7, "column id 7 at position 1 is outside"),
    ("indices.bin", "<i4", 2, -1, "column id -1 at position 2 is outside"),
])
def test_damaged_cache_arrays(tmp_path, name, dtype, at, value, match):
    cache = save_csr_cache(tmp_path / "c", sp.csr_matrix(np.eye(3)), np.arange(3.0))
    cache.validate()
    a = np.fromfile(cache.path / name, dtype=dtype)
    a[at] = value
    a.tofile(cache.path / name)
    with pytest.raises(CacheFormatError, match=match):
        CSRCache(cache.path).validate(step=2)


def test_convert_removes_stale_temporary_directories(tmp_path):
    """A conversion killed mid-way leaves its temporary directory; the next conversion to the
    same target removes it (and never one of a running process)."""
    import subprocess
    import sys

    from fastlogit import _atomic

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    host = _atomic._host()
    dead = tmp_path / f".c.flc.fastlogit-tmp.{host}.{proc.pid}.0123abcd"
    live = tmp_path / f".c.flc.fastlogit-tmp.{host}.{os.getppid()}.0123abcd"
    for d in (dead, live):
        d.mkdir()
        (d / "data.bin").write_bytes(b"x" * 100)
    src = write(tmp_path, "1 1:1\n0 2:1\n")
    convert_svmlight(src, tmp_path / "c.flc")
    convert_svmlight(src, tmp_path / "c.flc")  # replacing: the old cache is removed too
    assert sorted(os.listdir(tmp_path)) == sorted([live.name, "c.flc", "data.svm"])
