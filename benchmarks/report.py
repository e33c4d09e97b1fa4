"""The benchmark reports: compare.py's Markdown page and plots, solver_race.py's table.

Pure formatting of what :mod:`benchmarks.harness` measured: nothing here times anything.
"""
from benchmarks.harness import THRESHOLDS, ladder_key


def _fmt_time(t):
    return f"{t:.3f}" if t < 10 else f"{t:.1f}"


def cell(summary, thr, cap):
    s = summary
    hit = s["to"].get(thr)
    if hit is not None:
        star = "" if hit["n"] >= 3 else f" (n={hit['n']})"
        return _fmt_time(hit["time"]) + star
    if s["status"] == "n/a":
        return "n/a"
    if s["status"] == "failed":
        return "failed"
    if s["status"] == "capped":
        return f"> {cap:g}"
    return "not reached"


def _best(summaries, prefix, thr, exclude_prefix=False):
    times = [s["to"][thr]["time"] for n, s in summaries.items()
             if (n.startswith(prefix) != exclude_prefix) and s["to"].get(thr)]
    return min(times) if times else None


def speedup(summaries, thr):
    """best other library's time / best fastlogit time at ``thr`` (None if either is missing)."""
    ours = _best(summaries, "fastlogit", thr)
    theirs = _best(summaries, "fastlogit", thr, exclude_prefix=True)
    if ours is None or theirs is None:
        return None
    return theirs / ours


def _fmt_ratio(r):
    return "–" if r is None else f"{r:.2f}x"


def plot_dataset(label, summary, f_star, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5))
    floor = 1e-13
    for i, (name, s) in enumerate(summary.items()):
        pts = sorted(s["ladder"], key=lambda p: ladder_key(name, p["level"]))
        if not pts:
            continue
        t = [p["time"] for p in pts]
        v = [max(p["subopt"], floor) for p in pts]
        style = "-" if name.startswith("fastlogit") else "--"
        ax.plot(t, v, style, marker="o", ms=3, lw=2 if name.startswith("fastlogit") else 1,
                label=name, color=plt.cm.tab20(i % 20))
    for thr in THRESHOLDS:
        ax.axhline(thr, color="grey", lw=0.5, ls=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("time to return (s), median")
    ax.set_ylabel("relative suboptimality (F - F*) / F*")
    ax.set_title(f"{label}: F* = {f_star:.10g}")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)



