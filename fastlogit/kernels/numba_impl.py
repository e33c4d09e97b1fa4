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

__all__ = [
    "log1pexp", "log_sigmoid", "sigmoid",
    "loss_grad_dense", "loss_grad_csr", "loss_dense", "loss_csr",
    "decision_dense", "decision_csr", "hessp_dense", "hessp_csr",
    "hess_diag_dense", "hess_diag_csr", "gram_dense", "gram_csr",
    "multinomial_loss_grad_dense", "multinomial_loss_grad_csr",
    "multinomial_hessp_dense", "multinomial_hessp_csr",
]

_JIT = dict(cache=True, nogil=True)
_PAR = dict(cache=True, nogil=True, parallel=True)
#: Reassociation and FMA contraction, for branch-free sums only.
_SUM = dict(cache=True, nogil=True, fastmath={"reassoc", "contract"})
#: Cost of one row relative to one non-zero when balancing CSR row blocks (exp + log1p).
_ROW_COST = 8


@contextmanager
def _threads(n_threads):
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


# ----------------------------------------------------------------------------- row helpers
@njit(**_JIT)
def _u(j):
    """An index as unsigned, so that indexing skips the negative-index wraparound test (valid:
    ``as_design`` checked 0 <= column < n_features and a non-decreasing, non-negative indptr).
    Measured: up to 2x on the CSR dot product (a9a)."""
    return np.uint64(j)


@njit(**_JIT)
def _dot_csr(data, indices, lo, hi, w):
    # Not fastmath: vectorised gathers measured ~2x slower than this scalar loop (news20).
    acc = 0.0
    for k in range(_u(lo), _u(hi)):
        acc += np.float64(data[k]) * np.float64(w[_u(indices[k])])
    return acc


@njit(**_JIT)
def _axpy_csr(data, indices, lo, hi, r, g):
    for k in range(_u(lo), _u(hi)):
        g[_u(indices[k])] += r * np.float64(data[k])


@njit(**_SUM)
def _dot_dense(X, i, w):
    acc = 0.0
    for j in range(w.shape[0]):
        acc += np.float64(X[i, j]) * np.float64(w[j])
    return acc


@njit(**_JIT)
def _axpy_dense(X, i, r, g):
    for j in range(g.shape[0]):
        g[j] += r * np.float64(X[i, j])


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
def _reduce_blocks(parts, gbuf, grad_out, want_grad):
    """Sum the per-block (loss, grad_b) pairs and gradient buffers in block order."""
    loss_sum = 0.0
    grad_b = 0.0
    for t in range(parts.shape[0]):
        loss_sum += parts[t, 0]
        grad_b += parts[t, 1]
    if want_grad:
        if parts.shape[0] == 1:
            for j in range(grad_out.shape[0]):
                grad_out[j] = gbuf[0, j]
        else:
            _reduce_rows(gbuf, grad_out)
    return loss_sum, grad_b


def _n_blocks(n_rows, n_threads):
    return int(max(1, min(int(n_threads), max(n_rows, 1))))


# ----------------------------------------------------------------------------- pointwise
@njit(**_JIT)
def _log1pexp(z, out):
    for i in range(z.shape[0]):
        out[i] = _pt_log1pexp(np.float64(z[i]))


@njit(**_JIT)
def _log_sigmoid(z, out):
    for i in range(z.shape[0]):
        out[i] = -_pt_log1pexp(-np.float64(z[i]))


@njit(**_JIT)
def _sigmoid(z, out):
    for i in range(z.shape[0]):
        out[i] = _pt_sigmoid(np.float64(z[i]))


def log1pexp(z, out):
    """out = log(1 + exp(z)), elementwise; z, out : (n,) float32/float64."""
    _log1pexp(z, out)


def log_sigmoid(z, out):
    """out = log(sigmoid(z)) = -log(1 + exp(-z)), elementwise."""
    _log_sigmoid(z, out)


