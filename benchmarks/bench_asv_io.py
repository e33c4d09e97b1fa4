"""asv: svmlight parser throughput, fastlogit.io.load_svmlight against scikit-learn's reader.

``setup_cache`` writes two uncompressed files once under .asv/io_cache: a9a decompressed
from ../shared/datasets (real) and a generated text-like file (~1.5M non-zeros).  Timing
covers the parse only (file already in the page cache after the warm-up parse).
``track_mb_per_s`` is file size over the median of three parses.
"""
import os
import time
from pathlib import Path

import numpy as np

from . import common

READERS = ["fastlogit", "sklearn"]
FILES = ["a9a", "generated"]


def _write_files():
    from sklearn.datasets import dump_svmlight_file

    from fastlogit.datasets import _open, make_sparse_classification

    out = common.ROOT / ".asv" / "io_cache"
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    try:
        src = common.dataset_source("a9a")
        path = out / "a9a.svm"
        if not path.exists() or path.stat().st_size == 0:
            with _open(src) as fin, open(path, "wb") as fout:
                fout.write(fin.read())
        paths["a9a"] = str(path)
    except FileNotFoundError:
        pass
    path = out / "generated.svm"
    if not path.exists() or path.stat().st_size == 0:
        X, y = make_sparse_classification(100_000, 20_000, mean_nnz=15, random_state=0)
        tmp = out / f"generated.tmp{os.getpid()}"
        dump_svmlight_file(X, y, str(tmp), zero_based=False)
        os.replace(tmp, path)
    paths["generated"] = str(path)
    return paths


def _reader(name):
    if name == "fastlogit":
        try:
            from fastlogit.io import load_svmlight
        except ImportError as exc:
            raise NotImplementedError(f"fastlogit.io.load_svmlight not available: {exc}")
        return lambda path: load_svmlight(path)
    from sklearn.datasets import load_svmlight_file

    return lambda path: load_svmlight_file(path)


class ParseSvmlight:
    params = (READERS, FILES)
    param_names = ["reader", "file"]
    timeout = 300

    def setup_cache(self):
        return _write_files()

    def setup(self, paths, reader, file):
        if file not in paths:
            raise NotImplementedError(f"{file}: source data not found")
        self.path = paths[file]
        self.read = _reader(reader)
        self.read(self.path)  # warm-up: page cache, Numba compilation

    def time_parse(self, paths, reader, file):
        self.read(self.path)

    def track_mb_per_s(self, paths, reader, file):
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            self.read(self.path)
            times.append(time.perf_counter() - t0)
        return Path(self.path).stat().st_size / float(np.median(times)) / 1e6

    track_mb_per_s.unit = "MB/s"
