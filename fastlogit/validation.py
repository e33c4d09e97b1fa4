"""One input-validation path for every front: objectives, estimators, Dask, the CLI.

Each check returns the value in the form the rest of the package uses and raises ValueError
with a message that names the argument and the problem.  The estimators, the Dask estimator
and the CLI call these functions (never their own variants), so the same bad input gets the
same message everywhere.
"""
import numbers

import numpy as np
import scipy.sparse as sp

__all__ = ["check_C", "check_number", "check_tol", "check_max_iter", "check_l1_ratio", "check_targets",
           "check_sample_weight", "check_class_weight_values", "check_finite_X",
           "check_n_threads", "check_classes", "check_n_features"]


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_C(C, *, allow_inf=False):
    """C as a float: a positive finite number (``allow_inf``: +inf too, meaning no penalty)."""
    if not _is_real(C) or not (C > 0) or (not allow_inf and not np.isfinite(C)):
        what = "a positive number (or np.inf)" if allow_inf else "a positive finite number"
        raise ValueError(f"C must be {what}, got {C!r}")
    return float(C)


def check_number(name, value, *, low=0.0, strict=True):
    """``value`` as a finite float > ``low`` (``strict``) or >= ``low``; the message names
    ``name`` (e.g. alpha, eta0, power_t)."""
    if not _is_real(value) or not np.isfinite(value) or not (
            value > low if strict else value >= low):
        raise ValueError(f"{name} must be a finite number {'>' if strict else '>='} {low:g}, "
                         f"got {value!r}")
    return float(value)


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
    from .kernels import numba_impl as _nb  # one compiled pass: finite and within [0, 1]

    if not _nb.within_unit_interval(y.reshape(-1)):
        raise ValueError("y must hold probabilities in [0, 1] (no NaN or inf)")
    if y.ndim == 2:
        if y.shape[1] < 2:
            raise ValueError("multinomial y needs K >= 2 columns")
        if n_samples and not np.allclose(y.sum(axis=1), 1.0, rtol=0, atol=1e-6):
            raise ValueError("rows of a 2-D y must sum to 1")
    return y


def check_sample_weight(sample_weight, n_samples, *, allow_all_zero=True):
    """float64 (n,) finite non-negative weights, or None.  ``allow_all_zero=False``: weights
    that are all zero are a ValueError too (an estimator has nothing to fit then)."""
    if sample_weight is None:
        return None
    s = np.asarray(sample_weight, dtype=np.float64)
    if s.ndim == 0:
        s = np.full(n_samples, float(s))
    if s.shape != (n_samples,):
        raise ValueError(f"sample_weight must have shape ({n_samples},), got {s.shape}")
    if not np.all(np.isfinite(s)) or np.any(s < 0):
        raise ValueError("sample_weight must be finite and non-negative (no NaN, inf or value < 0)")
    if not allow_all_zero and n_samples and not s.any():
        raise ValueError("sample_weight must not be all zero: every sample weighs zero")
    return s


def check_class_weight_values(weights, classes):
    """Per-class weights (K,) as float64: finite and >= 0, else ValueError naming the class."""
    w = np.asarray(weights, dtype=np.float64)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        c = np.asarray(classes)[np.flatnonzero(bad)[0]]
        c = c.item() if isinstance(c, np.generic) else c  # 0, not np.int64(0)
        raise ValueError(f"class_weight for class {c!r} must be finite and >= 0, got "
                         f"{float(w[bad][0])!r}")
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


def check_classes(classes):
    """The distinct labels of a classification target (sorted, as ``np.unique`` gives them),
    checked as the in-memory estimator checks y: no NaN / inf ("Input y contains NaN."),
    discrete (scikit-learn's "Unknown label type: continuous..."), at least two classes.
    For fronts that see only the classes (the Dask estimator computes them on the workers)."""
    classes = np.asarray(classes)
    if classes.dtype.kind in "fc":
        check_finite_X(classes, name="y")
    from sklearn.utils.multiclass import check_classification_targets

    check_classification_targets(classes)
    check_two_classes(classes)
    return classes


