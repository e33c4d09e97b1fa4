"""Standard errors, z-scores and p-values for a fitted binary logistic regression.

For the logistic (canonical) link the observed and expected Fisher information coincide and
equal the Hessian of the negative log-likelihood::

    I(theta) = X1^T diag(s * p * (1 - p)) X1,      X1 = [X, 1] when an intercept is fitted

For an unpenalised fit ``Cov = I^{-1}`` (the classical Wald covariance, what statsmodels'
``Logit`` reports).  For an L2 fit of ``F = C * sum s l + 1/2 ||w||^2`` the penalised
information ``I + (1/C) diag(1, ..., 1, 0)`` (intercept unpenalised) is inverted instead: the
Laplace approximation of the posterior covariance under the Gaussian prior that the penalty
encodes.  ``z = coef / se`` and two-sided p-values ``2 * Phi(-|z|)``.  L1 and elastic-net
fits have no such covariance and are refused.
"""
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy import stats

__all__ = ["CoefficientSummary", "fisher_information", "coefficient_summary"]


@dataclass(frozen=True)
class CoefficientSummary:
    """Coefficient table of a binary logistic regression (frozen).

    Made by :func:`coefficient_summary` (or :meth:`fastlogit.LogisticRegression.summary`).
    ``n_params`` is ``n_features + 1`` with an intercept, ``n_features`` without; every
    per-parameter array is ordered ``[w_0, ..., w_{d-1}, intercept]``.  ``str()`` prints the
    table.

    Parameters
    ----------
    names : list of str
        The parameter names, length n_params (``"intercept"`` last when fitted).
    coef : ndarray of shape (n_params,)
        The coefficients, float64.
    std_err : ndarray of shape (n_params,)
        Standard errors, the square roots of the diagonal of ``covariance``.
    z : ndarray of shape (n_params,)
        Wald statistics ``coef / std_err``.
    p_values : ndarray of shape (n_params,)
        Two-sided p-values ``2 * Phi(-|z|)``.
    conf_int : ndarray of shape (n_params, 2)
        95 % Wald intervals ``coef -/+ 1.96 * std_err`` (columns: lower, upper).
    covariance : ndarray of shape (n_params, n_params)
        The inverse of the (penalised) Fisher information; symmetric positive definite.
    penalty : {None, "l2"}
        The penalty of the fit the table describes.
    n_samples : int
        Number of rows of the data the information was computed on.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.summary import CoefficientSummary
    >>> table = CoefficientSummary(names=["x0", "intercept"], coef=np.array([1.0, -0.5]),
    ...                            std_err=np.array([0.5, 0.25]), z=np.array([2.0, -2.0]),
    ...                            p_values=np.array([0.0455, 0.0455]),
    ...                            conf_int=np.array([[0.02, 1.98], [-0.99, -0.01]]),
    ...                            covariance=np.diag([0.25, 0.0625]), penalty=None,
    ...                            n_samples=100)
    >>> print(str(table).splitlines()[0])
    Logistic regression (penalty=None, n_samples=100)
    """

    names: list
    coef: np.ndarray
    std_err: np.ndarray
    z: np.ndarray
    p_values: np.ndarray
    conf_int: np.ndarray  # (n_params, 2), 95% Wald interval
    covariance: np.ndarray  # (n_params, n_params)
    penalty: object
    n_samples: int

    def __str__(self):
        width = max(9, max(len(n) for n in self.names))
        head = (f"{'':<{width}} {'coef':>11} {'std err':>11} {'z':>9} {'P>|z|':>9} "
                f"{'[0.025':>11} {'0.975]':>11}")
        lines = [f"Logistic regression (penalty={self.penalty!r}, n_samples={self.n_samples})",
                 head, "-" * len(head)]
        for i, name in enumerate(self.names):
            lo, hi = self.conf_int[i]
            lines.append(f"{name:<{width}} {self.coef[i]:>11.4g} {self.std_err[i]:>11.4g} "
                         f"{self.z[i]:>9.3f} {self.p_values[i]:>9.3g} {lo:>11.4g} {hi:>11.4g}")
        return "\n".join(lines)

    def __repr__(self):
        return str(self)


