"""Race on news20 (20 classes): softmax and one-vs-rest, time to relative suboptimality 1e-6.

Two objectives, both with C = 1, L2 on the coefficients, intercepts unpenalised:

- softmax:  F(W, b) = C * sum_i [logsumexp(z_i) - z_i[y_i]] + 1/2 ||W||^2,  z_i = W x_i + b;
  fastlogit's LogisticRegression (its softmax solvers; 1 and 2 kernel threads) against
  scikit-learn's LogisticRegression (lbfgs, newton-cg, saga: all multinomial for K > 2).
- one-vs-rest: the sum over classes k of the binary objectives of "k" against the rest;
  fastlogit's OneVsRestLogisticRegression against LIBLINEAR ``-s 0 -B 1 -R`` with the 20
  labels (its own one-vs-rest), whose ``problem`` is built outside the timing.

F* is fastlogit's L-BFGS at tol 1e-10 (cached in ``--state``; a runner that ends below it
shows a negative suboptimality).  Every fit is
scored by one NumPy evaluation of the objective (``benchmarks.common``-style, float64, from
the fitted coefficients).  For each runner the tolerance ladder is walked from loose to
tight, each fit timed; the first tolerance whose solution reaches the target is then timed
``--repeats - 1`` more times and the median of all its fits is reported (wall seconds, and
the process CPU seconds beside them).  A runner stops at the first fit longer than
``--cap`` seconds (reported as "> cap").

The parts run as separate commands (``--part``), so that each holds the benchmark lock for
a few minutes (``--reuse-tol`` times a runner again at the tolerance an earlier walk found,
so that a slow runner's walk and its repeats can be two lock holds); results accumulate in
``--state`` (JSON) and ``--report`` writes the table::

    FASTLOGIT_BENCH=1 flock -x /tmp/fastlogit-bench.lock \
        python benchmarks/softmax_race.py --part fstar ours sklearn-lbfgs
    ... --part sklearn-newton-cg sklearn-saga ovr
    python benchmarks/softmax_race.py --report benchmarks/results/softmax_race.md

``--rows N`` takes the first N rows (exploration); the table states the rows used.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.shared_data import load_shared  # noqa: E402

OUR_LADDER = (1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6, 3e-7, 1e-7, 1e-8, 1e-9, 1e-10)
SK_LADDER = (1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10)
LIBLINEAR_LADDER = (1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 1e-6, 1e-7)
OUR_SOLVERS = ("auto", "lbfgs", "newton-cg", "trust-region")
PARTS = ("fstar", "fstar-ovr", "ours", "sklearn-lbfgs", "sklearn-newton-cg", "sklearn-saga", "ovr")
MAX_ITER = 100_000


# ----------------------------------------------------------------------------- objectives
def softmax_value(X, y, coef, intercept, C):
    """F of the softmax model (coef (K, d), intercept (K,)), float64 NumPy."""
    Z = np.asarray(X @ coef.T, dtype=np.float64) + intercept
    m = Z.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(Z - m).sum(axis=1))
    loss = lse - Z[np.arange(len(y)), y]
    return float(C * loss.sum() + 0.5 * np.sum(coef.astype(np.float64) ** 2))


def ovr_value(X, y, coef, intercept, C):
    """Sum over classes k of the binary F of class k against the rest."""
    Z = np.asarray(X @ coef.T, dtype=np.float64) + intercept
    Yk = (y[:, None] == np.arange(coef.shape[0])[None, :]).astype(np.float64)
    loss = np.logaddexp(0.0, Z) - Yk * Z
    return float(C * loss.sum() + 0.5 * np.sum(coef.astype(np.float64) ** 2))


# ----------------------------------------------------------------------------- runners
def ours_softmax(solver, n_threads):
    def fit(X, y, C, tol):
        from fastlogit import LogisticRegression

        m = LogisticRegression(C=C, solver=solver, tol=tol, max_iter=MAX_ITER,
                               n_threads=n_threads).fit(X, y)
        return m.coef_, m.intercept_, getattr(m, "solver_", solver)
    return fit


def sklearn_softmax(solver):
    def fit(X, y, C, tol):
        from sklearn.linear_model import LogisticRegression

        m = LogisticRegression(C=C, solver=solver, tol=tol, max_iter=MAX_ITER).fit(X, y)
        return m.coef_, m.intercept_, solver
    return fit


def ours_ovr(n_threads):
    def fit(X, y, C, tol):
        from fastlogit import OneVsRestLogisticRegression

        m = OneVsRestLogisticRegression(C=C, tol=tol, max_iter=MAX_ITER,
                                        n_threads=n_threads).fit(X, y)
        return m.coef_, m.intercept_, m.solver_
    return fit


def liblinear_ovr(prob, K):
    def fit(X, y, C, eps):
        from liblinear.liblinearutil import parameter, train

        model = train(prob, parameter(f"-s 0 -B 1 -R -c {C!r} -e {eps!r} -q"))
        labels = [int(v) for v in model.get_labels()]
        coef = np.zeros((K, X.shape[1]))
        intercept = np.zeros(K)
        for idx, label in enumerate(labels):
            w, b = model.get_decfun(idx)
            coef[label, :len(w)] = w
            intercept[label] = b
        return coef, intercept, "-s 0"
    return fit


# ----------------------------------------------------------------------------- protocol
def _timed(fit, X, y, C, tol):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c0, t0 = time.process_time(), time.perf_counter()
        coef, intercept, solver = fit(X, y, C, tol)
        return time.perf_counter() - t0, time.process_time() - c0, coef, intercept, solver


def to_target(name, fit, ladder, value, fstar, X, y, C, target, repeats, cap,
              save=lambda rec: None):
    """One runner's record: the ladder walk, then the repeats at the first tol reaching
    ``target`` (module docstring).  ``save(partial record)`` is called after every fit of the
    walk, so that a run stopped by its time limit keeps what it measured."""
    walk = []
    for tol in ladder:
        wall, cpu, coef, intercept, solver = _timed(fit, X, y, C, tol)
        sub = (value(X, y, coef, intercept, C) - fstar) / fstar
        walk.append({"tol": tol, "wall": wall, "cpu": cpu, "subopt": sub, "solver": solver})
        print(f"  {name} tol {tol:g}: {wall:.3f}s (cpu {cpu:.3f}s) subopt {sub:.3g} "
              f"[{solver}]", file=sys.stderr, flush=True)
        save({"tol": None, "why": f"interrupted after tol {tol:g} (subopt {sub:.2g}, "
                                  f"{wall:.0f} s)", "walk": walk})
        if sub <= target:
            walls, cpus = [wall], [cpu]
            for _ in range(repeats - 1):
                w, c = _timed(fit, X, y, C, tol)[:2]
                walls.append(w)
                cpus.append(c)
            return {"tol": tol, "wall": statistics.median(walls), "cpu": statistics.median(cpus),
                    "walls": walls, "cpus": cpus, "solver": solver, "walk": walk}
        if wall > cap:
            return {"tol": None, "why": f"> {cap:g} s (tol {tol:g}: subopt {sub:.2g})",
                    "walk": walk}
    return {"tol": None, "why": "not reached", "walk": walk}


def machine_load():
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


# ----------------------------------------------------------------------------- main
def run_parts(args):
    state_path = Path(args.state)
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    X, y = load_shared("news20", binary=False)
    if args.rows:
        X, y = X[:args.rows], y[:args.rows]
    y = y.astype(np.int64)
    K = int(y.max()) + 1
    C = args.C
    key = f"rows={X.shape[0]} C={C:g}"
    entry = state.setdefault(key, {"shape": list(X.shape), "classes": K, "runs": {}})
    for part in args.part:
        print(f"# {part} ({key}), load {machine_load()}", file=sys.stderr, flush=True)
        started = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                   "commit": commit(), "load_before": machine_load()}
        if part in ("fstar", "fstar-ovr"):
            # L-BFGS at tol 1e-10 (relative to the gradient at 0): trust-region at 1e-12 did
            # not finish within a lock hold on the full set
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if part == "fstar":
                    from fastlogit import LogisticRegression

                    m = LogisticRegression(C=C, solver="lbfgs", tol=args.fstar_tol,
                                           max_iter=MAX_ITER).fit(X, y)
                    entry["fstar_softmax"] = softmax_value(X, y, m.coef_, m.intercept_, C)
                else:
                    from fastlogit import OneVsRestLogisticRegression

                    m = OneVsRestLogisticRegression(C=C, tol=args.fstar_tol, solver="lbfgs",
                                                    max_iter=MAX_ITER).fit(X, y)
                    entry["fstar_ovr"] = ovr_value(X, y, m.coef_, m.intercept_, C)
            entry[f"{part}_how"] = f"lbfgs tol {args.fstar_tol:g}, converged {m.converged_}"
            print(f"  {part}: {entry.get('fstar_softmax')} / {entry.get('fstar_ovr')} "
                  f"({entry[f'{part}_how']})", file=sys.stderr)
            state_path.write_text(json.dumps(state, indent=1))
            continue
        runs = {}
        if part == "ours":
            for threads in args.threads:
                for solver in args.solvers:
                    runs[f"fastlogit {solver}, {threads} thr"] = (
                        ours_softmax(solver, threads), OUR_LADDER, softmax_value, "softmax")
        elif part.startswith("sklearn-"):
            solver = part[len("sklearn-"):]
            runs[f"scikit-learn {solver}"] = (sklearn_softmax(solver), SK_LADDER,
                                              softmax_value, "softmax")
        elif part == "ovr":
            from liblinear.liblinearutil import problem

            prob = problem(y.astype(np.float64), X)
            prob.set_bias(1)
            runs["LIBLINEAR -s 0 (one-vs-rest)"] = (liblinear_ovr(prob, K), LIBLINEAR_LADDER,
                                                    ovr_value, "ovr")
            for threads in args.threads:
                runs[f"fastlogit one-vs-rest, {threads} thr"] = (ours_ovr(threads), OUR_LADDER,
                                                                 ovr_value, "ovr")
        else:
            raise SystemExit(f"unknown part {part!r}; choose from {PARTS}")
        for name, (fit, ladder, value, kind) in runs.items():
            fstar = entry[f"fstar_{kind}"]
            cap = args.saga_cap if "saga" in name else args.cap
            before = entry["runs"].get(name, {})
            if args.reuse_tol and before.get("tol"):
                # the walk of an earlier run found the tol: only the repeats now, its walk kept
                ladder = (before["tol"],)
            elif args.ladder:
                # continue an earlier walk (cut by a hold's limit) from these tolerances
                ladder = tuple(args.ladder)
            def save(partial, name=name, kind=kind):
                partial.update(started, kind=kind, load_after=machine_load())
                entry["runs"][name] = partial
                state_path.write_text(json.dumps(state, indent=1))

            rec = to_target(name, fit, ladder, value, fstar, X, y, C, args.target,
                            args.repeats, cap, save)
            if args.ladder and before.get("walk"):
                rec["walk"] = before["walk"] + rec["walk"]
            if args.reuse_tol and before.get("tol") and rec.get("tol") == before["tol"]:
                # the earlier walk's fit at this tol is one more sample
                rec["earlier_walk"] = before.get("earlier_walk", before["walk"])
                rec["walls"] = before["walls"] + rec["walls"]
                rec["cpus"] = before.get("cpus", [before["cpu"]]) + rec["cpus"]
                rec["wall"] = statistics.median(rec["walls"])
                rec["cpu"] = statistics.median(rec["cpus"])
            rec.update(started, kind=kind, load_after=machine_load(), repeats=args.repeats,
                       target=args.target)
            entry["runs"][name] = rec
            state_path.write_text(json.dumps(state, indent=1))
    state_path.write_text(json.dumps(state, indent=1))


def _cell(rec):
    if rec.get("tol") is None:
        return rec.get("why", "n/a")
    return f"{rec['wall']:.2f} (cpu {rec['cpu']:.2f})"


def report(args):
    state = json.loads(Path(args.state).read_text())
    lines = []
    for key, entry in state.items():
        runs = entry["runs"]
        lines += [f"## news20, {entry['shape'][0]} x {entry['shape'][1]}, "
                  f"{entry['classes']} classes, {key}", ""]
        for kind, title in (("softmax", "Softmax (multinomial)"), ("ovr", "One-vs-rest")):
            rows = {k: v for k, v in runs.items() if v.get("kind") == kind}
            if not rows:
                continue
            lines += [f"### {title}: F* = {entry[f'fstar_{kind}']:.12g}", "",
                      "| runner | seconds to 1e-6 (median, wall; process CPU) | tol | fits timed "
                      "| date, commit | load before / after |", "|---|---|---|---|---|---|"]
            for name, rec in rows.items():
                solver = f" -> {rec['solver']}" if rec.get("solver") and "auto" in name else ""
                lines.append(
                    f"| {name}{solver} | {_cell(rec)} | {rec.get('tol') or '-'} | "
                    f"{len(rec.get('walls', []))} | {rec['date']}, {rec['commit']} | "
                    f"{rec['load_before']} / {rec['load_after']} |")
            lines.append("")
    text = "\n".join(lines)
    if args.report == "-":
        print(text)
    else:
        Path(args.report).write_text(text + "\n")
    return text


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", nargs="*", default=[], help=f"parts to run: {PARTS}")
    p.add_argument("--rows", type=int, default=None, help="first N rows only (exploration)")
    p.add_argument("--C", type=float, default=1.0)
    p.add_argument("--target", type=float, default=1e-6)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    p.add_argument("--solvers", nargs="*", default=list(OUR_SOLVERS))
    p.add_argument("--cap", type=float, default=120.0, help="seconds; a runner stops after "
                   "a longer fit")
    p.add_argument("--saga-cap", type=float, default=60.0)
    p.add_argument("--fstar-tol", type=float, default=1e-10)
    p.add_argument("--ladder", type=float, nargs="*", default=None,
                   help="tolerances to walk instead of the runner's ladder, continuing the "
                        "walk an earlier (interrupted) run recorded")
    p.add_argument("--reuse-tol", action="store_true",
                   help="time each runner at the tol an earlier run's ladder walk found "
                        "(the walk is kept in the record): repeats in a later lock hold")
    p.add_argument("--state", default=str(ROOT / "benchmarks" / "results" /
                                          "softmax_race.json"))
    p.add_argument("--report", default=None, help="write the markdown table here ('-': "
                   "stdout)")
    args = p.parse_args(argv)
    if args.part:
        run_parts(args)
    if args.report:
        report(args)


if __name__ == "__main__":
    main()
