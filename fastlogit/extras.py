"""Losses beyond plain log-loss, as objectives with the interface of ``Objective``.

Both objectives below treat the binary model as a two-class softmax with the first logit
fixed at 0, ``Z_i = [0, z_i]`` (so ``p_i1 = sigmoid(z_i)``), and the multinomial model as
the usual ``Z_i = W x_i + b`` over K classes.  Labels are class-probability rows ``Y_i``
(binary ``y`` becomes ``[1 - y, y]``; soft labels are allowed).  Margins come from the
kernels' ``decision``; the pointwise loss and its derivative ``dl/dZ`` are computed in
float64 NumPy from the log-softmax, so nothing overflows or takes log(0) for finite Z::

    log p_k     = (Z_k - Z_m) - log1p(sum_{j != m} exp(Z_j - Z_m)),  m = argmax Z
    log(1 - p_k) = logsumexp_{j != k}(log p_j)            (no 1 - p cancellation)

Focal loss (Lin et al., 2017, "Focal Loss for Dense Object Detection"), gamma >= 0::

    l(Y, Z) = - sum_k Y_k (1 - p_k)^gamma log p_k          gamma = 0: exactly log-loss
    a_k     = (1 - p_k)^gamma - gamma (1 - p_k)^(gamma - 1) p_k log p_k
    dl/dZ_j = - Y_j a_j + p_j sum_k Y_k a_k

Forward noise correction (Patrini et al., 2017, "Making Deep Neural Networks Robust to
Label Noise: a Loss Correction Approach").  ``T[i, j] = P(observed label j | true class i)``
(rows sum to 1); the model's clean probabilities ``p`` are pushed through the noise
channel and the observed labels scored against ``q = T^T p``::

    l(Y, Z) = - sum_j Y_j log q_j,     log q_j = logsumexp_i(log p_i + log T_ij)
    dl/dZ_m = p_m sum_j Y_j - sum_j Y_j p_m T_mj / q_j       (each ratio p_m T_mj / q_j <= 1)

The regularised objective is DESIGN.md's ``F = C * sum_i s_i l_i + R(w)`` with the same
penalty convention and theta layout as ``Objective``.  Neither loss is convex in general
(forward correction never is), and their exact Hessians are not needed by the quasi-Newton
solver used for them, so :meth:`hessp` is a central finite difference of the exact gradient
(documented, O(2 gradient passes)); solvers that rely on an exact positive-definite Hessian
(Newton-Cholesky) are not offered for these losses by the estimator.
"""
import numpy as np
from scipy.special import logsumexp

from . import kernels as _kernels

__all__ = ["FocalObjective", "NoiseCorrectedObjective", "focal_loss", "noise_corrected_loss"]

_PENALTIES = {"l2": (0.0, 1.0), "l1": (1.0, 0.0), None: (0.0, 0.0)}


def _log_softmax(Z):
    """log p (n, K).  With m the row's argmax and e_j = exp(Z_j - Z_m)::

        log p_m = -log1p(sum_{j != m} e_j),   log p_k = (Z_k - Z_m) + log p_m

    so a probability near 1 keeps full relative accuracy in its (tiny) log."""
    m = Z.argmax(axis=1)
    rows = np.arange(Z.shape[0])
    shifted = Z - Z[rows, m][:, None]
    e = np.exp(shifted)
    e[rows, m] = 0.0
    return shifted - np.log1p(e.sum(axis=1))[:, None]


def _log_one_minus(logp):
    """log(1 - p_k) = logsumexp_{j != k} log p_j, shape (n, K), computed without cancellation."""
    n, k = logp.shape
    out = np.empty_like(logp)
    masked = logp.copy()
    for j in range(k):
        masked[:, j] = -np.inf
        out[:, j] = logsumexp(masked, axis=1)
        masked[:, j] = logp[:, j]
    return out


