"""A real Alertmanager (Debian's prometheus-alertmanager) notifying a real `bentoml serve` of JourneyRank."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import yaml
from programs import require
from service_process import ServiceProcess
from webhook_sink import WebhookSink

from pipeline.serve import free_port

pytestmark = pytest.mark.integration
ALERTMANAGER = "prometheus-alertmanager"
TOKEN = "am-test-token"


def alertmanager_binary() -> str:
    found = shutil.which(ALERTMANAGER) or shutil.which("alertmanager")
    require(found, ALERTMANAGER)
    return found


def alertmanager_config(webhook_url: str, group_by: tuple[str, ...] = ("alertname",)) -> dict:
    """Notify JourneyRank at once, and again when resolved (short group_wait and interval)."""
    return {
        "route": {
            "receiver": "journeyrank",
            "group_by": list(group_by),
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "journeyrank",
                "webhook_configs": [
                    {
                        "url": webhook_url,
                        "send_resolved": True,
                        "http_config": {"authorization": {"type": "Bearer", "credentials": TOKEN}},
                    }
                ],
            }
        ],
    }


@pytest.fixture
def alertmanager(tmp_path):
    """Start Alertmanager on loopback, gossip off, storage in tmp; yields (url, set_webhook)."""
    binary = alertmanager_binary()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    processes: list[subprocess.Popen] = []

    def start(webhook_url: str, group_by: tuple[str, ...] = ("alertname",)) -> str:
        config = tmp_path / "alertmanager.yml"
        config.write_text(yaml.safe_dump(alertmanager_config(webhook_url, group_by)))
        command = [
            binary,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'alertmanager-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ]
        log = (tmp_path / "alertmanager.log").open("w")
        processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))
        wait_for(lambda: _answers(f"{url}/-/ready"), 30, "Alertmanager ready")
        return url

    yield start
    for process in processes:
        process.terminate()
        process.wait(10)


def test_alertmanager_notifies_journeyrank_which_ranks_logs_forwards_and_closes(
    served, tmp_path, alertmanager
):
    settings, _ = served
    home = tmp_path / "home"
    with WebhookSink() as sink:
        service = forwarding_service(settings, home, sink)
        try:
            am = alertmanager(f"{service.url}/rank/alertmanager")
            now = datetime.now(UTC).replace(microsecond=0)
            alerts = [
                am_alert("CheckoutLatencyHigh", "checkout-api", "page", now),
                am_alert("PaymentsErrors", "payments", "critical", now),
                am_alert("SearchSlow", "search-api", "warning", now),
            ]
            assert httpx.post(f"{am}/api/v2/alerts", json=alerts, timeout=10).status_code == 200
            names = {a["labels"]["alertname"] for a in alerts}

            logged = wait_for(lambda: _logged(home, names), 60, "the alerts in the inference log")
            assert {row[1] for row in logged} == names
            assert all(row[0].startswith("prometheus:") for row in logged)
            incidents = wait_for(lambda: _incidents(service.url, logged), 30, "the incidents")
            wait_for(lambda: set(incidents.values()) <= {i for i, _ in sink.pages()}, 30, "pages")
            forwarded = _forwarded(sink)
            assert all(a["tier"] in {"P1", "P2", "P3", "P4"} and a["reasons"] for a in forwarded)
            assert {a["alert_id"] for a in forwarded} <= {row[0] for row in logged}
            assert all(a["dedup_key"] == a["incident_id"] for a in forwarded)

            ended = [{**a, "endsAt": _iso(datetime.now(UTC))} for a in alerts]
            assert httpx.post(f"{am}/api/v2/alerts", json=ended, timeout=10).status_code == 200
            ids = [row[0] for row in logged]
            wait_for(lambda: _all_resolved(home, ids), 60, "the alerts closed in the state store")
        finally:
            service.stop()
        # resolved notifications close alerts; they are not ranked again
        assert len(_logged(home, names)) == len(names)


def test_an_alertmanager_group_pages_once_even_as_it_grows_and_is_sent_again(
    served, tmp_path, alertmanager
):
    """Alerts of one cluster, grouped by Alertmanager: one incident, paged once per tier rise;
    the group's next notification (every alert again, and one more) adds no page at a tier."""
    settings, _ = served
    home = tmp_path / "home"
    with WebhookSink() as sink:
        service = forwarding_service(settings, home, sink)
        try:
            am = alertmanager(f"{service.url}/rank/alertmanager", group_by=("cluster",))
            now = datetime.now(UTC).replace(microsecond=0)
            first = [
                am_alert("PaymentsErrors", "payments", "critical", now),
                am_alert("CheckoutLatencyHigh", "checkout-api", "page", now),
                am_alert("CheckoutErrors", "checkout-api", "warning", now),
            ]
            assert httpx.post(f"{am}/api/v2/alerts", json=first, timeout=10).status_code == 200
            names = {a["labels"]["alertname"] for a in first}
            early = wait_for(lambda: _logged(home, names), 60, "the first notification ranked")
            later = am_alert("CartSlow", "cart", "warning", now)
            assert httpx.post(f"{am}/api/v2/alerts", json=[later], timeout=10).status_code == 200
            everything = wait_for(
                lambda: _logged(home, {*names, "CartSlow"}, times=2), 60, "the group again"
            )
            incidents = _incidents(service.url, everything)
            time.sleep(2)  # time for a page that should not come
        finally:
            service.stop()
    assert len(set(incidents.values())) == 1, incidents
    (incident,) = set(incidents.values())
    pages = sink.pages()
    assert {i for i, _ in pages} == {incident}
    tiers = [t for _, t in pages]
    assert tiers == sorted(set(tiers), reverse=True), "a page only when the tier rises"
    assert len(sink.deliveries) == len(pages), "no page re-sent"
    assert {row[0] for row in early} <= {row[0] for row in everything}


