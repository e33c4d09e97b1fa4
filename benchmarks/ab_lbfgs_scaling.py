"""Iteration counts of L-BFGS with a diagonal initial matrix, against the scalar one (untimed).

An experiment, not a solver option: L-BFGS's initial matrix ``H0 = gamma I`` replaced by
``gamma diag(r)^-2`` with ``r = diag(Hess F(theta_0)) ** exponent`` fixed at each fit's start
(``exponent`` 0.5: the Hessian diagonal as preconditioner; 0.25: half of it, on a log scale).
It is done by a change of variables in the memory only (pairs ``(r s, y / r)``, direction
``-(H g / r) / r``); the iterates, the line search (fastlogit's Armijo) and the stopping rule
(fastlogit's, on the unscaled gradient) are the solver's own.  Both variants run the same
loop (a copy of :func:`fastlogit.solvers.lbfgs.lbfgs`'s, with NumPy scaling passes), so the
counts compare the initial matrices alone.

The problems are those of a LogisticRegressionCV run: ``--folds`` folds (row ``i`` in fold
``i % folds``), each a warm-started path over ``--Cs`` (10 values from 1e-4 to 1e4 by default)
from the intercept's optimum, columns compacted, tol ``--tol``.  Prints the total iterations
per set and variant and the first two folds' counts per C::

    python benchmarks/ab_lbfgs_scaling.py --datasets rcv1_small reuters --exponent 0.25
"""
import argparse
import importlib
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.shared_data import load_shared  # noqa: E402
from fastlogit.model_selection import _intercept_start  # noqa: E402
from fastlogit.objective import Objective  # noqa: E402
from fastlogit.solvers._line_search import armijo  # noqa: E402
from fastlogit.solvers._result import begin_smooth_fit  # noqa: E402

_lbfgs = importlib.import_module("fastlogit.solvers.lbfgs")


def fit(ob, theta0, tol, exponent, max_iter):
    """L-BFGS from theta0; ``exponent`` None: the scalar initial matrix.  (theta, iterations)."""
    theta, _, f, g, gnorm, thr, _ = begin_smooth_fit("lbfgs", ob, theta0, tol, None, 0)
    n = theta.size
    memory = _lbfgs._Memory(20, n, np.float64, 1)
    r = np.ones(n) if exponent is None else np.maximum(ob.hess_diag(theta), 1e-300) ** exponent
    it = 0
    while gnorm > thr and it < max_iter:
        it += 1
        if memory.order:
            dt = np.empty(n)
            slope = memory.direction(g / r, dt)
            d, t0 = dt / r, 1.0
        else:
            gt = g / r
            d = -gt / r
            slope, t0 = float(g @ d), min(1.0, 1.0 / max(np.linalg.norm(gt), 1e-300))
        t, theta_new, f_new, g_new = armijo(ob, theta, f, g, d, t0=t0, slope=slope)
        if t == 0.0 and memory.order:
            memory.clear()
            gt = g / r
            d = -gt / r
            t, theta_new, f_new, g_new = armijo(ob, theta, f, g, d,
                                                t0=min(1.0, 1.0 / np.linalg.norm(gt)))
        if t == 0.0:
            break
        memory.push(theta_new * r, theta * r, g_new / r, g / r)
        gnorm = float(np.abs(g_new).max())
        theta, f, g = theta_new, f_new, g_new
    return theta, it


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=["rcv1_small"])
    p.add_argument("--exponent", type=float, default=0.25)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--tol", type=float, default=1e-8)
    p.add_argument("--max-iter", type=int, default=1000)
    p.add_argument("--Cs", type=float, nargs="+", default=list(np.logspace(-4, 4, 10)))
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    for name in args.datasets:
        X, y = load_shared(name)
        rows = np.arange(X.shape[0])
        counts = {None: [], args.exponent: []}
        for k in range(args.folds):
            train = rows[rows % args.folds != k]
            ob = Objective(X[train], y[train], C=1.0, n_threads=1)
            compact = ob.compact_columns()
            ob = ob if compact is None else compact[0]
            for exponent in counts:
                theta = _intercept_start(ob)
                for C in args.Cs:
                    ob.C = C
                    theta, it = fit(ob, theta, args.tol, exponent, args.max_iter)
                    counts[exponent].append(it)
        n_c = len(args.Cs)
        print(f"{name}: scalar H0 {sum(counts[None])} iterations, diagonal (exponent "
              f"{args.exponent:g}) {sum(counts[args.exponent])}")
        print(f"  scalar   first two folds: {counts[None][:2 * n_c]}")
        print(f"  diagonal first two folds: {counts[args.exponent][:2 * n_c]}")
    return counts


if __name__ == "__main__":
    main()
