"""news20 (binary) L2 LogisticRegressionCV against scikit-learn's where both converge (issue 17).

The search is issue 17's: 10 Cs (``np.logspace(-4, 4, 10)``), the same 5 stratified folds
(``StratifiedKFold(5, shuffle=True, random_state=0)``), accuracy, L2, fit_intercept, refit at
the chosen C; news20 is made binary as in the other races (labels <= 10 vs > 10,
:func:`benchmarks.shared_data.load_shared`).  On news20 (raw word counts, 62,061 columns,
nearly separable at large C) neither library's default solver converges at tol 1e-8 within
max_iter 1000, so this script raises max_iter (``--max-iter``) until both do, and reports
the fits that still stopped at it.

Two modes:

``--check`` (untimed, load-independent counts; CPU per C for orientation)
    Per fold (``--folds``) and per C: our warm path (:func:`fastlogit.model_selection.
    warm_path`'s fits, the path's own starts) with each solver of ``--ours`` ("auto" is the
    path's own choice; "SOLVER:key=value,..." sets the solver's options for the path, e.g.
    "newton-cg:preconditioner=none,line_search=minimize"), and scikit-learn's path (``LogisticRegression`` with
    ``warm_start=True`` over the ascending Cs: the starts its ``LogisticRegressionCV`` uses)
    with each solver of ``--sklearn``; iterations, Hessian-vector products (ours), CPU seconds
    and the test-fold accuracy per C.
race (the default; run under the benchmark lock)
    scikit-learn's ``LogisticRegressionCV`` (``--sklearn-solver``, ``--sklearn-repeats``
    runs) and ours (``fastlogit.LogisticRegressionCV(solver="auto")``, ``--repeats`` runs),
    alternating, at ``--tol`` / ``--max-iter`` for both (``--match-sklearn-tol``: ours at the tol
    where our stopping rule is scikit-learn's at ``--tol``), ``--threads`` as in
    benchmarks/cv_race.py (``1``: ``threadpool_limits(1)`` and ``n_threads=1``; ``default``:
    each library's own).  Prints every run's wall and CPU time, C_, the fits at max_iter, the
    medians and their ratio, and the agreement of the timed fits themselves: same C_ and the
    largest difference of the 50 fold scores.

Usage::

    FASTLOGIT_BENCH=1 flock -x /tmp/fastlogit-bench.lock .venv/bin/python \\
        benchmarks/news20_cv.py --tol 1e-8 --max-iter 10000 --threads 1 --repeats 3
    .venv/bin/python benchmarks/news20_cv.py --check --folds 0 --ours auto newton-cg:preconditioner=none \\
        --sklearn lbfgs newton-cg
    FASTLOGIT_BENCH=1 flock -x /tmp/fastlogit-bench.lock .venv/bin/python benchmarks/news20_cv.py \\
        --tol 1e-8 --max-iter 10000 --threads 1 --repeats 3 --sklearn-repeats 3 \\
        --ab newton-cg:eta_max=0.3     # ours against ours with that keyword default (A/B)
    ... --dataset rcv1_small --max-iter 1000 --repeats 9 --sklearn-repeats 9 --ab no-row-subsets

Results: benchmarks/results/news20_cv.md.
"""
import argparse
import os
import statistics
import sys
import time
import warnings
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.shared_data import load_shared  # noqa: E402

CS = np.logspace(-4, 4, 10)


def _data(name="news20"):
    from sklearn.model_selection import StratifiedKFold

    X, y = load_shared(name)
    return X, y, list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))


def _limit(n_threads):
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n_threads) if n_threads else nullcontext()


def _option(kv):
    """``"key=value"`` of a --ours spec as (key, value): "none" is None, numbers are numbers."""
    key, _, value = kv.partition("=")
    if value == "none":
        return key, None
    try:
        return key, float(value) if any(c in value for c in ".e") else int(value)
    except ValueError:
        return key, value


