"""Compiled pieces of the L1 solver's column path (Numba): binary log-loss on a CSC copy of X.

Private to :mod:`fastlogit.solvers.l1`.  Everything here is float64 (the CSC copy is made in
float64 whatever the data dtype, so float32 data are fitted to float64 precision); ``s`` of
length 0 means unit sample weights.  The column arrays are ``indptr`` (int64, d + 1),
``indices`` (int32 or int64) and ``data`` (float64) of a CSC matrix with n rows.

Threads.  The coordinate-descent sweeps (:func:`cd_model`, :func:`cd_dense`) are sequential.
The passes that take an ``nt`` argument run on up to ``nt`` threads (the caller's count from
:func:`threads`, the kernels' cost model, the call made within :func:`threaded`; 1: no
parallel region at all), and each gives the same bits for every ``nt``: the line search's
trials sum fixed blocks of :data:`TRIAL_BLOCK` samples in block order (:func:`try_step`);
the passes over columns (:func:`grad_hdiag_cols`, :func:`grad_hdiag_kept`,
:func:`grad_skip`) give each thread whole columns; the passes over rows that sum into a
vector or a matrix (:func:`grad_rows`, :func:`gram_rows`, :func:`gram_rows_stale`) take the
rows in two halves chosen by the sizes alone (:func:`_split`), the second half's sums added
to the first's, on one thread or two.  Each such kernel's body is written once, for a block
(a run of sample blocks, a range of columns, a half of the rows); a serial call runs it over
all of them, a parallel one from a ``prange`` over them (a ``_PAR`` driver of its own, so
that a serial call never enters a parallel region).

Quantities, for margins ``z_i = x_i . w + b`` and ``p_i = sigmoid(z_i)``::

    r_i = C s_i (p_i - y_i)          (so grad of C L is X^T r, and sum_i r_i for b)
    D_i = C s_i p_i (1 - p_i)        (so Hess of C L is X^T diag(D) X)
"""
import contextlib
import math

import numba
import numpy as np
from numba import njit, prange

from .._config import KernelThreads, forked_child
from ..kernels.numba_impl import UINDEX, numba_threads
from ._lbfgs_memory import numpy_sum

__all__ = ["threads", "threaded", "TRIAL_BLOCK", "pointwise", "try_step", "abs_max",
           "canonical_rows", "cols_of_rows",
           "cols_and_rows_of_rows",
           "rows_of_cols", "violation", "grad_rows", "row_matvec", "grad_cols", "grad_skip",
           "grad_hdiag_cols", "grad_hdiag_kept", "cd_model",
           "col_matvec", "cd_dense", "cd_dense_null", "null_moves", "direction_min",
           "gram_rows", "gram_cols", "dense_cols",
           "dense_rows_of", "grad_hdiag_dense", "matvec_dense", "gram_dense", "gram_cost",
           "gram_cost_rest", "gram_rows_stale",
           "newton_soft",
           "coordinate_violation", "end_of_sweep", "anderson_step", "ANDERSON_K", "tally",
           "keep", "ring_slot", "model_terms", "l1_change", "transpose", "margins_nz",
           "working_set", "line_search", "all_ones", "try_step_l", "log_terms",
           "GROUP_M", "row_groups", "row_groups_of_rows", "gram_groups"]

_JIT = dict(cache=True, nogil=True)
#: The drivers that run a kernel's blocks on several threads (a prange over the blocks,
#: nothing else: array expressions there would become parallel loops of their own).
_PAR = dict(cache=True, nogil=True, parallel=True)
_EPS = np.finfo(np.float64).eps


def threaded(nt):
    """The context in which a call of this module's kernels with ``nt`` threads runs:
    :func:`fastlogit.kernels.numba_impl.numba_threads` (Numba's thread count for the calling
    thread, restored after) for nt > 1, nothing for nt = 1.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlogit.solvers import _cd
    >>> z, xd = np.zeros(5000), np.full(5000, 0.5)  # three blocks of TRIAL_BLOCK samples
    >>> out = [np.empty(5000) for _ in range(4)]
    >>> with _cd.threaded(2):
    ...     two = _cd.try_step(z, z + 0.5, xd, 1.0, np.ones(5000), np.empty(0), 1.0, *out,
    ...                        np.empty(0), 2)
    >>> two == _cd.try_step(z, z + 0.5, xd, 1.0, np.ones(5000), np.empty(0), 1.0, *out)
    True
    """
    return numba_threads(nt) if nt > 1 else contextlib.nullcontext()


def threads(n_threads, n_rows, nnz, buffer_len=0):
    """Threads for one parallel pass of this module (its kernels' ``nt``): the count
    :func:`fastlogit._config.kernel_threads` picks for ``n_threads`` (a data term's, None
    for the cores available) and a pass over ``n_rows`` rows (or samples, columns) and
    ``nnz`` stored values whose threads each fill a ``buffer_len``-value buffer, at most
    Numba's thread count.  One in a forked child (:func:`fastlogit._config.forked_child`:
    Numba's OpenMP layer ends a forked child that starts a parallel region); the results
    are the same bits on one thread.

    Parameters
    ----------
    n_threads : int or None
    n_rows, nnz, buffer_len : int

    Returns
    -------
    int
        At least 1.
    """
    if n_threads == 1 or forked_child():
        return 1
    key = (n_rows, nnz, buffer_len)
    choice = _CHOICES.get(key)
    if choice is None:
        if len(_CHOICES) >= 256:
            _CHOICES.clear()
        choice = _CHOICES[key] = KernelThreads(n_rows, nnz, buffer_len)
    return max(1, min(choice(n_threads), numba.config.NUMBA_NUM_THREADS))


#: (n_rows, nnz, buffer_len) -> its KernelThreads (a pass too small for a second thread is
#: answered without asking the OpenMP runtime or the run queue), for the recent sizes.
_CHOICES = {}


@njit(**_JIT)
def _sigmoid(z):
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@njit(**_JIT)
def pointwise(z, y, s, C, r, D, p, lo=np.empty(0)):
    """Fill r, D, p (n,) from the margins z; returns the unscaled loss sum_i s_i l_i.  When
    lo has length n, also the log-terms ``lo_i = log(1 + e^(z_i))`` (:func:`try_step_l`'s,
    the same bits).

    A margin equal to the previous sample's reuses its exponential and logarithm (a start
    at the intercept alone has one margin for all samples): the same values bit for bit."""
    n = z.shape[0]
    unit = s.shape[0] == 0
    want_l = lo.shape[0] == n
    loss = 0.0
    zl = math.nan  # the last margin, its log1p(e^-|z|) and sigmoid
    ll = 0.0
    pl = 0.0
    for i in range(n):
        zi = z[i]
        yi = y[i]
        if zi != zl:
            e = math.exp(-zi) if zi > 0.0 else math.exp(zi)
            ll = math.log1p(e)
            pl = 1.0 / (1.0 + e) if zi > 0.0 else e / (1.0 + e)
            zl = zi
        if zi > 0.0:
            li = (1.0 - yi) * zi + ll
        else:
            li = ll - yi * zi
        pi = pl
        si = 1.0 if unit else s[i]
        loss += si * li
        if want_l:
            lo[i] = (zi + ll) if zi > 0.0 else ll
        p[i] = pi
        r[i] = C * si * (pi - yi)
        D[i] = C * si * pi * (1.0 - pi)
    return loss


@njit(**_JIT)
def log_terms(z, out):
    """out_i = log(1 + e^(z_i)) (n,), as :func:`pointwise` and :func:`try_step_l` compute
    it (the same bits)."""
    for i in range(UINDEX(z.shape[0])):
        zi = z[i]
        if zi > 0.0:
            out[i] = zi + math.log1p(math.exp(-zi))
        else:
            out[i] = math.log1p(math.exp(zi))


@njit(**_JIT)
def _log1pexp(v):
    if v > 0.0:
        return v + math.log1p(math.exp(-v))
    return math.log1p(math.exp(v))


#: try_step's memo of trial terms (a power of two): samples whose margin, margin step and
#: probability equal an earlier sample's (rows equal on a few working columns: one-hot data
#: at a small support) reuse its transcendental calls; the memo is dropped for the rest of
#: a trial once fewer than a quarter of a block of _MEMO_BLOCK samples found their terms
#: in it (samples mostly distinct: its lookups would only add cost).
_MEMO_SLOTS = 256
_MEMO_BLOCK = 1024


@njit(inline="always", **_JIT)
def _trial_terms(zi, ai, u, logs, want_l):
    """(z + u, sigmoid(z + u), the log-term change log(1 + e^(z + u)) - log(1 + e^z), the
    log-term log(1 + e^(z + u)) (0.0 unless ``logs`` or ``want_l``)) for a margin step u:
    :func:`try_step`'s per-sample terms (its docstring) from ``ai`` = p = sigmoid(z), or with
    ``logs`` :func:`try_step_l`'s from ``ai`` = log(1 + e^z) (the change a difference of the
    two log-terms)."""
    wi = zi + u
    if wi > 0.0:
        e = math.exp(-wi)
        pn = 1.0 / (1.0 + e)
    else:
        e = math.exp(wi)
        pn = e / (1.0 + e)
    ln = 0.0
    if logs or want_l:
        ln = (wi + math.log1p(e)) if wi > 0.0 else math.log1p(e)
    if logs:
        return wi, pn, ln - ai, ln
    if u == 0.0:
        return wi, pn, 0.0, ln
    if u <= 0.0:
        q = ai * math.expm1(u)
        c = math.log1p(q) if q > -0.5 else _log1pexp(wi) - _log1pexp(zi)
    else:
        q = (1.0 - ai) * math.expm1(-u)
        c = u + math.log1p(q) if q > -0.5 else _log1pexp(wi) - _log1pexp(zi)
    return wi, pn, c, ln


@njit(**_JIT)
def try_step(z, p, xd, t, y, s, C, zn, pn, rn, Dn, lon=np.empty(0), nt=1):
    """The loss change ``sum_i s_i [l(y_i, z_i + t xd_i) - l(y_i, z_i)]`` from z and
    p = sigmoid(z), and the pointwise terms at the new margins ``zn = z + t xd`` written to
    zn, pn, rn, Dn (as :func:`pointwise` would from zn) in the same pass, so that an accepted
    step needs no second pass over the samples; when lon has length n, also the log-terms
    ``lon_i = log(1 + e^(zn_i))`` (for :func:`try_step_l`'s next step).

    The change is computed per sample without cancellation: log(1 + e^(z + u)) - log(1 + e^z)
    = log1p(p (e^u - 1)) for u <= 0 and u + log1p((1 - p)(e^-u - 1)) for u > 0, used while the
    log1p argument stays above -1/2 (else the change exceeds log 2 and the direct difference
    is as accurate).  Exact to the rounding of the change itself, so that a line search can
    compare changes far below F's own rounding (near the optimum).

    The samples are taken in blocks of :data:`TRIAL_BLOCK` (``nt`` > 1: runs of blocks on up
    to nt threads, :func:`threads`), the change summed per block in sample order and the
    blocks' sums in block order: the same bits for any ``nt``.  A sample whose z_i, xd_i and
    p_i have the bits of an earlier sample's in its run's memo (``_MEMO_SLOTS`` slots,
    hashed on the bits of z_i and xd_i) takes that sample's z + u, sigmoid and log-term
    change (:func:`_trial_terms`: functions of those three values alone, so the same bits)."""
    return _trials(z, p, xd, t, y, s, C, zn, pn, rn, Dn, lon, False, nt)[0]


