"""The log-loss data term of a dask array: a sum over workers of in-memory data terms.

:class:`DaskData` is a :class:`fastlogit.contract.DataTerm`.  Each worker holds one *part*
(:class:`_Part`): its contiguous run of row blocks stacked once, in order, into an in-memory
:class:`fastlogit.objective.LogLossData` (one call of the fused kernels of one machine per
pass over all the worker's rows).  Every DataTerm method is the sum of the parts' results::

    L(theta)            = sum_parts L_part(theta)
    grad, H v, diag H, H  likewise

carried by :class:`fastlogit.dask._transport.WorkerParts` (actors or tasks).  No C, no
penalty here: :class:`DaskObjective` is :class:`fastlogit.objective.Objective` over a
DaskData, so C and any :class:`fastlogit.penalties.Penalty` (L2, L1, elastic net, one of
your own) are applied once, on the client, to the reduced sums, and every deterministic
solver whose declared needs DaskData offers runs on it (:data:`OFFERED_METHODS`: no
in-memory row blocks).

Bytes per call: ``8 n_params`` out to each worker for each new vector (a vector already sent
under its name is held there), one (n_params,) result back per worker; independent of
``n_samples``.  The curvature (IRLS weights / probabilities) that ``loss_grad`` computes is
cached by each part's LogLossData on its worker; ``hessp`` reuses it when theta is the one
last seen there and recomputes it otherwise, so a part rebuilt on another worker after a
failure gives the same answer.  ``margins`` gathers n values to the client and
``loss_from_margins`` sends them back (the DataTerm contract); the solvers' line searches use
:meth:`DaskObjective.line` instead, which keeps the margins on the workers.
"""
import math
from functools import partial

import numpy as np
import scipy.sparse as sp
import dask.array as da
from dask.sizeof import sizeof as _dask_sizeof

from .. import kernels as _kernels
from .._docstring import fill_doc, filler
from ..contract import SOLVER_METHODS
from ..layout import Layout
from ..objective import LogLossData, Objective, PenaltyLine, pointwise_loss_sum
from ..validation import check_finite_X
from ._transport import WorkerParts, client_or_current

__all__ = ["DaskData", "DaskObjective", "OFFERED_METHODS"]

#: The objective methods a DaskObjective offers solvers: all but in-memory row blocks.
OFFERED_METHODS = SOLVER_METHODS - {"row_blocks"}


# ------------------------------------------------------------------------------- worker side
class _Part:
    """One worker's share of the rows: ``data`` (a LogLossData over its stacked blocks) and
    ``block_sizes`` (rows of each input block, in order, for local SGD).  Pickles as its
    arrays and the backend's name, so that Dask can move it to another worker."""

    __slots__ = ("data", "block_sizes", "backend", "_line")

    def __init__(self, data, block_sizes, backend):
        self.data = data
        self.block_sizes = list(block_sizes)
        self.backend = backend
        self._line = None  # (theta, direction, margins at theta, margins of direction)

    @property
    def n_samples(self):
        return self.data.n_samples

    def __reduce__(self):
        d = self.data
        return (_rebuild_part, (d.design, d.y, d.sample_weight, d.fit_intercept, self.backend,
                                d.n_threads, self.block_sizes))


def _rebuild_part(design, y, sample_weight, fit_intercept, backend, n_threads, block_sizes):
    data = LogLossData.trusted(design, y, sample_weight, fit_intercept, _kernels.get(backend),
                               n_threads)
    return _Part(data, block_sizes, backend)


@_dask_sizeof.register(_Part)
def _sizeof_part(part):
    """Memory a persisted part holds (its data and the per-row curvature caches), so that
    the workers' memory management sees the parts at their real size."""
    d = part.data
    caches = sum(st.curv.nbytes for st in d._states)
    return int(d.design.nbytes + d.y.nbytes + caches + 8 * d.n_samples)


def as_block(X):
    """A row block as LogLossData takes it (CSR kept sparse, anything else dense)."""
    if sp.issparse(X):
        return X.tocsr()
    return np.asarray(X)


