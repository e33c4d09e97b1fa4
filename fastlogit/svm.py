"""Linear SVMs on the library's objective: hinge and squared hinge, for comparison with log-loss.

::

    F(w, b) = C * sum_i s_i l(y~_i z_i) + R(w),     z_i = x_i . w + b,   y~_i in {-1, +1}

with ``l`` the squared hinge ``max(0, 1 - m)^2`` (L2-SVM, LIBLINEAR ``-s 2``) or the hinge
``max(0, 1 - m)`` (L1-SVM, LIBLINEAR ``-s 3``) and the penalties of
:mod:`fastlogit.penalties` (intercept unpenalised, as everywhere in the library; LIBLINEAR
penalises its bias term, so compare with ``fit_intercept=False``).

* Dual coordinate descent (:mod:`fastlogit.svm_dcd`, LIBLINEAR's ``-s 1`` / ``-s 3``
  method) solves both losses with the L2 penalty, stopped by the duality gap
  ``(F - D) / F <= tol`` (``D <= F* <= F``: a certified bound on the relative suboptimality);
  the unpenalised intercept by an outer search over b that keeps the dual's equality
  constraint.
* The squared hinge is C^1 with a generalised Hessian: every solver of the library applies
  (Newton-Cholesky, trust-region, L-BFGS; ``"l1"`` for an L1 part), through
  :class:`fastlogit.margin_losses.MarginData`; :func:`fit_squared_hinge` picks the finite
  Newton method (:mod:`fastlogit.svm_newton`, stopped by its duality gap) for few parameters
  and dual CD for many, which hands over to the truncated Newton method (conjugate
  gradients on Hessian products over the margin rows, same gap stop) where its gap
  converges slowly (:data:`SWITCH_PASSES`).
* The hinge is not differentiable.  Besides dual CD it can be solved by *continuation*
  (:func:`fit_hinge`, ``solver="continuation"``): the smoothed hinge (within ``mu/2`` of the
  hinge per sample) is minimised by Newton steps for decreasing ``mu``, each stage
  warm-started, the next ``mu`` chosen from the stage's margins, until the duality gap
  certifies the requested accuracy.  The dual point comes from the smoothed optimum,
  ``alpha_i = C s_i clip((1 - m_i) / mu, 0, 1)`` in ``[0, C s_i]``, and::

      D(alpha) = sum_i alpha_i - 1/2 ||sum_i alpha_i y~_i x_i||^2  <=  F*  <=  F(w)

  (with an intercept the dual constraint ``sum_i alpha_i y~_i = 0`` holds to the stage
  solver's tolerance).

Only ``decision_function`` / ``predict``: margin losses are not likelihoods and give no
probabilities (see :mod:`fastlogit.margin_losses`); :mod:`fastlogit.calibration` maps scores
to probabilities when needed.
"""
import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from ._docstring import fill_doc, filler
from .base import store_params
from .margin_losses import MarginData, SmoothedHinge, SquaredHinge
from .objective import Objective
from .solvers import CHOLESKY_MAX_PARAMS, ConvergenceWarning, solve
from .svm_dcd import dcd_svm
from .svm_newton import finite_newton_squared_hinge, truncated_newton_squared_hinge
from .validation import check_C, check_max_iter, check_sample_weight, check_tol

__all__ = ["LinearSVM", "fit_hinge", "fit_squared_hinge"]

#: The entry both fitting functions' docstrings share (:func:`fastlogit._docstring.filler`).
#: The squared hinge's "auto" rule for more than ``CHOLESKY_MAX_PARAMS`` parameters, in passes
#: of dual CD over the data, ``(ahead, after)``: dual CD hands over to the truncated Newton
#: method at a gap check ``after`` passes or more into the run where the gap's rate predicts
#: more than ``ahead`` further passes.  ``ahead``: a Newton iteration costs about two passes
#: over X plus its CG products over the margin rows, so a long Newton phase is worth as many
#: dual CD passes.  ``after``: the Newton iterations are many while the margin set still
#: moves, and early passes of dual CD are cheap (shrinking).  The measurements behind both
#: values: benchmarks/results/svm_race.md (the hand-over on news20).
SWITCH_PASSES = (100.0, 40.0)

