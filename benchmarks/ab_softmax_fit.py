"""A/B of whole softmax fits on news20 (20 classes, C = 1) between two source trees.

    python benchmarks/ab_softmax_fit.py BEFORE_ROOT AFTER_ROOT [--threads 1 2] [--tol 3e-5]
        [--rounds 3] [--fstar F]

Each root is a checkout with its extensions built (``git archive REV | tar -x -C DIR`` and
``python setup.py build_ext --inplace`` there).  For each thread count, ``--rounds`` rounds
run one fit per tree, each in a fresh process that imports fastlogit from its root only:
``LogisticRegression(C=1, tol=tol, n_threads=t).fit(X, y)`` (solver auto: L-BFGS for
softmax), timed in wall and process CPU seconds, with its iterations and its objective F
(float64 NumPy, as benchmarks/softmax_race.py scores), and the relative suboptimality
against ``--fstar`` when given.  Printed: every fit, then per thread count and tree the
medians, and the ratios before / after (wall and CPU) and, per tree, 1 thread / 2 threads.
Run under the benchmark lock (one thread count per hold keeps a hold under 8 minutes).
"""
import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

WORKER = r"""
import json, sys, time, warnings
root, tol, threads = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
sys.path.insert(0, root)
import numpy as np
import fastlogit
if not fastlogit.__file__.startswith(root):
    raise SystemExit(f"fastlogit imported from {fastlogit.__file__}, not from {root}")
sys.path.insert(1, sys.argv[4])
from benchmarks.shared_data import load_shared
from benchmarks.softmax_race import softmax_value
X, y = load_shared("news20", binary=False)
y = y.astype(np.int64)
from fastlogit import LogisticRegression
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    c0, t0 = time.process_time(), time.perf_counter()
    m = LogisticRegression(C=1.0, tol=tol, max_iter=100000, n_threads=threads).fit(X, y)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({"wall": wall, "cpu": cpu, "iters": int(np.max(m.n_iter_)),
                  "F": softmax_value(X, y, m.coef_, m.intercept_, 1.0)}))
"""


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("before")
    p.add_argument("after")
    p.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    p.add_argument("--tol", type=float, default=3e-5)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--fstar", type=float, default=None)
    args = p.parse_args()
    here = str(Path(__file__).resolve().parent.parent)
    trees = {"before": str(Path(args.before).resolve()), "after": str(Path(args.after).resolve())}
    load = lambda: " ".join(Path("/proc/loadavg").read_text().split()[:3])  # noqa: E731
    print(f"load before: {load()}", flush=True)
    res = {}
    for t in args.threads:
        for r in range(args.rounds):
            for tag, root in trees.items():
                out = subprocess.run([sys.executable, "-c", WORKER, root, str(args.tol), str(t),
                                      here], capture_output=True, text=True, check=True)
                fit = json.loads(out.stdout.strip().splitlines()[-1])
                res.setdefault((t, tag), []).append(fit)
                sub = ("" if args.fstar is None
                       else f" subopt {(fit['F'] - args.fstar) / args.fstar:.3g}")
                print(f"{t} thr round {r} {tag}: {fit['wall']:.2f} s (cpu {fit['cpu']:.2f}) "
                      f"{fit['iters']} it F {fit['F']:.10g}{sub}", flush=True)
    print(f"load after: {load()}")
    med = {k: {q: statistics.median(f[q] for f in v) for q in ("wall", "cpu", "iters")}
           for k, v in res.items()}
    for t in args.threads:
        b, a = med[(t, "before")], med[(t, "after")]
        print(f"{t} thr medians: before {b['wall']:.2f} s (cpu {b['cpu']:.2f}, {b['iters']:.0f} "
              f"it), after {a['wall']:.2f} s (cpu {a['cpu']:.2f}, {a['iters']:.0f} it): "
              f"{b['wall'] / a['wall']:.2f}x wall, {b['cpu'] / a['cpu']:.2f}x cpu")
    if 1 in args.threads and 2 in args.threads:
        for tag in trees:
            one, two = med[(1, tag)], med[(2, tag)]
            print(f"{tag}: 1 thr / 2 thr = {one['wall'] / two['wall']:.2f}x wall")


if __name__ == "__main__":
    main()
