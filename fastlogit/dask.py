"""Logistic regression on a Dask cluster: the data stays on the workers, only theta travels.

On a cluster
------------
``fastlogit.dask.LogisticRegression`` has the estimator API of :class:`fastlogit.LogisticRegression`
and fits a :class:`dask.array.Array` whose row blocks are dense NumPy arrays or
``scipy.sparse`` CSR matrices (labels: a dask array with the same row chunks)::

    import dask.array as da
    from dask.sizeof import sizeof as _dask_sizeof
    from distributed import Client, LocalCluster
    from fastlogit.datasets import make_sparse_classification
    from fastlogit.dask import LogisticRegression

    if __name__ == "__main__":
        X, y = make_sparse_classification(n_samples=200_000, n_features=20_000)
        with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster):
            dX = da.from_array(X, chunks=(25_000, X.shape[1]), asarray=False)
            dy = da.from_array(y, chunks=25_000)
            clf = LogisticRegression(C=1.0, solver="lbfgs", tol=1e-6).fit(dX, dy)
            print(clf.coef_.shape, clf.n_iter_, clf.score(X, y))

A directory of svmlight files (one block per file) becomes one dask array with
:func:`read_svmlight_dir`, without loading the set on the client::

    X, y = read_svmlight_dir("data/train/", n_features=20_000)   # lazy; read on the workers
    LogisticRegression().fit(X, y)

and fastlogit's memory-mapped CSR caches (``fastlogit convert``) with
:func:`read_csr_cache_dir` (one block per cache, or per ``rows_per_block`` rows of one).

How it works
------------
:class:`DaskObjective` has the interface of :class:`fastlogit.objective.Objective` (``value``,
``value_grad``, ``hessp``, ``hess_diag``, ``hessian``, ``n_params``, ...), so every solver of
:data:`fastlogit.solvers.SOLVERS` that needs only those runs unchanged.  When it is built, each
worker is given a contiguous run of row blocks (about equal rows per worker), which it stacks
*once*, in order, into one local ``Objective`` (``C=1``, no penalty: the part's weighted loss
sum) persisted there.  Each call then runs, per worker, that ``Objective`` method (one call of
the fused kernels of one machine over all the worker's rows) and brings back one sum per
worker.  Two transports (``transport=``):

- ``"actors"`` (the default up to ``split_every`` workers): one Dask actor per worker, called
  directly from the client -- no scheduler round trip, no task, one message out and one back
  per worker.  Each actor holds no data (it looks its blocks up in the worker's store by key)
  but keeps the last vector sent under each name, so theta goes out once per new theta and
  Newton-CG's Hessian products send only ``v``, a line search's trial steps only ``t``.  The
  per-worker sums are added on the client.  A worker lost before or during a call (its actor
  unreachable, or a block moved) makes the actors be rebuilt where Dask has recomputed the
  blocks from their lineage, and the call repeated with the same answer.
- ``"tasks"`` (beyond ``split_every`` workers): one task per worker through the scheduler
  (small vectors inside the task messages, larger ones scattered once), the per-worker sums
  reduced in a tree of fan-in ``split_every`` rooted at the client.

``C`` and the penalty are applied once, on the client, to the reduced sum.  The curvature
(IRLS weights / probabilities) that ``value_grad`` computes is cached by the block's local
``Objective`` on its worker; ``hessp`` reuses it when theta is the one last seen there and
recomputes it otherwise, so a block recomputed on another worker after a failure gives the same
answer.

Bytes sent per iteration (one ``value_grad``): ``8 * n_params * 2 * n_workers`` (theta out to
each worker, one partial sum back from each), independent of ``n_samples``; a ``hessp`` at a
theta already sent the same (``v`` out, ``H v`` back).  The time per call is the slowest
worker's kernel time plus one client-worker round trip (the tasks transport adds the
scheduler's hops), a fixed cost per call: the longer a kernel pass, the closer a Dask
iteration comes to one process's (figures in benchmarks/results/NOTES.md).

Mini-batch SGD (``solver="local-sgd"``, :func:`local_sgd`): each round every block runs
``local_epochs`` epochs of SGD (the SGD epoch kernel, sklearn's "optimal" step size
``1 / (alpha (t0 + t))`` with a step counter continued across rounds) from the current average,
then the models are averaged, weighted by the blocks' sample-weight sums.  Because the step size
decreases to zero this is *local SGD with periodic averaging*: for the convex objective it
converges to the same minimiser as the deterministic solvers (Stich 2019, "Local SGD converges
fast and communicates little"; Khaled et al. 2020 for blocks that are not identically
distributed), at SGD's sublinear rate; with a constant step it would stop in a neighbourhood
of the optimum biased towards the blocks' own minimisers.  Use it for a quick approximate fit;
use "lbfgs" or "newton-cg" for a tight one.
"""
import math
import numbers
import time

import numpy as np
import scipy.sparse as sp

try:
    import dask
    import dask.array as da
    from dask.sizeof import sizeof as _dask_sizeof
    from distributed import get_client, get_worker, wait
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError(
        "fastlogit.dask needs dask and distributed: pip install 'fastlogit[dask]'"
    ) from exc

__all__ = ["DaskObjective", "LogisticRegression", "local_sgd", "read_svmlight_dir",
           "read_csr_cache_dir"]


from .objective import Objective  # noqa: E402

#: Vectors up to this size are sent inside the task messages rather than scattered.
INLINE_BYTES = 1 << 16
#: Actor calls run on the worker's event loop (one thread hand-off less per call) while the
#: previous call took less than this many seconds on every worker;
#: longer ones run in the actor's thread so that the worker stays responsive meanwhile.
ACTOR_LOOP_SECONDS = 0.1
#: Attempts of one actor call when workers are lost (each rebuilds the actors first).
_RETRIES = 4


@_dask_sizeof.register(Objective)
def _sizeof_objective(obj):
    """Memory a persisted block holds (its data and the per-row curvature caches), so that
    the workers' memory management sees the blocks at their real size."""
    caches = sum(st.curv.nbytes for st in getattr(obj, "_states", ()))
    return int(obj.design.nbytes + obj.y.nbytes + caches + 8 * obj.n_samples)

# --------------------------------------------------------------------------------------------
# Worker side: one local Objective per row block, built once and persisted.


def _as_block(X):
    """A row block as the local Objective takes it (CSR kept sparse, anything else dense)."""
    if sp.issparse(X):
        return X.tocsr()
    return np.asarray(X)


def _make_block(X, y, sample_weight, options):
    """The block's local objective: its weighted loss sum (C = 1, no penalty)."""
    X = _as_block(X)
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
    return Objective(X, y, sample_weight, C=1.0, penalty=None,
                     fit_intercept=options["fit_intercept"], backend=options["backend"],
                     n_threads=options["n_threads"])


def _stack_rows(parts):
    """Row blocks (CSR, dense or 1-D/2-D label arrays; or all None) stacked in order."""
    if parts[0] is None:
        return None
    if len(parts) == 1:
        return parts[0]
    if sp.issparse(parts[0]):
        return sp.vstack([p.tocsr() for p in parts], format="csr")
    return np.concatenate([np.asarray(p) for p in parts], axis=0)


