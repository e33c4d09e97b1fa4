"""Compiled pieces of the L1 solver's joint multinomial path (Numba): softmax log-loss on a
CSC copy of X.

Private to :mod:`fastlogit.solvers.l1`.  Float64, single-threaded; ``s`` of length 0 means
unit sample weights.  Column arrays as in :mod:`fastlogit.solvers._cd` (``indptr`` int64,
``indices`` int32 or int64, ``data`` float64, n rows).  Per-sample arrays are (n, K) in C
order (a sample's K classes contiguous); coefficients are kept feature-major, (m, K).

Quantities, for margins ``Z_i = W^T x_i + b`` (K classes), ``P_i = softmax(Z_i)`` and
``c_i = C s_i``::

    R_ik = c_i (P_ik - Y_ik)                          (grad of C L: X^T R, and sum_i R_i for b)
    model curvature along margins V_i:  c_i (sum_k P_ik V_ik^2 - (P_i . V_i)^2)

so that a coordinate (j, k) of the proximal Newton model has gradient
``g_jk + sum_i x_ij c_i P_ik (V_ik - u_i)`` with ``u_i = P_i . V_i`` and curvature
``sum_i x_ij^2 c_i P_ik (1 - P_ik)``: coordinate descent on the *joint* model (the coupling
between the classes included) costs O(nnz of column j) per coordinate step when V and u are
kept up to date.
"""
import math

import numpy as np
from numba import njit

from ..kernels.numba_impl import UINDEX
from ._cd import (ANDERSON_K, anderson_step, coordinate_violation, end_of_sweep, newton_soft,
                  keep, ring_slot, tally)

__all__ = ["softmax_pointwise", "softmax_try", "softmax_grad_cols", "softmax_margins",
           "softmax_model_value", "cd_softmax"]

_JIT = dict(cache=True, nogil=True)


@njit(**_JIT)
def _softmax_row(z, p):
    """p = softmax(z) (max-shifted); returns logsumexp(z)."""
    m = z[0]
    for k in range(1, z.shape[0]):
        if z[k] > m:
            m = z[k]
    tot = 0.0
    for k in range(z.shape[0]):
        e = math.exp(z[k] - m)
        p[k] = e
        tot += e
    for k in range(z.shape[0]):
        p[k] /= tot
    return m + math.log(tot)


@njit(**_JIT)
def softmax_pointwise(Z, Y, s, P):
    """Fill P (n, K) = softmax of the rows of Z; returns the unscaled loss
    ``sum_i s_i (logsumexp(Z_i) - Y_i . Z_i)`` (rows of Y summing to 1)."""
    n, K = Z.shape
    unit = s.shape[0] == 0
    loss = 0.0
    for i in range(n):
        li = _softmax_row(Z[i], P[i])
        for k in range(K):
            li -= Y[i, k] * Z[i, k]
        loss += (1.0 if unit else s[i]) * li
    return loss


@njit(**_JIT)
def softmax_try(Z, P, V, t, Y, s, Zn, Pn):
    """The loss change ``sum_i s_i [l(Z_i + t V_i) - l(Z_i)]`` from Z and P = softmax(Z), with
    the new margins and probabilities written to Zn, Pn in the same pass.

    Per sample without cancellation: ``logsumexp(z + u) - logsumexp(z) = log1p(sum_k p_k
    expm1(u_k))`` while that sum stays above -1/2 and every ``u_k <= 30`` (else the change is
    large and the direct difference as accurate), minus ``Y_i . u``."""
    n, K = Z.shape
    unit = s.shape[0] == 0
    out = 0.0
    scratch = np.empty(K)
    for i in range(n):
        umax = 0.0
        moved = False
        for k in range(K):
            u = t * V[i, k]
            if u != 0.0:
                moved = True
            if u > umax:
                umax = u
            Zn[i, k] = Z[i, k] + u
        lse_new = _softmax_row(Zn[i], Pn[i])
        if not moved:
            continue
        c = 0.0
        q = 0.0
        if umax <= 30.0:
            for k in range(K):
                pk = P[i, k]
                if pk > 0.0:
                    q += pk * math.expm1(t * V[i, k])
        if umax <= 30.0 and q > -0.5:
            c = math.log1p(q)
        else:
            c = lse_new - _softmax_row(Z[i], scratch)
        for k in range(K):
            c -= Y[i, k] * t * V[i, k]
        out += (1.0 if unit else s[i]) * c
    return out


