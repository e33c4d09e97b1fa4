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
  threads follow the workers' OpenMP limit, so jobs x threads stay within the cores);
* ``ours_static``: ``ours`` with every fit of every fold path on its static share of the
  threads (``total // paths``), i.e. without the tail hand-over of
  ``fastlogit.model_selection._ThreadShare`` (the last fold of 5 on 2 threads then runs on
  one): the A/B of that hand-over;
* ``ours_whole``: ``ours`` with each fold path run whole by one thread (a thread keeps its
  path to the end, as before session 9) instead of the paths' fits interleaved over the
  threads (``fastlogit.model_selection._run_interleaved``): the A/B of the interleaving.

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

Untimed modes instead of the race: ``--agree`` (both CVs at a tight tol and at the race's),
``--agree-reference`` (every fold score of both CVs against each fold's converged optimum,
:func:`agree_reference`), ``--iterations``, ``--timeline``.

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


RUNNERS = ("sklearn", "ours", "grid", "grid_2jobs", "ours_static", "ours_whole")


def _runners(penalty, folds, n_threads, keep=RUNNERS, tol=1e-4, max_iter=100, our_tol=None,
             sk_solver=None):
    from sklearn.linear_model import LogisticRegressionCV as SkCV
    from sklearn.model_selection import GridSearchCV

    import fastlogit

    r = 1.0 if penalty == "l1" else 0.0
    common = dict(Cs=CS, cv=folds, scoring="accuracy", tol=tol, max_iter=max_iter,
                  l1_ratios=(r,), use_legacy_attributes=False)
    mine = dict(common, tol=tol if our_tol is None else our_tol)
    tol = mine["tol"]  # the GridSearchCV loops run our estimator: our tol
    sk_solver = sk_solver or ("liblinear" if penalty == "l1" else "lbfgs")

    def sklearn(X, y):
        est = SkCV(solver=sk_solver, **common).fit(X, y)
        return float(est.C_)

    def ours(X, y):
        est = fastlogit.LogisticRegressionCV(solver="auto", n_threads=n_threads,
                                             **mine).fit(X, y)
        return float(est.C_)

    def ours_static(X, y):
        from fastlogit.model_selection import _ThreadShare

        hand_over = _ThreadShare.__call__
        _ThreadShare.__call__ = lambda self: self.per_path
        try:
            return ours(X, y)
        finally:
            _ThreadShare.__call__ = hand_over

    def ours_whole(X, y):
        import fastlogit.model_selection as ms

        interleaved = ms._run_interleaved
        ms._run_interleaved = _run_whole
        try:
            return ours(X, y)
        finally:
            ms._run_interleaved = interleaved

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

    found = {"sklearn": sklearn, "ours": ours, "grid": grid, "grid_2jobs": grid_2jobs,
             "ours_static": ours_static, "ours_whole": ours_whole}
    return {k: found[k] for k in keep}


def _run_whole(paths, jobs):
    """``fastlogit.model_selection._run_interleaved`` without the interleaving: each thread
    takes the next path in order and runs it to its end (the scheduling before session 9),
    BLAS limited once around all of them as there; for the ``ours_whole`` runner."""
    import threading

    from fastlogit.solvers._result import blas_limit

    results, queue, lock = [None] * len(paths), list(range(len(paths))), threading.Lock()

    errors = []

    def worker():
        while True:
            with lock:
                if not queue or errors:
                    return
                k = queue.pop(0)
            try:
                while True:
                    try:
                        next(paths[k])
                    except StopIteration as stop:
                        results[k] = stop.value
                        break
            except BaseException as exc:  # raised by the caller below
                errors.append(exc)
                return

    with blas_limit():
        threads = [threading.Thread(target=worker) for _ in range(min(jobs, len(paths)))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
    return results


def sklearn_equivalent_tol(X, y, tol):
    """Our ``tol`` at which our stopping rule is scikit-learn's lbfgs rule at ``tol`` (L2).

    scikit-learn stops at ``||grad F_sk||_inf <= tol`` with F_sk = F / (C n) (the mean loss,
    penalty ``||w||^2 / (2 C n)``); ours at ``||grad F||_inf <= tol_ours * C ||grad L(0)||_inf``
    (:mod:`fastlogit.solvers._result`, once ``C ||grad L(0)||_inf >= 1``).  They are the same
    rule for ``tol_ours = tol * n / ||grad L(0)||_inf``, computed here on the whole set with
    an intercept (on a fold of 4/5 of the rows the ratio is nearly the same).
    """
    from fastlogit.objective import Objective
    from fastlogit.solvers._result import reference_gradient_norm

    objective = Objective(X, y, C=1.0, penalty="l2", fit_intercept=True)
    return tol * X.shape[0] / reference_gradient_norm(objective)


def race(names, penalties, repeats, n_threads, keep=RUNNERS, tol=1e-4, max_iter=100,
         match_sklearn_tol=False, sk_solver=None):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    rows = []
    for name in names:
        X, y = load_shared(name)
        folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
        for penalty in penalties:
            our_tol = None
            if match_sklearn_tol and penalty == "l2":
                our_tol = sklearn_equivalent_tol(X, y, tol)
                print(f"{name}: our tol {our_tol:.3g} (scikit-learn's rule at tol {tol:g})",
                      flush=True)
            runners = _runners(penalty, folds, n_threads, keep, tol, max_iter, our_tol,
                               sk_solver)
            times = {k: [] for k in runners}
            chosen = {k: [] for k in runners}
            cpu = {k: [] for k in runners}
            head = np.arange(min(2000, X.shape[0]))  # untimed warm-up: imports, JIT caches
            warm = _runners(penalty, list(StratifiedKFold(5).split(X[head], y[head])),
                            n_threads, keep, tol, max_iter, our_tol, sk_solver)
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


def agree(names, penalties, tol=1e-8, max_iter=1000, race_tol=1e-4, race_max_iter=100):
    """Untimed: C_ and the fold scores of ours and scikit-learn's on the whole sets, with the
    same folds and scoring, at a tight tol and at the race's tol.

    Tight (``tol``, ``max_iter``): scikit-learn's newton-cholesky for L2 when the features
    are few (an exact reference), else lbfgs; saga for L1; ours ``solver="auto"``.  Race
    (``race_tol``, ``race_max_iter``): the race's own configurations (scikit-learn's lbfgs /
    liblinear).  For each, the chosen C_, the largest fold-score difference from
    scikit-learn's tight fit (the reference) and the mean fold score per C, so that a
    different C_ at the race's tol can be traced to the fits that moved it.  Prints lines.
    """
    from sklearn.linear_model import LogisticRegressionCV as SkCV
    from sklearn.model_selection import StratifiedKFold

    import fastlogit

    for name in names:
        X, y = load_shared(name)
        folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
        for penalty in penalties:
            r = 1.0 if penalty == "l1" else 0.0

            def common(t, m):
                return dict(Cs=CS, cv=folds, scoring="accuracy", tol=t, max_iter=m,
                            l1_ratios=(r,), use_legacy_attributes=False)

            tight_solver = ("saga" if penalty == "l1" else
                            "newton-cholesky" if X.shape[1] <= 1000 else "lbfgs")
            race_solver = "liblinear" if penalty == "l1" else "lbfgs"
            fits = {}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for key, t, m, sk_solver in (("tight", tol, max_iter, tight_solver),
                                             ("race", race_tol, race_max_iter, race_solver)):
                    t0 = time.perf_counter()
                    ours = fastlogit.LogisticRegressionCV(solver="auto", **common(t, m)).fit(X, y)
                    t1 = time.perf_counter()
                    ref = SkCV(solver=sk_solver, **common(t, m)).fit(X, y)
                    t2 = time.perf_counter()
                    fits[key] = (t, m, sk_solver, ours, ref, t1 - t0, t2 - t1)
            exact = np.asarray(fits["tight"][4].scores_).reshape(len(folds), -1)
            print(f"{name} {penalty}: reference = scikit-learn {tight_solver} at tol {tol:g}, "
                  f"C_ {float(fits['tight'][4].C_):.4g}; mean fold score per C "
                  f"{np.round(exact.mean(axis=0), 6).tolist()}", flush=True)
            for key in ("tight", "race"):
                t, m, sk_solver, ours, ref, t_ours, t_ref = fits[key]
                for who, est in (("ours", ours), (f"sklearn({sk_solver})", ref)):
                    sc = np.asarray(est.scores_).reshape(exact.shape)
                    print(f"  tol {t:g} max_iter {m} {who:24s} C_ {float(est.C_):.4g}  max "
                          f"|score - reference| {np.abs(sc - exact).max():.2e}  fits at max_iter "
                          f"{int((np.asarray(est.n_iter_) >= m).sum())}  iterations "
                          f"{int(np.asarray(est.n_iter_).sum())}  mean fold score per C "
                          f"{np.round(sc.mean(axis=0), 6).tolist()}", flush=True)
                gap = np.abs(np.asarray(ours.scores_).reshape(exact.shape)
                             - np.asarray(ref.scores_).reshape(exact.shape)).max()
                print(f"  tol {t:g}: same C_ {float(ours.C_) == float(ref.C_)}; max |score "
                      f"difference| ours vs sklearn {gap:.2e} (untimed: {t_ours:.1f} s / "
                      f"{t_ref:.1f} s)", flush=True)


def _objective_kkt(X, s, w, b, C, penalty):
    """``(F, v)`` of one fold's problem at ``(w, b)``: ``F = C sum_i log(1 + exp(-s_i z_i)) +
    pen(w)`` with ``z = X w + b``, ``pen`` ``||w||_1`` (``"l1"``) or ``||w||^2 / 2``
    (``"l2"``), the intercept ``b`` unpenalised, and ``v`` the largest entry of the
    minimum-norm subgradient of F (its gradient for L2; for L1 ``|C g_j + sign(w_j)|`` where
    ``w_j != 0``, ``max(|C g_j| - 1, 0)`` where ``w_j = 0``; ``|C g_b|`` for the intercept).
    ``s`` in {-1, 1}; v is 0 exactly at the optimum."""
    z = X @ w + b
    m = -s * z
    g_z = -s / (1.0 + np.exp(-m))  # d log(1 + exp(m)) / dz
    g = C * (X.T @ g_z)
    if penalty == "l1":
        F = C * np.logaddexp(0.0, m).sum() + np.abs(w).sum()
        v = np.where(w != 0, np.abs(g + np.sign(w)), np.maximum(np.abs(g) - 1.0, 0.0))
    else:
        F = C * np.logaddexp(0.0, m).sum() + 0.5 * w @ w
        v = np.abs(g + w)
    return float(F), max(float(v.max(initial=0.0)), abs(C * float(g_z.sum())))


def _reference_fit(X, s, C, penalty, tol, intercept_penalised=False, method="skglm"):
    """The optimum of one fold's problem (:func:`_objective_kkt`) at ``tol``.

    ``method="skglm"``, a solver that is not fastlogit's: L1 skglm's ProxNewton (its
    ``L1(1 / (C n))`` on the mean log-loss, the same minimiser, intercept unpenalised;
    ``intercept_penalised``: liblinear's problem, the intercept a column of ones under the
    L1 penalty), L2 scikit-learn's newton-cholesky (few features) or newton-cg.
    ``method="fastlogit"`` (L1): a cold ``fastlogit.LogisticRegression`` fit at ``tol``,
    ``max_iter=300``
    (liblinear's problem: ``fit_intercept=False`` on X with a column of ones), for sets where
    ProxNewton does not finish (a9a, w8a); its optimality is then the subgradient's, checked
    by :func:`_objective_kkt` outside fastlogit.  Returns ``(w, b)``."""
    import scipy.sparse as sps

    n = X.shape[0]
    if intercept_penalised:
        X = (sps.hstack([X, np.ones((n, 1))], format="csr") if sps.issparse(X)
             else np.hstack([X, np.ones((n, 1))]))
    if method == "fastlogit" and penalty == "l1":
        import fastlogit

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = fastlogit.LogisticRegression(
                C=C, l1_ratio=1.0, solver="auto", tol=tol, max_iter=300,
                fit_intercept=not intercept_penalised).fit(X, s)
        w, b = est.coef_.ravel().astype(np.float64), float(est.intercept_[0])
        return (w[:-1], float(w[-1])) if intercept_penalised else (w, b)
    if penalty == "l2":
        from sklearn.linear_model import LogisticRegression as SkLR

        solver = "newton-cholesky" if X.shape[1] <= 1000 else "newton-cg"
        est = SkLR(C=C, l1_ratio=0.0, solver=solver, tol=tol, max_iter=100000).fit(X, s)
        return est.coef_.ravel(), float(est.intercept_[0])
    from skglm import GeneralizedLinearEstimator
    from skglm.datafits import Logistic
    from skglm.penalties import L1
    from skglm.solvers import ProxNewton

    Xc = sps.csc_matrix(X) if sps.issparse(X) else np.asfortranarray(X)
    solver = ProxNewton(tol=tol, max_iter=1000, max_pn_iter=10000,
                        fit_intercept=not intercept_penalised)
    est = GeneralizedLinearEstimator(datafit=Logistic(), penalty=L1(1.0 / (C * n)),
                                     solver=solver).fit(Xc, s)
    w = est.coef_.ravel()
    if intercept_penalised:
        return w[:-1], float(w[-1])
    return w, float(np.ravel(est.intercept_)[0])


def _sk_rule(scores):
    """scikit-learn's choice among the Cs (one l1_ratio): argmax of the fold scores summed
    over the folds in fold order, the first (smallest) C among equal maxima."""
    return int(np.argmax(np.asarray(scores).sum(axis=0)))


_SK_RUNS = {"l1": ("liblinear@1e-4", "saga@1e-4", "liblinear@1e-8", "saga@1e-8"),
            "l2": ("lbfgs@1e-4", "lbfgs@1e-8")}


def agree_reference(names, penalties, ref_tol=1e-12, sk_runs=None, liblinear_reference=True,
                    our_tols=(1e-4, 1e-8), method="skglm"):
    """Untimed: every fold score of the CVs against the converged optimum's (issue 17).

    For each set, penalty, one of the race's 5 folds and C of the race's 10: the fold's
    optimum at ``ref_tol`` (:func:`_reference_fit` with ``method``), its
    convergence checked by the minimum-norm subgradient (:func:`_objective_kkt`, printed
    relative to ``C ||grad L(0)||_inf``, the scale of our stopping rule) and by F against
    fastlogit's own fit at ``ref_tol``; its accuracy on the fold's test rows is the
    reference score.  Then C_, the number of fold scores that differ from the reference's
    by more than 1e-6 and the largest difference, for: fastlogit's CV at each of
    ``our_tols`` (max_iter 100 at tol 1e-4, the defaults, else 1000); scikit-learn's CV with
    each of ``sk_runs``, ``"SOLVER@TOL"`` (max_iter 100 at tol 1e-4, else 1000; None:
    :data:`_SK_RUNS`, its L1 solvers as a user gets them at tol 1e-4 and at 1e-8; runs whose
    solver has no L1 are skipped for L1).  For L1 with
    ``liblinear_reference``, liblinear's own problem (intercept penalised, intercept_scaling
    1) solved the same way, to tell a different objective from an unconverged fit.  The C_
    of every row is checked against scikit-learn's rule (:func:`_sk_rule`) applied to its
    own scores.  Prints lines (markdown table rows)."""
    from sklearn.linear_model import LogisticRegressionCV as SkCV
    from sklearn.model_selection import StratifiedKFold

    import fastlogit

    for name in names:
        X, y = load_shared(name)
        folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
        for penalty in penalties:
            r = 1.0 if penalty == "l1" else 0.0
            t0 = time.perf_counter()
            refs = {"reference": np.empty((len(folds), CS.size))}
            if penalty == "l1" and liblinear_reference:
                refs["liblinear's problem"] = np.empty((len(folds), CS.size))
            own = np.empty((len(folds), CS.size))
            worst_kkt, worst_dF, worst_own = 0.0, 0.0, 0.0
            flips, min_margin = 0, np.inf
            for f, (train, test) in enumerate(folds):
                Xtr, Xte = X[train], X[test]
                s = np.where(y[train] > 0, 1.0, -1.0)
                truth = y[test] > 0
                scale0 = float(np.abs(Xtr.T @ (s * 0.5)).max(initial=0.0))  # ||grad L(0)||
                for i, C in enumerate(CS):
                    w, b = _reference_fit(Xtr, s, C, penalty, ref_tol, method=method)
                    F, v = _objective_kkt(Xtr, s, w, b, C, penalty)
                    if method == "fastlogit" and penalty == "l1":
                        w2, b2 = w, b  # the reference is our own fit
                    else:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            mine = fastlogit.LogisticRegression(
                                C=C, l1_ratio=r, solver="auto", tol=ref_tol,
                                max_iter=100000).fit(Xtr, y[train])
                        w2 = mine.coef_.ravel().astype(np.float64)
                        b2 = float(mine.intercept_[0])
                    F2, v2 = _objective_kkt(Xtr, s, w2, b2, C, penalty)
                    worst_kkt = max(worst_kkt, v / max(C * scale0, 1.0))
                    worst_own = max(worst_own, v2 / max(C * scale0, 1.0))
                    worst_dF = max(worst_dF, abs(F - F2) / max(abs(F2), 1.0))
                    z = np.asarray(Xte @ w + b).ravel()
                    z2 = np.asarray(Xte @ w2 + b2).ravel()
                    refs["reference"][f, i] = np.mean((z > 0) == truth)
                    own[f, i] = np.mean((z2 > 0) == truth)
                    flips += int(np.sum((z > 0) != (z2 > 0)))
                    min_margin = min(min_margin, float(np.abs(z).min()))
                    if "liblinear's problem" in refs:
                        wl, bl = _reference_fit(Xtr, s, C, penalty, ref_tol,
                                                intercept_penalised=True, method=method)
                        zl = np.asarray(Xte @ wl + bl).ravel()
                        refs["liblinear's problem"][f, i] = np.mean((zl > 0) == truth)
                print(f"  (fold {f}: {time.perf_counter() - t0:.0f} s)", flush=True)
            ref = refs["reference"]
            best = _sk_rule(ref)
            total = ref.sum(axis=0)
            ties = [f"{c:.3g}" for c, t in zip(CS, total) if t == total[best]]
            solver = ("scikit-learn " + ("newton-cholesky" if X.shape[1] <= 1000 else
                                         "newton-cg") if penalty == "l2" else
                      "skglm ProxNewton" if method == "skglm" else "fastlogit, cold")
            print(f"{name} {penalty}: reference ({solver} at tol {ref_tol:g}, "
                  f"{time.perf_counter() - t0:.0f} s): C_ {CS[best]:.3g} (Cs at the maximum "
                  f"summed score: {ties}); largest subgradient / (C ||grad L(0)||_inf) "
                  f"{worst_kkt:.1e} (fastlogit at tol {ref_tol:g}: {worst_own:.1e}); largest "
                  f"relative F difference from fastlogit's {worst_dF:.1e}; test rows "
                  f"predicted differently {flips}; smallest |test margin| {min_margin:.1e}",
                  flush=True)
            print(f"  mean fold score per C {np.round(total / len(folds), 6).tolist()}",
                  flush=True)
            diff_own = np.abs(own - ref)
            print(f"  fastlogit at tol {ref_tol:g}, fold by fold: C_ {CS[_sk_rule(own)]:.3g}, "
                  f"scores off the reference {int((diff_own > 1e-6).sum())} of {own.size}, "
                  f"max {diff_own.max():.1e}", flush=True)
            if "liblinear's problem" in refs:
                lib = refs["liblinear's problem"]
                d = np.abs(lib - ref)
                print(f"  liblinear's problem (intercept penalised), converged: C_ "
                      f"{CS[_sk_rule(lib)]:.3g}, scores off the reference {int((d > 1e-6).sum())}"
                      f", max {d.max():.1e}; mean fold score per C "
                      f"{np.round(lib.mean(axis=0), 6).tolist()}", flush=True)
            runs = [("fastlogit", "auto", t, 100 if t >= 1e-4 else 1000) for t in our_tols]
            for run in (_SK_RUNS[penalty] if sk_runs is None else sk_runs):
                sv, t = run.split("@")
                if penalty == "l2" or sv in ("liblinear", "saga"):
                    runs.append(("scikit-learn", sv, float(t), 100 if float(t) >= 1e-4 else 1000))
            print("  | CV | solver | tol | max_iter | C_ | C_ by scikit-learn's rule on its "
                  "scores | fold scores off the reference (> 1e-6) | max \\|score - reference\\| "
                  "| fits at max_iter | iterations | untimed s |", flush=True)
            for who, solver, tol, max_iter in runs:
                kw = dict(Cs=CS, cv=folds, scoring="accuracy", tol=tol, max_iter=max_iter,
                          l1_ratios=(r,), use_legacy_attributes=False)
                t0 = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    if who == "fastlogit":
                        est = fastlogit.LogisticRegressionCV(solver=solver, **kw).fit(X, y)
                    else:
                        est = SkCV(solver=solver, **kw).fit(X, y)
                took = time.perf_counter() - t0
                sc = np.asarray(est.scores_).reshape(ref.shape)
                d = np.abs(sc - ref)
                line = (f"  | {who} | {solver} | {tol:g} | {max_iter} | {float(est.C_):.3g} | "
                        f"{CS[_sk_rule(sc)]:.3g} | {int((d > 1e-6).sum())} of {d.size} | "
                        f"{d.max():.1e} | {int((np.asarray(est.n_iter_) >= max_iter).sum())} | "
                        f"{int(np.asarray(est.n_iter_).sum())} | {took:.1f} |")
                if solver == "liblinear" and "liblinear's problem" in refs:
                    dl = np.abs(sc - refs["liblinear's problem"])
                    line += (f" against liblinear's problem: {int((dl > 1e-6).sum())} off, max "
                             f"{dl.max():.1e}")
                print(line, flush=True)
                print(f"    mean fold score per C {np.round(sc.mean(axis=0), 6).tolist()}",
                      flush=True)


def iterations(names, penalties, solvers, tol=1e-4, max_iter=100, match_sklearn_tol=False):
    """Untimed: solver iterations of the warm paths (per C, summed over the 5 folds) and the
    passes over the data, per set, penalty and solver; load-independent.  The solver
    "sklearn" is scikit-learn's ``LogisticRegressionCV`` (lbfgs for L2, liblinear for L1) at
    ``tol``, its ``n_iter_`` summed the same way (passes not counted);
    ``match_sklearn_tol``: ours at :func:`sklearn_equivalent_tol` (L2)."""
    from sklearn.linear_model import LogisticRegressionCV as SkCV
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
                ours_tol = tol
                if match_sklearn_tol and penalty == "l2":
                    ours_tol = sklearn_equivalent_tol(X, y, tol)
                names_ = [s for s in solvers if s == "sklearn"] + (
                    ["l1"] if penalty == "l1" else [s for s in solvers if s != "sklearn"])
                for solver in names_:
                    passes["value_grad"] = 0
                    total = np.zeros(CS.size, dtype=int)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        if solver == "sklearn":
                            ref = SkCV(Cs=CS, cv=folds, scoring="accuracy", tol=tol,
                                       max_iter=max_iter, use_legacy_attributes=False,
                                       l1_ratios=(1.0 if penalty == "l1" else 0.0,),
                                       solver="liblinear" if penalty == "l1" else "lbfgs")
                            total += np.asarray(ref.fit(X, y).n_iter_).reshape(
                                len(folds), CS.size).sum(axis=0)
                        for train, _ in (folds if solver != "sklearn" else ()):
                            objective = Objective(X[train], y[train], penalty=penalty,
                                                  n_threads=1)
                            total += warm_path(objective, CS, solver, tol=ours_tol,
                                               max_iter=max_iter)[1]
                    t = tol if solver == "sklearn" else ours_tol
                    print(f"{name} {penalty} {solver} (tol {t:.3g}): {total.sum()} iterations, "
                          f"per C {total.tolist()}"
                          + ("" if solver == "sklearn" else
                             f"; {passes['value_grad']} value/gradient passes"), flush=True)
    finally:
        LogLossData._compute = compute


def timeline(names, penalties, repeats, n_threads, tol=1e-4, max_iter=100):
    """Where one ``ours`` CV's wall time goes, thread by thread (printed; no scikit-learn).

    Wraps ``fastlogit.model_selection._fit_rows_steps`` (each step of a fold path: step 0
    is the fold's setup and the first C, step i the i-th C in ascending order, the last
    step the path's end), its ``_fast_scores`` (a fold's scoring) and the refit (the
    ``_fit_rows_steps`` call on all rows) with ``perf_counter`` stamps, runs the CV
    ``repeats`` times after one untimed run, and prints for the run of median wall time:
    the head (from ``fit`` to the first step: validation, folds, threads started), each
    thread's busy time within the fold phase (first to last fold step) and its idle rest,
    the gap before the refit, the refit, the end (attributes), the CPU time of the whole
    fit, and the cost of each C summed over the folds.  The wrappers add a few microseconds
    a step.
    """
    import itertools
    import threading

    from sklearn.model_selection import StratifiedKFold

    import fastlogit
    import fastlogit.model_selection as ms

    events = []
    origin = [0.0]

    def stamp(kind, key, i=None):
        events.append((time.perf_counter() - origin[0], threading.get_ident(), kind, key, i,
                       _schedstat()))

    steps, scores = ms._fit_rows_steps, ms._fast_scores
    counter = itertools.count()

    def timed_steps(proto, X, Y, sw, rows, *args, **kwargs):
        key = "refit" if rows is None else next(counter)
        path = steps(proto, X, Y, sw, rows, *args, **kwargs)
        for i in itertools.count():
            stamp("start", key, i)
            try:
                next(path)
            except StopIteration as stop:
                stamp("end", key, i)
                return stop.value
            stamp("end", key, i)
            yield

    def timed_scores(*args, **kwargs):
        stamp("start", "score")
        try:
            return scores(*args, **kwargs)
        finally:
            stamp("end", "score")

    ms._fit_rows_steps, ms._fast_scores = timed_steps, timed_scores
    try:
        for name in names:
            X, y = load_shared(name)
            folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
            for penalty in penalties:
                est = fastlogit.LogisticRegressionCV(
                    Cs=CS, cv=folds, scoring="accuracy", tol=tol, max_iter=max_iter,
                    l1_ratios=(1.0 if penalty == "l1" else 0.0,), use_legacy_attributes=False,
                    solver="auto", n_threads=n_threads)
                runs = []
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    for r in range(repeats + 1):
                        events.clear()
                        counter = itertools.count()
                        c0, origin[0] = time.process_time(), time.perf_counter()
                        est.fit(X, y)
                        wall, cpu = time.perf_counter() - origin[0], time.process_time() - c0
                        if r:
                            runs.append((wall, cpu, list(events)))
                runs.sort(key=lambda run: run[0])
                print(f"{name} {penalty}: walls (ms) "
                      f"{[round(w * 1e3, 1) for w, _, _ in runs]}", flush=True)
                _print_timeline(*runs[len(runs) // 2])
    finally:
        ms._fit_rows_steps, ms._fast_scores = steps, scores


def _schedstat():
    """(ns on a CPU, ns runnable but waiting for one) of the calling thread (Linux
    ``/proc/self/task/TID/schedstat``), or None."""
    import threading

    try:
        with open(f"/proc/self/task/{threading.get_native_id()}/schedstat") as f:
            run, wait = f.read().split()[:2]
        return int(run), int(wait)
    except (OSError, ValueError):
        return None


def _print_timeline(wall, cpu, events):
    """The summary of one run's stamps (:func:`timeline`), in ms.  A thread's idle time in
    the fold phase splits into waiting for a CPU (other processes: the run queue, from
    schedstat) and the rest, asleep (the GIL, the scheduler's condition, page faults the
    hypervisor serves)."""
    spans, open_, sched = [], {}, {}
    cpu_of = {}  # span -> ns on a CPU (schedstat), when known
    for t, tid, kind, key, i, st in events:
        if st is not None and key not in ("refit",):
            first_st = sched.setdefault(tid, [st, st])
            first_st[1] = st
        if kind == "start":
            open_[(tid, key)] = (t, i, st)
        else:
            t0, i0, st0 = open_.pop((tid, key))
            spans.append((t0, t, tid, key, i0))
            if st is not None and st0 is not None:
                cpu_of[spans[-1]] = st[0] - st0[0]
    folds = [sp for sp in spans if sp[3] not in ("refit", "score")]
    refit = [sp for sp in spans if sp[3] == "refit"]
    first = min(sp[0] for sp in folds)
    last = max(sp[1] for sp in spans if sp[3] != "refit")
    phase = last - first
    print(f"  median run: wall {wall * 1e3:.1f}, CPU {cpu * 1e3:.1f}; head (fit -> first step) "
          f"{first * 1e3:.1f}; fold phase {phase * 1e3:.1f}")
    threads = sorted({sp[2] for sp in folds})
    for n, tid in enumerate(threads):
        mine = [sp for sp in spans if sp[2] == tid and sp[3] != "refit"]
        busy = sum(b - a for a, b, _, _, _ in mine)
        span = max(b for _, b, _, _, _ in mine) - min(a for a, _, _, _, _ in mine)
        line = (f"  thread {n}: steps {busy * 1e3:.1f} over its {span * 1e3:.1f} in the fold "
                f"phase")
        if tid in sched:
            (r0, w0), (r1, w1) = sched[tid]
            line += (f"; on a CPU {(r1 - r0) / 1e6:.1f}, waiting for a CPU {(w1 - w0) / 1e6:.1f}, "
                     f"asleep {(span - (r1 - r0 + w1 - w0) / 1e9) * 1e3:.1f}")
        print(line)
    if refit:
        a = min(sp[0] for sp in refit)
        b = max(sp[1] for sp in refit)
        print(f"  gap before the refit {(a - last) * 1e3:.1f}; refit {(b - a) * 1e3:.1f}; end "
              f"(attributes) {(wall - b) * 1e3:.1f}")
    n_steps = max(sp[4] for sp in folds) + 1
    per_step = [sum(b - a for a, b, _, _, i in folds if i == k) for k in range(n_steps)]
    score = sum(b - a for a, b, _, key, _ in spans if key == "score")
    print("  per C summed over the folds (step 0 with the folds' setup; last: the paths' end "
          "with scoring " f"{score * 1e3:.1f}): "
          + " ".join(f"{v * 1e3:.1f}" for v in per_step), flush=True)
    if cpu_of:
        per_step = [sum(cpu_of.get(sp, 0) for sp in folds if sp[4] == k) / 1e6
                    for k in range(n_steps)]
        refit_cpu = sum(cpu_of.get(sp, 0) for sp in refit) / 1e6
        print("  the same on a CPU (schedstat): " + " ".join(f"{v:.1f}" for v in per_step)
              + f"; refit {refit_cpu:.1f}", flush=True)


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
    for name, _, penalty, med, _, _ in rows:
        if "ours_static" in med and "ours" in med:
            out.append(f"\n{name} {penalty}: without the tail hand-over (ours_static) "
                       f"{med['ours_static']:.3f} s, with it {med['ours']:.3f} s: "
                       f"{med['ours_static'] / med['ours']:.2f}x")
        if "ours_whole" in med and "ours" in med:
            out.append(f"\n{name} {penalty}: whole paths per thread (ours_whole) "
                       f"{med['ours_whole']:.3f} s, interleaved {med['ours']:.3f} s: "
                       f"{med['ours_whole'] / med['ours']:.2f}x")
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+", default=list(DATASETS))
    p.add_argument("--penalties", nargs="+", default=["l2", "l1"], choices=["l2", "l1"])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", default="default", choices=["default", "1"],
                   help="default: every library's own default; 1: all on one thread")
    p.add_argument("--runners", nargs="+", default=list(RUNNERS[:4]), choices=RUNNERS)
    p.add_argument("--tol", type=float, default=1e-4)
    p.add_argument("--match-sklearn-tol", action="store_true",
                   help="L2: ours (and the GridSearchCV loops) at the tol that makes our "
                        "stopping rule scikit-learn's lbfgs rule at --tol "
                        "(sklearn_equivalent_tol), scikit-learn at --tol")
    p.add_argument("--max-iter", type=int, default=100)
    p.add_argument("--sklearn-solver", default=None,
                   help="scikit-learn's solver in the sklearn runner (default: lbfgs for L2, "
                        "liblinear for L1; e.g. newton-cholesky, its fastest at a tight tol "
                        "when the features are few)")
    p.add_argument("--agree", action="store_true",
                   help="untimed: C_ and fold scores of both at tol 1e-8 (--agree-tol) and at "
                        "the race's --tol, against scikit-learn's tight fit, instead of the race")
    p.add_argument("--agree-tol", type=float, default=1e-8)
    p.add_argument("--agree-max-iter", type=int, default=1000)
    p.add_argument("--agree-reference", action="store_true",
                   help="untimed: every fold score of both CVs against the converged optimum "
                        "of each fold and C (skglm's ProxNewton for L1, scikit-learn's Newton "
                        "solvers for L2, at --reference-tol), instead of the race")
    p.add_argument("--reference-tol", type=float, default=1e-12)
    p.add_argument("--no-liblinear-reference", action="store_true",
                   help="with --agree-reference, L1: skip the optimum of liblinear's problem")
    p.add_argument("--reference", default="skglm", choices=["skglm", "fastlogit"],
                   help="with --agree-reference, L1: the optimum from skglm's ProxNewton or "
                        "from fastlogit's own cold fits (checked by the subgradient)")
    p.add_argument("--sklearn-runs", nargs="*", default=None, metavar="SOLVER@TOL",
                   help="with --agree-reference: scikit-learn's CVs (max_iter 100 at tol "
                        "1e-4, else 1000; default liblinear and saga at 1e-4 and 1e-8 for L1, "
                        "lbfgs at 1e-4 and 1e-8 for L2)")
    p.add_argument("--our-tols", nargs="+", type=float, default=[1e-4, 1e-8],
                   help="with --agree-reference: fastlogit's CVs at these tols")
    p.add_argument("--timeline", action="store_true",
                   help="untimed race: where one fastlogit CV's wall time goes, per thread "
                        "(head, fold phase busy/idle, refit, per C), at --threads, instead of "
                        "the race")
    p.add_argument("--iterations", nargs="*", metavar="SOLVER",
                   help="untimed: iterations of the warm paths for these solvers (L2; 'l1' "
                        "for L1; 'sklearn': scikit-learn's CV) instead of the race")
    args = p.parse_args(argv)
    if args.iterations is not None:
        iterations(args.datasets, args.penalties, args.iterations or ["auto"], args.tol,
                   args.max_iter, args.match_sklearn_tol)
        return
    if args.timeline:
        print(f"load average at start {os.getloadavg()}", flush=True)
        timeline(args.datasets, args.penalties, args.repeats,
                 None if args.threads == "default" else 1, args.tol, args.max_iter)
        print(f"load average at end {os.getloadavg()}")
        return
    if args.agree_reference:
        agree_reference(args.datasets, args.penalties, args.reference_tol, args.sklearn_runs,
                        not args.no_liblinear_reference, args.our_tols, args.reference)
        return
    if args.agree:
        agree(args.datasets, args.penalties, args.agree_tol, args.agree_max_iter, args.tol,
              args.max_iter)
        return
    n_threads = None if args.threads == "default" else 1
    print(f"load average at start {os.getloadavg()}", flush=True)
    print(f"tol {args.tol:g}, max_iter {args.max_iter}", flush=True)
    print(f"scikit-learn solver: {args.sklearn_solver or 'lbfgs (L2) / liblinear (L1)'}",
          flush=True)
    rows = race(args.datasets, args.penalties, args.repeats, n_threads, args.runners,
                args.tol, args.max_iter, args.match_sklearn_tol, args.sklearn_solver)
    print(f"load average at end {os.getloadavg()}")
    print()
    print(table(rows, args.repeats, n_threads))


if __name__ == "__main__":
    main()
