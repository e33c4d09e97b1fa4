"""Head-to-head: fastlogit against scikit-learn, LIBLINEAR and glum on the same objective.

Every solver minimises (or is mapped onto) DESIGN.md's objective

    F(w, b) = C * sum_i [log(1 + exp(z_i)) - y_i z_i] + 1/2 ||w||^2,   z_i = x_i . w + b

with an unpenalised intercept b, and is scored by one NumPy evaluation of F
(benchmarks/common.py), never by its own report.  Parameter mappings:

- scikit-learn LogisticRegression (lbfgs, newton-cg, newton-cholesky, saga): C as is, L2
  (``l1_ratio=0``), intercept unpenalised by construction.
- scikit-learn liblinear: penalises the intercept (as the weight of a constant feature of
  value ``intercept_scaling``); ``intercept_scaling=100`` makes that penalty b^2 / 2e4.  Its
  floor under our F is reported ("best reached"); on the shipped sets it is below 1e-10.
- SGDClassifier(loss="log_loss", penalty="l2"): minimises (1/n) sum l + alpha/2 ||w||^2, the
  intercept unpenalised, so ``alpha = 1 / (C n)`` gives F / (C n).
- LIBLINEAR (liblinear-official) ``-s 0 -B 1 -R -c C``: primal trust-region Newton on
  1/2 ||w||^2 + C sum log(1 + exp(-y w.x)), ``-R`` leaves the bias unregularised.
- glum GeneralizedLinearRegressor(family="binomial", alpha=1/(C n), l1_ratio=0): glum
  minimises the mean binomial log-likelihood + alpha/2 ||w||^2 = F / (C n).

F* comes from two independent tight solves (LIBLINEAR at eps 1e-12, SciPy trust-ncg on our
NumPy objective), cross-checked, cached in results/fstar.json.  Each solver then runs at a
ladder of tolerances (epochs for SGD) from loose to tight until it reaches relative
suboptimality (F - F*) / F* <= 1e-8, fails, or exceeds the time cap; every timed fit follows
an untimed warm-up fit (its time, which includes Numba compilation for fastlogit, is
reported separately), data conversion to a library's own format (LIBLINEAR problem, glum's
tabmat matrix) is done once outside the timing, and the first ladder level reaching 1e-4,
1e-6 and 1e-8 is re-run to give a median of ``--repeats`` (default 3).  Each data set runs
in a separate worker process (killed and restarted past the cap); all libraries get the same
thread count (OpenMP, BLAS, Numba and fastlogit pinned to ``--threads``, default 2).

Usage::

    python -m benchmarks.compare                      # full run, writes benchmarks/results/
    python -m benchmarks.compare --quick              # a9a only, 1 repeat, 20 s cap
    python -m benchmarks.compare --datasets a9a,w8a --data my.svm --cap 60
"""
import argparse
import json
import math
import multiprocessing as mp
import os
import queue
import sys
import time
import traceback
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common  # noqa: E402

THRESHOLDS = (1e-4, 1e-6, 1e-8)
TOLS = tuple(10.0 ** -k for k in range(1, 13))
EPOCHS = (1, 2, 5, 10, 20, 50, 100, 200)
#: Dense d x d Hessian solvers are skipped above this many features (memory, O(d^3)).
MAX_DENSE_HESSIAN_D = 5000
BIG_ITER = 100_000


# ============================================================================= runners
class Unavailable(Exception):
    """A solver that does not apply to this data set (shown as n/a with the reason)."""


class Runner:
    """One solver of one library: ``prepare`` (untimed) then ``fit(ctx, level) -> (w, b)``."""

    name = ""
    levels = TOLS
    level_name = "tol"

    def prepare(self, X, y, C, n_threads):
        return {"X": X, "y": y, "C": C, "n_threads": n_threads}

    def fit(self, ctx, level):
        raise NotImplementedError


class SklearnLogReg(Runner):
    def __init__(self, solver, **extra):
        self.solver = solver
        self.extra = extra
        self.name = f"sklearn {solver}"

    def prepare(self, X, y, C, n_threads):
        if self.solver == "newton-cholesky" and X.shape[1] > MAX_DENSE_HESSIAN_D:
            raise Unavailable(f"d = {X.shape[1]} too large for a dense Hessian")
        return super().prepare(X, y, C, n_threads)

    def fit(self, ctx, level):
        from sklearn.linear_model import LogisticRegression

        est = LogisticRegression(C=ctx["C"], solver=self.solver, tol=level, max_iter=BIG_ITER,
                                 random_state=0, **self.extra)
        est.fit(ctx["X"], ctx["y"])
        return est.coef_.ravel(), float(est.intercept_[0])