def _stack_rows(parts):
    """Row blocks (CSR, dense or 1-D/2-D label arrays; or all None) stacked in order."""
    if parts[0] is None:
        return None
    if len(parts) == 1:
        return parts[0]
    if sp.issparse(parts[0]):
        return sp.vstack([p.tocsr() for p in parts], format="csr")
    return np.concatenate([np.asarray(p) for p in parts], axis=0)


def make_part(options, *blocks):
    """One worker's part: its row blocks stacked, in order, into one LogLossData.

    ``blocks`` are (X, y, sample_weight) triples, flattened.  Each X block is checked for
    NaN / inf here, on the worker, as the part is built (:func:`fastlogit.validation.
    check_finite_X`: "Input X contains NaN." / "... infinity."), y and the weights by
    LogLossData (:mod:`fastlogit.validation`).
    """
    xs, ys, ss = blocks[0::3], blocks[1::3], blocks[2::3]
    xs = [check_finite_X(as_block(x)) for x in xs]
    X = _stack_rows(xs)
    y = np.asarray(_stack_rows(ys), dtype=np.float64)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    s = _stack_rows(ss)
    if s is not None:
        s = np.asarray(s, dtype=np.float64).reshape(-1)
    data = LogLossData(X, y, s, fit_intercept=options["fit_intercept"],
                       backend=options["backend"], n_threads=options["n_threads"])
    return _Part(data, [x.shape[0] for x in xs], options["backend"])


def _part_info(part):
    d = part.data
    s = d.sample_weight
    weight = float(d.n_samples if s is None else np.sum(s, dtype=np.float64))
    return d.n_samples, d.n_features, d.n_classes, str(d.dtype), weight, part.block_sizes


def _on_data(name, part, *args):
    """``part.data.<name>(*args)``: a DataTerm method of a worker's part, run where it lives."""
    return getattr(part.data, name)(*args)


def on_data(name):
    """The part function (picklable) that runs the DataTerm method ``name`` of a part."""
    return partial(_on_data, name)


def _part_line_loss(part, theta, direction, t):
    """L of the part at theta + t * direction, from margins cached on the part.

    The margins at theta and along the direction (two passes) are kept on the part while
    the solver tries step lengths on the same line, so each trial is O(rows); a part rebuilt
    elsewhere recomputes them from theta and the direction.
    """
    cache = part._line
    if cache is None or not (np.array_equal(cache[0], theta)
                             and np.array_equal(cache[1], direction)):
        d = part.data
        cache = (theta, direction, d.margins(theta), d.margins(direction))
        part._line = cache
    return pointwise_loss_sum(part.data.y, cache[2] + t * cache[3], part.data.sample_weight)


# ------------------------------------------------------------------------------- client side
def as_row_blocks(X):
    """X as a dask array with one column chunk (row blocks), the layout the parts need; an
    in-memory matrix is cut into blocks of 100 000 rows."""
    if not isinstance(X, da.Array):
        chunk = max(1, min(X.shape[0], 100_000))
        X = da.from_array(X, chunks=(chunk, X.shape[1]), asarray=False)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-dimensional, got shape {X.shape}")
    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})
    return X


def _length_error(name, got, n):
    """The in-memory estimator's message for a label / weight array of the wrong length."""
    if name == "sample_weight":
        return ValueError(f"sample_weight must have shape ({n},), got ({got},)")
    return ValueError(f"Found input variables with inconsistent numbers of samples: [{n}, {got}]")