def _make_part(options, *blocks):
    """One worker's share: its row blocks stacked, in order, into one local Objective.

    ``blocks`` are (X, y, sample_weight) triples, flattened (positional arguments, not
    lists: Dask would copy a list's tasks under the part's worker pin, and a block lost with
    its worker could then never be recomputed elsewhere).  One kernel call per worker and
    pass then covers all its rows (one call per block, each on a fraction of the rows, pays
    the per-call overhead once per block).  ``block_sizes`` (rows of each input block, in
    order) keeps the blocks apart for :func:`local_sgd`.
    """
    xs, ys, ss = blocks[0::3], blocks[1::3], blocks[2::3]
    sizes = [x.shape[0] for x in xs]
    obj = _make_block(_stack_rows(xs), _stack_rows(ys), _stack_rows(ss), options)
    obj.block_sizes = sizes
    return obj


def _block_info(obj):
    s = obj.sample_weight
    weight = float(obj.n_samples if s is None else np.sum(s, dtype=np.float64))
    return (obj.n_samples, obj.n_features, obj.n_classes, str(obj.dtype), weight,
            obj.block_sizes)


def _block_value(obj, theta):
    return obj.value(theta)


def _block_value_grad(obj, theta):
    f, g = obj.value_grad(theta)
    return f, np.asarray(g, dtype=np.float64)


def _block_hessp(obj, theta, v):
    return np.asarray(obj.hessp(theta, v), dtype=np.float64)


def _block_hess_diag(obj, theta):
    return np.asarray(obj.hess_diag(theta), dtype=np.float64)


def _block_hessian(obj, theta):
    return np.asarray(obj.hessian(theta), dtype=np.float64)


def _block_line_value(obj, theta, direction, t):
    """Loss sum of the block at theta + t * direction from margins cached on the block.

    The margins at theta and along the direction (two passes) are kept on the block's local
    objective while the solver tries step lengths on the same line, so each trial is O(rows);
    a block rebuilt elsewhere recomputes them from theta and the direction.
    """
    from .objective import pointwise_loss_sum

    cache = getattr(obj, "_dask_line", None)
    if cache is None or not (np.array_equal(cache[0], theta)
                             and np.array_equal(cache[1], direction)):
        cache = (theta, direction, obj.margins(theta), obj.margins(direction))
        obj._dask_line = cache
    return pointwise_loss_sum(obj.y, cache[2] + t * cache[3], obj.sample_weight)


def _group_call(func, addr, n_args, *rest):
    """``func(block, *args)`` summed over the blocks given; also says if it ran off ``addr``."""
    args, blocks = rest[:n_args], rest[n_args:]
    total = _sum(*[func(b, *args) for b in blocks])
    try:
        here = get_worker().address
    except ValueError:  # not on a worker (e.g. a local scheduler)
        here = addr
    return total, int(here != addr)


def _sum(*parts):
    """Sum of arrays, floats or tuples of them (elementwise); the tree-reduction step."""
    first = parts[0]
    if isinstance(first, tuple):
        return tuple(_sum(*items) for items in zip(*parts))
    total = first.copy() if isinstance(first, np.ndarray) else first
    for p in parts[1:]:
        total = total + p
    return total


def _runs(owners):
    """[(owner, [indices])] of the runs of equal consecutive entries of ``owners``."""
    runs = []
    for i, o in enumerate(owners):
        if runs and runs[-1][0] == o:
            runs[-1][1].append(i)
        else:
            runs.append((o, [i]))
    return runs


class _BlockServer:
    """Dask actor, one per worker and :class:`DaskObjective`: runs block methods where they live.

    It holds no data: each call names the keys of the persisted blocks on its worker and looks
    them up in the worker's store, so the blocks stay owned (and recomputable) by their
    futures.  It keeps the last vector sent under each name (``theta``, ``v``, ...), so that a
    vector the client has already sent (theta for Newton-CG's Hessian products, theta and the
    direction for the trial steps of a line search) does not travel again.
    """

    def __init__(self):
        self.vectors = {}

    def run(self, func, keys, names, updates, scalars):
        """``func(block, *vectors, *scalars)`` summed over the blocks ``keys``.

        Returns ``(sum, seconds)``; ``None`` when a block or a vector is not here (a block
        moved after a worker was lost, or this actor was rebuilt): the client then regroups
        and resends; ``(_FAILED, exception)`` when ``func`` raised (re-raised on the client,
        so that an error of the computation is never mistaken for a lost worker).
        """
        start = time.perf_counter()
        self.vectors.update(updates)
        data = get_worker().data
        try:
            vectors = [self.vectors[n] for n in names]
            blocks = [data[k] for k in keys]
        except KeyError:
            return None
        try:
            total = _sum(*[func(b, *vectors, *scalars) for b in blocks])
        except Exception as exc:
            return _FAILED, exc
        return total, time.perf_counter() - start


_FAILED = "fastlogit.dask: the block function raised"


async def _await_all(futures):
    """Results of several actor calls, awaited together on the client's event loop."""
    return [await f for f in futures]


# --------------------------------------------------------------------------------------------
# Client side.


def _client(client):
    if client is not None:
        return client
    try:
        return get_client()
    except ValueError as exc:
        raise ValueError(
            "fastlogit.dask needs a distributed Client: create one first, e.g. "
            "`Client(LocalCluster())`, or pass client=..."
        ) from exc


def _rows_only(X):
    """X as a dask array with one column chunk (row blocks), the layout the blocks need."""
    if not isinstance(X, da.Array):
        chunk = max(1, min(X.shape[0], 100_000))
        X = da.from_array(X, chunks=(chunk, X.shape[1]), asarray=False)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-dimensional, got shape {X.shape}")
    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})
    return X


def _row_blocks(a, chunks, name):
    """Delayed row blocks of a label/weight array aligned with X's row chunks."""
    if a is None:
        return [None] * len(chunks)
    if not isinstance(a, da.Array):
        a = np.asarray(a)
        if any(math.isnan(c) for c in chunks):
            raise ValueError(f"{name} must be a dask array when X's row chunks are unknown")
        a = da.from_array(a, chunks=(chunks,) + tuple((s,) for s in a.shape[1:]))
    if a.ndim == 2 and a.numblocks[1] != 1:
        a = a.rechunk({1: -1})
    known = not any(math.isnan(c) for c in chunks) and not any(
        math.isnan(c) for c in a.chunks[0])
    if known and tuple(a.chunks[0]) != tuple(chunks):
        if a.shape[0] != sum(chunks):
            raise ValueError(f"{name} has {a.shape[0]} rows, X has {sum(chunks)}")
        a = a.rechunk({0: chunks})
    if len(a.chunks[0]) != len(chunks):
        raise ValueError(
            f"{name} must have the row chunks of X ({len(chunks)} blocks), got {len(a.chunks[0])}")
    return a.to_delayed().reshape(-1).tolist()


