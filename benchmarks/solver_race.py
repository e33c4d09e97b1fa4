"""Race: time to relative suboptimality 1e-6 of fastlogit's deterministic solvers against
scikit-learn's LogisticRegression solvers (and LIBLINEAR -s 0 -R, for orientation).

Objective (DESIGN.md sec. 1): F = C * sum log-loss + 1/2 ||w||^2, intercept unpenalised, C = 1.
F* comes from a tight solve (our trust-region and newton-cholesky at tol 1e-13; the smaller F
wins).  For every solver a ladder of tolerances is walked from loose to tight; the first tol
whose solution has (F - F*) / F* <= target is then timed ``--repeats`` times (median).  The
time covers the whole fit from the CSR matrix: Objective construction + solve for fastlogit,
``LogisticRegression.fit`` for scikit-learn (its liblinear penalises the intercept; with
intercept_scaling=100 that is negligible and F is measured on our objective anyway).
LIBLINEAR's ``problem`` is built outside the timing (as in benchmarks/compare.py).

Usage::

    python benchmarks/solver_race.py [--datasets a9a w8a ...] [--repeats 3] [--target 1e-6]
        [--n-threads N] [--solvers auto trust-region ...] [--no-saga]

On a shared, busy machine pin every library to one thread so that nobody's thread pool
waits on descheduled workers (multi-threaded OpenBLAS level-1 calls were measured 1000x
slower there), and compare on one core each::

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python benchmarks/solver_race.py --n-threads 1

Measured 2026-11-23 (second session), 2-core dev machine, nothing else running, with
``OMP_WAIT_POLICY=PASSIVE python benchmarks/solver_race.py --repeats 5 --no-saga``, medians of
5, seconds; best fastlogit / best scikit-learn (lbfgs, newton-cholesky, newton-cg, liblinear):

    a9a         0.0296 (newton-cholesky) / 0.1862 (newton-cg)   6.28x
    w8a         0.0636 (auto)            / 0.2200 (lbfgs)       3.46x
    mushrooms   0.0162 (newton-cholesky) / 0.0249 (liblinear)   1.53x
    ijcnn1      0.0242 (auto)            / 0.1394 (newton-cg)   5.76x
    reuters     0.0222 (auto)            / 0.0440 (liblinear)   1.98x
    rcv1_small  0.0069 (auto)            / 0.0212 (newton-cg)   3.05x
    news20      0.6504 (auto = lbfgs)    / 3.0134 (lbfgs)       4.63x

saga was never the fastest scikit-learn solver (an earlier run, 20 s cap per tolerance: > 20 s
on a9a, w8a, mushrooms, ijcnn1, news20; 3.9 s on reuters, 0.24 s on rcv1_small).  Ratios of the
small sets (mushrooms, reuters) move by about 20 % between runs on this machine.
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

from fastlogit.datasets import load_shared  # noqa: E402
from fastlogit.kernels import available_backends  # noqa: E402
from fastlogit.objective import Objective  # noqa: E402
from fastlogit.solvers import SOLVERS, solve  # noqa: E402

DATASETS = ("a9a", "w8a", "mushrooms", "ijcnn1", "reuters", "rcv1_small", "news20")
LADDER = (1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6, 1e-7, 1e-8, 1e-9,
          1e-10)
LIBLINEAR_LADDER = (1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 1e-6, 1e-7, 1e-8)
CHOLESKY_MAX_D = 1000
RUN_CAP_S = 20.0


N_THREADS = [None]


def ours(name):
    def fit(X, y, C, tol):
        ob = Objective(X, y, C=C, n_threads=N_THREADS[0])
        res = solve(ob, name, tol=tol, max_iter=1000)
        return res.theta[:-1], float(res.theta[-1])
    return fit


def sklearn(solver, **extra):
    def fit(X, y, C, tol):
        from sklearn.linear_model import LogisticRegression

        est = LogisticRegression(C=C, solver=solver, tol=tol, max_iter=10_000, random_state=0,
                                 **extra)
        est.fit(X, y)
        return est.coef_.ravel(), float(est.intercept_[0])
    return fit


def liblinear_fit(prob):
    def fit(X, y, C, tol):
        from liblinear.liblinearutil import parameter, train

        model = train(prob, parameter(f"-s 0 -B 1 -R -c {C!r} -e {tol!r} -q"))
        w, b = model.get_decfun()
        sign = 1.0 if model.get_labels()[0] == 1 else -1.0
        return sign * np.asarray(w, dtype=np.float64), sign * float(b)
    return fit


def f_star(X, y, C):
    ob = Objective(X, y, C=C)
    vals = []
    names = ["trust-region"] + (["newton-cholesky"] if X.shape[1] <= CHOLESKY_MAX_D else [])
    for name in names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = SOLVERS[name](ob, np.zeros(ob.n_params), tol=1e-13, max_iter=500)
        vals.append(ob.value(res.theta))
    return min(vals), ob


def seconds_to_target(fit, X, y, C, ob, fstar, target, ladder, repeats):
    """(seconds median, tol used) or (None, reason)."""
    for tol in ladder:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            w, b = fit(X, y, C, tol)
            elapsed = time.perf_counter() - t0
        sub = (ob.value(np.r_[w, b]) - fstar) / fstar
        if sub <= target:
            times = [elapsed]
            for _ in range(repeats - 1):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    t0 = time.perf_counter()
                    fit(X, y, C, tol)
                    times.append(time.perf_counter() - t0)
            return statistics.median(times), tol
        if elapsed > RUN_CAP_S:
            return None, f"> {RUN_CAP_S:.0f}s at tol {tol:g}"
    return None, "not reached"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--target", type=float, default=1e-6)
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--no-saga", action="store_true")
    parser.add_argument("--n-threads", type=int, default=None,
                        help="fastlogit kernel threads (default: all cores)")
    parser.add_argument("--solvers", nargs="*", default=None, help="subset of our solvers")
    args = parser.parse_args(argv)
    N_THREADS[0] = args.n_threads
    C = args.C
    ours_names = args.solvers or ["auto", "newton-cholesky", "trust-region", "newton-cg", "lbfgs"]
    sk_names = ["lbfgs", "newton-cholesky", "newton-cg", "liblinear"] + ([] if args.no_saga
                                                                         else ["saga"])
    rows = []
    for name in args.datasets:
        X, y = load_shared(name)
        fstar, ob = f_star(X, y, C)
        res = {}
        for s in ours_names:  # warm-up: JIT compilation, thread pools, threadpoolctl
            if s != "newton-cholesky" or X.shape[1] <= CHOLESKY_MAX_D:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ours(s)(X[:500], y[:500], C, 1e-2)
        for s in ours_names:
            if s == "newton-cholesky" and X.shape[1] > CHOLESKY_MAX_D:
                res[f"ours {s}"] = (None, "d too large")
                continue
            res[f"ours {s}"] = seconds_to_target(ours(s), X, y, C, ob, fstar, args.target, LADDER,
                                              args.repeats)
        for s in sk_names:
            if s == "newton-cholesky" and X.shape[1] > CHOLESKY_MAX_D:
                res[f"sklearn {s}"] = (None, "d too large")
                continue
            extra = {"intercept_scaling": 100.0} if s == "liblinear" else {}
            res[f"sklearn {s}"] = seconds_to_target(sklearn(s, **extra), X, y, C, ob, fstar,
                                                 args.target, LADDER, args.repeats)
        try:
            from liblinear.liblinearutil import problem

            prob = problem(np.where(y > 0, 1.0, -1.0), X)
            prob.set_bias(1)
            res["LIBLINEAR -s 0 -R"] = seconds_to_target(liblinear_fit(prob), X, y, C, ob, fstar,
                                                      args.target, LIBLINEAR_LADDER,
                                                      args.repeats)
        except ImportError:
            res["LIBLINEAR -s 0 -R"] = (None, "not installed")
        rows.append((name, X.shape, fstar, res))
        print(f"# {name}: F* = {fstar:.12g}; " + "; ".join(
            f"{k}: {v[0]:.4f}s (tol {v[1]:g})" if v[0] is not None else f"{k}: {v[1]}"
            for k, v in res.items()), file=sys.stderr, flush=True)
    cols = [f"ours {s}" for s in ours_names] + [f"sklearn {s}" for s in sk_names] + [
        "LIBLINEAR -s 0 -R"]
    print(f"Seconds to relative suboptimality {args.target:g} (C = {C:g}, L2, intercept "
          f"unpenalised), median of {args.repeats}; backends {available_backends()}, "
          f"'auto' = {available_backends()[0]}, fastlogit n_threads = {args.n_threads}.\n")
    print("| data set | " + " | ".join(cols) + " | best ours / best sklearn | speed-up |")
    print("|---" * (len(cols) + 3) + "|")
    for name, shape, fstar, res in rows:
        cells = []
        for c in cols:
            t, info = res[c]
            cells.append(f"{t:.4f}" if t is not None else f"({info})")
        best_ours = min((res[c][0] for c in cols if c.startswith("ours") and res[c][0]),
                        default=None)
        best_sk = min((res[c][0] for c in cols if c.startswith("sklearn") and res[c][0]),
                      default=None)
        ratio = (f"{best_ours:.4f} / {best_sk:.4f}" if best_ours and best_sk else "n/a")
        speed = f"{best_sk / best_ours:.2f}x" if best_ours and best_sk else "n/a"
        print(f"| {name} {shape[0]}x{shape[1]} | " + " | ".join(cells) + f" | {ratio} | {speed} |")


if __name__ == "__main__":
    main()
