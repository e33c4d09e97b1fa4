"""Race: time to relative suboptimality 1e-6 of fastlogit's "l1" solver against LIBLINEAR
``-s 6`` (newGLMNET), celer and skglm on sparse L1 logistic regression.

Objective: F(w, b) = C * sum_i log(1 + exp(z_i)) - y_i z_i + ||w||_1, z = X w + b, the
intercept b unpenalised, evaluated here in NumPy (:func:`l1_objective`) for every library.
Two values of C per data set: C = 1, and the C at which the solution keeps about 1 % of the
features (found by bisection on log C with our solver; at least one feature).

Parameter mappings:

- fastlogit: ``Objective(X, y, C=C, penalty="l1")`` + ``solve(ob, "l1", tol=tol)`` (the
  objective's construction and the CSC copy inside the timing);
- LIBLINEAR (liblinear-official) ``-s 6 -B 1 -R -c C -e tol``: newGLMNET, bias unpenalised;
  its ``problem`` is built outside the timing;
- skglm ``SparseLogisticRegression(alpha=1/(C n), fit_intercept=True, tol=tol)``: minimises
  F / (C n), intercept unpenalised;
- skglm and celer get more iterations than their defaults (skglm: 50 outer iterations of
  at most 10,000 epochs; celer: 100 and 50,000), bounded so that one fit at a tight tol
  ends within the race's time;
- celer ``LogisticRegression(C=C, tol=tol)``: celer fits no intercept, so X gets a constant
  column of value ``CELER_BIAS`` (its coefficient times CELER_BIAS is the intercept; the
  penalty on it, |b| / CELER_BIAS, makes celer's optimum differ from F* by about that much:
  when that exceeds the target, celer is reported as not reaching it).

F*: the smaller F of our solver at tol 1e-12 (its optimality measure recomputed here in
NumPy) and LIBLINEAR -s 6 at -e 1e-10 (skglm at tol 1e-12 did not finish a9a or news20
within minutes on the shared machine); their relative difference is reported.  Correctness: our F at tol 1e-8 against F*, and the support
against the reference's.  Timing protocol: :func:`benchmarks.harness.race` (the first tol
of each ladder reaching the target, then ``--repeats`` rounds timing every solver in turn,
each timed fit the second of two back-to-back fits after a busy-wait), as in
benchmarks/solver_race.py.

The 1 % C and the reference solves are stored in ``benchmarks/results/l1_reference.json``
(keyed by set, size and C), so that they can be computed once, outside the lock, with
``--prepare`` and the timed run repeats none of them.

Usage (timings only under the shared lock)::

    python benchmarks/l1_race.py --prepare [--datasets a9a ...]      # no lock needed
    flock -x /tmp/fastlogit-bench.lock python benchmarks/l1_race.py [--datasets a9a ...]
        [--repeats 3] [--target 1e-6] [--cap 30] [--no-sparse-C] [--no-C1]
    python benchmarks/l1_race.py --multinomial --datasets news20 [--mn-tol 1e-4]

Results: benchmarks/results/l1_race.md.
"""
import argparse
import functools
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import common, harness  # noqa: E402
from benchmarks.shared_data import load_shared  # noqa: E402

DATASETS = ("a9a", "w8a", "mushrooms", "ijcnn1", "reuters", "rcv1_small", "news20")
LADDER = (1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6, 1e-7, 1e-8, 1e-9,
          1e-10)
#: Scale of celer's constant column (its intercept feature).
CELER_BIAS = 1e3
MAX_ITER = 100_000
#: Elastic-net race: l1_ratio, and saga's epochs (bounded so one fit ends within the race).
EN_RATIO = 0.5
SAGA_MAX_ITER = 20_000
SAGA_REF_EPOCHS = 1000


