"""The service's own Prometheus metrics, beside BentoML's: alerts by tier, unmapped share, lag,
latency, requests ranked per pass."""

from __future__ import annotations

from collections import Counter
from functools import cache

import pandas as pd


@cache
def _metrics():
    """Created on first use (in the worker), never at import time."""
    # prometheus_client directly (bentoml.metrics is deprecated); BentoML's /metrics exports the same
    # registry, across worker processes through its multiprocess directory
    from prometheus_client import Counter, Gauge, Histogram

    return {
        "ranked": Counter("journeyrank_alerts_ranked", "Alerts ranked, by tier", ["tier"]),
        "unmapped": Gauge(
            "journeyrank_unmapped_share",
            "Share of the last batch from services the map lacks",
            multiprocess_mode="mostrecent",
        ),
        "lag": Gauge(
            "journeyrank_state_lag_seconds",
            "Wall clock minus the end of the latest outcome window",
            multiprocess_mode="mostrecent",
        ),
        "fallback": Counter(
            "journeyrank_fallback_answers",
            "Alerts answered by the criticality rule (fail-open), by cause",
            ["cause"],
        ),
        "latency": Histogram(
            "journeyrank_rank_seconds",
            "Time to rank one request (features, model, log)",
            buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        ),
        "pass": Histogram(
            "journeyrank_pass_requests",
            "Requests ranked together in one pass (serving/engine.py): near the senders' "
            "concurrency when passes gather well, 1 for a lone sender",
            buckets=(1, 2, 4, 8, 16, 32),
        ),
    }


def record_ranked(answers: pd.DataFrame, seconds: float, lag: float | None) -> None:
    metrics = _metrics()
    for tier, count in Counter(answers["tier"].tolist()).items():
        metrics["ranked"].labels(tier=tier).inc(count)
    flags = answers["flags"].tolist()
    unmapped = sum("unmapped_service" in f for f in flags) / len(flags) if flags else 0.0
    metrics["unmapped"].set(float(unmapped))
    metrics["latency"].observe(seconds)
    record_state_lag(lag)


def record_pass(requests: int) -> None:
    _metrics()["pass"].observe(requests)


def record_state_lag(lag: float | None) -> None:
    if lag is not None:
        _metrics()["lag"].set(lag)


def record_fallback(cause: str, alerts: int) -> None:
    """Fail-open answers: the model, the state store or the features could not answer."""
    _metrics()["fallback"].labels(cause=cause).inc(alerts)
