"""The ``fastlogit`` command line tool (also ``python -m fastlogit``).

In the manner of LIBLINEAR's ``train`` / ``predict`` with scikit-learn's parameter names::

    fastlogit fit DATA -o MODEL [--C 1] [--penalty l2] [--solver auto] [--tol 1e-4] ...
    fastlogit predict MODEL DATA [-o PREDS] [--proba | --raw]      (DATA streamed, "-": stdin)
    fastlogit evaluate MODEL DATA [--bins 10] [--plot reliability.png]
    fastlogit convert DATA -o CACHE
    fastlogit info DATA
    fastlogit demo

DATA is svmlight / libsvm text (plain, .gz, .bz2, .xz), a CSR cache directory written by
``fastlogit convert``, or ``builtin:breast_cancer`` (scikit-learn's bundled data set).

Results go to stdout (or the ``-o`` file); progress bars, warnings and errors to stderr.
Progress bars are shown only when stderr is a terminal and ``--quiet`` is not given.
Exit status: 0 success, 1 failure (bad data, model or file: the message names the file and
line, or the file and the problem), 2 bad command line (the message names the option; also a
bad ``FASTLOGIT_NUM_THREADS``, named).  Output paths (``-o``, ``--plot``) are checked for
writability before any work.  Every output file is written atomically
(:func:`fastlogit._atomic.atomic_write`: temporary file + rename): an interrupted command
leaves the old file or none, never a partial one.  fit / predict / evaluate / convert refuse
NaN or infinite numbers in DATA, naming the file and line.
"""
import argparse
import contextlib
import math
import os
import sys
import time
import warnings

import numpy as np

from ._atomic import atomic_write, check_writable
from .validation import resolve_penalty

__all__ = ["main"]

BUILTIN = {"builtin:breast_cancer": "scikit-learn's Wisconsin breast-cancer data (569 x 30)"}

EPILOG = """\
examples:
  fastlogit demo
  fastlogit fit builtin:breast_cancer -o bc.model
  fastlogit fit a9a.xz -o a9a.model --C 1 --solver newton-cg
  fastlogit predict a9a.model a9a.t -o a9a.pred --proba
  fastlogit evaluate a9a.model a9a.t --plot reliability.png
  fastlogit convert news20.multiclass.bz2 -o news20.flc
  fastlogit fit news20.flc -o news20.model --out-of-core --chunk-nnz 1000000
  fastlogit info w8a.xz

exit status: 0 success, 1 failure (data, model or file: named, with the line),
2 bad command line (the option named) or FASTLOGIT_NUM_THREADS
"""
PLOT_EXTRA = "pip install fastlogit[plot]"


class CLIError(Exception):
    """A failure reported as one line on stderr with exit status 1."""


# ------------------------------------------------------------------ helpers
def _progress_enabled(args):
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


def _log(args, msg):
    if not getattr(args, "quiet", False):
        print(msg, file=sys.stderr)


def _check_output(option, path):
    """Fail now (before any fitting or reading) if ``path`` given to ``option`` cannot be
    written."""
    try:
        check_writable(path)
    except OSError as exc:
        where = exc.filename or path
        raise CLIError(f"{option} {path}: cannot write there: {exc.strerror or exc} ({where})")


def _dtype(name):
    return np.float32 if name == "float32" else np.float64


def _row_of(spec, kind):
    """``where(row)`` for data without line numbers: names the row."""
    return lambda row: f"{spec}: row {row + 1} of the {kind}"


