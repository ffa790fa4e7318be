"""The incident the alert joined, as it stood when the alert fired: how many alerts, how many services.

The grouper (features/incidents.py) answers it, point in time by construction: offline one
grouper over the whole history in fire order, online the service's grouper as alerts arrive.
Every path attaches that answer to the alerts it featurizes (`with_incidents`) before asking
for features, so this family reads it from the alerts themselves. (An alert the service is sent
again keeps its place in its incident and the services it counted when it joined.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.catalogue import Feature
from features.context import AlertBatch, FeatureContext

# the grouper's answer columns (features.incidents.INCIDENT_COLUMNS) these features read
INCIDENT_INPUTS = ("incident_position", "incident_services")

FEATURES = (
    Feature(
        "incident_alerts_so_far",
        "alerts of its incident up to and including it (1: it opened the incident)",
        "",
        "incidents",
    ),
    Feature(
        "incident_services_so_far",
        "distinct services among its incident's alerts so far",
        "",
        "incidents",
    ),
)


def compute(batch: AlertBatch, context: FeatureContext) -> dict[str, np.ndarray]:
    alerts = batch.alerts
    missing = [name for name in INCIDENT_INPUTS if name not in alerts]
    if missing:
        raise KeyError(
            f"incident features read the grouper's answer on the alerts, and {', '.join(missing)} "
            "is missing: attach it with features.families.incident.with_incidents"
        )
    return {
        "incident_alerts_so_far": alerts["incident_position"].to_numpy(np.float64),
        "incident_services_so_far": alerts["incident_services"].to_numpy(np.float64),
    }


def with_incidents(alerts: pd.DataFrame, grouped: pd.DataFrame) -> pd.DataFrame:
    """`alerts` with the grouper's answer columns this family reads. `grouped` is the grouper's
    answer (features.incidents) of these alerts or of a history that holds them, by alert_id."""
    if not grouped.index.is_unique:  # an alert sent twice keeps the incident it joined first
        grouped = grouped[~grouped.index.duplicated()]
    picked = grouped.reindex(alerts["alert_id"].astype(str))
    lost = picked["incident_id"].isna().to_numpy()
    if lost.any():
        raise ValueError(
            f"{int(lost.sum())} alert(s) have no incident in the grouper's answer, e.g. "
            f"{alerts['alert_id'].to_numpy()[lost][0]!r}: group every alert before its features"
        )
    return alerts.assign(
        **{name: picked[name].to_numpy(dtype=np.int64) for name in INCIDENT_INPUTS}
    )
