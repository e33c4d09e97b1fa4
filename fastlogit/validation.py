"""One input-validation path for every front: objectives, estimators, Dask, the CLI.

Each check returns the value in the form the rest of the package uses and raises ValueError
with a message that names the argument and the problem.  The estimators, the Dask estimator
and the CLI call these functions (never their own variants), so the same bad input gets the
same message everywhere.
"""
import numbers

import numpy as np
import scipy.sparse as sp

__all__ = ["check_C", "check_tol", "check_max_iter", "check_l1_ratio", "check_targets",
           "check_sample_weight", "check_class_weight_values", "check_finite_X",
           "check_n_threads"]


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_C(C, *, allow_inf=False):
    """C as a float: a positive finite number (``allow_inf``: +inf too, meaning no penalty)."""
    if not _is_real(C) or not (C > 0) or (not allow_inf and not np.isfinite(C)):
        what = "a positive number (or np.inf)" if allow_inf else "a positive finite number"
        raise ValueError(f"C must be {what}, got {C!r}")
    return float(C)


def check_tol(tol):
    """tol as a float >= 0 (finite)."""
    if not _is_real(tol) or not (tol >= 0) or not np.isfinite(tol):
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
    return float(tol)


def check_max_iter(max_iter, *, allow_zero=False):
    """max_iter as an int >= 1 (>= 0 with ``allow_zero``)."""
    low = 0 if allow_zero else 1
    if (not isinstance(max_iter, numbers.Integral) or isinstance(max_iter, bool)
            or max_iter < low):
        kind = "a non-negative" if allow_zero else "a positive"
        raise ValueError(f"max_iter must be {kind} integer, got {max_iter!r}")
    return int(max_iter)


def check_l1_ratio(l1_ratio, *, name="l1_ratio"):
    """l1_ratio as a float in [0, 1]."""
    if not _is_real(l1_ratio) or not 0 <= l1_ratio <= 1:
        raise ValueError(f"{name} must lie in [0, 1], got {l1_ratio!r}")
    return float(l1_ratio)


def check_targets(y, n_samples):
    """Encoded targets: float64 (n,) in [0, 1] (binary) or (n, K >= 2) rows summing to 1."""
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim not in (1, 2) or y.shape[0] != n_samples:
        raise ValueError(f"y must have shape ({n_samples},) or ({n_samples}, K), got {y.shape}")
    if not np.all(np.isfinite(y)) or (y.size and (y.min() < 0 or y.max() > 1)):
        raise ValueError("y must hold probabilities in [0, 1] (no NaN or inf)")
    if y.ndim == 2:
        if y.shape[1] < 2:
            raise ValueError("multinomial y needs K >= 2 columns")
        if n_samples and not np.allclose(y.sum(axis=1), 1.0, rtol=0, atol=1e-6):
            raise ValueError("rows of a 2-D y must sum to 1")
    return y


def check_sample_weight(sample_weight, n_samples):
    """float64 (n,) finite non-negative weights, or None."""
    if sample_weight is None:
        return None
    s = np.asarray(sample_weight, dtype=np.float64)
    if s.ndim == 0:
        s = np.full(n_samples, float(s))
    if s.shape != (n_samples,):
        raise ValueError(f"sample_weight must have shape ({n_samples},), got {s.shape}")
    if not np.all(np.isfinite(s)) or np.any(s < 0):
        raise ValueError("sample_weight must be finite and non-negative (no NaN, inf or value < 0)")
    return s


def check_class_weight_values(weights, classes):
    """Per-class weights (K,) as float64: finite and >= 0, else ValueError naming the class."""
    w = np.asarray(weights, dtype=np.float64)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        c = np.asarray(classes)[np.flatnonzero(bad)[0]]
        raise ValueError(f"class_weight for class {c!r} must be finite and >= 0, got "
                         f"{w[bad][0]!r}")
    return w


def check_finite_X(X, *, name="X"):
    """Raise ValueError when a dense or sparse X holds NaN or inf (stored entries only)."""
    values = X.data if sp.issparse(X) else np.asarray(X)
    if values.size and not np.isfinite(values).all():
        kind = "NaN" if np.isnan(values).any() else "infinity"
        raise ValueError(f"Input {name} contains {kind}.")
    return X


def check_n_threads(n_threads):
    """n_threads: None or an int >= 1."""
    if n_threads is None:
        return None
    if (not isinstance(n_threads, numbers.Integral) or isinstance(n_threads, bool)
            or n_threads < 1):
        raise ValueError(f"n_threads must be None or a positive integer, got {n_threads!r}")
    return int(n_threads)
