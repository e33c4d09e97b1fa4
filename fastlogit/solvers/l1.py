"""Proximal Newton for L1 and elastic-net penalties (binary and multinomial).

Problem: ``F(theta) = f(theta) + lam ||w||_1`` with ``f = C L + a/2 ||w||^2`` the smooth part
(``lam = penalty.l1_strength``, ``a = penalty.l2_strength``; the intercepts are never
penalised).  Every iteration solves the penalised quadratic model of F at theta::

    min_d  g.d + 1/2 d^T H d + lam ||w + d_w||_1          (g, H: gradient, Hessian of f)

inexactly and line-searches F along d with the composite Armijo rule
``F(theta + t d) <= F(theta) + sigma t Delta``, ``Delta = g.d + lam (||w + d_w||_1 - ||w||_1)``
(Yuan, Ho & Lin 2012, "newGLMNET", and Tseng & Yun 2009).  Two implementations share it:

**Column path** (binary log-loss in memory, :class:`fastlogit.objective.LogLossData`, dense or
CSR, any dtype, sample weights, any elastic-net mix): the Hessian of the log-loss is
``C X^T diag(D) X + a I`` with ``D`` the IRLS weights, so coordinate descent on the model
needs only column j of X, D and the model's margins ``X d``, kept up to date in O(nnz of
column j) per coordinate step (:mod:`fastlogit.solvers._cd`, Numba).  X's rows are read in
place when X is float64 CSR without duplicates (else copied so once); its columns are
extracted from the rows for each working set while the working set holds less than a third
of X's non-zeros, and the full float64 CSC copy (cached per data term) is made only once a
working set is larger (on the problems with a 1 %-support solution the full copy was a
third of the fit); without it the full gradient is one pass over the rows.  The outer loop
works on *working sets*: each round computes the full gradient once, scores every feature
at zero by its violation of the optimality condition (``|g_j| - lam``), and solves the
problem restricted to the support plus the highest-scoring violators (at least ``ws_min``,
growing to twice the support) by proximal Newton steps to a tolerance tied to the global
violation.  A cold start (theta0 = 0, intercept fitted) with at most ``ws_min`` violators at
the intercept's own optimum (w = 0, b = logit of the weighted mean label) starts there, so
that the first working set holds just those; with more, it starts at 0, where the curvature
``D = C s / 4`` is the largest and the first steps stay short (from the intercept's optimum
on w8a at C = 1 they overshot and the fit took twice as long); when far more features
violate at 0 than at the intercept's optimum (their violation is the intercept's error), the
first working set is small (``_WS_FIRST``) and doubles each round up to ``ws_min``, on X's
full column copy (made once instead of an extraction from the rows per round).  The
model of a step is solved by coordinate descent with newGLMNET's shrinking, either over
the working set's columns (with Anderson extrapolation of the iterates every few sweeps,
kept only when it lowers the model) or, when building the dense ``(m + 1)^2`` model Hessian
(one pass over the CSR rows, intercept included; over the working set's own rows, built once
per round by :func:`fastlogit.solvers._cd.rows_of_cols`, when they hold less than half of
X's non-zeros: each build then skips the scan of the other entries; from the working set's
dense rows when at least half of its entries are non-zero, from its columns when it has so
few that their pairs cost less than the rows' loop) and sweeping over it costs less than
sweeping over the columns for as many sweeps as the last model took, over that matrix.
Consecutive dense models built from X's rows keep the last Hessian and update only the rows
whose curvature moved by more than ``_STALE`` relative (:func:`_gram_rows_stale`; near the
optimum few do), so the model's Hessian stays within ``1 +- _STALE`` of the exact one while
the gradient is exact.  On a binary X (every stored value 1.0) the column kernels skip
reading the values, and a dense model over a working set of at most
:data:`fastlogit.solvers._cd.GROUP_M` columns is built per group of rows with one pattern on
it (one-hot data at a small support repeats: :func:`fastlogit.solvers._cd.row_groups`; from
X's rows the grouping gives up early when the rows mostly differ), the rows' curvatures
summed per group, instead of per row.  Repeated rows: when the fit takes X's full column
copy and at least ``_MERGE_SHARE`` of X's (row, label) pairs repeat an earlier one, the fit
goes on over the distinct pairs, each weighted by the sum of its copies' weights
(:mod:`fastlogit.row_merge`: the same objective, only the order of the additions differs;
the merged rows' column copy is made in the same pass and kept with the data term): every
pass over the samples and the rows' entries shrinks by the share of copies (w8a, a9a).  The
fits that never take the full copy (small supports) never pay for the grouping pass.  Null
directions: on one-hot data each categorical group's columns sum to the intercept's constant
column (and a duplicate column repeats another), so the design ``[X_W, 1]`` has directions
along which only the L1 term changes F; a coordinate step is held back by its own curvature
(C times its samples' D), so at a large C coordinate descent crossed them by about
``lam / H_jj`` per sweep and the fit stalled (a9a at C >= 167).  A dense model whose last
sweeps at its sweep cap moved only along directions its Hessian hardly curves
(:func:`_dense_model`) gets a basis of its working set's null directions
(:func:`_null_basis`), and so does every later dense model of the fit: its coordinate
descent then also steps exactly along each basis direction after every sweep and, after a
batch of sweeps that only crawled, minimises the L1 term over all of them at once (a small
linear program, :func:`_lad_jump`: single directions stop at kinks that two of them
share).  The fits whose models never crawl pay nothing for it.  The generic path's dense
models (below) do the same with their Hessian's null basis, which also holds the softmax
loss's shift of one feature's K coefficients (multinomial at a large C stalled as well).  A
line search that finds no acceptable step damps the model (a ridge added to its curvature,
Levenberg-Marquardt) and solves it again.  The line search compares F *changes* computed
per sample: from the stored log-terms ``log(1 + e^z)``
(:func:`fastlogit.solvers._cd.try_step_l`, two transcendental calls per sample) when that
change is further from the Armijo threshold than its rounding bound, else without
cancellation (:func:`fastlogit.solvers._cd.try_step`), so steps are judged correctly far
below the rounding of F itself; the same pass writes the trial point's pointwise terms, so
an accepted step costs no further pass over the samples.  The margins
are updated by steps; the fit ends when the measure on them, plus a bound on what their
rounding drift can change in the gradient, is below the threshold (else everything is
recomputed from scratch and the fit goes on).  Threads: the coordinate-descent sweeps run
on one thread; the line search's trials, the working set's gradient and curvature over its
columns, the dense model's Hessian from X's rows and the first gradient over X's rows run
on the data term's ``n_threads`` where the kernels' cost model finds a second thread worth
its start-up (:func:`fastlogit.solvers._cd.threads`), each split so that the result has the
same bits for every thread count (:mod:`fastlogit.solvers._cd`'s docstring).

Why this combination (measurements in benchmarks/results/l1_race.md):

* Second-order models: the time goes into coordinate sweeps over the support's columns
  (profiles: the one full gradient per round is a small share), and a Newton model needs
  far fewer sweeps over the data than first-order coordinate descent on F itself (celer,
  skglm's inner solver), because the sample-wise nonlinearity is evaluated once per model
  rather than once per coordinate update.
* The dense model: on sets with many rows and few features (a9a, ijcnn1, w8a, mushrooms)
  one-hot groups are collinear with the intercept and the model needs hundreds of sweeps;
  over an ``m x m`` matrix a sweep costs ``m^2`` instead of the columns' non-zeros (far
  less there), while on text the support is too large for it and the columns win.
* Working sets against shrinking alone: both confine the sweeps to a few columns, and what
  remains, the sweeps over the final support, neither avoids; on the text sets they cost
  about the same.  A working set started too small costs extra rounds (w8a), hence
  ``ws_min`` (smaller starts won on some sets and lost on others).
* Anderson extrapolation of the model's coordinate descent (skglm's idea, here inside a
  Newton model rather than on F): on the text sets the last models are ill-conditioned and
  take the most sweeps; extrapolation cuts their number most, the largest single gain
  measured (news20, rcv1_small, w8a); on the dense model it is not used (its sweeps are
  cheap).
* Gap-safe screening (:func:`gap_safe_screen`) is offered for paths
  (``l1_newton(..., inactive=mask)``), not run inside a single fit: it removes features
  from the full-gradient pass only, which the profiles show is a small share, and the
  working set already keeps useless features out of the sweeps.  Along a path, screening
  at the previous solution removes most features before the fit starts.
* Dense-design and float32 data are fitted through the same float64 copies, so the result
  is as accurate as for float64 data (the generic path, too, fits float32 in-memory data
  through a float64 copy: in float32 the line search cannot resolve F's changes near the
  optimum and stalls at a relative optimality of about 1e-7).

**Generic path** (anything else: multinomial, chunked and Dask data terms, other data terms
or penalty forms, through the contract only): the model is solved by coordinate descent on
the dense Hessian (``objective.hessian``, ``n_params <= dense_max``) or by FISTA on
``objective.hessp`` with backtracking on the model's curvature: each step checks
``delta^T H delta <= L ||delta||^2`` for the step ``delta`` it takes (the product it needs
anyway, by linearity of the model's gradient) and raises L when it fails.  (The former
solver reused an L estimated, from below, by a power iteration several outer iterations
earlier; on news20 the Hessian's largest eigenvalue grew several times between two outer
iterations, FISTA diverged ("overflow encountered in matmul") and the non-finite model
solution was reported as "no descent direction" far above the optimum.)  In-memory
multinomial problems use this path up to ``dense_max`` parameters (the exact joint model);
above it they go by the joint multinomial path (next paragraph).

**Joint multinomial path** (softmax log-loss in memory, more than ``dense_max`` parameters,
:func:`_solve_softmax`): the column path's working-set rounds over *features* (a feature
scored by its largest violation over the classes; all K coefficients of a working feature
enter together), each step's model the exact quadratic model of the softmax loss on the
working set, coupling between the classes included, solved by coordinate descent over every
(feature, class) coordinate at O(nnz of the column) per coordinate step
(:mod:`fastlogit.solvers._l1_softmax`).  A class whose probabilities saturate (rare words
seen in one class only, on text) has almost no curvature, and the undamped model steps
astronomically far (and the line search halves the step dozens of times); the model is
therefore damped by a Levenberg-Marquardt term relative to the mean coordinate
curvature, raised after a short accepted step and lowered after a full one, so that it
vanishes near the optimum.  (It replaced glmnet's block coordinate descent over the classes,
class by class with the others fixed, which ignored the coupling and did not converge on
news20's 20 classes.)  Its models are capped at ``_SOFTMAX_SWEEPS`` sweeps: the softmax loss
is flat along a shift of one feature's K coefficients, which coordinate descent crosses
slowly, and more, cheaper models won.

Stopping rule: ``||S(theta)||_inf <= tol * max(1, ref)`` with ``S`` the minimum-norm
subgradient of F (:meth:`fastlogit.objective.Objective.min_norm_subgradient`) and ``ref``
:func:`fastlogit.solvers._result.reference_gradient_norm` (independent of the start, so that
warm starts pay off), the rule of every deterministic solver
(:func:`fastlogit.solvers._result.stopping_threshold`).  ``result.grad_norm`` is the measure
reached; a fit that stops above the threshold warns with :class:`ConvergenceWarning` naming
it.  ``n_iter`` counts proximal Newton steps; the history has one entry per working-set
round (column and joint multinomial paths) or per step (generic path).
"""
import weakref
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.special import xlogy

from ..contract import declare
from ..objective import LogLossData
from ..row_merge import merge_rows, merged_log_loss
from . import _cd
from . import _l1_softmax as _sm
from ._result import (History, SolverResult, binary_reference_norm, data_grad_at_zero,
                      reference_gradient_norm, single_threaded_blas, stopping_threshold,
                      threshold_after, warn_not_converged)

__all__ = ["l1_newton", "gap_safe_screen", "Screening", "softmax_l1_optimality"]

