"""A/B: CPU time of fastlogit's fits in two source trees, one thread, alternating processes.

    python benchmarks/ab_fits.py BEFORE_ROOT AFTER_ROOT [--datasets mushrooms reuters ...]
        [--solvers auto trust-region lbfgs ...] [--tol 1e-5] [--rounds 3] [--fits 9]

Each root is a checkout with its extensions built (e.g. ``git archive REV | tar -x -C DIR``
and ``python setup.py build_ext --inplace`` there).  For every data set, ``--rounds`` rounds
run one worker process per tree, in turn; a worker imports fastlogit from its root only,
builds ``Objective(X, y, C=1)`` and times ``--fits`` fits ``solve(objective, solver, tol)``
from zeros (after two untimed ones), plus single ``value_grad`` and ``hessp`` calls.

Why CPU time of one thread: on a shared machine the wall time of a multi-threaded fit
depends on the other jobs (a parallel region waits for its slowest, descheduled thread),
while the CPU time of a single-threaded one is the work the code itself does.  This finds
code-level regressions (Python overhead per call, extra passes or iterations) that
solver_race.py's wall-time ratios, measured with all cores, cannot resolve on a busy
machine; it does not replace them.  Both trees get the same environment
(``FASTLOGIT_NUM_THREADS``, ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` = 1).

Output: Markdown, per set and solver the median over rounds of each tree's median CPU
seconds, their ratio (after / before), the iteration counts and the final F of both (equal
when the trees compute the same iterates).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

WORKER = r"""
import json, statistics, sys, time, warnings
root, path, tol, fits = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
solvers = sys.argv[5:]
sys.path.insert(0, root)
import numpy as np, scipy.sparse as sp
import fastlogit
if not fastlogit.__file__.startswith(root):
    raise SystemExit(f"fastlogit imported from {fastlogit.__file__}, not from {root}")
from fastlogit.objective import Objective
from fastlogit.solvers import solve
with np.load(path) as f:
    X = sp.csr_matrix((f["data"], f["indices"], f["indptr"]), shape=tuple(f["shape"]))
    y = f["y"]
warnings.simplefilter("ignore")

def cpu(fn, k):
    ts = []
    for i in range(k):
        t0 = time.process_time()
        fn(i)
        ts.append(time.process_time() - t0)
    return statistics.median(ts)

ob = Objective(X, y, C=1.0)
rng = np.random.default_rng(0)
thetas = [rng.standard_normal(ob.n_params) * 0.01 for _ in range(16)]
out = {"value_grad": cpu(lambda i: ob.value_grad(thetas[i % 16] * (1 + 1e-9 * i)), 31)}
ob.value_grad(thetas[0])
out["hessp"] = cpu(lambda i: ob.hessp(thetas[0], thetas[i % 16]), 31)
for s in solvers:
    run = lambda i: solve(Objective(X, y, C=1.0), s, tol=tol, max_iter=10_000)
    run(0)
    res = run(0)
    out[s] = {"cpu": cpu(run, fits), "n_iter": int(res.n_iter), "F": float(ob.value(res.theta))}
print(json.dumps(out))
"""


def worker(root, data_path, tol, fits, solvers):
    env = dict(os.environ, FASTLOGIT_NUM_THREADS="1", OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", WORKER, str(root), str(data_path), repr(tol),
                           str(fits), *solvers], capture_output=True, text=True, env=env,
                          cwd=str(root), timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"worker for {root} failed: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("before")
    p.add_argument("after")
    p.add_argument("--datasets", nargs="*", default=["mushrooms", "reuters", "rcv1_small",
                                                     "a9a"],
                   help="shared set names or svmlight files")
    p.add_argument("--solvers", nargs="*", default=["auto", "trust-region", "newton-cg",
                                                    "lbfgs"])
    p.add_argument("--tol", type=float, default=1e-5)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--fits", type=int, default=9)
    args = p.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks import common, runners

    roots = {"before": Path(args.before).resolve(), "after": Path(args.after).resolve()}
    print(f"CPU seconds, one thread, tol {args.tol:g}, medians of {args.fits} fits per "
          f"process, median over {args.rounds} alternating rounds; before = {roots['before']}, "
          f"after = {roots['after']}.\n")
    print("| data set | call | before | after | after / before | iterations | F before "
          "| F after |")
    print("|---" * 8 + "|")
    rows = []
    for name in args.datasets:
        X, _ = common.load_dataset(name)  # makes sure the cache file exists
        path = common.cache_path(name)
        solvers = [s for s in args.solvers
                   if s != "newton-cholesky" or X.shape[1] <= runners.MAX_DENSE_HESSIAN_D]
        runs = {"before": [], "after": []}
        for r in range(args.rounds):
            order = ("before", "after") if r % 2 == 0 else ("after", "before")
            for which in order:
                runs[which].append(worker(roots[which], path, args.tol, args.fits, solvers))
        label = common.dataset_label(name)
        for key in ["value_grad", "hessp", *solvers]:
            cell = {}
            for which in runs:
                vals = [run[key]["cpu"] if isinstance(run[key], dict) else run[key]
                        for run in runs[which]]
                cell[which] = statistics.median(vals)
            last = {w: runs[w][-1][key] for w in runs}
            extra = (f"{last['before']['n_iter']} / {last['after']['n_iter']} | "
                     f"{last['before']['F']:.15g} | {last['after']['F']:.15g}"
                     if isinstance(last["before"], dict) else " | | ")
            print(f"| {label} | {key} | {cell['before'] * 1e3:.3f} ms | "
                  f"{cell['after'] * 1e3:.3f} ms | {cell['after'] / cell['before']:.2f} | "
                  f"{extra} |", flush=True)
            rows.append((label, key, cell["before"], cell["after"], last))
    return rows


if __name__ == "__main__":
    main()
