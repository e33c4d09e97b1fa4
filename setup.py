"""Build the optional Cython/OpenMP kernels.

Every ``src_cython/NAME.pyx`` becomes the extension ``fastlogit.kernels.NAME``.  OpenMP is
probed by compiling a tiny program with ``-fopenmp``; without it the kernels build serial (a
warning is printed; ``FASTLOGIT_FAIL_NO_OPENMP=1`` turns that into an error).  If the
extensions cannot be built at all the package still installs and the Numba / NumPy backends
are used (``fastlogit.show_config()`` says which backends exist).
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import warnings

from setuptools import Extension, setup

COMPILER_DIRECTIVES = {
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
    "nonecheck": False,
    "language_level": 3,
}


def openmp_flags():
    """Return (compile_args, link_args) enabling OpenMP, or ([], []) if the compiler lacks it."""
    cc = os.environ.get("CC", "cc")
    src = textwrap.dedent(
        """
        #include <omp.h>
        int main(void) { int n = 0;
        #pragma omp parallel reduction(+:n)
          n += 1;
          return n > 0 ? 0 : 1; }
        """
    )
    with tempfile.TemporaryDirectory() as tmp:
        c_file = os.path.join(tmp, "probe.c")
        with open(c_file, "w") as fh:
            fh.write(src)
        try:
            subprocess.run(
                [cc, "-fopenmp", c_file, "-o", os.path.join(tmp, "probe")],
                check=True, capture_output=True,
            )
            return ["-fopenmp"], ["-fopenmp"]
        except (OSError, subprocess.CalledProcessError):
            pass
    msg = "fastlogit: the C compiler has no OpenMP; Cython kernels will run single-threaded"
    if os.environ.get("FASTLOGIT_FAIL_NO_OPENMP") == "1":
        raise RuntimeError(msg)
    warnings.warn(msg)
    return [], []


def extensions():
    sources = sorted(glob.glob(os.path.join("src_cython", "*.pyx")))
    if not sources:
        return []
    try:
        import numpy
        from Cython.Build import cythonize
    except ImportError:
        warnings.warn("fastlogit: Cython/NumPy missing at build time; no Cython kernels")
        return []
    compile_args, link_args = openmp_flags()
    compile_args = compile_args + ["-O3", "-ffp-contract=off"]
    headers = sorted(glob.glob(os.path.join("src_cython", "*.pxd"))
                     + glob.glob(os.path.join("src_cython", "*.h")))
    exts = [
        Extension(
            "fastlogit.kernels." + os.path.splitext(os.path.basename(src))[0],
            [src],
            depends=headers,
            include_dirs=[numpy.get_include()],
            extra_compile_args=compile_args,
            extra_link_args=link_args,
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            optional=os.environ.get("FASTLOGIT_REQUIRE_CYTHON") != "1",
        )
        for src in sources
    ]
    # include_path: the .pyx files cimport the shared per-sample functions of src_cython/*.pxd.
    return cythonize(exts, compiler_directives=COMPILER_DIRECTIVES, quiet=True,
                     include_path=["src_cython"])


# Compile the extensions in parallel (one process per core); an editable install
# (`pip install -e .`, setuptools >= 64) builds them in place, next to fastlogit/kernels/*.py.
setup(ext_modules=extensions(),
      options={"build_ext": {"parallel": max(1, min(8, os.cpu_count() or 1))}})