@njit(**_JIT)
def try_step_l(z, lo, xd, t, y, s, C, zn, pn, rn, Dn, lon, nt=1):
    """:func:`try_step` from the log-terms ``lo_i = log(1 + e^(z_i))`` at z instead of p:
    the change as ``sum_i s_i (lon_i - lo_i - y_i u_i)`` with the new log-terms lon (written,
    with zn, pn, rn, Dn as try_step writes them): two transcendental calls per sample instead
    of three (and try_step's memo of repeated samples, keyed on the bits of z_i, xd_i, lo_i).
    The difference of the log-terms cancels where the change is small, so the change
    carries their rounding; returns ``(change, err)`` with ``err = 8 eps sum_i s_i (2 lo_i +
    |u_i| + |y_i u_i|)`` bounding that rounding (it bounds 8 eps sum_i s_i (lon_i + lo_i +
    |y_i u_i|), lon_i <= lo_i + |u_i|; beyond the sum's own rounding, which try_step's sum
    shares), from sums over lo and xd alone (no per-sample work in the trial's loop; its
    sum blocked as the change's)."""
    out = _trials(z, lo, xd, t, y, s, C, zn, pn, rn, Dn, lon, True, nt)
    return out[0], out[2]


#: Samples per block of the line search's trial pass (:func:`try_step`): a fixed size, so
#: that the blocks, and the order of the sums, do not depend on the number of threads (a
#: multiple of _MEMO_BLOCK).
TRIAL_BLOCK = 2048


