"""Numba kernels of the svmlight parser (numba is imported here only).

The parser works on a byte buffer of whole lines in two parallel passes over the lines:

1. :func:`scan_lines` finds where each line's content ends (a ``#`` starts a comment, unless a
   NUL byte comes first: scikit-learn looks for ``#`` with C ``strchr``), counts its
   whitespace-separated tokens and notes a leading ``qid:`` token.  That fixes the number of
   stored entries per row, so row offsets are known before any value is parsed.
2. :func:`parse_rows` parses the label and the ``id:value`` pairs of every row into its slot.

Only a *fast grammar* is accepted here: labels and values ``[+-]digits[.digits][(e|E)[+-]digits]``
with at most 19 significant digits whose value is exactly ``m * 10**e`` or ``m / 10**e`` with
``m < 2**53`` and ``|e| <= 22`` (Clinger's fast path: one correctly rounded IEEE operation on
exact operands, hence the same double as Python's correctly rounded ``float()``), and feature
ids made of decimal digits.  A row outside that grammar, or breaking a rule (ids increasing,
no id 0 when one-based), gets a non-zero status and the Python layer parses it again with
``int()``/``float()`` and scikit-learn's rules, raising the error with file name and line.
So this module never decides what is an error, only what is easy.
"""
import numba
import numpy as np
from numba import njit, prange

_JIT = dict(cache=True, nogil=True)
_PAR = dict(cache=True, nogil=True, parallel=True)

_POW10 = np.array([10.0 ** k for k in range(23)], dtype=np.float64)
_MAX_EXACT = 2**53
_MAX_ID = 2**31 - 1

#: Line flags written by scan_lines.
QID = 1
SLOW = 2


@njit(**_JIT)
def _is_space(c):
    # Python's bytes.split(): space, \t, \n, \v, \f, \r.
    return c == 32 or (9 <= c <= 13)


@njit(**_PAR)
def scan_lines(buf, starts, ends, content_end, n_feat, flags):
    """Per line: content end, number of feature tokens (-1 for a blank line), flags."""
    for i in prange(starts.size):
        s = starts[i]
        e = ends[i]
        for p in range(s, e):
            c = buf[p]
            if c == 35:  # '#'
                e = p
                break
            if c == 0:  # strchr stops at NUL: no comment on this line
                break
        content_end[i] = e
        n_tok = 0
        f = 0
        p = s
        while p < e:
            while p < e and _is_space(buf[p]):
                p += 1
            if p >= e:
                break
            t = p
            while p < e and not _is_space(buf[p]):
                p += 1
            n_tok += 1
            if n_tok == 2 and p - t >= 3 and buf[t] == 113 and buf[t + 1] == 105 \
                    and buf[t + 2] == 100:  # 'qid'
                f |= QID
                colon = False
                for q in range(t + 3, p):
                    if buf[q] == 58:
                        colon = True
                        break
                if not colon:
                    f |= SLOW
        flags[i] = f
        if n_tok == 0:
            n_feat[i] = -1
        else:
            n_feat[i] = n_tok - 1 - (1 if f & QID else 0)


@njit(**_JIT)
def _sign(buf, p, q):
    """An optional '+' / '-' at ``buf[p]`` (before ``q``): (negative, position after it)."""
    if p < q and (buf[p] == 43 or buf[p] == 45):
        return buf[p] == 45, p + 1
    return False, p


@njit(**_JIT)
def _digits(buf, p, q, mant, n_sig):
    """Decimal digits from ``buf[p]`` on (greedy, before ``q``) appended to the significand
    ``mant`` (leading zeros not counted in ``n_sig``, at most 19 significant digits).
    Returns (mant, n_sig, digits read, end, ok); ok is False past 19 significant digits."""
    start = p
    while p < q and 48 <= buf[p] <= 57:
        d = buf[p] - 48
        if mant != 0 or d != 0:
            if n_sig >= 19:
                return mant, n_sig, p - start, p, False
            mant = mant * np.uint64(10) + np.uint64(d)
            n_sig += 1
        p += 1
    return mant, n_sig, p - start, p, True


