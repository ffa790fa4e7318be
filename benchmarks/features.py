"""The offline feature job at scale: the whole job and the live-state family beside a pyarrow read and DuckDB.

On `simulate --scale large` (30 days of 1-minute outcomes, > 1M alerts), each contender runs in
its own process, so peak memory is its own and no import or cache helps the next one:

- pyarrow read: alerts, journey_outcomes and changes read from Parquet (the floor);
- whole feature job: `build_feature_table(load_data_dir(dir))`, loading and validation included;
- live state (ours): `build_journey_state` for all outcomes + `live_state.compute` for all alerts;
- DuckDB range / prefix: the same 13 features as one SQL query each (benchmarks/_live_state_sql.py).

The live-state contenders get their inputs loaded and baselines fitted outside the timed part;
each is timed `REPEATS` times and the best run counts. Their outputs are compared at the end, so a
reference that computes something else fails loudly instead of measuring nothing.

Goals: the whole job <= 60 s on 2 cores, the live state within 2x of the faster DuckDB query,
peak memory of the whole job <= 8 GiB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = REPO / "bench-data" / "large-30d"
DAYS, SCALE, SEED = 30, "large", 7
REPEATS = 3  # runs of each live-state contender; the best counts
JOB_SECONDS_GOAL, DUCKDB_RATIO_GOAL, PEAK_GIB_GOAL = 60.0, 2.0, 8.0
READ_FILES = ("alerts", "journey_outcomes", "changes")
CONTENDERS = {
    "read": "pyarrow read (floor)",
    "job": "whole feature job",
    "live_state": "live state (ours)",
    "duckdb_range": "DuckDB range join",
    "duckdb_prefix": "DuckDB prefix sums",
}
DUCKDB_QUERIES = {"duckdb_range": "range", "duckdb_prefix": "prefix"}
GIB = 2**30


def main(data_dir: Path | None = None) -> None:
    data_dir = ensure_data(data_dir or DATA_DIR)
    with tempfile.TemporaryDirectory(prefix="bench-features-") as scratch:
        results = {name: run_contender(name, data_dir, Path(scratch)) for name in CONTENDERS}
        agreement = compare_live_state(Path(scratch))
    print(
        f"data: {data_dir} ({results['job']['alerts']:,} alerts, "
        f"{results['job']['outcome_rows']:,} outcome rows); {os.cpu_count()} cores"
    )
    print(render_table(results))
    print(
        f"job split: load_data_dir {results['job']['load_seconds']:.1f} s, "
        f"build_feature_table {results['job']['build_seconds']:.1f} s"
    )
    print(f"live state vs DuckDB: {agreement}")


# ---------------------------------------------------------------- data


def ensure_data(data_dir: Path) -> Path:
    """Simulate the large data directory once; later runs reuse it (bench-data/ is not committed)."""
    if (data_dir / "journey_map.yaml").is_file():
        return data_dir
    from pipeline.simulate import SimulationConfig, simulate

    print(f"simulating {DAYS} days at scale '{SCALE}' into {data_dir} (once) ...", flush=True)
    staging = data_dir.with_name(f".{data_dir.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    simulate(SimulationConfig(out=staging, days=DAYS, scale=SCALE, seed=SEED))
    # whole or not at all: a crash leaves no half-written directory to be reused
    shutil.rmtree(data_dir, ignore_errors=True)  # what an earlier run left without its map
    staging.rename(data_dir)
    return data_dir


# ---------------------------------------------------------------- the parent: one process per contender


def run_contender(name: str, data_dir: Path, scratch: Path) -> dict:
    """Run `name` in a fresh interpreter; its peak RSS comes from wait4 on that one process."""
    command = [sys.executable, "-m", "benchmarks.features", "--contender", name,
               "--data", str(data_dir), "--scratch", str(scratch)]  # fmt: skip
    print(f"  running {CONTENDERS[name]} ...", flush=True)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, cwd=REPO, text=True)
    with process.stdout:
        output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"benchmark contender {name!r} failed (exit {process.returncode})")
    result = json.loads(output.strip().splitlines()[-1])
    result["peak_gib"] = usage.ru_maxrss * 1024 / GIB  # ru_maxrss is in KiB on Linux
    return result


def render_table(results: dict[str, dict]) -> str:
    read = results["read"]["seconds"]
    duckdb = min(results[name]["seconds"] for name in DUCKDB_QUERIES)
    job, live = results["job"], results["live_state"]
    goals = {
        "job": [
            _verdict(f"<= {JOB_SECONDS_GOAL:.0f} s", job["seconds"] <= JOB_SECONDS_GOAL),
            _verdict(f"<= {PEAK_GIB_GOAL:.0f} GiB", job["peak_gib"] <= PEAK_GIB_GOAL),
        ],
        "live_state": [
            _verdict(
                f"<= {DUCKDB_RATIO_GOAL:.0f}x DuckDB", live["seconds"] <= DUCKDB_RATIO_GOAL * duckdb
            )
        ],
    }
    header = ("contender", "seconds", "peak RSS GiB", "x pyarrow read", "x DuckDB (best)", "goal")
    rows = []
    for name, title in CONTENDERS.items():
        r = results[name]
        versus_duckdb = (
            f"{r['seconds'] / duckdb:.2f}" if name in ("live_state", *DUCKDB_QUERIES) else ""
        )
        rows.append((title, f"{r['seconds']:.2f}", f"{r['peak_gib']:.2f}", f"{r['seconds'] / read:.1f}",
                     versus_duckdb, ", ".join(goals.get(name, []))))  # fmt: skip
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in (header, *rows)]  # fmt: skip
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _verdict(goal: str, met: bool) -> str:
    return f"{goal}: {'PASS' if met else 'MISS'}"


def compare_live_state(scratch: Path, tolerance: float = 1e-9) -> str:
    """Our family's values against both SQL formulations, on every alert of the large data."""
    ours = pd.read_parquet(scratch / "live_state.parquet")
    notes = []
    for name in DUCKDB_QUERIES:
        reference = pd.read_parquet(scratch / f"{name}.parquet")
        worst = max_difference(ours, reference, tolerance)
        notes.append(
            f"{name} {'agrees' if worst <= tolerance else 'DISAGREES'} (max difference {worst:.1e})"
        )
    return "; ".join(notes)