class DaskObjective:
    """The objective of :class:`fastlogit.objective.Objective` over a Dask array's row blocks.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        Row blocks dense NumPy or scipy.sparse CSR (float32 or float64; dtype kept); row chunk
        sizes may be unknown (``nan``), e.g. one block per file.  A NumPy/SciPy matrix is split
        into row blocks of 100 000 rows.
    y : dask.array.Array of shape (n_samples,) or (n_samples, K)
        Labels in [0, 1] (binary) or class probabilities, rows summing to 1 (multinomial);
        same row chunks as X.
    sample_weight : dask.array.Array of shape (n_samples,), default=None
    C, penalty, l1_ratio, fit_intercept, backend, n_threads
        As in :class:`~fastlogit.objective.Objective`; ``n_threads`` is the kernel thread count
        on each worker.  ``C`` and the penalty are applied once to the reduced sums.
    client : distributed.Client, default=None
        The current client when ``None``.
    split_every : int, default=8
        Fan-in of the tree reduction (``transport="tasks"``).
    timeout : float or None, default=None
        Seconds to wait for one reduction before raising ``TimeoutError`` (``None``: no limit).
    transport : {"auto", "actors", "tasks"}, default="auto"
        How a call reaches the blocks.  "actors": one Dask actor per worker, called directly
        from the client (no scheduler round trip, no task), the per-worker sums added on the
        client; "tasks": one task per worker through the scheduler, the sums reduced in a tree
        of fan-in ``split_every``.  "auto": actors up to ``split_every`` workers, else tasks.

    Attributes
    ----------
    n_samples, n_features, n_classes, n_params, dtype, l1_strength, l2_strength
        As in :class:`~fastlogit.objective.Objective`.
    n_blocks : int
    sum_sample_weight : float
    bytes_sent : int
        Bytes of theta / vectors sent to the workers and of results brought back so far
        (client side; the worker-to-worker tree edges come on top, see the module docstring).
    """

    def __init__(self, X, y, sample_weight=None, *, C=1.0, penalty="l2", l1_ratio=0.0,
                 fit_intercept=True, backend="auto", n_threads=None, client=None, split_every=8,
                 timeout=None, transport="auto"):
        if transport not in ("auto", "actors", "tasks"):
            raise ValueError(
                f"transport must be 'auto', 'actors' or 'tasks', got {transport!r}")
        if penalty not in ("l2", None, "none"):
            raise ValueError(
                f"fastlogit.dask supports penalty='l2' or None, got {penalty!r}")
        penalty = None if penalty == "none" else penalty
        if not (isinstance(C, numbers.Real) and C > 0):
            raise ValueError(f"C must be a positive number, got {C!r}")
        if int(split_every) < 2:
            raise ValueError(f"split_every must be at least 2, got {split_every!r}")
        self.client = _client(client)
        self.C = float(C)
        self.penalty = penalty
        self.l1_ratio = float(l1_ratio)
        self.fit_intercept = bool(fit_intercept)
        self.l1_strength = 0.0
        self.l2_strength = 1.0 if penalty == "l2" else 0.0
        self.split_every = int(split_every)
        self.timeout = timeout
        self.bytes_sent = 0

        X = _rows_only(X)
        chunks = X.chunks[0]
        x_blocks = X.to_delayed().reshape(-1).tolist()
        y_blocks = _row_blocks(y, chunks, "y")
        s_blocks = _row_blocks(sample_weight, chunks, "sample_weight")
        options = {"fit_intercept": self.fit_intercept, "backend": backend,
                   "n_threads": n_threads}
        make = dask.delayed(_make_part, pure=True)
        # One part per worker: the run of consecutive blocks placed on it, stacked there.
        self._pins, self._make_args = [], []
        for pin, run in _runs(self._placement(chunks)):
            self._pins.append(pin)
            self._make_args.append((options, *[b for i in run for b in (
                x_blocks[i], y_blocks[i], s_blocks[i])]))
        parts = []
        for args, pin in zip(self._make_args, self._pins):
            with dask.annotate(**({} if pin is None else
                                  {"workers": [pin], "allow_other_workers": False})):
                parts.append(make(*args))
        self._blocks = self.client.compute(parts, optimize_graph=False)  # futures of the parts
        self._wait_blocks()
        info = self.client.gather(
            [self.client.submit(_block_info, f, pure=False) for f in self._blocks])
        n_features = {i[1] for i in info}
        n_classes = {i[2] for i in info}
        dtypes = {i[3] for i in info}
        if len(n_features) != 1 or len(n_classes) != 1 or len(dtypes) != 1:
            raise ValueError(
                "row blocks disagree on n_features / n_classes / dtype: "
                f"{sorted(n_features)}, {sorted(n_classes)}, {sorted(dtypes)}")
        self.n_samples = int(sum(i[0] for i in info))
        self.sum_sample_weight = float(sum(i[4] for i in info))
        self.n_features = n_features.pop()
        self.n_classes = n_classes.pop()
        self.dtype = np.dtype(dtypes.pop())
        #: Rows of each input row block, in order (a part holds a run of them).
        self.block_sizes = [int(r) for i in info for r in i[5]]
        self.n_blocks = len(self.block_sizes)
        k = self.n_classes
        self.n_params = k * (self.n_features + self.fit_intercept)
        self.backend = backend
        self.n_threads = n_threads
        self._regroup()
        if transport == "auto":
            transport = "actors" if self._n_workers <= self.split_every else "tasks"
        self.transport = transport
        self._held = {}  # name -> (vector, task argument) last sent to the workers
        self._servers = None  # [(actor future, actor, block keys)], transport "actors"
        self._actor_seconds = math.inf  # the last actor call's longest compute
        #: Times the actors were rebuilt after a worker loss.
        self.n_rebuilds = 0
        self._cache = []  # (theta, f, g) of the last two value_grad calls (solvers re-ask)
        self.n_evals = {"value_grad": 0, "value": 0, "hessp": 0, "hessian": 0, "hess_diag": 0,
                        "line": 0}

    # -- plumbing -------------------------------------------------------------------------

    def _placement(self, chunks):
        """The worker of each input block: contiguous runs of about equal rows per worker.

        A call takes as long as its slowest worker, so the blocks are pinned evenly (by row
        count when known, else by block count).  Without the pin, the scheduler's work
        stealing moved blocks to whichever worker was idle first (11 of 16 blocks on one of
        two workers in our benchmark, and all 16 in one run).  A block whose worker is lost
        is rebuilt without a pin (:meth:`_unpin_lost`).
        """
        workers = sorted(self.client.nthreads())
        if len(workers) <= 1:
            return [None] * len(chunks)
        unknown = any(math.isnan(c) for c in chunks)
        rows = np.ones(len(chunks)) if unknown else np.array(chunks, dtype=float)
        # block i goes to the worker whose share of the rows contains the block's middle row
        middle = (np.cumsum(rows) - rows / 2) / max(rows.sum(), 1.0)
        owner = np.minimum((middle * len(workers)).astype(int), len(workers) - 1)
        return [workers[w] for w in owner]

    def _unpin_lost(self):
        """Rebuild unpinned (new keys) the unfinished blocks pinned to a worker that is gone,
        which would otherwise never run again; returns whether any was."""
        pending = [i for i, f in enumerate(self._blocks)
                   if self._pins[i] is not None and f.status != "finished"]
        if not pending:
            return False
        alive = set(self.client.nthreads())
        lost = [i for i in pending if self._pins[i] not in alive]
        if not lost:
            return False
        make = dask.delayed(_make_part, pure=False)
        new = self.client.compute([make(*self._make_args[i]) for i in lost])
        for i, f in zip(lost, new):
            self._blocks[i].release()
            self._blocks[i] = f
            self._pins[i] = None
        return True

    def _wait_blocks(self):
        """Wait (at most ``timeout``) until every block is in memory on some worker,
        rebuilding the blocks pinned to lost workers meanwhile; a block that failed raises
        its error (e.g. ``KilledWorker``), a clear failure."""
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while True:
            self._unpin_lost()
            try:
                wait(self._blocks, timeout=1.0)
                break
            except TimeoutError:
                if deadline is not None and time.monotonic() > deadline:
                    raise
        for f in self._blocks:
            if f.status == "error":
                f.result()

    def _put(self, a):
        """``a`` as a task argument: inline when small, else scattered once to the cluster.

        Small vectors (at most ``INLINE_BYTES``) travel inside the task messages (one copy per
        worker task; the lowest latency); larger ones are scattered to one worker and fetched
        from there by the others (one copy per worker).
        """
        a = np.ascontiguousarray(a, dtype=np.float64)
        if a.nbytes <= INLINE_BYTES:
            self.bytes_sent += a.nbytes * self._n_workers
            return a
        self.bytes_sent += a.nbytes * self._n_workers
        return self.client.scatter(a, hash=False)

    def _vector(self, a):
        a = np.ascontiguousarray(a, dtype=np.float64).reshape(-1)
        if a.shape != (self.n_params,):
            raise ValueError(f"vectors must have {self.n_params} entries, got {a.shape}")
        return a

    def _changed(self, vectors):
        """The (name, vector) pairs not sent last under their name."""
        return {name: a for name, a in vectors
                if name not in self._held or not np.array_equal(self._held[name][0], a)}

    def _call(self, func, vectors, *scalars):
        """Sum of ``func(block, *vectors, *scalars)`` over the blocks.

        ``vectors``: (name, n_params vector) pairs; a vector equal to the one last sent under
        its name is not sent again (it is held on the workers).
        """
        vectors = [(name, self._vector(a)) for name, a in vectors]
        if self.transport == "actors":
            return self._reduce_actors(func, vectors, scalars)
        for name, a in self._changed(vectors).items():
            self._held[name] = (a.copy(), self._put(a))
        return self._reduce(func, *[self._held[name][1] for name, _ in vectors], *scalars)

    # -- transport "actors" -----------------------------------------------------------------

    def _start_servers(self):
        """One :class:`_BlockServer` actor on each worker holding blocks (lost blocks first
        recomputed by Dask from their lineage)."""
        self._wait_blocks()
        self._regroup()
        futures = [self.client.submit(_BlockServer, actor=True, pure=False)
                   if addr is None else  # (blocks lost again meanwhile: the call retries)
                   self.client.submit(_BlockServer, actor=True, pure=False, workers=[addr],
                                      allow_other_workers=True)
                   for addr, _ in self._groups]
        wait(futures, timeout=self.timeout)
        self._servers = [(f, f.result(), [b.key for b in blocks])
                         for f, (_, blocks) in zip(futures, self._groups)]
        self._held = {}

    def _drop_servers(self):
        for f, _, _ in self._servers or ():
            f.release()
        self._servers = None
        self._held = {}

    def _reduce_actors(self, func, vectors, scalars):
        """One direct call per worker's actor, the per-worker sums added here.

        A worker lost before or during the call (its actor unreachable, or a block no longer
        where it was) makes the actors be rebuilt on the workers that hold the blocks once
        Dask has recomputed them, and the call be repeated (at most ``_RETRIES`` times; then
        a ``RuntimeError`` says so).  A call that takes longer than ``timeout`` raises
        ``TimeoutError``.
        """
        names = [name for name, _ in vectors]
        problem = None
        for attempt in range(_RETRIES):
            if self._servers is None or any(f.status != "finished" for f, _, _ in self._servers):
                if self._servers is not None:
                    self.n_rebuilds += 1
                self._drop_servers()
                self._start_servers()
            updates = self._changed(vectors)
            try:
                calls = [srv.run(func, keys, names, updates, scalars,
                                 separate_thread=self._actor_seconds >= ACTOR_LOOP_SECONDS)
                         for _, srv, keys in self._servers]
                parts = self.client.sync(_await_all, calls, callback_timeout=self.timeout)
            except TimeoutError:
                raise
            except Exception as exc:  # the actor's worker is gone (errors of the
                problem = exc         # computation itself come back as _FAILED below)
            else:
                for p in parts:
                    if p is not None and isinstance(p[0], str) and p[0] == _FAILED:
                        raise p[1]
                if all(p is not None for p in parts):
                    self._actor_seconds = max(p[1] for p in parts)
                    parts = [p[0] for p in parts]
                    n = len(parts)
                    self.bytes_sent += n * sum(a.nbytes for a in updates.values())
                    for name, a in updates.items():
                        self._held[name] = (a.copy(), None)
                    result = _sum(*parts) if n > 1 else parts[0]
                    self.bytes_sent += n * sum(np.asarray(r).nbytes for r in (
                        result if isinstance(result, tuple) else (result,)))
                    return result
                problem = "a block was no longer on the worker its actor runs on"
            self.n_rebuilds += 1
            self._drop_servers()
            time.sleep(0.05 * attempt)
        raise RuntimeError(
            f"fastlogit.dask: a call to the workers failed {_RETRIES} times in a row because "
            f"workers were lost (last: {problem!r}); the cluster is not stable enough to fit on")

    def _regroup(self):
        """Group the blocks by the worker holding them (one task per worker and call)."""
        who = self.client.who_has(self._blocks)
        groups = {}
        for b in self._blocks:
            holders = sorted(who.get(b.key, ()))
            groups.setdefault(holders[0] if holders else None, []).append(b)
        self._groups = list(groups.items())
        self._n_workers = max(1, len(self._groups))

    # -- transport "tasks" ------------------------------------------------------------------

    def _reduce(self, func, *args):
        """Sum ``func(block, *args)`` over the blocks: on each worker, then in a tree.

        One task per worker runs ``func`` on the blocks it holds and sums them there; the
        per-worker sums are reduced in a tree of fan-in ``split_every`` whose root is the
        client.  A task that had to run elsewhere (its worker died and Dask rebuilt the
        blocks on another) is still correct; the grouping is then refreshed for later calls.
        """
        submit = self.client.submit
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while True:
            level = [submit(_group_call, func, addr, len(args), *args, *blocks, pure=False,
                            workers=None if addr is None else [addr], allow_other_workers=True)
                     for addr, blocks in self._groups]
            while len(level) > self.split_every:
                level = [submit(_sum, *level[i:i + self.split_every], pure=False)
                         for i in range(0, len(level), self.split_every)]
            done = False
            while not done:
                try:
                    wait(level, timeout=1.0)
                    done = True
                except TimeoutError:
                    if self._unpin_lost():  # blocks of a lost worker rebuilt elsewhere
                        break
                    if deadline is not None and time.monotonic() > deadline:
                        raise
            if done:
                break
            for f in level:
                f.release()
            self._wait_blocks()
            self._regroup()
        parts = self.client.gather(level)
        result, misplaced = _sum(*parts) if len(parts) > 1 else parts[0]
        self.bytes_sent += len(parts) * sum(
            np.asarray(r).nbytes for r in (result if isinstance(result, tuple) else (result,)))
        if misplaced:
            self._regroup()
        return result

    def _tree(self, level):
        """Sum the results of the futures ``level`` in a tree of fan-in ``split_every``."""
        submit = self.client.submit
        while len(level) > 1:
            level = [submit(_sum, *level[i:i + self.split_every], pure=False)
                     if len(level[i:i + self.split_every]) > 1 else level[i]
                     for i in range(0, len(level), self.split_every)]
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while True:
            try:
                result = level[0].result(timeout=1.0)
                break
            except TimeoutError:
                if self._unpin_lost():
                    level[0].release()
                    raise RuntimeError(
                        "fastlogit.dask: a worker was lost during a local-SGD round; its "
                        "blocks are rebuilt on the other workers, fit again") from None
                if deadline is not None and time.monotonic() > deadline:
                    raise
        self.bytes_sent += sum(np.asarray(r).nbytes for r in
                               (result if isinstance(result, tuple) else (result,)))
        return result

    def _split(self, theta):
        """View of theta as (K, d + fit_intercept)."""
        return np.asarray(theta, dtype=np.float64).reshape(self.n_classes, -1)

    def _penalty_value(self, theta):
        if not self.l2_strength:
            return 0.0
        t = self._split(theta)
        w = t[:, :self.n_features]
        return 0.5 * self.l2_strength * float(np.sum(w * w))

    def _add_penalty_grad(self, g, v):
        """g += l2 * v on the coefficient entries (never the intercept)."""
        if self.l2_strength:
            g2 = g.reshape(self.n_classes, -1)
            g2[:, :self.n_features] += self.l2_strength * self._split(v)[:, :self.n_features]
        return g

    # -- the Objective interface ----------------------------------------------------------

    def value(self, theta):
        """F(theta) (DESIGN.md section 1)."""
        for t, f, _ in self._cache:
            if np.array_equal(t, theta):
                return f
        self.n_evals["value"] += 1
        loss = self._call(_block_value, [("theta", theta)])
        return self.C * float(loss) + self._penalty_value(theta)

    def value_grad(self, theta):
        """(F, grad F); each block caches its curvature at theta for :meth:`hessp`."""
        theta = np.asarray(theta, dtype=np.float64).reshape(-1)
        for t, f, g in self._cache:
            if np.array_equal(t, theta):
                return f, g.copy()
        self.n_evals["value_grad"] += 1
        loss, grad = self._call(_block_value_grad, [("theta", theta)])
        g = self._add_penalty_grad(self.C * grad, theta)
        f = self.C * float(loss) + self._penalty_value(theta)
        self._cache = [(theta.copy(), f, g.copy())] + self._cache[:1]
        return f, g

    def hessp(self, theta, v):
        """Hessian-vector product of F at theta."""
        v = np.asarray(v, dtype=np.float64).reshape(-1)
        self.n_evals["hessp"] += 1
        hv = self.C * self._call(_block_hessp, [("theta", theta), ("v", v)])
        return self._add_penalty_grad(hv, v)

    def hess_diag(self, theta):
        """Diagonal of the Hessian of F (the Newton-CG preconditioner)."""
        self.n_evals["hess_diag"] += 1
        diag = self.C * self._call(_block_hess_diag, [("theta", theta)])
        if self.l2_strength:
            diag.reshape(self.n_classes, -1)[:, :self.n_features] += self.l2_strength
        return diag

    def hessian(self, theta):
        """Dense Hessian of F, shape (n_params, n_params); small n_params only."""
        self.n_evals["hessian"] += 1
        H = self.C * self._call(_block_hessian, [("theta", theta)])
        if self.l2_strength:
            idx = np.arange(self.n_params).reshape(self.n_classes, -1)[:, :self.n_features]
            H[idx.ravel(), idx.ravel()] += self.l2_strength
        return H

    def line(self, theta, direction, z=None):
        """phi(t) = smooth part at theta + t * direction; trials cost O(n) on the workers.

        ``z`` (margins on one machine) is ignored: the margins stay on the workers.
        """
        return _DaskLine(self, theta, direction)

    # theta layout helpers: the same as on one machine (they use only the shapes)
    penalized_mask = Objective.penalized_mask
    zeros = Objective.zeros

    def close(self):
        """Release the blocks (and the actors) on the workers."""
        self._drop_servers()
        for f in self._blocks:
            f.release()
        self._blocks = []