@njit(**_JIT)
def _parse_float(buf, p, q):
    """Parse buf[p:q] in the fast grammar. Returns (value, ok)."""
    neg, p = _sign(buf, p, q)
    mant, n_sig, n_int, p, ok = _digits(buf, p, q, np.uint64(0), 0)
    if not ok:
        return 0.0, False
    exp10 = 0
    any_digit = n_int > 0
    if p < q and buf[p] == 46:  # '.'
        mant, n_sig, n_frac, p, ok = _digits(buf, p + 1, q, mant, n_sig)
        if not ok:
            return 0.0, False
        exp10 = -n_frac
        any_digit = any_digit or n_frac > 0
    if not any_digit:
        return 0.0, False
    if p < q and (buf[p] == 101 or buf[p] == 69):  # 'e' / 'E'
        ev, ok, p = _exponent(buf, p + 1, q)
        if not ok:
            return 0.0, False
        exp10 += ev
    if p != q:
        return 0.0, False
    return _exact_value(mant, exp10, neg)


@njit(**_JIT)
def _exponent(buf, p, q):
    """The exponent after an 'e': ``[+-]digits``, 1 to 6 digits, from ``buf[p]`` on (greedy,
    before ``q``).  Returns (exponent, ok, end)."""
    eneg, p = _sign(buf, p, q)
    ev = 0
    n_ed = 0
    while p < q and 48 <= buf[p] <= 57:
        if n_ed >= 6:
            return 0, False, p
        ev = ev * 10 + (buf[p] - 48)
        n_ed += 1
        p += 1
    return (-ev if eneg else ev), n_ed > 0, p


@njit(**_JIT)
def _exact_value(mant, exp10, neg):
    """``(-1)**neg * mant * 10**exp10`` as (value, ok): exact operands and one correctly
    rounded operation (Clinger's fast path) when ``mant <= 2**53`` and ``|exp10| <= 22``,
    else not ok."""
    if mant == 0:
        return (-0.0 if neg else 0.0), True
    if mant > np.uint64(_MAX_EXACT) or exp10 > 22 or exp10 < -22:
        return 0.0, False
    v = float(mant)
    if exp10 >= 0:
        v = v * _POW10[exp10]
    else:
        v = v / _POW10[-exp10]
    return (-v if neg else v), True


@njit(**_PAR)
def parse_rows(buf, starts, content_end, flags, row_lines, indptr, zero_based,
               labels, indices, data, status):
    """Parse row r (line ``row_lines[r]``) into ``labels[r]`` and slots
    ``indptr[r]:indptr[r+1]`` of ``indices``/``data``; ``status[r] = 1`` where the Python
    layer has to parse the row instead."""
    for r in prange(row_lines.size):
        i = row_lines[r]
        if flags[i] & SLOW:
            status[r] = 1
            continue
        p = starts[i]
        e = content_end[i]
        bad = False
        while _is_space(buf[p]):
            p += 1
        t = p
        while p < e and not _is_space(buf[p]):
            p += 1
        lab, ok = _parse_float(buf, t, p)
        if not ok:
            status[r] = 1
            continue
        labels[r] = lab
        skip = flags[i] & QID
        k = indptr[r]
        prev = -1
        while True:
            while p < e and _is_space(buf[p]):
                p += 1
            if p >= e:
                break
            t = p
            while p < e and not _is_space(buf[p]):
                p += 1
            if skip:
                skip = 0
                continue
            # feature id: digits up to ':'
            idx = 0
            q = t
            while q < p and 48 <= buf[q] <= 57:
                idx = idx * 10 + (buf[q] - 48)
                if idx > _MAX_ID:
                    break
                q += 1
            if q == t or q >= p or buf[q] != 58 or idx > _MAX_ID:
                bad = True
                break
            if idx <= prev or (idx == 0 and not zero_based):
                bad = True
                break
            v, ok = _parse_float(buf, q + 1, p)
            if not ok:
                bad = True
                break
            indices[k] = idx
            data[k] = v
            k += 1
            prev = idx
        if bad:
            status[r] = 1


# ----------------------------------------------------------------------------- scoring
#: More line flags, written by score_lines (with QID and SLOW).
BLANK = 4  # no token: not a row
ZERO = 8  # an id 0 while ids are shifted down by one (not scored)
BEYOND = 16  # an id beyond the coefficients (not scored)
HAS_IDS = 32  # at least one id:value entry


@njit(**_JIT)
def _in_line_space(c):
    # _is_space without the newline, which ends the line
    return c == 32 or c == 9 or c == 11 or c == 12 or c == 13


@njit(**_JIT)
def _after_line(buf, p, stop):
    """Position after the newline that ends the line holding ``p`` (or ``stop``)."""
    while p < stop and buf[p] != 10:
        p += 1
    return p + 1 if p < stop else stop