def sigmoid(z, out):
    """out = 1 / (1 + exp(-z)), elementwise, computed from exp(-|z|)."""
    _sigmoid(z, out)


# ----------------------------------------------------------------------------- binary loss
@njit(**_PAR)
def _loss_grad_csr(data, indices, indptr, y, s, w, b, grad_out, hess_out, n_blocks, want_grad):
    bounds = _csr_blocks(indptr, n_blocks)
    d = w.shape[0]
    gbuf = np.zeros((n_blocks, d if want_grad else 0))
    parts = np.zeros((n_blocks, 2))
    weighted = s.shape[0] > 0
    write_hess = hess_out.shape[0] > 0
    for t in prange(n_blocks):
        g = gbuf[t]
        loss_sum = 0.0
        grad_b = 0.0
        for i in range(bounds[t], bounds[t + 1]):
            lo, hi = _u(indptr[i]), _u(indptr[i + 1])
            z = b + _dot_csr(data, indices, lo, hi, w)
            loss, res, curv = _pt_loss_grad(np.float64(y[i]), z)
            si = np.float64(s[i]) if weighted else 1.0
            loss_sum += si * loss
            if want_grad:
                r = si * res
                grad_b += r
                if r != 0.0:
                    _axpy_csr(data, indices, lo, hi, r, g)
            if write_hess:
                hess_out[i] = si * curv
        parts[t, 0] = loss_sum
        parts[t, 1] = grad_b
    return _reduce_blocks(parts, gbuf, grad_out, want_grad)


@njit(**_PAR)
def _loss_grad_dense(X, y, s, w, b, grad_out, hess_out, n_blocks, want_grad):
    n, d = X.shape
    bounds = _dense_blocks(n, n_blocks)
    gbuf = np.zeros((n_blocks, d if want_grad else 0))
    parts = np.zeros((n_blocks, 2))
    weighted = s.shape[0] > 0
    write_hess = hess_out.shape[0] > 0
    for t in prange(n_blocks):
        g = gbuf[t]
        loss_sum = 0.0
        grad_b = 0.0
        for i in range(bounds[t], bounds[t + 1]):
            z = b + _dot_dense(X, i, w)
            loss, res, curv = _pt_loss_grad(np.float64(y[i]), z)
            si = np.float64(s[i]) if weighted else 1.0
            loss_sum += si * loss
            if want_grad:
                r = si * res
                grad_b += r
                if r != 0.0:
                    _axpy_dense(X, i, r, g)
            if write_hess:
                hess_out[i] = si * curv
        parts[t, 0] = loss_sum
        parts[t, 1] = grad_b
    return _reduce_blocks(parts, gbuf, grad_out, want_grad)


def loss_grad_csr(data, indices, indptr, y, s, w, b, grad_out, hess_out, n_threads):
    """Fused binary log-loss sum and gradient over CSR rows; returns (loss_sum, grad_b)."""
    nb = _n_blocks(indptr.shape[0] - 1, n_threads)
    with _threads(n_threads):
        return _loss_grad_csr(data, indices, indptr, y, s, w, float(b), grad_out, hess_out, nb,
                              True)


def loss_grad_dense(X, y, s, w, b, grad_out, hess_out, n_threads):
    """Fused binary log-loss sum and gradient over dense rows; returns (loss_sum, grad_b)."""
    nb = _n_blocks(X.shape[0], n_threads)
    with _threads(n_threads):
        return _loss_grad_dense(X, y, s, w, float(b), grad_out, hess_out, nb, True)


def loss_csr(data, indices, indptr, y, s, w, b, n_threads):
    """Binary log-loss sum (no gradient) over CSR rows."""
    nb = _n_blocks(indptr.shape[0] - 1, n_threads)
    with _threads(n_threads):
        return _loss_grad_csr(data, indices, indptr, y, s, w, float(b), w[:0], y[:0], nb,
                              False)[0]


