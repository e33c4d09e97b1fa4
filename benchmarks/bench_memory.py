"""Peak extra memory of ``LogisticRegression.fit`` on a large CSR matrix, against the matrix's
own bytes.

Run from the project root::

    flock -x /tmp/fastlogit-bench.lock .venv/bin/python benchmarks/bench_memory.py
    .venv/bin/python benchmarks/bench_memory.py --rows 200000 --nnz 5e6   # smaller

Data (generated, not real): ``fastlogit.datasets.make_sparse_classification`` (default
1,000,000 x 500,000, 25 non-zeros per row: 25 M non-zeros, float64 values, int32 indices),
written once to an ``.npz`` file under ``--cache-dir``.

Each fit runs in a fresh subprocess: the matrix is loaded, the libraries imported and a small
fit run (so that compiled code, caches and thread pools exist), then the peak-RSS counter is
reset (``/proc/self/clear_refs``) and the fit made.  "Peak extra" is ``VmHWM`` after the fit
minus the RSS before it: the memory a caller who already holds X must have on top of it.
``tracemalloc`` peak (a second run with tracing, Python and NumPy allocations only) shows
how much of that the arrays explain.  Fits stop after ``--max-iter`` iterations: every
solver allocates its buffers in its first iterations, so the peak is reached by then.

Output: a Markdown table on stdout (benchmarks/results/memory.md holds one).
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _status(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _load(path):
    import scipy.sparse as sp

    with np.load(path) as f:
        X = sp.csr_matrix((f["data"], f["indices"], f["indptr"]), shape=tuple(f["shape"]),
                          copy=False)
        y = f["y"]
    return X, y


def _estimator(which, max_iter):
    if which == "sklearn-lbfgs":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=1.0, max_iter=max_iter, tol=1e-12)
    from fastlogit import LogisticRegression

    solver = which.split(":", 1)[1]
    return LogisticRegression(C=1.0, max_iter=max_iter, tol=1e-12, solver=solver)


def child(which, path, max_iter, trace):
    import warnings

    X, y = _load(path)
    small = X[:2000]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _estimator(which, 3).fit(small, y[:2000])  # imports, compilation, thread pools
        if trace:
            import tracemalloc

            tracemalloc.start()
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # VmHWM := current RSS
        before = _status("VmRSS")
        t0 = time.perf_counter()
        model = _estimator(which, max_iter).fit(X, y)
        elapsed = time.perf_counter() - t0
    out = {"peak_extra": _status("VmHWM") - before, "seconds": elapsed,
           "solver": getattr(model, "solver_", "lbfgs")}
    if trace:
        out["traced_peak"] = tracemalloc.get_traced_memory()[1]
    print(json.dumps(out))


def _run_child(which, path, max_iter, trace):
    proc = subprocess.run([sys.executable, __file__, "--child", which, str(path), str(max_iter),
                           "1" if trace else "0"], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        raise RuntimeError(f"{which}: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--features", type=int, default=500_000)
    ap.add_argument("--nnz", type=float, default=25e6, help="total non-zeros (approximate)")
    ap.add_argument("--max-iter", type=int, default=5)
    ap.add_argument("--fits", nargs="+", default=["fastlogit:auto", "fastlogit:lbfgs",
                                                  "fastlogit:newton-cg", "sklearn-lbfgs"])
    ap.add_argument("--cache-dir", default="/tmp/fastlogit-bench-memory")
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        which, path, max_iter, trace = args.child
        return child(which, path, int(max_iter), trace == "1")

    from fastlogit.datasets import make_sparse_classification

    mean_nnz = args.nnz / args.rows
    cache = Path(args.cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"csr-{args.rows}x{args.features}-{mean_nnz:g}.npz"
    if not path.exists():
        X, y = make_sparse_classification(args.rows, args.features, mean_nnz=mean_nnz,
                                          random_state=0)
        tmp = path.with_suffix(f".tmp{os.getpid()}.npz")
        np.savez(tmp, data=X.data, indices=X.indices, indptr=X.indptr,
                 shape=np.array(X.shape), y=y)
        os.replace(tmp, path)
        del X, y
    X, _ = _load(path)
    matrix = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    used = int(np.count_nonzero(np.bincount(X.indices, minlength=X.shape[1])))
    shape, nnz, idx = X.shape, X.nnz, X.indices.dtype
    del X
    load_start = os.getloadavg()[0]
    rows = []
    for which in args.fits:
        rss = _run_child(which, path, args.max_iter, False)
        traced = _run_child(which, path, args.max_iter, True)
        rows.append((which, rss, traced))

    print("# Peak extra memory of a fit\n")
    print(f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.  Command: "
          f"`.venv/bin/python benchmarks/bench_memory.py --rows {args.rows} --features "
          f"{args.features} --nnz {args.nnz:g} --max-iter {args.max_iter}`  ")
    print(f"Machine: {os.cpu_count()} cores, {platform.platform()}; load average "
          f"{load_start:.1f} at start, {os.getloadavg()[0]:.1f} at end.  ")
    print(f"Data (generated): {shape[0]:,} x {shape[1]:,} CSR, {nnz:,} non-zeros, float64 "
          f"values, {idx} indices, {used:,} columns used ({used / shape[1]:.0%}); the matrix "
          f"holds {matrix / 2**20:.1f} MiB (data + indices + indptr).  Fits: C = 1, "
          f"max_iter = {args.max_iter}.\n")
    print("| fit | solver | peak extra RSS (MiB) | / matrix | traced peak (MiB) | "
          "seconds |")
    print("|---|---|---|---|---|---|")
    for which, rss, traced in rows:
        print(f"| {which} | {rss['solver']} | {rss['peak_extra'] / 2**20:.1f} | "
              f"{rss['peak_extra'] / matrix:.2f}x | {traced['traced_peak'] / 2**20:.1f} | "
              f"{rss['seconds']:.1f} |")


if __name__ == "__main__":
    main()