def check_two_classes(classes):
    """ValueError unless ``classes`` (the distinct labels, 1-D) holds at least two; the
    message names the one label found (as a plain Python value), the same on every front."""
    if classes.shape[0] < 2:
        found = (f"only one class: {classes.tolist()[0]!r}" if classes.shape[0]
                 else "no samples")
        raise ValueError("This solver needs samples of at least 2 classes in the data, but "
                         f"the data contains {found}")


def check_n_features(n_features, expected, estimator="LogisticRegression"):
    """Raise scikit-learn's ValueError ("X has 3 features, but LogisticRegression is
    expecting 4 features as input.") when a fitted model is given X of another width."""
    if n_features != expected:
        raise ValueError(f"X has {n_features} features, but {estimator} is expecting "
                         f"{expected} features as input.")
    return n_features


# ---------------------------------------------------------------------------------------
# Estimator parameters and targets (the in-memory estimator, LogisticRegressionCV, the SGD
# and Dask estimators and the CLI share these: same checks, same messages).

__all__ += ["check_label_smoothing", "check_focal_gamma", "check_intercept_scaling",
            "check_n_jobs", "resolve_penalty", "encode_targets", "class_weight_per_sample",
            "smooth_labels"]


def check_label_smoothing(label_smoothing):
    """label_smoothing as a float in [0, 1)."""
    eps = label_smoothing
    if not _is_real(eps) or not 0 <= eps < 1:
        raise ValueError(f"label_smoothing must lie in [0, 1), got {eps!r}")
    return float(eps)


def check_focal_gamma(focal_gamma):
    """focal_gamma as a finite float >= 0 (0 = plain log-loss)."""
    g = focal_gamma
    if not _is_real(g) or not (0 <= g < np.inf):
        raise ValueError(f"focal_gamma must be a finite number >= 0, got {g!r}")
    return float(g)


def check_intercept_scaling(intercept_scaling):
    """intercept_scaling as a positive finite float (scikit-learn's constraint)."""
    s = intercept_scaling
    if not _is_real(s) or not (0 < s < np.inf):
        raise ValueError(f"intercept_scaling must be a positive finite number, got {s!r}")
    return float(s)


def check_n_jobs(n_jobs):
    """n_jobs: None or a non-zero integer (joblib's meaning: -1 = all cores)."""
    if n_jobs is None:
        return None
    if not isinstance(n_jobs, numbers.Integral) or isinstance(n_jobs, bool) or n_jobs == 0:
        raise ValueError(f"n_jobs must be None or a non-zero integer, got {n_jobs!r}")
    return int(n_jobs)


#: scikit-learn >= 1.8's deprecation message for an explicit ``penalty``.
PENALTY_DEPRECATION = (
    "'penalty' was deprecated in version 1.8 and will be removed in 1.10. To avoid this "
    "warning, leave 'penalty' set to its default value and use 'l1_ratio' or 'C' instead. "
    "Use l1_ratio=0 instead of penalty='l2', l1_ratio=1 instead of penalty='l1', l1_ratio "
    "set to a float between 0 and 1 instead of penalty='elasticnet', and C=np.inf instead "
    "of penalty=None.")


