"""Thread-count resolution shared by every backend, and the kernels' thread-count cost model."""
import os
import time
from contextlib import contextmanager

__all__ = ["effective_n_threads", "kernel_threads", "KernelThreads", "exact_threads",
           "runtime_thread_limit", "busy_cores", "forked_child"]

# Cost model of kernel_threads, in nanoseconds of one core (2-core AMD EPYC Zen4, measured with
# benchmarks/bench_kernels.py and OMP_WAIT_POLICY=PASSIVE; only the orders of magnitude matter).
#: one stored non-zero (gather from w, scatter into the gradient)
NS_PER_NNZ = 2.0
#: one row (loss / residual / IRLS weight, loop overhead)
NS_PER_ROW = 10.0
#: one value of one extra per-thread buffer (zeroing, then its share of the reduction)
NS_PER_BUFFER_VALUE = 2.0
#: waking one extra thread for a parallel region and joining it (0.1-0.2 ms on the 2-core
#: machine when the thread has gone to sleep since the last region; less while it spins)
NS_PER_THREAD = 100_000.0
#: seconds for which one reading of the machine's run queue (busy_cores) is reused
LOAD_TTL = 0.05

_exact = False


#: non-empty in a process forked from one that imported this module (os.register_at_fork)
_FORKED = []


def forked_child():
    """True in a process forked (``os.fork``, ``multiprocessing``'s default start method on
    Linux) from one that imported fastlogit.

    GNU OpenMP's thread pool does not survive a fork: in such a child a Cython kernel on
    more than one thread waits forever, and Numba's OpenMP layer ends the process at its
    first parallel region.  So a forked child runs every kernel on one thread
    (:func:`effective_n_threads`) and the "auto" kernels without Numba's
    (:func:`fastlogit.kernels.get`).  A process started fresh (``spawn``, ``forkserver``,
    joblib's workers) is not a forked child.
    """
    return bool(_FORKED)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _FORKED.append(True))


def effective_n_threads(n_threads=None):
    """Number of threads a kernel call uses.

    Precedence, first that applies:

    1. ``n_threads`` a positive integer: that many (negative values count back from the
       cores as in joblib, ``-2`` = all but one; ``-1`` = all cores);
    2. ``n_threads=None`` and the environment variable ``FASTLOGIT_NUM_THREADS`` set: that
       (a positive integer, capped at the cores; anything else raises a ValueError naming
       the variable);
    3. ``n_threads=None``: the OpenMP runtime's current limit, :func:`runtime_thread_limit`
       (what ``threadpoolctl.threadpool_limits`` and joblib's workers set, and
       ``OMP_NUM_THREADS``), capped at the cores;
    4. every core this process may run on (``os.sched_getaffinity``).

    So inside ``GridSearchCV(n_jobs=k)`` / ``cross_val_score(n_jobs=k)`` workers (joblib sets
    ``OMP_NUM_THREADS`` = cores // k there) the jobs do not oversubscribe the cores.  In a
    forked child (:func:`forked_child`) the count is 1 whatever was asked (after the same
    checks of ``n_threads`` and the environment).
    """
    count = _asked_threads(n_threads)
    return 1 if _FORKED else count


def _asked_threads(n_threads):
    """:func:`effective_n_threads` before the forked child's limit."""
    available = _available_cores()
    if n_threads is None:
        env = os.environ.get("FASTLOGIT_NUM_THREADS", "").strip()
        if not env:
            return min(available, runtime_thread_limit() or available)
        try:
            value = int(env)
        except ValueError:
            value = 0
        if value < 1:
            raise ValueError(f"environment variable FASTLOGIT_NUM_THREADS must be a positive "
                             f"integer, got {os.environ['FASTLOGIT_NUM_THREADS']!r}")
        return min(value, available)
    try:
        n_threads = int(n_threads)
    except (TypeError, ValueError):
        raise ValueError(f"n_threads must be a positive integer, None or negative, got "
                         f"{n_threads!r}") from None
    if n_threads == 0:
        raise ValueError("n_threads must be a positive integer, None or negative, got 0")
    if n_threads < 0:
        return max(1, available + 1 + n_threads)
    return n_threads


