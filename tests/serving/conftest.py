"""A trained model imported into a private BentoML store, and the service's ASGI app around it."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from starlette.testclient import TestClient

from features.settings import settings_at
from pipeline.serve import bentoml_env, import_model
from pipeline.train import train


@pytest.fixture(scope="session")
def served(tmp_path_factory, sample_dir):
    """Settings whose home holds an MLflow registry with a champion, imported into BentoML."""
    settings = settings_at(tmp_path_factory.mktemp("serving-home"))
    result = train(sample_dir, settings)
    import_model(settings)
    return settings, result


@pytest.fixture
def service_env(served, tmp_path, monkeypatch):
    """A fresh JOURNEYRANK_HOME for the state store and log, sharing the session's BentoML store."""
    settings, _ = served
    for key, value in bentoml_env(settings).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("JOURNEYRANK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("JOURNEYRANK_API_TOKEN", raising=False)
    monkeypatch.delenv("JOURNEYRANK_WARM_FROM", raising=False)
    return tmp_path / "home"


_APP = {}


def make_client() -> TestClient:
    """A client on the one ASGI app of the session (BentoML registers its metrics once per process);
    each `with` runs the lifespan, so each test gets a new service instance from the current env."""
    if "app" not in _APP:
        from serving.service import JourneyRank

        _APP["app"] = JourneyRank.to_asgi()
    return TestClient(_APP["app"], raise_server_exceptions=False)


@pytest.fixture
def client(service_env, sample_dir, monkeypatch):
    monkeypatch.setenv("JOURNEYRANK_WARM_FROM", str(sample_dir))
    with make_client() as test_client:
        yield test_client


def alert_json(frame: pd.DataFrame) -> list[dict]:
    """Alerts as a router would post them (the contract's schema, JSON types)."""
    out = []
    for row in frame.itertuples():
        item = {
            "alert_id": row.alert_id,
            "fired_at": row.fired_at.isoformat(),
            "source": row.source,
            "service": row.service,
            "alert_name": row.alert_name,
            "severity": row.severity,
            "signal": row.signal,
            "region": row.region,
            "labels": json.loads(row.labels),
        }
        if pd.notna(row.anomaly_score):
            item["anomaly_score"] = float(row.anomaly_score)
        if pd.notna(row.resolved_at):
            item["resolved_at"] = row.resolved_at.isoformat()
        out.append(item)
    return out


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