def focal_loss(Y, Z, gamma):
    """Pointwise focal loss and its derivative for logits Z (n, K) and label rows Y (n, K).

    Returns ``(loss (n,), dloss_dZ (n, K))`` in float64 (formulas in the module docstring).
    """
    Z = np.asarray(Z, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    logp = _log_softmax(Z)
    p = np.exp(logp)
    if gamma == 0:
        return -(Y * logp).sum(axis=1), p * Y.sum(axis=1, keepdims=True) - Y
    log1m = _log_one_minus(logp)
    modulator = np.exp(gamma * log1m)  # (1 - p)^gamma; 0 where p == 1
    loss = -(Y * modulator * logp).sum(axis=1)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        # gamma (1-p)^(gamma-1) p log p; its limit as p -> 1 is 0 (log p ~ -(1-p)).
        second = gamma * np.exp((gamma - 1.0) * log1m + logp) * logp
    second = np.where(logp == 0.0, 0.0, second)
    a = modulator - second
    ya = Y * a
    return loss, p * ya.sum(axis=1, keepdims=True) - ya


def noise_corrected_loss(Y, Z, log_transition):
    """Pointwise forward-corrected log-loss and its derivative (formulas in the module docstring).

    ``log_transition`` is ``log(T)`` of shape (K, K) (``-inf`` where T is 0).
    Returns ``(loss (n,), dloss_dZ (n, K))`` in float64.
    """
    Z = np.asarray(Z, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    logp = _log_softmax(Z)
    joint = logp[:, :, None] + log_transition[None, :, :]  # (n, i, j): log p_i T_ij
    logq = logsumexp(joint, axis=1)  # (n, j)
    with np.errstate(invalid="ignore"):
        # Y_j * 0 for observed labels the channel cannot produce (q_j = 0) contributes 0.
        loss = -np.where(Y > 0, Y * logq, 0.0).sum(axis=1)
        ratio = np.exp(joint - logq[:, None, :])  # p_i T_ij / q_j, in [0, 1]
    ratio = np.nan_to_num(ratio, nan=0.0)
    grad = np.exp(logp) * Y.sum(axis=1, keepdims=True) - np.einsum("nij,nj->ni", ratio, Y)
    return loss, grad


class _PointwiseObjective:
    """Shared machinery: theta packing, margins through the kernels, X^T R, penalties."""

    def __init__(self, X, y, sample_weight=None, *, C=1.0, penalty="l2", l1_ratio=0.0,
                 fit_intercept=True, backend="auto", n_threads=None):
        self.design = _kernels.as_design(X)
        self.kernels = _kernels.get(backend)
        self.n_threads = n_threads
        self.dtype = self.design.dtype
        self.n_samples, self.n_features = self.design.shape
        y = np.asarray(y, dtype=np.float64)
        if y.shape[0] != self.n_samples:
            raise ValueError(f"y has {y.shape[0]} rows, X has {self.n_samples}")
        if y.ndim == 1:
            self.n_classes = 1
            self._Y = np.column_stack([1.0 - y, y])
        elif y.ndim == 2 and y.shape[1] >= 2:
            self.n_classes = y.shape[1]
            self._Y = y
        else:
            raise ValueError(f"y must have shape (n,) or (n, K) with K >= 2, got {y.shape}")
        if not np.all(np.isfinite(y)) or y.min(initial=0) < 0 or y.max(initial=0) > 1:
            raise ValueError("labels must be finite probabilities in [0, 1]")
        self.y = y
        if sample_weight is None:
            self.sample_weight = None
        else:
            s = np.asarray(sample_weight, dtype=np.float64)
            if s.shape != (self.n_samples,) or not np.all(np.isfinite(s)) or np.any(s < 0):
                raise ValueError("sample_weight must be finite, non-negative, of shape (n,)")
            self.sample_weight = s
        if C <= 0 or not np.isfinite(C):
            raise ValueError(f"C must be a positive finite number, got {C}")
        self.C = float(C)
        self.penalty = penalty
        self.l1_ratio = float(l1_ratio or 0.0)
        if penalty == "elasticnet":
            self.l1_strength, self.l2_strength = self.l1_ratio, 1.0 - self.l1_ratio
        elif penalty in _PENALTIES:
            self.l1_strength, self.l2_strength = _PENALTIES[penalty]
        else:
            raise ValueError(f"unknown penalty {penalty!r}")
        self.fit_intercept = bool(fit_intercept)
        k = max(self.n_classes, 1)
        self.n_params = k * (self.n_features + self.fit_intercept)
        self._Xs = self.design.to_scipy()
        self.n_evals = {"value_grad": 0, "hessp": 0, "margins": 0}

    # ---------------------------------------------------------------- layout
    def _unpack(self, theta):
        theta = np.asarray(theta, dtype=np.float64)
        k = max(self.n_classes, 1)
        rows = theta.reshape(k, self.n_features + self.fit_intercept)
        W = rows[:, :self.n_features]
        B = rows[:, self.n_features] if self.fit_intercept else np.zeros(k)
        return W, B

    def margins(self, theta, intercept=True):
        """z = X w (+ b), float64: shape (n,) binary or (n, K) multinomial (kernel ``decision``)."""
        self.n_evals["margins"] += 1
        W, B = self._unpack(theta)
        cols = []
        for k in range(W.shape[0]):
            w = np.ascontiguousarray(W[k], dtype=self.dtype)
            b = float(B[k]) if intercept else 0.0
            cols.append(self.kernels.decision(self.design, w, b,
                                              n_threads=self.n_threads).astype(np.float64))
        return cols[0] if self.n_classes == 1 else np.column_stack(cols)

    def _softmax_logits(self, z):
        """Z (n, K') for the pointwise losses: [0, z] for binary, z itself otherwise."""
        if self.n_classes == 1:
            return np.column_stack([np.zeros(z.shape[0]), z])
        return z

    def _margins(self, theta):
        return self._softmax_logits(self.margins(theta))

    def _pointwise(self, Z):  # pragma: no cover - abstract
        raise NotImplementedError

    # ---------------------------------------------------------------- layout helpers
    @property
    def is_binary(self):
        return self.n_classes == 1

    def split(self, theta):
        """Views ``(w, b)`` of theta: binary (d,), float; multinomial (K, d), (K,)."""
        W, B = self._unpack(theta)
        return (W[0], float(B[0])) if self.n_classes == 1 else (W, B)

    def penalized_mask(self):
        """Boolean (n_params,): True for coefficients, False for intercepts."""
        mask = np.ones((max(self.n_classes, 1), self.n_features + self.fit_intercept), bool)
        if self.fit_intercept:
            mask[:, -1] = False
        return mask.ravel()

    def zeros(self):
        return np.zeros(self.n_params)

    def l1_value(self, theta):
        """l1_strength * ||w||_1."""
        if not self.l1_strength:
            return 0.0
        return self.l1_strength * float(np.abs(self._unpack(theta)[0]).sum())

    def smooth_from_margins(self, z, theta):
        """Smooth f at theta given its margins z (as returned by :meth:`margins`)."""
        loss = self._pointwise(self._softmax_logits(np.asarray(z, dtype=np.float64)))[0]
        if self.sample_weight is not None:
            loss = loss * self.sample_weight
        W, _ = self._unpack(theta)
        return self.C * float(loss.sum()) + 0.5 * self.l2_strength * float((W * W).sum())

    def line(self, theta, direction, z=None):
        """phi(t) = f(theta + t d) from margins computed once; each trial O(n K)."""
        return _Line(self, theta, direction, z)

    # ---------------------------------------------------------------- interface
    def value_grad(self, theta):
        """Smooth part ``f = C sum s l + l2_strength/2 ||w||^2`` and its gradient (float64)."""
        self.n_evals["value_grad"] += 1
        W, _ = self._unpack(theta)
        loss, dZ = self._pointwise(self._margins(theta))
        if self.n_classes == 1:
            dZ = dZ[:, 1:]
        s = self.sample_weight
        if s is not None:
            loss = loss * s
            dZ = dZ * s[:, None]
        R = self.C * dZ  # (n, K)
        gW = np.asarray(self._Xs.T @ R, dtype=np.float64).T + self.l2_strength * W
        parts = [gW]
        if self.fit_intercept:
            parts.append(R.sum(axis=0)[:, None])
        grad = np.hstack(parts).ravel()
        f = self.C * float(loss.sum()) + 0.5 * self.l2_strength * float((W * W).sum())
        return f, grad

    def value(self, theta):
        """Full objective F (DESIGN.md sec. 1), including the L1 part."""
        W, _ = self._unpack(theta)
        f, _ = self.value_grad(theta)
        return f + self.l1_strength * float(np.abs(W).sum())

    def loss_per_sample(self, theta):
        """Unweighted pointwise losses l_i, shape (n,)."""
        return self._pointwise(self._margins(theta))[0]

    def hessp(self, theta, v):
        """Hessian-vector product of the smooth part by a central difference of the gradient."""
        theta = np.asarray(theta, dtype=np.float64)
        v = np.asarray(v, dtype=np.float64)
        self.n_evals["hessp"] += 1
        nv = np.linalg.norm(v)
        if nv == 0:
            return np.zeros_like(theta)
        h = np.cbrt(np.finfo(np.float64).eps) * max(1.0, np.linalg.norm(theta)) / nv
        return (self.value_grad(theta + h * v)[1] - self.value_grad(theta - h * v)[1]) / (2 * h)

    def hessian(self, theta):
        """Dense (n_params, n_params) Hessian from :meth:`hessp` columns (small d only)."""
        eye = np.eye(self.n_params)
        H = np.column_stack([self.hessp(theta, e) for e in eye])
        return 0.5 * (H + H.T)

    def hess_diag(self, theta):
        """Diagonal of :meth:`hessian`."""
        return np.diag(self.hessian(theta)).copy()


class _Line:
    """phi(t) = f(theta + t d) of the smooth part (the ``Objective.line`` interface)."""

    def __init__(self, objective, theta, direction, z=None):
        self.objective = objective
        self.theta = np.asarray(theta, dtype=np.float64)
        self.direction = np.asarray(direction, dtype=np.float64)
        self.z = objective.margins(self.theta) if z is None else z
        self.xd = objective.margins(self.direction, intercept=True)

    def margins(self, t):
        return self.z + t * self.xd

    def value(self, t):
        return self.objective.smooth_from_margins(self.margins(t),
                                                  self.theta + t * self.direction)


class FocalObjective(_PointwiseObjective):
    """Focal-loss objective; ``gamma=0`` is exactly the log-loss objective.

    Parameters as :class:`fastlogit.objective.Objective`, plus ``gamma >= 0``.
    """

    def __init__(self, X, y, sample_weight=None, *, gamma=2.0, **kwargs):
        if not np.isfinite(gamma) or gamma < 0:
            raise ValueError(f"focal gamma must be a finite number >= 0, got {gamma}")
        self.gamma = float(gamma)
        super().__init__(X, y, sample_weight, **kwargs)

    def _pointwise(self, Z):
        return focal_loss(self._Y, Z, self.gamma)


class NoiseCorrectedObjective(_PointwiseObjective):
    """Forward noise-corrected log-loss with label-transition matrix ``transition`` (K, K).

    ``transition[i, j] = P(observed j | true i)``; rows are non-negative and sum to 1.
    The model (theta) describes the *clean* label distribution.
    """

    def __init__(self, X, y, sample_weight=None, *, transition, **kwargs):
        super().__init__(X, y, sample_weight, **kwargs)
        T = check_transition(transition, max(2, self.n_classes))
        self.transition = T
        with np.errstate(divide="ignore"):
            self._logT = np.log(T)

    def _pointwise(self, Z):
        return noise_corrected_loss(self._Y, Z, self._logT)


def check_transition(transition, n_classes):
    """Validate a label-transition matrix: (K, K), finite, non-negative, rows summing to 1."""
    T = np.asarray(transition, dtype=np.float64)
    if T.shape != (n_classes, n_classes):
        raise ValueError(f"noise transition matrix must have shape ({n_classes}, {n_classes}) "
                         f"for {n_classes} classes, got {T.shape}")
    if not np.all(np.isfinite(T)) or np.any(T < 0):
        raise ValueError("noise transition matrix must be finite and non-negative")
    if not np.allclose(T.sum(axis=1), 1.0, rtol=0, atol=1e-8):
        raise ValueError("noise transition matrix rows must sum to 1 "
                         "(T[i, j] = P(observed j | true i))")
    if np.linalg.matrix_rank(T) < n_classes:
        raise ValueError("noise transition matrix must be invertible, otherwise the clean "
                         "model is not identifiable")
    return T