def load_data(spec, args, n_features=None, mmap=True, finite=True):
    """``(X, y, description, where)`` of a DATA argument (svmlight text, cache dir, or
    builtin:); ``where(i)`` names row ``i``'s file and line (or row) for messages.

    With ``finite`` a NaN or infinite label or value is an error naming its file and line
    (svmlight) or row (cache).
    """
    from .io import CSRCache, is_csr_cache
    from .io.svmlight import read_svmlight

    dtype = _dtype(getattr(args, "dtype", "float64"))
    if spec in BUILTIN:
        from sklearn.datasets import load_breast_cancer

        X, y = load_breast_cancer(return_X_y=True)
        X = np.ascontiguousarray(X, dtype=dtype)
        if n_features is not None and n_features != X.shape[1]:
            raise CLIError(f"{spec} has {X.shape[1]} features, the model expects {n_features}")
        return X, y.astype(np.float64), BUILTIN[spec], _row_of(spec, "data set")
    if spec.startswith("builtin:"):
        raise CLIError(f"unknown built-in data set {spec!r}; known: {', '.join(BUILTIN)}")
    if os.path.isdir(spec) and is_csr_cache(spec):
        X, y = CSRCache(spec).validate().load(mmap=mmap)
        where = _row_of(spec, "CSR cache")
        if finite:
            _check_finite_cache(X, y, where)
        if n_features is not None:
            X = _fit_width(X, n_features, spec)
        if X.dtype != dtype:
            X = X.astype(dtype)
        return X, y, f"CSR cache {spec}", where
    X, y, located = read_svmlight(spec, n_features=n_features, dtype=dtype,
                                  zero_based=getattr(args, "zero_based_value", "auto"),
                                  n_threads=getattr(args, "threads", None),
                                  progress=_progress_enabled(args), finite=finite)

    def where(row):
        name, line = located(row)
        return f"{name}:{line}"

    return X, y, f"svmlight {spec}", where


def _check_finite_cache(X, y, where, step=1 << 22):
    """CLIError naming the first row with a NaN / infinite label or value; reads the values
    ``step`` at a time (X may be memory-mapped and larger than memory)."""
    found = []
    bad_y = np.flatnonzero(~np.isfinite(y))
    if bad_y.size:
        found.append((int(bad_y[0]), f"label {y[bad_y[0]]} is not a finite number"))
    data, indptr = X.data, X.indptr
    for lo in range(0, data.size, step):
        bad = np.flatnonzero(~np.isfinite(np.asarray(data[lo:lo + step])))
        if bad.size:
            k = lo + int(bad[0])
            row = int(np.searchsorted(np.asarray(indptr), k, side="right")) - 1
            found.append((row, f"feature {int(X.indices[k])} (zero-based) has the value "
                               f"{data[k]}"))
            break
    if found:
        row, problem = min(found)
        raise CLIError(f"{where(row)}: {problem}; NaN and infinity are not accepted")


def _fit_width(X, n_features, name):
    """Give a CSR matrix ``n_features`` columns: more columns than it uses is fine (svmlight
    and caches do not record trailing empty features); fewer than it uses is an error."""
    used = int(X.indices.max()) + 1 if X.nnz else 0
    if used > n_features:
        raise CLIError(f"{name}: the data has feature ids up to {used - 1} (zero-based), "
                       f"but the model was trained on {n_features} features")
    if X.shape[1] != n_features:
        import scipy.sparse as sp

        X = sp.csr_matrix((X.data, X.indices, X.indptr), shape=(X.shape[0], n_features))
    return X


@contextlib.contextmanager
def _iteration_progress(enabled, desc, total):
    """Report solver iterations on a tqdm bar: yields a solver callback."""
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit="it", leave=False, disable=not enabled)

    def callback(theta):
        bar.update(1)
        return False

    try:
        yield callback
    finally:
        bar.close()


def _objective_value(model, X, y):
    """F (the objective of docs/user_guide/objective.md) of a fitted model on (X, y)."""
    from .objective import Objective

    classes = model.classes_
    idx = np.searchsorted(classes, y)
    coef = np.asarray(model.coef_, dtype=np.float64)
    b = np.asarray(model.intercept_, dtype=np.float64)
    if coef.shape[0] == 1:
        Y = (idx == 1).astype(np.float64)
        theta = np.append(coef[0], b[0]) if model.fit_intercept else coef[0]
    else:
        Y = np.eye(classes.size)[idx]
        theta = (np.column_stack([coef, b]) if model.fit_intercept else coef).ravel()
    penalty, C, l1_ratio = resolve_penalty(model.penalty, model.C, model.l1_ratio)
    ob = Objective(X, Y, C=C, penalty=penalty, l1_ratio=l1_ratio,
                   fit_intercept=model.fit_intercept, backend=model.backend,
                   n_threads=model.n_threads)
    return ob.value(theta)


# ------------------------------------------------------------------ commands
def _penalty(name):
    return None if name == "none" else name


