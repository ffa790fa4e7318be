"""`journeyrank demo`: the main job end to end on the embedded sample, for a newcomer's first look."""

from __future__ import annotations

import filecmp
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from features.loading import load_data_dir
from features.settings import Settings
from pipeline.render import comparison
from pipeline.score import score_alerts
from pipeline.simulate import SimulationConfig, simulate
from pipeline.train import TrainResult, train
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
INCOMING_HOURS = 2
SHOWN = 12


@dataclass(frozen=True)
class DemoResult:
    sample_dir: Path
    reproduced: bool
    trained: TrainResult
    ranked: pd.DataFrame


def run_demo(settings: Settings, console: Console, sample_dir: Path = SAMPLE_DIR) -> DemoResult:
    """Simulate (check the sample's recipe), validate, train and register, then rank incoming alerts."""
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
    console.rule("3. features → train → MLflow registry")
    with console.status("training") as status:
        trained = train(
            sample_dir, settings, progress=lambda step: status.update(f"training: {step}")
        )
    console.print(
        comparison(
            trained.evaluation, f"held-out days, page budget {trained.evaluation.budget:.0%}"
        )
    )
    console.print(f"journeyrank v{trained.version}: {trained.decision.sentence()}")
    console.rule(f"4. rank the last {INCOMING_HOURS} hours of alerts as they came in")
    data = load_data_dir(sample_dir)
    incoming = data.alerts[
        data.alerts["fired_at"] > data.alerts["fired_at"].max() - pd.Timedelta(hours=INCOMING_HOURS)
    ]
    ranked = score_alerts(trained.ranker, data, incoming, trained.version)
    console.print(ranked_table(ranked.head(SHOWN), f"top {SHOWN} of {len(ranked)} incoming alerts"))
    console.print(f"\nMLflow UI: uv run mlflow ui --backend-store-uri {settings.tracking_uri}")
    return DemoResult(sample_dir, same, trained, ranked)


def ranked_table(ranked: pd.DataFrame, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("tier", "probability", "alert", "journey / stage", "top reason", "playbook"):
        table.add_column(column, overflow="fold")
    for row in ranked.itertuples():
        reasons = json.loads(row.reasons)
        table.add_row(
            row.tier,
            f"{row.impact_probability:.2f}",
            row.alert_id,
            f"{row.journey} / {row.stage}" if row.journey else "(unmapped)",
            reasons[0] if reasons else "",
            (row.playbook or "")[:60],
        )
    return table
