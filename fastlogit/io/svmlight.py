"""svmlight / libsvm text reader: parallel parse, decompression overlapped with parsing.

Format (one sample per line)::

    <label> [qid:<int>] <id>:<value> <id>:<value> ...   [# comment]

The result is the matrix :func:`sklearn.datasets.load_svmlight_file` returns for the same
input (same shape, data, column ids and float64 labels), with these differences:

- an input without any sample (an empty file, only blank or comment lines) is an error;
- every error is a :class:`SvmlightFormatError` naming the file and line;
- index arrays are int32 where they fit (scikit-learn returns int64);
- ``qid:`` fields are skipped (with a warning saying how many rows had one);
- ``.xz`` files are decompressed too (and compression is recognised by its magic bytes,
  not the file name).

How it is fast.  A background thread reads the (decompressed) input in blocks of a few MB:
the bz2 / lzma / zlib decompressors release the GIL, so decompressing block k+1 overlaps the
parse of block k.  A .bz2 file is moreover decompressed block-parallel (its 100-900 kB blocks
are independent; see :func:`_bz2_parallel_pieces`), as single-threaded decompression is
otherwise most of the time on compressed input.  Each block of whole lines is parsed by two parallel Numba passes
(:mod:`fastlogit.io._parse_numba`): count the entries per line, then parse every row into its
slot.  Rows outside the fast number grammar (e.g. ``inf``, 20-digit mantissas, ``1_000``) or
breaking a rule are parsed again here in Python with ``int()``/``float()`` and
scikit-learn's rules, so the accepted language and every value are exactly scikit-learn's.
"""
import bz2
import gzip
import io
import lzma
import os
import queue
import threading
import time
import warnings
import zlib

import numpy as np
import scipy.sparse as sp

from .._config import effective_n_threads

__all__ = ["load_svmlight", "read_svmlight", "binary_labels", "SvmlightFormatError",
           "open_maybe_compressed", "decompressing", "read_timings", "iter_text_blocks",
           "iter_blocks", "iter_row_blocks", "score_svmlight", "source_name"]

#: Bytes of decompressed text per parse block.
CHUNK_BYTES = 1 << 22
#: Decompress the blocks of .bz2 files in parallel (when more than one thread is allowed).
PARALLEL_BZ2 = True

_MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\xfd7zXZ\x00": "xz"}
_MAX_ID = 2**31 - 1


class SvmlightFormatError(ValueError):
    """Malformed svmlight input, a :class:`ValueError` saying where.

    The message reads ``"<path>:<lineno>: <message>"`` (``"<path>: <message>"`` without a
    line); the parts are kept as attributes ``path``, ``lineno`` and ``reason``.

    Parameters
    ----------
    path : str
        Name of the input: a file path, a file object's ``name``, or its repr.
    lineno : int or None
        1-based line of the problem, or None when it concerns the whole input.
    message : str
        What is wrong.

    Examples
    --------
    >>> import io
    >>> from fastlogit.io import SvmlightFormatError, load_svmlight
    >>> try:
    ...     load_svmlight(io.BytesIO(b"1 1:0.5\\n1 2:x\\n"))
    ... except SvmlightFormatError as exc:
    ...     print(exc.lineno, isinstance(exc, ValueError))
    2 True
    """

    def __init__(self, path, lineno, message):
        self.path = path
        self.lineno = lineno
        self.reason = message
        where = f"{path}:{lineno}" if lineno is not None else f"{path}"
        super().__init__(f"{where}: {message}")


def _compression(path):
    with open(path, "rb") as fh:
        head = fh.read(6)
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            return kind
    return None


def open_maybe_compressed(path):
    """Open ``path`` for binary reading, decompressing gzip, bz2 or xz (by magic bytes).

    Returns ``(stream, raw)``: the decompressed stream and the underlying file (whose
    ``tell()`` is the position in the compressed bytes, for progress).
    """
    kind = _compression(path)
    raw = open(path, "rb")
    if kind == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw
    if kind == "bz2":
        return bz2.BZ2File(raw, "rb"), raw
    if kind == "xz":
        return lzma.LZMAFile(raw, "rb"), raw
    return raw, raw


class _BinaryStream(io.RawIOBase):
    """A readable binary stream with ``mode == "rb"`` over a decompressor object (whose
    ``mode`` is not a string in every Python version)."""

    def __init__(self, inner, name):
        self._inner = inner
        self.name = name
        self.mode = "rb"

    def readable(self):
        return True

    def read(self, size=-1):
        return self._inner.read(size)

    def readinto(self, b):  # pragma: no cover - read() is what the parser calls
        data = self._inner.read(len(b))
        b[:len(data)] = data
        return len(data)


def decompressing(fh, name):
    """``fh`` (an open binary stream) decompressed when it starts with a gzip / bz2 / xz
    magic, else ``fh`` itself: for stdin and open files, whose name says nothing.  Peeks
    at the first bytes where ``fh`` has ``peek`` (``sys.stdin.buffer``, ``open(..., "rb")``);
    without it the stream is read as it is.  The result has ``name`` and ``mode == "rb"``.
    """
    head = fh.peek(6)[:6] if hasattr(fh, "peek") else b""
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            inner = {"gzip": lambda: gzip.GzipFile(fileobj=fh, mode="rb"),
                     "bz2": lambda: bz2.BZ2File(fh, "rb"),
                     "xz": lambda: lzma.LZMAFile(fh, "rb")}[kind]()
            return _BinaryStream(inner, name)
    return fh