#: Entries of a line parsed before their products are summed (a multiple of 4).
_SCRATCH = 256


@njit(**_JIT)
def _parse_number(buf, p, stop):
    """A number of the fast grammar starting at ``buf[p]``, read greedily (the caller
    checks that a delimiter follows).  Returns (value, ok, end).  At most 19 digits in all
    (leading zeros included, so ``mant`` cannot overflow) and ``mant <= 2**53``, ``|e| <=
    22``: Clinger's exact case, as :func:`_parse_float`; anything else is not ok (the line
    goes to the Python parser, which decides)."""
    neg, p = _sign(buf, p, stop)
    mant = np.uint64(0)
    n_int = 0
    while p < stop:
        d = np.uint64(buf[p]) - np.uint64(48)  # non-digits wrap to large values
        if d > 9:
            break
        mant = mant * np.uint64(10) + d
        n_int += 1
        p += 1
    n_frac = 0
    if p < stop and buf[p] == 46:  # '.'
        p += 1
        while p < stop:
            d = np.uint64(buf[p]) - np.uint64(48)
            if d > 9:
                break
            mant = mant * np.uint64(10) + d
            n_frac += 1
            p += 1
    if n_int + n_frac == 0 or n_int + n_frac > 19:
        return 0.0, False, p
    exp10 = -n_frac
    if p < stop and (buf[p] | 32) == 101:  # 'e' / 'E'
        ev, ok, p = _exponent(buf, p + 1, stop)
        if not ok:
            return 0.0, False, p
        exp10 += ev
    v, ok = _exact_value(mant, exp10, neg)
    return v, ok, p


@njit(**_JIT)
def _ends_token(buf, p, stop):
    """Whether a token ends at ``p`` (line end, whitespace or '#'; a NUL does not: the
    Python layer applies scikit-learn's rule to such lines)."""
    return p >= stop or buf[p] == 10 or buf[p] == 35 or _in_line_space(buf[p])


@njit(**_JIT)
def _sum_entries(ids, vals, n, W, four, a, z, i):
    """Add entries ``(ids[k], vals[k])``, k < n, in order: binary (one column of W) into the
    float64 partial sums ``a = (a0, a1, a2, a3)`` (returned), multinomial into ``z[i, :]`` in
    W's dtype.  ``four``: whole groups of four go to a0..a3 (``a0 += x[k]; a1 += x[k + 1];
    ...``), the rest of a row to a0, as a loop ``while k + 4 <= n`` then ``while k < n``
    does; else everything to a0.  Called with n a multiple of 4 except for a row's last
    entries, so the groups run from the row's start."""
    a0, a1, a2, a3 = a
    if W.shape[1] > 1:
        for k in range(n):
            j = ids[k]
            v = vals[k]
            for c in range(W.shape[1]):
                z[i, c] += v * W[j, c]
        return a
    k = 0
    if four:
        while k + 4 <= n:
            a0 += np.float64(vals[k]) * np.float64(W[ids[k], 0])
            a1 += np.float64(vals[k + 1]) * np.float64(W[ids[k + 1], 0])
            a2 += np.float64(vals[k + 2]) * np.float64(W[ids[k + 2], 0])
            a3 += np.float64(vals[k + 3]) * np.float64(W[ids[k + 3], 0])
            k += 4
    while k < n:
        a0 += np.float64(vals[k]) * np.float64(W[ids[k], 0])
        k += 1
    return a0, a1, a2, a3


@njit(**_JIT)
def _finish_row(a, four, b, z, i):
    """Binary: ``z[i, 0] = dot + b`` (float64, then z's dtype), the dot ``(a0 + a1) + (a2 +
    a3)`` with ``four``, else a0; multinomial: ``z[i, :] += b``."""
    if z.shape[1] == 1:
        a0, a1, a2, a3 = a
        z[i, 0] = ((a0 + a1) + (a2 + a3) if four else a0) + b[0]
    else:
        for c in range(z.shape[1]):
            z[i, c] += b[c]


@njit(**_JIT)
def _skip_qid(buf, p, stop):
    """At a second token starting with 'qid': (end of the token, whether it has a colon)."""
    colon = False
    while p < stop and not _ends_token(buf, p, stop) and buf[p] != 0:
        colon = colon or buf[p] == 58
        p += 1
    return p, colon


