"""The online path: state that takes outcomes, alerts, changes and feedback as they arrive, and computes
features for new alerts with exactly the definitions the offline job uses."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.alert_index import LiveAlertHistory
from features.baselines import Baselines
from features.config import FeatureJobConfig
from features.context import FeatureContext, index_changes, index_labels
from features.journey_map import JourneyMap
from features.journey_state import JourneyState
from features.labels import HISTORY_COLUMNS, label_history
from features.loading import empty_frame
from features.recipe import MATURED_COLUMNS, Recipe
from features.schemas import ALERTS, CHANGES, FEEDBACK, JOURNEY_OUTCOMES
from features.timeaxis import MINUTE_NS, to_ns

DAY_MIN = 1440
BATCHES_KEPT_APART = 64  # appended batches a _GrowingFrame merges into one once it holds this many


@dataclass(frozen=True)
class Retention:
    """How much of each stream the state keeps (the features look back at most 7 days)."""

    outcomes_min: int = 6 * 60
    alerts_min: int = 8 * DAY_MIN
    changes_min: int = 8 * DAY_MIN
    labels_min: int = 30 * DAY_MIN  # older labels are folded into per-rule and per-service totals

    def minutes_by_table(self) -> dict[str, int]:
        """How long each table of an online state store keeps its rows, in event-time minutes."""
        return {
            "outcomes": self.outcomes_min,
            "alerts": self.alerts_min,
            "changes": self.changes_min,
            "feedback": self.labels_min,
            "labels": self.labels_min,
        }


class OnlineFeatureState:
    """Recent history in memory; `features_for` answers as the offline job would at the same moment."""

    def __init__(
        self,
        journey_map: JourneyMap,
        baselines: Baselines,
        config: FeatureJobConfig,
        window_ns: int,
        retention: Retention | None = None,
    ) -> None:
        self.recipe = Recipe.of(journey_map, baselines, config, window_ns)
        self.journey_map, self.stages = journey_map, self.recipe.stages
        self.baselines, self.config, self.window_ns = baselines, config, window_ns
        self.retention = retention or Retention()
        self.outcomes = _plain(empty_frame(JOURNEY_OUTCOMES))
        self._alerts = _GrowingFrame(_plain(empty_frame(ALERTS)), ["alert_id"])
        self.changes = _plain(empty_frame(CHANGES))
        self.feedback = _plain(empty_frame(FEEDBACK))
        # matured derived labels of alerts still in the state (the columns even when none: a
        # verdict may come before any label has matured)
        self.derived = pd.DataFrame(columns=list(MATURED_COLUMNS))
        self.label_totals = pd.DataFrame(columns=list(HISTORY_COLUMNS))  # folded older labels
        # alerts whose impact window has not closed yet, and the earliest fired_at among them
        self._pending = _GrowingFrame(pd.DataFrame(), ["alert_id"])
        self._pending_first_ns: int | None = None
        self._history = LiveAlertHistory(self.stages, config.features)
        self._cache: dict[str, object] = {}

    @property
    def alerts(self) -> pd.DataFrame:
        """Every alert held (the last copy of each alert_id), in the order they arrived."""
        return self._alerts.frame

    def holds_any(self, alert_ids) -> bool:
        """Whether some of these alerts are held already (adding them again replaces a copy)."""
        return self._history.holds_any(alert_ids)

    @property
    def derived(self) -> pd.DataFrame:
        return self._derived

    @derived.setter
    def derived(self, frame: pd.DataFrame) -> None:
        self._derived = frame
        self._derived_ids: set[str] | None = None  # built when first asked for

    # ------------------------------------------------------------------ what arrives

    def add_outcomes(self, rows: pd.DataFrame) -> None:
        self.outcomes = _appended(
            self.outcomes, rows, ["window_start", "journey", "stage", "segment", "region"]
        )
        self._cache.pop("journey", None)
        self._cache.pop("data_end", None)
        self._mature_labels()

    def add_alerts(self, alerts: pd.DataFrame) -> None:
        """New firings join the history (a re-sent alert_id replaces the earlier copy)."""
        alerts = _plain(alerts)
        ids = alerts["alert_id"].tolist()
        if len(set(ids)) < len(ids):
            alerts = alerts.drop_duplicates("alert_id", keep="last")
            ids = alerts["alert_id"].tolist()
        if alerts.empty:
            return
        fired = to_ns(alerts["fired_at"])
        self._alerts.append(alerts)
        self._history.add(alerts, fired)
        labelled = self._labelled_ids()
        fresh = np.array([a not in labelled for a in ids], dtype=bool)
        if fresh.any():
            self._pending.append(alerts if fresh.all() else alerts[fresh])
            first = int(fired[fresh].min())
            if self._pending_first_ns is None or first < self._pending_first_ns:
                self._pending_first_ns = first
        self._mature_labels()

    def add_changes(self, changes: pd.DataFrame) -> None:
        self.changes = _appended(self.changes, changes, ["change_id"])
        self._cache.pop("changes", None)

    def add_derived_labels(self, labels: pd.DataFrame) -> None:
        """Labels derived earlier (alert_id, matured_at, label, alert_name, service), e.g. after a restart."""
        self.derived = _appended(
            self.derived,
            labels[list(MATURED_COLUMNS)],
            ["alert_id"],
        )
        pending = self._pending.frame
        if len(pending):
            self._set_pending(pending[~pending["alert_id"].isin(labels["alert_id"])])
        self._cache.pop("labels", None)

    def add_label_totals(self, totals: pd.DataFrame) -> None:
        """Folded per-rule totals (alert_name, service, n, positives) of labels older than the retention."""
        rows = totals.assign(matured_at=pd.Timestamp(0, tz="UTC"))[list(HISTORY_COLUMNS)]
        self.label_totals = (
            pd.concat([self.label_totals, rows], ignore_index=True)
            if len(self.label_totals)
            else rows
        )
        self._cache.pop("labels", None)

    def add_feedback(self, feedback: pd.DataFrame) -> None:
        feedback = _plain(feedback)
        self.feedback = (
            pd.concat([self.feedback, feedback], ignore_index=True)
            if len(self.feedback)
            else feedback
        )
        self._cache.pop("labels", None)

    # ------------------------------------------------------------------ what it answers

    def features_for(self, alerts: pd.DataFrame) -> pd.DataFrame:
        """Features of alerts already added (rank = add_alerts, then features_for), each carrying
        its incident as the grouper answered when it joined (features.families.incident)."""
        return self.recipe.features(alerts, self.context())

    def context(self) -> FeatureContext:
        """The recipe's context over the state held: each index rebuilt only when its rows changed
        (the alert history is kept up to date in place)."""
        return self.recipe.context(
            self._journey(),
            self._history,
            self._cached(
                "changes", lambda: index_changes(self.changes if len(self.changes) else None)
            ),
            self._cached("labels", lambda: index_labels(self.label_events())),
        )

    def label_events(self) -> pd.DataFrame:
        feedback = self.feedback if len(self.feedback) else None
        if len(self.derived) or feedback is not None:
            recent = label_history(self._names(), self.derived, feedback)
        else:
            recent = pd.DataFrame(columns=list(HISTORY_COLUMNS))
        return (
            pd.concat([self.label_totals, recent], ignore_index=True)
            if len(self.label_totals)
            else recent
        )

    @property
    def data_end_ns(self) -> int | None:
        """End of the latest outcome window received."""
        if self.outcomes.empty:
            return None
        return self._cached(
            "data_end", lambda: int(to_ns(self.outcomes["window_start"]).max()) + self.window_ns
        )

    # ------------------------------------------------------------------ housekeeping

    def prune(self, now: pd.Timestamp) -> None:
        """Drop what the features can no longer see; fold old labels into totals."""
        now_ns = int(to_ns(pd.DatetimeIndex([now]))[0])
        keep_after = {
            name: now_ns - minutes * MINUTE_NS
            for name, minutes in (
                ("outcomes", self.retention.outcomes_min),
                ("alerts", self.retention.alerts_min),
                ("changes", self.retention.changes_min),
                ("labels", self.retention.labels_min),
            )
        }
        if len(self.outcomes):
            self.outcomes = self.outcomes[
                to_ns(self.outcomes["window_start"]) >= keep_after["outcomes"]
            ]
        if len(self.changes):
            self.changes = self.changes[to_ns(self.changes["ts"]) >= keep_after["changes"]]
        self._fold_labels(keep_after["labels"])
        alerts = self.alerts
        if len(alerts):
            kept = alerts[to_ns(alerts["fired_at"]) >= keep_after["alerts"]]
            if len(kept) < len(alerts):
                self._alerts = _GrowingFrame(kept, ["alert_id"])
                self._history = LiveAlertHistory(self.stages, self.config.features, kept)
        self._cache.clear()

    def _fold_labels(self, before_ns: int) -> None:
        if self.derived.empty:
            return
        old = to_ns(self.derived["matured_at"]) < before_ns
        if not old.any():
            return
        events = label_history(self.derived[old], self.derived[old])
        totals = events.groupby(["alert_name", "service"], as_index=False)[["n", "positives"]].sum()
        totals.insert(0, "matured_at", pd.Timestamp(0, tz="UTC"))
        self.label_totals = (
            pd.concat([self.label_totals, totals], ignore_index=True)
            .groupby(["matured_at", "alert_name", "service"], as_index=False)[["n", "positives"]]
            .sum()
        )
        self.derived = self.derived[~old]

    def _mature_labels(self) -> None:
        """Derive the labels of pending alerts whose impact window has closed in the outcomes received."""
        end = self.data_end_ns
        window = self.config.labels.impact_window_min * MINUTE_NS
        if end is None or self._pending_first_ns is None or self._pending_first_ns + window > end:
            return  # nothing pending, or nothing whose impact window has closed
        pending = self._pending.frame
        ready = to_ns(pending["fired_at"]) + window <= end
        if not ready.any():
            self._set_pending(pending)  # the earliest fired_at was a replaced copy's
            return
        named = self.recipe.matured_labels(pending[ready], self._journey())
        self.derived = _appended(self.derived, named, ["alert_id"])
        self._set_pending(pending[~pending["alert_id"].isin(named["alert_id"])])
        self._cache.pop("labels", None)

    def _set_pending(self, pending: pd.DataFrame) -> None:
        self._pending = _GrowingFrame(pending, ["alert_id"])
        self._pending_first_ns = int(to_ns(pending["fired_at"]).min()) if len(pending) else None

    def _labelled_ids(self) -> set[str]:
        if self._derived_ids is None:
            self._derived_ids = set(self.derived["alert_id"]) if len(self.derived) else set()
        return self._derived_ids

    def _names(self) -> pd.DataFrame:
        """alert_name and service of every alert a label or verdict may concern."""
        parts = [
            f[["alert_id", "alert_name", "service"]]
            for f in (self.derived, self._pending.frame, self.alerts)
            if len(f)
        ]
        return pd.concat(parts, ignore_index=True).drop_duplicates("alert_id")

    def _journey(self) -> JourneyState:
        """The journey state of the outcomes held (rebuilt when outcomes arrive)."""
        return self._cached("journey", lambda: self.recipe.journey(self.outcomes))

    def _cached(self, name: str, build):
        if name not in self._cache:
            self._cache[name] = build()
        return self._cache[name]


def _appended(frame: pd.DataFrame, rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """frame then rows, the last copy of each key winning (within rows too)."""
    rows = _plain(rows)
    both = rows if frame.empty else pd.concat([frame, rows], ignore_index=True)
    return both.drop_duplicates(keys, keep="last").reset_index(drop=True)


class _GrowingFrame:
    """Rows kept by key, the last copy winning: an append costs the batch, not the whole frame.

    Appended batches are put together with the rows held only when the frame is read; the result is
    what appending them one by one would give.
    """

    def __init__(self, frame: pd.DataFrame, keys: list[str]) -> None:
        self._frame, self._keys = frame, keys
        self._batches: list[pd.DataFrame] = []

    def append(self, rows: pd.DataFrame) -> None:
        if len(rows):
            self._batches.append(_plain(rows))
        if len(self._batches) >= BATCHES_KEPT_APART:  # many small frames cost more than one
            batches, self._batches = self._batches, []
            self._batches.append(_appended(pd.DataFrame(), pd.concat(batches), self._keys))

    @property
    def frame(self) -> pd.DataFrame:
        if self._batches:
            batches = self._batches
            rows = batches[0] if len(batches) == 1 else pd.concat(batches, ignore_index=True)
            self._frame, self._batches = _appended(self._frame, rows, self._keys), []
        return self._frame


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as plain Python objects: many small operations on Arrow strings cost more than they save."""
    text = [c for c, dtype in frame.dtypes.items() if isinstance(dtype, pd.StringDtype)]
    return frame.astype(dict.fromkeys(text, object)) if text else frame