def markdown(result):
    m = result["machine"]
    cap = result["cap"]
    names = result["runners"]
    dsets = list(result["datasets"])
    lines = [
        "# fastlogit benchmark results",
        "",
        f"Date: {result['date']}.  Command: `{result['command']}`  ",
        f"Machine: {m['cpu']}, {m['cores']} cores available, {m['memory']} RAM, {m['os']}, "
        f"Python {m['python']}.  ",
        *(_merged_lines(result) or [
            f"Load average (1, 5, 15 min) at start {result.get('load_average_start')}, at end "
            f"{result.get('load_average_end')}; total run time "
            f"{result.get('total_seconds', 0) / 60:.1f} min.  "]),
        f"The machine is shared: a load average above its {m['cores']} cores means the "
        "timings include waiting for a core.  ",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + ".  ",
        f"Threads: every library pinned to {result['n_threads']} (OpenMP, BLAS, Numba, "
        "fastlogit `n_threads`); LIBLINEAR and scikit-learn's liblinear/saga/SGD are "
        "single-threaded by design.",
        "",
        f"Objective (all solvers): F(w, b) = C * sum_i log-loss(y_i, x_i.w + b) + 1/2 ||w||^2, "
        f"C = {result['C']:g}, L2 penalty, intercept unpenalised (sklearn liblinear: "
        "intercept_scaling = 100, see below).  All solvers are scored by the same NumPy "
        "evaluation of F; F* from two independent tight solves (per data set below).",
        "",
        f"Cells: seconds to reach relative suboptimality (F - F*)/F* <= 1e-4 / 1e-6 / 1e-8, "
        f"median of {result['repeats']} timed fits (each after an untimed warm-up fit) of the "
        "first tolerance on a 10x ladder that reaches it (SGD: number of epochs).  "
        f"`> {cap:g}` = a fit ran past the {cap:g} s cap before reaching it; `not reached` = "
        "the ladder ended (tightest tolerance, or no further progress) above it; `n/a` = "
        "the solver does not apply (reason in the per-set tables); `failed` = it raised.  "
        "Real data: the LIBSVM sets in ../shared/datasets (news20 binary as y <= 10 vs > 10).",
        "",
        "## Headline: seconds to 1e-6",
        "",
        "| solver | " + " | ".join(dsets) + " |",
        "|---|" + "---|" * len(dsets),
    ]
    for name in names:
        row = [cell(result["datasets"][d]["summary"][name], 1e-6, cap)
               if name in result["datasets"][d]["summary"] else "not run" for d in dsets]
        lines.append(f"| {name} | " + " | ".join(row) + " |")
    ratios = [_fmt_ratio(speedup(result["datasets"][d]["summary"], 1e-6)) for d in dsets]
    lines.append("| **speed-up** (best other / best fastlogit) | " + " | ".join(ratios) + " |")
    lines += ["", "## Per data set", ""]
    for d in dsets:
        ds = result["datasets"][d]
        ref = ds["reference"]
        lines += [
            f"### {d}: {ds['shape'][0]} x {ds['shape'][1]}, {ds['nnz']} nnz",
            "",
            f"F* = {ref['F_star']:.12g} (LIBLINEAR eps 1e-12: {ref['F_liblinear']:.12g}; "
            f"SciPy trust-ncg: {ref['F_trustncg']:.12g}; relative disagreement "
            f"{ref['rel_disagreement']:.1e}).",
            "",
            "| solver | 1e-4 | 1e-6 | 1e-8 | best reached | warm-up fit (s) | note |",
            "|---|---|---|---|---|---|---|",
        ]
        for name in names:
            if name not in ds["summary"]:
                continue
            s = ds["summary"][name]
            best = "–" if s["best"] is None else f"{max(s['best'], 0):.1e}"
            wu = "–" if not s["warmup"] else _fmt_time(s["warmup"]["time"])
            lines.append(f"| {name} | " + " | ".join(cell(s, t, cap) for t in THRESHOLDS)
                         + f" | {best} | {wu} | {s['note']} |")
        lines.append("| **speed-up** (best other / best fastlogit) | "
                     + " | ".join(_fmt_ratio(speedup(ds["summary"], t)) for t in THRESHOLDS)
                     + " | | | |")
        if ds.get("plot"):
            lines += ["", f"![{d}]({ds['plot']})"]
        lines.append("")
    lines += kernel_lines(result.get("kernels"))
    lines += [
        "## Notes",
        "",
        "- Conversions to a library's own format are outside the timing: LIBLINEAR's "
        "`problem` and glum's tabmat CSC matrix are built once per data set; scikit-learn "
        "and fastlogit take the CSR matrix (float64, int32 indices) and validate it inside "
        "`fit`.",
        "- scikit-learn's liblinear penalises the intercept; with intercept_scaling = 100 the "
        "extra term is b^2/2e4 and its effect on F is the `best reached` floor.",
        "- `> cap` at the warm-up: the first (loosest) fit already ran past the cap; "
        "`failed` rows carry the exception in the per-set note (e.g. glum's IRLS forms a "
        "dense d x d Hessian, 28.7 GiB on news20).",
        "- SGDClassifier (learning_rate='optimal', its default) and saga are first-order "
        "stochastic methods; rows where they do not reach 1e-8 are shown, not dropped.",
        "- The machine is shared: absolute times drift between runs; compare ratios within "
        "one run.",
        *_load_warning(result),
        "",
    ]
    return "\n".join(lines)


def _load_warning(result):
    loads = [result.get("load_average_start"), result.get("load_average_end")]
    loads += [r.get(k) for r in result.get("merged_from", [])
              for k in ("load_average_start", "load_average_end")]
    peak = max((max(x) for x in loads if x), default=None)
    cores = result["machine"]["cores"]
    if peak is None or peak <= cores:
        return []
    return [f"- **Oversubscribed machine**: the load average reached {peak:.1f} on {cores} "
            "cores during this run (other jobs), so absolute times are inflated, and unevenly: "
            "a single-threaded solver (LIBLINEAR, scikit-learn's liblinear/saga/SGD) loses a "
            "different share of a core than a 2-thread one, and a load spike hits whichever "
            "row runs at that moment.  Treat the ratios as indicative only and rerun on an "
            "idle machine (the idle anchors are in ../shared/datasets/README.md) before "
            "quoting them."]


def _merged_lines(result):
    if not result.get("merged_from"):
        return []
    parts = [f"`{r['command']}` ({', '.join(r['datasets']) or 'kernel table'}; load average "
             f"{r['load_average_start']} -> {r['load_average_end']}, "
             f"{(r['total_seconds'] or 0) / 60:.1f} min)" for r in result["merged_from"]]
    return ["Merged from runs made side by side in one session (each data set entirely "
            "inside one run, so ratios within a data set come from one process): "
            + "; ".join(parts) + ".  "]