def fisher_information(X, p, sample_weight=None, fit_intercept=True):
    """Fisher information ``X1^T diag(s p (1 - p)) X1`` of a binary logistic model.

    ``X1 = [X, 1]`` when ``fit_intercept``, else ``X``.  A sparse ``X`` is multiplied as
    sparse (the result, of size n_params^2, is dense).

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        The design, converted to float64.
    p : ndarray of shape (n_samples,)
        Fitted probabilities P(y = 1 | x_i), in [0, 1].
    sample_weight : ndarray of shape (n_samples,), default=None
        Non-negative weights s; None means every weight is 1.
    fit_intercept : bool, default=True
        Append the intercept row and column (last).

    Returns
    -------
    ndarray of shape (n_params, n_params)
        Symmetric positive semi-definite float64 matrix, ``n_params = n_features + 1``
        with an intercept, ``n_features`` without.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.summary import fisher_information
    >>> X = np.array([[1.0], [2.0], [3.0]])
    >>> fisher_information(X, np.full(3, 0.5))
    array([[3.5 , 1.5 ],
           [1.5 , 0.75]])
    """
    d = p * (1.0 - p)
    if sample_weight is not None:
        d = d * sample_weight
    if sp.issparse(X):
        X = sp.csr_matrix(X, dtype=np.float64)
        XtDX = (X.T @ X.multiply(d[:, None]).tocsr()).toarray()
        XtD1 = np.asarray(X.T @ d).ravel()
    else:
        X = np.asarray(X, dtype=np.float64)
        XtDX = X.T @ (X * d[:, None])
        XtD1 = X.T @ d
    if not fit_intercept:
        return XtDX
    n = XtDX.shape[0] + 1
    info = np.empty((n, n))
    info[:-1, :-1] = XtDX
    info[:-1, -1] = info[-1, :-1] = XtD1
    info[-1, -1] = d.sum()
    return info


def coefficient_summary(coef, intercept, p, X, sample_weight, *, C, penalty, fit_intercept,
                        feature_names=None):
    """Standard errors, z-scores and p-values at a fitted binary logistic model.

    The covariance is the inverse of the Fisher information, plus ``1/C`` on the
    coefficients' diagonal (not the intercept's) for an L2 fit (module docstring).
    Usually reached through :meth:`fastlogit.LogisticRegression.summary`.

    Parameters
    ----------
    coef : ndarray of shape (n_features,)
        The fitted coefficients, float64.
    intercept : float
        The fitted intercept; ignored when ``fit_intercept`` is False.
    p : ndarray of shape (n_samples,)
        Fitted probabilities P(y = 1 | x_i) on the training rows.
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        The training design.
    sample_weight : ndarray of shape (n_samples,) or None
        The training weights (class weights already applied); None means every weight is 1.
    C : float
        Inverse regularisation strength of the fit, > 0; used only when
        ``penalty == "l2"``.
    penalty : {None, "l2"}
        The fit's penalty.  Any other value raises ValueError (L1 and elastic-net fits have
        no Fisher-information covariance).
    fit_intercept : bool
        Whether the model has an intercept (appended last to every table column).
    feature_names : sequence of str, default=None
        Names of the n_features coefficients; None gives ``x0, x1, ...``.

    Returns
    -------
    CoefficientSummary
        The table, parameters in the order ``[w_0, ..., w_{d-1}, intercept]``.

    Raises
    ------
    ValueError
        If ``penalty`` is not None or ``"l2"``, or the information is singular (separable
        data or collinear features without a penalty).

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.summary import coefficient_summary
    >>> X = np.array([[-1.0], [0.0], [1.0], [2.0]])
    >>> p = np.full(4, 0.5)  # probabilities of the model w = 0, b = 0
    >>> table = coefficient_summary(np.zeros(1), 0.0, p, X, None, C=1.0, penalty=None,
    ...                             fit_intercept=True)
    >>> table.names, table.std_err.round(3)
    (['x0', 'intercept'], array([0.894, 1.095]))
    """
    if penalty not in (None, "l2"):
        raise ValueError(f"summary() needs an unpenalised or L2 fit; penalty={penalty!r} has no "
                         "Fisher-information covariance")
    info = fisher_information(X, p, sample_weight, fit_intercept)
    n_features = X.shape[1]
    if penalty == "l2":
        info[np.arange(n_features), np.arange(n_features)] += 1.0 / C
    try:
        chol = np.linalg.cholesky(info)
    except np.linalg.LinAlgError:
        raise ValueError("the Fisher information is singular (separable data or collinear "
                         "features); standard errors are undefined - use an L2 penalty") from None
    inv_chol = np.linalg.solve(chol, np.eye(info.shape[0]))
    cov = inv_chol.T @ inv_chol
    theta = np.append(coef, intercept) if fit_intercept else np.asarray(coef, dtype=np.float64)
    se = np.sqrt(np.diag(cov))
    z = theta / se
    p_values = 2.0 * stats.norm.sf(np.abs(z))
    q = stats.norm.ppf(0.975)
    names = list(feature_names) if feature_names is not None else [
        f"x{j}" for j in range(n_features)]
    if fit_intercept:
        names.append("intercept")
    return CoefficientSummary(names=[str(n) for n in names], coef=theta, std_err=se, z=z,
                              p_values=p_values,
                              conf_int=np.column_stack([theta - q * se, theta + q * se]),
                              covariance=cov, penalty=penalty, n_samples=X.shape[0])
