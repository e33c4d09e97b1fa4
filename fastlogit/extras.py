"""Losses beyond plain log-loss: pointwise losses on margins as a data term (:class:`PointwiseData`).

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

The regularised objective is ``F = C * sum_i s_i l_i + R(w)``: an
:class:`fastlogit.objective.Objective` over a :class:`PointwiseData`, with the same penalty
objects and theta layout as for log-loss.  Neither loss is convex in general (forward
correction never is), so the data term says ``is_convex = False`` and the solvers that rely on
a positive-definite Hessian (declared ``convex_only``) are not offered for it.
"""
import numpy as np
from scipy.special import logsumexp

from . import kernels as _kernels
from ._docstring import fill_doc
from .layout import Layout
from .objective import Objective
from .validation import check_sample_weight, check_targets

__all__ = ["FocalObjective", "NoiseCorrectedObjective", "PointwiseData", "focal_loss",
           "noise_corrected_loss", "check_transition"]


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


class PointwiseData:
    """L(theta) = sum_i s_i l(Y_i, Z_i) for a pointwise loss on margins, over an in-memory X.

    A :class:`fastlogit.contract.DataTerm`.  Margins come from the kernels' ``decision``,
    ``X^T R`` from SciPy / NumPy; ``pointwise(Y, Z) -> (loss (n,), dloss_dZ (n, K'))`` is the
    loss (K' = 2 for a binary model, whose logits are ``[0, z]``).  Neither loss here is convex
    in general (``is_convex = False``: Newton solvers are not offered), and their exact
    Hessians are not needed by the quasi-Newton solver used for them, so :meth:`hessp` is a
    central finite difference of the exact gradient (O(2 gradient passes)).

    Parameters
    ----------
    X, y, sample_weight, fit_intercept, backend, n_threads :
        As for :class:`fastlogit.objective.LogLossData`.
    pointwise : callable ``(Y (n, K'), Z (n, K')) -> (loss (n,), dloss_dZ (n, K'))``, float64
    """

    is_convex = False

    def __init__(self, X, y, sample_weight=None, *, pointwise, fit_intercept=True,
                 backend="auto", n_threads=None):
        self.design = _kernels.as_design(X)
        self.kernels = _kernels.get(backend)
        self.n_threads = n_threads
        self.dtype = self.design.dtype
        self.n_samples, self.n_features = self.design.shape
        self.y = check_targets(y, self.n_samples)
        self.sample_weight = check_sample_weight(sample_weight, self.n_samples)
        self.n_classes = 1 if self.y.ndim == 1 else self.y.shape[1]
        self._Y = np.column_stack([1.0 - self.y, self.y]) if self.n_classes == 1 else self.y
        self.fit_intercept = bool(fit_intercept)
        self.layout = Layout(self.n_features, self.n_classes, self.fit_intercept)
        self.n_params = self.layout.n_params
        self.pointwise = pointwise
        self._Xs = self.design.to_scipy()
        self.n_evals = {"value_grad": 0, "hessp": 0, "margins": 0}

    def margins(self, theta, intercept=True):
        """z = X w (+ b), float64: (n,) binary or (n, K) multinomial (kernel ``decision``)."""
        self.n_evals["margins"] += 1
        rows = self.layout.rows(theta)
        d, fi = self.n_features, self.fit_intercept
        cols = []
        for k in range(self.layout.n_classes):
            w = np.ascontiguousarray(rows[k, :d], dtype=self.dtype)
            b = float(rows[k, d]) if (fi and intercept) else 0.0
            cols.append(self.kernels.decision(self.design, w, b,
                                              n_threads=self.n_threads).astype(np.float64))
        return cols[0] if self.n_classes == 1 else np.column_stack(cols)

    def _logits(self, z):
        """Z (n, K') for the pointwise loss: [0, z] for binary, z itself otherwise."""
        z = np.asarray(z, dtype=np.float64)
        return np.column_stack([np.zeros(z.shape[0]), z]) if self.n_classes == 1 else z

    def loss_per_sample(self, theta):
        """Unweighted pointwise losses l_i, shape (n,)."""
        return self.pointwise(self._Y, self._logits(self.margins(theta)))[0]

    def loss_from_margins(self, z):
        loss = self.pointwise(self._Y, self._logits(z))[0]
        return float(loss.sum() if self.sample_weight is None else self.sample_weight @ loss)

    def loss(self, theta):
        return self.loss_from_margins(self.margins(theta))

    def loss_grad(self, theta):
        """(L, grad L): one margins pass, the pointwise loss, one X^T R product."""
        self.n_evals["value_grad"] += 1
        loss, dZ = self.pointwise(self._Y, self._logits(self.margins(theta)))
        if self.n_classes == 1:
            dZ = dZ[:, 1:]
        s = self.sample_weight
        if s is not None:
            loss = loss * s
            dZ = dZ * s[:, None]
        parts = [np.asarray(self._Xs.T @ dZ, dtype=np.float64).T]
        if self.fit_intercept:
            parts.append(dZ.sum(axis=0)[:, None])
        return float(loss.sum()), np.hstack(parts).ravel()

    def hessp(self, theta, v):
        """Hess L v by a central difference of the exact gradient."""
        self.n_evals["hessp"] += 1
        nv = np.linalg.norm(v)
        if nv == 0:
            return np.zeros_like(theta)
        h = np.cbrt(np.finfo(np.float64).eps) * max(1.0, np.linalg.norm(theta)) / nv
        return (self.loss_grad(theta + h * v)[1] - self.loss_grad(theta - h * v)[1]) / (2 * h)

    def hessian(self, theta):
        """Dense (n_params, n_params) Hessian from :meth:`hessp` columns (small d only)."""
        H = np.column_stack([self.hessp(theta, e) for e in np.eye(self.n_params)])
        return 0.5 * (H + H.T)

    def hess_diag(self, theta):
        """Diagonal of :meth:`hessian`."""
        return np.diag(self.hessian(theta)).copy()


