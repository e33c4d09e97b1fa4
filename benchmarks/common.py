"""Shared pieces of the benchmarks: thread pinning, data loading (with a local cache), our
objective F evaluated independently of fastlogit, and the machine's description.  F* and the
timing protocols are in :mod:`benchmarks.harness`, the solvers in :mod:`benchmarks.runners`.

The objective is the one of docs/user_guide/objective.md, with an unpenalised intercept::

    F(w, b) = C * sum_i [log(1 + exp(z_i)) - y_i z_i] + 1/2 ||w||^2,   z_i = x_i . w + b

It is evaluated here in plain NumPy/SciPy, float64, so that every library (fastlogit
included) is scored by the same code, not by its own report.
"""
import hashlib
import os
import platform
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = ROOT / ".asv" / "data_cache"
RESULTS_DIR = Path(__file__).resolve().parent / "results"

#: Real data sets used by default (names of fastlogit.datasets.SHARED_DATASETS).
REAL_DATASETS = ("a9a", "w8a", "mushrooms", "ijcnn1", "reuters", "rcv1_small", "news20")

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS", "FASTLOGIT_NUM_THREADS")


def set_thread_env(n_threads):
    """Pin every threaded runtime (OpenMP, BLAS, Numba, fastlogit) to ``n_threads``.

    Must run before numba / BLAS are first used in the process (compare.py's workers call it
    first thing); :func:`limit_threads` additionally caps already-loaded BLAS/OpenMP pools.
    """
    for var in _THREAD_VARS:
        os.environ[var] = str(n_threads)


def limit_threads(n_threads):
    """Cap loaded BLAS/OpenMP pools (threadpoolctl) and Numba to ``n_threads``; returns the
    threadpoolctl context (keep a reference to it for as long as the limit should hold)."""
    from threadpoolctl import threadpool_limits

    ctx = threadpool_limits(limits=n_threads)
    try:
        import numba

        numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
    except ImportError:  # pragma: no cover
        pass
    return ctx


# ----------------------------------------------------------------------------- data
def _file_key(path):
    st = os.stat(path)
    return hashlib.sha1(f"{Path(path).resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]


def _read_svmlight(path, n_features=None):
    """Read a (possibly compressed) svmlight file with scikit-learn; binary labels -> {0, 1}."""
    from sklearn.datasets import load_svmlight_file

    from .shared_data import open_compressed

    with open_compressed(path) as fh:
        X, y = load_svmlight_file(fh, n_features=n_features, dtype=np.float64)
    labels = np.unique(y)
    if labels.size != 2:
        raise ValueError(f"{path}: {labels.size} distinct labels; compare.py needs a binary task")
    return X, (y == labels.max()).astype(np.float64)


def _to_int32_csr(X):
    X = sp.csr_matrix(X, dtype=np.float64)
    X.sum_duplicates()
    X.sort_indices()
    if X.indices.dtype != np.int32:
        X.indices = X.indices.astype(np.int32)
        X.indptr = X.indptr.astype(np.int32)
    return X


def dataset_source(name):
    """File behind a data set name (a shared set name or a path)."""
    from .shared_data import SHARED_DATASETS, shared_dataset_path

    if name in SHARED_DATASETS:
        return shared_dataset_path(name)
    path = Path(name)
    if not path.exists():
        raise FileNotFoundError(f"data set {name!r}: neither a shared set nor an existing file")
    return path


def dataset_label(name):
    """Short display name: the shared name, or a file's stem."""
    from .shared_data import SHARED_DATASETS

    if name in SHARED_DATASETS:
        return name
    base = Path(name).name
    for ext in (".xz", ".bz2", ".gz", ".svm", ".txt", ".libsvm", ".svmlight"):
        if base.endswith(ext):
            base = base[: -len(ext)]
    return base


def cache_path(name):
    """Where :func:`load_dataset` caches ``name`` (keyed by the file's path, size and mtime)."""
    return CACHE_DIR / f"{dataset_label(name)}-{_file_key(dataset_source(name))}.npz"


def load_dataset(name, cache=True):
    """(X, y): CSR float64 with sorted int32 indices, y float64 in {0, 1}.

    ``name`` is a shared set (news20 is made binary as y <= 10 vs y > 10) or an svmlight file.
    Parsed sets are cached uncompressed under ``.asv/data_cache`` (keyed by file size and
    mtime) so that benchmark workers do not re-parse compressed text.
    """
    from .shared_data import SHARED_DATASETS, load_shared

    cached = cache_path(name)
    if cache and cached.exists():
        with np.load(cached) as f:
            X = sp.csr_matrix((f["data"], f["indices"], f["indptr"]), shape=tuple(f["shape"]))
            return X, f["y"]
    if name in SHARED_DATASETS:
        X, y = load_shared(name)
    else:
        X, y = _read_svmlight(dataset_source(name))
    X = _to_int32_csr(X)
    y = np.ascontiguousarray(y, dtype=np.float64)
    if cache:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".tmp{os.getpid()}.npz")
        np.savez(tmp, data=X.data, indices=X.indices, indptr=X.indptr,
                 shape=np.array(X.shape), y=y)
        os.replace(tmp, cached)
    return X, y


