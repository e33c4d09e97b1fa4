"""Compiled passes of L-BFGS's memory: every O(m n) sweep of an iteration fused into two.

An L-BFGS iteration over n parameters with k stored pairs (s_i, y_i) needs, besides the
objective's pass over X, the new pair s = theta_new - theta, y = g_new - g, its curvature
s.y, y.y, s.s, the dots S^T y, Y^T y (the new column of R and of Y^T Y in the compact form
of :class:`fastlogit.solvers.lbfgs._Memory`), S^T g_new, Y^T g_new (the next direction's
coefficients), ||g_new||_inf, and then the direction d = -(gamma g + S^T c_s + Y^T c_y) and
the slope g.d.  Done with NumPy these are about 6 sweeps over the 2 k n stored values and
a dozen over n-vectors, all on one thread; for a 20-class model of 62,061 features
(n = 1.24 M, k = 20: 400 MB of pairs) they cost several times the pass over X.

Here they are two compiled passes over the parameters, split into fixed chunks of
``CHUNK`` values that a ``prange`` shares between threads:

- :func:`pair_pass` writes the new pair into a spare slot and returns every dot above
  (one read of the stored pairs, each value used for both of its dots);
- :func:`direction_pass` writes the direction and returns the slope (and, when asked, the
  unit step's point theta + d, which the line search evaluates first).

Within a chunk the stored pairs are taken four at a time, so that the chunk's float64
vectors (y and g_new, or the direction being summed), which live in cache, are read (and
written) once per four pairs rather than once per pair; the pairs themselves stream from
memory once per pass.  Each chunk's sums go to their own row of a partials array, summed
afterwards in chunk order: the results do not depend on the thread count (bitwise).  Pairs
may be stored in float32 (half the memory traffic); every sum is accumulated in float64, and the dots of the
new pair use its stored (rounded) values, so that the compact form stays consistent with
the pairs it holds.
"""
import numpy as np
from numba import njit, prange

from .._config import kernel_threads
from ..kernels.numba_impl import numba_threads

__all__ = ["CHUNK", "pair_pass", "direction_pass", "pass_threads", "store_pair",
           "compact_coefficients", "numpy_sum"]

#: Parameters per chunk (a chunk's slice of one stored vector: 32 KiB in float64).
CHUNK = 4096

_SUM = dict(cache=True, nogil=True, fastmath={"reassoc", "contract"})
_PAR = dict(cache=True, nogil=True, parallel=True, fastmath={"reassoc", "contract"})
# Functions whose bits are a contract (NumPy's summation order): fast-math stated off, because
# Numba compiles a callee without its own ``fastmath`` option under its caller's flags, and
# its cache then serves that reassociated version to every later caller.
_EXACT = dict(cache=True, nogil=True, fastmath=False)


@njit(**_SUM)
def _new_pair(tn, t0, gn, g0, s, y):
    """s = tn - t0, y = gn - g0 (stored in s's dtype); returns the stored pair's dots
    (s.y, y.y, s.s, s.gn, y.gn) and max |gn|."""
    sy = 0.0
    yy = 0.0
    ss = 0.0
    sg = 0.0
    yg = 0.0
    gmax = 0.0
    for j in range(s.size):
        s[j] = tn[j] - t0[j]
        y[j] = gn[j] - g0[j]
        sj = np.float64(s[j])
        yj = np.float64(y[j])
        sy += sj * yj
        yy += yj * yj
        ss += sj * sj
        sg += sj * gn[j]
        yg += yj * gn[j]
        gmax = max(gmax, abs(gn[j]))
    return sy, yy, ss, sg, yg, gmax


@njit(**_SUM)
def _four_dots(si, yi, y, gn):
    """(si.y, yi.y, si.gn, yi.gn), float64 sums, one read of si and yi."""
    s_y = 0.0
    y_y = 0.0
    s_g = 0.0
    y_g = 0.0
    for j in range(si.size):
        a = np.float64(si[j])
        b = np.float64(yi[j])
        s_y += a * np.float64(y[j])
        y_y += b * np.float64(y[j])
        s_g += a * gn[j]
        y_g += b * gn[j]
    return s_y, y_y, s_g, y_g


