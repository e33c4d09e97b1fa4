# cython: language_level=3
"""Cython SGD epochs (``fastlogit.kernels._sgd``), wrapped by ``fastlogit.kernels.sgd_cython``.

The algorithm and the order of floating-point operations are those of the reference
``fastlogit.kernels.sgd_ref`` (its docstring states them); the Hogwild epoch is the one of
``fastlogit.kernels.sgd_numba`` (positions dealt round-robin to threads, per-position scale,
rate and averaging coefficient precomputed by the caller), with an OpenMP ``prange``.
Directives (boundscheck, wraparound, cdivision) are set centrally in setup.py.
"""
from cython.parallel cimport prange
from libc.math cimport exp, log, log1p, fabs, pow

ctypedef fused floating:
    float
    double

ctypedef fused index_t:
    int
    long long

ctypedef fused ptr_t:
    int
    long long

cdef double RESCALE_BELOW = 1e-6  # = sgd_ref.RESCALE_BELOW


cdef extern from *:
    """
    #ifdef _OPENMP
    #define FASTLOGIT_SGD_OPENMP 1
    #else
    #define FASTLOGIT_SGD_OPENMP 0
    #endif
    """
    int FASTLOGIT_SGD_OPENMP


def openmp_enabled():
    """True when this extension was compiled with OpenMP."""
    return bool(FASTLOGIT_SGD_OPENMP)


cdef inline double _eta(int schedule, double eta0, double power_t, double alpha, double t0,
                        double t) noexcept nogil:
    if schedule == 0:
        return eta0
    if schedule == 1:
        return eta0 / pow(t, power_t)
    return 1.0 / (alpha * (t0 + t - 1.0))


cdef inline double _binary_point(double y, double z, double* res) noexcept nogil:
    """Stable loss of one sample; writes sigmoid(z) - y into res[0]."""
    cdef double e = exp(-fabs(z))
    cdef double loss
    if z > 0.0:
        loss = log1p(e) + (1.0 - y) * z
    else:
        loss = log1p(e) - y * z
    if z >= 0.0:
        res[0] = ((1.0 - y) - y * e) / (1.0 + e)
    else:
        res[0] = ((1.0 - y) * e - y) / (1.0 + e)
    return loss


cdef inline double _softmax_point(const floating* y, double* z, double* res,
                                  Py_ssize_t K) noexcept nogil:
    """Softmax loss of one row (labels y, margins z); writes p - y into res."""
    cdef Py_ssize_t k
    cdef double m = z[0], total = 0.0, loss, yk
    for k in range(1, K):
        if z[k] > m:
            m = z[k]
    for k in range(K):
        res[k] = exp(z[k] - m)
        total += res[k]
    loss = m + log(total)
    for k in range(K):
        yk = y[k]
        loss -= yk * z[k]
        res[k] = res[k] / total - yk
    return loss


cdef void _fold(double[:, ::1] W, double[:, ::1] avg_W, double[::1] state) noexcept nogil:
    cdef Py_ssize_t j, k
    cdef double beta = state[2], scale = state[0]
    if avg_W.shape[0] > 0:
        for j in range(W.shape[0]):
            for k in range(W.shape[1]):
                avg_W[j, k] += beta * W[j, k]
        state[2] = 0.0
    for j in range(W.shape[0]):
        for k in range(W.shape[1]):
            W[j, k] *= scale
    state[0] = 1.0


cdef inline void _l1_clip(double* w, double* a, double* q, double scale, double u,
                          double beta, bint averaging) noexcept nogil:
    """Cumulative-penalty clipping of one weight (w = W[j, k], a = avg_W[j, k], q = q[j, k])."""
    cdef double wj = scale * w[0], new, delta
    if wj > 0.0:
        new = wj - (u + q[0])
        if new < 0.0:
            new = 0.0
    elif wj < 0.0:
        new = wj + (u - q[0])
        if new > 0.0:
            new = 0.0
    else:
        return
    q[0] += new - wj
    delta = new / scale - w[0]
    w[0] += delta
    if averaging:
        a[0] -= beta * delta