def resolve_penalty(penalty, C, l1_ratio):
    """The penalty actually fitted, by scikit-learn's (>= 1.8) rules for ``LogisticRegression``.

    ``penalty="deprecated"`` (the default): ``l1_ratio`` decides, 0 -> "l2", 1 -> "l1",
    strictly between -> "elasticnet" (``l1_ratio=None`` means 0, with scikit-learn's
    FutureWarning), and ``C=np.inf`` means no penalty.  An explicit ``penalty`` in
    {"l2", "l1", "elasticnet", None} is honoured with scikit-learn's FutureWarning, plus its
    warnings when ``l1_ratio`` disagrees (never a silently different penalty);
    ``penalty=None`` ignores C (warning when C is not the default 1.0).

    Returns
    -------
    (name, C, l1_ratio) : name in {"l2", "l1", "elasticnet", None}; C a positive finite float
        (1.0 when there is no penalty: F = L); l1_ratio a float in [0, 1] (1 for "l1", 0 for
        "l2" / None).

    Raises ValueError naming the argument for an unknown penalty, a bad C or l1_ratio.
    """
    import warnings

    if penalty not in ("deprecated", "l2", "l1", "elasticnet", None):
        raise ValueError(f"penalty must be one of 'l2', 'l1', 'elasticnet', None (deprecated; "
                         f"use l1_ratio and C), got {penalty!r}")
    C = check_C(C, allow_inf=True)
    if l1_ratio is not None:
        l1_ratio = check_l1_ratio(l1_ratio)
    if penalty == "deprecated":
        if l1_ratio is None:
            warnings.warn("'l1_ratio=None' was deprecated in version 1.8 and will trigger an "
                          "error in 1.10. Use 0<=l1_ratio<=1 instead.", FutureWarning,
                          stacklevel=3)
        r = l1_ratio or 0.0
        if C == np.inf:
            return None, 1.0, 0.0
        name = "l2" if r == 0 else ("l1" if r == 1 else "elasticnet")
        return name, C, r
    warnings.warn(PENALTY_DEPRECATION, FutureWarning, stacklevel=3)
    if penalty != "elasticnet" and l1_ratio is not None and 0 < l1_ratio < 1:
        warnings.warn(f"l1_ratio parameter is only used when penalty is 'elasticnet'. Got "
                      f"(penalty={penalty})", UserWarning, stacklevel=3)
    if (penalty == "l2" and l1_ratio != 0) or (penalty == "l1" and l1_ratio != 1):
        warnings.warn(f"Inconsistent values: penalty={penalty} with l1_ratio={l1_ratio}. "
                      f"penalty is deprecated. Please use l1_ratio only.", UserWarning,
                      stacklevel=3)
    if penalty == "elasticnet" and l1_ratio is None:
        raise ValueError("l1_ratio must be specified when penalty is elasticnet.")
    if penalty is None:
        if C != 1.0:
            warnings.warn("Setting penalty=None will ignore the C and l1_ratio parameters",
                          UserWarning, stacklevel=3)
        return None, 1.0, 0.0
    if C == np.inf:
        raise ValueError(f"C=np.inf means no penalty, which contradicts penalty={penalty!r}; "
                         f"leave penalty at its default")
    r = {"l2": 0.0, "l1": 1.0}.get(penalty, l1_ratio)
    return penalty, C, float(r)


