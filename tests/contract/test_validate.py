"""`validate_data_dir` checks the whole directory and profiles it; the figures match the fixture."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from contract_data import START, write_table
from rich.console import Console

from features.errors import ContractError
from pipeline.validate import StageSessions, render_profile, validate_data_dir


def test_profile_figures(data_dir: Path) -> None:
    profile = validate_data_dir(data_dir)
    assert profile.journey_map_version == "2026-03-01"
    assert profile.rows == {
        "alerts": 5,
        "journey_outcomes": 48,
        "changes": 2,
        "feedback": 2,
        "truth": 5,
        "session_events": 6,
    }
    assert profile.window == pd.Timedelta(minutes=5)
    assert profile.time_ranges["journey_outcomes"] == (START, START + pd.Timedelta(minutes=55))
    assert profile.time_ranges["alerts"] == (
        START + pd.Timedelta(minutes=7),
        START + pd.Timedelta(days=1),
    )
    assert profile.time_ranges["session_events"][1] == START + pd.Timedelta(seconds=150)
    assert "truth" not in profile.time_ranges
    # five alerts over two calendar days
    assert profile.alert_days == 2
    assert profile.alerts_per_day_by_severity == {
        "critical": 0.5,
        "high": 0.5,
        "warning": 1.0,
        "info": 0.5,
    }
    assert profile.alerts_per_day_by_source == {"prometheus": 1.5, "aiops": 0.5, "grafana": 0.5}
    # billing is nowhere in the map; db is covered through web's and auth's dependencies
    assert profile.mapped_alert_share == pytest.approx(0.8)
    assert profile.unmapped_services == ["billing"]
    assert profile.outcome_days == 1
    assert profile.sessions_by_stage == [
        StageSessions("signup", "form", 0, 918, 918.0),
        StageSessions("signup", "confirm", 1, 558, 558.0),
    ]


def test_profile_serialises_to_json(data_dir: Path) -> None:
    data = json.loads(json.dumps(validate_data_dir(data_dir).to_dict()))
    assert data["window_seconds"] == 300
    assert data["time_ranges"]["journey_outcomes"][0] == "2026-03-02T00:00:00+00:00"
    assert data["sessions_by_stage"][0]["stage"] == "form"


def test_profile_renders(csv_dir: Path) -> None:
    console = Console(record=True, width=400)
    console.print(render_profile(validate_data_dir(csv_dir)))
    text = console.export_text()
    assert "windows of 5 min" in text
    assert "80% of alerts" in text
    assert "confirm" in text and "918" in text
    assert "not in the map (most alerts first): billing." in text


def test_bad_session_events_fail_validation(
    data_dir: Path, frames: dict[str, pd.DataFrame]
) -> None:
    events = frames["session_events"]
    events.loc[3, "stage"] = "review"
    write_table(events, data_dir / "session_events.parquet")
    with pytest.raises(ContractError) as caught:
        validate_data_dir(data_dir)
    assert str(caught.value) == (
        "session_events.parquet: column 'stage', row 4: expected a stage of journey 'signup' "
        "in the journey map (form, confirm); got 'review'"
    )


def test_directory_without_optional_files(data_dir: Path) -> None:
    for name in ("changes", "feedback", "truth", "session_events"):
        (data_dir / f"{name}.parquet").unlink()
    profile = validate_data_dir(data_dir)
    assert set(profile.rows) == {"alerts", "journey_outcomes"}