def _penalty_args(args):
    """``{"C", "l1_ratio"}`` of the estimator for --penalty / --C / --l1-ratio, in
    scikit-learn's (>= 1.8) terms: l1_ratio chooses the penalty, C=inf means none."""
    if args.penalty == "none":
        return {"C": np.inf, "l1_ratio": 0.0}
    return {"C": args.C, "l1_ratio": {"l2": 0.0, "l1": 1.0}.get(args.penalty, args.l1_ratio)}


def fit_out_of_core(cache, args):
    """Fit a binary model on a CSR cache read chunk by chunk (never whole in memory).

    Returns a fitted :class:`fastlogit.LogisticRegression` built from the solver result.
    """
    from . import LogisticRegression
    from .io import binary_labels
    from .outofcore import ChunkedObjective
    from .solvers import SOLVERS, check_solver, choose_solver, solvers_for

    labels = cache.labels()
    _check_finite_cache(cache.load(mmap=True)[0], labels, _row_of(args.data, "CSR cache"))
    try:
        y01, classes = binary_labels(labels)
    except ValueError as exc:
        raise CLIError(f"{args.data}: --out-of-core fits binary models only: {exc}")
    ob = ChunkedObjective(cache, y01, C=args.C, penalty=_penalty(args.penalty),
                          l1_ratio=args.l1_ratio or 0.0, fit_intercept=not args.no_intercept,
                          backend=args.backend, n_threads=args.threads,
                          chunk_nnz=args.chunk_nnz, dtype=_dtype(args.dtype))
    solver = choose_solver(ob) if args.solver == "auto" else args.solver
    # minibatch runs as streamed epochs over the chunks (below), whatever the declarations
    usable = sorted(set(solvers_for(ob)) - {"minibatch"}) + ["minibatch"]
    if solver not in usable:
        raise CLIError(f"--solver {solver} cannot run --out-of-core with --penalty "
                       f"{args.penalty}; choose one of " + ", ".join(usable))
    with _iteration_progress(_progress_enabled(args), f"{solver} (out of core)",
                             args.max_iter) as cb:
        if solver == "minibatch":  # streamed epochs over the chunks, max_iter of them
            from .outofcore import minibatch_sgd
            from .solvers import SolverResult

            theta = minibatch_sgd(ob, ob.zeros(), epochs=args.max_iter,
                                  random_state=args.random_state or 0,
                                  callback=lambda epoch, theta: cb(theta))
            res = SolverResult(theta=theta, n_iter=args.max_iter, converged=False,
                               message="fixed number of epochs")
        else:
            check_solver(solver, ob)
            res = SOLVERS[solver](ob, ob.zeros(), tol=args.tol, max_iter=args.max_iter,
                                  callback=cb)
    model = LogisticRegression(**_penalty_args(args), fit_intercept=not args.no_intercept,
                               tol=args.tol, max_iter=args.max_iter, solver=solver,
                               backend=args.backend, n_threads=args.threads)
    d = cache.n_features
    dtype = _dtype(args.dtype)
    model.coef_ = res.theta[None, :d].astype(dtype)
    model.intercept_ = (res.theta[d:d + 1] if ob.fit_intercept else np.zeros(1)).astype(dtype)
    model.classes_ = classes
    model.n_features_in_ = d
    model.n_iter_ = np.array([res.n_iter], dtype=np.int32)
    model.solver_ = solver
    model.converged_ = bool(res.converged)
    model.fit_result_ = res
    return model, ob, y01


