"""Which of fastlogit's solvers reaches relative suboptimality 1e-6 of a softmax fit first.

For each problem and solver (lbfgs, newton-cg, trust-region; one kernel thread), the
tolerance ladder is walked until (F - F*) / F* <= 1e-6 (F* from trust-region at tol 1e-11);
at that tolerance the kernel passes (``LogLossData.n_evals``: value+gradient, Hessian
products, Hessian diagonals, margins), the iterations and the median process CPU time of
``--repeats`` fits are printed.  Pass counts do not depend on the machine's load; the CPU
times do a little.  Problems: news20 (20 classes; ``--rows`` first rows, or its
``--cols`` most frequent columns) and scikit-learn's bundled digits, wine and iris
(standardised), C = 1.  This is the evidence behind ``choose_solver``'s softmax rule.

Usage::

    python benchmarks/softmax_solvers.py --problems news20 digits wine iris [--rows N]
        [--cols N] [--repeats 3]
"""
import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fastlogit.objective import Objective  # noqa: E402
from fastlogit.solvers import solve  # noqa: E402

LADDER = (1e-4, 3e-5, 1e-5, 3e-6, 1e-6, 1e-7, 1e-8)
SOLVERS = ("lbfgs", "newton-cg", "trust-region")


def problem(name, rows, cols):
    if name == "news20":
        from benchmarks.shared_data import load_shared

        X, y = load_shared("news20", binary=False)
        if rows:
            X, y = X[:rows], y[:rows]
        if cols and cols < X.shape[1]:
            top = np.argsort(-np.bincount(X.indices, minlength=X.shape[1]))[:cols]
            X = X[:, np.sort(top)].tocsr()
    else:
        from sklearn import datasets
        from sklearn.preprocessing import StandardScaler

        X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
        X = StandardScaler().fit_transform(X)
    y = np.asarray(y, dtype=int)
    return X, np.eye(y.max() + 1)[y]


def objective(X, Y):
    """The softmax objective on the columns that hold a non-zero (as ``solve`` would run it),
    so that its pass counters are those of the fit."""
    ob = Objective(X, Y, C=1.0, n_threads=1)
    compact = ob.compact_columns()
    return ob if compact is None else compact[0]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--problems", nargs="*", default=["news20", "digits", "wine", "iris"])
    p.add_argument("--rows", type=int, default=None)
    p.add_argument("--cols", type=int, default=None)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    for name in args.problems:
        X, Y = problem(name, args.rows, args.cols)
        ref = objective(X, Y)
        fstar = ref.value(solve(ref, "trust-region", tol=1e-11, max_iter=100_000).theta)
        print(f"# {name} {X.shape[0]} x {X.shape[1]}, {Y.shape[1]} classes, F* {fstar:.12g}",
              flush=True)
        for solver in SOLVERS:
            for tol in LADDER:
                ob = objective(X, Y)
                res = solve(ob, solver, tol=tol, max_iter=100_000)
                sub = (ob.value(res.theta) - fstar) / fstar
                if sub <= 1e-6:
                    break
            passes = {k: v for k, v in ob.data.n_evals.items() if v}
            cpu = []
            for _ in range(args.repeats):
                o = objective(X, Y)
                c0 = time.process_time()
                solve(o, solver, tol=tol, max_iter=100_000)
                cpu.append(time.process_time() - c0)
            print(f"| {name} | {solver} | {tol:g} | {sub:.1e} | {res.n_iter} | {passes} | "
                  f"{statistics.median(cpu):.3f} |", flush=True)


if __name__ == "__main__":
    main()