@contextmanager
def _solver_defaults(spec):
    """Within the block, the keyword defaults of solver ``spec``'s name replaced by its
    options ("SOLVER:key=value,..."; none: unchanged); yields the solver's name."""
    from fastlogit.solvers import SOLVERS

    solver, _, opts = spec.partition(":")
    options = dict(_option(kv) for kv in opts.split(",") if kv)
    if not options:
        yield solver
        return
    fn = getattr(SOLVERS[solver], "__wrapped__", SOLVERS[solver])
    unknown = set(options) - set(fn.__kwdefaults__ or {})
    if unknown:
        raise ValueError(f"{solver} has no options {sorted(unknown)}")
    saved = dict(fn.__kwdefaults__)
    fn.__kwdefaults__.update(options)
    try:
        yield solver
    finally:
        fn.__kwdefaults__.update(saved)


def _ours_path(X, y, train, test, spec, tol, max_iter, n_threads):
    """Our warm path on one fold: per C (iterations, Hessian products, CPU s, accuracy, and
    the products in full passes' worth of X's values)."""
    from fastlogit.model_selection import _warm_steps
    from fastlogit.objective import LogLossData, Objective, RowSubsetCurvature

    objective = Objective(X[train], y[train], penalty="l2", n_threads=n_threads or None)
    counts = [0, 0.0]  # Hessian products; the same in full passes' worth of X's values
    hessp, sub_hessp = LogLossData.hessp, RowSubsetCurvature.hessp

    def counted(self, theta, v):
        counts[0] += 1
        counts[1] += 1.0
        return hessp(self, theta, v)

    def sub_counted(self, v):  # a product over a row subset (newton-cg's curvature_rtol)
        counts[0] += 1
        counts[1] += self.design.nnz / max(self._data.design.nnz, 1)
        return sub_hessp(self, v)

    LogLossData.hessp = counted  # the path's data term is a compacted copy: counted by class
    RowSubsetCurvature.hessp = sub_counted
    rows = []
    try:
        with _solver_defaults(spec) as solver:  # its options for this path only
            steps = _warm_steps(objective, CS, solver, tol=tol, max_iter=max_iter)
            c0, h0, p0 = time.process_time(), 0, 0.0
            while True:
                try:
                    next(steps)
                except StopIteration as stop:
                    thetas, n_iter, converged, name = stop.value
                    break
                c1 = time.process_time()
                rows.append((counts[0] - h0, c1 - c0, counts[1] - p0))
                c0, h0, p0 = c1, counts[0], counts[1]
    finally:
        LogLossData.hessp = hessp
        RowSubsetCurvature.hessp = sub_hessp
    Xt, yt = X[test], y[test]
    acc = [float(((Xt @ t[:-1] + t[-1] > 0) == (yt > 0)).mean()) for t in thetas]
    return (name, n_iter, converged, [r[0] for r in rows], [r[1] for r in rows], acc,
            [r[2] for r in rows])


def _sklearn_path(X, y, train, test, solver, tol, max_iter):
    """scikit-learn's warm-started path on one fold (LogisticRegression, warm_start=True,
    ascending Cs: the starts its LogisticRegressionCV's path uses): per C (iterations,
    CPU s, accuracy)."""
    from sklearn.linear_model import LogisticRegression

    est = LogisticRegression(solver=solver, tol=tol, max_iter=max_iter, warm_start=True)
    its, cpu, acc = [], [], []
    for C in CS:
        est.set_params(C=float(C))
        c0 = time.process_time()
        est.fit(X[train], y[train])
        cpu.append(time.process_time() - c0)
        its.append(int(np.max(est.n_iter_)))
        acc.append(float(est.score(X[test], y[test])))
    return its, cpu, acc


