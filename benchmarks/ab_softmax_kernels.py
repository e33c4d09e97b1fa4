"""A/B of the softmax kernels of two source trees on news20 (15935 x 62061, 20 classes).

Usage: ``python benchmarks/ab_softmax_kernels.py OLD_TREE NEW_TREE`` (each tree with its
extension built in place).  Three rounds of alternating child processes (old, new); each
child times 7 calls of the Cython ``multinomial_loss_grad`` and ``multinomial_hessp`` per
dtype (float64, float32) and thread count (1, 2) and reports the medians of process CPU time
and wall time; the table gives the medians over the rounds.  CPU time of one thread is what
a loaded machine changes least; wall time of 2 threads is what it changes most.
"""
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILD = r'''
import sys, time, json
sys.path.insert(0, sys.argv[1])
import numpy as np, scipy.sparse as sp
from fastlogit import kernels
from fastlogit._config import exact_threads
sys.path.insert(1, sys.argv[2])
from benchmarks.shared_data import load_shared
X, y = load_shared("news20", binary=False); y = y.astype(int)
K = y.max() + 1; n, d = X.shape
out = {}
for dt in (np.float64, np.float32):
    D = kernels.as_design(X.astype(dt)); Y = np.eye(K, dtype=dt)[y]
    W = (0.01 * np.random.default_rng(0).standard_normal((d, K))).astype(dt); B = np.zeros(K, dt)
    G, GB, P = np.empty((d, K), dt), np.empty(K, dt), np.empty((n, K), dt)
    ks = kernels.get("cython")
    for nt in (1, 2):
        lg, hp, lgw, hpw = [], [], [], []
        with exact_threads():
            for r in range(7):
                c0, t0 = time.process_time(), time.perf_counter(); ks.multinomial_loss_grad(D, Y, None, W, B, G, GB, P, n_threads=nt); lg.append(time.process_time() - c0); lgw.append(time.perf_counter() - t0)
                c0, t0 = time.process_time(), time.perf_counter(); ks.multinomial_hessp(D, P, None, W, B, G, GB, n_threads=nt); hp.append(time.process_time() - c0); hpw.append(time.perf_counter() - t0)
        med = lambda a: sorted(a)[len(a) // 2] * 1e3
        out[f"{np.dtype(dt).name} {nt}thr"] = [med(lg), med(hp), med(lgw), med(hpw)]
print(json.dumps(out))
'''


def main():
    res = {"old": [], "new": []}
    for _ in range(3):
        for tag, repo in (("old", sys.argv[1]), ("new", sys.argv[2])):
            r = subprocess.run([sys.executable, "-c", CHILD, repo, str(ROOT)], capture_output=True,
                               text=True, check=True)
            res[tag].append(json.loads(r.stdout.strip().splitlines()[-1]))
    print(open("/proc/loadavg").read().strip())
    for key in res["old"][0]:
        o = [statistics.median(x[key][i] for x in res["old"]) for i in range(4)]
        nw = [statistics.median(x[key][i] for x in res["new"]) for i in range(4)]
        print(f"{key}: loss_grad cpu old {o[0]:.1f} ms new {nw[0]:.1f} ms ({o[0]/nw[0]:.2f}x), hessp cpu old {o[1]:.1f} new {nw[1]:.1f} ({o[1]/nw[1]:.2f}x) | wall loss_grad old {o[2]:.1f} new {nw[2]:.1f}, hessp old {o[3]:.1f} new {nw[3]:.1f}")


if __name__ == "__main__":
    main()