_fill_doc = filler({"data_kwargs": """\
data_kwargs : dict
    Arguments of :class:`~fastlogit.margin_losses.MarginData` except ``loss``: ``X``,
    ``y`` (binary 0/1), and optionally ``sample_weight``, ``fit_intercept``,
    ``backend``, ``n_threads``."""})


def _hinge_value(yt, z, s):
    return float(s @ np.maximum(0.0, 1.0 - yt * z))


def _duality_gap(data, theta, alpha, C):
    """(relative gap, primal F, dual D) of the L2 hinge problem at (theta, alpha)."""
    d = data.n_features
    z = data.margins(theta)
    s, yt = data._s, data._yt
    w_alpha = data._rmatvec(alpha * yt)[:d]
    primal = C * _hinge_value(yt, z, s) + 0.5 * float(theta[:d] @ theta[:d])
    dual = float(alpha.sum()) - 0.5 * float(w_alpha @ w_alpha)
    return (primal - dual) / max(abs(primal), np.finfo(float).tiny), primal, dual


def _margins_info(data, theta, C):
    """(y~ z, the weights C s_i) of a MarginData at theta."""
    return data._yt * data.margins(theta), C * data._s


def _continuation(data_kwargs, C, tol, max_iter, solver, theta, mu):
    """Smoothing continuation from ``theta`` at smoothing ``mu`` (see :func:`fit_hinge`).

    After each stage the relative gap G and the smoothing's share of it,
    S = (mu / 2) W / F (W the weight of the samples whose margin lies within mu of 1, the only
    ones whose smoothed and exact losses differ near the optimum), decide the next stage: while
    S > tol / 2 the smoothing is reduced (:func:`_next_mu`); otherwise the stage was not solved
    accurately enough, and the same mu is solved again to a 100 times smaller tolerance."""
    n_iter, stages = 0, 0
    stage_tol = max(min(1e-4, tol), 1e-12)
    while True:
        data = MarginData(loss=SmoothedHinge(mu), **data_kwargs)
        ob = Objective(data, C=C, penalty="l2")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            res = solve(ob, solver, theta, tol=stage_tol, max_iter=max_iter)
        theta = res.theta
        n_iter += res.n_iter
        stages += 1
        m, cw = _margins_info(data, theta, C)
        alpha = cw * np.clip((1.0 - m) / mu, 0.0, 1.0)
        gap, primal, dual = _duality_gap(data, theta, alpha, C)
        info = {"gap": gap, "objective": primal, "dual": dual, "mu": mu, "n_iter": n_iter,
                "stages": stages, "converged": gap <= tol, "method": "continuation"}
        if gap <= tol or mu <= 1e-14 or stages >= 30:
            return theta, info
        smoothing = 0.5 * mu * float(cw[np.abs(1.0 - m) < mu].sum()) / max(abs(primal), 1e-300)
        if smoothing > 0.5 * tol or stage_tol <= 1e-12:
            mu = _next_mu(m, cw, primal, tol, mu)
        else:
            stage_tol = max(stage_tol * 1e-2, 1e-12)


def _next_mu(m, cw, primal, tol, mu):
    """The smoothing that makes the smoothing error alone about tol/2 of F.

    Smoothing changes sample i's loss by at most c_i mu / 2, and only where its margin lies in
    (1 - mu, 1 + mu) near the optimum (outside that band both losses and their derivatives
    agree); with that band's weight W, mu = tol F / W bounds the error by tol F / 2.  At most
    three decades per stage, at least one (each stage is warm-started from the last).
    """
    band = float(cw[np.abs(1.0 - m) < mu].sum())
    target = tol * abs(primal) / max(band, np.finfo(float).tiny)
    return float(np.clip(target, mu * 1e-3, mu * 0.1))