@njit(inline="always")
def _pair_terms(acc, s, y_, yj, gj):
    """One element's terms of a stored pair (s, y_) added to its four running dots
    (s.y, y_.y, s.g, y_.g)."""
    a, b, c, e = acc
    return a + s * yj, b + y_ * yj, c + s * gj, e + y_ * gj


@njit(**_SUM)
def _four_pairs_dots(s0, y0, s1, y1, s2, y2, s3, y3, y, gn, out, i, k):
    """_four_dots of four stored pairs in one sweep (y and gn read once for all four):
    out[i + h], out[k + i + h], out[2 k + i + h], out[3 k + i + h] for pair h = 0..3."""
    p0 = p1 = p2 = p3 = (0.0, 0.0, 0.0, 0.0)
    for j in range(y.size):
        yj = np.float64(y[j])
        gj = gn[j]
        p0 = _pair_terms(p0, np.float64(s0[j]), np.float64(y0[j]), yj, gj)
        p1 = _pair_terms(p1, np.float64(s1[j]), np.float64(y1[j]), yj, gj)
        p2 = _pair_terms(p2, np.float64(s2[j]), np.float64(y2[j]), yj, gj)
        p3 = _pair_terms(p3, np.float64(s3[j]), np.float64(y3[j]), yj, gj)
    _put_dots(out, i, k, *p0)
    _put_dots(out, i + 1, k, *p1)
    _put_dots(out, i + 2, k, *p2)
    _put_dots(out, i + 3, k, *p3)


@njit(**_SUM)
def _put_dots(out, i, k, s_y, y_y, s_g, y_g):
    """Pair i's four dots into their blocks of out (layout of _pair_chunk)."""
    out[i] = s_y
    out[k + i] = y_y
    out[2 * k + i] = s_g
    out[3 * k + i] = y_g


@njit(**_SUM)
def _pair_chunk(c, n, theta_new, theta, g_new, g, S, Y, spare, act, part):
    """Chunk ``c``: write s, y into slot ``spare``; part[c] = [S_i.y, Y_i.y, S_i.g_new,
    Y_i.g_new for i in act (4 k values), s.y, y.y, s.s, s.g_new, y.g_new, max |g_new|].
    The stored pairs go four at a time (the chunk of y and g_new, which stays in cache, is
    read once per four pairs instead of once per pair)."""
    j0 = c * CHUNK
    j1 = min(j0 + CHUNK, n)
    k = act.size
    out = part[c]
    gn = g_new[j0:j1]
    y = Y[spare, j0:j1]
    new = _new_pair(theta_new[j0:j1], theta[j0:j1], gn, g[j0:j1], S[spare, j0:j1], y)
    i = 0
    while i + 4 <= k:
        a, b, e, f = act[i], act[i + 1], act[i + 2], act[i + 3]
        _four_pairs_dots(S[a, j0:j1], Y[a, j0:j1], S[b, j0:j1], Y[b, j0:j1], S[e, j0:j1],
                         Y[e, j0:j1], S[f, j0:j1], Y[f, j0:j1], y, gn, out, i, k)
        i += 4
    for i in range(i, k):
        a = act[i]
        s_y, y_y, s_g, y_g = _four_dots(S[a, j0:j1], Y[a, j0:j1], y, gn)
        _put_dots(out, i, k, s_y, y_y, s_g, y_g)
    for q in range(6):
        out[4 * k + q] = new[q]


@njit(**_PAR)
def _pair_par(theta_new, theta, g_new, g, S, Y, spare, act, n_chunk):
    n = theta.size
    part = np.empty((n_chunk, 4 * act.size + 6))
    for c in prange(n_chunk):
        _pair_chunk(c, n, theta_new, theta, g_new, g, S, Y, spare, act, part)
    return _chunk_sums(part)