class SklearnSGD(Runner):
    name = "sklearn SGDClassifier"
    levels = EPOCHS
    level_name = "epochs"

    def fit(self, ctx, level):
        from sklearn.linear_model import SGDClassifier

        n = ctx["X"].shape[0]
        est = SGDClassifier(loss="log_loss", penalty="l2", alpha=1.0 / (ctx["C"] * n),
                            max_iter=int(level), tol=None, random_state=0)
        est.fit(ctx["X"], ctx["y"])
        return est.coef_.ravel(), float(est.intercept_[0])


class Liblinear(Runner):
    name = "LIBLINEAR -s 0"

    def prepare(self, X, y, C, n_threads):
        from liblinear.liblinearutil import problem

        prob = problem(np.where(y > 0, 1.0, -1.0), X)
        prob.set_bias(1)
        return {"prob": prob, "C": C}

    def fit(self, ctx, level):
        from liblinear.liblinearutil import parameter, train

        model = train(ctx["prob"], parameter(f"-s 0 -B 1 -R -c {ctx['C']!r} -e {level!r} -q"))
        w, b = model.get_decfun()
        sign = 1.0 if model.get_labels()[0] == 1 else -1.0
        return sign * np.asarray(w, dtype=np.float64), sign * float(b)


class Glum(Runner):
    def __init__(self, solver, label=None):
        self.solver = solver
        self.name = f"glum {label or solver}"

    def prepare(self, X, y, C, n_threads):
        import tabmat

        return {"X": tabmat.SparseMatrix(X.tocsc()), "y": y, "alpha": 1.0 / (C * X.shape[0])}

    def fit(self, ctx, level):
        from glum import GeneralizedLinearRegressor

        est = GeneralizedLinearRegressor(family="binomial", alpha=ctx["alpha"], l1_ratio=0.0,
                                         fit_intercept=True, solver=self.solver,
                                         gradient_tol=level, max_iter=10_000)
        est.fit(ctx["X"], ctx["y"])
        return np.asarray(est.coef_).ravel(), float(est.intercept_)


class Fastlogit(Runner):
    """fastlogit through its estimator when it exists, else Objective + SOLVERS."""

    #: row name -> candidate solver names (first one that exists is used)
    ALIASES = {
        "newton-cg": ("newton-cg", "newton_cg", "trust-ncg"),
        "newton-cholesky": ("newton-cholesky", "irls", "newton_cholesky", "cholesky"),
        "trust-region": ("trust-region",),
        "lbfgs": ("lbfgs", "l-bfgs"),
        "auto": ("auto",),
    }

    def __init__(self, solver):
        self.solver = solver
        self.name = f"fastlogit {solver}"

    def prepare(self, X, y, C, n_threads):
        if self.solver == "newton-cholesky" and X.shape[1] > MAX_DENSE_HESSIAN_D:
            raise Unavailable(f"d = {X.shape[1]} too large for a dense Hessian")
        import fastlogit

        try:
            from fastlogit.solvers import SOLVERS
        except ImportError as exc:
            raise Unavailable(f"fastlogit solvers not importable: {exc}") from exc
        est_cls = getattr(fastlogit, "LogisticRegression", None)
        if est_cls is not None:
            solver = self._pick(tuple(SOLVERS) + ("auto",))
            return {"mode": "estimator", "cls": est_cls, "solver": solver, "X": X, "y": y,
                    "C": C, "n_threads": n_threads}
        try:
            from fastlogit.objective import Objective
        except ImportError as exc:
            raise Unavailable(f"fastlogit objective not importable: {exc}") from exc
        if self.solver == "auto":
            raise Unavailable("needs fastlogit.LogisticRegression (not built yet)")
        solver = self._pick(tuple(SOLVERS))
        return {"mode": "solvers", "fn": SOLVERS[solver], "objective": Objective, "X": X,
                "y": y, "C": C, "n_threads": n_threads, "solver": solver}

    def _pick(self, available):
        for cand in self.ALIASES[self.solver]:
            if cand in available:
                return cand
        raise Unavailable(f"no {self.solver!r} solver among {sorted(available)}")

    def fit(self, ctx, level):
        if ctx["mode"] == "estimator":
            est = ctx["cls"](C=ctx["C"], solver=ctx["solver"], tol=level, max_iter=BIG_ITER,
                             n_threads=ctx["n_threads"])
            est.fit(ctx["X"], ctx["y"])
            return np.asarray(est.coef_).ravel(), float(np.ravel(est.intercept_)[0])
        obj = ctx["objective"](ctx["X"], ctx["y"], C=ctx["C"], n_threads=ctx["n_threads"])
        res = ctx["fn"](obj, np.zeros(obj.n_params), tol=level, max_iter=BIG_ITER)
        theta = np.asarray(res.theta, dtype=np.float64)
        return theta[:-1], float(theta[-1])


