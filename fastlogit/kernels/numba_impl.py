"""Numba kernels: the raw functions of :mod:`fastlogit.kernels`, compiled with ``@njit``.

Signatures and semantics are those of :mod:`fastlogit.kernels.numpy_ref` (see the docstring of
:mod:`fastlogit.kernels`).  Every raw function is a thin Python wrapper that applies
``n_threads`` (``numba.set_num_threads`` inside a context that restores the previous value) and
calls one compiled kernel.

Parallel layout.  The rows are split into ``n_threads`` contiguous blocks balanced by cost
(non-zeros plus a per-row constant for the exp/log1p; equal row counts for dense X).  A
``prange`` runs one block per thread; each block accumulates its gradient (or Hessian product)
into its own float64 buffer and its scalar sums into locals, and the buffers are reduced at the
end in block order.  The split depends only on the data and ``n_threads``, so a result is
bit-for-bit reproducible for a given thread count.

Softmax kernels (``_mn_pass``) instead split their output: per chunk of rows a forward pass
over row blocks writes the rows' K residuals into an (rows, K) float64 array, then a backward
pass X^T R gives each thread a rectangle of the (d, K) result (``_rects``: blocks of features
for dense X, blocks of classes for CSR X), summed over the rows in row order; no thread owns
a (d, K) buffer, and the gradient / Hessian product does not depend on the thread count; nor
do the loss and the intercept sums, summed over the rows in row order after the forward pass
(the layout is that of the Cython kernels, whose module docstring says more).

Numerics.  The stable per-sample forms (``numpy_ref``'s docstring) are written once, in the
``_pt_*`` helpers below, and compiled without ``fastmath``.  Only the dot-product helpers (pure
sums, no branches) allow reassociation, so that the compiler can keep several partial sums in
flight; sums are accumulated in float64 for float32 data as well.
"""
import math
from contextlib import contextmanager

import numba
import numpy as np
from numba import njit, prange
from numba.core import types
from numba.extending import overload

from ._names import RAW_NAMES

__all__ = list(RAW_NAMES)

_JIT = dict(cache=True, nogil=True)
_PAR = dict(cache=True, nogil=True, parallel=True)
#: Reassociation and FMA contraction, for branch-free sums only.
_SUM = dict(cache=True, nogil=True, fastmath={"reassoc", "contract"})
#: Cost of one row relative to one non-zero when balancing CSR row blocks (exp + log1p).
_ROW_COST = 8
#: Index type of the compiled loops over stored entries, here and in every module with such
#: loops (the L1 solver's, model selection's): Numba guards every signed index loaded from
#: memory (``indices[q]``, ``indptr[j]``) with a negative-index wraparound test that the
#: compiler cannot drop; unsigned indices have none (the same loads and arithmetic: the same
#: bits).  Valid because :func:`fastlogit.kernels.as_design` checked 0 <= column <
#: n_features and a non-decreasing, non-negative indptr.  Never subtract two of them.
UINDEX = np.uint64


# ------------------------------------------------------------------ input checks (one pass)
@njit(**_JIT)
def non_decreasing(a):
    """True when every ``a[i + 1] >= a[i]`` (a CSR indptr): :func:`fastlogit.kernels.as_design`'s
    check in one compiled pass (NumPy's ``diff`` and ``any`` cost more on short arrays)."""
    for i in range(a.shape[0] - 1):
        if a[i + 1] < a[i]:
            return False
    return True


@njit(**_JIT)
def min_max(a):
    """(min, max) of a non-empty integer array in one compiled pass (CSR column indices)."""
    lo = a[0]
    hi = a[0]
    for i in range(a.shape[0]):  # branch-free: the compiler vectorises both reductions
        lo = min(lo, a[i])
        hi = max(hi, a[i])
    return lo, hi


@njit(**_JIT)
def within_unit_interval(y):
    """True when every value of the float array y lies in [0, 1] (so is finite: NaN and inf
    fail the comparisons): :func:`fastlogit.validation.check_targets`' check in one pass."""
    for i in range(y.shape[0]):
        v = y[i]
        if not (0.0 <= v <= 1.0):
            return False
    return True


