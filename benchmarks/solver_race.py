"""Race: time to relative suboptimality 1e-6 of fastlogit's deterministic solvers against
scikit-learn's LogisticRegression solvers (and LIBLINEAR -s 0 -R, for orientation).

Objective (docs/user_guide/objective.md): F = C * sum log-loss + 1/2 ||w||^2, intercept
unpenalised, C = 1.
F* comes from a tight solve (our trust-region and newton-cholesky at tol 1e-13; the smaller F
wins: ``harness.our_optimum``).  For every solver a ladder of tolerances is walked from loose
to tight to find the first tol whose solution has (F - F*) / F* <= target.  Then
``--repeats`` rounds time every solver once each, in turn (so that the machine's slow spells
fall on all of them alike); the median is reported (``harness.race``).  The time covers the
whole fit from the CSR matrix: Objective construction + solve for fastlogit,
``LogisticRegression.fit`` for scikit-learn (its liblinear penalises the intercept; with
intercept_scaling=100 that is negligible and F is measured on our objective anyway).
LIBLINEAR's ``problem`` is built outside the timing (as in benchmarks/compare.py).  The
solvers are the runners of benchmarks/runners.py.

Each library runs with its default threading settings, as its users get it.  Each timed fit
is the second of two back-to-back fits of the same solver, after a ``--settle`` busy-wait
(0.2 s): the previous library's spinning OpenMP / OpenBLAS threads (scikit-learn bundles its own
OpenMP runtime) go idle meanwhile, so that no library is timed while another's threads hold a
core; the untimed fit brings the data into the caches, as in any loop of fits.  A busy-wait,
not a sleep: a sleeping core clocks down and slows the next fits, liblinear's included.
``OMP_WAIT_POLICY=PASSIVE`` (which earlier versions set to keep the two OpenMP runtimes'
threads apart) is not set: it makes every parallel region wake its threads through the
operating system, a cost that small kernel calls feel and that users do not pay.

Usage::

    python benchmarks/solver_race.py [--datasets a9a w8a ...] [--repeats 3] [--target 1e-6]
        [--n-threads N] [--solvers auto trust-region ...] [--no-saga] [--settle 0.2] [--cap 20]

On a shared, busy machine pin every library to one thread so that nobody's thread pool
waits on descheduled workers, and compare on one core each::

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python benchmarks/solver_race.py --n-threads 1

Results (tables with the command and date of each run) are in benchmarks/results/
solver_race.md, remarks on them in benchmarks/results/NOTES.md.
"""
import argparse
import functools
import os
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import harness, report, runners  # noqa: E402
from benchmarks.shared_data import load_shared  # noqa: E402
from fastlogit.kernels import available_backends  # noqa: E402

DATASETS = ("a9a", "w8a", "mushrooms", "ijcnn1", "reuters", "rcv1_small", "news20")
LADDER = (1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6, 1e-7, 1e-8, 1e-9,
          1e-10)
LIBLINEAR_LADDER = (1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 1e-6, 1e-7, 1e-8)
#: iteration limit of every solver in the race
MAX_ITER = 10_000
OURS = ("auto", "newton-cholesky", "trust-region", "newton-cg", "lbfgs")
SKLEARN = ("lbfgs", "newton-cholesky", "newton-cg", "liblinear", "saga")


def race_runners(ours_names, sk_names, glum=False):
    """{row name: (Runner, ladder)} in table order: ours (Objective + solve), scikit-learn,
    LIBLINEAR (if installed), and with ``glum`` glum's IRLS solvers (gradient_tol on the
    same ladder)."""
    rows = {f"ours {s}": (runners.Fastlogit(s, via="objective", max_iter=MAX_ITER), LADDER)
            for s in ours_names}
    for s in sk_names:
        extra = {"intercept_scaling": 100.0} if s == "liblinear" else {}
        rows[f"sklearn {s}"] = (runners.SklearnLogReg(s, max_iter=MAX_ITER, **extra), LADDER)
    rows["LIBLINEAR -s 0 -R"] = (runners.Liblinear(LIBLINEAR_LADDER, "LIBLINEAR -s 0 -R"),
                                 LIBLINEAR_LADDER)
    if glum:
        for runner in (runners.Glum("irls-cd"), runners.Glum("irls-ls", "irls-ls (auto)")):
            rows[runner.name] = (runner, LADDER)
    return rows