_DECOMPRESS_ERRORS = (EOFError, OSError, lzma.LZMAError, zlib.error)


def _reader(pieces, out, stop, timing):
    """Thread body: move decompressed pieces from the iterator into queue ``out``; None ends,
    an exception object reports a failure."""
    try:
        while not stop.is_set():
            t0 = time.perf_counter()
            block = next(pieces, b"")
            timing["read_s"] += time.perf_counter() - t0
            if not block:
                break
            out.put(block)
        out.put(None)
    except BaseException as exc:  # reported to the consumer
        out.put(exc)


def _serial_pieces(stream, chunk_bytes):
    while True:
        block = stream.read(chunk_bytes)
        if not block:
            return
        yield block


class _Bz2Fallback(Exception):
    pass


def _bits32(data, bit):
    """The 32 bits of ``data`` (bytes) starting at bit offset ``bit`` (most significant first)."""
    q, r = divmod(bit, 8)
    return (int.from_bytes(data[q:q + 5].ljust(5, b"\0"), "big") >> (8 - r)) & 0xFFFFFFFF


def _bz2_layout(data, pos, kind, n):
    """The blocks of a bz2 file as ``[(bit_start, bit_end, stream_header), ...]``, or None
    unless the markers found describe exactly a sequence of complete, intact streams.

    Checked: each stream starts with ``BZh1``-``BZh9`` on a byte boundary and its first
    marker follows the header; its end-of-stream marker is followed by the 32-bit stream CRC,
    which must equal the combination of its blocks' CRCs (``crc = rotl1(crc) ^ block_crc``);
    the next stream, if any, starts at the next byte; nothing else follows.  Block CRCs
    themselves are checked when each block is decompressed.  None sends the caller to the
    serial decompressor, which reports real damage (a truncated file, a damaged CRC) as
    usual, so the answer never depends on the thread count.
    """
    nbits = 8 * len(data)
    spans, i, byte = [], 0, 0
    while True:
        header = data[byte:byte + 4]
        if (len(header) < 4 or header[:3] != b"BZh" or header[3] not in b"123456789"
                or i >= n or pos[i] != 8 * (byte + 4)):
            return None
        combined = 0
        while i < n and kind[i] == 1:
            if i + 1 >= n:
                return None
            start = int(pos[i])
            combined = ((combined << 1) | (combined >> 31)) & 0xFFFFFFFF
            combined ^= _bits32(data, start + 48)
            spans.append((start, int(pos[i + 1]), header))
            i += 1
        if i >= n:
            return None
        eos = int(pos[i])
        if eos + 80 > nbits or _bits32(data, eos + 48) != combined:
            return None
        i += 1
        byte = (eos + 80 + 7) // 8
        if byte == len(data):
            return spans if i == n else None


