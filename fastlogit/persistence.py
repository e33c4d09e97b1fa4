"""Saving and loading fitted models without pickle.

File format ``fastlogit-model``, version 1
------------------------------------------
A model file is an uncompressed NumPy ``.npz`` archive (a ZIP file of ``.npy`` arrays) that
``numpy.load(path, allow_pickle=False)`` can read.  It holds:

``__metadata__``
    uint8 array: UTF-8 JSON object with the keys::

        format          "fastlogit-model"
        format_version  1
        fastlogit_version   version of fastlogit that wrote the file (informative)
        estimator       class name, "LogisticRegression" or "SGDLogisticRegression"
        params          the estimator's constructor parameters (JSON values; arrays as
                        nested lists, dict keys as [key, value] pairs under "__pairs__")
        attributes      scalar fitted attributes (n_features_in_, ...)
        classes_kind    "str", "int", "float" or "bool": how ``classes_`` is restored
        arrays          {name: {"dtype": str, "shape": [...], "sha256": hex}} for every
                        array member below

array members
    ``coef_`` (K', d), ``intercept_`` (K',), ``classes_`` (K,), ``n_iter_`` and, where
    present, further fitted arrays (e.g. ``feature_names_in_`` as a unicode array).

Writes are atomic: the archive goes to a temporary file in the target directory, is
flushed and ``fsync``-ed, then renamed over ``path`` (``os.replace``) and the directory is
``fsync``-ed, so a crash leaves either the old file or the complete new one, never a part.
:func:`load` checks the format name and version, every array's dtype, shape and SHA-256
checksum against the metadata, and the shapes against each other, raising ``ValueError``
(naming the file and the problem) for a truncated, tampered or foreign file.
"""
import hashlib
import importlib
import io
import json
import os
import tempfile
import zipfile

import numpy as np

from ._atomic import fsync_dir

__all__ = ["FORMAT", "FORMAT_VERSION", "save", "load"]

FORMAT = "fastlogit-model"
FORMAT_VERSION = 1
_META = "__metadata__"
_ALLOWED_DTYPE_KINDS = "fiubU"  # float, int, uint, bool, unicode: never object (pickle)
#: Estimator classes a file may name -> the module defining them (nothing else is imported).
_ESTIMATORS = {"LogisticRegression": ".estimator", "SGDLogisticRegression": ".sgd_estimator"}


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
        return {"__array__": value.tolist(), "dtype": value.dtype.str}
    if isinstance(value, dict):
        return {"__pairs__": [[_to_json(k), _to_json(v)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    raise TypeError(f"cannot store parameter value of type {type(value).__name__} in a model file")


def _from_json(value):
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if isinstance(value, dict):
        if "__float__" in value:
            return float(value["__float__"])
        if "__array__" in value:
            return np.asarray(value["__array__"], dtype=np.dtype(value["dtype"]))
        if "__pairs__" in value:
            return {_from_json(k): _from_json(v) for k, v in value["__pairs__"]}
        raise ValueError(f"unrecognised encoded value {value!r}")
    return value


def _sha256(array):
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _classes_to_array(classes):
    classes = np.asarray(classes)
    if classes.dtype.kind == "O":
        if all(isinstance(c, str) for c in classes):
            return classes.astype(str), "str"
        if all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in classes):
            return classes.astype(np.int64), "int"
        raise ValueError("classes_ of mixed or non-scalar types cannot be saved without pickle")
    kind = {"U": "str", "S": "str", "i": "int", "u": "int", "f": "float", "b": "bool"}.get(
        classes.dtype.kind)
    if kind is None:
        raise ValueError(f"classes_ of dtype {classes.dtype} cannot be saved")
    if classes.dtype.kind == "S":
        classes = classes.astype(str)
    return classes, kind


# ----------------------------------------------------------------------------- save
def save(estimator, path):
    """Write a fitted estimator to ``path`` atomically (see the module docstring).

    Parameters
    ----------
    estimator : LogisticRegression or SGDLogisticRegression, fitted
    path : str or os.PathLike
        Target file; conventionally ends in ``.npz``.  An existing file is replaced only
        once the new one is complete on disk.
    """
    from . import __version__

    if not hasattr(estimator, "coef_"):
        raise ValueError(f"{type(estimator).__name__} is not fitted; nothing to save")
    arrays = {
        "coef_": np.asarray(estimator.coef_),
        "intercept_": np.asarray(estimator.intercept_),
        "n_iter_": np.asarray(estimator.n_iter_),
    }
    arrays["classes_"], classes_kind = _classes_to_array(estimator.classes_)
    if hasattr(estimator, "feature_names_in_"):
        arrays["feature_names_in_"] = np.asarray(estimator.feature_names_in_).astype(str)
    for name, a in arrays.items():
        if a.dtype.kind not in _ALLOWED_DTYPE_KINDS:
            raise ValueError(f"array {name} has dtype {a.dtype}, which cannot be saved")
    attributes = {"n_features_in_": int(estimator.n_features_in_)}
    for name in getattr(estimator, "_persisted_scalars", ()):
        if hasattr(estimator, name):
            attributes[name] = _to_json(getattr(estimator, name))
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fastlogit_version": __version__,
        "estimator": type(estimator).__name__,
        "params": {k: _to_json(v) for k, v in estimator.get_params(deep=False).items()},
        "attributes": attributes,
        "classes_kind": classes_kind,
        "arrays": {
            name: {"dtype": a.dtype.str, "shape": list(a.shape), "sha256": _sha256(a)}
            for name, a in arrays.items()
        },
    }
    members = dict(arrays)
    members[_META] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)

    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".fastlogit-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **members)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(directory)  # make the rename itself durable


