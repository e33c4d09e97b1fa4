"""Merging identical rows of a weighted sum over samples into one weighted row.

A data term ``L(theta) = sum_i s_i l(y_i, x_i . w + b)`` whose rows repeat (the same stored
entries of ``x_i`` and the same label ``y_i``) equals, as a function of theta, the same sum
over the *distinct* (row, label) pairs, each weighted by the sum of its copies' weights::

    sum_i s_i l(y_i, z_i) = sum_g S_g l(y_g, z_g),    S_g = sum_{i in g} s_i

so every value, gradient and Hessian is the same (only the order of the additions
differs), and so is every minimiser: a solver may work on the merged rows and return its
theta as the original problem's.  Each pass over the samples (pointwise terms, line
searches) then shrinks by the copies' share of the rows, and each pass over the stored
entries (gradients, coordinate sweeps, Hessian builds) by their share of the entries (less
where the copies are the short rows).

:func:`merge_rows` groups the rows (compiled: one hash per row from its stored entries and
label, a hash table over the rows, and an exact comparison of the rows that share a
hash), and gives up early, after a sample of the rows, when the share of copies is below
what the caller asks for (text sets hold almost none).  :func:`merged_log_loss` makes the
merged rows a :class:`fastlogit.objective.LogLossData`, a data term like any other (the
contract's :class:`fastlogit.contract.DataTerm`).

Rows count as identical when their stored entries are identical (indices, value bits, and
their order): on CSR arrays in canonical form (sorted indices, no duplicate entries) that
is equality of the rows; otherwise equal rows stored differently are simply not merged.
"""
from typing import NamedTuple

import numpy as np
from numba import njit

from .kernels.numba_impl import UINDEX, non_decreasing

__all__ = ["MergedRows", "merge_rows", "merged_log_loss"]

_JIT = dict(cache=True, nogil=True)
_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)
_ONE = np.array([1.0]).view(np.uint64)[0]  # the bits of 1.0
#: :func:`merge_rows` with a ``min_share`` first counts the pairs of identical rows among every
#: _STEP-th row (from n >= _STEP * _STEP rows on): ``pairs * _STEP^2`` estimates the pairs
#: among all rows, an upper bound on the copies (a group of c rows holds c - 1 copies and
#: c (c - 1) / 2 pairs), so a set whose sample shows too few pairs is given up there.
_STEP = 16


class MergedRows(NamedTuple):
    """The distinct (row, label) pairs of a CSR matrix and their summed weights.

    Parameters
    ----------
    indptr : ndarray of int64, shape (n_groups + 1,)
        The merged rows' CSR row starts.
    indices : ndarray, shape (nnz_merged,)
        The input's index dtype.
    data : ndarray of float64, shape (nnz_merged,)
        Row ``g`` is the first row of its group, copied (groups in the order of their first
        rows).
    y : ndarray of float64, shape (n_groups,)
        The group's label.
    sample_weight : ndarray of float64, shape (n_groups,)
        The sum of the group's weights (its number of rows without weights), summed in
        row order.
    inverse : ndarray of int64, shape (n_rows,)
        The group of each input row: ``inverse[i] = g``; a per-sample quantity of the merged
        rows ``v`` (margins, probabilities) is ``v[inverse]`` per input row.
    first : ndarray of int64, shape (n_groups,)
        The first input row of each group.
    unit : bool
        Every stored value is 1.0 (a binary X).
    col_counts : ndarray of int64, shape (n_features,)
        The merged rows' entries per column.
    columns : tuple (indptr int64 (n_features + 1,), indices int32 or int64, data float64) or None
        The merged rows in CSC (row indices sorted within each column), when asked for.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.row_merge import merge_rows
    >>> indptr, indices, data = np.array([0, 1, 2]), np.array([1, 1]), np.array([3.0, 3.0])
    >>> m = merge_rows(indptr, indices, data, np.array([1.0, 1.0]), 2, columns=True)
    >>> m.n_groups, m.sample_weight.tolist(), m.columns[0].tolist()  # one row, weight 2
    (1, [2.0], [0, 0, 1])
    """

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    y: np.ndarray
    sample_weight: np.ndarray
    inverse: np.ndarray
    first: np.ndarray
    unit: bool
    col_counts: np.ndarray
    columns: tuple

    @property
    def n_groups(self):
        """int: the number of distinct (row, label) pairs, the merged rows.

        Examples
        --------
        >>> import numpy as np
        >>> from fastlogit.row_merge import merge_rows
        >>> m = merge_rows(np.array([0, 1, 2]), np.array([0, 0]), np.ones(2), np.ones(2), 1)
        >>> m.n_groups
        1
        """
        return self.first.shape[0]