@_fill_doc
def fit_hinge(data_kwargs, C, *, tol=1e-6, max_iter=100, solver="auto", theta0=None,
              mu0=1.0, max_passes=10000):
    """Minimise ``C sum s_i max(0, 1 - y~_i z_i) + 1/2 ||w||^2`` to relative duality gap tol.

    Two methods, both certified by the duality gap ``(F - D) / F`` with ``D`` a dual value
    (:mod:`fastlogit.svm_dcd`; ``D <= F* <= F``):

    * ``solver="auto"`` or ``"dcd"``: dual coordinate descent (:func:`fastlogit.svm_dcd.dcd_svm`;
      with an intercept, an outer search over b keeps the dual's equality constraint).  If it
      has not reached ``tol`` within ``max_passes`` passes, the continuation below takes over
      from its point.
    * ``"continuation"`` (the library's "auto" solver per stage) or any solver of
      :mod:`fastlogit.solvers` (``"newton-cholesky"``, ``"trust-region"``...): smoothing
      continuation.  The smoothed hinge (within ``mu/2`` of the hinge per sample) is
      minimised by that solver for decreasing ``mu``, each stage warm-started; the dual point
      of a stage is ``alpha_i = C s_i clip((1 - m_i) / mu, 0, 1)`` (in the dual box; with an
      intercept its constraint holds to the stage's tolerance), and the next ``mu`` is chosen
      from the stage's margins so that the smoothing error is about ``tol F / 2``.

    Parameters
    ----------
    {data_kwargs}
    C : float
        Multiplies the summed hinge losses; a positive finite number (not checked here:
        :class:`LinearSVM` checks it).
    tol : float, default=1e-6
        Target relative duality gap ``(F - D) / F``, > 0.
    max_iter : int, default=100
        Iterations per smoothing stage (continuation).
    solver : str, default="auto"
        ``"auto"`` or ``"dcd"``: dual coordinate descent, the continuation finishing if it
        runs out of ``max_passes``; ``"continuation"``: the continuation with the library's
        "auto" solver per stage; any other name of :mod:`fastlogit.solvers`: the
        continuation with that solver per stage (an unknown name raises ValueError).
    theta0 : ndarray of shape (n_params,), default=None
        Start of the continuation (ignored by dual CD, which starts from alpha = 0); None
        starts from zeros.
    mu0 : float, default=1.0
        First smoothing of the continuation, > 0.
    max_passes : float, default=10000
        Dual CD's budget in coordinate visits as a multiple of n.

    Returns
    -------
    theta : ndarray of shape (n_params,)
        The coefficients, then the intercept when fitted; float64.
    info : dict
        ``"gap"`` (relative duality gap reached), ``"objective"`` (F), ``"dual"`` (D),
        ``"n_iter"`` (passes of dual CD, plus Newton iterations of the continuation),
        ``"converged"`` (gap <= tol), ``"method"`` (``"dcd"``, ``"continuation"`` or
        ``"dcd+continuation"``), ``"mu"`` (last smoothing, 0 for dcd).

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.svm import fit_hinge
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 3))
    >>> y = (X[:, 0] + 0.3 * rng.normal(size=60) > 0).astype(float)
    >>> theta, info = fit_hinge({"X": X, "y": y}, C=1.0, tol=1e-6)
    >>> info["converged"], info["method"], theta.shape
    (True, 'dcd', (4,))
    >>> theta_c, info_c = fit_hinge({"X": X, "y": y}, C=1.0, tol=1e-6, solver="continuation")
    >>> bool(abs(info_c["objective"] - info["objective"]) <= 2e-6 * info["objective"])
    True
    """
    if solver not in ("auto", "dcd"):
        return _continuation(data_kwargs, C, tol, max_iter,
                             "auto" if solver == "continuation" else solver, theta0, float(mu0))
    data = MarginData(loss=SmoothedHinge(1.0), **data_kwargs)
    w, b, dinfo = dcd_svm(data.design, data._yt, C * data._s, squared=False,
                          fit_intercept=data.fit_intercept, tol=tol, max_passes=max_passes)
    theta = np.append(w, b) if data.fit_intercept else w.copy()
    passes = int(np.ceil(dinfo["passes"]))
    info = {"gap": dinfo["gap"], "objective": dinfo["primal"], "dual": dinfo["dual"],
            "mu": 0.0, "n_iter": passes, "converged": dinfo["converged"], "method": "dcd"}
    if info["converged"]:
        return theta, info
    m, cw = _margins_info(data, theta, C)
    mu = _next_mu(m, cw, info["objective"], tol, 1.0)
    theta, cinfo = _continuation(data_kwargs, C, tol, max_iter, "auto", theta, mu)
    if cinfo["dual"] < info["dual"]:  # keep the better certificate
        cinfo["gap"] = (cinfo["objective"] - info["dual"]) / abs(cinfo["objective"])
        cinfo["dual"] = info["dual"]
        cinfo["converged"] = cinfo["gap"] <= tol
    cinfo["n_iter"] += passes
    cinfo["method"] = "dcd+continuation"
    return theta, cinfo