class _DaskLine:
    """The line function of :meth:`DaskObjective.line` (interface of ``objective.LineFunction``)."""

    def __init__(self, objective, theta, direction):
        self.objective = objective
        self.theta = np.asarray(theta, dtype=np.float64).reshape(-1)
        self.direction = np.asarray(direction, dtype=np.float64).reshape(-1)
        mask = objective.penalized_mask()
        w, dw = self.theta[mask], self.direction[mask]
        l2 = objective.l2_strength
        self._q = (0.5 * l2 * (w @ w), l2 * (w @ dw), 0.5 * l2 * (dw @ dw))

    def value(self, t):
        """Smooth part at theta + t * direction."""
        ob = self.objective
        ob.n_evals["line"] += 1
        loss = ob._call(_block_line_value, [("theta", self.theta),
                                            ("direction", self.direction)], float(t))
        q0, q1, q2 = self._q
        return ob.C * float(loss) + q0 + t * (q1 + t * q2)


# --------------------------------------------------------------------------------------------
# Mini-batch SGD over the blocks: local SGD epochs with periodic (weighted) averaging.


def _part_sgd(obj, theta, seeds, t_starts, params):
    """:func:`_block_sgd` on each input block of a part; returns the sums of its results."""
    bounds = np.cumsum([0] + obj.block_sizes)
    return _sum(*[_block_sgd(obj, a, b, theta, seed, t_start, params)
                  for a, b, seed, t_start in zip(bounds[:-1], bounds[1:], seeds, t_starts)])


