"""The training job at scale: the whole `journeyrank train` job and `fit_ranker` beside LightGBM alone.

On the data benchmarks/features.py simulates once (bench-data/large-30d: 30 days of 1-minute
outcomes, > 1M alerts), each contender runs in its own process, so peak memory is its own and no
import or cache helps the next one:

- LightGBM alone (the floor): `lgb.train` on the prepared training matrix with the ranker's
  parameters, for as many rounds as fit_ranker ran (its best round plus the early-stopping
  patience), without the validation set;
- fit_ranker: the same booster early-stopped on the validation days, then calibration and tiers;
- whole train job: `pipeline.train.train` into a fresh JOURNEYRANK_HOME under bench-data/ —
  loading, features, fit, evaluation, report, MLflow run with lineage, registration, champion gate.

The two fit contenders read the training set that one more process built with
`build_training_set` (as the job does) and wrote to Parquet, so the feature job's memory is not
theirs. Their boosters are compared at the end: all three must score the validation days alike, or
they trained different models and the run fails instead of printing a table that measures nothing.

Every step runs with the process environment `journeyrank` sets (OMP_WAIT_POLICY=PASSIVE unless
already set), so the job is timed as the command runs it. Seconds are wall clock around the call (imports and set-up excluded); the two fit contenders are
timed `REPEATS` times and the best run counts, the whole job once. cpu s is the user + system time of
the counted run, all threads: near 2x seconds means both cores were busy with it, and a wall time
far above cpu s / 2 means something else held the cores. Goal: the whole job <= 120 s on 2 cores.
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

from benchmarks.features import DATA_DIR, ensure_data

REPO = Path(__file__).resolve().parent.parent
HOME = REPO / "bench-data" / "train-home"  # the job's JOURNEYRANK_HOME, emptied before each run
JOB_SECONDS_GOAL = 120.0
REPEATS = 3  # runs of each fit contender; the best counts
CONTENDERS = {
    "lightgbm": "LightGBM alone (floor)",
    "fit_ranker": "fit_ranker",
    "job": "whole train job",
}
RUN_ORDER = ("prepare", "fit_ranker", "lightgbm", "job")  # the floor needs fit_ranker's rounds
JOB_STAGES = {  # the job's progress steps -> what the time up to the next one was spent on
    "start": "load",
    "baselines on the training days": "features",
    "LightGBM": "fit_ranker",
    "held-out evaluation": "evaluation",
    "MLflow run": "MLflow run + lineage",
    "report": "report",
    "model, registry and champion gate": "model + registry + gate",
}
BOUNDS = ("validation_start", "test_start", "end")  # TimeSplit's cut points
GIB = 2**30


def main(data_dir: Path | None = None) -> None:
    data_dir = ensure_data(data_dir or DATA_DIR)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-train-") as scratch:
        scratch = Path(scratch)
        results: dict[str, dict] = {}
        for name in RUN_ORDER:
            fitted = results.get("fit_ranker", {})
            results[name] = run_contender(name, data_dir, scratch, fitted)
        agreement = compare_boosters(scratch, results)
    print(describe_data(data_dir, results["prepare"]))
    print(f"{os.cpu_count()} cores; 1-minute load average {load:.1f} before the run")
    print(render_table(results))
    job, fit = results["job"], results["fit_ranker"]
    print("job split: " + ", ".join(f"{k} {v:.1f} s" for k, v in job["stages"].items()))
    print(
        f"booster: best round {fit['best_iteration']} of {fit['rounds']} run "
        f"(early stopping on the validation days); {agreement}"
    )
    print(f"job: model version {job['version']}; {job['decision']}")


# ---------------------------------------------------------------- the parent: one process per step


def run_contender(name: str, data_dir: Path, scratch: Path, fitted: dict) -> dict:
    """Run `name` in a fresh interpreter; its peak RSS comes from wait4 on that one process."""
    command = [sys.executable, "-m", "benchmarks.train", "--contender", name,
               "--data", str(data_dir), "--scratch", str(scratch)]  # fmt: skip
    if fitted:  # the floor runs as many rounds as fit_ranker did
        command += ["--rounds", str(fitted["rounds"]), "--best", str(fitted["best_iteration"])]
    print(f"  running {CONTENDERS.get(name, 'the training set (not timed)')} ...", flush=True)
    stderr = scratch / f"{name}.stderr"  # MLflow's chatter; shown when the contender fails
    with stderr.open("w") as err:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=err, cwd=REPO, text=True, env=_environment()
        )
        with process.stdout:
            output = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        tail = "".join(stderr.read_text().splitlines(keepends=True)[-25:])
        raise RuntimeError(f"benchmark step {name!r} failed (exit {code}):\n{tail}")
    result = json.loads(output.strip().splitlines()[-1])
    result["peak_gib"] = usage.ru_maxrss * 1024 / GIB  # ru_maxrss is in KiB on Linux
    return result


def _environment() -> dict[str, str]:
    """The process settings `journeyrank` itself starts with (OpenMP waits passively), for every step."""
    from pipeline.cli import PROCESS_ENVIRONMENT

    return {**PROCESS_ENVIRONMENT, **os.environ}


def render_table(results: dict[str, dict]) -> str:
    floor = results["lightgbm"]
    met = results["job"]["seconds"] <= JOB_SECONDS_GOAL
    goals = {"job": f"<= {JOB_SECONDS_GOAL:.0f} s: {'PASS' if met else 'MISS'}"}
    header = ("contender", "seconds", "cpu s", "peak RSS GiB", "x floor time", "x floor memory", "goal")  # fmt: skip
    rows = [
        (title, f"{r['seconds']:.1f}", f"{r['cpu_seconds']:.1f}", f"{r['peak_gib']:.2f}",
         f"{r['seconds'] / floor['seconds']:.2f}", f"{r['peak_gib'] / floor['peak_gib']:.2f}",
         goals.get(name, ""))
        for name, title in CONTENDERS.items()
        for r in [results[name]]
    ]  # fmt: skip
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in (header, *rows)]  # fmt: skip
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def describe_data(data_dir: Path, prepared: dict) -> str:
    parts = prepared["parts"]
    sizes = " / ".join(f"{parts[p]['alerts']:,} {p}" for p in parts)
    rates = " / ".join(f"{parts[p]['impact_rate']:.1%}" for p in parts)
    truth = prepared["true_impact_rate"]
    true_rate = "" if truth is None else f"; the simulator's true impact rate {truth:.2%}"
    return (
        f"data: {data_dir} ({prepared['alerts']:,} alerts; labelled: {sizes}; "
        f"derived impact rate {rates}{true_rate})"
    )


def compare_boosters(scratch: Path, results: dict[str, dict], tolerance: float = 1e-9) -> str:
    """The floor, fit_ranker and the job must have grown the same trees: same validation scores."""
    best = {name: results[name]["best_iteration"] for name in ("fit_ranker", "job")}
    if best["fit_ranker"] != best["job"]:
        raise RuntimeError(f"fit_ranker and the job kept different rounds: {best}")
    reference = np.load(scratch / "fit_ranker.npy")
    for name in ("lightgbm", "job"):
        scores = np.load(scratch / f"{name}.npy")
        worst = np.abs(scores - reference).max() if len(scores) == len(reference) else np.inf
        if not worst <= tolerance:
            raise RuntimeError(
                f"{CONTENDERS[name]} scores the validation days differently from fit_ranker "
                f"(max difference {worst:.1e}): the contenders trained different models"
            )
    return "all three score the validation days alike (the floor at the best round)"


# ---------------------------------------------------------------- the children: one step each


def step_prepare(data_dir: Path, scratch: Path, rounds: int, best: int) -> dict:
    """The training set as the job builds it, written to Parquet for the two fit contenders."""
    from features.loading import load_data_dir
    from models.config import TrainConfig
    from pipeline.train import build_training_set

    data = load_data_dir(data_dir)
    training = build_training_set(data, TrainConfig(), data.feedback)
    split = training.split
    for part in ("train", "validation"):
        getattr(split, part).to_parquet(scratch / f"{part}.parquet", index=False)
    training.baselines.to_frame().to_parquet(scratch / "baselines.parquet", index=False)
    (scratch / "spec.json").write_text(training.spec.to_json())
    bounds = {k: str(getattr(split, k)) for k in BOUNDS}
    (scratch / "bounds.json").write_text(json.dumps(bounds))
    truth = None if data.truth is None else float(data.truth["true_impact"].mean())
    return {
        "seconds": 0.0,
        "alerts": len(data.alerts),
        "parts": {
            part: {"alerts": len(frame), "impact_rate": float(frame["label"].mean())}
            for part, frame in (
                ("train", split.train),
                ("validation", split.validation),
                ("held out", split.test),
            )
        },
        "true_impact_rate": truth,
    }


def _training_set(data_dir: Path, scratch: Path):
    """What prepare wrote, read back (set-up, not timed)."""
    import pandas as pd

    from features.baselines import Baselines
    from features.journey_map import load_journey_map
    from features.spec import FeatureSpec
    from models.training import TimeSplit

    bounds = {
        k: pd.Timestamp(v) for k, v in json.loads((scratch / "bounds.json").read_text()).items()
    }
    train, validation = (pd.read_parquet(scratch / f"{p}.parquet") for p in ("train", "validation"))
    # fitting never reads the held-out days: leaving them out keeps them out of the peak memory
    split = TimeSplit(train, validation, train.iloc[:0], *(bounds[k] for k in BOUNDS))
    spec = FeatureSpec.from_json((scratch / "spec.json").read_text())
    baselines = Baselines.from_frame(pd.read_parquet(scratch / "baselines.parquet"))
    return split, spec, baselines, load_journey_map(data_dir / "journey_map.yaml")


def step_fit_ranker(data_dir: Path, scratch: Path, rounds: int, best: int) -> dict:
    from models.config import TrainConfig
    from models.training import fit_ranker

    split, spec, baselines, journey_map = _training_set(data_dir, scratch)
    config = TrainConfig()
    timing, ranker = _best_of(lambda: fit_ranker(split, spec, baselines, journey_map, config))
    np.save(scratch / "fit_ranker.npy", ranker.raw_scores(split.validation))
    kept = ranker.booster.best_iteration
    return {**timing, "best_iteration": kept, "rounds": _rounds_run(kept, config)}


def _rounds_run(best: int, config) -> int:
    """fit_booster's early stopping runs its patience past the best round before it stops."""
    return min(best + config.lightgbm.early_stopping_rounds, config.lightgbm.max_rounds)