@_fill_doc
def fit_squared_hinge(data_kwargs, C, *, penalty="l2", l1_ratio=None, tol=1e-4, max_iter=100,
                      solver="auto", max_passes=None):
    """Minimise ``C sum s_i max(0, 1 - y~_i z_i)^2 + R(w)``.

    * ``solver="auto"`` with the L2 penalty: the finite Newton method
      (:func:`fastlogit.svm_newton.finite_newton_squared_hinge`, relative duality gap
      ``tol``) when the model has at most ``CHOLESKY_MAX_PARAMS`` parameters; above,
      dual coordinate descent (:func:`fastlogit.svm_dcd.dcd_svm`, relative duality gap
      ``tol``, up to ``max_passes``), as LIBLINEAR chooses for text, unless its gap
      converges slowly: once the gap's rate predicts more than :data:`SWITCH_PASSES`
      further passes (a badly conditioned dual, e.g. raw counts), the truncated Newton
      method (:func:`fastlogit.svm_newton.truncated_newton_squared_hinge`, relative
      duality gap ``tol``) continues from dual CD's point.  Other penalties: the
      library's "auto" solver.  The race behind the choice is ``benchmarks/svm_race.py``.
    * ``solver="dcd"``: dual coordinate descent only (L2); ``"finite-newton"``: the finite
      Newton method only (L2, dense Hessian: few features); ``"truncated-newton"``: the
      truncated Newton method only (L2, any number of features; starts from one pass of
      dual CD).
    * any other solver of :mod:`fastlogit.solvers`: that solver, gradient tolerance ``tol``.

    Parameters
    ----------
    {data_kwargs}
    C : float
        Multiplies the summed squared hinge losses; a positive finite number.
    penalty : {"l2", "l1", "elasticnet", None} or fastlogit.penalties.Penalty, default="l2"
        The penalty R on the coefficients.  ``solver="dcd"``, ``"finite-newton"`` and
        ``"truncated-newton"`` need "l2" (else ValueError).
    l1_ratio : float, default=None
        Elastic-net mixing in [0, 1], for ``penalty="elasticnet"``.
    tol : float, default=1e-4
        Relative duality gap ``(F - D) / F`` of dual CD and of the Newton methods (a bound
        on the relative suboptimality), or the gradient tolerance of another solver.
    max_iter : int, default=100
        Iterations of the finite Newton method or of the primal solver (the truncated
        Newton method: ``10 * max_iter``, its iterations are inexact).
    solver : str, default="auto"
        ``"auto"``, ``"dcd"``, ``"finite-newton"``, ``"truncated-newton"`` or a solver of
        :mod:`fastlogit.solvers`
        (see above); an unknown name or one that does not handle the penalty raises
        ValueError.
    max_passes : float, default=None
        Dual CD's budget in coordinate visits as a multiple of n; None means 10000.

    Returns
    -------
    theta : ndarray of shape (n_params,)
        The coefficients, then the intercept when fitted; float64.
    info : dict
        ``"n_iter"`` (dual CD passes + Newton iterations), ``"converged"``, ``"method"``
        (``"dcd"``, ``"finite-newton"``, ``"truncated-newton"``, ``"dcd+truncated-newton"``
        or a solver name), ``"gap"`` (relative duality gap when dual CD or a Newton method
        of this module finished, else None).

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.svm import fit_squared_hinge
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 3))
    >>> y = (X[:, 0] + 0.3 * rng.normal(size=60) > 0).astype(float)
    >>> theta, info = fit_squared_hinge({"X": X, "y": y}, C=1.0, solver="finite-newton")
    >>> theta_l1, info_l1 = fit_squared_hinge({"X": X, "y": y}, C=1.0, penalty="l1")
    >>> info["converged"], info_l1["converged"], info_l1["method"]
    (True, True, 'l1')
    """
    l2 = penalty == "l2"
    if solver in ("dcd", "finite-newton", "truncated-newton") and not l2:
        raise ValueError(f"solver={solver!r} supports penalty='l2' only, got {penalty!r}")
    data = MarginData(loss=SquaredHinge(), **data_kwargs)
    cw = C * data._s
    give_up = None
    if l2 and solver == "auto":
        solver = "finite-newton" if data.n_params <= CHOLESKY_MAX_PARAMS else "dcd"
        give_up = SWITCH_PASSES if solver == "dcd" else None
    theta0, passes = None, 0
    if solver == "dcd":
        w, b, dinfo = dcd_svm(data.design, data._yt, cw, squared=True,
                              fit_intercept=data.fit_intercept, tol=tol,
                              max_passes=10000 if max_passes is None else max_passes,
                              give_up=give_up)
        theta = np.append(w, b) if data.fit_intercept else w
        passes = int(np.ceil(dinfo["passes"]))
        if not dinfo["stalled"]:
            return theta, {"n_iter": passes, "converged": dinfo["converged"],
                           "method": "dcd", "gap": dinfo["gap"]}
        theta0, solver = theta, "truncated-newton"
    if solver == "truncated-newton":
        theta, info = truncated_newton_squared_hinge(
            data.design, data._yt, cw, fit_intercept=data.fit_intercept, tol=tol,
            max_iter=10 * max_iter, theta0=theta0, backend=data_kwargs.get("backend", "auto"),
            n_threads=data.n_threads)
        return theta, {"n_iter": passes + info["n_iter"], "converged": info["converged"],
                       "method": "dcd+truncated-newton" if passes else "truncated-newton",
                       "gap": info["gap"]}
    if solver == "finite-newton":
        X = data.design.arrays[0] if data.design.kind == "dense" else data_kwargs["X"]
        theta, info = finite_newton_squared_hinge(X, data._yt, cw,
                                                  fit_intercept=data.fit_intercept, tol=tol,
                                                  max_iter=max_iter)
        return theta, {"n_iter": info["n_iter"], "converged": info["converged"],
                       "method": "finite-newton", "gap": info["gap"]}
    ob = Objective(data, C=C, penalty=penalty, l1_ratio=l1_ratio)
    res = solve(ob, solver, tol=tol, max_iter=max_iter)
    return res.theta, {"n_iter": res.n_iter, "converged": res.converged,
                       "method": res.solver, "gap": None}


