"""Hostile input for the svmlight reader: generated files against scikit-learn's reader, and
damaged compressed files against Python's own decompressors.

Every case ends in one of: the same matrix and labels as the reference, or a
``SvmlightFormatError`` (a ValueError naming file and line) where the reference rejects the
input too.  Counted and asserted zero: crashes (any other exception type), wrong exception
types, silent wrong results (accepted but different), and disagreements on what is an error.

Scale: ``FASTLOGIT_FUZZ_SCALE`` (default 1) multiplies the number of generated cases; at 1
the generated-lines test reads at least 5,000 lines per run, deterministic (derandomized
Hypothesis).  A nightly-style run: ``FASTLOGIT_FUZZ_SCALE=20 pytest tests/test_hostile_io.py``.
"""
import bz2
import collections
import gzip
import io
import lzma
import os
import random
import warnings
import zlib

import numpy as np
import pytest

from fastlogit.io import SvmlightFormatError, load_svmlight

hypothesis = pytest.importorskip("hypothesis")
sklearn_datasets = pytest.importorskip("sklearn.datasets")
st = hypothesis.strategies

SCALE = max(1, int(os.environ.get("FASTLOGIT_FUZZ_SCALE", "1")))
MIN_LINES = 5000 * SCALE

# ------------------------------------------------------------------ grammar of hostile lines
# Hypothesis draws the structure (how many lines, which are hostile, one seed per line); each
# line is built from its seed by the grammar below.  Drawing one integer per line instead of
# every token keeps generation cheap, and shrinking still removes lines down to the few that
# matter.
_AWKWARD_NUMBERS = ["", ".", "-", "+", "1e", "1.5.2", "0x10", "1_000", "+.5", "-0", "nan", "NaN",
                    "-inf", "Infinity", "1e999", "-1e-999", "00012", "9" * 30,
                    "1.0000000000000000000001", "\u0663", "1e+", "e5", "1d5", " 1", "4.9e-324"]
_VALID_AWKWARD = ["nan", "-inf", "1e999", "-0", "+.5", "00012", "9" * 30, "1E5", "0.0",
                  "1.0000000000000000000001", "4.9e-324", "1e-400", "Infinity"]
_AWKWARD_IDS = ["-1", "", "a", "+3", "007", "1.0", "2147483647", "2147483648", "4294967296",
                "9" * 25, "0x1"]
_ODD_TOKENS = ["qid:1", "qid:x", "qid", "#", "# 1:2", ":", "1:2:3", "\x00", "\t", "\r", "\x0b",
               "\x0c", "::", "1:", ":1", "#1:1", "\xa0"]
_SEPS = [" ", "\t", "  ", " \t"]


def _any_number(r):
    pick = r.random()
    if pick < 0.3:
        return str(r.randint(-10**6, 10**6))
    if pick < 0.55:
        return repr(r.uniform(-1e6, 1e6) * 10.0 ** r.randint(-300, 300))
    if pick < 0.7:
        return f"{float(np.float32(r.uniform(-1e3, 1e3))):.7e}"
    return r.choice(_AWKWARD_NUMBERS)


def _valid_line(r):
    sep = r.choice(_SEPS)
    parts = [r.choice(["1", "-1", "0", "2", "+1", "1.0", "3", "-2.5", "1e0"])]
    if r.random() < 0.1:
        parts.append(f"qid:{r.randint(0, 9)}")
    fid = 0
    for _ in range(r.randint(0, 6)):
        fid += r.randint(1, 6)
        value = (repr(r.uniform(-1e6, 1e6)) if r.random() < 0.8
                 else r.choice(_VALID_AWKWARD))
        parts.append(f"{fid}:{value}")
    line = sep.join(parts)
    return line + (r.choice([" # tail", "#x"]) if r.random() < 0.1 else "")


def _garbage_line(r):
    tokens = []
    for _ in range(r.randint(0, 6)):
        pick = r.random()
        fid = str(r.randint(0, 60)) if r.random() < 0.6 else r.choice(_AWKWARD_IDS)
        if pick < 0.5:
            tokens.append(f"{fid}:{_any_number(r)}")
        elif pick < 0.7:
            tokens.append(f"{fid}{_any_number(r)}")
        else:
            tokens.append(r.choice(_ODD_TOKENS))
    sep = r.choice(_SEPS)
    return _any_number(r) + sep + sep.join(tokens)