def all_runners():
    """Every solver row, in table order (name -> Runner)."""
    runners = [
        Fastlogit("auto"), Fastlogit("newton-cg"), Fastlogit("newton-cholesky"),
        Fastlogit("trust-region"), Fastlogit("lbfgs"),
        SklearnLogReg("lbfgs"), SklearnLogReg("newton-cg"), SklearnLogReg("newton-cholesky"),
        SklearnLogReg("liblinear", intercept_scaling=100.0), SklearnLogReg("saga"),
        SklearnSGD(), Liblinear(), Glum("irls-cd"), Glum("irls-ls", "irls-ls (auto)"),
        Glum("lbfgs"),
    ]
    return {r.name: r for r in runners}


#: Rows run by default (glum lbfgs is slow everywhere; ask for it with --solvers).
DEFAULT_EXCLUDE = ("glum lbfgs",)


# ============================================================================= worker
def _timed_fit(runner, ctx, level, X, y, C):
    t0 = time.perf_counter()
    w, b = runner.fit(ctx, level)
    elapsed = time.perf_counter() - t0
    return elapsed, common.objective(X, y, w, b, C)


def _worker(spec, q):
    """Run the ladder of each runner in ``spec['runners']`` on one data set; report every
    step through ``q`` (the parent enforces the time cap and may kill this process)."""
    common.set_thread_env(spec["n_threads"])
    limiter = common.limit_threads(spec["n_threads"])  # noqa: F841 - keep the limit alive
    warnings.simplefilter("ignore")
    X, y = common.load_dataset(spec["dataset"])
    C, f_star = spec["C"], spec["f_star"]
    runners = all_runners()

    def subopt(F):
        return (F - f_star) / abs(f_star)

    for name in spec["runners"]:
        runner = runners[name]
        try:
            ctx = runner.prepare(X, y, C, spec["n_threads"])
        except Unavailable as exc:
            q.put(("skip", name, str(exc)))
            continue
        except Exception as exc:  # a library that cannot take this input
            q.put(("error", name, None, f"prepare: {type(exc).__name__}: {exc}"))
            continue
        try:
            levels = list(runner.levels)
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
                s = subopt(F)
                # the first level reaching a new threshold is timed --repeats times right
                # away (a later cap kill cannot cost the table its medians)
                new = sum(s <= thr for thr in THRESHOLDS)
                if new > reached:
                    reached = new
                    for rep in range(1, spec["repeats"]):
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
        except Exception as exc:
            msg = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
            q.put(("error", name, None, msg, traceback.format_exc(limit=3)))
        q.put(("runner_done", name))
    q.put(("worker_done",))


