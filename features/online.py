"""The online path: state that takes outcomes, alerts, changes and feedback as they arrive, and computes
features for new alerts with exactly the definitions the offline job uses."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.baselines import Baselines
from features.build import build_features
from features.config import FeatureConfig, FeatureJobConfig
from features.context import (
    CONCURRENCY_WINDOW_MIN,
    FeatureContext,
    as_factorizable,
    index_changes,
    index_labels,
    rule_keys,
)
from features.journey_map import JourneyMap
from features.journey_state import JourneyState, build_journey_state
from features.labels import HISTORY_COLUMNS, derive_impact_labels, label_history
from features.loading import empty_frame
from features.schemas import ALERTS, CHANGES, FEEDBACK, JOURNEY_OUTCOMES
from features.stages import StageIndex
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
        self.journey_map = journey_map
        self.stages = StageIndex.from_map(journey_map)
        self.baselines = baselines
        self.config = config
        self.window_ns = window_ns
        self.retention = retention or Retention()
        self.outcomes = _plain(empty_frame(JOURNEY_OUTCOMES))
        self._alerts = _GrowingFrame(_plain(empty_frame(ALERTS)), ["alert_id"])
        self.changes = _plain(empty_frame(CHANGES))
        self.feedback = _plain(empty_frame(FEEDBACK))
        # matured derived labels of alerts still in the state (the columns even when none: a
        # verdict may come before any label has matured)
        self.derived = pd.DataFrame(
            columns=["alert_id", "matured_at", "label", "alert_name", "service"]
        )
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
            labels[["alert_id", "matured_at", "label", "alert_name", "service"]],
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
        """Features of alerts already added (rank = add_alerts, then features_for)."""
        return build_features(alerts, self.context())

    def context(self) -> FeatureContext:
        journey, baselines = self._cached("journey", self._journey_state)
        return FeatureContext(
            stages=self.stages,
            journey_map=self.journey_map,
            baselines=baselines,
            journey=journey,
            alerts=self._history,
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
        journey, _ = self._cached("journey", self._journey_state)
        labels = derive_impact_labels(
            pending[ready], journey, self.stages, self.journey_map, self.config.labels
        )
        matured = labels[labels["label"].notna()]
        named = matured[["alert_id", "matured_at", "label"]].merge(
            pending[["alert_id", "alert_name", "service"]], on="alert_id"
        )
        self.derived = _appended(self.derived, named, ["alert_id"])
        self._set_pending(pending[~pending["alert_id"].isin(matured["alert_id"])])
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

    def _journey_state(self) -> tuple[JourneyState, Baselines]:
        """The journey state, and the baselines aligned with its segments (both change with outcomes)."""
        journey = build_journey_state(self.outcomes, self.stages, self.baselines, self.window_ns)
        return journey, self.baselines.aligned(self.stages, journey.segments)

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


# ---------------------------------------------------------------------- the alert history, live


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
        resolved = alerts["resolved_at"]
        quick = resolved.notna().to_numpy() & (
            to_ns(resolved) - fired <= self.config.flap_resolve_min * MINUTE_NS
        )
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


class GrowingVocabulary:
    """String keys to integer codes, new keys appended as they come; a key never seen gets -1."""

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}
        self.names: list[str] = []

    def add(self, values) -> np.ndarray:
        """Codes of values, giving new ones the next codes."""
        found, distinct = pd.factorize(as_factorizable(values), use_na_sentinel=False)
        codes = np.empty(len(distinct), np.int64)
        for i, value in enumerate(distinct):
            code = self._codes.get(value)
            if code is None:
                code = self._codes[value] = len(self.names)
                self.names.append(value)
            codes[i] = code
        return codes[found]

    def codes(self, values) -> np.ndarray:
        found, distinct = pd.factorize(as_factorizable(values), use_na_sentinel=False)
        known = np.array([self._codes.get(v, -1) for v in distinct], dtype=np.int64)
        return known[found]


class KeyedTimeline:
    """Event times (int64 ns) under small integer keys, in one array sorted by key, then time.

    Inserting or removing a batch of events is one pass over the array (np.insert, np.delete)
    instead of a sort; a look-up is a binary search within its key's run, all queries at once.
    The answers are EventIndex's for the same events; a flag (0/1 per event) is kept as a second
    timeline of the flagged events, so its sums are counts, exact in any order.
    """

    def __init__(self, flags: tuple[str, ...] = ()) -> None:
        self.times = np.zeros(0, np.int64)
        self.offsets = np.zeros(1, np.int64)  # key k's events: times[offsets[k] : offsets[k + 1]]
        self._flagged = {name: KeyedTimeline() for name in flags}

    def __len__(self) -> int:
        return len(self.times)

    def insert(self, keys: np.ndarray, times: np.ndarray, **flags: np.ndarray) -> None:
        self._flags_too("insert", keys, times, flags)
        keys, times = _by_key_then_time(keys, times)
        if not len(keys):
            return
        n_keys = max(len(self.offsets) - 1, int(keys[-1]) + 1)
        if n_keys >= len(self.offsets):
            extra = np.full(n_keys + 1 - len(self.offsets), self.offsets[-1])
            self.offsets = np.concatenate([self.offsets, extra])
        lo, hi = self._runs(keys)
        # live alerts mostly come after everything their key holds: those go at the run's end
        latest = self.times[np.maximum(hi - 1, 0)] if len(self.times) else hi
        at = hi.copy()
        inside = (hi > lo) & (latest > times)
        if inside.any():
            at[inside] = _search_runs(self.times, lo[inside], hi[inside], times[inside], right=True)
        self.times = np.insert(self.times, at, times)
        self.offsets = self.offsets + _run_sizes(keys, n_keys)

    def remove(self, keys: np.ndarray, times: np.ndarray, **flags: np.ndarray) -> None:
        self._flags_too("remove", keys, times, flags)
        keys, times = _by_key_then_time(keys, times)
        if not len(keys):
            return
        lo, hi = self._runs(keys)
        at = _search_runs(self.times, lo, hi, times) + _rank_among_equals(keys, times)
        if np.any(at >= hi) or np.any(self.times[np.minimum(at, len(self.times) - 1)] != times):
            raise ValueError("removing events the timeline does not hold")
        self.times = np.delete(self.times, at)
        self.offsets = self.offsets - _run_sizes(keys, len(self.offsets) - 1)

    def count_between(self, keys: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Events of each query's key with start <= time < end."""
        keys = np.asarray(keys, dtype=np.int64)
        lo, hi = self._runs(keys)
        both = _search_runs(
            self.times, np.concatenate([lo, lo]), np.concatenate([hi, hi]),
            np.concatenate([np.asarray(end, np.int64), np.asarray(start, np.int64)]),
        )  # fmt: skip
        return both[: len(keys)] - both[len(keys) :]

    def count_before(
        self, keys: np.ndarray, times: np.ndarray, *, inclusive: bool = False
    ) -> np.ndarray:
        lo, hi = self._runs(np.asarray(keys, dtype=np.int64))
        return _search_runs(self.times, lo, hi, np.asarray(times, np.int64), right=inclusive) - lo

    def last_before(self, keys: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(time, place in this timeline) of each key's latest event strictly before the query; (-1, -1) if none."""
        lo, hi = self._runs(np.asarray(keys, dtype=np.int64))
        at = _search_runs(self.times, lo, hi, np.asarray(times, np.int64)) - 1
        found = at >= lo
        if not len(self.times):
            return np.full(len(at), -1, np.int64), np.full(len(at), -1, np.int64)
        return np.where(found, self.times[np.maximum(at, 0)], -1), np.where(found, at, -1)

    def sum_before(
        self, name: str, keys: np.ndarray, times: np.ndarray, *, inclusive: bool = False
    ) -> np.ndarray:
        """Σ flag over each key's events before the query time (at-or-before when inclusive)."""
        flagged = self._flagged[name]
        return flagged.count_before(keys, times, inclusive=inclusive).astype(np.float64)

    def _runs(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each query key's run [lo, hi) in `times`; empty for keys without events (NO_KEY included)."""
        n_keys = len(self.offsets) - 1
        known = (keys >= 0) & (keys < n_keys)
        safe = np.where(known, keys, 0)
        return (
            np.where(known, self.offsets[safe], 0),
            np.where(known, self.offsets[np.minimum(safe + 1, n_keys)], 0),
        )

    def _flags_too(self, how: str, keys, times, flags: dict[str, np.ndarray]) -> None:
        if set(flags) != set(self._flagged):
            raise ValueError(f"events need the flags {sorted(self._flagged)}, got {sorted(flags)}")
        for name, flag in flags.items():
            flag = np.asarray(flag, dtype=bool)
            getattr(self._flagged[name], how)(np.asarray(keys)[flag], np.asarray(times)[flag])


def _by_key_then_time(keys, times) -> tuple[np.ndarray, np.ndarray]:
    keys, times = np.asarray(keys, dtype=np.int64), np.asarray(times, dtype=np.int64)
    order = np.lexsort((times, keys))
    return keys[order], times[order]


def _run_sizes(keys: np.ndarray, n_keys: int) -> np.ndarray:
    """How many events each key's run gains, as the shift of every run boundary (0 first)."""
    return np.concatenate([[0], np.cumsum(np.bincount(keys, minlength=n_keys))])


def _rank_among_equals(keys: np.ndarray, times: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... along each run of equal (key, time) in sorted events: copies removed side by side."""
    same = np.concatenate([[False], (keys[1:] == keys[:-1]) & (times[1:] == times[:-1])])
    place = np.arange(len(keys))
    return place - np.maximum.accumulate(np.where(same, 0, place))


def _search_runs(
    values: np.ndarray, lo: np.ndarray, hi: np.ndarray, needles: np.ndarray, right: bool = False
) -> np.ndarray:
    """For each query, where `needle` would go within values[lo:hi] (sorted): np.searchsorted, per run.

    All queries in one binary search, a step for every halving of the longest run; when every
    query has the same run (one key), numpy's own search does it.
    """
    side = "right" if right else "left"
    if len(lo) and lo.min() == lo.max() and hi.min() == hi.max():
        start, stop = int(lo[0]), int(hi[0])
        return start + np.searchsorted(values[start:stop], needles, side)
    lo, hi = lo.astype(np.int64, copy=True), hi.astype(np.int64, copy=True)
    open_ = lo < hi
    while open_.any():
        mid = (lo + hi) >> 1
        probe = values[np.where(open_, mid, 0)]
        after = (probe <= needles) if right else (probe < needles)
        lo = np.where(open_ & after, mid + 1, lo)
        hi = np.where(open_ & ~after, mid, hi)
        open_ = lo < hi
    return lo
