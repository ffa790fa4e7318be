"""What else is alerting right now: the whole fleet, the same stages, the service's dependencies and callers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.catalogue import Feature
from features.context import CONCURRENCY_WINDOW_MIN, AlertBatch, FeatureContext
from features.timeaxis import MINUTE_NS

FEATURES = (
    Feature("alerts_10m", "alerts fired anywhere", "10 min", "alert history"),
    Feature(
        "services_alerting_10m", "distinct services that fired alerts", "10 min", "alert history"
    ),
    Feature(
        "stage_alerts_10m",
        "alerts on services reaching the same stage (busiest mapped stage)",
        "10 min",
        "alert history",
    ),
    Feature(
        "dependency_alerts_10m",
        "alerts on services this service calls (map dependencies, transitively)",
        "10 min",
        "alert history",
    ),
    Feature(
        "caller_alerts_10m",
        "alerts on services that call this service (transitively)",
        "10 min",
        "alert history",
    ),
)


def compute(batch: AlertBatch, context: FeatureContext) -> dict[str, np.ndarray]:
    history, t = context.alerts, batch.fired
    start = t - CONCURRENCY_WINDOW_MIN * MINUTE_NS
    zero = np.zeros(len(t), np.int64)
    distinct = np.searchsorted(history.distinct_starts, t, "left") - np.searchsorted(
        history.distinct_ends, t, "left"
    )
    pair_t = t[batch.pairs["row"].to_numpy()]
    on_stage = history.by_stage.count_between(
        batch.pairs["stage_code"].to_numpy(), pair_t - CONCURRENCY_WINDOW_MIN * MINUTE_NS, pair_t
    )
    services = batch.alerts["service"].astype(str)
    return {
        "alerts_10m": history.every.count_between(zero, start, t).astype(np.float64),
        "services_alerting_10m": distinct.astype(np.float64),
        "stage_alerts_10m": np.nan_to_num(batch.per_alert(on_stage)),
        "dependency_alerts_10m": _related_alerts(
            context, services, context.stages.dependencies, start, t
        ),
        "caller_alerts_10m": _related_alerts(context, services, context.stages.callers, start, t),
    }


def _related_alerts(
    context: FeatureContext, services: pd.Series, related: dict, start, end
) -> np.ndarray:
    """Σ over the related services of their alerts in [start, end)."""
    rows, names = related_pairs(services, related)
    counts = context.alerts.by_service.count_between(
        context.alerts.services.codes(names), start[rows], end[rows]
    )
    return np.bincount(rows, weights=counts, minlength=len(services)).astype(np.float64)


def related_pairs(
    services: pd.Series, related: dict[str, tuple[str, ...]]
) -> tuple[np.ndarray, np.ndarray]:
    """(row, related service) for every alert row and each service related to its own, rows ascending."""
    codes, uniques = pd.factorize(services)
    lists = [related.get(s, ()) for s in uniques]
    sizes = np.array([len(x) for x in lists], dtype=np.int64)
    flat = np.array([name for x in lists for name in x], dtype=object)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    per_row = sizes[codes]
    rows = np.repeat(np.arange(len(codes)), per_row)
    within = np.arange(per_row.sum()) - np.repeat(np.cumsum(per_row) - per_row, per_row)
    return rows, flat[np.repeat(offsets[codes], per_row) + within] if len(flat) else flat