@njit(**_JIT)
def _trials(z, a, xd, t, y, s, C, zn, pn, rn, Dn, lon, logs, nt):
    """The pass of :func:`try_step` (``a`` = p) and :func:`try_step_l` (``logs``, ``a`` = the
    log-terms at z): ``(the sum of the weighted changes, rich, err)``, with the memo of
    repeated samples keyed on the bits of z_i, xd_i and a_i (``rich``: it served the whole
    pass) and try_step_l's rounding bound err (0.0 without ``logs``); lon written when it
    has length n.  Blocks of TRIAL_BLOCK samples, in nt contiguous runs of blocks on up to
    ``nt`` threads, their sums added in block order."""
    n = z.shape[0]
    nb = max(1, (n + TRIAL_BLOCK - 1) // TRIAL_BLOCK)
    parts = np.empty((nb, 2))
    rich = np.empty(nb, dtype=np.bool_)
    if nt > 1 and nb > 1:
        _trials_par(z, a, xd, t, y, s, C, zn, pn, rn, Dn, lon, logs, parts, rich, min(nt, nb))
    else:
        _trial_blocks(z, a, xd, t, y, s, C, zn, pn, rn, Dn, lon, logs, parts, rich, 0, nb)
    out = 0.0
    mag = 0.0
    rich_all = True
    for k in range(nb):
        out += parts[k, 0]
        mag += parts[k, 1]
        rich_all &= rich[k]
    return out, rich_all, 8.0 * _EPS * mag


@njit(**_PAR)
def _trials_par(z, a, xd, t, y, s, C, zn, pn, rn, Dn, lon, logs, parts, rich, T):
    """:func:`_trials`' blocks in T contiguous runs on Numba's threads (:func:`threaded`)."""
    nb = parts.shape[0]
    for c in prange(T):
        _trial_blocks(z, a, xd, t, y, s, C, zn, pn, rn, Dn, lon, logs, parts, rich,
                      nb * c // T, nb * (c + 1) // T)


@njit(inline="always", **_JIT)
def _trial_blocks(z, a, xd, t, y, s, C, zn, pn, rn, Dn, lon, logs, parts, rich, k0, k1):
    """Blocks k0 <= k < k1 of :func:`_trials` (block k: the samples from ``k TRIAL_BLOCK``),
    with one memo for them all: block k's change summed in sample order into
    ``parts[k, 0]``, try_step_l's error sum into ``parts[k, 1]`` (with ``logs``), whether the
    memo was still on at the block's end into ``rich[k]``.  The memo is dropped for the rest
    of the run once fewer than a quarter of a window of _MEMO_BLOCK samples found their terms
    in it (samples mostly distinct: its lookups would only add cost); it never changes a
    bit (its values are functions of its keys)."""
    n = z.shape[0]
    unit = s.shape[0] == 0
    want_l = lon.shape[0] == n
    memo = n >= _MEMO_BLOCK
    slots = _MEMO_SLOTS if memo else 0
    zb = z.view(np.uint64)
    xb = xd.view(np.uint64)
    pb = a.view(np.uint64)
    mz = np.empty(slots, dtype=np.uint64)
    mx = np.empty(slots, dtype=np.uint64)
    mp = np.empty(slots, dtype=np.uint64)
    mw = np.empty(slots)
    mq = np.empty(slots)
    mc = np.empty(slots)
    ml = np.empty(slots)
    used = np.zeros(slots, dtype=np.bool_)
    hits = UINDEX(0)
    seen = UINDEX(0)  # samples of the memo's current window
    mask = np.uint64(_MEMO_SLOTS - 1)
    k1h = np.uint64(0x9E3779B97F4A7C15)
    k2h = np.uint64(0xC2B2AE3D27D4EB4F)
    for k in range(k0, k1):
        # (unsigned indices: no wraparound checks, as in the loops over entries)
        i0 = UINDEX(k) * UINDEX(TRIAL_BLOCK)
        i1 = min(UINDEX(n), i0 + UINDEX(TRIAL_BLOCK))
        out = 0.0
        i = i0
        while memo and i < i1:
            u = t * xd[i]
            h = (((zb[i] * k1h) ^ (xb[i] * k2h)) >> np.uint64(40)) & mask
            if used[h] and mz[h] == zb[i] and mx[h] == xb[i] and mp[h] == pb[i]:
                wi = mw[h]
                qi = mq[h]
                c = mc[h]
                li = ml[h]
                hits += UINDEX(1)
            else:
                wi, qi, c, li = _trial_terms(z[i], a[i], u, logs, want_l)
                used[h] = True
                mz[h] = zb[i]
                mx[h] = xb[i]
                mp[h] = pb[i]
                mw[h] = wi
                mq[h] = qi
                mc[h] = c
                ml[h] = li
            out += _trial_put(i, wi, qi, c, u, y, s, unit, C, zn, pn, rn, Dn)
            if want_l:
                lon[i] = li
            i += UINDEX(1)
            seen += UINDEX(1)
            if seen == UINDEX(_MEMO_BLOCK):
                memo = UINDEX(4) * hits >= UINDEX(_MEMO_BLOCK)
                hits = UINDEX(0)
                seen = UINDEX(0)
        rich[k] = memo
        if logs:  # (written out: through the helpers it compiled slower; l1_race.md)
            for q in range(i, i1):
                u = t * xd[q]
                wi = z[q] + u
                yi = y[q]
                si = 1.0 if unit else s[q]
                if wi > 0.0:
                    e = math.exp(-wi)
                    qi = 1.0 / (1.0 + e)
                    li = wi + math.log1p(e)
                else:
                    e = math.exp(wi)
                    qi = e / (1.0 + e)
                    li = math.log1p(e)
                zn[q] = wi
                pn[q] = qi
                rn[q] = C * si * (qi - yi)
                Dn[q] = C * si * qi * (1.0 - qi)
                lon[q] = li
                out += si * (li - a[q] - yi * u)
            mag = 0.0
            for q in range(i0, i1):
                si = 1.0 if unit else s[q]
                mag += si * (2.0 * a[q] + abs(t * xd[q]) * (1.0 + abs(y[q])))
            parts[k, 1] = mag
        else:
            for q in range(i, i1):
                u = t * xd[q]
                wi, qi, c, li = _trial_terms(z[q], a[q], u, False, want_l)
                out += _trial_put(q, wi, qi, c, u, y, s, unit, C, zn, pn, rn, Dn)
                if want_l:
                    lon[q] = li
            parts[k, 1] = 0.0
        parts[k, 0] = out


@njit(inline="always", **_JIT)
def _trial_put(i, wi, qi, c, u, y, s, unit, C, zn, pn, rn, Dn):
    """Sample i's trial terms written to zn, pn, rn, Dn (:func:`try_step`); returns its
    weighted loss change (0.0 when u == 0: the margin did not move)."""
    yi = y[i]
    si = 1.0 if unit else s[i]
    zn[i] = wi
    pn[i] = qi
    rn[i] = C * si * (qi - yi)
    Dn[i] = C * si * qi * (1.0 - qi)
    if u == 0.0:
        return 0.0
    return si * (c - yi * u)


@njit(**_JIT)
def abs_max(x):
    """max_i |x_i| (0.0 for an empty x), without a temporary."""
    out = 0.0
    for i in range(x.shape[0]):
        v = abs(x[i])
        if v > out:
            out = v
    return out


@njit(**_JIT)
def cols_of_rows(indptr, indices, data, pos, cp, unit=False):
    """CSC arrays of the m columns j with ``pos[j] >= 0`` of a CSR matrix, column ``pos[j]``
    of the result holding column j: ``(cp, row indices int64, data)``, row indices sorted
    within each column (``pos = arange(d)``: the whole CSC).  ``cp`` (int64, m + 1) is the
    result's indptr, given (the cumulated non-zero counts of the columns, known to the
    caller): one pass over the rows; the data of the other columns is never read (none at
    all with ``unit``: every stored value is 1.0, written as such)."""
    m = cp.shape[0] - 1
    ri = np.empty(cp[m], dtype=np.int64)
    rv = np.empty(cp[m])
    none = np.empty(0, dtype=np.int64)
    _fill_columns(indptr, indices, data, pos, cp, ri, rv, 0, none, none, rv[:0], unit)
    return cp, ri, rv


@njit(**_JIT)
def cols_and_rows_of_rows(indptr, indices, data, pos, cp, k):
    """:func:`cols_of_rows`' CSC arrays, and from the same pass the CSR arrays of the n x k
    matrix of its first k columns (``pos[j] < k``): ``(indptr int64 (n + 1), column
    positions int64, data)``, positions ascending within each row when pos is increasing in
    j (as :func:`rows_of_cols` makes them from the columns)."""
    m = cp.shape[0] - 1
    n = indptr.shape[0] - 1
    ri = np.empty(cp[m], dtype=np.int64)
    rv = np.empty(cp[m])
    rp = np.zeros(n + 1, dtype=np.int64)
    rk = np.empty(cp[k] - cp[0], dtype=np.int64)
    rw = np.empty(cp[k] - cp[0])
    _fill_columns(indptr, indices, data, pos, cp, ri, rv, k, rp, rk, rw)
    return (cp, ri, rv), (rp, rk, rw)


@njit(**_JIT)
def _fill_columns(indptr, indices, data, pos, cp, ri, rv, k_rows, rp, rk, rw, unit=False):
    """The one pass of :func:`cols_of_rows` and :func:`transpose`: each stored entry of a
    CSR matrix (rows in order) appended to its column of the result (``ri``, ``rv``, laid out
    by ``cp``), column ``pos[j]`` for column j (skipped when < 0), or column j itself when
    ``pos`` is empty (every column: no lookup).  With ``k_rows > 0`` the entries of the
    result's columns below k_rows are also appended to rows (``rp`` (n + 1, rp[0] = 0) the
    rows' ends, ``rk`` their columns, ``rw`` their values: :func:`cols_and_rows_of_rows`).
    ``unit``: every stored value is 1.0: the values are written as 1.0, X's never read."""
    n = indptr.shape[0] - 1
    nxt = cp[:cp.shape[0] - 1].copy()
    every = pos.shape[0] == 0
    if unit:
        rv[:] = 1.0
        rw[:] = 1.0
    c = UINDEX(0)
    for i in range(UINDEX(n)):
        for q in range(UINDEX(indptr[i]), UINDEX(indptr[i + UINDEX(1)])):
            k = indices[q] if every else pos[UINDEX(indices[q])]
            if k >= 0:
                e = UINDEX(nxt[UINDEX(k)])
                ri[e] = i
                if not unit:
                    rv[e] = data[q]
                nxt[UINDEX(k)] = e + UINDEX(1)
                if k < k_rows:
                    rk[c] = k
                    if not unit:
                        rw[c] = data[q]
                    c += UINDEX(1)
        if k_rows > 0:
            rp[i + UINDEX(1)] = c


@njit(**_JIT)
def transpose(indptr, indices, data, cp, ri, rv, unit=False):
    """ri, rv = the row indices and data of the CSC form of a CSR matrix whose CSC indptr
    ``cp`` (int64, d + 1: the cumulated non-zeros per column) is known: one pass over the
    rows, row indices sorted within each column (the arrays SciPy's ``tocsc`` makes).
    ``unit``: every stored value is 1.0 (rv filled with 1.0, X's values never read)."""
    none = np.empty(0, dtype=np.int64)
    _fill_columns(indptr, indices, data, none, cp, ri, rv, 0, none, none, rv[:0], unit)


@njit(**_JIT)
def _descents(a, b):
    """The number of k with a[k] >= b[k] (a, b of one length): a loop the compiler
    vectorises (no index that could be negative)."""
    out = 0
    for k in range(a.shape[0]):
        out += a[k] >= b[k]
    return out


@njit(**_JIT)
def canonical_rows(indptr, indices):
    """True when every row of a CSR X (indptr int64, non-decreasing) has strictly increasing
    column indices: no duplicate entry (SciPy's ``has_canonical_format``).  Counts the
    non-increasing neighbours over all stored entries at once, then takes away those that
    straddle a row boundary (the first entry of each non-empty row after the first)."""
    lo = indptr[0]
    hi = indptr[indptr.shape[0] - 1]
    if hi - lo < 2:
        return True
    bad = _descents(indices[lo:hi - 1], indices[lo + 1:hi])
    for i in range(1, indptr.shape[0] - 1):
        q = indptr[i]
        if lo < q < indptr[i + 1] and indices[q] <= indices[q - 1]:
            bad -= 1
    return bad == 0


@njit(**_JIT)
def violation(g, w, lam, out):
    """out_j = |minimum-norm subgradient of F|_j given the smooth gradient g at w:
    ``|g_j + lam sign(w_j)|`` where w_j != 0, else ``max(|g_j| - lam, 0)``; returns
    ``max_j out_j`` (0.0 when empty, NaN when g holds a NaN).  Branch-free, the maximum
    over four running maxima (no serial chain through every entry; a maximum does not
    depend on the order)."""
    d = g.shape[0]
    m0 = 0.0
    m1 = 0.0
    m2 = 0.0
    m3 = 0.0
    bad = False
    j = 0
    while j + 4 <= d:
        v0 = _coord_violation(g[j], w[j], lam)
        v1 = _coord_violation(g[j + 1], w[j + 1], lam)
        v2 = _coord_violation(g[j + 2], w[j + 2], lam)
        v3 = _coord_violation(g[j + 3], w[j + 3], lam)
        out[j] = v0
        out[j + 1] = v1
        out[j + 2] = v2
        out[j + 3] = v3
        m0 = v0 if v0 > m0 else m0
        m1 = v1 if v1 > m1 else m1
        m2 = v2 if v2 > m2 else m2
        m3 = v3 if v3 > m3 else m3
        bad |= (v0 != v0) | (v1 != v1) | (v2 != v2) | (v3 != v3)
        j += 4
    while j < d:
        v0 = _coord_violation(g[j], w[j], lam)
        out[j] = v0
        m0 = v0 if v0 > m0 else m0
        bad |= v0 != v0
        j += 1
    if bad:  # a NaN gradient stays visible
        return math.nan
    return max(max(m0, m1), max(m2, m3))


@njit(**_JIT)
def _coord_violation(gj, wj, lam):
    """One entry of :func:`violation` (NaN in, NaN out)."""
    if wj != 0.0:
        return abs(gj + (lam if wj > 0.0 else -lam))
    v = abs(gj) - lam
    return 0.0 if v < 0.0 else v


@njit(**_JIT)
def margins_nz(indptr, indices, data, w, b, out):
    """out = X w + b from the columns of a CSC X, over the features with ``w_j != 0`` in
    increasing order: :func:`col_matvec` over ``flatnonzero(w)``, the same bits."""
    out[:] = b
    for j in range(UINDEX(w.shape[0])):
        v = w[j]
        if v == 0.0:
            continue
        for q in range(UINDEX(indptr[j]), UINDEX(indptr[j + UINDEX(1)])):
            out[UINDEX(indices[q])] += v * data[q]


@njit(**_JIT)
def rows_of_cols(indptr, indices, data, cols, n):
    """CSR arrays ``(indptr int64 (n + 1), column positions int64, data)`` of the n x m matrix
    ``X[:, cols]`` of a CSC X (column k of the result is column ``cols[k]``; positions
    ascending within each row).  Two passes over the working set's entries only."""
    rp = np.zeros(n + 1, dtype=np.int64)
    for k in range(UINDEX(cols.shape[0])):
        j = UINDEX(cols[k])
        for q in range(UINDEX(indptr[j]), UINDEX(indptr[j + UINDEX(1)])):
            rp[UINDEX(indices[q]) + UINDEX(1)] += 1
    for i in range(n):
        rp[i + 1] += rp[i]
    nxt = rp[:n].copy()
    rk = np.empty(rp[n], dtype=np.int64)
    rv = np.empty(rp[n])
    for k in range(UINDEX(cols.shape[0])):
        j = UINDEX(cols[k])
        for q in range(UINDEX(indptr[j]), UINDEX(indptr[j + UINDEX(1)])):
            i = UINDEX(indices[q])
            e = UINDEX(nxt[i])
            rk[e] = k
            rv[e] = data[q]
            nxt[i] = e + UINDEX(1)
    return rp, rk, rv


@njit(**_JIT)
def grad_rows(indptr, indices, data, r, out, r2, out2, counts, unit=False, nt=1):
    """out = X^T r over all d columns from the rows of a CSR X (overwritten, (d,)); when
    r2 has length n, also out2 = X^T r2 in the same pass; when counts has length d, also
    the non-zeros per column into counts (int64, overwritten).  Returns ``(max |x_ij|,
    whether every stored value is 1.0)`` when counting (the pass reads every entry anyway:
    :func:`all_ones` without a pass of its own), else ``(0.0, False)``.  ``unit``: every
    stored value is 1.0 and is not read (the same bits; ignored when counting).

    The rows in two halves as in :func:`gram_rows` (when they hold at least _SPLIT times d
    entries and at least _SPLIT_NNZ), the second half's sums added to the first's; ``nt`` > 1
    runs the halves on two threads: the same bits for any ``nt``."""
    n = indptr.shape[0] - 1
    d = out.shape[0]
    two = r2.shape[0] == n
    count = counts.shape[0] == d
    out[:] = 0.0
    if two:
        out2[:] = 0.0
    if count:
        counts[:] = 0
    if not _split(indptr, d):
        amax, vmin = _grad_rows_block(indptr, indices, data, r, out, r2, out2, counts, unit,
                                      0, n)
        return amax, count and vmin == 1.0 and amax == 1.0
    mid = _half_rows(indptr)
    t1 = np.zeros(d)
    t2 = np.zeros(out2.shape[0] if two else 0)
    tc = np.zeros(d if count else 0, dtype=np.int64)
    ext = np.empty((2, 2))  # each half's (max |x_ij|, min x_ij)
    if nt > 1:
        _grad_rows_halves(indptr, indices, data, r, out, r2, out2, counts, unit, t1, t2, tc,
                          mid, ext)
    else:
        ext[0, 0], ext[0, 1] = _grad_rows_block(indptr, indices, data, r, out, r2, out2,
                                                counts, unit, 0, mid)
        ext[1, 0], ext[1, 1] = _grad_rows_block(indptr, indices, data, r, t1, r2, t2, tc,
                                                unit, mid, n)
    for j in range(d):
        out[j] += t1[j]
    for j in range(t2.shape[0]):
        out2[j] += t2[j]
    for j in range(tc.shape[0]):
        counts[j] += tc[j]
    amax = max(ext[0, 0], ext[1, 0])
    return amax, count and min(ext[0, 1], ext[1, 1]) == 1.0 and amax == 1.0


@njit(**_PAR)
def _grad_rows_halves(indptr, indices, data, r, out, r2, out2, counts, unit, t1, t2, tc, mid,
                      ext):
    """:func:`grad_rows`' two halves of the rows on two of Numba's threads, into (out, out2,
    counts) and (t1, t2, tc) (:func:`threaded`)."""
    n = indptr.shape[0] - 1
    for t in prange(2):
        if t == 0:
            ext[0, 0], ext[0, 1] = _grad_rows_block(indptr, indices, data, r, out, r2, out2,
                                                    counts, unit, 0, mid)
        else:
            ext[1, 0], ext[1, 1] = _grad_rows_block(indptr, indices, data, r, t1, r2, t2, tc,
                                                    unit, mid, n)


@njit(**_JIT)
def _grad_rows_block(indptr, indices, data, r, out, r2, out2, counts, unit, i0, i1):
    """Rows i0 <= i < i1 of :func:`grad_rows` added to out (out2, counts as it says);
    returns (max |x_ij|, min x_ij) over them when counting, else (0.0, inf)."""
    n = indptr.shape[0] - 1
    two = r2.shape[0] == n
    count = counts.shape[0] == out.shape[0]
    amax = 0.0
    vmin = math.inf
    if unit and not count:
        for i in range(UINDEX(i0), UINDEX(i1)):
            ri = r[i]
            r2i = r2[i] if two else 0.0
            for q in range(UINDEX(indptr[i]), UINDEX(indptr[i + UINDEX(1)])):
                j = UINDEX(indices[q])
                out[j] += ri
                if two:
                    out2[j] += r2i
        return amax, vmin
    for i in range(UINDEX(i0), UINDEX(i1)):
        ri = r[i]
        r2i = r2[i] if two else 0.0
        for q in range(UINDEX(indptr[i]), UINDEX(indptr[i + UINDEX(1)])):
            j = UINDEX(indices[q])
            v = data[q]
            out[j] += v * ri
            if two:
                out2[j] += v * r2i
            if count:
                counts[j] += 1
                # (the smallest value, not a running flag: the flag's chain compiled slower)
                vmin = min(vmin, v)
                if abs(v) > amax:
                    amax = abs(v)
    return amax, vmin


#: The passes over X's rows that sum into a matrix or vector of p values (:func:`gram_rows`,
#: :func:`grad_rows`) take the rows in two halves when they hold at least _SPLIT times p
#: entries (a second buffer to zero and add) and at least _SPLIT_NNZ (a pass worth a second
#: thread).
_SPLIT = 4
_SPLIT_NNZ = 1 << 16
#: :func:`gram_rows_stale` updates on the caller's threads when the rows that moved hold at
#: least _STALE_NNZ entries (their pairs, a few times as many, make the pass).
_STALE_NNZ = 1 << 15


@njit(**_JIT)
def _split(indptr, p):
    """Whether a pass over a CSR X's rows summing into p values takes them in two halves."""
    n = indptr.shape[0] - 1
    nnz = indptr[n] - indptr[0]
    return n >= 2 and nnz >= _SPLIT * p and nnz >= _SPLIT_NNZ


@njit(**_JIT)
def _half_rows(indptr):
    """The row that splits a CSR X's rows into two halves of about equal entries (at least
    one row each; n >= 2)."""
    n = indptr.shape[0] - 1
    mid = np.searchsorted(indptr, (indptr[0] + indptr[n]) // 2)
    return min(max(mid, 1), n - 1)


@njit(**_JIT)
def row_matvec(indptr, indices, data, w, b, out):
    """out = X w + b from the rows of a CSR X."""
    n = indptr.shape[0] - 1
    for i in range(UINDEX(n)):
        acc = b
        for q in range(UINDEX(indptr[i]), UINDEX(indptr[i + UINDEX(1)])):
            acc += data[q] * w[UINDEX(indices[q])]
        out[i] = acc


@njit(**_JIT)
def _col_dot(indptr, indices, data, j, r):
    """X[:, j]^T r over column j's stored entries, in their order."""
    ju = UINDEX(j)
    acc = 0.0
    for q in range(UINDEX(indptr[ju]), UINDEX(indptr[ju + UINDEX(1)])):
        acc += data[q] * r[UINDEX(indices[q])]
    return acc


@njit(**_JIT)
def grad_cols(indptr, indices, data, cols, r, out):
    """out[k] = sum_i X[i, cols[k]] r_i."""
    for k in range(cols.shape[0]):
        out[k] = _col_dot(indptr, indices, data, cols[k], r)


@njit(**_JIT)
def grad_skip(indptr, indices, data, skip, r, w, a, out, nt=1):
    """out[j] = X[:, j]^T r + a w_j for every column j with ``skip[j]`` False (the other
    entries untouched): :func:`grad_cols` over those columns and then ``+ a * w``, the same
    arithmetic, without index arrays of the columns kept.  ``nt``: threads, each taking a
    range of whole columns of about equal entries (the same bits for any number)."""
    d = out.shape[0]
    if nt > 1 and d > 1:
        bounds = np.empty(nt + 1, dtype=np.int64)
        for t in range(nt + 1):
            bounds[t] = np.searchsorted(indptr[:d + 1], indptr[0] + (indptr[d] - indptr[0])
                                        * t // nt)
        bounds[0], bounds[nt] = 0, d
        _skip_par(indptr, indices, data, skip, r, w, a, out, bounds)
    else:
        _skip_range(indptr, indices, data, skip, r, w, a, out, 0, d)


@njit(**_PAR)
def _skip_par(indptr, indices, data, skip, r, w, a, out, bounds):
    """:func:`grad_skip`'s column ranges ``bounds`` on Numba's threads (:func:`threaded`)."""
    for t in prange(bounds.shape[0] - 1):
        _skip_range(indptr, indices, data, skip, r, w, a, out, bounds[t], bounds[t + 1])


@njit(inline="always", **_JIT)
def _skip_range(indptr, indices, data, skip, r, w, a, out, j0, j1):
    """The columns j0 <= j < j1 of :func:`grad_skip`."""
    for j in range(UINDEX(j0), UINDEX(j1)):
        if not skip[j]:
            out[j] = _col_dot(indptr, indices, data, j, r) + a * w[j]


@njit(**_JIT)
def all_ones(x):
    """True when every entry of x is exactly 1.0 (stops at the first other): a binary X,
    whose kernels here may then skip reading its values (``unit=True``; x * 1.0 == x and
    1.0 * 1.0 == 1.0 exactly, so they compute the same bits)."""
    for i in range(UINDEX(x.shape[0])):
        if x[i] != 1.0:
            return False
    return True


@njit(**_JIT)
def _grad_hdiag_col(indptr, indices, data, j, r, D, unit=False):
    """(X[:, j]^T r, sum_i D_i X[i, j]^2) in one pass over column j (``unit``: every stored
    value is 1.0 and is not read; its sums then in four interleaved partial sums each,
    independent chains of additions as in :func:`_dot_gather4`)."""
    ju = UINDEX(j)
    acc = 0.0
    acc2 = 0.0
    if unit:
        q1 = UINDEX(indptr[ju + UINDEX(1)])
        q = UINDEX(indptr[ju])
        a1 = a2 = a3 = 0.0
        b1 = b2 = b3 = 0.0
        while q + UINDEX(4) <= q1:
            i0 = UINDEX(indices[q])
            i1 = UINDEX(indices[q + UINDEX(1)])
            i2 = UINDEX(indices[q + UINDEX(2)])
            i3 = UINDEX(indices[q + UINDEX(3)])
            acc += r[i0]
            a1 += r[i1]
            a2 += r[i2]
            a3 += r[i3]
            acc2 += D[i0]
            b1 += D[i1]
            b2 += D[i2]
            b3 += D[i3]
            q += UINDEX(4)
        while q < q1:
            i = UINDEX(indices[q])
            acc += r[i]
            acc2 += D[i]
            q += UINDEX(1)
        return (acc + a1) + (a2 + a3), (acc2 + b1) + (b2 + b3)
    for q in range(UINDEX(indptr[ju]), UINDEX(indptr[ju + UINDEX(1)])):
        i = UINDEX(indices[q])
        v = data[q]
        acc += v * r[i]
        acc2 += v * v * D[i]
    return acc, acc2


@njit(**_JIT)
def grad_hdiag_cols(indptr, indices, data, cols, r, D, g, h, unit=False, nt=1):
    """g[k] = X[:, j]^T r and h[k] = sum_i D_i X[i, j]^2 for j = cols[k] (one pass;
    ``unit``: X binary, :func:`all_ones`; ``nt``: threads, each taking a range of whole
    columns: the same bits for any number)."""
    none = np.empty(0, dtype=np.int64)
    _hdiag(indptr, indices, data, cols, cols, r, D, none, g[:0], h[:0], g, h, unit, nt)


@njit(**_JIT)
def grad_hdiag_kept(indptr, indices, data, feats, cols, r, D, kf, kg, kh, g, h, unit=False,
                    nt=1):
    """:func:`grad_hdiag_cols` over the columns ``cols`` of the features ``feats``, except
    for a feature found in ``kf`` (its values ``kg``, ``kh`` kept from the same point):
    copied from there instead of a pass over its column.  ``feats`` and ``kf`` sorted
    ascending."""
    _hdiag(indptr, indices, data, feats, cols, r, D, kf, kg, kh, g, h, unit, nt)


#: A column's cost in stored entries, beyond its entries, when :func:`_col_parts` splits
#: columns between threads (its loop's set-up and two stores).
_COL_COST = 16


@njit(**_JIT)
def _hdiag(indptr, indices, data, feats, cols, r, D, kf, kg, kh, g, h, unit, nt):
    """:func:`grad_hdiag_kept` (kf empty: :func:`grad_hdiag_cols`) on up to nt threads."""
    m = cols.shape[0]
    if nt > 1 and m > 1:
        bounds = _col_parts(indptr, cols, min(nt, m))
        _hdiag_par(indptr, indices, data, feats, cols, r, D, kf, kg, kh, g, h, unit, bounds)
    else:
        _hdiag_range(indptr, indices, data, feats, cols, r, D, kf, kg, kh, g, h, unit, 0, m)


@njit(**_PAR)
def _hdiag_par(indptr, indices, data, feats, cols, r, D, kf, kg, kh, g, h, unit, bounds):
    """:func:`_hdiag`'s column ranges ``bounds`` on Numba's threads (:func:`threaded`)."""
    for t in prange(bounds.shape[0] - 1):
        _hdiag_range(indptr, indices, data, feats, cols, r, D, kf, kg, kh, g, h, unit,
                     bounds[t], bounds[t + 1])


@njit(inline="always", **_JIT)
def _hdiag_range(indptr, indices, data, feats, cols, r, D, kf, kg, kh, g, h, unit, k0, k1):
    """The columns k0 <= k < k1 of :func:`grad_hdiag_kept` (kf empty: of
    :func:`grad_hdiag_cols`)."""
    nk = kf.shape[0]
    p = 0
    if nk > 0 and k0 < k1:
        p = np.searchsorted(kf, feats[k0])
    for k in range(k0, k1):
        if nk > 0:
            f = feats[k]
            while p < nk and kf[p] < f:
                p += 1
            if p < nk and kf[p] == f:
                g[k] = kg[p]
                h[k] = kh[p]
                continue
        g[k], h[k] = _grad_hdiag_col(indptr, indices, data, cols[k], r, D, unit)


@njit(**_JIT)
def _col_parts(indptr, cols, T):
    """Bounds (int64, T + 1) of T contiguous ranges of ``cols`` of about equal cost (their
    stored entries plus _COL_COST each): the threads' shares of a pass over columns."""
    m = cols.shape[0]
    cum = np.empty(m + 1)
    cum[0] = 0.0
    for k in range(m):
        j = UINDEX(cols[k])
        cum[k + 1] = cum[k] + np.float64(indptr[j + UINDEX(1)] - indptr[j]) + _COL_COST
    bounds = np.empty(T + 1, dtype=np.int64)
    bounds[0] = 0
    for t in range(1, T):
        bounds[t] = max(bounds[t - 1], np.searchsorted(cum, cum[m] * t / T))
    bounds[T] = m
    return bounds


@njit(**_JIT)
def col_matvec(indptr, indices, data, cols, vals, b, out, unit=False):
    """out = sum_k vals[k] X[:, cols[k]] + b (margins from the non-zero coefficients;
    ``unit``: X binary, :func:`all_ones`)."""
    out[:] = b
    for k in range(cols.shape[0]):
        v = vals[k]
        if v == 0.0:
            continue
        j = UINDEX(cols[k])
        if unit:
            for q in range(UINDEX(indptr[j]), UINDEX(indptr[j + UINDEX(1)])):
                out[UINDEX(indices[q])] += v
            continue
        for q in range(UINDEX(indptr[j]), UINDEX(indptr[j + UINDEX(1)])):
            out[UINDEX(indices[q])] += v * data[q]


@njit(**_JIT)
def newton_soft(G, H, wj, lam):
    """wj + z for the z minimising G z + H z^2 / 2 + lam |wj + z| (H > 0); exactly 0.0 when
    the minimiser is the kink (a rounded wj - wj would leave a tiny non-zero whose sign then
    decides the subgradient)."""
    if G + lam <= H * wj:
        return wj - (G + lam) / H
    if G - lam >= H * wj:
        return wj - (G - lam) / H
    return 0.0


@njit(**_JIT)
def coordinate_violation(G, wj, lam, m_old, n_shrink):
    """(|minimum-norm subgradient| of the model in one coordinate, shrink?) for model
    gradient G at wj: shrink is True for a zero coordinate whose G lies inside (-lam, lam)
    by more than the last sweep's largest violation ``m_old`` over ``n_shrink`` (newGLMNET)."""
    if wj > 0.0:
        return abs(G + lam), False
    if wj < 0.0:
        return abs(G - lam), False
    v = abs(G) - lam
    if v < 0.0:
        return 0.0, lam - abs(G) > m_old / n_shrink
    return v, False


@njit(**_JIT)
def tally(v, vsum, viol):
    """A coordinate's violation v added to a sweep's sum and maximum: (vsum + v, max)."""
    return vsum + v, (v if v > viol else viol)


@njit(**_JIT)
def keep(active, k_out, k, v, vsum, viol):
    """A coordinate k kept in the active list (written at ``k_out``) with its violation v
    tallied: ``(k_out + 1, vsum + v, max(viol, v))``."""
    active[k_out] = k
    vsum, viol = tally(v, vsum, viol)
    return k_out + 1, vsum, viol


@njit(**_JIT)
def ring_slot(n_it, K):
    """Anderson's ring of K + 1 iterates: ``(slot for the next iterate, the updated count,
    whether the ring is full)`` (a full ring restarts the count)."""
    slot = n_it % (K + 1)
    n_it += 1
    if n_it == K + 1:
        return slot, 0, True
    return slot, n_it, False


@njit(**_JIT)
def end_of_sweep(vsum, viol, tol, full, active, n_active, m):
    """After a sweep with violations summing to ``vsum`` (largest ``viol``): stop when
    ``vsum <= tol`` on a sweep over every coordinate; when only the unshrunk ones reached
    it, go back to all of them (a confirming sweep).  Returns ``(stop, active, n_active,
    m_old, full)``."""
    if vsum <= tol:
        if full:
            return True, active, n_active, viol, full
        return False, np.arange(m), m, np.inf, True
    return False, active, n_active, viol, n_active == m


@njit(**_JIT)
def _model_value(w, g, D, lam, a, gb, dw, db, xd):
    """The model's value minus its constant: g.dw + gb db + 1/2 xd^T diag(D) xd
    + a/2 ||dw||^2 + lam (||w + dw||_1 - ||w||_1)."""
    out = gb * db
    for k in range(dw.shape[0]):
        out += dw[k] * (g[k] + 0.5 * a * dw[k]) + lam * (abs(w[k] + dw[k]) - abs(w[k]))
    q = 0.0
    for i in range(xd.shape[0]):
        q += D[i] * xd[i] * xd[i]
    return out + 0.5 * q


@njit(**_JIT)
def anderson_step(it_dw, it_xd, it_db, K):
    """Anderson extrapolation of the last K + 1 iterates (rows 0..K, oldest first): the
    affine combination sum_k c_k iterate_{k+1} with c minimising ||sum_k c_k (iterate_{k+1}
    - iterate_k)|| over sum c = 1 (the differences measured on dw and db).  Returns
    (ok, dw, xd, db); ok is False when the system is singular."""
    m = it_dw.shape[1]
    U = np.empty((K, m + 1))
    for k in range(K):
        for j in range(m):
            U[k, j] = it_dw[k + 1, j] - it_dw[k, j]
        U[k, m] = it_db[k + 1] - it_db[k]
    G = U @ U.T
    scale = 0.0
    for k in range(K):
        scale = max(scale, G[k, k])
    if not scale > 0.0:
        return False, it_dw[K].copy(), it_xd[K].copy(), it_db[K]
    for k in range(K):
        G[k, k] += 1e-10 * scale
    c = np.linalg.solve(G, np.ones(K))
    tot = c.sum()
    if not (abs(tot) > 0.0 and np.isfinite(tot)):
        return False, it_dw[K].copy(), it_xd[K].copy(), it_db[K]
    c /= tot
    dw = np.zeros(m)
    xd = np.zeros(it_xd.shape[1])
    db = 0.0
    for k in range(K):
        dw += c[k] * it_dw[k + 1]
        xd += c[k] * it_xd[k + 1]
        db += c[k] * it_db[k + 1]
    return True, dw, xd, db


#: Anderson memory of :func:`cd_model` (iterates kept: ANDERSON_K + 1).
ANDERSON_K = 5


@njit(inline="always", **_JIT)
def _dot_gather4(indices, q0, q1, D, xd):
    """sum of D_i xd_i over i = indices[q0:q1] (unsigned bounds), in four interleaved partial
    sums (independent chains of additions: the loads of one overlap the others')."""
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    q = q0
    while q + UINDEX(4) <= q1:
        i0 = UINDEX(indices[q])
        i1 = UINDEX(indices[q + UINDEX(1)])
        i2 = UINDEX(indices[q + UINDEX(2)])
        i3 = UINDEX(indices[q + UINDEX(3)])
        a0 += D[i0] * xd[i0]
        a1 += D[i1] * xd[i1]
        a2 += D[i2] * xd[i2]
        a3 += D[i3] * xd[i3]
        q += UINDEX(4)
    while q < q1:
        i = UINDEX(indices[q])
        a0 += D[i] * xd[i]
        q += UINDEX(1)
    return (a0 + a1) + (a2 + a3)


@njit(**_JIT)
def cd_model(indptr, indices, data, cols, w, g, h, D, lam, a, fit_b, gb, hb, dw, xd,
             tol, max_sweeps, n_shrink, anderson=True, weighted=False, unit=False):
    """Coordinate descent on the proximal Newton model over the working set ``cols``.

    Minimises over (dw (m,), db)::

        q = g.dw + gb db + 1/2 v^T diag(D) v + a/2 ||dw||^2 + lam ||w + dw||_1,
        v = X[:, cols] dw + db   (kept in xd, (n,))

    ``g``, ``h`` are the smooth gradient (l2 part included) and the curvature
    ``sum_i D_i x_ij^2 + a (+ a tiny ridge)`` on the working set.  ``dw`` and ``xd`` are
    updated in place (start from zeros, or from a previous model solution with the matching
    xd).  Shrinking as in newGLMNET (:func:`coordinate_violation`); the sweeps stop when a
    sweep's violations sum to at most ``tol`` (LIBLINEAR's 1-norm rule), confirmed over all
    coordinates (:func:`end_of_sweep`).

    With ``anderson``, every ``ANDERSON_K`` sweeps the last iterates are extrapolated
    (:func:`anderson_step`, as skglm does for its inner solver) and the extrapolation replaces
    the iterate when it lowers the model (:func:`_model_value`); the sweeps then go on from
    there, so the stopping rule and the fixed point are those of plain coordinate descent.

    With ``weighted``, the working set's ``x_ij D_i`` are computed once (one pass over its
    entries) and each coordinate's gradient then reads them instead of x_ij and D_i (the
    same products: the same bits); it pays for models that take many sweeps.

    ``unit``: every stored value of X is 1.0 (:func:`all_ones`) and is not read (a binary X's
    sweeps then stream only its row indices; without ``weighted``, a coordinate's sum over
    its column in four interleaved partial sums, :func:`_dot_gather4`: equal to the
    one-chain sum to rounding).

    Returns ``(db, sweeps, violation)``: the intercept step, the number of sweeps, the last
    sweep's largest violation.
    """
    m = cols.shape[0]
    off = np.zeros(m + 1 if weighted else 1, dtype=np.int64)
    dx = np.empty(0)
    if weighted:
        for k in range(m):
            j = UINDEX(cols[k])
            off[k + 1] = off[k] + np.int64(indptr[j + UINDEX(1)]) - np.int64(indptr[j])
        dx = np.empty(off[m])
        for k in range(UINDEX(m)):
            j = UINDEX(cols[k])
            e = UINDEX(off[k])
            for q in range(UINDEX(indptr[j]), UINDEX(indptr[j + UINDEX(1)])):
                dx[e] = data[q] * D[UINDEX(indices[q])]
                e += UINDEX(1)
    K = ANDERSON_K
    it_dw = np.empty((K + 1, m if anderson else 0))
    it_xd = np.empty((K + 1, xd.shape[0] if anderson else 0))
    it_db = np.empty(K + 1)
    n_it = 0
    active = np.arange(m)
    n_active = m
    db = 0.0
    sweeps = 0
    m_old = np.inf
    viol = np.inf
    full = True
    while sweeps < max_sweeps:
        sweeps += 1
        viol = 0.0
        vsum = 0.0
        k_out = 0
        for kk in range(n_active):
            k = UINDEX(active[kk])
            j = UINDEX(cols[k])
            acc = 0.0
            if weighted:
                e = UINDEX(off[k])
                for q in range(UINDEX(indptr[j]), UINDEX(indptr[j + UINDEX(1)])):
                    acc += dx[e] * xd[UINDEX(indices[q])]
                    e += UINDEX(1)
            elif unit:
                acc = _dot_gather4(indices, UINDEX(indptr[j]), UINDEX(indptr[j + UINDEX(1)]), D, xd)
            else:
                for q in range(UINDEX(indptr[j]), UINDEX(indptr[j + UINDEX(1)])):
                    i = UINDEX(indices[q])
                    acc += data[q] * D[i] * xd[i]
            G = g[k] + a * dw[k] + acc
            H = h[k]
            wj = w[k] + dw[k]
            vk, shrink = coordinate_violation(G, wj, lam, m_old, n_shrink)
            if shrink:
                continue  # left out for the rest of this model solve
            k_out, vsum, viol = keep(active, k_out, k, vk, vsum, viol)
            dnew = newton_soft(G, H, wj, lam) - w[k]
            z = dnew - dw[k]
            if z == 0.0:
                continue
            dw[k] = dnew
            if unit:
                for q in range(UINDEX(indptr[j]), UINDEX(indptr[j + UINDEX(1)])):
                    xd[UINDEX(indices[q])] += z
            else:
                for q in range(UINDEX(indptr[j]), UINDEX(indptr[j + UINDEX(1)])):
                    xd[UINDEX(indices[q])] += z * data[q]
        n_active = k_out
        if fit_b:
            acc = 0.0
            for i in range(xd.shape[0]):
                acc += D[i] * xd[i]
            G = gb + acc
            vb = abs(G)
            vsum, viol = tally(vb, vsum, viol)
            z = -G / hb
            if z != 0.0:
                db += z
                for i in range(xd.shape[0]):
                    xd[i] += z
        stop, active, n_active, m_old, full = end_of_sweep(vsum, viol, tol, full, active,
                                                            n_active, m)
        if stop:
            break
        if anderson:
            slot, n_it, full_ring = ring_slot(n_it, K)
            it_dw[slot] = dw
            it_xd[slot] = xd
            it_db[slot] = db
            if full_ring:
                ok, dw2, xd2, db2 = anderson_step(it_dw, it_xd, it_db, K)
                if ok and (_model_value(w, g, D, lam, a, gb, dw2, db2, xd2)
                           < _model_value(w, g, D, lam, a, gb, dw, db, xd)):
                    dw[:] = dw2
                    xd[:] = xd2
                    db = db2
    return db, sweeps, viol


@njit(**_JIT)
def direction_min(a, c, u, idx, val, lam, bp, wt):
    """The step s along the direction v (its entries ``val`` at ``idx``) minimising
    ``phi(s) = a s + c s^2 / 2 + sum_j lam_j |u_j + s v_j|`` (c >= 0), and the coordinate
    whose kink it is (-1: none).  ``bp``, ``wt`` are scratch of at least ``idx``'s length.

    phi's derivative is non-decreasing; the scan over its kinks ``-u_j / v_j`` (those with
    ``lam_j v_j != 0``) in increasing order finds where it crosses 0: between two kinks
    ``s = -(a + W) / c``, at a kink when its jump holds 0.  Returns ``(0.0, -1)`` when phi is
    unbounded below (c = 0 and |a| above the kinks' total weight: not a null direction of a
    bounded model) or has no kink and no curvature.
    """
    k = 0
    total = 0.0
    for q in range(idx.shape[0]):
        j = idx[q]
        if lam[j] > 0.0 and val[q] != 0.0:
            bp[k] = -u[j] / val[q]
            wt[k] = lam[j] * abs(val[q])
            total += wt[k]
            k += 1
    order = np.argsort(bp[:k])
    W = -total  # phi'(s) - a - c s left of every kink
    for q in range(k):
        o = order[q]
        b = bp[o]
        left = a + c * b + W
        if left >= 0.0:  # the root lies before this kink (after the previous one)
            if c > 0.0:
                return -(a + W) / c, -1
            return 0.0, -1
        W += 2.0 * wt[o]
        if left + 2.0 * wt[o] >= 0.0:
            # the kink's coordinate (the first with this breakpoint among ``idx``)
            for qq in range(idx.shape[0]):
                j = idx[qq]
                if lam[j] > 0.0 and val[qq] != 0.0 and -u[j] / val[qq] == b:
                    return b, j
            return b, -1
    if c > 0.0:
        return -(a + W) / c, -1
    return 0.0, -1


@njit(**_JIT)
def null_moves(u, G0, Hd, lam, nptr, nidx, nval, HN, cN, bp, wt):
    """Exact minimisation of the model along each direction k of a basis of (near-)null
    directions of its Hessian (entries ``nval[nptr[k]:nptr[k + 1]]`` at ``nidx[...]``;
    ``HN[k]`` = H v_k, ``cN[k]`` = max(v_k^T H v_k, 0)), in turn: u and the model's
    gradient part ``Hd`` (the model gradient is ``G0 + Hd``) are updated in place.  A move
    is taken only when it lowers the model by more than its rounding (1e-13 of the terms
    it changes), so a flat stretch never moves u back and forth; the coordinate whose kink
    a move stops at is set to exactly 0.0.  Returns the number of moves taken."""
    p = u.shape[0]
    moved = 0
    for k in range(nptr.shape[0] - 1):
        lo, hi = nptr[k], nptr[k + 1]
        idx = nidx[lo:hi]
        val = nval[lo:hi]
        a = 0.0
        for q in range(hi - lo):
            a += val[q] * (G0[idx[q]] + Hd[idx[q]])
        s, jz = direction_min(a, cN[k], u, idx, val, lam, bp, wt)
        if s == 0.0:
            continue
        gain = a * s + 0.5 * cN[k] * s * s
        size = abs(a * s) + 0.5 * cN[k] * s * s
        for q in range(hi - lo):
            j = idx[q]
            gain += lam[j] * (abs(u[j] + s * val[q]) - abs(u[j]))
            size += lam[j] * (abs(u[j]) + abs(s * val[q]))
        if not gain < -1e-13 * size:
            continue
        for q in range(hi - lo):
            u[idx[q]] += s * val[q]
        if jz >= 0:
            u[jz] = 0.0
        for i in range(p):
            Hd[i] += s * HN[k, i]
        moved += 1
    return moved


@njit(**_JIT)
def cd_dense(H, g, theta, lam, tol, max_sweeps):
    """Coordinate descent on the model g.(u - theta) + 1/2 (u - theta)^T H (u - theta)
    + sum_j lam_j |u_j| with a dense H (p, p); lam_j = 0 for unpenalised entries.

    Returns ``(u, sweeps, violation)`` (the last sweep's largest violation); ``tol`` bounds
    a sweep's sum of violations, as in :func:`cd_model`, whose shrinking it shares.
    Coordinates with H_jj <= 0 are left alone (they do not move the model).
    """
    return _cd_dense(H, g, theta, lam, tol, max_sweeps, np.zeros(1, dtype=np.int64),
                     np.empty(0, dtype=np.int64), np.empty(0), np.empty((0, 0)), np.empty(0))


@njit(**_JIT)
def cd_dense_null(H, g, theta, lam, tol, max_sweeps, nptr, nidx, nval, HN, cN):
    """:func:`cd_dense` with a basis of H's null directions (k of them: ``nptr`` (k + 1,)
    int64, entries ``nval[nptr[q]:nptr[q + 1]]`` at ``nidx[...]`` (int64, float64),
    ``HN`` (k, p) = (H v_q)_q, ``cN`` (k,) = max(v_q^T H v_q, 0)): every sweep is followed
    by the exact minimisation of the model along each of them (:func:`null_moves`).  Along
    a direction that H does not curve (one-hot groups against the intercept, duplicate
    columns) only the L1 term changes, and single-coordinate steps, each held back by its
    own curvature H_jj, cross it by about lam_j / H_jj per sweep."""
    return _cd_dense(H, g, theta, lam, tol, max_sweeps, nptr, nidx, nval, HN, cN)


@njit(**_JIT)
def _cd_dense(H, g, theta, lam, tol, max_sweeps, nptr, nidx, nval, HN, cN):
    """:func:`cd_dense` (``nptr`` of length 1: no null directions) and
    :func:`cd_dense_null`."""
    p = g.shape[0]
    u = theta.copy()
    Hd = np.zeros(p)
    active = np.arange(p)
    n_active = p
    m_old = np.inf
    viol = np.inf
    full = True
    sweeps = 0
    bp, wt = np.empty(p), np.empty(p)  # null_moves' scratch
    while sweeps < max_sweeps:
        sweeps += 1
        viol = 0.0
        vsum = 0.0
        k_out = 0
        for kk in range(n_active):
            j = UINDEX(active[kk])
            hjj = H[j, j]
            if hjj <= 0.0:
                continue
            G = g[j] + Hd[j]
            lj = lam[j]
            uj = u[j]
            vk, shrink = coordinate_violation(G, uj, lj, m_old, p)
            if shrink:
                continue
            k_out, vsum, viol = keep(active, k_out, j, vk, vsum, viol)
            new = newton_soft(G, hjj, uj, lj)
            z = new - uj
            if z == 0.0:
                continue
            u[j] = new
            for i in range(UINDEX(p)):
                Hd[i] += z * H[j, i]
        n_active = k_out
        stop, active, n_active, m_old, full = end_of_sweep(vsum, viol, tol, full, active,
                                                            n_active, p)
        if stop:
            break
        if nptr.shape[0] > 1 and null_moves(u, g, Hd, lam, nptr, nidx, nval, HN, cN, bp,
                                            wt) and not full:
            # a null move may have moved shrunk coordinates: back to all of them
            active, n_active, m_old, full = np.arange(p), p, np.inf, True
    return u, sweeps, viol


@njit(**_JIT)
def gram_rows(indptr, indices, data, pos, D, fit_b, H, unit=False, nt=1):
    """The model's Hessian on a working set from the rows of a CSR X: with m working columns
    (``pos[j]`` = index of column j in the set, -1 outside), ``H[:m, :m] = X_W^T diag(D) X_W``
    and, when ``fit_b``, the intercept's row and column ``H[m, :m] = D^T X_W``,
    ``H[m, m] = sum D``.  H (m + fit_b, m + fit_b) is overwritten; O(sum_i nnz_i(W)^2).
    ``unit``: every stored value is 1.0 (:func:`all_ones`) and is not read (the same bits).

    When X's rows hold at least _SPLIT times as many entries as H (the size of a second
    matrix to zero and add) and at least _SPLIT_NNZ (a pass worth a second thread), the
    rows are taken in two halves of about equal entries, the second half's sum added to the
    first's at the end (equal to the one-pass sum to rounding); ``nt`` > 1 builds the halves
    on two threads (:func:`threaded`).  The split depends on the sizes alone: the same bits
    for any ``nt``."""
    n = indptr.shape[0] - 1
    p = H.shape[0]
    H[:, :] = 0.0
    if not _split(indptr, p * p):
        _gram_block(indptr, indices, data, pos, D, fit_b, H, unit, 0, n)
        _lower_to_upper(H)
        return
    mid = _half_rows(indptr)
    T = np.zeros_like(H)
    if nt > 1:
        _gram_halves(indptr, indices, data, pos, D, fit_b, H, T, unit, mid)
    else:
        _gram_block(indptr, indices, data, pos, D, fit_b, H, unit, 0, mid)
        _gram_block(indptr, indices, data, pos, D, fit_b, T, unit, mid, n)
    for a in range(p):
        for e in range(a + 1):
            H[a, e] += T[a, e]
    _lower_to_upper(H)


@njit(**_PAR)
def _gram_halves(indptr, indices, data, pos, D, fit_b, H, T, unit, mid):
    """:func:`gram_rows`' two halves of the rows on two of Numba's threads, into H and T
    (:func:`threaded`)."""
    n = indptr.shape[0] - 1
    for t in prange(2):
        if t == 0:
            _gram_block(indptr, indices, data, pos, D, fit_b, H, unit, 0, mid)
        else:
            _gram_block(indptr, indices, data, pos, D, fit_b, T, unit, mid, n)


@njit(inline="always", **_JIT)
def _gram_block(indptr, indices, data, pos, D, fit_b, H, unit, i0, i1):
    """The rows i0 <= i < i1 with ``D_i != 0`` of :func:`gram_rows`' sum added to H's lower
    triangle (row m: the intercept's), in row order."""
    m = H.shape[0] - (1 if fit_b else 0)
    n = indptr.shape[0] - 1
    kk = np.empty(indices.shape[0] if n == 0 else 1 + int(np.max(np.diff(indptr))),
                  dtype=np.int64)
    vv = np.empty(kk.shape[0])
    for i in range(UINDEX(i0), UINDEX(i1)):
        Di = D[i]
        if Di == 0.0:
            continue
        c = UINDEX(0)
        for q in range(UINDEX(indptr[i]), UINDEX(indptr[i + UINDEX(1)])):
            # branch-free (the working set's entries come unpredictably): every entry
            # written, kept (c advanced) when in the working set
            k = pos[UINDEX(indices[q])]
            kk[c] = k
            vv[c] = data[q]  # (a binary X's too: without the copy it compiled slower)
            c += UINDEX(k >= 0)
        for a in range(c):
            ka = UINDEX(kk[a])
            va = Di if unit else Di * vv[a]
            for e in range(a + UINDEX(1)):
                kb = UINDEX(kk[e])
                v = va if unit else va * vv[e]
                if ka >= kb:
                    H[ka, kb] += v
                else:
                    H[kb, ka] += v
            if fit_b:
                H[m, ka] += va
        if fit_b:
            H[m, m] += Di


@njit(**_JIT)
def _lower_to_upper(H):
    for a in range(H.shape[0]):
        for e in range(a):
            H[e, a] = H[a, e]


@njit(**_JIT)
def gram_rows_stale(indptr, indices, data, pos, D, Du, rho, fit_b, H, unit=False, nt=1):
    """:func:`gram_rows`' matrix kept up to date: H holds it for the curvature weights Du
    (symmetric, on entry); each row whose weight moved by more than ``rho`` relative,
    ``|D_i - Du_i| > rho D_i``, has ``(D_i - Du_i) x_iW x_iW^T`` added (gram_rows over those
    rows' weight changes, the other rows skipped as zero weights) and ``Du_i = D_i`` (Du (n,)
    updated in place).  On return H is gram_rows' matrix for the new Du (to rounding), whose
    every weight is within ``rho D_i`` of D_i, so ``(1 - rho) X^T D X <= H <= (1 + rho)
    X^T D X`` (the data parts; Du >= 0, H positive semi-definite).  When more than half of
    the rows moved, H is rebuilt by gram_rows instead (Du = D).  Returns the number of rows
    updated (n when rebuilt).  ``rho >= 0``; ``nt``: gram_rows' threads for a rebuild (an
    update takes them when the rows that moved hold at least _STALE_NNZ entries: fewer make
    a pass too short to pay for them; the same bits either way)."""
    n = indptr.shape[0] - 1
    dd = np.zeros(n)
    upd = 0
    moved = 0  # the entries of the rows that moved
    for i in range(UINDEX(n)):
        delta = D[i] - Du[i]
        if abs(delta) > rho * D[i]:
            dd[i] = delta
            upd += 1
            moved += indptr[i + UINDEX(1)] - indptr[i]
    if 2 * upd > n:
        gram_rows(indptr, indices, data, pos, D, fit_b, H, unit, nt)
        Du[:] = D
        return n
    T = np.empty_like(H)
    gram_rows(indptr, indices, data, pos, dd, fit_b, T, unit,
              nt if moved >= _STALE_NNZ else 1)
    H += T
    for i in range(UINDEX(n)):
        if dd[i] != 0.0:
            Du[i] = D[i]
    return upd


@njit(**_JIT)
def gram_cols(indptr, indices, data, cols, D, fit_b, H, tmp):
    """:func:`gram_rows`' matrix (H (m + fit_b, m + fit_b), overwritten, for the working set
    ``cols`` of a CSC X) from the columns: column a's ``D_i x_ia`` scattered into ``tmp``
    (n, zeros on entry and on return), then dotted with the columns e <= a.
    O(sum_a sum_{e <= a} nnz_e): cheaper than a pass over the rows for a few columns."""
    m = cols.shape[0]
    H[:, :] = 0.0
    for a in range(m):
        j = UINDEX(cols[a])
        for q in range(UINDEX(indptr[j]), UINDEX(indptr[j + UINDEX(1)])):
            tmp[UINDEX(indices[q])] = D[UINDEX(indices[q])] * data[q]
        for e in range(a + 1):
            k = UINDEX(cols[e])
            acc = 0.0
            for q in range(UINDEX(indptr[k]), UINDEX(indptr[k + UINDEX(1)])):
                acc += tmp[UINDEX(indices[q])] * data[q]
            H[a, e] = acc
        if fit_b:
            acc = 0.0
            for q in range(UINDEX(indptr[j]), UINDEX(indptr[j + UINDEX(1)])):
                acc += tmp[UINDEX(indices[q])]
            H[m, a] = acc
        for q in range(UINDEX(indptr[j]), UINDEX(indptr[j + UINDEX(1)])):
            tmp[UINDEX(indices[q])] = 0.0
    if fit_b:
        acc = 0.0
        for i in range(D.shape[0]):
            acc += D[i]
        H[m, m] = acc
    for a in range(H.shape[0]):
        for e in range(a):
            H[e, a] = H[a, e]


#: The most columns a row's pattern is keyed on by :func:`row_groups` (a bit each in two
#: uint64 words).
GROUP_M = 128
#: :func:`row_groups_of_rows` gives up on rows that mostly differ: after each block of
#: _GROUP_BLOCK rows, when more than _GROUP_DISTINCT of the rows so far began a group.
_GROUP_BLOCK = 1024
_GROUP_DISTINCT = 0.75


#: A power of two's exponent from the top six bits of its product with a de Bruijn sequence
#: (:func:`gram_groups`' bit positions).
_DEBRUIJN_MUL = UINDEX(0x03F79D71B4CB0A89)
_DEBRUIJN = np.zeros(64, dtype=np.uint64)
for _k in range(64):
    _DEBRUIJN[((1 << _k) * 0x03F79D71B4CB0A89 % 2 ** 64) >> 58] = _k
del _k


@njit(**_JIT)
def _group_table(k0s, k1s, ng, room):
    """A hash table of int64 slots (a group's number, or -1) holding the ng distinct keys
    ``(k0s, k1s)[:ng]``, with room for ``room`` more: a power of two at least twice
    ``ng + room`` slots (at most half full: short probes)."""
    size = 16
    while size < 2 * (ng + room):
        size *= 2
    slot = np.full(size, -1, dtype=np.int64)
    mask = UINDEX(size - 1)
    shift = _group_shift(size)
    for t in range(ng):
        h = _group_slot(k0s[t], k1s[t], shift)
        while slot[h] >= 0:
            h = (h + UINDEX(1)) & mask
        slot[h] = t
    return slot


@njit(inline="always", **_JIT)
def _group_shift(size):
    """64 - log2(size) for a table of ``size`` slots (a power of two, at least 2)."""
    b = 0
    while (1 << b) < size:
        b += 1
    return UINDEX(64 - b)


@njit(inline="always", **_JIT)
def _group_slot(a0, a1, shift):
    """A key's first slot, ``(hash >> shift)``: the top bits of a multiplicative hash (they
    depend on every bit of the key; one-hot patterns often differ in high bits only)."""
    return ((a0 ^ (a1 * UINDEX(0xC2B2AE3D27D4EB4F))) * UINDEX(0x9E3779B97F4A7C15)) >> shift


@njit(**_JIT)
def _hash_rows(key0, key1, lo, hi, g, slot, k0s, k1s, ng):
    """Rows lo..hi-1, whose keys are ``(key0, key1)[i - lo]``, looked up in the hash table
    ``slot`` (:func:`_group_table`, room for them) over the groups' keys ``(k0s, k1s)[:ng]``:
    g[i] = the group of row i, a new key appended as group ng.  Returns the new number of
    groups."""
    mask = UINDEX(slot.shape[0] - 1)
    shift = _group_shift(slot.shape[0])
    for i in range(UINDEX(lo), UINDEX(hi)):
        a0 = key0[i - UINDEX(lo)]
        a1 = key1[i - UINDEX(lo)]
        h = _group_slot(a0, a1, shift)
        while True:
            t = slot[h]
            if t < 0:
                t = ng
                k0s[UINDEX(ng)] = a0
                k1s[UINDEX(ng)] = a1
                slot[h] = ng
                ng += 1
                break
            if k0s[UINDEX(t)] == a0 and k1s[UINDEX(t)] == a1:
                break
            h = (h + UINDEX(1)) & mask
        g[i] = t
    return ng


@njit(**_JIT)
def _grouped(k0s, k1s, ng):
    """The groups' keys as one (ng, 2) uint64 array."""
    keys = np.empty((ng, 2), dtype=np.uint64)
    for t in range(ng):
        keys[t, 0] = k0s[t]
        keys[t, 1] = k1s[t]
    return keys


@njit(**_JIT)
def row_groups(indptr, indices, cols, n):
    """Rows of a binary X grouped by their pattern on the working set ``cols`` of a CSC X
    (m = len(cols) <= GROUP_M; every stored value 1.0, which is not read): ``(g, keys)``
    with g (n,) int64 the group of each row and keys (n_groups, 2) uint64 the groups'
    patterns (bit k % 64 of word k // 64 set: column ``cols[k]`` holds the row), groups
    numbered by their first row.  One pass over the working set's entries and one hashed
    lookup per row (:func:`gram_groups` then builds the model's Hessian per group)."""
    key0 = np.zeros(n, dtype=np.uint64)
    key1 = np.zeros(n, dtype=np.uint64)
    for k in range(UINDEX(cols.shape[0])):
        j = UINDEX(cols[k])
        bit = UINDEX(1) << (k & UINDEX(63))
        lo, hi = UINDEX(indptr[j]), UINDEX(indptr[j + UINDEX(1)])
        if k < UINDEX(64):
            for q in range(lo, hi):
                key0[UINDEX(indices[q])] |= bit
        else:
            for q in range(lo, hi):
                key1[UINDEX(indices[q])] |= bit
    g = np.empty(n, dtype=np.int64)
    k0s = np.empty(n, dtype=np.uint64)
    k1s = np.empty(n, dtype=np.uint64)
    ng = _hash_rows(key0, key1, 0, n, g, _group_table(k0s, k1s, 0, n), k0s, k1s, 0)
    return g, _grouped(k0s, k1s, ng)


@njit(**_JIT)
def row_groups_of_rows(indptr, indices, pos, n):
    """:func:`row_groups` from the rows of a binary CSR X, the working set given by ``pos``
    (feature -> its place, < GROUP_M, or -1); gives up (g and keys of length 0) when, after a
    block of _GROUP_BLOCK rows, more than _GROUP_DISTINCT of the rows so far began a group
    (rows that mostly differ on the working set: their groups would not pay for the pass)."""
    key0 = np.empty(_GROUP_BLOCK, dtype=np.uint64)
    key1 = np.empty(_GROUP_BLOCK, dtype=np.uint64)
    g = np.empty(n, dtype=np.int64)
    k0s = np.empty(n, dtype=np.uint64)
    k1s = np.empty(n, dtype=np.uint64)
    slot = _group_table(k0s, k1s, 0, _GROUP_BLOCK)
    ng = 0
    for lo in range(0, n, _GROUP_BLOCK):
        hi = min(n, lo + _GROUP_BLOCK)
        if 2 * (ng + hi - lo) > slot.shape[0]:  # room for a block of new groups
            slot = _group_table(k0s, k1s, ng, 2 * (ng + hi - lo))
        for i in range(UINDEX(lo), UINDEX(hi)):
            a0 = UINDEX(0)
            a1 = UINDEX(0)
            for q in range(UINDEX(indptr[i]), UINDEX(indptr[i + UINDEX(1)])):
                # branch-free (most entries of a row are in the working set, unpredictably):
                # k = -1 wraps to the largest integer, in neither word's range
                ku = UINDEX(pos[UINDEX(indices[q])])
                bit = UINDEX(1) << (ku & UINDEX(63))
                a0 |= bit & (UINDEX(0) - UINDEX(ku < UINDEX(64)))
                a1 |= bit & (UINDEX(0) - UINDEX(ku - UINDEX(64) < UINDEX(64)))
            key0[i - UINDEX(lo)] = a0
            key1[i - UINDEX(lo)] = a1
        ng = _hash_rows(key0, key1, lo, hi, g, slot, k0s, k1s, ng)
        if hi < n and ng > _GROUP_DISTINCT * hi:
            return g[:0], _grouped(k0s, k1s, 0)
    return g, _grouped(k0s, k1s, ng)


@njit(**_JIT)
def gram_groups(g, keys, D, fit_b, H, Dg):
    """:func:`gram_rows`' matrix (H (m + fit_b, m + fit_b), overwritten) for a binary X from
    its rows' groups (:func:`row_groups`): each group's summed curvature ``Dg_t = sum of
    D_i over its rows`` (Dg: scratch of at least n_groups) added once per pair of its
    columns.  O(n + sum_t |pattern_t|^2): rows that repeat on the working set cost one
    addition each.  Equal to gram_rows' matrix up to rounding (the sums grouped)."""
    m = H.shape[0] - (1 if fit_b else 0)
    ng = keys.shape[0]
    H[:, :] = 0.0
    Dg[:ng] = 0.0
    for i in range(UINDEX(g.shape[0])):
        Dg[UINDEX(g[i])] += D[i]
    kk = np.empty(GROUP_M, dtype=np.uint64)
    for t in range(UINDEX(ng)):
        Dt = Dg[t]
        c = UINDEX(0)
        for word in range(2):
            key = keys[t, word]
            while key != UINDEX(0):  # its set bits, lowest first
                low = key & (~key + UINDEX(1))
                kk[c] = UINDEX(64 * word) + _DEBRUIJN[(low * _DEBRUIJN_MUL) >> UINDEX(58)]
                c += UINDEX(1)
                key ^= low
        for a in range(c):
            ka = kk[a]
            for e in range(a + UINDEX(1)):
                H[ka, kk[e]] += Dt
            if fit_b:
                H[m, ka] += Dt
        if fit_b:
            H[m, m] += Dt
    _lower_to_upper(H)


@njit(**_JIT)
def dense_cols(indptr, indices, data, cols, n, fit_b):
    """``X[:, cols]`` of a CSC X as a dense C-ordered (n, m + fit_b) float64 array, with a
    last column of ones when ``fit_b`` (the intercept's): the input of :func:`gram_dense`."""
    m = cols.shape[0]
    out = np.zeros((n, m + (1 if fit_b else 0)))
    for k in range(m):
        j = UINDEX(cols[k])
        for q in range(UINDEX(indptr[j]), UINDEX(indptr[j + UINDEX(1)])):
            out[UINDEX(indices[q]), k] = data[q]
    if fit_b:
        for i in range(n):
            out[i, m] = 1.0
    return out


@njit(**_JIT)
def dense_rows_of(indptr, indices, data, pos, m, fit_b):
    """:func:`dense_cols`' array (n, m + fit_b) from the rows of a CSR X (``pos[j]``: column
    j's place in the working set, -1 outside): row-major writes, one pass over X's entries
    (cheaper than the columns' strided writes when the working set holds most of them)."""
    n = indptr.shape[0] - 1
    out = np.zeros((n, m + (1 if fit_b else 0)))
    for i in range(UINDEX(n)):
        for q in range(UINDEX(indptr[i]), UINDEX(indptr[i + UINDEX(1)])):
            k = pos[UINDEX(indices[q])]
            if k >= 0:
                out[i, k] = data[q]
        if fit_b:
            out[i, m] = 1.0
    return out


@njit(**_JIT)
def grad_hdiag_dense(Xd, r, D, g, h):
    """:func:`grad_hdiag_cols` from dense rows Xd (n, >= m; :func:`dense_cols`) for the m
    columns of g and h: each column's sums in row order, as over its stored entries (the
    zeros add signed zeros: the same bits), with unit-stride updates."""
    m = g.shape[0]
    g[:] = 0.0
    h[:] = 0.0
    for i in range(UINDEX(Xd.shape[0])):
        ri = r[i]
        di = D[i]
        for a in range(UINDEX(m)):
            v = Xd[i, a]
            g[a] += v * ri
            h[a] += v * v * di


@njit(**_JIT)
def matvec_dense(Xd, vals, b, out):
    """:func:`col_matvec` from dense rows Xd (n, >= m; :func:`dense_cols`) for the m values
    ``vals``: each row's sum ``b + vals[0] x_i0 + ...`` in the same order (the zeros add
    signed zeros: the same values), four rows' sums interleaved."""
    m = vals.shape[0]
    n = Xd.shape[0]
    n4 = n - n % 4
    for i in range(0, n4, 4):
        a0 = b
        a1 = b
        a2 = b
        a3 = b
        for k in range(m):
            v = vals[k]
            a0 += v * Xd[i, k]
            a1 += v * Xd[i + 1, k]
            a2 += v * Xd[i + 2, k]
            a3 += v * Xd[i + 3, k]
        out[i] = a0
        out[i + 1] = a1
        out[i + 2] = a2
        out[i + 3] = a3
    for i in range(n4, n):
        acc = b
        for k in range(m):
            acc += vals[k] * Xd[i, k]
        out[i] = acc


@njit(**_JIT)
def gram_dense(Xd, D, H):
    """``H = Xd^T diag(D) Xd`` (p, p), overwritten, from dense rows Xd (n, p)
    (:func:`dense_cols`: with the ones column, H holds :func:`gram_rows`' intercept row and
    column too).  O(n p^2 / 2) multiply-adds with unit-stride inner loops, four rows' products
    summed per update of H: cheaper than :func:`gram_rows`' scattered updates when most of
    the working set's entries are non-zero."""
    n, p = Xd.shape
    H[:, :] = 0.0
    n4 = n - n % 4
    for i in range(0, n4, 4):
        d0, d1, d2, d3 = D[i], D[i + 1], D[i + 2], D[i + 3]
        for a in range(p):
            v0 = d0 * Xd[i, a]
            v1 = d1 * Xd[i + 1, a]
            v2 = d2 * Xd[i + 2, a]
            v3 = d3 * Xd[i + 3, a]
            for e in range(a + 1):
                H[a, e] += (v0 * Xd[i, e] + v1 * Xd[i + 1, e]
                            + v2 * Xd[i + 2, e] + v3 * Xd[i + 3, e])
    for i in range(n4, n):
        di = D[i]
        for a in range(p):
            va = di * Xd[i, a]
            for e in range(a + 1):
                H[a, e] += va * Xd[i, e]
    for a in range(p):
        for e in range(a):
            H[e, a] = H[a, e]


@njit(**_JIT)
def gram_cost(indptr, indices, cols, n):
    """sum_i c_i (c_i + 1) / 2 with c_i the non-zeros of row i among the columns ``cols`` of a
    CSC X (n rows): the multiply-adds of :func:`gram_rows` on that working set."""
    c = np.zeros(n, dtype=np.int64)
    for k in range(cols.shape[0]):
        j = UINDEX(cols[k])
        for q in range(UINDEX(indptr[j]), UINDEX(indptr[j + UINDEX(1)])):
            c[UINDEX(indices[q])] += 1
    tot = 0
    for i in range(n):
        tot += c[i] * (c[i] + 1) // 2
    return tot


@njit(**_JIT)
def gram_cost_rest(indptr, indices, inw, k, k2, nnz_w, e):
    """:func:`gram_cost` of the working set of the features with ``inw[j]`` True from the
    columns of the *other* features of a CSC X instead (cheaper when they hold fewer
    entries): with c_i = k_i - e_i (k: the stored entries per row of X, int64 (n,), k2 =
    sum_i k_i^2; e_i: row i's entries outside the set), ``sum_i c_i (c_i + 1) / 2 =
    (k2 - sum_i e_i (2 k_i - e_i) + nnz_w) / 2`` (nnz_w = sum_i c_i).  The same integer.
    ``e``: int64 (n,), zeros on entry and on return."""
    for j in range(UINDEX(inw.shape[0])):
        if not inw[j]:
            for q in range(UINDEX(indptr[j]), UINDEX(indptr[j + UINDEX(1)])):
                e[UINDEX(indices[q])] += 1
    corr = 0
    for j in range(UINDEX(inw.shape[0])):
        if not inw[j]:
            for q in range(UINDEX(indptr[j]), UINDEX(indptr[j + UINDEX(1)])):
                i = UINDEX(indices[q])
                ei = e[i]
                if ei > 0:
                    corr += ei * (2 * k[i] - ei)
                    e[i] = 0
    return (k2 - corr + nnz_w) // 2


@njit(**_JIT)
def working_set(w, score, ws_min):
    """The next working set (sorted int64 feature ids): the support ``w_j != 0`` plus the
    highest positive ``score`` among the other features, ``min(d, max(ws_min, 2 |support|))``
    in all; or None when the last places would go to one of several tied scores (the
    caller then chooses among them as NumPy's ``argpartition`` does, so that the set is
    the same whichever way it is made).  Ties and NaN scores never enter by themselves: a
    NaN is not positive."""
    d = w.shape[0]
    n_s = 0
    n_c = 0
    for j in range(d):
        if w[j] != 0.0:
            n_s += 1
        elif score[j] > 0.0:
            n_c += 1
    room = min(d, max(ws_min, 2 * n_s)) - n_s
    th = 0.0  # candidates enter when score > th, or >= th past a cut
    cut = False
    if n_c > room:
        if room <= 0:
            th = np.inf
        else:
            vals = np.empty(n_c)
            k = 0
            for j in range(d):
                if w[j] == 0.0 and score[j] > 0.0:
                    vals[k] = score[j]
                    k += 1
            th = np.partition(vals, n_c - room)[n_c - room]  # the room-th largest
            n_gt = 0
            n_eq = 0
            for k in range(n_c):
                if vals[k] > th:
                    n_gt += 1
                elif vals[k] == th:
                    n_eq += 1
            if n_gt + n_eq != room:
                return None
            cut = True
        n_c = room
    out = np.empty(n_s + n_c, dtype=np.int64)
    k = 0
    for j in range(d):
        if w[j] != 0.0 or (score[j] >= th if cut else score[j] > th):
            out[k] = j
            k += 1
    return out


@njit(**_JIT)
def line_search(z, p, xd, y, s, C, zn, pn, rn, Dn, w, dw, delta, a, lam, sigma, max_tries,
                lo=np.empty(0), lon=np.empty(0), fast=False, nt=1):
    """``(t, loss change, rich)`` for the largest ``t = 2^-k`` (k < max_tries) meeting the
    composite Armijo rule ``F(w + t dw) - F(w) <= sigma t delta`` along the step ``t dw`` of
    the coefficients w (with the margins' step ``t xd``), or ``(-1.0, 0.0, rich)`` when none
    does; ``rich``: the last trial's memo of repeated samples served all of it (the next
    line search then does better without ``fast``: repeated samples skip try_step's
    transcendental calls anyway).

    Each trial is :func:`try_step` (the trial point's pointwise terms in zn, pn, rn, Dn, and
    its log-terms in lon when lon has length n); the l2 and l1 changes are computed per
    coordinate (no cancellation between the two norms), their sums in NumPy's order
    (:func:`fastlogit.solvers._lbfgs_memory.numpy_sum`): the same bits as
    :func:`fastlogit.solvers.l1._line_search` with that trial.  With ``fast`` (lo holds the
    log-terms at z), a trial is first :func:`try_step_l` (two transcendental calls per
    sample instead of three) and is repeated by try_step only when its change lies within
    its rounding bound of the threshold: the same decisions as with try_step's changes;
    the loss change returned is then try_step_l's (equal to its rounding bound).  ``nt``:
    the trials' threads (:func:`threads`; the same bits for any number)."""
    q1 = numpy_sum(w * dw)
    q2 = numpy_sum(dw * dw)
    t = 1.0
    rich = False
    for _ in range(max_tries):
        l2c = a * t * (q1 + 0.5 * t * q2)
        l1c = l1_change(w, dw, lam, t)
        exact = not fast
        if fast:
            dl, rich, err = _trials(z, lo, xd, t, y, s, C, zn, pn, rn, Dn, lon, True, nt)
            change = C * dl + l2c + l1c
            exact = abs(change - sigma * t * delta) <= C * err
        if exact:
            dl, rich, _ = _trials(z, p, xd, t, y, s, C, zn, pn, rn, Dn, lon, False, nt)
            change = C * dl + l2c + l1c
        if change <= sigma * t * delta:
            return t, dl, rich
        t *= 0.5
    return -1.0, 0.0, rich


@njit(**_JIT)
def model_terms(g, h, w, a, shift, r, D, fit_b, lam, vio, want_d=True):
    """The working set's model terms at a point from its data parts g = X_W^T r and
    h = sum_i D_i x_ij^2 (overwritten): ``g += a w``, ``h += shift``, the violations into
    vio (:func:`violation`).  Returns ``(copy of g before, copy of h before, gb, sum D,
    max vio, sum vio)``, with ``gb = sum r`` (0.0 without an intercept) and sum D only when
    ``want_d`` (else 0.0: a dense model has the intercept's curvature in its matrix); the
    sums in NumPy's order (:func:`fastlogit.solvers._lbfgs_memory.numpy_sum`): the same bits
    as those NumPy operations."""
    kg = g.copy()
    kh = h.copy()
    for j in range(g.shape[0]):
        g[j] += a * w[j]
        h[j] += shift
    gb = numpy_sum(r) if fit_b else 0.0
    vmax = violation(g, w, lam, vio)
    return kg, kh, gb, numpy_sum(D) if want_d else 0.0, vmax, numpy_sum(vio)


@njit(**_JIT)
def l1_change(w, dw, lam, t=1.0):
    """``lam * sum_j (|w_j + t dw_j| - |w_j|)`` summed in NumPy's order: the L1 part of a
    step's change as one sum of per-coordinate differences (t = 1: a model step; t < 1: a
    line search's trial, :func:`line_search`)."""
    tmp = np.empty(w.shape[0])
    for j in range(w.shape[0]):
        tmp[j] = abs(w[j] + t * dw[j]) - abs(w[j])
    return lam * numpy_sum(tmp)
