"""Race: time to relative suboptimality 1e-6 of fastlogit's deterministic solvers against
scikit-learn's LogisticRegression solvers (and LIBLINEAR -s 0 -R, for orientation).

Objective (DESIGN.md sec. 1): F = C * sum log-loss + 1/2 ||w||^2, intercept unpenalised, C = 1.
F* comes from a tight solve (our trust-region and newton-cholesky at tol 1e-13; the smaller F
wins).  For every solver a ladder of tolerances is walked from loose to tight to find the first
tol whose solution has (F - F*) / F* <= target.  Then ``--repeats`` rounds time every solver
once each, in turn (so that the machine's slow spells fall on all of them alike); the median
is reported.  The time covers the whole fit from the CSR matrix: Objective construction + solve
for fastlogit, ``LogisticRegression.fit`` for scikit-learn (its liblinear penalises the
intercept; with intercept_scaling=100 that is negligible and F is measured on our objective
anyway).  LIBLINEAR's ``problem`` is built outside the timing (as in benchmarks/compare.py).

Each library runs with its default threading settings, as its users get it.  Each timed fit
is the second of two back-to-back fits of the same solver, after a ``--settle`` busy-wait
(0.2 s): the previous library's spinning OpenMP / OpenBLAS threads (scikit-learn bundles its own
OpenMP runtime) go idle meanwhile, so that no library is timed while another's threads hold a
core; the untimed fit brings the data into the caches, as in any loop of fits.  (A sleep instead
of the busy-wait was measured to slow the next fits by up to 30 %, liblinear's included: the
core clocks down.)  Earlier versions ran with ``OMP_WAIT_POLICY=PASSIVE`` to keep the threads
of the two OpenMP runtimes apart; that policy makes every parallel region wake its threads
through the kernel, which doubled the cost of our small kernel calls (mushrooms: value_grad
145 -> 331 us, hessp 115 -> 191 us) and measured a slower library than users run.

Usage::

    python benchmarks/solver_race.py [--datasets a9a w8a ...] [--repeats 3] [--target 1e-6]
        [--n-threads N] [--solvers auto trust-region ...] [--no-saga] [--settle 0.2] [--cap 20]

On a shared, busy machine pin every library to one thread so that nobody's thread pool
waits on descheduled workers (multi-threaded OpenBLAS level-1 calls were measured 1000x
slower there), and compare on one core each::

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python benchmarks/solver_race.py --n-threads 1

Measured 2026-11-23 (third session), 2-core dev machine, nothing else timed meanwhile, with
``python benchmarks/solver_race.py --repeats 5 --no-saga`` (full table in
benchmarks/results/solver_race.md), medians of 5, seconds; best fastlogit / best scikit-learn
(lbfgs, newton-cholesky, newton-cg, liblinear):

    a9a         0.0198 (auto = newton-cholesky) / 0.1542 (newton-cholesky)  7.80x
    w8a         0.0525 (newton-cholesky)        / 0.2329 (lbfgs)            4.44x
    mushrooms   0.0101 (newton-cholesky)        / 0.0292 (liblinear)        2.90x
    ijcnn1      0.0188 (newton-cholesky)        / 0.1203 (lbfgs)            6.39x
    reuters     0.0159 (trust-region)           / 0.0462 (liblinear)        2.90x
    rcv1_small  0.0042 (trust-region)           / 0.0150 (liblinear)        3.58x
    news20      0.6903 (lbfgs)                  / 2.9998 (lbfgs)            4.35x

An earlier run of the same command (before the compact-form L-BFGS) gave 2.68x-8.11x, with
mushrooms 2.68x and reuters 2.87x.  LIBLINEAR itself (-s 0, primal Newton, called directly)
is faster than scikit-learn's copy on some sets; against it: mushrooms 3.2x, reuters 1.8x, rcv1_small 7.2x, news20 2.7x.  The same
race under the old protocol (``OMP_WAIT_POLICY=PASSIVE``, solvers one after another) gave
mushrooms 1.53x and reuters 1.98x, and this protocol with PASSIVE set (at 882d07c) mushrooms
1.64x (0.0156 / 0.0255 s) and reuters 2.52x: on this virtual machine every woken parallel
region costs ~0.1-0.2 ms, which a 10 ms fit of ~30 kernel calls feels.  saga was never the fastest
scikit-learn solver (an earlier run, 20 s cap per tolerance: > 20 s on a9a, w8a, mushrooms,
ijcnn1, news20; 3.9 s on reuters, 0.24 s on rcv1_small).  Ratios of the small sets (mushrooms,
reuters) move by about 20 % between runs on this machine.
"""
import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.shared_data import load_shared  # noqa: E402
from fastlogit.kernels import available_backends  # noqa: E402
from fastlogit.objective import Objective  # noqa: E402
from fastlogit.solvers import SOLVERS, solve  # noqa: E402

