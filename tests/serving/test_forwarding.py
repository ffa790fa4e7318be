"""Forwarding one page per incident through the durable outbox to a loopback receiver that fails, goes away, returns."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime

from service_client import make_client
from test_adapters import alertmanager
from webhook_sink import WebhookSink

from serving.api_models import AlertIn, ModelInfo, RankedAlert, RankResponse
from serving.forwarder import Forwarder, ForwardSettings
from serving.outbox import Outbox

MODEL = ModelInfo(name="journeyrank", version="7", uri="models:/journeyrank@champion",
                  journey_map_version="2026-10-01", page_share=0.1)  # fmt: skip


def batch(
    ids: list[str], tiers: list[str], incidents: list[str] | None = None
) -> tuple[list[AlertIn], RankResponse]:
    """Ranked alerts, each in the incident given (by default one of its own)."""
    incidents = incidents or [f"inc-{a}" for a in ids]
    alerts = [
        AlertIn(
            alert_id=a,
            fired_at=datetime.now(UTC),
            source="prometheus",
            service="payments",
            alert_name="PaymentsErrors",
            severity="critical",
        )
        for a in ids
    ]
    ranked = [
        RankedAlert(
            alert_id=a,
            impact_probability=0.9,
            priority=10.0 - i,
            incident_priority=10.0 - i,
            tier=t,
            route="page",
            journey="purchase",
            stage="checkout",
            segment_at_risk="new",
            reasons=["checkout completion 14% below normal"],
            playbook="Roll back.",
            escalation=None,
            model_version="7",
            journey_map_version="2026-10-01",
            flags=[],
            incident_id=inc,
        )
        for i, (a, t, inc) in enumerate(zip(ids, tiers, incidents, strict=True))
    ]
    return alerts, RankResponse(ranked=ranked, model=MODEL)


def forwarder(home, sink: WebhookSink, tiers: str = "P1,P2,P3,P4") -> Forwarder:
    settings = ForwardSettings(url=sink.url, tiers=tiers, backoff_s=0.05, backoff_max_s=0.3)
    return Forwarder(settings, Outbox.in_home(home))


def wait_for(condition, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_an_incident_pages_once_with_its_key_filtered_by_tier(tmp_path):
    with WebhookSink() as sink:
        fwd = forwarder(tmp_path, sink, tiers="P1,P2")
        fwd.start()
        try:
            ranked = batch(
                ["a1", "a2", "a3", "a4"],
                ["P2", "P3", "P1", "P2"],
                ["inc-a1", "inc-a1", "inc-a1", "inc-a4"],
            )
            assert fwd.enqueue(*ranked, via="rank") == 2  # two incidents, one page each
            wait_for(lambda: fwd.outbox.pending() == 0)
        finally:
            fwd.stop()
    pages = {body["incident_id"]: (key, body) for key, body in sink.deliveries}
    assert len(sink.deliveries) == 2 and set(pages) == {"inc-a1", "inc-a4"}
    key, body = pages["inc-a1"]
    assert key == body["idempotency_key"] and body["received_via"] == "rank"
    assert body["dedup_key"] == "inc-a1" and body["tier"] == "P1"  # its highest alert's tier
    assert [a["alert_id"] for a in body["alerts"]] == ["a1", "a3"]  # P3 is not forwarded
    first = body["alerts"][0]
    assert first["tier"] == "P2" and first["reasons"] and first["playbook"] == "Roll back."
    assert first["alert_name"] == "PaymentsErrors" and first["dedup_key"] == "inc-a1"
    assert first["incident_id"] == "inc-a1"


def test_a_later_alert_joins_its_paged_incident_without_a_page_unless_the_tier_rises(tmp_path):
    fwd = forwarder(tmp_path, WebhookSink(), tiers="P1,P2")
    assert fwd.enqueue(*batch(["j1"], ["P2"], ["inc-j1"]), via="rank") == 1
    assert fwd.enqueue(*batch(["j2", "j3"], ["P2", "P2"], ["inc-j1"] * 2), via="rank") == 0
    assert fwd.enqueue(*batch(["j4"], ["P1"], ["inc-j1"]), via="rank") == 1  # the tier rose
    assert fwd.enqueue(*batch(["j5"], ["P2"], ["inc-j1"]), via="rank") == 0  # lower: joins
    assert fwd.enqueue(*batch(["j6"], ["P1"], ["inc-j1"]), via="rank") == 0
    assert fwd.outbox.pending() == 2 and fwd.paged_tiers(["inc-j1", "inc-x"]) == {"inc-j1": "P1"}
    again = forwarder(tmp_path, WebhookSink(), tiers="P1,P2")  # after a restart: still paged
    assert again.enqueue(*batch(["j7"], ["P1"], ["inc-j1"]), via="rank") == 0


def test_retries_with_backoff_until_the_downstream_recovers(tmp_path):
    with WebhookSink() as sink:
        sink.fail_next = 3
        fwd = forwarder(tmp_path, sink)
        fwd.start()
        try:
            fwd.enqueue(*batch(["r1"], ["P1"]), via="rank")
            wait_for(lambda: fwd.outbox.pending() == 0)
        finally:
            fwd.stop()
    assert sink.refused == 3 and sink.alert_ids() == ["r1"]
    with sqlite3.connect(tmp_path / "outbox.sqlite") as db:
        assert db.execute("SELECT attempts, last_error FROM outbox").fetchall() == [(4, None)]


def test_nothing_is_lost_or_sent_twice_across_a_restart(tmp_path):
    sink = WebhookSink()  # not listening yet: the downstream is down
    first = forwarder(tmp_path, sink)
    first.start()
    for i in range(5):
        first.enqueue(*batch([f"b{i}-1", f"b{i}-2"], ["P1", "P2"], [f"inc-b{i}"] * 2), via="rank")
    time.sleep(0.5)  # a few attempts fail meanwhile
    first.stop()  # the service restarts
    assert first.outbox.pending() == 5
    with sink:
        second = forwarder(tmp_path, sink)
        second.start()
        try:
            wait_for(lambda: second.outbox.pending() == 0)
        finally:
            second.stop()
        third = forwarder(tmp_path, sink)  # and restarts once more: nothing left to send
        third.start()
        time.sleep(0.5)
        third.stop()
    assert sorted(sink.alert_ids()) == sorted(f"b{i}-{j}" for i in range(5) for j in (1, 2))
    assert len(sink.deliveries) == len(sink.unique_deliveries()) == 5


def test_a_re_sent_batch_is_queued_once(tmp_path):
    fwd = forwarder(tmp_path, WebhookSink())
    assert fwd.enqueue(*batch(["d1", "d2"], ["P2", "P3"]), via="alertmanager") == 2
    assert fwd.enqueue(*batch(["d1", "d2"], ["P2", "P3"]), via="alertmanager") == 0
    assert fwd.enqueue(*batch(["d1", "d2"], ["P2", "P1"]), via="alertmanager") == 1  # escalated
    assert fwd.outbox.pending() == 3


def test_a_refusal_is_kept_not_retried_and_does_not_hold_up_the_rest(tmp_path):
    with WebhookSink() as sink:
        sink.fail_next, sink.fail_status = 1, 400
        fwd = forwarder(tmp_path, sink)
        fwd.enqueue(*batch(["x1"], ["P1"]), via="rank")
        fwd.enqueue(*batch(["x2"], ["P1"]), via="rank")
        fwd.start()
        try:
            wait_for(lambda: fwd.outbox.pending() == 0)
        finally:
            fwd.stop()
    assert sink.alert_ids() == ["x2"] and sink.refused == 1
    with sqlite3.connect(tmp_path / "outbox.sqlite") as db:
        ((error,),) = db.execute("SELECT last_error FROM outbox WHERE failed_at IS NOT NULL")
    assert error.startswith("HTTP 400")


def test_the_service_forwards_what_it_ranks(service_env, sample_dir, monkeypatch):
    with WebhookSink() as sink:
        monkeypatch.setenv("JOURNEYRANK_FORWARD_URL", sink.url)
        monkeypatch.setenv("JOURNEYRANK_FORWARD_TIERS", "P1,P2,P3,P4")
        monkeypatch.setenv("JOURNEYRANK_WARM_FROM", str(sample_dir))
        with make_client() as client:
            answer = client.post("/rank/alertmanager", json=alertmanager()).json()
            wait_for(lambda: len(sink.deliveries) == 1)
    ((_, body),) = sink.deliveries
    (forwarded,) = body["alerts"]
    (ranked,) = answer["ranked"]
    assert body["received_via"] == "alertmanager" and body["model"] == answer["model"]
    assert {k: forwarded[k] for k in ranked} == ranked
    assert body["dedup_key"] == body["incident_id"] == ranked["incident_id"]
    assert (
        forwarded["alert_name"] == "CheckoutLatencyHigh" and forwarded["service"] == "checkout-api"
    )
