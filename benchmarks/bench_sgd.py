"""SGD benchmarks: epoch throughput vs scikit-learn, and Hogwild scaling.

    python benchmarks/bench_sgd.py compare [a9a w8a news20 ...]   # needs scikit-learn
    python benchmarks/bench_sgd.py hogwild [n_samples n_features mean_nnz]

``compare``: same objective (C = 1, i.e. alpha = 1/n), "optimal" schedule, no averaging,
reshuffled epochs: sklearn ``SGDClassifier(loss="log_loss")`` against fastlogit's compiled
epochs (kernel loop only) and the ``sgd`` solver (with the free per-epoch estimate and with a
full objective pass per epoch).  Epochs/s are medians of 3 repeats; ratios from one run;
(F - F*)/F* after the epochs uses F* from benchmarks/results/fstar.json.

``hogwild``: seconds per epoch of the lock-free parallel epoch on generated sparse data
(fastlogit.datasets.make_sparse_classification) for 1, 2, 4, ... threads (median of 3), with
the objective reached after one epoch (Hogwild is not deterministic).

Results: benchmarks/results/NOTES.md.
"""
import importlib
import json
import os
import sys
import time
import warnings

import numpy as np

from fastlogit.kernels import KernelSet, _Namespace, as_design, get

warnings.simplefilter("ignore")
HERE = os.path.dirname(os.path.abspath(__file__))


def _median_time(fn, repeats=3):
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)), out


def _sgd_kernels(module):
    """NumPy kernels + one SGD module (so only the SGD extension needs to be built)."""
    mods = [importlib.import_module("fastlogit.kernels.numpy_ref"),
            importlib.import_module(f"fastlogit.kernels.{module}")]
    return KernelSet(module, _Namespace(mods))


def _epochs(ks, X, y, n_epochs, hogwild=False, n_threads=1, seed=0):
    n, d = X.shape
    Y = np.ascontiguousarray(y.reshape(-1, 1), dtype=X.dtype)
    W, b, st = np.zeros((d, 1)), np.zeros(1), np.array([1.0, 0, 0, 0, 0])
    alpha = 1.0 / n
    t0 = 1.0 / (alpha * np.sqrt(1.0 / np.sqrt(alpha)))
    order = np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    for _ in range(n_epochs):
        rng.shuffle(order)
        ks.sgd_epoch(X, Y, None, order, W, b, st, schedule="optimal", alpha=alpha, t0=t0,
                     lam2=alpha, hogwild=hogwild, n_threads=n_threads)
    return np.concatenate([st[0] * W[:, 0], b])


def compare(names, n_epochs=5):
    from sklearn.linear_model import SGDClassifier

    from benchmarks.shared_data import load_shared
    from fastlogit.objective import Objective
    from fastlogit.solvers.sgd import sgd

    fstar = json.load(open(os.path.join(HERE, "results", "fstar.json")))
    for name in names:
        Xs, y = load_shared(name)
        n = Xs.shape[0]
        X = as_design(Xs)
        f_star = next((v["F_star"] for k, v in fstar.items()
                       if k.startswith(name + "|") and k.endswith("C=1.0")), np.nan)
        rows = {}
        clf = SGDClassifier(loss="log_loss", alpha=1.0 / n, max_iter=n_epochs, tol=None,
                            random_state=0)
        t, _ = _median_time(lambda: clf.fit(Xs, y))
        rows["sklearn SGDClassifier"] = (t, np.concatenate([clf.coef_[0], clf.intercept_]))
        for be, module in (("numba", "sgd_numba"), ("cython", "sgd_cython")):
            try:
                ks = _sgd_kernels(module)
                ob = Objective(X, y, C=1.0, backend=be)
            except (ImportError, ValueError) as exc:
                print(f"skip {be}: {exc}")
                continue
            _epochs(ks, X, y, 1)  # compile / warm up
            t, th = _median_time(lambda: _epochs(ks, X, y, n_epochs))
            rows[f"fastlogit {be}: epochs only"] = (t, th)
            for monitor in ("epoch_loss", "objective"):
                t, r = _median_time(lambda: sgd(ob, ob.zeros(), max_iter=n_epochs, tol=0,
                                                n_iter_no_change=10**6, random_state=0,
                                                monitor=monitor))
                rows[f"fastlogit {be}: sgd solver, monitor={monitor}"] = (t, r.theta)
        obj = Objective(X, y, C=1.0, backend="numpy")
        base = rows["sklearn SGDClassifier"][0]
        print(f"\n{name}: {Xs.shape[0]} x {Xs.shape[1]}, nnz {Xs.nnz}, {n_epochs} epochs, "
              f"C = 1, F* = {f_star:.8g}")
        print(f"| method | epochs/s | vs sklearn | (F - F*)/F* after {n_epochs} epochs |")
        print("|---|---|---|---|")
        for k, (t, th) in rows.items():
            print(f"| {k} | {n_epochs / t:.1f} | {base / t:.2f} | "
                  f"{(obj.value(th) - f_star) / f_star:.3e} |")


def hogwild(n=1_000_000, d=1_000_000, mean_nnz=40, threads=None):
    from fastlogit.datasets import make_sparse_classification
    from fastlogit.objective import Objective

    threads = threads or [t for t in (1, 2, 4, 8, 16) if t <= os.cpu_count()]
    t = time.perf_counter()
    Xs, y = make_sparse_classification(n, d, mean_nnz=mean_nnz, random_state=0)
    print(f"generated {n} x {d}, nnz {Xs.nnz} in {time.perf_counter() - t:.1f} s")
    X = as_design(Xs)
    for module in ("sgd_numba", "sgd_cython"):
        try:
            ks = _sgd_kernels(module)
        except ImportError as exc:
            print(f"skip {module}: {exc}")
            continue
        obj = Objective(X, y, C=1.0, backend="numba" if module == "sgd_numba" else "numpy")
        _epochs(ks, X.rows(0, 1000), y[:1000], 1, hogwild=True, n_threads=2)  # compile
        seq, _ = _median_time(lambda: _epochs(ks, X, y, 1))
        print(f"\n{module}: sequential epoch {seq:.3f} s")
        print("| threads | s/epoch | speed-up vs 1 thread | vs sequential | F after 1 epoch |")
        print("|---|---|---|---|---|")
        one = None
        for nt in threads:
            tt, th = _median_time(lambda: _epochs(ks, X, y, 1, hogwild=True, n_threads=nt))
            one = one or tt
            print(f"| {nt} | {tt:.3f} | {one / tt:.2f} | {seq / tt:.2f} | {obj.value(th):.8g} |")


if __name__ == "__main__":
    cmd, args = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("compare", [])
    if cmd == "compare":
        compare(args or ["a9a", "w8a", "news20"])
    elif cmd == "hogwild":
        hogwild(*map(int, args))
    else:
        raise SystemExit(__doc__)