def cmd_fit(args):
    from . import LogisticRegression

    if args.output:
        _check_output("-o", args.output)
    t0 = time.perf_counter()
    if args.out_of_core:
        from .io import CSRCache, is_csr_cache

        if not is_csr_cache(args.data):
            raise CLIError(f"--out-of-core needs a CSR cache, and {args.data} is not one "
                           f"(make one with: fastlogit convert {args.data} -o CACHE)")
        cache = CSRCache(args.data).validate()
        t_load = time.perf_counter() - t0
        t1 = time.perf_counter()
        model, ob, y01 = fit_out_of_core(cache, args)
        t_fit = time.perf_counter() - t1
        F = ob.value(model.fit_result_.theta)
        z = ob.margins(model.fit_result_.theta)
        acc = float(np.mean((z > 0) == (y01 == 1)))
        shape, what = cache.shape, f"CSR cache {args.data} (out of core, {len(ob.chunks)} chunks)"
    else:
        X, y, what, _ = load_data(args.data, args, n_features=args.n_features)
        t_load = time.perf_counter() - t0
        model = LogisticRegression(**_penalty_args(args), fit_intercept=not args.no_intercept,
                                   tol=args.tol, max_iter=args.max_iter, solver=args.solver,
                                   backend=args.backend, n_threads=args.threads,
                                   random_state=args.random_state)
        t1 = time.perf_counter()
        with _iteration_progress(_progress_enabled(args), "fit", args.max_iter) as cb:
            model.fit(X, y, callback=cb)
        t_fit = time.perf_counter() - t1
        F = _objective_value(model, X, y)
        acc = float(model.score(X, y))
        shape = X.shape
    if args.output:
        model.save(args.output)
    print(f"data       {what}: {shape[0]} samples x {shape[1]} features")
    print(f"model      {type(model).__name__}(C={model.C:g}, penalty={args.penalty}, "
          f"solver={model.solver_}), classes {model.classes_.tolist()}")
    print(f"objective  {F:.10g}")
    print(f"accuracy   {acc:.6f} (training)")
    print(f"iterations {int(model.n_iter_[0])}{'' if model.converged_ else ' (not converged)'}")
    print(f"time       fit {t_fit:.3f} s, load {t_load:.3f} s")
    if args.output:
        print(f"saved      {args.output}")
    return 0


def _load_model(path):
    from . import load

    try:
        return load(path)  # its ValueError names the file and the problem
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    except OSError as exc:
        raise CLIError(f"cannot read model {path}: {exc.strerror or exc}") from None


def cmd_predict(args):
    """Stream DATA through the model block by block (:mod:`fastlogit.predict_stream`)."""
    from .predict_stream import predict_file

    to_file = args.output not in (None, "-")
    if to_file:
        _check_output("-o", args.output)
    model = _load_model(args.model)
    kind = "raw" if args.raw else "proba" if args.proba else "label"
    data = args.data
    if data.startswith("builtin:"):
        data, _, _, _ = load_data(data, args, n_features=model.n_features_in_)
    n_rows = predict_file(model, data, args.output if to_file else None, kind=kind,
                          dtype=_dtype(args.dtype), zero_based=args.zero_based_value,
                          n_threads=args.threads, chunk_bytes=int(args.chunk_mb * 2**20))
    if to_file:
        _log(args, f"wrote {n_rows} predictions to {args.output}")
    return 0


def _fmt_label(v):
    from .predict_stream import format_label

    return format_label(v)