def loss_dense(X, y, s, w, b, n_threads):
    """Binary log-loss sum (no gradient) over dense rows."""
    nb = _n_blocks(X.shape[0], n_threads)
    with _threads(n_threads):
        return _loss_grad_dense(X, y, s, w, float(b), w[:0], y[:0], nb, False)[0]


# ----------------------------------------------------------------------------- decision
@njit(**_PAR)
def _decision_csr(data, indices, indptr, w, b, out, n_blocks):
    bounds = _csr_blocks(indptr, n_blocks)
    for t in prange(n_blocks):
        for i in range(bounds[t], bounds[t + 1]):
            out[i] = b + _dot_csr(data, indices, indptr[i], indptr[i + 1], w)


@njit(**_PAR)
def _decision_dense(X, w, b, out, n_blocks):
    bounds = _dense_blocks(X.shape[0], n_blocks)
    for t in prange(n_blocks):
        for i in range(bounds[t], bounds[t + 1]):
            out[i] = b + _dot_dense(X, i, w)


def decision_csr(data, indices, indptr, w, b, out, n_threads):
    """out = X w + b over CSR rows."""
    nb = _n_blocks(indptr.shape[0] - 1, n_threads)
    with _threads(n_threads):
        _decision_csr(data, indices, indptr, w, float(b), out, nb)


def decision_dense(X, w, b, out, n_threads):
    """out = X w + b over dense rows."""
    nb = _n_blocks(X.shape[0], n_threads)
    with _threads(n_threads):
        _decision_dense(X, w, float(b), out, nb)


# ----------------------------------------------------------------------------- Hessian
@njit(**_PAR)
def _hessp_csr(data, indices, indptr, dw, v, v_b, out, n_blocks):
    bounds = _csr_blocks(indptr, n_blocks)
    p = v.shape[0]
    buf = np.zeros((n_blocks, p))
    parts = np.zeros(n_blocks)
    for t in prange(n_blocks):
        g = buf[t]
        acc_b = 0.0
        for i in range(bounds[t], bounds[t + 1]):
            lo, hi = _u(indptr[i]), _u(indptr[i + 1])
            r = np.float64(dw[i]) * (v_b + _dot_csr(data, indices, lo, hi, v))
            acc_b += r
            if r != 0.0:
                _axpy_csr(data, indices, lo, hi, r, g)
        parts[t] = acc_b
    out_b = 0.0
    for t in range(n_blocks):
        out_b += parts[t]
    if n_blocks == 1:
        for j in range(p):
            out[j] = buf[0, j]
    else:
        _reduce_rows(buf, out)
    return out_b


@njit(**_PAR)
def _hessp_dense(X, dw, v, v_b, out, n_blocks):
    n, p = X.shape
    bounds = _dense_blocks(n, n_blocks)
    buf = np.zeros((n_blocks, p))
    parts = np.zeros(n_blocks)
    for t in prange(n_blocks):
        g = buf[t]
        acc_b = 0.0
        for i in range(bounds[t], bounds[t + 1]):
            r = np.float64(dw[i]) * (v_b + _dot_dense(X, i, v))
            acc_b += r
            if r != 0.0:
                _axpy_dense(X, i, r, g)
        parts[t] = acc_b
    out_b = 0.0
    for t in range(n_blocks):
        out_b += parts[t]
    if n_blocks == 1:
        for j in range(p):
            out[j] = buf[0, j]
    else:
        _reduce_rows(buf, out)
    return out_b


def hessp_csr(data, indices, indptr, d, v, v_b, out, n_threads):
    """out = X^T (d * (X v + v_b)) over CSR rows; returns sum_i d_i (x_i . v + v_b)."""
    nb = _n_blocks(indptr.shape[0] - 1, n_threads)
    with _threads(n_threads):
        return _hessp_csr(data, indices, indptr, d, v, float(v_b), out, nb)


def hessp_dense(X, d, v, v_b, out, n_threads):
    """out = X^T (d * (X v + v_b)) over dense rows; returns sum_i d_i (x_i . v + v_b)."""
    nb = _n_blocks(X.shape[0], n_threads)
    with _threads(n_threads):
        return _hessp_dense(X, d, v, float(v_b), out, nb)


