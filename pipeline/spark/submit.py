"""The application file for spark-submit: `spark-submit … pipeline/spark/submit.py aggregate … --engine spark`.

spark-submit puts the script's own folder first on sys.path, where `features.py` and
`aggregate.py` would shadow the packages of the same names; this takes it off, puts the
repository root on, and runs the `journeyrank` command line.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

if __name__ == "__main__":
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
    sys.path.insert(0, str(ROOT))
    from pipeline.cli import main

    sys.exit(main(sys.argv[1:]))