@contextmanager
def numba_threads(n_threads):
    """Run numba's parallel regions with ``n_threads`` threads, then restore the setting."""
    n = max(1, min(int(n_threads), numba.config.NUMBA_NUM_THREADS))
    previous = numba.get_num_threads()
    if n != previous:
        numba.set_num_threads(n)
    try:
        yield
    finally:
        if n != previous:
            numba.set_num_threads(previous)


# ----------------------------------------------------------------------------- per sample
@njit(**_JIT)
def _pt_log1pexp(z):
    """log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|)) (float64 in and out)."""
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


@njit(**_JIT)
def _pt_sigmoid(z):
    """sigmoid(z) from e = exp(-|z|): 1 / (1 + e) for z >= 0, e / (1 + e) otherwise."""
    e = math.exp(-abs(z))
    if z >= 0.0:
        return 1.0 / (1.0 + e)
    return e / (1.0 + e)


@njit(**_JIT)
def _pt_loss(y, z):
    """Per-sample log-loss log1p(e) + ((z > 0) ? (1 - y) z : -y z), e = exp(-|z|)."""
    e = math.exp(-abs(z))
    if z > 0.0:
        return math.log1p(e) + (1.0 - y) * z
    return math.log1p(e) - y * z


@njit(**_JIT)
def _pt_loss_grad(y, z):
    """(loss, sigmoid(z) - y, sigmoid(z)(1 - sigmoid(z))) with one exp and one log1p."""
    e = math.exp(-abs(z))
    l1 = math.log1p(e)
    inv = 1.0 / (1.0 + e)
    if z > 0.0:
        loss = l1 + (1.0 - y) * z
    else:
        loss = l1 - y * z
    if z >= 0.0:
        residual = ((1.0 - y) - y * e) * inv
    else:
        residual = ((1.0 - y) * e - y) * inv
    return loss, residual, e * inv * inv


# ----------------------------------------------------------------------------- row accessors
# A kernel body is written once for both layouts: X is either the dense (n, d) array or the
# tuple (data, indices, indptr), and these accessors (Numba overloads, resolved by X's type
# at compile time, so each layout gets its own specialised machine code) give row i's stored
# entries: positions k in range(*row_span(X, i)), their columns entry_column(X, i, k) and values
# entry_value(X, i, k); _row_dot and _blocks are specialised further (reassociated dense dot
# product, CSR blocks balanced by cost).
@njit(**_JIT)
def _u(j):
    """An index as :data:`UINDEX`, so that indexing skips the negative-index wraparound test."""
    return UINDEX(j)


def row_span(X, i):
    """(lo, hi): row i's entries are the positions range(lo, hi)."""


def entry_column(X, i, k):
    """Column of row i's entry at position k."""


def entry_value(X, i, k):
    """Value of row i's entry at position k (in X's dtype)."""


def _row_dot(X, i, w):
    """x_i . w in float64."""


def _blocks(X, n_blocks):
    """Row bounds (int64, n_blocks + 1) of the kernels' contiguous row blocks."""


def _n_rows(X):
    """Number of rows of X."""


def _row_block(X, i0, i1):
    """Rows [i0, i1) of X as a matrix of the same layout (a view)."""


def _rects(X, d, K, T):
    """Output rectangles (int64, (T', 4): j0, j1, c0, c1) of the softmax backward pass: dense
    X min(T, d) blocks of features, CSR X min(T, K) blocks of classes (a block of features
    would make every thread test every non-zero's column)."""


def _rect_nz(X, i, j0, j1):
    """(lo, hi): the positions of row i's entries in the columns [j0, j1) of a rectangle
    of _rects (all of the row for CSR, whose rectangles hold every column)."""


def _dense(X):
    return isinstance(X, types.Array)


@overload(row_span, jit_options=_JIT)
def _ov_nz(X, i):
    if _dense(X):
        return lambda X, i: (0, X.shape[1])
    return lambda X, i: (_u(X[2][i]), _u(X[2][i + 1]))


