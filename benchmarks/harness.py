"""How the benchmarks measure: F*, the tolerance ladders, the timing protocols, the watchdog.

F* (the optimum every solver is scored against):

- :func:`reference_optimum` (compare.py): two independent tight solves, LIBLINEAR at eps
  1e-12 and SciPy's trust-ncg on our NumPy objective, cross-checked; cached by
  :func:`cached_reference` in ``results/fstar.json``.
- :func:`our_optimum` (solver_race.py): fastlogit's trust-region and newton-cholesky at tol
  1e-13 (the smaller F wins).

Two timing protocols:

- compare.py (:func:`run_dataset`): each data set in a worker process; every runner walks its
  ladder from loose to tight after an untimed warm-up fit; the first level reaching each of
  :data:`THRESHOLDS` is re-timed ``repeats`` times right away.  A watchdog in the parent
  kills the worker when a fit runs past the cap and restarts it on the next runner.
- solver_race.py (:func:`race`): the first tolerance of each solver's ladder that reaches the
  target is found first; then ``repeats`` rounds time every solver once each, in turn, each
  timed fit being the second of two back-to-back fits after a busy-wait (:func:`settle`).
"""
import json
import multiprocessing as mp
import os
import queue
import statistics
import subprocess
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from benchmarks import common, runners

#: Relative suboptimalities (F - F*) / F* that compare.py reports the time to.
THRESHOLDS = (1e-4, 1e-6, 1e-8)


# ============================================================================= F*
def _newton_reference(X, y, C, gtol_rel=1e-11, theta0=None):
    """Our own trust-region Newton-CG (scipy trust-ncg) on the NumPy objective."""
    from scipy.optimize import minimize

    d = X.shape[1]
    Xt = X.T.tocsr() if sp.issparse(X) else X.T

    state = {}

    def fg(theta):
        w, b = theta[:d], theta[d]
        z = np.asarray(X @ w).ravel() + b
        loss, sig = common.pointwise(y, z)
        r = C * (sig - y)
        state["h"] = C * sig * (1.0 - sig)
        g = np.empty(d + 1)
        g[:d] = np.asarray(Xt @ r).ravel() + w
        g[d] = r.sum()
        return float(C * loss.sum() + 0.5 * w @ w), g

    def hessp(theta, v):
        h = state["h"]
        u = h * (np.asarray(X @ v[:d]).ravel() + v[d])
        out = np.empty(d + 1)
        out[:d] = np.asarray(Xt @ u).ravel() + v[:d]
        out[d] = u.sum()
        return out

    theta0 = np.zeros(d + 1) if theta0 is None else theta0
    g0 = np.abs(fg(theta0)[1]).max()
    res = minimize(fg, theta0, jac=True, hessp=hessp, method="trust-ncg",
                   options={"gtol": gtol_rel * max(1.0, g0), "maxiter": 500})
    return res.x[:d], float(res.x[d])


def reference_optimum(X, y, C=1.0):
    """F* by two independent tight solves (LIBLINEAR's Newton at eps 1e-12 and SciPy's
    trust-ncg on our NumPy objective, gradient 1e-11 relative); returns a dict with both
    values, their relative disagreement, the minimum (used as F*) and timings."""
    out = {}
    t = time.perf_counter()
    w1, b1 = runners.liblinear_solve(runners.liblinear_problem(X, y), C, 1e-12)
    out["liblinear_time"] = time.perf_counter() - t
    out["F_liblinear"] = common.objective(X, y, w1, b1, C)
    t = time.perf_counter()
    w2, b2 = _newton_reference(X, y, C)
    out["trustncg_time"] = time.perf_counter() - t
    out["F_trustncg"] = common.objective(X, y, w2, b2, C)
    f_star = min(out["F_liblinear"], out["F_trustncg"])
    out["F_star"] = f_star
    out["rel_disagreement"] = abs(out["F_liblinear"] - out["F_trustncg"]) / abs(f_star)
    _, gw, gb = common.objective_grad(X, y, *(w1, b1) if out["F_liblinear"] <= out["F_trustncg"]
                                      else (w2, b2), C)
    out["grad_inf_at_star"] = float(max(np.abs(gw).max(initial=0.0), abs(gb)))
    return out


