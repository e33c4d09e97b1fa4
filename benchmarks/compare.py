"""Head-to-head: fastlogit against scikit-learn, LIBLINEAR and glum on the same objective.

Every solver minimises (or is mapped onto) the objective of docs/user_guide/objective.md

    F(w, b) = C * sum_i [log(1 + exp(z_i)) - y_i z_i] + 1/2 ||w||^2,   z_i = x_i . w + b

with an unpenalised intercept b, and is scored by one NumPy evaluation of F
(benchmarks/common.py), never by its own report.  The parameter mappings are in
benchmarks/runners.py (scikit-learn's liblinear penalises the intercept; its floor under
our F is reported as "best reached").  This module is the command line; the measuring is
in benchmarks/harness.py, the report in benchmarks/report.py.

F* comes from two independent tight solves (LIBLINEAR at eps 1e-12, SciPy trust-ncg on our
NumPy objective), cross-checked, cached in results/fstar.json.  Each solver then runs at a
ladder of tolerances (epochs for SGD) from loose to tight until it reaches relative
suboptimality (F - F*) / F* <= 1e-8, fails, or exceeds the time cap; every timed fit follows
an untimed warm-up fit (its time, which includes Numba compilation for fastlogit, is
reported separately), data conversion to a library's own format (LIBLINEAR problem, glum's
tabmat matrix) is done once outside the timing, and the first ladder level reaching 1e-4,
1e-6 and 1e-8 is re-run to give a median of ``--repeats`` (default 3).  Each data set runs
in a separate worker process (killed and restarted past the cap); all libraries get the same
thread count (OpenMP, BLAS, Numba and fastlogit pinned to ``--threads``, default 2).  The
kernel table is benchmarks/bench_kernels.py's, run in its own process.

Usage::

    python -m benchmarks.compare                      # full run, writes benchmarks/results/
    python -m benchmarks.compare --quick              # a9a only, 1 repeat, 20 s cap
    python -m benchmarks.compare --datasets a9a,w8a --data my.svm --cap 60
"""
import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common, harness, report  # noqa: E402
from benchmarks.runners import DEFAULT_EXCLUDE, all_runners  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", default=None,
                   help="comma-separated shared data sets (default: all: "
                        + ",".join(common.REAL_DATASETS) + ")")
    p.add_argument("--data", action="append", default=[],
                   help="an extra svmlight/libsvm file (binary labels); may repeat")
    p.add_argument("--solvers", default=None,
                   help="comma-separated rows (substring match), e.g. 'fastlogit,LIBLINEAR'")
    p.add_argument("--quick", action="store_true",
                   help="one data set (the first), 1 repeat, 20 s cap, small kernel table")
    p.add_argument("--C", type=float, default=1.0)
    p.add_argument("--cap", type=float, default=None, help="seconds per fit (default 30)")
    p.add_argument("--repeats", type=int, default=None, help="timed fits per point (default 3)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=None,
                   help="output folder (default benchmarks/results; --quick: .asv/compare-quick)")
    p.add_argument("--fstar", default=None,
                   help="F* cache (JSON; default benchmarks/results/fstar.json)")
    p.add_argument("--no-kernels", action="store_true", help="skip the kernel table")
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("--kernels-only", action="store_true", help="only the kernel table")
    p.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                   help="combine the compare.json of earlier runs (data sets in the given "
                        "order, the last kernel table) into one report in --out; with "
                        "--kernels-only a fresh kernel table is measured for it")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import signal

    if threading_is_main():
        signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    argv_str = " ".join(sys.argv[1:] if argv is None else argv)
    if args.datasets:
        datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    elif args.data:
        datasets = []
    else:
        datasets = list(common.REAL_DATASETS)
    datasets += args.data
    if args.quick:
        datasets = datasets[:1]
    cap = args.cap if args.cap is not None else (20.0 if args.quick else 30.0)
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 3)
    out = Path(args.out) if args.out else (common.ROOT / ".asv" / "compare-quick" if args.quick
                                           else common.RESULTS_DIR)
    out.mkdir(parents=True, exist_ok=True)
    runners = all_runners()
    if args.solvers:
        keys = [k.strip() for k in args.solvers.split(",") if k.strip()]
        names = [n for n in runners if any(k.lower() in n.lower() for k in keys)]
    else:
        names = [n for n in runners if n not in DEFAULT_EXCLUDE]
    if not names:
        raise SystemExit(f"--solvers {args.solvers!r} matches none of {list(runners)}")

    def log(msg):
        print(msg, flush=True)

    t_start = time.monotonic()
    if args.merge:
        return merge_runs(args, out, t_start, log)
    result = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python -m benchmarks.compare" + (f" {argv_str}" if argv_str else ""),
        "machine": common.machine_description(), "C": args.C, "cap": cap, "repeats": repeats,
        "n_threads": args.threads, "runners": names, "datasets": {},
        "load_average_start": _loadavg(),
    }
    for dataset in ([] if args.kernels_only else datasets):
        label = common.dataset_label(dataset)
        X, y = common.load_dataset(dataset)
        log(f"{label}: {X.shape[0]} x {X.shape[1]}, nnz {X.nnz}; reference solve ...")
        ref = harness.cached_reference(dataset, X, y, args.C, path=args.fstar)
        log(f"  F* = {ref['F_star']:.12g} (two solvers agree to {ref['rel_disagreement']:.1e})")
        records = harness.run_dataset(dataset, names, C=args.C, f_star=ref["F_star"], cap=cap,
                              repeats=repeats, n_threads=args.threads, log=log)
        summary = harness.summarise(records, ref["F_star"])
        entry = {"shape": list(X.shape), "nnz": int(X.nnz), "reference": ref,
                 "records": records, "summary": summary}
        if not args.no_plot:
            png = f"subopt_{label}.png"
            report.plot_dataset(label, summary, ref["F_star"], out / png)
            entry["plot"] = png
        result["datasets"][label] = entry
        log(f"  done at {time.monotonic() - t_start:.0f} s")
        _write(out, result, t_start)  # after every data set: a cut-short run keeps its part
    if not args.no_kernels:
        log("kernel table ...")
        result["kernels"] = harness.run_kernel_table(args.threads, args.quick)
    md = _write(out, result, t_start)
    log(md)
    log(f"wrote {out / 'README.md'} in {result['total_seconds']:.0f} s")
    return result


