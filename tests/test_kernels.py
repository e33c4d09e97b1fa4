"""Every raw kernel of every fast backend against the NumPy reference, through the KernelSet.

Tolerances are relative to the scale of the result (its largest magnitude): 1e-12 in float64,
1e-5 in float32.  Both sides accumulate in float64, so the float32 bound is loose on purpose.
The data are small and the dtype/index combinations are chosen so that each compiled
specialisation is exercised without compiling every kernel for every combination (CI compiles
Numba kernels from scratch): the fused binary kernels run on all four of float32/float64 x
int32/int64 indices, the others on (float64, int32) and (float32, int64).
"""
import re

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, strategies as st

from fastlogit import kernels
from fastlogit._config import exact_threads, kernel_threads
from fastlogit.kernels import Design
from conftest import FAST_BACKENDS, awkward_csr

REF = kernels.get("numpy")
RTOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-5}
EXTREME = np.array([-1e4, -800.0, -745.5, -40.0, -37.0, -20.0, -2.0, -1e-8, 0.0, 1e-8, 2.0, 18.0,
                    20.0, 33.3, 40.0, 800.0, 1e4])
#: (data dtype, index dtype): the two combinations every kernel is tested on.
LEAN = [(np.float64, np.int32), (np.float32, np.int64)]
LEAN_IDS = ["f64-i32", "f32-i64"]
ALL = LEAN + [(np.float32, np.int32), (np.float64, np.int64)]
ALL_IDS = LEAN_IDS + ["f32-i32", "f64-i64"]

pytestmark = pytest.mark.skipif(not FAST_BACKENDS, reason="no fast backend available")


@pytest.fixture(params=FAST_BACKENDS)
def fast(request):
    return kernels.get(request.param)


@pytest.fixture(autouse=True)
def _exact_thread_counts():
    """The small test problems would run on one thread under the cost model; the kernels'
    multi-thread paths are what these tests exercise (test_thread_cost_model checks the model)."""
    with exact_threads():
        yield


def assert_close(got, ref, dtype, what=""):
    """|got - ref| <= rtol(dtype) * max|ref| (and at least the smallest normal), all finite."""
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert got.shape == ref.shape, what
    assert np.all(np.isfinite(got)), f"{what}: non-finite result"
    scale = max(float(np.max(np.abs(ref), initial=0.0)), np.finfo(np.float64).tiny)
    err = float(np.max(np.abs(got - ref), initial=0.0))
    assert err <= RTOL[np.dtype(dtype)] * scale, f"{what}: max error {err:.3g}, scale {scale:.3g}"


def csr_design(X, index_dtype):
    """A Design over scipy CSR ``X`` with ``index_dtype`` indices and indptr (as_design would
    narrow int64 indices to int32)."""
    return Design("csr", (X.data, X.indices.astype(index_dtype), X.indptr.astype(index_dtype)),
                  X.shape, X.data.dtype)


