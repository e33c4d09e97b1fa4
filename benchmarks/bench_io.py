"""svmlight reading: fastlogit.io.load_svmlight against sklearn.datasets.load_svmlight_file.

Run from the project root::

    .venv/bin/python benchmarks/bench_io.py                 # news20 (the largest shared set)
    .venv/bin/python benchmarks/bench_io.py --all           # every shared set
    .venv/bin/python benchmarks/bench_io.py --repeat 5 a9a w8a

For each data set, interleaved in rounds (so that load from the rest of the machine hits both
readers alike), median of ``--repeat`` rounds (default 3):

- ``sklearn``: ``load_svmlight_file`` on the compressed file, as a user would call it (it opens
  .bz2 / .gz itself; for .xz it is given ``lzma.open(path, "rb")``);
- ``fastlogit``: ``load_svmlight(path)`` on the compressed file (decompression in a reader
  thread, overlapped with the parse);
- ``decompress``: reading the whole decompressed stream and nothing else (a floor for any
  reader of the compressed file);
- ``sklearn text`` / ``fastlogit text``: both readers on the decompressed text held in a
  temporary file (the parse alone; the file is in the page cache).

The CPU column is the process CPU time (all threads) of the compressed-file cases: on a busy
machine, where wall times swing with other jobs, it shows the work each reader does.
Both readers are checked to return the same matrix and labels first.  The warm-up call
(Numba compilation or its cache load) is excluded.  Output: a Markdown table on stdout.
"""
import argparse
import bz2
import gzip
import lzma
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.shared_data import SHARED_DATASETS, shared_dataset_path  # noqa: E402
from fastlogit.io import load_svmlight  # noqa: E402


def _opener(path):
    head = open(path, "rb").read(6)
    if head.startswith(b"BZh"):
        return bz2.open
    if head.startswith(b"\xfd7zXZ"):
        return lzma.open
    if head.startswith(b"\x1f\x8b"):
        return gzip.open
    return open


def _sklearn(path):
    from sklearn.datasets import load_svmlight_file

    if str(path).endswith((".bz2", ".gz")) or _opener(path) is open:
        return load_svmlight_file(str(path))
    with _opener(path)(path, "rb") as fh:
        return load_svmlight_file(fh)


def _decompress(path):
    with _opener(path)(path, "rb") as fh:
        while fh.read(1 << 24):
            pass


def _same(a, b):
    (Xa, ya), (Xb, yb) = a, b
    return (Xa.shape == Xb.shape and np.array_equal(Xa.indptr, Xb.indptr)
            and np.array_equal(Xa.indices, Xb.indices) and np.array_equal(Xa.data, Xb.data)
            and np.array_equal(ya, yb))


def _time(fn, *args):
    """(wall seconds, CPU seconds of the whole process, all threads)."""
    c0, t0 = time.process_time(), time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0, time.process_time() - c0


def bench(name, repeat):
    path = shared_dataset_path(name)
    with _opener(path)(path, "rb") as fh:
        text = fh.read()
    with tempfile.NamedTemporaryFile(suffix=".svm", delete=False) as tmp:
        tmp.write(text)
    try:
        ref = _sklearn(path)
        ours = load_svmlight(str(path))
        if not _same(ref, ours):
            raise SystemExit(f"{name}: fastlogit and scikit-learn disagree")
        load_svmlight(tmp.name)
        cases = {
            "sklearn": lambda: _sklearn(path),
            "fastlogit": lambda: load_svmlight(str(path)),
            "decompress": lambda: _decompress(path),
            "sklearn text": lambda: _sklearn(tmp.name),
            "fastlogit text": lambda: load_svmlight(tmp.name),
        }
        times = {k: [] for k in cases}
        cpu = {k: [] for k in cases}
        for _ in range(repeat):
            for k, fn in cases.items():
                wall, c = _time(fn)
                times[k].append(wall)
                cpu[k].append(c)
        med = {k: float(np.median(v)) for k, v in times.items()}
        med.update({f"{k} cpu": float(np.median(v)) for k, v in cpu.items()})
    finally:
        os.unlink(tmp.name)
    X = ours[0]
    return dict(name=name, file=path.name, mb=len(text) / 1e6, nnz=X.nnz, **med)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", nargs="*", help="shared data set names (default: news20)")
    ap.add_argument("--all", action="store_true", help="every shared data set")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    names = list(SHARED_DATASETS) if args.all else (args.datasets or ["news20"])
    print(f"cores: {len(os.sched_getaffinity(0))}, median of {args.repeat}, seconds\n")
    print("| data set | text MB | nnz | sklearn | fastlogit | ratio | decompress | "
          "sklearn text | fastlogit text | text ratio | CPU s sklearn / fastlogit / decompress |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name in names:
        r = bench(name, args.repeat)
        print(f"| {r['file']} | {r['mb']:.1f} | {r['nnz']:,} | {r['sklearn']:.3f} | "
              f"{r['fastlogit']:.3f} | {r['sklearn'] / r['fastlogit']:.1f}x | "
              f"{r['decompress']:.3f} | {r['sklearn text']:.3f} | {r['fastlogit text']:.3f} | "
              f"{r['sklearn text'] / r['fastlogit text']:.1f}x | {r['sklearn cpu']:.3f} / "
              f"{r['fastlogit cpu']:.3f} / {r['decompress cpu']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