def merge_runs(args, out, t_start, log):
    """One report from several runs' compare.json (e.g. data sets run in parallel
    processes): data sets in order, runner rows united, the last kernel table (or a fresh
    one with --kernels-only)."""
    result, names, merged = None, [], []
    for path in args.merge:
        path = Path(path)
        run = json.loads(path.read_text())
        if result is None:
            result = dict(run, datasets={})
        for n in run["runners"]:
            if n not in names:
                names.append(n)
        for label, entry in run["datasets"].items():
            entry["summary"] = {
                n: {**s, "to": {float(k): v for k, v in s["to"].items()}}
                for n, s in entry["summary"].items()}
            result["datasets"][label] = entry
            src = path.parent / entry.get("plot", "")
            if entry.get("plot") and src.exists() and src.resolve() != (out / entry["plot"]).resolve():
                (out / entry["plot"]).write_bytes(src.read_bytes())
        if run.get("kernels"):
            result["kernels"] = run["kernels"]
        if run.get("merged_from"):  # an earlier merge: keep its parts
            merged += [r for r in run["merged_from"]
                       if r["datasets"] or not args.kernels_only]
        else:
            merged.append({"command": run["command"], "date": run["date"],
                           "load_average_start": run.get("load_average_start"),
                           "load_average_end": run.get("load_average_end"),
                           "total_seconds": run.get("total_seconds"),
                           "datasets": list(run["datasets"])})
    result["runners"] = names
    result["merged_from"] = merged
    if args.kernels_only:
        log("kernel table ...")
        load0 = _loadavg()
        result["kernels"] = harness.run_kernel_table(args.threads, args.quick)
        merged.append({"command": "python -m benchmarks.compare --kernels-only",
                       "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                       "load_average_start": load0, "load_average_end": _loadavg(),
                       "total_seconds": time.monotonic() - t_start, "datasets": []})
    result["command"] = "; ".join(r["command"] for r in merged)
    md = _write(out, result, t_start)
    log(md)
    return result


def threading_is_main():
    import threading

    return threading.current_thread() is threading.main_thread()


def _write(out, result, t_start):
    result["total_seconds"] = time.monotonic() - t_start
    result["load_average_end"] = _loadavg()
    md = report.markdown(result)
    for name, text in (("README.md", md),
                       ("compare.json", json.dumps(result, indent=1, default=_json_default) + "\n")):
        tmp = out / (name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, out / name)
    return md


def _loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return None


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o))


if __name__ == "__main__":
    main()