@njit(**_JIT)
def softmax_grad_cols(indptr, indices, data, cols, P, Y, s, C, G, H, want_h):
    """``G[kk, k] = sum_i X[i, j] c_i (P_ik - Y_ik)`` for ``j = cols[kk]`` and, when
    ``want_h``, ``H[kk, k] = sum_i X[i, j]^2 c_i P_ik (1 - P_ik)`` (one pass per column).
    Returns the intercepts' gradient ``sum_i c_i (P_i - Y_i)`` and curvature
    ``sum_i c_i P_i (1 - P_i)`` (both (K,))."""
    n, K = P.shape
    unit = s.shape[0] == 0
    R = np.empty((n, K))
    Dg = np.empty((n, K) if want_h else (0, K))
    gb = np.zeros(K)
    hb = np.zeros(K)
    for i in range(n):
        ci = C if unit else C * s[i]
        for k in range(K):
            R[i, k] = ci * (P[i, k] - Y[i, k])
            gb[k] += R[i, k]
            dik = ci * P[i, k] * (1.0 - P[i, k])
            hb[k] += dik
            if want_h:
                Dg[i, k] = dik
    for kk in range(cols.shape[0]):
        j = UINDEX(cols[kk])
        for k in range(K):
            G[kk, k] = 0.0
            if want_h:
                H[kk, k] = 0.0
        for q in range(UINDEX(indptr[j]), UINDEX(indptr[j + UINDEX(1)])):
            i = UINDEX(indices[q])
            v = data[q]
            for k in range(K):
                G[kk, k] += v * R[i, k]
            if want_h:
                v2 = v * v
                for k in range(K):
                    H[kk, k] += v2 * Dg[i, k]
    return gb, hb


@njit(**_JIT)
def softmax_margins(indptr, indices, data, cols, Wc, b, Z):
    """Z (n, K) = X[:, cols] Wc + b, with Wc (m, K) the coefficients of the columns."""
    n, K = Z.shape
    for i in range(n):
        for k in range(K):
            Z[i, k] = b[k]
    for kk in range(cols.shape[0]):
        j = UINDEX(cols[kk])
        for q in range(UINDEX(indptr[j]), UINDEX(indptr[j + UINDEX(1)])):
            i = UINDEX(indices[q])
            v = data[q]
            for k in range(K):
                Z[i, k] += v * Wc[kk, k]


@njit(**_JIT)
def softmax_model_value(Wc, G, P, c, lam, a, gb, dW, db, V):
    """The model of :func:`cd_softmax` minus its constant at (dW, db) with margins V."""
    n, K = P.shape
    out = 0.0
    for kk in range(dW.shape[0]):
        for k in range(K):
            e = dW[kk, k]
            out += e * (G[kk, k] + 0.5 * a * e) + lam * (abs(Wc[kk, k] + e) - abs(Wc[kk, k]))
    for k in range(K):
        out += gb[k] * db[k]
    q = 0.0
    for i in range(n):
        s1 = 0.0
        s2 = 0.0
        for k in range(K):
            pv = P[i, k] * V[i, k]
            s1 += pv * V[i, k]
            s2 += pv
        q += c[i] * (s1 - s2 * s2)
    return out + 0.5 * q