def row_blocks_like(a, chunks, name):
    """Delayed row blocks of a label / weight array aligned with X's row ``chunks``
    (rechunked when its rows are known and chunked differently); None -> Nones."""
    if a is None:
        return [None] * len(chunks)
    if not isinstance(a, da.Array):
        a = np.asarray(a)
        if any(math.isnan(c) for c in chunks):
            raise ValueError(f"{name} must be a dask array when X's row chunks are unknown")
        if a.shape[0] != sum(chunks):
            raise _length_error(name, a.shape[0], sum(chunks))
        a = da.from_array(a, chunks=(chunks,) + tuple((s,) for s in a.shape[1:]))
    if a.ndim == 2 and a.numblocks[1] != 1:
        a = a.rechunk({1: -1})
    known = not any(math.isnan(c) for c in chunks) and not any(
        math.isnan(c) for c in a.chunks[0])
    if known and tuple(a.chunks[0]) != tuple(chunks):
        if a.shape[0] != sum(chunks):
            raise _length_error(name, a.shape[0], sum(chunks))
        a = a.rechunk({0: chunks})
    if len(a.chunks[0]) != len(chunks):
        raise ValueError(
            f"{name} must have the row chunks of X ({len(chunks)} blocks), got {len(a.chunks[0])}")
    return a.to_delayed().reshape(-1).tolist()


