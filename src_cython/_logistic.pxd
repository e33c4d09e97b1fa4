# Per-sample logistic and softmax functions, written once and inlined into every Cython kernel
# (_linear_kernels and _sgd).
#
# All arithmetic is float64 (float32 inputs are widened by the caller).  The stable forms are
# those of fastlogit/kernels/numpy_ref.py's docstring: with a = |z| and e = exp(-a) in (0, 1],
#
#     log(1 + exp(z))      = max(z, 0) + log1p(e)
#     sigmoid(z)           = 1 / (1 + e)  if z >= 0,  e / (1 + e)  otherwise
#     l(y, z)              = log1p(e) + (z > 0 ? (1 - y) z : -y z)
#     sigmoid(z) - y       = ((1 - y) - y e) / (1 + e)  if z >= 0,  ((1 - y) e - y) / (1 + e)
#     sigmoid (1 - sigmoid) = e / (1 + e)^2
#
# e underflowing to 0 for a > 745 gives the right limits, so every finite z is safe.
#
# exp(-|z|) and log1p(e) come from _fl_math.h (branch-free arithmetic, about 1 ulp, no libm
# call), which also provides fl_logistic_batch: these formulas over a batch of margins,
# compiled to SIMD code (the kernels' row batches use it; results are bitwise those of the
# scalar functions below).
from libc.math cimport exp, fabs, log, log1p
from libc.stdint cimport int64_t

cdef extern from "_fl_math.h" nogil:
    double fl_log1pexp(double z)
    double fl_sigmoid(double z)
    double fl_logloss_grad(double y, double z, double* res, double* curv)
    void fl_logistic_batch(int64_t m, double* z_io, const double* y, double* loss,
                           int want_res, double* curv)


cdef inline double log1pexp(double z) noexcept nogil:
    """log(1 + exp(z)) without overflow or cancellation."""
    return fl_log1pexp(z)


cdef inline double sigmoid(double z) noexcept nogil:
    """1 / (1 + exp(-z)) from e = exp(-|z|)."""
    return fl_sigmoid(z)


cdef inline double logloss(double y, double z) noexcept nogil:
    """l(y, z) = log(1 + exp(z)) - y z, without the cancellation of that difference."""
    cdef double res, curv
    return fl_logloss_grad(y, z, &res, &curv)


cdef inline double logloss_grad(double y, double z, double* residual,
                                double* curvature) noexcept nogil:
    """l(y, z); writes sigmoid(z) - y and sigmoid(z) (1 - sigmoid(z)). One exp, one log1p."""
    return fl_logloss_grad(y, z, residual, curvature)


cdef inline double logloss_res_libm(double y, double z, double* res) noexcept nogil:
    """l(y, z); writes sigmoid(z) - y.  The same stable forms evaluated with libm's exp and
    log1p: for a sequential chain of samples (the SGD epochs, where each sample waits for the
    previous update), whose latency these set; fl_logistic_batch is the throughput form for
    independent row batches."""
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


cdef inline double softmax_terms(double* Z, double* E, Py_ssize_t K) noexcept nogil:
    """E = softmax(Z) = exp(Z - max Z) / sum; returns logsumexp(Z) = max Z + log(sum).
    A NaN in Z gives NaN in E and in the result."""
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
