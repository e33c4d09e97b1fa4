"""Shared numpydoc parameter entries: one text for a parameter that many docstrings
describe alike (the in-memory data and objective parameters).

A docstring names entries by writing ``{name}`` or ``{name1, name2, ...}`` alone on a line,
indented as the entries' first lines should be; :func:`fill_doc`, applied as a decorator at
import, puts the entries of :data:`DOCDICT` there in that order, every line re-indented.  A
module with entries of its own makes its decorator with :func:`filler`.  What ``help()``, the
doctests, numpydoc and the API reference see is the filled text, so each object still
documents every parameter itself.  Under ``python -OO`` (no docstrings) nothing happens; a
placeholder naming no entry is a KeyError at import, so a typo cannot reach the
documentation.
"""
import re

#: The shared entries, without indentation (description lines indented by four spaces).
DOCDICT = {
    "X": """\
X : {ndarray, sparse matrix, fastlogit.kernels.Design} of shape (n_samples, n_features)
    The design, float32 or float64 (the kernels run in its dtype); other dtypes are
    converted to float64, a sparse matrix to CSR.  NaN and inf are not scanned for here
    (the estimators do): the caller keeps X finite.""",
    "X_train": """\
X : {array-like, sparse matrix} of shape (n_samples, n_features)
    Training data; float32 and float64 kept, CSR kept (other sparse formats
    converted).""",
    "y": """\
y : array-like of shape (n_samples,) or (n_samples, K)
    Targets: probabilities of the label 1 in [0, 1] for a binary model (0/1 labels or soft
    labels), or for K >= 2 classes rows of class probabilities summing to 1 (one-hot
    labels or soft labels).  Anything else raises ValueError.""",
    "sample_weight": """\
sample_weight : array-like of shape (n_samples,), default=None
    Finite non-negative weights s_i multiplying each sample's loss; None means 1 each.""",
    "C": """\
C : float, default=1.0
    Inverse regularisation strength, a positive finite number: it multiplies the summed
    sample losses, ``F = C * sum_i s_i l_i + R(w)``.""",
    "penalty": """\
penalty : {"l2", "l1", "elasticnet", None} or fastlogit.penalties.Penalty, default="l2"
    The penalty R on the coefficients (never on the intercept), through
    :func:`fastlogit.penalties.make_penalty`.""",
    "l1_ratio": """\
l1_ratio : float, default=0.0
    Elastic-net mixing in [0, 1], used with ``penalty="elasticnet"`` only.""",
    "fit_intercept": """\
fit_intercept : bool, default=True
    Whether theta ends with an unpenalised intercept (one per class).""",
    "backend": """\
backend : {"auto", "numpy", "numba", "cython"} or KernelSet, default="auto"
    Kernel implementation (:func:`fastlogit.kernels.get`); "auto" takes the fastest
    available.  An unknown or unavailable name raises ValueError.""",
    "n_threads": """\
n_threads : int, default=None
    Threads of the kernels' passes over X; None:
    :func:`fastlogit._config.effective_n_threads` (``FASTLOGIT_NUM_THREADS``,
    threadpoolctl limits, ``OMP_NUM_THREADS``, then every core); a negative value counts
    back from the number of cores.""",
    # ---------------------------------------------------------------- fitted estimators
    "X_predict": """\
X : {array-like, sparse matrix} of shape (n_samples, n_features)
    Samples with the ``n_features_in_`` columns of the training data (else ValueError);
    float32 and float64 kept (other dtypes become float64), sparse input as CSR (never
    densified).  NaN or inf raises ValueError; an unfitted model raises
    ``sklearn.exceptions.NotFittedError``.""",
    "y_score": """\
y : array-like of shape (n_samples,)
    True labels, each one of ``classes_``: a label the model was not fitted on raises
    ValueError naming it.""",
    "sample_weight_score": """\
sample_weight : array-like of shape (n_samples,), default=None
    Weights of the rows in the mean; None means 1 each.""",
    "fitted_example": """\
>>> import numpy as np
>>> import fastlogit
>>> X = np.array([[-2.0, 1.0], [-1.0, -1.0], [1.0, 1.0], [2.0, -1.0]])
>>> y = np.array(["no", "no", "yes", "yes"])
>>> clf = fastlogit.LogisticRegression(C=1.0).fit(X, y)""",
    # ---------------------------------------------------------------- objectives
    "theta": """\
theta : array-like of shape (n_params,)
    The parameters, float64 (converted), packed as :class:`fastlogit.layout.Layout`
    says: binary ``[w, b]``; K classes the rows ``[w_k, b_k]`` of a (K, n_features + 1)
    array flattened in C order; no ``b`` entries without an intercept.  A wrong length
    raises ValueError; a method that passes over the data raises
    :class:`fastlogit.layout.NonFiniteError` (a ValueError) for NaN or inf.""",
    "objective_example": """\
>>> import numpy as np
>>> from fastlogit.objective import Objective
>>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
>>> objective = Objective(X, [0, 0, 1, 1], C=1.0)  # n_params = 2 + intercept""",
    # ---------------------------------------------------------------- penalties
    "penalty_w": """\
w : ndarray of shape (p,)
    The penalised coefficients, float64 (the intercept is never penalised).""",
    "penalty_v": """\
v : ndarray of shape (p,)
    The direction the Hessian multiplies, float64.""",
    # ---------------------------------------------------------------- margin losses
    "margin_yt_z": """\
yt : ndarray of shape (n,)
    The labels y~ = 2 y - 1, each -1.0 or +1.0, float64 (not checked: the results hold
    for these two values only).
z : ndarray of shape (n,)
    The margins z = X w + b, float64; any shape broadcasting with yt's works
    elementwise.""",
    "margin_value_returns": """\
ndarray of shape (n,)
    l(m_i) with m = yt * z, float64, >= 0: a new array.""",
    "margin_derivative_returns": """\
ndarray of shape (n,)
    dl/dz_i = yt_i l'(m_i), float64 (each loss is differentiable: C^1): a new array.""",
    "margin_curvature_returns": """\
ndarray of shape (n,)
    d2l/dz_i^2 = l''(m_i) (yt^2 = 1), float64, >= 0 (every loss is convex): a new array.
    Where l' has a kink, the generalised second derivative: one side's value.""",
    "margin_loss_example": """\
>>> import numpy as np
>>> from fastlogit.margin_losses import LogLoss, SmoothedHinge, SquaredHinge
>>> yt, z = np.array([1.0, 1.0, -1.0]), np.array([2.0, 0.5, 0.5])  # m = 2, 0.5, -0.5""",
    "data_term_theta": """\
theta : ndarray of shape (n_params,)
    The parameters ``[w, b]`` (no ``b`` without an intercept), float64.  Not checked here:
    a data term is called through :class:`fastlogit.objective.Objective`, whose methods
    check the length and finiteness first.""",
    "margin_data_example": """\
>>> import numpy as np
>>> from fastlogit.margin_losses import MarginData, SquaredHinge
>>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
>>> data = MarginData(X, [0, 0, 1, 1], loss=SquaredHinge())  # n_params = 2 + intercept
>>> theta = np.array([1.0, 0.0, -1.5])  # y~ z = 1.5, 0.5, 0.5, 1.5: rows 2, 3 in the margin""",
    "check_params_returns": """\
KernelSet
    The kernels ``backend`` selects (:func:`fastlogit.kernels.get`).""",
    # ---------------------------------------------------------------- kernels
    "kernel_X": """\
X : {fastlogit.kernels.Design, ndarray, sparse matrix} of shape (n, d)
    The design, float32 or float64: every float array of the call has its dtype.  A
    :class:`Design` (from :func:`as_design`) is the fast path; an array or sparse matrix
    goes through :func:`as_design` on every call.""",
    "kernel_n_threads": """\
n_threads : int, default=None
    Upper bound on the threads of the pass; None: every core
    (:func:`fastlogit._config.effective_n_threads`).""",
    "kernel_y": """\
y : ndarray of shape (n,)
    Labels: probabilities of the label 1 in [0, 1], X's dtype, C-contiguous.""",
    "kernel_s": """\
s : ndarray of shape (n,) or None
    Sample weights, X's dtype, C-contiguous; None means 1 each.""",
    "kernel_w": """\
w : ndarray of shape (d,)
    The coefficients, X's dtype, C-contiguous.""",
    "kernel_b": """\
b : float
    The intercept.""",
    "kernel_raises": """\
ValueError
    If an array is not a NumPy array of the stated shape, of X's dtype and C-contiguous
    (or an output not writeable); the message names it.""",
    "kernel_example": """\
>>> import numpy as np
>>> from fastlogit import kernels
>>> ref = kernels.get("numpy")  # every backend agrees with it to rounding
>>> X = kernels.as_design(np.array([[1.0, 2.0], [0.0, -1.0], [3.0, 0.0]]))""",
}