def _block_sgd(obj, start, stop, theta, seed, t_start, params):
    """``local_epochs`` SGD epochs on rows [start, stop) of a part from ``theta``;
    returns (weight * theta_b, weight), theta_b float64 of shape (n_params,).

    The step counter starts at ``t_start`` so that the step size keeps decreasing across
    rounds; ``alpha``/``lam2`` use the *global* sample count (the mean-loss scaling of
    :mod:`fastlogit.kernels.sgd_ref`), so every block takes steps on the same objective.
    """
    design = obj.design.rows(start, stop)
    n, d = design.shape
    k = obj.n_classes
    dtype = design.dtype
    Y = np.ascontiguousarray(np.asarray(obj.y[start:stop]).reshape(n, -1), dtype=dtype)
    s = obj.sample_weight
    s = None if s is None else np.ascontiguousarray(s[start:stop], dtype=dtype)
    t2 = np.asarray(theta, dtype=np.float64).reshape(k, -1)
    # copies: the kernel updates W and b in place, and theta is shared by a part's blocks
    W = np.array(t2[:, :d].T, order="C")
    b = np.array(t2[:, d]) if obj.fit_intercept else np.zeros(k)
    state = np.array([1.0, float(t_start), 0.0, 0.0, 0.0])
    avg_W, avg_b = np.zeros_like(W), np.zeros(k)
    rng = np.random.default_rng(seed)
    for _ in range(params["local_epochs"]):
        order = rng.permutation(n).astype(np.int64)
        obj.kernels.sgd_epoch(design, Y, s, order, W, b, state, avg_W=avg_W, avg_b=avg_b,
                              schedule="optimal", alpha=params["alpha"], t0=params["t0"],
                              lam2=params["lam2"], fit_intercept=obj.fit_intercept,
                              average_start=int(t_start) + 1, n_threads=1)
    out = np.empty_like(t2)
    count = max(state[3], 1.0)
    out[:, :d] = ((avg_W + state[2] * W) / count).T
    if obj.fit_intercept:
        out[:, d] = avg_b / count
    weight = float(n if s is None else np.sum(s, dtype=np.float64))
    return weight * out.reshape(-1), weight


