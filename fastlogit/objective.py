"""The objective solvers see: a data term times C plus a penalty (the model contract).

::

    F(theta) = C * L(theta) + R(w)
    L(theta) = sum_i s_i l(y_i, z_i)     z_i = x_i . w + b          (binary,  l = log(1 + e^z) - y z)
                                         Z_i = W^T x_i + B          (softmax, l = logsumexp(Z_i) - Y_i . Z_i)

:class:`Objective` composes a data term (:class:`fastlogit.contract.DataTerm`: in memory
here, chunked in :mod:`fastlogit.outofcore`, distributed in :mod:`fastlogit.dask`, other losses
in :mod:`fastlogit.extras`) with a :class:`fastlogit.penalties.Penalty`; the theta layout is
:class:`fastlogit.layout.Layout`'s.  The intercept is never penalised.

The *smooth part* ``f = C L + S(w)`` (S: the penalty's smooth part) is what ``value_grad``,
``hessp``, ``hessian`` and ``hess_diag`` describe; ``value`` is the full F, L1 part included.
Solvers never see a backend: every pass over X is the data term's.

:class:`LogLossData` is the in-memory log-loss through the fused kernels.  Its cache
(LIBLINEAR's ``wx``/``D``): ``loss_grad(theta)`` keeps, for the last two distinct thetas, L
and the curvature (IRLS weights for binary, probabilities for softmax), so that a following
``hessp``/``hessian``/``hess_diag`` at the same theta costs only its own kernel pass, and a
trust-region solver can evaluate a rejected trial point without losing the state of the
current one.  For softmax each slot keeps its own copy of theta in a buffer reused from point
to point, written by the same compiled pass that lays theta out for the kernels
(:mod:`fastlogit._softmax_theta`), which also writes the gradient back in theta's layout with
C and the L2 term applied (:meth:`LogLossData.l2_loss_grad`).  The gradient is handed to the caller, not kept: the memory of a fit beyond X
is the curvature (two n-vectors) and a few n_params-vectors (benchmarks/bench_memory.py).  Line searches use :meth:`Objective.line`: the margins along a direction
are computed once, each trial step then costs O(n + p).
"""
import numpy as np
from numba import njit

from . import _softmax_theta
from ._columns import used_columns
from ._design_rows import CSRRowCopy, csr_rows_nnz, row_sq_norms, row_subset
from . import kernels as _kernels
from ._config import KernelThreads, kernel_threads
from ._docstring import fill_doc
from .layout import Layout
from .penalties import ElasticNet, NoPenalty, make_penalty
from .validation import check_C, check_sample_weight, check_targets

__all__ = ["Objective", "LogLossData", "LineFunction", "PenaltyLine", "pointwise_loss_sum",
           "RowSubsetCurvature"]

#: LogLossData.row_subset_curvature uses an earlier row subset's copy of X again when it holds
#: at most this factor more values than the rows it would keep (each CG product then costs
#: that much more; a new copy costs about one product over the kept rows).
_REUSE_SLACK = 1.05
#: Below this many columns, dropping the empty ones saves less than the O(nnz) scan costs.
_COMPACT_MIN_FEATURES = 256
#: Column ids handled per block by LogLossData.compact_columns (bounds its int64 temporaries).
_COMPACT_BLOCK = 1 << 20
#: Binary data terms with at most this many features make the Hessian diagonal in their value /
#: gradient pass once it has been asked for (LogLossData.hess_diag).  It costs a d-vector per
#: cached point and a second d-vector per thread during the pass; beyond this size that memory
#: (item 3 of issue 18: peak extra memory of a large fit) weighs more than the pass it saves.
FUSE_DIAG_MAX_FEATURES = 1 << 16


def _binary_loss(y, z):
    """Per-sample log(1 + exp(z)) - y z, float64, stable for every finite z."""
    e = np.exp(-np.abs(z))
    return np.log1p(e) + np.where(z > 0, (1.0 - y) * z, -y * z)


def _multinomial_loss(Y, Z):
    """Per-sample logsumexp(Z_i) - Y_i . Z_i, float64 (max-shifted)."""
    m = Z.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(Z - m).sum(axis=1))
    return lse - np.einsum("ij,ij->i", Y, Z)


def pointwise_loss_sum(y, z, s=None):
    """``sum_i s_i l(y_i, z_i)`` from margins, in float64 (binary if z is 1-D, else softmax)."""
    z = np.asarray(z, dtype=np.float64)
    loss = _binary_loss(y, z) if z.ndim == 1 else _multinomial_loss(y, z)
    return float(loss.sum() if s is None else s @ loss)


class _State:
    """Cached quantities at one theta."""

    __slots__ = ("theta", "loss", "grad", "curv", "age", "buf", "diag", "diag_ok")

    def __init__(self, curv):
        self.theta = None
        self.loss = None
        self.grad = None
        self.curv = curv
        self.age = 0
        self.buf = None  # softmax: this slot's own copy of theta, reused across points
        self.diag = None  # binary: the Hessian diagonal of X^T D X, when the pass made it
        self.diag_ok = False  # diag holds the diagonal at theta


