"""Thread-count resolution shared by every backend."""
import os

__all__ = ["effective_n_threads"]


def effective_n_threads(n_threads=None):
    """Number of threads a kernel call uses.

    ``None`` or ``-1`` means every core this process may run on (``os.sched_getaffinity``),
    overridden by the environment variable ``FASTLOGIT_NUM_THREADS``; negative values count
    back from that total as in joblib (``-2`` = all but one).
    """
    available = _available_cores()
    if n_threads is None:
        env = os.environ.get("FASTLOGIT_NUM_THREADS")
        return max(1, min(int(env), available)) if env else available
    n_threads = int(n_threads)
    if n_threads == 0:
        raise ValueError("n_threads must be a positive integer, None or negative, got 0")
    if n_threads < 0:
        return max(1, available + 1 + n_threads)
    return n_threads


def _available_cores():
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)
