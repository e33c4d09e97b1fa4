"""Untimed: fastlogit's and scikit-learn's LogisticRegressionCV on one problem, score by score.

Both CVs run with ``solver="liblinear"`` (fastlogit's maps it to liblinear's own problem: the
intercept a penalised feature of value ``intercept_scaling``), L1, on cv_race's folds and Cs
(5 stratified folds, seed 0; ``np.logspace(-4, 4, 10)``; accuracy), at each tol given: the
chosen C_ of both and how many fold scores differ by more than 1e-6.  Issue 17's "the same C_
as scikit-learn's, scores within 1e-6" where both solve the same problem.

Usage::

    FASTLOGIT_DATASETS=/work/shared/datasets python benchmarks/cv_same_problem.py rcv1_small 1e-8 1e-4

Results: benchmarks/results/cv_race.md ("Session 12, quiet machine").
"""
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.cv_race import CS  # noqa: E402
from benchmarks.shared_data import load_shared  # noqa: E402


def main(argv=None):
    from sklearn.linear_model import LogisticRegressionCV as SkCV
    from sklearn.model_selection import StratifiedKFold

    import fastlogit

    argv = sys.argv[1:] if argv is None else argv
    name, tols = argv[0], [float(t) for t in argv[1:]] or [1e-8]
    X, y = load_shared(name)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    for tol in tols:
        common = dict(Cs=CS, cv=folds, scoring="accuracy", tol=tol, max_iter=1000,
                      l1_ratios=(1.0,), use_legacy_attributes=False, solver="liblinear")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            ours = fastlogit.LogisticRegressionCV(**common).fit(X, y)
            t1 = time.perf_counter()
            ref = SkCV(random_state=0, **common).fit(X, y)
            t2 = time.perf_counter()
        a = np.asarray(ours.scores_).reshape(len(folds), -1)
        b = np.asarray(ref.scores_).reshape(len(folds), -1)
        print(f"{name} L1 solver=liblinear tol {tol:g}: C_ ours {float(ours.C_):.4g} sklearn "
              f"{float(ref.C_):.4g}; fold scores off (> 1e-6) {int((np.abs(a - b) > 1e-6).sum())}"
              f" of {a.size}, max {np.abs(a - b).max():.2e}; mean per C ours "
              f"{np.round(a.mean(0), 5).tolist()} sklearn {np.round(b.mean(0), 5).tolist()}; "
              f"untimed {t1 - t0:.1f} s / {t2 - t1:.1f} s", flush=True)


if __name__ == "__main__":
    main()
