"""Incidents in the service: `incident_id` on every answer, `GET /incidents[/{id}]`, auth, 404, restarts,
and the same incident ids online as the offline grouping gives the same alerts."""

from __future__ import annotations

import pandas as pd
import pytest
from service_client import alert_json, last_alerts, make_client

from features.config import IncidentConfig
from features.incidents import group_incidents
from features.journey_map import load_journey_map
from features.online import Retention

WARM_HOURS_BEFORE_END = 8  # the later hours hold changes too


@pytest.fixture
def ranked(client, sample_dir):
    alerts = alert_json(last_alerts(sample_dir, hours=2, limit=60))
    answer = client.post("/rank", json={"alerts": alerts})
    assert answer.status_code == 200, answer.text
    return answer.json()["ranked"]


def test_every_answer_carries_its_incident_and_the_open_ones_are_listed_by_priority(client, ranked):
    assert all(r["incident_id"].startswith("inc-") for r in ranked)
    listed = client.get("/incidents")
    assert listed.status_code == 200, listed.text
    incidents = listed.json()["incidents"]
    assert incidents, "the last hours' alerts leave incidents open"
    priorities = [i["priority"] for i in incidents]
    assert priorities == sorted(priorities, reverse=True)
    by_id = {i["incident_id"]: i for i in incidents}
    for answer in ranked:
        if answer["incident_id"] in by_id:
            incident = by_id[answer["incident_id"]]
            assert incident["priority"] >= answer["priority"]
            assert incident["tier"] <= answer["tier"]  # P1 sorts first: the incident's is highest
    first = incidents[0]
    assert first["alerts"] >= 1 and first["root_service"] and first["root_reason"]
    assert first["paged"] is None  # nothing is paged without forwarding
    assert client.get("/incidents/").json() == listed.json()


def test_one_incident_in_depth_with_its_alerts_and_changes(client, ranked):
    biggest = max(
        {r["incident_id"] for r in ranked},
        key=lambda i: sum(r["incident_id"] == i for r in ranked),
    )
    found = client.get(f"/incidents/{biggest}")
    assert found.status_code == 200, found.text
    detail = found.json()
    mine = {r["alert_id"] for r in ranked if r["incident_id"] == biggest}
    listed = [a["alert_id"] for a in detail["alert_list"]]
    assert mine <= set(listed) and len(listed) == detail["alerts"]
    fired = [a["fired_at"] for a in detail["alert_list"]]
    assert fired == sorted(fired) and detail["started_at"] <= fired[0]
    for change in detail["changes"]:
        assert change["change_id"] and change["service"]


def test_an_unknown_incident_is_a_404_that_says_so(client):
    missing = client.get("/incidents/inc-no-such-alert")
    assert missing.status_code == 404
    assert "no incident 'inc-no-such-alert'" in missing.json()["error"]


def test_the_incident_routes_need_the_token_when_one_is_set(service_env, monkeypatch):
    monkeypatch.setenv("JOURNEYRANK_API_TOKEN", "s3cret")
    with make_client() as client:
        for path in ("/incidents", "/incidents/inc-x"):
            refused = client.get(path)
            assert refused.status_code == 401 and "bearer token" in refused.json()["error"]
            wrong = client.get(path, headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
        ok = client.get("/incidents", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and ok.json() == {"incidents": []}


def test_a_restart_keeps_the_incidents_and_their_priorities_and_a_later_alert_joins_them(
    service_env, sample_dir, monkeypatch
):
    monkeypatch.setenv("JOURNEYRANK_WARM_FROM", str(sample_dir))
    alerts = alert_json(last_alerts(sample_dir, hours=2, limit=40))
    with make_client() as client:
        before = client.post("/rank", json={"alerts": alerts[:-1]}).json()["ranked"]
        listed = client.get("/incidents").json()
    with make_client() as client:  # the same home: the grouper comes back from the state store
        assert client.get("/incidents").json() == listed
        again = client.post("/rank", json={"alerts": alerts}).json()["ranked"]
    ids_before = {r["alert_id"]: r["incident_id"] for r in before}
    ids_again = {r["alert_id"]: r["incident_id"] for r in again}
    assert {a: ids_again[a] for a in ids_before} == ids_before  # re-sent: same incidents
    # each incident's priority so far came back too: its alerts rank no lower than it stood
    best = pd.DataFrame(before).groupby("incident_id")["priority"].max()
    for answer in again:
        if answer["incident_id"] in best.index:
            assert answer["incident_priority"] >= best[answer["incident_id"]] - 1e-12


def test_online_incident_ids_are_the_offline_ones(service_env, sample_dir, monkeypatch):
    """Warm-started up to a moment, then fed the later changes and alerts in small batches in fire
    order: every alert gets the incident the offline grouping gives the same alerts."""
    alerts = pd.read_parquet(sample_dir / "alerts.parquet").sort_values(["fired_at", "alert_id"])
    changes = pd.read_parquet(sample_dir / "changes.parquet")
    until = alerts["fired_at"].max() - pd.Timedelta(hours=WARM_HOURS_BEFORE_END)
    monkeypatch.setenv("JOURNEYRANK_WARM_FROM", str(sample_dir))
    monkeypatch.setenv("JOURNEYRANK_WARM_UNTIL", until.isoformat())
    later = alerts[alerts["fired_at"] >= until]
    online: dict[str, str] = {}
    with make_client() as client:
        rows = _changes_json(changes[changes["ts"] >= until])
        posted = client.post("/changes", json={"rows": rows})
        assert posted.status_code == 200 and posted.json()["stored"] == len(rows) > 0
        items = alert_json(later)
        for start in range(0, len(items), 7):
            answer = client.post("/rank", json={"alerts": items[start : start + 7]})
            assert answer.status_code == 200, answer.text
            online.update((r["alert_id"], r["incident_id"]) for r in answer.json()["ranked"])
    held = alerts[alerts["fired_at"] >= until - pd.Timedelta(minutes=Retention().alerts_min)]
    journey_map = load_journey_map(sample_dir / "journey_map.yaml")
    offline = group_incidents(held, journey_map, IncidentConfig(), changes)
    expected = dict(zip(held["alert_id"], offline["incident_id"], strict=True))
    assert len(online) == len(later) > 20
    assert online == {a: expected[a] for a in online}
    assert len(set(online.values())) < len(online), "some later alerts share an incident"


def _changes_json(frame: pd.DataFrame) -> list[dict]:
    rows = frame.assign(ts=frame["ts"].map(pd.Timestamp.isoformat)).to_dict("records")
    return [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in rows]
