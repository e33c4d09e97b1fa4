"""Race: cross-validated C on the shared sets (issue 17).

Three ways to run the same search (10 Cs, ``np.logspace(-4, 4, 10)``, the same 5 stratified
folds, accuracy, tol 1e-4, max_iter 100 (``--tol``, ``--max-iter``), fit_intercept, then a
refit at the chosen C):

* ``sklearn``: scikit-learn's ``LogisticRegressionCV`` (its default lbfgs for L2;
  liblinear for L1, scikit-learn's fastest L1 solver here);
* ``ours``: ``fastlogit.LogisticRegressionCV(solver="auto")``: one warm-started path per
  fold on compacted columns;
* ``grid``: ``GridSearchCV(fastlogit.LogisticRegression(solver="auto"), {"C": Cs})`` with
  the same folds: a cold fit per (fold, C), what the CV class must beat through warm starts
  and shared work;
* ``grid_2jobs``: the same GridSearchCV with ``n_jobs=2`` (worker processes; fastlogit's
  threads follow the workers' OpenMP limit, so jobs x threads stay within the cores).

Each configuration is run once untimed on the first 2000 rows first (imports, Numba's
caches).  Threads (``--threads``):

* ``default`` (the default): every library as a user gets it.  scikit-learn's
  ``LogisticRegressionCV`` with ``n_jobs=None`` fits its folds one after another on one
  thread (its loss runs with ``n_threads=1``; sparse products are single-threaded);
  fastlogit's ``n_threads=None`` is every core, shared out over the folds
  (``n_jobs=None``: one path per thread first); the GridSearchCV loop runs its fits one
  after another, each fit with every core.
* ``1``: everything on one thread (``threadpool_limits(1)`` and fastlogit's
  ``n_threads=1``): the algorithms alone, without parallelism.

``n_jobs`` is left at None everywhere except the ``grid_2jobs`` column.  Each configuration
is timed ``--repeats`` times in turn (rounds, so that slow spells hit all alike); the table
gives medians, the ratios are of those medians, and the chosen C_ of each run (same folds
and scoring).  ``--runners`` picks the columns (the GridSearchCV ones are the slow part on
large sets).

Usage::

    flock -x /tmp/fastlogit-bench.lock python benchmarks/cv_race.py \\
        [--datasets a9a w8a news20 rcv1_small] [--penalties l2 l1] [--repeats 3]

Results: benchmarks/results/cv_race.md.
"""
import argparse
import os
import statistics
from contextlib import nullcontext
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.shared_data import load_shared  # noqa: E402

DATASETS = ("a9a", "w8a", "news20", "rcv1_small")
CS = np.logspace(-4, 4, 10)


RUNNERS = ("sklearn", "ours", "grid", "grid_2jobs")


def _runners(penalty, folds, n_threads, keep=RUNNERS, tol=1e-4, max_iter=100):
    from sklearn.linear_model import LogisticRegressionCV as SkCV
    from sklearn.model_selection import GridSearchCV

    import fastlogit

    r = 1.0 if penalty == "l1" else 0.0
    common = dict(Cs=CS, cv=folds, scoring="accuracy", tol=tol, max_iter=max_iter,
                  l1_ratios=(r,), use_legacy_attributes=False)
    sk_solver = "liblinear" if penalty == "l1" else "lbfgs"

    def sklearn(X, y):
        est = SkCV(solver=sk_solver, **common).fit(X, y)
        return float(est.C_)

    def ours(X, y):
        est = fastlogit.LogisticRegressionCV(solver="auto", n_threads=n_threads,
                                             **common).fit(X, y)
        return float(est.C_)

    def grid(X, y):
        base = fastlogit.LogisticRegression(solver="auto", l1_ratio=r, tol=tol,
                                            max_iter=max_iter, n_threads=n_threads)
        est = GridSearchCV(base, {"C": list(CS)}, cv=folds, scoring="accuracy").fit(X, y)
        return float(est.best_params_["C"])

    def grid_2jobs(X, y):
        # n_jobs=2 worker processes; our n_threads=None follows each worker's OpenMP limit
        # (joblib sets cores // n_jobs there): no oversubscription
        base = fastlogit.LogisticRegression(solver="auto", l1_ratio=r, tol=tol, max_iter=max_iter)
        est = GridSearchCV(base, {"C": list(CS)}, cv=folds, scoring="accuracy",
                           n_jobs=2).fit(X, y)
        return float(est.best_params_["C"])

    found = {"sklearn": sklearn, "ours": ours, "grid": grid, "grid_2jobs": grid_2jobs}
    return {k: found[k] for k in keep}


