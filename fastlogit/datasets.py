"""Generated data for examples, tests and benchmarks: a realistic sparse classification set.

The generator plants a linear model in data with text-like statistics: feature frequencies
follow a Zipf law, row lengths are log-normal, values are positive tf-idf-like weights, and
labels are drawn from the planted model's probabilities (so there is label noise).
"""
import numpy as np
import scipy.sparse as sp

__all__ = ["make_sparse_classification"]


def make_sparse_classification(n_samples=10_000, n_features=1_000, mean_nnz=20, zipf=1.1,
                               n_classes=2, noise=1.0, dtype=np.float64, random_state=0):
    """Generated sparse classification data with a planted linear model.

    Parameters
    ----------
    n_samples : int, default=10_000
        Number of rows.
    n_features : int, default=1_000
        Number of columns.
    mean_nnz : float, default=20
        Mean number of non-zeros per row (row lengths are log-normal, at least 1).
    zipf : float, default=1.1
        Exponent of the feature-frequency power law (feature j drawn with weight (j+1)^-zipf).
    n_classes : int, default=2
        2 gives labels in {0, 1}; more gives labels in {0, ..., n_classes - 1}.
    noise : float, default=1.0
        Scale of the planted logits; smaller means noisier labels.
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64
        Dtype of ``X.data``.
    random_state : int, default=0
        Seed of :func:`numpy.random.default_rng`; the same seed gives the same data.

    Returns
    -------
    X : scipy.sparse.csr_matrix of shape (n_samples, n_features)
        Rows of unit Euclidean norm with sorted int32 column indices, dtype ``dtype``.
    y : ndarray of shape (n_samples,)
        float64 labels.

    Examples
    --------
    >>> from fastlogit.datasets import make_sparse_classification
    >>> X, y = make_sparse_classification(n_samples=100, n_features=50, random_state=0)
    >>> X.shape, X.format, sorted(set(y.tolist()))
    ((100, 50), 'csr', [0.0, 1.0])
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
