"""`journeyrank demo`: the main job end to end on the embedded sample, for a newcomer's first look."""

from __future__ import annotations

import filecmp
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from features.settings import Settings
from pipeline.simulate import SimulationConfig, simulate
from pipeline.validate import render_profile, validate_data_dir

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "data" / "sample"
SAMPLE_DAYS = 21
SAMPLE_SEED = 20261101  # data/sample/README.md names the same recipe
CONTRACT_FILES = (
    "alerts.parquet",
    "journey_outcomes.parquet",
    "changes.parquet",
    "journey_map.yaml",
)


@dataclass(frozen=True)
class DemoResult:
    sample_dir: Path
    reproduced: bool


def run_demo(settings: Settings, console: Console, sample_dir: Path = SAMPLE_DIR) -> DemoResult:
    """Re-simulate the sample from its seed, check it matches byte for byte, validate and profile it."""
    console.rule("1. simulate: the sample's recipe, again")
    scratch = settings.home / "demo" / "simulated"
    result = simulate(SimulationConfig(out=scratch, days=SAMPLE_DAYS, seed=SAMPLE_SEED))
    same = all(
        filecmp.cmp(scratch / name, sample_dir / name, shallow=False) for name in CONTRACT_FILES
    )
    console.print(
        f"{result.rows['alerts']:,} alerts over {SAMPLE_DAYS} days in {result.seconds:.1f} s; "
        + ("byte-identical to data/sample" if same else "[yellow]differs from data/sample[/yellow]")
    )
    console.rule("2. validate: the data contract and a profile of the sample")
    console.print(render_profile(validate_data_dir(sample_dir)))
    return DemoResult(sample_dir, same)