def evaluate_probabilities(y_true, proba, classes, n_bins=10, where=None):
    """Metrics of predicted probabilities: :mod:`sklearn.metrics` (log-loss, accuracy, ROC AUC)
    and :mod:`fastlogit.calibration` (reliability table with Wilson intervals, ECE, Brier,
    log-loss decomposition).

    Parameters
    ----------
    y_true : array of shape (n,), labels among ``classes``
    proba : array of shape (n, K), rows of class probabilities (``classes`` order)
    classes : array of shape (K,), sorted
    n_bins : int >= 1, equal-width calibration bins
    where : callable or None
        ``where(i)`` names row ``i`` (file and line) in the message about an unknown label.

    Returns
    -------
    dict with ``n``, ``log_loss`` (mean), ``accuracy``, ``brier`` (binary: mean squared
    error of P(``classes[1]``); multiclass: mean over rows of the summed squared errors),
    ``roc_auc`` (binary: of ``classes[1]``; multiclass: mean one-vs-rest over the classes
    present with both outcomes; NaN if none), ``ece`` (expected calibration error over the
    bins), ``decomposition`` (binary only, else None: ``log_loss = refinement + calibration +
    within_bin``, :func:`fastlogit.calibration.log_loss_decomposition`) and ``calibration``:
    rows ``(lo, hi, count, mean_predicted, observed, ci_low, ci_high)`` over ``n_bins``
    equal-width bins ``[lo, hi)`` (the last also holding 1) of the predicted probability of
    ``classes[1]`` (binary) or of the predicted class (multiclass; observed = accuracy in the
    bin), ``ci_*`` the 95 % Wilson interval of ``observed``; empty bins have NaN means.
    """
    from sklearn.metrics import accuracy_score, brier_score_loss, log_loss, roc_auc_score

    from . import calibration

    y_true = np.asarray(y_true)
    classes = np.asarray(classes)
    K = len(classes)
    idx = np.minimum(np.searchsorted(classes, y_true), K - 1)
    unknown = np.flatnonzero(classes[idx] != y_true)
    if unknown.size:
        row = int(unknown[0])
        at = f"{where(row)}: " if where is not None else ""
        raise CLIError(f"{at}label {_fmt_label(y_true[row])} is not among the model's classes "
                       f"{[_fmt_label(c) for c in classes]} ({unknown.size} such rows)")
    labels = np.arange(K)
    out = {"n": int(y_true.size), "log_loss": float(log_loss(idx, proba, labels=labels)),
           "accuracy": float(accuracy_score(idx, proba.argmax(axis=1)))}
    if K == 2:
        conf, hit = proba[:, 1], (idx == 1).astype(np.float64)
        out["brier"] = calibration.brier_score(hit, conf)
        aucs = [roc_auc_score(hit, conf)] if 0 < hit.sum() < hit.size else []
        out["decomposition"] = calibration.log_loss_decomposition(hit, conf, n_bins=n_bins)
    else:
        out["brier"] = float(brier_score_loss(idx, proba, labels=labels))
        conf = proba.max(axis=1)
        hit = (proba.argmax(axis=1) == idx).astype(np.float64)
        aucs = [roc_auc_score(idx == k, proba[:, k]) for k in range(K)
                if 0 < np.count_nonzero(idx == k) < idx.size]
        out["decomposition"] = None
    out["roc_auc"] = float(np.mean(aucs)) if aucs else float("nan")
    conf = np.clip(conf, 0.0, 1.0)  # rounding can leave a probability a few ulps above 1
    table = calibration.reliability_table(hit, conf, n_bins=n_bins, strategy="uniform")
    out["ece"] = calibration.expected_calibration_error(hit, conf, n_bins=n_bins)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    found = {int(k): j for j, k in enumerate(np.searchsorted(edges, table.edges_low))}
    nan = float("nan")
    rows = []
    for k in range(n_bins):
        j = found.get(k)
        rows.append((edges[k], edges[k + 1], 0, nan, nan, nan, nan) if j is None else
                    (edges[k], edges[k + 1], int(round(table.count[j])),
                     float(table.mean_predicted[j]), float(table.observed[j]),
                     float(table.ci_low[j]), float(table.ci_high[j])))
    out["calibration"] = rows
    return out


def cmd_evaluate(args):
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise CLIError(f"--plot needs matplotlib, which is not installed: "
                           f"{PLOT_EXTRA}") from None
        _check_output("--plot", args.plot)
    model = _load_model(args.model)
    X, y, what, where = load_data(args.data, args, n_features=model.n_features_in_)
    res = evaluate_probabilities(y, model.predict_proba(X), model.classes_, args.bins, where)
    print(f"data      {what}: {res['n']} samples")
    print(f"log-loss  {res['log_loss']:.6f}")
    print(f"accuracy  {res['accuracy']:.6f}")
    print(f"Brier     {res['brier']:.6f}")
    note = "" if len(model.classes_) == 2 else " (mean one-vs-rest)"
    if res["roc_auc"] != res["roc_auc"]:
        note = " (undefined: the data holds one class only)"
    print(f"ROC AUC   {res['roc_auc']:.6f}{note}")
    which = (f"P({_fmt_label(model.classes_[1])})" if len(model.classes_) == 2
             else "confidence")
    print(f"ECE       {res['ece']:.6f}")
    dec = res["decomposition"]
    if dec is not None:
        print(f"log-loss split: refinement {dec['refinement']:.6f} + calibration "
              f"{dec['calibration']:.6f} + within-bin {dec['within_bin']:.6f}")
    print(f"\ncalibration ({which} in equal-width bins, 95% Wilson interval of observed)")
    print(f"{'bin':>13} {'count':>8} {'predicted':>10} {'observed':>9} {'interval':>17}")
    last = len(res["calibration"]) - 1
    for k, (lo, hi, c, pm, ob, ci_lo, ci_hi) in enumerate(res["calibration"]):
        cells = (f"{pm:10.4f} {ob:9.4f}  [{ci_lo:.4f}, {ci_hi:.4f}]" if c else
                 f"{'-':>10} {'-':>9} {'-':>17}")
        print(f"[{lo:.2f}, {hi:.2f}{']' if k == last else ')'} {c:8d} {cells}")
    if args.plot:
        _reliability_plot(res, which, args.plot)
        _log(args, f"wrote reliability plot {args.plot}")
    return 0


