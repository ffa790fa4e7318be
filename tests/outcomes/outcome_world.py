"""A tiny hand-made world for episode tests: one journey, two stages, exact counts, hand-placed dips."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.journey_map import JourneyMap

T0 = pd.Timestamp("2026-03-02 00:00", tz="UTC")  # a Monday
STEP = pd.Timedelta(minutes=5)
STEP_NS = int(STEP.value)
SEGMENTS = ("new", "returning")
REGIONS = ("eu", "us")

MAP = JourneyMap.model_validate(
    {
        "version": "outcomes-1",
        "segments": {"new": 2.0, "returning": 1.0},
        "journeys": {
            "buy": {
                "stages": [
                    {"name": "cart", "impact": 0.5, "value": 2.0, "services": {"cart-svc": "hard"}},
                    {"name": "pay", "impact": 1.0, "value": 10.0, "services": {"pay-svc": "hard"}},
                ]
            }
        },
        "dependencies": {"pay-svc": ["db"], "cart-svc": ["db"]},
    }
)


def at(window: int) -> pd.Timestamp:
    return T0 + window * STEP


def outcomes(
    days: int = 7,
    sessions: int = 50,
    rate: float = 0.8,
    dips: dict[tuple[str, int], float] | None = None,
    only: tuple[str | None, str | None] = (None, None),
) -> pd.DataFrame:
    """Steady traffic per stage × segment × region (`sessions` each); `dips` maps (stage, window)
    to a completion rate, applied to every segment and region unless `only` = (segment, region)."""
    dips = dips or {}
    rows = []
    for k in range(days * 288):
        for stage in ("cart", "pay"):
            for segment in SEGMENTS:
                for region in REGIONS:
                    hit = (only[0] in (None, segment)) and (only[1] in (None, region))
                    r = dips.get((stage, k), rate) if hit else rate
                    completed = round(sessions * r)
                    rows.append(
                        (
                            at(k),
                            "buy",
                            stage,
                            segment,
                            region,
                            sessions,
                            completed,
                            sessions - completed,
                        )
                    )
    frame = pd.DataFrame(
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
        ],
    )
    return frame.assign(errors=pd.array([0] * len(frame), dtype="Int64"), latency_p95_ms=200.0)


def dip(stage: str, windows: range | list[int], rate: float) -> dict[tuple[str, int], float]:
    return {(stage, k): rate for k in windows}


def alerts(*rows: tuple[str, float, str], severity: str = "high") -> pd.DataFrame:
    """(alert_id, minutes after T0, service) rows, in the alerts schema."""
    return pd.DataFrame(
        {
            "alert_id": [r[0] for r in rows],
            "fired_at": [T0 + pd.Timedelta(minutes=r[1]) for r in rows],
            "resolved_at": pd.NaT,
            "source": "prometheus",
            "service": [r[2] for r in rows],
            "alert_name": "HighErrorRate",
            "severity": severity,
            "signal": "errors",
            "anomaly_score": np.nan,
            "region": "eu",
            "labels": "{}",
        }
    )
