"""Transport: one persisted part per worker, and calls that sum a function over the parts.

:class:`WorkerParts` knows nothing about logistic regression.  It builds, once, one object
per worker (a *part*, made by a function from a contiguous run of a dask array's row blocks,
pinned to that worker) and then evaluates ``func(part, *vectors, *scalars)`` on every part
and brings back their sum, through one of two transports:

- ``"actors"``: one Dask actor per worker (:class:`_PartServer`), called directly from the
  client: no scheduler round trip, no task, one message out and one back per worker.  The
  actor holds no data (it looks the parts up in its worker's store by key) but keeps the last
  vector sent under each name, so a vector goes out once per new value.
- ``"tasks"``: one task per worker through the scheduler (small vectors inside the task
  messages, larger ones scattered once), the per-worker sums reduced in a tree of fan-in
  ``split_every`` rooted at the client.

Lost workers: a part pinned to a worker that is gone is rebuilt unpinned from its lineage
(:meth:`WorkerParts._unpin_lost`); an actor call that fails because its worker is gone, or
finds a part no longer where it was, rebuilds the actors and repeats the call (at most
``_RETRIES`` times, then ``RuntimeError``); a task that has to wait for a rebuilt part is
resubmitted.  Every wait is bounded by ``timeout`` (``TimeoutError``).  An exception raised
by ``func`` itself reaches the caller at once, never retried.

Invariants: parts are evaluated in a fixed order and their results summed in that order on
one worker and on the client, so for a given placement results are deterministic; a part
rebuilt elsewhere gives the same value (it is a pure function of its blocks).
"""
import math
import time

import numpy as np
from distributed import get_client, get_worker, wait

__all__ = ["WorkerParts", "tree_sum", "INLINE_BYTES", "ACTOR_LOOP_SECONDS"]

#: Vectors up to this size are sent inside the task messages rather than scattered.
INLINE_BYTES = 1 << 16
#: Actor calls run on the worker's event loop (one thread hand-off less per call) while the
#: previous call took less than this many seconds on every worker;
#: longer ones run in the actor's thread so that the worker stays responsive meanwhile.
ACTOR_LOOP_SECONDS = 0.1
#: Attempts of one actor call when workers are lost (each rebuilds the actors first).
_RETRIES = 4
#: Marks the result of an actor call whose function raised.
_FAILED = "fastlogit.dask: the part function raised"


def tree_sum(*parts):
    """Sum of arrays, floats or tuples of them (elementwise, in order); the reduction step."""
    first = parts[0]
    if isinstance(first, tuple):
        return tuple(tree_sum(*items) for items in zip(*parts))
    total = first.copy() if isinstance(first, np.ndarray) else first
    for p in parts[1:]:
        total = total + p
    return total


def _nbytes(result):
    """Bytes of a result (an array, a float or a tuple of them)."""
    items = result if isinstance(result, tuple) else (result,)
    return sum(np.asarray(r).nbytes for r in items)


def _runs(owners):
    """[(owner, [indices])] of the runs of equal consecutive entries of ``owners``."""
    runs = []
    for i, o in enumerate(owners):
        if runs and runs[-1][0] == o:
            runs[-1][1].append(i)
        else:
            runs.append((o, [i]))
    return runs


def placement(workers, chunks):
    """The worker of each row block: contiguous runs of about equal rows per worker.

    ``workers``: sorted worker addresses; ``chunks``: rows per block (``nan`` when unknown,
    then blocks are counted instead).  Block i goes to the worker whose share of the rows
    contains the block's middle row.  With at most one worker every entry is None (no pin).
    """
    if len(workers) <= 1:
        return [None] * len(chunks)
    unknown = any(math.isnan(c) for c in chunks)
    rows = np.ones(len(chunks)) if unknown else np.array(chunks, dtype=float)
    middle = (np.cumsum(rows) - rows / 2) / max(rows.sum(), 1.0)
    owner = np.minimum((middle * len(workers)).astype(int), len(workers) - 1)
    return [workers[w] for w in owner]


def client_or_current(client):
    """``client``, else the current distributed Client; ValueError when there is none."""
    if client is not None:
        return client
    try:
        return get_client()
    except ValueError as exc:
        raise ValueError(
            "fastlogit.dask needs a distributed Client: create one first, e.g. "
            "`Client(LocalCluster())`, or pass client=..."
        ) from exc