def problem(rng, n, d, dtype, index_dtype=np.int32, density=0.3, dense=False):
    X = awkward_csr(rng, n, d, density=density, dtype=dtype, index_dtype=index_dtype)
    D = kernels.as_design(X.toarray()) if dense else csr_design(X, index_dtype)
    y = rng.random(n).astype(dtype)  # soft labels
    y[: n // 3] = np.round(y[: n // 3])  # and some hard ones
    s = rng.uniform(0.0, 2.0, n).astype(dtype)
    s[::7] = 0.0  # zero weights
    w = rng.standard_normal(d).astype(dtype)
    return D, y, s, w


# ----------------------------------------------------------------------------- pointwise
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("fn", ["log1pexp", "log_sigmoid", "sigmoid"])
def test_pointwise(fast, fn, dtype):
    z = np.concatenate([EXTREME, np.random.default_rng(0).uniform(-50, 50, 100)]).astype(dtype)
    got = getattr(fast, fn)(z)
    assert got.dtype == dtype
    ref = getattr(REF, fn)(z)
    assert np.all(np.isfinite(got))
    rel = np.abs(got.astype(float) - ref) / np.maximum(np.abs(ref), np.finfo(dtype).tiny)
    assert rel.max() <= (4 if dtype == np.float64 else 1) * np.finfo(dtype).eps
    out = np.empty((3, 5), dtype=dtype)  # 2-d input through the out= path
    assert getattr(fast, fn)(z[:15].reshape(3, 5), out=out) is out
    np.testing.assert_array_equal(out.ravel(), got[:15])


def _ulps(got, exact):
    exact = np.asarray(exact, dtype=np.float64)
    return np.abs(got - exact) / np.spacing(np.maximum(np.abs(exact), np.finfo(float).tiny))


MP_Z = np.concatenate([EXTREME, [-745.1, -708.5, -36.7, -0.5, 0.5, 36.7, 708.5, 745.1],
                       np.random.default_rng(0).uniform(-50, 50, 200),
                       np.random.default_rng(1).uniform(-1.5, 1.5, 50)])


def test_pointwise_and_per_row_against_mpmath(fast):
    """The compiled pointwise functions, and the per-row loss, residual and IRLS weight that the
    fused kernels compute (SIMD batch code in Cython), agree with mpmath to <= 4 ulp (float64)."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    z = MP_Z
    mz = [mpmath.mpf(float(v)) for v in z]
    sig = [1 / (1 + mpmath.exp(-v)) for v in mz]
    sig_c = [1 / (1 + mpmath.exp(v)) for v in mz]  # 1 - sigmoid without cancellation
    exact = {"log1pexp": [mpmath.log1p(mpmath.exp(v)) for v in mz],
             "log_sigmoid": [-mpmath.log1p(mpmath.exp(-v)) for v in mz], "sigmoid": sig}
    for fn, values in exact.items():
        got = getattr(fast, fn)(z)
        assert _ulps(got, [float(v) for v in values]).max() <= 4, fn
    # X = identity, w = z, b = 0: row i has margin z_i exactly; grad_out_i is its residual and
    # hess_out_i its IRLS weight.  Both row layouts, one and two threads.
    n = z.size
    for y_val in (0.0, 1.0, 0.3):
        y = np.full(n, y_val)
        yv = mpmath.mpf(y_val)
        # log(1 + exp(z)) - y z rewritten without cancellation (50 digits are not 300)
        loss_exact = [float(mpmath.log1p(mpmath.exp(-abs(v))) + (v * (1 - yv) if v > 0 else -yv * v))
                      for v in mz]
        res_exact = [float((1 - yv) * p - yv * q) for p, q in zip(sig, sig_c)]
        curv_exact = [float(p * q) for p, q in zip(sig, sig_c)]
        for D in (kernels.as_design(sp.identity(n, format="csr")), kernels.as_design(np.eye(n))):
            for n_threads in (1, 2):
                grad, hess = np.empty(n), np.empty(n)
                fast.loss_grad(D, y, None, z, 0.0, grad, hess, n_threads=n_threads)
                # sigmoid(z) - y cancels near sigmoid(z) = y for soft labels: absolute bound
                res_err = _ulps(grad, res_exact) if y_val in (0.0, 1.0) else (
                    np.abs(grad - res_exact) / np.spacing(1.0))
                assert res_err.max() <= 4, (D.kind, y_val, "residual")
                assert _ulps(hess, curv_exact).max() <= 4, (D.kind, y_val, "curvature")
        D = kernels.as_design(sp.identity(n, format="csr"))
        rows = [fast.loss(D.rows(i, i + 1), y[i:i + 1], None, z, 0.0) for i in range(n)]
        assert _ulps(np.array(rows), loss_exact).max() <= 4, (y_val, "loss")


# ----------------------------------------------------------------------------- binary
@pytest.mark.parametrize("dtype,index_dtype", ALL, ids=ALL_IDS)
def test_loss_grad_csr(fast, rng, dtype, index_dtype):
    D, y, s, w = problem(rng, 120, 17, dtype, index_dtype)
    for weights in (s, None):
        for b in (0.0, -0.7):
            g, g_ref = np.empty(17, dtype), np.empty(17, dtype)
            h, h_ref = np.empty(120, dtype), np.empty(120, dtype)
            loss, gb = fast.loss_grad(D, y, weights, w, b, g, hess_out=h, n_threads=2)
            loss_r, gb_r = REF.loss_grad(D, y, weights, w, b, g_ref, hess_out=h_ref)
            assert isinstance(loss, float) and isinstance(gb, float)
            assert_close(loss, loss_r, np.float64 if dtype == np.float64 else dtype, "loss")
            assert_close(gb, gb_r, dtype, "grad_b")
            assert_close(g, g_ref, dtype, "grad")
            assert_close(h, h_ref, dtype, "hess_out")
            assert_close(fast.loss(D, y, weights, w, b, n_threads=2), loss_r, dtype, "loss()")
    assert_close(fast.decision(D, w, 0.3, n_threads=2), REF.decision(D, w, 0.3), dtype, "decision")


@pytest.mark.parametrize("dtype,index_dtype", LEAN, ids=LEAN_IDS)
@pytest.mark.parametrize("layout", ["dense", "csr"])
def test_binary_kernels(fast, rng, layout, dtype, index_dtype):
    n, d = 90, 11
    D, y, s, w = problem(rng, n, d, dtype, index_dtype, density=0.4, dense=layout == "dense")
    if layout == "dense":  # the fused kernel on dense rows (CSR is covered above)
        g, g_ref, h, h_ref = (np.empty(k, dtype) for k in (d, d, n, n))
        loss, gb = fast.loss_grad(D, y, s, w, 0.4, g, hess_out=h, n_threads=2)
        loss_r, gb_r = REF.loss_grad(D, y, s, w, 0.4, g_ref, hess_out=h_ref)
        for got, ref, what in [(loss, loss_r, "loss"), (gb, gb_r, "grad_b"), (g, g_ref, "grad"),
                               (h, h_ref, "hess_out")]:
            assert_close(got, ref, dtype, what)
        assert_close(fast.loss(D, y, None, w, 0.4, n_threads=2), REF.loss(D, y, None, w, 0.4),
                     dtype, "loss")
        assert_close(fast.decision(D, w, -1.0, n_threads=2), REF.decision(D, w, -1.0), dtype,
                     "decision")
    dw = s * rng.uniform(0.0, 0.25, n).astype(dtype)  # IRLS-like weights, some zero
    v = rng.standard_normal(d).astype(dtype)
    out, out_ref = np.empty(d, dtype), np.empty(d, dtype)
    out_b = fast.hessp(D, dw, v, out, v_b=0.3, n_threads=2)
    out_b_ref = REF.hessp(D, dw, v, out_ref, v_b=0.3)
    assert isinstance(out_b, float)
    assert_close(out, out_ref, dtype, "hessp")
    assert_close(out_b, out_b_ref, dtype, "hessp out_b")
    assert_close(fast.hess_diag(D, dw, np.empty(d, dtype), n_threads=2),
                 REF.hess_diag(D, dw, np.empty(d, dtype)), dtype, "hess_diag")
    G = fast.gram(D, dw, np.empty((d, d), dtype), n_threads=2)
    assert_close(G, REF.gram(D, dw, np.empty((d, d), dtype)), dtype, "gram")
    np.testing.assert_array_equal(G, G.T)


def _fused_and_separate(ks, D, y, s, w, b, n_threads):
    """(loss_grad with diag_out, loss_grad then hess_diag on its weights) of KernelSet ks:
    each a list [loss, grad_b, grad, hess, diag]."""
    n, d = D.shape
    t = D.dtype
    g, h, dg = np.empty(d, t), np.empty(n, t), np.empty(d, t)
    loss, gb = ks.loss_grad(D, y, s, w, b, g, hess_out=h, n_threads=n_threads, diag_out=dg)
    g2, h2 = np.empty(d, t), np.empty(n, t)
    loss2, gb2 = ks.loss_grad(D, y, s, w, b, g2, hess_out=h2, n_threads=n_threads)
    dg2 = ks.hess_diag(D, h2, np.empty(d, t), n_threads=n_threads)
    return [loss, gb, g, h, dg], [loss2, gb2, g2, h2, dg2]


@pytest.mark.parametrize("dtype,index_dtype", ALL, ids=ALL_IDS)
@pytest.mark.parametrize("layout", ["dense", "csr"])
def test_loss_grad_with_diag(fast, rng, layout, dtype, index_dtype):
    """loss_grad(..., diag_out=) (the fused loss, gradient, IRLS weights and Hessian diagonal)
    against the reference and against its two separate passes (loss_grad, then hess_diag on
    the weights it wrote: bitwise the same for the compiled backends at a given thread count),
    on awkward CSR (empty rows, unsorted indices) and dense rows, weighted or not, 1-3
    threads."""
    n, d = 150, 13
    D, y, s, w = problem(rng, n, d, dtype, index_dtype, density=0.35, dense=layout == "dense")
    names = ["loss", "grad_b", "grad", "hess_out", "diag_out"]
    for weights in (s, None):
        ref, ref_sep = _fused_and_separate(REF, D, y, weights, w, -0.3, None)
        for r, r2, what in zip(ref, ref_sep, names):
            np.testing.assert_array_equal(r, r2, err_msg=f"reference {what}")
        for n_threads in (1, 2, 3):
            got, sep = _fused_and_separate(fast, D, y, weights, w, -0.3, n_threads)
            for g_, s_, r, what in zip(got, sep, ref, names):
                assert_close(g_, r, dtype, f"{what}, {n_threads} threads")
                np.testing.assert_array_equal(g_, s_, err_msg=f"{what} fused vs separate")
            assert isinstance(got[0], float) and isinstance(got[1], float)
            assert got[2].dtype == got[4].dtype == dtype


def test_loss_grad_with_diag_extreme_and_empty(fast, rng):
    """|z| up to 1e4 (weights underflow to 0: the diagonal still sums what the reference does),
    soft labels where the residual is 0 but the weight is not, no rows, and bad arguments."""
    n, d = len(EXTREME), 3
    for dtype in (np.float64, np.float32):
        X = np.zeros((n, d), dtype=dtype)
        X[:, 0] = EXTREME / 2
        X[:, 1] = rng.standard_normal(n)
        w = np.array([2.0, 0.0, 1.0], dtype=dtype)
        for D in (kernels.as_design(X), csr_design(sp.csr_matrix(X), np.int32)):
            for y in (np.zeros(n, dtype), np.ones(n, dtype), np.full(n, 0.3, dtype)):
                got, _ = _fused_and_separate(fast, D, y, None, w, 0.0, 2)
                ref, _ = _fused_and_separate(REF, D, y, None, w, 0.0, None)
                for g_, r, what in zip(got, ref, ["loss", "grad_b", "grad", "hess", "diag"]):
                    assert np.all(np.isfinite(g_)), what
                    assert_close(g_, r, dtype, what)
    # y = 1/2 at z = 0: residual exactly 0, weight 1/4 (the row must still reach the diagonal)
    X = sp.csr_matrix(np.array([[2.0, 0.0], [0.0, 3.0]]))
    D = csr_design(X, np.int32)
    got, _ = _fused_and_separate(fast, D, np.full(2, 0.5), None, np.zeros(2), 0.0, 1)
    np.testing.assert_allclose(got[4], [1.0, 2.25], rtol=1e-15)
    np.testing.assert_array_equal(got[2], [0.0, 0.0])
    empty = csr_design(sp.csr_matrix((0, 4)), np.int32)
    g, h, dg = np.full(4, 7.0), np.empty(0), np.full(4, 7.0)
    assert fast.loss_grad(empty, np.empty(0), None, np.ones(4), 0.5, g, h, diag_out=dg) == (0, 0)
    np.testing.assert_array_equal(g, 0.0)
    np.testing.assert_array_equal(dg, 0.0)
    D, y, s, w = problem(rng, 20, 5, np.float64)
    with pytest.raises(ValueError, match="diag_out needs hess_out"):
        fast.loss_grad(D, y, s, w, 0.0, np.empty(5), diag_out=np.empty(5))
    with pytest.raises(ValueError, match="diag_out must have shape"):
        fast.loss_grad(D, y, s, w, 0.0, np.empty(5), np.empty(20), diag_out=np.empty(4))
    g = np.empty(5)
    with pytest.raises(ValueError, match="diag_out must not overlap grad_out"):
        fast.loss_grad(D, y, s, w, 0.0, g, np.empty(20), diag_out=g)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_extreme_margins(fast, rng, dtype):
    """|z| up to 1e4: finite loss, gradient and weights, equal to the reference; all-0 and
    all-1 labels."""
    n, d = len(EXTREME), 3
    X = np.zeros((n, d), dtype=dtype)
    X[:, 0] = EXTREME / 2
    X[:, 1] = rng.standard_normal(n)
    w = np.array([2.0, 0.0, 1.0], dtype=dtype)  # z = EXTREME exactly (X[:, 1] w_1 = 0)
    for D in (kernels.as_design(X), csr_design(sp.csr_matrix(X), np.int32)):
        for y in (np.zeros(n, dtype), np.ones(n, dtype), np.full(n, 0.3, dtype)):
            g, g_ref, h, h_ref = (np.empty(k, dtype) for k in (d, d, n, n))
            loss, gb = fast.loss_grad(D, y, None, w, 0.0, g, hess_out=h, n_threads=2)
            loss_r, gb_r = REF.loss_grad(D, y, None, w, 0.0, g_ref, hess_out=h_ref)
            assert np.isfinite(loss) and np.isfinite(gb)
            assert_close(loss, loss_r, dtype, "loss")
            assert_close(gb, gb_r, dtype, "grad_b")
            assert_close(g, g_ref, dtype, "grad")
            assert_close(h, h_ref, dtype, "hess_out")
            # and through the intercept alone: z = b for every row
            for b in (-1e4, 1e4):
                loss, gb = fast.loss_grad(D, y, None, np.zeros(d, dtype), b, g, n_threads=2)
                loss_r, gb_r = REF.loss_grad(D, y, None, np.zeros(d, dtype), b, g_ref)
                assert_close(loss, loss_r, dtype, "loss, z = b")
                assert_close(gb, gb_r, dtype, "grad_b, z = b")


# ----------------------------------------------------------------------------- multinomial
@pytest.mark.parametrize("dtype,index_dtype", LEAN, ids=LEAN_IDS)
@pytest.mark.parametrize("layout", ["dense", "csr"])
def test_multinomial(fast, rng, layout, dtype, index_dtype):
    n, d, k = 70, 9, 4
    D, _, s, _ = problem(rng, n, d, dtype, index_dtype, density=0.4, dense=layout == "dense")
    Y = rng.dirichlet(np.ones(k), n).astype(dtype)  # soft labels
    Y[: n // 2] = np.eye(k, dtype=dtype)[rng.integers(0, k, n // 2)]  # and one-hot ones
    W = (3 * rng.standard_normal((d, k))).astype(dtype)
    B = rng.standard_normal(k).astype(dtype)
    for weights in (s, None):
        G, GB, P = np.empty((d, k), dtype), np.empty(k, dtype), np.empty((n, k), dtype)
        Gr, GBr, Pr = np.empty((d, k), dtype), np.empty(k, dtype), np.empty((n, k), dtype)
        loss = fast.multinomial_loss_grad(D, Y, weights, W, B, G, GB, proba_out=P, n_threads=2)
        loss_r = REF.multinomial_loss_grad(D, Y, weights, W, B, Gr, GBr, proba_out=Pr)
        assert isinstance(loss, float)
        assert_close(loss, loss_r, dtype, "loss")
        assert_close(G, Gr, dtype, "grad")
        assert_close(GB, GBr, dtype, "grad_b")
        assert_close(P, Pr, dtype, "proba")
        V = rng.standard_normal((d, k)).astype(dtype)
        vb = rng.standard_normal(k).astype(dtype)
        out, ob, out_r, ob_r = (np.empty(sh, dtype) for sh in [(d, k), k, (d, k), k])
        fast.multinomial_hessp(D, Pr, weights, V, vb, out, ob, n_threads=2)
        REF.multinomial_hessp(D, Pr, weights, V, vb, out_r, ob_r)
        assert_close(out, out_r, dtype, "hessp")
        assert_close(ob, ob_r, dtype, "hessp out_b")
    # huge margins: finite
    G = np.empty((d, k), dtype)
    loss = fast.multinomial_loss_grad(D, Y, None, W * 1e3, B, G, np.empty(k, dtype), n_threads=2)
    loss_r = REF.multinomial_loss_grad(D, Y, None, W * 1e3, B, np.empty((d, k), dtype),
                                       np.empty(k, dtype))
    assert np.isfinite(loss) and np.all(np.isfinite(G))
    assert_close(loss, loss_r, dtype, "loss, large margins")


def _softmax_outputs(ks, D, Y, s, W, B, V, vb, n_threads):
    """(loss, G, GB, P, HV, HB) of the softmax kernels of ``ks`` (HV at the reference P)."""
    n, d = D.shape
    k, t = W.shape[1], D.dtype
    G, GB, P = np.empty((d, k), t), np.empty(k, t), np.empty((n, k), t)
    loss = ks.multinomial_loss_grad(D, Y, s, W, B, G, GB, proba_out=P, n_threads=n_threads)
    Pr = np.empty((n, k), t)
    REF.multinomial_loss_grad(D, Y, s, W, B, np.empty((d, k), t), np.empty(k, t), proba_out=Pr)
    HV, HB = np.empty((d, k), t), np.empty(k, t)
    ks.multinomial_hessp(D, Pr, s, V, vb, HV, HB, n_threads=n_threads)
    return loss, G, GB, P, HV, HB


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("layout", ["dense", "csr"])
@pytest.mark.parametrize("n,d,k", [(60, 7, 2), (45, 2, 6), (0, 5, 3), (2300, 4, 1000)],
                         ids=["K<T", "d<T", "no-rows", "chunks"])
def test_multinomial_output_split(fast, rng, layout, dtype, n, d, k):
    """The softmax kernels split their output (features / classes) between threads: against
    the reference with fewer classes or features than threads, no rows, several row chunks
    (n K above the chunk size), margins up to |z| = 1e4, empty rows and unsorted indices;
    the gradient and Hessian product are bitwise the same for 1, 2 and 3 threads."""
    X = awkward_csr(rng, n, d, density=0.5, dtype=dtype)
    D = kernels.as_design(X.toarray()) if layout == "dense" else kernels.as_design(X)
    Y = np.eye(k, dtype=dtype)[rng.integers(0, k, n)]
    s = rng.uniform(0.0, 2.0, n).astype(dtype)
    W = rng.standard_normal((d, k))
    W[:, 0] *= 3e3  # class 0's margins reach |z| of about 1e4
    W = W.astype(dtype)
    B = rng.standard_normal(k).astype(dtype)
    V = rng.standard_normal((d, k)).astype(dtype)
    vb = rng.standard_normal(k).astype(dtype)
    z = np.abs(REF.decision(D, W[:, 0].copy(), 0.0)) if n else np.zeros(1)
    assert n == 0 or 1e3 < z.max() < 3e4  # the test reaches large margins
    ref = _softmax_outputs(REF, D, Y, s, W, B, V, vb, 1)
    runs = [_softmax_outputs(fast, D, Y, s, W, B, V, vb, t) for t in (1, 2, 3)]
    names = ["loss", "grad", "grad_b", "proba", "hessp", "hessp out_b"]
    for got in runs:
        for name, g, r in zip(names, got, ref):
            assert_close(g, r, dtype, name)
    for got in runs[1:]:
        for name in ("grad", "proba", "hessp"):
            i = names.index(name)
            np.testing.assert_array_equal(got[i], runs[0][i], err_msg=name)


@pytest.mark.parametrize("layout", ["dense", "csr"])
@pytest.mark.parametrize("n,k", [(301, 4), (2300, 1000)], ids=["one-chunk", "chunks"])
def test_multinomial_sums_do_not_depend_on_threads(fast, rng, layout, n, k):
    """The softmax loss and the intercept sums (of the gradient and of the Hessian product)
    are summed over the rows in row order after the parallel forward pass: bitwise the same
    for 1, 2 and 3 threads, like the coefficient outputs (so a fit follows the same path
    whatever its thread count)."""
    d = 9
    X = awkward_csr(rng, n, d, density=0.5, dtype=np.float64)
    D = kernels.as_design(X.toarray()) if layout == "dense" else kernels.as_design(X)
    Y = np.eye(k)[rng.integers(0, k, n)]
    s = rng.uniform(0.0, 2.0, n)
    W, V = rng.standard_normal((d, k)), rng.standard_normal((d, k))
    B, vb = rng.standard_normal(k), rng.standard_normal(k)
    runs = [_softmax_outputs(fast, D, Y, s, W, B, V, vb, t) for t in (1, 2, 3)]
    for got in runs[1:]:
        assert got[0] == runs[0][0]
        for i, name in ((2, "grad_b"), (5, "hessp out_b")):
            np.testing.assert_array_equal(got[i], runs[0][i], err_msg=name)


def test_multinomial_hessp_output_may_be_its_input(fast, rng):
    """out may be the direction V itself (float64 dense, where the output is the
    accumulator): the result is that of separate arrays."""
    n, d, k = 40, 6, 3
    D = kernels.as_design(rng.standard_normal((n, d)))
    P = rng.dirichlet(np.ones(k), n)
    V = rng.standard_normal((d, k))
    vb = rng.standard_normal(k)
    out, ob = np.empty((d, k)), np.empty(k)
    fast.multinomial_hessp(D, P, None, V, vb, out, ob, n_threads=2)
    fast.multinomial_hessp(D, P, None, V, vb, V, ob, n_threads=2)
    np.testing.assert_array_equal(V, out)


# ----------------------------------------------------------------------------- row blocks
@pytest.mark.parametrize("dtype,index_dtype", LEAN, ids=LEAN_IDS)
def test_row_blocks(fast, rng, dtype, index_dtype):
    """Design.rows: CSR blocks whose indptr does not start at 0 (and dense slices)."""
    n, d, k = 150, 8, 3
    D, y, s, w = problem(rng, n, d, dtype, index_dtype)
    Dd = kernels.as_design(D.to_scipy().toarray())
    for start, stop in [(37, 101), (120, 150), (5, 5)]:
        for blk in (D.rows(start, stop), Dd.rows(start, stop)):
            m = stop - start
            if blk.kind == "csr":
                assert blk.arrays[2][0] == D.arrays[2][start] and (start < 100 or m == 0
                                                                    or blk.arrays[2][0] > 0)
            ys, ss = y[start:stop], s[start:stop]
            g, g_ref = np.empty(d, dtype), np.empty(d, dtype)
            res = fast.loss_grad(blk, ys, ss, w, 0.2, g, n_threads=2)
            ref = REF.loss_grad(blk, ys, ss, w, 0.2, g_ref)
            assert_close(res, ref, dtype, "loss_grad on a block")
            assert_close(g, g_ref, dtype, "grad on a block")
            out, out_ref = np.empty(d, dtype), np.empty(d, dtype)
            assert_close(fast.hessp(blk, ss, w, out, n_threads=2), REF.hessp(blk, ss, w, out_ref),
                         dtype, "hessp out_b on a block")
            assert_close(out, out_ref, dtype, "hessp on a block")
            Y = np.eye(k, dtype=dtype)[rng.integers(0, k, m)]
            W = rng.standard_normal((d, k)).astype(dtype)
            B = np.zeros(k, dtype)
            G, Gr = np.empty((d, k), dtype), np.empty((d, k), dtype)
            assert_close(
                fast.multinomial_loss_grad(blk, Y, ss, W, B, G, np.empty(k, dtype), n_threads=2),
                REF.multinomial_loss_grad(blk, Y, ss, W, B, Gr, np.empty(k, dtype)), dtype,
                "multinomial loss on a block")
            assert_close(G, Gr, dtype, "multinomial grad on a block")
    # a block equals the same rows as a matrix of their own
    blk = D.rows(37, 101)
    g1, g2 = np.empty(d, dtype), np.empty(d, dtype)
    r1 = fast.loss_grad(blk, y[37:101], s[37:101], w, 0.2, g1, n_threads=2)
    r2 = fast.loss_grad(blk.to_scipy(), y[37:101], s[37:101], w, 0.2, g2, n_threads=2)
    assert_close(r1, r2, dtype, "block vs copy")
    assert_close(g1, g2, dtype, "block vs copy")


# ----------------------------------------------------------------------------- random shapes
@given(
    n=st.integers(0, 40), d=st.integers(1, 12), density=st.floats(0.0, 1.0),
    combo=st.sampled_from(range(len(ALL))), dense=st.booleans(), seed=st.integers(0, 2**16),
    n_threads=st.sampled_from([1, 2, 3]),
)
def test_random_shapes(n, d, density, combo, dense, seed, n_threads):
    rng = np.random.default_rng(seed)
    dtype, index_dtype = ALL[combo]
    if dense:
        index_dtype = np.int32
    for name in FAST_BACKENDS:
        fast = kernels.get(name)
        D, y, s, w = problem(rng, n, d, dtype, index_dtype, density=density, dense=dense)
        b = float(rng.standard_normal())
        g, g_ref, h, h_ref = (np.empty(k, dtype) for k in (d, d, n, n))
        res = fast.loss_grad(D, y, s, w, b, g, hess_out=h, n_threads=n_threads)
        ref = REF.loss_grad(D, y, s, w, b, g_ref, hess_out=h_ref)
        assert_close(res, ref, dtype, "loss, grad_b")
        assert_close(g, g_ref, dtype, "grad")
        assert_close(h, h_ref, dtype, "hess_out")
        out, out_ref = np.empty(d, dtype), np.empty(d, dtype)
        assert_close(fast.hessp(D, h_ref, w, out, v_b=b, n_threads=n_threads),
                     REF.hessp(D, h_ref, w, out_ref, v_b=b), dtype, "hessp out_b")
        assert_close(out, out_ref, dtype, "hessp")


# ----------------------------------------------------------------------------- threads
def test_thread_counts_agree_and_repeat_exactly(fast, rng):
    """n_threads=1, 2, 3 agree within rounding; repeated calls with one count are identical."""
    n, d, k = 3000, 40, 3
    D, y, s, w = problem(rng, n, d, np.float64, np.int32, density=0.1)
    Dd = kernels.as_design(D.to_scipy().toarray())
    Y = np.eye(k)[rng.integers(0, k, n)]
    W = rng.standard_normal((d, k))
    B = np.zeros(k)

    def run(X, n_threads):
        g, h = np.empty(d), np.empty(n)
        loss, gb = fast.loss_grad(X, y, s, w, 0.1, g, hess_out=h, n_threads=n_threads)
        out = np.empty(d)
        out_b = fast.hessp(X, h, w, out, v_b=0.5, n_threads=n_threads)
        G, GB = np.empty((d, k)), np.empty(k)
        mloss = fast.multinomial_loss_grad(X, Y, s, W, B, G, GB, n_threads=n_threads)
        gram = fast.gram(X, h, np.empty((d, d)), n_threads=n_threads)
        diag = fast.hess_diag(X, h, np.empty(d), n_threads=n_threads)
        z = fast.decision(X, w, 0.1, n_threads=n_threads)
        g2, h2, dg = np.empty(d), np.empty(n), np.empty(d)
        fused = fast.loss_grad(X, y, s, w, 0.1, g2, hess_out=h2, n_threads=n_threads,
                               diag_out=dg)
        return [np.atleast_1d(a) for a in (loss, gb, g, h, out_b, out, mloss, G, GB, gram, diag, z,
                                           np.r_[fused], g2, h2, dg)]

    for X in (D, Dd):
        one = run(X, 1)
        for n_threads in (2, 3):
            first = run(X, n_threads)
            again = run(X, n_threads)
            for a, b_, c in zip(one, first, again):
                np.testing.assert_array_equal(b_, c)
                assert_close(b_, a, np.float64, f"n_threads={n_threads} vs 1")
    if fast.name == "numba":
        import numba

        before = numba.get_num_threads()
        fast.loss_grad(D, y, s, w, 0.1, np.empty(d), n_threads=1)
        assert numba.get_num_threads() == before


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_gram_sorted_and_unsorted_rows_agree(fast, rng, dtype):
    X = awkward_csr(rng, 80, 15, density=0.4, dtype=dtype)  # unsorted rows
    Xs = X.copy()
    Xs.sort_indices()
    dw = rng.uniform(0, 1, 80).astype(dtype)
    G_unsorted = fast.gram(X, dw, np.empty((15, 15), dtype), n_threads=2)
    G_sorted = fast.gram(Xs, dw, np.empty((15, 15), dtype), n_threads=2)
    # sorted rows take a branch-free path that adds the same products in the same order
    np.testing.assert_array_equal(G_sorted, G_unsorted)
    assert_close(G_sorted, REF.gram(Xs, dw, np.empty((15, 15), dtype)), dtype, "gram")


def test_thread_cost_model(fast, rng, monkeypatch):
    """kernel_threads: fewer threads for small work or large per-thread buffers, never more
    than asked, the count asked with exact_threads(); a kernel call under the model gives the
    result of the chosen count, bitwise."""
    monkeypatch.delenv("FASTLOGIT_EXACT_THREADS", raising=False)
    with exact_threads():
        assert kernel_threads(2, 1000, 77_739, 47_236) == 2
    from fastlogit import _config
    monkeypatch.setattr(_config, "_exact", False)
    assert kernel_threads(2, 1000, 77_739, 47_236) == 1  # rcv1_small gradient / hessp
    assert kernel_threads(2, 32_561, 451_592, 123) == 2  # a9a
    assert kernel_threads(2, 15_935, 1_272_569, 62_061) == 2  # news20
    assert kernel_threads(64, 100, 5_000, 10) == 1
    assert kernel_threads(3, 10**7, 10**9, 10**6) == 3
    assert kernel_threads(8, 3, 10**9, 0) == 3  # never more threads than rows
    counts = [kernel_threads(16, n, 40 * n, 1000) for n in (10, 10**3, 10**4, 10**5, 10**6)]
    assert counts == sorted(counts) and counts[0] == 1 and counts[-1] == 16
    D, y, s, w = problem(rng, 60, 7, np.float64)
    got, one = np.empty(7), np.empty(7)
    r = fast.loss_grad(D, y, s, w, 0.1, got, n_threads=2)
    with exact_threads():
        r1 = fast.loss_grad(D, y, s, w, 0.1, one, n_threads=1)
    assert r == r1
    np.testing.assert_array_equal(got, one)


@pytest.mark.parametrize("layout", ["dense", "csr"])
def test_one_thread_writes_output_directly_but_not_over_its_input(fast, rng, layout):
    """With one thread and float64 output the Cython kernels accumulate into the output
    itself, unless it is the vector being gathered (out=v): both give the reference."""
    D, y, s, w = problem(rng, 30, 30, np.float64, dense=layout == "dense")
    dw = rng.uniform(0.1, 1.0, 30)
    ref = np.empty(30)
    REF.hessp(D, dw, w, ref)
    v = w.copy()
    fast.hessp(D, dw, v, v, n_threads=1)  # out is v
    assert_close(v, ref, np.float64, "hessp out=v")
    out = np.full(30, np.nan)
    fast.hessp(D, dw, w, out, n_threads=1)
    assert_close(out, ref, np.float64, "hessp")
    g = np.full(30, np.nan)
    fast.loss_grad(D, y, s, w, 0.1, g, n_threads=1)
    g_ref = np.empty(30)
    REF.loss_grad(D, y, s, w, 0.1, g_ref)
    assert_close(g, g_ref, np.float64, "loss_grad")


# ----------------------------------------------------------------------------- NaN propagation
def _all_kernel_outputs(ks, D, Y1, W, V, dvec):
    """Run every kernel of ``ks`` once on Design ``D`` and return {name: result array}.

    Y1 : (n,) labels; W : (d, K) weights (column 0 is the binary w); V : (d, K) direction
    (column 0 is the binary v); dvec : (n,) Hessian weights."""
    n, d = D.shape
    t = D.dtype
    K = W.shape[1]
    out = {}
    g, h = np.empty(d, t), np.empty(n, t)
    loss, gb = ks.loss_grad(D, Y1, None, W[:, 0].copy(), 0.1, g, h, n_threads=2)
    out.update(loss_grad=np.r_[loss, gb, g, h], loss=np.r_[ks.loss(D, Y1, None, W[:, 0].copy(),
                                                                   0.1, n_threads=2)])
    g2, h2, dg = np.empty(d, t), np.empty(n, t), np.empty(d, t)
    loss2, gb2 = ks.loss_grad(D, Y1, None, W[:, 0].copy(), 0.1, g2, h2, n_threads=2, diag_out=dg)
    out["loss_grad_diag"] = np.r_[loss2, gb2, g2, h2, dg]
    out["decision"] = ks.decision(D, W[:, 0].copy(), 0.1, n_threads=2)
    hp = np.empty(d, t)
    out["hessp"] = np.r_[ks.hessp(D, dvec, V[:, 0].copy(), hp, 0.2, n_threads=2), hp]
    out["hess_diag"] = ks.hess_diag(D, dvec, np.empty(d, t), n_threads=2)
    out["gram"] = ks.gram(D, dvec, np.empty((d, d), t), n_threads=2).ravel()
    Y = np.zeros((n, K), t)
    Y[np.arange(n), np.arange(n) % K] = 1.0
    G, GB, P = np.empty((d, K), t), np.empty(K, t), np.empty((n, K), t)
    mloss = ks.multinomial_loss_grad(D, Y, None, W, np.zeros(K, t), G, GB, P, n_threads=2)
    out["multinomial_loss_grad"] = np.r_[mloss, G.ravel(), GB, P.ravel()]
    Pfix = np.full((n, K), 1.0 / K, t)
    HV, HB = np.empty((d, K), t), np.empty(K, t)
    ks.multinomial_hessp(D, Pfix, None, V, np.zeros(K, t), HV, HB, n_threads=2)
    out["multinomial_hessp"] = np.r_[HV.ravel(), HB]
    for k in (1, K):
        st_W, st_b, state = W[:, :k].astype(np.float64), np.zeros(k), np.r_[1.0, 0, 0, 0, 0]
        Yk = Y1[:, None].copy() if k == 1 else Y
        sloss = ks.sgd_epoch(D, Yk, None, np.arange(n, dtype=np.int64), st_W, st_b, state,
                             schedule="constant", eta0=0.1, lam2=0.01, n_threads=1)
        out[f"sgd_epoch K={k}"] = np.r_[sloss, st_W.ravel(), st_b]
    return out


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("fn", ["log1pexp", "log_sigmoid", "sigmoid"])
def test_pointwise_nan(fast, fn, dtype):
    """NaN margins give NaN, the others are untouched (issue 13: Cython gave sigmoid(nan) = 0)."""
    z = np.array([np.nan, 1.0, -1.0, 0.0, np.nan, 800.0, -800.0, np.nan], dtype)
    got = getattr(fast, fn)(z)
    ref = getattr(REF, fn)(z)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(z))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("layout", ["dense", "csr"])
@pytest.mark.parametrize("where", ["w", "X"])
def test_nan_propagates_like_reference(fast, rng, layout, dtype, where):
    """A NaN in the weights / direction / Hessian weights (``w``) or in X's values (``X``) gives
    NaN in exactly the outputs where the NumPy reference gives NaN, for every kernel; the
    other outputs agree with the reference."""
    n, d, K = 30, 6, 3
    X = awkward_csr(rng, n, d, density=0.5, dtype=dtype)
    W = rng.standard_normal((d, K)).astype(dtype)
    V = rng.standard_normal((d, K)).astype(dtype)
    dvec = rng.uniform(0.1, 1.0, n).astype(dtype)
    y = rng.integers(0, 2, n).astype(dtype)
    if where == "w":
        W[2, :] = np.nan
        V[2, :] = np.nan
        dvec[np.flatnonzero(np.diff(X.indptr))[1]] = np.nan  # a row with non-zeros
    else:
        X.data[[3, X.nnz // 2]] = np.nan
    D = kernels.as_design(X.toarray()) if layout == "dense" else kernels.as_design(X)
    got = _all_kernel_outputs(fast, D, y, W, V, dvec)
    ref = _all_kernel_outputs(REF, D, y, W, V, dvec)
    for name, r in ref.items():
        g = got[name]
        assert np.isnan(r).any(), name  # the NaN reached this output
        np.testing.assert_array_equal(np.isnan(g), np.isnan(r), err_msg=f"{name}: NaN pattern")
        ok = ~np.isnan(r)
        np.testing.assert_allclose(g[ok], r[ok], rtol=RTOL[np.dtype(dtype)] * 100,
                                   atol=RTOL[np.dtype(dtype)] * 100 * max(1, np.abs(r[ok]).max(
                                       initial=0)), err_msg=name)


# ----------------------------------------------------------------------------- Design checks
def _csr_parts(rng):
    X = awkward_csr(rng, 6, 5, density=0.5)
    return X.data, X.indices, X.indptr


@pytest.mark.parametrize("case,message", [
    (lambda p: ("sparse", p, (6, 5), np.float64), "kind must be"),
    (lambda p: ("csr", p, (9, 5), np.float64), "indptr has 7 entries"),
    (lambda p: ("csr", p, (6, 2), np.float64), "column indices must lie in"),
    (lambda p: ("csr", p, (6, 5), np.float32), "data has dtype float64, declared float32"),
    (lambda p: ("csr", p, (6, 5), np.int64), "dtype must be float32 or float64"),
    (lambda p: ("csr", p, (6,), np.float64), "shape must be two integers"),
    (lambda p: ("csr", p, (6, -5), np.float64), "shape must be two integers >= 0"),
    (lambda p: ("csr", p[:2], (6, 5), np.float64), "must be a tuple"),
    (lambda p: ("csr", (p[0][:3], p[1], p[2]), (6, 5), np.float64), "beyond data"),
    (lambda p: ("csr", (p[0], p[1][:3], p[2]), (6, 5), np.float64), "beyond data"),
    (lambda p: ("csr", (p[0], p[1].astype(np.int16), p[2]), (6, 5), np.float64),
     "indices must be int32 or int64"),
    (lambda p: ("csr", (p[0], p[1], p[2][::-1].copy()), (6, 5), np.float64), "non-decreasing"),
    (lambda p: ("csr", (p[0], p[1], p[2] - 1), (6, 5), np.float64), "non-negative"),
    (lambda p: ("csr", (p[0], p[1], list(p[2])), (6, 5), np.float64), "numpy array"),
    (lambda p: ("csr", (p[0][::2], p[1], p[2]), (6, 5), np.float64), "C-contiguous"),
    (lambda p: ("dense", (np.ones((3, 2)),), (4, 2), np.float64), "X has shape (3, 2)"),
    (lambda p: ("dense", (np.ones((3, 2)),), (3, 2), np.float32), "X has dtype float64"),
    (lambda p: ("dense", (np.ones((2, 3)).T,), (3, 2), np.float64), "C-contiguous"),
])
def test_design_constructor_validates(rng, case, message):
    """issue 13: a hand-built Design whose shape exceeds its arrays crashed the compiled
    kernels; the public constructor now refuses every inconsistent one."""
    with pytest.raises(ValueError, match=re.escape(message)):
        Design(*case(_csr_parts(rng)))


def _raw_csr(data, indices, indptr, shape):
    """A SciPy CSR matrix over the given arrays without SciPy's own checks (so that
    as_design's checks are the ones that meet a broken structure)."""
    X = sp.csr_matrix(shape)
    X.data, X.indices, X.indptr = data, indices, indptr
    return X


@pytest.mark.parametrize("case,message", [
    # a decreasing indptr
    (lambda: _raw_csr(np.ones(3), np.array([0, 1, 2], dtype=np.int32),
                      np.array([0, 2, 1, 3], dtype=np.int32), (3, 4)),
     "X: CSR indptr must be non-decreasing"),
    # a negative column index
    (lambda: _raw_csr(np.ones(3), np.array([0, -1, 2], dtype=np.int32),
                      np.array([0, 1, 2, 3], dtype=np.int32), (3, 4)),
     "X: CSR column indices must lie in [0, 4)"),
    # a column index >= n_features
    (lambda: _raw_csr(np.ones(3), np.array([0, 4, 2], dtype=np.int32),
                      np.array([0, 1, 2, 3], dtype=np.int32), (3, 4)),
     "X: CSR column indices must lie in [0, 4)"),
])
def test_as_design_csr_checks_keep_their_messages(case, message):
    """as_design's compiled structure checks (kernels.numba_impl.non_decreasing / min_max)
    raise the messages the NumPy checks raised, word for word."""
    with pytest.raises(ValueError, match=re.escape(message)):
        kernels.as_design(case())


def test_as_design_accepts_an_empty_csr_and_the_index_bounds():
    """No stored entry (no index to check), and indices at 0 and n_features - 1 exactly."""
    empty = kernels.as_design(sp.csr_matrix((3, 4)))
    assert empty.nnz == 0 and empty.shape == (3, 4)
    edge = kernels.as_design(sp.csr_matrix((np.ones(2), ([0, 2], [0, 3])), shape=(3, 4)))
    assert edge.nnz == 2
    from fastlogit.kernels import numba_impl

    a = np.array([5, -3, 7, 0], dtype=np.int64)
    assert numba_impl.min_max(a) == (-3, 7) and numba_impl.min_max(a[:1]) == (5, 5)
    assert numba_impl.non_decreasing(np.array([0, 0, 2, 5]))
    assert numba_impl.non_decreasing(np.array([0]))
    assert not numba_impl.non_decreasing(np.array([0, 3, 2]))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, -0.5, 1.5])