@njit(**_PAR)
def _hess_diag_csr(data, indices, indptr, dw, out, n_blocks):
    bounds = _csr_blocks(indptr, n_blocks)
    p = out.shape[0]
    buf = np.zeros((n_blocks, p))
    for t in prange(n_blocks):
        g = buf[t]
        for i in range(bounds[t], bounds[t + 1]):
            di = np.float64(dw[i])
            for k in range(_u(indptr[i]), _u(indptr[i + 1])):
                x = np.float64(data[k])
                g[_u(indices[k])] += di * x * x
    if n_blocks == 1:
        for j in range(p):
            out[j] = buf[0, j]
    else:
        _reduce_rows(buf, out)


@njit(**_PAR)
def _hess_diag_dense(X, dw, out, n_blocks):
    n, p = X.shape
    bounds = _dense_blocks(n, n_blocks)
    buf = np.zeros((n_blocks, p))
    for t in prange(n_blocks):
        g = buf[t]
        for i in range(bounds[t], bounds[t + 1]):
            di = np.float64(dw[i])
            for j in range(p):
                x = np.float64(X[i, j])
                g[j] += di * x * x
    if n_blocks == 1:
        for j in range(p):
            out[j] = buf[0, j]
    else:
        _reduce_rows(buf, out)


def hess_diag_csr(data, indices, indptr, d, out, n_threads):
    """out_j = sum_i d_i x_ij^2 over CSR rows."""
    nb = _n_blocks(indptr.shape[0] - 1, n_threads)
    with _threads(n_threads):
        _hess_diag_csr(data, indices, indptr, d, out, nb)


def hess_diag_dense(X, d, out, n_threads):
    """out_j = sum_i d_i x_ij^2 over dense rows."""
    nb = _n_blocks(X.shape[0], n_threads)
    with _threads(n_threads):
        _hess_diag_dense(X, d, out, nb)


# ----------------------------------------------------------------------------- Gram matrix
#: Rows per panel in the dense Gram kernel (each panel is transposed into float64 scratch).
_PANEL = 64


@njit(**_SUM)
def _dot_panel(a, b_):
    acc = 0.0
    for r in range(a.shape[0]):
        acc += a[r] * b_[r]
    return acc


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
        for k in range(j, p):
            acc = 0.0
            for t in range(n_blocks):
                acc += buf[t, j, k]
            out[j, k] = acc
            out[k, j] = acc


@njit(**_PAR)
def _gram_csr(data, indices, indptr, dw, out, n_blocks):
    """X^T diag(d) X: each row adds d_i x_i x_i^T (pairs of its non-zeros, upper triangle;
    mirrored at the end so that the result is exactly symmetric).  A row whose indices are
    sorted pairs k1 with k2 >= k1 directly, half the inner iterations and no branch."""
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
        for k in range(j, p):
            acc = 0.0
            for t in range(n_blocks):
                acc += buf[t, j, k]
            out[j, k] = acc
            out[k, j] = acc


def gram_csr(data, indices, indptr, d, out, n_threads):
    """out = X^T diag(d) X (dense, C-ordered) for CSR rows."""
    nb = _n_blocks(indptr.shape[0] - 1, n_threads)
    with _threads(n_threads):
        _gram_csr(data, indices, indptr, d, out, nb)


def gram_dense(X, d, out, n_threads):
    """out = X^T diag(d) X (dense, C-ordered) for dense rows."""
    nb = _n_blocks(X.shape[0], n_threads)
    with _threads(n_threads):
        _gram_dense(X, d, out, nb)


# ----------------------------------------------------------------------------- multinomial
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