def check(folds_wanted, ours, sklearn, tol, max_iter, n_threads, name="news20"):
    X, y, folds = _data(name)
    print(f"{name} binary {X.shape}, nnz {X.nnz}; tol {tol:g}, max_iter {max_iter}, "
          f"threads {n_threads or 'default'}", flush=True)
    with warnings.catch_warnings(), _limit(n_threads):
        warnings.simplefilter("ignore")
        for k in folds_wanted:
            train, test = folds[k]
            for spec in ours:
                name, n_iter, conv, hv, cpu, acc, passes = _ours_path(
                    X, y, train, test, spec, tol, max_iter, n_threads)
                print(f"fold {k} ours {spec} ({name}): CPU {sum(cpu):.2f} s, iterations "
                      f"{int(n_iter.sum())} {n_iter.tolist()}, Hessian products {sum(hv)} "
                      f"{hv}, in full passes {sum(passes):.0f} {[round(x) for x in passes]}, "
                      f"not converged {int((~conv).sum())}\n    CPU per C "
                      f"{[round(c, 2) for c in cpu]}\n    accuracy {[round(a, 6) for a in acc]}",
                      flush=True)
            for solver in sklearn:
                its, cpu, acc = _sklearn_path(X, y, train, test, solver, tol, max_iter)
                print(f"fold {k} scikit-learn {solver}: CPU {sum(cpu):.2f} s, iterations "
                      f"{sum(its)} {its}, at max_iter {sum(i >= max_iter for i in its)}\n"
                      f"    CPU per C {[round(c, 2) for c in cpu]}\n"
                      f"    accuracy {[round(a, 6) for a in acc]}", flush=True)


@contextmanager
def _no_row_subsets():
    """Within the block newton_cg finds no ``Objective.row_subset_hessp``: its
    ``curvature_tol`` then uses the full Hessian (as ``curvature_tol=0`` would)."""
    from fastlogit.objective import Objective

    method = Objective.row_subset_hessp
    Objective.row_subset_hessp = None
    try:
        yield
    finally:
        Objective.row_subset_hessp = method