def kernel_lines(kt):
    """The kernel section: ``bench_kernels.py``'s Markdown as it printed it, or why not."""
    if not kt:
        return []
    lines = ["## Kernels: loss_grad throughput", ""]
    if "error" in kt:
        lines.append(f"Kernel table failed: `{kt['error'].splitlines()[0]}`")
    elif "markdown" in kt:
        md = kt["markdown"]
        lines += [f"Measured by `{kt['command']}` in the same session:", "",
                  "### " + md[2:] if md.startswith("# ") else md]
    else:
        lines.append("Kernel table in an older format: rerun `python -m benchmarks.compare "
                     "--kernels-only`.")
    lines.append("")
    return lines


# ============================================================================= solver race
def race_best(res, prefix):
    """Smallest median time among the rows of ``res`` ({row: (seconds or None, info)}) whose
    name starts with ``prefix`` ("ours" or "sklearn"); None if none has a time."""
    return min((t for name, (t, _) in res.items() if name.startswith(prefix) and t),
               default=None)


def race_table(rows, cols):
    """solver_race.py's Markdown table: one line per (name, shape, fstar, res) of ``rows``,
    a cell per column of ``cols`` (seconds, or the reason in parentheses), then best ours /
    best scikit-learn and their ratio (the speed-up)."""
    lines = ["| data set | " + " | ".join(cols) + " | best ours / best sklearn | speed-up |",
             "|---" * (len(cols) + 3) + "|"]
    for name, shape, fstar, res in rows:
        cells = []
        for c in cols:
            t, info = res[c]
            cells.append(f"{t:.4f}" if t is not None else f"({info})")
        best_ours = race_best({c: res[c] for c in cols}, "ours")
        best_sk = race_best({c: res[c] for c in cols}, "sklearn")
        ratio = (f"{best_ours:.4f} / {best_sk:.4f}" if best_ours and best_sk else "n/a")
        speed = f"{best_sk / best_ours:.2f}x" if best_ours and best_sk else "n/a"
        lines.append(f"| {name} {shape[0]}x{shape[1]} | " + " | ".join(cells)
                     + f" | {ratio} | {speed} |")
    return lines


def parse_race_table(text):
    """{data set: {column: seconds or None}} from solver_race.py's Markdown output (the
    first table in ``text``); the set's name is its first word (``a9a 32561x123`` -> a9a)."""
    rows, cols = {}, None
    for line in text.splitlines():
        if not line.startswith("|"):
            if cols and rows:
                break
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == "data set":
            cols = cells[1:-2]
        elif cols and not cells[0].startswith("---"):
            rows[cells[0].split()[0]] = {
                c: (float(v) if v[:1].isdigit() else None) for c, v in zip(cols, cells[1:])}
    if cols is None:
        raise ValueError("no solver_race table (a '| data set |' header) in the text")
    return rows


def _best_of(row, prefix):
    cands = [(t, c) for c, t in row.items() if c.startswith(prefix) and t]
    return min(cands) if cands else (None, None)


def race_regression(before, after, threshold=0.15):
    """Markdown lines comparing two parsed race tables set by set: best ours / best
    scikit-learn in each run, the speed-up (best scikit-learn / best ours) before and after,
    their ratio, and a flag where the speed-up fell by more than ``threshold``; then each of
    our solvers' time relative to the best scikit-learn solver of its own run."""
    lines = ["| data set | before: best ours / best sklearn | speed-up | after: best ours / "
             "best sklearn | speed-up | after / before | |", "|---" * 7 + "|"]
    per_solver = []
    for name in before:
        if name not in after:
            continue
        b, a = before[name], after[name]
        (bo, bo_c), (bs, bs_c) = _best_of(b, "ours"), _best_of(b, "sklearn")
        (ao, ao_c), (as_, as_c) = _best_of(a, "ours"), _best_of(a, "sklearn")
        if None in (bo, bs, ao, as_):
            lines.append(f"| {name} | n/a | | n/a | | | |")
            continue
        sb, sa = bs / bo, as_ / ao
        flag = "**slower**" if sa / sb < 1.0 - threshold else ""
        lines.append(f"| {name} | {bo:.4f} ({bo_c[5:]}) / {bs:.4f} ({bs_c[8:]}) | {sb:.2f}x "
                     f"| {ao:.4f} ({ao_c[5:]}) / {as_:.4f} ({as_c[8:]}) | {sa:.2f}x "
                     f"| {sa / sb:.2f} | {flag} |")
        for c in b:
            if c.startswith("ours") and b[c] and a.get(c):
                per_solver.append((name, c[5:], b[c] / bs, a[c] / as_))
    lines += ["", "Each of our solvers, time / best scikit-learn time of the same run "
              "(smaller is better):", "",
              "| data set | solver | before | after | after / before |", "|---" * 5 + "|"]
    for name, c, rb, ra in per_solver:
        lines.append(f"| {name} | {c} | {rb:.3f} | {ra:.3f} | {ra / rb:.2f} |")
    return lines