@njit(**_JIT)
def _score_line(buf, p, stop, accept_zero, shift, W, b, four, ids, vals, z, i):
    """Tokenise, parse and score the line starting at ``p`` (the grammar and rules of
    :func:`scan_lines` + :func:`parse_rows`, numbers by :func:`_parse_number`; entries
    gathered in ``ids`` / ``vals`` and summed :data:`_SCRATCH` at a time).  Returns (flags,
    position after the line)."""
    for c in range(z.shape[1]):
        z[i, c] = 0
    a = (0.0, 0.0, 0.0, 0.0)
    f = 0
    n_tok = 0
    prev = -1
    n = 0
    while True:
        while p < stop and _in_line_space(buf[p]):
            p += 1
        if p >= stop:
            break
        c = buf[p]
        if c == 10:
            p += 1
            break
        if c == 35:  # '#' before any NUL: a comment to the end of the line
            p = _after_line(buf, p, stop)
            break
        n_tok += 1
        if n_tok == 1:  # the label
            _, ok, p = _parse_number(buf, p, stop)
            if not ok or not _ends_token(buf, p, stop):
                f |= SLOW
                p = _after_line(buf, p, stop)
                break
            continue
        if n_tok == 2 and c == 113 and p + 3 <= stop and buf[p + 1] == 105 \
                and buf[p + 2] == 100:  # 'qid'
            p, colon = _skip_qid(buf, p + 3, stop)
            if not colon or (p < stop and buf[p] == 0):
                f |= SLOW
                p = _after_line(buf, p, stop)
                break
            f |= QID
            continue
        t = p
        idx = 0
        while p < stop and p - t <= 10:
            d = np.uint64(buf[p]) - np.uint64(48)
            if d > 9:
                break
            idx = idx * 10 + np.int64(d)
            p += 1
        if p == t or p >= stop or buf[p] != 58 or idx > _MAX_ID or idx <= prev \
                or (idx == 0 and not accept_zero):
            f |= SLOW
            p = _after_line(buf, p, stop)
            break
        v, ok, p = _parse_number(buf, p + 1, stop)
        if not ok or not _ends_token(buf, p, stop):
            f |= SLOW
            p = _after_line(buf, p, stop)
            break
        prev = idx
        f |= HAS_IDS
        j = idx - shift
        if j < 0:
            f |= ZERO
        elif j >= W.shape[0]:
            f |= BEYOND
        else:
            if n == _SCRATCH:
                a = _sum_entries(ids, vals, n, W, four, a, z, i)
                n = 0
            ids[n] = j
            vals[n] = v  # rounded to W's dtype, as the parser stores it
            n += 1
    if n_tok == 0:
        f |= BLANK
    elif not f & (SLOW | ZERO | BEYOND):
        a = _sum_entries(ids, vals, n, W, four, a, z, i)
        _finish_row(a, four, b, z, i)
    return f, p


@njit(**_PAR)
def score_lines(buf, cuts, first_line, accept_zero, shift, W, b, four, starts, flags, z):
    """Parse and score every line of ``buf`` in one pass, without storing the entries.

    ``buf`` (uint8) holds whole lines; ``cuts`` (T + 1, int64) are line starts splitting it
    into T pieces (``cuts[0] = 0``, ``cuts[T] = buf.size``), scored in parallel; line i of
    piece t is line ``first_line[t] + i`` of the buffer.  Per line i: ``starts[i]`` its first
    byte, ``flags[i]`` (BLANK, SLOW, QID, ZERO, BEYOND, HAS_IDS) and, unless flagged BLANK,
    SLOW, ZERO or BEYOND, its decision values ``z[i, :]`` (z of shape (n_lines, K), the
    dtype of W):

    - binary, W of shape (d, 1): ``float64(sum_k x_k W[id_k - shift, 0]) + b[0]``, the sum
      in float64 in order, or with ``four`` in four partial sums (:func:`_sum_entries`);
    - multinomial, W of shape (d, K): ``z[i, :] = 0``, then ``z[i, :] += x_k * W[id_k -
      shift, :]`` entry by entry, then ``+= b``, all in W's dtype.

    ``x_k`` is the parsed value rounded to W's dtype.  ``accept_zero``: an id 0 is in the
    grammar (else the line is SLOW, as in :func:`parse_rows`); ``shift`` (0 or 1) is
    subtracted from ids; an id that becomes negative flags ZERO, one >= d flags BEYOND."""
    for t in prange(cuts.size - 1):
        ids = np.empty(_SCRATCH, dtype=np.int64)
        vals = np.empty(_SCRATCH, dtype=z.dtype)
        i = first_line[t]
        p = cuts[t]
        stop = cuts[t + 1]
        while p < stop:
            starts[i] = p
            f, p = _score_line(buf, p, stop, accept_zero, shift, W, b, four, ids, vals, z, i)
            flags[i] = f
            i += 1