def run_dataset(dataset, runner_names, *, C, f_star, cap, repeats, n_threads, log):
    """Run all runners on one data set with a per-fit cap; returns {runner: record}."""
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
                records[name]["note"] = f"> {cap:g} s at {level} {_level_name(name)}"
                log(f"  {name}: killed after {cap:g} s at level {level}")
                remaining = remaining[remaining.index(name) + 1:]
                break
            if not proc.is_alive():
                proc.join()
                if current is not None:
                    name = current[0]
                    records[name]["status"] = "failed"
                    records[name]["note"] = f"worker died (exit code {proc.exitcode})"
                    remaining = remaining[remaining.index(name) + 1:]
                else:
                    for name in remaining:
                        records[name]["status"] = "failed"
                        records[name]["note"] = f"worker died (exit code {proc.exitcode})"
                    remaining = []
                break
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
                log(f"  {name:28s} {_level_name(name)}={level:<8g} {t:8.3f} s  "
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
            remaining = []
            break
    return remaining


def _level_name(runner_name):
    return "epochs" if runner_name == SklearnSGD.name else "tol"


# ============================================================================= summary
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
        ordered = sorted(ladder, key=lambda p: _ladder_key(name, p["level"]))
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


def _ladder_key(name, level):
    # tolerances go loose -> tight as they decrease; epochs as they increase
    return level if name == SklearnSGD.name else -level


def _fmt_time(t):
    return f"{t:.3f}" if t < 10 else f"{t:.1f}"


def cell(summary, thr, cap):
    s = summary
    hit = s["to"].get(thr)
    if hit is not None:
        star = "" if hit["n"] >= 3 else f" (n={hit['n']})"
        return _fmt_time(hit["time"]) + star
    if s["status"] == "n/a":
        return "n/a"
    if s["status"] == "failed":
        return "failed"
    if s["status"] == "capped":
        return f"> {cap:g}"
    return "not reached"


def _best(summaries, prefix, thr, exclude_prefix=False):
    times = [s["to"][thr]["time"] for n, s in summaries.items()
             if (n.startswith(prefix) != exclude_prefix) and s["to"].get(thr)]
    return min(times) if times else None


def speedup(summaries, thr):
    """best other library's time / best fastlogit time at ``thr`` (None if either is missing)."""
    ours = _best(summaries, "fastlogit", thr)
    theirs = _best(summaries, "fastlogit", thr, exclude_prefix=True)
    if ours is None or theirs is None:
        return None
    return theirs / ours


def _fmt_ratio(r):
    return "–" if r is None else f"{r:.2f}x"


def plot_dataset(label, summary, f_star, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5))
    floor = 1e-13
    for i, (name, s) in enumerate(summary.items()):
        pts = sorted(s["ladder"], key=lambda p: _ladder_key(name, p["level"]))
        if not pts:
            continue
        t = [p["time"] for p in pts]
        v = [max(p["subopt"], floor) for p in pts]
        style = "-" if name.startswith("fastlogit") else "--"
        ax.plot(t, v, style, marker="o", ms=3, lw=2 if name.startswith("fastlogit") else 1,
                label=name, color=plt.cm.tab20(i % 20))
    for thr in THRESHOLDS:
        ax.axhline(thr, color="grey", lw=0.5, ls=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("time to return (s), median")
    ax.set_ylabel("relative suboptimality (F - F*) / F*")
    ax.set_title(f"{label}: F* = {f_star:.10g}")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ============================================================================= kernels
def _read_bandwidth(n_threads, nbytes=512 * 2**20):
    """Measured memory read bandwidth, GB/s: NumPy sum (1 thread) and a Numba parallel sum
    with ``n_threads`` threads over a ``nbytes`` float64 array (best of 5)."""
    import numba

    @numba.njit(parallel=True, fastmath=True, cache=False)  # reassociation: vector adds
    def psum(a):
        s = 0.0
        for i in numba.prange(a.shape[0]):
            s += a[i]
        return s

    a = np.ones(nbytes // 8)
    numba.set_num_threads(n_threads)
    psum(a)
    res = {}
    for label, fn in (("numpy sum, 1 thread", np.sum), (f"numba prange sum, {n_threads} threads", psum)):
        best = math.inf
        for _ in range(5):
            t0 = time.perf_counter()
            fn(a)
            best = min(best, time.perf_counter() - t0)
        res[label] = a.nbytes / best / 1e9
    return res


def kernel_table(n_threads, repeats=5, size="full"):
    """loss_grad throughput (GB/s of X, y, w read) per backend, layout and dtype."""
    import fastlogit.kernels as K

    if size == "full":
        n_csr, d_csr, nnz, n_dense, d_dense = 300_000, 100_000, 30, 200_000, 100
    else:
        n_csr, d_csr, nnz, n_dense, d_dense = 40_000, 10_000, 20, 20_000, 50
    Xs, y = common.generated_csr(n_csr, d_csr, nnz, random_state=0)
    rng = np.random.default_rng(0)
    Xd = rng.standard_normal((n_dense, d_dense))
    yd = (rng.random(n_dense) < 0.5).astype(np.float64)
    rows = []
    bw = _read_bandwidth(n_threads, 512 * 2**20 if size == "full" else 64 * 2**20)
    for backend in K.available_backends():
        ks = K.get(backend)
        for layout, X0, y0 in (("csr", Xs, y), ("dense", Xd, yd)):
            for dtype in (np.float32, np.float64):
                design = K.as_design(X0, dtype=dtype)
                yy = y0.astype(dtype)
                w = (rng.standard_normal(design.n_cols) * 0.01).astype(dtype)
                g = np.empty(design.n_cols, dtype=dtype)
                t0 = time.perf_counter()
                ks.loss_grad(design, yy, None, w, 0.1, g, n_threads=n_threads)
                first = time.perf_counter() - t0
                times = []
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    ks.loss_grad(design, yy, None, w, 0.1, g, n_threads=n_threads)
                    times.append(time.perf_counter() - t0)
                t = float(np.median(times))
                nbytes = design.nbytes + yy.nbytes + w.nbytes
                rows.append({"backend": backend, "layout": layout, "dtype": np.dtype(dtype).name,
                             "shape": list(design.shape), "bytes": nbytes, "time": t,
                             "first_call": first, "gbps": nbytes / t / 1e9})
    return {"bandwidth": bw, "rows": rows,
            "data": {"csr": f"generated {n_csr} x {d_csr}, {Xs.nnz} nnz (Zipf features)",
                     "dense": f"generated {n_dense} x {d_dense} Gaussian"}}


def _kernel_worker(n_threads, size, q):
    common.set_thread_env(n_threads)
    limiter = common.limit_threads(n_threads)  # noqa: F841
    try:
        q.put(("ok", kernel_table(n_threads, size=size)))
    except Exception as exc:
        q.put(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}"))


def run_kernel_table(n_threads, size, timeout=300):
    mpctx = mp.get_context("spawn")
    q = mpctx.Queue()
    proc = mpctx.Process(target=_kernel_worker, args=(n_threads, size, q), daemon=True)
    proc.start()
    try:
        status, payload = q.get(timeout=timeout)
    except queue.Empty:
        proc.kill()
        status, payload = "error", f"timed out after {timeout} s"
    proc.join()
    return payload if status == "ok" else {"error": payload}


# ============================================================================= report
def markdown(result):
    m = result["machine"]
    cap = result["cap"]
    names = result["runners"]
    dsets = list(result["datasets"])
    lines = [
        "# fastlogit benchmark results",
        "",
        f"Date: {result['date']}.  Command: `{result['command']}`  ",
        f"Machine: {m['cpu']}, {m['cores']} cores available, {m['memory']} RAM, {m['os']}, "
        f"Python {m['python']}.  ",
        *(_merged_lines(result) or [
            f"Load average (1, 5, 15 min) at start {result.get('load_average_start')}, at end "
            f"{result.get('load_average_end')}; total run time "
            f"{result.get('total_seconds', 0) / 60:.1f} min.  "]),
        f"The machine is shared: a load average above its {m['cores']} cores means the "
        "timings include waiting for a core.  ",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + ".  ",
        f"Threads: every library pinned to {result['n_threads']} (OpenMP, BLAS, Numba, "
        "fastlogit `n_threads`); LIBLINEAR and scikit-learn's liblinear/saga/SGD are "
        "single-threaded by design.",
        "",
        f"Objective (all solvers): F(w, b) = C * sum_i log-loss(y_i, x_i.w + b) + 1/2 ||w||^2, "
        f"C = {result['C']:g}, L2 penalty, intercept unpenalised (sklearn liblinear: "
        "intercept_scaling = 100, see below).  All solvers are scored by the same NumPy "
        "evaluation of F; F* from two independent tight solves (per data set below).",
        "",
        f"Cells: seconds to reach relative suboptimality (F - F*)/F* <= 1e-4 / 1e-6 / 1e-8, "
        f"median of {result['repeats']} timed fits (each after an untimed warm-up fit) of the "
        "first tolerance on a 10x ladder that reaches it (SGD: number of epochs).  "
        f"`> {cap:g}` = a fit ran past the {cap:g} s cap before reaching it; `not reached` = "
        "the ladder ended (tightest tolerance, or no further progress) above it; `n/a` = "
        "the solver does not apply (reason in the per-set tables); `failed` = it raised.  "
        "Real data: the LIBSVM sets in ../shared/datasets (news20 binary as y <= 10 vs > 10).",
        "",
        "## Headline: seconds to 1e-6",
        "",
        "| solver | " + " | ".join(dsets) + " |",
        "|---|" + "---|" * len(dsets),
    ]
    for name in names:
        row = [cell(result["datasets"][d]["summary"][name], 1e-6, cap)
               if name in result["datasets"][d]["summary"] else "not run" for d in dsets]
        lines.append(f"| {name} | " + " | ".join(row) + " |")
    ratios = [_fmt_ratio(speedup(result["datasets"][d]["summary"], 1e-6)) for d in dsets]
    lines.append("| **speed-up** (best other / best fastlogit) | " + " | ".join(ratios) + " |")
    lines += ["", "## Per data set", ""]
    for d in dsets:
        ds = result["datasets"][d]
        ref = ds["reference"]
        lines += [
            f"### {d}: {ds['shape'][0]} x {ds['shape'][1]}, {ds['nnz']} nnz",
            "",
            f"F* = {ref['F_star']:.12g} (LIBLINEAR eps 1e-12: {ref['F_liblinear']:.12g}; "
            f"SciPy trust-ncg: {ref['F_trustncg']:.12g}; relative disagreement "
            f"{ref['rel_disagreement']:.1e}).",
            "",
            "| solver | 1e-4 | 1e-6 | 1e-8 | best reached | warm-up fit (s) | note |",
            "|---|---|---|---|---|---|---|",
        ]
        for name in names:
            if name not in ds["summary"]:
                continue
            s = ds["summary"][name]
            best = "–" if s["best"] is None else f"{max(s['best'], 0):.1e}"
            wu = "–" if not s["warmup"] else _fmt_time(s["warmup"]["time"])
            lines.append(f"| {name} | " + " | ".join(cell(s, t, cap) for t in THRESHOLDS)
                         + f" | {best} | {wu} | {s['note']} |")
        lines.append("| **speed-up** (best other / best fastlogit) | "
                     + " | ".join(_fmt_ratio(speedup(ds["summary"], t)) for t in THRESHOLDS)
                     + " | | | |")
        if ds.get("plot"):
            lines += ["", f"![{d}]({ds['plot']})"]
        lines.append("")
    kt = result.get("kernels")
    if kt:
        lines += ["## Kernels: loss_grad throughput", ""]
        if "error" in kt:
            lines.append(f"Kernel table failed: `{kt['error'].splitlines()[0]}`")
        else:
            bw = kt["bandwidth"]
            lines += [
                "Measured memory read bandwidth: " + "; ".join(
                    f"{k}: {v:.1f} GB/s" for k, v in bw.items()) + ".  ",
                f"Data (generated): CSR {kt['data']['csr']}; dense {kt['data']['dense']}.  "
                "GB/s = bytes of X (data + indices + indptr), y and w read per call / median "
                f"time of 5 calls with n_threads = {result['n_threads']}; first call "
                "(Numba compile or cache load) reported separately.",
                "",
                "| backend | layout | dtype | GB/s | % of read bandwidth | time (ms) | first call (s) |",
                "|---|---|---|---|---|---|---|",
            ]
            peak = max(bw.values())
            for r in kt["rows"]:
                lines.append(f"| {r['backend']} | {r['layout']} | {r['dtype']} | {r['gbps']:.2f} "
                             f"| {100 * r['gbps'] / peak:.0f} % | {1e3 * r['time']:.1f} "
                             f"| {r['first_call']:.3f} |")
        lines.append("")
    lines += [
        "## Notes",
        "",
        "- Conversions to a library's own format are outside the timing: LIBLINEAR's "
        "`problem` and glum's tabmat CSC matrix are built once per data set; scikit-learn "
        "and fastlogit take the CSR matrix (float64, int32 indices) and validate it inside "
        "`fit`.",
        "- scikit-learn's liblinear penalises the intercept; with intercept_scaling = 100 the "
        "extra term is b^2/2e4 and its effect on F is the `best reached` floor.",
        "- `> cap` at the warm-up: the first (loosest) fit already ran past the cap; "
        "`failed` rows carry the exception in the per-set note (e.g. glum's IRLS forms a "
        "dense d x d Hessian, 28.7 GiB on news20).",
        "- SGDClassifier (learning_rate='optimal', its default) and saga are first-order "
        "stochastic methods; rows where they do not reach 1e-8 are shown, not dropped.",
        "- The machine is shared: absolute times drift between runs; compare ratios within "
        "one run.",
        *_load_warning(result),
        "",
    ]
    return "\n".join(lines)


def _load_warning(result):
    loads = [result.get("load_average_start"), result.get("load_average_end")]
    loads += [r.get(k) for r in result.get("merged_from", [])
              for k in ("load_average_start", "load_average_end")]
    peak = max((max(x) for x in loads if x), default=None)
    cores = result["machine"]["cores"]
    if peak is None or peak <= cores:
        return []
    return [f"- **Oversubscribed machine**: the load average reached {peak:.1f} on {cores} "
            "cores during this run (other jobs), so absolute times are inflated, and unevenly: "
            "a single-threaded solver (LIBLINEAR, scikit-learn's liblinear/saga/SGD) loses a "
            "different share of a core than a 2-thread one, and a load spike hits whichever "
            "row runs at that moment.  Treat the ratios as indicative only and rerun on an "
            "idle machine (the idle anchors are in ../shared/datasets/README.md) before "
            "quoting them."]


def _merged_lines(result):
    if not result.get("merged_from"):
        return []
    parts = [f"`{r['command']}` ({', '.join(r['datasets']) or 'kernel table'}; load average "
             f"{r['load_average_start']} -> {r['load_average_end']}, "
             f"{(r['total_seconds'] or 0) / 60:.1f} min)" for r in result["merged_from"]]
    return ["Merged from runs made side by side in one session (each data set entirely "
            "inside one run, so ratios within a data set come from one process): "
            + "; ".join(parts) + ".  "]


# ============================================================================= main
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", default=None,
                   help="comma-separated shared data sets (default: all: "
                        + ",".join(common.REAL_DATASETS) + ")")
    p.add_argument("--data", action="append", default=[],
                   help="an extra svmlight/libsvm file (binary labels); may repeat")
    p.add_argument("--solvers", default=None,
                   help="comma-separated rows (substring match), e.g. 'fastlogit,LIBLINEAR'")
    p.add_argument("--quick", action="store_true",
                   help="one data set (the first), 1 repeat, 20 s cap, small kernel table")
    p.add_argument("--C", type=float, default=1.0)
    p.add_argument("--cap", type=float, default=None, help="seconds per fit (default 30)")
    p.add_argument("--repeats", type=int, default=None, help="timed fits per point (default 3)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=None,
                   help="output folder (default benchmarks/results; --quick: .asv/compare-quick)")
    p.add_argument("--fstar", default=None,
                   help="F* cache (JSON; default benchmarks/results/fstar.json)")
    p.add_argument("--no-kernels", action="store_true", help="skip the kernel table")
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("--kernels-only", action="store_true", help="only the kernel table")
    p.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                   help="combine the compare.json of earlier runs (data sets in the given "
                        "order, the last kernel table) into one report in --out; with "
                        "--kernels-only a fresh kernel table is measured for it")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import signal

    if threading_is_main():
        signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    argv_str = " ".join(sys.argv[1:] if argv is None else argv)
    if args.datasets:
        datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    elif args.data:
        datasets = []
    else:
        datasets = list(common.REAL_DATASETS)
    datasets += args.data
    if args.quick:
        datasets = datasets[:1]
    cap = args.cap if args.cap is not None else (20.0 if args.quick else 30.0)
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 3)
    out = Path(args.out) if args.out else (common.ROOT / ".asv" / "compare-quick" if args.quick
                                           else common.RESULTS_DIR)
    out.mkdir(parents=True, exist_ok=True)
    runners = all_runners()
    if args.solvers:
        keys = [k.strip() for k in args.solvers.split(",") if k.strip()]
        names = [n for n in runners if any(k.lower() in n.lower() for k in keys)]
    else:
        names = [n for n in runners if n not in DEFAULT_EXCLUDE]
    if not names:
        raise SystemExit(f"--solvers {args.solvers!r} matches none of {list(runners)}")

    def log(msg):
        print(msg, flush=True)

    t_start = time.monotonic()
    if args.merge:
        return merge_runs(args, out, t_start, log)
    result = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python -m benchmarks.compare" + (f" {argv_str}" if argv_str else ""),
        "machine": common.machine_description(), "C": args.C, "cap": cap, "repeats": repeats,
        "n_threads": args.threads, "runners": names, "datasets": {},
        "load_average_start": _loadavg(),
    }
    for dataset in ([] if args.kernels_only else datasets):
        label = common.dataset_label(dataset)
        X, y = common.load_dataset(dataset)
        log(f"{label}: {X.shape[0]} x {X.shape[1]}, nnz {X.nnz}; reference solve ...")
        ref = common.cached_reference(dataset, X, y, args.C, path=args.fstar)
        log(f"  F* = {ref['F_star']:.12g} (two solvers agree to {ref['rel_disagreement']:.1e})")
        records = run_dataset(dataset, names, C=args.C, f_star=ref["F_star"], cap=cap,
                              repeats=repeats, n_threads=args.threads, log=log)
        summary = summarise(records, ref["F_star"])
        entry = {"shape": list(X.shape), "nnz": int(X.nnz), "reference": ref,
                 "records": records, "summary": summary}
        if not args.no_plot:
            png = f"subopt_{label}.png"
            plot_dataset(label, summary, ref["F_star"], out / png)
            entry["plot"] = png
        result["datasets"][label] = entry
        log(f"  done at {time.monotonic() - t_start:.0f} s")
        _write(out, result, t_start)  # after every data set: a cut-short run keeps its part
    if not args.no_kernels:
        log("kernel table ...")
        result["kernels"] = run_kernel_table(args.threads, "small" if args.quick else "full")
    md = _write(out, result, t_start)
    log(md)
    log(f"wrote {out / 'README.md'} in {result['total_seconds']:.0f} s")
    return result


