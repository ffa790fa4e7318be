"""Native payloads (Alertmanager v4, Grafana, PagerDuty Events v2), written from their documented shapes."""

from __future__ import annotations

import sqlite3
from copy import deepcopy

import pandas as pd
import pytest
from pydantic import ValidationError

from serving.adapters import (
    AdapterConfig,
    AlertmanagerWebhook,
    GrafanaWebhook,
    PagerDutyEvent,
    from_alertmanager,
    from_grafana,
    from_pagerduty,
)

DEFAULTS = AdapterConfig()
STARTS = "2026-10-25T23:40:00.123Z"  # within the sample's last hour


def am_alert(name="CheckoutLatencyHigh", service="checkout-api", **over) -> dict:
    return {
        "status": "firing",
        "labels": {"alertname": name, "service": service, "severity": "page", "region": "eu"},
        "annotations": {"summary": f"{name} on {service}", "runbook_url": "https://runbooks/x"},
        "startsAt": STARTS,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
        "fingerprint": f"fp{abs(hash((name, service))) % 10**12:012x}",
        **over,
    }


def alertmanager(*alerts: dict, status="firing") -> dict:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="CheckoutLatencyHigh"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "journeyrank",
        "groupLabels": {"alertname": "CheckoutLatencyHigh"},
        "commonLabels": {"team": "payments"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts) or [am_alert()],
    }


def grafana(*alerts: dict) -> dict:
    alerts = alerts or (
        {
            **am_alert("PaymentsErrors", "payments"),
            "values": {"B": 22.5, "C": 1},
            "silenceURL": "http://grafana/alerting/silence/new",
            "dashboardURL": "http://grafana/d/abc",
            "panelURL": "http://grafana/d/abc?viewPanel=2",
            "imageURL": None,
        },
    )
    return {
        **alertmanager(*alerts),
        "orgId": 1,
        "title": "[FIRING:1] PaymentsErrors",
        "state": "alerting",
        "message": "**Firing** PaymentsErrors",
    }


def pd_event(action="trigger", key="srv01/HTTP", **payload) -> dict:
    event = {
        "routing_key": "R015XXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        "event_action": action,
        "dedup_key": key,
        "images": [{"src": "https://chart/x.png", "href": "https://x", "alt": "chart"}],
        "links": [{"href": "https://runbook", "text": "runbook"}],
        "client": "Sample Monitoring Service",  # documented, not in our model: kept as extra
    }
    if action == "trigger":
        event["payload"] = {
            "summary": "Checkout 5xx above 2% on checkout-api",
            "timestamp": "2026-10-25T23:41:00.000+0000",
            "severity": "error",
            "source": "prod-datapipe-03",
            "component": "checkout-api",
            "group": "prod-checkout",
            "class": "HighErrorRate",
            "custom_details": {"region": "us", "errors_pct": 2.4},
            **payload,
        }
    return event


# ---------------------------------------------------------------------- adapters, pure


def test_alertmanager_maps_labels_and_native_severity_to_the_contract():
    out = from_alertmanager(AlertmanagerWebhook.model_validate(alertmanager()), DEFAULTS)
    (alert,) = out.firing
    assert not out.closed
    assert alert.source == "prometheus" and alert.service == "checkout-api"
    assert alert.alert_name == "CheckoutLatencyHigh"
    assert alert.severity == "critical"  # "page"
    assert alert.signal == "latency" and alert.region == "eu"
    assert alert.fired_at == pd.Timestamp(STARTS).to_pydatetime()
    assert alert.labels["team"] == "payments"  # common labels merged in
    assert alert.labels["annotations"]["runbook_url"] == "https://runbooks/x"


def test_the_fingerprint_gives_a_stable_alert_id_and_a_new_episode_a_new_one():
    first = from_alertmanager(AlertmanagerWebhook.model_validate(alertmanager()), DEFAULTS)
    again = from_alertmanager(AlertmanagerWebhook.model_validate(alertmanager()), DEFAULTS)
    later = alertmanager(am_alert(startsAt="2026-10-26T02:00:00Z"))
    episode = from_alertmanager(AlertmanagerWebhook.model_validate(later), DEFAULTS)
    assert first.firing[0].alert_id == again.firing[0].alert_id
    assert episode.firing[0].alert_id != first.firing[0].alert_id


def test_resolved_alerts_are_closures_not_firings():
    resolved = am_alert(status="resolved", endsAt="2026-10-25T23:55:00Z")
    out = from_alertmanager(
        AlertmanagerWebhook.model_validate(alertmanager(resolved, am_alert("Other"))), DEFAULTS
    )
    firing = from_alertmanager(AlertmanagerWebhook.model_validate(alertmanager()), DEFAULTS)
    assert [a.alert_name for a in out.firing] == ["Other"]
    assert out.closed == [
        (firing.firing[0].alert_id, pd.Timestamp("2026-10-25T23:55:00Z").to_pydatetime())
    ]