class DaskData:
    """L(theta) = sum_i s_i l(y_i, z_i) over a dask array's rows, summed on the workers.

    A :class:`fastlogit.contract.DataTerm` (unpenalised, unscaled).

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        Row blocks dense NumPy or scipy.sparse CSR (float32 or float64; dtype kept); row
        chunk sizes may be unknown (``nan``), e.g. one block per file.  A NumPy/SciPy matrix
        is split into row blocks of 100 000 rows.  NaN / inf entries raise ValueError
        ("Input X contains NaN.") when the parts are built.
    y : dask.array.Array of shape (n_samples,) or (n_samples, K)
        Targets in [0, 1] (binary) or class probabilities, rows summing to 1 (multinomial);
        aligned with X's row chunks.
    sample_weight : dask.array.Array of shape (n_samples,), finite and >= 0, or None
    fit_intercept, backend, n_threads
        As for :class:`~fastlogit.objective.LogLossData`; ``n_threads`` is the kernel thread
        count on each worker.
    client : distributed.Client or None (the current client)
    split_every, timeout, transport
        As for :class:`fastlogit.dask._transport.WorkerParts`: the tree fan-in, seconds to
        wait for one call (``TimeoutError``), "auto" / "actors" / "tasks".

    Attributes
    ----------
    layout, n_samples, n_features, n_classes, n_params, fit_intercept, dtype
    n_blocks : int, input row blocks; block_sizes : their rows, in order
    sum_sample_weight : float
    parts : the :class:`~fastlogit.dask._transport.WorkerParts`
    transport, bytes_sent, n_rebuilds, client : the transport's
    n_evals : dict counting calls by kind
    """

    def __init__(self, X, y, sample_weight=None, *, fit_intercept=True, backend="auto",
                 n_threads=None, client=None, split_every=8, timeout=None, transport="auto"):
        if transport not in ("auto", "actors", "tasks"):
            raise ValueError(
                f"transport must be 'auto', 'actors' or 'tasks', got {transport!r}")
        if int(split_every) < 2:
            raise ValueError(f"split_every must be at least 2, got {split_every!r}")
        client = client_or_current(client)
        X = as_row_blocks(X)
        chunks = X.chunks[0]
        xs = X.to_delayed().reshape(-1).tolist()
        ys = row_blocks_like(y, chunks, "y")
        ss = row_blocks_like(sample_weight, chunks, "sample_weight")
        self.fit_intercept = bool(fit_intercept)
        self.backend = backend
        self.n_threads = n_threads
        options = {"fit_intercept": self.fit_intercept, "backend": backend,
                   "n_threads": n_threads}
        self.parts = WorkerParts(client, make_part, (options,), list(zip(xs, ys, ss)), chunks,
                                 split_every=split_every, timeout=timeout, transport=transport)
        try:
            info = self.parts.map(_part_info)
            shapes = {i[1:4] for i in info}
            if len(shapes) != 1:
                raise ValueError("row blocks disagree on n_features / n_classes / dtype: "
                                 f"{sorted(shapes)}")
        except BaseException:
            self.parts.close()
            raise
        n_features, n_classes, dtype = shapes.pop()
        self.n_samples = int(sum(i[0] for i in info))
        self.sum_sample_weight = float(sum(i[4] for i in info))
        self.n_features, self.n_classes = int(n_features), int(n_classes)
        self.dtype = np.dtype(dtype)
        self.layout = Layout(self.n_features, self.n_classes, self.fit_intercept)
        self.n_params = self.layout.n_params
        #: Rows of each input row block, in order (a part holds a run of them).
        self.block_sizes = [int(r) for i in info for r in i[5]]
        self.n_blocks = len(self.block_sizes)
        self._part_rows = [int(i[0]) for i in info]
        self._cache = []  # [theta, L, grad L] of the last two loss_grad calls, newest first
        self.n_evals = {"value_grad": 0, "value": 0, "hessp": 0, "hessian": 0, "hess_diag": 0,
                        "margins": 0, "line": 0}

    def __repr__(self):
        return (f"DaskData(n_samples={self.n_samples}, n_features={self.n_features}, "
                f"n_classes={self.n_classes}, n_blocks={self.n_blocks}, "
                f"transport={self.transport!r}, dtype={self.dtype})")

    transport = property(lambda self: self.parts.transport)
    bytes_sent = property(lambda self: self.parts.bytes_sent)
    n_rebuilds = property(lambda self: self.parts.n_rebuilds)
    client = property(lambda self: self.parts.client)

    def _call(self, func, vectors, *scalars):
        """Sum over the parts of ``func(part, *vectors, *scalars)`` (vectors: (name, theta-
        sized array) pairs, held on the workers under their names)."""
        for name, a in vectors:
            if np.size(a) != self.n_params:
                raise ValueError(f"{name} must have {self.n_params} entries, got {np.size(a)}")
        return self.parts.call(func, vectors, *scalars)

    def close(self):
        """Release the parts (and the actors) on the workers."""
        self.parts.close()

    # -- DataTerm ------------------------------------------------------------------------------
    def _cached(self, theta):
        for entry in self._cache:
            if np.array_equal(entry[0], theta):
                return entry
        return None

    def loss_grad(self, theta):
        """(L, grad L) summed over the parts; each part caches its curvature at theta.  The
        last two results are kept on the client (solvers ask again for the same theta)."""
        theta = np.asarray(theta, dtype=np.float64).reshape(-1)
        entry = self._cached(theta)
        if entry is None:
            self.n_evals["value_grad"] += 1
            loss, grad = self._call(on_data("loss_grad"), [("theta", theta)])
            entry = [theta.copy(), float(loss), np.asarray(grad, dtype=np.float64)]
            self._cache = [entry] + self._cache[:1]
        return entry[1], entry[2].copy()

    def loss(self, theta):
        """L(theta): from the client cache, else one loss pass on every part."""
        entry = self._cached(theta)
        if entry is not None:
            return entry[1]
        self.n_evals["value"] += 1
        return float(self._call(on_data("loss"), [("theta", theta)]))

    def hessp(self, theta, v):
        """Hess L(theta) v: one kernel pass per part when theta's curvature is cached there."""
        self.n_evals["hessp"] += 1
        return self._call(on_data("hessp"), [("theta", theta), ("v", v)])

    def hess_diag(self, theta):
        """diag Hess L(theta), float64 (n_params,)."""
        self.n_evals["hess_diag"] += 1
        return self._call(on_data("hess_diag"), [("theta", theta)])

    def hessian(self, theta):
        """Dense Hess L(theta), (n_params, n_params): n_params^2 floats from each worker."""
        self.n_evals["hessian"] += 1
        return self._call(on_data("hessian"), [("theta", theta)])

    def margins(self, theta, intercept=True):
        """z = X w (+ b), float64 (n,) or (n, K), gathered to the client in row order."""
        self.n_evals["margins"] += 1
        theta = np.ascontiguousarray(theta, dtype=np.float64).reshape(-1)
        return np.concatenate(self.parts.map(on_data("margins"), theta, bool(intercept)), axis=0)

    def loss_from_margins(self, z):
        """L at the theta whose margins are ``z`` (each part's rows sent to it)."""
        z = np.asarray(z, dtype=np.float64)
        if z.shape[0] != self.n_samples:
            raise ValueError(f"z must have {self.n_samples} rows, got {z.shape[0]}")
        cuts = np.cumsum([0] + self._part_rows)
        per_part = [(z[a:b],) for a, b in zip(cuts[:-1], cuts[1:])]
        return float(sum(self.parts.map(on_data("loss_from_margins"), per_part=per_part)))

    def line_loss(self, theta, direction, t):
        """L(theta + t * direction) from margins kept on the workers: two passes per part on
        the first trial of a line, O(rows) per part afterwards; only scalars travel once
        theta and the direction are held there."""
        self.n_evals["line"] += 1
        return float(self._call(_part_line_loss, [("theta", theta),
                                                  ("direction", direction)], float(t)))


