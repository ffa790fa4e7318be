"""The demo's incoming batch: the sample's last hours of alerts as a `POST /rank` body (data/sample/incoming_alerts.json)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from features.loading import load_alerts

INCOMING_FILE = "incoming_alerts.json"
INCOMING_HOURS = 2


def incoming_cutoff(alerts: pd.DataFrame, hours: float = INCOMING_HOURS) -> pd.Timestamp:
    """Where history ends and the incoming batch begins: on the hour, `hours` before the last alert."""
    return (alerts["fired_at"].max() - pd.Timedelta(hours=hours)).ceil("h")


def rank_body(alerts: pd.DataFrame) -> dict:
    """Alerts as a router posts them to /rank (JSON types, time stamps in ISO 8601 with their zone)."""
    return {"alerts": alert_items(alerts)}


def alert_items(alerts: pd.DataFrame, with_resolution: bool = False) -> list[dict]:
    """One JSON object per alert in the contract's schema; optional fields only where present.
    A router knows when an alert resolved only later: `with_resolution` adds it (replays, tests)."""
    items = []
    for row in alerts.itertuples():
        item = {
            "alert_id": row.alert_id,
            "fired_at": row.fired_at.isoformat(),
            "source": row.source,
            "service": row.service,
            "alert_name": row.alert_name,
            "severity": row.severity,
        }
        for name in ("signal", "region"):
            if pd.notna(getattr(row, name)):
                item[name] = getattr(row, name)
        if pd.notna(row.anomaly_score):
            item["anomaly_score"] = float(row.anomaly_score)
        if pd.notna(row.labels):
            item["labels"] = json.loads(row.labels)
        if with_resolution and pd.notna(row.resolved_at):
            item["resolved_at"] = row.resolved_at.isoformat()
        items.append(item)
    return items


def write_incoming(data_dir: Path) -> Path:
    alerts = load_alerts(data_dir / "alerts.parquet")
    batch = alerts[alerts["fired_at"] >= incoming_cutoff(alerts)]
    path = data_dir / INCOMING_FILE
    path.write_text(json.dumps(rank_body(batch), indent=1) + "\n")
    return path


if __name__ == "__main__":
    print(f"wrote {write_incoming(Path(sys.argv[1]))}")
