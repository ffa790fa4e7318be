"""When Spark pays: the offline jobs on Spark local[2] beside the default engine, same data, same machine.

Two jobs, each on both engines, each run in a fresh process whose whole tree is sampled for
resident memory (for Spark that is the driver, the JVM and its Python workers):

- aggregate: 10M+ session events (`simulate --events`, 36 days) → journey outcomes;
- features: 1M+ alerts (`simulate --scale large`, 30 days of 1-minute outcomes) → features + labels.

Spark's times include starting its JVM (the startup alone is printed too): what a scheduled job
pays. Outputs of the two engines are compared (outcomes equal, features within 1e-9), so a
faster engine that computes something else fails loudly. `--small` runs the same on a 2-day
simulation: a dry run that checks the benchmark works, not a measurement.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
EVENTS_DIR = REPO / "bench-data" / "events-36d"
EVENTS_DAYS, SEED = 36, 7
FEATURES_DIR = REPO / "bench-data" / "large-30d"  # what benchmarks/features.py simulates
SMALL_DIR = REPO / "bench-data" / "events-2d"
SAMPLE_EVERY_S = 0.1
WINDOW_MIN = 5
JOBS = {"aggregate": "aggregate session events", "features": "featurize alerts"}
ENGINES = ("pandas", "spark")
GIB = 2**30


def main(small: bool = False) -> None:
    events_dir = ensure_events(SMALL_DIR, 2) if small else ensure_events(EVENTS_DIR, EVENTS_DAYS)
    features_dir = events_dir if small else ensure_features_data()
    inputs = {"aggregate": events_dir / "session_events.parquet", "features": features_dir}
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as scratch:
        for job in JOBS:
            for engine in ENGINES:
                results[job, engine] = run_contender(job, engine, inputs[job], Path(scratch))
        print(f"{os.cpu_count()} cores; Spark local[2]{' (dry run: --small)' if small else ''}")
        print(render_table(results))
        for job in JOBS:  # after the table: a disagreement fails loudly, the figures stay printed
            print(f"{JOBS[job]}: engines agree: {compare_outputs(job, Path(scratch))}")


# ---------------------------------------------------------------- data


def ensure_events(data_dir: Path, days: int) -> Path:
    """A simulation with raw session events, made once (bench-data/ is not committed)."""
    if (data_dir / "session_events.parquet").is_file():
        return data_dir
    from pipeline.simulate import SimulationConfig, simulate

    print(f"simulating {days} days with session events into {data_dir} (once) ...", flush=True)
    staging = data_dir.with_name(f".{data_dir.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    simulate(SimulationConfig(out=staging, days=days, seed=SEED, events=True))
    shutil.rmtree(data_dir, ignore_errors=True)
    staging.rename(data_dir)
    return data_dir


def ensure_features_data() -> Path:
    from benchmarks.features import ensure_data

    return ensure_data(FEATURES_DIR)


# ---------------------------------------------------------------- the parent: one process per run


def run_contender(job: str, engine: str, source: Path, scratch: Path) -> dict:
    """Run one job on one engine in a fresh interpreter; peak memory is its process tree's."""
    command = [sys.executable, "-m", "benchmarks.scale", "--job", job, "--engine", engine,
               "--source", str(source), "--scratch", str(scratch)]  # fmt: skip
    print(f"  running {JOBS[job]} on {engine} ...", flush=True)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, cwd=REPO, text=True)
    sampler = TreeMemory(process.pid)
    sampler.start()
    with process.stdout:
        output = process.stdout.read()
    process.wait()
    sampler.stop()
    if process.returncode != 0:
        raise RuntimeError(f"{job} on {engine} failed (exit {process.returncode})")
    result = json.loads(output.strip().splitlines()[-1])
    result["peak_gib"] = sampler.peak / GIB
    return result


