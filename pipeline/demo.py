"""`journeyrank demo`: the main job end to end on the embedded sample, for a newcomer's first look.

sample data → validate → features → train → MLflow registry (@champion) → BentoML service on
loopback → the last hours of journey outcomes pushed live → incoming alerts ranked → stopped.
"""

from __future__ import annotations

import filecmp
import json
import textwrap
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
from rich.console import Console
from rich.table import Table

from features.loading import load_journey_outcomes
from features.settings import Settings
from pipeline.incoming import INCOMING_FILE, incoming_cutoff
from pipeline.render import comparison
from pipeline.serve import free_port, import_model, start_service, stop_service, wait_until_ready
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
PUSH_ROWS = 500
SHOWN = 15


@dataclass(frozen=True)
class DemoResult:
    reproduced: bool
    trained: TrainResult
    ranked: list[dict]


def run_demo(settings: Settings, console: Console, sample_dir: Path = SAMPLE_DIR) -> DemoResult:
    same = _simulate_and_validate(console, settings, sample_dir)
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
    ranked = _serve_and_rank(console, settings, sample_dir)
    return DemoResult(same, trained, ranked)


def _simulate_and_validate(console: Console, settings: Settings, sample_dir: Path) -> bool:
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
    return same


def _serve_and_rank(console: Console, settings: Settings, sample_dir: Path) -> list[dict]:
    body = json.loads((sample_dir / INCOMING_FILE).read_text())
    cutoff = incoming_cutoff(
        pd.DataFrame({"fired_at": pd.to_datetime([a["fired_at"] for a in body["alerts"]])})
    )
    console.rule(
        "4. BentoML: import @champion, serve on loopback, warm state up to "
        + f"{cutoff:%Y-%m-%d %H:%M} UTC"
    )
    imported = import_model(settings)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_service(
        settings, port, warm_from=sample_dir, warm_until=cutoff.isoformat(), quiet=True
    )
    try:
        console.print(f"{imported.tag} ready at {url} in {wait_until_ready(url, process):.1f} s")
        with httpx.Client(base_url=url, timeout=60) as client:
            pushed = _push_outcomes(client, sample_dir, cutoff)
            console.print(
                f"pushed {pushed:,} journey outcome rows after the cutoff to /journey-metrics"
            )
            response = client.post("/rank", json=body)
            response.raise_for_status()
            ranked = response.json()["ranked"]
        console.rule(
            f"5. POST /rank: {len(ranked)} incoming alerts ({INCOMING_FILE}), "
            "highest incident priority first"
        )
        console.print(ranked_table(ranked[:SHOWN], f"top {SHOWN} of {len(ranked)}"))
    finally:
        stop_service(process)
    console.print("service stopped.\n")
    console.print(f"MLflow UI:   uv run mlflow ui --backend-store-uri {settings.tracking_uri}")
    console.print("Serve it:    uv run journeyrank serve --port 3000 --warm-from data/sample")
    console.print(
        f"Rank alerts: curl -s -X POST localhost:3000/rank -H 'content-type: application/json' "
        f"-d @data/sample/{INCOMING_FILE}"
    )
    return ranked


def _push_outcomes(client: httpx.Client, sample_dir: Path, cutoff: pd.Timestamp) -> int:
    outcomes = load_journey_outcomes(sample_dir / "journey_outcomes.parquet")
    live = outcomes[outcomes["window_start"] >= cutoff]
    rows = json.loads(
        live.assign(window_start=live["window_start"].map(pd.Timestamp.isoformat)).to_json(
            orient="records"
        )
    )
    for start in range(0, len(rows), PUSH_ROWS):
        client.post(
            "/journey-metrics", json={"rows": rows[start : start + PUSH_ROWS]}
        ).raise_for_status()
    return len(rows)


PLAYBOOK_CHARS = 90  # the playbook's first words; the service answers with all of it


def ranked_table(ranked: list[dict], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    columns = ("tier", "prob.", "alert", "incident", "journey / stage", "top reason", "playbook")
    for column in (*columns, "flags"):
        table.add_column(column, overflow="fold")
    for answer in ranked:
        stage = f"{answer['journey']} / {answer['stage']}" if answer["journey"] else "(unmapped)"
        table.add_row(
            answer["tier"],
            f"{answer['impact_probability']:.2f}",
            answer["alert_id"],
            "its own"
            if answer["incident_id"] == f"inc-{answer['alert_id']}"
            else answer["incident_id"],
            stage,
            (answer["reasons"] or [""])[0],
            textwrap.shorten(answer["playbook"] or "—", PLAYBOOK_CHARS, placeholder=" …"),
            ", ".join(answer["flags"]),
        )
    return table