def sgd_epoch_csr(const floating[::1] data, const index_t[::1] indices, const ptr_t[::1] indptr,
                  const floating[:, ::1] Y, const floating[::1] s, const long long[::1] order,
                  double[:, ::1] W, double[::1] b, double[:, ::1] avg_W, double[::1] avg_b,
                  double[:, ::1] q, double[::1] state, int schedule, double eta0,
                  double power_t, double alpha, double t0, double lam2, double lam1,
                  bint fit_intercept, double average_start, int n_threads):
    """One sequential SGD epoch over CSR rows (see fastlogit.kernels.sgd_ref)."""
    cdef Py_ssize_t K = W.shape[1], p, i, k, kk, j, lo, hi
    cdef bint averaging = avg_W.shape[0] > 0
    cdef bint use_l1 = q.shape[0] > 0 and lam1 > 0.0
    cdef bint weighted = s.shape[0] > 0
    cdef double[::1] z = _zeros(K)
    cdef double[::1] r = _zeros(K)
    cdef double loss_sum = 0.0, t, eta, si, scale, acc, loss, res, c, delta, beta, u, x, f
    # The scalar state lives in locals (registers) during the epoch: W's stores may alias.
    cdef double sc = state[0], tt = state[1], bt = state[2], cnt = state[3], uu = state[4]
    with nogil:
        for p in range(order.shape[0]):
            i = order[p]
            lo = indptr[i]
            hi = indptr[i + 1]
            tt += 1.0
            t = tt
            eta = _eta(schedule, eta0, power_t, alpha, t0, t)
            si = s[i] if weighted else 1.0
            scale = sc
            if K == 1:
                acc = 0.0
                for kk in range(lo, hi):
                    acc = acc + <double>data[kk] * W[indices[kk], 0]
                loss = _binary_point(Y[i, 0], scale * acc + b[0], &res)
                r[0] = si * res
            else:
                for k in range(K):
                    z[k] = 0.0
                for kk in range(lo, hi):
                    x = data[kk]
                    j = indices[kk]
                    for k in range(K):
                        z[k] = z[k] + x * W[j, k]
                for k in range(K):
                    z[k] = scale * z[k] + b[k]
                loss = _softmax_point(&Y[i, 0], &z[0], &r[0], K)
                for k in range(K):
                    r[k] = si * r[k]
            loss_sum += si * loss
            if lam2 > 0.0:
                f = 1.0 - eta * lam2
                sc *= f if f > 0.0 else 0.0
                if sc < RESCALE_BELOW:
                    state[0] = sc
                    state[2] = bt
                    _fold(W, avg_W, state)
                    sc = state[0]
                    bt = state[2]
            scale = sc
            beta = bt
            for k in range(K):
                if r[k] != 0.0:
                    c = -eta * r[k] / scale
                    for kk in range(lo, hi):
                        delta = c * <double>data[kk]
                        j = indices[kk]
                        W[j, k] += delta
                        if averaging:
                            avg_W[j, k] -= beta * delta
                    if fit_intercept:
                        b[k] -= eta * r[k]
            if use_l1:
                uu += eta * lam1
                u = uu
                for k in range(K):
                    for kk in range(lo, hi):
                        j = indices[kk]
                        _l1_clip(&W[j, k], &avg_W[j, k] if averaging else &W[j, k], &q[j, k],
                                 scale, u, beta, averaging)
            if averaging and t >= average_start:
                bt += sc
                cnt += 1.0
                for k in range(K):
                    avg_b[k] += b[k]
        state[0] = sc
        state[1] = tt
        state[2] = bt
        state[3] = cnt
        state[4] = uu
    return loss_sum