def merge_runs(args, out, t_start, log):
    """One report from several runs' compare.json (e.g. data sets run in parallel
    processes): data sets in order, runner rows united, the last kernel table (or a fresh
    one with --kernels-only)."""
    result, names, merged = None, [], []
    for path in args.merge:
        path = Path(path)
        run = json.loads(path.read_text())
        if result is None:
            result = dict(run, datasets={})
        for n in run["runners"]:
            if n not in names:
                names.append(n)
        for label, entry in run["datasets"].items():
            entry["summary"] = {
                n: {**s, "to": {float(k): v for k, v in s["to"].items()}}
                for n, s in entry["summary"].items()}
            result["datasets"][label] = entry
            src = path.parent / entry.get("plot", "")
            if entry.get("plot") and src.exists() and src.resolve() != (out / entry["plot"]).resolve():
                (out / entry["plot"]).write_bytes(src.read_bytes())
        if run.get("kernels"):
            result["kernels"] = run["kernels"]
        if run.get("merged_from"):  # an earlier merge: keep its parts
            merged += [r for r in run["merged_from"]
                       if r["datasets"] or not args.kernels_only]
        else:
            merged.append({"command": run["command"], "date": run["date"],
                           "load_average_start": run.get("load_average_start"),
                           "load_average_end": run.get("load_average_end"),
                           "total_seconds": run.get("total_seconds"),
                           "datasets": list(run["datasets"])})
    result["runners"] = names
    result["merged_from"] = merged
    if args.kernels_only:
        log("kernel table ...")
        load0 = _loadavg()
        result["kernels"] = run_kernel_table(args.threads, "small" if args.quick else "full")
        merged.append({"command": "python -m benchmarks.compare --kernels-only",
                       "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                       "load_average_start": load0, "load_average_end": _loadavg(),
                       "total_seconds": time.monotonic() - t_start, "datasets": []})
    result["command"] = "; ".join(r["command"] for r in merged)
    md = _write(out, result, t_start)
    log(md)
    return result


def threading_is_main():
    import threading

    return threading.current_thread() is threading.main_thread()


def _write(out, result, t_start):
    result["total_seconds"] = time.monotonic() - t_start
    result["load_average_end"] = _loadavg()
    md = markdown(result)
    for name, text in (("README.md", md),
                       ("compare.json", json.dumps(result, indent=1, default=_json_default) + "\n")):
        tmp = out / (name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, out / name)
    return md


def _loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return None


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o))


if __name__ == "__main__":
    main()