def encode_targets(y, n_samples, *, soft_labels=False):
    """Classes and encoded targets of a classifier's y.

    Hard labels (``soft_labels=False``): y of shape (n,), any discrete labels (scikit-learn's
    ``check_classification_targets``), at least two classes.  Returns ``(classes, Y, index)``:
    classes sorted (``np.unique``), Y float64 (n,) in {0, 1} for two classes (1 = classes[1])
    or one-hot (n, K), ``index`` (n,) int positions of y in classes.

    Soft labels: y float (n,) in [0, 1] (classes [0, 1]) or (n, K >= 2) rows summing to 1
    (classes 0..K-1); ``index`` is None.
    """
    if soft_labels:
        y = np.asarray(y, dtype=np.float64)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.shape[:1] != (n_samples,):
            raise ValueError(f"X has {n_samples} samples but y has {y.shape[0] if y.ndim else 0}")
        if y.ndim not in (1, 2) or (y.ndim == 2 and y.shape[1] < 2):
            raise ValueError(f"soft labels must have shape (n,) or (n, K), got {y.shape}")
        if not np.all(np.isfinite(y)):
            raise ValueError("soft labels must be finite (y contains NaN or inf)")
        if y.size and (y.min() < 0 or y.max() > 1):
            raise ValueError("soft labels must be probabilities in [0, 1]; got values in "
                             f"[{y.min():.6g}, {y.max():.6g}]")
        if y.ndim == 2 and n_samples and not np.allclose(y.sum(axis=1), 1.0, rtol=0,
                                                         atol=1e-6):
            raise ValueError("soft label rows of shape (n, K) must sum to 1")
        classes = np.array([0, 1]) if y.ndim == 1 else np.arange(y.shape[1])
        return classes, y, None
    from sklearn.utils.multiclass import check_classification_targets

    y = np.asarray(y)
    if y.shape[:1] != (n_samples,) or y.ndim != 1:
        raise ValueError(f"y must have shape ({n_samples},), got {y.shape}")
    check_classification_targets(y)
    # np.unique without return_inverse hashes instead of sorting all n labels; the positions
    # come from a binary search over the K sorted classes (the same index as return_inverse).
    classes = np.unique(y)
    check_two_classes(classes)
    index = np.searchsorted(classes, y)
    if classes.shape[0] == 2:
        return classes, (index == 1).astype(np.float64), index
    Y = np.zeros((n_samples, classes.shape[0]))
    Y[np.arange(n_samples), index] = 1.0
    return classes, Y, index


def class_weight_per_sample(class_weight, classes, Y, sample_weight):
    """Per-sample class weights (n,) float64, or None for ``class_weight=None``.

    ``class_weight``: a dict label -> weight (labels absent weigh 1; a label not in
    ``classes`` is a ValueError) or "balanced": ``w_k = sum(s) / (K * sum_{i in k} s_i)``
    (scikit-learn's rule, sample-weighted).  ``Y`` is the encoded target of
    :func:`encode_targets` (hard or soft): a sample's weight is ``sum_k Y_ik w_k``, which for
    hard labels is its class's weight and for soft labels the expected weight.
    ``sample_weight``: float64 (n,) or None (ones).
    """
    if class_weight is None:
        return None
    Yk = np.column_stack([1.0 - Y, Y]) if Y.ndim == 1 else Y
    n = Yk.shape[0]
    s = np.ones(n) if sample_weight is None else sample_weight
    if isinstance(class_weight, str) and class_weight == "balanced":
        mass = s @ Yk
        if np.any(mass <= 0):
            empty = classes[np.flatnonzero(mass <= 0)[0]]
            raise ValueError(f"class_weight='balanced' needs every class to carry weight; "
                             f"class {empty!r} has none")
        cw = s.sum() / (Yk.shape[1] * mass)
    elif isinstance(class_weight, dict):
        known = set(classes.tolist())
        unknown = [c for c in class_weight if c not in known]
        if unknown:
            raise ValueError(f"class_weight has labels {unknown!r} not in classes "
                             f"{classes.tolist()}")
        cw = np.array([class_weight.get(c, 1.0) for c in classes.tolist()], dtype=object)
        bad = [c for c, v in zip(classes.tolist(), cw) if not _is_real(v)]
        if bad:
            raise ValueError(f"class_weight for class {bad[0]!r} must be a number, got "
                             f"{class_weight[bad[0]]!r}")
        cw = cw.astype(np.float64)
    else:
        raise ValueError(f"class_weight must be a dict, 'balanced' or None, got "
                         f"{class_weight!r}")
    cw = check_class_weight_values(cw, classes)
    return Yk @ cw


def smooth_labels(Y, label_smoothing):
    """Label smoothing: ``(1 - eps) Y + eps / K`` (K = 2 for binary Y of shape (n,))."""
    eps = check_label_smoothing(label_smoothing)
    if eps == 0:
        return Y
    k = 2 if Y.ndim == 1 else Y.shape[1]
    return (1.0 - eps) * Y + eps / k