def cached_reference(name, X, y, C=1.0, path=None, refresh=False):
    """:func:`reference_optimum`, stored in ``benchmarks/results/fstar.json`` keyed by the
    data file's name, size and C (so a rerun skips the tight solves)."""
    path = Path(path) if path else common.RESULTS_DIR / "fstar.json"
    src = common.dataset_source(name)
    key = (f"{common.dataset_label(name)}|{os.path.getsize(src)}|{X.shape[0]}x{X.shape[1]}"
           f"|{X.nnz}|C={C!r}")
    table = json.loads(path.read_text()) if path.exists() else {}
    if key in table and not refresh:
        return table[key]
    ref = reference_optimum(X, y, C)
    table = json.loads(path.read_text()) if path.exists() else {}
    table[key] = ref
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return ref


def our_optimum(X, y, C):
    """(F*, Objective): the smaller F of fastlogit's trust-region and (for d up to
    ``runners.MAX_DENSE_HESSIAN_D``) newton-cholesky at tol 1e-13."""
    from fastlogit.objective import Objective
    from fastlogit.solvers import SOLVERS

    ob = Objective(X, y, C=C)
    names = ["trust-region"] + (
        ["newton-cholesky"] if X.shape[1] <= runners.MAX_DENSE_HESSIAN_D else [])
    vals = []
    for name in names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = SOLVERS[name](ob, np.zeros(ob.n_params), tol=1e-13, max_iter=500)
        vals.append(ob.value(res.theta))
    return min(vals), ob


# ============================================================================= race protocol
def settle(seconds):
    """Busy-wait (the core stays clocked up; a sleep lets it clock down and slows the next
    fits) while the previous library's spinning OpenMP / OpenBLAS threads, if any, go idle
    on the other cores."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def timed_fit(fit, level, settle_s):
    """Seconds of ``fit(level)``: the second of two back-to-back calls after
    ``settle(settle_s)``, so that the data is in the caches and this library's own thread
    pool is up, as in a loop of fits, and no other library's threads hold a core."""
    settle(settle_s)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit(level)
        t0 = time.perf_counter()
        fit(level)
        return time.perf_counter() - t0


def tol_to_target(fit, ladder, value, fstar, goal, cap_s):
    """(tol, None): the first tol of ``ladder`` whose ``fit(tol)`` (a parameter vector) has
    ``(value(theta) - fstar) / fstar <= goal``; or (None, reason) when the ladder ends or a
    fit takes longer than ``cap_s`` seconds first."""
    for tol in ladder:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            theta = fit(tol)
            elapsed = time.perf_counter() - t0
        if (value(theta) - fstar) / fstar <= goal:
            return tol, None
        if elapsed > cap_s:
            return None, f"> {cap_s:.0f}s at tol {tol:g}"
    return None, "not reached"


def race(fits, value, fstar, goal, repeats, settle_s=0.2, cap_s=20.0):
    """{name: (median seconds, tol) or (None, reason)} for ``fits`` = {name: (fit, ladder)},
    ``fit(tol)`` returning a parameter vector that ``value`` scores.

    The tolerances are found first (:func:`tol_to_target`); then ``repeats`` rounds time
    every solver once each (:func:`timed_fit`), in turn, so that the machine's slow spells
    fall on all of them alike."""
    tols = {name: tol_to_target(fit, ladder, value, fstar, goal, cap_s)
            for name, (fit, ladder) in fits.items()}
    times = {name: [] for name, (tol, _) in tols.items() if tol is not None}
    for _ in range(repeats):
        for name in times:
            times[name].append(timed_fit(fits[name][0], tols[name][0], settle_s))
    return {name: ((statistics.median(times[name]), tol) if tol is not None else (None, why))
            for name, (tol, why) in tols.items()}


# ============================================================================= compare protocol
def level_name(runner_name):
    """What a level of this row's ladder is: "epochs" (SGD) or "tol"."""
    return "epochs" if runner_name == runners.SklearnSGD.name else "tol"


def ladder_key(runner_name, level):
    """Sort key going loose -> tight: tolerances as they decrease, epochs as they increase."""
    return level if runner_name == runners.SklearnSGD.name else -level


def _timed_fit(runner, ctx, level, X, y, C):
    t0 = time.perf_counter()
    w, b = runner.fit(ctx, level)
    elapsed = time.perf_counter() - t0
    return elapsed, common.objective(X, y, w, b, C)


