"""Rows dated in the future are refused with a 422 naming the row, and never move the service's "now"."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pandas as pd
import pytest
from service_client import alert_json, last_alerts, make_client, outcome_json

from serving.live import LiveState

YEAR_2100 = pd.Timestamp("2100-01-01", tz="UTC")


def _rank(client, alerts: list[dict]) -> list[dict]:
    response = client.post("/rank", json={"alerts": alerts})
    assert response.status_code == 200, response.text
    return response.json()["ranked"]


def test_one_row_from_2100_is_refused_and_changes_no_answer(
    service_env, sample_dir, monkeypatch, tmp_path
):
    """The issue's attack: one journey-metrics row dated 2100-01-01 changed 27 of 66 answers."""
    monkeypatch.setenv("JOURNEYRANK_WARM_FROM", str(sample_dir))
    alerts = alert_json(last_alerts(sample_dir, hours=2.0, limit=66))
    outcomes = pd.read_parquet(sample_dir / "journey_outcomes.parquet").tail(2)
    rows = [*outcome_json(outcomes), *outcome_json(outcomes.tail(1).assign(window_start=YEAR_2100))]
    with make_client() as client:
        clean = _rank(client, alerts)
    monkeypatch.setenv("JOURNEYRANK_HOME", str(tmp_path / "attacked"))
    with make_client() as client:
        refused = client.post("/journey-metrics", json={"rows": rows})
        assert refused.status_code == 422
        assert refused.json()["error"].startswith(
            "rows[2].window_start: 2100-01-01T00:00:00+00:00 is dated in the future; "
            "expected a time at most 10 min ahead of the clock ("
        )
        attacked = _rank(client, alerts)
    assert attacked == clean


@pytest.mark.parametrize(
    ("route", "body", "named"),
    [
        ("/rank", lambda a: {"alerts": [a, {**a, "alert_id": "from-2100", "fired_at": "2100-01-01T00:00:00Z"}]},
         "alerts[1].fired_at (alert_id 'from-2100')"),
        ("/changes", lambda a: {"rows": [{"change_id": "c-2100", "ts": "2100-01-01T00:00:00Z",
                                          "service": a["service"], "kind": "deploy"}]},
         "rows[0].ts (change_id 'c-2100')"),
        ("/feedback", lambda a: {"rows": [{"alert_id": a["alert_id"], "impact": 1,
                                           "ts": "2100-01-01T00:00:00Z"}]},
         "rows[0].ts (alert_id "),
    ],
)  # fmt: skip
def test_every_route_refuses_rows_from_the_future(client, sample_dir, route, body, named):
    alert = alert_json(last_alerts(sample_dir, limit=1))[0]
    response = client.post(route, json=body(alert))
    assert response.status_code == 422
    assert response.json()["error"].startswith(named)


def test_skew_within_the_tolerance_is_accepted(client, sample_dir):
    alert = alert_json(last_alerts(sample_dir, limit=1))[0]
    soon = (pd.Timestamp.now(tz="UTC") + pd.Timedelta(minutes=5)).isoformat()
    assert client.post("/rank", json={"alerts": [{**alert, "fired_at": soon}]}).status_code == 200


def test_the_tolerance_is_a_setting(service_env, sample_dir, monkeypatch):
    monkeypatch.setenv("JOURNEYRANK_FUTURE_TOLERANCE_MIN", "1")
    alert = alert_json(last_alerts(sample_dir, limit=1))[0]
    soon = (pd.Timestamp.now(tz="UTC") + pd.Timedelta(minutes=5)).isoformat()
    with make_client() as client:
        response = client.post("/rank", json={"alerts": [{**alert, "fired_at": soon}]})
    assert response.status_code == 422 and "at most 1 min ahead" in response.json()["error"]


def test_now_never_passes_the_wall_clock():
    """A row a few minutes ahead (within the tolerance) is kept, but "now" stays at the clock."""
    ahead = time.time_ns() + 5 * 60 * 10**9
    live = LiveState.__new__(LiveState)
    live.store = SimpleNamespace(latest=lambda table, column: ahead)
    live.mirror = SimpleNamespace(data_end_ns=None)
    before = time.time_ns()
    assert before <= live.event_time_ns() <= time.time_ns()
    live.store = SimpleNamespace(latest=lambda table, column: 10**18)  # 2001: the data's own time
    assert live.event_time_ns() == 10**18
