"""Race: linear SVMs (squared hinge, hinge) of fastlogit against LIBLINEAR on the shared sets.

Objectives (no intercept, as LIBLINEAR without ``-B``)::

    squared hinge  F(w) = C sum_i max(0, 1 - y~_i x_i . w)^2 + 1/2 ||w||^2   (LIBLINEAR -s 2, -s 1)
    hinge          F(w) = C sum_i max(0, 1 - y~_i x_i . w)   + 1/2 ||w||^2   (LIBLINEAR -s 3)

F* is the smaller of fastlogit's and LIBLINEAR's at their tightest setting.  For each solver a
ladder of tolerances is walked to the first whose solution reaches relative suboptimality
``--target``; then ``--repeats`` rounds time every solver in turn (``harness.race``: the
second of two back-to-back fits after a busy-wait settle), median reported.  fastlogit's
time covers building the data term from the CSR matrix and the solve; LIBLINEAR's
``problem`` is built outside the timing.

Usage::

    python benchmarks/svm_race.py [--datasets a9a ...] [--loss squared_hinge hinge]
        [--C 1] [--target 1e-6] [--repeats 3]

Results: benchmarks/results/svm_race.md.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import harness  # noqa: E402
from benchmarks.common import REAL_DATASETS, RESULTS_DIR, load_dataset, machine_description  # noqa: E402
from fastlogit.margin_losses import MarginData, SquaredHinge  # noqa: E402
from fastlogit.objective import Objective  # noqa: E402
from fastlogit.solvers import solve  # noqa: E402
from fastlogit.svm import fit_hinge  # noqa: E402

LIBLINEAR_SOLVERS = {"squared_hinge": ("-s 2", "-s 1"), "hinge": ("-s 3",)}
TOL_LADDER = tuple(10.0 ** -k for k in range(2, 14))


def primal(X, y, w, C, loss):
    """F(w) of the module docstring, float64."""
    m = (2 * y - 1) * (X @ w)
    slack = np.maximum(0.0, 1.0 - m)
    return float(C * (slack @ slack if loss == "squared_hinge" else slack.sum())
                 + 0.5 * w @ w)


def fastlogit_fits(X, y, C, loss):
    if loss == "squared_hinge":
        def fit(solver):
            def run(tol):
                data = MarginData(X, y, loss=SquaredHinge(), fit_intercept=False)
                return solve(Objective(data, C=C), solver, tol=tol, max_iter=1000).theta
            return run
        return {f"fastlogit {s}": (fit(s), TOL_LADDER)
                for s in ("newton-cholesky", "trust-region")}

    def run(tol):
        return fit_hinge(dict(X=X, y=y, fit_intercept=False), C, tol=tol, max_iter=200)[0]
    return {"fastlogit hinge (continuation)": (run, TOL_LADDER)}


def liblinear_fits(X, y, C, loss):
    from liblinear import liblinearutil as ll

    prob = ll.problem(2 * y - 1, X)
    d = X.shape[1]

    def fit(flag):
        def run(eps):
            model = ll.train(prob, ll.parameter(f"{flag} -c {C} -e {eps} -q"))
            w = np.array([model.w[j] for j in range(d)])
            return -w if model.get_labels()[0] == -1 else w
        return run
    return {f"LIBLINEAR {flag}": (fit(flag), TOL_LADDER) for flag in LIBLINEAR_SOLVERS[loss]}


def run_set(name, loss, C, target, repeats):
    X, y = load_dataset(name)
    fits = {**fastlogit_fits(X, y, C, loss), **liblinear_fits(X, y, C, loss)}
    tight = [f(1e-13 if "fastlogit" in k else 1e-12) for k, (f, _) in fits.items()]
    fstar = min(primal(X, y, w, C, loss) for w in tight)
    result = harness.race(fits, lambda w: primal(X, y, w, C, loss), fstar, target, repeats)
    return X, result


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", nargs="+", default=list(REAL_DATASETS))
    ap.add_argument("--loss", nargs="+", default=["squared_hinge", "hinge"],
                    choices=["squared_hinge", "hinge"])
    ap.add_argument("--C", type=float, default=1.0)
    ap.add_argument("--target", type=float, default=1e-6)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(RESULTS_DIR / "svm_race.md"))
    args = ap.parse_args(argv)
    lines = [f"# SVM race: time to relative suboptimality {args.target:g} (C = {args.C:g})", "",
             f"Measured {time.strftime('%Y-%m-%d')} on {machine_description()} with "
             f"`python benchmarks/svm_race.py {' '.join(sys.argv[1:])}`; seconds, median of "
             f"{args.repeats} (tol reached in brackets).", ""]
    for loss in args.loss:
        rows = {}
        for name in args.datasets:
            X, res = run_set(name, loss, args.C, args.target, args.repeats)
            rows[name] = res
            print(loss, name, res, flush=True)
        solvers = list(next(iter(rows.values())))
        lines += [f"## {loss}", "", "| set | " + " | ".join(solvers) + " | best LIBLINEAR / "
                  "best fastlogit |", "|---" * (len(solvers) + 2) + "|"]
        for name, res in rows.items():
            cells = [f"{t:.4f} ({tol:g})" if t is not None else tol for t, tol in res.values()]
            ours = [res[s][0] for s in solvers if s.startswith("fastlogit") and res[s][0]]
            theirs = [res[s][0] for s in solvers if s.startswith("LIBLINEAR") and res[s][0]]
            ratio = f"{min(theirs) / min(ours):.2f}x" if ours and theirs else "n/a"
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {ratio} |")
        lines.append("")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
