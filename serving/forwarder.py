"""Forwarding: one page per incident (and per rise of its tier) goes on to a webhook through the durable outbox.

Alertmanager and Grafana ignore a webhook's answer, so JourneyRank can sit in the path and send
the incidents that matter on (an on-call tool, a chat hook) with tier, reasons and playbook
attached. The incident is the dedup key: a later alert of an incident already paged at its tier
joins it without a new page. A thread delivers the outbox in order, retrying with exponential
backoff while the downstream is away; a 4xx other than 408/429 is a refusal for good and is kept
with its error.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
from datetime import UTC, datetime

import httpx

from features.settings import ForwardSettings, Settings
from serving.api_models import AlertIn, RankedAlert, RankResponse
from serving.outbox import Delivery, Outbox, Page

log = logging.getLogger(__name__)
RETRYABLE_4XX = (408, 425, 429)
SETTLED_KEPT_S = 7 * 24 * 3600  # how long delivered keys are kept (a re-send within it is dropped)
IDLE_WAIT_S = 30.0  # with nothing due, look at the outbox again after this (or when woken)
LEASE_EXTRA_S = 5.0  # a taken delivery left unsettled (the process died) is retried after its
# post's timeout and this much more


class Forwarder:
    def __init__(self, settings: ForwardSettings, outbox: Outbox) -> None:
        self.settings = settings
        self.outbox = outbox
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures = 0  # consecutive failed attempts: the downstream's backoff

    @classmethod
    def from_settings(cls, settings: Settings) -> Forwarder | None:
        forward = settings.forward
        return cls(forward, Outbox.in_home(settings.home)) if forward.url else None

    # ------------------------------------------------------------------ requests' side

    def enqueue(self, alerts: list[AlertIn], response: RankResponse, via: str) -> int:
        """Queue a page, durably, for each incident of the batch whose tier is forwarded and is
        higher than the tier it was last paged at; returns how many pages were queued."""
        chosen = [r for r in response.ranked if r.tier in self.settings.tier_set]
        if not chosen:
            return 0
        sent = {a.alert_id: a for a in alerts}
        incidents: dict[str, list[RankedAlert]] = {}
        for ranked in chosen:  # in the answer's order: highest incident priority first
            incidents.setdefault(ranked.incident_id, []).append(ranked)
        pages = []
        for incident_id, members in incidents.items():
            tier = min(r.tier for r in members)  # P1 is the highest
            body = _page(incident_id, tier, members, sent, response, via)
            pages.append(Page(incident_id, tier, body["idempotency_key"], json.dumps(body)))
        queued = self.outbox.add_pages(pages)
        if queued:
            self._wake.set()
        return queued

    def paged_tiers(self, incident_ids: list[str]) -> dict[str, str]:
        """The highest tier each incident was paged at (absent: not paged)."""
        return self.outbox.paged_tiers(incident_ids)

    # ------------------------------------------------------------------ the delivering thread

    def start(self) -> None:
        self.outbox.prune(SETTLED_KEPT_S)
        self._thread = threading.Thread(target=self._run, name="journeyrank-forwarder", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        with httpx.Client(timeout=self.settings.timeout_s) as client:
            while not self._stop.is_set():
                try:
                    self.deliver_due(client)
                    wait = self.outbox.next_due_s()
                except Exception:  # a broken turn must not end the thread: log, wait, retry
                    log.exception("forwarding failed; retrying")
                    wait = self.settings.backoff_s
                self._wake.wait(IDLE_WAIT_S if wait is None else min(wait, IDLE_WAIT_S))
                self._wake.clear()

    def deliver_due(self, client: httpx.Client) -> int:
        """Post every due delivery, oldest first; returns how many were taken downstream."""
        delivered = 0
        while not self._stop.is_set():
            lease_s = self.settings.timeout_s + LEASE_EXTRA_S
            batch = self.outbox.take_due(limit=50, lease_s=lease_s)
            if not batch:
                return delivered
            for i, delivery in enumerate(batch):
                wait = self._post(client, delivery)
                if wait is not None:
                    # the downstream is away: the rest wait behind the first, in order, untried
                    for later in batch[i + 1 :]:
                        self.outbox.retry(later, "downstream away", wait, attempted=False)
                    return delivered
                delivered += 1
        return delivered

    def _post(self, client: httpx.Client, delivery: Delivery) -> float | None:
        """Post one delivery: None once settled, else the seconds until it is tried again."""
        headers = {"content-type": "application/json", "idempotency-key": delivery.key}
        if self.settings.token:
            headers["authorization"] = f"Bearer {self.settings.token}"
        try:
            answer = client.post(self.settings.url, content=delivery.body, headers=headers)
        except httpx.HTTPError as err:
            return self._later(delivery, f"{type(err).__name__}: {err}")
        if answer.is_success:
            self.outbox.delivered(delivery)
            self._failures = 0
            return None
        error = f"HTTP {answer.status_code}: {answer.text[:200]}"
        if 400 <= answer.status_code < 500 and answer.status_code not in RETRYABLE_4XX:
            log.error("downstream refused delivery %s for good: %s", delivery.key, error)
            self.outbox.failed(delivery, error)
            return None  # refused, not away: the next delivery may go
        return self._later(delivery, error)

    def _later(self, delivery: Delivery, error: str) -> float:
        """Exponential backoff over the downstream's consecutive failures, with jitter."""
        backoff = min(
            self.settings.backoff_max_s, self.settings.backoff_s * 2 ** min(self._failures, 30)
        )
        self._failures += 1
        wait = backoff * random.uniform(0.5, 1.0)
        log.warning("forwarding %s failed (%s); next attempt in %.1f s", delivery.key, error, wait)
        self.outbox.retry(delivery, error, wait)
        return wait


def page_key(incident_id: str, tier: str) -> str:
    """An incident's page at a tier is one delivery, whichever alert or request raised it."""
    return hashlib.sha256(f"{incident_id}|{tier}".encode()).hexdigest()[:32]


def _page(
    incident_id: str,
    tier: str,
    members: list[RankedAlert],
    sent: dict[str, AlertIn],
    response: RankResponse,
    via: str,
) -> dict:
    """The body of an incident's page: the incident (its id is the on-call tool's dedup key) and
    the alerts of this batch that raised it, in the answer's order."""
    return {
        "idempotency_key": page_key(incident_id, tier),
        "sender": "journeyrank",
        "received_via": via,
        "sent_at": datetime.now(UTC).isoformat(),
        "incident_id": incident_id,
        "dedup_key": incident_id,
        "tier": tier,
        "model": response.model.model_dump(mode="json"),
        "alerts": [_item(r.model_dump(mode="json"), sent.get(r.alert_id)) for r in members],
    }


def _item(ranked: dict, alert: AlertIn | None) -> dict:
    """A ranked alert with what the on-call tool needs to show it (name, service, severity, when)."""
    if alert is None:
        return {**ranked, "dedup_key": ranked["incident_id"]}
    return {
        **ranked,
        "dedup_key": ranked["incident_id"],
        "alert_name": alert.alert_name,
        "service": alert.service,
        "severity": alert.severity,
        "source": alert.source,
        "fired_at": alert.fired_at.isoformat(),
    }
