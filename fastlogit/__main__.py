"""``python -m fastlogit``: the command line tool (see :mod:`fastlogit.cli`)."""
import sys

from .cli import main

sys.exit(main())
