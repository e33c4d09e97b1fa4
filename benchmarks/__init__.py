"""fastlogit benchmarks: the asv suite (bench_asv_*.py), compare.py and shared helpers.

With ``asv run --python=same`` the benchmarks run in the current interpreter against this
checkout: if fastlogit is not installed there (``pip install -e .``), the repository root
is put on ``sys.path`` so that the source tree is what gets measured.
"""
import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("fastlogit") is None:  # pragma: no cover - environment dependent
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