def generated_csr(n_samples, n_features, mean_nnz, random_state=0):
    """``fastlogit.datasets.make_sparse_classification`` output, cached on disk under
    ``.asv/data_cache`` (generation takes seconds; several asv classes share it)."""
    from fastlogit.datasets import make_sparse_classification

    path = CACHE_DIR / f"generated-{n_samples}x{n_features}-{mean_nnz}-{random_state}.npz"
    if path.exists():
        with np.load(path) as f:
            X = sp.csr_matrix((f["data"], f["indices"], f["indptr"]), shape=tuple(f["shape"]))
            return X, f["y"]
    X, y = make_sparse_classification(n_samples, n_features, mean_nnz=mean_nnz,
                                      random_state=random_state)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}.npz")
    np.savez(tmp, data=X.data, indices=X.indices, indptr=X.indptr, shape=np.array(X.shape), y=y)
    os.replace(tmp, path)
    return X, y


# ----------------------------------------------------------------------------- objective
def pointwise(y, z):
    """(log-loss, sigmoid) per sample at margins ``z``, without overflow for large |z|."""
    e = np.exp(-np.abs(z))
    loss = np.log1p(e) + np.where(z > 0, (1.0 - y) * z, -y * z)
    sig = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return loss, sig


def objective(X, y, w, b, C=1.0):
    """F(w, b) = C * sum log-loss + 1/2 ||w||^2 (intercept unpenalised), float64."""
    w = np.asarray(w, dtype=np.float64).ravel()
    z = np.asarray(X @ w).ravel() + float(b)
    loss, _ = pointwise(y, z)
    return float(C * np.sum(loss) + 0.5 * np.dot(w, w))


def objective_grad(X, y, w, b, C=1.0):
    """(F, grad_w, grad_b) of :func:`objective`."""
    w = np.asarray(w, dtype=np.float64).ravel()
    z = np.asarray(X @ w).ravel() + float(b)
    loss, sig = pointwise(y, z)
    r = C * (sig - y)
    return (float(C * np.sum(loss) + 0.5 * np.dot(w, w)), np.asarray(X.T @ r).ravel() + w,
            float(np.sum(r)))


# ----------------------------------------------------------------------------- machine
def machine_description():
    """CPU model, core count, memory, OS and library versions, for the results page."""
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 2**20:.0f} GiB"
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        cores = os.cpu_count()
    versions = {}
    for mod in ("numpy", "scipy", "numba", "sklearn", "glum", "tabmat", "fastlogit"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # pragma: no cover - optional
            versions[mod] = "n/a"
    try:
        from importlib.metadata import version

        versions["liblinear-official"] = version("liblinear-official")
    except Exception:  # pragma: no cover
        versions["liblinear-official"] = "n/a"
    return {"cpu": cpu, "cores": cores, "memory": mem, "os": platform.platform(),
            "python": platform.python_version(), "versions": versions}
