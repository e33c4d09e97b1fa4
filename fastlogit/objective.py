"""The regularised log-loss objective of DESIGN.md sec. 1 behind a solver-facing interface.

::

    F(theta) = C * sum_i s_i l(y_i, z_i) + l2_strength/2 ||w||^2 + l1_strength ||w||_1
    z_i = x_i . w + b                (binary,      l = log(1 + exp(z)) - y z)
    Z_i = W^T x_i + B                (multinomial, l = logsumexp(Z_i) - Y_i . Z_i)

theta layout (float64 always): binary ``[w (d,), b]``; multinomial ``(K, d + 1)`` flattened in
C order, intercept last in each row (scikit-learn's ``coef_`` / ``intercept_``).  Without an
intercept the trailing ``b`` entries are absent.  The intercept is never penalised.

The *smooth part* ``f = C * sum s l + l2_strength/2 ||w||^2`` is what ``value_grad``,
``hessp``, ``hessian`` and ``hess_diag`` describe; ``value`` is the full F.  Solvers never see
a backend: every pass over X goes through :mod:`fastlogit.kernels`.

Caching (LIBLINEAR's ``wx``/``D``): ``value_grad(theta)`` keeps, for the last two distinct
thetas it saw, f, the gradient and the curvature (IRLS weights for binary, probabilities for
multinomial), so a following ``hessp``/``hessian``/``hess_diag`` at the same theta costs only
its own kernel pass, and a trust-region solver can evaluate a rejected trial point without
losing the state of the current one.  Line searches use :meth:`Objective.line`, which computes
the margins along a direction once so that each trial step costs O(n), not a pass over X.
"""
import numpy as np

from . import kernels as _kernels

__all__ = ["Objective", "pointwise_loss_sum"]

_PENALTIES = ("l2", "l1", "elasticnet", None)
#: Below this many columns, dropping the empty ones saves less than the O(nnz) scan costs.
_COMPACT_MIN_FEATURES = 256


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

    __slots__ = ("theta", "f", "grad", "curv", "age")

    def __init__(self, curv):
        self.theta = None
        self.f = None
        self.grad = None
        self.curv = curv
        self.age = 0