class DaskLine:
    """phi(t) = f(theta + t d) of a :class:`DaskObjective`'s smooth part: what
    :class:`fastlogit.objective.LineFunction` computes (``value(t)``), with the loss evaluated
    on the workers (:meth:`DaskData.line_loss`: the margins stay there, only scalars travel)
    and the penalty's smooth part on the client, by the objective's
    :class:`~fastlogit.penalties.Penalty`."""

    def __init__(self, objective, theta, direction):
        ob = objective
        self.objective = ob
        self.theta = ob.layout.check(theta)
        self.direction = ob.layout.check(direction, "direction")
        self.penalty_line = PenaltyLine(ob.penalty, ob.layout.coef(self.theta),
                                        ob.layout.coef(self.direction))

    def value(self, t):
        """Smooth f at theta + t d, float."""
        ob = self.objective
        loss = ob.data.line_loss(self.theta, self.direction, t)
        return ob.C * loss + self.penalty_line.value(t)


#: The start of DaskObjective's method examples: a 4 x 2 problem in two row blocks and an
#: in-process client (one worker thread), entered with ``with client:`` by each example.
_fill_doc = filler({"dask_objective_example": """\
>>> import numpy as np
>>> import dask.array as da
>>> from distributed import Client
>>> from fastlogit.dask import DaskObjective
>>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
>>> dX, dy = da.from_array(X, chunks=(2, 2)), da.from_array([0.0, 0.0, 1.0, 1.0], chunks=2)
>>> client = Client(processes=False, n_workers=1, dashboard_address=None)"""})