@njit(**_SUM)
def _pair_ser(theta_new, theta, g_new, g, S, Y, spare, act, n_chunk):
    n = theta.size
    part = np.empty((n_chunk, 4 * act.size + 6))
    for c in range(n_chunk):
        _pair_chunk(c, n, theta_new, theta, g_new, g, S, Y, spare, act, part)
    return _chunk_sums(part)


@njit(**_SUM)
def _axpy2(d, a, x, b, y):
    """d += a x + b y (float64 d, x and y in any float dtype)."""
    for j in range(d.size):
        d[j] += a * np.float64(x[j]) + b * np.float64(y[j])


@njit(**_SUM)
def _axpy8(d, cs, cy, i, s0, y0, s1, y1, s2, y2, s3, y3):
    """d += sum_h cs[i + h] s_h + cy[i + h] y_h over four pairs h = 0..3 (one read and write
    of d for four pairs)."""
    a0, a1, a2, a3 = cs[i], cs[i + 1], cs[i + 2], cs[i + 3]
    b0, b1, b2, b3 = cy[i], cy[i + 1], cy[i + 2], cy[i + 3]
    for j in range(d.size):
        d[j] += (((a0 * np.float64(s0[j]) + b0 * np.float64(y0[j]))
                  + (a1 * np.float64(s1[j]) + b1 * np.float64(y1[j])))
                 + ((a2 * np.float64(s2[j]) + b2 * np.float64(y2[j]))
                    + (a3 * np.float64(s3[j]) + b3 * np.float64(y3[j]))))


@njit(**_SUM)
def _direction_chunk(c, n, g, S, Y, act, cs, cy, gamma, d, part, theta, trial):
    """Chunk ``c``: d = -(gamma g + sum_i cs_i S_i + cy_i Y_i) (pairs four at a time, as in
    _pair_chunk); part[c] = g.d; trial = theta + d when trial has n entries (else it is
    not touched)."""
    j0 = c * CHUNK
    j1 = min(j0 + CHUNK, n)
    dc = d[j0:j1]
    gc = g[j0:j1]
    for j in range(dc.size):
        dc[j] = gamma * gc[j]
    k = act.size
    i = 0
    while i + 4 <= k:
        a, b, e, f = act[i], act[i + 1], act[i + 2], act[i + 3]
        _axpy8(dc, cs, cy, i, S[a, j0:j1], Y[a, j0:j1], S[b, j0:j1], Y[b, j0:j1],
               S[e, j0:j1], Y[e, j0:j1], S[f, j0:j1], Y[f, j0:j1])
        i += 4
    for i in range(i, k):
        _axpy2(dc, cs[i], S[act[i], j0:j1], cy[i], Y[act[i], j0:j1])
    slope = 0.0
    for j in range(dc.size):
        dc[j] = -dc[j]
        slope += gc[j] * dc[j]
    part[c] = slope
    if trial.size == n:
        tc = trial[j0:j1]
        th = theta[j0:j1]
        for j in range(dc.size):
            tc[j] = th[j] + dc[j]


@njit(**_PAR)
def _direction_par(g, S, Y, act, cs, cy, gamma, d, n_chunk, theta, trial):
    n = g.size
    part = np.empty(n_chunk)
    for c in prange(n_chunk):
        _direction_chunk(c, n, g, S, Y, act, cs, cy, gamma, d, part, theta, trial)
    return numpy_sum(part)


@njit(**_SUM)
def _direction_ser(g, S, Y, act, cs, cy, gamma, d, n_chunk, theta, trial):
    n = g.size
    part = np.empty(n_chunk)
    for c in range(n_chunk):
        _direction_chunk(c, n, g, S, Y, act, cs, cy, gamma, d, part, theta, trial)
    return numpy_sum(part)