def _reliability_plot(res, which, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in res["calibration"] if r[2]]
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
    ax.plot([r[3] for r in rows], [r[4] for r in rows], marker="o", label="model")
    ax.set_xlabel(f"mean predicted {which}")
    ax.set_ylabel("observed frequency")
    ax.set_title(f"reliability (log-loss {res['log_loss']:.4f}, AUC {res['roc_auc']:.4f})",
                 fontsize=9)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=100)
    plt.close(fig)


def cmd_convert(args):
    from .io import convert_svmlight

    t0 = time.perf_counter()
    cache = convert_svmlight(args.data, args.output, n_features=args.n_features,
                             dtype=_dtype(args.dtype), zero_based=args.zero_based_value,
                             n_threads=args.threads, progress=_progress_enabled(args),
                             finite=True)
    print(f"wrote {cache.path}: {cache.shape[0]} samples x {cache.shape[1]} features, "
          f"{cache.nnz} non-zeros, {cache.dtype} ({cache.nbytes / 1e6:.1f} MB) in "
          f"{time.perf_counter() - t0:.2f} s")
    return 0


def cmd_info(args):
    from .io import CSRCache, is_csr_cache

    t0 = time.perf_counter()
    if os.path.isdir(args.data) and is_csr_cache(args.data):
        cache = CSRCache(args.data).validate()
        X, y = cache.load(mmap=True)
        kind = (f"CSR cache (format {cache.header['format']} v{cache.header['version']}, "
                f"source {cache.header.get('source')})")
    else:
        X, y, kind, _ = load_data(args.data, args, finite=False)
    elapsed = time.perf_counter() - t0
    n, d = X.shape
    nnz = X.nnz if hasattr(X, "nnz") else int(np.count_nonzero(X))
    values, counts = np.unique(y, return_counts=True)
    row_nnz = np.diff(X.indptr) if hasattr(X, "indptr") else (X != 0).sum(axis=1)
    print(f"data      {kind}")
    print(f"shape     {n} samples x {d} features")
    print(f"nnz       {nnz} ({nnz / max(1, n * d):.4%} dense), per row: min {row_nnz.min()}, "
          f"mean {row_nnz.mean():.1f}, max {row_nnz.max()}")
    print(f"dtype     {X.dtype}")
    if len(values) <= 20:
        print("labels    " + ", ".join(f"{_fmt_label(v)}: {c}" for v, c in zip(values, counts)))
    else:
        print(f"labels    {len(values)} distinct values in [{values[0]:g}, {values[-1]:g}]")
    print(f"read in   {elapsed:.3f} s")
    return 0


def cmd_demo(args):
    """Fit the bundled breast-cancer data end to end and report."""
    args.data = "builtin:breast_cancer"
    print("fastlogit demo: L2 logistic regression on scikit-learn's breast-cancer data")
    return cmd_fit(args)


# ------------------------------------------------------------------ parser
def _number(kind, low=None, high=None, low_open=False, nonzero=False, what=None):
    """An argparse ``type``: ``kind`` (int / float) within bounds; argparse reports a
    failure as 'argument --OPTION: <what> ..., got VALUE' with exit status 2."""
    what = what or ("an integer" if kind is int else "a number")

    def convert(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        ok = value is not None and (kind is int or math.isfinite(value))
        if ok and low is not None:
            ok = value > low if low_open else value >= low
        if ok and high is not None:
            ok = value <= high
        if ok and nonzero:
            ok = value != 0
        if not ok:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value

    return convert


_POSITIVE_INT = _number(int, 1, what="a positive integer")
_POSITIVE_FLOAT = _number(float, 0, low_open=True, what="a positive finite number")


def _add_data_options(p, n_features=True):
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                   help="value dtype (default float64)")
    if n_features:
        p.add_argument("--n-features", type=_POSITIVE_INT, default=None,
                       help="number of features (default: largest id in the data)")
    p.add_argument("--zero-based", choices=["auto", "yes", "no"], default="auto",
                   help="svmlight feature ids start at 0 ('auto' as scikit-learn decides)")
    p.add_argument("--threads", type=_number(int, nonzero=True, what="a non-zero integer "
                                             "(negative: all cores but |n| - 1)"),
                   default=None, help="threads (default: all cores, or FASTLOGIT_NUM_THREADS)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or notes")


