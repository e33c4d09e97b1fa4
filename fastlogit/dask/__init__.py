"""Logistic regression on a Dask cluster: the data stay on the workers, only theta travels.

On a cluster
------------
``fastlogit.dask.LogisticRegression`` has the estimator API of
:class:`fastlogit.LogisticRegression` and fits a :class:`dask.array.Array` whose row blocks
are dense NumPy arrays or ``scipy.sparse`` CSR matrices (labels: a dask array with the same
row chunks), with any penalty: chosen by ``l1_ratio`` and ``C`` as in memory (0: L2, 1: L1,
between: elastic net, ``C=np.inf``: none), or a :class:`fastlogit.penalties.Penalty` of your
own::

    import dask.array as da
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
            sparse = LogisticRegression(l1_ratio=1.0, C=0.1, solver="l1").fit(dX, dy)

A directory of svmlight files (one block per file) becomes one dask array with
:func:`read_svmlight_dir`, without loading the set on the client::

    X, y = read_svmlight_dir("data/train/", n_features=20_000)   # lazy; read on the workers
    LogisticRegression().fit(X, y)

and fastlogit's CSR caches (``fastlogit convert``) with :func:`read_csr_cache_dir` (one block
per cache, or per ``rows_per_block`` rows of one).

How it works
------------
The model contract (:mod:`fastlogit.contract`) with the transport as the only difference:

- :mod:`~fastlogit.dask._transport` -- :class:`WorkerParts`: each worker is given a
  contiguous run of row blocks (about equal rows per worker), which it stacks *once*, in
  order, into one *part* persisted there; a call evaluates a function on every part and sums
  the results, through Dask actors (the default up to ``split_every`` workers: direct calls
  from the client, vectors held on the workers under their names) or tasks (a tree
  reduction of fan-in ``split_every``); lost workers are recovered by rebuilding the parts
  from their lineage and repeating the call.
- :mod:`~fastlogit.dask._data` -- :class:`DaskData`, a :class:`fastlogit.contract.DataTerm`:
  each part is an in-memory :class:`fastlogit.objective.LogLossData`, and L, its gradient,
  Hessian products, diagonal and Hessian are the sums over the parts (unpenalised: the
  workers never see C or the penalty).  :class:`DaskObjective` is
  :class:`fastlogit.objective.Objective` over it: C and the penalty are applied once, on the
  client, so every deterministic solver whose declared needs Dask data offers runs
  unchanged (the "l1" proximal Newton solver for L1 / elastic net included); its
  :meth:`DaskObjective.line` keeps a line search's margins on the workers (scalars travel).
- :mod:`~fastlogit.dask._local_sgd` -- :func:`local_sgd` (``solver="local-sgd"``): local SGD
  epochs on every block, then weighted model averaging.
- :mod:`~fastlogit.dask._readers` -- :func:`read_svmlight_dir`, :func:`read_csr_cache_dir`.
- :mod:`~fastlogit.dask._estimator` -- :class:`LogisticRegression`, validating its input
  through :mod:`fastlogit.validation` like the in-memory estimator.

Bytes sent per iteration (one ``value_grad``): ``8 * n_params * 2 * n_workers`` (theta out to
each worker, one partial sum back from each), independent of ``n_samples``; a ``hessp`` at a
theta already sent the same (``v`` out, ``H v`` back).  The time per call is the slowest
worker's kernel time plus one client-worker round trip (the tasks transport adds the
scheduler's hops); measured figures are in ``benchmarks/results/``.
"""
try:
    import dask  # noqa: F401
    import distributed  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError(
        "fastlogit.dask needs dask and distributed: pip install 'fastlogit[dask]'"
    ) from exc

from ._data import DaskData, DaskObjective  # noqa: E402
from ._estimator import LogisticRegression, dask_solvers  # noqa: E402
from ._local_sgd import local_sgd  # noqa: E402
from ._readers import read_csr_cache_dir, read_svmlight_dir  # noqa: E402
from ._transport import WorkerParts  # noqa: E402

__all__ = ["DaskData", "DaskObjective", "LogisticRegression", "local_sgd", "read_svmlight_dir",
           "read_csr_cache_dir", "WorkerParts", "dask_solvers"]
