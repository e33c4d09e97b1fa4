"""Penalties R(w) as objects: one class per penalty, used by every objective, solver and front.

A penalty acts on the *penalised coefficients* ``w``: a flat float64 array holding every
coefficient of theta and no intercept (:meth:`fastlogit.layout.Layout.coef`).  It splits into

::

    R(w) = S(w) + l1_strength * ||w||_1

a twice-differentiable part ``S`` (what smooth solvers, Hessian products and line searches
see) and a separable L1 part, the only non-smooth part the library's solvers handle (through
:meth:`Penalty.prox` and :meth:`Penalty.min_norm_subgradient`).  A penalty with
``l1_strength == 0`` is *smooth*: every solver accepts it.

The contract a new penalty fulfils (see ``tests/test_contract.py`` for a weighted L2 defined
outside the package):

* ``smooth_value(w) -> float``, ``smooth_grad(w) -> (p,)``, ``smooth_hessp(w, v) -> (p,)``,
  ``smooth_hess_diag(w) -> (p,)``: S and its derivatives, float64, ``p = w.size``;
* ``l1_strength``: a float >= 0 (default 0);
* ``l2_strength``: the ``a`` of ``S(w) = a/2 ||w||^2`` when S is exactly that, else None.
  The compiled SGD epochs' lazy scaling uses it; other code never relies on it.

Everything else (``value``, ``prox``, ``min_norm_subgradient``) derives from these.
"""
from abc import ABC, abstractmethod

import numpy as np

from ._docstring import DOCDICT, fill_doc, filler

__all__ = ["Penalty", "NoPenalty", "L2", "L1", "ElasticNet", "make_penalty", "PENALTY_NAMES"]

#: The names the estimators accept for ``penalty`` (None means no penalty).
PENALTY_NAMES = ("l2", "l1", "elasticnet", None)


_W, _V = DOCDICT["penalty_w"], DOCDICT["penalty_v"]
_RETURNS_P = "Returns\n-------\nndarray of shape (p,)\n    "
#: Parameters and Returns of the smooth_* methods, one text for the base's contract and
#: every override (:func:`fastlogit._docstring.filler`).
_fill_doc = filler({
    "smooth_value_sections": f"Parameters\n----------\n{_W}\n\nReturns\n-------\nfloat\n    S(w).",
    "smooth_grad_sections": f"Parameters\n----------\n{_W}\n\n{_RETURNS_P}"
                            "grad S(w), float64 (a new array).",
    "smooth_hessp_sections": f"Parameters\n----------\n{_W}\n{_V}\n\n{_RETURNS_P}"
                             "Hess S(w) v, float64 (a new array).",
    "smooth_hess_diag_sections": f"Parameters\n----------\n{_W}\n\n{_RETURNS_P}"
                                 "The diagonal, float64, non-negative (S is convex; a new "
                                 "array).",
})


def _soft_threshold(x, t):
    """sign(x) max(|x| - t, 0), elementwise (t scalar or array)."""
    return np.sign(x) * np.maximum(np.abs(x) - t, 0.0)


