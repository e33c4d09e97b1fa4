"""NumPy/SciPy reference kernels: the ground truth every fast backend is tested against.

Written for clarity, not speed: each quantity is computed in float64 with whole-array
operations and cast to the output dtype at the end.  Signatures are the raw-kernel
signatures documented in :mod:`fastlogit.kernels`.

Numerical stability (docs/user_guide/objective.md). With ``a = |z|``, ``e = exp(-a)`` in (0, 1]::

    log(1 + exp(z)) = max(z, 0) + log1p(e)            no overflow, no cancellation
    sigmoid(z)      = 1 / (1 + e)  if z >= 0,  e / (1 + e)  otherwise
    l(y, z)         = log1p(e) + (z > 0 ? (1 - y) z : -y z)   (no log1pexp(z) - y z cancellation)
    sigmoid(z) - y  = ((1 - y) - y e) / (1 + e)  if z >= 0,  ((1 - y) e - y) / (1 + e)  otherwise
    sigmoid(1 - sigmoid) = e / (1 + e)^2

``log1p(e)`` is exact to an ulp for every e in (0, 1], and ``e`` underflowing to 0 for
a > 745 gives the correct limit, so the forms hold for every finite z.
"""
import numpy as np
import scipy.sparse as sp

from ._names import RAW_NAMES

__all__ = list(RAW_NAMES)


# ----------------------------------------------------------------------------- pointwise
def _log1pexp64(z):
    z = np.asarray(z, dtype=np.float64)
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def _sigmoid64(z):
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _pointwise_loss(y, z):
    """Per-sample log-loss, residual sigmoid(z) - y and curvature, all float64, shape (n,)."""
    y = np.asarray(y, dtype=np.float64)
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))
    pos = z >= 0
    loss = np.log1p(e) + np.where(z > 0, (1.0 - y) * z, -y * z)
    residual = np.where(pos, (1.0 - y) - y * e, (1.0 - y) * e - y) / (1.0 + e)
    curvature = e / (1.0 + e) ** 2
    return loss, residual, curvature


def log1pexp(z, out):
    """out = log(1 + exp(z)), elementwise; z, out : (n,) float32/float64."""
    out[:] = _log1pexp64(z)


def log_sigmoid(z, out):
    """out = log(sigmoid(z)) = -log(1 + exp(-z)), elementwise."""
    out[:] = -_log1pexp64(-np.asarray(z, dtype=np.float64))


def sigmoid(z, out):
    """out = 1 / (1 + exp(-z)), elementwise, computed from exp(-|z|)."""
    out[:] = _sigmoid64(z)


# ----------------------------------------------------------------------------- helpers
def _weights(s, n):
    return np.ones(n) if s.shape[0] == 0 else s.astype(np.float64)


def _as64(X):
    return X.astype(np.float64)


def _margin(X, w, b):
    return _as64(X) @ np.asarray(w, dtype=np.float64) + float(b)


def _csr_matrix(data, indices, indptr, n_features):
    """A scipy CSR over a row block whose ``indptr`` may not start at 0."""
    lo, hi = int(indptr[0]), int(indptr[-1])
    return sp.csr_matrix(
        (data[lo:hi], indices[lo:hi], np.asarray(indptr, dtype=np.int64) - lo),
        shape=(len(indptr) - 1, n_features),
    )


def _dense_and_csr(fn, feature_arg):
    """Make the ``_dense`` and ``_csr`` raw kernels from one matrix-level reference ``fn``.

    ``feature_arg`` is the position (after X) of an argument whose first axis is n_features.
    """
    def dense(X, *args):
        return fn(X, *args)

    def csr(data, indices, indptr, *args):
        X = _csr_matrix(data, indices, indptr, args[feature_arg].shape[0])
        return fn(X, *args)

    dense.__doc__ = csr.__doc__ = fn.__doc__
    return dense, csr


# ----------------------------------------------------------------------------- binary
def _loss_grad(X, y, s, w, b, grad_out, hess_out, n_threads):
    """Binary log-loss sum and gradient; see the module docstring of fastlogit.kernels."""
    sw = _weights(s, X.shape[0])
    loss, residual, curvature = _pointwise_loss(y, _margin(X, w, b))
    r = sw * residual
    grad_out[:] = _as64(X).T @ r
    if hess_out.shape[0]:
        hess_out[:] = sw * curvature
    return float(sw @ loss), float(r.sum())