def kernel_threads(n_threads, n_rows, nnz, buffer_len):
    """Threads for one kernel call: at most ``effective_n_threads(n_threads)``, fewer when the
    work is too small to pay for them.

    A call over ``n_rows`` rows with ``nnz`` stored values whose threads each fill a
    ``buffer_len``-value float64 buffer (gradient, Hessian product; 0 for margins / losses) is
    modelled as taking, with T threads,

        (NS_PER_NNZ nnz + NS_PER_ROW n_rows) / T  +  (T - 1) (NS_PER_THREAD + NS_PER_BUFFER_VALUE buffer_len)

    nanoseconds; the T minimising it is used (ties: fewer threads).  The choice depends only on
    these numbers, so a result is as reproducible as with a fixed thread count.  Example, 2
    cores: rcv1_small (1000 x 47236, 77,739 nnz) runs its gradient / Hessian products on one
    thread, a9a (32,561 rows, 451,592 nnz) on two.  ``exact_threads()`` or
    ``FASTLOGIT_EXACT_THREADS=1`` turn the model off (the count asked for is used as is).

    With ``n_threads=None`` ("the cores available") the cores that other processes keep
    busy right now (:func:`busy_cores`) are not available: a thread sharing a core with a
    running process makes every parallel region wait for its time slice (a 2-thread fit
    then ran 4-15x slower than a 1-thread one, benchmarks/results/threads_wait_policy.md).
    On an idle machine the count depends only on the numbers above; under load it may
    differ between fits, and so may results in their last bits (as between any two thread
    counts): ``exact_threads()`` or an explicit ``n_threads`` give reproducible ones.
    """
    most = max(1, min(effective_n_threads(n_threads), max(int(n_rows), 1)))
    if _exact or os.environ.get("FASTLOGIT_EXACT_THREADS") == "1":
        return most
    if n_threads is None and most > 1:
        most = max(1, min(most, _available_cores() - busy_cores()))
    work = NS_PER_NNZ * float(nnz) + NS_PER_ROW * float(n_rows)
    per_thread = NS_PER_THREAD + NS_PER_BUFFER_VALUE * float(buffer_len)
    best, best_cost = 1, work
    for t in range(2, most + 1):
        cost = work / t + (t - 1) * per_thread
        if cost < best_cost:
            best, best_cost = t, cost
    return best


_UNSEEN = object()


class KernelThreads:
    """:func:`kernel_threads` for one kernel over fixed sizes, for a caller that makes the
    same call many times (a data term's value / gradient pass: one per solver iteration).

    ``choice(n_threads)`` returns ``kernel_threads(n_threads, n_rows, nnz, buffer_len)``.
    The model's cost is convex in the thread count T, so under any cap its choice is the
    smaller of the cap and the T it picks without one; when that T is 1 (a second thread
    would cost more than it saves, decided once here), the answer is 1 under every cap:
    ``threadpoolctl`` limits, ``OMP_NUM_THREADS``, busy cores, an explicit ``n_threads``.
    It is then returned without asking the OpenMP runtime or the run queue, once
    ``n_threads`` has been checked (the first call with that value goes through
    :func:`kernel_threads`, which raises its ValueError for a bad one; a later change of
    ``n_threads`` is checked again).  In every other case (a second thread may pay, or
    :func:`exact_threads` / ``FASTLOGIT_EXACT_THREADS=1``, under which the count asked for
    is used whatever the size) each call evaluates :func:`kernel_threads`, so that limits
    set meanwhile hold.

    Parameters
    ----------
    n_rows, nnz, buffer_len : int
        As for :func:`kernel_threads`.
    """

    __slots__ = ("n_rows", "nnz", "buffer_len", "single", "_checked")

    def __init__(self, n_rows, nnz, buffer_len):
        self.n_rows, self.nnz, self.buffer_len = int(n_rows), int(nnz), int(buffer_len)
        work = NS_PER_NNZ * float(self.nnz) + NS_PER_ROW * float(self.n_rows)
        per_thread = NS_PER_THREAD + NS_PER_BUFFER_VALUE * float(self.buffer_len)
        # kernel_threads's own test for T = 2 (every larger T then costs more as well)
        self.single = not work / 2 + per_thread < work
        self._checked = _UNSEEN  # the last n_threads that went through kernel_threads

    def __call__(self, n_threads):
        if (self.single and not _exact and n_threads == self._checked
                and os.environ.get("FASTLOGIT_EXACT_THREADS") != "1"):
            return 1
        threads = kernel_threads(n_threads, self.n_rows, self.nnz, self.buffer_len)
        self._checked = n_threads
        return threads