class Penalty(ABC):
    """R(w) = S(w) + l1_strength ||w||_1 on the penalised coefficients (flat float64).

    Abstract base: a subclass defines ``smooth_value``, ``smooth_grad``, ``smooth_hessp``
    and ``smooth_hess_diag`` (S and its derivatives, arrays of shape (p,), ``p = w.size``)
    and sets the class or instance attributes ``name``, ``l1_strength`` (>= 0) and
    ``l2_strength`` (module docstring); ``value``, ``prox`` and ``min_norm_subgradient``
    follow.  Takes no constructor arguments.

    Examples
    --------
    A weighted ridge ``S(w) = 1/2 sum_j a_j w_j^2``, smooth, usable by every solver:

    >>> import numpy as np
    >>> from fastlogit.penalties import Penalty
    >>> class WeightedL2(Penalty):
    ...     name = "weighted_l2"
    ...     def __init__(self, a):
    ...         self.a = np.asarray(a, dtype=np.float64)
    ...     def smooth_value(self, w):
    ...         return 0.5 * float(self.a @ (w * w))
    ...     def smooth_grad(self, w):
    ...         return self.a * w
    ...     def smooth_hessp(self, w, v):
    ...         return self.a * v
    ...     def smooth_hess_diag(self, w):
    ...         return self.a.copy()
    >>> pen = WeightedL2([1.0, 4.0])
    >>> pen.value(np.array([1.0, 1.0])), pen.is_smooth
    (2.5, True)
    """

    #: Short name used in messages and reprs.
    name = "penalty"
    #: Coefficient of ||w||_1 (the non-smooth part); 0 for a smooth penalty.
    l1_strength = 0.0
    #: ``a`` when S(w) = a/2 ||w||^2 exactly, else None.
    l2_strength = None

    @property
    def is_smooth(self):
        """Whether R is twice differentiable: True when ``l1_strength`` is 0 (no L1 part).

        A bool; the solvers that need a Hessian (Newton) accept only smooth penalties.

        Examples
        --------
        >>> from fastlogit.penalties import L1, L2, ElasticNet
        >>> L2().is_smooth, L1().is_smooth, ElasticNet(0.5).is_smooth
        (True, False, False)
        """
        return not self.l1_strength

    @abstractmethod
    @_fill_doc
    def smooth_value(self, w):
        """S(w), the smooth part of R (R without its L1 term).

        {smooth_value_sections}

        Examples
        --------
        >>> import numpy as np
        >>> from fastlogit.penalties import L1, L2
        >>> w = np.array([3.0, 4.0])
        >>> L2().smooth_value(w), L1().smooth_value(w)  # L1 has no smooth part
        (12.5, 0.0)
        """

    @abstractmethod
    @_fill_doc
    def smooth_grad(self, w):
        """grad S(w), the gradient of the smooth part of R.

        {smooth_grad_sections}

        Examples
        --------
        >>> import numpy as np
        >>> from fastlogit.penalties import L1, L2
        >>> w = np.array([3.0, 4.0])
        >>> L2().smooth_grad(w), L1().smooth_grad(w)
        (array([3., 4.]), array([0., 0.]))
        """

    @abstractmethod
    @_fill_doc
    def smooth_hessp(self, w, v):
        """Hess S(w) v, the Hessian of the smooth part of R times a direction.

        {smooth_hessp_sections}

        Examples
        --------
        >>> import numpy as np
        >>> from fastlogit.penalties import L1, L2
        >>> w, v = np.array([3.0, 4.0]), np.array([1.0, 2.0])
        >>> L2().smooth_hessp(w, v), L1().smooth_hessp(w, v)
        (array([1., 2.]), array([0., 0.]))
        """

    @abstractmethod
    @_fill_doc
    def smooth_hess_diag(self, w):
        """diag Hess S(w), the Hessian diagonal of the smooth part of R (a preconditioner).

        {smooth_hess_diag_sections}

        Examples
        --------
        >>> import numpy as np
        >>> from fastlogit.penalties import L1, L2
        >>> w = np.array([3.0, 4.0])
        >>> L2().smooth_hess_diag(w), L1().smooth_hess_diag(w)
        (array([1., 1.]), array([0., 0.]))
        """

    @fill_doc
    def value(self, w):
        """R(w) = S(w) + l1_strength ||w||_1.

        Parameters
        ----------
        {penalty_w}

        Returns
        -------
        float
            R(w).

        Examples
        --------
        >>> import numpy as np
        >>> from fastlogit.penalties import L1, L2
        >>> w = np.array([3.0, -4.0])
        >>> L2().value(w), L1().value(w)
        (12.5, 7.0)
        """
        r = self.smooth_value(w)
        if self.l1_strength:
            r += self.l1_strength * float(np.abs(w).sum())
        return r

    @fill_doc
    def prox(self, w, step):
        """argmin_u 1/(2 step) ||u - w||^2 + l1_strength ||u||_1 (the non-smooth part's prox).

        Parameters
        ----------
        {penalty_w}
        step : float
            The step size, > 0.

        Returns
        -------
        ndarray of shape (p,)
            Soft-thresholding of ``w`` by ``step * l1_strength`` (a float64 copy of ``w``
            for a smooth penalty).

        Examples
        --------
        >>> import numpy as np
        >>> from fastlogit.penalties import L1, L2
        >>> w = np.array([3.0, -0.5, 0.0])
        >>> L1().prox(w, step=1.0)  # entries within 1 of zero become zero
        array([ 2., -0.,  0.])
        >>> L2().prox(w, step=1.0)  # no L1 part: a copy of w
        array([ 3. , -0.5,  0. ])
        """
        if not self.l1_strength:
            return np.array(w, dtype=np.float64)
        return _soft_threshold(w, step * self.l1_strength)

    @fill_doc
    def min_norm_subgradient(self, w, grad):
        """The minimum-norm element of ``grad + l1_strength * d||w||_1``.

        Equal to ``grad`` for a smooth penalty; zero exactly at a minimiser, so its infinity
        norm is the optimality measure of the non-smooth solvers.

        Parameters
        ----------
        {penalty_w}
        grad : ndarray of shape (p,)
            The gradient of the smooth part of F with respect to w.

        Returns
        -------
        ndarray of shape (p,)
            The minimum-norm subgradient, float64 (a new array).

        Examples
        --------
        >>> import numpy as np
        >>> from fastlogit.penalties import L1
        >>> w = np.array([2.0, 0.0, 0.0])
        >>> L1().min_norm_subgradient(w, grad=np.array([-1.0, 0.5, 3.0]))
        array([0., 0., 2.])
        """
        grad = np.asarray(grad, dtype=np.float64)
        lam = self.l1_strength
        if not lam:
            return grad.copy()
        out = grad + lam * np.sign(w)
        zero = w == 0
        out[zero] = _soft_threshold(grad[zero], lam)
        return out

    def __repr__(self):
        return f"{type(self).__name__}()"


