"""The online path: state that takes outcomes, alerts, changes and feedback as they arrive, and computes
features for new alerts with exactly the definitions the offline job uses."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from features.baselines import Baselines
from features.build import build_features
from features.config import FeatureJobConfig
from features.context import FeatureContext, index_alerts, index_changes, index_labels
from features.journey_map import JourneyMap
from features.journey_state import JourneyState, build_journey_state
from features.labels import HISTORY_COLUMNS, derive_impact_labels, label_history
from features.loading import empty_frame
from features.schemas import ALERTS, CHANGES, FEEDBACK, JOURNEY_OUTCOMES
from features.stages import StageIndex
from features.timeaxis import MINUTE_NS, to_ns

DAY_MIN = 1440


@dataclass(frozen=True)
class Retention:
    """How much of each stream the state keeps (the features look back at most 7 days)."""

    outcomes_min: int = 6 * 60
    alerts_min: int = 8 * DAY_MIN
    changes_min: int = 8 * DAY_MIN
    labels_min: int = 30 * DAY_MIN  # older labels are folded into per-rule and per-service totals


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
        self.journey_map = journey_map
        self.stages = StageIndex.from_map(journey_map)
        self.baselines = baselines
        self.config = config
        self.window_ns = window_ns
        self.retention = retention or Retention()
        self.outcomes = _plain(empty_frame(JOURNEY_OUTCOMES))
        self.alerts = _plain(empty_frame(ALERTS))
        self.changes = _plain(empty_frame(CHANGES))
        self.feedback = _plain(empty_frame(FEEDBACK))
        self.derived = pd.DataFrame()  # matured derived labels of alerts still in the state
        self.label_totals = pd.DataFrame(columns=list(HISTORY_COLUMNS))  # folded older labels
        self._pending = pd.DataFrame()  # alerts whose impact window has not closed yet
        self._cache: dict[str, object] = {}

    # ------------------------------------------------------------------ what arrives

    def add_outcomes(self, rows: pd.DataFrame) -> None:
        self.outcomes = _appended(
            self.outcomes, rows, ["window_start", "journey", "stage", "segment", "region"]
        )
        self._cache.pop("journey", None)
        self._mature_labels()

    def add_alerts(self, alerts: pd.DataFrame) -> None:
        """New firings join the history (a re-sent alert_id replaces the earlier copy)."""
        self.alerts = _appended(self.alerts, alerts, ["alert_id"])
        labelled = set(self.derived["alert_id"]) if len(self.derived) else set()
        fresh = alerts[[a not in labelled for a in alerts["alert_id"]]]
        self._pending = _appended(self._pending, fresh, ["alert_id"])
        self._cache.pop("alerts", None)
        self._mature_labels()

    def add_changes(self, changes: pd.DataFrame) -> None:
        self.changes = _appended(self.changes, changes, ["change_id"])
        self._cache.pop("changes", None)

    def add_derived_labels(self, labels: pd.DataFrame) -> None:
        """Labels derived earlier (alert_id, matured_at, label, alert_name, service), e.g. after a restart."""
        self.derived = _appended(
            self.derived,
            labels[["alert_id", "matured_at", "label", "alert_name", "service"]],
            ["alert_id"],
        )
        if len(self._pending):
            self._pending = self._pending[~self._pending["alert_id"].isin(labels["alert_id"])]
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
        """Features of alerts already added (rank = add_alerts, then features_for)."""
        return build_features(alerts, self.context())

    def context(self) -> FeatureContext:
        journey = self._cached("journey", self._journey_state)
        return FeatureContext(
            stages=self.stages,
            journey_map=self.journey_map,
            baselines=self.baselines.aligned(self.stages, journey.segments),
            journey=journey,
            alerts=self._cached(
                "alerts", lambda: index_alerts(self.alerts, self.stages, self.config.features)
            ),
            changes=self._cached(
                "changes", lambda: index_changes(self.changes if len(self.changes) else None)
            ),
            labels=self._cached("labels", lambda: index_labels(self.label_events())),
            config=self.config.features,
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
        return int(to_ns(self.outcomes["window_start"]).max()) + self.window_ns

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
        if len(self.alerts):
            self.alerts = self.alerts[to_ns(self.alerts["fired_at"]) >= keep_after["alerts"]]
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
        if end is None or self._pending.empty:
            return
        window = self.config.labels.impact_window_min * MINUTE_NS
        ready = to_ns(self._pending["fired_at"]) + window <= end
        if not ready.any():
            return
        journey = self._cached("journey", self._journey_state)
        labels = derive_impact_labels(
            self._pending[ready], journey, self.stages, self.journey_map, self.config.labels
        )
        matured = labels[labels["label"].notna()]
        named = matured[["alert_id", "matured_at", "label"]].merge(
            self._pending[["alert_id", "alert_name", "service"]], on="alert_id"
        )
        self.derived = _appended(self.derived, named, ["alert_id"])
        self._pending = self._pending[~self._pending["alert_id"].isin(matured["alert_id"])]
        self._cache.pop("labels", None)

    def _names(self) -> pd.DataFrame:
        """alert_name and service of every alert a label or verdict may concern."""
        parts = [
            f[["alert_id", "alert_name", "service"]]
            for f in (self.derived, self._pending, self.alerts)
            if len(f)
        ]
        return pd.concat(parts, ignore_index=True).drop_duplicates("alert_id")

    def _journey_state(self) -> JourneyState:
        return build_journey_state(self.outcomes, self.stages, self.baselines, self.window_ns)

    def _cached(self, name: str, build):
        if name not in self._cache:
            self._cache[name] = build()
        return self._cache[name]


def _appended(frame: pd.DataFrame, rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    rows = _plain(rows)
    if frame.empty:
        return rows.reset_index(drop=True).copy()
    both = pd.concat([frame, rows], ignore_index=True)
    return both.drop_duplicates(keys, keep="last").reset_index(drop=True)


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as plain Python objects: many small operations on Arrow strings cost more than they save."""
    text = [c for c, dtype in frame.dtypes.items() if isinstance(dtype, pd.StringDtype)]
    return frame.astype(dict.fromkeys(text, object)) if text else frame
