"""A/B of the L-BFGS solver module: a git revision's ``fastlogit/solvers/lbfgs.py`` against
the working tree's, on the news20 softmax problem (20 classes, C = 1), one process.

The old module is read with ``git show REV:fastlogit/solvers/lbfgs.py`` and imported as
``fastlogit.solvers._lbfgs_ab_old`` (its relative imports resolve against the working tree's
package, so only the solver loop and its memory differ; the kernels and the objective are
the same).  Rounds alternate old and new fits on the same objective (fresh per fit), at one
``--tol``; each fit reports wall and process CPU seconds, iterations, kernel passes and the
relative suboptimality against ``--fstar``; the medians over ``--rounds`` and their ratio
are printed last.  Run under the benchmark lock::

    FASTLOGIT_BENCH=1 flock -x /tmp/fastlogit-bench.lock \\
        python benchmarks/ab_lbfgs_memory.py --old 375b7de --tol 3e-5 --rounds 3
"""
import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.shared_data import load_shared  # noqa: E402
from fastlogit.objective import Objective  # noqa: E402
from fastlogit.solvers.lbfgs import lbfgs as new_lbfgs  # noqa: E402


def old_module(rev):
    """The lbfgs module of git revision ``rev``, imported inside fastlogit.solvers."""
    src = subprocess.run(["git", "show", f"{rev}:fastlogit/solvers/lbfgs.py"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "lbfgs_old.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("fastlogit.solvers._lbfgs_ab_old", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--old", required=True, help="git revision of the old lbfgs.py")
    p.add_argument("--tol", type=float, default=3e-5)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rows", type=int, default=None)
    p.add_argument("--fstar", type=float, default=2703.28205184,
                   help="F* of the full set (benchmarks/results/softmax_race.json)")
    args = p.parse_args(argv)
    old = old_module(args.old)
    X, y = load_shared("news20", binary=False)
    if args.rows:
        X, y = X[:args.rows], y[:args.rows]
    y = np.asarray(y, dtype=np.int64)
    Y = np.eye(y.max() + 1)[y]
    warnings.simplefilter("ignore")
    runners = {"old": old.lbfgs, "new": new_lbfgs}
    times = {name: ([], []) for name in runners}
    for r in range(args.rounds):
        for name, solver in runners.items():
            ob = Objective(X, Y, C=1.0, n_threads=args.threads)
            compact = ob.compact_columns()
            ob = ob if compact is None else compact[0]
            c0, t0 = time.process_time(), time.perf_counter()
            res = solver(ob, ob.zeros(), tol=args.tol, max_iter=100_000)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            sub = (ob.value(res.theta) - args.fstar) / args.fstar
            times[name][0].append(wall)
            times[name][1].append(cpu)
            passes = {k: v for k, v in res.n_evals.items() if v}
            print(f"round {r} {name}: wall {wall:.2f} s cpu {cpu:.2f} s, {res.n_iter} "
                  f"iterations, passes {passes}, subopt {sub:.3g}", flush=True)
    (ow, oc), (nw, nc) = ([statistics.median(v) for v in times[k]] for k in ("old", "new"))
    print(f"medians: old wall {ow:.2f} s cpu {oc:.2f} s | new wall {nw:.2f} s cpu {nc:.2f} s"
          f" | old/new wall {ow / nw:.2f}x cpu {oc / nc:.2f}x", flush=True)


if __name__ == "__main__":
    main()