def max_difference(ours: pd.DataFrame, reference: pd.DataFrame, tolerance: float) -> float:
    """Largest difference beyond relative `tolerance` over every feature; a NaN on one side only is inf."""
    worst = 0.0
    for column in ours.columns:
        a, b = ours[column].to_numpy(np.float64), reference[column].to_numpy(np.float64)
        if len(a) != len(b) or not np.array_equal(np.isnan(a), np.isnan(b)):
            return float("inf")
        both = ~np.isnan(a)
        with np.errstate(invalid="ignore"):
            excess = np.abs(a[both] - b[both]) / np.maximum(1.0, np.abs(b[both]))
        if len(excess) and not np.isfinite(excess).all():
            excess = np.where(a[both] == b[both], 0.0, np.inf)
        worst = max(worst, float(excess.max()) if len(excess) else 0.0)
    return worst


# ---------------------------------------------------------------- the children: one contender each


def contender_read(data_dir: Path, scratch: Path) -> dict:
    import pyarrow.parquet as pq

    started = time.perf_counter()
    rows = {name: pq.read_table(data_dir / f"{name}.parquet").num_rows for name in READ_FILES}
    return {"seconds": time.perf_counter() - started, "rows": rows}


def contender_job(data_dir: Path, scratch: Path) -> dict:
    from features.loading import load_data_dir
    from features.table import build_feature_table

    started = time.perf_counter()
    data = load_data_dir(data_dir)
    loaded = time.perf_counter()
    table = build_feature_table(data)
    finished = time.perf_counter()
    return {
        "seconds": finished - started,
        "load_seconds": loaded - started,
        "build_seconds": finished - loaded,
        "alerts": len(data.alerts),
        "outcome_rows": len(data.journey_outcomes),
        "features": table.frame.shape[1],
    }


def contender_live_state(data_dir: Path, scratch: Path) -> dict:
    from features.context import AlertBatch, FeatureContext
    from features.families import live_state
    from features.journey_state import build_journey_state

    data, stages, baselines, config = fitted(data_dir)
    batch = AlertBatch.of(data.alerts, stages)
    window_ns = int(data.window.value)

    def run() -> dict[str, np.ndarray]:
        journey = build_journey_state(data.journey_outcomes, stages, baselines, window_ns)
        context = FeatureContext(
            stages=stages, journey_map=data.journey_map, baselines=baselines.aligned(stages, journey.segments),
            journey=journey, alerts=None, changes=None, labels=None, config=config.features,
        )  # fmt: skip
        return live_state.compute(batch, context)

    seconds, values = best_of(run)
    pd.DataFrame(values).to_parquet(scratch / "live_state.parquet")
    return {"seconds": seconds, "pairs": len(batch.pairs)}


def contender_duckdb(query: str, data_dir: Path, scratch: Path) -> dict:
    import pyarrow.parquet as pq

    from benchmarks._live_state_sql import FEATURES, prepare_inputs, run_reference

    data, stages, baselines, config = fitted(data_dir)
    outcomes = pq.read_table(data_dir / "journey_outcomes.parquet")
    inputs = prepare_inputs(outcomes, data.alerts, stages, baselines, data.journey_map,
                            int(data.window.value), config.features)  # fmt: skip
    seconds, values = best_of(lambda: run_reference(inputs, query))
    values[list(FEATURES)].to_parquet(scratch / f"duckdb_{query}.parquet")
    return {"seconds": seconds}


def fitted(data_dir: Path):
    """The loaded data directory, its stages and fitted baselines (set-up, not timed)."""
    from features.baselines import fit_baselines
    from features.config import FeatureJobConfig
    from features.loading import load_data_dir
    from features.stages import StageIndex

    data = load_data_dir(data_dir)
    config = FeatureJobConfig()
    stages = StageIndex.from_map(data.journey_map)
    baselines = fit_baselines(
        data.journey_outcomes, stages, int(data.window.value), config.baselines
    )
    return data, stages, baselines, config


def best_of(run, repeats: int = REPEATS):
    best, value = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        value = run()
        best = min(best, time.perf_counter() - started)
    return best, value


def _child(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.features")
    parser.add_argument("--contender", choices=list(CONTENDERS), required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--scratch", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.contender in DUCKDB_QUERIES:
        result = contender_duckdb(DUCKDB_QUERIES[args.contender], args.data, args.scratch)
    else:
        result = globals()[f"contender_{args.contender}"](args.data, args.scratch)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    _child(sys.argv[1:])
