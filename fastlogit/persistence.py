"""Saving and loading fitted models without pickle.

File format ``fastlogit-model``, version 2
------------------------------------------
A model file is an uncompressed NumPy ``.npz`` archive (a ZIP file of ``.npy`` arrays) that
``numpy.load(path, allow_pickle=False)`` can read.  It holds:

``__metadata__``
    uint8 array: UTF-8 JSON object with the keys::

        format              "fastlogit-model"
        format_version      2
        fastlogit_version   version of fastlogit that wrote the file (informative)
        estimator           class name, "LogisticRegression" or "SGDLogisticRegression"
        params              the estimator's constructor parameters (JSON values; floats as
                            {"__float__": repr}, arrays as {"__array__": nested lists,
                            "dtype": str}, dicts as {"__pairs__": [[key, value], ...]})
        attributes          scalar fitted attributes, a fixed schema per class (below)
        arrays              {name: {"dtype": str, "shape": [...], "sha256": hex}} for every
                            array member
        sha256              SHA-256 of the canonical JSON serialisation of all the keys
                            above (json.dumps(..., sort_keys=True, separators=(",", ":"),
                            ensure_ascii=True))

array members
    ``coef_`` (K', d) float32/float64, ``intercept_`` (K',) of the same dtype, ``classes_``
    (K,) strictly increasing (int64, float64, bool or unicode), ``n_iter_`` (m,) integers,
    and optionally ``feature_names_in_`` (d,) unicode; K' = 1 for K = 2 classes, else K.

Fitted scalar attributes (the schema; no other name is accepted)::

    every class             n_features_in_  int >= 1
    LogisticRegression      solver_         str (at most 64 characters)
                            converged_      bool
    SGDLogisticRegression   t_              finite float >= 0

Integrity.  Every byte that can change a prediction is covered by a checksum: each array by
its SHA-256 in the metadata, the metadata (and so those digests, the parameters and the
attributes) by the metadata's own SHA-256.  :func:`load` verifies both, then the schema
(names, dtypes, shapes, finiteness, sorted classes), and rebuilds the estimator from its
validated parameters.  It reads the file into memory once and parses the archive itself
(never ``np.load``): members must be stored uncompressed, and an ``.npy`` header must
declare exactly the bytes its member holds, so a damaged or forged file cannot make it
allocate more than the file's size.  Every problem with the content -- truncated, damaged,
edited, of another format or version, not a ZIP at all -- raises ``ValueError`` naming the
file and the problem; only a path that cannot be opened raises ``OSError``.  :func:`save`
checks the same schema, so a model that saves also loads.

The checksums detect damage and edits, not a deliberate forger, who can recompute them: a
model file is code-free data (no pickle), but loading one from an untrusted source still
means trusting its predictions.

Writes are atomic (:func:`fastlogit._atomic.atomic_write`): a crash or kill leaves the old
file or the complete new one, never a part; the file mode follows the umask (or the
replaced file's mode); a symbolic link is written through to its target; temporary files
of a killed save are removed by the next save to the same path.
"""
import contextlib
import hashlib
import importlib
import io
import json
import math
import numbers
import os
import struct
import zipfile
import zlib

import numpy as np

from ._atomic import atomic_write

__all__ = ["FORMAT", "FORMAT_VERSION", "save", "load"]

FORMAT = "fastlogit-model"
FORMAT_VERSION = 2
_META = "__metadata__"
#: Estimator classes a file may name -> the module defining them (nothing else is imported).
_ESTIMATORS = {"LogisticRegression": ".estimator", "SGDLogisticRegression": ".sgd_estimator"}
#: Deepest nesting accepted in an encoded parameter value.
_MAX_DEPTH = 8
_REQUIRED_ARRAYS = ("coef_", "intercept_", "classes_", "n_iter_")
_OPTIONAL_ARRAYS = ("feature_names_in_",)


def _estimator_class(name):
    """The class a file's ``estimator`` name stands for (only those of :data:`_ESTIMATORS`)."""
    return getattr(importlib.import_module(_ESTIMATORS[name], __package__), name)