def _line(seed, hostile):
    r = random.Random(seed)
    if hostile:
        return _garbage_line(r)
    if r.random() < 0.12:
        return r.choice(["", "# comment", "   ", "#", "\t# x 1:2"])
    return _valid_line(r)


_seeds = st.lists(st.integers(0, 2**32 - 1), min_size=35, max_size=60)
# half the files valid throughout, a third with one hostile line somewhere, the rest mixed
_lines = st.one_of(
    _seeds.map(lambda seeds: [_line(s, False) for s in seeds]),
    _seeds.map(lambda seeds: [_line(s, False) for s in seeds]),
    _seeds.map(lambda seeds: [_line(s, False) for s in seeds]),
    st.tuples(_seeds, st.integers(0, 59)).map(
        lambda t: [_line(s, i == t[1] % len(t[0])) for i, s in enumerate(t[0])]),
    st.tuples(_seeds, st.integers(0, 59)).map(
        lambda t: [_line(s, i == t[1] % len(t[0])) for i, s in enumerate(t[0])]),
    _seeds.map(lambda seeds: [_line(s, s % 4 == 0) for s in seeds]),
)
_file = st.tuples(_lines, st.sampled_from(["\n", "\r\n"]), st.booleans())


def _text(lines, newline, trailing):
    return (newline.join(lines) + (newline if trailing else "")).encode("utf-8")


