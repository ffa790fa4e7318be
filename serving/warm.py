"""Warm start: fill an empty state store from a data directory, so history features mean what they meant
in training from the first alert on (instead of a week of cold, all-zero history)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from features.loading import load_data_dir
from features.timeaxis import MINUTE_NS, from_ns, to_ns
from models.ranking import Ranker
from serving.state import SqliteStateStore


def warm_start(
    store: SqliteStateStore, ranker: Ranker, data_dir: Path, until: pd.Timestamp | None = None
) -> dict[str, int]:
    """Rows of DIR from before `until` (default: its end), within retention; labels as they had matured."""
    data = load_data_dir(data_dir)
    end = until if until is not None else data.journey_outcomes["window_start"].max() + data.window
    end_ns = int(to_ns(pd.DatetimeIndex([end]))[0])
    keep = store.retention

    def recent(frame: pd.DataFrame | None, column: str, minutes: int) -> pd.DataFrame:
        if frame is None:
            return pd.DataFrame()
        times = to_ns(frame[column])
        return frame[(times < end_ns) & (times >= end_ns - minutes * MINUTE_NS)]

    outcome_end = to_ns(data.journey_outcomes["window_start"]) + int(data.window.value)
    outcomes = data.journey_outcomes[
        (outcome_end <= end_ns) & (outcome_end > end_ns - keep.outcomes_min * MINUTE_NS)
    ]
    alerts = data.alerts[to_ns(data.alerts["fired_at"]) < end_ns]
    labels = _matured_labels(ranker, data, alerts, end_ns)
    recent_labels = labels[to_ns(labels["matured_at"]) >= end_ns - keep.labels_min * MINUTE_NS]
    older = labels.drop(recent_labels.index)
    counts = {
        "labels": store.put("labels", recent_labels),
        "alerts": store.put("alerts", recent(alerts, "fired_at", keep.alerts_min)),
        "changes": store.put("changes", recent(data.changes, "ts", keep.changes_min)),
        "feedback": store.put("feedback", recent(data.feedback, "ts", keep.labels_min)),
        "outcomes": store.put("outcomes", outcomes),
    }
    if len(older):
        totals = older.assign(n=1.0, positives=older["label"].astype(float))
        store.add_label_totals(
            totals.groupby(["alert_name", "service"], as_index=False)[["n", "positives"]].sum()
        )
    return counts


def _matured_labels(ranker: Ranker, data, alerts: pd.DataFrame, end_ns: int) -> pd.DataFrame:
    """Derived labels of the alerts whose impact window had closed by `end_ns`, with the model's baselines."""
    recipe = ranker.recipe
    known = data.journey_outcomes[
        to_ns(data.journey_outcomes["window_start"]) + int(data.window.value) <= end_ns
    ]
    named = recipe.matured_labels(alerts, recipe.journey(known))
    named = named[to_ns(named["matured_at"]) <= end_ns].reset_index(drop=True)
    named["matured_at"] = from_ns(to_ns(named["matured_at"]))
    return named
