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
    """Coefficient table; arrays of shape (n_params,), order ``[w_0, ..., w_{d-1}, intercept]``."""

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
    """``X1^T diag(s p (1 - p)) X1`` in float64; X dense or sparse (never densified row-wise)."""
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
    """Build a :class:`CoefficientSummary` at a fitted binary model (see module docstring)."""
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