def _reference(raw, **kw):
    """scikit-learn's answer: ('ok', X, y) or ('error', exception)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            X, y = sklearn_datasets.load_svmlight_file(io.BytesIO(raw), **kw)
    except Exception as exc:  # the reference may raise anything; we must raise ours
        return "error", exc
    if X.shape[0] == 0:
        return "error", None  # documented difference: no samples is an error for us
    return "ok", X, y


def _same(ours, ref):
    (X, y), (Xr, yr) = ours, ref
    return (X.shape == Xr.shape and X.dtype == Xr.dtype
            and np.array_equal(X.indptr, Xr.indptr) and np.array_equal(X.indices, Xr.indices)
            and X.data.tobytes() == np.ascontiguousarray(Xr.data).tobytes()
            and y.tobytes() == np.asarray(yr, dtype=np.float64).tobytes())


def _judge(counts, run, ref, where):
    """Run ``run()`` and count its outcome against the reference; raise (so that Hypothesis
    shrinks the case) on a crash, a wrong exception type or a wrong result."""
    counts["cases"] += 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = run()
    except SvmlightFormatError as exc:
        if ref[0] == "ok":
            counts["false_rejections"] += 1
            raise AssertionError(f"{where}: we reject what scikit-learn reads: {exc}")
        if not str(exc).strip():
            counts["wrong_exception_types"] += 1
            raise AssertionError(f"{where}: empty message")
        counts["agreed_rejections"] += 1
        return
    except Exception as exc:  # a crash: any other exception type
        counts["crashes"] += 1
        raise AssertionError(f"{where}: {type(exc).__name__}: {exc}") from exc
    if ref[0] != "ok":
        counts["silent_wrong"] += 1
        raise AssertionError(f"{where}: accepted what the reference rejects ({ref[1]!r})")
    if not _same(ours, ref[1:]):
        counts["silent_wrong"] += 1
        raise AssertionError(f"{where}: a different matrix than the reference")
    counts["agreed_reads"] += 1


FAILURES = ("crashes", "wrong_exception_types", "silent_wrong", "false_rejections")


def _assert_clean(counts, name):
    print(f"\n{name}: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    for key in FAILURES:
        assert counts[key] == 0, (key, dict(counts))


def test_generated_files_against_sklearn():
    """>= 5,000 generated lines per run (times FASTLOGIT_FUZZ_SCALE), each file read with
    several option sets: default, zero_based True / False, float32 values, a fixed
    n_features, tiny parse blocks (lines cut across blocks) and 1 or 2 threads."""
    counts = collections.Counter()

    @hypothesis.settings(max_examples=160 * SCALE, deadline=None, derandomize=True,
                         database=None,
                         suppress_health_check=list(hypothesis.HealthCheck))
    @hypothesis.given(spec=_file, options=st.sampled_from([
        {}, {"zero_based": True}, {"zero_based": False}, {"dtype": np.float32},
        {"n_features": 40}, {"n_features": 3, "zero_based": False}]),
        chunk_bytes=st.sampled_from([None, 7, 64, 301]), n_threads=st.sampled_from([1, 2]))
    def check(spec, options, chunk_bytes, n_threads):
        raw = _text(*spec)
        counts["lines"] += raw.count(b"\n") + (not raw.endswith(b"\n"))
        ref = _reference(raw, **options)
        _judge(counts, lambda: load_svmlight(io.BytesIO(raw), chunk_bytes=chunk_bytes,
                                             n_threads=n_threads, **options),
               ref, f"options={options} chunk_bytes={chunk_bytes}")

    check()
    _assert_clean(counts, "svmlight fuzz")
    assert counts["lines"] >= MIN_LINES, dict(counts)
    assert counts["agreed_reads"] > 0 and counts["agreed_rejections"] > 0, dict(counts)


_COMPRESSORS = {  # kind: (compress, decompress, magic bytes the reader recognises)
    "gz": (lambda b: gzip.compress(b, 6, mtime=0), gzip.decompress, b"\x1f\x8b"),
    "bz2": (lambda b: bz2.compress(b, 1), bz2.decompress, b"BZh"),
    "xz": (lzma.compress, lzma.decompress, b"\xfd7zXZ\x00"),
}


def _multiblock_text(rng, n):
    ids = np.sort(rng.choice(300, size=(n, 8)), axis=1)
    rows = [f"{int(rng.integers(0, 2))} " + " ".join(
        f"{j + 1}:{v:.5f}" for j, v in zip(np.unique(r), rng.standard_normal(8)))
        for r in ids]
    return ("\n".join(rows) + "\n").encode()


def test_damaged_compressed_files(tmp_path):
    """Truncated and bit-flipped .gz / .bz2 / .xz files, read with 1 and 2 threads (the .bz2
    block-parallel path included): the answer is Python's decompressor's (an error, or the
    text it gives, read as scikit-learn reads it), never something else."""
    rng = np.random.default_rng(11)
    counts = collections.Counter()
    small = _multiblock_text(rng, 400)
    big = _multiblock_text(rng, 2500)  # > 100 kB of text: several bz2 blocks at level 1
    n_damages = 12 * SCALE
    for kind, (compress, decompress, magic) in _COMPRESSORS.items():
        for text in (small, big) if kind == "bz2" else (small,):
            blob = compress(text)
            damages = [("cut", int(c)) for c in rng.integers(1, len(blob), n_damages)]
            damages += [("cut", k) for k in (1, 2, 4, 5, 8, 11)]
            damages += [("flip", int(p)) for p in rng.integers(0, len(blob), n_damages)]
            damages += [("flip", len(blob) - k) for k in (1, 2, 3, 4, 5, 6)]
            for how, at in damages:
                if how == "cut":
                    bad = blob[:len(blob) - at]
                else:
                    bad = bytearray(blob)
                    bad[at] ^= 1 << int(rng.integers(0, 8))
                    bad = bytes(bad)
                path = tmp_path / f"d.{kind}"
                path.write_bytes(bad)
                if not bad.startswith(magic):  # no longer compressed data: read as text
                    ref = _reference(bad)
                else:
                    try:
                        plain = decompress(bad)
                    except (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error):
                        ref = ("error", None)
                    else:
                        ref = _reference(plain)
                for n_threads in (1, 2):
                    _judge(counts, lambda: load_svmlight(str(path), n_threads=n_threads),
                           ref, f"{kind} {how} at {at} of {len(blob)}, {n_threads} threads")
    _assert_clean(counts, "damaged compressed files")
    assert counts["cases"] >= 2 * (3 + 1) * (2 * n_damages + 12)