class NoPenalty(Penalty):
    """R = 0 (``penalty=None``): an unpenalised fit.  Takes no constructor arguments.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.penalties import NoPenalty
    >>> pen = NoPenalty()
    >>> pen.value(np.array([3.0, -4.0])), pen.is_smooth
    (0.0, True)
    """

    name = "none"
    l2_strength = 0.0

    @_fill_doc
    def smooth_value(self, w):
        """S(w) = 0.0, whatever ``w``.

        {smooth_value_sections}

        Examples
        --------
        >>> import numpy as np
        >>> from fastlogit.penalties import NoPenalty
        >>> NoPenalty().smooth_value(np.array([3.0, -4.0]))
        0.0
        """
        return 0.0

    @_fill_doc
    def smooth_grad(self, w):
        """grad S(w) = 0: float64 zeros of w's shape.

        {smooth_grad_sections}

        Examples
        --------
        >>> import numpy as np
        >>> from fastlogit.penalties import NoPenalty
        >>> NoPenalty().smooth_grad(np.array([3.0, -4.0]))
        array([0., 0.])
        """
        return np.zeros_like(w, dtype=np.float64)

    @_fill_doc
    def smooth_hessp(self, w, v):
        """Hess S(w) v = 0: float64 zeros of v's shape.

        {smooth_hessp_sections}

        Examples
        --------
        >>> import numpy as np
        >>> from fastlogit.penalties import NoPenalty
        >>> NoPenalty().smooth_hessp(np.zeros(2), np.array([1.0, 2.0]))
        array([0., 0.])
        """
        return np.zeros_like(v, dtype=np.float64)

    @_fill_doc
    def smooth_hess_diag(self, w):
        """diag Hess S(w) = 0: float64 zeros of w's shape.

        {smooth_hess_diag_sections}

        Examples
        --------
        >>> import numpy as np
        >>> from fastlogit.penalties import NoPenalty
        >>> NoPenalty().smooth_hess_diag(np.array([3.0, -4.0]))
        array([0., 0.])
        """
        return np.zeros_like(w, dtype=np.float64)


class ElasticNet(Penalty):
    """R(w) = l1_ratio ||w||_1 + (1 - l1_ratio)/2 ||w||^2, l1_ratio in [0, 1].

    The parent of :class:`L2` (l1_ratio 0) and :class:`L1` (l1_ratio 1): scikit-learn's
    ``penalty="elasticnet"`` convention, with C multiplying the loss and not the penalty.
    Sets ``l1_strength = l1_ratio`` and ``l2_strength = 1 - l1_ratio``.

    Parameters
    ----------
    l1_ratio : float, default=0.5
        Share of the L1 term, in [0, 1]; 0 is ridge, 1 is lasso.  Anything else raises
        ValueError.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.penalties import ElasticNet
    >>> pen = ElasticNet(l1_ratio=0.5)
    >>> w = np.array([2.0, -1.0, 0.0])
    >>> pen.value(w)  # 0.5 * 3 + 0.25 * 5
    2.75
    >>> pen.prox(w, step=1.0)  # soft-thresholding of the L1 part by 0.5
    array([ 1.5, -0.5,  0. ])
    """

    name = "elasticnet"

    def __init__(self, l1_ratio=0.5):
        r = float(l1_ratio)
        if not 0.0 <= r <= 1.0:
            raise ValueError(f"l1_ratio must lie in [0, 1], got {l1_ratio!r}")
        self.l1_ratio = r
        self.l1_strength = r
        self.l2_strength = 1.0 - r

    @_fill_doc
    def smooth_value(self, w):
        """S(w) = (1 - l1_ratio) / 2 ||w||^2, the ridge part (0.0 for :class:`L1`).

        {smooth_value_sections}

        Examples
        --------
        >>> import numpy as np
        >>> from fastlogit.penalties import ElasticNet
        >>> ElasticNet(0.5).smooth_value(np.array([2.0, -1.0]))  # 0.5 / 2 * 5
        1.25
        """
        a = self.l2_strength
        # NumPy's own loop, not BLAS: a BLAS dot outside a solver's single-threaded-BLAS scope
        # wakes OpenBLAS's threads, which then spin against the next kernel pass.
        return 0.5 * a * float(np.einsum("i,i->", w, w)) if a else 0.0

    @_fill_doc
    def smooth_grad(self, w):
        """grad S(w) = (1 - l1_ratio) w.

        {smooth_grad_sections}

        Examples
        --------
        >>> import numpy as np
        >>> from fastlogit.penalties import ElasticNet
        >>> ElasticNet(0.5).smooth_grad(np.array([2.0, -1.0]))
        array([ 1. , -0.5])
        """
        return self.l2_strength * np.asarray(w, dtype=np.float64)

    @_fill_doc
    def smooth_hessp(self, w, v):
        """Hess S(w) v = (1 - l1_ratio) v (``w`` is not used: S is quadratic).

        {smooth_hessp_sections}

        Examples
        --------
        >>> import numpy as np
        >>> from fastlogit.penalties import ElasticNet
        >>> ElasticNet(0.5).smooth_hessp(np.zeros(2), np.array([4.0, 2.0]))
        array([2., 1.])
        """
        return self.l2_strength * np.asarray(v, dtype=np.float64)

    @_fill_doc
    def smooth_hess_diag(self, w):
        """diag Hess S(w): ``1 - l1_ratio`` in every entry.

        {smooth_hess_diag_sections}

        Examples
        --------
        >>> import numpy as np
        >>> from fastlogit.penalties import ElasticNet
        >>> ElasticNet(0.25).smooth_hess_diag(np.array([2.0, -1.0]))
        array([0.75, 0.75])
        """
        return np.full(np.shape(w), self.l2_strength)

    def __repr__(self):
        return f"ElasticNet(l1_ratio={self.l1_ratio!r})"


