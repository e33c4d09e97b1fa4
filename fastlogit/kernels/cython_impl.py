"""Cython/OpenMP kernels: the raw functions of :mod:`fastlogit.kernels`, compiled.

The code is ``src_cython/_linear_kernels.pyx`` (built by setup.py as the extension
``fastlogit.kernels._linear_kernels``; its docstring describes the parallel layout).
Importing this module raises ``ImportError`` when that extension was not built, which makes
the "cython" backend unavailable (``fastlogit.kernels.available_backends()``).
"""
try:
    from . import _linear_kernels as _ext
except ImportError as exc:  # not compiled (no compiler, or a source checkout without a build)
    raise ImportError(
        "the Cython extension fastlogit.kernels._linear_kernels is not built; install with "
        "`pip install -e .` or run `python setup.py build_ext --inplace` (needs Cython and a "
        f"C compiler): {exc}"
    ) from exc

__all__ = [
    "log1pexp", "log_sigmoid", "sigmoid",
    "loss_grad_dense", "loss_grad_csr", "loss_dense", "loss_csr",
    "decision_dense", "decision_csr", "hessp_dense", "hessp_csr",
    "hess_diag_dense", "hess_diag_csr", "gram_dense", "gram_csr",
    "multinomial_loss_grad_dense", "multinomial_loss_grad_csr",
    "multinomial_hessp_dense", "multinomial_hessp_csr",
    "openmp_enabled",
]

log1pexp = _ext.log1pexp
log_sigmoid = _ext.log_sigmoid
sigmoid = _ext.sigmoid
loss_grad_dense = _ext.loss_grad_dense
loss_grad_csr = _ext.loss_grad_csr
loss_dense = _ext.loss_dense
loss_csr = _ext.loss_csr
decision_dense = _ext.decision_dense
decision_csr = _ext.decision_csr
hessp_dense = _ext.hessp_dense
hessp_csr = _ext.hessp_csr
hess_diag_dense = _ext.hess_diag_dense
hess_diag_csr = _ext.hess_diag_csr
gram_dense = _ext.gram_dense
gram_csr = _ext.gram_csr
multinomial_loss_grad_dense = _ext.multinomial_loss_grad_dense
multinomial_loss_grad_csr = _ext.multinomial_loss_grad_csr
multinomial_hessp_dense = _ext.multinomial_hessp_dense
multinomial_hessp_csr = _ext.multinomial_hessp_csr


def openmp_enabled():
    """True when the Cython kernels were compiled with OpenMP (else they run serial)."""
    return bool(_ext.openmp_enabled())
