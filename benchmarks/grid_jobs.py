"""Where the time of ``GridSearchCV(n_jobs=2)`` over fastlogit goes (issue 17).

The same grid as :mod:`benchmarks.cv_race`'s ``grid`` column (10 Cs ``np.logspace(-4, 4,
10)``, the same 5 stratified folds, accuracy, tol 1e-4, max_iter 100, refit), timed six
ways in interleaved rounds (medians):

* ``ours_jobs1`` / ``ours_jobs2``: ``GridSearchCV(fastlogit.LogisticRegression(solver=
  "auto"))`` with ``n_jobs=1`` (one process, each fit's kernels on every core) and
  ``n_jobs=2`` (two joblib worker processes, one kernel thread each: joblib sets the
  workers' OpenMP limit to cores // n_jobs, which fastlogit follows);
* ``dummy_jobs1`` / ``dummy_jobs2``: the same search over scikit-learn's
  ``DummyClassifier`` (10 identical candidates): GridSearchCV's and joblib's own cost for
  these folds and this X (splitting the rows, sending X to the workers, scoring), with no
  fitting;
* ``fits_all_threads`` / ``fits_1_thread``: the 50 fold fits alone, in this process, summed
  (``n_threads=None`` and ``n_threads=1``): the fitting work each search does;
* ``in_search_fits_jobs1`` / ``_jobs2``: the same fits' times as the searches themselves
  measured them (``cv_results_["mean_fit_time"]`` summed over folds and Cs; with
  ``n_jobs=2`` two workers fit at once and share the machine's memory bandwidth and caches).

``n_jobs=2`` can only be faster when the fitting it halves saves more than joblib's extra
cost: ``fits_1_thread / 2 + dummy_jobs2`` against ``fits_all_threads + dummy_jobs1``.  The
script prints both predictions next to the measured searches.

Usage::

    FASTLOGIT_DATASETS=... FASTLOGIT_BENCH=1 flock -x /tmp/fastlogit-bench.lock \\
        .venv/bin/python benchmarks/grid_jobs.py [--datasets a9a w8a] [--repeats 5]

Results: benchmarks/results/cv_race.md (section "GridSearchCV n_jobs=2").
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

CS = np.logspace(-4, 4, 10)
KEYS = ("ours_jobs1", "ours_jobs2", "dummy_jobs1", "dummy_jobs2", "fits_all_threads",
        "fits_1_thread")


def _runs(X, y, folds):
    """name -> callable running that configuration once."""
    from sklearn.dummy import DummyClassifier
    from sklearn.model_selection import GridSearchCV

    import fastlogit

    def search(n_jobs):
        base = fastlogit.LogisticRegression(solver="auto", tol=1e-4, max_iter=100)
        res = GridSearchCV(base, {"C": list(CS)}, cv=folds, scoring="accuracy",
                           n_jobs=n_jobs).fit(X, y).cv_results_
        # the fits' own times, as the workers measured them, summed over folds and Cs
        fitted[n_jobs].append(float(res["mean_fit_time"].sum()) * len(folds))

    def dummy(n_jobs):
        GridSearchCV(DummyClassifier(), {"constant": [None] * CS.size}, cv=folds,
                     scoring="accuracy", n_jobs=n_jobs).fit(X, y)

    def fits(n_threads):
        total = 0.0
        for train, _ in folds:
            Xt, yt = X[train], y[train]
            for C in CS:
                est = fastlogit.LogisticRegression(solver="auto", tol=1e-4, max_iter=100,
                                                   C=C, n_threads=n_threads)
                t0 = time.perf_counter()
                est.fit(Xt, yt)
                total += time.perf_counter() - t0
        return total

    fitted = {1: [], 2: []}
    return fitted, {"ours_jobs1": lambda: search(1), "ours_jobs2": lambda: search(2),
            "dummy_jobs1": lambda: dummy(1), "dummy_jobs2": lambda: dummy(2),
            "fits_all_threads": lambda: fits(None), "fits_1_thread": lambda: fits(1)}


def measure(name, repeats):
    """Medians (seconds) of the six configurations on one shared set."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import StratifiedKFold

    X, y = load_shared(name)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    fitted, runs = _runs(X, y, folds)
    times = {k: [] for k in KEYS}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for run in runs.values():  # untimed: imports, Numba's caches, joblib's workers
            run()
        for _ in range(repeats):
            for key in KEYS:
                t0 = time.perf_counter()
                out = runs[key]()
                times[key].append(out if key.startswith("fits") else
                                  time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    for jobs in (1, 2):
        med[f"in_search_fits_jobs{jobs}"] = statistics.median(fitted[jobs][1:])
    return med


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["a9a", "w8a"])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"load average at start {os.getloadavg()}", flush=True)
    rows = []
    for name in args.datasets:
        med = measure(name, args.repeats)
        rows.append((name, med))
        print(name, {k: round(v, 3) for k, v in med.items()}, flush=True)
    print(f"load average at end {os.getloadavg()}")
    print(f"\nMedians of {args.repeats} rounds, seconds.\n")
    print("| set | n_jobs=1 | n_jobs=2 | dummy n_jobs=1 | dummy n_jobs=2 | fits, all threads "
          "| fits, 1 thread | fits in the n_jobs=1 search | fits in the n_jobs=2 search "
          "| predicted n_jobs=1 | predicted n_jobs=2 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, m in rows:
        p1 = m["fits_all_threads"] + m["dummy_jobs1"]
        p2 = m["fits_1_thread"] / 2 + m["dummy_jobs2"]
        print(f"| {name} | " + " | ".join(f"{m[k]:.3f}" for k in KEYS + (
            "in_search_fits_jobs1", "in_search_fits_jobs2")) +
              f" | {p1:.3f} | {p2:.3f} |")


if __name__ == "__main__":
    main()