def l1_objective(X, y, theta, C, l1_ratio=1.0):
    """F = C * sum log-loss + r ||w||_1 + (1 - r)/2 ||w||^2 (r = l1_ratio) at theta = (w, b),
    float64, in NumPy (common.pointwise); NaN for a fit killed by :func:`capped`."""
    if theta.shape[0] != X.shape[1] + 1:
        return float("nan")
    w, b = theta[:-1], float(theta[-1])
    loss, _ = common.pointwise(y, np.asarray(X @ w).ravel() + b)
    return float(C * loss.sum() + l1_ratio * np.abs(w).sum()
                 + 0.5 * (1.0 - l1_ratio) * float(w @ w))


# ----------------------------------------------------------------------------- the solvers
def ours(X, y, C, tol, l1_ratio=1.0, **options):
    from fastlogit.objective import Objective
    from fastlogit.solvers import solve

    ob = (Objective(X, y, C=C, penalty="l1") if l1_ratio == 1.0 else
          Objective(X, y, C=C, penalty="elasticnet", l1_ratio=l1_ratio))
    return solve(ob, "l1", tol=tol, max_iter=MAX_ITER, **options).theta


#: --ablation: the l1 solver's options against its defaults (which combination wins).
VARIANTS = {"default": {}, "no Anderson": {"anderson": False},
            "column models only": {"model": "columns"},
            "dense models (m <= 2500)": {"model": "dense"}, "ws_min 32": {"ws_min": 32}}


def saga_fit(X, y, C, tol, l1_ratio=EN_RATIO, max_iter=None):
    from sklearn.linear_model import LogisticRegression

    est = LogisticRegression(C=C, l1_ratio=l1_ratio, solver="saga", tol=tol,
                             max_iter=max_iter or SAGA_MAX_ITER)
    est.fit(X, y)
    return np.r_[est.coef_.ravel(), est.intercept_]


def liblinear_fit(prob, C, tol):
    from liblinear.liblinearutil import parameter, train

    model = train(prob, parameter(f"-s 6 -B 1 -R -c {C!r} -e {tol!r} -q"))
    w, b = model.get_decfun()
    sign = 1.0 if model.get_labels()[0] == 1 else -1.0
    return sign * np.r_[np.asarray(w, dtype=np.float64), b]


def skglm_fit(X, y, C, tol):
    from skglm import SparseLogisticRegression

    est = SparseLogisticRegression(alpha=1.0 / (C * X.shape[0]), fit_intercept=True, tol=tol,
                                   max_iter=50, max_epochs=10_000)
    est.fit(X, y)
    return np.r_[est.coef_.ravel(), est.intercept_]


def celer_fit(Xb, y, C, tol):
    from celer import LogisticRegression

    est = LogisticRegression(C=C, tol=tol, fit_intercept=False, max_iter=100,
                             max_epochs=50_000)
    est.fit(Xb, y)
    coef = est.coef_.ravel()
    return np.r_[coef[:-1], coef[-1] * CELER_BIAS]


def capped(fit, seconds):
    """``fit`` run in a forked child that is killed after ``seconds`` (then a vector of NaN
    comes back, which never reaches the target): the ladders' search for a tolerance must
    not wait minutes on one slow fit.  The timed fits call ``fit`` directly."""
    import multiprocessing as mp

    def run(tol):
        ctx = mp.get_context("fork")
        recv, send = ctx.Pipe(duplex=False)
        child = ctx.Process(target=lambda: send.send(fit(tol)), daemon=True)
        child.start()
        if recv.poll(seconds):
            theta = recv.recv()
            child.join()
            return theta
        child.kill()
        child.join()
        return np.full(2, np.nan)

    return run


def race(fits, value, fstar, goal, repeats, settle_s, cap_s):
    """:func:`benchmarks.harness.race` with each ladder fit killed after ``2 cap_s``
    (:func:`capped`)."""
    import statistics

    tols = {name: harness.tol_to_target(capped(fit, 2 * cap_s), ladder, value, fstar, goal,
                                        cap_s)
            for name, (fit, ladder) in fits.items()}
    times = {name: [] for name, (tol, _) in tols.items() if tol is not None}
    for _ in range(repeats):
        for name in times:
            times[name].append(harness.timed_fit(fits[name][0], tols[name][0], settle_s))
    return {name: ((statistics.median(times[name]), tol) if tol is not None else (None, why))
            for name, (tol, why) in tols.items()}