@contextmanager
def exact_threads():
    """Within this context (process-wide) kernels use exactly the thread count asked for."""
    global _exact
    previous, _exact = _exact, True
    try:
        yield
    finally:
        _exact = previous


_LOAD = [float("-inf"), 0]  # (time.monotonic() of the reading, busy cores)


def _own_running():
    """Threads of this process in state R (running or runnable), from /proc/self/task."""
    count = 0
    for entry in os.scandir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:  # the thread ended meanwhile
            continue
        if stat[stat.rindex(b")") + 2:stat.rindex(b")") + 3] == b"R":
            count += 1
    return count


def busy_cores():
    """Cores that other processes' runnable threads occupy now (0 where /proc is absent).

    The run-queue count of ``/proc/loadavg`` (runnable threads of the whole machine, at the
    moment of reading) less this process's own runnable threads (the caller, and OpenMP
    workers still spinning after a parallel region); where the process may use only some of
    the machine's cores (``os.sched_getaffinity``, e.g. a container's cpuset), their share
    of that count.  One reading is reused for ``LOAD_TTL`` seconds (about 20 us a reading;
    the per-thread scan only when the machine count exceeds one).  A process at any nice
    level counts: its time slices delay a parallel region's barrier all the same.
    """
    now = time.monotonic()
    if now - _LOAD[0] < LOAD_TTL:
        return _LOAD[1]
    busy = 0
    try:
        running = _machine_running()
        if running > 1:
            busy = max(0, running - _own_running())
    except (OSError, ValueError, IndexError):  # not Linux, or an unexpected format
        busy = 0
    # The count is the whole machine's: when this process may run on only some of its cores
    # (a cpuset), take the share of the busy threads that falls on them.
    total, available = os.cpu_count() or 1, _available_cores()
    if total > available:
        busy = busy * available // total
    _LOAD[0], _LOAD[1] = now, busy
    return busy


def _machine_running():
    """Runnable threads of the whole machine now (``/proc/loadavg``'s fourth field, R/T)."""
    with open("/proc/loadavg", "rb") as fh:
        return int(fh.read().split()[3].split(b"/")[0])


_CORES = []


def _available_cores():
    """Cores this process may run on, read once (a system call; kernels ask on every call)."""
    if not _CORES:
        try:
            _CORES.append(max(1, len(os.sched_getaffinity(0))))
        except AttributeError:  # pragma: no cover - non-Linux
            _CORES.append(max(1, os.cpu_count() or 1))
    return _CORES[0]


_RUNTIME = {"libs": None, "n_modules": -1}


def _openmp_controllers():
    """threadpoolctl's controllers of the OpenMP runtimes loaded in this process (cached;
    looked for again while none is found and new modules were imported)."""
    import sys

    libs = _RUNTIME["libs"]
    if libs or _RUNTIME["n_modules"] == len(sys.modules):
        return libs or []
    _RUNTIME["n_modules"] = len(sys.modules)
    try:
        from threadpoolctl import ThreadpoolController

        libs = [c for c in ThreadpoolController().lib_controllers if c.user_api == "openmp"]
    except Exception:  # pragma: no cover - threadpoolctl missing or broken
        libs = []
    _RUNTIME["libs"] = libs
    return libs


def runtime_thread_limit():
    """The thread limit the process's OpenMP runtime holds now, or None.

    The smallest ``omp_get_max_threads()`` of the loaded OpenMP runtimes (through
    threadpoolctl: about a microsecond a call): it reflects ``threadpool_limits(...)``
    contexts and ``OMP_NUM_THREADS`` read at start-up.  Without a loaded runtime,
    ``OMP_NUM_THREADS`` (its first entry) if it is a positive integer, else None.
    """
    limits = []
    for lib in _openmp_controllers():
        try:
            n = lib.get_num_threads()
        except Exception:  # pragma: no cover - a runtime without the symbol
            n = None
        if n:
            limits.append(int(n))
    if limits:
        return max(1, min(limits))
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    return int(env) if env.isdigit() and int(env) > 0 else None