def _margin_loss_contract(kind):
    """The sections of a margin loss's ``value``, ``derivative`` or ``curvature`` (one
    contract for the three losses): Parameters, Returns, and the Examples' setup."""
    return "\n".join(["Parameters", "----------", DOCDICT["margin_yt_z"], "",
                      "Returns", "-------", DOCDICT[f"margin_{kind}_returns"], "",
                      "Examples", "--------", DOCDICT["margin_loss_example"]])


DOCDICT.update({f"margin_{kind}": _margin_loss_contract(kind)
                for kind in ("value", "derivative", "curvature")})


_PLACEHOLDER = re.compile(r"^([ \t]*)\{([A-Za-z_]\w*(?:, [A-Za-z_]\w*)*)\}[ \t]*$",
                          re.MULTILINE)


def fill_doc(obj, entries=None):
    """Replace each placeholder line of ``obj.__doc__`` by its entries (``entries`` first,
    then :data:`DOCDICT`), indented as the placeholder; returns ``obj`` (a decorator for
    functions and classes)."""
    doc = obj.__doc__
    if doc:
        table = DOCDICT if entries is None else {**DOCDICT, **entries}

        def expand(match):
            text = "\n".join(table[name] for name in match.group(2).split(", "))
            return "\n".join(match.group(1) + line if line else line
                             for line in text.splitlines())

        obj.__doc__ = _PLACEHOLDER.sub(expand, doc)
    return obj


def filler(entries):
    """A :func:`fill_doc` decorator that also knows ``entries`` (a module's own)."""
    return lambda obj: fill_doc(obj, entries)