def step_lightgbm(data_dir: Path, scratch: Path, rounds: int, best: int) -> dict:
    import lightgbm as lgb

    from models.config import TrainConfig
    from models.training import booster_params, impact_sample_weight

    split, spec, _, _ = _training_set(data_dir, scratch)
    params = booster_params(spec, TrainConfig().lightgbm)
    matrix = spec.model_inputs(split.train)
    label, weight = split.train["label"], impact_sample_weight(split.train)
    timing, booster = _best_of(
        lambda: lgb.train(params, lgb.Dataset(matrix, label, weight=weight), rounds)
    )
    if booster.current_iteration() != rounds:
        raise RuntimeError(f"the floor ran {booster.current_iteration()} rounds, not {rounds}")
    inputs = spec.model_inputs(split.validation)
    np.save(scratch / "lightgbm.npy", booster.predict(inputs, raw_score=True, num_iteration=best))
    return {**timing, "rounds": rounds}


def step_job(data_dir: Path, scratch: Path, rounds: int, best: int) -> dict:
    from features.settings import settings_at
    from pipeline.train import train

    shutil.rmtree(HOME, ignore_errors=True)
    marks = [("start", time.perf_counter())]
    timing, result = _best_of(
        lambda: train(
            data_dir, settings_at(HOME), progress=lambda s: marks.append((s, time.perf_counter()))
        ),
        repeats=1,  # a second run would meet the first as champion: a different job
    )
    np.save(scratch / "job.npy", result.ranker.raw_scores(result.split.validation))
    return {
        **timing,
        "stages": _stages(marks, marks[0][1] + timing["seconds"]),
        "best_iteration": result.ranker.booster.best_iteration,
        "version": result.version,
        "decision": result.decision.sentence(),
    }