# ----------------------------------------------------------------------------- schema
def _check_str(value):
    if not isinstance(value, str) or len(value) > 64:
        raise ValueError(f"must be a string of at most 64 characters, got {value!r:.80}")
    return value


def _check_bool(value):
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, got {value!r:.80}")
    return value


def _check_nonneg_float(value):
    if (not isinstance(value, (int, float)) or isinstance(value, bool)
            or not math.isfinite(value) or value < 0):
        raise ValueError(f"must be a finite number >= 0, got {value!r:.80}")
    return float(value)


def _check_n_features(value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"must be an integer >= 1, got {value!r:.80}")
    return value


#: The fitted scalar attributes each class may carry: name -> check (returns the value to
#: set, raises ValueError).  ``n_features_in_`` is required, the others optional.
ATTRIBUTES = {
    "LogisticRegression": {"n_features_in_": _check_n_features, "solver_": _check_str,
                           "converged_": _check_bool},
    "SGDLogisticRegression": {"n_features_in_": _check_n_features,
                              "t_": _check_nonneg_float},
}


def _check_arrays(arrays, n_features):
    """Raise ValueError naming the problem unless ``arrays`` (name -> ndarray) fits the schema
    of the module docstring for ``n_features`` features."""
    names = set(arrays)
    missing = [n for n in _REQUIRED_ARRAYS if n not in names]
    if missing:
        raise ValueError(f"missing array {missing[0]}")
    unknown = sorted(names - set(_REQUIRED_ARRAYS) - set(_OPTIONAL_ARRAYS))
    if unknown:
        raise ValueError(f"unknown array {unknown[0]!r:.80}")
    coef, intercept, classes = arrays["coef_"], arrays["intercept_"], arrays["classes_"]
    if coef.dtype.str not in ("<f4", "<f8") or intercept.dtype != coef.dtype:
        raise ValueError(f"coef_/intercept_ must be float32 or float64 arrays of one dtype, "
                         f"got {coef.dtype}/{intercept.dtype}")
    if classes.ndim != 1 or classes.shape[0] < 2:
        raise ValueError(f"classes_ must hold at least 2 labels, has shape {classes.shape}")
    if classes.dtype.str not in ("<i8", "<f8", "|b1") and classes.dtype.kind != "U":
        raise ValueError(f"classes_ has dtype {classes.dtype}; expected int64, float64, bool "
                         "or unicode")
    if classes.dtype.kind == "f" and not np.isfinite(classes).all():
        raise ValueError("classes_ contains NaN or infinity")
    if not bool(np.all(classes[:-1] < classes[1:])):
        raise ValueError("classes_ must be sorted and unique (a fitted model's are)")
    n_rows = 1 if classes.shape[0] == 2 else classes.shape[0]
    if coef.shape != (n_rows, n_features) or intercept.shape != (n_rows,):
        raise ValueError(f"coef_ {coef.shape} / intercept_ {intercept.shape} do not fit "
                         f"{classes.shape[0]} classes and {n_features} features")
    if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
        raise ValueError("coef_ or intercept_ contains NaN or infinity")
    n_iter = arrays["n_iter_"]
    if n_iter.dtype.kind not in "iu" or n_iter.ndim != 1 or n_iter.size < 1 or (n_iter < 0).any():
        raise ValueError(f"n_iter_ must be a non-empty 1-d array of counts, got dtype "
                         f"{n_iter.dtype} shape {n_iter.shape}")
    names_in = arrays.get("feature_names_in_")
    if names_in is not None and (names_in.dtype.kind != "U" or names_in.shape != (n_features,)):
        raise ValueError(f"feature_names_in_ must be {n_features} strings, got dtype "
                         f"{names_in.dtype} shape {names_in.shape}")


def _check_attributes(cls_name, attributes):
    """The validated attribute dict (name -> value) of class ``cls_name``; ValueError if a name
    is unknown, ``n_features_in_`` missing, or a value outside its schema."""
    schema = ATTRIBUTES[cls_name]
    if not isinstance(attributes, dict):
        raise ValueError(f"attributes must be a JSON object, got {type(attributes).__name__}")
    unknown = sorted(set(attributes) - set(schema))
    if unknown:
        raise ValueError(f"unknown attribute {unknown[0]!r:.80} for {cls_name} (known: "
                         f"{', '.join(sorted(schema))})")
    if "n_features_in_" not in attributes:
        raise ValueError("attribute n_features_in_ is missing")
    out = {}
    for name, value in attributes.items():
        try:
            out[name] = schema[name](value)
        except ValueError as exc:
            raise ValueError(f"attribute {name} {exc}") from None
    return out