def _group_call(func, addr, n_args, *rest):
    """``func(part, *args)`` summed over the parts given; also says if it ran off ``addr``."""
    args, parts = rest[:n_args], rest[n_args:]
    total = tree_sum(*[func(p, *args) for p in parts])
    try:
        here = get_worker().address
    except ValueError:  # not on a worker (e.g. a local scheduler)
        here = addr
    return total, int(here != addr)


class _PartServer:
    """Dask actor, one per worker and :class:`WorkerParts`: runs part functions where the
    parts live.

    It holds no data: each call names the keys of the persisted parts on its worker and looks
    them up in the worker's store, so the parts stay owned (and recomputable) by their
    futures.  It keeps the last vector sent under each name, so that a vector the client has
    already sent does not travel again.
    """

    def __init__(self):
        self.vectors = {}

    def run(self, func, keys, names, updates, scalars):
        """``func(part, *vectors, *scalars)`` summed over the parts ``keys``.

        Returns ``(sum, seconds)``; ``None`` when a part or a vector is not here (a part
        moved after a worker was lost, or this actor was rebuilt): the client then regroups
        and resends; ``(_FAILED, exception)`` when ``func`` raised (re-raised on the client,
        so that an error of the computation is never mistaken for a lost worker).
        """
        start = time.perf_counter()
        self.vectors.update(updates)
        data = get_worker().data
        try:
            vectors = [self.vectors[n] for n in names]
            parts = [data[k] for k in keys]
        except KeyError:
            return None
        try:
            total = tree_sum(*[func(p, *vectors, *scalars) for p in parts])
        except Exception as exc:
            return _FAILED, exc
        return total, time.perf_counter() - start


async def _await_all(futures):
    """Results of several actor calls, awaited together on the client's event loop."""
    return [await f for f in futures]


