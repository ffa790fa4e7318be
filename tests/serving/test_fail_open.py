"""Fail-open: when the model, the state store or the features cannot answer, /rank answers with
the criticality rule, flagged `fallback` — never a 5xx; /readyz says degraded; /metrics counts it."""

from __future__ import annotations

import sqlite3

import pandas as pd
from service_client import alert_json, last_alerts, make_client, outcome_json

import serving.engine
from serving.live import LiveState
from serving.state import SqliteStateStore


def _alerts(sample_dir, n: int = 30) -> list[dict]:
    return alert_json(last_alerts(sample_dir, hours=2.0, limit=n))


def _assert_fell_back(client, alerts: list[dict], cause: str) -> list[dict]:
    before = _fallbacks(cause)
    response = client.post("/rank", json={"alerts": alerts})
    assert response.status_code == 200, response.text
    ranked = response.json()["ranked"]
    assert {r["alert_id"] for r in ranked} == {a["alert_id"] for a in alerts}
    assert all("fallback" in r["flags"] for r in ranked)
    assert all(
        r["reasons"][0].startswith(f"fallback: the model could not answer ({cause}") for r in ranked
    )
    priorities = [r["priority"] for r in ranked]
    assert priorities == sorted(priorities, reverse=True)  # the criticality rule's order
    severity_tier = {"critical": "P2", "high": "P2", "warning": "P3", "info": "P4"}
    by_id = {a["alert_id"]: a for a in alerts}
    assert all(r["tier"] == severity_tier[by_id[r["alert_id"]]["severity"]] for r in ranked)
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "degraded"
    assert cause in ready.json()["causes"]
    # the registry /metrics exports (a real server's /metrics: tests/serving/test_server.py)
    assert _fallbacks(cause) == before + len(alerts)
    return ranked


def _fallbacks(cause: str) -> float:
    from prometheus_client import REGISTRY

    found = REGISTRY.get_sample_value("journeyrank_fallback_answers_total", {"cause": cause})
    return found or 0.0


def test_the_model_cannot_load(service_env, sample_dir, monkeypatch):
    def broken(folder):
        raise OSError(f"{folder}/booster.txt: truncated file")

    monkeypatch.setattr(serving.engine, "load_ranker", broken)
    with make_client() as client:
        ranked = _assert_fell_back(client, _alerts(sample_dir), "model")
        assert any(r["stage"] for r in ranked)  # the model's map still names the stages
        assert "booster.txt: truncated file" in client.get("/readyz").json()["causes"]["model"]


def test_the_state_store_is_unavailable_at_start(service_env, sample_dir, monkeypatch):
    from pipeline.serve import free_port

    monkeypatch.setenv(
        "JOURNEYRANK_STATE_URL", f"redis://127.0.0.1:{free_port()}/0"
    )  # nobody there
    with make_client() as client:
        _assert_fell_back(client, _alerts(sample_dir), "state_store")
        rows = outcome_json(pd.read_parquet(sample_dir / "journey_outcomes.parquet").tail(2))
        refused = client.post("/journey-metrics", json={"rows": rows})
        assert refused.status_code == 503  # the feed sends it again; BentoML words 5xx itself


def test_the_state_store_fails_mid_request_and_recovers(client, sample_dir, monkeypatch):
    alerts = _alerts(sample_dir, 40)
    assert client.get("/readyz").status_code == 200
    with monkeypatch.context() as broken:

        def disk_error(self, name, frame, *seen):
            raise sqlite3.OperationalError("disk I/O error")

        broken.setattr(SqliteStateStore, "put", disk_error)
        broken.setattr(SqliteStateStore, "put_seen", disk_error)
        _assert_fell_back(client, alerts[:20], "state_store")
    healthy = client.post("/rank", json={"alerts": alerts[20:]}).json()["ranked"]
    assert not any("fallback" in r["flags"] for r in healthy)
    assert client.get("/readyz").text != "" and "degraded" not in client.get("/readyz").text


def test_features_fail_for_a_request(client, sample_dir, monkeypatch):
    def failing(self, alerts):
        raise ValueError("a feature came out as an empty frame")

    monkeypatch.setattr(LiveState, "features_for", failing)
    _assert_fell_back(client, _alerts(sample_dir), "features")


def test_fallback_answers_keep_the_policy_floors(service_env, sample_dir, monkeypatch, tmp_path):
    alerts = _alerts(sample_dir)
    warning = next(a for a in alerts if a["severity"] in ("warning", "info"))
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        f"floors:\n  - name: keep\n    match: {{alert_name: '{warning['alert_name']}'}}\n    tier: P1\n"
    )
    monkeypatch.setenv("JOURNEYRANK_POLICY", str(policy))
    monkeypatch.setattr(serving.engine, "load_ranker", lambda folder: 1 / 0)
    with make_client() as client:
        ranked = client.post("/rank", json={"alerts": alerts}).json()["ranked"]
    floored = next(r for r in ranked if r["alert_id"] == warning["alert_id"])
    assert floored["tier"] == "P1" and {"fallback", "policy_floor"} <= set(floored["flags"])
    assert ranked[0]["tier"] == "P1"


def test_every_fallback_answer_is_logged(service_env, sample_dir, monkeypatch):
    from models.inference_log import InferenceLog

    monkeypatch.setattr(serving.engine, "load_ranker", lambda folder: 1 / 0)
    alerts = _alerts(sample_dir, 10)
    with make_client() as client:
        client.post("/rank", json={"alerts": alerts})
    logged = InferenceLog.in_home(service_env).export()
    assert set(logged["alert_id"]) == {a["alert_id"] for a in alerts}
    assert logged["flags"].str.contains("fallback").all()
