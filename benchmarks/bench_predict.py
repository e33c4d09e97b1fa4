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
- throughput: interleaved rounds, median of ``--repeat``, on the short file:
  ``load_svmlight(path)`` (our parser: the reference), ``iter_blocks`` (its blocks, no
  matrix assembled), ``score_svmlight`` (scoring while parsing, no output),
  ``predict_file(model, path, out)`` for labels, ``--proba`` and ``--raw`` output (also to
  /dev/null, and ``--proba`` of a 5-class multinomial model), and the previous ``fastlogit
  predict`` (load everything, ``predict_proba``, one Python-formatted line per row).

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
import warnings
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
    from fastlogit.io import iter_blocks, load_svmlight, score_svmlight
    from fastlogit.predict_stream import _Scorer, predict_file

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
        n_multi = min(4000, args.rows)
        y5 = np.arange(n_multi) % 5
        with warnings.catch_warnings():  # a few iterations: its scores, not its fit, matter
            warnings.simplefilter("ignore")
            multi = LogisticRegression(C=1.0, max_iter=20).fit(X[:n_multi], y5)
        scorer = _Scorer(model, np.float64)

        def score_only():
            for _ in score_svmlight(short, scorer.coef, scorer.intercept,
                                    four_sums=scorer.four_sums):
                pass

        def blocks_only():
            for _ in iter_blocks(short, "auto", np.float64):
                pass

        for m in (model, multi):
            for kind in ("label", "proba", "raw"):
                predict_file(m, warm, out, kind=kind)  # warm-up (compilation or its cache)
        cases = {
            "parse: load_svmlight": lambda: load_svmlight(short),
            "parse blocks only: io.iter_blocks (no matrix)": blocks_only,
            "score while parsing: io.score_svmlight (no output)": score_only,
            "streamed predict, labels": lambda: predict_file(model, short, out),
            "streamed predict, --proba": lambda: predict_file(model, short, out, kind="proba"),
            "streamed predict, --raw": lambda: predict_file(model, short, out, kind="raw"),
            "streamed predict, --proba, to /dev/null (no fsync)":
                lambda: predict_file(model, short, os.devnull, kind="proba"),
            "streamed predict, 5-class multinomial, --proba":
                lambda: predict_file(multi, short, out, kind="proba"),
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
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=ROOT).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "fastlogit/io",
                            "fastlogit/predict_stream.py", "fastlogit/_format_numba.py",
                            "benchmarks/bench_predict.py"],
                           capture_output=True, text=True, cwd=ROOT).stdout.strip()
    print(f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit {commit}"
          f"{' (with uncommitted changes)' if dirty else ''}.  Command: "
          f"`FASTLOGIT_BENCH=1 flock -x /tmp/fastlogit-bench.lock .venv/bin/python "
          f"benchmarks/bench_predict.py --rows {args.rows} --repeat {args.repeat}`  ")
    print(f"Machine: {os.cpu_count()} cores, {platform.platform()}, Python "
          f"{platform.python_version()}; load average at start {load_start[0]:.1f}, at end "
          f"{os.getloadavg()[0]:.1f} (a shared machine: above 2 the runs waited for a core).  ")
    print(f"Data (generated): {args.rows} rows x {args.features} features, mean "
          f"{args.mean_nnz:g} non-zeros per row, svmlight text with %.6g values: short file "
          f"{size_short / 2**20:.1f} MiB, long file = short x 10 ({size_long / 2**20:.1f} MiB, "
          f"{10 * args.rows} rows).  Binary model (and a 5-class one where said); block size 4 MiB "
          f"of text (the default); threads: all cores (the default).\n")
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
