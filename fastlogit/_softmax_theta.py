"""Compiled moves between a softmax theta and the kernels' (d, K) layout, with the L2 penalty.

theta packs a K-class model as K rows of ``m = d + fit_intercept`` values (class k's
coefficients, then its intercept: :mod:`fastlogit.layout`); the softmax kernels read the
coefficients as W (d, K) and write the gradient as G (d, K) (:mod:`fastlogit.kernels`).  Per
objective evaluation this module makes the two moves in one pass each, over blocks of
``FEATURES`` features that a ``prange`` shares between threads, and folds in the work that
used to be separate NumPy passes:

- :func:`load`: W, the intercepts B, optionally a copy of theta (the data term's cache of
  the point) and ``||w||^2`` (for the penalty's value), in one read of theta;
- :func:`store_grad`: ``grad = C [G | g_b] + a [w | 0]`` written straight into theta's
  layout (the data term's gradient scaled by C plus the gradient of ``a/2 ||w||^2``), in one
  read of G and theta.

Every value is moved or computed elementwise, except ``||w||^2``, whose per-block sums are
added in block order: the results do not depend on the thread count (bitwise).  G and W are
in the data's dtype (float32 or float64); theta, the copy and the gradient are float64.
"""
import numpy as np
from numba import njit, prange

from ._config import kernel_threads
from .kernels.numba_impl import numba_threads

__all__ = ["FEATURES", "load", "store_grad", "threads_for"]

#: Features per block (K FEATURES values per block).
FEATURES = 2048

_JIT = dict(cache=True, nogil=True)
#: Reassociation for the sum of squares (a block's sum, in a fixed order for a given build).
_SUM = dict(_JIT, fastmath={"reassoc", "contract"})


@njit(**_SUM)
def _load_block(b, theta, d, m, W, keep, part):
    """Block ``b`` of features: W[j, :] = the rows' coefficient j; keep (if non-empty) gets
    the block's entries of theta; part[b] = their sum of squares."""
    j0 = b * FEATURES
    j1 = min(j0 + FEATURES, d)
    ss = 0.0
    for c in range(W.shape[1]):
        src = theta[c * m + j0:c * m + j1]
        dst = W[j0:j1, c]
        acc = 0.0
        if keep.size:
            kept = keep[c * m + j0:c * m + j1]
            for j in range(src.size):
                v = src[j]
                dst[j] = v
                kept[j] = v
                acc += v * v
        else:
            for j in range(src.size):
                v = src[j]
                dst[j] = v
                acc += v * v
        ss += acc
    part[b] = ss


@njit(**dict(_JIT, parallel=True))
def _load_par(theta, d, m, W, keep, part):
    for b in prange(part.size):
        _load_block(b, theta, d, m, W, keep, part)


@njit(**_JIT)
def _load_ser(theta, d, m, W, keep, part):
    for b in range(part.size):
        _load_block(b, theta, d, m, W, keep, part)


@njit(**_JIT)
def _store_block(b, G, C, a, theta, d, m, grad):
    """Block ``b`` of features: grad[c m + j] = C G[j, c] + a theta[c m + j]."""
    j0 = b * FEATURES
    j1 = min(j0 + FEATURES, d)
    for c in range(G.shape[1]):
        src = G[j0:j1, c]
        w = theta[c * m + j0:c * m + j1]
        dst = grad[c * m + j0:c * m + j1]
        for j in range(dst.size):
            dst[j] = C * np.float64(src[j]) + a * w[j]


@njit(**dict(_JIT, parallel=True))
def _store_par(G, C, a, theta, d, m, grad, n_blocks):
    for b in prange(n_blocks):
        _store_block(b, G, C, a, theta, d, m, grad)


@njit(**_JIT)
def _store_ser(G, C, a, theta, d, m, grad, n_blocks):
    for b in range(n_blocks):
        _store_block(b, G, C, a, theta, d, m, grad)


def n_blocks(d):
    """Number of feature blocks of d features (at least 1)."""
    return max(1, -(-int(d) // FEATURES))


def threads_for(n_threads, d, K):
    """Threads for one move of K d values (the kernels' cost model, each value counted as
    one non-zero); the results do not depend on it."""
    return kernel_threads(n_threads, n_blocks(d), int(K) * int(d), 0)


def load(theta, d, fit_intercept, W, B, keep=None, n_threads=1):
    """Scatter a softmax theta into the kernels' buffers; return ``||w||^2``.

    Parameters
    ----------
    theta : ndarray of float64, shape (K (d + fit_intercept),)
        C-contiguous.
    d : int
        Number of features.
    fit_intercept : bool
    W : ndarray of shape (d, K), float32 or float64, C-contiguous
        Overwritten with the coefficients, ``W[j, k] = theta[k m + j]``.
    B : ndarray of shape (K,)
        Overwritten with the intercepts (left as is without an intercept).
    keep : ndarray of float64, shape theta.shape, or None
        When given, overwritten with a copy of theta.
    n_threads : int
        Threads (the result does not depend on it).

    Returns
    -------
    float
        The sum of squares of the coefficients (intercepts excluded), summed per block of
        features in block order.
    """
    fi = int(bool(fit_intercept))
    m = d + fi
    part = np.empty(n_blocks(d))
    dest = np.empty(0) if keep is None else keep
    if n_threads > 1:
        with numba_threads(n_threads):
            _load_par(theta, d, m, W, dest, part)
    else:
        _load_ser(theta, d, m, W, dest, part)
    if fi:
        B[:] = theta[d::m]
        if keep is not None:
            keep[d::m] = theta[d::m]
    return float(part.sum()) if d else 0.0


def store_grad(G, gb, C, a, theta, d, fit_intercept, grad, n_threads=1):
    """Write ``C`` times the kernels' softmax gradient plus the L2 gradient in theta's layout.

    Parameters
    ----------
    G : ndarray of shape (d, K), float32 or float64
        The coefficient gradient ``X^T R`` of the kernels.
    gb : ndarray of shape (K,)
        The intercept gradient (ignored without an intercept).
    C : float
        Scale of the data term.
    a : float
        The L2 strength: ``a theta`` is added on the coefficients (0.0 for none).
    theta : ndarray of float64, shape (K (d + fit_intercept),)
        The point (its coefficients enter ``a theta``).
    d : int
    fit_intercept : bool
    grad : ndarray of float64, shape theta.shape
        Overwritten: ``grad[k m + j] = C G[j, k] + a theta[k m + j]``,
        ``grad[k m + d] = C gb[k]``.
    n_threads : int
        Threads (the result does not depend on it).
    """
    fi = int(bool(fit_intercept))
    m = d + fi
    nb = n_blocks(d)
    if n_threads > 1:
        with numba_threads(n_threads):
            _store_par(G, float(C), float(a), theta, d, m, grad, nb)
    else:
        _store_ser(G, float(C), float(a), theta, d, m, grad, nb)
    if fi:
        grad[d::m] = C * gb.astype(np.float64)
    return grad
