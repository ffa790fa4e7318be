"""A small valid data directory, built by hand, that each contract test breaks in one way."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

START = pd.Timestamp("2026-03-02 00:00", tz="UTC")
WINDOW = pd.Timedelta(minutes=5)
N_WINDOWS = 12

JOURNEY_MAP_YAML = """\
version: "2026-03-01"
segments: {new: 1.5, returning: 1.0}
journeys:
  signup:
    stages:
      - name: form
        impact: 0.6
        owner: growth-team
        services: {web: hard, auth: soft}
        playbooks: {latency: "Check the web tier.", default: "Open the signup dashboard."}
      - name: confirm
        impact: 0.9
        value: 10.0
        services: {auth: hard, mailer: soft}
dependencies:
  web: [auth, db]
  auth: [db]
escalation:
  P1: "incident room + product on-call"
  P2: "page the owning team"
"""


def make_outcomes() -> pd.DataFrame:
    """12 five-minute windows × 2 stages × 2 segments; sessions grow by one per window."""
    rows = []
    for window in range(N_WINDOWS):
        for stage, base in (("form", 20), ("confirm", 10)):
            for segment, factor in (("new", 1), ("returning", 2)):
                sessions = (base + window) * factor
                rows.append(
                    {
                        "window_start": START + window * WINDOW,
                        "journey": "signup",
                        "stage": stage,
                        "segment": segment,
                        "region": "eu",
                        "sessions": sessions,
                        "completed": sessions // 2,
                        "abandoned": sessions // 4,
                        "errors": window % 3,
                        "latency_p95_ms": 100.0 + window,
                    }
                )
    return pd.DataFrame(rows)


def make_alerts() -> pd.DataFrame:
    fired = [START + pd.Timedelta(minutes=m) for m in (7, 16, 23, 41)] + [
        START + pd.Timedelta(days=1)
    ]
    return pd.DataFrame(
        {
            "alert_id": ["a1", "a2", "a3", "a4", "a5"],
            "fired_at": fired,
            "resolved_at": [f + pd.Timedelta(minutes=10) for f in fired[:4]] + [pd.NaT],
            "source": ["prometheus", "prometheus", "grafana", "aiops", "prometheus"],
            "service": ["web", "db", "auth", "mailer", "billing"],
            "alert_name": ["HighLatency", "DiskFull", "ErrorRate", "Anomaly", "QueueDepth"],
            "severity": ["critical", "warning", "high", "info", "warning"],
            "signal": ["latency", "saturation", "errors", "anomaly", None],
            "anomaly_score": [np.nan, np.nan, np.nan, 0.8, np.nan],
            "region": ["eu", "eu", None, "eu", "eu"],
            "labels": [json.dumps({"team": "web"}), None, "{}", None, None],
        }
    )


def make_frames() -> dict[str, pd.DataFrame]:
    return {
        "alerts": make_alerts(),
        "journey_outcomes": make_outcomes(),
        "changes": pd.DataFrame(
            {
                "change_id": ["c1", "c2"],
                "ts": [START + pd.Timedelta(minutes=5), START + pd.Timedelta(minutes=30)],
                "service": ["web", "auth"],
                "kind": ["deploy", "config"],
                "description": ["v2.3.1", None],
            }
        ),
        "feedback": pd.DataFrame(
            {
                "alert_id": ["a1", "a2"],
                "impact": [1, 0],
                "ts": [START + pd.Timedelta(hours=2), START + pd.Timedelta(hours=3)],
                "author": ["sre-1", None],
                "note": [None, "noise"],
            }
        ),
        "truth": pd.DataFrame(
            {
                "alert_id": ["a1", "a2", "a3", "a4", "a5"],
                "incident_id": ["i1", None, "i1", None, None],
                "true_lost_value": [12.5, 0.0, 3.0, 0.0, 0.0],
                "true_impact": [1, 0, 1, 0, 0],
            }
        ),
        "session_events": pd.DataFrame(
            {
                "ts": [START + pd.Timedelta(seconds=s) for s in (1, 30, 60, 90, 120, 150)],
                "session_id": ["s1", "s1", "s1", "s2", "s2", "s2"],
                "journey": "signup",
                "stage": ["form", "form", "confirm", "form", "form", "form"],
                "segment": ["new", "new", "new", "returning", "returning", "returning"],
                "event": ["enter", "complete", "enter", "enter", "error", "abandon"],
            }
        ),
    }


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    """Parquet or CSV by suffix; CSV timestamps keep their offset, as the contract asks."""
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def write_data_dir(
    directory: Path,
    frames: dict[str, pd.DataFrame],
    fmt: str = "parquet",
    journey_map: str = JOURNEY_MAP_YAML,
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        write_table(frame, directory / f"{name}.{fmt}")
    (directory / "journey_map.yaml").write_text(journey_map)
    return directory