@njit(**_PAR)
def _mn_loss_grad_csr(data, indices, indptr, Y, s, W, B, grad_out, grad_b_out, proba_out,
                      n_blocks):
    bounds = _csr_blocks(indptr, n_blocks)
    d, K = W.shape
    gbuf = np.zeros((n_blocks, d, K))
    bbuf = np.zeros((n_blocks, K))
    parts = np.zeros(n_blocks)
    weighted = s.shape[0] > 0
    write_p = proba_out.shape[0] > 0
    for t in prange(n_blocks):
        G = gbuf[t]
        zk = np.empty(K)
        pk = np.empty(K)
        loss_sum = 0.0
        for i in range(bounds[t], bounds[t + 1]):
            lo, hi = _u(indptr[i]), _u(indptr[i + 1])
            for k in range(K):
                zk[k] = np.float64(B[k])
            for q in range(lo, hi):
                x = np.float64(data[q])
                Wj = W[_u(indices[q])]
                for k in range(K):
                    zk[k] += x * np.float64(Wj[k])
            si = np.float64(s[i]) if weighted else 1.0
            loss_sum += si * _pt_softmax_row(zk, Y[i], pk)
            if write_p:
                for k in range(K):
                    proba_out[i, k] = pk[k]
            for k in range(K):
                pk[k] = si * (pk[k] - np.float64(Y[i, k]))
                bbuf[t, k] += pk[k]
            for q in range(lo, hi):
                x = np.float64(data[q])
                Gj = G[_u(indices[q])]
                for k in range(K):
                    Gj[k] += x * pk[k]
        parts[t] = loss_sum
    loss_sum = 0.0
    for t in range(n_blocks):
        loss_sum += parts[t]
    for k in range(K):
        acc = 0.0
        for t in range(n_blocks):
            acc += bbuf[t, k]
        grad_b_out[k] = acc
    _reduce_rows(gbuf.reshape((n_blocks, d * K)), grad_out.reshape(d * K))
    return loss_sum


@njit(**_PAR)
def _mn_loss_grad_dense(X, Y, s, W, B, grad_out, grad_b_out, proba_out, n_blocks):
    n, d = X.shape
    K = W.shape[1]
    bounds = _dense_blocks(n, n_blocks)
    gbuf = np.zeros((n_blocks, d, K))
    bbuf = np.zeros((n_blocks, K))
    parts = np.zeros(n_blocks)
    weighted = s.shape[0] > 0
    write_p = proba_out.shape[0] > 0
    for t in prange(n_blocks):
        G = gbuf[t]
        zk = np.empty(K)
        pk = np.empty(K)
        loss_sum = 0.0
        for i in range(bounds[t], bounds[t + 1]):
            for k in range(K):
                zk[k] = np.float64(B[k])
            for j in range(d):
                x = np.float64(X[i, j])
                for k in range(K):
                    zk[k] += x * np.float64(W[j, k])
            si = np.float64(s[i]) if weighted else 1.0
            loss_sum += si * _pt_softmax_row(zk, Y[i], pk)
            if write_p:
                for k in range(K):
                    proba_out[i, k] = pk[k]
            for k in range(K):
                pk[k] = si * (pk[k] - np.float64(Y[i, k]))
                bbuf[t, k] += pk[k]
            for j in range(d):
                x = np.float64(X[i, j])
                for k in range(K):
                    G[j, k] += x * pk[k]
        parts[t] = loss_sum
    loss_sum = 0.0
    for t in range(n_blocks):
        loss_sum += parts[t]
    for k in range(K):
        acc = 0.0
        for t in range(n_blocks):
            acc += bbuf[t, k]
        grad_b_out[k] = acc
    _reduce_rows(gbuf.reshape((n_blocks, d * K)), grad_out.reshape(d * K))
    return loss_sum


def multinomial_loss_grad_csr(data, indices, indptr, Y, s, W, B, grad_out, grad_b_out, proba_out,
                              n_threads):
    """Softmax cross-entropy sum and gradient over CSR rows; returns loss_sum."""
    nb = _n_blocks(indptr.shape[0] - 1, n_threads)
    with _threads(n_threads):
        return _mn_loss_grad_csr(data, indices, indptr, Y, s, W, B, grad_out, grad_b_out,
                                 proba_out, nb)