@fill_doc
class DaskObjective(Objective):
    """:class:`~fastlogit.objective.Objective` over a :class:`DaskData`: F = C L + R(w) with
    L summed on the workers, C and any penalty applied on the client.

    ``objective.data`` is the :class:`DaskData`; its attributes (``n_blocks``,
    ``transport``, ``bytes_sent``, ``n_rebuilds``, ``client``, ``sum_sample_weight``...) are
    reachable on the objective too.  :meth:`line` keeps the margins on the workers.  Call
    :meth:`close` (or use it as a context manager) to release the parts.  ``C`` and the
    penalty are checked on the client before any data travel.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        Row blocks dense NumPy or scipy.sparse CSR (float32 or float64; dtype kept); row
        chunk sizes may be unknown (``nan``), e.g. one block per file.  A NumPy/SciPy matrix
        is split into row blocks of 100 000 rows.  NaN / inf entries raise ValueError when
        the parts are built.
    y : dask.array.Array of shape (n_samples,) or (n_samples, K)
        Targets in [0, 1] (binary) or class probabilities, rows summing to 1 (multinomial);
        aligned with X's row chunks.
    sample_weight : dask.array.Array of shape (n_samples,), default=None
        Finite non-negative weights with X's row chunks; None means 1 each.
    {C}
    penalty : {"l2", "l1", "elasticnet", None} or fastlogit.penalties.Penalty, default="l2"
        Applied on the client, so any :class:`fastlogit.penalties.Penalty` works.
    {l1_ratio, fit_intercept}
    backend : {"auto", "numpy", "numba", "cython"}, default="auto"
        Kernel implementation on the workers (:func:`fastlogit.kernels.get`).
    n_threads : int, default=None
        Kernel threads on each worker; None: each worker's
        :func:`fastlogit._config.effective_n_threads`.
    client : distributed.Client, default=None
        The cluster's client; None takes the current one.
    split_every : int, default=8
        Fan-in of the tree reductions (at least 2, else ValueError); with "auto", actors
        are used up to this many workers.
    timeout : float, default=None
        Seconds to wait for one distributed call before ``TimeoutError``; None waits.
    transport : {"auto", "actors", "tasks"}, default="auto"
        How each call reaches the workers (:mod:`fastlogit.dask._transport`); another value
        raises ValueError.

    Examples
    --------
    Sparse row blocks, an L1 penalty, the same optimum as in memory:

    >>> import numpy as np
    >>> import dask.array as da
    >>> from distributed import Client
    >>> from fastlogit.dask import DaskObjective
    >>> from fastlogit.datasets import make_sparse_classification
    >>> from fastlogit.objective import Objective
    >>> from fastlogit.solvers import solve
    >>> X, y = make_sparse_classification(n_samples=400, n_features=20, random_state=0)
    >>> with Client(processes=False, n_workers=1, dashboard_address=None):
    ...     dX = da.from_array(X, chunks=(100, 20), asarray=False)  # CSR blocks
    ...     dy = da.from_array(y, chunks=100)
    ...     with DaskObjective(dX, dy, C=1.0, penalty="l1") as objective:
    ...         n_blocks, result = objective.n_blocks, solve(objective, "l1", tol=1e-8)
    >>> in_memory = solve(Objective(X, y, C=1.0, penalty="l1"), "l1", tol=1e-8)
    >>> n_blocks, bool(np.allclose(result.theta, in_memory.theta, atol=1e-6))
    (4, True)
    """

    def __init__(self, X, y, sample_weight=None, *, C=1.0, penalty="l2", l1_ratio=0.0,
                 fit_intercept=True, backend="auto", n_threads=None, client=None,
                 split_every=8, timeout=None, transport="auto"):
        from ..penalties import make_penalty
        from ..validation import check_C

        check_C(C)  # before the data travel
        make_penalty(penalty, 0.0 if l1_ratio is None else l1_ratio)
        data = DaskData(X, y, sample_weight, fit_intercept=fit_intercept, backend=backend,
                        n_threads=n_threads, client=client, split_every=split_every,
                        timeout=timeout, transport=transport)
        super().__init__(data, C=C, penalty=penalty, l1_ratio=l1_ratio)

    def __repr__(self):
        return f"DaskObjective({self.data!r}, C={self.C}, penalty={self.penalty!r})"

    @_fill_doc
    def line(self, theta, direction, z=None):
        """The smooth part along a line, phi(t) = f(theta + t d), its margins kept on the
        workers (f = C L + the penalty's smooth part: no L1 term).

        Parameters
        ----------
        {theta}
        direction : array-like of shape (n_params,)
            The search direction d, float64, in theta's packing (a wrong length raises
            ValueError).
        z : ndarray, default=None
            Ignored (the in-memory objective's margins at theta; here they stay on the
            workers).

        Returns
        -------
        DaskLine
            ``phi.value(t)`` is f(theta + t d), a float; each trial step costs one round
            trip of scalars.

        Examples
        --------
        {dask_objective_example}
        >>> with client, DaskObjective(dX, dy, C=1.0) as objective:
        ...     theta, d = objective.zeros(), np.array([1.0, 0.0, -1.0])
        ...     phi_half = objective.line(theta, d).value(0.5)
        ...     f_half = objective.value_grad(theta + 0.5 * d)[0]  # L2: F = f
        >>> bool(np.isclose(phi_half, f_half))
        True
        """
        return DaskLine(self, theta, direction)

    @_fill_doc
    def close(self):
        """Release the parts (and the actors) on the workers; leaving a ``with`` block
        calls it.  The objective is not evaluated afterwards; a second call does nothing.

        Examples
        --------
        {dask_objective_example}
        >>> with client:
        ...     objective = DaskObjective(dX, dy, C=1.0)
        ...     F0 = objective.value_grad(objective.zeros())[0]
        ...     objective.close()
        ...     objective.close()  # nothing left to release
        >>> round(F0, 4)  # C * 4 log 2 at theta = 0
        2.7726
        """
        self.data.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
