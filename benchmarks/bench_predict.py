"""Streaming batch prediction: peak memory against the input's length, throughput against the
parser.

Run from the project root (timings under the machine's benchmark lock)::

    flock -x /tmp/fastlogit-bench.lock .venv/bin/python benchmarks/bench_predict.py
    .venv/bin/python benchmarks/bench_predict.py --rows 20000 --repeat 3   # smaller

Data (generated, not real): ``fastlogit.datasets.make_sparse_classification`` rows (Zipf
feature frequencies, log-normal row lengths) written as svmlight text with ``%.6g`` values;
the long file is the short one repeated 10 times.  The model is a binary
``LogisticRegression`` fitted on the first rows.

Measured:

- memory: each run in a fresh subprocess; after imports, the model load and a warm-up
  prediction (Numba compilation or its cache), the peak-RSS counter is reset
  (``/proc/self/clear_refs``) and ``VmHWM`` read after the run: "peak extra" is that peak
  minus the RSS before the run.  For ``predict_file`` (streamed) and, for comparison,
  ``load_svmlight`` (the whole matrix in memory), on the short and the long file;
- throughput: interleaved rounds, median of ``--repeat``: ``load_svmlight(path)`` (the parse
  alone), ``predict_file(model, path, out)`` for labels and for ``--proba`` output, and the
  previous ``fastlogit predict`` (load everything, ``predict_proba``, one Python-formatted
  line per row), on the short file.

Output: a Markdown report on stdout (benchmarks/results/predict_stream.md holds one).
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _write_svmlight(path, X, y):
    with open(path, "w") as fh:
        for i in range(X.shape[0]):
            lo, hi = X.indptr[i], X.indptr[i + 1]
            fh.write(f"{int(y[i])} " + " ".join(
                f"{j + 1}:{v:.6g}" for j, v in zip(X.indices[lo:hi].tolist(),
                                                   X.data[lo:hi].tolist())) + "\n")


def _rss_kib(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(what, path, model_path, warm_path, out_path):
    """One measured run in this (fresh) process: prints JSON with RSS figures in MiB."""
    import fastlogit
    from fastlogit.io import load_svmlight
    from fastlogit.predict_stream import predict_file

    model = fastlogit.load(model_path)
    if what == "predict":
        predict_file(model, warm_path, out_path, kind="proba")
    else:
        load_svmlight(warm_path)
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset VmHWM to the current RSS
    before = _rss_kib("VmRSS")
    t0 = time.perf_counter()
    if what == "predict":
        rows = predict_file(model, path, out_path, kind="proba")
    else:
        rows = load_svmlight(path)[0].shape[0]
    elapsed = time.perf_counter() - t0
    peak = _rss_kib("VmHWM")
    print(json.dumps({"rows": rows, "before_mib": before / 1024, "peak_mib": peak / 1024,
                      "extra_mib": (peak - before) / 1024, "seconds": elapsed}))


def _measure_memory(what, path, model_path, warm_path, out_path):
    proc = subprocess.run([sys.executable, __file__, "--child", what, str(path), str(model_path),
                           str(warm_path), str(out_path)], capture_output=True, text=True,
                          cwd=ROOT)
    if proc.returncode:
        raise RuntimeError(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _old_predict(model, path, out_path):
    """What ``fastlogit predict --proba`` did before streaming (for the comparison row)."""
    from fastlogit.io import load_svmlight
    from fastlogit.predict_stream import format_label

    X, _ = load_svmlight(path, n_features=model.n_features_in_)
    P = model.predict_proba(X)
    labels = model.classes_[P.argmax(axis=1)]
    with open(out_path, "w") as fh:
        fh.write("labels " + " ".join(format_label(c) for c in model.classes_) + "\n")
        for lab, row in zip(labels, P):
            fh.write(format_label(lab) + " " + " ".join(f"{p:.8g}" for p in row) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=60_000, help="rows of the short file")
    ap.add_argument("--features", type=int, default=100_000)
    ap.add_argument("--mean-nnz", type=float, default=40)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", nargs=5, metavar=("WHAT", "PATH", "MODEL", "WARM", "OUT"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(*args.child)

    import fastlogit
    from fastlogit import LogisticRegression
    from fastlogit.datasets import make_sparse_classification
    from fastlogit.io import load_svmlight
    from fastlogit.predict_stream import predict_file

    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench_predict_") as tmp:
        tmp = Path(tmp)
        X, y = make_sparse_classification(args.rows, args.features, mean_nnz=args.mean_nnz,
                                          random_state=0)
        y = np.where(y > 0, 1, -1)
        short, long_, warm = tmp / "short.svm", tmp / "long.svm", tmp / "warm.svm"
        _write_svmlight(short, X, y)
        _write_svmlight(warm, X[:2000], y[:2000])
        text = short.read_bytes()
        with open(long_, "wb") as fh:
            for _ in range(10):
                fh.write(text)
        model = LogisticRegression(C=1.0).fit(X[:20000], y[:20000])
        model_path = tmp / "m.npz"
        model.save(model_path)
        out = tmp / "out.txt"
        mem = {}
        for what in ("predict", "load"):
            for name, path in (("short", short), ("long", long_)):
                mem[what, name] = _measure_memory(what, path, model_path, warm, out)

        model = fastlogit.load(model_path)
        predict_file(model, warm, out, kind="proba")  # warm-up
        cases = {
            "parse: load_svmlight": lambda: load_svmlight(short),
            "streamed predict, labels": lambda: predict_file(model, short, out),
            "streamed predict, --proba": lambda: predict_file(model, short, out, kind="proba"),
            "streamed predict, --proba, to /dev/null (no fsync)":
                lambda: predict_file(model, short, os.devnull, kind="proba"),
            "previous predict --proba (load all, Python lines)":
                lambda: _old_predict(model, short, out),
        }
        times = {k: [] for k in cases}
        for _ in range(args.repeat):
            for k, fn in cases.items():
                t0 = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t0)
        size_short, size_long = short.stat().st_size, long_.stat().st_size
    med = {k: statistics.median(v) for k, v in times.items()}
    parse = med["parse: load_svmlight"]

    print("# Streaming batch prediction (`fastlogit predict`)\n")
    print(f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.  Command: "
          f"`flock -x /tmp/fastlogit-bench.lock .venv/bin/python benchmarks/bench_predict.py "
          f"--rows {args.rows} --repeat {args.repeat}`  ")
    print(f"Machine: {os.cpu_count()} cores, {platform.platform()}, Python "
          f"{platform.python_version()}; load average at start {load_start[0]:.1f}, at end "
          f"{os.getloadavg()[0]:.1f} (a shared machine: above 2 the runs waited for a core).  ")
    print(f"Data (generated): {args.rows} rows x {args.features} features, mean "
          f"{args.mean_nnz:g} non-zeros per row, svmlight text with %.6g values: short file "
          f"{size_short / 2**20:.1f} MiB, long file = short x 10 ({size_long / 2**20:.1f} MiB, "
          f"{10 * args.rows} rows).  Binary model; block size 4 MiB of text (the default).\n")
    print("## Peak memory (fresh process each; RSS over the process's RSS before the run)\n")
    print("| run | file | rows | RSS before (MiB) | peak (MiB) | peak extra (MiB) | seconds |")
    print("|---|---|---|---|---|---|---|")
    for (what, name), m in mem.items():
        label = "predict_file --proba (streamed)" if what == "predict" else "load_svmlight"
        print(f"| {label} | {name} | {m['rows']} | {m['before_mib']:.1f} | {m['peak_mib']:.1f} "
              f"| {m['extra_mib']:.1f} | {m['seconds']:.2f} |")
    ps, pl = mem["predict", "short"]["peak_mib"], mem["predict", "long"]["peak_mib"]
    es, el = mem["predict", "short"]["extra_mib"], mem["predict", "long"]["extra_mib"]
    print(f"\nStreamed predict, long / short file: peak RSS {pl / ps:.3f}x, peak extra "
          f"{el / max(es, 1e-9):.2f}x ({el - es:+.1f} MiB) for a 10x longer file.  "
          f"load_svmlight: peak extra {mem['load', 'long']['extra_mib'] / max(mem['load', 'short']['extra_mib'], 1e-9):.1f}x.\n")
    print(f"## Throughput on the short file (median of {args.repeat}, interleaved rounds)\n")
    print("| run | seconds | MiB/s of text | rows/s | vs parse |")
    print("|---|---|---|---|---|")
    for k, t in med.items():
        print(f"| {k} | {t:.3f} | {size_short / 2**20 / t:.1f} | {args.rows / t:,.0f} | "
              f"{parse / t:.2f}x |")
    print("\n`vs parse` is the parser's time over the run's: at least 1.00x means predicting "
          "(parse + score + write) keeps up with parsing alone.  Output files are written atomically "
          "(temporary file, fsync, rename); the /dev/null row leaves that out.")


if __name__ == "__main__":
    main()
