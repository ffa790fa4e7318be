"""A real `bentoml serve` on a free loopback port, and parity of HTTP ranking with `journeyrank score`."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from service_client import alert_json, make_client

from features.loading import load_data_dir
from pipeline.score import score_alerts
from pipeline.serve import free_port, start_service, stop_service, wait_until_ready

pytestmark = pytest.mark.integration


def test_bentoml_serve_ranks_a_batch_on_loopback(served, sample_dir, tmp_path):
    settings, _ = served
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_service(settings, port, warm_from=sample_dir, quiet=True)
    try:
        wait_until_ready(url, process)
        alerts = pd.read_parquet(sample_dir / "alerts.parquet").tail(50)
        response = httpx.post(f"{url}/rank", json={"alerts": alert_json(alerts)}, timeout=30)
        assert response.status_code == 200
        assert len(response.json()["ranked"]) == 50
        metrics = httpx.get(f"{url}/metrics", timeout=5).text
        assert "journeyrank_alerts_ranked_total" in metrics and "bentoml_service_request" in metrics
        assert "journeyrank_pass_requests_count" in metrics
    finally:
        stop_service(process)


def cut_data_dir(sample_dir: Path, until: pd.Timestamp, out: Path) -> Path:
    """The sample as it stood at `until`: every table cut before it (the map copied)."""
    out.mkdir(parents=True)
    data = load_data_dir(sample_dir)
    data.alerts[data.alerts["fired_at"] < until].to_parquet(out / "alerts.parquet", index=False)
    outcomes = data.journey_outcomes
    outcomes[outcomes["window_start"] + data.window <= until].to_parquet(
        out / "journey_outcomes.parquet", index=False
    )
    data.changes[data.changes["ts"] < until].to_parquet(out / "changes.parquet", index=False)
    (out / "journey_map.yaml").write_text((sample_dir / "journey_map.yaml").read_text())
    return out


def history_and_incoming(sample_dir: Path, out: Path) -> tuple[Path, pd.DataFrame]:
    """The sample cut 3 h before its end (the history), and the 40 minutes of alerts after the cut."""
    alerts = pd.read_parquet(sample_dir / "alerts.parquet")
    until = alerts["fired_at"].max().floor("h") - pd.Timedelta(hours=3)
    history = cut_data_dir(sample_dir, until, out)
    incoming = alerts[
        (alerts["fired_at"] >= until) & (alerts["fired_at"] < until + pd.Timedelta(minutes=40))
    ]
    return history, incoming


def test_ranking_over_http_equals_journeyrank_score(
    served, sample_dir, service_env, tmp_path, monkeypatch
):
    _, trained = served
    history, incoming = history_and_incoming(sample_dir, tmp_path / "history")
    monkeypatch.setenv("JOURNEYRANK_WARM_FROM", str(history))
    with make_client() as client:
        over_http = client.post("/rank", json={"alerts": alert_json(incoming)}).json()["ranked"]
    batch = score_alerts(
        trained.ranker,
        load_data_dir(history),
        load_data_dir(sample_dir).alerts.loc[incoming.index],
        trained.version,
    )
    http = pd.DataFrame(over_http).set_index("alert_id").loc[batch["alert_id"]]
    np.testing.assert_allclose(http["priority"].to_numpy(), batch["priority"].to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(
        http["impact_probability"].to_numpy(), batch["impact_probability"].to_numpy(), rtol=1e-9
    )
    assert list(http["tier"]) == list(batch["tier"])
    assert [list(r) for r in http["reasons"]] == [
        __import__("json").loads(r) for r in batch["reasons"]
    ]
