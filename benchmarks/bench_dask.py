"""fastlogit.dask against one process and against dask-ml, on generated data, in one run.

Run from the project root (the default sizes need ~10 GB of memory; on 2 cores each layout
takes 1-3 minutes)::

    python benchmarks/bench_dask.py                       # CSR 20M nnz + dense 20M entries
    python benchmarks/bench_dask.py --quick               # small, a smoke test

What it measures, for each layout (CSR from ``make_sparse_classification``; dense Gaussian):

1. F* from a tight one-process solve (trust-region Newton, tol 1e-10).
2. One process (``Objective``, ``n_threads`` = ``--threads``), and ``DaskObjective`` on a
   ``LocalCluster`` of 1 worker (``--threads`` kernel threads) and of 2 workers (half each,
   so that the cores are the same: on a 2-core machine 2 workers x 1 thread against 1
   process x 2 threads); the data in ``--blocks`` row blocks, each worker's run of blocks
   stacked once into one part (setup time reported apart), with both transports ("tasks":
   one task per worker through the scheduler; "actors": one Dask actor per worker called
   directly, the default):
   - time per iteration: one ``value_grad`` (= one L-BFGS iteration's pass, distinct thetas
     so that no cache answers) and one ``hessp`` (Newton-CG's inner step); the one process
     and the Dask objectives take turns (``ROUNDS`` rounds of ``CALLS`` calls each, the first
     call of a turn not counted), medians of ``ROUNDS * CALLS`` calls, and each ratio is
     against the one-process median of the same cluster's run;
   - bytes per iteration: client-side bytes of one ``value_grad`` (theta out to each worker,
     (loss, gradient) back from each), and the bytes of Dask's data transfers meanwhile;
   - time to relative suboptimality (F - F*) / F* <= 1e-6 for "lbfgs" and "newton-cg"
     (solver start to the first iterate below it, from the solver's own history), on the
     one process and on the actors transport.
3. dask-ml's ``LogisticRegression`` (solvers "lbfgs" and "admm") on the same dask array, on a
   2-worker cluster with the same cores (threads per worker = cores / 2), the same objective:
   dask-ml minimises ``sum_i l_i + lamduh/2 ||beta||^2`` with ``lamduh = 1/C``, which is our
   F / C; ``fit_intercept=False`` on both sides (dask-ml would penalise the intercept) and
   ``normalize=False`` (dask-glm would otherwise standardise X, a different problem).  Its
   iterates are recorded without changing the algorithm (a wrapper around the L-BFGS
   function it calls; around the proximal operator of ADMM's z-update) and F is evaluated
   afterwards, so time to 1e-6 is read off the same way.  dask-glm cannot run on
   scipy.sparse chunks (its ``X.dot(beta)`` fails inside dask's sparse tensordot), so the
   comparison runs on the dense layout; the CSR attempt is recorded with its error.

Output: a Markdown report on stdout and a JSON file (``--out``).  Times are medians of 5
where repeated; the time-to-tolerance runs are single runs (each is many iterations).

Results (tables with their commands, and what is left between Dask and one process) are in
benchmarks/results/NOTES.md.  What a call costs beyond the slowest worker's kernel pass is
one client-worker round trip, independent of the problem size, so small passes pay more in
relative terms than large ones.  Per-call times are taken with BLAS on one thread, as the
solvers run (:func:`one_blas_thread`).

dask-glm's "lbfgs" fails with the newer SciPy of some machines (``fmin_l_bfgs_b`` no longer
takes ``iprint``); it is recorded as an error then.
"""
import argparse
import json
import os
import platform
import sys
import time
import traceback
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import dask.array as da  # noqa: E402
import distributed  # noqa: E402

from fastlogit.datasets import make_sparse_classification  # noqa: E402
from fastlogit.objective import Objective  # noqa: E402
from fastlogit.solvers import SOLVERS  # noqa: E402
import fastlogit.dask as fdask  # noqa: E402

TARGET = 1e-6
ROUNDS, CALLS = 5, 4  # per-iteration times: medians of ROUNDS * CALLS calls
TRANSPORTS = ("tasks", "actors")


def dense_data(n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d) * 2.0 / np.sqrt(d)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(X @ w)))).astype(np.float64)
    return X, y