@njit(**_JIT)
def score_entries(indptr, ids, values, shift, W, b, four, z):
    """Row r of a CSR (``ids`` raw, ``values`` float64) scored into ``z[r, :]`` exactly as
    :func:`score_lines` scores a line with these entries (ids in range)."""
    vals = np.empty(values.size, dtype=z.dtype)
    vals[:] = values
    cols = ids - shift
    for r in range(indptr.size - 1):
        for c in range(z.shape[1]):
            z[r, c] = 0
        lo = indptr[r]
        a = _sum_entries(cols[lo:], vals[lo:], indptr[r + 1] - lo, W, four,
                         (0.0, 0.0, 0.0, 0.0), z, r)
        _finish_row(a, four, b, z, r)


def get_threads():
    """Numba's current thread count."""
    return numba.get_num_threads()


def set_threads(n_threads):
    """Set numba's thread count; returns the previous one (for restoring)."""
    previous = numba.get_num_threads()
    numba.set_num_threads(max(1, min(int(n_threads), numba.config.NUMBA_NUM_THREADS)))
    return previous


# ----------------------------------------------------------------------------- bz2 blocks
_BZ_BLOCK = 0x314159265359  # 48-bit block header magic (BCD pi)
_BZ_EOS = 0x177245385090  # 48-bit end-of-stream magic (BCD sqrt(pi))
_MASK48 = (1 << 48) - 1


@njit(**_JIT)
def bz2_markers(buf, pos_out, kind_out):
    """Bit offsets of bz2 block (kind 1) and end-of-stream (kind 2) magics, in file order.

    Returns how many were found, or -1 if ``pos_out`` is too small.  A match inside the
    compressed data (a 48-bit coincidence) is possible in principle; the caller verifies every
    block by decompressing it (block CRC) and falls back to a serial read if one fails.
    """
    w = np.uint64(0)
    n = 0
    for i in range(buf.size):
        w = (w << np.uint64(8)) | np.uint64(buf[i])
        if i < 5:
            continue
        for s in range(7, -1, -1):  # larger shift = earlier start bit
            v = (w >> np.uint64(s)) & np.uint64(_MASK48)
            if v == np.uint64(_BZ_BLOCK) or v == np.uint64(_BZ_EOS):
                start = 8 * (i + 1) - s - 48
                if start < 0:
                    continue
                if n >= pos_out.size:
                    return -1
                pos_out[n] = start
                kind_out[n] = 1 if v == np.uint64(_BZ_BLOCK) else 2
                n += 1
    return n


@njit(**_JIT)
def bz2_block_stream(buf, bit_start, bit_end, out):
    """Write bits [bit_start, bit_end) of ``buf`` (one block: magic, CRC, data), then an
    end-of-stream magic and the block CRC as the stream CRC (valid for a one-block stream),
    into ``out`` from byte 0, zero-padded. Returns the number of bytes written."""
    n_bits = bit_end - bit_start
    n_full = n_bits // 8
    q0, r = bit_start // 8, bit_start % 8
    for j in range(n_full):
        q = q0 + j
        if r == 0:
            out[j] = buf[q]
        else:
            out[j] = ((buf[q] << r) | (buf[q + 1] >> (8 - r))) & 0xFF
    # remaining body bits, then the 80 trailer bits, one at a time
    total = n_bits + 80
    n_bytes = (total + 7) // 8
    for j in range(n_full, n_bytes):
        out[j] = 0
    crc_start = bit_start + 48
    for k in range(n_full * 8, total):
        if k < n_bits:
            a = bit_start + k
            bit = (buf[a // 8] >> (7 - a % 8)) & 1
        elif k < n_bits + 48:
            bit = (_BZ_EOS >> (47 - (k - n_bits))) & 1
        else:
            a = crc_start + (k - n_bits - 48)
            bit = (buf[a // 8] >> (7 - a % 8)) & 1
        if bit:
            out[k // 8] |= 1 << (7 - k % 8)
    return n_bytes