def _walk_ladder(runner, ctx, X, y, C, f_star, repeats, q):
    """Fit ``runner`` at each level of its ladder (after one untimed warm-up fit) until the
    tightest threshold is reached or the solution stops moving; every step goes to ``q``."""
    levels = list(runner.levels)
    name = runner.name
    q.put(("start", name, "warm-up", 0))
    t, F = _timed_fit(runner, ctx, levels[0], X, y, C)
    q.put(("warmup", name, levels[0], t))
    same = 0
    prev_F = None
    reached = 0  # thresholds reached so far
    for level in levels:
        q.put(("start", name, level, 0))
        t, F = _timed_fit(runner, ctx, level, X, y, C)
        q.put(("run", name, level, 0, t, F))
        s = (F - f_star) / abs(f_star)
        # the first level reaching a new threshold is timed `repeats` times right away (a
        # later cap kill cannot cost the table its medians)
        new = sum(s <= thr for thr in THRESHOLDS)
        if new > reached:
            reached = new
            for rep in range(1, repeats):
                q.put(("start", name, level, rep))
                t, F = _timed_fit(runner, ctx, level, X, y, C)
                q.put(("run", name, level, rep, t, F))
        if s <= min(THRESHOLDS):
            break
        if prev_F is not None and abs(F - prev_F) <= 1e-15 * abs(f_star):
            same += 1
            if same >= 2 and runner.level_name == "tol":
                break  # three tolerances gave the same solution: the solver's floor
        else:
            same = 0
        prev_F = F


def _worker(spec, q):
    """Run the ladder of each runner in ``spec['runners']`` on one data set; report every
    step through ``q`` (the parent enforces the time cap and may kill this process)."""
    common.set_thread_env(spec["n_threads"])
    limiter = common.limit_threads(spec["n_threads"])  # noqa: F841 - keep the limit alive
    warnings.simplefilter("ignore")
    X, y = common.load_dataset(spec["dataset"])
    C, f_star = spec["C"], spec["f_star"]
    table = runners.all_runners()
    for name in spec["runners"]:
        runner = table[name]
        try:
            ctx = runner.prepare(X, y, C, spec["n_threads"])
        except runners.Unavailable as exc:
            q.put(("skip", name, str(exc)))
            continue
        except Exception as exc:  # a library that cannot take this input
            q.put(("error", name, None, f"prepare: {type(exc).__name__}: {exc}"))
            continue
        try:
            _walk_ladder(runner, ctx, X, y, C, f_star, spec["repeats"], q)
        except Exception as exc:
            msg = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
            q.put(("error", name, None, msg, traceback.format_exc(limit=3)))
        q.put(("runner_done", name))
    q.put(("worker_done",))


def run_dataset(dataset, runner_names, *, C, f_star, cap, repeats, n_threads, log):
    """Run all runners on one data set with a per-fit cap of ``cap`` seconds; returns
    {runner: record} with the record's "runs" (level, rep, time, F), "warmup", "status"
    ("ok", "n/a", "capped" or "failed") and "note"."""
    records = {n: {"runs": [], "warmup": None, "status": "ok", "note": ""} for n in runner_names}
    remaining = list(runner_names)
    mpctx = mp.get_context("spawn")
    while remaining:
        q = mpctx.Queue()
        spec = {"dataset": dataset, "runners": remaining, "C": C, "f_star": f_star,
                "repeats": repeats, "n_threads": n_threads}
        proc = mpctx.Process(target=_worker, args=(spec, q), daemon=True)
        proc.start()
        try:
            remaining = _watch(proc, q, records, remaining, cap, f_star, log)
        finally:  # interrupted (Ctrl-C, SIGTERM): never leave a worker behind
            if proc.is_alive():
                proc.kill()
                proc.join()
    return records


def _fail_rest(records, names, note):
    for name in names:
        records[name]["status"] = "failed"
        records[name]["note"] = note