@njit(**_EXACT)
def _pairwise_leaf(a, lo, n):
    """NumPy's pairwise sum of a[lo:lo + n] for n <= 128, in its order: sequential from -0.0
    below 8 values, else eight interleaved partial sums combined as a tree, then the rest."""
    if n < 8:
        res = -0.0
        for i in range(n):
            res += a[lo + i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - (n % 8):
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(**_EXACT)
def numpy_sum(a):
    """``a.sum()`` of a contiguous float64 vector, bitwise as NumPy computes it (tested), inside
    compiled code (the slope of the direction pass: the same bits as before it moved here).
    Above 128 values NumPy sums the two halves (split at a multiple of 8) and adds them: done
    here by an explicit stack (a recursive function does not survive Numba's cache)."""
    n = a.size
    if n <= 128:
        return _pairwise_leaf(a, 0, n)
    los = np.empty(64, dtype=np.int64)
    ns = np.empty(64, dtype=np.int64)
    stage = np.zeros(64, dtype=np.int64)
    vals = np.empty(64)
    top, nv = 0, 0
    los[0], ns[0] = 0, n
    while top >= 0:
        lo, m = los[top], ns[top]
        if m <= 128:
            vals[nv] = _pairwise_leaf(a, lo, m)
            nv += 1
            top -= 1
            continue
        half = m // 2
        half -= half % 8
        if stage[top] == 0:  # the left half first
            stage[top] = 1
            top += 1
            los[top], ns[top], stage[top] = lo, half, 0
        elif stage[top] == 1:  # then the right half
            stage[top] = 2
            top += 1
            los[top], ns[top], stage[top] = lo + half, m - half, 0
        else:  # both done: left + right
            vals[nv - 2] = vals[nv - 2] + vals[nv - 1]
            nv -= 1
            top -= 1
    return vals[0]


@njit(cache=True, nogil=True)
def _chunk_sums(part):
    """Column sums of part (n_chunks, p) in chunk order, the last column's max instead."""
    p = part.shape[1]
    out = np.zeros(p)
    for c in range(part.shape[0]):
        for q in range(p - 1):
            out[q] += part[c, q]
        out[p - 1] = max(out[p - 1], part[c, p - 1])
    return out


def n_chunks(n):
    """Number of chunks of n parameters."""
    return max(1, -(-int(n) // CHUNK))


def pass_threads(n_threads, n, k):
    """Threads for one pass over n parameters and k stored pairs (the kernels' cost model,
    counting each of the 2 k n stored values as one non-zero)."""
    return kernel_threads(n_threads, n_chunks(n), 2 * max(int(k), 1) * int(n), 0)


def pair_pass(theta_new, theta, g_new, g, S, Y, spare, act, n_threads=1):
    """Write the pair (theta_new - theta, g_new - g) into row ``spare`` of S and Y and return
    its dots with the stored pairs.

    Parameters
    ----------
    theta_new, theta, g_new, g : ndarray of float64, shape (n,)
    S, Y : ndarray of float32 or float64, shape (n_slots, n), C-contiguous
        Stored pairs, one per row; row ``spare`` is overwritten.
    spare : int
        The row to write (not in ``act``).
    act : ndarray of int64, shape (k,)
        Rows of the stored pairs to dot with, in the caller's order.
    n_threads : int
        Threads (the result does not depend on it).

    Returns
    -------
    sums : ndarray of float64, shape (4 k + 6,)
        ``[S_a.y (k), Y_a.y (k), S_a.g_new (k), Y_a.g_new (k), s.y, y.y, s.s, s.g_new,
        y.g_new, ||g_new||_inf]`` for a in act, where s, y are the stored (possibly rounded)
        new pair.
    """
    if n_threads > 1:
        with numba_threads(n_threads):
            return _pair_par(theta_new, theta, g_new, g, S, Y, int(spare), act,
                             n_chunks(theta.size))
    return _pair_ser(theta_new, theta, g_new, g, S, Y, int(spare), act, n_chunks(theta.size))


_NO_TRIAL = np.zeros(0)


def direction_pass(g, S, Y, act, cs, cy, gamma, d, n_threads=1, theta=None, trial=None):
    """d = -(gamma g + sum_i cs[i] S[act[i]] + cy[i] Y[act[i]]) written into ``d``
    (float64, shape (n,)); returns the slope g.d (float).

    With ``theta`` and ``trial`` (float64, shape (n,), trial not aliasing theta or d), the
    same sweep also writes the unit step's point ``trial = theta + d`` (the bits of NumPy's
    ``theta + d``), which a line search starting at t = 1 evaluates first.
    """
    if trial is None:
        theta = trial = _NO_TRIAL
    args = (g, S, Y, act, np.ascontiguousarray(cs, dtype=np.float64),
            np.ascontiguousarray(cy, dtype=np.float64), float(gamma), d, n_chunks(g.size),
            theta, trial)
    if n_threads > 1:
        with numba_threads(n_threads):
            return float(_direction_par(*args))
    return float(_direction_ser(*args))


# ----------------------------------------------------------------------------- k x k algebra
# The compact form's small matrices (k <= m pairs, k x k), compiled: in NumPy / LAPACK each of
# these steps is a call of a few microseconds on a 20 x 20 problem, several per iteration.


@njit(cache=True, nogil=True)
def store_pair(StY, YtY, sums, k, sg, yg):
    """Add a kept pair to the compact form's matrices, in place.

    ``StY`` (m, m) holds s_i . y_j (i <= j, its upper triangle) and ``YtY`` (m, m) y_i . y_j
    for the k stored pairs, oldest first; ``sums`` is :func:`pair_pass`'s output for them.
    When k == m the oldest pair's row and column are dropped first (the others move up and
    left).  The new pair's column (its dots with the pairs kept and its own) goes last;
    ``sg`` and ``yg`` (length >= m) get S^T g_new and Y^T g_new of the pairs now stored.
    Only copies: the stored values are the bits of ``sums``.  Returns the new count."""
    m = StY.shape[0]
    drop = 1 if k == m else 0
    if drop:
        for i in range(m - 1):
            for j in range(m - 1):
                StY[i, j] = StY[i + 1, j + 1]
                YtY[i, j] = YtY[i + 1, j + 1]
    kn = k + 1 - drop
    last = kn - 1
    for i in range(last):
        src = i + drop
        StY[i, last] = sums[src]
        YtY[i, last] = YtY[last, i] = sums[k + src]
        sg[i] = sums[2 * k + src]
        yg[i] = sums[3 * k + src]
    StY[last, last] = sums[4 * k]  # s.y
    YtY[last, last] = sums[4 * k + 1]  # y.y
    sg[last] = sums[4 * k + 3]  # s.g_new
    yg[last] = sums[4 * k + 4]  # y.g_new
    return kn


@njit(cache=True, nogil=True)
def compact_coefficients(StY, YtY, sg, yg, gamma, k, cs, cy):
    """The coefficients of the compact form's direction, ``cs`` and ``cy`` (float64, length
    >= k; the first k written)::

        u = R^-1 S^T g,   cs = R^-T ((D + gamma Y^T Y) u - gamma Y^T g),   cy = -gamma u

    R the upper triangle of ``StY[:k, :k]`` (D its diagonal), by back and forward
    substitution (sums in index order; LAPACK's and BLAS's orders differ, so the results
    equal theirs to rounding); ``sg``, ``yg`` are S^T g and Y^T g.  Returns False (nothing
    written) when a diagonal entry of R is not positive (a singular curvature matrix; a kept
    pair has s.y > 0, so it does not happen), True otherwise."""
    for i in range(k):
        if not StY[i, i] > 0.0:
            return False
    u = cy  # u is kept in cy, scaled at the end
    for i in range(k - 1, -1, -1):  # R u = S^T g
        acc = sg[i]
        for j in range(i + 1, k):
            acc -= StY[i, j] * u[j]
        u[i] = acc / StY[i, i]
    for i in range(k):  # w = D u + gamma (Y^T Y u - Y^T g), into cs
        acc = 0.0
        for j in range(k):
            acc += YtY[i, j] * u[j]
        cs[i] = StY[i, i] * u[i] + gamma * acc - gamma * yg[i]
    for i in range(k):  # R^T cs = w (forward: R^T is lower triangular)
        acc = cs[i]
        for j in range(i):
            acc -= StY[j, i] * cs[j]
        cs[i] = acc / StY[i, i]
    for i in range(k):
        cy[i] = -gamma * u[i]
    return True