@njit(**_JIT)
def cd_softmax(indptr, indices, data, cols, Wc, G, H, P, s, C, lam, a, fit_b, gb, hb, dW,
               V, tol, max_sweeps, anderson_on=True):
    """Coordinate descent on the joint proximal Newton model of the softmax problem over the
    working set ``cols`` (every class of each column).

    Minimises over (dW (m, K), db (K,))::

        q = <G, dW> + gb.db + 1/2 sum_i c_i (P_i . V_i^2 - (P_i . V_i)^2)
            + a/2 ||dW||^2 + lam ||Wc + dW||_1,       V = X[:, cols] dW + db   (V: (n, K))

    ``G`` carries the l2 part; ``H`` is the coordinates' curvature (l2 part and ridge
    included), ``hb`` the intercepts'.  dW and V start from zeros and are updated in place.
    Shrinking and the stopping rule (a sweep's violations summing to at most ``tol``,
    confirmed over all coordinates) as in :func:`fastlogit.solvers._cd.cd_model`, and as
    there, with ``anderson_on`` every ``ANDERSON_K`` sweeps the last iterates are extrapolated
    and the extrapolation kept when it lowers the model (:func:`softmax_model_value`).

    Returns ``(db (K,), sweeps)``.
    """
    m = cols.shape[0]
    n, K = P.shape
    unit = s.shape[0] == 0
    c = np.empty(n)
    for i in range(n):
        c[i] = C if unit else C * s[i]
    u = np.zeros(n)  # u_i = P_i . V_i
    for i in range(n):
        acc = 0.0
        for k in range(K):
            acc += P[i, k] * V[i, k]
        u[i] = acc
    mk = m * K
    AK = ANDERSON_K
    it_x = np.empty((AK + 1, (mk + K) if anderson_on else 0))  # (dW, db) flattened
    it_v = np.empty((AK + 1, n * K if anderson_on else 0))
    it_0 = np.zeros(AK + 1)
    n_it = 0
    active = np.arange(mk)
    n_active = mk
    db = np.zeros(K)
    m_old, full, sweeps = np.inf, True, 0
    while sweeps < max_sweeps:
        sweeps += 1
        vsum, viol, k_out = 0.0, 0.0, 0
        for aa in range(n_active):
            e = active[aa]
            kk = e // K
            k = e - kk * K
            j = UINDEX(cols[kk])
            acc = 0.0
            for q in range(UINDEX(indptr[j]), UINDEX(indptr[j + UINDEX(1)])):
                i = UINDEX(indices[q])
                acc += data[q] * c[i] * P[i, k] * (V[i, k] - u[i])
            g = G[kk, k] + a * dW[kk, k] + acc
            wj = Wc[kk, k] + dW[kk, k]
            vk, shrink = coordinate_violation(g, wj, lam, m_old, n)
            if shrink:
                continue
            k_out, vsum, viol = keep(active, k_out, e, vk, vsum, viol)
            z = newton_soft(g, H[kk, k], wj, lam) - Wc[kk, k] - dW[kk, k]
            if z == 0.0:
                continue
            dW[kk, k] += z
            for q in range(UINDEX(indptr[j]), UINDEX(indptr[j + UINDEX(1)])):
                i = UINDEX(indices[q])
                dv = z * data[q]
                V[i, k] += dv
                u[i] += dv * P[i, k]
        n_active = k_out
        if fit_b:
            for k in range(K):
                acc = 0.0
                for i in range(n):
                    acc += c[i] * P[i, k] * (V[i, k] - u[i])
                g = gb[k] + acc
                vb = abs(g)
                vsum, viol = tally(vb, vsum, viol)
                z = -g / hb[k]
                if z != 0.0:
                    db[k] += z
                    for i in range(n):
                        V[i, k] += z
                        u[i] += z * P[i, k]
        stop, active, n_active, m_old, full = end_of_sweep(vsum, viol, tol, full, active,
                                                           n_active, mk)
        if stop:
            break
        if not anderson_on:
            continue
        slot, n_it, full_ring = ring_slot(n_it, AK)
        it_x[slot, :mk] = dW.ravel()
        it_x[slot, mk:] = db
        it_v[slot] = V.ravel()
        if full_ring:
            ok, x2, v2, _ = anderson_step(it_x, it_v, it_0, AK)
            if ok:
                dW2 = x2[:mk].copy().reshape((m, K))
                db2 = x2[mk:].copy()
                V2 = v2.reshape((n, K))
                if (softmax_model_value(Wc, G, P, c, lam, a, gb, dW2, db2, V2)
                        < softmax_model_value(Wc, G, P, c, lam, a, gb, dW, db, V)):
                    dW[:, :] = dW2
                    db[:] = db2
                    V[:, :] = V2
                    for i in range(n):
                        acc = 0.0
                        for k in range(K):
                            acc += P[i, k] * V[i, k]
                        u[i] = acc
    return db, sweeps
