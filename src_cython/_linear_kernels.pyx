"""Cython/OpenMP linear-model kernels (``fastlogit.kernels._linear_kernels``).

The raw functions of :mod:`fastlogit.kernels` (signatures and semantics there, reference in
``fastlogit/kernels/numpy_ref.py``); re-exported by :mod:`fastlogit.kernels.cython_impl`.
Directives (boundscheck, wraparound, cdivision, language_level) are set in setup.py.

Parallel layout.  Every entry point runs ONE ``prange`` over ``T = min(n_threads, n_rows)``
contiguous row blocks, one block per thread.  CSR blocks are balanced by cost (non-zeros plus
``ROW_COST`` per row for the exp/log1p, found by bisection on ``indptr``); dense blocks have
equal row counts.  Each block writes its scalar sums and, for gradients / Hessian products,
its own float64 buffer (allocated once per call, zeroed by the thread that owns it); the
buffers are then reduced in block order.  The split depends only on the data and
``n_threads``, so each result is bitwise reproducible for a given thread count.  ``gram``
splits the rows of its (symmetric) output instead and needs no reduction.

Numerics.  The per-sample functions are written once in ``_logistic.pxd``, on top of
``_fl_math.h``: exp(-|z|) and log1p of it by branch-free arithmetic (about 1 ulp, tested
against mpmath), so that the binary kernels evaluate the losses / residuals / IRLS weights of
each row batch as one SIMD loop (AVX-512 / AVX2 / baseline variants chosen at load time, all
giving the same bits) instead of one libm exp + log1p per row.  float32 data are widened to
float64 for every product, and every sum (margins, losses, gradients) is a float64 sum;
results are rounded to the output dtype when stored.  Dot products keep four partial sums
(latency hiding); nothing is compiled with -ffast-math.
"""
from cython.parallel cimport prange, threadid
from libc.math cimport exp, log
from libc.stdint cimport int32_t, int64_t
from libc.stdlib cimport malloc, free
from libc.string cimport memset

from _logistic cimport log1pexp as _log1pexp, sigmoid as _sigmoid, logloss, logloss_grad
from _logistic cimport fl_logistic_batch

ctypedef fused floating:
    float
    double

ctypedef fused index_t:
    int32_t
    int64_t

ctypedef fused ptr_t:
    int32_t
    int64_t