def _best_of(run, repeats: int = REPEATS):
    """The fastest of `repeats` runs: its wall seconds, its cpu seconds (all threads), and its value."""
    best, value = {"seconds": float("inf")}, None
    for _ in range(repeats):
        started, before = time.perf_counter(), os.times()
        value = run()
        seconds, after = time.perf_counter() - started, os.times()
        if seconds < best["seconds"]:
            cpu = (after.user - before.user) + (after.system - before.system)
            best = {"seconds": seconds, "cpu_seconds": cpu}
    return best, value


def _stages(marks: list[tuple[str, float]], finished: float) -> dict[str, float]:
    """Seconds from each of the job's own steps to the next (feature families fold into features)."""
    known = [(JOB_STAGES[label], at) for label, at in marks if label in JOB_STAGES]
    ends = [at for _, at in known[1:]] + [finished]
    return {name: end - at for (name, at), end in zip(known, ends, strict=True)}


def _child(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.train")
    parser.add_argument("--contender", choices=RUN_ORDER, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--scratch", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=0)
    parser.add_argument("--best", type=int, default=0)
    args = parser.parse_args(argv)
    step = globals()[f"step_{args.contender}"]
    print(json.dumps(step(args.data, args.scratch, args.rounds, args.best)), flush=True)


if __name__ == "__main__":
    _child(sys.argv[1:])