@fill_doc
class FocalObjective(Objective):
    """The focal-loss objective ``C * sum_i s_i focal(Y_i, Z_i) + R(w)``; ``gamma=0`` is
    exactly the log-loss objective.

    An :class:`fastlogit.objective.Objective` (same theta layout, penalty and methods) over a
    :class:`PointwiseData` with the focal loss of the module docstring.  Not convex for
    ``gamma > 0``: :func:`fastlogit.solvers.solve` offers the quasi-Newton and first-order
    solvers only.

    Parameters
    ----------
    {X, y, sample_weight}
    gamma : float, default=2.0
        Focusing parameter, a finite number >= 0 (else ValueError); 0 is the log-loss.
    {C, penalty, l1_ratio, fit_intercept, backend, n_threads}

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.extras import FocalObjective
    >>> from fastlogit.objective import Objective
    >>> from fastlogit.solvers import solve
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(50, 3))
    >>> y = (X[:, 0] + 0.5 * rng.normal(size=50) > 0).astype(float)
    >>> theta = rng.normal(size=4)  # 3 coefficients, then the intercept
    >>> bool(np.isclose(FocalObjective(X, y, gamma=0.0).value(theta),
    ...                 Objective(X, y).value(theta)))
    True
    >>> result = solve(FocalObjective(X, y, gamma=2.0), solver="lbfgs")
    >>> result.converged, result.theta.shape
    (True, (4,))
    """

    def __init__(self, X, y, sample_weight=None, *, gamma=2.0, C=1.0, penalty="l2",
                 l1_ratio=0.0, fit_intercept=True, backend="auto", n_threads=None):
        if not np.isfinite(gamma) or gamma < 0:
            raise ValueError(f"focal gamma must be a finite number >= 0, got {gamma}")
        self.gamma = float(gamma)
        data = PointwiseData(X, y, sample_weight, pointwise=self._pointwise,
                             fit_intercept=fit_intercept, backend=backend, n_threads=n_threads)
        super().__init__(data, C=C, penalty=penalty, l1_ratio=l1_ratio)

    def _pointwise(self, Y, Z):
        return focal_loss(Y, Z, self.gamma)


@fill_doc
class NoiseCorrectedObjective(Objective):
    """Forward noise-corrected log-loss with label-transition matrix ``transition`` (K, K).

    ``transition[i, j] = P(observed j | true i)``; rows are non-negative and sum to 1.
    The model (theta) describes the *clean* label distribution.  An
    :class:`fastlogit.objective.Objective` over a :class:`PointwiseData`; never convex, so
    :func:`fastlogit.solvers.solve` offers the quasi-Newton and first-order solvers only.

    Parameters
    ----------
    {X}
    y : array-like of shape (n_samples,) or (n_samples, K)
        Observed (noisy) targets: probabilities of the label 1 in [0, 1] for a binary
        model (0/1 labels or soft labels), or for K >= 2 classes rows of class
        probabilities summing to 1 (one-hot labels or soft labels).  Anything else raises
        ValueError.
    {sample_weight}
    transition : array-like of shape (K, K)
        Label-transition matrix, K = 2 for a binary model: finite, non-negative, rows
        summing to 1 (within 1e-8) and invertible (else the clean model is not identifiable);
        any violation raises ValueError.
    {C, penalty, l1_ratio, fit_intercept, backend, n_threads}

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from fastlogit.extras import NoiseCorrectedObjective
    >>> from fastlogit.solvers import solve
    >>> X, y = make_classification(n_samples=300, n_features=4, flip_y=0.2, random_state=0)
    >>> T = [[0.9, 0.1], [0.1, 0.9]]  # each label observed flipped with probability 0.1
    >>> result = solve(NoiseCorrectedObjective(X, y, transition=T), solver="lbfgs")
    >>> result.converged, result.theta.shape
    (True, (5,))
    """

    def __init__(self, X, y, sample_weight=None, *, transition, C=1.0, penalty="l2",
                 l1_ratio=0.0, fit_intercept=True, backend="auto", n_threads=None):
        data = PointwiseData(X, y, sample_weight, pointwise=self._pointwise,
                             fit_intercept=fit_intercept, backend=backend, n_threads=n_threads)
        self.transition = check_transition(transition, max(2, data.n_classes))
        with np.errstate(divide="ignore"):
            self._logT = np.log(self.transition)
        super().__init__(data, C=C, penalty=penalty, l1_ratio=l1_ratio)

    def _pointwise(self, Y, Z):
        return noise_corrected_loss(Y, Z, self._logT)


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