@overload(entry_column, jit_options=_JIT)
def _ov_col(X, i, k):
    if _dense(X):
        return lambda X, i, k: k
    return lambda X, i, k: _u(X[1][k])


@overload(entry_value, jit_options=_JIT)
def _ov_val(X, i, k):
    if _dense(X):
        return lambda X, i, k: X[i, k]
    return lambda X, i, k: X[0][k]


@overload(_row_dot, jit_options=_JIT)
def _ov_row_dot(X, i, w):
    if _dense(X):
        return lambda X, i, w: _dot_dense(X, i, w)
    return lambda X, i, w: _dot_csr(X[0], X[1], X[2][i], X[2][i + 1], w)


@overload(_blocks, jit_options=_JIT)
def _ov_blocks(X, n_blocks):
    if _dense(X):
        return lambda X, n_blocks: _dense_blocks(X.shape[0], n_blocks)
    return lambda X, n_blocks: _csr_blocks(X[2], n_blocks)


@overload(_n_rows, jit_options=_JIT)
def _ov_n_rows(X):
    if _dense(X):
        return lambda X: X.shape[0]
    return lambda X: X[2].shape[0] - 1


@overload(_row_block, jit_options=_JIT)
def _ov_row_block(X, i0, i1):
    if _dense(X):
        return lambda X, i0, i1: X[i0:i1]
    return lambda X, i0, i1: (X[0], X[1], X[2][i0:i1 + 1])


@overload(_rects, jit_options=_JIT)
def _ov_rects(X, d, K, T):
    if _dense(X):
        return lambda X, d, K, T: _split_rects(d, K, T, True)
    return lambda X, d, K, T: _split_rects(d, K, T, False)


@overload(_rect_nz, jit_options=_JIT)
def _ov_rect_nz(X, i, j0, j1):
    if _dense(X):
        return lambda X, i, j0, j1: (j0, j1)
    return lambda X, i, j0, j1: row_span(X, i)


@njit(**_JIT)
def _split_rects(d, K, T, by_features):
    m = d if by_features else K
    T = max(1, min(T, m))
    rect = np.empty((T, 4), dtype=np.int64)
    for t in range(T):
        lo, hi = (m * t) // T, (m * (t + 1)) // T
        if by_features:
            rect[t, 0], rect[t, 1], rect[t, 2], rect[t, 3] = lo, hi, 0, K
        else:
            rect[t, 0], rect[t, 1], rect[t, 2], rect[t, 3] = 0, d, lo, hi
    return rect


@njit(**_JIT)
def _dot_csr(data, indices, lo, hi, w):
    # Not fastmath: vectorised gathers measured ~2x slower than this scalar loop (news20).
    acc = 0.0
    for k in range(_u(lo), _u(hi)):
        acc += np.float64(data[k]) * np.float64(w[_u(indices[k])])
    return acc


@njit(**_SUM)
def _dot_dense(X, i, w):
    acc = 0.0
    for j in range(w.shape[0]):
        acc += np.float64(X[i, j]) * np.float64(w[j])
    return acc


@njit(**_JIT)
def _row_axpy(X, i, r, g):
    """g += r x_i."""
    lo, hi = row_span(X, i)
    for k in range(lo, hi):
        g[entry_column(X, i, k)] += r * np.float64(entry_value(X, i, k))


@njit(**_JIT)
def _row_times(X, i, M, Z):
    """Z += x_i M (M of shape (d, K), Z of K float64 values)."""
    lo, hi = row_span(X, i)
    for k in range(lo, hi):
        x = np.float64(entry_value(X, i, k))
        Mj = M[entry_column(X, i, k)]
        for c in range(Z.shape[0]):
            Z[c] += x * np.float64(Mj[c])


@njit(**_JIT)
def _row_rect(X, i, R, rect, slab):
    """slab += x_i[j0:j1]^T R[c0:c1] (slab of shape (j1 - j0, c1 - c0); rect = j0, j1, c0, c1)."""
    j0, c0 = rect[0], rect[2]
    w = slab.shape[1]
    lo, hi = _rect_nz(X, i, j0, rect[1])
    for k in range(lo, hi):
        x = np.float64(entry_value(X, i, k))
        row = slab[entry_column(X, i, k) - j0]
        for c in range(w):
            row[c] += x * R[c0 + c]