def race(tol, max_iter, n_threads, repeats, sk_repeats, sk_solver, match=False, ab=None,
         name="news20"):
    from sklearn.linear_model import LogisticRegressionCV as SkCV
    from sklearn.exceptions import ConvergenceWarning

    import fastlogit
    from benchmarks.cv_race import sklearn_equivalent_tol

    X, y, folds = _data(name)
    common = dict(Cs=CS, cv=folds, scoring="accuracy", tol=tol, max_iter=max_iter,
                  l1_ratios=(0.0,), use_legacy_attributes=False)
    our_tol = sklearn_equivalent_tol(X, y, tol) if match else tol

    def ours(X, y, cv=folds):
        return fastlogit.LogisticRegressionCV(solver="auto", n_threads=n_threads,
                                             **dict(common, cv=cv, tol=our_tol)).fit(X, y)

    def sklearn(X, y):
        if ab:  # the A/B: ours again, with the solver's options of ``ab`` as its defaults
            with _no_row_subsets() if ab == "no-row-subsets" else _solver_defaults(ab):
                return ours(X, y)
        return SkCV(solver=sk_solver, **common).fit(X, y)

    print(f"load average at start {os.getloadavg()}", flush=True)
    print(f"{name} binary {X.shape}; tol {tol:g} (ours {our_tol:.3g}) and max_iter {max_iter} "
          f"for both; threads {n_threads or 'default'}; "
          + (f"A/B: 'sklearn' below is ours with {ab}" if ab else f"scikit-learn {sk_solver}"),
          flush=True)
    from sklearn.model_selection import StratifiedKFold

    head = np.arange(min(2000, X.shape[0]))  # untimed warm-up of ours: imports, Numba's caches
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours(X[head], y[head], list(StratifiedKFold(5).split(X[head], y[head])))
    runs = {"ours": [], "sklearn": []}
    order = []
    for i in range(max(repeats, sk_repeats)):
        order += (["ours"] if i < repeats else []) + (["sklearn"] if i < sk_repeats else [])
    for key in order:
        with warnings.catch_warnings(), _limit(n_threads):
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", FutureWarning)
            t0, c0 = time.perf_counter(), time.process_time()
            est = (ours if key == "ours" else sklearn)(X, y)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        n_iter = np.asarray(est.n_iter_)
        runs[key].append((wall, cpu, est))
        label = "B" if ab and key == "sklearn" else key
        print(f"{label:8s} {wall:8.2f} s (CPU {cpu:8.2f} s)  C_ {float(est.C_):.4g}  fits at "
              f"max_iter {int((n_iter >= max_iter).sum())}  iterations {int(n_iter.sum())} "
              f"(largest {int(n_iter.max())})", flush=True)
    print(f"load average at end {os.getloadavg()}", flush=True)
    med = {k: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v))
           for k, v in runs.items() if v}
    for k, (w, c) in med.items():
        print(f"median {k}: {w:.4f} s wall, {c:.4f} s CPU ({len(runs[k])} runs)")
    if len(med) == 2:
        print(f"ratio scikit-learn / ours: {med['sklearn'][0] / med['ours'][0]:.3g}x wall, "
              f"{med['sklearn'][1] / med['ours'][1]:.3g}x CPU")
        sc = [np.asarray(r[2].scores_).reshape(len(folds), -1) for r in runs["sklearn"]]
        oc = [np.asarray(r[2].scores_).reshape(len(folds), -1) for r in runs["ours"]]
        gap = max(float(np.abs(a - b).max()) for a in sc for b in oc)
        same = {float(r[2].C_) for r in runs["sklearn"] + runs["ours"]}
        print(f"same C_ in every run: {len(same) == 1} ({sorted(same)}); largest |fold score "
              f"difference| ours vs scikit-learn over the 50: {gap:.2e}")
        if ab:
            coef = max(float(np.abs(a[2].coef_ - b[2].coef_).max())
                       for a in runs["sklearn"] for b in runs["ours"])
            print(f"A/B: largest |coef_ difference| {coef:.2e}")
        print(f"our path solver: {runs['ours'][0][2].solver_}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--check", action="store_true", help="untimed per-fold, per-C counts")
    p.add_argument("--folds", nargs="+", type=int, default=[0])
    p.add_argument("--dataset", default="news20",
                   help="another shared set (e.g. rcv1_small, the other wide one)")
    p.add_argument("--ours", nargs="*", default=["auto"],
                   help="our solvers for --check (name or name:key=value,...)")
    p.add_argument("--sklearn", nargs="*", default=["lbfgs", "newton-cg"],
                   help="scikit-learn's solvers for --check")
    p.add_argument("--tol", type=float, default=1e-8)
    p.add_argument("--max-iter", type=int, default=10000)
    p.add_argument("--threads", default="1", choices=["default", "1"])
    p.add_argument("--repeats", type=int, default=3, help="runs of ours (race)")
    p.add_argument("--sklearn-repeats", type=int, default=1, help="runs of scikit-learn's")
    p.add_argument("--sklearn-solver", default="lbfgs")
    p.add_argument("--match-sklearn-tol", action="store_true",
                   help="race: ours at the tol where our stopping rule is scikit-learn's at --tol "
                        "(benchmarks.cv_race.sklearn_equivalent_tol), scikit-learn at --tol")
    p.add_argument("--ab", metavar="SPEC",
                   help="race: ours against ours with the solver options of SPEC as its "
                        "defaults (e.g. newton-cg:eta_max=0.3; options the path passes itself, "
                        "such as curvature_tol, are not changed by it), or with "
                        "'no-row-subsets' (newton-cg's curvature_tol without effect), instead of "
                        "scikit-learn's; --sklearn-repeats runs of the B side")
    args = p.parse_args(argv)
    n_threads = None if args.threads == "default" else 1
    if args.check:
        check(args.folds, args.ours, args.sklearn, args.tol, args.max_iter, n_threads,
              args.dataset)
    else:
        race(args.tol, args.max_iter, n_threads, args.repeats, args.sklearn_repeats,
             args.sklearn_solver, args.match_sklearn_tol, args.ab, args.dataset)


if __name__ == "__main__":
    main()
