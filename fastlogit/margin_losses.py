"""Binary losses of the margin m = y~ z (y~ = 2y - 1 in {-1, +1}) as one data term.

Each loss is a small object with three pointwise functions of (y~, z), float64::

    value(yt, z)      l(m)                  m = yt * z
    derivative(yt, z) dl/dz = yt l'(m)
    curvature(yt, z)  d2l/dz2 = l''(m)      (the generalised second derivative where l' kinks)

=================  ===================================  =====================================
loss               l(m)                                 notes
=================  ===================================  =====================================
``LogLoss``        log(1 + exp(-m))                     the library's own loss, for checks
``SquaredHinge``   max(0, 1 - m)^2                      L2-SVM (LIBLINEAR ``-s 2``): C^1, a
                                                        generalised Hessian (Newton / TRON)
``SmoothedHinge``  0 (m >= 1); (1 - m)^2 / (2 mu)       the hinge (L1-SVM) smoothed on
                   (1 - mu < m < 1); 1 - m - mu/2       (1 - mu, 1): within mu/2 of it
=================  ===================================  =====================================

:class:`MarginData` is a :class:`fastlogit.contract.DataTerm` for any of them: margins, X^T r
and Hessian products through the compiled kernels (``decision``, ``hessp``, ``hess_diag``,
``gram``: ``X^T r`` is ``hessp`` with weights r, v = 0 and an intercept direction of 1), so
every solver and penalty of the library applies.  Binary models only.

Margin losses give no probabilities: ``l`` is not the negative log-likelihood of any model of
P(y | x) (the hinge is flat beyond the margin, so confidently right points say nothing about
how confident the model should be).  Their scores can be turned into probabilities only by a
separate calibration map (:mod:`fastlogit.calibration`).
"""
import numpy as np

from . import kernels as _kernels
from ._design_rows import row_subset
from ._docstring import fill_doc
from .layout import Layout
from .validation import check_sample_weight, check_targets

#: Hessian products read only the rows with non-zero curvature when they are at most this
#: fraction of the samples (:meth:`MarginData._second_order`); above it the gather's copy
#: costs more than the rows it saves.
ACTIVE_ROWS_FRACTION = 0.5

__all__ = ["LogLoss", "SquaredHinge", "SmoothedHinge", "MarginData", "row_subset"]


class LogLoss:
    """l(m) = log(1 + exp(-m)): the binary log-loss written as a margin loss.

    Stateless (no constructor arguments); ``value``, ``derivative`` and ``curvature`` take
    ``yt`` (labels in {-1, +1}) and ``z`` (margins), float64 arrays of one shape, and return
    an array of that shape.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.margin_losses import LogLoss
    >>> yt, z = np.array([1.0, -1.0]), np.array([0.0, 2.0])
    >>> LogLoss.value(yt, z).round(4), LogLoss.derivative(yt, z).round(4)
    (array([0.6931, 2.1269]), array([-0.5   ,  0.8808]))
    """

    name = "log_loss"

    @staticmethod
    @fill_doc
    def value(yt, z):
        """log(1 + exp(-m)), m = yt * z, elementwise (no overflow for large ``|m|``).

        {margin_value}
        >>> LogLoss.value(yt, z).round(4)
        array([0.1269, 0.4741, 0.9741])
        """
        m = yt * z
        return np.logaddexp(0.0, -m)

    @staticmethod
    @fill_doc
    def derivative(yt, z):
        """dl/dz = -yt sigmoid(-m), elementwise.

        {margin_derivative}
        >>> LogLoss.derivative(yt, z).round(4)
        array([-0.1192, -0.3775,  0.6225])
        """
        m = yt * z
        return -yt * np.exp(-np.logaddexp(0.0, m))  # -yt sigmoid(-m)

    @staticmethod
    @fill_doc
    def curvature(yt, z):
        """d2l/dz2 = sigmoid(z) (1 - sigmoid(z)), elementwise (the same for yt = -1 and +1).

        {margin_curvature}
        >>> LogLoss.curvature(yt, z).round(4)  # z = 0.5 twice: yt does not matter
        array([0.105, 0.235, 0.235])
        """
        p = np.exp(-np.logaddexp(0.0, -z))  # sigmoid(z)
        return p * (1.0 - p)