def prepared(X, y, C):
    """{name: (fit(tol) -> theta, ladder)}; conversions to each library's format here,
    outside the timings."""
    from benchmarks.runners import liblinear_problem

    fits = {"fastlogit l1": (functools.partial(ours, X, y, C), LADDER)}
    try:
        prob = liblinear_problem(X, y)
        fits["LIBLINEAR -s 6 -R"] = (functools.partial(liblinear_fit, prob, C), LADDER)
    except ImportError:
        pass
    try:
        import skglm  # noqa: F401

        fits["skglm"] = (functools.partial(skglm_fit, X.tocsc(), y, C), LADDER)
    except ImportError:
        pass
    try:
        import celer  # noqa: F401

        Xb = sp.hstack([X, np.full((X.shape[0], 1), CELER_BIAS)]).tocsc()
        fits["celer (bias column)"] = (functools.partial(celer_fit, Xb, y, C), LADDER)
    except ImportError:
        pass
    return fits


# ----------------------------------------------------------------------------- C and F*
def c_keeping(X, y, fraction=0.01):
    """(C, nnz): a C whose solution keeps about ``fraction`` of the features (at least 1),
    by bisection on log C between the smallest C with a non-zero coefficient and 1e4 x it."""
    d = X.shape[1]
    target = max(1, round(fraction * d))
    r = y - y.mean()
    c_min = 1.0 / np.abs(np.asarray(X.T @ r).ravel()).max()

    def nnz(C):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return int(np.count_nonzero(ours(X, y, C, 1e-6)[:-1]))

    lo, hi = np.log(c_min), np.log(c_min * 1e4)
    best = (np.inf, c_min, 0)
    for _ in range(14):
        mid = 0.5 * (lo + hi)
        k = nnz(np.exp(mid))
        best = min(best, (abs(k - target), float(np.exp(mid)), k))
        if k == target:
            break
        if k < target:
            lo = mid
        else:
            hi = mid
    return best[1], best[2]


def kkt(X, y, theta, C):
    """inf-norm of the minimum-norm subgradient of F at theta, in NumPy (common.pointwise)."""
    w, b = theta[:-1], float(theta[-1])
    _, sig = common.pointwise(y, np.asarray(X @ w).ravel() + b)
    r = C * (sig - y)
    g = np.asarray(X.T @ r).ravel()
    sub = np.where(w != 0, g + np.sign(w), np.sign(g) * np.maximum(np.abs(g) - 1.0, 0.0))
    return float(max(np.abs(sub).max(initial=0.0), abs(r.sum())))


def reference(X, y, C):
    """F* and the checks: our F at tols 1e-12 and 1e-8 with the optimality measure computed
    here, LIBLINEAR -s 6 at -e 1e-10 as the independent solve, supports."""
    from benchmarks.runners import liblinear_problem

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        th_ours = ours(X, y, C, 1e-12)
        t_ours = time.perf_counter() - t0
        th_8 = ours(X, y, C, 1e-8)
        t0 = time.perf_counter()
        th_ll = liblinear_fit(liblinear_problem(X, y), C, 1e-10)
        t_ll = time.perf_counter() - t0
    F_ours, F_ll = l1_objective(X, y, th_ours, C), l1_objective(X, y, th_ll, C)
    fstar = min(F_ours, F_ll)
    sup_ref = (th_ll if F_ll <= F_ours else th_ours)[:-1] != 0
    sup_8 = th_8[:-1] != 0
    return {"F*": fstar, "F ours 1e-12": F_ours, "F liblinear 1e-10": F_ll,
            "disagreement": (F_ll - F_ours) / fstar, "t ours 1e-12": t_ours,
            "t liblinear 1e-10": t_ll,
            "kkt ours 1e-12": kkt(X, y, th_ours, C) / max(1.0, kkt(X, y, 0 * th_ours, C)),
            "ours 1e-8 rel": (l1_objective(X, y, th_8, C) - fstar) / fstar,
            "nnz ref": int(sup_ref.sum()), "nnz ours 1e-8": int(sup_8.sum()),
            "support diff": int((sup_ref != sup_8).sum()),
            "support ref": np.flatnonzero(sup_ref).tolist()}