class Objective:
    """C * sum of sample-weighted log-losses + penalty, binary or multinomial.

    Parameters
    ----------
    X : ndarray (n, d), scipy sparse matrix, or :class:`fastlogit.kernels.Design`
        float32 / float64 kept; anything else becomes float64.
    y : array of shape (n,) with values in [0, 1] (binary) or (n, K) rows of class
        probabilities summing to 1 (multinomial, K >= 2).
    sample_weight : array of shape (n,), >= 0, or None
    C : float > 0
    penalty : {"l2", "l1", "elasticnet", None}
    l1_ratio : float in [0, 1], used by "elasticnet"
    fit_intercept : bool
    backend : str or KernelSet
    n_threads : int or None

    Attributes
    ----------
    design, y, sample_weight, C, penalty, l1_ratio, fit_intercept, kernels, n_samples,
    n_features, n_classes (1 = binary), n_params, dtype, l1_strength, l2_strength, n_threads,
    n_evals (dict counting kernel passes by kind).
    """

    def __init__(self, X, y, sample_weight=None, *, C=1.0, penalty="l2", l1_ratio=0.0,
                 fit_intercept=True, backend="auto", n_threads=None):
        design = _kernels.as_design(X)
        n, d = design.shape
        y = np.asarray(y, dtype=np.float64)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim not in (1, 2) or y.shape[0] != n:
            raise ValueError(f"y must have shape ({n},) or ({n}, K), got {y.shape}")
        if not np.all(np.isfinite(y)) or (y.size and (y.min() < 0 or y.max() > 1)):
            raise ValueError("y must hold probabilities in [0, 1]")
        if y.ndim == 2:
            if y.shape[1] < 2:
                raise ValueError("multinomial y needs K >= 2 columns")
            if n and not np.allclose(y.sum(axis=1), 1.0, rtol=0, atol=1e-6):
                raise ValueError("rows of a 2-D y must sum to 1")
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=np.float64)
            if sample_weight.shape != (n,):
                raise ValueError(f"sample_weight must have shape ({n},), got "
                                 f"{sample_weight.shape}")
            if not np.all(np.isfinite(sample_weight)) or np.any(sample_weight < 0):
                raise ValueError("sample_weight must be finite and >= 0")
        C = float(C)
        if not (np.isfinite(C) and C > 0):
            raise ValueError(f"C must be a positive finite number, got {C!r}")
        if isinstance(penalty, str) and penalty.lower() == "none":
            penalty = None
        if penalty not in _PENALTIES:
            raise ValueError(f"penalty must be one of 'l2', 'l1', 'elasticnet' or None, "
                             f"got {penalty!r}")
        l1_ratio = float(l1_ratio if l1_ratio is not None else 0.0)
        if penalty == "elasticnet" and not (0.0 <= l1_ratio <= 1.0):
            raise ValueError(f"l1_ratio must lie in [0, 1], got {l1_ratio!r}")
        self._setup(design, y, sample_weight, C, penalty, l1_ratio, bool(fit_intercept),
                    _kernels.get(backend), n_threads)

    def _setup(self, design, y, sample_weight, C, penalty, l1_ratio, fit_intercept, kernels,
               n_threads):
        self.design = design
        self.y = y
        self.sample_weight = sample_weight
        self.C = C
        self.penalty = penalty
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.kernels = kernels
        self.n_threads = n_threads
        self.dtype = design.dtype
        self.n_samples, self.n_features = design.shape
        self.n_classes = 1 if y.ndim == 1 else y.shape[1]
        self.n_params = self.n_classes * (self.n_features + fit_intercept)
        self.l1_strength = {"l1": 1.0, "elasticnet": l1_ratio}.get(penalty, 0.0)
        self.l2_strength = {"l2": 1.0, "elasticnet": 1.0 - l1_ratio}.get(penalty, 0.0)
        t = self.dtype
        self._y = np.ascontiguousarray(y, dtype=t)
        self._s = None if sample_weight is None else np.ascontiguousarray(sample_weight, dtype=t)
        self._s64 = sample_weight
        n, d, k = self.n_samples, self.n_features, self.n_classes
        # Kernel-side buffers in the data dtype, reused across calls.
        if k == 1:
            self._w = np.zeros(d, dtype=t)
            self._gw = np.zeros(d, dtype=t)
            self._states = [_State(np.zeros(n, dtype=t)), _State(np.zeros(n, dtype=t))]
        else:
            self._w = np.zeros((d, k), dtype=t)
            self._gw = np.zeros((d, k), dtype=t)
            self._gb = np.zeros(k, dtype=t)
            self._B = np.zeros(k, dtype=t)
            self._vb = np.zeros(k, dtype=t)
            self._states = [_State(np.zeros((n, k), dtype=t)), _State(np.zeros((n, k), dtype=t))]
        self._hv = np.zeros_like(self._w)
        self._clock = 0
        self.n_evals = {"value_grad": 0, "value": 0, "hessp": 0, "hessian": 0, "hess_diag": 0,
                        "margins": 0}

    def __repr__(self):
        return (f"Objective(n_samples={self.n_samples}, n_features={self.n_features}, "
                f"n_classes={self.n_classes}, C={self.C}, penalty={self.penalty!r}, "
                f"fit_intercept={self.fit_intercept}, dtype={self.dtype}, "
                f"backend={self.kernels.name!r})")

    def compact_columns(self, max_fraction=0.8):
        """This objective over only the columns of a sparse X that hold a non-zero.

        A column without non-zeros enters F through the penalty alone, so its optimal
        coefficient is 0 (with no penalty on it, any value: F does not depend on it).  Solving
        over the used columns is exact, and every kernel pass and vector operation of a solver
        then scales with them (a 1000-row sample of a wide text set uses a fifth of its
        columns).  Returns ``(reduced, keep)``, ``keep`` a bool mask (n_params,) of the theta
        entries that ``reduced`` (same settings, fewer columns) covers; ``None`` when X is
        dense, the objective is a subclass, X has at most 256 columns, or more than
        ``max_fraction`` of them are used (then the O(nnz) scan and re-indexing would not pay).
        """
        if (type(self) is not Objective or self.design.kind != "csr"
                or self.n_features <= _COMPACT_MIN_FEATURES):
            return None
        data, indices, indptr = self.design.arrays
        lo, hi = int(indptr[0]), int(indptr[-1])
        used = np.bincount(indices[lo:hi], minlength=self.n_features) > 0
        n_used = int(np.count_nonzero(used))
        if n_used > max_fraction * self.n_features:
            return None
        rank = np.cumsum(used, dtype=indices.dtype) - 1
        design = _kernels.Design("csr", (data[lo:hi], rank[indices[lo:hi]], indptr - indptr[0]),
                                 (self.n_samples, n_used), self.dtype)
        reduced = Objective.__new__(Objective)
        reduced._setup(design, self.y, self.sample_weight, self.C, self.penalty, self.l1_ratio,
                       self.fit_intercept, self.kernels, self.n_threads)
        keep = np.tile(np.r_[used, np.ones(int(self.fit_intercept), dtype=bool)], self.n_classes)
        return reduced, keep

    # ------------------------------------------------------------------ layout
    @property
    def is_binary(self):
        return self.n_classes == 1

    def split(self, theta):
        """Views ``(w, b)`` of theta: binary (d,), float; multinomial (K, d), (K,)."""
        theta = np.asarray(theta, dtype=np.float64)
        d, fi = self.n_features, self.fit_intercept
        if self.n_classes == 1:
            return theta[:d], (float(theta[d]) if fi else 0.0)
        rows = theta.reshape(self.n_classes, d + fi)
        return rows[:, :d], (rows[:, d] if fi else np.zeros(self.n_classes))

    def penalized_mask(self):
        """Boolean (n_params,): True for coefficients, False for intercepts."""
        mask = np.ones((self.n_classes, self.n_features + self.fit_intercept), dtype=bool)
        if self.fit_intercept:
            mask[:, -1] = False
        return mask.ravel()

    def zeros(self):
        """The all-zero theta."""
        return np.zeros(self.n_params)

    def _check_theta(self, theta):
        theta = np.asarray(theta, dtype=np.float64)
        if theta.shape != (self.n_params,):
            theta = theta.reshape(-1)
            if theta.shape != (self.n_params,):
                raise ValueError(f"theta must have {self.n_params} entries, got {theta.size}")
        return theta

    def _load(self, theta):
        """Write the coefficients/intercepts of theta into the kernel-dtype buffers."""
        d, fi = self.n_features, self.fit_intercept
        if self.n_classes == 1:
            self._w[:] = theta[:d]
            return float(theta[d]) if fi else 0.0
        rows = theta.reshape(self.n_classes, d + fi)
        self._w[:] = rows[:, :d].T
        if fi:
            self._B[:] = rows[:, d]
        return self._B

    def _weights_sq(self, theta):
        """||w||^2 by NumPy's own loop, not BLAS: a BLAS dot wakes OpenBLAS's threads, which
        then spin through the next kernel pass (measured 90.6 against 56.7 ms per value_grad
        on CSR 2M x 50k for a caller outside a solver's single-threaded-BLAS scope)."""
        w = self._coef_view(theta)
        return float(np.einsum("i,i->", w, w))

    def _coef_view(self, theta):
        """The penalised entries of theta as a flat array (a copy for multinomial)."""
        d, fi = self.n_features, self.fit_intercept
        if self.n_classes == 1:
            return theta[:d]
        if not fi:
            return theta
        return theta.reshape(self.n_classes, d + 1)[:, :d].ravel()

    # ------------------------------------------------------------------ cache
    def _find(self, theta):
        for st in self._states:
            if st.theta is not None and st.theta.shape == theta.shape and (st.theta == theta).all():
                return st
        return None

    def _state(self, theta):
        st = self._find(theta)
        if st is None:
            self._compute(theta)
            st = self._find(theta)
        self._clock += 1
        st.age = self._clock
        return st

    def _compute(self, theta):
        st = min(self._states, key=lambda s: s.age)
        self._clock += 1
        st.age = self._clock
        self.n_evals["value_grad"] += 1
        C, l2 = self.C, self.l2_strength
        b = self._load(theta)
        grad = np.empty(self.n_params)
        if self.n_classes == 1:
            loss, gb = self.kernels.loss_grad(self.design, self._y, self._s, self._w, b,
                                              self._gw, st.curv, n_threads=self.n_threads)
            d = self.n_features
            grad[:d] = self._gw
            grad[:d] *= C
            if l2:
                grad[:d] += l2 * theta[:d]
            if self.fit_intercept:
                grad[d] = C * gb
        else:
            loss = self.kernels.multinomial_loss_grad(
                self.design, self._y, self._s, self._w, self._B, self._gw, self._gb,
                st.curv, n_threads=self.n_threads)
            g = grad.reshape(self.n_classes, -1)
            d = self.n_features
            g[:, :d] = self._gw.T
            g[:, :d] *= C
            if self.fit_intercept:
                g[:, d] = C * self._gb
            if l2:
                g[:, :d] += l2 * theta.reshape(self.n_classes, -1)[:, :d]
        f = C * loss
        if l2:
            f += 0.5 * l2 * self._weights_sq(theta)
        st.theta = theta.copy()
        st.f = f
        st.grad = grad
        return st

    # ------------------------------------------------------------------ interface
    def value_grad(self, theta):
        """Smooth part f and its gradient (float64, shape (n_params,)); caches curvature."""
        theta = self._check_theta(theta)
        st = self._state(theta)
        return st.f, st.grad.copy()

    def value(self, theta):
        """The full objective F (DESIGN.md sec. 1), L1 part included."""
        theta = self._check_theta(theta)
        st = self._find(theta)
        if st is not None:
            f = st.f
        else:
            self.n_evals["value"] += 1
            b = self._load(theta)
            if self.n_classes == 1:
                loss = self.kernels.loss(self.design, self._y, self._s, self._w, b,
                                         n_threads=self.n_threads)
            else:
                loss = self.kernels.multinomial_loss_grad(
                    self.design, self._y, self._s, self._w, self._B, self._gw, self._gb,
                    n_threads=self.n_threads)
            f = self.C * loss
            if self.l2_strength:
                f += 0.5 * self.l2_strength * self._weights_sq(theta)
        return f + self.l1_value(theta)

    def l1_value(self, theta):
        """l1_strength * ||w||_1 (0 for l2 / None)."""
        if not self.l1_strength:
            return 0.0
        return self.l1_strength * float(np.abs(self._coef_view(theta)).sum())

    def hessp(self, theta, v):
        """Hessian of the smooth part at theta times v (one kernel pass when theta is cached)."""
        theta = self._check_theta(theta)
        v = np.asarray(v, dtype=np.float64).reshape(-1)
        st = self._state(theta)
        self.n_evals["hessp"] += 1
        C, l2, d, fi = self.C, self.l2_strength, self.n_features, self.fit_intercept
        out = np.empty(self.n_params)
        if self.n_classes == 1:
            self._w[:] = v[:d]
            vb = float(v[d]) if fi else 0.0
            ob = self.kernels.hessp(self.design, st.curv, self._w, self._hv, vb,
                                    n_threads=self.n_threads)
            out[:d] = self._hv
            out[:d] *= C
            if l2:
                out[:d] += l2 * v[:d]
            if fi:
                out[d] = C * ob
            return out
        k = self.n_classes
        V = v.reshape(k, d + fi)
        self._w[:] = V[:, :d].T
        if fi:
            self._vb[:] = V[:, d]
        else:
            self._vb[:] = 0.0
        self.kernels.multinomial_hessp(self.design, st.curv, self._s, self._w, self._vb,
                                       self._hv, self._gb, n_threads=self.n_threads)
        o = out.reshape(k, d + fi)
        o[:, :d] = self._hv.T
        o[:, :d] *= C
        if fi:
            o[:, d] = C * self._gb
        if l2:
            o[:, :d] += l2 * V[:, :d]
        return out

    def _curvature_blocks(self, st):
        """Per-sample weights D_kl (n,) of the Hessian blocks X^T D_kl X, l >= k."""
        if self.n_classes == 1:
            return {(0, 0): st.curv}
        P = st.curv.astype(np.float64)
        s = 1.0 if self._s64 is None else self._s64
        t = self.dtype
        blocks = {}
        for a in range(self.n_classes):
            for c in range(a, self.n_classes):
                w = P[:, a] * ((a == c) - P[:, c]) * s
                blocks[(a, c)] = np.ascontiguousarray(w, dtype=t)
        return blocks

    def hessian(self, theta):
        """Dense Hessian (n_params, n_params) of the smooth part (gram kernel; small d only)."""
        theta = self._check_theta(theta)
        st = self._state(theta)
        self.n_evals["hessian"] += 1
        d, fi, k = self.n_features, self.fit_intercept, self.n_classes
        m = d + fi
        H = np.zeros((self.n_params, self.n_params))
        G = np.empty((d, d), dtype=self.dtype)
        zero = np.zeros(d, dtype=self.dtype)
        for (a, c), wts in self._curvature_blocks(st).items():
            self.kernels.gram(self.design, wts, G, n_threads=self.n_threads)
            blk = np.zeros((m, m))
            blk[:d, :d] = G
            if fi:
                sb = self.kernels.hessp(self.design, wts, zero, self._hv_vec(), 1.0,
                                        n_threads=self.n_threads)
                blk[:d, d] = blk[d, :d] = self._hvv
                blk[d, d] = sb
            blk *= self.C
            H[a * m:(a + 1) * m, c * m:(c + 1) * m] = blk
            if a != c:
                H[c * m:(c + 1) * m, a * m:(a + 1) * m] = blk.T
        if self.l2_strength:
            idx = np.flatnonzero(self.penalized_mask())
            H[idx, idx] += self.l2_strength
        return H

    def _hv_vec(self):
        if not hasattr(self, "_hvv"):
            self._hvv = np.zeros(self.n_features, dtype=self.dtype)
        return self._hvv

    def hess_diag(self, theta):
        """Diagonal of the smooth Hessian (float64, (n_params,)), e.g. a preconditioner."""
        theta = self._check_theta(theta)
        st = self._state(theta)
        self.n_evals["hess_diag"] += 1
        d, fi, k = self.n_features, self.fit_intercept, self.n_classes
        out = np.empty((k, d + fi))
        buf = self._hv_vec()
        for a in range(k):
            wts = self._curvature_blocks_diag(st, a)
            self.kernels.hess_diag(self.design, wts, buf, n_threads=self.n_threads)
            out[a, :d] = buf
            if fi:
                out[a, d] = float(wts.sum(dtype=np.float64))
        out *= self.C
        if self.l2_strength:
            out[:, :d] += self.l2_strength
        return out.ravel()

    def _curvature_blocks_diag(self, st, a):
        if self.n_classes == 1:
            return st.curv
        p = st.curv[:, a].astype(np.float64)
        w = p * (1.0 - p)
        if self._s64 is not None:
            w *= self._s64
        return np.ascontiguousarray(w, dtype=self.dtype)

    # ------------------------------------------------------------------ margins / line search
    def margins(self, theta, intercept=True):
        """z = X w (+ b): float64, shape (n,) binary or (n, K) multinomial (one pass per class)."""
        theta = self._check_theta(theta)
        self.n_evals["margins"] += 1
        d, fi, k = self.n_features, self.fit_intercept, self.n_classes
        out = np.empty(self.n_samples, dtype=self.dtype)
        if k == 1:
            self._w[:] = theta[:d]
            b = float(theta[d]) if (fi and intercept) else 0.0
            self.kernels.decision(self.design, self._w, b, out, n_threads=self.n_threads)
            return out.astype(np.float64)
        rows = theta.reshape(k, d + fi)
        Z = np.empty((self.n_samples, k))
        wk = np.empty(d, dtype=self.dtype)
        for a in range(k):
            wk[:] = rows[a, :d]
            b = float(rows[a, d]) if (fi and intercept) else 0.0
            self.kernels.decision(self.design, wk, b, out, n_threads=self.n_threads)
            Z[:, a] = out
        return Z

    def line(self, theta, direction, z=None):
        """A :class:`LineFunction` phi(t) = f(theta + t * direction), each trial O(n + p)."""
        return LineFunction(self, theta, direction, z)

    def smooth_from_margins(self, z, theta):
        """f at theta given its margins z (float64), evaluated pointwise in NumPy."""
        f = self.C * pointwise_loss_sum(self.y, z, self._s64)
        if self.l2_strength:
            f += 0.5 * self.l2_strength * self._weights_sq(self._check_theta(theta))
        return f

    # ------------------------------------------------------------------ row blocks
    def rows(self, start, stop):
        """The same objective on rows [start, stop) (zero-copy design block, same C/penalty).

        Note the block's F sums losses over the block only, with the full penalty.
        """
        block = object.__new__(type(self))
        design = self.design.rows(start, stop)
        start, stop, _ = slice(start, stop).indices(self.n_samples)
        stop = max(stop, start)
        sw = None if self.sample_weight is None else self.sample_weight[start:stop]
        block._setup(design, self.y[start:stop], sw, self.C, self.penalty, self.l1_ratio,
                     self.fit_intercept, self.kernels, self.n_threads)
        return block


class LineFunction:
    """phi(t) = f(theta + t d) of the smooth part, from margins z and X d computed once.

    Construction costs two passes over X (one per class for multinomial), or one when ``z``
    (the margins at theta) is given; each :meth:`value` is then O(n + p).
    """

    def __init__(self, objective, theta, direction, z=None):
        ob = objective
        self.objective = ob
        self.theta = ob._check_theta(theta)
        self.direction = ob._check_theta(direction)
        self.z = ob.margins(self.theta) if z is None else z
        self.xd = ob.margins(self.direction)
        l2 = ob.l2_strength
        w, dw = ob._coef_view(self.theta), ob._coef_view(self.direction)
        self._q = (0.5 * l2 * (w @ w), l2 * (w @ dw), 0.5 * l2 * (dw @ dw)) if l2 else (0, 0, 0)

    def margins(self, t):
        return self.z + t * self.xd

    def value(self, t):
        """Smooth f at theta + t d."""
        ob = self.objective
        q0, q1, q2 = self._q
        return ob.C * pointwise_loss_sum(ob.y, self.z + t * self.xd, ob._s64) + q0 + t * (q1 + t * q2)