class LogLossData:
    """L(theta) = sum_i s_i l(y_i, z_i), binary or softmax log-loss, over an in-memory design.

    A :class:`fastlogit.contract.DataTerm`; every pass over X goes through the fused kernels
    of :mod:`fastlogit.kernels`.

    Parameters
    ----------
    X : ndarray (n, d), scipy sparse matrix, or :class:`fastlogit.kernels.Design`
        float32 / float64 kept; anything else becomes float64.
    y : array of shape (n,) with values in [0, 1] (binary) or (n, K) rows of class
        probabilities summing to 1 (softmax, K >= 2).
    sample_weight : array of shape (n,), finite and >= 0, or None (all ones)
    fit_intercept : bool
    backend : str or KernelSet
    n_threads : int or None

    Attributes
    ----------
    design, y (float64), sample_weight (float64 or None), kernels, n_threads, dtype (of the
    data), layout, n_samples, n_features, n_classes (1 = binary), n_params, fit_intercept,
    n_evals (dict counting kernel passes by kind).
    """

    def __init__(self, X, y, sample_weight=None, *, fit_intercept=True, backend="auto",
                 n_threads=None):
        design = _kernels.as_design(X)
        n = design.shape[0]
        self._setup(design, check_targets(y, n), check_sample_weight(sample_weight, n),
                    bool(fit_intercept), _kernels.get(backend), n_threads)

    @classmethod
    def trusted(cls, design, y, sample_weight, fit_intercept, kernels, n_threads):
        """A data term from already validated parts (a Design, float64 y and weights)."""
        data = cls.__new__(cls)
        data._setup(design, y, sample_weight, fit_intercept, kernels, n_threads)
        return data

    def _setup(self, design, y, sample_weight, fit_intercept, kernels, n_threads):
        self.design = design
        self.y = y
        self.sample_weight = sample_weight
        self.kernels = kernels
        self.n_threads = n_threads
        self.dtype = design.dtype
        self.n_samples, self.n_features = design.shape
        self.n_classes = 1 if y.ndim == 1 else y.shape[1]
        self.fit_intercept = fit_intercept
        self.layout = Layout(self.n_features, self.n_classes, fit_intercept)
        self.n_params = self.layout.n_params
        t = self.dtype
        self._y = np.ascontiguousarray(y, dtype=t)
        self._s = None if sample_weight is None else np.ascontiguousarray(sample_weight, dtype=t)
        n, d, k = self.n_samples, self.n_features, self.n_classes
        # Kernel-side buffers in the data dtype, reused across calls.  Binary float64 data
        # needs none: the kernels read and write d-slices of theta and of the float64
        # results directly (each buffer would be one more d-vector of a large fit's memory).
        self._direct = k == 1 and t == np.float64
        shape = (n,) if k == 1 else (n, k)
        n_buf = 0 if self._direct else (d if k == 1 else (d, k))
        self._w = np.zeros(n_buf, dtype=t)
        self._gw = np.zeros_like(self._w)
        self._hv = np.zeros_like(self._w)
        self._gb = np.zeros(k, dtype=t)
        self._B = np.zeros(k, dtype=t)
        self._vb = np.zeros(k, dtype=t)
        self._col = np.zeros(0 if self._direct else d, dtype=t)
        self._states = [_State(np.zeros(shape, dtype=t)), _State(np.zeros(shape, dtype=t))]
        self._clock = 0
        # Binary: once a solver has asked for the Hessian diagonal, every value / gradient
        # pass also makes it (the same scatter over X), so that the next hess_diag at that
        # point needs no pass of its own (trust-region / Newton-CG precondition with it at
        # every iterate).
        self._row_sq = None  # ||x~_i||^2 per row, for row_subset_curvature's bound
        self._fuse_diag = False
        self._may_fuse_diag = k == 1 and d <= FUSE_DIAG_MAX_FEATURES
        # threads of the softmax layout moves (_softmax_theta; results independent of them)
        self._move_threads = 1 if k == 1 else _softmax_theta.threads_for(n_threads, d, k)
        # Binary value / gradient passes call the backend's raw kernel directly: every
        # argument but theta is this object's own (checked here, once), theta is checked by
        # the objective, and the thread count's cost model is evaluated once for these sizes
        # (KernelThreads).  A KernelSet of another type (a subclass may redefine loss_grad)
        # goes through its checked entry point.
        module = getattr(kernels, "module", None)
        direct = k == 1 and type(kernels) is _kernels.KernelSet
        self._raw = None
        if direct and getattr(module, f"loss_grad_diag_{design.kind}", None) is not None:
            self._raw = (getattr(module, f"loss_grad_{design.kind}"),
                         getattr(module, f"loss_grad_diag_{design.kind}"))
            self._raw_s = np.empty(0, dtype=t) if self._s is None else self._s
            self._raw_threads = (KernelThreads(design.n_rows, design.nnz, d),
                                 KernelThreads(design.n_rows, design.nnz, 2 * d))
        self.n_evals = {"value_grad": 0, "value": 0, "hessp": 0, "hessian": 0, "hess_diag": 0,
                        "margins": 0}

    def __repr__(self):
        return (f"LogLossData(n_samples={self.n_samples}, n_features={self.n_features}, "
                f"n_classes={self.n_classes}, fit_intercept={self.fit_intercept}, "
                f"dtype={self.dtype}, backend={self.kernels.name!r})")

    # ------------------------------------------------------------------ blocks
    def rows(self, start, stop):
        """The data term of rows [start, stop) (zero-copy design block)."""
        design = self.design.rows(start, stop)
        start, stop, _ = slice(start, stop).indices(self.n_samples)
        stop = max(stop, start)
        sw = None if self.sample_weight is None else self.sample_weight[start:stop]
        return LogLossData.trusted(design, self.y[start:stop], sw, self.fit_intercept,
                                   self.kernels, self.n_threads)

    def compact_columns(self, max_fraction=0.8):
        """This data term over only the columns of a sparse X that hold a non-zero.

        Returns ``(reduced, keep)``, ``keep`` a bool mask (n_params,) of the theta entries
        that ``reduced`` covers; None when X is dense, has at most 256 columns, or more than
        ``max_fraction`` of them are used (then the O(nnz) scan and re-indexing do not pay).
        """
        if self.design.kind != "csr" or self.n_features <= _COMPACT_MIN_FEATURES:
            return None
        data, indices, indptr = self.design.arrays
        lo, hi = int(indptr[0]), int(indptr[-1])
        # compiled, no int64 copy; it stops once more than the allowed fraction is used
        limit = int(np.floor(max_fraction * self.n_features))
        used = used_columns(indices, lo, hi, self.n_features, stop=limit)
        n_used = int(np.count_nonzero(used))
        if n_used > max_fraction * self.n_features:
            return None
        rank = np.cumsum(used, dtype=indices.dtype) - 1
        # Column ids are rewritten a block at a time: numpy indexes with intp, and a
        # whole-array index would convert all nnz ids to int64 first (8 bytes per non-zero
        # of transient memory, more than the int32 ids and near the values').
        new_indices = np.empty(hi - lo, dtype=indices.dtype)
        for a in range(lo, hi, _COMPACT_BLOCK):
            b = min(a + _COMPACT_BLOCK, hi)
            np.take(rank, indices[a:b], out=new_indices[a - lo:b - lo])
        design = _kernels.Design("csr", (data[lo:hi], new_indices, indptr - indptr[0]),
                                 (self.n_samples, n_used), self.dtype)
        reduced = LogLossData.trusted(design, self.y, self.sample_weight, self.fit_intercept,
                                      self.kernels, self.n_threads)
        keep = np.tile(np.r_[used, np.ones(int(self.fit_intercept), dtype=bool)],
                       self.n_classes)
        return reduced, keep

    # ------------------------------------------------------------------ cache
    def _load(self, theta, keep=None):
        """Write the coefficients/intercepts of theta into the kernel-dtype buffers (binary:
        returns ``(w, b)``, w the view theta[:d] for float64 data; softmax: W in
        ``self._w``, the intercepts in ``self._B``, a copy of theta into ``keep`` when given,
        in one compiled pass (:mod:`fastlogit._softmax_theta`); returns ``||w||^2``)."""
        d, fi = self.n_features, self.fit_intercept
        if self.n_classes == 1:
            b = float(theta[d]) if fi else 0.0
            if self._direct:
                return np.ascontiguousarray(theta[:d]), b
            self._w[:] = theta[:d]
            return self._w, b
        return _softmax_theta.load(np.ascontiguousarray(theta), d, fi, self._w, self._B, keep,
                                   self._move_threads)

    def _find(self, theta):
        for st in self._states:
            t = st.theta
            # the last entry first: a new iterate is told apart without an O(p) comparison
            if (t is not None and t.shape == theta.shape
                    and (t.size == 0 or t[-1] == theta[-1]) and (t == theta).all()):
                return st
        return None

    def _state(self, theta):
        """The cached state at theta, computed (into the older slot) when absent."""
        st = self._find(theta)
        if st is None:
            st = self._compute(theta)
        self._clock += 1
        st.age = self._clock
        return st

    def _compute(self, theta, st=None, scale=None):
        """One fused pass at theta into slot ``st`` (default: the older one); the state
        keeps theta, L and the curvature, and (until :meth:`loss_grad` hands it out) the
        gradient.  With ``scale = (C, a)`` the gradient is that of ``C L + a/2 ||w||^2``,
        not kept in the state, returned as ``(st, grad, ||w||^2)`` (softmax) or ``(st, grad,
        C L + a/2 ||w||^2)`` (binary)."""
        if st is None:  # the older slot (the first of equals, as min() takes it)
            a, b = self._states
            st = a if a.age <= b.age else b
        self.n_evals["value_grad"] += 1
        grad = np.empty(self.n_params)
        d = self.n_features
        if self.n_classes > 1:
            return self._compute_softmax(theta, st, grad, scale)
        w, b = self._load(theta)
        gw = grad[:d] if self._direct else self._gw
        fuse = self._fuse_diag
        if fuse and st.diag is None:
            st.diag = np.empty(d, dtype=self.dtype)
        st.theta = None  # the slot is invalid until the pass has finished
        if self._raw is not None:
            args = [*self.design.arrays, self._y, self._raw_s, w, b, gw, st.curv]
            if fuse:
                args.append(st.diag)
            loss, gb = self._raw[fuse](*args, self._raw_threads[fuse](self.n_threads))
        else:
            loss, gb = self.kernels.loss_grad(self.design, self._y, self._s, w, b, gw,
                                              st.curv, n_threads=self.n_threads,
                                              diag_out=st.diag if fuse else None)
        st.diag_ok = fuse
        if not self._direct:
            grad[:d] = gw
        if self.fit_intercept:
            grad[d] = gb
        if st.buf is None or st.buf.shape != theta.shape:
            st.buf = np.empty_like(theta)
        st.loss = float(loss)
        if scale is not None:  # C and the L2 term applied, theta copied, in one pass
            f, grad = add_l2(self.layout, theta, st.loss, grad, *scale, keep=st.buf)
            st.theta, st.grad = st.buf, None
            return st, grad, f
        st.buf[:] = theta
        st.theta = st.buf
        st.grad = grad
        return st

    def _compute_softmax(self, theta, st, grad, scale):
        """The softmax branch of :meth:`_compute`: theta is copied into the slot's own buffer
        by the same pass that fills W (no new array per point), the gradient is written in
        theta's layout by one compiled pass."""
        if st.buf is None or st.buf.shape != theta.shape:
            st.buf = np.empty_like(theta)
        st.theta = None  # the slot is invalid until the pass has finished
        ss = self._load(theta, st.buf)
        loss = self.kernels.multinomial_loss_grad(
            self.design, self._y, self._s, self._w, self._B, self._gw, self._gb,
            st.curv, n_threads=self.n_threads)
        C, a = (1.0, 0.0) if scale is None else scale
        _softmax_theta.store_grad(self._gw, self._gb, C, a, st.buf, self.n_features,
                                  self.fit_intercept, grad, self._move_threads)
        st.theta = st.buf
        st.loss = float(loss)
        if scale is not None:
            st.grad = None
            return st, grad, ss
        st.grad = grad
        return st

    def curvature(self, theta):
        """The curvature at theta (IRLS weights (n,) or probabilities (n, K)), data dtype."""
        return self._state(theta).curv

    def seed_curvature(self, theta, curv):
        """Make ``curv`` the cached curvature at theta (no pass over X), for a caller that
        kept it from an earlier :meth:`loss_grad` at the same theta (chunked data)."""
        st = min(self._states, key=lambda s: s.age)
        self._clock += 1
        st.theta, st.loss, st.grad, st.age = theta, None, None, self._clock
        st.curv[...] = curv
        st.diag_ok = False

    # ------------------------------------------------------------------ DataTerm
    def loss_grad(self, theta):
        """(L, grad L) at theta (float64, grad of shape (n_params,)); caches curvature.

        The gradient array is the caller's (the state does not keep a copy of it: one
        d-vector less per cached point); a second call at the same theta makes the pass
        again, into the same slot.
        """
        st = self._state(theta)
        if st.grad is None:  # handed out before, or seeded curvature only
            self._compute(theta, st)
        grad, st.grad = st.grad, None
        return st.loss, grad

    def l2_loss_grad(self, theta, C, a):
        """``(C L(theta) + a/2 ||w||^2, its gradient)``: :meth:`Objective.value_grad` for a
        penalty whose smooth part is ``a/2 ||w||^2`` (the elastic-net family).

        Softmax: one kernel pass between two compiled layout passes that also scale the
        gradient, add ``a w`` and sum ``||w||^2`` (:mod:`fastlogit._softmax_theta`); no
        copy of theta or of the coefficients beyond the cache's own.  Binary: the kernel
        pass, then one compiled pass (:func:`add_l2`) that scales the gradient, adds ``a w``,
        sums ``||w||^2`` and copies theta into the cache's buffer.  A gradient still cached
        from a Hessian method's pass at theta is scaled by :func:`add_l2` without a pass.
        Caches the curvature as :meth:`loss_grad` does.

        Parameters
        ----------
        theta : ndarray of float64, shape (n_params,)
            Checked by the caller (finite, the layout's length).
        C : float
            Scale of the data term.
        a : float
            The L2 strength (0.0: no smooth penalty).

        Returns
        -------
        f : float
        grad : ndarray of float64, shape (n_params,)
            A new array, the caller's.
        """
        st = self._find(theta)
        if st is not None and st.grad is not None:
            loss, grad = self.loss_grad(theta)
            return add_l2(self.layout, theta, loss, grad, C, a)
        st, grad, value = self._compute(theta, st, scale=(float(C), float(a)))
        self._clock += 1
        st.age = self._clock
        if self.n_classes == 1:
            return value, grad
        return C * st.loss + (0.5 * a * value if a else 0.0), grad

    def loss(self, theta):
        """L(theta): from the cache, else one loss-only pass."""
        st = self._find(theta)
        if st is not None and st.loss is not None:
            return st.loss
        self.n_evals["value"] += 1
        if self.n_classes == 1:
            w, b = self._load(theta)
            loss = self.kernels.loss(self.design, self._y, self._s, w, b,
                                     n_threads=self.n_threads)
        else:
            self._load(theta)
            loss = self.kernels.multinomial_loss_grad(
                self.design, self._y, self._s, self._w, self._B, self._gw, self._gb,
                n_threads=self.n_threads)
        return float(loss)

    def hessp(self, theta, v):
        """Hess L(theta) v: one kernel pass when theta's curvature is cached."""
        st = self._state(theta)
        self.n_evals["hessp"] += 1
        d, fi = self.n_features, self.fit_intercept
        out = np.empty(self.n_params)
        if self.n_classes == 1:
            vb = float(v[d]) if fi else 0.0
            if self._direct:
                vw, hv = np.ascontiguousarray(v[:d]), out[:d]
            else:
                self._w[:] = v[:d]
                vw, hv = self._w, self._hv
            ob = self.kernels.hessp(self.design, st.curv, vw, hv, vb, n_threads=self.n_threads)
            if not self._direct:
                out[:d] = hv
            if fi:
                out[d] = ob
            return out
        k = self.n_classes
        V = v.reshape(k, d + fi)
        self._w[:] = V[:, :d].T
        self._vb[:] = V[:, d] if fi else 0.0
        self.kernels.multinomial_hessp(self.design, st.curv, self._s, self._w, self._vb,
                                       self._hv, self._gb, n_threads=self.n_threads)
        o = out.reshape(k, d + fi)
        o[:, :d] = self._hv.T
        if fi:
            o[:, d] = self._gb
        return out

    def row_subset_curvature(self, theta, max_bound, weight_rtol=None, max_fraction=0.9,
                             reuse=None):
        """The binary Hessian of L at theta over the rows whose curvature matters.

        Row i adds ``D_i x~_i x~_i^T`` to the Hessian (D the IRLS weights at theta, sample
        weights included; x~_i = (x_i, 1) with an intercept, else x_i), of 2-norm
        ``t_i = D_i ||x~_i||_2^2``.  The rows of smallest t_i are skipped while their sum
        stays at most ``max_bound`` (and, with ``weight_rtol``, their weights' sum at most
        ``weight_rtol`` times the kept rows': the intercept's curvature ``sum D_i`` has no
        penalty beside it); the others are kept as a row-subset copy of X with their
        weights, so that a product costs a pass over those rows only (the kernel of
        :meth:`hessp`).  The skipped share ``E = sum_{i skipped} D_i x~_i x~_i^T`` is
        positive semi-definite with ``||E||_2 <= sum_{i skipped} t_i = bound <= max_bound``
        (up to rounding): the subset's Hessian is below the full one and within ``bound``
        of it.

        Parameters
        ----------
        theta : ndarray of float64, shape (n_params,)
            Checked by the caller; its curvature is computed (one pass) unless cached.
        max_bound : float
            The most the skipped rows' ``t_i`` may sum to, >= 0 (0 skips the rows whose
            weight is exactly 0).
        weight_rtol : float or None, default=None
            The most the skipped rows' weights may sum to, relative to the kept rows' sum.
        max_fraction : float, default=0.9
            Return None when the kept rows hold more than this fraction of X's stored
            values (the copy would cost more than the products save).
        reuse : RowSubsetCurvature or None, default=None
            An earlier result of this data term (e.g. at the previous Newton step), whose
            copy of X's rows serves again, with the weights at theta, when it holds at most
            5 % more values than the rows kept now: the rows it lacks are appended to it
            (the latest result of a copy only; an earlier result's views stay valid), and
            the rows it has beyond them are kept too (fewer skipped, the bound smaller).

        Returns
        -------
        RowSubsetCurvature or None
            None for softmax data, a Design that is neither dense nor CSR, or when too
            much is kept (see ``max_fraction``).
        """
        if self.n_classes != 1 or self.design.kind not in ("csr", "dense"):
            return None
        curv = self._state(theta).curv
        design = self.design
        if self._row_sq is None:
            self._row_sq = row_sq_norms(design) + float(self.fit_intercept)
        cap = np.inf
        if weight_rtol is not None:
            # skipped sum <= rtol * kept sum  <=>  skipped sum <= rtol / (1 + rtol) * total
            cap = weight_rtol / (1.0 + weight_rtol) * float(curv.sum(dtype=np.float64))
        csr = design.kind == "csr"
        skip, _, skipped_nnz = _rows_to_skip(curv, self._row_sq, float(max_bound), cap,
                                                 design.arrays[2] if csr else _NO_PTR,
                                                 self.n_features)
        kept = design.nnz - skipped_nnz
        if kept > max_fraction * design.nnz:
            return None
        keep = np.ones(curv.size, dtype=bool)
        keep[skip] = False
        if reuse is not None and reuse._data is self:
            old = np.zeros(curv.size, dtype=bool)
            old[reuse.rows] = True
            missing = np.flatnonzero(keep & ~old)  # kept now, not in the earlier copy
            copy = reuse._copy
            if copy is not None and copy.n_rows == reuse.n_kept:  # reuse is the copy's latest
                more = int(csr_rows_nnz(design.arrays[2], missing))
                total = copy.nnz + more
                if total <= _REUSE_SLACK * kept and total <= copy.data.size:
                    if missing.size:  # appended: the earlier views do not reach them
                        copy.append(design, missing)
                    return self._subset(curv, np.concatenate((reuse.rows, missing)), copy)
            elif not missing.size and reuse.design.nnz <= _REUSE_SLACK * kept:
                return self._subset(curv, reuse.rows, None, reuse.design)
        rows = np.flatnonzero(keep)
        if csr:
            copy = CSRRowCopy(design, int(_REUSE_SLACK * kept) + 1)
            copy.append(design, rows)
            return self._subset(curv, rows, copy)
        return self._subset(curv, rows, None, row_subset(design, rows))

    def _subset(self, curv, rows, copy, design=None):
        """The :class:`RowSubsetCurvature` of ``rows`` (a copy's, or ``design``) with their
        weights ``curv[rows]``; its bound over the other rows."""
        skipped = np.ones(curv.size, dtype=bool)
        skipped[rows] = False
        bound = float(np.multiply(curv[skipped], self._row_sq[skipped], dtype=np.float64).sum())
        if design is None:
            design = copy.design(self.n_features, self.dtype)
        return RowSubsetCurvature(self, design, np.ascontiguousarray(curv[rows]), rows, bound,
                                  copy)

    def _curvature_weights(self, st, a, c):
        """Per-sample weights D_ac (n,), data dtype, of the Hessian block X^T D_ac X."""
        if self.n_classes == 1:
            return st.curv
        p_a = st.curv[:, a].astype(np.float64)
        w = p_a * ((a == c) - (p_a if a == c else st.curv[:, c].astype(np.float64)))
        if self.sample_weight is not None:
            w *= self.sample_weight
        return np.ascontiguousarray(w, dtype=self.dtype)

    def hessian(self, theta):
        """Dense Hess L(theta), (n_params, n_params) (gram kernel; small d only)."""
        st = self._state(theta)
        self.n_evals["hessian"] += 1
        d, fi, k = self.n_features, self.fit_intercept, self.n_classes
        m = d + fi
        H = np.zeros((self.n_params, self.n_params))
        G = np.empty((d, d), dtype=self.dtype)
        zero = np.zeros(d, dtype=self.dtype)
        col = np.empty(d, dtype=self.dtype)
        # the gram pass's thread count by the kernels' cost model (load included): about
        # nnz * (nnz per row) / 2 products, a d x d buffer per extra thread
        n_rows, nnz = self.design.n_rows, self.design.nnz
        threads = kernel_threads(self.n_threads, n_rows, nnz * max(1, nnz // max(n_rows, 1)) // 2,
                                 d * d)
        for a in range(k):
            for c in range(a, k):
                wts = self._curvature_weights(st, a, c)
                self.kernels.gram(self.design, wts, G, n_threads=threads)
                blk = H[a * m:(a + 1) * m, c * m:(c + 1) * m]
                blk[:d, :d] = G
                if fi:
                    sb = self.kernels.hessp(self.design, wts, zero, col, 1.0,
                                            n_threads=self.n_threads)
                    blk[:d, d] = blk[d, :d] = col
                    blk[d, d] = sb
                if a != c:
                    H[c * m:(c + 1) * m, a * m:(a + 1) * m] = blk.T
        return H

    def hess_diag(self, theta):
        """diag Hess L(theta), float64 (n_params,).

        Binary with at most :data:`FUSE_DIAG_MAX_FEATURES` features: from the value /
        gradient pass at theta when it made the diagonal (from the first call on, every such
        pass does: no pass of its own, and not counted in ``n_evals["hess_diag"]``); else one
        pass.
        """
        st = self._state(theta)
        d, fi, k = self.n_features, self.fit_intercept, self.n_classes
        out = np.empty((k, d + fi))
        self._fuse_diag = self._fuse_diag or self._may_fuse_diag
        fused = self._may_fuse_diag and st.diag_ok  # binary: made by the pass at theta
        if not fused:
            self.n_evals["hess_diag"] += 1
        for a in range(k):
            wts = self._curvature_weights(st, a, a)
            if fused:
                out[a, :d] = st.diag
            else:
                col = out[a, :d] if self._direct else self._col
                self.kernels.hess_diag(self.design, wts, col, n_threads=self.n_threads)
                if not self._direct:
                    out[a, :d] = col
            if fi:
                out[a, d] = float(wts.sum(dtype=np.float64))
        return out.ravel()

    def margins(self, theta, intercept=True):
        """z = X w (+ b): float64, (n,) binary or (n, K) softmax (one pass per class)."""
        self.n_evals["margins"] += 1
        d, fi, k = self.n_features, self.fit_intercept, self.n_classes
        rows = theta.reshape(k, d + fi)
        if self._direct:  # float64 binary: the kernel writes z itself
            z = np.empty(self.n_samples)
            self.kernels.decision(self.design, np.ascontiguousarray(rows[0, :d]),
                                  float(rows[0, d]) if (fi and intercept) else 0.0, z,
                                  n_threads=self.n_threads)
            return z
        out = np.empty(self.n_samples, dtype=self.dtype)
        Z = np.empty((self.n_samples, k))
        for a in range(k):
            self._col[:] = rows[a, :d]
            b = float(rows[a, d]) if (fi and intercept) else 0.0
            self.kernels.decision(self.design, self._col, b, out, n_threads=self.n_threads)
            Z[:, a] = out
        return Z[:, 0] if k == 1 else Z

    def loss_from_margins(self, z):
        """L at margins z (float64, evaluated pointwise in NumPy: O(n K))."""
        return pointwise_loss_sum(self.y, z, self.sample_weight)



@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _coef_sumsq(theta, d, m, k):
    """``||w||^2``: the sum of squares of theta's coefficients (k rows of m = d + intercept
    values, the first d of each), reassociated for speed (a fixed order for a given build)."""
    total = 0.0
    for c in range(k):
        w = theta[c * m:c * m + d]  # a slice per row: the loop below vectorises
        acc = 0.0
        for j in range(w.size):
            acc += w[j] * w[j]
        total += acc
    return total


@njit(cache=True, nogil=True, fastmath=False)  # stated: a jitted caller's flags would apply
def _scale_add_l2(grad, theta, C, a, d, m, k, keep):
    """In place, ``grad = C grad + a w`` on the coefficient entries and ``C grad`` on the
    intercepts (``C grad`` alone when a is 0); ``keep`` (length 0, or theta's) gets a copy of
    theta in the same read; returns ``||w||^2`` (0.0 when a is 0).  Each entry is
    ``fl(fl(C g) + fl(a w))``, the rounding of the NumPy expression ``grad *= C; grad += a *
    w`` (no fused multiply-add: this function has no fast-math flags)."""
    if keep.size:
        for j in range(keep.size):
            keep[j] = theta[j]
    if a == 0.0:
        for j in range(grad.size):
            grad[j] = C * grad[j]
        return 0.0
    for c in range(k):
        gw = grad[c * m:c * m + d]  # slices: the loops vectorise
        w = theta[c * m:c * m + d]
        for j in range(gw.size):
            gw[j] = C * gw[j] + a * w[j]
        if m > d:
            grad[c * m + d] = C * grad[c * m + d]
    return _coef_sumsq(theta, d, m, k)


_NO_COPY = np.zeros(0)


def add_l2(layout, theta, loss, grad, C, a, keep=None):
    """``(C loss + a/2 ||w||^2, C grad + a w)`` with grad scaled in place, in one compiled
    pass over theta and grad (no temporary); ``a`` 0.0 adds nothing.

    ``theta`` and ``grad`` are float64 arrays of shape (layout.n_params,), C-contiguous (grad
    is written).  ``keep``, when given (float64, the same shape), receives a copy of theta in
    the same pass.  The gradient's entries are those of NumPy's ``grad *= C; grad[w] += a *
    w``; ``||w||^2`` is summed in another order than a NumPy reduction (equal to rounding).
    """
    d, k = layout.n_features, layout.n_classes
    ss = _scale_add_l2(grad, theta, float(C), float(a), d, d + layout.fit_intercept, k,
                       _NO_COPY if keep is None else keep)
    return (C * loss + 0.5 * a * ss if a else C * loss), grad


_NO_PTR = np.zeros(0, dtype=np.int64)


@njit(cache=True, nogil=True)
def _rows_to_skip(curv, row_sq, max_bound, cap, indptr, n_cols):
    """The rows of least ``t_i = curv_i row_sq_i``, taken in increasing t while the sum of
    their t stays <= ``max_bound`` and that of their curv <= ``cap``: ``(rows (intp, in no
    particular order), sum of their t, their stored values)``; a row's values are its CSR
    length (``indptr``) or ``n_cols`` when ``indptr`` is empty (dense).

    Without sorting every row: the rows go to buckets by the binary exponent of t (t >= 0,
    so the exponent bits order them), whole buckets are taken in increasing order while
    their sums fit, and only the first bucket that does not fit is sorted."""
    n = curv.size
    t = np.empty(n)
    bits = t.view(np.int64)
    n_buckets = 2048
    bucket_t = np.zeros(n_buckets)
    bucket_d = np.zeros(n_buckets)
    for i in range(n):
        ti = float(curv[i]) * row_sq[i]
        t[i] = ti
        if ti <= max_bound:  # no other row can be skipped
            e = (bits[i] >> 52) & 2047
            bucket_t[e] += ti
            bucket_d[e] += float(curv[i])
    st = sd = 0.0
    edge = n_buckets  # the first bucket whose whole sums do not fit
    for e in range(n_buckets):
        if st + bucket_t[e] > max_bound or sd + bucket_d[e] > cap:
            edge = e
            break
        st += bucket_t[e]
        sd += bucket_d[e]
    rows = np.empty(n, dtype=np.intp)
    ties = np.empty(n, dtype=np.intp)
    k = m = 0
    for i in range(n):
        if t[i] <= max_bound:
            e = (bits[i] >> 52) & 2047
            if e < edge:
                rows[k] = i
                k += 1
            elif e == edge:
                ties[m] = i
                m += 1
    ties = ties[:m]
    ties = ties[np.argsort(t[ties])]
    for j in range(m):  # the edge bucket's rows in increasing t while the sums allow
        i = ties[j]
        if st + t[i] > max_bound or sd + float(curv[i]) > cap:
            break
        st += t[i]
        sd += float(curv[i])
        rows[k] = i
        k += 1
    rows = rows[:k]
    nnz = 0
    for j in range(k):
        i = rows[j]
        nnz += (indptr[i + 1] - indptr[i]) if indptr.size else n_cols
    return rows, st, nnz


class RowSubsetCurvature:
    """The binary log-loss Hessian over a subset of rows (:meth:`LogLossData.
    row_subset_curvature`): ``H_S = sum_{i in S} D_i x~_i x~_i^T``.

    Attributes
    ----------
    design : fastlogit.kernels.Design
        The kept rows of X (a copy), shape (n_kept, n_features), X's dtype.
    weights : ndarray of shape (n_kept,)
        Their curvature weights D_i, X's dtype.
    rows : ndarray of intp, shape (n_kept,)
        Their indices in X, in the copy's order.
    bound : float
        ``sum_{i not in S} D_i ||x~_i||^2``: for every v, ``||(H - H_S) v||_2 <= bound *
        ||v||_2``, H the Hessian over all rows; 0.0 when nothing was skipped.
    """

    __slots__ = ("_data", "design", "weights", "rows", "bound", "_copy")

    def __init__(self, data, design, weights, rows, bound, copy=None):
        self._data, self.design, self.weights, self.rows, self.bound = (data, design, weights,
                                                                        rows, bound)
        self._copy = copy  # the CSRRowCopy that design views (CSR), to append to

    @property
    def n_kept(self):
        """Number of kept rows (int)."""
        return self.rows.size

    def hessp(self, v):
        """``H_S v`` for v of shape (n_params,) (float64): a new float64 array of that shape,
        the intercept's entry last when the data term has one.  One kernel pass over the
        kept rows (the data term's kernels and threads)."""
        data = self._data
        d, fi = data.n_features, data.fit_intercept
        out = np.empty(data.n_params)
        vb = float(v[d]) if fi else 0.0
        direct = data.dtype == np.float64  # the kernel writes into out itself
        vw = np.ascontiguousarray(v[:d], dtype=data.dtype)
        hv = out[:d] if direct else np.empty(d, dtype=data.dtype)
        ob = data.kernels.hessp(self.design, self.weights, vw, hv, vb, n_threads=data.n_threads)
        if not direct:
            out[:d] = hv
        if fi:
            out[d] = ob
        return out


def _delegated(name, owner, summary, call, shown, default=None):
    """A read-only property of :class:`Objective`: ``self.<owner>.<name>`` (``default``
    where a penalty lacks the attribute), its docstring ``summary`` with a doctest that
    evaluates ``call`` after the shared objective example and shows ``shown``."""
    if default is None:
        def get(self):
            return getattr(getattr(self, owner), name)
    else:
        def get(self):
            return getattr(getattr(self, owner), name, default)
    get.__name__, get.__qualname__ = name, f"Objective.{name}"
    get.__doc__ = (f"{summary}\n\n        Examples\n        --------\n"
                   f"        {{objective_example}}\n        >>> {call}\n        {shown}\n        ")
    return property(fill_doc(get))


class Objective:
    """F(theta) = C * L(theta) + R(w): a data term, C and a penalty, as solvers see it.

    Parameters
    ----------
    X : {ndarray, sparse matrix, fastlogit.kernels.Design} or DataTerm
        The design, shape (n_samples, n_features), float32 or float64 kept (anything else
        becomes float64, sparse becomes CSR): it becomes the in-memory log-loss
        :class:`LogLossData`.  Or a data term (:class:`fastlogit.contract.DataTerm`), used
        as it is: then ``y``, ``sample_weight``, ``fit_intercept``, ``backend`` and
        ``n_threads`` are the data term's and must be left at their defaults (a ``y`` or
        ``sample_weight`` raises ValueError).
    y : array-like of shape (n_samples,) or (n_samples, K), default=None
        Targets: probabilities of the label 1 in [0, 1] (binary; 0/1 labels or soft
        labels), or rows of K >= 2 class probabilities summing to 1 (softmax).  Required
        with an array X; anything else raises ValueError.
    sample_weight : array-like of shape (n_samples,), default=None
        Finite non-negative weights s_i of the sample losses; None means 1 each.
    C : float, default=1.0
        Inverse regularisation strength, a positive finite number multiplying the summed
        losses (else ValueError).  Settable afterwards (``objective.C = ...``, as a
        regularisation path does).
    penalty : {"l2", "l1", "elasticnet", None} or fastlogit.penalties.Penalty, default="l2"
        The penalty R on the coefficients (never the intercept), through
        :func:`fastlogit.penalties.make_penalty`.
    l1_ratio : float, default=0.0
        Elastic-net mixing in [0, 1], used by ``penalty="elasticnet"`` only.
    fit_intercept : bool, default=True
        Whether theta ends with an unpenalised intercept (one per class).
    backend : {"auto", "numpy", "numba", "cython"} or KernelSet, default="auto"
        Kernel implementation (:func:`fastlogit.kernels.get`); "auto" takes the fastest
        available.  An unknown or unavailable name raises ValueError.
    n_threads : int, default=None
        Threads of the kernels' passes over X; None:
        :func:`fastlogit._config.effective_n_threads`.

    Attributes
    ----------
    data : the data term; its own attributes (``design``, ``y``, ``kernels``, ...) are
        reachable on the objective too.
    penalty : :class:`fastlogit.penalties.Penalty`
    C, layout, n_samples, n_features, n_classes (1 = binary), n_params, fit_intercept, dtype,
    l1_strength (coefficient of ||w||_1), l2_strength (``a`` of a/2 ||w||^2, or None for a
    penalty of another form), n_evals.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.objective import Objective
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    >>> objective = Objective(X, [0, 0, 1, 1], C=1.0)
    >>> objective.n_params  # two coefficients, then the intercept
    3
    >>> f, grad = objective.value_grad(objective.zeros())
    >>> round(f, 6), grad  # F(0) = C * 4 log 2
    (2.772589, array([-2.,  0.,  0.]))
    """

    def __init__(self, X, y=None, sample_weight=None, *, C=1.0, penalty="l2", l1_ratio=0.0,
                 fit_intercept=True, backend="auto", n_threads=None):
        # a data term (duck-typed: the runtime Protocol check costs more than the fit of a
        # small problem's iteration) or the arrays of an in-memory log-loss
        if hasattr(X, "loss_grad") and hasattr(X, "layout"):
            if y is not None or sample_weight is not None:
                raise ValueError("y and sample_weight belong to the data term; pass them to it")
            data = X
        else:
            data = LogLossData(X, y, sample_weight, fit_intercept=fit_intercept,
                               backend=backend, n_threads=n_threads)
        self.data = data
        self.layout = data.layout
        self.C = check_C(C)
        self.penalty = make_penalty(penalty, 0.0 if l1_ratio is None else l1_ratio)

    @fill_doc
    def with_data(self, data):
        """The same C and penalty over another data term (row blocks, compacted columns).

        Parameters
        ----------
        data : fastlogit.contract.DataTerm
            The data term of the new objective (e.g. ``objective.data.rows(0, 100)``); its
            layout (n_features, n_classes, intercept) may differ from this one's.

        Returns
        -------
        Objective
            ``C * data + penalty``, sharing this objective's penalty object.

        Examples
        --------
        {objective_example}
        >>> half = objective.with_data(objective.data.rows(0, 2))
        >>> half.n_samples, half.C, half.penalty is objective.penalty
        (2, 1.0, True)
        """
        return Objective(data, C=self.C, penalty=self.penalty)

    def __getattr__(self, name):
        # Data-specific attributes (design, y, sample_weight, kernels, n_threads, chunks...)
        # are the data term's.  Only reached when normal lookup fails.
        if name == "data":
            raise AttributeError(name)
        return getattr(self.data, name)

    def __repr__(self):
        return (f"Objective({self.data!r}, C={self.C}, penalty={self.penalty!r})")

    # ------------------------------------------------------------------ layout
    # Read-only views of the data term's, the layout's and the penalty's sizes and
    # strengths, each documented with a running example (_delegated).
    n_samples = _delegated("n_samples", "data", "Number of rows of the data term (int).",
                           "objective.n_samples", "4")
    dtype = _delegated("dtype", "data", "The data's float dtype (numpy.dtype): float32 or "
                       "float64, that of the kernel passes.",
                       "objective.dtype", "dtype('float64')")
    n_features = _delegated("n_features", "layout", "Number of features d (int).",
                            "objective.n_features", "2")
    n_classes = _delegated("n_classes", "layout", "Number of coefficient rows (int): 1 for a "
                           "binary model, K for K >= 3 classes (softmax).",
                           "objective.n_classes", "1")
    n_params = _delegated("n_params", "layout", "Length of theta (int): "
                          "``n_classes * (n_features + fit_intercept)``.",
                          "objective.n_params", "3")
    fit_intercept = _delegated("fit_intercept", "layout", "Whether theta ends each class's row "
                               "with an unpenalised intercept (bool).",
                               "objective.fit_intercept", "True")
    is_binary = _delegated("is_binary", "layout", "Whether the model is binary "
                           "(``n_classes == 1``; bool).", "objective.is_binary", "True")
    l1_strength = _delegated("l1_strength", "penalty", "The coefficient of ``||w||_1`` in R "
                             "(float; 0.0 for a smooth penalty).",
                             'Objective(X, [0, 0, 1, 1], penalty="elasticnet", '
                             'l1_ratio=0.25).l1_strength', "0.25")
    l2_strength = _delegated("l2_strength", "penalty", "The ``a`` of R's ``a/2 ||w||^2`` part "
                             "(float), or None for a penalty of another form.",
                             'Objective(X, [0, 0, 1, 1], penalty="elasticnet", '
                             'l1_ratio=0.25).l2_strength', "0.75")
    l1_ratio = _delegated("l1_ratio", "penalty", "The penalty's elastic-net mixing in [0, 1] "
                          "(float; 0.0 for a penalty without one).",
                          "objective.l1_ratio", "0.0", default=0.0)

    @fill_doc
    def split(self, theta):
        """The coefficients and intercepts of theta.

        Parameters
        ----------
        {theta}

        Returns
        -------
        w : ndarray of shape (n_features,) or (n_classes, n_features)
            The coefficients, float64: a view of theta when theta is a float64 array.
        b : float or ndarray of shape (n_classes,)
            The intercept(s): a float for a binary model, 0.0 (or zeros) without an
            intercept.

        Examples
        --------
        {objective_example}
        >>> objective.split(np.array([1.0, 2.0, 3.0]))
        (array([1., 2.]), 3.0)
        """
        return self.layout.split(theta)

    @fill_doc
    def penalized_mask(self):
        """Which entries of theta the penalty acts on.

        Returns
        -------
        ndarray of shape (n_params,), dtype bool
            True for coefficients, False for intercepts.

        Examples
        --------
        {objective_example}
        >>> objective.penalized_mask()
        array([ True,  True, False])
        """
        return self.layout.penalized_mask()

    @fill_doc
    def zeros(self):
        """The all-zero theta (a fit's default start).

        Returns
        -------
        ndarray of shape (n_params,), float64
            A new array of zeros.

        Examples
        --------
        {objective_example}
        >>> objective.zeros()
        array([0., 0., 0.])
        """
        return self.layout.zeros()

    def compact_columns(self, max_fraction=0.8):
        """This objective over only the columns of a sparse X that hold a non-zero.

        A column without non-zeros enters F through the penalty alone, so its optimal
        coefficient is 0 (with no penalty on it, any value: F does not depend on it); solving
        over the used columns is exact when the penalty treats every coefficient alike
        (the elastic-net family).

        Parameters
        ----------
        max_fraction : float, default=0.8
            Compact only when at most this fraction of the columns is used (otherwise the
            O(nnz) scan and re-indexing do not pay).

        Returns
        -------
        (reduced, keep) or None
            ``reduced``: an :class:`Objective` (same C and penalty) over the used columns;
            ``keep``: bool ndarray of shape (n_params,), the entries of theta ``reduced``
            covers (its theta is ``theta[keep]``).  None when nothing is gained: dense X,
            at most 256 columns, more than ``max_fraction`` of them used (see
            :meth:`LogLossData.compact_columns`), a data term without the method, or a
            penalty outside the elastic-net family.

        Examples
        --------
        >>> import numpy as np
        >>> import scipy.sparse as sp
        >>> from fastlogit.objective import Objective
        >>> X = sp.csr_matrix((np.ones(4), ([0, 1, 2, 3], [0, 5, 5, 9])), shape=(4, 300))
        >>> reduced, keep = Objective(X, [0, 0, 1, 1], penalty="l1").compact_columns()
        >>> reduced.n_features, np.flatnonzero(keep)  # columns 0, 5, 9 and the intercept
        (3, array([  0,   5,   9, 300]))
        >>> Objective(X.toarray(), [0, 0, 1, 1]).compact_columns() is None  # dense X
        True
        """
        compact = getattr(self.data, "compact_columns", None)
        if compact is None or not isinstance(self.penalty, (ElasticNet, NoPenalty)):
            return None
        found = compact(max_fraction)
        if found is None:
            return None
        reduced, keep = found
        return self.with_data(reduced), keep

    @fill_doc
    def rows(self, start, stop):
        """The same objective on rows [start, stop) (same C and penalty).

        Its F sums the block's losses only, with the full penalty; the block shares the
        data's memory (no copy of X).

        Parameters
        ----------
        start, stop : int
            The row range, as a Python slice ``start:stop`` reads it (negative values count
            from the end, both are clipped to [0, n_samples]; ``stop <= start`` gives no
            rows).

        Returns
        -------
        Objective
            The objective of the block, ``n_samples == stop - start`` after clipping.

        Examples
        --------
        {objective_example}
        >>> block = objective.rows(1, 3)
        >>> block.n_samples, round(block.value(block.zeros()), 6)  # 2 log 2
        (2, 1.386294)
        """
        return self.with_data(self.data.rows(start, stop))

    # ------------------------------------------------------------------ the contract
    @fill_doc
    def value_grad(self, theta):
        """Smooth part f and its gradient at theta, in one pass; caches the curvature.

        The gradient is the caller's own array.  Neither the objective nor
        :class:`LogLossData` keeps a copy (each would be one more n_params-vector of a large
        fit's memory), so asking again at the same theta makes the pass again; the solvers
        never do.  The curvature kept lets a following :meth:`hessp`, :meth:`hess_diag` or
        :meth:`hessian` at the same theta skip the loss pass.

        Parameters
        ----------
        {theta}

        Returns
        -------
        f : float
            ``C * L(theta) + S(w)``, S the penalty's smooth part (the L1 part is left out:
            :meth:`value` has it).
        grad : ndarray of shape (n_params,), float64
            The gradient of f, a new array.

        Examples
        --------
        {objective_example}
        >>> f, grad = objective.value_grad(np.array([1.0, 0.0, -1.0]))
        >>> round(f, 6), grad.round(6)
        (1.946599, array([0.604508, 0.      , 0.380797]))
        """
        theta = self.layout.check(np.asarray(theta, dtype=np.float64))
        pen = self.penalty
        a = pen.l2_strength
        if a is not None:  # S = a/2 ||w||^2: on views of theta, or fused by the data term
            fused = getattr(self.data, "l2_loss_grad", None)
            if fused is not None:
                return fused(theta, self.C, a)
            loss, grad = self.data.loss_grad(theta)
            return add_l2(self.layout, theta, loss, grad, self.C, a)
        loss, grad = self.data.loss_grad(theta)
        grad *= self.C
        w = self.layout.coef(theta)
        self.layout.add_coef(grad, pen.smooth_grad(w))
        return self.C * loss + pen.smooth_value(w), grad

    @fill_doc
    def value(self, theta):
        """The full objective F at theta, L1 part included (one loss pass).

        Parameters
        ----------
        {theta}

        Returns
        -------
        float
            ``C * L(theta) + R(w)``.

        Examples
        --------
        {objective_example}
        >>> round(objective.value(objective.zeros()), 6)  # C * 4 log 2
        2.772589
        >>> l1, theta = Objective(X, [0, 0, 1, 1], penalty="l1"), [1.0, -2.0, 0.0]
        >>> round(l1.value(theta), 6), round(l1.value_grad(theta)[0], 6)  # + ||w||_1 = 3
        (5.181924, 2.181924)
        """
        theta = self.layout.check(theta)
        return self.C * self.data.loss(theta) + self.penalty.value(self.layout.coef(theta))

    @fill_doc
    def l1_value(self, theta):
        """The non-smooth part of F, ``l1_strength * ||w||_1`` (no pass over the data).

        Parameters
        ----------
        {theta}

        Returns
        -------
        float
            0.0 for a smooth penalty.

        Examples
        --------
        {objective_example}
        >>> objective.l1_value([1.0, -2.0, 5.0])  # L2: no non-smooth part
        0.0
        >>> Objective(X, [0, 0, 1, 1], penalty="l1").l1_value([1.0, -2.0, 5.0])
        3.0
        """
        lam = self.penalty.l1_strength
        return lam * float(np.abs(self.layout.coef(np.asarray(theta))).sum()) if lam else 0.0

    def _add_penalty_curvature(self, out, theta, v):
        pen = self.penalty
        a = pen.l2_strength
        if a is None:
            self.layout.add_coef(out, pen.smooth_hessp(self.layout.coef(theta),
                                                       self.layout.coef(v)))
        elif a:
            self.layout.add_coef(out, a * self.layout.coef(v))
        return out

    @fill_doc
    def hessp(self, theta, v):
        """Hessian of the smooth part f at theta times v.

        One pass over X when theta is the last (or the one before) that :meth:`value_grad`
        saw; otherwise the curvature at theta is computed first (one more pass).

        Parameters
        ----------
        {theta}
        v : array-like of shape (n_params,)
            The vector, float64 (converted), in theta's packing.

        Returns
        -------
        ndarray of shape (n_params,), float64
            ``H(theta) @ v``, a new array.

        Examples
        --------
        {objective_example}
        >>> theta, v = objective.zeros(), np.array([1.0, 0.0, 0.0])
        >>> bool(np.allclose(objective.hessp(theta, v), objective.hessian(theta) @ v))
        True
        """
        theta = self.layout.check(theta)
        v = np.asarray(v, dtype=np.float64).reshape(-1)
        out = self.data.hessp(theta, v)
        out *= self.C
        return self._add_penalty_curvature(out, theta, v)

    @fill_doc
    def row_subset_hessp(self, theta, max_bound, weight_rtol=None, max_fraction=0.9,
                         reuse=None):
        """Hessian products of the smooth part f at theta over the rows that matter.

        C times the data term's Hessian over the rows left after skipping those of least
        curvature (:meth:`LogLossData.row_subset_curvature`, with ``max_bound / C`` and
        ``weight_rtol``), plus
        the penalty's curvature: a matrix ``H_S`` with ``H_S <= H <= H_S + bound I`` (H the
        full Hessian of f, ``bound <= max_bound`` up to rounding), each product a kernel pass
        over the kept rows only.  For solvers that may use an approximate Hessian (the
        gradient stays exact, so the optimum and the stopping rule do not change).

        Parameters
        ----------
        {theta}
        max_bound : float
            The most the skipped rows may add to the Hessian's 2-norm; finite and >= 0 (else
            ValueError).
        weight_rtol : float or None, default=None
            When given, the skipped rows' curvature weights sum to at most this times the
            kept rows' (the intercept's diagonal entry of H_S is then at least ``1 / (1 +
            weight_rtol)`` of H's).
        max_fraction : float, default=0.9
            None is returned when the kept rows hold more than this fraction of X.
        reuse : tuple or None, default=None
            An earlier result of this method on the same objective, whose copy of X's rows
            may serve again (see :meth:`LogLossData.row_subset_curvature`).

        Returns
        -------
        (hessp, bound, subset) or None
            ``hessp(v)``: ``H_S v``, a new float64 array (n_params,); ``bound`` (float):
            ``||(H - H_S) v||_2 <= bound * ||v||_2`` for every v; ``subset``: the data
            term's :class:`RowSubsetCurvature`.  None when the data term has no row subsets
            (softmax, out-of-core, ...) or too much of X would be kept.

        Examples
        --------
        {objective_example}
        >>> theta = np.array([8.0, -4.0, -12.0])  # margins -16, -4, 0, 12
        >>> _ = objective.value_grad(theta)
        >>> hessp, bound, _ = objective.row_subset_hessp(theta, 1e-3, max_fraction=1.0)
        >>> round(bound, 6)  # rows 0 and 3 skipped: their weights are 1e-7 and 6e-6
        6.2e-05
        >>> v = np.array([1.0, 0.0, 0.0])
        >>> hessp(v).round(6), objective.hessp(theta, v).round(6)
        (array([2.017663, 0.5     , 0.517663]), array([2.017718, 0.5     , 0.517681]))
        """
        if not (max_bound >= 0 and np.isfinite(max_bound)):
            raise ValueError(f"max_bound must be a finite number >= 0, got {max_bound!r}")
        theta = self.layout.check(theta)
        subset = getattr(self.data, "row_subset_curvature", None)
        C = self.C
        sub = None if subset is None else subset(theta, max_bound / C, weight_rtol,
                                                 max_fraction, None if reuse is None else reuse[2])
        if sub is None:
            return None

        a, layout = self.penalty.l2_strength, self.layout
        m = layout.n_features + layout.fit_intercept

        def hessp(v):
            v = np.asarray(v, dtype=np.float64).reshape(-1)
            out = sub.hessp(v)
            if a is None:
                out *= C
                return self._add_penalty_curvature(out, theta, v)
            # C out + a v on the coefficients, C out on the intercept, in one compiled pass
            # (the bits of NumPy's ``out *= C; out[w] += a * v[w]``)
            _scale_add_l2(out, v, float(C), float(a), layout.n_features, m, 1, _NO_COPY)
            return out

        return hessp, C * sub.bound, sub

    @fill_doc
    def hess_diag(self, theta):
        """Diagonal of the Hessian of the smooth part f at theta (e.g. a preconditioner).

        Parameters
        ----------
        {theta}

        Returns
        -------
        ndarray of shape (n_params,), float64
            ``diag(H(theta))``, a new array.

        Examples
        --------
        {objective_example}
        >>> theta = objective.zeros()
        >>> objective.hess_diag(theta), np.diag(objective.hessian(theta))
        (array([4.5, 1.5, 1. ]), array([4.5, 1.5, 1. ]))
        """
        theta = self.layout.check(theta)
        out = self.data.hess_diag(theta)
        out *= self.C
        self.layout.add_coef(out, self.penalty.smooth_hess_diag(self.layout.coef(theta)))
        return out

    @fill_doc
    def hessian(self, theta):
        """Dense Hessian of the smooth part f at theta (for small n_params only).

        Parameters
        ----------
        {theta}

        Returns
        -------
        ndarray of shape (n_params, n_params), float64
            ``H(theta)``, symmetric, positive semi-definite for the log-loss.

        Examples
        --------
        {objective_example}
        >>> objective.hessian(objective.zeros())  # C X1^T diag(1/4) X1 + I on the coefficients
        array([[4.5, 0.5, 1.5],
               [0.5, 1.5, 0.5],
               [1.5, 0.5, 1. ]])
        """
        theta = self.layout.check(theta)
        H = self.data.hessian(theta)
        H *= self.C
        idx = np.flatnonzero(self.layout.penalized_mask())
        pen = self.penalty
        if pen.l2_strength is not None:
            H[idx, idx] += pen.l2_strength
        else:
            w = self.layout.coef(theta)
            eye = np.eye(idx.size)
            H[np.ix_(idx, idx)] += np.column_stack([pen.smooth_hessp(w, e) for e in eye])
        return H

    @fill_doc
    def prox(self, theta, step):
        """theta with its coefficients through the penalty's proximal operator.

        The prox of ``step * l1_strength * ||w||_1`` (soft-thresholding by
        ``step * l1_strength``; the identity for a smooth penalty), as
        :meth:`fastlogit.penalties.Penalty.prox`; intercepts unchanged.

        Parameters
        ----------
        {theta}
        step : float
            The step size, > 0.

        Returns
        -------
        ndarray of shape (n_params,), float64
            A new array.

        Examples
        --------
        {objective_example}
        >>> l1 = Objective(X, [0, 0, 1, 1], penalty="l1")
        >>> l1.prox([0.3, -2.0, 5.0], step=0.5)  # coefficients shrunk by 0.5, not b
        array([ 0. , -1.5,  5. ])
        """
        out = np.array(theta, dtype=np.float64)
        w = self.layout.coef(out)
        self.layout.add_coef(out, self.penalty.prox(w, step) - w)
        return out

    @fill_doc
    def min_norm_subgradient(self, theta, grad):
        """Minimum-norm element of the subdifferential of F at theta.

        Zero exactly at a minimiser, so its infinity norm is the optimality measure of the
        non-smooth solvers; ``grad`` itself for a smooth penalty.

        Parameters
        ----------
        {theta}
        grad : array-like of shape (n_params,)
            The gradient of the smooth part f at theta (from :meth:`value_grad`), float64.

        Returns
        -------
        ndarray of shape (n_params,), float64
            A new array; intercept entries equal ``grad``'s.

        Examples
        --------
        {objective_example}
        >>> l1 = Objective(X, [0, 0, 1, 1], penalty="l1")
        >>> theta = l1.zeros()
        >>> l1.min_norm_subgradient(theta, l1.value_grad(theta)[1])  # |grad_j| <= 1: 0
        array([-1.,  0.,  0.])
        """
        out = np.array(grad, dtype=np.float64)
        if self.penalty.l1_strength:
            g = self.layout.coef(out).copy()
            w = self.layout.coef(np.asarray(theta, dtype=np.float64))
            self.layout.add_coef(out, self.penalty.min_norm_subgradient(w, g) - g)
        return out

    # ------------------------------------------------------------------ margins / line search
    @fill_doc
    def margins(self, theta, intercept=True):
        """The linear predictor at theta (one pass over X).

        Parameters
        ----------
        {theta}
        intercept : bool, default=True
            Whether to add the intercept(s) ``b``.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes), float64
            ``X w (+ b)``: (n_samples,) for a binary model, (n_samples, K) for K classes.

        Examples
        --------
        {objective_example}
        >>> objective.margins([1.0, 2.0, 3.0]), objective.margins([1.0, 2.0, 3.0], False)
        (array([5., 4., 7., 6.]), array([2., 1., 4., 3.]))
        """
        return self.data.margins(self.layout.check(theta), intercept)

    @fill_doc
    def line(self, theta, direction, z=None):
        """The smooth part along a line, for line searches: phi(t) = f(theta + t d).

        Building it costs the margin passes; each trial ``phi.value(t)`` is then
        O(n + p).

        Parameters
        ----------
        {theta}
        direction : array-like of shape (n_params,)
            The search direction d, float64, in theta's packing (finite).
        z : ndarray of shape (n_samples,) or (n_samples, n_classes), default=None
            The margins at theta (:meth:`margins`), float64, when the caller has them: saves
            one pass.

        Returns
        -------
        LineFunction
            ``phi.value(t)`` is f(theta + t d).

        Examples
        --------
        {objective_example}
        >>> theta, d = objective.zeros(), np.array([1.0, 0.0, -1.0])
        >>> phi = objective.line(theta, d)
        >>> bool(np.isclose(phi.value(0.5), objective.value_grad(theta + 0.5 * d)[0]))
        True
        """
        return LineFunction(self, theta, direction, z)

    @fill_doc
    def smooth_from_margins(self, z, theta):
        """The smooth part f at theta from its margins, O(n + p) (no pass over X).

        Parameters
        ----------
        z : ndarray of shape (n_samples,) or (n_samples, n_classes)
            The margins at theta, intercept included (:meth:`margins`), float64.
        {theta}

        Returns
        -------
        float
            ``C * L + S(w)``, the first value of :meth:`value_grad`.

        Examples
        --------
        {objective_example}
        >>> theta = np.array([1.0, 0.0, -1.0])
        >>> f = objective.smooth_from_margins(objective.margins(theta), theta)
        >>> bool(np.isclose(f, objective.value_grad(theta)[0]))
        True
        """
        w = self.layout.coef(self.layout.check(theta))
        return self.C * self.data.loss_from_margins(z) + self.penalty.smooth_value(w)


class PenaltyLine:
    """t -> S(w + t dw), the penalty's smooth part along a direction of the coefficients.

    For the elastic-net family S is a quadratic in t: three numbers computed once, each
    :meth:`value` O(1); any other penalty is evaluated at ``w + t dw`` (O(p) per trial).
    Used by :class:`LineFunction` and by data terms that evaluate the loss elsewhere (Dask).
    """

    def __init__(self, penalty, w, dw):
        self.penalty, self.w, self.dw = penalty, w, dw
        a = penalty.l2_strength
        self._q = None
        if a is not None:
            self._q = (0.5 * a * (w @ w), a * (w @ dw), 0.5 * a * (dw @ dw)) if a else (0, 0, 0)

    def value(self, t):
        if self._q is None:
            return self.penalty.smooth_value(self.w + t * self.dw)
        q0, q1, q2 = self._q
        return q0 + t * (q1 + t * q2)


class LineFunction:
    """phi(t) = f(theta + t d) of the smooth part, from margins z and X d computed once.

    Construction costs two passes over X (one per class for multinomial), or one when ``z``
    (the margins at theta) is given; each :meth:`value` is then O(n + p).
    """

    def __init__(self, objective, theta, direction, z=None):
        ob = objective
        self.objective = ob
        self.theta = ob.layout.check(theta)
        self.direction = ob.layout.check(direction, "direction")
        self.z = ob.margins(self.theta) if z is None else z
        self.xd = ob.margins(self.direction)
        self.penalty_line = PenaltyLine(ob.penalty, ob.layout.coef(self.theta),
                                        ob.layout.coef(self.direction))

    def margins(self, t):
        return self.z + t * self.xd

    def value(self, t):
        """Smooth f at theta + t d."""
        ob = self.objective
        return (ob.C * ob.data.loss_from_margins(self.z + t * self.xd)
                + self.penalty_line.value(t))