class TreeMemory(threading.Thread):
    """The highest sum of resident memory over a process and all its descendants, sampled."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self._done = pid, 0, threading.Event()

    def run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._done.is_set():
            total = 0
            try:
                for process in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.NoSuchProcess):
                        total += process.memory_info().rss
            except psutil.NoSuchProcess:
                return
            self.peak = max(self.peak, total)
            self._done.wait(SAMPLE_EVERY_S)

    def stop(self) -> None:
        self._done.set()
        self.join()


def render_table(results: dict) -> str:
    header = ("job", "size", "engine", "seconds", "of which Spark start", "peak RSS GiB (tree)",
              "time spark/pandas", "memory spark/pandas")  # fmt: skip
    rows = []
    for job, title in JOBS.items():
        base, spark = results[job, "pandas"], results[job, "spark"]
        for engine in ENGINES:
            r = results[job, engine]
            ratios = ("", "")
            if engine == "spark":
                ratios = (f"{spark['seconds'] / base['seconds']:.2f}x",
                          f"{spark['peak_gib'] / base['peak_gib']:.2f}x")  # fmt: skip
            start = f"{r['startup_seconds']:.1f}" if engine == "spark" else ""
            rows.append((title, r["size"], engine, f"{r['seconds']:.1f}", start,
                         f"{r['peak_gib']:.2f}", *ratios))  # fmt: skip
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in (header, *rows)]  # fmt: skip
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def compare_outputs(job: str, scratch: Path) -> str:
    if job == "aggregate":
        want, got = (pd.read_parquet(scratch / f"aggregate-{e}.parquet") for e in ENGINES)
        pd.testing.assert_frame_equal(got, want)
        return f"yes ({len(want):,} outcome rows, equal)"
    want, got = (pd.read_parquet(scratch / f"features-{e}.parquet") for e in ENGINES)
    assert want["alert_id"].tolist() == got["alert_id"].tolist()
    assert want["label"].equals(got["label"])
    from features.build import CATEGORICAL, FEATURE_NAMES

    numeric = [n for n in FEATURE_NAMES if n not in CATEGORICAL]
    worst = {"features": _worst(want, got, [*numeric, "impact_weight"])}
    diagnostics = [n for n in DIAGNOSTICS if n in want]
    worst["diagnostics"] = _worst(want, got, diagnostics)
    name, off = worst["features"]
    assert off <= 1e-9, worst  # the parity tests' tolerance
    return (
        f"yes ({len(want):,} alerts; labels equal; features and impact_weight within {off:.1e} "
        f"({name}); label diagnostics within {worst['diagnostics'][1]:.1e} "
        f"({worst['diagnostics'][0]}))"
    )


# Per-alert measurements kept beside the label: near-zero losses cancel in prefix-sum differences,
# which carry rounding of the order of the running total (largest in the one-piece default engine).
DIAGNOSTICS = ("lost_completions", "excess_abandonment", "impact_z", "relative_drop",
               "measured_weight")  # fmt: skip


def _worst(want: pd.DataFrame, got: pd.DataFrame, names: list[str]) -> tuple[str, float]:
    """The column with the largest difference, absolute below 1, relative above (as allclose)."""
    worst = ("", 0.0)
    for name in names:
        a, b = want[name].to_numpy(float), got[name].to_numpy(float)
        assert (np.isnan(a) == np.isnan(b)).all(), name
        off = float(np.nanmax(np.abs(a - b) / np.maximum(1.0, np.abs(a)), initial=0.0))
        worst = max(worst, (name, off), key=lambda pair: pair[1])
    return worst


# ---------------------------------------------------------------- the children


def contender_aggregate(engine: str, source: Path, scratch: Path) -> dict:
    import pyarrow.parquet as pq

    window = pd.Timedelta(minutes=WINDOW_MIN)
    started = time.perf_counter()
    startup = 0.0
    if engine == "spark":
        from pipeline.spark.aggregate import aggregate_session_events_spark
        from pipeline.spark.session import spark_session

        with spark_session("local[2]") as spark:
            spark.range(1).count()  # the JVM and a first task up
            startup = time.perf_counter() - started
            result = aggregate_session_events_spark(spark, source, window)
    else:
        from features.aggregation import aggregate_session_events

        result = aggregate_session_events(source, window)
    seconds = time.perf_counter() - started
    result.outcomes.to_parquet(scratch / f"aggregate-{engine}.parquet", index=False)
    events = pq.ParquetFile(source).metadata.num_rows
    return {"seconds": seconds, "startup_seconds": startup, "size": f"{events:,} events"}


def contender_features(engine: str, source: Path, scratch: Path) -> dict:
    from features.loading import load_data_dir

    started = time.perf_counter()
    startup = 0.0
    data = load_data_dir(source)
    if engine == "spark":
        from pipeline.spark.features import build_feature_table_spark
        from pipeline.spark.session import spark_session

        startup_started = time.perf_counter()
        with spark_session("local[2]") as spark:
            spark.range(1).count()  # the JVM and a first task up
            startup = time.perf_counter() - startup_started
            table = build_feature_table_spark(spark, data)
    else:
        from features.table import build_feature_table

        table = build_feature_table(data)
    seconds = time.perf_counter() - started
    table.frame.to_parquet(scratch / f"features-{engine}.parquet", index=False)
    return {
        "seconds": seconds,
        "startup_seconds": startup,
        "size": f"{len(table.frame):,} alerts",
    }


def _child(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale")
    parser.add_argument("--job", choices=list(JOBS))
    parser.add_argument("--engine", choices=ENGINES)
    parser.add_argument("--source", type=Path)
    parser.add_argument("--scratch", type=Path)
    parser.add_argument("--small", action="store_true", help="dry run on a 2-day simulation")
    args = parser.parse_args(argv)
    if args.job is None:
        main(small=args.small)
        return
    result = globals()[f"contender_{args.job}"](args.engine, args.source, args.scratch)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    _child(sys.argv[1:])