def _loss_grad_diag(X, y, s, w, b, grad_out, hess_out, diag_out, n_threads):
    """_loss_grad with the IRLS weights (hess_out, required) and the Hessian diagonal
    ``diag_out_j = sum_i hess_out_i x_ij^2`` (hess_out as stored, in its dtype)."""
    sums = _loss_grad(X, y, s, w, b, grad_out, hess_out, n_threads)
    _hess_diag(X, hess_out, diag_out, n_threads)
    return sums


def _loss(X, y, s, w, b, n_threads):
    """Binary log-loss sum."""
    loss, _, _ = _pointwise_loss(y, _margin(X, w, b))
    return float(_weights(s, X.shape[0]) @ loss)


def _decision(X, w, b, out, n_threads):
    """out = X w + b."""
    out[:] = _margin(X, w, b)


def _hessp(X, d, v, v_b, out, n_threads):
    """out = X^T (d * (X v + v_b)); returns sum_i d_i (x_i v + v_b)."""
    du = np.asarray(d, dtype=np.float64) * _margin(X, v, v_b)
    out[:] = _as64(X).T @ du
    return float(du.sum())


def _hess_diag(X, d, out, n_threads):
    """out_j = sum_i d_i x_ij^2."""
    Xsq = _as64(X).multiply(_as64(X)) if sp.issparse(X) else _as64(X) ** 2
    out[:] = Xsq.T @ np.asarray(d, dtype=np.float64)


def _gram(X, d, out, n_threads):
    """out = X^T diag(d) X (dense, C-ordered)."""
    Xd = _as64(X)
    G = Xd.T @ (sp.diags(np.asarray(d, dtype=np.float64)) @ Xd)
    out[:] = G.toarray() if sp.issparse(G) else G


# ----------------------------------------------------------------------------- multinomial
def _softmax_parts(X, W, B):
    Z = _as64(X) @ W.astype(np.float64) + B.astype(np.float64)
    Z = np.asarray(Z)
    m = Z.max(axis=1, keepdims=True)
    E = np.exp(Z - m)
    total = E.sum(axis=1, keepdims=True)
    lse = (m + np.log(total))[:, 0]
    return Z, lse, E / total


def _multinomial_loss_grad(X, Y, s, W, B, grad_out, grad_b_out, proba_out, n_threads):
    """Softmax cross-entropy sum and gradient (Y rows sum to 1)."""
    sw = _weights(s, X.shape[0])
    Y = Y.astype(np.float64)
    Z, lse, P = _softmax_parts(X, W, B)
    loss = lse - (Y * Z).sum(axis=1)
    R = sw[:, None] * (P - Y)
    grad_out[:] = _as64(X).T @ R
    grad_b_out[:] = R.sum(axis=0)
    if proba_out.shape[0]:
        proba_out[:] = P
    return float(sw @ loss)


def _multinomial_hessp(X, P, s, V, v_b, out, out_b, n_threads):
    """Softmax Hessian-vector product: T = s * (P * U - P (P . U)), U = X V + v_b."""
    sw = _weights(s, X.shape[0])
    P = P.astype(np.float64)
    U = np.asarray(_as64(X) @ V.astype(np.float64)) + v_b.astype(np.float64)
    T = sw[:, None] * (P * U - P * (P * U).sum(axis=1, keepdims=True))
    out[:] = _as64(X).T @ T
    out_b[:] = T.sum(axis=0)


loss_grad_dense, loss_grad_csr = _dense_and_csr(_loss_grad, 2)
loss_grad_diag_dense, loss_grad_diag_csr = _dense_and_csr(_loss_grad_diag, 2)
loss_dense, loss_csr = _dense_and_csr(_loss, 2)
decision_dense, decision_csr = _dense_and_csr(_decision, 0)
hessp_dense, hessp_csr = _dense_and_csr(_hessp, 1)
hess_diag_dense, hess_diag_csr = _dense_and_csr(_hess_diag, 1)
gram_dense, gram_csr = _dense_and_csr(_gram, 1)
multinomial_loss_grad_dense, multinomial_loss_grad_csr = _dense_and_csr(_multinomial_loss_grad, 2)
multinomial_hessp_dense, multinomial_hessp_csr = _dense_and_csr(_multinomial_hessp, 2)