def prepared_fits(rows, X, y, C, n_threads):
    """({name: (fit, ladder)}, {name: (None, reason)}): ``fit(tol)`` returns the solution in
    our layout; the rows that do not apply here (or whose library is missing) are skipped."""
    fits, skipped = {}, {}
    for name, (runner, ladder) in rows.items():
        try:
            ctx = runner.prepare(X, y, C, n_threads)
        except runners.Unavailable:
            skipped[name] = (None, "d too large")
            continue
        except ImportError:
            skipped[name] = (None, "not installed")
            continue
        fits[name] = (functools.partial(runner.theta, ctx), ladder)
    return fits, skipped


def warm_up(rows, X, y, C, n_threads):
    """One loose fit of each of our solvers on 500 rows: JIT compilation, thread pools,
    threadpoolctl, outside any timing."""
    for name, (runner, _) in rows.items():
        if name.startswith("ours"):
            try:
                ctx = runner.prepare(X[:500], y[:500], C, n_threads)
            except runners.Unavailable:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                runner.theta(ctx, 1e-2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--target", type=float, default=1e-6)
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--no-saga", action="store_true")
    parser.add_argument("--n-threads", type=int, default=None,
                        help="fastlogit kernel threads (default: all cores)")
    parser.add_argument("--solvers", nargs="*", default=None, help="subset of our solvers")
    parser.add_argument("--settle", type=float, default=0.2,
                        help="seconds of busy-waiting before each timed fit (idle thread pools)")
    parser.add_argument("--glum", action="store_true",
                        help="also race glum's irls-cd and irls-ls (its dense d x d IRLS "
                             "Hessian: small d only)")
    parser.add_argument("--cap", type=float, default=20.0,
                        help="a solver's ladder stops after a fit longer than this (seconds)")
    args = parser.parse_args(argv)
    C = args.C
    ours_names = args.solvers or list(OURS)
    sk_names = [s for s in SKLEARN if not (args.no_saga and s == "saga")]
    rows_spec = race_runners(ours_names, sk_names, glum=args.glum)
    rows = []
    for name in args.datasets:
        X, y = load_shared(name)
        fstar, ob = harness.our_optimum(X, y, C)
        warm_up(rows_spec, X, y, C, args.n_threads)
        fits, skipped = prepared_fits(rows_spec, X, y, C, args.n_threads)
        res = {**harness.race(fits, ob.value, fstar, args.target, args.repeats,
                              settle_s=args.settle, cap_s=args.cap), **skipped}
        rows.append((name, X.shape, fstar, res))
        print(f"# {name}: F* = {fstar:.12g}; " + "; ".join(
            f"{k}: {v[0]:.4f}s (tol {v[1]:g})" if v[0] is not None else f"{k}: {v[1]}"
            for k, v in res.items()), file=sys.stderr, flush=True)
    print(f"Seconds to relative suboptimality {args.target:g} (C = {C:g}, L2, intercept "
          f"unpenalised), median of {args.repeats}; backends {available_backends()}, "
          f"'auto' = {available_backends()[0]}, fastlogit n_threads = {args.n_threads}, "
          f"OMP_WAIT_POLICY = {os.environ.get('OMP_WAIT_POLICY', '(unset)')}, "
          f"each timed fit after a {args.settle:g} s busy-wait and an untimed fit, solvers "
          f"taking turns.\n")
    print("\n".join(report.race_table(rows, list(rows_spec))))
    return rows


if __name__ == "__main__":
    main()