def sgd_epoch_dense(const floating[:, ::1] X, const floating[:, ::1] Y,
                    const floating[::1] s, const long long[::1] order,
                    double[:, ::1] W, double[::1] b, double[:, ::1] avg_W, double[::1] avg_b,
                    double[:, ::1] q, double[::1] state, int schedule, double eta0,
                    double power_t, double alpha, double t0, double lam2, double lam1,
                    bint fit_intercept, double average_start, int n_threads):
    """One sequential SGD epoch over dense rows (see fastlogit.kernels.sgd_ref)."""
    cdef Py_ssize_t d = W.shape[0], K = W.shape[1], p, i, k, j
    cdef bint averaging = avg_W.shape[0] > 0
    cdef bint use_l1 = q.shape[0] > 0 and lam1 > 0.0
    cdef bint weighted = s.shape[0] > 0
    cdef double[::1] z = _zeros(K)
    cdef double[::1] r = _zeros(K)
    cdef double loss_sum = 0.0, t, eta, si, scale, acc, loss, res, c, delta, beta, u, x, f
    # The scalar state lives in locals (registers) during the epoch: W's stores may alias.
    cdef double sc = state[0], tt = state[1], bt = state[2], cnt = state[3], uu = state[4]
    with nogil:
        for p in range(order.shape[0]):
            i = order[p]
            tt += 1.0
            t = tt
            eta = _eta(schedule, eta0, power_t, alpha, t0, t)
            si = s[i] if weighted else 1.0
            scale = sc
            if K == 1:
                acc = 0.0
                for j in range(d):
                    acc = acc + <double>X[i, j] * W[j, 0]
                loss = _binary_point(Y[i, 0], scale * acc + b[0], &res)
                r[0] = si * res
            else:
                for k in range(K):
                    z[k] = 0.0
                for j in range(d):
                    x = X[i, j]
                    for k in range(K):
                        z[k] = z[k] + x * W[j, k]
                for k in range(K):
                    z[k] = scale * z[k] + b[k]
                loss = _softmax_point(&Y[i, 0], &z[0], &r[0], K)
                for k in range(K):
                    r[k] = si * r[k]
            loss_sum += si * loss
            if lam2 > 0.0:
                f = 1.0 - eta * lam2
                sc *= f if f > 0.0 else 0.0
                if sc < RESCALE_BELOW:
                    state[0] = sc
                    state[2] = bt
                    _fold(W, avg_W, state)
                    sc = state[0]
                    bt = state[2]
            scale = sc
            beta = bt
            for k in range(K):
                if r[k] != 0.0:
                    c = -eta * r[k] / scale
                    for j in range(d):
                        delta = c * <double>X[i, j]
                        W[j, k] += delta
                        if averaging:
                            avg_W[j, k] -= beta * delta
                    if fit_intercept:
                        b[k] -= eta * r[k]
            if use_l1:
                uu += eta * lam1
                u = uu
                for k in range(K):
                    for j in range(d):
                        _l1_clip(&W[j, k], &avg_W[j, k] if averaging else &W[j, k], &q[j, k],
                                 scale, u, beta, averaging)
            if averaging and t >= average_start:
                bt += sc
                cnt += 1.0
                for k in range(K):
                    avg_b[k] += b[k]
        state[0] = sc
        state[1] = tt
        state[2] = bt
        state[3] = cnt
        state[4] = uu
    return loss_sum