_EPS = np.finfo(np.float64).eps
#: Ridge added to the model's curvature (newGLMNET's nu): keeps every step finite.
_NU = 1e-12
#: Sufficient-decrease constant of the composite Armijo rule (LIBLINEAR's).
_SIGMA = 0.01
_MAX_BACKTRACKS = 30
#: Sweeps the first model is expected to take (the dense-model choice before any model ran).
_FIRST_SWEEPS = 3
#: Column path: a model is solved until its violations sum to _KAPPA times the working
#: set's (lowered when a model takes one sweep or shows no descent).
_KAPPA = 0.1
#: Column path: a working-set round ends when its violation is below _WS_REL times the
#: global one at the round's start (never below half the stopping threshold).
_WS_REL = 0.3
#: Joint multinomial path: sweeps per model (news20's last models hit the column path's cap
#: crossing the flat directions of the softmax loss; more, cheaper models won: measured in
#: benchmarks/results/l1_race.md).
_SOFTMAX_SWEEPS = 20
#: Column path, dense models: the model tolerance is also at most ``(v / v0)^_FORCING`` times
#: the working set's violation sum (v: the working set's violation, v0: the measure at the
#: fit's start), a forcing term that vanishes at the optimum (superlinear local rate).  Only
#: there: a dense model's sweep costs m^2, far less than a step's passes over the samples,
#: while on the column models the extra sweeps cost more than the steps they save
#: (measured in benchmarks/results/l1_race.md).
_FORCING = 0.5
#: Column path, cold start at 0: when more than _WS_RATIO times as many features violate
#: at 0 as at the intercept's optimum, the violations at 0 come mostly from the intercept's
#: error (features correlated with the constant column, which leave once b settles): the
#: first working set then holds _WS_FIRST columns, doubling each round up to ``ws_min``
#: (never below twice the support), and the fit works on X's full column copy from then on
#: (one copy instead of an extraction from the rows per round).  Measured in
#: benchmarks/results/l1_race.md.
_WS_FIRST = 16
_WS_RATIO = 2.0
#: Column path, the dense-model choice: a Hessian build's multiply-adds are counted at
#: _GRAM_IN_CACHE of a column sweep's per non-zero work when the (m + 1)^2 matrix is small
#: (m < _GRAM_M_CACHE: at most 128 KiB, its scattered updates stay in cache; on w8a's
#: m ~ 250-300 they do not, and dense models with few sweeps lost there).  Measured in
#: benchmarks/results/l1_race.md.
_GRAM_IN_CACHE = 0.5
_GRAM_M_CACHE = 128
#: Column path: a Hessian build from dense rows (:func:`fastlogit.solvers._cd.gram_dense`)
#: counted per multiply-add of its ``n (m + 1) (m + 2) / 2`` at this fraction of a column
#: sweep's per non-zero work (measured in benchmarks/results/l1_race.md).
_GRAM_DENSE = 0.1
#: Column path: a dense model's Hessian is built from the columns
#: (:func:`fastlogit.solvers._cd.gram_cols`) instead of the rows when it reads at most
#: _GRAM_COLS times as many entries as the rows' build makes updates and visits rows
#: (measured in benchmarks/results/l1_race.md).
_GRAM_COLS = 1.5
#: Column path: consecutive dense models built from the same rows keep the last Hessian and
#: update only the rows whose curvature moved by more than _STALE relative
#: (:func:`_gram_rows_stale`): the model's Hessian is then within (1 +- _STALE) of the exact
#: one (measured in benchmarks/results/l1_race.md).
_STALE = 0.3
#: Column path: the line search tries its steps from stored log-terms
#: (:func:`fastlogit.solvers._cd.try_step_l`) on working sets of at least this many features
#: (on the 1 %-C fits' few features, with few steps, the pass that makes the log-terms did
#: not pay: measured in benchmarks/results/l1_race.md).
_LOG_TERMS_M = 32
#: Column path: a column model precomputes its working set's ``x_ij D_i``
#: (:func:`fastlogit.solvers._cd.cd_model`'s ``weighted``) when the last model took at least
#: this many sweeps (measured in benchmarks/results/l1_race.md).
_WEIGHTED_SWEEPS = 8
#: Column path, dense models: sweeps per batch when watching for a crawl along null
#: directions, and between two checks for an exact minimisation of the L1 term over them
#: (:func:`_dense_model`); at most _NULL_JUMPS such minimisations per model.
_NULL_PART = 30
_NULL_JUMPS = 4
#: Column path: the Jacobi-scaled eigenvalues of a dense model's Hessian taken as null
#: (one-hot groups against the intercept, duplicate columns: rounding, about 1e-15, on a9a;
#: the next one 1e-2), and the scaled curvature below which a change is "flat"
#: (:func:`_flat`; at 1e-6, w8a's models at C = 1291.5 crawled along near-null directions
#: that no null basis holds, and made one in vain).
_NULL_EIG = 1e-8

#: data term -> (its float64 CSC arrays, its float64 CSR arrays) (weakly keyed: a path of
#: fits over one data term builds them once); _ROWS: the CSR arrays alone.
_CSC = weakref.WeakKeyDictionary()
_ROWS = weakref.WeakKeyDictionary()


def _cached(table, data):
    try:
        return table.get(data)
    except TypeError:  # a data term that cannot be weakly referenced
        return None


def _cache(table, data, value):
    try:
        table[data] = value
    except TypeError:
        pass


def _rows_of(data):
    """(indptr int64, indices, data float64) of X in CSR without duplicate entries: X's own
    arrays when X is float64 CSR in canonical form (no copy), else a float64 copy; cached
    per data term."""
    found = _cached(_CSC, data)
    if found is not None:
        return found[1]
    found = _cached(_ROWS, data)
    if found is not None:
        return found
    design = data.design
    own = design.kind == "csr" and design.dtype == np.float64
    if own:
        # the Design's own arrays (the CSR view to_scipy makes, without SciPy's
        # constructor and its checks: a fixed cost of every fit on a new data term)
        xdata, indices, indptr = design.arrays
        lo, hi = int(indptr[0]), int(indptr[-1])
        indptr = np.subtract(indptr, lo, dtype=np.int64)
        indices = np.ascontiguousarray(indices[lo:hi])
        xdata = np.ascontiguousarray(xdata[lo:hi])
        # compiled (a vectorised pass; SciPy's has_canonical_format scans the new CSR view
        # of every fit several times slower)
        own = _cd.canonical_rows(indptr, indices)
    if not own:
        X = sp.csr_matrix(design.to_scipy(), dtype=np.float64, copy=True)
        X.sum_duplicates()
        indptr = np.ascontiguousarray(X.indptr, dtype=np.int64)
        indices = np.ascontiguousarray(X.indices)
        xdata = np.ascontiguousarray(X.data)
    rows = (indptr, indices, xdata)
    _cache(_ROWS, data, rows)
    return rows


def _csc_of(data, counts=None):
    """((indptr int64, indices, data float64) of X in CSC, the same of X in CSR
    (:func:`_rows_of`)), cached per data term; ``counts``: the non-zeros per column when
    known (int64, n_features), which spares the transposition its counting pass."""
    found = _cached(_CSC, data)
    if found is not None:
        return found
    rows = _rows_of(data)
    if counts is not None:
        cp = np.zeros(data.n_features + 1, dtype=np.int64)
        np.cumsum(counts, out=cp[1:])
        nnz = int(cp[-1])
        ri = np.empty(nnz, dtype=np.int32 if max(nnz, data.n_samples) < 2 ** 31 else np.int64)
        rv = np.empty(nnz)
        # (X binary, as the pass that counted found it: its values are not read)
        _cd.transpose(*rows, cp, ri, rv, bool(_cached(_UNIT, data)))
        arrays = ((cp, ri, rv), rows)
        _cache(_CSC, data, arrays)
        return arrays
    # scipy's compiled transposition: about twice as fast as cols_of_rows over all columns
    Xc = sp.csr_matrix((rows[2], rows[1], rows[0]), shape=(data.n_samples, data.n_features),
                       copy=False).tocsc()
    arrays = ((np.ascontiguousarray(Xc.indptr, dtype=np.int64), Xc.indices, Xc.data), rows)
    _cache(_CSC, data, arrays)
    return arrays


_AMAX = weakref.WeakKeyDictionary()
_NNZ = weakref.WeakKeyDictionary()
_UNIT = weakref.WeakKeyDictionary()


#: data term -> its data term over X's merged rows, or False (_merged_of; weakly keyed).
_MERGED = weakref.WeakKeyDictionary()
#: Column path: X's rows are merged (:mod:`fastlogit.row_merge`) when at least this share of
#: the (row, label) pairs are copies of an earlier one (measured in
#: benchmarks/results/l1_race.md).
_MERGE_SHARE = 0.1


def _merged_of(data, compute=True):
    """The data term over X's distinct (row, label) pairs with summed weights
    (:func:`fastlogit.row_merge.merged_log_loss`) when they save at least ``_MERGE_SHARE``
    of the rows, else None; cached per data term (``compute`` False: only when cached)."""
    found = _cached(_MERGED, data)
    if found is None and compute:
        rows = _rows_of(data)
        mr = merge_rows(*rows, data.y, data.n_features, data.sample_weight,
                        min_share=_MERGE_SHARE, columns=True)
        found = False
        if mr is not None:
            found = merged_log_loss(data, mr)
            # its rows are canonical (copied from canonical ones); its full column copy (the
            # merge is made when the fit takes it) and whether X is binary came with the
            # merge: no pass of their own
            rows = (mr.indptr, mr.indices, mr.data)
            _cache(_CSC, found, (mr.columns, rows))
            _cache(_UNIT, found, mr.unit)
            amax = _cached(_AMAX, data)  # the same values
            if amax is not None:
                _cache(_AMAX, found, amax)
        _cache(_MERGED, data, found)
    return found or None


def _col_nnz_of(data, indptr):
    """Non-zeros per column of X's full CSC copy (its ``indptr``), cached per data term."""
    found = _cached(_NNZ, data)
    if found is None:
        found = np.diff(indptr)
        found.flags.writeable = False
        _cache(_NNZ, data, found)
    return found


def _unit_of(data, rows):
    """True when every stored value of X is 1.0 (a binary X: the column kernels then skip
    reading the values, :func:`fastlogit.solvers._cd.all_ones`), cached per data term."""
    found = _cached(_UNIT, data)
    if found is None:
        found = bool(_cd.all_ones(rows[2]))
        _cache(_UNIT, data, found)
    return found


def _abs_max_of(data, rows):
    """max |x_ij| over X (rows: :func:`_rows_of`), cached per data term."""
    found = _cached(_AMAX, data)
    if found is None:
        found = _cd.abs_max(rows[2])
        _cache(_AMAX, data, found)
    return found


def _column_data(objective):
    """The in-memory binary log-loss data term when the column path applies, else None."""
    data = getattr(objective, "data", None)
    pen = getattr(objective, "penalty", None)
    if (type(data) is not LogLossData or data.n_classes != 1 or pen is None
            or pen.l2_strength is None):
        return None
    return data


def _intercept_start(y, s):
    """The minimiser of the log-loss in the intercept alone (w = 0): logit of the
    (weighted) mean label; None when that mean is 0 or 1 (no finite minimiser)."""
    tot = float(s.sum()) if s.size else float(y.size)
    ybar = (float(s @ y) if s.size else float(y.sum())) / tot if tot > 0 else 0.0
    if not 0.0 < ybar < 1.0:
        return None
    return float(np.log(ybar) - np.log1p(-ybar))


def _violation(g, w, lam):
    """(|minimum-norm subgradient| of F per coordinate, its maximum (0.0 when empty, NaN
    when g holds a NaN)), given the smooth gradient g at w (arrays of one shape;
    :func:`fastlogit.solvers._cd.violation`)."""
    out = np.empty(g.shape)
    vmax = _cd.violation(g.reshape(-1), w.reshape(-1), float(lam), out.reshape(-1))
    return out, vmax