def test_a_minimal_payload_with_extra_fields_is_accepted():
    minimal = {
        "alerts": [{"labels": {"job": "payments"}, "startsAt": STARTS, "newField": [1, 2]}],
        "someFutureField": {"x": 1},
    }
    (alert,) = from_alertmanager(AlertmanagerWebhook.model_validate(minimal), DEFAULTS).firing
    assert alert.service == "payments"  # from `job`
    assert alert.severity == "warning" and alert.alert_name == "unnamed"
    assert alert.alert_id.startswith("prometheus:")  # no fingerprint: the label set's digest


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda p: p.pop("alerts"), "alerts"),
        (lambda p: p["alerts"][0].pop("startsAt"), "startsAt"),
        (lambda p: p["alerts"][0].update(startsAt="2026-10-25T23:40:00"), "startsAt"),
        (lambda p: p["alerts"][0].update(startsAt="0001-01-01T00:00:00Z"), "startsAt"),
        (lambda p: p["alerts"][0].update(status="pending"), "status"),
        (lambda p: p["alerts"][0]["labels"].update(port=9090), "labels"),
    ],
)
def test_missing_or_wrong_required_fields_are_refused_naming_the_field(change, where):
    payload = alertmanager()
    change(payload)
    with pytest.raises(ValidationError, match=where):
        AlertmanagerWebhook.model_validate(payload)


def test_label_and_severity_mapping_come_from_yaml(tmp_path):
    path = tmp_path / "adapters.yaml"
    path.write_text(
        "service_labels: [app, service]\nseverity_map: {P1: critical, Sev-X: info}\n"
        "default_severity: high\n"
    )
    config = AdapterConfig.load(path)
    payload = alertmanager(
        am_alert(labels={"alertname": "A", "app": "payments", "service": "x", "severity": "Sev-X"}),
        am_alert(labels={"alertname": "B", "service": "search-api", "severity": "P1"}),
        am_alert(labels={"alertname": "C", "service": "cdn", "severity": "mystery"}),
    )
    out = from_alertmanager(AlertmanagerWebhook.model_validate(payload), config)
    assert [(a.service, a.severity) for a in out.firing] == [
        ("payments", "info"),
        ("search-api", "critical"),
        ("cdn", "high"),
    ]
    assert config.severity("page") == "critical"  # the defaults are extended, not replaced


def test_a_bad_mapping_file_names_the_file_and_the_key(tmp_path):
    path = tmp_path / "adapters.yaml"
    path.write_text("severity_map: {page: urgent}\n")
    with pytest.raises(ValueError, match=r"adapters\.yaml.*severity_map"):
        AdapterConfig.load(path)
    path.write_text("servcie_labels: [app]\n")
    with pytest.raises(ValueError, match="servcie_labels"):
        AdapterConfig.load(path)


def test_grafana_keeps_values_and_links_and_is_its_own_source():
    (alert,) = from_grafana(GrafanaWebhook.model_validate(grafana()), DEFAULTS).firing
    assert alert.source == "grafana" and alert.service == "payments"
    assert alert.signal == "errors"
    assert alert.labels["values"] == {"B": 22.5, "C": 1}
    assert alert.labels["dashboardURL"] == "http://grafana/d/abc"
    no_name = grafana({**am_alert(), "labels": {"service": "cdn"}})
    (alert,) = from_grafana(GrafanaWebhook.model_validate(no_name), DEFAULTS).firing
    assert alert.alert_name == "[FIRING:1] PaymentsErrors"  # the title when no alertname


def test_a_very_long_fingerprint_still_gives_a_contract_alert_id():
    (alert,) = from_alertmanager(
        AlertmanagerWebhook.model_validate(alertmanager(am_alert(fingerprint="f" * 2000))),
        DEFAULTS,
    ).firing
    assert len(alert.alert_id) <= 512


def test_pagerduty_trigger_acknowledge_and_resolve():
    events = [PagerDutyEvent.model_validate(e) for e in (pd_event(), pd_event("acknowledge"))]
    out = from_pagerduty(events, DEFAULTS)
    (alert,) = out.firing
    assert alert.alert_id == "pagerduty:srv01/HTTP" and out.closed[0][0] == alert.alert_id
    assert alert.service == "checkout-api" and alert.severity == "high"  # "error"
    assert alert.alert_name == "HighErrorRate" and alert.signal == "errors"
    assert alert.region == "us" and alert.fired_at == pd.Timestamp("2026-10-25T23:41Z")
    resolve = from_pagerduty([PagerDutyEvent.model_validate(pd_event("resolve"))], DEFAULTS)
    assert not resolve.firing and resolve.closed[0][0] == "pagerduty:srv01/HTTP"