def _bz2_parallel_pieces(path, n_workers, chunk_bytes, where):
    """Decompressed text of a bz2 file, its blocks decompressed in parallel, in order.

    bz2 compresses 100-900 kB blocks independently; each starts with a 48-bit magic at any bit
    offset.  The file's layout is verified first (:func:`_bz2_layout`: stream headers, the
    stream CRCs against the block CRCs, nothing missing at the end).  Each block is then cut
    out, re-aligned and closed as a one-block stream (its CRC is the stream CRC), and
    ``bz2.decompress`` (which checks the block CRC) runs on them in a thread pool (it releases
    the GIL).  A layout that does not verify, or a block that fails to decompress (a
    magic-like bit pattern inside the data, or a damaged file), makes the whole file fall back
    to the serial decompressor, which skips the text already delivered and reports real
    damage as usual.
    """
    from concurrent.futures import ThreadPoolExecutor

    from . import _parse_numba as K

    delivered = 0
    try:
        with open(path, "rb") as fh:  # the compressed bytes (a fraction of the text)
            data = fh.read()
        buf = np.frombuffer(data, dtype=np.uint8)
        pos = np.empty(buf.size // 16 + 64, dtype=np.int64)
        kind = np.empty(pos.size, dtype=np.uint8)
        n = K.bz2_markers(buf, pos, kind)
        spans = _bz2_layout(data, pos, kind, n) if n > 1 else None
        if not spans:
            raise _Bz2Fallback
        out = np.empty(max(b - a for a, b, _ in spans) // 8 + 32, dtype=np.uint8)

        def stream(span):
            m = K.bz2_block_stream(buf, span[0], span[1], out)
            return span[2] + out[:m].tobytes()

        def job(data):
            try:
                return bz2.decompress(data)
            except (OSError, EOFError, ValueError):
                return None

        with ThreadPoolExecutor(max_workers=n_workers) as ex:
            futures, pending = [], b""
            for k, span in enumerate(spans):
                futures.append(ex.submit(job, stream(span)))
                while len(futures) > 2 * n_workers or (k == len(spans) - 1 and futures):
                    text = futures.pop(0).result()
                    if text is None:
                        for f in futures:
                            f.cancel()
                        raise _Bz2Fallback
                    pending += text
                    if len(pending) >= chunk_bytes or not futures:
                        where["pos"] = span[1] // 8
                        delivered += len(pending)
                        yield pending
                        pending = b""
        return
    except _Bz2Fallback:
        pass
    with bz2.open(path, "rb") as fh:
        skip = delivered
        while skip:
            got = len(fh.read(min(skip, chunk_bytes)))
            if not got:
                raise EOFError("bz2 data shorter on a second read")
            skip -= got
        yield from _serial_pieces(fh, chunk_bytes)


def _blocks(pieces, name, timing):
    """Yield the decompressed input as blocks of whole lines (the last may lack its newline)."""
    q = queue.Queue(maxsize=3)
    stop = threading.Event()
    thread = threading.Thread(target=_reader, args=(pieces, q, stop, timing), daemon=True)
    thread.start()
    carry = b""
    try:
        while True:
            block = q.get()
            if isinstance(block, BaseException):
                if isinstance(block, _DECOMPRESS_ERRORS):
                    raise SvmlightFormatError(
                        name, None, f"cannot read: truncated or corrupt data ({block})") from block
                raise block
            if block is None:
                if carry:
                    yield carry
                return
            if carry:
                block = carry + block
            cut = block.rfind(b"\n") + 1
            carry = block[cut:]
            if cut:
                yield block[:cut]
    finally:
        stop.set()
        while thread.is_alive():  # unblock a reader waiting on a full queue
            try:
                q.get(timeout=0.05)
            except queue.Empty:
                pass
        thread.join()


def _parse_slow_line(line, zero_based, name, lineno):
    """scikit-learn's rules for one line, in Python. Returns (label, ids, values, had_qid)."""
    hash_at, nul_at = line.find(b"#"), line.find(b"\0")
    if hash_at >= 0 and (nul_at < 0 or hash_at < nul_at):
        line = line[:hash_at]
    parts = line.split()

    def fail(msg):
        raise SvmlightFormatError(name, lineno, msg)

    try:
        label = float(parts[0])
    except ValueError:
        fail(f"invalid label {parts[0][:40]!r}" + (" (label missing?)" if b":" in parts[0] else ""))
    feats = parts[1:]
    had_qid = False
    if feats and feats[0].startswith(b"qid"):
        if b":" not in feats[0]:
            fail(f"malformed qid field {feats[0][:40]!r} (expected qid:<int>)")
        feats = feats[1:]
        had_qid = True
    ids, values = [], []
    prev = -1
    for tok in feats:
        if b":" not in tok:
            fail(f"expected <id>:<value>, got {tok[:40]!r} (missing colon)")
        id_s, value_s = tok.split(b":", 1)
        try:
            idx = int(id_s)
        except ValueError:
            fail(f"invalid feature id {id_s[:40]!r} in {tok[:40]!r}")
        if idx < 0 or (idx == 0 and not zero_based):
            fail(f"invalid feature id {idx}" + ("" if idx < 0 else " (ids are one-based here)"))
        if idx > _MAX_ID:
            fail(f"feature id {idx} too large (at most {_MAX_ID})")
        if idx <= prev:
            fail(f"feature ids must be increasing (sorted and unique): {idx} after {prev}")
        try:
            value = float(value_s)
        except ValueError:
            fail(f"invalid value {value_s[:40]!r} for feature {idx}")
        ids.append(idx)
        values.append(value)
        prev = idx
    return label, ids, values, had_qid


def _parse_block(block, line0, name, zero_based, dtype):
    """Parse one block of whole lines. Returns a dict of the block's arrays."""
    from . import _parse_numba as K

    buf = np.frombuffer(block, dtype=np.uint8)
    nl = np.flatnonzero(buf == 10)
    ends = nl if (buf.size and buf[-1] == 10) else np.append(nl, buf.size)
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    n_lines = ends.size
    content_end = np.empty(n_lines, dtype=np.int64)
    n_feat = np.empty(n_lines, dtype=np.int64)
    flags = np.empty(n_lines, dtype=np.uint8)
    K.scan_lines(buf, starts, ends, content_end, n_feat, flags)
    row_lines = np.flatnonzero(n_feat >= 0)
    counts = n_feat[row_lines]
    indptr = np.zeros(row_lines.size + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    nnz = int(indptr[-1])
    labels = np.empty(row_lines.size, dtype=np.float64)
    indices = np.empty(nnz, dtype=np.int32)
    data = np.empty(nnz, dtype=dtype)
    status = np.zeros(row_lines.size, dtype=np.uint8)
    K.parse_rows(buf, starts, content_end, flags, row_lines, indptr, bool(zero_based),
                 labels, indices, data, status)
    for r in np.flatnonzero(status):
        i = row_lines[r]
        line = block[starts[i]:ends[i]]
        label, ids, values, _ = _parse_slow_line(line, zero_based, name, line0 + i + 1)
        lo, hi = indptr[r], indptr[r + 1]
        if len(ids) != hi - lo:  # pragma: no cover - both count the same tokens
            raise AssertionError(f"{name}:{line0 + i + 1}: token count mismatch")
        labels[r] = label
        indices[lo:hi] = ids
        with np.errstate(over="ignore"):
            data[lo:hi] = np.asarray(values, dtype=np.float64).astype(dtype)
    return dict(labels=labels, indices=indices, data=data, counts=counts,
                lines=line0 + row_lines + 1, n_lines=n_lines,
                n_qid=int(np.count_nonzero(flags[row_lines] & K.QID)))


#: Seconds spent by the last :func:`load_svmlight` call: ``read_s`` (reading and
#: decompressing, in the reader thread, overlapped with parsing), ``parse_s`` (parsing in the
#: calling thread), ``total_s``.
read_timings = {}


def load_svmlight(path_or_paths, n_features=None, dtype=np.float64, *, zero_based="auto",
                  n_threads=None, progress=False, chunk_bytes=None, finite=False):
    """Read svmlight / libsvm text (plain, .gz, .bz2 or .xz) into a CSR matrix and labels.

    Parameters
    ----------
    path_or_paths : str, path-like, binary file object, or a list of them
        Several inputs are shards of one data set: their rows are stacked in order (and
        ``zero_based="auto"`` decides over all of them, as scikit-learn's
        ``load_svmlight_files`` does).
    n_features : int or None
        Number of columns; default the largest feature id + 1 (after the id shift).  A feature
        id beyond it is an error.
    dtype : float32 or float64
        dtype of the values (parsed as float64, then rounded, as scikit-learn does).
    zero_based : bool or "auto"
        Whether feature ids start at 0.  "auto" (scikit-learn's rule): one-based, i.e. ids
        shifted down by one, unless some id is 0.
    n_threads : int or None
        Threads for parsing (None: all cores).
    progress : bool
        Show a tqdm progress bar over the (compressed) input bytes.
    chunk_bytes : int or None
        Decompressed bytes per parse block (default :data:`CHUNK_BYTES`).
    finite : bool, default False
        Refuse NaN and infinite labels and values (including values beyond the float32
        range with ``dtype=float32``) with an error naming the file and line.  By default
        they are kept, as scikit-learn's reader does.

    Returns
    -------
    X : csr_matrix of shape (n_samples, n_features), sorted int32 (or int64) indices
    y : ndarray of shape (n_samples,), float64, the labels as written (see
        :func:`binary_labels` to map them to {0, 1}).

    Raises
    ------
    SvmlightFormatError (a ValueError)
        With the file name and line: malformed line, feature id beyond ``n_features``, no
        samples at all, truncated or corrupt compressed data, a non-finite number with
        ``finite=True``.
    OSError
        The path cannot be opened.

    Examples
    --------
    >>> import io
    >>> from fastlogit.io import load_svmlight
    >>> text = b"+1 1:0.5 3:2\\n-1 2:1\\n"
    >>> X, y = load_svmlight(io.BytesIO(text))
    >>> X.toarray()
    array([[0.5, 0. , 2. ],
           [0. , 1. , 0. ]])
    >>> y
    array([ 1., -1.])
    """
    X, y, _ = read_svmlight(path_or_paths, n_features, dtype, zero_based=zero_based,
                            n_threads=n_threads, progress=progress, chunk_bytes=chunk_bytes,
                            finite=finite)
    return X, y


def read_svmlight(path_or_paths, n_features=None, dtype=np.float64, *, zero_based="auto",
                  n_threads=None, progress=False, chunk_bytes=None, finite=False):
    """:func:`load_svmlight`, also returning ``where``: ``where(i)`` is ``(file name, line)``
    of row ``i`` (1-based line), for messages about a row found bad later (e.g. a label the
    model does not know)."""
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    if zero_based not in (True, False, "auto"):
        raise ValueError(f"zero_based must be True, False or 'auto', got {zero_based!r}")
    if n_features is not None and int(n_features) < 1:
        raise ValueError(f"n_features must be a positive integer, got {n_features}")
    sources = list(path_or_paths) if isinstance(path_or_paths, (list, tuple)) else [path_or_paths]
    if not sources:
        raise ValueError("no input given")
    t_start = time.perf_counter()
    timing = {"read_s": 0.0, "parse_s": 0.0}
    parts = [_load_one(src, zero_based, dtype, timing, progress, chunk_bytes, n_threads, finite)
             for src in sources]
    blocks = [b for part in parts for b in part[1]]
    names = [name for name, part_blocks in parts for _ in part_blocks]
    n_rows = sum(b["labels"].size for b in blocks)
    if n_rows == 0:
        what = sources[0] if len(sources) == 1 else f"{len(sources)} inputs"
        raise SvmlightFormatError(source_name(what), None, "no samples (empty input)")
    block_end = np.cumsum([b["labels"].size for b in blocks])

    def where(row):
        k = int(np.searchsorted(block_end, row, side="right"))
        first = int(block_end[k - 1]) if k else 0
        return names[k], int(blocks[k]["lines"][row - first])

    labels = np.concatenate([b["labels"] for b in blocks])
    indices = np.concatenate([b["indices"] for b in blocks])
    data = np.concatenate([b["data"] for b in blocks])
    counts = np.concatenate([b["counts"] for b in blocks])
    nnz = data.size
    shifted = zero_based is False or (zero_based == "auto" and nnz and indices.min() > 0)
    if shifted:
        indices -= 1
    n_f = int(indices.max()) + 1 if nnz else 1
    if n_features is None:
        n_features = n_f
    elif int(n_features) < n_f:
        n_features = int(n_features)
        k = int(np.argmax(indices >= n_features))
        row = int(np.searchsorted(np.cumsum(counts), k, side="right"))
        shown = int(indices[k]) + int(bool(shifted))
        raise SvmlightFormatError(*where(row), f"feature id {shown} is beyond n_features="
                                               f"{n_features} (the data has {n_f} features)")
    n_qid = sum(b["n_qid"] for b in blocks)
    if n_qid:
        warnings.warn(f"load_svmlight: qid fields on {n_qid} rows were ignored", UserWarning,
                      stacklevel=2)
    index_dtype = np.int32 if nnz <= np.iinfo(np.int32).max else np.int64
    indptr = np.zeros(n_rows + 1, dtype=index_dtype)
    np.cumsum(counts, out=indptr[1:])
    X = sp.csr_matrix((data, indices.astype(index_dtype, copy=False), indptr),
                      shape=(n_rows, int(n_features)))
    X.has_sorted_indices = True
    read_timings.clear()
    read_timings.update(timing, total_s=time.perf_counter() - t_start)
    return X, labels, where


def source_name(src):
    """The name errors give ``src``: a path as a string, else the object's ``name``
    attribute or its repr."""
    if isinstance(src, (str, bytes, os.PathLike)):
        return os.fsdecode(src)
    return getattr(src, "name", repr(src))


def _load_one(src, zero_based, dtype, timing, progress, chunk_bytes, n_threads, finite):
    blocks = []
    name = source_name(src)
    for name, parsed in iter_blocks(src, zero_based, dtype, n_threads, progress, chunk_bytes,
                                    timing, finite):
        blocks.append(parsed)
    return name, blocks


def _check_finite(parsed, name, dtype):
    """Raise SvmlightFormatError at the first line of a parsed block holding a NaN or
    infinite label or value."""
    bad_label = np.flatnonzero(~np.isfinite(parsed["labels"]))
    bad_value = np.flatnonzero(~np.isfinite(parsed["data"]))
    if not (bad_label.size or bad_value.size):
        return
    value_row = (int(np.searchsorted(np.cumsum(parsed["counts"]), bad_value[0], side="right"))
                 if bad_value.size else parsed["labels"].size)
    if bad_label.size and bad_label[0] <= value_row:
        row = int(bad_label[0])
        problem = f"label {parsed['labels'][row]} is not a finite number"
    else:
        row, k = value_row, int(bad_value[0])
        value = parsed["data"][k]
        problem = (f"feature {int(parsed['indices'][k])} has the value {value}"
                   + (" (beyond the float32 range)" if dtype == np.float32 and np.isinf(value)
                      else "") + "; NaN and infinity are not accepted here")
    raise SvmlightFormatError(name, int(parsed["lines"][row]), problem)


def iter_text_blocks(src, *, n_threads=None, chunk_bytes=None, progress=False, timing=None):
    """Yield ``(name, block)``: the (decompressed) text of one source in blocks of whole lines.

    Parameters
    ----------
    src : str, path-like or binary file object
        Plain, .gz, .bz2 or .xz text (compression recognised by magic bytes for a path; an
        open file is read as it is).
    n_threads : int or None
        Threads for the consumer's parallel passes (:func:`fastlogit._config.effective_n_threads`):
        Numba's thread count is set to it (one less while a decompressor runs in the reader
        thread) for the iteration and restored afterwards; .bz2 files are decompressed on as
        many threads.
    chunk_bytes : int or None
        Decompressed bytes read per block (default :data:`CHUNK_BYTES`); a block is cut after
        its last newline, the rest goes to the next one.
    progress : bool
        A tqdm bar over the (compressed) input bytes.
    timing : dict or None
        ``timing["read_s"]`` accumulates the reader thread's seconds.

    Yields
    ------
    name : str
        :func:`source_name` of ``src``.
    block : bytes
        Whole lines, each ending with a newline except possibly the input's last one; the
        blocks in order are the input.  Line ``k`` of a block is line ``L + k + 1`` of the
        input, ``L`` the number of lines in the blocks before it (a line = its newline, or
        the input's unterminated end).

    Raises
    ------
    SvmlightFormatError
        Truncated or corrupt compressed data.
    ValueError
        ``src`` is a file object open in text mode.

    Memory: the reader thread queues at most three blocks ahead of the consumer.
    """
    from . import _parse_numba as K

    chunk_bytes = int(chunk_bytes or CHUNK_BYTES)
    timing = {"read_s": 0.0, "parse_s": 0.0} if timing is None else timing
    n_threads = effective_n_threads(n_threads)
    name = source_name(src)
    where = {}
    if hasattr(src, "read"):
        if "b" not in getattr(src, "mode", "b") or isinstance(src, io.TextIOBase):
            raise ValueError(f"{name}: open the file in binary mode ('rb')")
        stream, raw, owned = src, None, False
    else:
        stream, raw = open_maybe_compressed(os.fspath(src))
        owned = True
    if isinstance(stream, bz2.BZ2File) and n_threads > 1 and PARALLEL_BZ2:
        pieces = _bz2_parallel_pieces(os.fspath(src), n_threads, chunk_bytes, where)
    else:
        pieces = _serial_pieces(stream, chunk_bytes)
    # Decompression keeps cores busy in the reader thread(s): parse on the rest (idle
    # OpenMP workers spin, which would slow the decompressor down).
    previous = K.set_threads(n_threads if stream is raw else max(1, n_threads - 1))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        total = os.fstat(raw.fileno()).st_size if raw is not None else None
        bar = tqdm(total=total, unit="B", unit_scale=True, desc=f"parse {os.path.basename(name)}",
                   leave=False)
    try:
        for block in _blocks(pieces, name, timing):
            if bar is not None:
                at = where.get("pos", raw.tell()) if raw is not None else bar.n + len(block)
                bar.update(max(0, at - bar.n))
            yield name, block
    finally:
        K.set_threads(previous)
        if bar is not None:
            bar.close()
        if owned:
            stream.close()
            if raw is not stream:
                raw.close()


def iter_blocks(src, zero_based, dtype, n_threads=None, progress=False, chunk_bytes=None,
                timing=None, finite=False):
    """Yield ``(name, parsed)`` for each block of :func:`iter_text_blocks` of one source.

    ``parsed`` is a dict of the block's arrays: ``labels`` (m,) float64, ``indices`` (nnz,)
    int32 feature ids as written (not yet shifted by ``zero_based``), ``data`` (nnz,)
    ``dtype``, ``counts`` (m,) entries per row, ``lines`` (m,) the rows' 1-based line numbers
    in the input, ``n_lines`` (lines in the block, blank and comment lines included) and
    ``n_qid`` (rows with a qid field).  ``zero_based`` (bool or "auto"; truthy accepts an id
    0) and ``dtype`` as :func:`load_svmlight`; with ``finite``, a NaN / infinite label or
    value is an error naming its line.  Malformed lines raise :class:`SvmlightFormatError`
    naming the file and line.
    """
    timing = {"read_s": 0.0, "parse_s": 0.0} if timing is None else timing
    line0 = 0
    blocks = iter_text_blocks(src, n_threads=n_threads, chunk_bytes=chunk_bytes,
                              progress=progress, timing=timing)
    try:
        for name, block in blocks:
            t0 = time.perf_counter()
            parsed = _parse_block(block, line0, name, zero_based, dtype)
            if finite:
                _check_finite(parsed, name, dtype)
            timing["parse_s"] += time.perf_counter() - t0
            line0 += parsed["n_lines"]
            yield name, parsed
    finally:
        blocks.close()


def binary_labels(y, classes=None):
    """Map binary labels to {0, 1}.

    Recognises the usual forms {0, 1}, {-1, +1} and {1, 2} (and any two distinct values): the
    smaller class becomes 0, the larger 1.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Numeric labels (converted to float64) taking at most two distinct values.
    classes : array-like of shape (2,), default=None
        The two classes (e.g. a fitted model's ``classes_``); needed when ``y`` holds a single
        value whose form is ambiguous (all 1: is it {0, 1} or {1, 2}?).

    Returns
    -------
    y01 : ndarray of shape (n_samples,)
        float64 labels in {0, 1}.
    classes : ndarray of shape (2,)
        The original values of 0 and 1, float64, ascending.

    Raises
    ------
    ValueError
        If ``y`` holds more than two values, ``classes`` are not two distinct values, a
        label is not among ``classes``, or a single value's form is ambiguous without
        ``classes``.

    Examples
    --------
    >>> from fastlogit.io import binary_labels
    >>> binary_labels([-1, 1, 1, -1])
    (array([0., 1., 1., 0.]), array([-1.,  1.]))
    >>> binary_labels([2, 2], classes=[1, 2])[0]
    array([1., 1.])
    """
    y = np.asarray(y, dtype=np.float64)
    seen = np.unique(y)
    if classes is not None:
        classes = np.sort(np.asarray(classes, dtype=np.float64))
        if classes.shape != (2,) or classes[0] == classes[1]:
            raise ValueError(f"classes must hold two distinct values, got {classes}")
        unknown = np.setdiff1d(seen, classes)
        if unknown.size:
            raise ValueError(f"labels {unknown[:5].tolist()} are not among the classes "
                             f"{classes.tolist()}")
    elif seen.size == 2:
        classes = seen
    elif seen.size > 2:
        raise ValueError(f"expected binary labels, got {seen.size} distinct values "
                         f"{seen[:6].tolist()}{'...' if seen.size > 6 else ''}")
    elif seen.size == 1:
        forms = [f for f in ((0.0, 1.0), (-1.0, 1.0), (1.0, 2.0)) if seen[0] in f]
        if len(forms) != 1:
            raise ValueError(f"only the label {seen[0]:g} occurs: cannot tell which binary "
                             "form this is; pass classes")
        classes = np.array(forms[0])
    else:
        raise ValueError("no labels")
    return (y == classes[1]).astype(np.float64), classes


# ----------------------------------------------------------------------------- row blocks
class _IdBase:
    """The id shift of one input: 0 (zero-based) or 1 (one-based).  ``zero_based="auto"``
    decides on the first block holding entries, one-based unless an id 0 is there (the whole
    input is not seen first); an id 0 in a later block of input taken as one-based is an
    error naming its line."""

    def __init__(self, zero_based):
        self.auto = zero_based == "auto"
        self.shift = None if self.auto else int(not zero_based)

    def zero_error(self, name, line):
        return SvmlightFormatError(
            name, line, "feature id 0 after one-based ids: zero_based='auto' took the data "
                        "as one-based from its first block (no id 0 there); pass "
                        "zero_based=True (--zero-based yes) for zero-based data")

    def beyond_error(self, name, line, raw_id, n_features):
        return SvmlightFormatError(name, line, f"feature id {raw_id} is beyond n_features="
                                               f"{n_features} (the model's number of features)")


def _end_of_input(name, n_rows, n_qid):
    if n_qid:
        warnings.warn(f"qid fields on {n_qid} rows were ignored", UserWarning, stacklevel=3)
    if not n_rows:
        raise SvmlightFormatError(name, None, "no samples (empty input)")


def iter_row_blocks(src, n_features, *, dtype=np.float64, zero_based="auto", n_threads=None,
                    chunk_bytes=None, finite=True):
    """Yield ``(name, lines, data, indices, indptr)``: the rows of each block of one source
    as CSR arrays with zero-based column ids checked against ``n_features``.

    ``lines`` (m,) are the rows' 1-based line numbers, ``data`` (nnz,) ``dtype``,
    ``indices`` (nnz,) int32 in [0, n_features), ``indptr`` (m + 1,) int64 from 0; m >= 1
    (blocks without rows are skipped).  ``zero_based`` as :class:`_IdBase` says ("auto"
    decides on the first block with entries).  Errors (:class:`SvmlightFormatError`, naming
    file and line): malformed lines, NaN / infinity with ``finite``, an id 0 after one-based
    ids, an id beyond ``n_features``, no samples at all.  qid fields are skipped with one
    warning at the end.
    """
    base = _IdBase(zero_based)
    name = source_name(src)
    n_rows = n_qid = 0
    for name, parsed in iter_blocks(src, zero_based, dtype, n_threads, chunk_bytes=chunk_bytes,
                                    finite=finite):
        m = parsed["labels"].size
        n_qid += parsed["n_qid"]
        if not m:
            continue
        indices, counts = parsed["indices"], parsed["counts"]
        if indices.size:
            def line_of(k):
                return int(parsed["lines"][np.searchsorted(np.cumsum(counts), k, side="right")])

            low = int(indices.min())
            if base.shift is None:
                base.shift = int(low > 0)
            elif base.shift and base.auto and low == 0:
                raise base.zero_error(name, line_of(int(np.argmax(indices == 0))))
            if base.shift:
                indices -= 1
            if int(indices.max()) >= n_features:
                k = int(np.argmax(indices >= n_features))
                raise base.beyond_error(name, line_of(k), int(indices[k]) + base.shift,
                                        n_features)
        indptr = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        n_rows += m
        yield name, parsed["lines"], parsed["data"], indices, indptr
    _end_of_input(name, n_rows, n_qid)


def score_svmlight(src, coef, intercept, *, dtype=np.float64, zero_based="auto",
                   four_sums=False, n_threads=None, chunk_bytes=None, finite=True):
    """Parse one svmlight source and score its rows with a linear model, block by block,
    in one pass over the text that stores no entry (:func:`fastlogit.io._parse_numba.score_lines`).

    Yields ``(name, lines, z)`` per block with rows: ``lines`` (m,) their 1-based line
    numbers, ``z`` (m, K) their decision values in ``dtype``, equal (bitwise) to those of
    the same rows read by :func:`iter_row_blocks` and scored in memory:

    - binary (``coef`` of shape (1, d)): ``float64(x . w) + intercept[0]`` rounded to
      ``dtype``, the dot product in float64 over the row's entries in order, or with
      ``four_sums`` in four interleaved partial sums (``a[k % 4] += x_k w_k`` over whole
      groups of four, the rest into ``a[0]``, then ``(a0 + a1) + (a2 + a3)``): the
      summations of the Numba / NumPy and of the Cython decision kernels;
    - multinomial (``coef`` (K, d), K >= 2): ``X @ coef.T + intercept`` as scipy computes
      it: per class, entry by entry in ``dtype`` from 0, then the intercept.

    Values are rounded to ``dtype`` as the parser stores them; ``coef`` and ``intercept``
    are cast to ``dtype`` (the binary intercept stays float64).  Everything else is as
    :func:`iter_row_blocks` with ``n_features = d``: the accepted text, ``zero_based``,
    ``finite``, the qid warning and every error, with the same message and line (within a
    block, errors rank as the parser raises them: malformed line, then NaN / infinity, then
    an id 0 after one-based ids, then an id beyond d; the first line of each kind).  Lines
    outside the parser's fast grammar are parsed and scored in Python
    (:func:`_parse_slow_line`, then :func:`~fastlogit.io._parse_numba.score_entries`, the
    same arithmetic).

    Memory: a block of text, 8 + 1 + 8 K bytes per line of it, and the model.

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> from fastlogit.io import score_svmlight
    >>> text = io.BytesIO(b"+1 1:0.5 3:2\\n-1 2:1  # a comment\\n")
    >>> for name, lines, z in score_svmlight(text, np.array([[1.0, -1.0, 0.25]]), [0.5]):
    ...     print(lines, z[:, 0])
    [1 2] [ 1.5 -0.5]
    """
    from . import _parse_numba as K

    dtype = np.dtype(dtype)
    coef = np.asarray(coef)
    if coef.ndim != 2 or coef.shape[1] < 1:
        raise ValueError(f"coef must have shape (K, n_features), got {coef.shape}")
    W = np.ascontiguousarray(coef.T, dtype=dtype)
    b = np.asarray(intercept, dtype=np.float64 if coef.shape[0] == 1 else dtype).reshape(-1)
    if b.shape != (coef.shape[0],):
        raise ValueError(f"intercept must have shape ({coef.shape[0]},), got {b.shape}")
    base = _IdBase(zero_based)
    model = (W, b, bool(four_sums))
    name = source_name(src)
    n_rows = n_qid = line0 = 0
    for name, block in iter_text_blocks(src, n_threads=n_threads, chunk_bytes=chunk_bytes):
        lines, z, n_lines, qids = _score_block(K, block, line0, name, base, zero_based, dtype,
                                               model, finite)
        line0 += n_lines
        n_qid += qids
        if lines.size:
            n_rows += lines.size
            yield name, lines, z
    _end_of_input(name, n_rows, n_qid)


def _score_lines(K, buf, block, base, zero_based, model):
    """score_lines over the block in up to get_threads() pieces cut at line starts; returns
    (starts, flags, z) per line."""
    size = len(block)
    n_pieces = max(1, min(K.get_threads(), size // 2048))
    cuts = [0]
    for t in range(1, n_pieces):
        at = block.find(b"\n", t * size // n_pieces)
        cuts.append(max(cuts[-1], size if at < 0 else at + 1))
    cuts.append(size)
    first = [0]
    for t in range(n_pieces):
        first.append(first[-1] + block.count(b"\n", cuts[t], cuts[t + 1]))
    n_lines = first[-1] + (0 if block.endswith(b"\n") else 1)
    W, b, four = model
    starts = np.empty(n_lines, dtype=np.int64)
    flags = np.empty(n_lines, dtype=np.uint8)
    z = np.empty((n_lines, W.shape[1]), dtype=W.dtype)
    shift = 1 if base.shift is None else base.shift
    K.score_lines(buf, np.array(cuts, dtype=np.int64), np.array(first, dtype=np.int64),
                  bool(zero_based), shift, W, b, four, starts, flags, z)
    return starts, flags, z


def _score_block(K, block, line0, name, base, zero_based, dtype, model, finite):
    """Score one block (see :func:`score_svmlight`); returns (row lines, z of the rows,
    lines in the block, rows with a qid field)."""
    buf = np.frombuffer(block, dtype=np.uint8)
    starts, flags, z = _score_lines(K, buf, block, base, zero_based, model)
    n_lines = flags.size

    def text(i):
        end = block.find(b"\n", starts[i])
        return block[starts[i]:end if end >= 0 else len(block)]

    slow = np.flatnonzero(flags & K.SLOW)
    parsed = [_parse_slow_line(text(i), zero_based, name, line0 + i + 1) for i in slow]
    ids = [np.asarray(p[1], dtype=np.int64) for p in parsed]
    values = [np.asarray(p[2], dtype=np.float64) for p in parsed]
    if finite and parsed:  # the fast grammar gives finite numbers only: look at slow lines
        with np.errstate(over="ignore"):
            data = np.concatenate(values + [np.zeros(0)]).astype(dtype)
        _check_finite(dict(labels=np.array([p[0] for p in parsed]), data=data,
                           indices=np.concatenate(ids + [np.zeros(0, np.int64)]),
                           counts=np.array([v.size for v in values]), lines=line0 + slow + 1),
                      name, dtype)
    flagged = np.where(flags & K.SLOW, 0, flags)  # fast lines only
    if base.shift is None and ((flags & K.HAS_IDS).any() or any(v.size for v in ids)):
        zero = (flagged & K.ZERO).any() or any(v.size and v[0] == 0 for v in ids)
        base.shift = int(not zero)
        if not base.shift:  # zero-based after all: score again without the shift
            starts, flags, z = _score_lines(K, buf, block, base, zero_based, model)
            flagged = np.where(flags & K.SLOW, 0, flags)  # fast lines only
    W = model[0]
    shift = 0 if base.shift is None else base.shift
    first = {}  # kind -> first line index (in the block) of that error
    if base.auto and shift:
        cand = [i for i, v in zip(slow, ids) if v.size and v[0] == 0][:1]
        first["zero"] = min(cand + np.flatnonzero(flagged & K.ZERO)[:1].tolist(), default=None)
    cand = [i for i, v in zip(slow, ids) if v.size and v[-1] - shift >= W.shape[0]][:1]
    first["beyond"] = min(cand + np.flatnonzero(flagged & K.BEYOND)[:1].tolist(), default=None)
    if first.get("zero") is not None:
        raise base.zero_error(name, line0 + first["zero"] + 1)
    if first["beyond"] is not None:
        i = first["beyond"]
        row_ids = np.asarray(_parse_slow_line(text(i), zero_based, name, line0 + i + 1)[1])
        raw_id = int(row_ids[np.argmax(row_ids - shift >= W.shape[0])])
        raise base.beyond_error(name, line0 + i + 1, raw_id, W.shape[0])
    if parsed:
        indptr = np.zeros(len(parsed) + 1, dtype=np.int64)
        np.cumsum([v.size for v in ids], out=indptr[1:])
        z_slow = np.empty((len(parsed), z.shape[1]), dtype=z.dtype)
        K.score_entries(indptr, np.concatenate(ids), np.concatenate(values), shift, W,
                        model[1], model[2], z_slow)
        z[slow] = z_slow
    n_qid = int(np.count_nonzero(flagged & K.QID)) + sum(p[3] for p in parsed)
    if (flags & K.BLANK).any():
        rows = np.flatnonzero(~flags & K.BLANK)
        return line0 + rows + 1, z[rows], n_lines, n_qid
    return np.arange(line0 + 1, line0 + n_lines + 1), z, n_lines, n_qid