#: Cost of one row relative to one non-zero when balancing CSR blocks (exp + log1p + divide).
cdef enum:
    ROW_COST = 8
    # Row batches of the CSR passes: at most BATCH rows, closed once they hold BATCH_NNZ
    # non-zeros (about 24 KB of float64 data + int32 indices).
    BATCH = 64
    BATCH_NNZ = 2048

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define FASTLOGIT_OPENMP 1
    #else
    #define FASTLOGIT_OPENMP 0
    #endif
    """
    int FASTLOGIT_OPENMP


def openmp_enabled():
    """True when the extension was compiled with OpenMP (else kernels run single-threaded)."""
    return bool(FASTLOGIT_OPENMP)


def _team_size(Py_ssize_t n_threads):
    """Number of distinct OpenMP threads that run a ``prange`` laid out as in the kernels (one
    block per thread, ``num_threads=n_threads``); for the tests of thread-count handling."""
    cdef Py_ssize_t T = n_threads if n_threads > 1 else 1, t, count = 0
    cdef int* seen = <int*>malloc(T * sizeof(int))
    if seen == NULL:
        raise MemoryError()
    try:
        memset(seen, 0, T * sizeof(int))
        with nogil:
            for t in prange(T, schedule='static', num_threads=T):
                seen[threadid()] = 1
        for t in range(T):
            count += seen[t]
    finally:
        free(seen)
    return count


# ----------------------------------------------------------------------------- helpers
cdef inline Py_ssize_t _n_blocks(Py_ssize_t n_threads, Py_ssize_t n_rows) noexcept nogil:
    if n_threads > n_rows:
        n_threads = n_rows
    return n_threads if n_threads > 1 else 1


cdef void _csr_bounds(const ptr_t* indptr, Py_ssize_t n, Py_ssize_t T,
                      Py_ssize_t* bounds) noexcept nogil:
    """Row bounds of T contiguous blocks of about equal cost (non-zeros + ROW_COST per row)."""
    cdef int64_t base = indptr[0]
    cdef double total = <double>(indptr[n] - base) + ROW_COST * <double>n
    cdef double target
    cdef Py_ssize_t t, lo, hi, mid
    bounds[0] = 0
    bounds[T] = n
    for t in range(1, T):
        target = total * t / T
        lo = 0
        hi = n
        while lo < hi:
            mid = (lo + hi) // 2
            if <double>(indptr[mid] - base) + ROW_COST * <double>mid < target:
                lo = mid + 1
            else:
                hi = mid
        bounds[t] = lo if lo > bounds[t - 1] else bounds[t - 1]


cdef void _dense_bounds(Py_ssize_t n, Py_ssize_t T, Py_ssize_t* bounds) noexcept nogil:
    cdef Py_ssize_t t
    for t in range(T + 1):
        bounds[t] = (n * t) // T


cdef void _tri_bounds(Py_ssize_t p, Py_ssize_t T, Py_ssize_t* bounds) noexcept nogil:
    """Output-row bounds of T blocks of about equal area of the upper triangle of (p, p)."""
    cdef double total = 0.5 * <double>p * <double>(p + 1)
    cdef double done = 0.0
    cdef Py_ssize_t j, t = 1
    bounds[0] = 0
    for t in range(1, T + 1):
        bounds[t] = p
    t = 1
    for j in range(p):
        if t >= T:
            break
        done += <double>(p - j)
        if done >= total * t / T:
            bounds[t] = j + 1
            t += 1


cdef inline double _dot_csr(const floating* data, const index_t* ind, int64_t lo, int64_t hi,
                            const floating* w) noexcept nogil:
    """sum_k data[k] w[ind[k]] over [lo, hi), float64, four partial sums."""
    cdef double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0
    cdef int64_t k = lo
    while k + 4 <= hi:
        a0 += <double>data[k] * <double>w[ind[k]]
        a1 += <double>data[k + 1] * <double>w[ind[k + 1]]
        a2 += <double>data[k + 2] * <double>w[ind[k + 2]]
        a3 += <double>data[k + 3] * <double>w[ind[k + 3]]
        k += 4
    while k < hi:
        a0 += <double>data[k] * <double>w[ind[k]]
        k += 1
    return (a0 + a1) + (a2 + a3)


cdef inline double _dot_dense(const floating* x, const floating* w, Py_ssize_t d) noexcept nogil:
    cdef double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0
    cdef Py_ssize_t j = 0
    while j + 4 <= d:
        a0 += <double>x[j] * <double>w[j]
        a1 += <double>x[j + 1] * <double>w[j + 1]
        a2 += <double>x[j + 2] * <double>w[j + 2]
        a3 += <double>x[j + 3] * <double>w[j + 3]
        j += 4
    while j < d:
        a0 += <double>x[j] * <double>w[j]
        j += 1
    return (a0 + a1) + (a2 + a3)


cdef void _reduce(const double* buf, Py_ssize_t T, Py_ssize_t m, floating* out) noexcept nogil:
    """out[j] = sum_t buf[t * m + j], in block order."""
    cdef Py_ssize_t j, t
    cdef double acc
    for j in range(m):
        acc = buf[j]
        for t in range(1, T):
            acc += buf[t * m + j]
        out[j] = <floating>acc


cdef double* _alloc(Py_ssize_t count) except NULL:
    cdef double* p = <double*>malloc((count if count > 0 else 1) * sizeof(double))
    if p == NULL:
        raise MemoryError(f"fastlogit: cannot allocate {count} float64 work values")
    return p


cdef double* _buffers(Py_ssize_t T, Py_ssize_t m, floating[::1] out,
                      const floating[::1] src) except NULL:
    """T per-block float64 buffers of m values, or, for one block and float64 output that does
    not overlap the gathered vector src, the output itself (nothing to allocate or reduce:
    the block zeroes and fills it)."""
    if floating is double:
        if T == 1 and m > 0 and (src.shape[0] == 0 or &out[m - 1] < &src[0]
                                 or &src[src.shape[0] - 1] < &out[0]):
            return &out[0]
    return _alloc(T * m)


cdef inline bint _is_out(const double* buf, floating[::1] out) noexcept nogil:
    """True when _buffers returned the output itself."""
    if floating is double:
        return out.shape[0] > 0 and buf == &out[0]
    return False


cdef inline void _reduce_into(const double* buf, Py_ssize_t T, Py_ssize_t m,
                              floating[::1] out) noexcept nogil:
    """out = the blocks' buffers reduced in block order (nothing to do when _buffers handed
    out the output itself: its one block filled it)."""
    if not _is_out(buf, out):
        _reduce(buf, T, m, &out[0])


cdef inline void _free_buffers(double* buf, floating[::1] out) noexcept:
    """Free what _buffers allocated (not the output it may have handed out)."""
    if not _is_out(buf, out):
        free(buf)


cdef Py_ssize_t* _alloc_bounds(Py_ssize_t T) except NULL:
    cdef Py_ssize_t* p = <Py_ssize_t*>malloc((T + 1) * sizeof(Py_ssize_t))
    if p == NULL:
        raise MemoryError("fastlogit: cannot allocate block bounds")
    return p


cdef inline const floating* _opt(const floating[::1] a) noexcept:
    """Pointer to the data of an optional input (NULL when it has length 0)."""
    return NULL if a.shape[0] == 0 else &a[0]


cdef inline floating* _opt_out(floating[::1] a) noexcept:
    return NULL if a.shape[0] == 0 else &a[0]


# ----------------------------------------------------------------------------- pointwise
def log1pexp(const floating[::1] z, floating[::1] out):
    """out = log(1 + exp(z)), elementwise."""
    cdef Py_ssize_t i
    with nogil:
        for i in range(z.shape[0]):
            out[i] = <floating>_log1pexp(<double>z[i])


def log_sigmoid(const floating[::1] z, floating[::1] out):
    """out = log(sigmoid(z)) = -log(1 + exp(-z)), elementwise."""
    cdef Py_ssize_t i
    with nogil:
        for i in range(z.shape[0]):
            out[i] = <floating>(-_log1pexp(-<double>z[i]))


def sigmoid(const floating[::1] z, floating[::1] out):
    """out = 1 / (1 + exp(-z)), elementwise, from exp(-|z|)."""
    cdef Py_ssize_t i
    with nogil:
        for i in range(z.shape[0]):
            out[i] = <floating>_sigmoid(<double>z[i])


# ----------------------------------------------------------------------------- binary blocks
cdef inline void _batch_losses(Py_ssize_t i0, Py_ssize_t m, double* zb, const floating* y,
                               const floating* s, bint want_res, floating* hess,
                               floating* z_out, double* sums) noexcept nogil:
    """Rows [i0, i0 + m) with margins zb[0:m].  y == NULL: z_out[i0:i0 + m] = zb only.
    Else adds the weighted losses to sums[0]; with want_res, zb becomes r = s (sigmoid(z) - y),
    summed into sums[1], and hess (if given) receives s sigmoid (1 - sigmoid).  The pointwise
    math runs as one SIMD batch."""
    cdef double yb[BATCH]
    cdef double lb[BATCH]
    cdef double cb[BATCH]
    cdef Py_ssize_t j
    cdef double* cp = NULL
    cdef double si, loss = sums[0], gb = sums[1]
    if y == NULL:
        for j in range(m):
            z_out[i0 + j] = <floating>zb[j]
        return
    if hess != NULL:
        cp = &cb[0]
    for j in range(m):
        yb[j] = <double>y[i0 + j]
    fl_logistic_batch(m, zb, yb, lb, want_res, cp)
    for j in range(m):
        si = 1.0 if s == NULL else <double>s[i0 + j]
        loss += si * lb[j]
        if want_res:
            zb[j] = si * zb[j]
            gb += zb[j]
            if hess != NULL:
                hess[i0 + j] = <floating>(si * cb[j])
    sums[0] = loss
    sums[1] = gb


cdef void _binary_block_csr(const floating* data, const index_t* ind, const ptr_t* indptr,
                            Py_ssize_t r0, Py_ssize_t r1, const floating* y, const floating* s,
                            const floating* w, double b, Py_ssize_t d, double* g,
                            floating* hess, floating* z_out, double* sums) noexcept nogil:
    """Rows [r0, r1): z = x.w + b.  y == NULL: z_out = z only.  g == NULL: loss sum only.
    Else loss sum, residual sum into sums[0:2] and X^T r into g (zeroed here), hess if given.

    Rows go in small batches (at most BATCH rows / about BATCH_NNZ non-zeros, so that the
    batch's data and indices stay in L1/L2): margins of the whole batch (gathers from w), then
    its losses and residuals (one SIMD batch, _batch_losses), then its scatter into g.  X is
    read from memory once; the random accesses of each phase touch only w, or only g."""
    cdef Py_ssize_t i, i0, i1
    cdef int64_t k
    cdef double r
    cdef double zb[BATCH]
    sums[0] = 0.0
    sums[1] = 0.0
    if g != NULL:
        memset(g, 0, d * sizeof(double))
    i0 = r0
    while i0 < r1:
        i1 = i0
        while i1 < r1 and i1 - i0 < BATCH and indptr[i1] - indptr[i0] < BATCH_NNZ:
            i1 += 1
        for i in range(i0, i1):
            zb[i - i0] = _dot_csr(data, ind, indptr[i], indptr[i + 1], w) + b
        _batch_losses(i0, i1 - i0, zb, y, s, g != NULL, hess, z_out, sums)
        if g != NULL:
            for i in range(i0, i1):
                r = zb[i - i0]
                if r != 0.0:
                    for k in range(indptr[i], indptr[i + 1]):
                        g[ind[k]] += r * <double>data[k]
        i0 = i1


cdef void _binary_block_dense(const floating* X, Py_ssize_t r0, Py_ssize_t r1,
                              const floating* y, const floating* s, const floating* w, double b,
                              Py_ssize_t d, double* g, floating* hess, floating* z_out,
                              double* sums) noexcept nogil:
    """Dense twin of _binary_block_csr (batches of BATCH rows)."""
    cdef Py_ssize_t i, j, i0, i1
    cdef const floating* x
    cdef double r
    cdef double zb[BATCH]
    sums[0] = 0.0
    sums[1] = 0.0
    if g != NULL:
        memset(g, 0, d * sizeof(double))
    i0 = r0
    while i0 < r1:
        i1 = i0 + BATCH if i0 + BATCH < r1 else r1
        for i in range(i0, i1):
            zb[i - i0] = _dot_dense(X + i * d, w, d) + b
        _batch_losses(i0, i1 - i0, zb, y, s, g != NULL, hess, z_out, sums)
        if g != NULL:
            for i in range(i0, i1):
                r = zb[i - i0]
                if r != 0.0:
                    x = X + i * d
                    for j in range(d):
                        g[j] += r * <double>x[j]
        i0 = i1


cdef void _hessp_block_csr(const floating* data, const index_t* ind, const ptr_t* indptr,
                           Py_ssize_t r0, Py_ssize_t r1, const floating* dw, const floating* v,
                           double v_b, Py_ssize_t p, double* g, double* sums,
                           bint diag) noexcept nogil:
    """diag False: g = X^T (d * (X v + v_b)), sums[0] = sum d (X v + v_b), in batches of rows
    as in _binary_block_csr.  diag True: g_j = sum_i d_i x_ij^2."""
    cdef Py_ssize_t i, i0, i1
    cdef int64_t k
    cdef double t, x, di, acc = 0.0
    cdef double tb[BATCH]
    memset(g, 0, p * sizeof(double))
    if diag:
        for i in range(r0, r1):
            di = <double>dw[i]
            for k in range(indptr[i], indptr[i + 1]):
                x = <double>data[k]
                g[ind[k]] += (x * x) * di
        sums[0] = 0.0
        return
    i0 = r0
    while i0 < r1:
        i1 = i0
        while i1 < r1 and i1 - i0 < BATCH and indptr[i1] - indptr[i0] < BATCH_NNZ:
            i1 += 1
        for i in range(i0, i1):
            tb[i - i0] = <double>dw[i] * (_dot_csr(data, ind, indptr[i], indptr[i + 1], v) + v_b)
        for i in range(i0, i1):
            t = tb[i - i0]
            acc += t
            if t != 0.0:
                for k in range(indptr[i], indptr[i + 1]):
                    g[ind[k]] += t * <double>data[k]
        i0 = i1
    sums[0] = acc


cdef void _hessp_block_dense(const floating* X, Py_ssize_t r0, Py_ssize_t r1,
                             const floating* dw, const floating* v, double v_b, Py_ssize_t p,
                             double* g, double* sums, bint diag) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef const floating* x
    cdef double t, xj, di, acc = 0.0
    memset(g, 0, p * sizeof(double))
    for i in range(r0, r1):
        x = X + i * p
        di = <double>dw[i]
        if diag:
            for j in range(p):
                xj = <double>x[j]
                g[j] += (xj * xj) * di
            continue
        t = di * (_dot_dense(x, v, p) + v_b)
        acc += t
        if t != 0.0:
            for j in range(p):
                g[j] += t * <double>x[j]
    sums[0] = acc


cdef void _gram_block_csr(const floating* data, const index_t* ind, const ptr_t* indptr,
                          Py_ssize_t n, const floating* dw, Py_ssize_t p, Py_ssize_t j0,
                          Py_ssize_t j1, double* G) noexcept nogil:
    """Rows [j0, j1) of the upper triangle of X^T diag(d) X, accumulated into G (p, p)."""
    cdef Py_ssize_t i
    cdef int64_t a, c, lo, hi, j, k
    cdef double aj
    for i in range(n):
        lo = indptr[i]
        hi = indptr[i + 1]
        for a in range(lo, hi):
            j = ind[a]
            if j < j0 or j >= j1:
                continue
            aj = <double>dw[i] * <double>data[a]
            for c in range(lo, hi):
                k = ind[c]
                if k >= j:
                    G[j * p + k] += aj * <double>data[c]


cdef void _gram_block_dense(const floating* X, Py_ssize_t n, const floating* dw, Py_ssize_t p,
                            Py_ssize_t j0, Py_ssize_t j1, double* G) noexcept nogil:
    cdef Py_ssize_t i, j, k
    cdef const floating* x
    cdef double* row
    cdef double aj
    for i in range(n):
        x = X + i * p
        for j in range(j0, j1):
            aj = <double>dw[i] * <double>x[j]
            row = G + j * p
            for k in range(j, p):
                row[k] += aj * <double>x[k]


cdef void _symmetrize(double* G, Py_ssize_t p, floating* out) noexcept nogil:
    """out = upper triangle of G mirrored (exactly symmetric), rounded to out's dtype."""
    cdef Py_ssize_t j, k
    for j in range(p):
        for k in range(j, p):
            out[j * p + k] = <floating>G[j * p + k]
            out[k * p + j] = <floating>G[j * p + k]


# ----------------------------------------------------------------------------- multinomial
cdef inline double _softmax_terms(double* Z, double* E, Py_ssize_t K) noexcept nogil:
    """E = exp(Z - max Z), returns (max Z, sum E) as max + log(sum): logsumexp(Z).
    E is left holding softmax probabilities."""
    cdef Py_ssize_t c
    cdef double m = Z[0], total = 0.0
    for c in range(1, K):
        if Z[c] > m:
            m = Z[c]
    for c in range(K):
        E[c] = exp(Z[c] - m)
        total += E[c]
    for c in range(K):
        E[c] = E[c] / total
    return m + log(total)


cdef void _multi_block_csr(const floating* data, const index_t* ind, const ptr_t* indptr,
                           Py_ssize_t r0, Py_ssize_t r1, const floating* Y, const floating* s,
                           const floating* W, const floating* B, Py_ssize_t d, Py_ssize_t K,
                           double* g, floating* proba, double* sums) noexcept nogil:
    """Softmax loss + gradient over rows [r0, r1).  g holds d*K gradient values, then K
    intercept gradients, then 2K scratch values (Z and P)."""
    cdef Py_ssize_t i, c
    cdef int64_t k
    cdef double* gb = g + d * K
    cdef double* Z = gb + K
    cdef double* P = Z + K
    cdef double* gr
    cdef const floating* wr
    cdef double x, si, lse, yz, loss = 0.0
    memset(g, 0, (d * K + K) * sizeof(double))
    for i in range(r0, r1):
        for c in range(K):
            Z[c] = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            x = <double>data[k]
            wr = W + ind[k] * K
            for c in range(K):
                Z[c] += x * <double>wr[c]
        yz = 0.0
        for c in range(K):
            Z[c] += <double>B[c]
            yz += <double>Y[i * K + c] * Z[c]
        lse = _softmax_terms(Z, P, K)
        si = 1.0 if s == NULL else <double>s[i]
        loss += si * (lse - yz)
        for c in range(K):
            if proba != NULL:
                proba[i * K + c] = <floating>P[c]
            P[c] = si * (P[c] - <double>Y[i * K + c])
            gb[c] += P[c]
        for k in range(indptr[i], indptr[i + 1]):
            x = <double>data[k]
            gr = g + ind[k] * K
            for c in range(K):
                gr[c] += x * P[c]
    sums[0] = loss


cdef void _multi_block_dense(const floating* X, Py_ssize_t r0, Py_ssize_t r1,
                             const floating* Y, const floating* s, const floating* W,
                             const floating* B, Py_ssize_t d, Py_ssize_t K, double* g,
                             floating* proba, double* sums) noexcept nogil:
    cdef Py_ssize_t i, j, c
    cdef double* gb = g + d * K
    cdef double* Z = gb + K
    cdef double* P = Z + K
    cdef double* gr
    cdef const floating* wr
    cdef const floating* xr
    cdef double x, si, lse, yz, loss = 0.0
    memset(g, 0, (d * K + K) * sizeof(double))
    for i in range(r0, r1):
        xr = X + i * d
        for c in range(K):
            Z[c] = 0.0
        for j in range(d):
            x = <double>xr[j]
            wr = W + j * K
            for c in range(K):
                Z[c] += x * <double>wr[c]
        yz = 0.0
        for c in range(K):
            Z[c] += <double>B[c]
            yz += <double>Y[i * K + c] * Z[c]
        lse = _softmax_terms(Z, P, K)
        si = 1.0 if s == NULL else <double>s[i]
        loss += si * (lse - yz)
        for c in range(K):
            if proba != NULL:
                proba[i * K + c] = <floating>P[c]
            P[c] = si * (P[c] - <double>Y[i * K + c])
            gb[c] += P[c]
        for j in range(d):
            x = <double>xr[j]
            gr = g + j * K
            for c in range(K):
                gr[c] += x * P[c]
    sums[0] = loss


cdef inline void _multi_hessp_row(double* U, const floating* Pi, double si, const floating* vb,
                                  Py_ssize_t K, double* gb) noexcept nogil:
    """U (= x V) becomes T = s (P * U - P (P . U)) with U += v_b first; gb += T."""
    cdef Py_ssize_t c
    cdef double pu = 0.0, pc
    for c in range(K):
        U[c] += <double>vb[c]
        pu += <double>Pi[c] * U[c]
    for c in range(K):
        pc = <double>Pi[c]
        U[c] = si * (pc * U[c] - pc * pu)
        gb[c] += U[c]


cdef void _multi_hessp_block_csr(const floating* data, const index_t* ind, const ptr_t* indptr,
                                 Py_ssize_t r0, Py_ssize_t r1, const floating* P,
                                 const floating* s, const floating* V, const floating* vb,
                                 Py_ssize_t d, Py_ssize_t K, double* g) noexcept nogil:
    """g: d*K product values, K intercept values, K scratch."""
    cdef Py_ssize_t i, c
    cdef int64_t k
    cdef double* gb = g + d * K
    cdef double* U = gb + K
    cdef double* gr
    cdef const floating* vr
    cdef double x
    memset(g, 0, (d * K + K) * sizeof(double))
    for i in range(r0, r1):
        for c in range(K):
            U[c] = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            x = <double>data[k]
            vr = V + ind[k] * K
            for c in range(K):
                U[c] += x * <double>vr[c]
        _multi_hessp_row(U, P + i * K, 1.0 if s == NULL else <double>s[i], vb, K, gb)
        for k in range(indptr[i], indptr[i + 1]):
            x = <double>data[k]
            gr = g + ind[k] * K
            for c in range(K):
                gr[c] += x * U[c]


cdef void _multi_hessp_block_dense(const floating* X, Py_ssize_t r0, Py_ssize_t r1,
                                   const floating* P, const floating* s, const floating* V,
                                   const floating* vb, Py_ssize_t d, Py_ssize_t K,
                                   double* g) noexcept nogil:
    cdef Py_ssize_t i, j, c
    cdef double* gb = g + d * K
    cdef double* U = gb + K
    cdef double* gr
    cdef const floating* vr
    cdef const floating* xr
    cdef double x
    memset(g, 0, (d * K + K) * sizeof(double))
    for i in range(r0, r1):
        xr = X + i * d
        for c in range(K):
            U[c] = 0.0
        for j in range(d):
            x = <double>xr[j]
            vr = V + j * K
            for c in range(K):
                U[c] += x * <double>vr[c]
        _multi_hessp_row(U, P + i * K, 1.0 if s == NULL else <double>s[i], vb, K, gb)
        for j in range(d):
            x = <double>xr[j]
            gr = g + j * K
            for c in range(K):
                gr[c] += x * U[c]


# ----------------------------------------------------------------------------- binary entry points
def loss_grad_csr(const floating[::1] data, const index_t[::1] indices, const ptr_t[::1] indptr,
                  const floating[::1] y, const floating[::1] s, const floating[::1] w, double b,
                  floating[::1] grad_out, floating[::1] hess_out, Py_ssize_t n_threads):
    """Fused loss + gradient (+ IRLS weights) in one pass. Returns (loss_sum, grad_b)."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, d = w.shape[0]
    cdef Py_ssize_t T = _n_blocks(n_threads, n), t
    cdef Py_ssize_t* bounds = _alloc_bounds(T)
    cdef double* buf = NULL
    cdef double* sums = NULL
    cdef double loss = 0.0, gb = 0.0
    cdef const floating* sp = _opt(s)
    cdef floating* hp = _opt_out(hess_out)
    try:
        buf = _buffers(T, d, grad_out, w)
        sums = _alloc(2 * T)
        with nogil:
            _csr_bounds(&indptr[0], n, T, bounds)
            for t in prange(T, schedule='static', num_threads=T):
                _binary_block_csr(&data[0], &indices[0], &indptr[0], bounds[t], bounds[t + 1],
                                  &y[0], sp, &w[0], b, d, buf + t * d, hp, <floating*>NULL,
                                  sums + 2 * t)
            _reduce_into(buf, T, d, grad_out)
            for t in range(T):
                loss += sums[2 * t]
                gb += sums[2 * t + 1]
    finally:
        free(bounds)
        _free_buffers(buf, grad_out)
        free(sums)
    return loss, gb


def loss_grad_dense(const floating[:, ::1] X, const floating[::1] y, const floating[::1] s,
                    const floating[::1] w, double b, floating[::1] grad_out,
                    floating[::1] hess_out, Py_ssize_t n_threads):
    """Fused loss + gradient (+ IRLS weights) in one pass. Returns (loss_sum, grad_b)."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1]
    cdef Py_ssize_t T = _n_blocks(n_threads, n), t
    cdef Py_ssize_t* bounds = _alloc_bounds(T)
    cdef double* buf = NULL
    cdef double* sums = NULL
    cdef double loss = 0.0, gb = 0.0
    cdef const floating* sp = _opt(s)
    cdef floating* hp = _opt_out(hess_out)
    try:
        buf = _buffers(T, d, grad_out, w)
        sums = _alloc(2 * T)
        with nogil:
            _dense_bounds(n, T, bounds)
            for t in prange(T, schedule='static', num_threads=T):
                _binary_block_dense(&X[0, 0], bounds[t], bounds[t + 1], &y[0], sp, &w[0], b, d,
                                    buf + t * d, hp, <floating*>NULL, sums + 2 * t)
            _reduce_into(buf, T, d, grad_out)
            for t in range(T):
                loss += sums[2 * t]
                gb += sums[2 * t + 1]
    finally:
        free(bounds)
        _free_buffers(buf, grad_out)
        free(sums)
    return loss, gb


def loss_csr(const floating[::1] data, const index_t[::1] indices, const ptr_t[::1] indptr,
             const floating[::1] y, const floating[::1] s, const floating[::1] w, double b,
             Py_ssize_t n_threads):
    """Weighted loss sum only."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, d = w.shape[0]
    cdef Py_ssize_t T = _n_blocks(n_threads, n), t
    cdef Py_ssize_t* bounds = _alloc_bounds(T)
    cdef double* sums = NULL
    cdef double loss = 0.0
    cdef const floating* sp = _opt(s)
    try:
        sums = _alloc(2 * T)
        with nogil:
            _csr_bounds(&indptr[0], n, T, bounds)
            for t in prange(T, schedule='static', num_threads=T):
                _binary_block_csr(&data[0], &indices[0], &indptr[0], bounds[t], bounds[t + 1],
                                  &y[0], sp, &w[0], b, d, <double*>NULL, <floating*>NULL,
                                  <floating*>NULL, sums + 2 * t)
            for t in range(T):
                loss += sums[2 * t]
    finally:
        free(bounds)
        free(sums)
    return loss


def loss_dense(const floating[:, ::1] X, const floating[::1] y, const floating[::1] s,
               const floating[::1] w, double b, Py_ssize_t n_threads):
    """Weighted loss sum only."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1]
    cdef Py_ssize_t T = _n_blocks(n_threads, n), t
    cdef Py_ssize_t* bounds = _alloc_bounds(T)
    cdef double* sums = NULL
    cdef double loss = 0.0
    cdef const floating* sp = _opt(s)
    try:
        sums = _alloc(2 * T)
        with nogil:
            _dense_bounds(n, T, bounds)
            for t in prange(T, schedule='static', num_threads=T):
                _binary_block_dense(&X[0, 0], bounds[t], bounds[t + 1], &y[0], sp, &w[0], b, d,
                                    <double*>NULL, <floating*>NULL, <floating*>NULL,
                                    sums + 2 * t)
            for t in range(T):
                loss += sums[2 * t]
    finally:
        free(bounds)
        free(sums)
    return loss


def decision_csr(const floating[::1] data, const index_t[::1] indices, const ptr_t[::1] indptr,
                 const floating[::1] w, double b, floating[::1] out, Py_ssize_t n_threads):
    """out = X w + b."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, d = w.shape[0]
    cdef Py_ssize_t T = _n_blocks(n_threads, n), t
    cdef Py_ssize_t* bounds = _alloc_bounds(T)
    cdef double* sums = NULL
    try:
        sums = _alloc(2 * T)
        with nogil:
            _csr_bounds(&indptr[0], n, T, bounds)
            for t in prange(T, schedule='static', num_threads=T):
                _binary_block_csr(&data[0], &indices[0], &indptr[0], bounds[t], bounds[t + 1],
                                  <floating*>NULL, <floating*>NULL, &w[0], b, d, <double*>NULL,
                                  <floating*>NULL, &out[0], sums + 2 * t)
    finally:
        free(bounds)
        free(sums)


def decision_dense(const floating[:, ::1] X, const floating[::1] w, double b,
                   floating[::1] out, Py_ssize_t n_threads):
    """out = X w + b."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1]
    cdef Py_ssize_t T = _n_blocks(n_threads, n), t
    cdef Py_ssize_t* bounds = _alloc_bounds(T)
    cdef double* sums = NULL
    try:
        sums = _alloc(2 * T)
        with nogil:
            _dense_bounds(n, T, bounds)
            for t in prange(T, schedule='static', num_threads=T):
                _binary_block_dense(&X[0, 0], bounds[t], bounds[t + 1], <floating*>NULL,
                                    <floating*>NULL, &w[0], b, d, <double*>NULL,
                                    <floating*>NULL, &out[0], sums + 2 * t)
    finally:
        free(bounds)
        free(sums)


def hessp_csr(const floating[::1] data, const index_t[::1] indices, const ptr_t[::1] indptr,
              const floating[::1] d, const floating[::1] v, double v_b, floating[::1] out,
              Py_ssize_t n_threads):
    """out = X^T (d * (X v + v_b)) in one pass; returns sum_i d_i (x_i . v + v_b)."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, p = v.shape[0]
    cdef Py_ssize_t T = _n_blocks(n_threads, n), t
    cdef Py_ssize_t* bounds = _alloc_bounds(T)
    cdef double* buf = NULL
    cdef double* sums = NULL
    cdef double out_b = 0.0
    try:
        buf = _buffers(T, p, out, v)
        sums = _alloc(T)
        with nogil:
            _csr_bounds(&indptr[0], n, T, bounds)
            for t in prange(T, schedule='static', num_threads=T):
                _hessp_block_csr(&data[0], &indices[0], &indptr[0], bounds[t], bounds[t + 1],
                                 &d[0], &v[0], v_b, p, buf + t * p, sums + t, False)
            _reduce_into(buf, T, p, out)
            for t in range(T):
                out_b += sums[t]
    finally:
        free(bounds)
        _free_buffers(buf, out)
        free(sums)
    return out_b


def hessp_dense(const floating[:, ::1] X, const floating[::1] d, const floating[::1] v,
                double v_b, floating[::1] out, Py_ssize_t n_threads):
    """out = X^T (d * (X v + v_b)) in one pass; returns sum_i d_i (x_i . v + v_b)."""
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1]
    cdef Py_ssize_t T = _n_blocks(n_threads, n), t
    cdef Py_ssize_t* bounds = _alloc_bounds(T)
    cdef double* buf = NULL
    cdef double* sums = NULL
    cdef double out_b = 0.0
    try:
        buf = _buffers(T, p, out, v)
        sums = _alloc(T)
        with nogil:
            _dense_bounds(n, T, bounds)
            for t in prange(T, schedule='static', num_threads=T):
                _hessp_block_dense(&X[0, 0], bounds[t], bounds[t + 1], &d[0], &v[0], v_b, p,
                                   buf + t * p, sums + t, False)
            _reduce_into(buf, T, p, out)
            for t in range(T):
                out_b += sums[t]
    finally:
        free(bounds)
        _free_buffers(buf, out)
        free(sums)
    return out_b


def hess_diag_csr(const floating[::1] data, const index_t[::1] indices, const ptr_t[::1] indptr,
                  const floating[::1] d, floating[::1] out, Py_ssize_t n_threads):
    """out_j = sum_i d_i x_ij^2."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, p = out.shape[0]
    cdef Py_ssize_t T = _n_blocks(n_threads, n), t
    cdef Py_ssize_t* bounds = _alloc_bounds(T)
    cdef double* buf = NULL
    cdef double* sums = NULL
    try:
        buf = _buffers(T, p, out, d)
        sums = _alloc(T)
        with nogil:
            _csr_bounds(&indptr[0], n, T, bounds)
            for t in prange(T, schedule='static', num_threads=T):
                _hessp_block_csr(&data[0], &indices[0], &indptr[0], bounds[t], bounds[t + 1],
                                 &d[0], <floating*>NULL, 0.0, p, buf + t * p, sums + t, True)
            _reduce_into(buf, T, p, out)
    finally:
        free(bounds)
        _free_buffers(buf, out)
        free(sums)


def hess_diag_dense(const floating[:, ::1] X, const floating[::1] d, floating[::1] out,
                    Py_ssize_t n_threads):
    """out_j = sum_i d_i x_ij^2."""
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1]
    cdef Py_ssize_t T = _n_blocks(n_threads, n), t
    cdef Py_ssize_t* bounds = _alloc_bounds(T)
    cdef double* buf = NULL
    cdef double* sums = NULL
    try:
        buf = _buffers(T, p, out, d)
        sums = _alloc(T)
        with nogil:
            _dense_bounds(n, T, bounds)
            for t in prange(T, schedule='static', num_threads=T):
                _hessp_block_dense(&X[0, 0], bounds[t], bounds[t + 1], &d[0], <floating*>NULL,
                                   0.0, p, buf + t * p, sums + t, True)
            _reduce_into(buf, T, p, out)
    finally:
        free(bounds)
        _free_buffers(buf, out)
        free(sums)


