"""Before/after comparison of two solver_race.py runs, ratios within each run only.

    python benchmarks/race_regression.py BEFORE.md AFTER.md [--threshold 0.15]

Each file holds solver_race.py's Markdown output (other text around the table is ignored).
Absolute times of two runs on a shared machine are not comparable; the speed-up (best
scikit-learn / best ours) of each run is, within that run's noise.  Prints Markdown.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import report  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("before")
    p.add_argument("after")
    p.add_argument("--threshold", type=float, default=0.15,
                   help="flag a set whose speed-up fell by more than this fraction")
    args = p.parse_args(argv)
    before = report.parse_race_table(Path(args.before).read_text())
    after = report.parse_race_table(Path(args.after).read_text())
    lines = report.race_regression(before, after, args.threshold)
    print("\n".join(lines))
    return lines


if __name__ == "__main__":
    main()