class SquaredHinge:
    """l(m) = max(0, 1 - m)^2 (LIBLINEAR's L2-loss SVM).

    Stateless (no constructor arguments); its functions take labels ``yt`` in {-1, +1} and
    margins ``z`` (float64 arrays of one shape).  ``curvature`` is the generalised second
    derivative, 2 inside the margin (m < 1) and 0 elsewhere.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.margin_losses import SquaredHinge
    >>> yt, z = np.array([1.0, 1.0, -1.0]), np.array([2.0, 0.5, 0.5])
    >>> SquaredHinge.value(yt, z), SquaredHinge.curvature(yt, z)
    (array([0.  , 0.25, 2.25]), array([0., 2., 2.]))
    """

    name = "squared_hinge"

    @staticmethod
    @fill_doc
    def value(yt, z):
        """max(0, 1 - m)^2, m = yt * z, elementwise.

        {margin_value}
        >>> SquaredHinge.value(yt, z)  # 0 beyond the margin (m >= 1)
        array([0.  , 0.25, 2.25])
        """
        return np.square(np.maximum(0.0, 1.0 - yt * z))

    @staticmethod
    @fill_doc
    def derivative(yt, z):
        """dl/dz = -2 yt max(0, 1 - m), elementwise.

        {margin_derivative}
        >>> SquaredHinge.derivative(yt, z)
        array([-0., -1.,  3.])
        """
        return -2.0 * yt * np.maximum(0.0, 1.0 - yt * z)

    @staticmethod
    @fill_doc
    def curvature(yt, z):
        """Generalised d2l/dz2: 2 where m < 1, else 0 (0 at the kink m = 1).

        {margin_curvature}
        >>> SquaredHinge.curvature(yt, z)
        array([0., 2., 2.])
        """
        return np.where(yt * z < 1.0, 2.0, 0.0)


class SmoothedHinge:
    """The hinge max(0, 1 - m) with its kink at m = 1 replaced by a parabola on (1 - mu, 1).

    ``0 <= hinge(m) - l(m) <= mu / 2`` for every m; ``mu -> 0`` recovers the hinge.
    Its functions take labels ``yt`` in {-1, +1} and margins ``z`` (float64 arrays of one
    shape); ``curvature`` is ``1 / mu`` on (1 - mu, 1) and 0 elsewhere.

    Parameters
    ----------
    mu : float
        Width of the smoothed band below the kink, > 0 (else ValueError).

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.margin_losses import SmoothedHinge
    >>> loss = SmoothedHinge(mu=0.5)
    >>> m = np.array([2.0, 0.75, 0.0])  # beyond, inside and below the band (yt = +1)
    >>> loss.value(np.ones(3), m)
    array([0.    , 0.0625, 0.75  ])
    """

    name = "smoothed_hinge"

    def __init__(self, mu):
        self.mu = float(mu)
        if not self.mu > 0:
            raise ValueError(f"mu must be > 0, got {mu!r}")

    @fill_doc
    def value(self, yt, z):
        """0 (m >= 1), (1 - m)^2 / (2 mu) (1 - mu < m < 1), 1 - m - mu/2 (m <= 1 - mu).

        {margin_value}
        >>> SmoothedHinge(mu=1.0).value(yt, z)  # beyond, inside and below the band
        array([0.   , 0.125, 1.   ])
        """
        gap = 1.0 - yt * z
        mu = self.mu
        return np.where(gap <= 0, 0.0, np.where(gap < mu, gap * gap / (2 * mu), gap - mu / 2))

    @fill_doc
    def derivative(self, yt, z):
        """dl/dz = -yt clip((1 - m) / mu, 0, 1), elementwise.

        {margin_derivative}
        >>> SmoothedHinge(mu=1.0).derivative(yt, z)
        array([-0. , -0.5,  1. ])
        """
        gap = 1.0 - yt * z
        return -yt * np.clip(gap / self.mu, 0.0, 1.0)

    @fill_doc
    def curvature(self, yt, z):
        """d2l/dz2: 1 / mu where 1 - mu < m < 1, else 0 (0 at the kinks m = 1 - mu, 1).

        {margin_curvature}
        >>> SmoothedHinge(mu=1.0).curvature(yt, z)  # 1 / mu inside the band (0, 1) only
        array([0., 1., 0.])
        """
        gap = 1.0 - yt * z
        return np.where((gap > 0) & (gap < self.mu), 1.0 / self.mu, 0.0)