DATASETS = ("a9a", "w8a", "mushrooms", "ijcnn1", "reuters", "rcv1_small", "news20")
LADDER = (1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6, 1e-7, 1e-8, 1e-9,
          1e-10)
LIBLINEAR_LADDER = (1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 1e-6, 1e-7, 1e-8)
CHOLESKY_MAX_D = 1000
#: a ladder stops at the first fit longer than this (``--cap``)
RUN_CAP_S = [20.0]
#: seconds of idleness before each timed fit (``--settle``)
SETTLE_S = [0.2]


N_THREADS = [None]


def ours(name):
    def fit(X, y, C, tol):
        ob = Objective(X, y, C=C, n_threads=N_THREADS[0])
        return solve(ob, name, tol=tol, max_iter=10_000).theta
    return fit


def sklearn(solver, **extra):
    def fit(X, y, C, tol):
        from sklearn.linear_model import LogisticRegression

        est = LogisticRegression(C=C, solver=solver, tol=tol, max_iter=10_000, random_state=0,
                                 **extra)
        est.fit(X, y)
        return np.r_[est.coef_.ravel(), est.intercept_]  # our layout: (w, b)
    return fit


def liblinear_fit(prob):
    def fit(X, y, C, tol):
        from liblinear.liblinearutil import parameter, train

        model = train(prob, parameter(f"-s 0 -B 1 -R -c {C!r} -e {tol!r} -q"))
        w, b = model.get_decfun()
        sign = 1.0 if model.get_labels()[0] == 1 else -1.0
        return sign * np.r_[np.asarray(w, dtype=np.float64), b]
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