def gram_csr(const floating[::1] data, const index_t[::1] indices, const ptr_t[::1] indptr,
             const floating[::1] d, floating[:, ::1] out, Py_ssize_t n_threads):
    """out = X^T diag(d) X (p, p), exactly symmetric.  Threads own rows of the output."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, p = out.shape[0]
    cdef Py_ssize_t T = _n_blocks(n_threads, p), t
    cdef Py_ssize_t* bounds = _alloc_bounds(T)
    cdef double* G = NULL
    try:
        G = _alloc(p * p)
        with nogil:
            memset(G, 0, p * p * sizeof(double))
            _tri_bounds(p, T, bounds)
            for t in prange(T, schedule='static', num_threads=T):
                _gram_block_csr(&data[0], &indices[0], &indptr[0], n, &d[0], p, bounds[t],
                                bounds[t + 1], G)
            if p:
                _symmetrize(G, p, &out[0, 0])
    finally:
        free(bounds)
        free(G)


def gram_dense(const floating[:, ::1] X, const floating[::1] d, floating[:, ::1] out,
               Py_ssize_t n_threads):
    """out = X^T diag(d) X (p, p), exactly symmetric.  Threads own rows of the output."""
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1]
    cdef Py_ssize_t T = _n_blocks(n_threads, p), t
    cdef Py_ssize_t* bounds = _alloc_bounds(T)
    cdef double* G = NULL
    try:
        G = _alloc(p * p)
        with nogil:
            memset(G, 0, p * p * sizeof(double))
            _tri_bounds(p, T, bounds)
            for t in prange(T, schedule='static', num_threads=T):
                _gram_block_dense(&X[0, 0], n, &d[0], p, bounds[t], bounds[t + 1], G)
            if p:
                _symmetrize(G, p, &out[0, 0])
    finally:
        free(bounds)
        free(G)


# ----------------------------------------------------------------------------- multinomial entry points
def multinomial_loss_grad_csr(const floating[::1] data, const index_t[::1] indices,
                              const ptr_t[::1] indptr, const floating[:, ::1] Y,
                              const floating[::1] s, const floating[:, ::1] W,
                              const floating[::1] B, floating[:, ::1] grad_out,
                              floating[::1] grad_b_out, floating[:, ::1] proba_out,
                              Py_ssize_t n_threads):
    """Softmax loss + gradient in one pass; returns loss_sum."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, d = W.shape[0], K = W.shape[1]
    cdef Py_ssize_t T = _n_blocks(n_threads, n), t, m = d * K + 3 * K
    cdef Py_ssize_t* bounds = _alloc_bounds(T)
    cdef double* buf = NULL
    cdef double* sums = NULL
    cdef double loss = 0.0
    cdef const floating* sp = _opt(s)
    cdef floating* pp = NULL if proba_out.shape[0] == 0 else &proba_out[0, 0]
    try:
        buf = _alloc(T * m)
        sums = _alloc(T)
        with nogil:
            _csr_bounds(&indptr[0], n, T, bounds)
            for t in prange(T, schedule='static', num_threads=T):
                _multi_block_csr(&data[0], &indices[0], &indptr[0], bounds[t], bounds[t + 1],
                                 &Y[0, 0], sp, &W[0, 0], &B[0], d, K, buf + t * m, pp, sums + t)
            _reduce_strided(buf, T, m, d * K, &grad_out[0, 0], K, &grad_b_out[0])
            for t in range(T):
                loss += sums[t]
    finally:
        free(bounds)
        free(buf)
        free(sums)
    return loss


