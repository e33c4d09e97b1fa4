"""A/B of the cost per L-BFGS iteration on one rcv1_small CV fold: two source trees, one thread.

The fold is the L2 CV's problem (benchmarks/cv_race.py): the first ``--rows`` rows of
rcv1_small, columns compacted (8,849 parameters for 800 rows), binary log-loss + 1/2 ||w||^2,
fastlogit's L-BFGS with its default 20 pairs.  Each tree (``--trees``: directories holding a
``fastlogit`` package with its built extension, e.g. a frozen ``git archive`` copy and the
working tree) is measured in a subprocess of its own, the trees alternating over ``--rounds``
rounds; per round and tree:

* ``value_grad``: process CPU microseconds per ``Objective.value_grad`` call, cycling through
  three points (so that each call is a cache miss, as a solver's iterates are), median of 7
  batches;
* ``fit C=...``: process CPU microseconds per iteration of a cold L-BFGS fit at tol
  ``--tol`` (median of ``--fits`` fits), its iteration count and final F.

The last lines give each quantity's median over the rounds per tree and the ratio to the
first tree.  Run under the benchmark lock::

    FASTLOGIT_BENCH=1 flock -x /tmp/fastlogit-bench.lock \\
        python benchmarks/ab_value_grad.py --trees /tmp/old . --rounds 3
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import json, statistics, sys, time, warnings
sys.path.insert(0, sys.argv[1])
sys.path.insert(1, sys.argv[2])
import numpy as np
from benchmarks.shared_data import load_shared
from fastlogit.objective import Objective
from fastlogit.solvers.lbfgs import lbfgs
rows, tol, fits = int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
Cs = [float(c) for c in sys.argv[6].split(",")]
warnings.simplefilter("ignore")
X, y = load_shared("rcv1_small")
X, y = X[:rows], y[:rows]
ob = Objective(X, y, C=1.0, n_threads=1).compact_columns()[0]
rng = np.random.default_rng(0)
points = [rng.normal(size=ob.n_params) * 0.01 for _ in range(3)]
out = {"n_params": ob.n_params}
for p in points:
    ob.value_grad(p)
batches = []
for _ in range(7):
    t0 = time.process_time()
    for i in range(300):
        ob.value_grad(points[i % 3])
    batches.append((time.process_time() - t0) / 300 * 1e6)
out["value_grad"] = statistics.median(batches)
for C in Cs:
    ob.C = C
    lbfgs(ob, ob.zeros(), tol=tol, max_iter=10_000)
    per_it, its, f = [], None, None
    for _ in range(fits):
        t0 = time.process_time()
        res = lbfgs(ob, ob.zeros(), tol=tol, max_iter=10_000)
        per_it.append((time.process_time() - t0) / max(res.n_iter, 1) * 1e6)
        its, f = res.n_iter, ob.value(res.theta)
    out[f"fit C={C:g}"] = statistics.median(per_it)
    out[f"iterations C={C:g}"] = its
    out[f"F C={C:g}"] = f
print(json.dumps(out))
"""


def measure(tree, args):
    """One subprocess run of ``_CHILD`` importing fastlogit from ``tree``; its JSON dict."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    run = subprocess.run([sys.executable, "-c", _CHILD, str(Path(tree).resolve()), str(ROOT),
                          str(args.rows), str(args.tol), str(args.fits),
                          ",".join(str(c) for c in args.Cs)],
                         capture_output=True, text=True, env=env, check=False)
    if run.returncode != 0:
        raise SystemExit(f"{tree}: child failed\n{run.stderr}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trees", nargs="+", required=True,
                   help="directories each holding a built fastlogit package")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--rows", type=int, default=800)
    p.add_argument("--tol", type=float, default=1e-8)
    p.add_argument("--fits", type=int, default=5)
    p.add_argument("--Cs", type=float, nargs="+", default=[1.0, 5.0, 20.0])
    args = p.parse_args(argv)
    results = {tree: [] for tree in args.trees}
    for r in range(args.rounds):
        for tree in args.trees:
            res = measure(tree, args)
            results[tree].append(res)
            print(f"round {r} {tree}: " + ", ".join(
                f"{k} {v:.6g}" if isinstance(v, float) else f"{k} {v}" for k, v in res.items()),
                flush=True)
    first = args.trees[0]
    keys = [k for k in results[first][0] if k != "n_params"]
    print("\nmedians over rounds (CPU us; iterations; F)")
    for tree in args.trees:
        cells = []
        for k in keys:
            med = statistics.median(r[k] for r in results[tree])
            base = statistics.median(r[k] for r in results[first])
            ratio = f" ({med / base:.3f}x)" if k.startswith(("value", "fit")) else ""
            cells.append(f"{k} {med:.10g}{ratio}" if k.startswith("F") else
                         f"{k} {med:.4g}{ratio}")
        print(f"{tree}: " + ", ".join(cells))
    return results


if __name__ == "__main__":
    main()
