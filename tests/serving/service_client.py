"""Talking to the service in tests: the session's ASGI client, and sample rows as routers post them.

A module of its own, not conftest.py: several test folders have a conftest, and `from conftest
import` would take whichever was imported last.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from starlette.testclient import TestClient

from pipeline.incoming import alert_items

_APP = {}


def make_client() -> TestClient:
    """A client on the one ASGI app of the session (BentoML registers its metrics once per process);
    each `with` runs the lifespan, so each test gets a new service instance from the current env."""
    if "app" not in _APP:
        from serving.service import JourneyRank

        _APP["app"] = JourneyRank.to_asgi()
    return TestClient(_APP["app"], raise_server_exceptions=False)


def alert_json(frame: pd.DataFrame) -> list[dict]:
    """Alerts as a router would post them (the contract's schema, JSON types), with resolutions."""
    return alert_items(frame, with_resolution=True)


def outcome_json(frame: pd.DataFrame) -> list[dict]:
    records = frame.assign(window_start=frame["window_start"].map(pd.Timestamp.isoformat)).to_dict(
        "records"
    )
    return [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in records]


def last_alerts(sample_dir: Path, hours: float = 1.0, limit: int = 100) -> pd.DataFrame:
    alerts = pd.read_parquet(sample_dir / "alerts.parquet")
    return alerts[alerts["fired_at"] > alerts["fired_at"].max() - pd.Timedelta(hours=hours)].head(
        limit
    )