def settle(seconds):
    """Busy-wait (the core stays clocked up; a sleep was measured to slow the next fits by up
    to 30 %) while the previous library's spinning OpenMP / OpenBLAS threads, if any, go idle
    on the other cores."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def timed_fit(fit, X, y, C, tol):
    """Seconds of one fit: the second of two back-to-back fits after ``settle``, so that the
    data is in the caches and this library's own thread pool is up, as in a loop of fits,
    and no other library's threads hold a core."""
    settle(SETTLE_S[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit(X, y, C, tol)
        t0 = time.perf_counter()
        fit(X, y, C, tol)
        return time.perf_counter() - t0


def tol_to_target(fit, X, y, C, ob, fstar, goal, ladder):
    """(tol, None): the first tol of the ladder whose fit reaches the target; or (None,
    reason)."""
    for tol in ladder:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            theta = fit(X, y, C, tol)
            elapsed = time.perf_counter() - t0
        if (ob.value(theta) - fstar) / fstar <= goal:
            return tol, None
        if elapsed > RUN_CAP_S[0]:
            return None, f"> {RUN_CAP_S[0]:.0f}s at tol {tol:g}"
    return None, "not reached"


def race(fits, X, y, C, ob, fstar, goal, repeats):
    """{name: (median seconds, tol) or (None, reason)} for ``fits`` = {name: (fit, ladder)}.
    The tolerances are found first; then ``repeats`` rounds time every solver once each, in
    turn, so that the machine's slow spells fall on all of them alike."""
    tols = {name: tol_to_target(fit, X, y, C, ob, fstar, goal, ladder)
            for name, (fit, ladder) in fits.items()}
    times = {name: [] for name, (tol, _) in tols.items() if tol is not None}
    for _ in range(repeats):
        for name in times:
            times[name].append(timed_fit(fits[name][0], X, y, C, tols[name][0]))
    return {name: ((statistics.median(times[name]), tol) if tol is not None else (None, why))
            for name, (tol, why) in tols.items()}


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
    parser.add_argument("--settle", type=float, default=SETTLE_S[0],
                        help="seconds of busy-waiting before each timed fit (idle thread pools)")
    parser.add_argument("--cap", type=float, default=RUN_CAP_S[0],
                        help="a solver's ladder stops after a fit longer than this (seconds)")
    args = parser.parse_args(argv)
    N_THREADS[0] = args.n_threads
    SETTLE_S[0] = args.settle
    RUN_CAP_S[0] = args.cap
    C = args.C
    ours_names = args.solvers or ["auto", "newton-cholesky", "trust-region", "newton-cg", "lbfgs"]
    sk_names = ["lbfgs", "newton-cholesky", "newton-cg", "liblinear"] + (
        [] if args.no_saga else ["saga"])
    rows = []
    for name in args.datasets:
        X, y = load_shared(name)
        fstar, ob = f_star(X, y, C)
        for s in ours_names:  # warm-up: JIT compilation, thread pools, threadpoolctl
            if s != "newton-cholesky" or X.shape[1] <= CHOLESKY_MAX_D:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ours(s)(X[:500], y[:500], C, 1e-2)
        fits, skipped = {}, {}
        for s in ours_names:
            fits[f"ours {s}"] = (ours(s), LADDER)
        for s in sk_names:
            extra = {"intercept_scaling": 100.0} if s == "liblinear" else {}
            fits[f"sklearn {s}"] = (sklearn(s, **extra), LADDER)
        for key in ("ours newton-cholesky", "sklearn newton-cholesky"):
            if key in fits and X.shape[1] > CHOLESKY_MAX_D:
                del fits[key]
                skipped[key] = (None, "d too large")
        try:
            from liblinear.liblinearutil import problem

            prob = problem(np.where(y > 0, 1.0, -1.0), X)
            prob.set_bias(1)
            fits["LIBLINEAR -s 0 -R"] = (liblinear_fit(prob), LIBLINEAR_LADDER)
        except ImportError:
            skipped["LIBLINEAR -s 0 -R"] = (None, "not installed")
        res = {**race(fits, X, y, C, ob, fstar, args.target, args.repeats), **skipped}
        rows.append((name, X.shape, fstar, res))
        print(f"# {name}: F* = {fstar:.12g}; " + "; ".join(
            f"{k}: {v[0]:.4f}s (tol {v[1]:g})" if v[0] is not None else f"{k}: {v[1]}"
            for k, v in res.items()), file=sys.stderr, flush=True)
    cols = [f"ours {s}" for s in ours_names] + [f"sklearn {s}" for s in sk_names] + [
        "LIBLINEAR -s 0 -R"]
    print(f"Seconds to relative suboptimality {args.target:g} (C = {C:g}, L2, intercept "
          f"unpenalised), median of {args.repeats}; backends {available_backends()}, "
          f"'auto' = {available_backends()[0]}, fastlogit n_threads = {args.n_threads}, "
          f"OMP_WAIT_POLICY = {os.environ.get('OMP_WAIT_POLICY', '(unset)')}, "
          f"each timed fit after a {args.settle:g} s busy-wait and an untimed fit, solvers "
          f"taking turns.\n")
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
