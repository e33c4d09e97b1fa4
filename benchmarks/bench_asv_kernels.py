"""asv: kernel throughput per backend, layout (dense / CSR) and dtype.

The data are generated once per class (``setup_cache``, fixed seed): a Zipf-featured CSR
matrix like text data and a Gaussian dense matrix.  ``setup`` converts them to the dtype,
validates them once (``as_design``, outside the timing), allocates every output buffer and
makes one warm-up call, so Numba compilation is never timed.  A backend that is not built
here raises NotImplementedError in ``setup`` (asv shows it as skipped).
``track_gbytes_per_s`` reports the bytes of X, y and w read per call over the median time
of five calls.
"""
import time

import numpy as np

from . import common

BACKENDS = ["numpy", "numba", "cython"]
LAYOUTS = ["dense", "csr"]
DTYPES = ["float32", "float64"]

#: sizes: CSR ~4M non-zeros (~50 MB in float64), dense 40k x 100 (32 MB in float64)
CSR_SHAPE = (200_000, 50_000, 20)
DENSE_SHAPE = (40_000, 100)


def _make_data():
    n, d, nnz = CSR_SHAPE
    Xs, ys = common.generated_csr(n, d, nnz, random_state=0)
    rng = np.random.default_rng(0)
    Xd = rng.standard_normal(DENSE_SHAPE)
    yd = (rng.random(DENSE_SHAPE[0]) < 1.0 / (1.0 + np.exp(-Xd[:, 0]))).astype(np.float64)
    return {"csr": (Xs, ys), "dense": (Xd, yd)}


def _kernels(backend):
    import fastlogit.kernels as K

    if backend not in K.available_backends():
        raise NotImplementedError(f"backend {backend!r} not available here")
    return K.get(backend)


def _median_time(fn, repeats=5):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


class _KernelBase:
    params = (BACKENDS, LAYOUTS, DTYPES)
    param_names = ["backend", "layout", "dtype"]
    timeout = 180

    def setup_cache(self):
        return _make_data()

    def setup(self, data, backend, layout, dtype):
        import fastlogit.kernels as K

        self.ks = _kernels(backend)
        X, y = data[layout]
        self.X = K.as_design(X, dtype=np.dtype(dtype))
        self.y = y.astype(dtype)
        rng = np.random.default_rng(1)
        n, d = self.X.shape
        self.w = (0.1 * rng.standard_normal(d)).astype(dtype)
        self.grad = np.empty(d, dtype=dtype)
        self.h = np.empty(n, dtype=dtype)
        self.v = rng.standard_normal(d).astype(dtype)
        self.out = np.empty(d, dtype=dtype)
        self.ks.loss_grad(self.X, self.y, None, self.w, 0.1, self.grad, self.h)  # warm-up
        self.nbytes = self.X.nbytes + self.y.nbytes + self.w.nbytes


class LossGrad(_KernelBase):
    """Fused loss + gradient (+ IRLS weights off): one pass over X."""

    def time_loss_grad(self, data, backend, layout, dtype):
        self.ks.loss_grad(self.X, self.y, None, self.w, 0.1, self.grad)

    def track_gbytes_per_s(self, data, backend, layout, dtype):
        t = _median_time(lambda: self.ks.loss_grad(self.X, self.y, None, self.w, 0.1, self.grad))
        return self.nbytes / t / 1e9

    track_gbytes_per_s.unit = "GB/s"


class LossGradHess(_KernelBase):
    """loss_grad also writing the IRLS weights (what Newton solvers call)."""

    def time_loss_grad_hess(self, data, backend, layout, dtype):
        self.ks.loss_grad(self.X, self.y, None, self.w, 0.1, self.grad, self.h)


class Hessp(_KernelBase):
    """Hessian-vector product X^T (h * (X v)) in one pass."""

    def setup(self, data, backend, layout, dtype):
        super().setup(data, backend, layout, dtype)
        self.ks.hessp(self.X, self.h, self.v, self.out)  # warm-up

    def time_hessp(self, data, backend, layout, dtype):
        self.ks.hessp(self.X, self.h, self.v, self.out)

    def track_gbytes_per_s(self, data, backend, layout, dtype):
        t = _median_time(lambda: self.ks.hessp(self.X, self.h, self.v, self.out))
        return (self.X.nbytes + self.h.nbytes + self.v.nbytes) / t / 1e9

    track_gbytes_per_s.unit = "GB/s"


class Sigmoid:
    """Elementwise sigmoid on 2**22 values spread over [-40, 40]."""

    params = (BACKENDS, DTYPES)
    param_names = ["backend", "dtype"]

    def setup(self, backend, dtype):
        self.ks = _kernels(backend)
        rng = np.random.default_rng(0)
        self.z = rng.uniform(-40, 40, 2**22).astype(dtype)
        self.out = np.empty_like(self.z)
        self.ks.sigmoid(self.z, self.out)  # warm-up

    def time_sigmoid(self, backend, dtype):
        self.ks.sigmoid(self.z, self.out)

    def time_log1pexp(self, backend, dtype):
        self.ks.log1pexp(self.z, self.out)
