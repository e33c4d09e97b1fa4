"""Numba kernels that write prediction lines as bytes (numba is imported here only).

:func:`format_values` writes each float as C's ``printf("%.8g")`` (and so Python's
``"%.8g" % x``) would, for finite values with ``1e-15 <= |x| < 1e30`` (and zero); other
entries (NaN, infinity, tinier or larger magnitudes) are flagged and formatted by the caller
in Python.  The 8 significant digits are correctly rounded, ties to even as glibc does: the
candidate ``q = floor(x * 10**k)`` (or ``x / 10**k``) is decided against the midpoint
``q + 1/2`` with an exact product (Dekker's two-product, no fused multiply-add), so the
result never depends on the rounding of ``x * 10**k``.

:func:`join_rows` assembles ``label value value ...\\n`` lines from those pieces.

Both run on the calling thread: next to the parse of the same rows they are a small share
of the work, and a parallel region of their own between the parser's would make the
parser's idle OpenMP threads spin against it on a busy machine (measured:
benchmarks/results/predict_stream.md).
"""
import math

import numpy as np
from numba import njit

_JIT = dict(cache=True, nogil=True)

#: Bytes reserved per formatted value (the longest, "-1.2345678e-308", has 15).
WIDTH = 16
_POW10 = np.array([10.0 ** k for k in range(23)], dtype=np.float64)
_D = WIDTH - 8
_SPLIT = 134217729.0  # 2**27 + 1


@njit(**_JIT)
def _two_product(a, b):
    """(p, e) with p = fl(a * b) and p + e = a * b exactly (Dekker / Veltkamp)."""
    p = a * b
    c = _SPLIT * a
    ah = c - (c - a)
    al = a - ah
    c = _SPLIT * b
    bh = c - (c - b)
    bl = b - bh
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, e


@njit(**_JIT)
def _round8(x, e):
    """Round positive ``x`` to an integer q = round(x * 10**(7 - e)), ties to even; returns
    (q, ok); ok is False when 10**|7 - e| is not exact (|7 - e| > 22)."""
    k = 7 - e
    if k > 22 or k < -22:
        return 0.0, False
    if k >= 0:
        p = _POW10[k]
        f = math.floor(x * p)
        h = f + 0.5
        ph, pl = _two_product(x, p)
        s = (ph - h) + pl  # sign of x * p - h (ph - h is exact: Sterbenz)
    else:
        p = _POW10[-k]
        f = math.floor(x / p)
        h = f + 0.5
        ph, pl = _two_product(h, p)
        s = (x - ph) - pl  # sign of x - h * p
    if s > 0.0:
        return f + 1.0, True
    if s < 0.0:
        return f, True
    return (f if f % 2.0 == 0.0 else f + 1.0), True


@njit(**_JIT)
def _format_one(x, out, row):
    """Write ``%.8g`` of ``x`` into ``out[row, :]``; returns its length, or -1 if the caller
    has to format it (non-finite, or a magnitude outside [1e-15, 1e30))."""
    if x != x or x == np.inf or x == -np.inf:
        return -1
    n = 0
    if x < 0.0 or (x == 0.0 and math.copysign(1.0, x) < 0.0):
        out[row, 0] = 45  # '-'
        n = 1
        x = -x
    if x == 0.0:
        out[row, n] = 48
        return n + 1
    if x < 1e-15 or x >= 1e30:
        return -1
    e = int(math.floor(math.log10(x)))
    q = 0.0
    for _ in range(4):
        q, ok = _round8(x, e)
        if not ok:
            return -1
        if q >= 1e8:
            e += 1
        elif q < 1e7:
            e -= 1
        else:
            break
    # the 8 digits go to the row's last 8 bytes first; each is read before the (never
    # later) output position overwrites it
    qi = np.int64(q)
    nd = 0
    for j in range(7, -1, -1):
        d = qi % 10
        out[row, _D + j] = 48 + d
        if nd == 0 and d != 0:
            nd = j + 1
        qi //= 10
    if -4 <= e < 8:
        if e >= 0:
            for j in range(e + 1):
                out[row, n] = out[row, _D + j]
                n += 1
            if nd > e + 1:
                out[row, n] = 46  # '.'
                n += 1
                for j in range(e + 1, nd):
                    out[row, n] = out[row, _D + j]
                    n += 1
        else:
            out[row, n] = 48
            out[row, n + 1] = 46
            n += 2
            for _ in range(-e - 1):
                out[row, n] = 48
                n += 1
            for j in range(nd):
                out[row, n] = out[row, _D + j]
                n += 1
        return n
    out[row, n] = out[row, _D]
    n += 1
    if nd > 1:
        out[row, n] = 46
        n += 1
        for j in range(1, nd):
            out[row, n] = out[row, _D + j]
            n += 1
    out[row, n] = 101  # 'e'
    out[row, n + 1] = 45 if e < 0 else 43
    n += 2
    a = -e if e < 0 else e
    if a >= 100:
        out[row, n] = 48 + a // 100
        n += 1
    out[row, n] = 48 + (a // 10) % 10
    out[row, n + 1] = 48 + a % 10
    return n + 2


@njit(**_JIT)
def format_values(values, out, lengths):
    """``%.8g`` of each entry of ``values`` (1-D float64) into row i of ``out`` (uint8,
    (n, WIDTH)); ``lengths[i]`` its length, -1 where the caller formats it."""
    for i in range(values.size):
        lengths[i] = _format_one(values[i], out, i)


@njit(**_JIT)
def join_rows(label_bytes, label_start, label_index, pieces, piece_len, n_cols, offsets, buf):
    """Write line i = ``label[label_index[i]]`` + ``' ' + piece`` for its ``n_cols`` pieces
    (rows ``i * n_cols ...`` of ``pieces`` / ``piece_len``) + newline at ``buf[offsets[i]:]``.
    ``offsets`` (n + 1) are the cumulative line lengths."""
    for i in range(label_index.size):
        p = offsets[i]
        c = label_index[i]
        for j in range(label_start[c], label_start[c + 1]):
            buf[p] = label_bytes[j]
            p += 1
        for k in range(i * n_cols, (i + 1) * n_cols):
            buf[p] = 32
            p += 1
            for j in range(piece_len[k]):
                buf[p] = pieces[k, j]
                p += 1
        buf[p] = 10
