"""In-process A/B of fastlogit.LogisticRegressionCV between source trees (issue 17).

Each tree (a checkout's root, its compiled kernels in place) is imported as a package of
its own name (``fastlogit_0``, ``fastlogit_1``, ...: a symbolic link to the tree's
``fastlogit`` directory in a temporary directory; the package imports itself relatively),
so that one process runs every tree's CV on the same data and folds, alternating: each
round runs every tree ``--repeats`` times, in turn, the order reversed every other round,
so that a slow spell of the machine (other processes, a busy second core) hits all trees
alike.  Before timing it prints, for each tree against the first, whether ``C_``,
``scores_``, ``coef_`` and ``coefs_paths_`` are bitwise the same.  The setup is the race's
(benchmarks/cv_race.py: 10 Cs ``np.logspace(-4, 4, 10)``, 5 stratified folds shuffled with
seed 0, accuracy, tol 1e-4, max_iter 100, ``solver="auto"``); ``--threads default`` is
``n_threads=None``.

Usage (under the benchmark lock)::

    FASTLOGIT_BENCH=1 flock -x /tmp/fastlogit-bench.lock python benchmarks/ab_cv.py \\
        --dataset rcv1_small --penalty l1 --rounds 12 --repeats 5 TREE_A TREE_B [...]

Results: benchmarks/results/cv_race.md (session 14).
"""
import argparse
import importlib
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.shared_data import load_shared  # noqa: E402


#: The attributes compared bit for bit between trees.
COMPARED = ("C_", "scores_", "coef_", "coefs_paths_")


def link_trees(trees, links):
    """The fastlogit package of each tree (a checkout root) imported under its own name,
    ``fastlogit_<k>``, through a symbolic link in the directory ``links``; the modules."""
    sys.path.insert(0, str(links))
    mods = []
    for k, tree in enumerate(trees):
        name = f"fastlogit_{k}"
        os.symlink(Path(tree).resolve() / "fastlogit", Path(links) / name)
        mods.append(importlib.import_module(name))
    return mods


def bitwise_same(fit, reference):
    """{attribute: whether ``fit``'s equals ``reference``'s bit for bit (shape, dtype and
    bytes: -0.0 is not 0.0, a NaN equals the same NaN)} over COMPARED."""
    def same(a, b):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()

    return {name: same(getattr(fit, name), getattr(reference, name)) for name in COMPARED}


def main(argv=None):
    """Parse ``argv``, compare the trees' fits, time them; returns (the trees' bitwise
    comparisons against the first, [(tree, wall seconds list, CPU seconds list)])."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("trees", nargs="+", help="checkout roots, each holding a fastlogit/")
    p.add_argument("--dataset", default="rcv1_small")
    p.add_argument("--penalty", default="l1", choices=["l1", "l2"])
    p.add_argument("--threads", default="default", choices=["default", "1"])
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    from sklearn.model_selection import StratifiedKFold

    X, y = load_shared(args.dataset)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    n_threads = None if args.threads == "default" else 1
    mods = link_trees(args.trees, tempfile.mkdtemp(prefix="ab_cv_"))

    def run(mod):
        return mod.LogisticRegressionCV(
            Cs=np.logspace(-4, 4, 10), cv=folds, scoring="accuracy", tol=1e-4, max_iter=100,
            solver="auto", l1_ratios=(1.0 if args.penalty == "l1" else 0.0,),
            use_legacy_attributes=False, n_threads=n_threads).fit(X, y)

    fits = [run(mod) for mod in mods]  # (and Numba's caches)
    sames = [bitwise_same(fit, fits[0]) for fit in fits[1:]]
    for tree, same in zip(args.trees[1:], sames):
        print(f"{tree} against {args.trees[0]}: bitwise the same {same}")
    walls = [[] for _ in mods]
    cpus = [[] for _ in mods]
    for r in range(args.rounds):
        order = range(len(mods)) if r % 2 == 0 else reversed(range(len(mods)))
        for k in order:
            for _ in range(args.repeats):
                t0, c0 = time.perf_counter(), time.process_time()
                run(mods[k])
                walls[k].append(time.perf_counter() - t0)
                cpus[k].append(time.process_time() - c0)
    print(f"{args.dataset} {args.penalty}, threads {args.threads}, load average "
          f"{os.getloadavg()[0]:.2f}; ms, {args.rounds} rounds x {args.repeats}:")
    for tree, wall, cpu in zip(args.trees, walls, cpus):
        w = 1e3 * np.array(wall)
        print(f"  {tree}: wall median {np.median(w):.2f} (q25 {np.percentile(w, 25):.2f}, "
              f"min {w.min():.2f}), CPU median {1e3 * np.median(cpu):.2f}")
    return sames, list(zip(args.trees, walls, cpus))


if __name__ == "__main__":
    main()
