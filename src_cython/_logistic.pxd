# Per-sample logistic functions, written once and inlined into every Cython kernel.
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
from libc.math cimport exp, log1p, fabs


cdef inline double log1pexp(double z) noexcept nogil:
    """log(1 + exp(z)) without overflow or cancellation."""
    return (z if z > 0.0 else 0.0) + log1p(exp(-fabs(z)))


cdef inline double sigmoid(double z) noexcept nogil:
    """1 / (1 + exp(-z)) from e = exp(-|z|)."""
    cdef double e = exp(-fabs(z))
    if z >= 0.0:
        return 1.0 / (1.0 + e)
    return e / (1.0 + e)


cdef inline double logloss(double y, double z) noexcept nogil:
    """l(y, z) = log(1 + exp(z)) - y z, without the cancellation of that difference."""
    cdef double e = exp(-fabs(z))
    if z > 0.0:
        return log1p(e) + (1.0 - y) * z
    return log1p(e) - y * z


cdef inline double logloss_grad(double y, double z, double* residual,
                                double* curvature) noexcept nogil:
    """l(y, z); writes sigmoid(z) - y and sigmoid(z) (1 - sigmoid(z)). One exp, one log1p."""
    cdef double e = exp(-fabs(z))
    cdef double ope = 1.0 + e
    cdef double loss = log1p(e)
    if z > 0.0:
        loss = loss + (1.0 - y) * z
    else:
        loss = loss - y * z
    if z >= 0.0:
        residual[0] = ((1.0 - y) - y * e) / ope
    else:
        residual[0] = ((1.0 - y) * e - y) / ope
    curvature[0] = e / (ope * ope)
    return loss
