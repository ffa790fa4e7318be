"""`make bench`: run every benchmark module (or those named) and print each one's table of ratios."""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import time
from pathlib import Path

ON_THEIR_OWN = {"quality"}  # long: `make bench-quality` runs it, `make bench` does not


def discover() -> list[str]:
    here = Path(__file__).parent
    return sorted(
        m.name
        for m in pkgutil.iter_modules([str(here)])
        if not m.name.startswith("_") and m.name not in ON_THEIR_OWN
    )


def main(names: list[str]) -> int:
    from pipeline.cli import PROCESS_ENVIRONMENT

    for name, value in PROCESS_ENVIRONMENT.items():  # in-process benchmarks run as journeyrank does
        os.environ.setdefault(name, value)
    found = discover()
    known = {*found, *ON_THEIR_OWN}
    unknown = [name for name in names if name not in known]
    if unknown:  # before any benchmark runs: an option meant for one would otherwise run them all
        print(
            f"no benchmark named {', '.join(map(repr, unknown))}; the benchmarks are "
            f"{', '.join(sorted(known))}. Options go to a benchmark's own module, e.g. "
            "python -m benchmarks.quality --config train.yaml",
            file=sys.stderr,
        )
        return 2
    chosen = names or found
    if not chosen:
        print("no benchmarks yet")
        return 0
    for name in chosen:
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"\n=== benchmarks/{name}.py ===", flush=True)
        started = time.perf_counter()
        module.main()
        print(f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