def _add_fit_options(p):
    p.add_argument("-o", "--output", metavar="MODEL", help="where to save the model (.npz)")
    p.add_argument("--C", "-C", type=_POSITIVE_FLOAT, default=1.0,
                   help="inverse regularisation: F = C * sum of losses + R(w) (default 1)")
    p.add_argument("--penalty", choices=["l2", "l1", "elasticnet", "none"], default="l2")
    p.add_argument("--l1-ratio", type=_number(float, 0, 1, what="a number in [0, 1]"),
                   default=None, help="elastic-net mixing in [0, 1]")
    p.add_argument("--solver", default="auto",
                   help="a solver of fastlogit.solvers, or auto (default); a name that is "
                        "not valid for --penalty is refused with the valid ones")
    p.add_argument("--tol", type=_POSITIVE_FLOAT, default=1e-4,
                   help="stop at ||grad F||_inf <= tol * max(1, ||grad F(0)||_inf)")
    p.add_argument("--max-iter", type=_POSITIVE_INT, default=100)
    p.add_argument("--no-intercept", action="store_true", help="fit without an intercept")
    p.add_argument("--backend", choices=["auto", "numpy", "numba", "cython"], default="auto")
    p.add_argument("--random-state", type=_number(int, 0, 2**32 - 1,
                                                  what="an integer in [0, 2**32 - 1]"),
                   default=None)
    p.add_argument("--out-of-core", action="store_true",
                   help="DATA is a CSR cache: read it chunk by chunk (binary models; the "
                        "deterministic solvers, or minibatch with --max-iter epochs)")
    p.add_argument("--chunk-nnz", type=_POSITIVE_INT, default=1 << 22,
                   help="non-zeros per chunk with --out-of-core (default 4194304)")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="fastlogit", description="Fast logistic regression on large sparse data.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    from . import __version__

    parser.add_argument("--version", action="version", version=f"fastlogit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    fmt = argparse.RawDescriptionHelpFormatter

    p = sub.add_parser("fit", help="fit a model and save it", formatter_class=fmt,
                       description="Fit a logistic regression model on DATA; prints the "
                                   "objective value, training accuracy and time.",
                       epilog="examples:\n  fastlogit fit train.svm.xz -o model.npz --C 0.5\n"
                              "  fastlogit fit builtin:breast_cancer -o bc.npz\n"
                              "  fastlogit fit train.flc -o model.npz --out-of-core\n")
    p.add_argument("data", metavar="DATA")
    _add_fit_options(p)
    _add_data_options(p)
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("predict", help="predict labels or probabilities", formatter_class=fmt,
                       description="Predict with a saved MODEL on DATA: one label per line, "
                                   "or with --proba a 'labels c0 c1 ...' header then the "
                                   "predicted label and class probabilities per line "
                                   "(LIBLINEAR's -b 1 layout). DATA is read, scored and "
                                   "written block by block (also '-' for stdin, compressed "
                                   "or not), in memory independent of its size.",
                       epilog="examples:\n  fastlogit predict model.npz test.svm -o test.pred\n"
                              "  fastlogit predict model.npz test.svm --proba | head\n"
                              "  xzcat test.svm.xz | fastlogit predict model.npz - --raw\n")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA")
    p.add_argument("-o", "--output", metavar="PREDS", help="output file (default stdout)")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--proba", action="store_true", help="write class probabilities")
    what.add_argument("--raw", action="store_true",
                      help="write decision values: a 'scores c1' header (binary: log-odds of "
                           "c1) or 'scores c0 c1 ...', then the label and the scores per line")
    p.add_argument("--chunk-mb", type=_POSITIVE_FLOAT, default=4.0,
                   help="MB of text read, scored and written per block (default 4); memory "
                        "stays a few blocks whatever the size of DATA")
    _add_data_options(p, n_features=False)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("evaluate", help="log-loss, accuracy, ROC AUC, calibration",
                       formatter_class=fmt,
                       description="Score a saved MODEL on labelled DATA: log-loss, accuracy, "
                                   "ROC AUC and a calibration (reliability) table.",
                       epilog="examples:\n  fastlogit evaluate model.npz test.svm\n"
                              "  fastlogit evaluate model.npz test.svm --bins 20 "
                              "--plot reliability.png\n")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA")
    p.add_argument("--bins", type=_number(int, 1, 10000, what="an integer in [1, 10000]"),
                   default=10, help="calibration bins (default 10)")
    p.add_argument("--plot", metavar="PNG", help="also write a reliability plot")
    _add_data_options(p, n_features=False)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("convert", help="svmlight text -> binary CSR cache", formatter_class=fmt,
                       description="Convert svmlight text (plain/.gz/.bz2/.xz) once into a "
                                   "memory-mappable CSR cache directory; fit/predict/evaluate/"
                                   "info then open it in milliseconds.",
                       epilog="example:\n  fastlogit convert train.svm.bz2 -o train.flc\n")
    p.add_argument("data", metavar="DATA")
    p.add_argument("-o", "--output", metavar="CACHE", required=True)
    _add_data_options(p)
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("info", help="shape, sparsity and labels of DATA", formatter_class=fmt,
                       description="Describe DATA: shape, non-zeros, dtype, label counts.",
                       epilog="example:\n  fastlogit info a9a.xz\n")
    p.add_argument("data", metavar="DATA")
    _add_data_options(p)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("demo", help="fit the bundled breast-cancer data end to end",
                       formatter_class=fmt,
                       description="Fit scikit-learn's bundled breast-cancer data set "
                                   "(builtin:breast_cancer) and report objective, accuracy "
                                   "and time. Needs no files and no network.",
                       epilog="example:\n  fastlogit demo --C 0.1\n")
    _add_fit_options(p)
    _add_data_options(p)
    p.set_defaults(func=cmd_demo)
    parser.commands = sub.choices  # command name -> its parser (for usage errors)
    return parser


def _check_fit_command_line(parser, args):
    """Usage errors (exit 2, naming the option) of fit / demo that argparse cannot see:
    a solver name that does not exist or does not handle the penalty (the valid names come
    from the solvers' declarations), elastic net without its ratio."""
    from .solvers import SOLVERS, solvers_for

    if args.penalty == "elasticnet" and args.l1_ratio is None:
        parser.error("argument --l1-ratio: --penalty elasticnet needs --l1-ratio in [0, 1]")
    nonsmooth = args.penalty == "l1" or (args.penalty == "elasticnet" and args.l1_ratio > 0)
    valid = ["auto"] + solvers_for(nonsmooth=nonsmooth)
    if args.solver not in valid:
        known = args.solver in SOLVERS
        parser.error(f"argument --solver: {args.solver!r} "
                     + (f"does not handle --penalty {args.penalty}" if known
                        else "is not a solver")
                     + f"; choose from {', '.join(valid)}")


def main(argv=None):
    """Entry point; returns the exit status (0 success, 1 failure, 2 usage)."""
    parser = build_parser()
    args = parser.parse_args(argv)  # exits with 2 on a bad command line
    command_parser = parser.commands[args.command]
    args.zero_based_value = {"auto": "auto", "yes": True, "no": False}[args.zero_based]
    from ._config import effective_n_threads

    try:
        effective_n_threads(args.threads)  # FASTLOGIT_NUM_THREADS=abc: named, now
    except ValueError as exc:
        command_parser.error(str(exc))
    if args.command in ("fit", "demo"):
        _check_fit_command_line(command_parser, args)
    from .io import CacheFormatError, SvmlightFormatError

    try:
        with warnings.catch_warnings():
            if args.quiet:
                warnings.simplefilter("ignore")
            else:
                warnings.simplefilter("default")
                warnings.showwarning = _show_warning
            return args.func(args)
    except BrokenPipeError:  # e.g. `fastlogit predict ... | head`: stop quietly
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (CLIError, SvmlightFormatError, CacheFormatError, OSError, ValueError) as exc:
        print(f"fastlogit {args.command}: error: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"fastlogit {args.command}: interrupted; no output written", file=sys.stderr)
    return 1


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
