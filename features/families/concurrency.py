"""What else is alerting right now: the whole fleet, the same stages, the service's dependencies and callers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.alert_index import CONCURRENCY_WINDOW_MIN
from features.catalogue import Feature
from features.context import AlertBatch, FeatureContext
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
    distinct = history.services_alerting(t)
    pair_t = t[batch.pair_columns["row"]]
    on_stage = history.by_stage.count_between(
        batch.pair_columns["stage_code"], pair_t - CONCURRENCY_WINDOW_MIN * MINUTE_NS, pair_t
    )
    services = batch.alerts["service"].astype(str)
    return {
        "alerts_10m": history.every.count_between(zero, start, t).astype(np.float64),
        "services_alerting_10m": distinct.astype(np.float64),
        "stage_alerts_10m": np.nan_to_num(batch.per_alert(on_stage)),
        **_related_alerts(
            context,
            services,
            {
                "dependency_alerts_10m": context.stages.dependencies,
                "caller_alerts_10m": context.stages.callers,
            },
            start,
            t,
        ),
    }


def _related_alerts(
    context: FeatureContext, services: pd.Series, relations: dict[str, dict], start, end
) -> dict[str, np.ndarray]:
    """Per relation: Σ over each alert's related services of their alerts in [start, end) (one look-up)."""
    pairs = {name: related_pairs(services, related) for name, related in relations.items()}
    rows = np.concatenate([r for r, _ in pairs.values()])
    names = np.concatenate([np.asarray(n, dtype=object) for _, n in pairs.values()])
    counts = context.alerts.by_service.count_between(
        context.alerts.services.codes(names), start[rows], end[rows]
    )
    out, at = {}, 0
    for name, (relation_rows, _) in pairs.items():
        part = counts[at : at + len(relation_rows)]
        at += len(relation_rows)
        out[name] = np.bincount(relation_rows, weights=part, minlength=len(services)).astype(
            np.float64
        )
    return out


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
