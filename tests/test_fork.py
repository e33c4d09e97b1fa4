"""A process forked after a threaded fit fits again (fastlogit._config.forked_child).

GNU OpenMP's thread pool does not survive fork(): before the guard, a child forked after a
2-thread fit hung in the Cython kernels and was ended by Numba's OpenMP layer ("fork()
called from a process already using GNU OpenMP, this is unsafe").
"""
import os
import signal
import time

import numpy as np
import pytest

import fastlogit
from fastlogit import kernels
from fastlogit._config import effective_n_threads, exact_threads, forked_child
from fastlogit.datasets import make_sparse_classification

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def _in_child(work, timeout=120.0):
    """Run ``work()`` in a forked child; its exit code (0: it returned True, 2: False, 3: it
    raised) and what it wrote (the exception's repr).  A child still running after
    ``timeout`` seconds is killed and the test fails."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            code = 0 if work() else 2
        except BaseException as exc:  # noqa: B902 (reported to the parent)
            os.write(w, repr(exc).encode()[:4000])
            code = 3
        finally:
            os._exit(code)
    os.close(w)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(r)
            pytest.fail(f"the forked child still ran after {timeout} s (hung)")
        time.sleep(0.02)
    message = os.read(r, 8192).decode()
    os.close(r)
    return os.waitstatus_to_exitcode(status), message


def test_a_child_forked_after_a_threaded_fit_fits_on_one_thread():
    X, y = make_sparse_classification(6000, 200, mean_nnz=20, random_state=0)
    compiled = [b for b in kernels.available_backends() if b != "numba"][0]
    with exact_threads():  # the parent's kernels really start their thread pools
        for backend in ("auto", "numba", "cython"):
            if backend in ("auto",) + tuple(kernels.available_backends()):
                for solver in ("lbfgs", "newton-cholesky"):
                    fastlogit.LogisticRegression(solver=solver, n_threads=2,
                                                 backend=backend).fit(X, y)
    # what the child's "auto" kernels (no Numba's) give on one thread
    expected = {solver: fastlogit.LogisticRegression(solver=solver, n_threads=1,
                                                     backend=compiled).fit(X, y).coef_
                for solver in ("lbfgs", "newton-cholesky")}
    assert not forked_child()

    def child():
        assert forked_child() and effective_n_threads(2) == 1 and effective_n_threads() == 1
        with exact_threads():
            for solver, coef in expected.items():
                est = fastlogit.LogisticRegression(solver=solver, n_threads=2).fit(X, y)
                np.testing.assert_array_equal(est.coef_, coef)
            cv = fastlogit.LogisticRegressionCV(Cs=3, cv=3, l1_ratios=(0.0,), n_threads=2,
                                                use_legacy_attributes=False).fit(X, y)
        return np.isfinite(cv.coef_).all()

    code, message = _in_child(child)
    assert code == 0, message


def test_numba_backend_in_a_forked_child_raises_a_clear_error():
    if "numba" not in kernels.available_backends():
        pytest.skip("Numba kernels unavailable")
    X, y = make_sparse_classification(2000, 50, mean_nnz=10, random_state=1)
    with exact_threads():
        fastlogit.LogisticRegression(n_threads=2, backend="numba").fit(X, y)

    def child():
        with pytest.raises(RuntimeError, match="forked .* 'spawn'"):
            kernels.get("numba")
        return True

    code, message = _in_child(child)
    assert code == 0, message