def test_pagerduty_without_dedup_key_gets_a_stable_digest_and_without_payload_a_message():
    event = pd_event(key=None)
    once = from_pagerduty([PagerDutyEvent.model_validate(event)], DEFAULTS)
    twice = from_pagerduty([PagerDutyEvent.model_validate(deepcopy(event))], DEFAULTS)
    assert once.firing[0].alert_id == twice.firing[0].alert_id
    no_payload = {"event_action": "trigger", "dedup_key": "k"}
    with pytest.raises(ValueError, match="needs a payload"):
        from_pagerduty([PagerDutyEvent.model_validate(no_payload)], DEFAULTS)
    with pytest.raises(ValidationError, match="severity"):
        PagerDutyEvent.model_validate(pd_event(severity="urgent"))
    with pytest.raises(ValidationError, match="event_action"):
        PagerDutyEvent.model_validate({**pd_event(), "event_action": "snooze"})


# ---------------------------------------------------------------------- through the service


def held(home, alert_id: str) -> list[tuple]:
    with sqlite3.connect(home / "state.sqlite") as db:
        return db.execute(
            "SELECT alert_id, resolved_at FROM alerts WHERE alert_id = ?", (alert_id,)
        ).fetchall()


def test_alertmanager_route_ranks_firings_and_closes_resolved_ones(client, service_env):
    response = client.post("/rank/alertmanager", json=alertmanager())
    assert response.status_code == 200, response.text
    (ranked,) = response.json()["ranked"]
    assert ranked["tier"] in {"P1", "P2", "P3", "P4"} and ranked["reasons"]
    assert ranked["stage"] is not None  # checkout-api is in the journey map
    again = client.post("/rank/alertmanager", json=alertmanager())  # Alertmanager re-sends
    assert again.json()["ranked"][0]["alert_id"] == ranked["alert_id"]
    assert held(service_env, ranked["alert_id"]) == [(ranked["alert_id"], None)]

    resolved = am_alert(status="resolved", endsAt="2026-10-25T23:58:00Z")
    closing = client.post("/rank/alertmanager", json=alertmanager(resolved, status="resolved"))
    assert closing.status_code == 200
    assert closing.json()["ranked"] == [] and closing.json()["closed"] == 1
    ((_, resolved_at),) = held(service_env, ranked["alert_id"])
    assert resolved_at == pd.Timestamp("2026-10-25T23:58:00Z").value


def test_grafana_and_pagerduty_routes_rank_and_close(client, service_env):
    response = client.post("/rank/grafana", json=grafana())
    assert response.status_code == 200, response.text
    assert response.json()["ranked"][0]["alert_id"].startswith("grafana:")
    single = client.post("/rank/pagerduty", json=pd_event())
    assert single.status_code == 200, single.text
    assert [r["alert_id"] for r in single.json()["ranked"]] == ["pagerduty:srv01/HTTP"]
    batch = client.post(
        "/rank/pagerduty", json=[pd_event(key="other"), pd_event("acknowledge")]
    ).json()
    assert [r["alert_id"] for r in batch["ranked"]] == ["pagerduty:other"]
    assert batch["closed"] == 1 and held(service_env, "pagerduty:srv01/HTTP")[0][1] is not None


@pytest.mark.parametrize(
    ("route", "body", "where"),
    [
        ("/rank/alertmanager", {"version": "4"}, "alerts"),
        ("/rank/alertmanager", alertmanager(am_alert(startsAt="soon")), "startsAt"),
        ("/rank/grafana", {"alerts": [{"labels": {}}]}, "startsAt"),
        ("/rank/pagerduty", {"event_action": "trigger", "dedup_key": "k"}, "payload"),
        ("/rank/pagerduty", {"event_action": "resolve"}, "dedup_key"),
        ("/rank/pagerduty", [{"dedup_key": "k"}], "event_action"),
        ("/rank/pagerduty", "not an event", ""),
    ],
)
def test_bad_native_payloads_get_422_with_a_message(client, route, body, where):
    response = client.post(route, json=body)
    assert response.status_code == 422, response.text
    assert where in response.json()["error"]


def test_openapi_documents_every_native_route(client):
    paths = client.get("/docs.json").json()["paths"]
    for route in ("/rank/alertmanager", "/rank/grafana", "/rank/pagerduty"):
        post = paths[route]["post"]
        assert post["description"] and post["requestBody"]["content"]["application/json"]