def _finish(name, theta, it, hist, gnorm, thr, message, objective):
    converged = gnorm <= thr
    if not converged:
        message = warn_not_converged(name, gnorm, thr, it, message)
    return SolverResult(theta, it, converged, "converged" if converged else message,
                        hist.as_dict(), dict(getattr(objective, "n_evals", {})))


@declare("l1", needs={"value_grad", "hessp", "line", "min_norm_subgradient"}, nonsmooth=True,
         convex_only=True)
@single_threaded_blas
def l1_newton(objective, theta0, *, tol=1e-4, max_iter=1000, callback=None, verbose=0,
              random_state=None, ws_min=256, max_sweeps=200, dense_max=1500, max_inner=1000,
              column_path=True, model="auto", anderson=True, inactive=None, full_columns=False,
              grad_start=None, grad_out=None, kappa=None, min_iter=0):
    """Proximal Newton for penalty "l1" / "elasticnet" (also runs for "l2" / None).

    Parameters
    ----------
    objective : :class:`fastlogit.contract.SolverObjective`
    theta0 : ndarray of shape (n_params,)
        Start (a warm start keeps its support in the first working set).
    tol : float >= 0
        Stopping rule (module docstring).
    max_iter : int
        Proximal Newton steps allowed in all.
    callback : callable(theta) -> bool, optional
        Called once per history entry; True stops the fit.
    verbose : int
    random_state : ignored (the solver is deterministic)
    ws_min : int
        Smallest working set of the column path.
    max_sweeps : int
        Coordinate-descent sweeps per model solve (at most ``_SOFTMAX_SWEEPS`` on the joint
        multinomial path).
    dense_max : int
        Generic path: largest n_params for which the model is solved by coordinate descent
        on ``objective.hessian`` (else FISTA on ``objective.hessp``).
    max_inner : int
        Generic path: FISTA iterations per model solve.
    column_path : bool
        False forces the generic path (tests, comparisons).
    model : {"auto", "dense", "columns"}
        Column path: how a model is solved ("auto" picks by estimated cost, module
        docstring; the others force coordinate descent on the dense model Hessian, for
        working sets of at most 2500 features, or over the columns).
    anderson : bool
        Column path: Anderson extrapolation of the coordinate-descent iterates on the model
        (:func:`fastlogit.solvers._cd.cd_model`).
    inactive : ndarray of bool, shape (n_features,), optional
        Features known to be zero at the optimum (:func:`gap_safe_screen`'s proof): the
        column path fixes them at 0 and leaves them out of its gradient passes; the other
        paths ignore it (the optimum is the same).  A mask that is not such a proof makes the
        fit the optimum of the problem restricted to the other features (the optimality
        measure then ignores the masked ones).
    full_columns : bool
        Binary column path: work on X's full column copy from the first round (built once and
        kept with the data term, so later fits on the same data term reuse it) instead of
        extracting each working set's columns from the rows; for a path that fits one data
        term at many C.  The fit then starts from ``theta0`` as given (no intercept-only
        start), as with an ``inactive`` mask; the optimum is the same.

    grad_start : ndarray of shape (n_params,), float64, optional
        The smooth part's gradient at ``theta0`` (``C grad L + a w``, the intercept's entry
        last), when the caller has it (a path that checked the start against the stopping
        rule): the binary column path on X's full column copy (``full_columns=True`` or an
        ``inactive`` mask) then skips its own gradient pass at the start; ignored elsewhere.
        It only chooses the first working set: a start that it shows to meet the stopping
        rule is confirmed by the solver's own pass, and every later gradient is the solver's.
    grad_out : ndarray of shape (n_params,), float64, optional
        Filled with the smooth part's gradient at the returned theta (as ``grad_start``):
        on the binary column path the one the solver's last measure used (entries of
        features in ``inactive`` are 0 there: not computed), elsewhere one
        ``objective.value_grad`` at the end.
    kappa : float in (0, 1), optional
        Binary column path: the model-solve tolerance's start, relative to the working set's
        violation sum (None: ``_KAPPA``); a path's warm-started fits may take looser models.
    min_iter : int >= 0
        Proximal Newton steps the fit takes before the stopping rule may end it, unless the
        start's measure is within the rule's floor ``tol`` (the threshold of a reference
        below 1: an optimum to the absolute tolerance).  A regularisation path passes 1
        (:func:`fastlogit.model_selection.warm_path`: the rule relative to ``C ||S(0)||``
        grows with C, while a warm start's violation at the next C stays about
        ``C_next / C_prev - 1`` times the L1 strength, so that without a step the large-C
        fits of a path would return the previous C's model unmoved).  ``n_iter`` of such a
        fit is at least ``min(min_iter, max_iter)``.

    Returns
    -------
    :class:`fastlogit.solvers.SolverResult`
    """
    theta = objective.layout.check(theta0, "theta0")
    hist = History(callback, verbose, "l1")
    if model not in ("auto", "dense", "columns"):
        raise ValueError(f"model must be 'auto', 'dense' or 'columns', got {model!r}")
    if kappa is not None:
        kappa = float(kappa)
        if not 0.0 < kappa < 1.0:
            raise ValueError(f"kappa must lie in (0, 1), got {kappa!r}")
    data = _column_data(objective) if column_path else None
    if inactive is not None:
        inactive = np.asarray(inactive)
        if inactive.dtype != bool or inactive.shape != (objective.n_features,):
            raise ValueError("inactive must be a boolean mask of shape (n_features,) = "
                             f"({objective.n_features},), got dtype {inactive.dtype} and "
                             f"shape {inactive.shape}")
    if full_columns and inactive is None:
        # the column path's masked branch is the one that starts on the full copy; an empty
        # mask proves nothing inactive, so the problem is unchanged
        inactive = np.zeros(objective.n_features, dtype=bool)
    for label, arr in (("grad_start", grad_start), ("grad_out", grad_out)):
        if arr is not None and (not isinstance(arr, np.ndarray) or arr.dtype != np.float64
                                or arr.shape != (objective.n_params,)):
            raise ValueError(f"{label} must be a float64 array of shape (n_params,) = "
                             f"({objective.n_params},), got "
                             f"{getattr(arr, 'dtype', type(arr).__name__)} of shape "
                             f"{getattr(arr, 'shape', None)}")
    if grad_start is not None and not np.isfinite(grad_start).all():
        raise ValueError("grad_start holds non-finite values")
    if data is not None:
        # X's repeated rows merged (module docstring): at once when the fit starts on X's
        # full column copy (a path's fits over one data term: the merge is cached with it),
        # else when the fit first takes that copy (_solve_columns)
        merged = _merged_of(data, inactive is not None or _cached(_CSC, data) is not None)
        if merged is not None:
            objective, data = objective.with_data(merged), merged
        return _solve_columns(objective, data, theta.copy(), tol, max_iter, hist,
                              int(ws_min), int(max_sweeps), verbose, model, bool(anderson),
                              inactive, grad_start=grad_start, grad_out=grad_out,
                              kappa=kappa, merge=merged is None, min_iter=min_iter)
    data = _multinomial_data(objective) if column_path else None
    if data is not None and objective.n_params > int(dense_max):
        twin = _float64_twin(objective)
        res = _solve_softmax(twin, twin.data, theta.copy(), tol, max_iter, hist,
                             int(ws_min), int(max_sweeps), verbose, bool(anderson),
                             min_iter)
    else:
        res = _solve_generic(_float64_twin(objective), theta.copy(), tol, max_iter, hist,
                             int(dense_max), int(max_inner), int(max_sweeps), min_iter)
    if grad_out is not None:
        grad_out[:] = objective.value_grad(res.theta)[1]
    res.n_evals = dict(getattr(objective, "n_evals", res.n_evals))
    return res


#: float32 in-memory data term -> its float64 twin (weakly keyed, as _CSC).
_TWIN = weakref.WeakKeyDictionary()


def _float64_twin(objective):
    """``objective`` over a float64 copy of its data when the data term is float32 in memory
    (the line search and the stopping rule then see float64 values, as on the column path),
    else ``objective`` itself."""
    data = getattr(objective, "data", None)
    if type(data) is not LogLossData or data.dtype != np.float32:
        return objective
    twin = _TWIN.get(data)
    if twin is None:
        from ..kernels import as_design

        twin = LogLossData.trusted(as_design(data.design.to_scipy(), dtype=np.float64),
                                   data.y, data.sample_weight, data.fit_intercept,
                                   data.kernels, data.n_threads)
        _TWIN[data] = twin
    return objective.with_data(twin)


# ================================================================================ column path
def _working_set(on, score, ws_min):
    """Features of the next working set (sorted int64): those with ``on`` (the support) plus
    the highest positive ``score`` among the others, ``max(ws_min, 2 |support|)`` in all."""
    support = np.flatnonzero(on)
    size = min(on.size, max(ws_min, 2 * support.size))
    score = np.where(on, 0.0, score)
    cand = np.flatnonzero(score > 0)
    room = size - support.size
    if cand.size > room:
        cand = cand[np.argpartition(-score[cand], room - 1)[:room]] if room > 0 else cand[:0]
    out = np.concatenate((support, cand)).astype(np.int64)  # disjoint: no union needed
    out.sort()
    return out


def _line_search(trial, w, dw, delta, C, a, lam):
    """``(t, loss change)`` for the largest ``t = 2^-k`` (k < _MAX_BACKTRACKS) meeting the
    composite Armijo rule ``F(w + t dw) - F(w) <= sigma t delta``, or ``(None, None)``.

    ``trial(t)`` returns the unscaled loss change at ``t`` (and writes the trial point's
    pointwise terms); the l2 and l1 changes are computed here per coordinate (no
    cancellation between the two norms)."""
    aw = np.abs(w)
    q1, q2 = float((w * dw).sum()), float((dw * dw).sum())
    t = 1.0
    for _ in range(_MAX_BACKTRACKS):
        dl = trial(t)
        change = (C * dl + a * t * (q1 + 0.5 * t * q2)
                  + lam * float((np.abs(w + t * dw) - aw).sum()))
        if change <= _SIGMA * t * delta:
            return t, dl
        t *= 0.5
    return None, None


def _gram_lower(nnz_w, n, m, compact, nnz_x):
    """A lower bound on the dense-model cost ``gram`` that ``_solve_columns`` counts for a
    working set of m columns holding nnz_w of X's nnz_x entries over n rows: its
    :func:`fastlogit.solvers._cd.gram_cost` term ``sum_i c_i (c_i + 1) / 2`` is at least
    ``n c (c + 1) / 2`` with c = nnz_w / n (the term is convex in c_i; less a relative 1e-9
    for rounding), so a working set ruled out by it is ruled out by the exact count."""
    c = nnz_w / max(n, 1)
    ops = n * c * (c + 1.0) / 2.0 * (1.0 - 1e-9)
    return (ops * (_GRAM_IN_CACHE if m < _GRAM_M_CACHE else 1.0)
            + (2 * nnz_w if compact else nnz_x))


def _gram_rows_stale(stale, rows, cols, pos, D, fi, H, unit, nt=1):
    """H (m + fi)^2 = the dense model's Hessian from X's rows (``pos`` maps a feature to its
    place in the working set ``cols``): built by :func:`fastlogit.solvers._cd.gram_rows`,
    or, when the last one (``stale``) was built on a working set holding ``cols``, kept up
    to date from it (:func:`fastlogit.solvers._cd.gram_rows_stale`: only the rows whose
    curvature moved by more than ``_STALE`` relative are updated, so every row's weight
    stays within _STALE of its curvature D_i and the model's Hessian within ``(1 +- _STALE)``
    of the exact one; the gradient is always exact, so the optimum is unchanged).  Returns
    the new ``stale``: (cols, H before any diagonal term is added, the weights Du it holds).
    ``nt``: the builds' threads (the same bits for any number)."""
    k = None
    if stale is not None:
        old = stale[0]
        k = np.searchsorted(old, cols)
        if not (k < old.size).all() or not np.array_equal(old[k], cols):
            k = None
    if k is None:
        with _cd.threaded(nt):
            _cd.gram_rows(*rows, pos, D, fi, H, unit, nt)
        Du = D.copy()
    else:
        if fi:
            k = np.append(k, stale[0].size)
        H[:] = stale[1][np.ix_(k, k)]
        Du = stale[2]
        with _cd.threaded(nt):
            _cd.gram_rows_stale(*rows, pos, D, Du, _STALE, fi, H, unit, nt)
    return cols, H.copy(), Du