# ----------------------------------------------------------------------------- JSON helpers
def _to_json(value):
    """A JSON-safe encoding of a constructor parameter (inverse: :func:`_from_json`)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return {"__float__": repr(float(value))}  # keeps inf / nan exactly
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "fiub":
            raise TypeError(f"cannot store a parameter array of dtype {value.dtype}")
        return {"__array__": _to_json(value.tolist()), "dtype": value.dtype.str}
    if isinstance(value, dict):
        return {"__pairs__": [[_to_json(k), _to_json(v)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    raise TypeError(f"cannot store parameter value of type {type(value).__name__} in a model file")


def _from_json(value, depth=0):
    """Decode :func:`_to_json`'s encoding; ValueError for anything else."""
    if depth > _MAX_DEPTH:
        raise ValueError(f"parameter value nested deeper than {_MAX_DEPTH} levels")
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, list):
        return [_from_json(v, depth + 1) for v in value]
    if isinstance(value, dict):
        if set(value) == {"__float__"} and isinstance(value["__float__"], str):
            return float(value["__float__"])
        if set(value) == {"__array__", "dtype"} and isinstance(value["dtype"], str):
            dtype = np.dtype(value["dtype"]) if value["dtype"] in _PARAM_DTYPES else None
            if dtype is None:
                raise ValueError(f"parameter array dtype {value['dtype']!r:.40} is not allowed")
            return np.asarray(_from_json(value["__array__"], depth + 1), dtype=dtype)
        if set(value) == {"__pairs__"} and isinstance(value["__pairs__"], list):
            pairs = value["__pairs__"]
            if not all(isinstance(p, list) and len(p) == 2 for p in pairs):
                raise ValueError("malformed dict encoding")
            decoded = [(_from_json(k, depth + 1), _from_json(v, depth + 1)) for k, v in pairs]
            if not all(isinstance(k, (bool, int, float, str)) or k is None for k, _ in decoded):
                raise ValueError("dict keys must be scalars")
            return dict(decoded)
    raise ValueError(f"unrecognised encoded value {value!r:.80}")


_PARAM_DTYPES = {"<f8", "<f4", "<i8", "<i4", "|b1", "<u8", "<u4", "|u1", "|i1"}


def _canonical(meta):
    return json.dumps(meta, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode("ascii")


def _sha256(data):
    if isinstance(data, np.ndarray):
        data = np.ascontiguousarray(data).tobytes()
    return hashlib.sha256(data).hexdigest()


def _classes_to_array(classes):
    classes = np.asarray(classes)
    if classes.dtype.kind == "O":
        if all(isinstance(c, str) for c in classes):
            return classes.astype(str)
        if all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in classes):
            return classes.astype(np.int64)
        raise ValueError("classes_ of mixed or non-scalar types cannot be saved without pickle")
    if classes.dtype.kind in "SU":
        return classes.astype(str)
    if classes.dtype.kind in "iu":
        return classes.astype(np.int64)
    if classes.dtype.kind in "fb":
        return classes.astype(np.float64 if classes.dtype.kind == "f" else bool)
    raise ValueError(f"classes_ of dtype {classes.dtype} cannot be saved")