def _watch(proc, q, records, remaining, cap, f_star, log):
    """Follow one worker's messages until it finishes, dies or runs past the cap; returns
    the runners still to do."""
    current, started = None, None
    while True:
        try:
            msg = q.get(timeout=0.2)
        except queue.Empty:
            if current is not None and time.monotonic() - started > cap:
                proc.kill()
                proc.join()
                name, level = current
                records[name]["status"] = "capped"
                records[name]["note"] = f"> {cap:g} s at {level} {level_name(name)}"
                log(f"  {name}: killed after {cap:g} s at level {level}")
                return remaining[remaining.index(name) + 1:]
            if not proc.is_alive():
                proc.join()
                note = f"worker died (exit code {proc.exitcode})"
                if current is None:
                    _fail_rest(records, remaining, note)
                    return []
                _fail_rest(records, [current[0]], note)
                return remaining[remaining.index(current[0]) + 1:]
            continue
        kind = msg[0]
        if kind == "start":
            current, started = (msg[1], msg[2]), time.monotonic()
        elif kind == "warmup":
            records[msg[1]]["warmup"] = {"level": msg[2], "time": msg[3]}
            current = None
        elif kind == "run":
            _, name, level, rep, t, F = msg
            records[name]["runs"].append({"level": level, "rep": rep, "time": t, "F": F})
            current = None
            if rep == 0:
                log(f"  {name:28s} {level_name(name)}={level:<8g} {t:8.3f} s  "
                    f"subopt {(F - f_star) / abs(f_star):.2e}")
        elif kind == "skip":
            records[msg[1]]["status"] = "n/a"
            records[msg[1]]["note"] = msg[2]
            log(f"  {msg[1]}: n/a ({msg[2]})")
        elif kind == "error":
            records[msg[1]]["status"] = "failed"
            records[msg[1]]["note"] = msg[3]
            log(f"  {msg[1]}: FAILED {msg[3]}")
            if len(msg) > 4:
                log("    " + msg[4].strip().replace("\n", "\n    "))
            current = None
        elif kind == "runner_done":
            remaining.remove(msg[1])
            current = None
        elif kind == "worker_done":
            proc.join()
            return []


def summarise(records, f_star):
    """Per runner: the ladder as (level, median time, subopt, n repeats) and the time to
    each threshold (median over repeats) or None."""
    out = {}
    for name, rec in records.items():
        by_level = {}
        for run in rec["runs"]:
            by_level.setdefault(run["level"], []).append(run)
        ladder = []
        for level, runs in by_level.items():
            times = [r["time"] for r in runs]
            F = min(r["F"] for r in runs)
            ladder.append({"level": level, "time": float(np.median(times)), "n": len(times),
                           "subopt": (F - f_star) / abs(f_star)})
        ladder.sort(key=lambda p: p["time"])
        to_thr = {}
        ordered = sorted(ladder, key=lambda p: ladder_key(name, p["level"]))
        # the worker re-ran the first level (in ladder order) reaching each threshold; the
        # time to a threshold is the fastest of those re-run levels that reach it (so a
        # tighter threshold never shows a smaller time than a looser one)
        firsts = []
        for thr in THRESHOLDS:
            hit = next((p for p in ordered if p["subopt"] <= thr), None)
            if hit is not None and hit not in firsts:
                firsts.append(hit)
        for thr in THRESHOLDS:
            hits = [p for p in firsts if p["subopt"] <= thr]
            to_thr[thr] = min(hits, key=lambda p: p["time"]) if hits else None
        best = min((p["subopt"] for p in ladder), default=None)
        out[name] = {"ladder": ladder, "to": to_thr, "best": best, "status": rec["status"],
                     "note": rec["note"], "warmup": rec["warmup"]}
    return out


# ============================================================================= kernel table
def run_kernel_table(n_threads, quick, timeout=900):
    """The kernel throughput table of ``benchmarks/bench_kernels.py`` (the one place that
    measures it), run in its own process with a ``timeout`` in seconds: ``{"command",
    "markdown"}`` (its Markdown output) or ``{"command", "error"}``."""
    script = Path(__file__).resolve().parent / "bench_kernels.py"
    args = ["--n-threads", str(n_threads)] + (["--quick", "--sets", "a9a"] if quick else [])
    command = "python benchmarks/bench_kernels.py " + " ".join(args)
    try:
        proc = subprocess.run([sys.executable, str(script), *args], capture_output=True,
                              text=True, timeout=timeout, cwd=str(common.ROOT))
    except subprocess.TimeoutExpired:
        return {"command": command, "error": f"timed out after {timeout} s"}
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return {"command": command,
                "error": f"exit code {proc.returncode}: " + " / ".join(tail)}
    return {"command": command, "markdown": proc.stdout.strip()}