class LinearSVM(LinearClassifierMixin, BaseEstimator):
    """Binary linear SVM (hinge or squared hinge) on fastlogit's solvers and kernels.

    Parameters
    ----------
    loss : {"squared_hinge", "hinge"}, default="squared_hinge"
    C : float > 0, default=1.0
        Multiplies the summed loss (scikit-learn's and LIBLINEAR's convention).
    penalty : {"l2", "l1", "elasticnet", None} or Penalty, default="l2"
        The hinge supports "l2" only (its solver works through the dual).
    l1_ratio : float in [0, 1] or None
        For penalty="elasticnet".
    fit_intercept : bool, default=True
        The intercept is not penalised.
    tol : float, default=1e-4
        Relative duality gap ``(F - D) / F`` where dual coordinate descent, the finite Newton
        method or the hinge's continuation finishes (a bound on the relative
        suboptimality); the gradient tolerance of the other primal solvers.
    max_iter : int, default=100
        Iterations of a primal solver (per smoothing stage for the hinge's continuation).
    solver : str, default="auto"
        Squared hinge: "auto" (:func:`fit_squared_hinge`: the finite Newton method for at
        most ``CHOLESKY_MAX_PARAMS`` parameters, dual coordinate descent above, handing
        over to the truncated Newton method where its gap converges slowly), "dcd",
        "finite-newton", "truncated-newton", or any fastlogit solver.
        Hinge: "auto" / "dcd" (dual coordinate descent, :func:`fit_hinge`), "continuation",
        or a fastlogit solver for the continuation's stages.
    backend : {"auto", "numpy", "numba", "cython"}, default="auto"
        Kernel implementation of the passes over X (:func:`fastlogit.kernels.get`); "auto"
        takes the fastest available.  An unknown name raises ValueError.
    n_threads : int or None, default=None
        Threads of the kernels' passes over X; None:
        :func:`fastlogit._config.effective_n_threads`.  Dual coordinate descent itself is
        sequential.

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features)
    intercept_ : ndarray of shape (1,)
    classes_ : ndarray of shape (2,)
    n_iter_ : int
    converged_ : bool
    duality_gap_ : float or None
        The final relative duality gap (None where a primal solver other than the finite
        Newton method fitted the squared hinge).

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import StandardScaler
    >>> from fastlogit.svm import LinearSVM
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> round(LinearSVM(C=0.1).fit(X, y).score(X, y), 2)
    0.99
    """

    def __init__(self, loss="squared_hinge", *, C=1.0, penalty="l2", l1_ratio=None,
                 fit_intercept=True, tol=1e-4, max_iter=100, solver="auto", backend="auto",
                 n_threads=None):
        store_params(self, locals())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    @fill_doc
    def fit(self, X, y, sample_weight=None):
        """Fit the SVM (see the class docstring for the solvers and the stopping rule).

        Parameters
        ----------
        {X_train}
        y : array-like of shape (n_samples,)
            Binary labels (exactly two classes, else ValueError).
        {sample_weight}

        Returns
        -------
        self
            The fitted SVM: ``coef_``, ``intercept_``, ``classes_``, ``n_iter_``,
            ``converged_`` and ``duality_gap_`` set.

        Examples
        --------
        >>> import numpy as np
        >>> from fastlogit.svm import LinearSVM
        >>> X = np.array([[-2.0, 0.5], [-1.0, -0.5], [1.0, 0.5], [2.0, -0.5]])
        >>> svm = LinearSVM(loss="hinge", C=10.0).fit(X, ["a", "a", "b", "b"])
        >>> svm.classes_.tolist(), svm.predict([[-3.0, 0.0], [3.0, 0.0]]).tolist()
        (['a', 'b'], ['a', 'b'])
        """
        if self.loss not in ("squared_hinge", "hinge"):
            raise ValueError(f"loss must be 'squared_hinge' or 'hinge', got {self.loss!r}")
        C = check_C(self.C)
        tol = check_tol(self.tol)
        max_iter = check_max_iter(self.max_iter)
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=[np.float64, np.float32],
                             order="C", accept_large_sparse=True)
        check_classification_targets(y)
        classes, y_idx = np.unique(y, return_inverse=True)
        if classes.shape[0] != 2:
            raise ValueError(f"LinearSVM is binary: y must hold exactly 2 classes, got "
                             f"{classes.shape[0]}")
        sw = check_sample_weight(sample_weight, X.shape[0])
        kwargs = dict(X=X, y=y_idx.astype(np.float64), sample_weight=sw,
                      fit_intercept=self.fit_intercept, backend=self.backend,
                      n_threads=self.n_threads)
        self.duality_gap_ = None
        if self.loss == "hinge":
            if self.penalty != "l2":
                raise ValueError(f"loss='hinge' supports penalty='l2' only, got "
                                 f"{self.penalty!r}")
            theta, info = fit_hinge(kwargs, C, tol=tol, max_iter=max_iter, solver=self.solver)
            self.n_iter_, self.converged_ = info["n_iter"], info["converged"]
            self.duality_gap_ = info["gap"]
            if not info["converged"]:
                warnings.warn(f"LinearSVM(loss='hinge') stopped at relative duality gap "
                              f"{info['gap']:.3e} > tol={tol:g}", ConvergenceWarning)
        else:
            theta, info = fit_squared_hinge(kwargs, C, penalty=self.penalty,
                                            l1_ratio=self.l1_ratio, tol=tol,
                                            max_iter=max_iter, solver=self.solver)
            self.n_iter_, self.converged_ = info["n_iter"], info["converged"]
            self.duality_gap_ = info["gap"]
        d = X.shape[1]
        self.coef_ = theta[:d].reshape(1, d).astype(X.dtype)
        self.intercept_ = np.array([theta[d] if self.fit_intercept else 0.0], dtype=X.dtype)
        self.classes_ = classes
        return self