@fill_doc
class MarginData:
    """L(theta) = sum_i s_i l(y~_i z_i), z = X w + b, for a binary margin loss ``loss``.

    A :class:`fastlogit.contract.DataTerm`: wrap it in an
    :class:`fastlogit.objective.Objective` to add C and a penalty, and every solver of
    :mod:`fastlogit.solvers` applies.  The curvature at the last ``loss_grad`` is cached, so
    a following ``hessp`` costs one pass.  ``is_convex`` is True: every margin loss here is
    convex in z.

    Parameters
    ----------
    {X}
    y : array-like of shape (n_samples,)
        Binary labels, every value 0 or 1 (soft labels are not defined for margin losses;
        anything else, or a 2-D y, raises ValueError).  Internally ``y~ = 2 y - 1``.
    {sample_weight}
    loss : LogLoss, SquaredHinge, SmoothedHinge or object
        The margin loss: any object with ``value``, ``derivative`` and ``curvature`` of
        ``(yt, z)`` as those classes have (keyword-only, required).
    {fit_intercept, backend, n_threads}

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.margin_losses import MarginData, SquaredHinge
    >>> from fastlogit.objective import Objective
    >>> from fastlogit.solvers import solve
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 3))
    >>> y = (X[:, 0] > 0).astype(float)
    >>> data = MarginData(X, y, loss=SquaredHinge())
    >>> data.loss(np.zeros(4))  # every margin is 0: loss 1 per sample
    40.0
    >>> result = solve(Objective(data, C=1.0, penalty="l2"), solver="newton-cholesky")
    >>> result.converged, result.theta.shape
    (True, (4,))
    """

    is_convex = True

    def __init__(self, X, y, sample_weight=None, *, loss, fit_intercept=True, backend="auto",
                 n_threads=None):
        self.design = _kernels.as_design(X)
        self.kernels = _kernels.get(backend)
        self.n_threads = n_threads
        self.dtype = self.design.dtype
        self.n_samples, self.n_features = self.design.shape
        y = check_targets(y, self.n_samples)
        if y.ndim != 1 or not np.all((y == 0) | (y == 1)):
            raise ValueError("margin losses need binary labels in {0, 1} (one column)")
        self.y = y
        self.sample_weight = check_sample_weight(sample_weight, self.n_samples)
        self._s = np.ones(self.n_samples) if self.sample_weight is None else self.sample_weight
        self._yt = 2.0 * y - 1.0
        self.loss_fn = loss
        self.fit_intercept = bool(fit_intercept)
        self.layout = Layout(self.n_features, 1, self.fit_intercept)
        self.n_params = self.layout.n_params
        d, t = self.n_features, self.dtype
        self._w = np.zeros(d, dtype=t)
        self._zero = np.zeros(d, dtype=t)
        self._out = np.zeros(d, dtype=t)
        self._z = np.empty(self.n_samples, dtype=t)
        self._cache = (None, None, None, None)  # theta, loss, grad, curvature (data dtype)
        self._active = (None, None)  # the cached theta's key, (design, curvature) or None
        self.n_evals = {"value_grad": 0, "hessp": 0, "margins": 0}

    @fill_doc
    def margins(self, theta, intercept=True):
        """z = X w (+ b): one kernel pass over X.

        Parameters
        ----------
        {data_term_theta}
        intercept : bool, default=True
            Whether z includes the intercept b (nothing to add without a fitted intercept);
            False gives X w.

        Returns
        -------
        ndarray of shape (n_samples,)
            The margins, float64 (computed in the data's dtype): a new array.

        Examples
        --------
        {margin_data_example}
        >>> data.margins(theta), data.margins(theta, intercept=False)
        (array([-1.5, -0.5,  0.5,  1.5]), array([0., 1., 2., 3.]))
        """
        self.n_evals["margins"] += 1
        d = self.n_features
        self._w[:] = theta[:d]
        b = float(theta[d]) if (self.fit_intercept and intercept) else 0.0
        self.kernels.decision(self.design, self._w, b, self._z, n_threads=self.n_threads)
        return self._z.astype(np.float64)

    def _rmatvec(self, r, design=None):
        """(X^T r, sum r) as float64 (n_params,), one kernel pass (over ``design``'s rows,
        default all)."""
        r = np.ascontiguousarray(r, dtype=self.dtype)
        design = self.design if design is None else design
        total = self.kernels.hessp(design, r, self._zero, self._out, 1.0,
                                   n_threads=self.n_threads)
        out = np.empty(self.n_params)
        out[:self.n_features] = self._out
        if self.fit_intercept:
            out[-1] = total
        return out

    @fill_doc
    def loss_from_margins(self, z):
        """L = sum_i s_i l(y~_i z_i) at the margins z: O(n), no pass over X.

        Parameters
        ----------
        z : ndarray of shape (n_samples,)
            Margins X w + b, float64 (as :meth:`margins` returns them).

        Returns
        -------
        float
            L at the theta whose margins are z.

        Examples
        --------
        {margin_data_example}
        >>> data.loss_from_margins(data.margins(theta)), data.loss_from_margins(np.zeros(4))
        (0.5, 4.0)
        """
        return float(self._s @ self.loss_fn.value(self._yt, z))

    @fill_doc
    def loss(self, theta):
        """L(theta) = sum_i s_i l(y~_i z_i): one pass over X, none when theta is the last
        :meth:`loss_grad`'s (its cached value).

        Parameters
        ----------
        {data_term_theta}

        Returns
        -------
        float
            The unscaled, unpenalised loss sum, >= 0.

        Examples
        --------
        {margin_data_example}
        >>> data.loss(theta), data.loss(np.zeros(3))  # squared hinge: 1 per sample at z = 0
        (0.5, 4.0)
        """
        if self._cache[0] is not None and np.array_equal(self._cache[0], theta):
            return self._cache[1]
        return self.loss_from_margins(self.margins(theta))

    @fill_doc
    def loss_grad(self, theta):
        """(L, grad L) at theta: two passes over X (margins, then X~^T r), none when theta is
        the last call's.  Keeps the curvature s_i l''(z_i) at theta for the Hessian methods.

        Parameters
        ----------
        {data_term_theta}

        Returns
        -------
        loss : float
            L(theta), as :meth:`loss`.
        grad : ndarray of shape (n_params,)
            ``X~^T (s * dl/dz)`` with X~ = [X, 1], float64: a new array (the cache keeps its
            own).

        Examples
        --------
        {margin_data_example}
        >>> data.loss_grad(theta)  # dl/dz = 0, 1, -1, 0
        (0.5, array([-1., -1.,  0.]))
        """
        if self._cache[0] is None or not np.array_equal(self._cache[0], theta):
            self.n_evals["value_grad"] += 1
            z = self.margins(theta)
            loss = float(self._s @ self.loss_fn.value(self._yt, z))
            grad = self._rmatvec(self._s * self.loss_fn.derivative(self._yt, z))
            curv = np.ascontiguousarray(self._s * self.loss_fn.curvature(self._yt, z),
                                        dtype=self.dtype)
            self._cache = (theta.copy(), loss, grad, curv)
        return self._cache[1], self._cache[2].copy()

    def _curvature(self, theta):
        self.loss_grad(theta)
        return self._cache[3]

    def _second_order(self, theta):
        """(design, curvature) for the Hessian products at theta: the rows with non-zero
        curvature only, when they are at most ``ACTIVE_ROWS_FRACTION`` of the samples.

        A margin loss with a flat part (squared hinge: l'' = 0 beyond the margin) gives rows
        outside the margin no curvature, so they add nothing to X^T D X or X^T D X v; the
        passes then read only the rows inside the margin (LIBLINEAR's ``-s 2`` does the
        same).  The subset is gathered once per theta (one copy of those rows, without
        re-validation: :func:`row_subset`) and reused by every Hessian product at that
        theta.  The products equal the full passes' up to the
        summation order of the rows.
        """
        curv = self._curvature(theta)
        key = self._cache[0]
        if self._active[0] is not key:
            active = np.flatnonzero(curv)
            sub = None
            if active.size <= ACTIVE_ROWS_FRACTION * self.n_samples:
                sub = (row_subset(self.design, active), np.ascontiguousarray(curv[active]))
            self._active = (key, sub)
        return (self.design, curv) if self._active[1] is None else self._active[1]

    @fill_doc
    def hessp(self, theta, v):
        """Hess L v = X~^T (s l'' * (X~ v)), X~ = [X, 1]: one kernel pass (over the rows
        with curvature, see :meth:`_second_order`), after :meth:`loss_grad`'s passes when
        theta is not the cached one.

        Parameters
        ----------
        {data_term_theta}
        v : ndarray of shape (n_params,)
            The direction, float64, packed as theta.

        Returns
        -------
        ndarray of shape (n_params,)
            The generalised Hessian of L at theta times v, float64: a new array.

        Examples
        --------
        {margin_data_example}
        >>> data.hessp(theta, np.array([1.0, 0.0, 0.0]))  # the Hessian's first column
        array([10.,  4.,  6.])
        """
        design, curv = self._second_order(theta)
        self.n_evals["hessp"] += 1
        d = self.n_features
        self._w[:] = v[:d]
        vb = float(v[d]) if self.fit_intercept else 0.0
        total = self.kernels.hessp(design, curv, self._w, self._out, vb,
                                   n_threads=self.n_threads)
        out = np.empty(self.n_params)
        out[:d] = self._out
        if self.fit_intercept:
            out[d] = total
        return out

    @fill_doc
    def hess_diag(self, theta):
        """Diagonal of the generalised Hessian of L at theta: one kernel pass (over the rows
        with curvature), e.g. a preconditioner.

        Parameters
        ----------
        {data_term_theta}

        Returns
        -------
        ndarray of shape (n_params,)
            ``sum_i s_i l''_i x~_ij^2`` per parameter j, float64, >= 0: a new array.

        Examples
        --------
        {margin_data_example}
        >>> data.hess_diag(theta)
        array([10.,  2.,  4.])
        """
        design, curv = self._second_order(theta)
        self.kernels.hess_diag(design, curv, self._out, n_threads=self.n_threads)
        out = np.empty(self.n_params)
        out[:self.n_features] = self._out
        if self.fit_intercept:
            out[-1] = float(curv.sum(dtype=np.float64))
        return out

    @fill_doc
    def hessian(self, theta):
        """Dense generalised Hessian X~^T diag(s l'') X~ of L at theta (gram kernel over the
        rows with curvature, :meth:`_second_order`; small d only: O(d^2) memory).

        Parameters
        ----------
        {data_term_theta}

        Returns
        -------
        ndarray of shape (n_params, n_params)
            Symmetric, positive semi-definite, float64: a new array.

        Examples
        --------
        {margin_data_example}
        >>> data.hessian(theta)  # 2 x~ x~^T summed over rows 2 and 3
        array([[10.,  4.,  6.],
               [ 4.,  2.,  2.],
               [ 6.,  2.,  4.]])
        """
        design, curv = self._second_order(theta)
        d = self.n_features
        G = np.empty((d, d), dtype=self.dtype)
        self.kernels.gram(design, curv, G, n_threads=self.n_threads)
        H = np.zeros((self.n_params, self.n_params))
        H[:d, :d] = G
        if self.fit_intercept:
            col = self._rmatvec(curv, design)
            H[:d, d] = H[d, :d] = col[:d]
            H[d, d] = col[d]
        return H