@njit(**_JIT)
def _csr_blocks(indptr, n_blocks):
    """Row bounds of ``n_blocks`` contiguous blocks of about equal cost (nnz + rows)."""
    n = indptr.shape[0] - 1
    base = indptr[0]
    bounds = np.empty(n_blocks + 1, dtype=np.int64)
    bounds[0] = 0
    bounds[n_blocks] = n
    total = np.float64(indptr[n] - base) + _ROW_COST * np.float64(n)
    for t in range(1, n_blocks):
        target = total * t / n_blocks
        lo, hi = 0, n
        while lo < hi:
            mid = (lo + hi) // 2
            if np.float64(indptr[mid] - base) + _ROW_COST * np.float64(mid) < target:
                lo = mid + 1
            else:
                hi = mid
        bounds[t] = max(lo, bounds[t - 1])
    return bounds


@njit(**_JIT)
def _dense_blocks(n, n_blocks):
    bounds = np.empty(n_blocks + 1, dtype=np.int64)
    for t in range(n_blocks + 1):
        bounds[t] = (n * t) // n_blocks
    return bounds


# ----------------------------------------------------------------------------- reductions
@njit(**_PAR)
def _reduce_rows(buf, out):
    """out[j] = sum_t buf[t, j] in block order (buf of shape (T, m), out of shape (m,))."""
    m = out.shape[0]
    n_chunks = min(m, 64)
    for c in prange(n_chunks):
        for j in range(m * c // n_chunks, m * (c + 1) // n_chunks):
            acc = 0.0
            for t in range(buf.shape[0]):
                acc += buf[t, j]
            out[j] = acc


@njit(**_JIT)
def _reduce_into(buf, out):
    """out = the block buffers buf (T, m) summed in block order (a copy for one block)."""
    if buf.shape[0] == 1:
        for j in range(out.shape[0]):
            out[j] = buf[0, j]
    else:
        _reduce_rows(buf, out)


@njit(**_JIT)
def _sum_blocks(parts, out):
    """out[k] = sum_t parts[t, k] in block order."""
    for k in range(out.shape[0]):
        acc = 0.0
        for t in range(parts.shape[0]):
            acc += parts[t, k]
        out[k] = acc


def _n_blocks(n_rows, n_threads):
    return int(max(1, min(int(n_threads), max(n_rows, 1))))


# ----------------------------------------------------------------------------- pointwise
@njit(**_JIT)
def _pointwise(z, out, op):
    """out = log1pexp(z) (op 0), log_sigmoid(z) = -log1pexp(-z) (op 1) or sigmoid(z) (op 2)."""
    for i in range(z.shape[0]):
        zi = np.float64(z[i])
        if op == 0:
            out[i] = _pt_log1pexp(zi)
        elif op == 1:
            out[i] = -_pt_log1pexp(-zi)
        else:
            out[i] = _pt_sigmoid(zi)


def log1pexp(z, out):
    """out = log(1 + exp(z)), elementwise; z, out : (n,) float32/float64."""
    _pointwise(z, out, 0)


def log_sigmoid(z, out):
    """out = log(sigmoid(z)) = -log(1 + exp(-z)), elementwise."""
    _pointwise(z, out, 1)


def sigmoid(z, out):
    """out = 1 / (1 + exp(-z)), elementwise, computed from exp(-|z|)."""
    _pointwise(z, out, 2)


# ----------------------------------------------------------------------------- kernels
@njit(**_JIT)
def _row_axpy2(X, i, r, h, g, dg):
    """g += r x_i and dg += h x_i^2 (h x x, as _hess_diag rounds it) in one sweep of the row."""
    lo, hi = row_span(X, i)
    for k in range(lo, hi):
        x = np.float64(entry_value(X, i, k))
        j = entry_column(X, i, k)
        g[j] += r * x
        dg[j] += h * x * x


@njit(**_PAR)
def _loss_grad(X, y, s, w, b, grad_out, hess_out, diag_out, n_blocks, want_grad):
    """Binary loss sum, grad_b and (want_grad) X^T r into grad_out; hess_out if non-empty;
    diag_out if non-empty (want_grad and hess_out required): the Hessian diagonal
    sum_i hess_out_i x_ij^2 (hess_out_i as stored) from the gradient's scatter."""
    bounds = _blocks(X, n_blocks)
    d = w.shape[0]
    want_diag = diag_out.shape[0] > 0
    gbuf = np.zeros((n_blocks, d if want_grad else 0))
    dbuf = np.zeros((n_blocks, d if want_diag else 0))
    parts = np.zeros((n_blocks, 2))
    weighted = s.shape[0] > 0
    write_hess = hess_out.shape[0] > 0
    for t in prange(n_blocks):
        g = gbuf[t]
        dg = dbuf[t]
        loss_sum = 0.0
        grad_b = 0.0
        for i in range(bounds[t], bounds[t + 1]):
            z = b + _row_dot(X, i, w)
            loss, res, curv = _pt_loss_grad(np.float64(y[i]), z)
            si = np.float64(s[i]) if weighted else 1.0
            loss_sum += si * loss
            if write_hess:
                hess_out[i] = si * curv
            if want_grad:
                r = si * res
                grad_b += r
                if want_diag:
                    h = np.float64(hess_out[i])
                    if r != 0.0 or h != 0.0:  # both 0 means a finite row
                        _row_axpy2(X, i, r, h, g, dg)
                elif r != 0.0:  # r == 0 means a finite row (else z and r are NaN / inf)
                    _row_axpy(X, i, r, g)
        parts[t, 0] = loss_sum
        parts[t, 1] = grad_b
    sums = np.zeros(2)
    _sum_blocks(parts, sums)
    if want_grad:
        _reduce_into(gbuf, grad_out)
    if want_diag:
        _reduce_into(dbuf, diag_out)
    return sums[0], sums[1]


@njit(**_PAR)
def _decision(X, w, b, out, n_blocks):
    bounds = _blocks(X, n_blocks)
    for t in prange(n_blocks):
        for i in range(bounds[t], bounds[t + 1]):
            out[i] = b + _row_dot(X, i, w)


@njit(**_PAR)
def _hessp(X, dw, v, v_b, out, n_blocks):
    bounds = _blocks(X, n_blocks)
    buf = np.zeros((n_blocks, v.shape[0]))
    parts = np.zeros((n_blocks, 1))
    for t in prange(n_blocks):
        g = buf[t]
        acc_b = 0.0
        for i in range(bounds[t], bounds[t + 1]):
            r = np.float64(dw[i]) * (v_b + _row_dot(X, i, v))
            acc_b += r
            if r != 0.0:  # r == 0 means a finite row
                _row_axpy(X, i, r, g)
        parts[t, 0] = acc_b
    out_b = np.zeros(1)
    _sum_blocks(parts, out_b)
    _reduce_into(buf, out)
    return out_b[0]


@njit(**_PAR)
def _hess_diag(X, dw, out, n_blocks):
    bounds = _blocks(X, n_blocks)
    buf = np.zeros((n_blocks, out.shape[0]))
    for t in prange(n_blocks):
        g = buf[t]
        for i in range(bounds[t], bounds[t + 1]):
            di = np.float64(dw[i])
            lo, hi = row_span(X, i)
            for k in range(lo, hi):
                x = np.float64(entry_value(X, i, k))
                g[entry_column(X, i, k)] += di * x * x
    _reduce_into(buf, out)


#: Rows per panel in the dense Gram kernel (each panel is transposed into float64 scratch).
_PANEL = 64


@njit(**_SUM)
def _dot_panel(a, b_):
    acc = 0.0
    for r in range(a.shape[0]):
        acc += a[r] * b_[r]
    return acc


@njit(**_JIT)
def _mirror(buf, out, j):
    """out[j, k] = out[k, j] = sum_t buf[t, j, k] (k >= j), in block order."""
    for k in range(j, out.shape[0]):
        acc = 0.0
        for t in range(buf.shape[0]):
            acc += buf[t, j, k]
        out[j, k] = acc
        out[k, j] = acc


@njit(**_PAR)
def _gram_dense(X, dw, out, n_blocks):
    """Upper triangle of X^T diag(d) X, panel by panel: out[j, k] += <d x_.j, x_.k> over a
    panel of rows transposed into contiguous float64 scratch; mirrored at the end."""
    n, p = X.shape
    bounds = _dense_blocks(n, n_blocks)
    buf = np.zeros((n_blocks, p, p))
    for t in prange(n_blocks):
        G = buf[t]
        A = np.empty((p, _PANEL))
        AD = np.empty((p, _PANEL))
        lo = bounds[t]
        while lo < bounds[t + 1]:
            m = min(_PANEL, bounds[t + 1] - lo)
            for r in range(m):
                di = np.float64(dw[lo + r])
                for j in range(p):
                    x = np.float64(X[lo + r, j])
                    A[j, r] = x
                    AD[j, r] = di * x
            for j in range(p):
                aj = AD[j, :m]
                for k in range(j, p):
                    G[j, k] += _dot_panel(aj, A[k, :m])
            lo += m
    for j in prange(p):
        _mirror(buf, out, j)


@njit(**_PAR)
def _gram_csr(X, dw, out, n_blocks):
    """X^T diag(d) X: each row adds d_i x_i x_i^T (pairs of its non-zeros, upper triangle;
    mirrored at the end so that the result is exactly symmetric).  A row whose indices are
    sorted pairs k1 with k2 >= k1 directly, half the inner iterations and no branch."""
    data, indices, indptr = X
    bounds = _csr_blocks(indptr, n_blocks)
    p = out.shape[0]
    buf = np.zeros((n_blocks, p, p))
    for t in prange(n_blocks):
        G = buf[t]
        for i in range(bounds[t], bounds[t + 1]):
            di = np.float64(dw[i])
            lo, hi = _u(indptr[i]), _u(indptr[i + 1])
            sorted_row = True
            for k in range(lo + 1, hi):
                if indices[k] < indices[k - 1]:
                    sorted_row = False
                    break
            for k1 in range(lo, hi):
                a = di * np.float64(data[k1])
                j1 = indices[k1]
                row = G[_u(j1)]
                if sorted_row:
                    # the same products in the same order as below, without the test
                    for k2 in range(k1, hi):
                        row[_u(indices[k2])] += a * np.float64(data[k2])
                else:
                    for k2 in range(lo, hi):
                        j2 = indices[k2]
                        if j2 >= j1:
                            row[_u(j2)] += a * np.float64(data[k2])
    for j in prange(p):
        _mirror(buf, out, j)


@njit(**_JIT)
def _pt_softmax_row(zk, yk_row, pk):
    """Given margins zk (K,), write softmax into pk (float64) and return
    logsumexp(z) - y . z (stable: shifted by the row maximum)."""
    K = zk.shape[0]
    m = zk[0]
    for k in range(1, K):
        if zk[k] > m:
            m = zk[k]
    total = 0.0
    for k in range(K):
        pk[k] = math.exp(zk[k] - m)
        total += pk[k]
    yz = 0.0
    for k in range(K):
        pk[k] /= total
        yz += np.float64(yk_row[k]) * zk[k]
    return m + math.log(total) - yz


@njit(**_JIT)
def _pt_softmax_hvp_row(P_row, uk, si):
    """uk <- s (P * U - P (P . U)) in place (uk holds U = x V + v_b on entry)."""
    K = uk.shape[0]
    pu = 0.0
    for k in range(K):
        pu += np.float64(P_row[k]) * uk[k]
    for k in range(K):
        pk = np.float64(P_row[k])
        uk[k] = si * (pk * uk[k] - pk * pu)


#: Residuals per chunk of rows of the softmax passes (8 MB of float64).
_CHUNK_VALUES = 1 << 20


@njit(**_PAR)
def _mn_rows(X, A, s, M, mb, R, proba_out, n_blocks, hessp, tot):
    """Softmax forward pass: R[i] = row i's residuals s (P - Y) (A = Y, M = W, mb = B; P
    written to proba_out when it is not empty) or, with hessp, s (P * U - P (P . U)) with
    U = x V + v_b (A = P, M = V, mb = v_b); tot[0] += the loss sum, tot[1:] += sum_i R[i],
    both summed over the rows in row order after the parallel part (each row's loss is kept
    until then), so that they do not depend on the thread count."""
    bounds = _blocks(X, n_blocks)
    K = M.shape[1]
    m = bounds[n_blocks]  # the block's rows (R may hold more)
    losses = np.zeros(m)
    weighted = s.shape[0] > 0
    write_p = proba_out.shape[0] > 0
    for t in prange(n_blocks):
        pk = np.empty(K)
        for i in range(bounds[t], bounds[t + 1]):
            zk = R[i]
            for k in range(K):
                zk[k] = 0.0
            _row_times(X, i, M, zk)
            for k in range(K):
                zk[k] += np.float64(mb[k])
            si = np.float64(s[i]) if weighted else 1.0
            if hessp:
                _pt_softmax_hvp_row(A[i], zk, si)
            else:
                losses[i] = si * _pt_softmax_row(zk, A[i], pk)
                for k in range(K):
                    if write_p:
                        proba_out[i, k] = pk[k]
                    zk[k] = si * (pk[k] - np.float64(A[i, k]))
    for i in range(m):
        tot[0] += losses[i]
        for k in range(K):
            tot[1 + k] += R[i, k]


@njit(**_PAR)
def _mn_back(X, m, R, rect, offs, acc, first, out, last):
    """Softmax backward pass: each rectangle's slab of acc += X[:m]^T R over its rows and
    columns (zeroed first when ``first``); rounded into out when ``last``."""
    for t in prange(rect.shape[0]):
        j0, j1, c0, c1 = rect[t, 0], rect[t, 1], rect[t, 2], rect[t, 3]
        slab = acc[offs[t]:offs[t + 1]].reshape((j1 - j0, c1 - c0))
        if first:
            slab[:] = 0.0
        for i in range(m):
            _row_rect(X, i, R[i], rect[t], slab)
        if last:
            out[j0:j1, c0:c1] = slab


@njit(**_JIT)
def _mn_pass(X, A, s, M, mb, out, out_b, proba_out, n_blocks, hessp):
    """Softmax loss + gradient (A = Y, M = W, mb = B; returns the loss sum) or, with hessp,
    the Hessian product (A = P, M = V, mb = v_b): out = X^T R, out_b = sum_i R_i; chunk by
    chunk of rows, a forward then a backward pass."""
    d, K = M.shape
    n = _n_rows(X)
    rect = _rects(X, d, K, n_blocks)
    offs = np.zeros(rect.shape[0] + 1, dtype=np.int64)
    for t in range(rect.shape[0]):
        offs[t + 1] = offs[t] + (rect[t, 1] - rect[t, 0]) * (rect[t, 3] - rect[t, 2])
    chunk = max(1, min(n, _CHUNK_VALUES // max(K, 1)))
    R = np.empty((chunk, K))
    acc = np.empty(d * K)
    tot = np.zeros(K + 1)
    i0 = 0
    while True:
        i1 = min(n, i0 + chunk)
        m = i1 - i0
        _mn_rows(_row_block(X, i0, i1), A[i0:i1], s[i0:i1],
                 M, mb, R, proba_out[i0:i1],
                 max(1, min(n_blocks, m)), hessp, tot)
        _mn_back(_row_block(X, i0, i1), m, R, rect, offs, acc, i0 == 0, out, i1 >= n)
        if i1 >= n:
            break
        i0 = i1
    for k in range(K):
        out_b[k] = tot[1 + k]
    return tot[0]


# ----------------------------------------------------------------------------- raw entry points
def _entry(op, layout, kernel, call):
    """The raw function ``{op}_{layout}(X.., *args, n_threads)`` of :mod:`fastlogit.kernels`:
    X.. becomes the kernels' X (the dense array or the CSR tuple), the row blocks are counted,
    and ``call(kernel, X, *args, n_blocks)`` runs under ``n_threads`` Numba threads."""
    n_x = 1 if layout == "dense" else 3

    def raw(*args):
        X = args[0] if n_x == 1 else tuple(args[:3])
        n_threads = args[-1]
        nb = _n_blocks(args[0].shape[0] if n_x == 1 else args[2].shape[0] - 1, n_threads)
        with numba_threads(n_threads):
            return call(kernel, X, *args[n_x:-1], nb)

    raw.__name__ = raw.__qualname__ = f"{op}_{layout}"
    raw.__doc__ = f"{_DOCS[op]} over {layout} rows (see :mod:`fastlogit.kernels`)."
    return raw


def _plain(kernel, X, *args):
    return kernel(X, *args)


_DOCS = {
    "loss_grad": "Fused binary log-loss sum and gradient; returns (loss_sum, grad_b)",
    "loss_grad_diag": "Fused binary log-loss sum, gradient, IRLS weights and Hessian diagonal; "
                      "returns (loss_sum, grad_b)",
    "loss": "Binary log-loss sum (no gradient)",
    "decision": "out = X w + b",
    "hessp": "out = X^T (d * (X v + v_b)); returns sum_i d_i (x_i . v + v_b)",
    "hess_diag": "out_j = sum_i d_i x_ij^2",
    "gram": "out = X^T diag(d) X (dense, C-ordered)",
    "multinomial_loss_grad": "Softmax cross-entropy sum and gradient; returns loss_sum",
    "multinomial_hessp": "Softmax Hessian-vector product (writes out and out_b)",
}
#: op -> (kernel, or one per layout; how the raw arguments are passed to it).
_OPS = {
    "loss_grad": (_loss_grad, lambda k, X, y, s, w, b, g, h, nb:
                  k(X, y, s, w, float(b), g, h, g[:0], nb, True)),
    "loss_grad_diag": (_loss_grad, lambda k, X, y, s, w, b, g, h, dg, nb:
                       k(X, y, s, w, float(b), g, h, dg, nb, True)),
    "loss": (_loss_grad, lambda k, X, y, s, w, b, nb:
             k(X, y, s, w, float(b), w[:0], y[:0], w[:0], nb, False)[0]),
    "decision": (_decision, lambda k, X, w, b, out, nb: k(X, w, float(b), out, nb)),
    "hessp": (_hessp, lambda k, X, d, v, v_b, out, nb: k(X, d, v, float(v_b), out, nb)),
    "hess_diag": (_hess_diag, _plain),
    "gram": ({"dense": _gram_dense, "csr": _gram_csr}, _plain),
    "multinomial_loss_grad": (_mn_pass, lambda k, X, Y, s, W, B, G, GB, P, nb:
                              k(X, Y, s, W, B, G, GB, P, nb, False)),
    "multinomial_hessp": (_mn_pass, lambda k, X, P, s, V, v_b, out, out_b, nb:
                          k(X, P, s, V, v_b, out, out_b, P[:0], nb, True)),
}


def _pair(op):
    kernel, call = _OPS[op]
    return tuple(_entry(op, layout, kernel[layout] if isinstance(kernel, dict) else kernel, call)
                 for layout in ("dense", "csr"))


loss_grad_dense, loss_grad_csr = _pair("loss_grad")
loss_grad_diag_dense, loss_grad_diag_csr = _pair("loss_grad_diag")
loss_dense, loss_csr = _pair("loss")
decision_dense, decision_csr = _pair("decision")
hessp_dense, hessp_csr = _pair("hessp")
hess_diag_dense, hess_diag_csr = _pair("hess_diag")
gram_dense, gram_csr = _pair("gram")
multinomial_loss_grad_dense, multinomial_loss_grad_csr = _pair("multinomial_loss_grad")
multinomial_hessp_dense, multinomial_hessp_csr = _pair("multinomial_hessp")