def _show(ref):
    return {k: v for k, v in ref.items() if k != "support ref"}


def recheck(X, y, C, ref):
    """``ref`` with the columns on our tol-1e-8 fit recomputed (the stored reference may
    predate the solver under test)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        th_8 = ours(X, y, C, 1e-8)
    sup_ref = np.zeros(X.shape[1], dtype=bool)
    sup_ref[ref["support ref"]] = True
    sup_8 = th_8[:-1] != 0
    return {**ref, "ours 1e-8 rel": (l1_objective(X, y, th_8, C) - ref["F*"]) / ref["F*"],
            "nnz ours 1e-8": int(sup_8.sum()), "support diff": int((sup_ref != sup_8).sum())}


def en_reference(X, y, C):
    """Elastic net (l1_ratio EN_RATIO): F* = the smaller F of ours at tol 1e-12 and
    scikit-learn's saga at tol 1e-10 (at most SAGA_REF_EPOCHS epochs: on mushrooms 20,000
    epochs took 6 minutes and stopped 4e-5 above ours), and how far apart they are."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        th_ours = ours(X, y, C, 1e-12, EN_RATIO)
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        th_saga = saga_fit(X, y, C, 1e-10, max_iter=SAGA_REF_EPOCHS)
        t_saga = time.perf_counter() - t0
    F_ours = l1_objective(X, y, th_ours, C, EN_RATIO)
    F_saga = l1_objective(X, y, th_saga, C, EN_RATIO)
    return {"F*": min(F_ours, F_saga), "F ours 1e-12": F_ours, "F saga 1e-10": F_saga,
            "disagreement": (F_saga - F_ours) / min(F_ours, F_saga), "t ours 1e-12": t_ours,
            "t saga 1e-10": t_saga}


def en_race(args):
    """The elastic-net table: ours against saga at C = 1."""
    lines = []
    for name in args.datasets:
        X, y = load_shared(name)
        ref = _cached(_key(name, X, f"EN {EN_RATIO} C=1.0"), lambda: en_reference(X, y, 1.0))
        print(f"# EN {name}: {ref}", file=sys.stderr, flush=True)
        if args.prepare:
            continue
        fits = {"fastlogit l1": (functools.partial(ours, X, y, 1.0, l1_ratio=EN_RATIO), LADDER),
                "scikit-learn saga": (functools.partial(saga_fit, X, y, 1.0), LADDER)}
        for fit, _ in fits.values():  # imports and JIT compilation outside the timings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit(1e-1)
        res = race(fits, functools.partial(l1_objective, X, y, C=1.0,
                                                   l1_ratio=EN_RATIO),
                           ref["F*"], args.target, args.repeats, settle_s=args.settle,
                           cap_s=args.cap)
        mine, other = res["fastlogit l1"][0], res["scikit-learn saga"]
        ratio = (f"{other[0] / mine:.1f}x" if other[0] is not None and mine else
                 f"> {args.cap / mine:.0f}x (saga: {other[1]})" if mine else "-")
        cells = [f"{v[0]:.4f} ({v[1]:g})" if v[0] is not None else v[1] for v in res.values()]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {ratio} | {ref['F*']:.10g} | "
                     f"{ref['disagreement']:.1e} |")
        print(f"# EN {name}: {res}", file=sys.stderr, flush=True)
    if args.prepare:
        return
    print(f"Elastic net (l1_ratio {EN_RATIO}), C = 1: seconds to relative suboptimality "
          f"{args.target:g}, median of {args.repeats} (tolerance in parentheses); saga "
          f"capped at {args.cap:g} s per fit.\n")
    print("| set | fastlogit l1 | scikit-learn saga | saga / ours | F* | "
          "(F saga 1e-10 - F ours 1e-12) / F* |")
    print("|---|---|---|---|---|---|")
    print("\n".join(lines))