cdef void _hogwild_block(const floating[::1] data, const index_t[::1] indices,
                         const ptr_t[::1] indptr, const floating[:, ::1] Y,
                         const floating[::1] s, const long long[::1] order,
                         double[:, ::1] W, double[::1] b, double[:, ::1] avg_W,
                         const double[::1] etas, const double[::1] scales,
                         const double[::1] betas, Py_ssize_t lo_p, Py_ssize_t hi_p,
                         Py_ssize_t first, Py_ssize_t step, bint fit_intercept, double t_start,
                         double average_start, double* parts) noexcept nogil:
    cdef bint averaging = avg_W.shape[0] > 0
    cdef bint weighted = s.shape[0] > 0
    cdef double loss_sum = 0.0, b_sum = 0.0, n_avg = 0.0, b_local = 0.0
    cdef double before, acc, si, res, loss, r, eta, c, beta, delta
    cdef Py_ssize_t p, i, lo, hi, kk, j, since = 0
    cdef Py_ssize_t flush = 1 if step == 1 else 32  # = sgd_numba._FLUSH
    p = first
    while p < hi_p:
        i = order[p]
        lo = indptr[i]
        hi = indptr[i + 1]
        before = scales[p - 1] if p > lo_p else 1.0
        acc = 0.0
        for kk in range(lo, hi):
            acc = acc + <double>data[kk] * W[indices[kk], 0]
        si = s[i] if weighted else 1.0
        loss = _binary_point(Y[i, 0], before * acc + (b[0] + b_local), &res)
        loss_sum += si * loss
        r = si * res
        eta = etas[p]
        if r != 0.0:
            c = -eta * r / scales[p]
            beta = betas[p]
            for kk in range(lo, hi):
                delta = c * <double>data[kk]
                j = indices[kk]
                W[j, 0] += delta
                if averaging:
                    avg_W[j, 0] -= beta * delta
            if fit_intercept:
                b_local -= eta * r
        since += 1
        if since >= flush:
            b[0] += b_local
            b_local = 0.0
            since = 0
        if averaging and t_start + p + 1.0 >= average_start:
            b_sum += b[0] + b_local
            n_avg += 1.0
        p += step
    b[0] += b_local
    parts[0] += loss_sum
    parts[1] += b_sum
    parts[2] += n_avg


def hogwild_segment(const floating[::1] data, const index_t[::1] indices,
                    const ptr_t[::1] indptr, const floating[:, ::1] Y, const floating[::1] s,
                    const long long[::1] order, double[:, ::1] W, double[::1] b,
                    double[:, ::1] avg_W, const double[::1] etas, const double[::1] scales,
                    const double[::1] betas, Py_ssize_t lo_p, Py_ssize_t hi_p,
                    bint fit_intercept, double t_start, double average_start, int n_blocks,
                    double[:, ::1] parts):
    """Positions [lo_p, hi_p) of a Hogwild epoch, dealt round-robin to n_blocks threads."""
    cdef int k
    for k in prange(n_blocks, nogil=True, schedule="static", num_threads=n_blocks):
        _hogwild_block(data, indices, indptr, Y, s, order, W, b, avg_W, etas, scales, betas,
                       lo_p, hi_p, lo_p + k, n_blocks, fit_intercept, t_start, average_start,
                       &parts[k, 0])


def hogwild_plan(Py_ssize_t m, double[::1] state, int schedule, double eta0, double power_t,
                 double alpha, double t0, double lam2, double average_start, bint averaging,
                 double[::1] etas, double[::1] scales, double[::1] betas):
    """Per-position rate, scale and beta of a Hogwild epoch; returns the segment bounds
    (same as fastlogit.kernels.sgd_numba._plan)."""
    import numpy as np
    bounds_arr = np.empty(m + 1, dtype=np.int64)
    cdef long long[::1] bounds = bounds_arr
    cdef Py_ssize_t nb = 0, p
    cdef double scale = 1.0, beta = state[2], t, eta, f
    bounds[0] = 0
    for p in range(m):
        t = state[1] + p + 1.0
        eta = _eta(schedule, eta0, power_t, alpha, t0, t)
        etas[p] = eta
        f = 1.0
        if lam2 > 0.0:
            f = 1.0 - eta * lam2
            if f < 0.0:
                f = 0.0
        if scale * f < RESCALE_BELOW and p > bounds[nb]:
            nb += 1
            bounds[nb] = p
            scale = 1.0
            beta = 0.0
        scale *= f
        scales[p] = scale
        betas[p] = beta
        if averaging and t >= average_start:
            beta += scale
    nb += 1
    bounds[nb] = m
    return bounds_arr[:nb + 1]


def scale_weights(double[:, ::1] W, double[:, ::1] avg_W, double beta, double factor):
    """avg_W += beta W (if averaging), then W *= factor."""
    cdef Py_ssize_t j, k
    cdef bint averaging = avg_W.shape[0] > 0
    with nogil:
        for j in range(W.shape[0]):
            for k in range(W.shape[1]):
                if averaging:
                    avg_W[j, k] += beta * W[j, k]
                W[j, k] *= factor


def _zeros(Py_ssize_t n):
    import numpy as np
    return np.zeros(n)
