"""fastlogit: fast logistic regression on large sparse data.

Kernels (NumPy reference, Numba, Cython/OpenMP) sit behind :func:`fastlogit.kernels.get`;
solvers see an objective, never a backend; the estimators are scikit-learn compatible.
"""
from . import kernels
from .kernels import available_backends

__version__ = "0.1.0"

__all__ = ["available_backends", "kernels", "show_config", "__version__",
           "LogisticRegression", "SGDLogisticRegression", "load"]

_LAZY = {"LogisticRegression": ".estimator", "SGDLogisticRegression": ".sgd_estimator",
         "load": ".persistence"}
# Model selection (issue 17): warm-started paths and cross-validation.
_LAZY.update({"LogisticRegressionCV": ".model_selection",
              "regularization_path": ".model_selection"})
__all__ += ["LogisticRegressionCV", "regularization_path"]
# One-vs-rest multiclass, the binary fits in parallel (issue 18).
_LAZY["OneVsRestLogisticRegression"] = ".ovr"
__all__ += ["OneVsRestLogisticRegression"]


def __getattr__(name):
    """Import the estimators (and scikit-learn) only when first used."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    """The module's names, the lazily imported ones included (``dir(fastlogit)``)."""
    return sorted(set(globals()) | set(__all__) | set(_LAZY))


def show_config():
    """Print the available kernel backends, OpenMP status and thread counts.

    Lines: the version, the backends fastest first (:func:`available_backends`), the
    default number of kernel threads (:func:`fastlogit._config.effective_n_threads`) and
    whether the Cython backend was built with OpenMP (or why it is not built).  Include it
    in a bug report.

    Examples
    --------
    >>> import fastlogit
    >>> fastlogit.show_config()  # doctest: +ELLIPSIS
    fastlogit ...
    backends (fastest first): ...numpy
    default n_threads: ...
    """
    from ._config import effective_n_threads

    print(f"fastlogit {__version__}")
    print(f"backends (fastest first): {', '.join(available_backends())}")
    print(f"default n_threads: {effective_n_threads(None)}")
    try:
        from .kernels import cython_impl

        print(f"cython OpenMP: {cython_impl.openmp_enabled()}")
    except ImportError as exc:
        print(f"cython backend not built: {exc}")