# ----------------------------------------------------------------------------- load
def _fail(path, problem):
    raise ValueError(f"{path}: not a valid {FORMAT} file: {problem}")


def _read_members(path):
    try:
        with open(path, "rb") as fh:
            blob = fh.read()
    except FileNotFoundError:
        raise
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except (zipfile.BadZipFile, EOFError, OSError, KeyError, ValueError) as exc:
        _fail(path, f"cannot read the archive (truncated or corrupted?): {exc}")


def load(path):
    """Load an estimator written by :func:`save` (or ``estimator.save``).

    Raises
    ------
    ValueError
        If the file is truncated, tampered with, of another format or of an unsupported
        version, or its arrays have unexpected dtypes or shapes.
    """
    path = os.fspath(path)
    members = _read_members(path)
    if _META not in members:
        _fail(path, "no metadata member")
    raw = members.pop(_META)
    if raw.dtype != np.uint8 or raw.ndim != 1:
        _fail(path, "metadata member has the wrong dtype")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        _fail(path, f"metadata is not valid JSON: {exc}")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        _fail(path, f"format is {meta.get('format') if isinstance(meta, dict) else None!r}")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        _fail(path, f"format_version {version!r} is not supported (this fastlogit reads "
                    f"version {FORMAT_VERSION})")
    module = _ESTIMATORS.get(meta.get("estimator"))
    if module is None:
        _fail(path, f"unknown estimator {meta.get('estimator')!r}")
    cls = getattr(importlib.import_module(module, __package__), meta["estimator"])
    described = meta.get("arrays")
    if not isinstance(described, dict) or set(described) != set(members):
        _fail(path, f"array members {sorted(members)} do not match the metadata")
    for name, a in members.items():
        info = described[name]
        if a.dtype.kind not in _ALLOWED_DTYPE_KINDS or a.dtype.str != info.get("dtype"):
            _fail(path, f"array {name} has dtype {a.dtype.str}, metadata says {info.get('dtype')}")
        if list(a.shape) != info.get("shape"):
            _fail(path, f"array {name} has shape {a.shape}, metadata says {info.get('shape')}")
        if _sha256(a) != info.get("sha256"):
            _fail(path, f"array {name} fails its SHA-256 checksum (file tampered with?)")
    for name in ("coef_", "intercept_", "classes_", "n_iter_"):
        if name not in members:
            _fail(path, f"missing array {name}")

    coef, intercept, class_values = members["coef_"], members["intercept_"], members["classes_"]
    attributes = meta.get("attributes", {})
    n_features = attributes.get("n_features_in_")
    n_classes = class_values.shape[0]
    n_rows = 1 if n_classes == 2 else n_classes
    if coef.dtype.kind != "f" or intercept.dtype != coef.dtype:
        _fail(path, f"coef_/intercept_ must be float arrays of one dtype, got "
                    f"{coef.dtype}/{intercept.dtype}")
    if class_values.ndim != 1 or n_classes < 2:
        _fail(path, f"classes_ must hold at least 2 labels, has shape {class_values.shape}")
    if coef.shape != (n_rows, n_features) or intercept.shape != (n_rows,):
        _fail(path, f"coef_ {coef.shape} / intercept_ {intercept.shape} do not fit "
                    f"{n_classes} classes and {n_features} features")
    if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
        _fail(path, "coef_ or intercept_ contains NaN or infinity")
    kind = meta.get("classes_kind")
    converters = {"str": str, "int": np.int64, "float": np.float64, "bool": bool}
    if kind not in converters:
        _fail(path, f"unknown classes_kind {kind!r}")

    try:
        params = {k: _from_json(v) for k, v in meta["params"].items()}
        estimator = cls(**params)
        estimator._check_params()
    except (TypeError, ValueError, KeyError) as exc:
        _fail(path, f"cannot rebuild {cls.__name__} from the stored parameters: {exc}")
    estimator.coef_ = coef
    estimator.intercept_ = intercept
    estimator.classes_ = class_values.astype(converters[kind]) if kind != "str" else class_values
    estimator.n_iter_ = members["n_iter_"]
    estimator.n_features_in_ = int(n_features)
    if "feature_names_in_" in members:
        names = members["feature_names_in_"].astype(object)
        if names.shape != (n_features,):
            _fail(path, "feature_names_in_ does not match n_features_in_")
        estimator.feature_names_in_ = names
    for name, value in attributes.items():
        if name != "n_features_in_":
            setattr(estimator, name, _from_json(value))
    return estimator