def forwarding_service(settings, home, sink: WebhookSink) -> ServiceProcess:
    """A started `bentoml serve` that wants the token and forwards every tier to the sink."""
    service = ServiceProcess(
        settings,
        home,
        {
            "JOURNEYRANK_API_TOKEN": TOKEN,
            "JOURNEYRANK_FORWARD_URL": sink.url,
            "JOURNEYRANK_FORWARD_TIERS": "P1,P2,P3,P4",
        },
    )
    service.start()
    return service


def am_alert(
    name: str, service: str, severity: str, starts: datetime, cluster: str = "k8s-eu"
) -> dict:
    """An alert as Prometheus posts it to Alertmanager's API (v2)."""
    labels = {"alertname": name, "service": service, "severity": severity, "region": "eu"}
    return {
        "labels": {**labels, "cluster": cluster},
        "annotations": {"summary": f"{name} on {service}"},
        "startsAt": _iso(starts),
        "endsAt": _iso(starts + timedelta(hours=1)),
        "generatorURL": "http://prometheus:9090/graph",
    }


def wait_for(probe, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def _logged(home, names: set[str], times: int = 1) -> list[tuple]:
    """The log's rows of these alerts, once every name is in it (and some name `times` times)."""
    path = home / "inference_log.sqlite"
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT alert_id, alert_name, tier FROM inference_log").fetchall()
    found = [r for r in rows if r[1] in names]
    counts = [sum(r[1] == n for r in found) for n in names]
    return found if {r[1] for r in found} == names and max(counts) >= times else []


def _incidents(url: str, logged: list[tuple]) -> dict[str, str]:
    """Each logged alert's incident, as `GET /incidents` has them (empty until all are there)."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    listed = httpx.get(f"{url}/incidents", headers=headers, timeout=10).json()["incidents"]
    of = {}
    for incident in listed:
        detail = httpx.get(
            f"{url}/incidents/{incident['incident_id']}", headers=headers, timeout=10
        )
        of.update({a["alert_id"]: incident["incident_id"] for a in detail.json()["alert_list"]})
    wanted = {row[0] for row in logged}
    return {a: i for a, i in of.items() if a in wanted} if wanted <= set(of) else {}


def _forwarded(sink: WebhookSink) -> list[dict]:
    return [a for body in sink.unique_deliveries().values() for a in body["alerts"]]


def _all_resolved(home, ids: list[str]) -> bool:
    with sqlite3.connect(home / "state.sqlite") as db:
        marks = ",".join("?" * len(ids))
        rows = db.execute(
            f"SELECT resolved_at FROM alerts WHERE alert_id IN ({marks})", ids
        ).fetchall()
    return len(rows) == len(ids) and all(r[0] is not None for r in rows)
