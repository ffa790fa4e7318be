"""What the features of an alert may look at: history up to now, indexed for point-in-time questions.

Offline the history is the whole data directory; online it is the state store's recent rows.
Either way every look-up asks "before fired_at", so the same context code serves both.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np
import pandas as pd

from features.baselines import Baselines
from features.config import FeatureConfig
from features.event_index import EventIndex
from features.journey_map import JourneyMap
from features.journey_state import JourneyState, build_journey_state
from features.stages import StageIndex
from features.timeaxis import MINUTE_NS, to_ns

RULE_SEPARATOR = "\x1f"
FEW_ALERTS = 1000  # up to this many alerts, per-alert Python beats pandas' per-call overhead
CONCURRENCY_WINDOW_MIN = (
    10  # "alerting at the same time": the look-back of the concurrency features
)


def rule_keys(alerts: pd.DataFrame) -> np.ndarray:
    """A rule is an alert name on a service: the unit that fires again and again."""
    if len(alerts) <= FEW_ALERTS:  # a request's alerts: plain Python beats pandas' per-call cost
        names, services = alerts["alert_name"].tolist(), alerts["service"].tolist()
        if all(isinstance(v, str) for v in (*names, *services)):
            keys = [n + RULE_SEPARATOR + s for n, s in zip(names, services, strict=True)]
            return np.array(keys, dtype=object)
    return (
        alerts["alert_name"].astype(str) + RULE_SEPARATOR + alerts["service"].astype(str)
    ).to_numpy(dtype=object)


@dataclass(frozen=True)
class Vocabulary:
    """String keys to integer codes; strings never seen get -1 and match nothing."""

    index: pd.Index

    @classmethod
    def of(cls, values) -> Vocabulary:
        return cls(pd.Index(pd.unique(np.asarray(values, dtype=object))))

    def codes(self, values) -> np.ndarray:
        # Each distinct value is looked up once, then spread: far fewer look-ups than rows.
        found, distinct = pd.factorize(as_factorizable(values), use_na_sentinel=False)
        return self.index.get_indexer(np.asarray(distinct, dtype=object)).astype(np.int64)[found]


def as_factorizable(values):
    return (
        values
        if isinstance(values, (pd.Series, pd.Index, np.ndarray))
        else np.asarray(values, dtype=object)
    )


@dataclass(frozen=True)
class AlertHistory:
    rules: Vocabulary
    services: Vocabulary
    by_rule: EventIndex  # values: quick (resolved within the flap limit)
    by_service: EventIndex
    by_stage: EventIndex
    every: EventIndex
    distinct_starts: (
        np.ndarray
    )  # sorted: when an alert starts counting as a distinct alerting service
    distinct_ends: np.ndarray

    def services_alerting(self, t: np.ndarray) -> np.ndarray:
        """Distinct services with an alert in [t - CONCURRENCY_WINDOW_MIN, t)."""
        return np.searchsorted(self.distinct_starts, t, "left") - np.searchsorted(
            self.distinct_ends, t, "left"
        )


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


class KeyCodes(Protocol):
    def codes(self, values) -> np.ndarray: ...


class EventLookups(Protocol):
    """What features ask of keyed event times (EventIndex offline; the online state keeps its own)."""

    def __len__(self) -> int: ...

    def count_between(self, keys: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray: ...

    def last_before(self, keys: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def sum_before(
        self, name: str, keys: np.ndarray, times: np.ndarray, *, inclusive: bool = False
    ) -> np.ndarray: ...


class AlertLookups(Protocol):
    """The alert history as the features read it: AlertHistory offline, updated in place online."""

    rules: KeyCodes
    services: KeyCodes
    by_rule: EventLookups  # values: quick (resolved within the flap limit)
    by_service: EventLookups
    by_stage: EventLookups
    every: EventLookups

    def services_alerting(self, t: np.ndarray) -> np.ndarray: ...


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


def build_context(
    *,
    journey_map: JourneyMap,
    stages: StageIndex,
    baselines: Baselines,
    step_ns: int,
    outcomes: pd.DataFrame,
    alerts: pd.DataFrame,
    changes: pd.DataFrame | None,
    label_events: pd.DataFrame | None,
    config: FeatureConfig,
    journey: JourneyState | None = None,
) -> FeatureContext:
    """Index every history table once; `journey` may be passed in when the caller already built it."""
    journey = journey or build_journey_state(outcomes, stages, baselines, step_ns)
    return FeatureContext(
        stages=stages,
        journey_map=journey_map,
        baselines=baselines.aligned(stages, journey.segments),
        journey=journey,
        alerts=index_alerts(alerts, stages, config),
        changes=index_changes(changes),
        labels=index_labels(label_events),
        config=config,
    )


def index_alerts(alerts: pd.DataFrame, stages: StageIndex, config: FeatureConfig) -> AlertHistory:
    fired = to_ns(alerts["fired_at"])
    resolved = to_ns(alerts["resolved_at"]) if len(alerts) else np.zeros(0, np.int64)
    quick = (alerts["resolved_at"].notna().to_numpy()) & (
        resolved - fired <= config.flap_resolve_min * MINUTE_NS
    )
    rule = rule_keys(alerts)
    rules = Vocabulary.of(rule)
    services = Vocabulary.of(alerts["service"].astype(str))
    service_codes = services.codes(alerts["service"].astype(str))
    pairs = stages.pairs(alerts["service"])
    starts, ends = _distinct_service_intervals(
        service_codes, fired, CONCURRENCY_WINDOW_MIN * MINUTE_NS
    )
    return AlertHistory(
        rules=rules,
        services=services,
        by_rule=EventIndex.build(rules.codes(rule), fired, {"quick": quick.astype(float)}),
        by_service=EventIndex.build(service_codes, fired),
        by_stage=EventIndex.build(pairs["stage_code"].to_numpy(), fired[pairs["row"].to_numpy()]),
        every=EventIndex.build(np.zeros(len(fired), np.int64), fired),
        distinct_starts=starts,
        distinct_ends=ends,
    )


def _distinct_service_intervals(
    service: np.ndarray, fired: np.ndarray, window_ns: int
) -> tuple[np.ndarray, np.ndarray]:
    """Alert j counts toward 'distinct services alerting in [t - w, t)' exactly for t in (a_j, b_j].

    b_j = fired_j + w; a_j = max(fired_j, previous firing of the same service + w), so each
    service present in the window is counted once, by its earliest alert there.
    """
    unique = pd.DataFrame({"s": service, "t": fired}).drop_duplicates().sort_values(["s", "t"])
    s, t = unique["s"].to_numpy(), unique["t"].to_numpy()
    previous = np.where(
        np.r_[False, s[1:] == s[:-1]], np.r_[np.int64(0), t[:-1]], np.iinfo(np.int64).min // 2
    )
    a = np.maximum(t, previous + window_ns)
    b = t + window_ns
    live = a < b
    return np.sort(a[live]), np.sort(b[live])


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
