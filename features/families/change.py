"""Recent changes to the service or what it depends on: deploys, config pushes, flags, experiments."""

from __future__ import annotations

import numpy as np

from features.catalogue import Feature
from features.context import AlertBatch, FeatureContext
from features.families.concurrency import related_pairs
from features.timeaxis import MINUTE_NS

RECENT_MIN = 60

FEATURES = (
    Feature(
        "minutes_since_change",
        "minutes since the last change to the service or a dependency (empty: none in the look-back)",
        "7 d",
        "changes",
    ),
    Feature(
        "change_kind",
        "kind of that change (deploy, config, feature_flag, experiment, …)",
        "7 d",
        "changes",
        "categorical",
    ),
    Feature(
        "change_on_service",
        "1 when that change was to the service itself, 0 when to a dependency",
        "7 d",
        "changes",
    ),
    Feature("changes_1h", "changes to the service or its dependencies", "1 h", "changes"),
)


def compute(batch: AlertBatch, context: FeatureContext) -> dict[str, np.ndarray]:
    changes, t, n = context.changes, batch.fired, len(batch)
    services = batch.alerts["service"].astype(str)
    rows, names = related_pairs(
        services, {s: (s, *context.stages.dependencies.get(s, ())) for s in set(services.unique())}
    )
    own = names == services.to_numpy(dtype=object)[rows]
    keys = changes.services.codes(names)
    last, where = changes.by_service.last_before(keys, t[rows])
    lookback = t[rows] - context.config.change_lookback_min * MINUTE_NS
    recent = (last >= 0) & (last >= lookback)
    # per alert, its latest recent change: the latest time, then one to the service itself, then
    # the last listed (a stable sort by row, time, own, and the last of each row)
    candidates = np.flatnonzero(recent)
    order = candidates[np.lexsort((own[candidates], last[candidates], rows[candidates]))]
    ordered_rows = rows[order]
    latest = order[np.r_[ordered_rows[1:] != ordered_rows[:-1], True]] if len(order) else order
    minutes = np.full(n, np.nan)
    kind = np.full(n, None, dtype=object)
    on_service = np.full(n, np.nan)
    picked = rows[latest]
    minutes[picked] = (t[picked] - last[latest]) / MINUTE_NS
    kind[picked] = changes.kinds[where[latest]]
    on_service[picked] = own[latest].astype(float)
    recent_count = changes.by_service.count_between(keys, t[rows] - RECENT_MIN * MINUTE_NS, t[rows])
    return {
        "minutes_since_change": minutes,
        "change_kind": kind,
        "change_on_service": on_service,
        "changes_1h": np.bincount(rows, weights=recent_count, minlength=n).astype(np.float64),
    }
