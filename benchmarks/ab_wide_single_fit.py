"""Single cold L2 fits on the wide sets (rcv1_small, news20): lbfgs against newton-cg with the
options the wide binary L2 paths use (no preconditioner, line minimisation, residual_floor 2),
one thread, CPU medians of 3: whether the estimator's solver="auto" should follow the paths.

    FASTLOGIT_DATASETS=... FASTLOGIT_BENCH=1 flock -x /tmp/fastlogit-bench.lock \\
        .venv/bin/python benchmarks/ab_wide_single_fit.py

Results: benchmarks/results/news20_cv.md ("Single cold fits").
"""
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.shared_data import load_shared  # noqa: E402
from fastlogit.objective import Objective  # noqa: E402
from fastlogit.solvers import solve  # noqa: E402

#: label -> (solver, options): the path's newton-cg options (fastlogit.model_selection).
SOLVERS = {"lbfgs": ("lbfgs", {}),
           "newton-cg (path options)": ("newton-cg", dict(preconditioner=None,
                                                          line_search="minimize",
                                                          residual_floor=2.0))}


def cpu_median(X, y, C, tol, solver, options, repeats=3):
    """(median CPU seconds, iterations) of a cold fit, one thread."""
    times = []
    for _ in range(repeats):
        ob = Objective(X, y, C=C, penalty="l2", n_threads=1)
        t0 = time.process_time()
        out = solve(ob, solver, tol=tol, max_iter=5000, **options)
        times.append(time.process_time() - t0)
    return float(np.median(times)), out.n_iter


def main():
    print("| set | C | tol | lbfgs (s, iterations) | newton-cg, path options | lbfgs / newton-cg |")
    print("|---|---|---|---|---|---|")
    for name in ("rcv1_small", "news20"):
        X, y = load_shared(name)[:2]
        for C in (1.0, 100.0):
            for tol in (1e-4, 1e-8):
                (ta, ia), (tb, ib) = (cpu_median(X, y, C, tol, *SOLVERS[k]) for k in SOLVERS)
                print(f"| {name} | {C:g} | {tol:g} | {ta:.4f} ({ia}) | {tb:.4f} ({ib}) "
                      f"| {ta / tb:.2f} |", flush=True)


if __name__ == "__main__":
    main()
