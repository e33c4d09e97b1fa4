"""Names of the raw functions every linear-kernel backend module provides (the contract of
:mod:`fastlogit.kernels`; ``numpy_ref``, ``numba_impl`` and ``cython_impl`` export them)."""

#: Elementwise functions, then the row-parallel kernels: one per layout of X.
RAW_NAMES = (
    "log1pexp", "log_sigmoid", "sigmoid",
    "loss_grad_dense", "loss_grad_csr", "loss_grad_diag_dense", "loss_grad_diag_csr",
    "loss_dense", "loss_csr",
    "decision_dense", "decision_csr", "hessp_dense", "hessp_csr",
    "hess_diag_dense", "hess_diag_csr", "gram_dense", "gram_csr",
    "multinomial_loss_grad_dense", "multinomial_loss_grad_csr",
    "multinomial_hessp_dense", "multinomial_hessp_csr",
)
