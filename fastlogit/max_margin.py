"""The max-margin limit: unregularised log-loss on separable data turns toward the hard-margin
SVM direction.

On linearly separable data the unregularised log-loss has no minimiser: ``||w||`` grows
without bound along gradient descent, but the *direction* ``w / ||w||`` converges to the
hard-margin SVM direction (Soudry, Hoffer, Nacson, Gunasekar & Srebro, 2018, "The implicit
bias of gradient descent on separable data"), slowly: the angle decays like ``1 / log t``.
Both functions here are homogeneous (no intercept), the setting of that result::

    hard margin:   w* = argmin ||w||^2  subject to  y~_i x_i . w >= 1      (y~ in {-1, +1})
    its dual:      max_{alpha >= 0}  sum_i alpha_i - 1/2 ||sum_i alpha_i y~_i x_i||^2

:func:`max_margin_direction` solves the dual by L-BFGS-B with bounds (tight tolerance) and
checks the margin constraints; :func:`gradient_descent_directions` runs gradient descent on
the library's unregularised objective and records the angle at log-spaced iterations, with
the step ``1 / L`` (``L = ||X||_2^2 / 4``, the gradient's Lipschitz constant: the setting of
the ``1 / log t`` result) or the loss-normalised step ``eta / (L * mean loss)`` (Nacson,
Lee, Gunasekar, Savarese, Srebro & Soudry, 2019), which turns far faster.
"""
import numpy as np
from scipy import optimize

from .objective import Objective

__all__ = ["max_margin_direction", "gradient_descent_directions"]

_LOSS_FLOOR = 1e-200


def _signed_rows(X, y):
    X = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).ravel()
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"X must be (n, d) and y (n,), got {X.shape} and {y.shape}")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("y must hold binary labels in {0, 1}")
    return X * (2.0 * y - 1.0)[:, None]


def max_margin_direction(X, y, *, tol=1e-12):
    """The unit hard-margin SVM direction of separable (X, y) without intercept.

    Solves the dual of the module docstring by L-BFGS-B and checks the margin constraints of
    the primal point it gives.  X is densified: for small problems.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        The design (used as dense float64).
    y : array-like of shape (n_samples,)
        Binary labels, every value 0 or 1.
    tol : float, default=1e-12
        Projected-gradient tolerance of L-BFGS-B on the dual.

    Returns
    -------
    direction : ndarray of shape (n_features,)
        ``w* / ||w*||``, a unit vector.
    margin : float
        The geometric margin ``1 / ||w*||``.

    Raises
    ------
    ValueError
        If X is not 2-D, y is not binary or of another length, or the data are not linearly
        separable through the origin.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.max_margin import max_margin_direction
    >>> X = np.array([[2.0, 1.0], [1.0, 2.0], [-1.0, -1.0]])
    >>> direction, margin = max_margin_direction(X, [1, 1, 0])
    >>> direction.round(4), round(margin, 4)
    (array([0.7071, 0.7071]), 1.4142)
    """
    A = _signed_rows(X, y)
    n = A.shape[0]

    def dual(alpha):  # minimise the negated dual
        w = alpha @ A
        return 0.5 * float(w @ w) - alpha.sum(), A @ w - 1.0

    res = optimize.minimize(dual, np.zeros(n), jac=True, method="L-BFGS-B",
                            bounds=[(0, None)] * n,
                            options={"gtol": tol, "ftol": 1e-15, "maxiter": 100000})
    w = res.x @ A
    norm = float(np.linalg.norm(w))
    if not np.isfinite(norm) or norm == 0 or (A @ w).min() < 1 - 1e-6 or norm > 1e8:
        raise ValueError("the data are not linearly separable through the origin (the hard-"
                         "margin problem has no solution)")
    return w / norm, 1.0 / norm


def gradient_descent_directions(X, y, *, n_iter=10000, n_records=30, reference=None,
                                step="constant", eta=1.0, backend="auto"):
    """Unregularised gradient descent on log-loss; the angle of ``w_t / ||w_t||`` to the
    hard-margin direction at log-spaced iterations.

    The run stops early when the mean loss falls below 1e-200 (near float64 underflow, where
    the gradient loses its digits and the direction no longer moves).  The model has no
    intercept and no penalty (``C = 1``, ``L = ||X||_2^2 / 4``).

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        The design (densified once for ``||X||_2``).
    y : array-like of shape (n_samples,)
        Binary labels in {0, 1}, linearly separable through the origin when ``reference``
        is None (else :func:`max_margin_direction` raises ValueError).
    n_iter : int, default=10000
        Iterations of gradient descent.
    n_records : int, default=30
        How many log-spaced iterations in [1, n_iter] to record (fewer after rounding to
        distinct integers).
    reference : ndarray of shape (n_features,), default=None
        Unit direction to measure against; None computes :func:`max_margin_direction`.
    step : {"constant", "normalized"}, default="constant"
        ``"constant"``: ``1 / L``; ``"normalized"``: ``eta / (L * mean loss)``.  Another
        value raises ValueError.
    eta : float, default=1.0
        Factor of the normalised step.
    backend : {"auto", "numpy", "numba", "cython"}, default="auto"
        Kernel implementation of the gradient passes (:func:`fastlogit.kernels.get`).

    Returns
    -------
    dict
        ``"iterations"`` (m,) int, ``"angle_degrees"`` (m,) the angle of ``w_t`` to the
        reference, ``"norm"`` (m,) ``||w_t||``, and ``"reference"`` (n_features,).

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.max_margin import gradient_descent_directions
    >>> X = np.array([[2.0, 1.0], [1.0, 2.0], [-1.0, -1.0], [3.0, 0.5]])
    >>> slow = gradient_descent_directions(X, [1, 1, 0, 1], n_iter=300, n_records=4)
    >>> slow["iterations"].tolist(), slow["angle_degrees"].round(1).tolist()
    ([1, 6, 44, 300], [12.3, 8.9, 6.1, 4.3])
    >>> fast = gradient_descent_directions(X, [1, 1, 0, 1], n_iter=300, n_records=4,
    ...                                    step="normalized")  # stops at loss underflow
    >>> fast["iterations"].tolist(), bool(fast["angle_degrees"][-1] < 1)
    ([1, 6, 44], True)
    """
    if reference is None:
        reference, _ = max_margin_direction(X, y)
    ob = Objective(X, y, C=1.0, penalty=None, fit_intercept=False, backend=backend)
    dense = X.toarray() if hasattr(X, "toarray") else np.asarray(X, dtype=np.float64)
    L = np.linalg.norm(dense, 2) ** 2 / 4.0
    record = set(np.unique(np.geomspace(1, n_iter, n_records).astype(int)).tolist())
    if step not in ("constant", "normalized"):
        raise ValueError(f"step must be 'constant' or 'normalized', got {step!r}")
    w = np.zeros(ob.n_params)
    its, angles, norms = [], [], []
    for t in range(1, n_iter + 1):
        f, g = ob.value_grad(w)
        if not f > _LOSS_FLOOR * ob.n_samples:  # near underflow: g / f loses its digits
            break
        w -= g / L if step == "constant" else (eta * ob.n_samples / (L * f)) * g
        if t in record:
            nw = float(np.linalg.norm(w))
            cos = float(np.clip(w @ reference / nw, -1.0, 1.0))
            its.append(t)
            angles.append(float(np.degrees(np.arccos(cos))))
            norms.append(nw)
    return {"iterations": np.array(its), "angle_degrees": np.array(angles),
            "norm": np.array(norms), "reference": np.asarray(reference)}