class WorkerParts:
    """One part per worker, built once from runs of row blocks; sums of functions over them.

    Parameters
    ----------
    client : distributed.Client
    make : callable ``make(*prefix, *block_0, *block_1, ...) -> part``
        Builds a worker's part from its run of blocks (each block a tuple of delayed
        objects, flattened into positional arguments: Dask would copy a list's tasks under
        the part's worker pin, and a block lost with its worker could then never be
        recomputed elsewhere).  Must be pure: a part rebuilt elsewhere equals the original.
    prefix : tuple
        Leading arguments of ``make`` (options).
    blocks : list of tuples of delayed objects, one tuple per row block, in row order
    chunks : tuple of row counts per block (``nan`` when unknown)
    split_every : int >= 2
        Fan-in of the tree reductions; also the most workers the "auto" transport serves
        with actors.
    timeout : float or None
        Seconds to wait for one call or one rebuild before ``TimeoutError``.
    transport : {"auto", "actors", "tasks"}

    Attributes
    ----------
    futures : list of Futures, one per part (row order)
    blocks_per_part : list of int
    transport : "actors" or "tasks"
    n_workers : int, workers holding parts
    bytes_sent : int
        Client-side bytes: vectors sent to the workers and results brought back.
    n_rebuilds : int
        Times the actors were rebuilt because a worker was lost.
    """

    def __init__(self, client, make, prefix, blocks, chunks, *, split_every=8, timeout=None,
                 transport="auto"):
        import dask

        if transport not in ("auto", "actors", "tasks"):
            raise ValueError(
                f"transport must be 'auto', 'actors' or 'tasks', got {transport!r}")
        if int(split_every) < 2:
            raise ValueError(f"split_every must be at least 2, got {split_every!r}")
        self.client = client
        self.split_every = int(split_every)
        self.timeout = timeout
        self.bytes_sent = 0
        self.n_rebuilds = 0
        self._make = make
        # One part per worker: the run of consecutive blocks placed on it, stacked there.
        # Without the pin the scheduler's work stealing moved blocks to whichever worker was
        # idle first (11 of 16 blocks on one of two workers in our benchmark).
        owners = placement(sorted(client.nthreads()), chunks)
        self._pins, self._make_args, self.blocks_per_part = [], [], []
        for pin, run in _runs(owners):
            self._pins.append(pin)
            self._make_args.append((*prefix, *[a for i in run for a in blocks[i]]))
            self.blocks_per_part.append(len(run))
        build = dask.delayed(make, pure=True)
        parts = []
        for args, pin in zip(self._make_args, self._pins):
            with dask.annotate(**({} if pin is None else
                                  {"workers": [pin], "allow_other_workers": False})):
                parts.append(build(*args))
        self.futures = client.compute(parts, optimize_graph=False)
        self._servers = None  # [(actor future, actor, part keys)], transport "actors"
        self._held = {}  # name -> (vector, task argument) last sent to the workers
        self._actor_seconds = math.inf  # the last actor call's longest compute
        try:
            self.wait()
        except BaseException:
            self.close()
            raise
        self._regroup()
        if transport == "auto":
            transport = "actors" if self.n_workers <= self.split_every else "tasks"
        self.transport = transport

    # -- parts -------------------------------------------------------------------------------

    def _deadline(self):
        return None if self.timeout is None else time.monotonic() + self.timeout

    def _unpin_lost(self):
        """Rebuild unpinned (new keys) the unfinished parts pinned to a worker that is gone,
        which would otherwise never run again; returns whether any was."""
        import dask

        pending = [i for i, f in enumerate(self.futures)
                   if self._pins[i] is not None and f.status != "finished"]
        if not pending:
            return False
        alive = set(self.client.nthreads())
        lost = [i for i in pending if self._pins[i] not in alive]
        if not lost:
            return False
        build = dask.delayed(self._make, pure=False)
        new = self.client.compute([build(*self._make_args[i]) for i in lost])
        for i, f in zip(lost, new):
            self.futures[i].release()
            self.futures[i] = f
            self._pins[i] = None
        return True

    def wait(self):
        """Wait (at most ``timeout``) until every part is in memory on some worker, rebuilding
        the parts pinned to lost workers meanwhile; a part that failed raises its error (a
        ValueError of ``make`` about the data, or e.g. ``KilledWorker``)."""
        deadline = self._deadline()
        while True:
            self._unpin_lost()
            try:
                wait(self.futures, timeout=1.0)
                break
            except TimeoutError:
                if deadline is not None and time.monotonic() > deadline:
                    raise
        for f in self.futures:
            if f.status == "error":
                f.result()

    def _regroup(self):
        """Group the parts by the worker holding them (one task or actor per worker)."""
        who = self.client.who_has(self.futures)
        groups = {}
        for f in self.futures:
            holders = sorted(who.get(f.key, ()))
            groups.setdefault(holders[0] if holders else None, []).append(f)
        self._groups = list(groups.items())
        self._holder = {f.key: addr for addr, parts in self._groups for f in parts}
        self.n_workers = max(1, len(self._groups))

    def _submit_on_parts(self, func, args, per_part):
        """One task per part, ``func(part, *args, *per_part[i])``, sent to the part's worker
        (another one only if that is gone)."""
        extra = per_part or [()] * len(self.futures)
        out = []
        for part, more in zip(self.futures, extra):
            addr = self._holder.get(part.key)
            out.append(self.client.submit(func, part, *args, *more, pure=False,
                                          workers=None if addr is None else [addr],
                                          allow_other_workers=True))
        return out

    def close(self):
        """Release the parts (and the actors) on the workers."""
        self._drop_servers()
        for f in self.futures:
            f.release()
        self.futures = []

    # -- calls -------------------------------------------------------------------------------

    def _changed(self, vectors):
        """The (name, vector) pairs not sent last under their name."""
        return {name: a for name, a in vectors
                if name not in self._held or not np.array_equal(self._held[name][0], a)}

    def put(self, a):
        """``a`` as a task argument: inline when small, else scattered once to the cluster.

        Small vectors (at most ``INLINE_BYTES``) travel inside the task messages (one copy
        per worker task; the lowest latency); larger ones are scattered to one worker and
        fetched from there by the others (one copy per worker).
        """
        a = np.ascontiguousarray(a, dtype=np.float64)
        self.bytes_sent += a.nbytes * self.n_workers
        if a.nbytes <= INLINE_BYTES:
            return a
        return self.client.scatter(a, hash=False)

    def call(self, func, vectors, *scalars):
        """Sum over the parts of ``func(part, *vectors, *scalars)``.

        ``vectors``: (name, float64 array) pairs; a vector equal to the one last sent under
        its name is not sent again (it is held on the workers).  ``func`` must be a
        module-level function (it is pickled by reference).
        """
        if not self.futures:
            raise ValueError("the data's parts on the workers were released (close() was "
                             "called): build a new objective to evaluate it again")
        vectors = [(name, np.ascontiguousarray(a, dtype=np.float64)) for name, a in vectors]
        if self.transport == "actors":
            return self._reduce_actors(func, vectors, scalars)
        for name, a in self._changed(vectors).items():
            self._held[name] = (a.copy(), self.put(a))
        return self._reduce_tasks(func, *[self._held[name][1] for name, _ in vectors],
                                  *scalars)

    def _submit_until_done(self, submit_level):
        """``submit_level()`` -> futures over the current parts; waits for them, and when a
        part had to be rebuilt because its worker was lost, releases them, waits for the
        parts and submits again.  Returns the finished futures."""
        deadline = self._deadline()
        while True:
            level = submit_level()
            done = False
            while not done:
                try:
                    wait(level, timeout=1.0)
                    done = True
                except TimeoutError:
                    if self._unpin_lost():  # parts of a lost worker rebuilt elsewhere
                        break
                    if deadline is not None and time.monotonic() > deadline:
                        raise
            if done:
                return level
            for f in level:
                f.release()
            self.wait()
            self._regroup()

    def map(self, func, *args, per_part=None):
        """``[func(part, *args, *per_part[i]) for each part i]`` in part order (tasks).

        ``per_part``: one tuple of extra arguments per part, or None.  For calls whose
        results differ per part (sizes, margins); arguments travel inside the task messages.
        """
        level = self._submit_until_done(lambda: self._submit_on_parts(func, args, per_part))
        results = self.client.gather(level)
        self.bytes_sent += sum(_nbytes(r) for r in results)
        return results

    def map_reduce(self, func, *args, per_part=None):
        """Sum over the parts of ``func(part, *args, *per_part[i])``, reduced in a tree of
        fan-in ``split_every`` on the workers (tasks)."""
        submit = self.client.submit

        def level():
            out = self._submit_on_parts(func, args, per_part)
            while len(out) > 1:
                out = [submit(tree_sum, *out[i:i + self.split_every], pure=False)
                       if len(out[i:i + self.split_every]) > 1 else out[i]
                       for i in range(0, len(out), self.split_every)]
            return out

        result = self._submit_until_done(level)[0].result()
        self.bytes_sent += _nbytes(result)
        return result

    # -- transport "actors" --------------------------------------------------------------------

    def _start_servers(self):
        """One :class:`_PartServer` actor on each worker holding parts (lost parts first
        recomputed by Dask from their lineage)."""
        self.wait()
        self._regroup()
        futures = [self.client.submit(_PartServer, actor=True, pure=False)
                   if addr is None else  # (parts lost again meanwhile: the call retries)
                   self.client.submit(_PartServer, actor=True, pure=False, workers=[addr],
                                      allow_other_workers=True)
                   for addr, _ in self._groups]
        wait(futures, timeout=self.timeout)
        self._servers = [(f, f.result(), [p.key for p in parts])
                         for f, (_, parts) in zip(futures, self._groups)]
        self._held = {}

    def _drop_servers(self):
        for f, _, _ in self._servers or ():
            f.release()
        self._servers = None
        self._held = {}

    def _reduce_actors(self, func, vectors, scalars):
        """One direct call per worker's actor, the per-worker sums added here.

        A worker lost before or during the call (its actor unreachable, or a part no longer
        where it was) makes the actors be rebuilt on the workers that hold the parts once
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
                    result = tree_sum(*parts) if n > 1 else parts[0]
                    self.bytes_sent += n * _nbytes(result)
                    return result
                problem = "a part was no longer on the worker its actor runs on"
            self.n_rebuilds += 1
            self._drop_servers()
            time.sleep(0.05 * attempt)
        raise RuntimeError(
            f"fastlogit.dask: a call to the workers failed {_RETRIES} times in a row because "
            f"workers were lost (last: {problem!r}); the cluster is not stable enough to fit on")

    # -- transport "tasks" ---------------------------------------------------------------------

    def _reduce_tasks(self, func, *args):
        """Sum ``func(part, *args)`` over the parts: on each worker, then in a tree.

        One task per worker runs ``func`` on the parts it holds and sums them there; the
        per-worker sums are reduced in a tree of fan-in ``split_every`` whose root is the
        client.  A task that had to run elsewhere (its worker died and Dask rebuilt the
        parts on another) is still correct; the grouping is then refreshed for later calls.
        """
        submit = self.client.submit

        def level():
            out = [submit(_group_call, func, addr, len(args), *args, *parts, pure=False,
                          workers=None if addr is None else [addr], allow_other_workers=True)
                   for addr, parts in self._groups]
            while len(out) > self.split_every:
                out = [submit(tree_sum, *out[i:i + self.split_every], pure=False)
                       for i in range(0, len(out), self.split_every)]
            return out

        results = self.client.gather(self._submit_until_done(level))
        result, misplaced = tree_sum(*results) if len(results) > 1 else results[0]
        self.bytes_sent += len(results) * _nbytes(result)
        if misplaced:
            self._regroup()
        return result