@njit(inline="always", **_JIT)
def _mix(x):
    x ^= x >> UINDEX(31)
    x *= _M2
    x ^= x >> UINDEX(29)
    x *= _M3
    x ^= x >> UINDEX(32)
    return x


@njit(inline="always", **_JIT)
def _same_row(indptr, indices, bits, ybits, a, i):
    if ybits[a] != ybits[i]:
        return False
    la, li = UINDEX(indptr[a]), UINDEX(indptr[i])
    k = UINDEX(indptr[a + UINDEX(1)]) - la
    if UINDEX(indptr[i + UINDEX(1)]) - li != k:
        return False
    for q in range(k):
        if indices[la + q] != indices[li + q] or bits[la + q] != bits[li + q]:
            return False
    return True


@njit(inline="always", **_JIT)
def _find(table, hashes, first, indptr, indices, bits, ybits, i, h, mask, ng):
    """The group of row i (hash h) in the hash table (entries: group ids, -1 empty; linear
    probing), added as group ``ng`` when new.  Returns (group, new)."""
    slot = h & mask
    while True:
        g = table[slot]
        if g < 0:
            table[slot] = ng
            hashes[ng] = h
            first[ng] = i
            return ng, True
        if hashes[g] == h and _same_row(indptr, indices, bits, ybits, first[g], i):
            return g, False
        slot = (slot + UINDEX(1)) & mask


@njit(**_JIT)
def _table(n):
    size = 1
    while size < 2 * n:
        size *= 2
    return np.full(size, -1, dtype=np.int64), UINDEX(size - 1)


@njit(**_JIT)
def _sample_pairs(indptr, indices, bits, ybits, step):
    """Pairs of identical rows among the rows 0, step, 2 step, ... (rows hashed entry by
    entry: a sum of mixed (index, value) terms, so the multiplies pipeline)."""
    n = (indptr.shape[0] - 1 + step - 1) // step
    table, mask = _table(n)
    hashes = np.empty(n, dtype=np.uint64)
    first = np.empty(n, dtype=np.int64)
    count = np.zeros(n, dtype=np.int64)
    ng = 0
    pairs = 0
    for k in range(n):
        i = k * step
        lo, hi = UINDEX(indptr[i]), UINDEX(indptr[i + 1])
        h = _mix(ybits[i] ^ ((hi - lo) * _M1))
        for q in range(lo, hi):
            h += _mix(UINDEX(indices[q]) * _M1 ^ bits[q])
        g, new = _find(table, hashes, first, indptr, indices, bits, ybits, i, h, mask, ng)
        ng += new
        pairs += count[g]
        count[g] += 1
    return pairs


@njit(**_JIT)
def _group(indptr, indices, bits, y, ybits, s, n_cols, inverse, first, ms, counts):
    """Groups every row (hash: a per-column random 64-bit key, mixed with the value's bits,
    summed over the row's entries; one load and an add per entry): ``inverse``, ``first``,
    the summed weights ``ms`` (s of length 0: unit weights) and the entries per column of
    the groups' first rows (``counts``, zeros on entry).  Returns (number of groups, their
    entries, every stored value is 1.0), or (-1, 0, False) when an index lies outside
    [0, n_cols)."""
    n = indptr.shape[0] - 1
    key = np.empty(n_cols, dtype=np.uint64)
    for j in range(n_cols):
        key[j] = _mix(UINDEX(j) * _M1 + _M2)
    table, mask = _table(n)
    hashes = np.empty(n, dtype=np.uint64)
    unit_w = s.shape[0] == 0
    ng = 0
    nnz = 0
    unit = True
    for i in range(n):
        lo, hi = UINDEX(indptr[i]), UINDEX(indptr[i + 1])
        h = _mix(ybits[i] ^ ((hi - lo) * _M1))
        for q in range(lo, hi):
            j = UINDEX(indices[q])
            if j >= n_cols:  # (a negative index too)
                return -1, 0, False
            b = bits[q]
            unit &= b == _ONE
            h += key[j] ^ b
        g, new = _find(table, hashes, first, indptr, indices, bits, ybits, i, h, mask, ng)
        if new:
            ng += 1
            ms[g] = 0.0
            for q in range(lo, hi):
                counts[UINDEX(indices[q])] += 1
            nnz += np.int64(hi - lo)
        inverse[i] = g
        ms[g] += 1.0 if unit_w else s[i]
    return ng, nnz, unit


