"""The alert history as the features read it, in two kinds behind one protocol (AlertLookups).

`AlertHistory` (offline) indexes a whole table of alerts once; `LiveAlertHistory` (online) takes
batches as they arrive, a re-sent alert replacing its earlier copy. Both key events the same
way (rule_keys, services, the stages a service reaches, quick resolutions), and for the same
alerts every look-up answers the same (tests/features/test_live_alert_history.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from features.config import FeatureConfig
from features.event_index import EventIndex, EventLookups
from features.keyed_timeline import KeyedTimeline
from features.stages import StageIndex
from features.timeaxis import MINUTE_NS, to_ns
from features.vocabulary import GrowingVocabulary, KeyCodes, Vocabulary, rule_keys

CONCURRENCY_WINDOW_MIN = (
    10  # "alerting at the same time": the look-back of the concurrency features
)


class AlertLookups(Protocol):
    """What features ask of the alert history: AlertHistory offline, LiveAlertHistory online."""

    rules: KeyCodes
    services: KeyCodes
    by_rule: EventLookups  # values: quick (resolved within the flap limit)
    by_service: EventLookups
    by_stage: EventLookups
    every: EventLookups

    def services_alerting(self, t: np.ndarray) -> np.ndarray: ...


def quick_resolutions(alerts: pd.DataFrame, fired: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """Which alerts resolved within the flap limit of firing (a flap, not an outage)."""
    if not len(alerts):
        return np.zeros(0, bool)
    resolved = alerts["resolved_at"]
    return resolved.notna().to_numpy() & (
        to_ns(resolved) - fired <= config.flap_resolve_min * MINUTE_NS
    )


# ---------------------------------------------------------------------- offline: indexed once


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


def index_alerts(alerts: pd.DataFrame, stages: StageIndex, config: FeatureConfig) -> AlertHistory:
    fired = to_ns(alerts["fired_at"])
    quick = quick_resolutions(alerts, fired, config)
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


# ---------------------------------------------------------------------- online: batch by batch


class LiveAlertHistory:
    """What `index_alerts` builds from the alerts held, kept up to date batch by batch.

    Rebuilding the indexes of a week of alerts for every request would cost far more than the
    request's own alerts; here a batch of alerts is inserted (a re-sent alert_id first removes its
    earlier copy) and every look-up answers what the offline index answers for the same alerts.
    """

    def __init__(
        self, stages: StageIndex, config: FeatureConfig, alerts: pd.DataFrame | None = None
    ) -> None:
        self.stages, self.config = stages, config
        self.rules, self.services = GrowingVocabulary(), GrowingVocabulary()
        self.by_rule = KeyedTimeline(flags=("quick",))  # quick: resolved within the flap limit
        self.by_service, self.by_stage, self.every = (
            KeyedTimeline(),
            KeyedTimeline(),
            KeyedTimeline(),
        )
        self._held: dict[str, tuple[int, int, int, bool]] = {}  # rule, service, fired, quick
        self._stages_of: dict[int, np.ndarray] = {}  # service code -> stage codes it reaches
        if alerts is not None and len(alerts):
            self.add(alerts)

    def __len__(self) -> int:
        return len(self._held)

    def holds_any(self, alert_ids) -> bool:
        return any(a in self._held for a in alert_ids)

    def add(self, alerts: pd.DataFrame, fired: np.ndarray | None = None) -> None:
        """Alerts with distinct ids join the history; an id already held replaces its earlier copy.

        fired: their fired_at in ns, when the caller has it already.
        """
        ids = alerts["alert_id"].tolist()
        fired = to_ns(alerts["fired_at"]) if fired is None else fired
        quick = quick_resolutions(alerts, fired, self.config)
        rule = self.rules.add(rule_keys(alerts))
        service = self.services.add(alerts["service"].astype(str))
        replaced = [self._held.pop(a) for a in ids if a in self._held]
        if replaced:
            old = [np.array(column) for column in zip(*replaced, strict=True)]
            self._apply("remove", old[0], old[1], old[2], old[3].astype(bool))
        self._apply("insert", rule, service, fired, quick)
        self._held.update(
            zip(
                ids,
                zip(rule.tolist(), service.tolist(), fired.tolist(), quick.tolist(), strict=True),
                strict=True,
            )
        )

    def services_alerting(self, t: np.ndarray) -> np.ndarray:
        """Distinct services with an alert in [t - CONCURRENCY_WINDOW_MIN, t)."""
        t = np.asarray(t, dtype=np.int64)
        counts = np.zeros(len(t), np.int64)
        timeline = self.by_service
        if not len(t) or not len(timeline):
            return counts
        window = CONCURRENCY_WINDOW_MIN * MINUTE_NS
        lo, hi = timeline.offsets[:-1], timeline.offsets[1:]
        held = np.flatnonzero(hi > lo)
        # only a service with an alert in [min t - window, max t) can count for any query
        near = (timeline.times[hi[held] - 1] >= t.min() - window) & (
            timeline.times[lo[held]] < t.max()
        )
        needles = np.concatenate([t, t - window])
        for key in held[near]:
            found = np.searchsorted(timeline.times[lo[key] : hi[key]], needles, "left")
            counts += found[: len(t)] > found[len(t) :]
        return counts

    def _apply(
        self, how: str, rule: np.ndarray, service: np.ndarray, fired: np.ndarray, quick: np.ndarray
    ) -> None:
        stage_lists = [self._stage_codes(s) for s in service.tolist()]
        stage = np.concatenate(stage_lists) if stage_lists else np.zeros(0, np.int64)
        stage_fired = np.repeat(fired, [len(codes) for codes in stage_lists])
        getattr(self.by_rule, how)(rule, fired, quick=quick)
        getattr(self.by_service, how)(service, fired)
        getattr(self.by_stage, how)(stage, stage_fired)
        getattr(self.every, how)(np.zeros(len(fired), np.int64), fired)

    def _stage_codes(self, service: int) -> np.ndarray:
        """The stage codes a service reaches (what StageIndex.pairs gives its alerts)."""
        if service not in self._stages_of:
            name = pd.Series([self.services.names[service]], dtype=object)
            self._stages_of[service] = self.stages.pairs(name)["stage_code"].to_numpy(np.int64)
        return self._stages_of[service]