def race(names, penalties, repeats, n_threads, keep=RUNNERS, tol=1e-4, max_iter=100):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    rows = []
    for name in names:
        X, y = load_shared(name)
        folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
        for penalty in penalties:
            runners = _runners(penalty, folds, n_threads, keep, tol, max_iter)
            times = {k: [] for k in runners}
            chosen = {k: [] for k in runners}
            cpu = {k: [] for k in runners}
            head = np.arange(min(2000, X.shape[0]))  # untimed warm-up: imports, JIT caches
            warm = _runners(penalty, list(StratifiedKFold(5).split(X[head], y[head])),
                            n_threads, keep, tol, max_iter)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for run in warm.values():
                    run(X[head], y[head])
            for _ in range(repeats):
                for key, run in runners.items():
                    limit = threadpool_limits(limits=n_threads) if n_threads else nullcontext()
                    with warnings.catch_warnings(), limit:
                        warnings.simplefilter("ignore", ConvergenceWarning)
                        warnings.simplefilter("ignore", FutureWarning)
                        t0, c0 = time.perf_counter(), time.process_time()
                        chosen[key].append(run(X, y))
                        times[key].append(time.perf_counter() - t0)
                        cpu[key].append(time.process_time() - c0)
                    print(f"{name:10s} {penalty} {key:8s} {times[key][-1]:8.2f} s  "
                          f"(CPU {cpu[key][-1]:8.2f} s)  C_ {chosen[key][-1]:.4g}", flush=True)
            med = {k: statistics.median(v) for k, v in times.items()}
            rows.append((name, X.shape, penalty, med, chosen, times))
            cpu_med = {k: statistics.median(v) for k, v in cpu.items() if v}
            print(f"{name} {penalty} CPU medians (this process; worker processes of "
                  f"grid_2jobs not counted): " + ", ".join(f"{k} {v:.2f} s" for k, v in
                                                          cpu_med.items()), flush=True)
    return rows


def agree(names, penalties, tol=1e-8, max_iter=1000):
    """Untimed: C_ and the fold scores of ours and scikit-learn's at a tight tol (the same
    folds and scoring), on the whole sets.  scikit-learn: newton-cholesky for L2 when the
    features are few, else lbfgs; saga for L1.  Prints one line per set and penalty."""
    from sklearn.linear_model import LogisticRegressionCV as SkCV
    from sklearn.model_selection import StratifiedKFold

    import fastlogit

    for name in names:
        X, y = load_shared(name)
        folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
        for penalty in penalties:
            r = 1.0 if penalty == "l1" else 0.0
            common = dict(Cs=CS, cv=folds, scoring="accuracy", tol=tol, max_iter=max_iter,
                          l1_ratios=(r,), use_legacy_attributes=False)
            sk_solver = ("saga" if penalty == "l1" else
                         "newton-cholesky" if X.shape[1] <= 1000 else "lbfgs")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                ours = fastlogit.LogisticRegressionCV(solver="auto", **common).fit(X, y)
                t1 = time.perf_counter()
                ref = SkCV(solver=sk_solver, **common).fit(X, y)
                t2 = time.perf_counter()
            diff = float(np.abs(np.asarray(ours.scores_) - np.asarray(ref.scores_)).max())
            print(f"{name} {penalty} tol {tol:g} max_iter {max_iter}: C_ ours {ours.C_:.4g} "
                  f"sklearn({sk_solver}) {ref.C_:.4g}; max |score difference| {diff:.2e}; "
                  f"unconverged fits ours {int((ours.n_iter_ >= max_iter).sum())} sklearn "
                  f"{int((np.asarray(ref.n_iter_) >= max_iter).sum())}; "
                  f"(untimed: {t1 - t0:.1f} s / {t2 - t1:.1f} s)", flush=True)