def test_targets_outside_the_unit_interval_keep_their_message(bad):
    """validation.check_targets' compiled check (numba_impl.within_unit_interval): NaN, inf
    and values outside [0, 1] raise the message they raised before, 1-D and 2-D; 0 and 1
    pass."""
    from fastlogit.validation import check_targets

    msg = "y must hold probabilities in [0, 1] (no NaN or inf)"
    for y in (np.array([0.0, 1.0, bad, 0.5]),
              np.array([[0.5, 0.5], [bad, 1.0 - bad if np.isfinite(bad) else 0.0],
                        [0.0, 1.0], [1.0, 0.0]])):
        with pytest.raises(ValueError, match=re.escape(msg)):
            check_targets(y, 4)
    np.testing.assert_array_equal(check_targets([0, 1, 1.0, 0.25], 4), [0, 1, 1, 0.25])
    np.testing.assert_array_equal(check_targets(np.array([[0.0], [1.0]]), 2), [0.0, 1.0])


def test_design_valid_and_trusted_paths(rng):
    data, indices, indptr = _csr_parts(rng)
    D = Design("csr", [data, indices, indptr], [6, 5], "float64")
    assert D.arrays[0] is data and D.shape == (6, 5) and D.dtype == np.float64
    blk = D.rows(2, 5)  # indptr not starting at 0: valid
    assert Design(blk.kind, blk.arrays, blk.shape, blk.dtype).n_rows == 3
    empty = Design("csr", (data[:0], indices[:0], np.zeros(1, np.int64)), (0, 5), np.float64)
    assert empty.nnz == 0
    T = Design.trusted("dense", (np.ones((2, 2)),), (2, 2), np.dtype(np.float64))
    assert T.n_rows == 2 and kernels.as_design(T) is T