def local_sgd(objective, theta0, *, tol=1e-4, max_iter=100, callback=None, verbose=0,
              random_state=None, local_epochs=1, eta0=None):
    """Mini-batch SGD over a :class:`DaskObjective`'s blocks: local epochs, then averaging.

    One iteration (round): every block runs ``local_epochs`` shuffled SGD epochs over its rows
    (the fused SGD epoch kernel, scikit-learn's "optimal" step ``1 / (alpha (t0 + t))``, the
    step counter ``t`` continued across rounds) starting from the current theta and returns
    the Polyak average of its iterates over the round; the new theta is the average of the
    blocks' results weighted by their sample-weight sums.  After each
    round one ``value_grad`` pass measures F and the gradient for the history and the stopping
    rule ``||grad F||_inf <= tol * max(1, ||grad F(theta_0)||_inf)``.

    What it converges to: with the decreasing step, local SGD with periodic averaging converges
    to the minimiser of F (the deterministic solvers' answer), sublinearly like SGD; the
    averaging of models trained on different blocks adds a bias of order (step size x spread
    of the blocks' own minimisers) that vanishes as the step decreases.  It is the solver for
    a quick, approximate fit; use "lbfgs" / "newton-cg" for tight tolerances.

    Parameters
    ----------
    objective : DaskObjective (penalty "l2" or None)
    theta0 : ndarray of shape (n_params,)
    local_epochs : int, default=1
        Epochs over its block each worker runs between two averagings.
    eta0 : float or None
        Initial step size; ``None`` uses scikit-learn's heuristic for the "optimal" schedule.
    """
    from .solvers._result import (History, SolverResult, stopping_threshold,
                                  warn_not_converged)

    if not isinstance(objective, DaskObjective):
        raise TypeError("local_sgd runs on a DaskObjective")
    if int(local_epochs) < 1:
        raise ValueError(f"local_epochs must be >= 1, got {local_epochs!r}")
    rng = np.random.default_rng(random_state)
    C, n = objective.C, objective.n_samples
    alpha = 1.0 / (C * n)
    lam2 = alpha * objective.l2_strength
    if eta0 is None:
        # scikit-learn's "optimal" schedule: typical weight size 1 / sqrt(sqrt(alpha)), and the
        # log-loss derivative is at most 1, so the first step is about that size.
        eta0 = 1.0 / math.sqrt(math.sqrt(alpha))
    params = {"alpha": alpha, "t0": 1.0 / (alpha * float(eta0)), "lam2": lam2,
              "local_epochs": int(local_epochs)}
    history = History(callback, verbose, "local-sgd")
    theta = np.array(theta0, dtype=np.float64).reshape(-1)
    f, g = objective.value_grad(theta)
    gnorm = float(np.max(np.abs(g))) if g.size else 0.0
    threshold = stopping_threshold(tol, gnorm)
    history.record(theta, f, gnorm)
    sizes = np.asarray(objective.block_sizes, dtype=np.float64)
    counters = np.zeros(objective.n_blocks)
    # the input blocks of each persisted part, in order
    ends = np.cumsum([0] + [(len(args) - 1) // 3 for args in objective._make_args])
    n_iter, converged, message = 0, gnorm <= threshold, "converged"
    while not converged and n_iter < max_iter:
        tf = objective._put(theta)
        seeds = rng.integers(0, 2**63 - 1, size=objective.n_blocks)
        futures = [objective.client.submit(_part_sgd, part, tf, seeds[a:b].tolist(),
                                           counters[a:b].tolist(), params, pure=False)
                   for part, a, b in zip(objective._blocks, ends[:-1], ends[1:])]
        total, weight = objective._tree(futures)
        counters += local_epochs * sizes
        theta = total / weight
        f, g = objective.value_grad(theta)
        gnorm = float(np.max(np.abs(g)))
        n_iter += 1
        if history.record(theta, f, gnorm):
            message = "stopped by callback"
            break
        converged = gnorm <= threshold
    if not converged and message == "converged":
        message = warn_not_converged("local-sgd", gnorm, threshold, n_iter)
    return SolverResult(theta=theta, n_iter=n_iter, converged=bool(converged), message=message,
                        history=history.as_dict(),
                        n_evals={"value_grad": n_iter + 1, "sgd_rounds": n_iter})



# --------------------------------------------------------------------------------------------
# Reading a directory of files as one dask array (one block per file), on the workers.


def _files(path, pattern):
    import glob
    import os

    if isinstance(path, (list, tuple)):
        files = [str(p) for p in path]
    elif os.path.isdir(path):
        files = sorted(p for p in glob.glob(os.path.join(str(path), pattern))
                       if os.path.isfile(p))
    else:
        files = sorted(glob.glob(str(path)))
    if not files:
        raise FileNotFoundError(f"no input files match {path!r} (pattern {pattern!r})")
    return files


def _read_svmlight_file(path, n_features, dtype, zero_based):
    from .io import load_svmlight

    X, y = load_svmlight(path, n_features=n_features, dtype=dtype, zero_based=zero_based,
                         n_threads=1)
    return sp.csr_matrix(X), np.asarray(y, dtype=np.float64)


def _stack_parts(parts, n_features, dtype):
    """(X, y) dask arrays of unknown row chunks from delayed (csr, labels) pairs."""
    from operator import itemgetter

    meta = sp.csr_matrix((0, n_features), dtype=dtype)
    xs = [da.from_delayed(dask.delayed(itemgetter(0))(p), shape=(np.nan, n_features),
                          dtype=dtype, meta=meta) for p in parts]
    ys = [da.from_delayed(dask.delayed(itemgetter(1))(p), shape=(np.nan,), dtype=np.float64,
                          meta=np.empty(0)) for p in parts]
    return da.concatenate(xs, axis=0), da.concatenate(ys, axis=0)


def read_svmlight_dir(path, n_features, *, pattern="*", dtype=np.float64, zero_based=False):
    """A directory of svmlight / libsvm files (plain, .gz, .bz2, .xz) as lazy dask arrays.

    Each file becomes one row block, parsed on a worker by :func:`fastlogit.io.load_svmlight`
    when the block is needed; nothing is read on the client.  Row counts are unknown until
    then (chunks of size ``nan``), which :class:`LogisticRegression` handles.

    Parameters
    ----------
    path : str or list of str
        A directory (files matching ``pattern``, sorted by name), a glob, or a list of files.
    n_features : int
        Number of columns (every file must agree; a larger feature id is an error).
    dtype : float32 or float64
    zero_based : bool, default=False
        Whether feature ids start at 0.  Must be given: scikit-learn's "auto" rule would be
        decided per file and could shift the columns of some blocks only.

    Returns
    -------
    X : dask.array.Array of shape (n_samples, n_features), scipy.sparse CSR blocks
    y : dask.array.Array of shape (n_samples,), float64 labels as written in the files
    """
    if zero_based not in (True, False):
        raise ValueError("zero_based must be True or False (decided once for all files), "
                         f"got {zero_based!r}")
    n_features = int(n_features)
    dtype = np.dtype(dtype)
    read = dask.delayed(_read_svmlight_file, pure=True)
    parts = [read(f, n_features, dtype, zero_based) for f in _files(path, pattern)]
    return _stack_parts(parts, n_features, dtype)


def _read_cache_rows(path, start, stop, dtype):
    """Rows [start, stop) of a CSR cache, read on the worker (nothing else is loaded)."""
    from .io import CSRCache

    cache = CSRCache(path)
    data, indices, indptr = cache.read_rows(start, stop)
    X = sp.csr_matrix((data.astype(dtype, copy=False), indices, indptr),
                      shape=(stop - start, cache.n_features))
    return X, np.asarray(cache.labels()[start:stop], dtype=np.float64)


def read_csr_cache_dir(path, *, rows_per_block=None, pattern="*", dtype=None):
    """fastlogit CSR caches (:func:`fastlogit.io.save_csr_cache`) as lazy dask arrays.

    ``path`` is one cache, a directory of caches (those matching ``pattern``, by name) or a
    list of caches.  Each cache gives one row block, or blocks of ``rows_per_block`` rows;
    only the cache headers are read on the client (so the row chunks are known), and each
    block's rows are read from disk on the worker that needs them.

    Returns
    -------
    X : dask.array.Array of shape (n_samples, n_features), scipy.sparse CSR blocks
    y : dask.array.Array of shape (n_samples,), float64 labels as stored
    """
    import glob
    import os
    from operator import itemgetter

    from .io import CSRCache, is_csr_cache

    if isinstance(path, (list, tuple)):
        paths = [str(p) for p in path]
    elif is_csr_cache(path):
        paths = [str(path)]
    else:
        paths = sorted(p for p in glob.glob(os.path.join(str(path), pattern))
                       if is_csr_cache(p))
    if not paths:
        raise FileNotFoundError(f"no fastlogit CSR cache at {path!r} (pattern {pattern!r})")
    caches = [CSRCache(p) for p in paths]
    widths = {c.n_features for c in caches}
    if len(widths) != 1:
        raise ValueError(f"the caches disagree on n_features: {sorted(widths)}")
    n_features = widths.pop()
    dtype = np.dtype(dtype or caches[0].dtype)
    read = dask.delayed(_read_cache_rows, pure=True)
    meta = sp.csr_matrix((0, n_features), dtype=dtype)
    xs, ys = [], []
    for c, p in zip(caches, paths):
        step = int(rows_per_block or max(c.n_samples, 1))
        for a in range(0, c.n_samples, step):
            b = min(a + step, c.n_samples)
            part = read(p, a, b, dtype)
            xs.append(da.from_delayed(dask.delayed(itemgetter(0))(part),
                                      shape=(b - a, n_features), dtype=dtype, meta=meta))
            ys.append(da.from_delayed(dask.delayed(itemgetter(1))(part), shape=(b - a,),
                                      dtype=np.float64, meta=np.empty(0)))
    return da.concatenate(xs, axis=0), da.concatenate(ys, axis=0)


# --------------------------------------------------------------------------------------------
# The estimator.


def _encode_labels(y, classes):
    """Labels -> (n,) {0, 1} (two classes) or (n, K) one-hot; unknown labels are an error."""
    y = np.asarray(y).reshape(-1)
    idx = np.searchsorted(classes, y)
    idx = np.minimum(idx, len(classes) - 1)
    if y.size and not np.array_equal(classes[idx], y):
        raise ValueError(f"labels {sorted(set(y.tolist()) - set(classes.tolist()))[:5]} not in "
                         f"classes {classes.tolist()}")
    if len(classes) == 2:
        return (idx == 1).astype(np.float64)
    Y = np.zeros((y.size, len(classes)))
    Y[np.arange(y.size), idx] = 1.0
    return Y


def _class_weight_block(y, classes, cw, s):
    w = cw[np.searchsorted(classes, np.asarray(y).reshape(-1))]
    return w if s is None else w * np.asarray(s, dtype=np.float64).reshape(-1)


def _decision_block(X, coef, intercept):
    X = _as_block(X)
    Z = np.asarray(X @ coef.T, dtype=np.float64) + intercept
    return Z[:, 0] if coef.shape[0] == 1 else Z


def _proba_block(Z):
    if Z.ndim == 1:
        p = 1.0 / (1.0 + np.exp(-Z))
        return np.column_stack([1.0 - p, p])
    Z = Z - Z.max(axis=1, keepdims=True)
    P = np.exp(Z)
    return P / P.sum(axis=1, keepdims=True)


def _predict_block(Z, classes):
    idx = (Z > 0).astype(np.intp) if Z.ndim == 1 else Z.argmax(axis=1)
    return classes[idx]


def _solver(name):
    if name in ("local-sgd", "local_sgd"):
        return local_sgd
    from .solvers import SOLVERS

    if name not in SOLVERS:
        raise ValueError(f"unknown solver {name!r}; choose 'local-sgd' or one of "
                         + ", ".join(map(repr, sorted(SOLVERS))))
    return SOLVERS[name]


try:  # prediction on in-memory data exactly as the single-machine estimator does
    from .estimator import LinearLogitOutputs as _Outputs
except ImportError:  # pragma: no cover - estimator not available in this build
    _Outputs = object

from sklearn.base import BaseEstimator, ClassifierMixin  # noqa: E402


class LogisticRegression(_Outputs, ClassifierMixin, BaseEstimator):
    """Logistic regression fitted on a Dask cluster; the estimator API of fastlogit's.

    ``fit`` takes dask arrays (row blocks: dense NumPy or scipy.sparse CSR; labels and sample
    weights with the same row chunks) or in-memory data (split into row blocks of 100 000);
    the blocks are persisted on the workers once and each solver iteration moves only theta
    (see the module docstring).  Prediction methods accept in-memory data (NumPy results) or
    dask arrays (lazy dask results, computed block by block on the workers).

    Parameters
    ----------
    penalty : {"l2", None}, default="l2"
    C : float > 0, default=1.0
    fit_intercept : bool, default=True
    tol : float, default=1e-4
        Stopping rule ``||grad F||_inf <= tol * max(1, ||grad F(theta_0)||_inf)``.
    max_iter : int, default=100
    class_weight : dict, "balanced" or None
    verbose : int, default=0
    random_state : int or None
        Seeds "local-sgd".
    solver : str, default="lbfgs"
        A deterministic solver of :data:`fastlogit.solvers.SOLVERS` that uses only value /
        gradient / Hessian-vector products ("lbfgs", "newton-cg", "trust-region"), or
        "local-sgd" (:func:`local_sgd`).
    solver_options : dict or None
        Extra keyword arguments of the solver (e.g. ``{"local_epochs": 2}``).
    backend, n_threads
        Kernel backend and thread count on each worker.
    client : distributed.Client or None
        The current client when None.
    split_every : int, default=8
        Fan-in of the tree reductions.
    timeout : float or None
        Seconds to wait for one distributed reduction before ``TimeoutError``.
    transport : {"auto", "actors", "tasks"}, default="auto"
        How each call reaches the blocks (see :class:`DaskObjective`).

    Attributes
    ----------
    coef_, intercept_, classes_, n_features_in_, n_iter_, converged_, fit_result_
        As in :class:`fastlogit.LogisticRegression`.
    bytes_sent_ : int
        Client-side bytes (theta out to each worker, reduced results back) during the fit.
    n_rebuilds_ : int
        Times the actors were rebuilt during the fit because a worker was lost.
    """

    def __init__(self, penalty="l2", *, C=1.0, fit_intercept=True, tol=1e-4, max_iter=100,
                 class_weight=None, verbose=0, random_state=None, solver="lbfgs",
                 solver_options=None, backend="auto", n_threads=None, client=None,
                 split_every=8, timeout=None, transport="auto"):
        self.penalty = penalty
        self.C = C
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.verbose = verbose
        self.random_state = random_state
        self.solver = solver
        self.solver_options = solver_options
        self.backend = backend
        self.n_threads = n_threads
        self.client = client
        self.split_every = split_every
        self.timeout = timeout
        self.transport = transport

    def _labels(self, X, y, sample_weight):
        """(classes, encoded labels, sample weights) as dask arrays with X's row chunks."""
        chunks = X.chunks[0]
        if not isinstance(y, da.Array):
            y = np.asarray(y).reshape(-1)
            if any(math.isnan(c) for c in chunks):
                raise ValueError("y must be a dask array when X's row chunks are unknown")
            if y.shape[0] != X.shape[0]:
                raise ValueError(f"X has {X.shape[0]} samples but y has {y.shape[0]}")
            y = da.from_array(y, chunks=(chunks,))
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ValueError(f"y must be 1-dimensional, got shape {y.shape}")
        if sample_weight is not None and not isinstance(sample_weight, da.Array):
            sample_weight = da.from_array(np.asarray(sample_weight, dtype=np.float64),
                                          chunks=(chunks,))
        classes = np.unique(np.asarray(da.unique(y).compute(), dtype=y.dtype))
        if classes.shape[0] < 2:
            raise ValueError("y needs samples of at least 2 classes, got "
                             f"{classes.tolist()}")
        k = classes.shape[0]
        if k == 2:
            Y = y.map_blocks(_encode_labels, classes, dtype=np.float64)
        else:
            Y = y.map_blocks(_encode_labels, classes, dtype=np.float64, new_axis=1,
                             chunks=(y.chunks[0], (k,)))
        if self.class_weight is not None:
            if self.class_weight == "balanced":
                idx = y.map_blocks(np.searchsorted, classes, dtype=np.intp)
                counts = da.bincount(idx, weights=sample_weight, minlength=k).compute()
                cw = counts.sum() / (k * np.maximum(counts, np.finfo(float).tiny))
            elif isinstance(self.class_weight, dict):
                cw = np.array([float(self.class_weight.get(c, 1.0)) for c in classes.tolist()])
            else:
                raise ValueError("class_weight must be a dict, 'balanced' or None, got "
                                 f"{self.class_weight!r}")
            if sample_weight is None:
                sample_weight = y.map_blocks(_class_weight_block, classes, cw, None,
                                             dtype=np.float64)
            else:
                sample_weight = da.map_blocks(_class_weight_block, y, classes, cw,
                                              sample_weight, dtype=np.float64)
        return classes, Y, sample_weight

    def fit(self, X, y, sample_weight=None):
        """Fit on a dask array (or in-memory data) of shape (n_samples, n_features)."""
        if not (isinstance(self.C, numbers.Real) and self.C > 0):
            raise ValueError(f"C must be a positive number, got {self.C!r}")
        if not (isinstance(self.max_iter, numbers.Integral) and self.max_iter >= 1):
            raise ValueError(f"max_iter must be a positive integer, got {self.max_iter!r}")
        solver = _solver(self.solver)
        X = _rows_only(X)
        classes, Y, sw = self._labels(X, y, sample_weight)
        objective = DaskObjective(
            X, Y, sw, C=self.C, penalty=self.penalty, fit_intercept=self.fit_intercept,
            backend=self.backend, n_threads=self.n_threads, client=self.client,
            split_every=self.split_every, timeout=self.timeout, transport=self.transport)
        try:
            theta0 = np.zeros(objective.n_params)
            result = solver(objective, theta0, tol=float(self.tol), max_iter=int(self.max_iter),
                            verbose=self.verbose, random_state=self.random_state,
                            **(self.solver_options or {}))
        finally:
            objective.close()
        k, d = objective.n_classes, objective.n_features
        theta = np.asarray(result.theta, dtype=np.float64).reshape(k, -1)
        self.coef_ = np.ascontiguousarray(theta[:, :d], dtype=objective.dtype)
        self.intercept_ = (theta[:, d].astype(objective.dtype) if self.fit_intercept
                           else np.zeros(k, dtype=objective.dtype))
        self.classes_ = classes
        self.n_features_in_ = d
        self.n_iter_ = np.array([int(result.n_iter)], dtype=np.int32)
        self.converged_ = bool(result.converged)
        self.fit_result_ = result
        self.bytes_sent_ = objective.bytes_sent
        self.n_rebuilds_ = objective.n_rebuilds
        return self

    # -- prediction: dask in, dask out --------------------------------------------------

    def decision_function(self, X):
        """Linear predictor: (n,) binary, (n, K) multinomial; lazy for a dask array."""
        if not isinstance(X, da.Array):
            return super().decision_function(X)
        X = _rows_only(X)
        coef = self.coef_.astype(np.float64)
        icpt = self.intercept_.astype(np.float64)
        if coef.shape[0] == 1:
            return X.map_blocks(_decision_block, coef, icpt, drop_axis=1, dtype=np.float64,
                                meta=np.empty(0))
        return X.map_blocks(_decision_block, coef, icpt, dtype=np.float64,
                            chunks=(X.chunks[0], (coef.shape[0],)), meta=np.empty((0, 0)))

    def predict_proba(self, X):
        if not isinstance(X, da.Array):
            return super().predict_proba(X)
        Z = self.decision_function(X)
        k = len(self.classes_)
        return Z.map_blocks(_proba_block, dtype=np.float64, chunks=(Z.chunks[0], (k,)),
                            new_axis=1 if Z.ndim == 1 else None, meta=np.empty((0, 0)))

    def predict_log_proba(self, X):
        if not isinstance(X, da.Array):
            return super().predict_log_proba(X)
        return da.log(self.predict_proba(X))

    def predict(self, X):
        if not isinstance(X, da.Array):
            return super().predict(X)
        Z = self.decision_function(X)
        return Z.map_blocks(_predict_block, self.classes_, dtype=self.classes_.dtype,
                            drop_axis=1 if Z.ndim == 2 else None,
                            meta=np.empty(0, dtype=self.classes_.dtype))

    def score(self, X, y, sample_weight=None):
        """Mean (weighted) accuracy; computed on the workers for dask input."""
        if not isinstance(X, da.Array):
            return super().score(X, np.asarray(y), sample_weight)
        hit = (self.predict(X) == y).astype(np.float64)
        if sample_weight is None:
            return float(hit.mean().compute())
        return float(((hit * sample_weight).sum() / sample_weight.sum()).compute())
