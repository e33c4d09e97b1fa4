"""Kernel throughput: fused CSR loss + gradient per backend against scikit-learn, in one run.

Run from the project root::

    .venv/bin/python benchmarks/bench_kernels.py            # every shared set + 20M-nnz synthetic
    .venv/bin/python benchmarks/bench_kernels.py --quick    # a9a, news20 + 2M-nnz synthetic
    .venv/bin/python benchmarks/bench_kernels.py --sets a9a,w8a,news20   # chosen sets + 20M synthetic

It measures, in this order and in the same process:

1. the machine's memory read bandwidth: a parallel float64 sum (``n_threads`` threads, numba)
   and ``np.sum`` over a 400 MB array, median of 7, the larger figure being "bandwidth";
2. for each real sparse set in ``../shared/datasets`` and a synthetic CSR
   (``make_sparse_classification``), ``loss_grad`` of every available backend in float64 and
   float32 (int32 indices), and scikit-learn's
   ``LinearModelLoss(HalfBinomialLoss(), fit_intercept=True).loss_gradient`` on the same data
   and dtype with the same ``n_threads``.

Every time is the median of at least 5 samples; a sample repeats the call enough times to last
about 20 ms so that sub-millisecond kernels are not timer-bound.  scikit-learn and the
backends, in float64 and float32, are sampled in interleaved rounds (one sample of each per
round), so that load from other work on the machine affects all of them alike.  The first call of each
(backend, dtype) — Numba compilation, when the on-disk cache is cold — is excluded and
reported separately.  GB/s counts the bytes of data + indices + indptr that one pass reads; "f32 gain" (on the
float32 rows) is the float64 time of the same backend divided by its float32 time.
Output: Markdown tables on stdout.

Numba and scikit-learn each bring their own OpenMP runtime.  With the default (spinning) wait
policy the idle threads of one runtime steal the cores from the other: on 2 cores this was
measured to make scikit-learn's ``loss_gradient`` 2-3x slower right after Numba kernels ran,
which would inflate the speed-up.  The script therefore sets ``OMP_WAIT_POLICY=PASSIVE`` for
both (unless it is already set in the environment) and prints the policy used.  Likewise
OpenBLAS: scikit-learn's ``loss_gradient`` makes one BLAS call (``weights @ weights``, the L2
term), after which OpenBLAS's worker threads spin and take a core from whatever runs next
(measured: fastlogit's news20 ``loss_grad`` 2x slower for several calls right after
scikit-learn's).  BLAS is limited to one thread for the run (threadpoolctl); that one dot
product is all the BLAS work in the timed calls.
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastlogit import kernels  # noqa: E402
from benchmarks.shared_data import SHARED_DATASETS, load_shared  # noqa: E402
from fastlogit.datasets import make_sparse_classification  # noqa: E402

N_THREADS = 2
SAMPLE_S = 0.02


def _median_times(fns, repeats):
    """Median seconds per call of each of ``fns`` (a dict), and each one's first-call time.

    After a warm-up, the samples are taken in rounds, one sample of every function per round,
    so that a change of machine load during the run affects all of them alike (the ratios
    stay fair on a shared machine).  A sample repeats the call to last about SAMPLE_S."""
    first, number = {}, {}
    for key, fn in fns.items():
        t0 = time.perf_counter()
        fn()
        first[key] = time.perf_counter() - t0
        t0 = time.perf_counter()
        fn()
        number[key] = max(1, int(SAMPLE_S / max(time.perf_counter() - t0, 1e-7)))
    samples = {key: [] for key in fns}
    for _ in range(repeats):
        for key, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(number[key]):
                fn()
            samples[key].append((time.perf_counter() - t0) / number[key])
    return {key: float(np.median(v)) for key, v in samples.items()}, first


def measure_bandwidth(n_threads, repeats=7, nbytes=400e6):
    """Read bandwidth in GB/s: (parallel numba sum, single-thread np.sum) over ``nbytes``."""
    import numba
    from numba import njit, prange

    @njit(parallel=True, fastmath=True, cache=False)
    def psum(a):
        acc = 0.0
        for i in prange(a.shape[0]):
            acc += a[i]
        return acc

    a = np.random.default_rng(0).random(int(nbytes // 8))
    previous = numba.get_num_threads()
    numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
    try:
        psum(a)
        t_par = np.median([_timeit(lambda: psum(a)) for _ in range(repeats)])
    finally:
        numba.set_num_threads(previous)
    t_np = np.median([_timeit(lambda: np.sum(a)) for _ in range(repeats)])
    return a.nbytes / t_par / 1e9, a.nbytes / t_np / 1e9


def _timeit(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def sklearn_loss_gradient(X, y, n_threads):
    from sklearn._loss.loss import HalfBinomialLoss
    from sklearn.linear_model._linear_loss import LinearModelLoss

    lml = LinearModelLoss(base_loss=HalfBinomialLoss(), fit_intercept=True)
    coef = np.random.default_rng(1).standard_normal(X.shape[1] + 1).astype(X.dtype) * 0.1

    def run():
        return lml.loss_gradient(coef, X, y, None, l2_reg_strength=0.0, n_threads=n_threads)

    return run


def data_sets(quick, sets=None):
    names = ["a9a", "news20"] if quick else list(SHARED_DATASETS)
    if sets:
        names = [name for name in sets.split(",") if name]
    for name in names:
        try:
            X, y = load_shared(name)
        except FileNotFoundError as exc:
            print(f"skipping {name}: {exc}", file=sys.stderr)
            continue
        yield name, X, y, "real"
    n = 45_000 if quick else 450_000  # about 2.2M / 22M non-zeros
    X, y = make_sparse_classification(n_samples=n, n_features=100_000, mean_nnz=58, random_state=0)
    yield f"synthetic {n // 1000}k x 100k", X, y, "generated"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run (a9a, news20, 2M nnz)")
    parser.add_argument("--sets", default=None,
                        help="comma-separated shared sets (default: all, or a9a,news20 with --quick)")
    parser.add_argument("--repeats", type=int, default=7, help="samples per median (>= 5)")
    parser.add_argument("--n-threads", type=int, default=N_THREADS)
    args = parser.parse_args(argv)
    repeats = max(5, args.repeats)
    n_threads = args.n_threads
    import numba
    import sklearn

    print(f"# fastlogit kernel benchmark: loss_grad (fused CSR), n_threads={n_threads}\n")
    print(f"python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}, "
          f"scikit-learn {sklearn.__version__}, machine {platform.machine()}, "
          f"{len(os.sched_getaffinity(0))} cores, OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}, "
          "BLAS threads 1\n")
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        _run(args, n_threads, repeats)


def _run(args, n_threads, repeats):
    bw_par, bw_np = measure_bandwidth(n_threads)
    bandwidth = max(bw_par, bw_np)
    print(f"Memory read bandwidth (400 MB float64 sum, median of 7): numba parallel "
          f"({n_threads} threads) {bw_par:.2f} GB/s, np.sum {bw_np:.2f} GB/s; "
          f"using {bandwidth:.2f} GB/s\n")
    backends = [b for b in kernels.available_backends() if b != "numpy"]
    print("| data | nnz | dtype | MB/pass | backend | ms | sklearn ms | speed-up | GB/s | % BW "
          "| f32 gain |")
    print("|---|---:|---|---:|---|---:|---:|---:|---:|---:|---:|")
    warmups = []
    for name, X, y, kind in data_sets(args.quick, args.sets):
        fns, info = {}, {}
        for dtype in (np.float64, np.float32):
            Xt = X.astype(dtype)
            Xt.indices = Xt.indices.astype(np.int32)
            D = kernels.as_design(Xt)
            yt = y.astype(dtype)
            w = (np.random.default_rng(1).standard_normal(D.n_cols) * 0.1).astype(dtype)
            grad = np.empty(D.n_cols, dtype=dtype)
            info[dtype] = D
            fns[dtype, "sklearn"] = sklearn_loss_gradient(Xt, yt, n_threads)
            for backend in backends:
                ks = kernels.get(backend)
                fns[dtype, backend] = (
                    lambda ks=ks, D=D, yt=yt, w=w, grad=grad:
                    ks.loss_grad(D, yt, None, w, 0.1, grad, n_threads=n_threads))
        # one set of interleaved rounds for both dtypes: the f32/f64 ratio is fair as well
        times, first = _median_times(fns, repeats)
        for dtype in (np.float64, np.float32):
            D = info[dtype]
            t_sk = times[dtype, "sklearn"]
            for backend in backends:
                t = times[dtype, backend]
                warmups.append((backend, np.dtype(dtype).name, name, first[dtype, backend]))
                gbs = D.nbytes / t / 1e9
                gain = "" if dtype == np.float64 else f"{times[np.float64, backend] / t:.2f}x"
                print(f"| {name} ({kind}) | {int(D.arrays[2][-1]):,} | {np.dtype(dtype).name} | "
                      f"{D.nbytes / 1e6:.1f} | {backend} | {t * 1e3:.3f} | {t_sk * 1e3:.3f} | "
                      f"{t_sk / t:.2f}x | {gbs:.2f} | {100 * gbs / bandwidth:.0f} % | {gain} |",
                      flush=True)
    print("\nFirst call (compilation when the Numba cache is cold), excluded from the medians:\n")
    seen = set()
    for backend, dtype, name, first in warmups:
        if (backend, dtype) not in seen:
            seen.add((backend, dtype))
            print(f"- {backend} {dtype}: {first:.2f} s (first data set, {name})")


if __name__ == "__main__":
    main()