def _null_basis(H, lamv, flat=None):
    """A basis of the null directions of a dense model's Hessian H (p, p) that move a
    penalised coordinate (``lamv`` (p,) > 0 there), or None.

    Found by H's Jacobi-scaled eigenvalues below ``_NULL_EIG`` (H = ``A^T diag(D) A`` with
    D > 0 has the null space of the design A: on one-hot data a group's columns against the
    intercept, a column against its duplicate), the directions that move only unpenalised
    coordinates left out, then put in reduced form: each basis vector is 1 at a penalised
    coordinate of its own (the pivots of a QR with column pivoting over the penalised rows)
    and 0 at the others' pivots, entries below 1e-9 dropped.  With ``flat`` (a callable
    v -> bool), only the vectors it accepts are kept (the column path checks ``A v`` on X's
    columns, so that a sample whose curvature underflowed to 0 cannot make a direction look
    null).

    Returns ``(B (p, k), nptr (k + 1,) int64, nidx int64, nval float64)``: B's columns and
    their non-zeros in the compressed form of :func:`fastlogit.solvers._cd.cd_dense_null`.
    """
    import scipy.linalg as sla

    p = H.shape[0]
    dg = H.diagonal()
    if p < 2 or not (dg > 0).all():
        return None
    sc = 1.0 / np.sqrt(dg)
    ev, Q = np.linalg.eigh(H * sc[:, None] * sc[None, :])
    k = int(np.count_nonzero(ev < _NULL_EIG))
    pen = np.flatnonzero(lamv > 0)
    if k == 0 or pen.size == 0:
        return None
    Q = Q[:, :k] * sc[:, None]
    # the combinations that move a penalised coordinate (a shift of unpenalised intercepts
    # alone, e.g. of every class's, is no direction for the L1 term)
    _, sv, vt = np.linalg.svd(Q[pen], full_matrices=False)
    k = int(np.count_nonzero(sv > 1e-8 * sv[0])) if sv.size and sv[0] > 0 else 0
    if k == 0:
        return None
    Q = Q @ vt[:k].T
    piv = pen[sla.qr(Q[pen].T, pivoting=True, mode="r")[1][:k]]
    try:
        B = np.linalg.solve(Q[piv].T, Q.T).T
    except np.linalg.LinAlgError:
        return None
    B[np.abs(B) < 1e-9] = 0.0
    B[piv] = np.eye(k)
    keep = [q for q in range(k) if flat is None or flat(B[:, q])]
    if not keep:
        return None
    B = np.ascontiguousarray(B[:, keep])
    nptr = np.zeros(len(keep) + 1, dtype=np.int64)
    nidx, nval = [], []
    for q in range(len(keep)):
        nz = np.flatnonzero(B[:, q])
        nidx.append(nz)
        nval.append(B[nz, q])
        nptr[q + 1] = nptr[q] + nz.size
    return B, nptr, np.concatenate(nidx).astype(np.int64), np.concatenate(nval)


def _design_flat(xc, lc, n, unit):
    """The column path's check for :func:`_null_basis`: v (m + fit_b,) -> whether
    ``X_W v_w + v_b`` (X's columns ``xc``, the working set's at ``lc``; n rows; ``unit``: X
    binary) is within 1e-10 of v's scale, so the loss is flat along v to rounding."""
    m = lc.shape[0]
    out = np.empty(n)
    xmax = 1.0 if unit else max(float(np.abs(xc[2]).max(initial=0.0)), 1.0)

    def flat(v):
        nz = np.flatnonzero(v[:m])
        _cd.col_matvec(*xc, lc[nz], v[nz], float(v[m]) if v.shape[0] > m else 0.0, out, unit)
        return float(np.abs(out).max()) <= 1e-10 * float(np.abs(v).sum()) * xmax
    return flat


def _lad_jump(u, lamv, B):
    """u moved along the columns of B to a minimiser of ``sum_j lamv_j |u_j + (B s)_j|``
    over s (a linear program: HiGHS), the coordinates it zeroes set to exactly 0.0; u
    itself when the program fails or the move does not lower the sum."""
    from scipy.optimize import linprog

    rows = np.flatnonzero((lamv > 0) & (np.abs(B).sum(axis=1) > 0))
    k, q = B.shape[1], rows.size
    Bp, c, wt = B[rows], u[rows], lamv[rows]
    eye = sp.identity(q, format="csr")
    A = sp.vstack((sp.hstack((sp.csr_matrix(Bp), -eye)), sp.hstack((sp.csr_matrix(-Bp), -eye))),
                  format="csr")
    res = linprog(np.concatenate((np.zeros(k), wt)), A_ub=A, b_ub=np.concatenate((-c, c)),
                  bounds=[(None, None)] * k + [(0.0, None)] * q, method="highs")
    if res.status != 0:
        return u
    step = B @ res.x[:k]
    out = u + step
    out[np.abs(out) <= 1e-12 * (np.abs(u) + np.abs(step))] = 0.0
    if not float(lamv @ np.abs(out)) < float(lamv @ np.abs(u)):
        return u
    return out


def _flat(H, du):
    """Whether the change du of a dense model's solution lies along directions its Hessian H
    does not curve: ``du^T H du <= _NULL_EIG sum_j H_jj du_j^2`` (the model's curvature
    along du against the single-coordinate steps' that make it up: the Rayleigh quotient of
    the Jacobi-scaled H, as :func:`_null_basis` reads its eigenvalues; 0 on a null
    direction, 1 along one coordinate)."""
    q = float(np.dot(H.diagonal(), du * du))
    return q > 0.0 and float(du @ (H @ du)) <= _NULL_EIG * q


def _dense_model(H, g, theta, lamv, tol, max_sweeps, null):
    """The dense model's solution ``(u, sweeps, crawl)`` by coordinate descent
    (:func:`fastlogit.solvers._cd.cd_dense`) from theta.

    Without a null basis (``null`` None), ``crawl`` says that the model took ``max_sweeps``
    (at least ``2 _NULL_PART``) and that its last ``_NULL_PART`` sweeps moved u along
    directions H does not curve (:func:`_flat`): the symptom of null directions of the
    design (issue 16: a9a at large C), for which the caller then makes a null basis.

    With one (:func:`_null_basis`), the model is flat along its directions but for the L1
    term, which single-coordinate steps, each held back by its own curvature H_jj, cross
    only by about lam / H_jj per sweep, and whose minimisation over several directions at
    once no move along one at a time finds (a kink shared by two): the sweeps (each with
    exact moves along every basis direction, :func:`fastlogit.solvers._cd.cd_dense_null`) run
    ``_NULL_PART`` at a time; after a batch whose change is flat (:func:`_flat`) the L1
    term is minimised over all the directions at once (:func:`_lad_jump`, at most
    ``_NULL_JUMPS`` times a model; once it gains nothing, the remaining sweeps run in one
    go).  ``crawl`` is then False."""
    if null is None:
        first = max_sweeps - _NULL_PART
        if first < _NULL_PART:  # too few sweeps to watch the last ones
            u, sweeps, _ = _cd.cd_dense(H, g, theta, lamv, tol, max_sweeps)
            return u, sweeps, False
        u, sweeps, _ = _cd.cd_dense(H, g, theta, lamv, tol, first)
        if sweeps < first:
            return u, sweeps, False
        u2, more, _ = _cd.cd_dense(H, g + H @ (u - theta), u, lamv, tol, _NULL_PART)
        return u2, sweeps + more, more == _NULL_PART and _flat(H, u2 - u)
    B, nptr, nidx, nval = null
    HN = np.ascontiguousarray((H @ B).T)
    cN = np.maximum(np.einsum("ij,ji->i", HN, B), 0.0)
    u, gu, sweeps, jumps = theta, g, 0, 0
    while True:
        # in batches while a joint minimisation may still come, then in one go (a batch
        # restarts the sweeps' shrinking)
        part = (min(_NULL_PART, max_sweeps - sweeps) if jumps < _NULL_JUMPS
                else max_sweeps - sweeps)
        u2, more, _ = _cd.cd_dense_null(H, gu, u, lamv, tol, part, nptr, nidx, nval, HN, cN)
        sweeps += more
        if more < part or sweeps >= max_sweeps:
            return u2, sweeps, False
        if _flat(H, u2 - u):
            u3 = _lad_jump(u2, lamv, B)
            jumps = jumps + 1 if u3 is not u2 else _NULL_JUMPS  # no gain: none again
            u2 = u3
        u, gu = u2, g + H @ (u2 - theta)


