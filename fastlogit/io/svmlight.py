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
           "open_maybe_compressed", "read_timings"]

#: Bytes of decompressed text per parse block.
CHUNK_BYTES = 1 << 22
#: Decompress the blocks of .bz2 files in parallel (when more than one thread is allowed).
PARALLEL_BZ2 = True

_MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\xfd7zXZ\x00": "xz"}
_MAX_ID = 2**31 - 1


class SvmlightFormatError(ValueError):
    """Malformed svmlight input. ``path`` and ``lineno`` (1-based, or None) say where."""

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
        raise SvmlightFormatError(_name(what), None, "no samples (empty input)")
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


def _name(src):
    if isinstance(src, (str, bytes, os.PathLike)):
        return os.fsdecode(src)
    return getattr(src, "name", repr(src))


def _load_one(src, zero_based, dtype, timing, progress, chunk_bytes, n_threads, finite):
    blocks = []
    name = _name(src)
    for name, parsed in _iter_blocks(src, zero_based, dtype, n_threads, progress, chunk_bytes,
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


def _iter_blocks(src, zero_based, dtype, n_threads=None, progress=False,
                 chunk_bytes=None, timing=None, finite=False):
    """Yield ``(name, block)`` for each parsed block of one source (ids not yet shifted);
    with ``finite``, a NaN / infinite label or value is an error naming its line."""
    from . import _parse_numba as K

    chunk_bytes = int(chunk_bytes or CHUNK_BYTES)
    timing = {"read_s": 0.0, "parse_s": 0.0} if timing is None else timing
    n_threads = effective_n_threads(n_threads)
    name = _name(src)
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
    line0 = 0
    try:
        for block in _blocks(pieces, name, timing):
            t0 = time.perf_counter()
            parsed = _parse_block(block, line0, name, zero_based, dtype)
            if finite:
                _check_finite(parsed, name, dtype)
            timing["parse_s"] += time.perf_counter() - t0
            line0 += parsed["n_lines"]
            if bar is not None:
                at = where.get("pos", raw.tell()) if raw is not None else bar.n + len(block)
                bar.update(max(0, at - bar.n))
            yield name, parsed
    finally:
        K.set_threads(previous)
        if bar is not None:
            bar.close()
        if owned:
            stream.close()
            if raw is not stream:
                raw.close()


def binary_labels(y, classes=None):
    """Map binary labels to {0, 1}.

    Recognises the usual forms {0, 1}, {-1, +1} and {1, 2} (and any two distinct values): the
    smaller class becomes 0, the larger 1.

    Parameters
    ----------
    y : array of shape (n_samples,)
    classes : array of two values or None
        The two classes (e.g. a fitted model's ``classes_``); needed when ``y`` holds a single
        value whose form is ambiguous (all 1: is it {0, 1} or {1, 2}?).

    Returns
    -------
    y01 : ndarray of shape (n_samples,), float64 in {0, 1}
    classes : ndarray of shape (2,), the original values of 0 and 1
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