def csr_data(size, cache_dir=None):
    """make_sparse_classification(*size, random_state=0), kept in ``cache_dir`` if given."""
    import scipy.sparse as sp

    path = None
    if cache_dir:
        path = os.path.join(cache_dir, "bench_dask_csr_%d_%d_%d" % tuple(size))
        if os.path.exists(path + ".X.npz"):
            return sp.load_npz(path + ".X.npz").tocsr(), np.load(path + ".y.npy")
    X, y = make_sparse_classification(*size, random_state=0)
    if path:
        os.makedirs(cache_dir, exist_ok=True)
        sp.save_npz(path + ".X.npz", X, compressed=False)
        np.save(path + ".y.npy", y)
    return X, y


def seconds_to(history, f_star, target=TARGET):
    """Seconds from solver start to the first iterate with (F - F*)/F* <= target (or None)."""
    for f, t in zip(history["objective"], history["time"]):
        if (f - f_star) / abs(f_star) <= target:
            return t
    return None


def one_blas_thread():
    """BLAS limited to one thread in this process, as the solvers run (``single_threaded_blas``).

    Outside a solver, a BLAS call in the one process's ``value_grad`` can wake OpenBLAS's
    threads, which then spin on the cores the next kernel pass needs (figures in
    benchmarks/results/NOTES.md).  The workers never call BLAS.  Limiting it here times what
    a solver iteration pays.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def per_iteration(obs, rng):
    """Median seconds per objective of ``value_grad`` (distinct thetas, so no cache answers)
    and of ``hessp`` (at its last theta, distinct vectors).

    The objectives take turns in ``ROUNDS`` rounds, so that all of them see the same machine
    load; in each turn one objective makes ``CALLS + 1`` calls back to back, as a solver does,
    and the first is not counted (the kernel threads of the previous turn's process may still
    hold the cores for a moment after it returned).  Each median is over ROUNDS * CALLS calls.
    Each objective gets thetas of its own: ``DaskObjective``s built on the same dask array
    share the persisted blocks, whose caches would otherwise answer the second one.
    """
    n_params = obs[0].n_params
    base = 1e-3 * rng.standard_normal(n_params)
    vg = [[] for _ in obs]
    hv = [[] for _ in obs]
    for r in range(ROUNDS):
        vs = [rng.standard_normal(n_params) for _ in range(CALLS + 1)]
        for j, ob in enumerate(obs):
            theta = base + j * 1e-6 + r * 1e-3
            for i in range(CALLS + 1):
                theta = theta + 1e-5
                t = time.perf_counter()
                ob.value_grad(theta)
                if i:
                    vg[j].append(time.perf_counter() - t)
            for i, v in enumerate(vs):
                t = time.perf_counter()
                ob.hessp(theta, v)
                if i:
                    hv[j].append(time.perf_counter() - t)
    return [(float(np.median(a)), float(np.median(b))) for a, b in zip(vg, hv)]


def lbfgs_per_iteration(obs, iters=20):
    """Seconds per L-BFGS iteration for each objective: ``ROUNDS`` short L-BFGS runs of
    ``iters`` iterations from slightly different starts, the objectives taking turns; the
    median over the rounds of wall time / iterations (line searches included)."""
    per = [[] for _ in obs]
    for r in range(ROUNDS):
        for ob, ts in zip(obs, per):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t = time.perf_counter()
                res = SOLVERS["lbfgs"](ob, np.full(ob.n_params, r * 1e-9), tol=1e-14,
                                       max_iter=iters)
                ts.append((time.perf_counter() - t) / max(res.n_iter, 1))
    return [float(np.median(ts)) for ts in per]


def run_solvers(ob, f_star, max_iter):
    out = {}
    for name in ("lbfgs", "newton-cg"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = time.perf_counter()
            # Stop once well below the target (F at an accepted iterate is cached: free).
            res = SOLVERS[name](ob, np.zeros(ob.n_params), tol=1e-12, max_iter=max_iter,
                                callback=lambda th: (ob.value(th) - f_star) / f_star <= 1e-7)
            wall = time.perf_counter() - t
        h = res.history
        out[name] = {"time_to_1e-6": seconds_to(h, f_star), "n_iter": res.n_iter, "wall": wall,
                     "final_subopt": (h["objective"][-1] - f_star) / abs(f_star),
                     "time_per_iter": wall / max(res.n_iter, 1)}
    return out


def worker_bytes(client):
    return sum(client.run(lambda dask_worker: dask_worker.transfer_outgoing_bytes_total)
               .values())


def bench_ours(X, y, C, f_star, args, rng):
    """One process against ``DaskObjective`` on 1 and 2 local workers, both transports.

    Per-iteration times are interleaved with the one-process objective's (same thetas, turn
    by turn), and each ratio is taken against the one-process median of the same cluster's
    run.  The solvers run on the one process and on the "actors" transport (the default).
    """
    rows = int(np.ceil(X.shape[0] / args.blocks))
    res = {}
    ob = Objective(X, y, C=C, fit_intercept=False, n_threads=args.threads)
    res["single"] = {"solvers": run_solvers(ob, f_star, args.max_iter)}
    for nw in (1, 2):
        with distributed.LocalCluster(n_workers=nw, threads_per_worker=1, processes=True,
                                      host="127.0.0.1", dashboard_address=None,
                                      worker_dashboard_address=None) as cluster, \
                distributed.Client(cluster) as client:
            dX = da.from_array(X, chunks=(rows, X.shape[1]), asarray=False)
            dy = da.from_array(y, chunks=rows)
            dobs, setups = [], []
            for transport in TRANSPORTS:
                t = time.perf_counter()
                dobs.append(fdask.DaskObjective(dX, dy, C=C, fit_intercept=False,
                                                n_threads=max(1, args.threads // nw),
                                                client=client, transport=transport))
                setups.append(time.perf_counter() - t)
            w0 = worker_bytes(client)
            with one_blas_thread():
                times = per_iteration([ob] + dobs, rng)
            w1 = worker_bytes(client)
            actors = dobs[TRANSPORTS.index("actors")]
            it_single, it_actors = lbfgs_per_iteration([ob, actors])
            res[f"single-{nw}w"] = {"value_grad": times[0][0], "hessp": times[0][1],
                                    "lbfgs_iter": it_single, "worker_to_worker_bytes": w1 - w0}
            res[f"dask-{nw}w-lbfgs_iter"] = it_actors
            theta = 1e-3 * rng.standard_normal(ob.n_params)
            for transport, dob, setup, (t_vg, t_hv) in zip(TRANSPORTS, dobs, setups, times[1:]):
                # Bytes of one value_grad (theta out to each worker, (loss, grad) back).
                b = dob.bytes_sent
                dob.value_grad(theta + len(res) * 1e-6)
                per = {"value_grad": dob.bytes_sent - b}
                res[f"dask-{nw}w-{transport}"] = {
                    "setup": setup, "value_grad": t_vg, "hessp": t_hv,
                    "vs_single_value_grad": t_vg / times[0][0],
                    "vs_single_hessp": t_hv / times[0][1],
                    "bytes_per_iter_client": per["value_grad"],
}
            for transport, dob in zip(TRANSPORTS, dobs):
                if transport == "actors":
                    b, n = dob.bytes_sent, sum(dob.n_evals.values())
                    sv = run_solvers(dob, f_star, args.max_iter)
                    calls = sum(dob.n_evals.values()) - n
                    sv["bytes_per_call"] = (dob.bytes_sent - b) / max(calls, 1)
                    res[f"dask-{nw}w-actors"]["solvers"] = sv
                dob.close()
    return res


def bench_daskml(X, y, C, f_star, args, ob_eval):
    """dask-ml lbfgs / admm on a 2-worker cluster (cores / 2 threads each); iterates recorded."""
    from dask_glm import algorithms
    from dask_ml.linear_model import LogisticRegression as DaskMLLogisticRegression

    rows = int(np.ceil(X.shape[0] / args.blocks))
    out = {}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=max(1, args.threads // 2),
                                  processes=True, host="127.0.0.1", dashboard_address=None,
                                  worker_dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        dX = client.persist(da.from_array(X, chunks=(rows, X.shape[1]), asarray=False))
        dy = client.persist(da.from_array(y, chunks=rows))
        distributed.wait([dX, dy])
        for solver in ("lbfgs", "admm"):
            record = []
            t_start = [None]
            orig_lbfgs, orig_get = algorithms.fmin_l_bfgs_b, algorithms.Regularizer.get

            def lbfgs_wrapper(func, x0, *a, **kw):
                def recorded(beta, *fa):
                    f, g = func(beta, *fa)
                    record.append((time.perf_counter() - t_start[0], C * float(f)))
                    return f, g
                return orig_lbfgs(recorded, x0, *a, **kw)

            def get_wrapper(reg):
                r = orig_get(reg)

                class Recorded(type(r)):
                    def proximal_operator(self, beta, t):
                        z = super().proximal_operator(beta, t)
                        record.append((time.perf_counter() - t_start[0], np.array(z)))
                        return z
                return Recorded()

            kw = {"normalize": False}
            if solver == "lbfgs":
                algorithms.fmin_l_bfgs_b = lbfgs_wrapper
                max_iter, tol = args.max_iter, 1e-12
            else:
                algorithms.Regularizer.get = staticmethod(get_wrapper)
                kw.update(abstol=1e-12, reltol=1e-12)
                max_iter, tol = args.admm_iter, 1e-12
            try:
                est = DaskMLLogisticRegression(solver=solver, C=C, fit_intercept=False,
                                               max_iter=max_iter, tol=tol, solver_kwargs=kw)
                t_start[0] = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    est.fit(dX, dy)
                wall = time.perf_counter() - t_start[0]
                hist = [(t, v if np.isscalar(v) else ob_eval(v)) for t, v in record]
                h = {"time": [t for t, _ in hist], "objective": [f for _, f in hist]}
                F_end = ob_eval(np.asarray(est.coef_).ravel())
                out[solver] = {"time_to_1e-6": seconds_to(h, f_star), "wall": wall,
                               "n_evals": len(hist), "final_subopt": (F_end - f_star) / f_star,
                               "best_subopt": (min(h["objective"]) - f_star) / f_star}
            except Exception as exc:  # recorded, the run goes on
                out[solver] = {"error": f"{type(exc).__name__}: {exc}"[:300],
                               "trace": traceback.format_exc()[-800:]}
            finally:
                algorithms.fmin_l_bfgs_b = orig_lbfgs
                algorithms.Regularizer.get = orig_get
    return out


def report(name, meta, ours, dml):
    lines = [f"\n## {name}: {meta}\n"]
    lines.append("Per iteration (medians of %d calls; the one process and the Dask runs take "
                 "turns, ratio = Dask / the one process measured alongside it):\n"
                 % (ROUNDS * CALLS))
    lines.append("| run | setup s | value_grad ms | one process ms | ratio | hessp ms | "
                 "one process ms | ratio | bytes per value_grad (client) |")
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for nw in (1, 2):
        s = ours[f"single-{nw}w"]
        for transport in TRANSPORTS:
            r = ours[f"dask-{nw}w-{transport}"]
            lines.append(
                f"| {nw} worker{'s' if nw > 1 else ''}, {transport} | {r['setup']:.2f} | "
                f"{1e3 * r['value_grad']:.1f} | {1e3 * s['value_grad']:.1f} | "
                f"{r['vs_single_value_grad']:.2f} | {1e3 * r['hessp']:.1f} | "
                f"{1e3 * s['hessp']:.1f} | {r['vs_single_hessp']:.2f} | "
                f"{r['bytes_per_iter_client']:.0f} |")
    lines.append("\nBytes the workers sent through Dask's data transfers during these calls "
                 "(task results gathered by the client, tree edges; the actors' replies are "
                 "not counted there but in the last column): %s" % ", ".join(
                     f"{nw} worker{'s' if nw > 1 else ''}: "
                     f"{ours[f'single-{nw}w']['worker_to_worker_bytes']:.0f}" for nw in (1, 2)))
    lines.append("\nPer L-BFGS iteration (line searches included; %d runs of 20 iterations, "
                 "the one process and the actors transport taking turns, medians):\n" % ROUNDS)
    lines.append("| run | ms per iteration | one process ms | ratio |")
    lines.append("|---|---|---|---|")
    for nw in (1, 2):
        s, r = ours[f"single-{nw}w"]["lbfgs_iter"], ours[f"dask-{nw}w-lbfgs_iter"]
        lines.append(f"| {nw} worker{'s' if nw > 1 else ''}, actors | {1e3 * r:.1f} | "
                     f"{1e3 * s:.1f} | {r / s:.2f} |")
    fmt = lambda v: "not reached" if v is None else f"{v:.3f}"  # noqa: E731
    lines.append("\nTime to (F - F*)/F* <= 1e-6 (single runs):\n")
    lines.append("| run | lbfgs s (iters) | newton-cg s (iters) | bytes per call |")
    lines.append("|---|---|---|---|")
    for key in ("single", "dask-1w-actors", "dask-2w-actors"):
        sv = ours[key]["solvers"]
        lines.append(f"| {key} | {fmt(sv['lbfgs']['time_to_1e-6'])} ({sv['lbfgs']['n_iter']})"
                     f" | {fmt(sv['newton-cg']['time_to_1e-6'])} "
                     f"({sv['newton-cg']['n_iter']}) | {sv.get('bytes_per_call', 0):.0f} |")
    if dml:
        lines.append("\n| dask-ml (2 workers) | time to 1e-6 s | wall s | evals | best subopt |")
        lines.append("|---|---|---|---|---|")
        for solver, r in dml.items():
            if "error" in r:
                lines.append(f"| {solver} | error: {r['error'][:120]} | | | |")
            else:
                t = r["time_to_1e-6"]
                lines.append(f"| {solver} | {'not reached' if t is None else f'{t:.2f}'} | "
                             f"{r['wall']:.2f} | {r['n_evals']} | {r['best_subopt']:.2e} |")
        ours_best = min((v for v in (ours["dask-2w-actors"]["solvers"][n]["time_to_1e-6"]
                                     for n in ("lbfgs", "newton-cg")) if v is not None),
                        default=None)
        reached = [(r["time_to_1e-6"], s) for s, r in dml.items()
                   if "error" not in r and r["time_to_1e-6"] is not None]
        if ours_best is not None:
            if reached:
                t, s_ = min(reached)
                lines.append(f"\nTime to 1e-6, dask-ml best ({s_}) / ours (2 workers, best "
                             f"solver): {t:.2f} / {ours_best:.3f} = {t / ours_best:.1f}x")
            else:
                walls = [r["wall"] for r in dml.values() if "error" not in r]
                if walls:
                    lines.append(f"\ndask-ml reached 1e-6 with no solver; its shortest run "
                                 f"lasted {min(walls):.2f} s = {min(walls) / ours_best:.1f}x "
                                 f"our time to 1e-6 ({ours_best:.3f} s), a lower bound")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--layout", choices=("csr", "dense", "both"), default="both")
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--blocks", type=int, default=16)
    p.add_argument("--max-iter", type=int, default=500)
    p.add_argument("--admm-iter", type=int, default=15)
    p.add_argument("--C", type=float, default=1.0)
    p.add_argument("--csr-size", type=int, nargs=3, metavar=("N", "D", "NNZ_PER_ROW"))
    p.add_argument("--dense-size", type=int, nargs=2, metavar=("N", "D"))
    p.add_argument("--out", default="bench_dask.json")
    p.add_argument("--cache-dir", help="keep the generated CSR data here (.npz) for re-runs")
    args = p.parse_args()
    rng = np.random.default_rng(0)
    if args.quick:
        csr_size, dense_size = (50_000, 5_000, 10), (40_000, 20)
    else:
        csr_size, dense_size = (1_000_000, 100_000, 20), (400_000, 50)
    csr_size = tuple(args.csr_size or csr_size)
    dense_size = tuple(args.dense_size or dense_size)
    print(f"# fastlogit.dask benchmark\n\nmachine: {platform.platform()}, "
          f"{len(os.sched_getaffinity(0))} cores; threads {args.threads}, "
          f"blocks {args.blocks}, C = {args.C}, fit_intercept=False; "
          f"dask {distributed.__version__}")
    results = {"args": vars(args)}
    layouts = ("dense", "csr") if args.layout == "both" else (args.layout,)
    for layout in layouts:
        t = time.perf_counter()
        if layout == "csr":
            X, y = csr_data(csr_size, args.cache_dir)
            meta = f"CSR {X.shape[0]} x {X.shape[1]}, {X.nnz / 1e6:.1f}M non-zeros"
        else:
            X, y = dense_data(*dense_size)
            meta = f"dense {X.shape[0]} x {X.shape[1]} = {X.size / 1e6:.1f}M entries"
        gen = time.perf_counter() - t
        ob = Objective(X, y, C=args.C, fit_intercept=False, n_threads=args.threads)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = SOLVERS["trust-region"](ob, np.zeros(ob.n_params), tol=1e-10, max_iter=200)
        f_star = ob.value(ref.theta)
        print(f"\n{layout}: generated in {gen:.1f} s; F* = {f_star:.12g} "
              f"(trust-region, {ref.n_iter} iterations, converged={ref.converged})", flush=True)
        ours = bench_ours(X, y, args.C, f_star, args, rng)
        dml = bench_daskml(X, y, args.C, f_star, args, ob.value) if layout == "dense" else {
            "lbfgs": {"error": "dask-glm cannot run on scipy.sparse chunks "
                               "(X.dot(beta) fails in dask's sparse tensordot); "
                               "compared on the dense layout"}}
        results[layout] = {"meta": meta, "f_star": f_star, "ours": ours, "dask_ml": dml}
        print(report(layout, meta, ours, dml), flush=True)
        with open(args.out, "w") as fh:
            json.dump(results, fh, indent=1, default=str)


if __name__ == "__main__":
    main()
