"""Data for tests, benchmarks and demos: a realistic sparse generator and the shared real sets.

The generator plants a linear model in data with text-like statistics: feature frequencies
follow a Zipf law, row lengths are log-normal, values are positive tf-idf-like weights, and
labels are drawn from the planted model's probabilities (so there is label noise).
"""
import bz2
import lzma
import os
from pathlib import Path

import numpy as np
import scipy.sparse as sp

__all__ = ["make_sparse_classification", "shared_dataset_path", "load_shared", "SHARED_DATASETS"]

#: Real LIBSVM-format sets in ../shared/datasets (name -> (file name, n_features or None)).
SHARED_DATASETS = {
    "a9a": ("a9a.xz", 123),
    "w8a": ("w8a.xz", 300),
    "mushrooms": ("mushrooms.xz", 112),
    "ijcnn1": ("ijcnn1.train.bz2", 22),
    "news20": ("news20.multiclass.bz2", 62061),
    "reuters": ("reuters_lasvm.train.bz2", 8315),
    "rcv1_small": ("rcv1_vw_small.train.svm.xz", 47236),
}


def make_sparse_classification(n_samples=10_000, n_features=1_000, mean_nnz=20, zipf=1.1,
                               n_classes=2, noise=1.0, dtype=np.float64, random_state=0):
    """Generated sparse classification data with a planted linear model.

    Parameters
    ----------
    n_samples, n_features : int
    mean_nnz : float
        Mean number of non-zeros per row (row lengths are log-normal, at least 1).
    zipf : float
        Exponent of the feature-frequency power law (feature j drawn with weight (j+1)^-zipf).
    n_classes : int
        2 gives labels in {0, 1}; more gives labels in {0, ..., n_classes - 1}.
    noise : float
        Scale of the planted logits; smaller means noisier labels.

    Returns
    -------
    X : csr_matrix of shape (n_samples, n_features), dtype ``dtype``, sorted int32 indices
    y : ndarray of shape (n_samples,), float64 labels
    """
    rng = np.random.default_rng(random_state)
    lengths = np.maximum(1, rng.lognormal(np.log(mean_nnz), 0.6, n_samples).astype(np.int64))
    lengths = np.minimum(lengths, n_features)
    indptr = np.zeros(n_samples + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    nnz = int(indptr[-1])
    p = (np.arange(1, n_features + 1, dtype=np.float64)) ** -zipf
    p /= p.sum()
    # Draw columns with replacement, then make each row duplicate-free and sorted.
    cols = rng.choice(n_features, size=nnz, p=p).astype(np.int64)
    row_of = np.repeat(np.arange(n_samples, dtype=np.int64), lengths)
    keys = np.unique(row_of * n_features + cols)
    rows, cols = np.divmod(keys, n_features)
    counts = np.bincount(rows, minlength=n_samples)
    indptr = np.zeros(n_samples + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    idf = np.log(1.0 / p)[cols]
    values = idf * rng.uniform(0.5, 1.5, cols.size)
    norms = np.sqrt(np.add.reduceat(values**2, indptr[:-1])) if cols.size else values
    values /= np.repeat(norms, counts)
    X = sp.csr_matrix(
        (values.astype(dtype), cols.astype(np.int32), indptr.astype(np.int32 if keys.size < 2**31 else np.int64)),
        shape=(n_samples, n_features),
    )
    k = 1 if n_classes == 2 else n_classes
    coef = rng.standard_normal((n_features, k)) * noise * np.sqrt(mean_nnz)
    Z = np.asarray(X @ coef)
    if n_classes == 2:
        y = (rng.random(n_samples) < 1.0 / (1.0 + np.exp(-Z[:, 0]))).astype(np.float64)
    else:
        Z -= Z.max(axis=1, keepdims=True)
        P = np.exp(Z)
        P /= P.sum(axis=1, keepdims=True)
        u = rng.random((n_samples, 1))
        y = (u > np.cumsum(P, axis=1)).sum(axis=1).astype(np.float64)
    return X, y


def shared_dataset_path(name, root=None):
    """Path of a shared real data set; ``root`` defaults to $FASTLOGIT_DATASETS or
    ``../shared/datasets`` relative to the project (or the current directory)."""
    file_name = SHARED_DATASETS[name][0] if name in SHARED_DATASETS else name
    candidates = [root] if root else []
    if os.environ.get("FASTLOGIT_DATASETS"):
        candidates.append(os.environ["FASTLOGIT_DATASETS"])
    here = Path(__file__).resolve().parent.parent
    candidates += [here.parent / "shared" / "datasets", Path.cwd().parent / "shared" / "datasets",
                   Path.cwd() / "shared" / "datasets"]
    for base in candidates:
        path = Path(base) / file_name
        if path.exists():
            return path
    raise FileNotFoundError(
        f"shared data set {name!r} not found; looked in {[str(c) for c in candidates]}"
        " (set FASTLOGIT_DATASETS to its folder)"
    )


def _open(path):
    path = str(path)
    if path.endswith(".xz"):
        return lzma.open(path, "rb")
    if path.endswith(".bz2"):
        return bz2.open(path, "rb")
    return open(path, "rb")


def load_shared(name, dtype=np.float64, binary=True):
    """Load a shared real data set as (CSR X, y).

    Binary labels are mapped to {0, 1} (the larger label is 1); ``news20`` becomes
    ``y <= 10`` vs ``y > 10`` when ``binary`` (else its 20 classes, 0-based).
    Uses fastlogit's own reader when it is available, else scikit-learn's.
    """
    path = shared_dataset_path(name)
    n_features = SHARED_DATASETS.get(name, (None, None))[1]
    try:
        from .io import load_svmlight

        X, y = load_svmlight(str(path), n_features=n_features, dtype=dtype)
    except ImportError:
        from sklearn.datasets import load_svmlight_file

        with _open(path) as fh:
            X, y = load_svmlight_file(fh, n_features=n_features, dtype=dtype)
    X = sp.csr_matrix(X)
    if X.indices.dtype != np.int32:
        X.indices = X.indices.astype(np.int32)
        X.indptr = X.indptr.astype(np.int32)
    y = np.asarray(y, dtype=np.float64)
    if name == "news20":
        y = (y > 10).astype(np.float64) if binary else y - y.min()
    elif binary:
        y = (y == y.max()).astype(np.float64)
    return X, y
