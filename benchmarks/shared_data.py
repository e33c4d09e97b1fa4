"""The team's real LIBSVM data sets (``../shared/datasets``), for tests and benchmarks only.

The package itself never looks outside the repository: this helper does, and callers skip
(tests) or stop with a clear message (benchmarks) when the folder is absent.  The folder is
``$FASTLOGIT_DATASETS`` when set, else ``../shared/datasets`` next to the repository, else
``shared/datasets`` under or next to the current directory.
"""
import bz2
import lzma
import os
from pathlib import Path

import numpy as np
import scipy.sparse as sp

__all__ = ["SHARED_DATASETS", "shared_dataset_path", "load_shared", "open_compressed"]

#: Real LIBSVM-format sets (name -> (file name, n_features or None)).
SHARED_DATASETS = {
    "a9a": ("a9a.xz", 123),
    "w8a": ("w8a.xz", 300),
    "mushrooms": ("mushrooms.xz", 112),
    "ijcnn1": ("ijcnn1.train.bz2", 22),
    "news20": ("news20.multiclass.bz2", 62061),
    "reuters": ("reuters_lasvm.train.bz2", 8315),
    "rcv1_small": ("rcv1_vw_small.train.svm.xz", 47236),
}

_REPO = Path(__file__).resolve().parent.parent


def shared_dataset_path(name, root=None):
    """Path of a shared data set (a name of :data:`SHARED_DATASETS` or a file name).

    Looks in ``root``, ``$FASTLOGIT_DATASETS``, ``../shared/datasets`` beside the repository
    and ``shared/datasets`` beside or under the current directory; raises FileNotFoundError
    naming every folder tried.
    """
    file_name = SHARED_DATASETS[name][0] if name in SHARED_DATASETS else name
    candidates = [Path(root)] if root else []
    if os.environ.get("FASTLOGIT_DATASETS"):
        candidates.append(Path(os.environ["FASTLOGIT_DATASETS"]))
    candidates += [_REPO.parent / "shared" / "datasets", Path.cwd().parent / "shared" / "datasets",
                   Path.cwd() / "shared" / "datasets"]
    for base in candidates:
        path = base / file_name
        if path.exists():
            return path
    raise FileNotFoundError(
        f"shared data set {name!r} not found; looked in {[str(c) for c in candidates]}"
        " (set FASTLOGIT_DATASETS to its folder)"
    )


def open_compressed(path):
    """Open a plain, .xz or .bz2 file for binary reading."""
    path = str(path)
    if path.endswith(".xz"):
        return lzma.open(path, "rb")
    if path.endswith(".bz2"):
        return bz2.open(path, "rb")
    return open(path, "rb")


def load_shared(name, dtype=np.float64, binary=True, root=None):
    """Load a shared real data set as (CSR X with int32 indices, float64 y).

    Binary labels are mapped to {0, 1} (the larger label is 1); ``news20`` becomes
    ``y <= 10`` vs ``y > 10`` when ``binary`` (else its 20 classes, 0-based).  Read with
    :func:`fastlogit.io.load_svmlight`.
    """
    from fastlogit.io import load_svmlight

    path = shared_dataset_path(name, root)
    n_features = SHARED_DATASETS.get(name, (None, None))[1]
    X, y = load_svmlight(str(path), n_features=n_features, dtype=dtype)
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
