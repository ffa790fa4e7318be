"""A bounded, paced load on /rank (N requests/s of M alerts each) with events at set times (kill, sink down)."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

SEVERITIES = ("critical", "high", "warning", "info")
SIGNALS = ("latency", "errors", "saturation", "availability")


@dataclass
class LoadResult:
    requests: int = 0
    errors: int = 0  # answered with a status other than 200, or not answered
    acknowledged: set[str] = field(default_factory=set)  # alert ids of 200 answers
    answered: dict[str, tuple[str, str]] = field(default_factory=dict)  # id: (incident, tier)
    seconds: float = 0.0
    error_kinds: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run_load(
    url: str,
    prefix: str,
    seconds: float,
    rate: float,
    batch: int,
    services: list[str],
    events: list[tuple[float, Callable[[], None]]] = (),
    workers: int = 16,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """Send `rate` requests a second for `seconds` (paced, not open-ended); run each event at its time."""
    result = LoadResult()
    lock = threading.Lock()
    tickets = itertools.count()
    total = int(seconds * rate)
    started = time.monotonic()

    def worker() -> None:
        rng = random.Random()
        with httpx.Client(timeout=30, headers=headers) as client:
            while (n := next(tickets)) < total:
                time.sleep(max(0.0, started + n / rate - time.monotonic()))
                alerts = _alerts(f"{prefix}-{n}", batch, services, rng)
                try:
                    answer = client.post(f"{url}/rank", json={"alerts": alerts})
                    kind = None if answer.status_code == 200 else f"HTTP {answer.status_code}"
                except httpx.HTTPError as err:
                    answer, kind = None, type(err).__name__
                with lock:
                    result.requests += 1
                    if kind is None:
                        ranked = answer.json()["ranked"]
                        result.acknowledged.update(r["alert_id"] for r in ranked)
                        result.answered.update(
                            (r["alert_id"], (r["incident_id"], r["tier"])) for r in ranked
                        )
                    else:
                        result.errors += 1
                        result.error_kinds[kind] = result.error_kinds.get(kind, 0) + 1

    def scheduler() -> None:
        for at, event in sorted(events, key=lambda e: e[0]):
            time.sleep(max(0.0, started + at - time.monotonic()))
            event()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    timeline = threading.Thread(target=scheduler, daemon=True)
    for thread in [*threads, timeline]:
        thread.start()
    for thread in [*threads, timeline]:
        thread.join()
    result.seconds = time.monotonic() - started
    return result


def _alerts(request_id: str, batch: int, services: list[str], rng: random.Random) -> list[dict]:
    now = datetime.now(UTC).isoformat()
    return [
        {
            "alert_id": f"{request_id}-{i}",
            "fired_at": now,
            "source": "prometheus",
            "service": rng.choice(services),
            "alert_name": rng.choice(("HighLatency", "ErrorRate", "InstanceDown", "DiskFull")),
            "severity": rng.choice(SEVERITIES),
            "signal": rng.choice(SIGNALS),
            "region": rng.choice(("eu", "us")),
        }
        for i in range(batch)
    ]
