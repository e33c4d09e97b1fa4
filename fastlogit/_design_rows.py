"""Row subsets and row norms of a validated :class:`fastlogit.kernels.Design`.

The one body of each for the package: the Hessian products over the rows that matter
(margin losses' rows inside the margin, :mod:`fastlogit.svm_newton`'s active rows, the log
loss's rows of non-negligible curvature in :meth:`fastlogit.objective.LogLossData.
row_subset_curvature`) read a copy of some of X's rows, and the step sizes and curvature bounds
read ``||x_i||^2``.

A subset of a validated Design's rows keeps every property the kernels rely on (column ids in
range, a non-decreasing ``indptr``), so the copies are built without re-validation.
"""

import numpy as np
from numba import njit

from . import kernels as _kernels

__all__ = ["row_subset", "row_sq_norms", "csr_rows_nnz", "CSRRowCopy"]


@njit(cache=True, nogil=True)
def csr_rows_nnz(indptr, rows):  # pragma: no cover (compiled)
    """Stored values of the CSR rows ``rows`` (int): ``sum_k indptr[rows[k] + 1] -
    indptr[rows[k]]``."""
    total = 0
    for k in range(rows.size):
        total += indptr[rows[k] + 1] - indptr[rows[k]]
    return total


@njit(cache=True, nogil=True)
def _append_csr_rows(data, indices, indptr, rows, out_data, out_ind, out_ptr, k0):
    """Append the CSR rows ``rows`` (in that order) to a CSR copy in buffers: rows k0, k0 + 1,
    ... of ``out_ptr`` (whose entry k0 holds the copy's stored values so far) and the values
    from there on in ``out_data`` / ``out_ind``, which must have room; returns the values
    stored in all."""
    o = out_ptr[k0]
    for k in range(rows.size):
        a, b = indptr[rows[k]], indptr[rows[k] + 1]
        m = b - a
        out_data[o:o + m] = data[a:b]  # slices: block copies, about twice an element loop's speed
        out_ind[o:o + m] = indices[a:b]
        o += m
        out_ptr[k0 + k + 1] = o
    return o


class CSRRowCopy:
    """A CSR copy of some of a CSR Design's rows, in buffers with room to append more.

    Parameters
    ----------
    design : fastlogit.kernels.Design
        CSR; the copy keeps its dtypes (``data``, ``indices``, ``indptr``).
    capacity : int
        Stored values the buffers hold (>= the values of every row ever appended).
    max_rows : int or None, default=None
        Rows the buffers hold; None: ``design.n_rows``.

    Attributes
    ----------
    n_rows, nnz : int
        Rows and values used so far (the first ``nnz`` of ``data`` / ``indices``, the first
        ``n_rows + 1`` of ``indptr``, which starts at 0).
    """

    __slots__ = ("data", "indices", "indptr", "n_rows", "nnz")

    def __init__(self, design, capacity, max_rows=None):
        data, indices, indptr = design.arrays
        rows = design.n_rows if max_rows is None else max_rows
        self.data = np.empty(capacity, dtype=data.dtype)
        self.indices = np.empty(capacity, dtype=indices.dtype)
        self.indptr = np.zeros(rows + 1, dtype=indptr.dtype)
        self.n_rows = self.nnz = 0

    def append(self, design, rows):
        """Copy ``design``'s rows ``rows`` (intp, in that order) after the used ones; the
        caller has checked the room (``csr_rows_nnz``)."""
        self.nnz = int(_append_csr_rows(*design.arrays, rows, self.data, self.indices,
                                        self.indptr, self.n_rows))
        self.n_rows += rows.size

    def design(self, n_cols, dtype):
        """The used part as a Design of shape (n_rows, n_cols) (views of the buffers: rows
        appended later do not reach it)."""
        k, nnz = self.n_rows, self.nnz
        return _kernels.Design.trusted("csr", (self.data[:nnz], self.indices[:nnz],
                                                self.indptr[:k + 1]), (k, n_cols), dtype)


def row_subset(design, rows):
    """The rows ``rows`` of a validated Design, as a Design of the same kind and dtype.

    One gather of the rows' entries, no re-validation.

    Parameters
    ----------
    design : fastlogit.kernels.Design
        Dense or CSR, float32 or float64 (a CSR row block, ``indptr[0] > 0``, too).
    rows : ndarray of int
        Row indices in ``[0, design.n_rows)`` (not checked), taken in their order.

    Returns
    -------
    fastlogit.kernels.Design
        ``len(rows)`` rows, a copy of their entries (CSR: ``indptr`` from 0, index dtypes
        kept).

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> from fastlogit.kernels import as_design
    >>> from fastlogit._design_rows import row_subset
    >>> X = np.arange(6.0).reshape(3, 2)
    >>> row_subset(as_design(X), np.array([0, 2])).arrays[0]
    array([[0., 1.],
           [4., 5.]])
    >>> row_subset(as_design(sp.csr_matrix(X)), np.array([2, 1])).to_scipy().toarray()
    array([[4., 5.],
           [2., 3.]])
    """
    rows = np.asarray(rows, dtype=np.intp)
    if design.kind == "dense":
        return _kernels.Design.trusted("dense", (design.arrays[0][rows],),
                                        (rows.shape[0], design.n_cols), design.dtype)
    copy = CSRRowCopy(design, int(csr_rows_nnz(design.arrays[2], rows)), rows.shape[0])
    copy.append(design, rows)
    return copy.design(design.n_cols, design.dtype)


def row_sq_norms(design):
    """``||x_i||_2^2`` of every row of a dense or CSR Design: float64, shape (n_rows,).

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> from fastlogit.kernels import as_design
    >>> from fastlogit._design_rows import row_sq_norms
    >>> X = np.array([[3.0, 4.0], [0.0, 0.0], [1.0, 0.0]])
    >>> row_sq_norms(as_design(X)), row_sq_norms(as_design(sp.csr_matrix(X)))
    (array([25.,  0.,  1.]), array([25.,  0.,  1.]))
    """
    if design.kind == "dense":
        X = design.arrays[0]
        return np.einsum("ij,ij->i", X, X, dtype=np.float64)
    data, _, indptr = design.arrays
    lo = int(indptr[0])
    sq = np.add.reduceat(np.concatenate([data[lo:int(indptr[-1])].astype(np.float64) ** 2,
                                         [0.0]]), np.asarray(indptr[:-1]) - lo)
    sq[np.diff(indptr) == 0] = 0.0
    return sq