def _solve_columns(objective, data, theta, tol, max_iter, hist, ws_min, max_sweeps, verbose,
                   model, anderson, inactive, offset=None, thr=None, grad_start=None,
                   grad_out=None, kappa=None, merge=False, min_iter=0):
    """The column path (module docstring).  With ``merge``, the fit moves to X's merged
    rows (:func:`_merged_of`) when it takes X's full column copy and the rows merge; the
    objective's values are the same, so the fit goes on from the same point."""
    name = "l1"
    # The columns: X's full CSC copy when cached (a path over one data term) or when a
    # working set's columns hold a third of X's non-zeros; until then only the working
    # set's columns, extracted from the rows per round (:func:`_cd.cols_of_rows`), and the
    # gradient passes over the rows (on the 1 %-support problems the full copy was a third
    # of the fit).  ``loc`` maps a feature to its column in ``csc`` (None: csc is the full
    # copy, indexed by feature).
    rows = _rows_of(data)
    csc = _cached(_CSC, data)
    if csc is None and inactive is not None:
        csc = _csc_of(data)
    if csc is not None:
        csc = csc[0]
        loc = None
        col_nnz = _col_nnz_of(data, csc[0])
    else:
        loc = np.full(data.n_features, -1, dtype=np.int64)
        # non-zeros per column: counted by the first gradient pass over the rows (below)
        col_nnz = np.empty(data.n_features, dtype=np.int64)
    counted = loc is None  # col_nnz is filled
    # X binary: the column kernels skip reading its values; checked once the fit works on X's
    # full column copy (the long sweeps; a small fit on extracted columns skips the check)
    unit = loc is None and _unit_of(data, rows)
    # X binary, known from X's full copy or the first pass over its rows (None: not yet):
    # a dense model over a working set of at most GROUP_M columns is then built per group of
    # rows with one pattern on it (_cd.row_groups), no rows of its own made
    binary = unit or _cached(_UNIT, data)
    no_cnt = np.empty(0, dtype=np.int64)
    nnz_x = int(rows[0][-1])  # the dense model's Hessian is built in one pass over X's rows
    no_r2 = np.empty(0)
    pos = None  # feature -> place in the working set (dense models; made at the first)
    pos_cols = None  # the working set pos was last set for
    xrows = None  # (working set, its dense rows) of the last dense-rows model
    col_tmp = None  # gram_cols' scatter vector (zeros between calls)
    row_k = row_k2 = row_e = None  # X's entries per row, their squares' sum, a scratch
    stale = None  # the last model Hessian built from X's rows (_gram_rows_stale)
    made_rows = None  # (working set, its rows) made with its columns (columns())
    n, d = data.n_samples, data.n_features
    fi = data.fit_intercept
    C = float(objective.C)
    pen = objective.penalty
    lam = float(pen.l1_strength)
    a = float(pen.l2_strength)
    y = np.ascontiguousarray(data.y, dtype=np.float64)
    s = (np.empty(0) if data.sample_weight is None
         else np.ascontiguousarray(data.sample_weight, dtype=np.float64))
    w = theta[:d].copy()
    # a mask that proves nothing (full_columns) changes only the start, not the passes
    masked = inactive is not None and bool(inactive.any())
    if masked:
        w[inactive] = 0.0
    b = float(theta[d]) if fi else 0.0
    z, xz = np.empty(n), np.empty(n)
    r, D, p = np.empty(n), np.empty(n), np.empty(n)
    # the line search writes the pointwise terms of its trial point here (swapped in when
    # the step is accepted)
    zn, rn, Dn, pn = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    # the log-terms log(1 + e^z) at z (lo, valid while l_ok; a line search from them writes
    # them at its trial point, lon): the line search tries its steps by _cd.try_step_l
    lo, lon = np.empty(n), np.empty(n)
    l_ok = False
    no_l = np.empty(0)
    # the last line search's memo of repeated samples served its whole trial (then the next
    # one runs try_step, whose memo serves as well and needs no log-terms)
    rich = False
    # entries of inactive features stay 0 (never written below)
    g_full = np.zeros(d) if masked else np.empty(d)
    # columns the full column gradient skips: the inactive ones, and the working set's
    # while a round-end gradient computes the others
    skip = inactive.copy() if masked else np.zeros(d, dtype=bool)

    def pack():
        out = np.empty(objective.n_params)
        out[:d] = w
        if fi:
            out[d] = b
        return out

    def full_copy():
        """Work on X's full column copy from now on: X's merged rows' when they merge (with
        ``merge``; every per-sample array then has their length, and the margins and
        pointwise terms are made anew at the same point), else X's own."""
        nonlocal data, rows, csc, loc, col_nnz, counted, unit, binary, nnz_x, n, y, s, z, xz
        nonlocal r, D, p, zn, rn, Dn, pn, lo, lon, made_rows, xrows, col_tmp, row_k, row_k2
        nonlocal row_e, stale, loss, exact
        merged = _merged_of(data) if merge and offset is None else None
        if merged is None:
            csc, loc = _csc_of(data, col_nnz if counted else None)[0], None
            unit = binary = _unit_of(data, rows)
            return
        data = merged
        rows = _rows_of(data)
        csc, loc = _csc_of(data)[0], None
        col_nnz, counted = _col_nnz_of(data, csc[0]), True
        unit = binary = _unit_of(data, rows)
        nnz_x, n = int(rows[0][-1]), data.n_samples
        y, s = data.y, data.sample_weight
        z, xz, r, D, p = np.empty(n), np.empty(n), np.empty(n), np.empty(n), np.empty(n)
        zn, rn, Dn, pn = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
        lo, lon = np.empty(n), np.empty(n)
        made_rows = xrows = col_tmp = row_k = row_k2 = row_e = stale = None
        margins(z)
        loss = point_terms()
        exact = True

    def columns(cols):
        """(csc arrays, the columns of ``cols`` in them), extracting them when missing."""
        nonlocal csc, made_rows
        if loc is None:
            return csc, cols
        lc = loc[cols]
        if csc is not None and (lc >= 0).all():
            return csc, lc
        if 3 * int(col_nnz[cols].sum()) > nnz_x:
            full_copy()
            return csc, cols
        # with them, the columns outside ``cols`` of the largest gradients (the next rounds'
        # likely entrants) within a budget of X's non-zeros: the pass over the rows costs the
        # same, and a later round that needs them skips a pass of its own
        score = np.abs(g_full)
        score[cols] = -1.0
        if inactive is not None:
            score[inactive] = -1.0
        k = min(max(16, cols.size), d - cols.size)
        extra = np.argpartition(-score, k - 1)[:k] if k > 0 else cols[:0]
        extra = extra[score[extra] >= 0]
        extra = extra[np.argsort(-score[extra], kind="stable")]
        extra = extra[np.cumsum(col_nnz[extra]) <= nnz_x // 8]
        take = np.concatenate((cols, extra))
        loc[:] = -1
        loc[take] = np.arange(take.size)
        cp = np.zeros(take.size + 1, dtype=np.int64)
        np.cumsum(col_nnz[take], out=cp[1:])
        m, nnz_w = cols.size, int(cp[cols.size])
        if (model != "columns" and m <= 2500 and m * m <= 4 * (nnz_w + n)
                and 2 * nnz_w < nnz_x and 2 * nnz_w < n * m
                and not (binary and m <= _cd.GROUP_M)):
            # a dense model over the working set's own rows may follow (below): those rows
            # from the same pass (the arrays rows_of_cols would make from the columns)
            csc, made = _cd.cols_and_rows_of_rows(*rows, loc, cp, m)
            made_rows = (cols, made)
        else:
            csc = _cd.cols_of_rows(*rows, loc, cp, bool(binary))
        return csc, loc[cols]

    def point_terms():
        """r, D, p and the log-terms lo from the margins z
        (:func:`fastlogit.solvers._cd.pointwise`, its logarithms: no pass of their own for
        the line search's try_step_l); returns the unscaled loss."""
        nonlocal l_ok
        l_ok = True
        return _cd.pointwise(z, y, s, C, r, D, p, lo)

    def margins(out):
        """out = X w + b (+ offset) from scratch."""
        if loc is None:
            _cd.margins_nz(*csc, w, b, out)
            if offset is not None:
                out += offset
            return
        nz = np.flatnonzero(w)
        if nz.size == 0:
            out[:] = b
        elif csc is not None and (loc[nz] >= 0).all():
            _cd.col_matvec(*csc, loc[nz], w[nz], b, out)
        else:
            _cd.row_matvec(*rows, w, b, out)
        if offset is not None:
            out += offset

    def exact_state():
        """Margins from scratch, pointwise terms, full gradient, violations."""
        margins(z)
        loss = point_terms()
        return loss, full_gradient()

    def full_gradient(cols=None, gw=None):
        """g_full and the intercept's gradient at the current point; ``gw`` (with the l2
        part) may carry the gradient on the working set ``cols``, already computed there."""
        if loc is not None:  # no full column copy: over the rows (no inactive mask here)
            _rows_gradient(r, g_full, no_r2, no_r2)
            g_full[:] += a * w
        else:
            nt = _cd.threads(data.n_threads, d, int(csc[0][-1]))
            if cols is not None:
                skip[cols] = True
            with _cd.threaded(nt):
                _cd.grad_skip(*csc, skip, r, w, a, g_full, nt)
            if cols is not None:
                skip[cols] = False
                g_full[cols] = gw
        gb = float(r.sum()) if fi else 0.0
        return gb

    def _rows_gradient(r, out, r2, out2):
        """X^T r (and X^T r2) over the rows; the first such pass also counts the columns'
        non-zeros and finds max |x_ij| (cached per data term for the drift check)."""
        nonlocal counted, binary
        nt = _cd.threads(data.n_threads, n, nnz_x, d)
        with _cd.threaded(nt):
            if counted:
                _cd.grad_rows(*rows, r, out, r2, out2, no_cnt, bool(binary), nt)
                return
            amax, binary = _cd.grad_rows(*rows, r, out, r2, out2, col_nnz, False, nt)
        _cache(_AMAX, data, amax)
        _cache(_UNIT, data, binary)
        counted = True

    def value(loss):
        l2 = 0.5 * a * float(w @ w) if a else 0.0  # (the same bits as the product at a = 0)
        return C * loss + l2 + lam * float(np.abs(w).sum())

    # the caller's gradient at theta0, used on the full column copy only (over the rows the
    # first gradient pass also counts the columns)
    given = grad_start is not None and loc is None
    ws_first = ws_min
    b_start = (_intercept_start(y, s) if fi and offset is None and thr is None
               and inactive is None and not np.any(theta) and not given else None)
    grad0 = np.empty(objective.n_params)
    if given:
        margins(z)
        loss = point_terms()
        g_full[:] = grad_start[:d]
        if masked:
            g_full[inactive] = 0.0
        gb = float(grad_start[d]) if fi else 0.0
        grad0[:] = grad_start
    elif b_start is None:
        loss, gb = exact_state()
        grad0[:d] = g_full
        if fi:
            grad0[d] = gb
    else:
        # a cold start begins at the intercept's own optimum (w = 0): the first working set
        # then holds only the features that violate there; the gradient at 0 (the stopping
        # rule's reference) comes from the same pass over the rows
        b = b_start
        z[:] = b
        loss = point_terms()
        r0 = C * (0.5 - y) if s.size == 0 else C * s * (0.5 - y)
        if loc is None:  # the full column copy was cached (two passes)
            all_cols = np.arange(d, dtype=np.int64)
            _cd.grad_cols(*csc, all_cols, r, g_full)
            _cd.grad_cols(*csc, all_cols, r0, grad0[:d])
        else:
            _rows_gradient(r, g_full, r0, grad0[:d])
        gb = float(r.sum())
        grad0[d] = float(r0.sum())
        n_b = np.count_nonzero(np.abs(g_full) > lam)
        if n_b > ws_min:
            # many features enter: the start at 0, whose curvature (D = C s / 4, the
            # largest) keeps the first Newton steps short, took fewer steps (w8a at C = 1:
            # from the intercept's optimum, D ~ 0.03 C and the first steps overshoot)
            b = 0.0
            z[:] = 0.0
            loss = point_terms()
            g_full[:] = grad0[:d]
            gb = grad0[d]
            if np.count_nonzero(np.abs(g_full) > lam) > _WS_RATIO * n_b:
                ws_first = _WS_FIRST
                # the working set then grows over several rounds, each extracting its
                # columns from the rows: X's full column copy, made once now, costs less
                # (and the full gradients become column passes)
                if loc is not None:
                    full_copy()
    viol, vmax = _violation(g_full, w, lam)
    gnorm = max(vmax, abs(gb))
    if thr is None:
        # reference_gradient_norm's number in one compiled loop: from grad0 when the fit
        # starts at 0 (grad0 is then the smooth part's gradient there, C already in it),
        # else from the data term's cached gradient at 0 (a fit of a path)
        if inactive is None and not np.any(theta):
            ref = binary_reference_norm(grad0, d, lam, 1.0)
        else:
            ref = binary_reference_norm(data_grad_at_zero(data, objective.n_params), d,
                                        lam, C)
        thr = stopping_threshold(tol, ref)
    if given and gnorm <= thr:  # the caller's gradient says done: confirmed by our own
        gb = full_gradient()
        viol, vmax = _violation(g_full, w, lam)
        gnorm = max(vmax, abs(gb))

    def finish(message):
        if grad_out is not None:
            grad_out[:d] = g_full
            if fi:
                grad_out[d] = gb
        return _finish(name, pack(), it, hist, gnorm, thr, message, objective)

    F = value(loss)
    it = 0
    message = "max_iter reached"
    if hist.record(pack() if hist.callback is not None else None, F, gnorm):
        return finish("stopped by callback")
    # model-solve tolerance relative to the working set's violation
    kappa = _KAPPA if kappa is None else kappa
    g_first = max(gnorm, 1e-300)  # the forcing term's reference (_FORCING)
    last_sweeps = _FIRST_SWEEPS  # sweeps of the last model solve (the dense-model choice)
    est = last_sweeps  # the next model's sweeps as the dense-model choice estimates them
    # (columns, X^T r, sum D x^2 on them) at the current point, from the last round's final
    # check: the next round starts at that point and reuses them on its shared columns
    ws_cap = min(ws_first, ws_min)
    kept = None
    ridge = 0.0  # damping added to the model's curvature after a failed line search
    degenerate = False  # a dense model crawled along null directions: null bases from then on
    exact = True  # z (hence the gradient) computed from scratch at this point
    while True:
        if gnorm <= threshold_after(thr, tol, it, min_iter):
            if exact:
                break
            # confirm on margins recomputed from scratch (the iterates update z by steps)
            margins(xz)
            if np.array_equal(xz, z):
                break
            # the margins drifted by rounding: |r_i - r_i(exact)| <= C s_i |dz_i| / 4 moves
            # every gradient entry by at most max|x_ij| times their sum; stop when that
            # cannot lift the measure above the threshold (else recompute everything)
            dz = np.abs(xz - z)
            if s.size:
                dz *= s
            if gnorm + 0.25 * C * float(dz.sum()) * max(_abs_max_of(data, rows), 1.0) <= thr:
                break
            z[:] = xz
            kept = None
            loss = point_terms()
            gb = full_gradient()
            exact = True
            viol, vmax = _violation(g_full, w, lam)
            gnorm = max(vmax, abs(gb))
            F = value(loss)
            continue
        if it >= max_iter:
            break
        # ---- working set: the support plus the worst violators among the zeros
        cols = _cd.working_set(w, viol, ws_cap)
        if cols is None:  # tied scores compete for the last places: as NumPy chooses
            cols = _working_set(w != 0, viol, ws_cap)
        ws_cap = min(2 * ws_cap, ws_min)
        eps_ws = max(_WS_REL * gnorm, 0.5 * thr)
        it_round = it
        m = cols.size
        xc, lc = columns(cols)
        gw, hw, vio = np.empty(m), np.empty(m), np.empty(m)
        # the model's Hessian as a dense (m + 1)^2 matrix when building it once per step (a
        # pass over X's rows, or over the working set's own rows when they hold less than
        # half of X's non-zeros: built once per round, they spare each step the scan of the
        # other features' entries) and sweeping over it costs less than sweeping over the
        # working set's columns, for the number of sweeps the last model took (few features
        # and many sweeps: a9a, ijcnn1, mushrooms)
        nnz_w = int(col_nnz[cols].sum())
        compact = 2 * nnz_w < nnz_x
        # when at least half of the working set's entries are non-zero, the Hessian is built
        # from its dense rows (_cd.gram_dense: unit-stride multiply-adds, made once while
        # the working set stays the same) instead of scattered updates (ijcnn1)
        dense_rows = 0 < m <= 2500 and 2 * nnz_w >= n * m
        # else from the columns (_cd.gram_cols: each column against those before it; the
        # same bits) when the entries it reads are fewer than _GRAM_COLS times the rows'
        # updates and rows (a few columns, the small supports: the rows' loop is mostly
        # empty rows)
        by_cols = False
        groups = None  # (row groups, their patterns, scratch) of the working set's rows
        gram_ops = 0
        gram = np.inf  # (a working set the lower bound rules out: no dense model)
        if dense_rows:
            gram = _GRAM_DENSE * n * (m + fi) * (m + fi + 1) // 2
        elif m <= 2500 and model != "columns" and (model == "dense" or (
                m * m <= 4 * (nnz_w + n) and _gram_lower(nnz_w, n, m, compact, nnz_x)
                + est * m * m <= est * (2 * nnz_w + n))):
            # (the lower bound rules the dense model out before gram_cost's pass would)
            if loc is None and 2 * nnz_w > nnz_x:
                # on X's full column copy, from the fewer entries outside the working set
                # (the same count): the rows' entry counts once per fit
                if row_k is None:
                    row_k = np.diff(rows[0])
                    row_k2 = int(row_k @ row_k)
                    row_e = np.zeros(n, dtype=np.int64)
                # an upper bound on the count, every row's entries in the working set
                # (sum_i k_i (k_i + 1) / 2): when it makes the same two choices as any
                # count below it would (a dense model, not from the columns; both
                # monotone in the count), the count's pass is skipped
                gram_ops = (row_k2 + nnz_x) // 2
                if not ((model == "dense" or gram_ops * (
                        _GRAM_IN_CACHE if m < _GRAM_M_CACHE else 1.0) + nnz_x
                        + est * m * m <= est * (2 * nnz_w + n))
                        and int(col_nnz[cols] @ np.arange(m + 1, 1, -1))
                        > _GRAM_COLS * (gram_ops + n)):
                    inw = np.zeros(d, dtype=bool)
                    inw[cols] = True
                    gram_ops = _cd.gram_cost_rest(*xc[:2], inw, row_k, row_k2, nnz_w,
                                                  row_e)
            else:
                # (one column: every row holds at most one of its entries, so the count is
                # its number of entries, sum_i c_i (c_i + 1) / 2 = sum_i c_i)
                gram_ops = nnz_w if m == 1 else _cd.gram_cost(xc[0], xc[1], lc, n)
            gram = (gram_ops * (_GRAM_IN_CACHE if m < _GRAM_M_CACHE else 1.0)
                    + (2 * nnz_w if compact else nnz_x))
        if model == "auto":
            dense_model = m <= 2500 and m * m <= 4 * (nnz_w + n) and (
                gram + est * m * m <= est * (2 * nnz_w + n))
        else:
            dense_model = model == "dense" and m <= 2500
        if dense_model:
            if pos is None:
                pos = np.full(d, -1, dtype=np.int64)
            else:  # -1 outside the last dense model's working set
                pos[pos_cols] = -1
            pos[cols] = np.arange(m)
            pos_cols = cols
            if dense_rows:
                if xrows is None or not np.array_equal(xrows[0], cols):
                    xrows = (cols, _cd.dense_cols(*xc, lc, n, fi) if compact
                             else _cd.dense_rows_of(*rows, pos, m, fi))
            elif (int(col_nnz[cols] @ np.arange(m + 1, 1, -1))
                  <= _GRAM_COLS * (gram_ops + n)):  # the entries gram_cols reads
                by_cols = True
                if col_tmp is None:
                    col_tmp = np.zeros(n)
            elif compact and binary and m <= _cd.GROUP_M:
                # the rows grouped by their pattern on the working set: one addition per row
                # and a group's pairs once (one-hot data at a small support: few patterns)
                groups = (*_cd.row_groups(*xc[:2], lc, n), np.empty(n))
            elif compact:
                wrows = (*(made_rows[1] if made_rows is not None and made_rows[0] is cols
                           else _cd.rows_of_cols(*xc, lc, n)), np.arange(m, dtype=np.int64))
            elif binary and m <= _cd.GROUP_M:
                # over X's rows: grouped too when they repeat on the working set (the pass
                # gives up early on rows that mostly differ; the stale Hessian then)
                g_rows, g_keys = _cd.row_groups_of_rows(*rows[:2], pos, n)
                if g_rows.size:
                    groups = (g_rows, g_keys, np.empty(g_keys.shape[0]))
            Hm = np.empty((m + fi, m + fi))
            h_diag = Hm.reshape(-1)[::m + fi + 1]  # a view of Hm's diagonal
            lamv = np.full(m + fi, lam)
            # the model's gradient and start with the intercept's entry (cd_dense's g, theta)
            g_ext, w_ext = np.empty(m + fi), np.empty(m + fi)
            if fi:
                lamv[m] = 0.0
        # threads of the round's passes over its columns, over the samples (line searches)
        # and of a Hessian build from rows (the kernels' cost model; the same bits for any
        # number: _cd's docstring)
        nt_cols = _cd.threads(data.n_threads, m, nnz_w)
        nt_rows = _cd.threads(data.n_threads, n, 0)
        nt_gram = _cd.threads(data.n_threads, n, gram_ops + nnz_w) if dense_model else 1
        stop_round = False
        fresh = kept is not None
        null = None  # the working set's null basis (_null_basis; False: none)
        while True:
            ww = w[cols]
            if fresh:  # cols and the kept columns are sorted (_working_set)
                with _cd.threaded(nt_cols):
                    _cd.grad_hdiag_kept(*xc, cols, lc, r, D, *kept, gw, hw, unit, nt_cols)
                fresh = False
            elif dense_model and dense_rows and m >= 8:
                # the same bits from the dense rows (unit-stride updates; a row of a few
                # entries costs more than the columns' loops)
                _cd.grad_hdiag_dense(xrows[1], r, D, gw, hw)
            else:
                with _cd.threaded(nt_cols):
                    _cd.grad_hdiag_cols(*xc, lc, r, D, gw, hw, unit, nt_cols)
            # gw += a ww, hw += a + nu + ridge, the sums and violations: one compiled call
            # (the intercept's curvature sum D: a column model's, or the ridge's scale at m = 0)
            kg, kh, gb, hb, vmax, v1_ws = _cd.model_terms(gw, hw, ww, a, a + _NU + ridge, r,
                                                          D, fi, lam, vio,
                                                          not dense_model or m == 0)
            kept = (cols, kg, kh)
            hb = hb + _NU + ridge
            v_ws = max(vmax, abs(gb))
            if (v_ws <= eps_ws and it >= min_iter) or it >= max_iter:
                break
            v1_ws = v1_ws + abs(gb)
            kap = min(kappa, (v_ws / g_first) ** _FORCING) if dense_model else kappa
            if dense_model:
                if dense_rows:
                    _cd.gram_dense(xrows[1], D, Hm)
                elif by_cols:
                    _cd.gram_cols(*xc, lc, D, fi, Hm, col_tmp)
                elif groups is not None:
                    _cd.gram_groups(*groups[:2], D, fi, Hm, groups[2])
                elif compact:  # rows made per round: a round's few steps, most rows moved
                    with _cd.threaded(nt_gram):
                        _cd.gram_rows(*wrows, D, fi, Hm, unit, nt_gram)
                else:
                    stale = _gram_rows_stale(stale, rows, cols, pos, D, fi, Hm, unit, nt_gram)
                h_diag += _NU + ridge
                h_diag[:m] += a
                g_ext[:m] = gw
                w_ext[:m] = ww
                if fi:
                    g_ext[m] = gb
                    w_ext[m] = b
                if degenerate and null is None:
                    null = _null_basis(Hm, lamv, _design_flat(xc, lc, n, unit)) or False
                u, sweeps, crawl = _dense_model(Hm, g_ext, w_ext, lamv, kap * v1_ws,
                                                5 * max_sweeps, null or None)
                if crawl and null is None:  # (the next models of the round use it)
                    null = _null_basis(Hm, lamv, _design_flat(xc, lc, n, unit)) or False
                    degenerate = True  # later rounds make theirs at their first model
                dw = u[:m] - ww
                db = u[m] - b if fi else 0.0
                xd = np.empty(n)
                if dense_rows and m >= 8:
                    _cd.matvec_dense(xrows[1], dw, db, xd)
                else:
                    _cd.col_matvec(*xc, lc, dw, db, xd, unit)
            else:
                dw = np.zeros(m)
                xd = np.zeros(n)
                db, sweeps, _ = _cd.cd_model(*xc, lc, ww, gw, hw, D,
                                             lam, a, fi, gb, hb, dw, xd, kap * v1_ws,
                                             max_sweeps, n, anderson,
                                             last_sweeps >= _WEIGHTED_SWEEPS, unit)
            # the dense-model choice's estimate of the next model's sweeps: after a column
            # model their growth continued, ``max(s, s^2 / s_prev)``: the column models'
            # sweeps grow fast near the optimum, and on w8a's merged rows a 20-sweep column
            # model was chosen where a dense one pays (benchmarks/results/l1_race.md)
            est = sweeps if dense_model else max(sweeps, sweeps * sweeps / last_sweeps)
            last_sweeps = sweeps
            if sweeps == 1:
                kappa *= 0.25
            # the L1 change as one sum of per-coordinate differences: the difference of
            # the two norms cancels near the optimum, where the model gap is tiny
            delta = float(gw @ dw) + gb * db + _cd.l1_change(ww, dw, lam)
            if verbose > 1:
                print(f"[l1]   step {it}: |W| = {m}, violation {v_ws:.3e}, {sweeps} sweeps, "
                      f"model gap {delta:.3e}")
            if not delta < 0 and kappa > 1e-12:  # the model was solved too loosely
                kappa *= 0.01
                continue
            if not delta < 0:
                message = "no descent direction from the quadratic model"
                stop_round = True
                break
            # from the log-terms unless the last trial's memo of repeated samples served all
            # of it (there try_step's own calls are as few) or the working set is small (few
            # steps, rows that repeat: the log-terms' own pass would not pay)
            fast = not rich and m >= _LOG_TERMS_M
            if fast and not l_ok:
                _cd.log_terms(z, lo)
                l_ok = True
            with _cd.threaded(nt_rows):
                t, dl, rich = _cd.line_search(z, p, xd, y, s, C, zn, pn, rn, Dn, ww, dw, delta,
                                              a, lam, _SIGMA, _MAX_BACKTRACKS, lo,
                                              lon if fast else no_l, fast, nt_rows)
            if t < 0.0:
                # A coordinate whose samples all sit far from the boundary has curvature ~ 0
                # (separable directions): its model step is huge and no fraction of the joint
                # step passes.  Damp the model (Levenberg-Marquardt) and solve it again.
                scale = float(hw.mean()) if m else hb
                if ridge < 1e12 * max(scale, _NU):
                    ridge = max(10.0 * ridge, 1e-3 * scale)
                    continue
                message = "line search failed"
                stop_round = True
                break
            if t == 1.0 and ridge:
                ridge = 0.0 if ridge < 1e-6 else 0.1 * ridge
            w[cols] = ww + t * dw
            b += t * db
            # the trial point's margins and pointwise terms (z + t xd, as try_step wrote)
            z, zn, p, pn, r, rn, D, Dn = zn, z, pn, p, rn, r, Dn, D
            if fast:
                lo, lon = lon, lo
            l_ok = fast
            loss += dl
            exact = False
            it += 1
        gb = full_gradient(cols, gw)
        viol, vmax = _violation(g_full, w, lam)
        gnorm = max(vmax, abs(gb))
        F = value(loss)
        if hist.record(pack() if hist.callback is not None else None, F, gnorm):
            return finish("stopped by callback")
        if it == it_round:
            min_iter = 0  # a round without a step (a model without descent): none forced
        if stop_round:
            if gnorm <= thr:
                continue
            break
    return finish(message)


def _multinomial_data(objective):
    """The in-memory softmax log-loss data term when the joint multinomial path applies."""
    data = getattr(objective, "data", None)
    pen = getattr(objective, "penalty", None)
    if (type(data) is not LogLossData or data.n_classes < 2 or pen is None
            or pen.l2_strength is None):
        return None
    return data


def _solve_softmax(objective, data, theta, tol, max_iter, hist, ws_min, max_sweeps, verbose,
                   anderson, min_iter=0):
    """Softmax by proximal Newton on the joint model over working sets of features.

    The outer loop is the column path's: each round computes the full gradient (K per
    feature), scores each feature by its largest violation over the classes, and solves the
    problem restricted to the features with a non-zero coefficient plus the worst violators
    (at least ``ws_min``, growing to twice the support) by proximal Newton steps until the
    restricted violation is below ``_WS_REL`` times the global one.  Each step's model is the
    exact quadratic model of the softmax loss on the working set (the coupling between the
    classes included), solved by coordinate descent over every (feature, class) coordinate
    (:func:`fastlogit.solvers._l1_softmax.cd_softmax`), and line-searched with loss changes
    computed per sample without cancellation (:func:`~fastlogit.solvers._l1_softmax.
    softmax_try`)."""
    name = "l1"
    K, d, fi = data.n_classes, data.n_features, data.fit_intercept
    n = data.n_samples
    xc = _csc_of(data)[0]
    C = float(objective.C)
    lam = float(objective.penalty.l1_strength)
    a = float(objective.penalty.l2_strength)
    Y = np.ascontiguousarray(data.y, dtype=np.float64)
    s = (np.empty(0) if data.sample_weight is None
         else np.ascontiguousarray(data.sample_weight, dtype=np.float64))
    T = theta.reshape(K, d + fi)
    W = np.ascontiguousarray(T[:, :d].T)  # (d, K), feature-major
    b = T[:, d].copy() if fi else np.zeros(K)
    Z, P, Zn, Pn = (np.empty((n, K)) for _ in range(4))
    G = np.empty((d, K))
    all_cols = np.arange(d, dtype=np.int64)
    no_h = np.empty((0, K))

    def pack():
        out = np.empty((K, d + fi))
        out[:, :d] = W.T
        if fi:
            out[:, d] = b
        return out.ravel()

    def full_gradient():
        """G (with the l2 part) and the intercepts' gradient at the current point."""
        gb, _ = _sm.softmax_grad_cols(*xc, all_cols, P, Y, s, C, G, no_h, False)
        G[:] += a * W
        return gb

    def exact_state():
        nz = np.flatnonzero((W != 0).any(axis=1))
        _sm.softmax_margins(*xc, nz, W[nz], b, Z)
        return _sm.softmax_pointwise(Z, Y, s, P), full_gradient()

    def measure(gb):
        viol, vmax = _violation(G, W, lam)
        return viol, max(vmax, float(np.abs(gb).max()) if fi else 0.0)

    def value(loss):
        return C * loss + 0.5 * a * float((W * W).sum()) + lam * float(np.abs(W).sum())

    loss, gb = exact_state()
    viol, gnorm = measure(gb)
    thr = stopping_threshold(tol, reference_gradient_norm(objective, theta))
    F = value(loss)
    it, message = 0, "max_iter reached"
    if hist.record(pack() if hist.callback is not None else None, F, gnorm):
        return _finish(name, pack(), it, hist, gnorm, thr, "stopped by callback", objective)
    # damping mu (Levenberg-Marquardt, relative to the mean coordinate curvature): a class
    # whose probabilities saturate has almost no curvature and the undamped model steps
    # astronomically far (model gaps of 1e17 on news20); raised after a short step, lowered
    # after a full one, so that it vanishes near the optimum
    kappa, damp, exact = _KAPPA, 0.0, True
    sweeps_cap = min(max_sweeps, _SOFTMAX_SWEEPS)
    while True:
        if gnorm <= threshold_after(thr, tol, it, min_iter):
            if exact:
                break
            loss, gb = exact_state()  # confirm on margins recomputed from scratch
            exact = True
            viol, gnorm = measure(gb)
            F = value(loss)
            continue
        if it >= max_iter:
            break
        # ---- working set of features: the support plus the worst violators
        cols = _working_set((W != 0).any(axis=1), viol.max(axis=1), ws_min)
        eps_ws = max(_WS_REL * gnorm, 0.5 * thr)
        it_round = it
        m = cols.size
        Gw, Hw = np.empty((m, K)), np.empty((m, K))
        stop_round = False
        while True:
            Wc = W[cols]
            gb, hb = _sm.softmax_grad_cols(*xc, cols, P, Y, s, C, Gw, Hw, True)
            Gw += a * Wc
            mu = damp * (float(Hw.mean()) if m else float(hb.mean()))
            Hw += a + _NU + mu
            hb += _NU + mu
            vio, vmax = _violation(Gw, Wc, lam)
            v_ws = max(vmax, float(np.abs(gb).max()) if fi else 0.0)
            if (v_ws <= eps_ws and it >= min_iter) or it >= max_iter:
                break
            v1_ws = float(vio.sum()) + (float(np.abs(gb).sum()) if fi else 0.0)
            dW, V = np.zeros((m, K)), np.zeros((n, K))
            db, sweeps = _sm.cd_softmax(*xc, cols, Wc, Gw, Hw, P, s, C, lam, a + mu, fi, gb,
                                        hb, dW, V, kappa * v1_ws, sweeps_cap, anderson)
            if sweeps == 1:
                kappa *= 0.25
            aw = np.abs(Wc)
            delta = (float((Gw * dW).sum()) + (float(gb @ db) if fi else 0.0)
                     + lam * float((np.abs(Wc + dW) - aw).sum()))
            if verbose > 1:
                print(f"[l1]   step {it}: |W| = {m} features, violation {v_ws:.3e}, "
                      f"damp {damp:.0e}, "
                      f"{sweeps} sweeps, model gap {delta:.3e}")
            if not delta < 0:
                kappa *= 0.01  # the model was solved too loosely to show descent
                if kappa > 1e-14:
                    continue
                message = "no descent direction from the quadratic model"
                stop_round = True
                break
            t, dl = _line_search(lambda t: _sm.softmax_try(Z, P, V, t, Y, s, Zn, Pn), Wc, dW,
                                 delta, C, a, lam)
            if t is None:  # damp the model harder and solve it again
                if damp < 1e12:
                    damp = max(100.0 * damp, 1e-2)
                    continue
                message = "line search failed"
                stop_round = True
                break
            if t < 0.25:
                damp = max(10.0 * damp, 1e-4)
            elif t == 1.0:
                damp = 0.0 if damp < 1e-8 else 0.1 * damp
            W[cols] = Wc + t * dW
            if fi:
                b += t * db
            Z, Zn, P, Pn = Zn, Z, Pn, P
            loss += dl
            exact = False
            it += 1
        gb = full_gradient()
        F = value(loss)
        viol, gnorm = measure(gb)
        if hist.record(pack() if hist.callback is not None else None, F, gnorm):
            return _finish(name, pack(), it, hist, gnorm, thr, "stopped by callback", objective)
        if it == it_round:
            min_iter = 0  # a round without a step (a model without descent): none forced
        if stop_round and gnorm > thr:  # (below the threshold: the exact check at the top)
            break
    return _finish(name, pack(), it, hist, gnorm, thr, message, objective)


# ================================================================================== screening
class Screening(NamedTuple):
    """What :func:`gap_safe_screen` proved at one point.

    Attributes
    ----------
    inactive : ndarray of bool, shape (n_features,)
        True for a feature whose coefficient is zero at *every* minimiser of F.
    gap : float >= 0
        Duality gap ``primal - dual`` (rounding margin included): an upper bound on
        ``F(theta) - F*``.
    radius : float
        Radius of the ball around the dual point that holds the dual optimum.
    primal, dual : float
        F(theta) and the dual objective at the feasible dual point built from theta.
    """
    inactive: np.ndarray
    gap: float
    radius: float
    primal: float
    dual: float


def gap_safe_screen(objective, theta):
    """Gap-safe screening (Ndiaye, Fercoq, Gramfort & Salmon 2017) for binary L1 / elastic-net
    logistic regression: the features that are zero at the optimum, proved from one point.

    With ``f_i(z) = C s_i l(y_i, z)`` and the residuals ``r_i = f_i'(z_i)`` at theta, the
    dual of ``F = sum_i f_i(x_i.w + b) + lam ||w||_1 + a/2 ||w||^2`` is
    ``D(r) = -sum_i f_i*(r_i) - sum_j ST(x_j.r, lam)^2 / (2a)`` (for a = 0: subject to
    ``|x_j.r| <= lam``), subject to ``sum_i r_i = 0`` when the intercept is fitted.  The
    residuals are made feasible (positive ones scaled down until they sum to zero, then, for
    a = 0, all scaled by ``max(1, max_j |x_j.r| / lam)``; both moves keep ``y_i + r_i / (C
    s_i)`` inside [0, 1]).  D is ``4 / (C max_i s_i)``-strongly concave, so the dual optimum
    lies within ``radius = sqrt(2 gap C max s / 4)`` of r, and feature j is zero at every
    minimiser when ``|x_j.r| + radius ||x_j - mean(x_j)|| < lam`` (the column centred when
    the intercept is fitted, since the dual lies in ``sum r = 0``).

    Parameters
    ----------
    objective : :class:`fastlogit.objective.Objective`
        Binary log-loss in memory (:class:`fastlogit.objective.LogLossData`) with an L1 or
        elastic-net penalty (``l1_strength > 0``); anything else raises ValueError.
    theta : ndarray of shape (n_params,)
        Any point (typically the previous solution of a path, or an iterate); the closer to
        the optimum, the more features are proved inactive.

    Returns
    -------
    :class:`Screening`

    Notes
    -----
    A solver may drop the inactive features from the problem without changing its solution
    set.  Along a path, screen the new C's problem at the previous C's solution.  The gap
    includes a margin of 64 eps (|primal| + |dual|) for rounding.
    """
    data = _column_data(objective)
    lam = float(getattr(objective, "l1_strength", 0.0) or 0.0)
    if data is None or not lam > 0:
        raise ValueError("gap_safe_screen needs a binary log-loss data term in memory "
                         "(LogLossData, one class column) with an L1 or elastic-net penalty "
                         "(l1_strength > 0); got data "
                         f"{type(getattr(objective, 'data', None)).__name__} and penalty "
                         f"{getattr(getattr(objective, 'penalty', None), 'name', None)!r}")
    theta = objective.layout.check(theta, "theta")
    (indptr, indices, xdata), _ = _csc_of(data)
    n, d = data.n_samples, data.n_features
    fi = data.fit_intercept
    C = float(objective.C)
    a = float(objective.penalty.l2_strength)
    y = np.ascontiguousarray(data.y, dtype=np.float64)
    s = (np.empty(0) if data.sample_weight is None
         else np.ascontiguousarray(data.sample_weight, dtype=np.float64))
    w = theta[:d]
    b = float(theta[d]) if fi else 0.0
    z, r, D, p = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    nz = np.flatnonzero(w).astype(np.int64)
    _cd.col_matvec(indptr, indices, xdata, nz, w[nz], b, z)
    loss = _cd.pointwise(z, y, s, C, r, D, p)
    primal = C * loss + lam * float(np.abs(w).sum()) + 0.5 * a * float(w @ w)
    if fi:  # sum r = 0: scale the residuals of one sign down (toward y: stays feasible)
        tot = float(r.sum())
        side = r > 0 if tot > 0 else r < 0
        mass = abs(float(r[side].sum()))
        if mass > 0:
            r[side] *= max(0.0, (mass - abs(tot)) / mass)
    corr = np.empty(d)
    _cd.grad_cols(indptr, indices, xdata, np.arange(d, dtype=np.int64), r, corr)
    if a > 0:
        excess = np.maximum(np.abs(corr) - lam, 0.0)
        reg = float(excess @ excess) / (2.0 * a)
    else:
        kappa = max(1.0, float(np.abs(corr).max(initial=0.0)) / lam)
        r /= kappa
        corr /= kappa
        reg = 0.0
    sw = np.ones(n) if s.size == 0 else s
    cs = C * sw
    q = np.divide(r, cs, out=np.zeros(n), where=cs > 0) + y
    np.clip(q, 0.0, 1.0, out=q)
    phi = xlogy(q, q) + xlogy(1.0 - q, 1.0 - q)
    dual = -float(cs @ phi) - reg
    gap = max(primal - dual, 0.0) + 64 * _EPS * (abs(primal) + abs(dual))
    radius = float(np.sqrt(2.0 * gap * C * float(sw.max(initial=0.0)) / 4.0))
    norms = _column_norms(data, indptr, indices, xdata, n, fi)
    inactive = np.abs(corr) + radius * norms < lam
    return Screening(inactive, float(gap), radius, float(primal), float(dual))


_NORMS = weakref.WeakKeyDictionary()


def _column_norms(data, indptr, indices, xdata, n, centred):
    """||x_j - mean(x_j)|| (centred) or ||x_j|| per column, cached per data term."""
    key = centred
    try:
        found = _NORMS.get(data, {}).get(key)
    except TypeError:
        found = None
    if found is not None:
        return found
    counts = np.diff(indptr)
    col = np.repeat(np.arange(counts.size), counts)
    sq = np.bincount(col, weights=xdata * xdata, minlength=counts.size)
    if centred:  # rounded up: the cancellation in sq - sm^2 / n costs at most eps sq
        sm = np.bincount(col, weights=xdata, minlength=counts.size)
        sq = np.maximum(sq - sm * sm / max(n, 1), 0.0) + 8 * _EPS * sq
    out = np.sqrt(sq)
    try:
        _NORMS.setdefault(data, {})[key] = out
    except TypeError:
        pass
    return out


def softmax_l1_optimality(X, Y, theta, C=1.0, lam=1.0):
    """Largest entry of the minimum-norm subgradient of the L1 softmax objective, in NumPy.

    ``F(W, b) = C sum_i -log softmax(x_i W^T + b)[y_i] + lam ||W||_1`` with every class's
    intercept fitted and unpenalised: an independent check of the solver's optimality
    measure (``result.grad_norm`` of a fit without sample weights or l2 part), written
    with plain array operations only.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, K)
        One-hot targets (rows summing to 1).
    theta : ndarray of shape (K * (n_features + 1),)
        Row-major ``(K, n_features + 1)`` parameters, each row one class's coefficients
        followed by its intercept (the layout of a multinomial fit with intercepts).
    C, lam : float
        The data term's weight and the L1 strength.

    Returns
    -------
    float
        ``max(|S_W|, |grad_b|)`` with ``S_W`` the minimum-norm subgradient in W.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> Y = np.eye(3)
    >>> softmax_l1_optimality(X, Y, np.zeros(9)) > 0
    True
    """
    Y = np.asarray(Y, dtype=np.float64)
    K, d = Y.shape[1], X.shape[1]
    theta = np.asarray(theta, dtype=np.float64)
    if Y.ndim != 2 or Y.shape[0] != X.shape[0] or theta.shape != (K * (d + 1),):
        raise ValueError(f"need Y of shape (n_samples, K) = ({X.shape[0]}, K) and theta of "
                         f"shape (K * (n_features + 1),); got Y {Y.shape}, theta "
                         f"{theta.shape}, X {X.shape}")
    T = theta.reshape(K, d + 1)
    Z = np.asarray(X @ T[:, :d].T) + T[:, d]
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    R = C * (P / P.sum(axis=1, keepdims=True) - Y)
    G = np.asarray(X.T @ R).T
    W = T[:, :d]
    sub = np.where(W != 0, G + lam * np.sign(W),
                   np.sign(G) * np.maximum(np.abs(G) - lam, 0.0))
    return float(max(np.abs(sub).max(initial=0.0), np.abs(R.sum(axis=0)).max(initial=0.0)))


# =============================================================================== generic path
def _lam_vector(objective):
    return objective.l1_strength * objective.penalized_mask().astype(np.float64)


def _state(objective, theta, lam):
    """(f, grad f, F, optimality measure) at theta through the contract."""
    f, g = objective.value_grad(theta)
    F = f + float(lam @ np.abs(theta))
    return f, g, F, float(np.abs(objective.min_norm_subgradient(theta, g)).max(initial=0.0))


def _model_violation(G, u, lam):
    """inf-norm of the minimum-norm subgradient of the model at u (G: its smooth gradient)."""
    out = np.abs(G + lam * np.sign(u))
    zero = u == 0
    out[zero] = np.maximum(np.abs(G[zero]) - lam[zero], 0.0)
    return float(out.max(initial=0.0))


def _power_lmax(hv, p, n_iter=10):
    """A Rayleigh-quotient estimate of the model Hessian's largest eigenvalue (from below;
    FISTA's backtracking raises it when a step shows more curvature)."""
    v = np.random.default_rng(0).standard_normal(p)
    v /= np.linalg.norm(v)
    lmax = 0.0
    for _ in range(n_iter):
        hvv = hv(v)
        lmax = float(v @ hvv)
        nrm = float(np.linalg.norm(hvv))
        if not nrm > 0:
            break
        v = hvv / nrm
    return max(lmax, 1e-12)


def _fista(hv, g, theta, lam, L, tol, max_iter):
    """FISTA with restarts on the model ``g.(u - theta) + 1/2 (u - theta)^T H (u - theta)
    + sum_j lam_j |u_j|`` (H through ``hv``), with backtracking on L: each step's
    ``delta^T H delta <= L ||delta||^2`` is checked with the product the next gradient needs
    anyway.  Returns ``(u, L)``."""
    pen = lam > 0
    u = theta.copy()
    Hu = np.zeros_like(u)       # H (u - theta)
    yk, Hy = u, Hu
    tk = 1.0
    for _ in range(max_iter):
        grad = g + Hy
        while True:
            un = yk - grad / L
            un[pen] = np.sign(un[pen]) * np.maximum(np.abs(un[pen]) - lam[pen] / L, 0.0)
            delta = un - yk
            Hdelta = hv(delta)
            nd = float(delta @ delta)
            curv = float(delta @ Hdelta)
            if nd == 0.0 or curv <= L * nd * (1.0 + 1e-10):
                break
            L = max(2.0 * L, 1.5 * curv / nd)
        Hun = Hy + Hdelta
        if nd == 0.0 or _model_violation(g + Hun, un, lam) <= tol:
            return un, L
        if float((yk - un) @ (un - u)) > 0:  # restart (O'Donoghue & Candes)
            tk = 1.0
        tn = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * tk * tk))
        beta = (tk - 1.0) / tn
        yk = un + beta * (un - u)
        Hy = Hun + beta * (Hun - Hu)
        u, Hu, tk = un, Hun, tn
    return u, L