def iterations(names, penalties, solvers, tol=1e-4, max_iter=100):
    """Untimed: solver iterations of the warm paths (per C, summed over the 5 folds) and the
    passes over the data, per set, penalty and solver; load-independent."""
    from sklearn.model_selection import StratifiedKFold

    from fastlogit.model_selection import warm_path
    from fastlogit.objective import LogLossData, Objective

    passes = {"value_grad": 0}
    compute = LogLossData._compute

    def counted(self, *args, **kwargs):
        passes["value_grad"] += 1
        return compute(self, *args, **kwargs)

    LogLossData._compute = counted
    try:
        for name in names:
            X, y = load_shared(name)
            folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
            for penalty in penalties:
                for solver in (["l1"] if penalty == "l1" else solvers):
                    passes["value_grad"] = 0
                    total = np.zeros(CS.size, dtype=int)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        for train, _ in folds:
                            objective = Objective(X[train], y[train], penalty=penalty,
                                                  n_threads=1)
                            total += warm_path(objective, CS, solver, tol=tol,
                                               max_iter=max_iter)[1]
                    print(f"{name} {penalty} {solver}: {total.sum()} iterations, per C "
                          f"{total.tolist()}; {passes['value_grad']} value/gradient passes",
                          flush=True)
    finally:
        LogLossData._compute = compute


def table(rows, repeats, n_threads):
    threads = "default threading" if n_threads is None else f"n_threads={n_threads}"
    out = [f"Medians of {repeats} run(s), seconds, {threads}, n_jobs=None.", "",
           "| set | shape | penalty | scikit-learn CV | fastlogit CV | GridSearchCV(fastlogit) | "
           "same, n_jobs=2 | vs scikit-learn | vs grid | C_ (sk / ours / grid) |",
           "|---|---|---|---|---|---|---|---|---|---|"]

    def cell(med, k):
        return f"{med[k]:.2f}" if k in med else "-"

    def ratio(med, k):
        return f"{med[k] / med['ours']:.1f}x" if k in med and "ours" in med else "-"

    for name, shape, penalty, med, chosen, _ in rows:
        c = " / ".join(f"{chosen[k][0]:.3g}" if k in chosen else "-"
                       for k in ("sklearn", "ours", "grid"))
        out.append(f"| {name} | {shape[0]} x {shape[1]} | {penalty} | {cell(med, 'sklearn')} | "
                   f"{cell(med, 'ours')} | {cell(med, 'grid')} | {cell(med, 'grid_2jobs')} | "
                   f"{ratio(med, 'sklearn')} | {ratio(med, 'grid')} | {c} |")
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+", default=list(DATASETS))
    p.add_argument("--penalties", nargs="+", default=["l2", "l1"], choices=["l2", "l1"])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", default="default", choices=["default", "1"],
                   help="default: every library's own default; 1: all on one thread")
    p.add_argument("--runners", nargs="+", default=list(RUNNERS), choices=RUNNERS)
    p.add_argument("--tol", type=float, default=1e-4)
    p.add_argument("--max-iter", type=int, default=100)
    p.add_argument("--agree", action="store_true",
                   help="untimed: C_ and fold scores of both at tol 1e-8 instead of the race")
    p.add_argument("--iterations", nargs="*", metavar="SOLVER",
                   help="untimed: iterations of the warm paths for these solvers (L2; 'l1' "
                        "for L1) instead of the race")
    args = p.parse_args(argv)
    if args.iterations is not None:
        iterations(args.datasets, args.penalties, args.iterations or ["auto"], args.tol,
                   args.max_iter)
        return
    if args.agree:
        agree(args.datasets, args.penalties)
        return
    n_threads = None if args.threads == "default" else 1
    print(f"load average at start {os.getloadavg()}", flush=True)
    print(f"tol {args.tol:g}, max_iter {args.max_iter}", flush=True)
    rows = race(args.datasets, args.penalties, args.repeats, n_threads, args.runners,
                args.tol, args.max_iter)
    print(f"load average at end {os.getloadavg()}")
    print()
    print(table(rows, args.repeats, n_threads))


if __name__ == "__main__":
    main()
