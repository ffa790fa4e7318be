"""What the features of an alert may look at: history up to now, indexed for point-in-time questions.

Offline the history is the whole data directory; online it is the state store's recent rows.
Either way every look-up asks "before fired_at", so the same context code serves both.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from features.alert_index import AlertLookups
from features.baselines import Baselines
from features.config import FeatureConfig
from features.event_index import EventIndex
from features.journey_map import JourneyMap
from features.journey_state import JourneyState
from features.stages import StageIndex
from features.timeaxis import to_ns
from features.vocabulary import Vocabulary, rule_keys


@dataclass(frozen=True)
class ChangeHistory:
    services: Vocabulary
    by_service: EventIndex
    kinds: np.ndarray  # kind of each change, by original row


@dataclass(frozen=True)
class LabelHistory:
    """Matured labels, keyed by rule and by service, summed in time order of maturity."""

    rules: Vocabulary
    services: Vocabulary
    by_rule: EventIndex  # values: n, positives
    by_service: EventIndex
    overall: EventIndex


@dataclass(frozen=True)
class FeatureContext:
    stages: StageIndex
    journey_map: JourneyMap
    baselines: Baselines  # aligned with stages and journey.segments
    journey: JourneyState
    alerts: AlertLookups
    changes: ChangeHistory
    labels: LabelHistory
    config: FeatureConfig


def index_changes(changes: pd.DataFrame | None) -> ChangeHistory:
    if changes is None:
        changes = pd.DataFrame({"ts": pd.to_datetime([], utc=True), "service": [], "kind": []})
    services = Vocabulary.of(changes["service"].astype(str))
    return ChangeHistory(
        services=services,
        by_service=EventIndex.build(
            services.codes(changes["service"].astype(str)), to_ns(changes["ts"])
        ),
        kinds=changes["kind"].astype(str).to_numpy(dtype=object),
    )


def index_labels(label_events: pd.DataFrame | None) -> LabelHistory:
    """label_events: matured_at, alert_name, service, n, positives (one row per label, or summaries)."""
    if label_events is None or label_events.empty:
        label_events = pd.DataFrame(
            {
                "matured_at": pd.to_datetime([], utc=True),
                "alert_name": [],
                "service": [],
                "n": [],
                "positives": [],
            }
        )
    matured = to_ns(label_events["matured_at"])
    values = {
        "n": label_events["n"].to_numpy(float),
        "positives": label_events["positives"].to_numpy(float),
    }
    rule = rule_keys(label_events)
    rules = Vocabulary.of(rule)
    services = Vocabulary.of(label_events["service"].astype(str))
    return LabelHistory(
        rules=rules,
        services=services,
        by_rule=EventIndex.build(rules.codes(rule), matured, values),
        by_service=EventIndex.build(
            services.codes(label_events["service"].astype(str)), matured, values
        ),
        overall=EventIndex.build(np.zeros(len(matured), np.int64), matured, values),
    )


@dataclass(frozen=True)
class AlertBatch:
    """The alerts to featurize, with their fire times and the stages each one's service reaches."""

    alerts: pd.DataFrame
    fired: np.ndarray
    pairs: pd.DataFrame  # row, stage_code, kind_code, hops — sorted by row

    @classmethod
    def of(cls, alerts: pd.DataFrame, stages: StageIndex) -> AlertBatch:
        alerts = alerts.reset_index(drop=True)
        return cls(alerts, to_ns(alerts["fired_at"]), stages.pairs(alerts["service"]))

    def __len__(self) -> int:
        return len(self.alerts)

    @cached_property
    def pair_columns(self) -> dict[str, np.ndarray]:
        """The pairs' columns as arrays (the families read them many times)."""
        return {name: self.pairs[name].to_numpy() for name in self.pairs.columns}

    @cached_property
    def _pair_starts(self) -> np.ndarray:
        return _run_starts(self.pair_columns["row"])

    def per_alert(self, values: np.ndarray, how: str = "max") -> np.ndarray:
        """Reduce one value per (alert, stage) pair to one per alert; NaN where an alert has no stage."""
        return _reduce_runs(
            self.pair_columns["row"],
            self._pair_starts,
            np.asarray(values, dtype=np.float64),
            len(self),
            how,
        )


_REDUCERS = {"max": np.fmax, "min": np.fmin, "sum": np.add}


def reduce_pairs(rows: np.ndarray, values: np.ndarray, n: int, how: str) -> np.ndarray:
    """Group-reduce values by row (rows sorted ascending); rows absent get NaN."""
    return _reduce_runs(rows, _run_starts(rows), values, n, how)


def _run_starts(rows: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]]) if len(rows) else rows


def _reduce_runs(
    rows: np.ndarray, starts: np.ndarray, values: np.ndarray, n: int, how: str
) -> np.ndarray:
    out = np.full(n, np.nan)
    if len(rows) == 0:
        return out
    out[rows[starts]] = _REDUCERS[how].reduceat(values, starts)
    return out