def multinomial_loss_grad_dense(const floating[:, ::1] X, const floating[:, ::1] Y,
                                const floating[::1] s, const floating[:, ::1] W,
                                const floating[::1] B, floating[:, ::1] grad_out,
                                floating[::1] grad_b_out, floating[:, ::1] proba_out,
                                Py_ssize_t n_threads):
    """Softmax loss + gradient in one pass; returns loss_sum."""
    cdef Py_ssize_t n = X.shape[0], d = W.shape[0], K = W.shape[1]
    cdef Py_ssize_t T = _n_blocks(n_threads, n), t, m = d * K + 3 * K
    cdef Py_ssize_t* bounds = _alloc_bounds(T)
    cdef double* buf = NULL
    cdef double* sums = NULL
    cdef double loss = 0.0
    cdef const floating* sp = _opt(s)
    cdef floating* pp = NULL if proba_out.shape[0] == 0 else &proba_out[0, 0]
    try:
        buf = _alloc(T * m)
        sums = _alloc(T)
        with nogil:
            _dense_bounds(n, T, bounds)
            for t in prange(T, schedule='static', num_threads=T):
                _multi_block_dense(&X[0, 0], bounds[t], bounds[t + 1], &Y[0, 0], sp, &W[0, 0],
                                   &B[0], d, K, buf + t * m, pp, sums + t)
            _reduce_strided(buf, T, m, d * K, &grad_out[0, 0], K, &grad_b_out[0])
            for t in range(T):
                loss += sums[t]
    finally:
        free(bounds)
        free(buf)
        free(sums)
    return loss