def multinomial_check(args):
    """Multinomial L1 (C = 1, all classes, intercepts): our fit at ``--mn-tol``, one run per
    set (seconds, F, optimality measure recomputed here in NumPy, non-zeros); a convergence
    check, not a race (no other library here solves this problem in comparable time)."""
    from fastlogit.objective import Objective
    from fastlogit.solvers import solve
    from fastlogit.solvers.l1 import softmax_l1_optimality

    print(f"Multinomial L1, C = 1, tol {args.mn_tol:g}, one fit each.\n")
    print("| set | classes | seconds (CPU) | steps | converged | optimality measure (NumPy) / "
          "threshold | F | non-zero coefficients |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.datasets:
        X, labels = load_shared(name, binary=False)
        classes = np.unique(labels)
        Y = (labels[:, None] == classes[None, :]).astype(np.float64)
        ob = Objective(X, Y, C=1.0, penalty="l1")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0, c0 = time.perf_counter(), time.process_time()
            res = solve(ob, "l1", tol=args.mn_tol, max_iter=MAX_ITER)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        measure = softmax_l1_optimality(X, Y, res.theta)
        thr = args.mn_tol * max(1.0, softmax_l1_optimality(X, Y, np.zeros(ob.n_params)))
        print(f"| {name} | {Y.shape[1]} | {wall:.2f} ({cpu:.2f}) | {res.n_iter} | "
              f"{res.converged} | {measure:.3e} / {thr:.3e} | {ob.value(res.theta):.10g} | "
              f"{np.count_nonzero(ob.layout.coef(res.theta))} |", flush=True)


CACHE = Path(__file__).resolve().parent / "results" / "l1_reference.json"


def _cached(key, compute):
    """``compute()`` stored in :data:`CACHE` under ``key`` (JSON; written atomically)."""
    table = json.loads(CACHE.read_text()) if CACHE.exists() else {}
    if key in table:
        return table[key]
    value = compute()
    table = json.loads(CACHE.read_text()) if CACHE.exists() else {}
    table[key] = value
    tmp = CACHE.with_suffix(".tmp")
    tmp.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, CACHE)
    return value


def _key(name, X, what):
    return f"{name}|{X.shape[0]}x{X.shape[1]}|{X.nnz}|{what}"


def cached_c_keeping(name, X, y):
    return tuple(_cached(_key(name, X, "C 1%"), lambda: list(c_keeping(X, y))))


def cached_reference(name, X, y, C):
    return _cached(_key(name, X, f"C={C!r}"), lambda: reference(X, y, C))