@njit(**_JIT)
def _fill(indptr, indices, data, y, first, mp, mi, mv, my, cp, ri, rv, unit):
    """The groups' first rows into mp / mi / mv (CSR) and their labels into my; when cp has
    length n_cols + 1 (the column starts of the merged rows), also into ri / rv (CSC).
    ``unit``: every value is 1.0 (the grouping pass found it): mv and rv, filled with ones
    by the caller, are not written."""
    ng = first.shape[0]
    csc = cp.shape[0] > 0
    nxt = cp[:-1].copy() if csc else cp
    nz = UINDEX(0)
    mp[0] = 0
    for g in range(ng):
        i = first[g]
        for q in range(UINDEX(indptr[i]), UINDEX(indptr[i + 1])):
            j = indices[q]
            mi[nz] = j
            if not unit:
                mv[nz] = data[q]
            nz += UINDEX(1)
            if csc:
                k = nxt[UINDEX(j)]
                ri[k] = g
                if not unit:
                    rv[k] = data[q]
                nxt[UINDEX(j)] = k + 1
        mp[g + 1] = nz
        my[g] = y[i]


def merge_rows(indptr, indices, data, y, n_features, sample_weight=None, *, min_share=0.0,
               columns=False):
    """Group the identical (row, label) pairs of a CSR matrix.

    Parameters
    ----------
    indptr : ndarray of int32 or int64, shape (n + 1,)
        The CSR row starts, ``indptr[0] == 0``, non-decreasing.
    indices : ndarray of int32 or int64, shape (>= indptr[-1],)
        The column of each stored entry.
    data : ndarray of float64, shape (>= indptr[-1],)
        The stored values (compared by their bits).
    y : ndarray of float64, shape (n,)
        Labels (compared by their bits).
    n_features : int
        The number of columns; every index must lie in ``[0, n_features)``.
    sample_weight : ndarray of float64, shape (n,), or None
        None: every row weighs 1.
    min_share : float in [0, 1)
        Give up (return None) when fewer than this share of the rows are copies of an
        earlier row (or none is).  Checked first on a sample of the rows (every
        ``_STEP``-th: the pairs of identical rows among them, scaled to all rows, bound the
        copies from above in expectation; too few give up before the full pass), then
        exactly.
    columns : bool
        Also make the merged rows' CSC arrays (``MergedRows.columns``) in the same pass.

    Returns
    -------
    :class:`MergedRows` or None

    Raises
    ------
    ValueError
        When the arrays' shapes or dtypes do not fit together, or an index lies outside
        ``[0, n_features)``.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> from fastlogit.row_merge import merge_rows
    >>> X = sp.csr_array(np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 0.0], [1.0, 0.0]]))
    >>> y = np.array([1.0, 0.0, 1.0, 0.0])  # rows 0 and 2 repeat (row and label); row 3 not
    >>> m = merge_rows(X.indptr, X.indices, X.data, y, 2)
    >>> m.n_groups, m.sample_weight.tolist(), m.inverse.tolist()
    (3, [2.0, 1.0, 1.0], [0, 1, 0, 2])
    """
    indptr = np.ascontiguousarray(indptr)
    n = indptr.shape[0] - 1
    y = np.ascontiguousarray(y, dtype=np.float64)
    if (indptr.ndim != 1 or n < 0 or indptr.dtype.kind != "i"
            or (n >= 0 and indptr.shape[0] and int(indptr[0]) != 0)):
        raise ValueError("indptr must be a 1-D integer array starting at 0")
    nnz = int(indptr[-1])
    if n and not non_decreasing(indptr):
        raise ValueError("indptr must be non-decreasing")
    indices = np.ascontiguousarray(indices)
    data = np.ascontiguousarray(data, dtype=np.float64)
    if indices.shape[0] < nnz or data.shape[0] < nnz or indices.dtype.kind != "i":
        raise ValueError(f"indices and data must hold indptr[-1] = {nnz} integer indices and "
                         f"float64 values, got {indices.shape[0]} ({indices.dtype}) and "
                         f"{data.shape[0]}")
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},), got {y.shape}")
    s = (np.empty(0) if sample_weight is None
         else np.ascontiguousarray(sample_weight, dtype=np.float64))
    if sample_weight is not None and s.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},), got {s.shape}")
    if not 0.0 <= min_share < 1.0:
        raise ValueError(f"min_share must lie in [0, 1), got {min_share!r}")
    bits, ybits = data.view(np.uint64), y.view(np.uint64)
    if min_share > 0.0 and n >= _STEP * _STEP:
        if _sample_pairs(indptr, indices, bits, ybits, _STEP) * _STEP ** 2 < min_share * n:
            return None
    inverse = np.empty(n, dtype=np.int64)
    first = np.empty(n, dtype=np.int64)
    ms = np.empty(n)
    counts = np.zeros(n_features, dtype=np.int64)
    ng, nnz_m, unit = _group(indptr, indices, bits, y, ybits, s, n_features, inverse, first,
                             ms, counts)
    if ng < 0:
        raise ValueError(f"indices must lie in [0, n_features) = [0, {n_features})")
    if n - ng < min_share * n or (min_share > 0.0 and ng == n):
        return None
    first, ms = first[:ng].copy(), ms[:ng].copy()
    mp, my = np.empty(ng + 1, dtype=np.int64), np.empty(ng)
    # a binary X: one array of ones holds the values of the rows and of the columns
    mi, mv = np.empty(nnz_m, dtype=indices.dtype), (np.ones if unit else np.empty)(nnz_m)
    if columns:
        cp = np.zeros(n_features + 1, dtype=np.int64)
        np.cumsum(counts, out=cp[1:])
        ri = np.empty(nnz_m, dtype=np.int32 if max(nnz_m, ng) < 2 ** 31 else np.int64)
        rv = mv if unit else np.empty(nnz_m)
    else:
        cp, ri, rv = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int32), np.empty(0)
    _fill(indptr, indices, data, y, first, mp, mi, mv, my, cp, ri, rv, bool(unit))
    return MergedRows(mp, mi, mv, my, ms, inverse, first, bool(unit), counts,
                      (cp, ri, rv) if columns else None)


