"""Cython SGD epochs: thin wrappers over the extension ``fastlogit.kernels._sgd``.

Built from ``src_cython/_sgd.pyx`` by setup.py; importing this module raises ImportError when
the extension was not built, which makes the "cython" backend unavailable.  Semantics are
those of :mod:`fastlogit.kernels.sgd_ref`; the Hogwild epoch is the one described in
:mod:`fastlogit.kernels.sgd_numba` (OpenMP ``prange``; not deterministic for n_threads > 1).
"""
from contextlib import contextmanager

from . import _sgd
from .sgd_ref import hogwild_epoch

__all__ = ["sgd_epoch_dense", "sgd_epoch_csr", "sgd_epoch_hogwild_csr"]


@contextmanager
def _threads(n_threads):  # OpenMP threads are passed to each prange directly
    yield


def sgd_epoch_csr(data, indices, indptr, Y, s, order, W, b, avg_W, avg_b, q, state, schedule,
                  eta0, power_t, alpha, t0, lam2, lam1, fit_intercept, average_start, n_threads):
    """One sequential SGD epoch over CSR rows (see :mod:`fastlogit.kernels.sgd_ref`)."""
    return _sgd.sgd_epoch_csr(data, indices, indptr, Y, s, order, W, b, avg_W, avg_b, q, state,
                              int(schedule), float(eta0), float(power_t), float(alpha),
                              float(t0), float(lam2), float(lam1), bool(fit_intercept),
                              float(average_start), int(n_threads))


def sgd_epoch_dense(X, Y, s, order, W, b, avg_W, avg_b, q, state, schedule, eta0, power_t,
                    alpha, t0, lam2, lam1, fit_intercept, average_start, n_threads):
    """One sequential SGD epoch over dense rows (see :mod:`fastlogit.kernels.sgd_ref`)."""
    return _sgd.sgd_epoch_dense(X, Y, s, order, W, b, avg_W, avg_b, q, state, int(schedule),
                                float(eta0), float(power_t), float(alpha), float(t0),
                                float(lam2), float(lam1), bool(fit_intercept),
                                float(average_start), int(n_threads))


def sgd_epoch_hogwild_csr(data, indices, indptr, Y, s, order, W, b, avg_W, avg_b, q, state,
                          schedule, eta0, power_t, alpha, t0, lam2, lam1, fit_intercept,
                          average_start, n_threads):
    """Lock-free parallel SGD epoch (binary, no L1) over CSR rows; NOT deterministic."""
    return hogwild_epoch(_sgd.hogwild_plan, _sgd.hogwild_segment, _sgd.scale_weights, _threads,
                         data, indices, indptr, Y, s, order, W, b, avg_W, avg_b, state,
                         schedule, eta0, power_t, alpha, t0, lam2, fit_intercept,
                         average_start, n_threads)
