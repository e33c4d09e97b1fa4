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

from ._names import RAW_NAMES

__all__ = [*RAW_NAMES, "openmp_enabled"]

globals().update({name: getattr(_ext, name) for name in RAW_NAMES})


def openmp_enabled():
    """True when the Cython kernels were compiled with OpenMP (else they run serial)."""
    return bool(_ext.openmp_enabled())
