"""The alert as it arrived: what kind of signal, from where, how severe, and when."""

from __future__ import annotations

import numpy as np

from features.catalogue import Feature
from features.context import AlertBatch, FeatureContext
from features.timeaxis import hour_of_week
from features.values import SEVERITIES

FEATURES = (
    Feature(
        "severity_level", "severity as a level: info 0, warning 1, high 2, critical 3", "", "alert"
    ),
    Feature("source", "the monitoring tool that sent it", "", "alert", "categorical"),
    Feature(
        "signal",
        "latency, errors, saturation, availability, anomaly or other",
        "",
        "alert",
        "categorical",
    ),
    Feature("alert_name", "the rule or check that fired", "", "alert", "categorical"),
    Feature("anomaly_score", "an AIOps detector's confidence, when it sent one", "", "alert"),
    Feature("hour_of_week", "hour of the week it fired, Monday 00:00 UTC = 0", "", "alert"),
    Feature("hour_of_day", "hour of the day it fired (UTC)", "", "alert"),
)
SEVERITY_LEVEL = {name: len(SEVERITIES) - 1 - i for i, name in enumerate(SEVERITIES)}


def compute(batch: AlertBatch, context: FeatureContext) -> dict[str, np.ndarray]:
    alerts = batch.alerts
    how = hour_of_week(batch.fired)
    return {
        "severity_level": alerts["severity"].map(SEVERITY_LEVEL).to_numpy(dtype=np.float64),
        "source": alerts["source"].astype(str).to_numpy(dtype=object),
        "signal": alerts["signal"].to_numpy(dtype=object),
        "alert_name": alerts["alert_name"].astype(str).to_numpy(dtype=object),
        "anomaly_score": alerts["anomaly_score"].to_numpy(dtype=np.float64, na_value=np.nan),
        "hour_of_week": how.astype(np.float64),
        "hour_of_day": (how % 24).astype(np.float64),
    }