# ----------------------------------------------------------------------------- save
def save(estimator, path):
    """Write a fitted estimator to ``path`` atomically (see the module docstring).

    Parameters
    ----------
    estimator : LogisticRegression or SGDLogisticRegression
        A fitted :class:`fastlogit.LogisticRegression` or
        :class:`fastlogit.SGDLogisticRegression` (exactly these classes: a subclass, or
        :class:`fastlogit.dask.LogisticRegression`, raises ValueError).
    path : str or os.PathLike
        Target file; conventionally ends in ``.npz``.  An existing file is replaced only
        once the new one is complete on disk; a symbolic link is written through.

    Raises
    ------
    ValueError
        Not fitted, or a fitted attribute outside the file schema (e.g. a NaN coefficient,
        classes of mixed types): the file :func:`load` would refuse is never written.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from fastlogit import LogisticRegression
    >>> from fastlogit.persistence import load, save
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    >>> clf = LogisticRegression().fit(X, ["no", "no", "yes", "yes"])
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save(clf, os.path.join(folder, "model.npz"))
    ...     loaded = load(os.path.join(folder, "model.npz"))
    >>> loaded.classes_.tolist(), bool((loaded.coef_ == clf.coef_).all())
    (['no', 'yes'], True)
    """
    from . import __version__

    cls_name = type(estimator).__name__
    if cls_name not in _ESTIMATORS or type(estimator) is not _estimator_class(cls_name):
        # a class of the same name elsewhere (e.g. fastlogit.dask's) or a subclass would load
        # as another class: refused here rather than written as a file that misleads
        kind = type(estimator)
        raise ValueError(f"cannot save a {kind.__module__}.{kind.__qualname__}; model files "
                         "hold fastlogit.LogisticRegression or fastlogit.SGDLogisticRegression")
    if not hasattr(estimator, "coef_"):
        raise ValueError(f"{cls_name} is not fitted; nothing to save")
    arrays = {
        "coef_": np.asarray(estimator.coef_),
        "intercept_": np.asarray(estimator.intercept_),
        "n_iter_": np.asarray(estimator.n_iter_),
        "classes_": _classes_to_array(estimator.classes_),
    }
    if arrays["coef_"].dtype.kind == "f":
        arrays["coef_"] = arrays["coef_"].astype(arrays["coef_"].dtype.newbyteorder("<"))
        arrays["intercept_"] = arrays["intercept_"].astype(arrays["coef_"].dtype)
    if hasattr(estimator, "feature_names_in_"):
        arrays["feature_names_in_"] = np.asarray(estimator.feature_names_in_).astype(str)
    attributes = {name: getattr(estimator, name) for name in ATTRIBUTES[cls_name]
                  if hasattr(estimator, name)}
    attributes = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in attributes.items()}
    try:
        attributes = _check_attributes(cls_name, attributes)
        _check_arrays(arrays, attributes["n_features_in_"])
    except ValueError as exc:
        raise ValueError(f"cannot save this {cls_name}: {exc}") from None
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fastlogit_version": __version__,
        "estimator": cls_name,
        "params": {k: _to_json(v) for k, v in estimator.get_params(deep=False).items()},
        "attributes": attributes,
        "arrays": {
            name: {"dtype": a.dtype.str, "shape": list(a.shape), "sha256": _sha256(a)}
            for name, a in arrays.items()
        },
    }
    meta["sha256"] = _sha256(_canonical(meta))
    members = dict(arrays)
    members[_META] = np.frombuffer(_canonical(meta), dtype=np.uint8)
    with atomic_write(path, "wb") as fh:
        np.savez(fh, **members)


# ----------------------------------------------------------------------------- load
class _Invalid(Exception):
    """Internal: a content problem, turned into the documented ValueError by :func:`load`."""


def _fail(problem):
    raise _Invalid(problem)


_SIGNATURES = {b"\x89PNG": "a PNG image", b"\x93NUMPY": "a single .npy array",
               b"\x1f\x8b": "gzip data", b"BZh": "bz2 data", b"\xfd7zXZ": "xz data",
               b"%PDF": "a PDF document", b"\x80": "a Python pickle"}


def _parse_npy(name, data):
    """The array of one ``.npy`` member (bytes), refusing object / structured dtypes and any
    header whose declared size differs from the bytes present."""
    fh = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            _fail(f"member {name!r:.80} has .npy version {version}, expected 1.0 or 2.0")
    except (ValueError, TypeError, SyntaxError, OverflowError, struct.error, EOFError) as exc:
        _fail(f"member {name!r:.80} is not a valid .npy array ({exc})")
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None \
            or dtype.kind not in "fiubU" or dtype.itemsize == 0:
        _fail(f"member {name!r:.80} has dtype {dtype}, which a model file never holds")
    if not all(s >= 0 for s in shape):
        _fail(f"member {name!r:.80} declares the negative shape {shape}")
    count = 1
    for s in shape:
        count *= s
    offset = fh.tell()
    if count * dtype.itemsize != len(data) - offset:
        _fail(f"member {name!r:.80}: its header declares {count} items of {dtype.itemsize} "
              f"bytes, the member holds {len(data) - offset} bytes")
    flat = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
    return flat.reshape(shape, order="F" if fortran else "C").copy()


