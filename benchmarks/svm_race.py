"""Race: linear SVMs (squared hinge, hinge) of fastlogit against LIBLINEAR on the shared sets.

Objectives (no intercept, as LIBLINEAR without ``-B``)::

    squared hinge  F(w) = C sum_i max(0, 1 - y~_i x_i . w)^2 + 1/2 ||w||^2   (LIBLINEAR -s 2, -s 1)
    hinge          F(w) = C sum_i max(0, 1 - y~_i x_i . w)   + 1/2 ||w||^2   (LIBLINEAR -s 3)

F* is the smaller of fastlogit's and LIBLINEAR's at their tightest setting, or with
``--reference certified`` F of our default solver at a relative duality gap of 1e-10 (which
bounds F - F* by 1e-10 F).  For each solver a
ladder of tolerances is walked to the first whose solution reaches relative suboptimality
``--target``; then ``--repeats`` rounds time every solver in turn (``harness.race``: the
second of two back-to-back fits after a busy-wait settle), median reported.  fastlogit's
time covers building the data term from the CSR matrix and the solve; LIBLINEAR's
``problem`` is built outside the timing.

Usage::

    python benchmarks/svm_race.py [--datasets a9a ...] [--loss squared_hinge hinge]
        [--C 1] [--target 1e-6] [--repeats 3] [--reference all|certified]
        [--fstar squared_hinge=F hinge=F] [--only COLUMN ...] [--cap S] [--out FILE]

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
from fastlogit.svm import fit_hinge, fit_squared_hinge  # noqa: E402

LIBLINEAR_SOLVERS = {"squared_hinge": ("-s 2", "-s 1"), "hinge": ("-s 3",)}
#: What LinearSVM runs by default for each loss: the column the headline ratio uses (the
#: best-of-ours column picks the winner after the fact, which a user cannot).
DEFAULT_SOLVER = {"squared_hinge": "fastlogit auto", "hinge": "fastlogit dcd"}
TOL_LADDER = tuple(10.0 ** -k for k in range(2, 14))


def primal(X, y, w, C, loss):
    """F(w) of the module docstring, float64."""
    m = (2 * y - 1) * (X @ w)
    slack = np.maximum(0.0, 1.0 - m)
    return float(C * (slack @ slack if loss == "squared_hinge" else slack.sum())
                 + 0.5 * w @ w)


MAX_DENSE_HESSIAN_D = 5000


def fastlogit_fits(X, y, C, loss, continuation=False):
    """{name: (fit(tol) -> w, ladder)}: LinearSVM's default path (squared hinge "auto": the
    finite Newton method for few parameters, dual CD for many, handing over to the truncated
    Newton method where it converges slowly), dual CD alone, and the primal solvers (squared
    hinge: finite Newton and the library's newton-cholesky for few features, else the
    truncated Newton method and trust-region) or the smoothing continuation (hinge, with
    ``continuation``)."""
    kw = dict(X=X, y=y, fit_intercept=False)
    if loss == "squared_hinge":
        def fit(solver):
            if solver in ("auto", "dcd", "finite-newton", "truncated-newton"):
                return lambda tol: fit_squared_hinge(kw, C, tol=tol, max_iter=1000,
                                                     solver=solver)[0]

            def run(tol):
                data = MarginData(X, y, loss=SquaredHinge(), fit_intercept=False)
                return solve(Objective(data, C=C), solver, tol=tol, max_iter=1000).theta
            return run
        names = ["auto", "dcd"]
        if X.shape[1] <= MAX_DENSE_HESSIAN_D:
            names += ["finite-newton", "newton-cholesky"]
        else:
            names += ["truncated-newton", "trust-region"]
        return {f"fastlogit {s}": (fit(s), TOL_LADDER) for s in names}

    fits = {"fastlogit dcd": (lambda tol: fit_hinge(kw, C, tol=tol)[0], TOL_LADDER)}  # "auto"
    if continuation:
        fits["fastlogit continuation"] = (
            lambda tol: fit_hinge(kw, C, tol=tol, max_iter=200, solver="continuation")[0],
            TOL_LADDER)
    return fits


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


def certified_optimum(X, y, C, loss, tol=1e-10):
    """F of LinearSVM's default solver at relative duality gap ``tol`` (F - F* <= tol F:
    the duality gap certifies it), float; raises RuntimeError if the gap was not reached."""
    kw = dict(X=X, y=y, fit_intercept=False)
    fit = fit_squared_hinge if loss == "squared_hinge" else fit_hinge
    theta, info = fit(kw, C, tol=tol, max_iter=1000)
    if not (info["gap"] is not None and info["gap"] <= tol):
        raise RuntimeError(f"the reference fit stopped at gap {info['gap']} > {tol:g}")
    return primal(X, y, theta, C, loss)


def run_set(name, loss, C, target, repeats, continuation=False, reference="all", fstar=None,
            only=None, cap_s=20.0):
    X, y = load_dataset(name)
    fits = fastlogit_fits(X, y, C, loss, continuation)
    # the default solver run at tol = target: its duality gap then certifies the target
    # (the ladder's pick may reach it with a looser certificate)
    fits[f"{DEFAULT_SOLVER[loss]}, gap {target:g}"] = (fits[DEFAULT_SOLVER[loss]][0], (target,))
    fits.update(liblinear_fits(X, y, C, loss))
    if only:  # keep the columns named (exactly) in ``only``
        fits = {k: v for k, v in fits.items() if k in only}
    if fstar is not None:  # given (--fstar)
        pass
    elif reference == "certified":
        fstar = certified_optimum(X, y, C, loss)
    else:
        # F*: our certified solvers' and LIBLINEAR's tightest (the smallest F)
        tight = [f(1e-12) for k, (f, _) in fits.items()
                 if k in ("fastlogit dcd", "fastlogit finite-newton") or "LIBLINEAR" in k]
        fstar = min(primal(X, y, w, C, loss) for w in tight)
    result = harness.race(fits, lambda w: primal(X, y, w, C, loss), fstar, target, repeats,
                          cap_s=cap_s)
    return X, result


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", nargs="+", default=list(REAL_DATASETS))
    ap.add_argument("--loss", nargs="+", default=["squared_hinge", "hinge"],
                    choices=["squared_hinge", "hinge"])
    ap.add_argument("--C", type=float, default=1.0)
    ap.add_argument("--target", type=float, default=1e-6)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--continuation", action="store_true",
                    help="also race the hinge's smoothing continuation (slow on large sets)")
    ap.add_argument("--reference", choices=["all", "certified"], default="all",
                    help="F*: the smallest F of every solver at tol 1e-12 (all), or our default "
                         "solver's at a certified relative duality gap of 1e-10 (certified: "
                         "minutes faster on news20)")
    ap.add_argument("--fstar", nargs="+", default=[], metavar="LOSS=VALUE",
                    help="F* given per loss (from an untimed certified run, e.g. news20's, "
                         "whose reference fits take minutes), for every set of the run")
    ap.add_argument("--only", nargs="+", default=None, metavar="COLUMN",
                    help='race only these solvers (column names, e.g. "fastlogit auto" '
                         '"LIBLINEAR -s 1"; needs --fstar or --reference certified)')
    ap.add_argument("--cap", type=float, default=20.0,
                    help="a solver's tolerance walk stops after a fit longer than this (s)")
    ap.add_argument("--out", default=str(RESULTS_DIR / "svm_race.md"))
    args = ap.parse_args(argv)
    fstars = {k: float(v) for k, v in (item.split("=", 1) for item in args.fstar)}
    lines = [f"# SVM race: time to relative suboptimality {args.target:g} (C = {args.C:g})", "",
             f"Measured {time.strftime('%Y-%m-%d')} on {machine_description()} with "
             f"`python benchmarks/svm_race.py {' '.join(sys.argv[1:])}`; seconds, median of "
             f"{args.repeats} (tol reached in brackets).", ""]
    tables = {loss: {} for loss in args.loss}
    for name in args.datasets:  # set by set, both losses: a cut-short run covers both
        for loss in args.loss:
            X, res = run_set(name, loss, args.C, args.target, args.repeats, args.continuation,
                             args.reference, fstars.get(loss), args.only, args.cap)
            tables[loss][name] = res
            print(loss, name, res, flush=True)
            # written after every set: an interrupted run keeps what it measured
            Path(args.out).write_text("\n".join(lines + _tables(tables)) + "\n")
    print("\n".join(lines + _tables(tables)))


def _tables(tables):
    """Markdown tables {loss: {set: race result}} with the LIBLINEAR / fastlogit ratio."""
    lines = []
    for loss, rows in tables.items():
        if not rows:
            continue
        solvers = list(dict.fromkeys(s for res in rows.values() for s in res))
        default = DEFAULT_SOLVER[loss]
        lines += [f"## {loss}", "", "| set | " + " | ".join(solvers) + " | best LIBLINEAR / "
                  f"{default} | best LIBLINEAR / best fastlogit |",
                  "|---" * (len(solvers) + 3) + "|"]
        for name, res in rows.items():
            cells = [("-" if s not in res else f"{res[s][0]:.4f} ({res[s][1]:g})"
                      if res[s][0] is not None else res[s][1]) for s in solvers]
            ours = [t for s, (t, _) in res.items() if s.startswith("fastlogit") and t]
            theirs = [t for s, (t, _) in res.items() if s.startswith("LIBLINEAR") and t]
            ratio = f"{min(theirs) / min(ours):.2f}x" if ours and theirs else "n/a"
            t_default = res.get(default, (None,))[0]
            ratio_default = (f"{min(theirs) / t_default:.2f}x" if theirs and t_default
                             else "n/a")
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {ratio_default} | {ratio} |")
        lines.append("")
    return lines


if __name__ == "__main__":
    main()