class L2(ElasticNet):
    """R(w) = 1/2 ||w||^2 (``penalty="l2"``): ElasticNet(0).  Takes no constructor arguments.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.penalties import L2
    >>> pen = L2()
    >>> pen.value(np.array([3.0, -4.0])), pen.smooth_grad(np.array([3.0, -4.0]))
    (12.5, array([ 3., -4.]))
    """

    name = "l2"

    def __init__(self):
        super().__init__(0.0)

    __repr__ = Penalty.__repr__


class L1(ElasticNet):
    """R(w) = ||w||_1 (``penalty="l1"``): ElasticNet(1).  Takes no constructor arguments.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.penalties import L1
    >>> pen = L1()
    >>> w = np.array([3.0, 0.0])
    >>> pen.value(w), pen.is_smooth
    (3.0, False)
    >>> pen.min_norm_subgradient(w, grad=np.array([-1.0, 0.5]))  # zero at a minimiser
    array([0., 0.])
    """

    name = "l1"

    def __init__(self):
        super().__init__(1.0)

    __repr__ = Penalty.__repr__


def make_penalty(penalty="l2", l1_ratio=None):
    """The :class:`Penalty` for a scikit-learn style ``penalty`` name (or a Penalty itself).

    Parameters
    ----------
    penalty : {"l2", "l1", "elasticnet", "none", None} or Penalty, default="l2"
        The penalty name (case-insensitive), None or ``"none"`` for no penalty, or a
        :class:`Penalty` instance, returned as it is.
    l1_ratio : float, default=None
        The elastic-net mixing in [0, 1]; required with ``"elasticnet"``, ignored otherwise.

    Returns
    -------
    Penalty
        :class:`L2`, :class:`L1`, :class:`ElasticNet`, :class:`NoPenalty` or ``penalty``.

    Raises
    ------
    ValueError
        If the name is unknown, or ``"elasticnet"`` comes without ``l1_ratio`` or with one
        outside [0, 1].

    Examples
    --------
    >>> from fastlogit.penalties import make_penalty
    >>> make_penalty("l2"), make_penalty(None), make_penalty("elasticnet", l1_ratio=0.3)
    (L2(), NoPenalty(), ElasticNet(l1_ratio=0.3))
    """
    if isinstance(penalty, Penalty):
        return penalty
    if isinstance(penalty, str):
        key = penalty.lower()
        if key == "none":
            return NoPenalty()
        if key == "l2":
            return L2()
        if key == "l1":
            return L1()
        if key == "elasticnet":
            if l1_ratio is None:
                raise ValueError("penalty='elasticnet' needs l1_ratio in [0, 1], got None")
            return ElasticNet(l1_ratio)
    elif penalty is None:
        return NoPenalty()
    raise ValueError(f"penalty must be one of 'l2', 'l1', 'elasticnet', None or a "
                     f"fastlogit.penalties.Penalty, got {penalty!r}")
