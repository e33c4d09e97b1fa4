"""Which columns of a CSR matrix hold a stored value: the scan of column compaction.

:meth:`fastlogit.objective.LogLossData.compact_columns` decides from it whether dropping the
empty columns pays; it runs once per fit, so on a small problem it is a fixed cost worth
keeping small (measured: benchmarks/results/small_fits.md).  ``np.bincount`` widens every
int32 column id to intp first and counts; this compiled loop only marks (one byte store per
stored value).
"""
import numpy as np
from numba import njit

__all__ = ["used_columns"]


@njit(cache=True, nogil=True)
def _mark(indices, lo, hi, used, stop):
    count = 0
    for k in range(lo, hi):
        j = indices[k]
        if not used[j]:
            used[j] = True
            count += 1
            if count > stop:
                return


def used_columns(indices, lo, hi, n_features, stop=None):
    """Bool mask (n_features,) of the columns that ``indices[lo:hi]`` names.

    Parameters
    ----------
    indices : ndarray of int32 or int64, C-contiguous
        CSR column ids; those in ``[lo, hi)`` must lie in ``[0, n_features)`` (a
        :class:`fastlogit.kernels.Design` guarantees it: no bounds are checked here).
    lo, hi : int
        The stored values' range (``indptr[0]``, ``indptr[-1]``).
    n_features : int
    stop : int, optional
        The scan ends as soon as more than ``stop`` columns are marked (a caller that only
        needs to know whether more than ``stop`` are used: on a set using most columns the
        scan then ends after its first rows); the mask then holds those marked so far.

    Returns
    -------
    ndarray of bool, shape (n_features,)

    Examples
    --------
    >>> import numpy as np
    >>> used_columns(np.array([3, 0, 3, 1], dtype=np.int32), 1, 4, 5)
    array([ True,  True, False,  True, False])
    """
    used = np.zeros(n_features, dtype=np.bool_)
    if hi > lo:
        _mark(indices, int(lo), int(hi), used, n_features if stop is None else int(stop))
    return used
