"""The dashboard at /ui through the service's ASGI app: queue, filters, health, drill-down, sign-in."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from service_client import alert_json, last_alerts, make_client

from serving.dashboard import auth, svg

TOKEN = "s3cret-dashboard-token"


@pytest.fixture
def ranked(client, sample_dir):
    """The alert ids /rank answered with, highest priority first."""
    body = {"alerts": alert_json(last_alerts(sample_dir, hours=1.0, limit=40))}
    response = client.post("/rank", json=body)
    assert response.status_code == 200
    return [a["alert_id"] for a in response.json()["ranked"]]


def test_queue_folds_the_ranked_alerts_under_their_incidents(client, ranked):
    queue = client.get("/ui/api/queue").json()
    rows, incidents = queue["rows"], queue["incidents"]
    assert [r["alert_id"] for r in rows] == ranked
    folded = [a["alert_id"] for i in incidents for a in i["alerts"]]
    assert sorted(folded) == sorted(ranked) and len(incidents) < len(ranked)
    for incident in incidents:  # each incident's alerts keep the queue's order
        mine = [a["alert_id"] for a in incident["alerts"]]
        assert mine == [r for r in ranked if r in mine]
        assert incident["tier"] == min(a["tier"] for a in incident["alerts"])
    priorities = [i["priority"] for i in incidents]
    assert priorities == sorted(priorities, reverse=True)
    page = client.get("/ui/")
    assert page.status_code == 200
    assert page.text.count('class="row member tier-') == len(ranked)
    assert page.text.count('class="incident-head tier-') == len(incidents)
    assert page.text.index(incidents[0]["incident_id"]) < page.text.index(ranked[-1])


def test_an_incident_drill_down_shows_its_alerts_on_the_curve_and_its_changes(client, ranked):
    incidents = client.get("/ui/api/queue").json()["incidents"]
    biggest = max(incidents, key=lambda i: len(i["alerts"]))
    page = client.get(f"/ui/incidents/{biggest['incident_id']}")
    assert page.status_code == 200
    assert biggest["root_service"] in page.text and 'id="changes"' in page.text
    for alert in biggest["alerts"]:
        assert f'data-alert="{alert["alert_id"]}"' in page.text
    assert page.text.count('<line class="event"') >= len(biggest["alerts"])
    missing = client.get("/ui/incidents/inc-nothing")
    assert missing.status_code == 404 and "No incident with that id" in missing.text


def test_ui_without_a_slash_leads_to_the_queue(client):
    response = client.get("/ui", follow_redirects=False)
    assert response.status_code in (301, 307, 308)
    assert response.headers["location"].endswith("/ui/")


def test_filters_narrow_the_queue(client, ranked):
    rows = client.get("/ui/api/queue").json()["rows"]
    tier = rows[-1]["tier"]
    by_tier = client.get("/ui/api/queue", params={"tier": tier}).json()["rows"]
    assert 0 < len(by_tier) <= len(rows)
    assert {r["tier"] for r in by_tier} == {tier}
    journey = next(r["journey"] for r in rows if r["journey"])
    by_journey = client.get("/ui/", params={"journey": journey}).text
    assert by_journey.count('class="row member tier-') == sum(r["journey"] == journey for r in rows)


def test_health_shows_a_funnel_for_every_journey_of_the_map(client, ranked):
    page = client.get("/ui/health")
    assert page.status_code == 200
    for journey in ("browse", "signup", "purchase", "renewal"):
        assert f'data-journey="{journey}"' in page.text
    assert page.text.count('class="chart funnel"') == 4


def test_health_names_the_services_the_map_lacks_as_the_map_check_ranks_them(
    client, served, ranked
):
    _, result = served
    carried = result.ranker.profile["map_check"]["unmapped_services"]
    assert carried, "the sample's map leaves services out"
    page = client.get("/ui/health").text
    section = page[page.index('id="map-gaps"') :]
    suggested = [u["service"] for u in carried if u["suggested"]]
    others = [u["service"] for u in carried if not u["suggested"]]
    for service in suggested:
        assert f'data-service="{service}"' in section
    if others:
        assert ", ".join(others) in section  # in the map check's order
    positions = [section.index(f'data-service="{s}"') for s in suggested]
    assert positions == sorted(positions)


def test_drill_down_explains_the_alert(client, ranked):
    page = client.get(f"/ui/alerts/{ranked[0]}")
    assert page.status_code == 200
    assert 'aria-label="contributions"' in page.text
    assert 'id="playbook"' in page.text and 'id="route"' in page.text
    assert "Earlier firings of" in page.text
    assert client.get("/ui/alerts/no-such-alert").status_code == 404


def test_the_dashboard_is_read_only(client, ranked):
    assert client.post("/ui/").status_code == 405
    assert client.post("/ui/api/queue").status_code == 405


def test_with_a_token_the_ui_asks_for_it_once_and_keeps_a_cookie(service_env, monkeypatch):
    monkeypatch.setenv("JOURNEYRANK_API_TOKEN", TOKEN)
    with make_client() as client:
        first = client.get("/ui/", follow_redirects=False)
        assert first.status_code == 303 and first.headers["location"] == "/ui/login"
        assert client.get("/ui/api/queue").status_code == 401
        assert client.get("/ui/static/app.css").status_code == 200

        wrong = client.post("/ui/login", data={"token": "nope"}, follow_redirects=False)
        assert wrong.status_code == 401 and "not right" in wrong.text

        # no bearer header: the form itself is the way in
        right = client.post("/ui/login", data={"token": TOKEN}, follow_redirects=False)
        assert right.status_code == 303 and right.headers["location"] == "/ui/"
        cookie = right.headers["set-cookie"]
        assert "httponly" in cookie.lower() and "path=/ui/" in cookie.lower()
        assert TOKEN not in cookie and TOKEN not in right.headers["location"]
        assert "max-age=43200" in cookie.lower()  # 12 h by default
        assert auth.signed_in(client.cookies.get(auth.COOKIE), TOKEN)

        assert client.get("/ui/", follow_redirects=False).status_code == 200
        assert client.get("/ui/api/queue").status_code == 200
        # the cookie opens the dashboard, not the API
        assert client.post("/rank", json={"alerts": []}).status_code == 401


def test_sign_out_ends_the_session(service_env, monkeypatch):
    monkeypatch.setenv("JOURNEYRANK_API_TOKEN", TOKEN)
    with make_client() as client:
        client.post("/ui/login", data={"token": TOKEN}, follow_redirects=False)
        page = client.get("/ui/")
        assert page.status_code == 200 and 'href="/ui/logout"' in page.text
        out = client.get("/ui/logout", follow_redirects=False)
        assert out.status_code == 303 and out.headers["location"] == "/ui/login"
        assert auth.COOKIE not in client.cookies
        assert client.get("/ui/", follow_redirects=False).status_code == 303


def test_a_sign_in_expires_after_the_configured_hours(service_env, monkeypatch):
    monkeypatch.setenv("JOURNEYRANK_API_TOKEN", TOKEN)
    monkeypatch.setenv("JOURNEYRANK_DASHBOARD_SESSION_HOURS", "2")
    with make_client() as client:
        right = client.post("/ui/login", data={"token": TOKEN}, follow_redirects=False)
        assert "max-age=7200" in right.headers["set-cookie"].lower()
        cookie = client.cookies.get(auth.COOKIE)
        expires_at = int(cookie.split(".")[0])
        assert auth.signed_in(cookie, TOKEN, now=expires_at - 1)
        assert not auth.signed_in(
            cookie, TOKEN, now=expires_at
        )  # the server checks, not the browser
        stale, _ = auth.new_session(TOKEN, hours=2, now=0)  # a sign-in that ended in 1970
        client.cookies.set(auth.COOKIE, stale, path="/ui/")
        assert client.get("/ui/", follow_redirects=False).status_code == 303
        forged = f"{expires_at + 10**6}.{cookie.split('.')[1]}"  # a later end, the old MAC
        client.cookies.set(auth.COOKIE, forged, path="/ui/")
        assert client.get("/ui/", follow_redirects=False).status_code == 303


def test_without_a_token_there_is_nothing_to_sign_in_to(client):
    response = client.get("/ui/login", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/ui/"


def test_the_waterfall_adds_up_to_the_models_raw_score(served, sample_dir, client, ranked):
    _, trained = served
    from models.inference_log import InferenceLog
    from serving.dashboard.data import TOP_CONTRIBUTIONS, contributions

    logged = InferenceLog.in_home(Path(os.environ["JOURNEYRANK_HOME"])).lookup(ranked[0])
    chart = contributions(trained.ranker, logged["features"])
    assert len(chart["items"]) == TOP_CONTRIBUTIONS + 1  # the rest in one bar
    assert chart["base"] + sum(v for _, v in chart["items"]) == pytest.approx(chart["total"])
    frame = pd.DataFrame([logged["features"]])
    assert chart["total"] == pytest.approx(trained.ranker.raw_scores(frame)[0])


def test_charts_escape_names_and_mark_what_matters():
    bars = svg.waterfall([("a<b", 0.5), ("c", -0.2)], base=-1.0, total=-0.7)
    assert "a&lt;b" in bars and "a<b" not in bars
    assert bars.count("<rect") == 2 and svg.AWAY_FROM_IMPACT in bars

    assert "No journey outcomes" in svg.curve([], marker=0.0)
    line = svg.curve([(-10.0, 0.8, 0.9), (0.0, 0.5, 0.9), (5.0, None, 0.9)], marker=0.0)
    assert line.count("<polyline") == 2 and "alert fired" in line

    stages = [
        {
            "stage": "cart",
            "sessions": 10,
            "completion_now": 0.5,
            "completion_normal": 0.9,
            "hurting": True,
        },
        {
            "stage": "pay",
            "sessions": 0,
            "completion_now": None,
            "completion_normal": None,
            "hurting": False,
        },
    ]
    funnel = svg.funnel(stages)
    assert f'fill="{svg.TOWARD_IMPACT}"' in funnel and "no live data" in funnel