def warm_up(X, y):
    """JIT compilation and imports outside any timing: one loose fit of each on 300 rows."""
    Xs, ys = X[:300], y[:300]
    if ys.min() == ys.max():
        ys = ys.copy()
        ys[0] = 1.0 - ys[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fit, _ in prepared(Xs, ys, 1.0).values():
            fit(1e-2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--target", type=float, default=1e-6)
    parser.add_argument("--settle", type=float, default=0.2)
    parser.add_argument("--cap", type=float, default=30.0)
    parser.add_argument("--no-C1", action="store_true", help="skip C = 1")
    parser.add_argument("--no-sparse-C", action="store_true", help="skip the 1 %% C")
    parser.add_argument("--prepare", action="store_true",
                        help="only compute and store the 1 %% C and the reference solves "
                             "(no timings, no lock needed)")
    parser.add_argument("--ablation", action="store_true",
                        help="time the l1 solver's variants (VARIANTS) instead of the "
                             "libraries")
    parser.add_argument("--elasticnet", action="store_true",
                        help=f"the elastic-net race (l1_ratio {EN_RATIO}, C = 1) against "
                             "scikit-learn's saga instead")
    parser.add_argument("--check-only", action="store_true",
                        help="only the correctness columns (F*, ours at tol 1e-8, supports): "
                             "no timings, no lock needed")
    parser.add_argument("--multinomial", action="store_true",
                        help="instead: one multinomial L1 fit per set (all classes, C = 1) "
                             "at --mn-tol, checked in NumPy")
    parser.add_argument("--mn-tol", type=float, default=1e-4)
    args = parser.parse_args(argv)
    if args.elasticnet:
        return en_race(args)
    if args.multinomial:
        return multinomial_check(args)
    lines = []
    names = None
    for name in args.datasets:
        X, y = load_shared(name)
        warm_up(X, y)
        Cs = [] if args.no_C1 else [(1.0, "1")]
        if not args.no_sparse_C:
            C1, k = cached_c_keeping(name, X, y)
            Cs.append((C1, f"{C1:.4g} (1 %: {k} of {X.shape[1]})"))
        for C, label in Cs:
            ref = cached_reference(name, X, y, C)
            if args.prepare:
                print(f"# {name} C={label}: {_show(ref)}", file=sys.stderr, flush=True)
                continue
            ref = recheck(X, y, C, ref)
            if args.check_only:
                lines.append(f"| {name} | {label} | {ref['F*']:.10g} | "
                             f"{ref['kkt ours 1e-12']:.1e} | {ref['disagreement']:.1e} | "
                             f"{ref['ours 1e-8 rel']:.1e} | {ref['nnz ref']} / "
                             f"{ref['nnz ours 1e-8']} ({ref['support diff']}) | "
                             f"{ref['t ours 1e-12']:.2f} / {ref['t liblinear 1e-10']:.2f} |")
                print(f"# {name} C={label}: {_show(ref)}", file=sys.stderr, flush=True)
                continue
            fits = (prepared(X, y, C) if not args.ablation else
                    {k: (functools.partial(ours, X, y, C, **v), LADDER)
                     for k, v in VARIANTS.items()})
            names = names or list(fits)
            res = race(fits, functools.partial(l1_objective, X, y, C=C), ref["F*"],
                               args.target, args.repeats, settle_s=args.settle,
                               cap_s=args.cap)
            ok = {k: v[0] for k, v in res.items() if v[0] is not None}
            me = "default" if args.ablation else "fastlogit l1"
            best_other = min((v for k, v in ok.items() if k != me), default=None)
            mine = ok.get(me)
            ratio = (f"{best_other / mine:.2f}x" if best_other is not None and mine
                     else f"> {args.cap / mine:.0f}x (none reached it)" if mine else "-")
            cells = [f"{v[0]:.4f} ({v[1]:g})" if v[0] is not None else v[1]
                     for v in res.values()]
            lines.append(f"| {name} | {label} | " + " | ".join(cells) + f" | {ratio} | "
                         f"{ref['F*']:.10g} | {ref['disagreement']:.1e} | "
                         f"{ref['ours 1e-8 rel']:.1e} | {ref['nnz ref']} / "
                         f"{ref['nnz ours 1e-8']} ({ref['support diff']}) |")
            print(f"# {name} C={label}: " + "; ".join(
                f"{k}: {v[0]:.4f}s (tol {v[1]:g})" if v[0] is not None else f"{k}: {v[1]}"
                for k, v in res.items()) + f"; ref {_show(ref)}", file=sys.stderr, flush=True)
    if args.prepare:
        return
    if args.check_only:
        head = ("| set | C | F* | ours at 1e-12: optimality measure (NumPy) / ref | "
                "(F LIBLINEAR 1e-10 - F ours 1e-12) / F* | ours at tol 1e-8: (F - F*)/F* | "
                "nnz reference / ours 1e-8 (differing) | seconds ours 1e-12 / LIBLINEAR 1e-10 "
                "(untimed run) |")
        print(head)
        print("|" + "---|" * (head.count("|") - 1))
        print("\n".join(lines))
        return
    head = ("| set | C | " + " | ".join(names or []) + " | best other / ours | F* | "
            "(F LIBLINEAR 1e-10 - F ours 1e-12) / F* | ours at tol 1e-8: (F - F*)/F* | "
            "nnz reference / ours 1e-8 (differing) |")
    print(f"Seconds to relative suboptimality {args.target:g}, L1 (F = C sum log-loss + "
          f"||w||_1, intercept unpenalised), median of {args.repeats} (in parentheses the "
          f"tolerance that reached it); celer with a constant column of {CELER_BIAS:g}.\n")
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