_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError,
               EOFError, ValueError, KeyError, struct.error, zlib.error, OverflowError,
               UnicodeDecodeError, OSError)


def _looks_like(head):
    what = next((w for sig, w in _SIGNATURES.items() if head.startswith(sig)), None)
    if what is None and head and all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        what = "a text file, e.g. data given where a model is expected"
    return f" (it looks like {what})" if what else ""


def _read_blob(fh):
    """The bytes of the open file ``fh``; only its first bytes when they are not a ZIP
    archive's (so a large file given as a model by mistake is not read whole)."""
    head = fh.read(64)
    if not isinstance(head, bytes):
        raise TypeError("load needs a binary file object (opened with 'rb')")
    if not head.startswith(b"PK\x03\x04"):
        _fail("not a ZIP archive" + _looks_like(head))
    return head + fh.read()


def _read_members(blob):
    """Every member of the archive ``blob`` (bytes) as name -> ndarray (the ``.npy`` suffix
    off).  Reading from memory, an OSError can only come from the content (e.g. a seek to a
    negative offset that a damaged directory record asks for)."""
    size = len(blob)
    fh = io.BytesIO(blob)
    try:
        archive = zipfile.ZipFile(fh)
    except _ZIP_ERRORS as exc:
        _fail(f"not a ZIP archive{_looks_like(blob[:64])}: {exc}")
    members = {}
    with archive:
        infos = archive.infolist()
        if len(infos) > 64:
            _fail(f"{len(infos)} members; a model file has at most 6")
        for info in infos:
            name = info.filename
            if not name.endswith(".npy"):
                _fail(f"member {name!r:.80} is not a .npy array")
            if name[:-4] in members:
                _fail(f"member {name!r:.80} appears twice")
            if info.compress_type != zipfile.ZIP_STORED:
                _fail(f"member {name!r:.80} is compressed (method {info.compress_type}); "
                      "model files store members uncompressed")
            if info.file_size > size or info.compress_size > size or info.flag_bits & 0x1:
                _fail(f"member {name!r:.80} declares {info.file_size} bytes in a "
                      f"{size}-byte file (or is encrypted)")
            try:
                data = archive.read(info)
            except _ZIP_ERRORS as exc:
                _fail(f"cannot read member {name!r:.80} (truncated or damaged?): {exc}")
            members[name[:-4]] = _parse_npy(name, data)
    return members


