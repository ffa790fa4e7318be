"""Tiny hand-made worlds for unit tests: one journey, two stages, a few services, hand-placed events."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.journey_map import JourneyMap

T0 = pd.Timestamp("2026-03-02 00:00", tz="UTC")  # a Monday
STEP = pd.Timedelta(minutes=5)

MAP = JourneyMap.model_validate(
    {
        "version": "tiny-1",
        "segments": {"new": 2.0, "returning": 1.0},
        "journeys": {
            "buy": {
                "stages": [
                    {
                        "name": "cart",
                        "impact": 0.5,
                        "value": 2.0,
                        "services": {"cart-svc": "hard", "recs": "soft"},
                    },
                    {"name": "pay", "impact": 1.0, "value": 10.0, "services": {"pay-svc": "hard"}},
                ]
            }
        },
        "dependencies": {"pay-svc": ["db"], "cart-svc": ["db"]},
        "escalation": {"P1": "war room"},
    }
)


def outcomes(
    days: int = 7, sessions: int = 100, rate: float = 0.8, drops: dict | None = None
) -> pd.DataFrame:
    """Steady traffic on both stages and segments; drops maps (stage, window index) -> completion rate."""
    drops = drops or {}
    rows = []
    for k in range(days * 288):
        for stage in ("cart", "pay"):
            for segment in ("new", "returning"):
                r = drops.get((stage, k), rate)
                rows.append(
                    (
                        T0 + k * STEP,
                        "buy",
                        stage,
                        segment,
                        "eu",
                        sessions,
                        round(sessions * r),
                        round(sessions * (1 - r) * 0.5),
                        0,
                        200.0,
                    )
                )
    return pd.DataFrame(
        rows,
        columns=[
            "window_start",
            "journey",
            "stage",
            "segment",
            "region",
            "sessions",
            "completed",
            "abandoned",
            "errors",
            "latency_p95_ms",
        ],
    ).astype({"errors": "Int64"})


def alerts(*rows: tuple) -> pd.DataFrame:
    """(alert_id, minutes after T0, service[, alert_name[, resolved after minutes]]) rows."""
    records = []
    for row in rows:
        alert_id, minutes, service, *rest = row
        name = rest[0] if rest else "HighErrorRate"
        fired = T0 + pd.Timedelta(minutes=minutes)
        resolved = fired + pd.Timedelta(minutes=rest[1]) if len(rest) > 1 else pd.NaT
        records.append(
            (
                alert_id,
                fired,
                resolved,
                "prometheus",
                service,
                name,
                "high",
                "errors",
                np.nan,
                "eu",
                "{}",
            )
        )
    return pd.DataFrame(
        records,
        columns=[
            "alert_id",
            "fired_at",
            "resolved_at",
            "source",
            "service",
            "alert_name",
            "severity",
            "signal",
            "anomaly_score",
            "region",
            "labels",
        ],
    )