def multinomial_loss_grad_dense(X, Y, s, W, B, grad_out, grad_b_out, proba_out, n_threads):
    """Softmax cross-entropy sum and gradient over dense rows; returns loss_sum."""
    nb = _n_blocks(X.shape[0], n_threads)
    with _threads(n_threads):
        return _mn_loss_grad_dense(X, Y, s, W, B, grad_out, grad_b_out, proba_out, nb)


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


@njit(**_PAR)
def _mn_hessp_csr(data, indices, indptr, P, s, V, v_b, out, out_b, n_blocks):
    bounds = _csr_blocks(indptr, n_blocks)
    d, K = V.shape
    gbuf = np.zeros((n_blocks, d, K))
    bbuf = np.zeros((n_blocks, K))
    weighted = s.shape[0] > 0
    for t in prange(n_blocks):
        G = gbuf[t]
        uk = np.empty(K)
        for i in range(bounds[t], bounds[t + 1]):
            lo, hi = _u(indptr[i]), _u(indptr[i + 1])
            for k in range(K):
                uk[k] = np.float64(v_b[k])
            for q in range(lo, hi):
                x = np.float64(data[q])
                Vj = V[_u(indices[q])]
                for k in range(K):
                    uk[k] += x * np.float64(Vj[k])
            _pt_softmax_hvp_row(P[i], uk, np.float64(s[i]) if weighted else 1.0)
            for k in range(K):
                bbuf[t, k] += uk[k]
            for q in range(lo, hi):
                x = np.float64(data[q])
                Gj = G[_u(indices[q])]
                for k in range(K):
                    Gj[k] += x * uk[k]
    for k in range(K):
        acc = 0.0
        for t in range(n_blocks):
            acc += bbuf[t, k]
        out_b[k] = acc
    _reduce_rows(gbuf.reshape((n_blocks, d * K)), out.reshape(d * K))


@njit(**_PAR)
def _mn_hessp_dense(X, P, s, V, v_b, out, out_b, n_blocks):
    n, d = X.shape
    K = V.shape[1]
    bounds = _dense_blocks(n, n_blocks)
    gbuf = np.zeros((n_blocks, d, K))
    bbuf = np.zeros((n_blocks, K))
    weighted = s.shape[0] > 0
    for t in prange(n_blocks):
        G = gbuf[t]
        uk = np.empty(K)
        for i in range(bounds[t], bounds[t + 1]):
            for k in range(K):
                uk[k] = np.float64(v_b[k])
            for j in range(d):
                x = np.float64(X[i, j])
                for k in range(K):
                    uk[k] += x * np.float64(V[j, k])
            _pt_softmax_hvp_row(P[i], uk, np.float64(s[i]) if weighted else 1.0)
            for k in range(K):
                bbuf[t, k] += uk[k]
            for j in range(d):
                x = np.float64(X[i, j])
                for k in range(K):
                    G[j, k] += x * uk[k]
    for k in range(K):
        acc = 0.0
        for t in range(n_blocks):
            acc += bbuf[t, k]
        out_b[k] = acc
    _reduce_rows(gbuf.reshape((n_blocks, d * K)), out.reshape(d * K))


def multinomial_hessp_csr(data, indices, indptr, P, s, V, v_b, out, out_b, n_threads):
    """Softmax Hessian-vector product over CSR rows (writes out and out_b)."""
    nb = _n_blocks(indptr.shape[0] - 1, n_threads)
    with _threads(n_threads):
        _mn_hessp_csr(data, indices, indptr, P, s, V, v_b, out, out_b, nb)


def multinomial_hessp_dense(X, P, s, V, v_b, out, out_b, n_threads):
    """Softmax Hessian-vector product over dense rows (writes out and out_b)."""
    nb = _n_blocks(X.shape[0], n_threads)
    with _threads(n_threads):
        _mn_hessp_dense(X, P, s, V, v_b, out, out_b, nb)