def test_kernel_threads_cached_choice_equals_the_model(monkeypatch):
    """KernelThreads(n_rows, nnz, buffer_len)(n_threads) returns kernel_threads' count for
    every size and request, under threadpoolctl limits, exact_threads() and
    FASTLOGIT_EXACT_THREADS=1 as well (each call sees the limit of its moment); a bad
    n_threads raises kernel_threads' ValueError, also when it changes after good calls."""
    from threadpoolctl import threadpool_limits

    from fastlogit import _config
    from fastlogit._config import KernelThreads

    monkeypatch.delenv("FASTLOGIT_EXACT_THREADS", raising=False)
    monkeypatch.delenv("FASTLOGIT_NUM_THREADS", raising=False)
    monkeypatch.setattr(_config, "busy_cores", lambda: 0)
    monkeypatch.setattr(_config, "_exact", False)
    sizes = [(800, 62_766, 8_849), (1000, 77_739, 2 * 47_236), (32_561, 451_592, 123),
             (10**7, 10**9, 10**6), (3, 10**9, 0), (100, 5_000, 10)]
    requests = [None, 1, 2, 3, 64, -1]
    for n_rows, nnz, buf in sizes:
        choice = KernelThreads(n_rows, nnz, buf)
        for _ in range(2):  # the first call checks n_threads, the second may be cached
            for n in requests:
                assert choice(n) == kernel_threads(n, n_rows, nnz, buf)
                with threadpool_limits(limits=1):
                    assert choice(n) == kernel_threads(n, n_rows, nnz, buf)
                with exact_threads():
                    assert choice(n) == kernel_threads(n, n_rows, nnz, buf)
                monkeypatch.setenv("FASTLOGIT_EXACT_THREADS", "1")
                assert choice(n) == kernel_threads(n, n_rows, nnz, buf)
                monkeypatch.delenv("FASTLOGIT_EXACT_THREADS")
    small = KernelThreads(800, 62_766, 8_849)
    assert small.single and small(1) == 1 and small(1) == 1
    with exact_threads():
        assert small(4) == 4  # the count asked for, not the cached single thread
    for bad in (0, "two", 1.5j):
        with pytest.raises(ValueError, match="n_threads"):
            small(bad)
    assert small(2) == 1
    with pytest.raises(ValueError, match="n_threads"):
        small(0)
