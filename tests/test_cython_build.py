"""The Cython/OpenMP backend as built: OpenMP, thread counts, determinism, and a clear error
when the extension is missing.  (Agreement of every kernel with the NumPy reference is in
test_kernels.py, which runs on every fast backend.)"""
import contextlib
import io
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from fastlogit import kernels, show_config
from fastlogit._config import exact_threads
from conftest import awkward_csr

try:
    from fastlogit.kernels import _linear_kernels, cython_impl
except ImportError as exc:  # pragma: no cover - depends on the build
    if os.environ.get("FASTLOGIT_REQUIRE_CYTHON") == "1":
        raise
    pytest.skip(f"Cython extension not built: {exc}", allow_module_level=True)


@pytest.fixture(autouse=True)
def _exact_thread_counts():
    """Thread counts as asked (the cost model would run these small problems on one thread)."""
    with exact_threads():
        yield


def _compiler_has_openmp(tmp_path):
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        return False
    src = tmp_path / "probe.c"
    src.write_text(textwrap.dedent("""
        #include <omp.h>
        int main(void) { return omp_get_max_threads() > 0 ? 0 : 1; }
    """))
    try:
        subprocess.run([cc, "-fopenmp", str(src), "-o", str(tmp_path / "probe")], check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return False
    return True


def test_openmp_enabled(tmp_path):
    """Built with OpenMP wherever the compiler has it (CI requires it)."""
    if os.environ.get("FASTLOGIT_FAIL_NO_OPENMP") == "1" or _compiler_has_openmp(tmp_path):
        assert cython_impl.openmp_enabled() is True
    else:  # pragma: no cover - compilers without OpenMP
        assert cython_impl.openmp_enabled() is False


@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_n_threads_is_the_team_size(n_threads):
    """A kernel-shaped prange with num_threads=n runs on n distinct threads (one block each)."""
    expected = n_threads if cython_impl.openmp_enabled() else 1
    assert _linear_kernels._team_size(n_threads) == expected


def test_contract_names():
    """cython_impl exposes the raw functions of numpy_ref (and openmp_enabled), nothing less."""
    from fastlogit.kernels import numpy_ref

    for name in numpy_ref.__all__:
        assert callable(getattr(cython_impl, name)), name
    assert set(cython_impl.__all__) == set(numpy_ref.__all__) | {"openmp_enabled"}


def _run_all(fast, D, y, s, w, Y, W, n_threads):
    n, d = D.shape
    k = Y.shape[1]
    g, h = np.empty(d, D.dtype), np.empty(n, D.dtype)
    loss, gb = fast.loss_grad(D, y, s, w, 0.1, g, hess_out=h, n_threads=n_threads)
    out = np.empty(d, D.dtype)
    out_b = fast.hessp(D, h, w, out, v_b=0.5, n_threads=n_threads)
    G, GB, P = np.empty((d, k), D.dtype), np.empty(k, D.dtype), np.empty((n, k), D.dtype)
    mloss = fast.multinomial_loss_grad(D, Y, s, W, np.zeros(k, D.dtype), G, GB, proba_out=P,
                                       n_threads=n_threads)
    HV, HB = np.empty((d, k), D.dtype), np.empty(k, D.dtype)
    fast.multinomial_hessp(D, P, s, W, np.ones(k, D.dtype), HV, HB, n_threads=n_threads)
    gram = fast.gram(D, h, np.empty((d, d), D.dtype), n_threads=n_threads)
    diag = fast.hess_diag(D, h, np.empty(d, D.dtype), n_threads=n_threads)
    z = fast.decision(D, w, 0.1, n_threads=n_threads)
    lo = fast.loss(D, y, s, w, 0.1, n_threads=n_threads)
    return [np.atleast_1d(a) for a in (loss, gb, g, h, out_b, out, mloss, G, GB, P, HV, HB, gram,
                                       diag, z, lo)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("layout", ["csr", "dense"])
def test_thread_counts_agree_and_repeat_bitwise(layout, dtype):
    """1, 2 and 3 threads agree within rounding; repeated calls are bitwise identical."""
    rng = np.random.default_rng(0)
    n, d, k = 2500, 30, 3
    X = awkward_csr(rng, n, d, density=0.15, dtype=dtype)
    D = kernels.as_design(X.toarray() if layout == "dense" else X)
    y = rng.random(n).astype(dtype)
    s = rng.uniform(0.0, 2.0, n).astype(dtype)
    w = rng.standard_normal(d).astype(dtype)
    Y = np.eye(k, dtype=dtype)[rng.integers(0, k, n)]
    W = rng.standard_normal((d, k)).astype(dtype)
    fast = kernels.get("cython")
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    one = _run_all(fast, D, y, s, w, Y, W, 1)
    for n_threads in (2, 3):
        first = _run_all(fast, D, y, s, w, Y, W, n_threads)
        again = _run_all(fast, D, y, s, w, Y, W, n_threads)
        for a, b, c in zip(one, first, again):
            np.testing.assert_array_equal(b, c)
            scale = max(float(np.abs(a.astype(np.float64)).max()), 1e-300)
            err = float(np.abs(b.astype(np.float64) - a).max())
            assert err <= rtol * scale, (n_threads, err, scale)


def test_more_threads_than_rows_and_empty():
    """n_threads larger than the number of rows (and zero rows) is fine."""
    fast = kernels.get("cython")
    rng = np.random.default_rng(1)
    for n in (0, 1, 3):
        X = awkward_csr(rng, n, 5, density=0.5, empty_rows=False)
        y, w = rng.random(n), rng.standard_normal(5)
        g = np.empty(5)
        ref = kernels.get("numpy").loss_grad(X, y, None, w, 0.2, np.empty(5))
        assert fast.loss_grad(X, y, None, w, 0.2, g, n_threads=8) == pytest.approx(ref, rel=1e-12)
        assert np.all(np.isfinite(g))


def test_show_config_reports_the_backend():
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        show_config()
    text = buf.getvalue()
    assert "cython" in text.split("backends")[1].splitlines()[0]
    assert f"cython OpenMP: {cython_impl.openmp_enabled()}" in text


def test_missing_extension_gives_a_clear_error(monkeypatch):
    """Without the compiled extension, get("cython") says so and how to build it; "auto"
    falls back to another backend."""
    import fastlogit.kernels as pkg

    monkeypatch.setattr(pkg, "_CACHE", {})
    monkeypatch.setitem(sys.modules, "fastlogit.kernels._linear_kernels", None)
    monkeypatch.delitem(sys.modules, "fastlogit.kernels.cython_impl")
    monkeypatch.delattr(pkg, "_linear_kernels", raising=False)
    monkeypatch.delattr(pkg, "cython_impl", raising=False)
    with pytest.raises(ValueError) as info:
        kernels.get("cython")
    message = str(info.value)
    assert "'cython' is not available" in message
    assert "_linear_kernels is not built" in message and "build_ext --inplace" in message
    assert "cython" not in kernels.available_backends()
    assert kernels.get("auto").name != "cython"


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_row_batches_long_and_short_rows(dtype):
    """The CSR passes go in row batches (<= 64 rows, <= 2048 non-zeros, or one longer row):
    rows longer than a batch, many short rows and a block whose indptr does not start at 0."""
    rng = np.random.default_rng(3)
    n, d = 300, 5000
    lengths = rng.integers(0, 40, n)
    lengths[[5, 6, 150]] = [4000, 2100, 2048]  # single-row batches, one exactly at the limit
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    indices = np.concatenate([rng.permutation(d)[:m] for m in lengths]).astype(np.int32)
    data = rng.standard_normal(indptr[-1]).astype(dtype)
    D = kernels.Design("csr", (data, indices, indptr), (n, d), np.dtype(dtype))
    y = rng.random(n).astype(dtype)
    w = (0.05 * rng.standard_normal(d)).astype(dtype)
    fast, ref = kernels.get("cython"), kernels.get("numpy")
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    for blk in (D, D.rows(3, 290)):
        m = blk.n_rows
        ys = y[:m] if blk is D else y[3:290]
        g, g_ref = np.empty(d, dtype), np.empty(d, dtype)
        res = fast.loss_grad(blk, ys, None, w, 0.2, g, n_threads=2)
        res_ref = ref.loss_grad(blk, ys, None, w, 0.2, g_ref)
        np.testing.assert_allclose(res, res_ref, rtol=rtol)
        np.testing.assert_allclose(g, g_ref, rtol=0, atol=rtol * np.abs(g_ref).max())
        h = np.abs(ys)
        out, out_ref = np.empty(d, dtype), np.empty(d, dtype)
        ob = fast.hessp(blk, h, w, out, v_b=0.1, n_threads=2)
        ob_ref = ref.hessp(blk, h, w, out_ref, v_b=0.1)
        assert ob == pytest.approx(ob_ref, rel=rtol)
        np.testing.assert_allclose(out, out_ref, rtol=0, atol=rtol * np.abs(out_ref).max())
        z = fast.decision(blk, w, 0.3, n_threads=2)
        np.testing.assert_allclose(z, ref.decision(blk, w, 0.3), rtol=0,
                                   atol=rtol * max(1.0, np.abs(z).max()))


def test_templates_render_each_raw_function_once():
    """setup.py renders src_cython/*.pyx.tp with Cython.Tempita before cythonize: the rendered
    modules define every raw function exactly once (both layouts from one template body) and
    no template syntax is left."""
    tempita = pytest.importorskip("Cython.Tempita")
    from fastlogit.kernels._names import RAW_NAMES

    src = Path(__file__).resolve().parent.parent / "src_cython"
    linear = tempita.sub((src / "_linear_kernels.pyx.tp").read_text(encoding="utf-8"))
    for name in RAW_NAMES:
        assert linear.count(f"\ndef {name}(") == 1, name
    sgd = tempita.sub((src / "_sgd.pyx.tp").read_text(encoding="utf-8"))
    for name in ("sgd_epoch_dense", "sgd_epoch_csr", "hogwild_segment", "hogwild_plan"):
        assert sgd.count(f"\ndef {name}(") == 1, name
    assert "{{" not in linear and "{{" not in sgd
