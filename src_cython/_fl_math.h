/* Per-sample logistic math for the Cython kernels: branch-free, vectorisable, portable.
 *
 * Every quantity the kernels need comes from e = exp(-|z|) in (0, 1] (see _logistic.pxd):
 *
 *     log(1 + exp(z)) = max(z, 0) + log1p(e)
 *     sigmoid(z) - y  = ((1 - y) - y e) / (1 + e)   (z >= 0),   ((1 - y) e - y) / (1 + e)
 *     sigma (1 - sigma) = e / (1 + e)^2
 *
 * fl_expm(a) = exp(-a) for a >= 0 and fl_log1p01(e) = log1p(e) for e in [0, 1] are written
 * here with plain arithmetic (no libm call, no table, no branch), so that a loop over a batch
 * of rows compiles to SIMD code.  Accuracy (checked against mpmath in tests/test_kernels.py):
 * about 1 ulp for both, <= 4 ulp for every derived function.
 *
 *   exp:   n = round(a / ln 2), r = n ln2_hi - a + n ln2_lo (Cody-Waite, exact first product),
 *          |r| <= 0.35, exp(r) by its Taylor series to r^13 (truncation < 1e-17), then scaled
 *          by 2^-n as two factors 2^-(n/2) 2^-(n - n/2), both normal, so that results in the
 *          subnormal range are rounded once and a > 745.2 gives 0.
 *   log1p: e <= 1/2: f = e;  e > 1/2: log1p(e) = ln 2 + log1p(f), f = (e - 1) / 2 (exact).
 *          Then s = f / (2 + f), |s| <= 0.2, and log1p(f) = f - s (f - R) with
 *          R = sum_{k=1..10} 2 s^(2k) / (2k + 1) (truncation < 2e-17 relative).
 *
 * fl_logistic_batch applies them to a batch of margins.  It is compiled for AVX-512, AVX2 and
 * baseline x86-64 (function multi-versioning, chosen at load time) where the compiler and the
 * C library (glibc: ifunc) support it, plain C otherwise.  The build uses -ffp-contract=off and no
 * -ffast-math: every variant performs the same IEEE operations in the same order, so results
 * are bitwise identical whichever variant runs.
 */
#ifndef FASTLOGIT_FL_MATH_H
#define FASTLOGIT_FL_MATH_H

#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && defined(__x86_64__) && defined(__GLIBC__) && !defined(__clang__) \
    && !defined(FASTLOGIT_NO_CLONES)
#define FL_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FL_CLONES
#endif

#if defined(_OPENMP)
#define FL_SIMD _Pragma("omp simd")
#else
#define FL_SIMD
#endif

static inline double fl_bits_to_double(uint64_t u) { double d; memcpy(&d, &u, 8); return d; }
static inline uint64_t fl_double_to_bits(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }

/* exp(-a) for a >= 0; a NaN gives NaN (the clamp below keeps it: NaN > 1100 is false), so
 * that every derived function propagates NaN as libm's exp would. */
static inline double fl_expm(double a)
{
    const double inv_ln2 = 1.4426950408889634;          /* 1 / ln 2 */
    const double ln2_hi = 6.93147180369123816490e-01;    /* 32 leading bits of ln 2 */
    const double ln2_lo = 1.90821492927058770002e-10;    /* ln 2 - ln2_hi */
    const double shifter = 6755399441055744.0;           /* 1.5 * 2^52: rounds to integer */
    double t, n, r, p;
    uint64_t ni, n1, n2;
    a = a > 1100.0 ? 1100.0 : a;                         /* exp(-1100) underflows to 0 */
    t = a * inv_ln2 + shifter;
    n = t - shifter;                                     /* round(a / ln 2), 0 <= n <= 1587 */
    ni = fl_double_to_bits(t) & 0xFFFFu;                 /* n as an integer */
    r = (n * ln2_hi - a) + n * ln2_lo;                   /* -a + n ln 2, |r| <= 0.347 */
    p = 1.0 / 6227020800.0;                              /* 1/13! */
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = 1.0 + (r + (r * r) * p);                         /* exp(r) */
    n1 = ni >> 1;
    n2 = ni - n1;
    return (p * fl_bits_to_double((1023u - n1) << 52)) * fl_bits_to_double((1023u - n2) << 52);
}

/* log1p(e) for 0 <= e <= 1. */
static inline double fl_log1p01(double e)
{
    const double ln2_hi = 6.93147180369123816490e-01;
    const double ln2_lo = 1.90821492927058770002e-10;
    int big = e > 0.5;
    double f = big ? 0.5 * (e - 1.0) : e;                /* exact (Sterbenz) */
    double s = f / (2.0 + f);
    double z = s * s;
    double R = 2.0 / 21.0;
    R = R * z + 2.0 / 19.0;
    R = R * z + 2.0 / 17.0;
    R = R * z + 2.0 / 15.0;
    R = R * z + 2.0 / 13.0;
    R = R * z + 2.0 / 11.0;
    R = R * z + 2.0 / 9.0;
    R = R * z + 2.0 / 7.0;
    R = R * z + 2.0 / 5.0;
    R = R * z + 2.0 / 3.0;
    R = R * z;
    double l = f - s * (f - R);                          /* log1p(f) */
    return big ? ln2_hi + (l + ln2_lo) : l;
}

/* log(1 + exp(z)), scalar. */
static inline double fl_log1pexp(double z)
{
    double a = z < 0.0 ? -z : z;
    return (z > 0.0 ? z : 0.0) + fl_log1p01(fl_expm(a));
}

/* sigmoid(z), scalar. */
static inline double fl_sigmoid(double z)
{
    double e = fl_expm(z < 0.0 ? -z : z);
    return (z >= 0.0 ? 1.0 : e) / (1.0 + e);
}

/* One sample: its loss log(1 + exp(z)) - y z, sigmoid(z) - y and sigmoid (1 - sigmoid), as
 * in _logistic.pxd but with fl_expm / fl_log1p01. */
static inline double fl_logloss_grad(double y, double z, double *res, double *curv)
{
    double e = fl_expm(z < 0.0 ? -z : z);
    double ope = 1.0 + e;
    *res = (z >= 0.0 ? (1.0 - y) - y * e : (1.0 - y) * e - y) / ope;
    *curv = e / (ope * ope);
    return fl_log1p01(e) + (z > 0.0 ? (1.0 - y) * z : -(y * z));
}

/* Batch of m samples, z = z_io[i], y = y[i]: loss[i] = l(y, z) always; with want_res,
 * z_io[i] = sigmoid(z) - y; with curv != NULL, curv[i] = sigmoid(z) (1 - sigmoid(z)). */
FL_CLONES static void fl_logistic_batch(int64_t m, double *restrict z_io,
                                        const double *restrict y, double *restrict loss,
                                        int want_res, double *restrict curv)
{
    int64_t i;
    double res, cv;
    if (!want_res) {
        FL_SIMD
        for (i = 0; i < m; i++)
            loss[i] = fl_logloss_grad(y[i], z_io[i], &res, &cv);
    } else if (curv == NULL) {
        FL_SIMD
        for (i = 0; i < m; i++) {
            loss[i] = fl_logloss_grad(y[i], z_io[i], &res, &cv);
            z_io[i] = res;
        }
    } else {
        FL_SIMD
        for (i = 0; i < m; i++) {
            loss[i] = fl_logloss_grad(y[i], z_io[i], &res, &cv);
            z_io[i] = res;
            curv[i] = cv;
        }
    }
}

#endif