def _solve_generic(objective, theta, tol, max_iter, hist, dense_max, max_inner, max_sweeps,
                   min_iter=0):
    name = "l1"
    lam = _lam_vector(objective)
    dense = objective.n_params <= dense_max and hasattr(objective, "hessian")
    f, g, F, gnorm = _state(objective, theta, lam)
    thr = stopping_threshold(tol, reference_gradient_norm(objective, theta, g))
    if hist.record(theta, F, gnorm):
        return _finish(name, theta, 0, hist, gnorm, thr, "stopped by callback", objective)
    it, message, L = 0, "max_iter reached", None
    kappa = 0.1
    null = None  # the Hessian's null basis once a model crawled (_dense_model; False: none)
    while gnorm > threshold_after(thr, tol, it, min_iter) and it < max_iter:
        it += 1
        # the model's tolerance: on the sum of violations for coordinate descent (as in
        # the column path), on the largest one for FISTA
        sub = np.abs(objective.min_norm_subgradient(theta, g))
        inner_tol = kappa * float(sub.sum() if dense else sub.max(initial=0.0))
        th = theta
        if dense:
            H = objective.hessian(theta)
            u, sweeps, crawl = _dense_model(H, g, theta, lam, inner_tol, max_sweeps,
                                            null or None)
            if crawl and null is None:  # the design's null space: the same at every step
                null = _null_basis(H, lam) or False
        else:
            def hv(v):
                return objective.hessp(th, v)

            L = _power_lmax(hv, theta.size) if L is None else 0.7 * L
            u, L = _fista(hv, g, theta, lam, L, inner_tol, max_inner)
            sweeps = 2
        if not np.isfinite(u).all():  # cannot happen with backtracking; never a silent answer
            message = "non-finite model solution"
            break
        d = u - theta
        delta = float(g @ d) + float(lam @ (np.abs(u) - np.abs(theta)))
        if sweeps == 1:
            kappa *= 0.25
        if not delta < 0:
            if kappa > 1e-12:
                kappa *= 0.01
                continue
            message = "no descent direction from the quadratic model"
            break
        f1, g1 = objective.value_grad(u)
        F1 = f1 + float(lam @ np.abs(u))
        roundoff = abs(F1 - F) <= 64 * _EPS * max(1.0, abs(F))
        if F1 <= F + _SIGMA * delta or (roundoff and F1 <= F + 64 * _EPS * abs(F)):
            theta, f, g, F = u, f1, g1, F1
        else:
            line = objective.line(theta, d)
            t, ok = 1.0, False
            for _ in range(_MAX_BACKTRACKS):
                t *= 0.5
                cand = theta + t * d
                Ft = line.value(t) + float(lam @ np.abs(cand))
                if Ft <= F + _SIGMA * t * delta:
                    ok = True
                    break
            if not ok:
                message = "line search failed"
                break
            theta = cand
            f, g = objective.value_grad(theta)
            F = f + float(lam @ np.abs(theta))
        gnorm = float(np.abs(objective.min_norm_subgradient(theta, g)).max(initial=0.0))
        if hist.record(theta, F, gnorm):
            return _finish(name, theta, it, hist, gnorm, thr, "stopped by callback", objective)
    return _finish(name, theta, it, hist, gnorm, thr, message, objective)
