"""asv: each fastlogit solver's time to tolerance on the shipped real data, its final
relative suboptimality, and the peak memory of a fit (``peakmem_fit``: the whole process,
interpreter and data included; ``track_fit_extra_rss_mb``: what the fit itself adds).

Data come from ../shared/datasets through the cache of benchmarks/common.py; F* from
benchmarks/results/fstar.json (computed and stored on first use).  Fits go through the same
runner as compare.py (benchmarks/runners.py: the estimator), C = 1, L2, unpenalised
intercept.  ``setup`` loads the data and makes one untimed warm-up fit (Numba
compilation); a solver that does not exist yet, or a dense-Hessian solver on large d,
raises NotImplementedError.
"""
from pathlib import Path

from . import common, harness
from .runners import Fastlogit, Unavailable

SOLVERS = ["auto", "newton-cg", "newton-cholesky", "trust-region", "lbfgs"]
DATASETS = ["a9a", "w8a", "ijcnn1", "mushrooms", "reuters", "rcv1_small"]
TOL = 1e-6
N_THREADS = 2


class SolverFit:
    params = (SOLVERS, DATASETS)
    param_names = ["solver", "dataset"]
    timeout = 300
    number = 1
    repeat = (1, 5, 30.0)
    warmup_time = 0

    def setup(self, solver, dataset):
        try:
            self.X, self.y = common.load_dataset(dataset)
        except FileNotFoundError as exc:
            raise NotImplementedError(str(exc))
        self.runner = Fastlogit(solver)
        try:
            self.ctx = self.runner.prepare(self.X, self.y, 1.0, N_THREADS)
        except Unavailable as exc:
            raise NotImplementedError(str(exc))
        self.runner.fit(self.ctx, 1e-2)  # warm-up: Numba compilation / cache load

    def time_fit(self, solver, dataset):
        self.runner.fit(self.ctx, TOL)

    def peakmem_fit(self, solver, dataset):
        self.runner.fit(self.ctx, TOL)

    def track_fit_extra_rss_mb(self, solver, dataset):
        """Peak resident memory a fit adds on top of the loaded data and interpreter (Linux:
        the high-water mark is reset through /proc/self/clear_refs before the fit).  Measured
        after setup's warm-up fit, so memory the allocator kept from that fit and reuses is
        not counted again: this is the fit's growth beyond a warm process."""
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            raise NotImplementedError("needs Linux /proc/self/clear_refs")
        base = _status_kb("VmRSS")
        self.runner.fit(self.ctx, TOL)
        return (_status_kb("VmHWM") - base) / 1024.0

    track_fit_extra_rss_mb.unit = "MB"

    def track_suboptimality(self, solver, dataset):
        ref = harness.cached_reference(dataset, self.X, self.y, 1.0)
        w, b = self.runner.fit(self.ctx, TOL)
        f = common.objective(self.X, self.y, w, b, 1.0)
        return (f - ref["F_star"]) / abs(ref["F_star"])

    track_suboptimality.unit = "relative"


def _status_kb(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise NotImplementedError(f"{field} not in /proc/self/status")