def merged_log_loss(data, merged):
    """The binary log-loss data term over the merged rows of ``data``.

    Parameters
    ----------
    data : :class:`fastlogit.objective.LogLossData`
        Binary (``n_classes == 1``); its intercept, kernels and threads are kept.
    merged : :class:`MergedRows`
        From :func:`merge_rows` on ``data``'s rows (float64 CSR), labels and weights.

    Returns
    -------
    :class:`fastlogit.objective.LogLossData`
        Over ``merged.n_groups`` rows, float64 CSR; equal to ``data`` as a function of theta
        (value, gradient, Hessian) up to the order of the additions.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> from fastlogit.objective import Objective
    >>> from fastlogit.row_merge import merge_rows, merged_log_loss
    >>> X = sp.csr_array(np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 0.0], [1.0, 0.0]]))
    >>> y = np.array([1.0, 0.0, 1.0, 0.0])
    >>> ob = Objective(X, y, C=1.0)
    >>> merged = merged_log_loss(ob.data, merge_rows(X.indptr, X.indices, X.data, y, 2))
    >>> theta = np.array([0.5, -0.25, 0.1])  # (w, b)
    >>> merged.n_samples, bool(np.isclose(ob.with_data(merged).value(theta), ob.value(theta)))
    (3, True)
    """
    from . import kernels as _kernels
    from .objective import LogLossData

    if data.n_classes != 1:
        raise ValueError("merged_log_loss takes a binary log-loss data term, got "
                         f"{data.n_classes} classes")
    if merged.inverse.shape[0] != data.n_samples:
        raise ValueError(f"merged rows of {merged.inverse.shape[0]} samples do not belong to "
                         f"a data term of {data.n_samples}")
    design = _kernels.Design.trusted(
        "csr", (merged.data, merged.indices, merged.indptr),
        (merged.n_groups, data.n_features), np.dtype(np.float64))
    return LogLossData.trusted(design, merged.y, merged.sample_weight, data.fit_intercept,
                               data.kernels, data.n_threads)