cdef void _reduce_strided(const double* buf, Py_ssize_t T, Py_ssize_t m, Py_ssize_t m1,
                          floating* out1, Py_ssize_t m2, floating* out2) noexcept nogil:
    """Block t's values are buf[t*m : t*m + m1 + m2]: the first m1 reduce into out1, the next
    m2 into out2, in block order."""
    cdef Py_ssize_t j, t
    cdef double acc
    for j in range(m1 + m2):
        acc = buf[j]
        for t in range(1, T):
            acc += buf[t * m + j]
        if j < m1:
            out1[j] = <floating>acc
        else:
            out2[j - m1] = <floating>acc


def multinomial_hessp_csr(const floating[::1] data, const index_t[::1] indices,
                          const ptr_t[::1] indptr, const floating[:, ::1] P,
                          const floating[::1] s, const floating[:, ::1] V,
                          const floating[::1] v_b, floating[:, ::1] out, floating[::1] out_b,
                          Py_ssize_t n_threads):
    """Softmax Hessian-vector product: out = X^T T, out_b = sum_i T_i."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, d = V.shape[0], K = V.shape[1]
    cdef Py_ssize_t T = _n_blocks(n_threads, n), t, m = d * K + 2 * K
    cdef Py_ssize_t* bounds = _alloc_bounds(T)
    cdef double* buf = NULL
    cdef const floating* sp = _opt(s)
    try:
        buf = _alloc(T * m)
        with nogil:
            _csr_bounds(&indptr[0], n, T, bounds)
            for t in prange(T, schedule='static', num_threads=T):
                _multi_hessp_block_csr(&data[0], &indices[0], &indptr[0], bounds[t],
                                       bounds[t + 1], &P[0, 0], sp, &V[0, 0], &v_b[0], d, K,
                                       buf + t * m)
            _reduce_strided(buf, T, m, d * K, &out[0, 0], K, &out_b[0])
    finally:
        free(bounds)
        free(buf)


def multinomial_hessp_dense(const floating[:, ::1] X, const floating[:, ::1] P,
                            const floating[::1] s, const floating[:, ::1] V,
                            const floating[::1] v_b, floating[:, ::1] out, floating[::1] out_b,
                            Py_ssize_t n_threads):
    """Softmax Hessian-vector product: out = X^T T, out_b = sum_i T_i."""
    cdef Py_ssize_t n = X.shape[0], d = V.shape[0], K = V.shape[1]
    cdef Py_ssize_t T = _n_blocks(n_threads, n), t, m = d * K + 2 * K
    cdef Py_ssize_t* bounds = _alloc_bounds(T)
    cdef double* buf = NULL
    cdef const floating* sp = _opt(s)
    try:
        buf = _alloc(T * m)
        with nogil:
            _dense_bounds(n, T, bounds)
            for t in prange(T, schedule='static', num_threads=T):
                _multi_hessp_block_dense(&X[0, 0], bounds[t], bounds[t + 1], &P[0, 0], sp,
                                         &V[0, 0], &v_b[0], d, K, buf + t * m)
            _reduce_strided(buf, T, m, d * K, &out[0, 0], K, &out_b[0])
    finally:
        free(bounds)
        free(buf)
