"""Every route and every error, through BentoML's ASGI app."""

from __future__ import annotations

import pandas as pd
import pytest
from service_client import alert_json, last_alerts, make_client, outcome_json

from models.inference_log import InferenceLog


def test_rank_answers_every_field_highest_incident_priority_first(client, sample_dir, served):
    alerts = alert_json(last_alerts(sample_dir))
    response = client.post("/rank", json={"alerts": alerts})
    assert response.status_code == 200, response.text
    body = response.json()
    ranked = body["ranked"]
    assert {r["alert_id"] for r in ranked} == {a["alert_id"] for a in alerts}
    order = [(r["incident_priority"], r["priority"]) for r in ranked]
    assert order == sorted(order, reverse=True)  # by its incident's priority, then its own
    assert all(r["incident_priority"] >= r["priority"] for r in ranked)
    top = ranked[0]
    assert top["tier"] in {"P1", "P2", "P3", "P4"} and 0 <= top["impact_probability"] <= 1
    assert top["reasons"] and all(isinstance(r, str) for r in top["reasons"])
    assert body["model"]["version"] == served[1].version
    assert body["model"]["journey_map_version"] == "2026-10-01"


def test_every_ranked_alert_is_logged_before_the_answer(client, sample_dir, service_env):
    alerts = alert_json(last_alerts(sample_dir, limit=25))
    client.post("/rank", json={"alerts": alerts})
    logged = InferenceLog.in_home(service_env).export()
    assert set(logged["alert_id"]) == {a["alert_id"] for a in alerts}
    assert {
        "model_version",
        "journey_map_version",
        "feature.completion_drop_15m",
        "priority",
    } <= set(logged.columns)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"fired_at": "2026-10-25T10:00:00"}, "fired_at"),  # no time zone
        ({"fired_at": "yesterday at noon"}, "fired_at"),
        ({"anomaly_score": 1.5}, "anomaly_score"),
        ({"severity": "urgent"}, "severity"),
        ({"alert_id": ""}, "alert_id"),
    ],
)
def test_bad_alerts_get_422_naming_the_field(client, sample_dir, change, where):
    alert = {**alert_json(last_alerts(sample_dir, limit=1))[0], **change}
    response = client.post("/rank", json={"alerts": [alert]})
    assert response.status_code == 422
    assert where in response.json()["error"]


def test_nan_and_infinity_are_refused_with_422(client, sample_dir):
    alert = alert_json(last_alerts(sample_dir, limit=1))[0]
    for value in ("NaN", "Infinity"):
        raw = pd.io.json.ujson_dumps({"alerts": [{**alert, "anomaly_score": 0.5}]}).replace(
            "0.5", value
        )
        response = client.post("/rank", content=raw, headers={"content-type": "application/json"})
        assert response.status_code == 422 and "anomaly_score" in response.json()["error"]


def test_more_than_a_thousand_alerts_get_413(client, sample_dir):
    one = alert_json(last_alerts(sample_dir, limit=1))[0]
    many = [{**one, "alert_id": f"bulk-{i}"} for i in range(1001)]
    response = client.post("/rank", json={"alerts": many})
    assert response.status_code == 413 and "at most 1000" in response.json()["error"]


def test_malformed_json_is_a_4xx_with_a_message_never_a_500(client):
    for body in (b"not json", b"{}", b'{"alerts": "many"}', b'{"alerts": [42]}'):
        response = client.post("/rank", content=body, headers={"content-type": "application/json"})
        assert 400 <= response.status_code < 500 and response.json()["error"]


def test_journey_metrics_changes_and_feedback_are_stored(client, sample_dir):
    outcomes = pd.read_parquet(sample_dir / "journey_outcomes.parquet").tail(50)
    assert client.post("/journey-metrics", json={"rows": outcome_json(outcomes)}).json() == {
        "stored": 50
    }
    change = {
        "change_id": "c-1",
        "ts": "2026-10-25T23:00:00Z",
        "service": "checkout-api",
        "kind": "deploy",
    }
    assert client.post("/changes", json={"rows": [change]}).json() == {"stored": 1}
    verdict = {
        "alert_id": "alrt-0000001",
        "impact": 1,
        "ts": "2026-10-25T23:00:00Z",
        "author": "sre",
    }
    assert client.post("/feedback", json={"rows": [verdict]}).json() == {"stored": 1}


def test_outcome_rows_that_do_not_add_up_are_refused(client):
    row = {
        "window_start": "2026-10-25T23:00:00Z",
        "journey": "purchase",
        "stage": "checkout",
        "segment": "new",
        "sessions": 5,
        "completed": 4,
        "abandoned": 3,
    }
    response = client.post("/journey-metrics", json={"rows": [row]})
    assert response.status_code == 422 and "exceed sessions" in response.json()["error"]


def test_counts_beyond_what_the_store_can_hold_are_refused_not_a_500(client):
    """Found by the reliability suite's fuzzing: 2**63 sessions used to reach SQLite and fail."""
    row = {
        "window_start": "2026-10-25T23:00:00Z",
        "journey": "purchase",
        "stage": "checkout",
        "segment": "new",
        "sessions": 2**63,
        "completed": 0,
        "abandoned": 0,
    }
    response = client.post("/journey-metrics", json={"rows": [row]})
    assert response.status_code == 422 and "sessions" in response.json()["error"]


def test_without_live_journey_data_alerts_are_still_ranked_and_flagged(service_env, sample_dir):
    with make_client() as cold:
        alerts = last_alerts(sample_dir, limit=40)
        response = cold.post("/rank", json={"alerts": alert_json(alerts)})
    assert response.status_code == 200
    ranked = response.json()["ranked"]
    mapped = [r for r in ranked if r["journey"] is not None]
    assert mapped and all("no_live_journey_data" in r["flags"] for r in mapped)


def test_health_readiness_metrics_and_the_openapi_page(client, sample_dir):
    from prometheus_client import (
        generate_latest,
    )  # /metrics itself is checked against a real server

    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    client.post("/rank", json={"alerts": alert_json(last_alerts(sample_dir, limit=5))})
    metrics = generate_latest().decode()
    for name in (
        "journeyrank_alerts_ranked_total",
        "journeyrank_unmapped_share",
        "journeyrank_state_lag_seconds",
        "journeyrank_rank_seconds",
    ):
        assert name in metrics
    spec = client.get("/docs.json").json()
    for route in ("/rank", "/journey-metrics", "/changes", "/feedback"):
        assert route in spec["paths"]
    assert "with a time zone" in str(spec)  # field descriptions reach the page


def test_with_a_token_every_post_needs_it(service_env, sample_dir, monkeypatch):
    monkeypatch.setenv("JOURNEYRANK_API_TOKEN", "s3cret-token")
    body = {"alerts": alert_json(last_alerts(sample_dir, limit=2))}
    with make_client() as guarded:
        assert guarded.post("/rank", json=body).status_code == 401
        assert (
            guarded.post("/rank", json=body, headers={"Authorization": "Bearer wrong"}).status_code
            == 401
        )
        assert (
            guarded.post(
                "/rank", json=body, headers={"Authorization": "Bearer s3cret-token"}
            ).status_code
            == 200
        )
        assert guarded.get("/healthz").status_code == 200