def _decode_metadata(raw):
    if raw.dtype != np.uint8 or raw.ndim != 1:
        _fail("the metadata member is not a byte string")

    def no_constants(token):
        raise ValueError(f"{token} is not allowed")

    try:
        meta = json.loads(raw.tobytes().decode("utf-8"), parse_constant=no_constants)
    except RecursionError:
        _fail("metadata is nested too deeply")
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        _fail(f"metadata is not valid JSON: {exc}")
    if not isinstance(meta, dict):
        _fail(f"metadata is a JSON {type(meta).__name__}, not an object")
    fmt = meta.get("format")
    if fmt != FORMAT:
        _fail(f"format is {fmt!r:.80}")
    version = meta.get("format_version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        note = (" (version 1 files carry no checksum over their metadata: fit and save the "
                "model again)" if version == 1 else "")
        _fail(f"format_version {version!r:.40} is not supported (this fastlogit reads "
              f"version {FORMAT_VERSION}){note}")
    digest = meta.pop("sha256", None)
    try:
        body = _canonical(meta)
    except (ValueError, TypeError):
        _fail("metadata cannot be serialised canonically")
    if not isinstance(digest, str) or digest != _sha256(body):
        _fail("metadata fails its SHA-256 checksum (file damaged or edited)")
    for key, kind in (("estimator", str), ("params", dict), ("attributes", dict),
                      ("arrays", dict)):
        if not isinstance(meta.get(key), kind):
            _fail(f"metadata field {key!r} must be a JSON "
                  f"{'string' if kind is str else 'object'}")
    return meta


def _check_members(members, described):
    if set(described) != set(members):
        _fail(f"array members {sorted(members)} do not match the metadata {sorted(described)}")
    for name, a in members.items():
        info = described[name]
        if not isinstance(info, dict):
            _fail(f"metadata of array {name} is not an object")
        if a.dtype.str != info.get("dtype"):
            _fail(f"array {name} has dtype {a.dtype.str}, metadata says {info.get('dtype')!r:.40}")
        shape = info.get("shape")
        if (not isinstance(shape, list) or any(isinstance(v, bool) for v in shape)
                or list(a.shape) != shape):
            _fail(f"array {name} has shape {a.shape}, metadata says {info.get('shape')!r:.80}")
        if _sha256(a) != info.get("sha256"):
            _fail(f"array {name} fails its SHA-256 checksum (file damaged or edited)")


def _check_prediction_params(params):
    """Parameters that predictions read directly (the others go through the class's own
    checks): ``n_threads`` must be None or a non-zero integer of sane size."""
    n = params.get("n_threads")
    if n is not None and (not isinstance(n, numbers.Integral) or isinstance(n, bool)
                          or n == 0 or abs(n) > 1 << 16):
        _fail(f"parameter n_threads must be None or a non-zero integer, got {n!r:.40}")


def _build(path, meta, members):
    cls_name = meta["estimator"]
    if cls_name not in _ESTIMATORS:
        _fail(f"unknown estimator {cls_name!r:.80}")
    try:
        attributes = _check_attributes(cls_name, meta["attributes"])
        _check_arrays(members, attributes["n_features_in_"])
    except ValueError as exc:
        _fail(str(exc))
    cls = _estimator_class(cls_name)
    try:
        params = {str(k): _from_json(v) for k, v in meta["params"].items()}
        _check_prediction_params(params)
        estimator = cls(**params)
        estimator.check_params()
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        _fail(f"cannot rebuild {cls_name} from the stored parameters: {exc}")
    for name, value in members.items():
        if name == "feature_names_in_":
            value = value.astype(object)
        setattr(estimator, name, value)
    for name, value in attributes.items():
        setattr(estimator, name, value)
    return estimator


def load(path):
    """Load an estimator written by :func:`save` (or ``estimator.save``).

    Parameters
    ----------
    path : str, os.PathLike or binary file object
        The model file (a file object is read to its end; messages name its ``name``).

    Returns
    -------
    LogisticRegression or SGDLogisticRegression
        Predicting exactly as the saved one did.

    Raises
    ------
    ValueError
        ``"<path>: not a valid fastlogit-model file: <problem>"`` if the content is
        truncated, damaged, edited, of another format or an unsupported version, or outside
        the schema of the module docstring.
    OSError
        If ``path`` cannot be opened or read.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import fastlogit
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    >>> clf = fastlogit.LogisticRegression().fit(X, [0, 0, 1, 1])
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     clf.save(os.path.join(folder, "model.npz"))
    ...     loaded = fastlogit.load(os.path.join(folder, "model.npz"))
    >>> bool((loaded.predict_proba(X) == clf.predict_proba(X)).all())
    True
    """
    if hasattr(path, "read"):
        if isinstance(path, io.TextIOBase):
            raise TypeError("load needs a binary file object (opened with 'rb')")
        fh, path = contextlib.nullcontext(path), getattr(path, "name", "<stream>")
    else:
        path = os.fspath(path)
        fh = open(path, "rb")
    try:
        with fh as opened:
            blob = _read_blob(opened)
        members = _read_members(blob)
        if _META not in members:
            _fail("no metadata member")
        meta = _decode_metadata(members.pop(_META))
        _check_members(members, meta["arrays"])
        return _build(path, meta, members)
    except _Invalid as exc:
        raise ValueError(f"{path}: not a valid {FORMAT} file: {exc}") from None
