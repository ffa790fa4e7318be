"""Incidents: alerts that share a cause, grouped point in time — one definition offline and online.

An alert joins an open incident only from what was known when it fired: the incident's earlier
alerts as they stood then (a resolution counts from its time), the map's call graph, the alert's
region and labels, and earlier changes. A later alert never changes an earlier alert's incident,
and the incident id is the opening alert's (`inc-<alert_id>`), so the feature job, `journeyrank
score`, evaluation and the service agree without sharing state.
"""

from __future__ import annotations

import gc
import heapq
import json
from bisect import bisect_right, insort
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter
from typing import NamedTuple

import numpy as np
import pandas as pd

from features.config import IncidentConfig
from features.journey_map import JourneyMap, trace_dependencies

NS_PER_MIN = 60 * 10**9
NS_PER_DAY = 1440 * NS_PER_MIN
INCIDENT_COLUMNS = (
    "incident_id",
    "incident_size",
    "incident_position",
    "incident_root_service",
    "incident_root_mapped",
    "incident_stages",
    "incident_services",  # distinct services among its alerts so far
)
STATE_VERSION = 2
READABLE_STATE_VERSIONS = (1, 2)  # 1: before the rules' firing counts (they restart at restore)
INCIDENT_PART, END_PART = "incident/", "end/"  # the keys of state_parts()
LABEL_CACHE_SIZE = 50_000  # distinct label texts remembered between batches
# how strongly an alert is tied to an incident, strongest last
_BY_RELATION, _BY_GRAPH, _BY_RULE, _BY_KEY = 1, 2, 3, 4


@dataclass(frozen=True)
class Incident:
    """One incident as it stands: its alerts, services, stages at risk and root-cause candidate."""

    incident_id: str
    started_at: datetime
    last_alert_at: datetime
    alert_ids: tuple[str, ...]
    services: tuple[str, ...]
    stages: tuple[str, ...]
    root_service: str
    root_reason: str
    resolved_at: datetime | None


class _Topology:
    """The map's call graph as neighbourhoods: which services may share a cause, which is deeper."""

    def __init__(self, journey_map: JourneyMap, max_hops: int) -> None:
        self._calls = journey_map.dependencies
        self._called_by: dict[str, list[str]] = {}
        for caller, callees in self._calls.items():
            for callee in callees:
                self._called_by.setdefault(callee, []).append(caller)
        self._max_hops = max_hops
        links = journey_map.service_stage_links()
        self._stages: dict[str, tuple[str, ...]] = {
            str(service): tuple(dict.fromkeys(group["journey"] + "/" + group["stage"]))
            for service, group in links.groupby("service", sort=False)
        }
        self._below: dict[str, frozenset[str]] = {}
        self._near: dict[str, tuple[str, ...]] = {}
        self._cone: dict[str, frozenset[str]] = {}

    def below(self, service: str) -> frozenset[str]:
        """Services `service` calls within the hop limit (itself excluded)."""
        found = self._below.get(service)
        if found is None:
            found = self._within(service, self._calls)
            self._below[service] = found
        return found

    def near(self, service: str) -> tuple[str, ...]:
        """The service, what it calls and what calls it, within the hop limit."""
        found = self._near.get(service)
        if found is None:
            above = self._within(service, self._called_by)
            found = (service, *sorted(self.below(service) | above))
            self._near[service] = found
        return found

    def cone(self, service: str) -> frozenset[str]:
        """The service and what it calls within the hop limit: where its cause may lie."""
        found = self._cone.get(service)
        if found is None:
            found = self.below(service) | {service}
            self._cone[service] = found
        return found

    def stages(self, service: str) -> tuple[str, ...]:
        return self._stages.get(service, ())

    def _within(self, service: str, graph: dict[str, list[str]]) -> frozenset[str]:
        hops = trace_dependencies(service, graph)
        return frozenset(s for s, h in hops.items() if 0 < h <= self._max_hops)


class _Open:
    """An incident's mutable record while the grouper runs."""

    __slots__ = (
        "alert_ids",
        "burst",
        "closed_at",
        "cone",
        "confirmed",
        "expires",
        "firing",
        "grown",
        "incident_id",
        "informative",
        "keys",
        "labels",
        "last_alert",
        "last_resolved",
        "reason",
        "regions",
        "root",
        "roots",
        "rules",
        "seq",
        "services",
        "services_at",
        "stage_set",
        "stages",
        "stages_text",
        "started",
        "text",
        "where",
    )

    def __init__(self, incident_id: str, started: int) -> None:
        self.incident_id = incident_id
        self.started = started
        self.last_alert = started
        self.grown = started
        self.confirmed = False
        self.burst = 1
        self.alert_ids: list[str] = []
        self.services: list[str] = []
        self.services_at: list[int] = []  # its services when each alert joined (alert_ids' order)
        self.stages: list[str] = []
        self.stage_set: set[str] = set()
        self.stages_text = ""
        self.cone: set[str] = set()
        self.rules: set[str] = set()
        self.roots: list[str] = []
        self.regions: set[str] = set()
        self.labels: dict[str, set[str]] = {}
        self.keys: set[str] = set()
        self.firing = 0
        self.last_resolved = -1
        self.closed_at: int | None = None
        self.root = ""
        self.reason = ""
        self.seq = 0  # place among live incidents (oldest first), set when it goes live
        self.informative = 0  # its telling alerts: symptoms from rules that seldom fire alone
        self.expires = 0  # from when it counts as closed, unless it changes meanwhile (live only)
        self.where: _Index | None = None  # the index it is found by while live
        self.text: str | None = None  # as_state as JSON, kept until it changes (see state_parts)

    def as_state(self) -> dict:
        return {
            "incident_id": self.incident_id,
            "started": self.started,
            "last_alert": self.last_alert,
            "grown": self.grown,
            "confirmed": self.confirmed,
            "burst": self.burst,
            "alert_ids": self.alert_ids,
            "services": self.services,
            "services_at": self.services_at,
            "stages": self.stages,
            "roots": self.roots,
            "rules": sorted(self.rules),
            "cone": sorted(self.cone),
            "regions": sorted(self.regions),
            "labels": {k: sorted(v) for k, v in self.labels.items()},
            "keys": sorted(self.keys),
            "firing": self.firing,
            "last_resolved": self.last_resolved,
            "closed_at": self.closed_at,
            "root": self.root,
            "reason": self.reason,
            "informative": self.informative,
        }

    @classmethod
    def from_state(cls, state: dict) -> _Open:
        record = cls(state["incident_id"], int(state["started"]))
        record.last_alert = int(state["last_alert"])
        record.grown = int(state["grown"])
        record.confirmed = bool(state["confirmed"])
        record.burst = int(state["burst"])
        record.alert_ids = list(state["alert_ids"])
        record.services = list(state["services"])
        # a state saved before services were kept per alert: a re-send counts them as they stand
        record.services_at = [
            int(n) for n in state.get("services_at", [len(record.services)] * len(record.alert_ids))
        ]
        record.stages = list(state["stages"])
        record.stage_set = set(record.stages)
        record.stages_text = ";".join(record.stages)
        record.cone = set(state["cone"])
        record.rules = set(state["rules"])
        record.roots = list(state["roots"])
        record.regions = set(state["regions"])
        record.labels = {k: set(v) for k, v in state["labels"].items()}
        record.keys = set(state["keys"])
        record.firing = int(state["firing"])
        record.last_resolved = int(state["last_resolved"])
        record.closed_at = state["closed_at"]
        record.root = state["root"]
        record.reason = state["reason"]
        record.informative = int(state.get("informative", len(record.alert_ids)))
        return record


class _Index:
    """Live incident ids by what an alert may share with them: a root, a rule (alert series), a
    stage at risk, a service in the cone (only when siblings may join)."""

    __slots__ = ("by_cone", "by_root", "by_rule", "by_stage", "cones")

    def __init__(self, cones: bool) -> None:
        self.by_root: dict[str, set[str]] = {}
        self.by_rule: dict[str, set[str]] = {}
        self.by_stage: dict[str, set[str]] = {}
        self.by_cone: dict[str, set[str]] = {}
        self.cones = cones

    def add(self, record: _Open) -> None:
        record.where = self
        incident_id = record.incident_id
        for by, values in self._of(record):
            for value in values:
                if value in by:
                    by[value].add(incident_id)
                else:
                    by[value] = {incident_id}

    def remove(self, record: _Open) -> None:
        record.where = None
        incident_id = record.incident_id
        for by, values in self._of(record):
            for value in values:
                found = by[value]
                if len(found) == 1:
                    del by[value]
                else:
                    found.discard(incident_id)

    def _of(self, record: _Open) -> tuple:
        if self.cones:
            return (
                (self.by_root, record.roots),
                (self.by_rule, record.rules),
                (self.by_stage, record.stages),
                (self.by_cone, record.cone),
            )
        return (
            (self.by_root, record.roots),
            (self.by_rule, record.rules),
            (self.by_stage, record.stages),
        )


def _drop(by: dict[str, set[str]], value: str, incident_id: str) -> None:
    found = by.get(value)
    if found is not None:
        found.discard(incident_id)
        if not found:
            del by[value]


class _AlertEvidence(NamedTuple):
    """What one alert brings to the join decision, parsed from its row once."""

    service: str
    rule: str  # service, alert_name and the series labels: the same alert series firing again
    service_rule: str  # service and alert_name: the rule, whatever instance fires it
    anomaly: float | None  # a detector's confidence
    signal: str | None
    region: str | None
    labels: tuple[tuple[str, str], ...]  # the `same_labels` it carries
    keys: tuple[str, ...]  # "<label>=<value>" of the `key_labels` it carries
    probes: tuple[str, ...]  # journey/stage a synthetic check names


class IncidentGrouper:
    """Point-in-time, incremental grouping. Feed alerts in fired_at order (ties by alert_id);
    an alert joins an incident only from what was known when it fired; a later alert never
    changes an earlier alert's incident."""

    def __init__(self, journey_map: JourneyMap, config: IncidentConfig | None = None) -> None:
        self.journey_map = journey_map
        self.config = config or IncidentConfig()
        self._topology = _Topology(journey_map, self.config.max_hops)
        self._quiet = int(self.config.quiet_min * NS_PER_MIN)
        self._grace = int(self.config.resolved_grace_min * NS_PER_MIN)
        self._hold = int(self.config.open_hold_min * NS_PER_MIN)
        self._change_window = int(self.config.change_window_min * NS_PER_MIN)
        self._join_window = int(self.config.join_min * NS_PER_MIN)
        self._related_window = int(self.config.related_min * NS_PER_MIN)
        self._probe_window = int(self.config.probe_join_min * NS_PER_MIN)
        self._join_gap = int(self.config.join_gap_min * NS_PER_MIN)
        self._confirmed_gap = int(self.config.confirmed_gap_min * NS_PER_MIN)
        self._clock = -(2**62)
        self._incidents: dict[str, _Open] = {}  # every incident kept, by id
        self._live: dict[str, _Open] = {}  # not closed yet
        self._by_key: dict[str, str] = {}  # upstream group key -> live incident id
        # Live incidents are found by an alert's evidence in one of two indexes: `_pick`, those an
        # alert may join other than by key (a telling alert, not closed by now); `_dying`, those
        # closed by now but not yet seen so (one is, as before, when it is first a candidate or
        # at a sweep). The rest (no telling alert yet) are found only by key. So an alert looks
        # only at incidents it could join, and at those to close.
        self._pick = _Index(cones=self._related_window > 0)
        self._dying = _Index(cones=self._related_window > 0)
        self._expiry: list[tuple[int, str]] = []  # (expires, incident id), stale ones skipped
        self._went_live = 0  # live incidents so far: each one's seq
        self._incident_of: dict[str, str] = {}  # alert_id -> incident id
        self._ends: dict[str, int] = {}  # firing alert -> when it stops counting as firing
        # what state_changes() hands out besides the incidents whose text was dropped: the ends
        # changed and the incidents forgotten since last time (kept track of from the first
        # state_parts() on: a grouping that is never written keeps none)
        self._ends_changed: set[str] | None = None
        self._forgotten: set[str] = set()
        self._heap: list[tuple[int, str]] = []
        self._pending: dict[str, int] = {}  # resolutions of alerts not seen yet
        self._changes: dict[str, list[tuple[int, str]]] = {}  # service -> (ts, change_id), sorted
        self._change_ids: set[str] = set()
        self._sweep_at = 256
        self._label_cache: dict[str, tuple] = {}  # labels text -> what it brings, parsed once
        self._closed: deque[str] = deque()  # closed incidents kept, oldest first
        self._fired: dict[str, int] = {}  # rule (service, alert_name) -> its firings so far
        self._first_seen = -1  # when the grouper saw its first alert: the rates' start

    # ------------------------------------------------------------------ public

    def assign(self, alerts: pd.DataFrame, changes: pd.DataFrame | None = None) -> pd.DataFrame:
        """alerts in the alerts schema (fired_at tz-aware UTC; resolved_at optional). Returns a
        frame on the same index with the columns of INCIDENT_COLUMNS, each as it stood when the
        alert fired."""
        if changes is not None and len(changes):
            self.add_changes(changes)
        if not len(alerts):
            return _empty_answer(alerts.index)
        ids = alerts["alert_id"].astype(str).to_numpy(dtype=object)
        fired = _as_ns(alerts["fired_at"])
        resolved = (
            _as_ns(alerts["resolved_at"], missing=-1)
            if "resolved_at" in alerts
            else np.full(len(alerts), -1, dtype=np.int64)
        )
        evidence = self._evidence(alerts)
        order = np.lexsort((ids, fired))
        out = [None] * len(alerts)
        collecting = gc.isenabled()
        gc.disable()  # the loop makes no cycles; a collection per batch of allocations would
        try:  # rescan every incident kept so far, which grows with the history
            for i in order.tolist():
                out[i] = self._assign_one(ids[i], int(fired[i]), int(resolved[i]), evidence[i])
        finally:
            if collecting:
                gc.enable()
        columns = list(zip(*out, strict=True))
        return pd.DataFrame(
            {
                name: np.asarray(values, dtype=dtype)
                for name, values, dtype in zip(
                    INCIDENT_COLUMNS,
                    columns,
                    (object, np.int64, np.int64, object, bool, object, np.int64),
                    strict=True,
                )
            },
            index=alerts.index,
        )

    def add_changes(self, changes: pd.DataFrame) -> None:
        """Changes (change_id, ts, service): each counts as evidence from its ts on."""
        ts = _as_ns(changes["ts"])
        for change_id, when, service in zip(
            changes["change_id"].astype(str),
            ts.tolist(),
            changes["service"].astype(str),
            strict=True,
        ):
            if change_id not in self._change_ids:
                self._change_ids.add(change_id)
                insort(self._changes.setdefault(service, []), (when, change_id))

    def resolve(self, closed: list[tuple[str, datetime]]) -> None:
        """Alerts that resolved (alert_id, resolved_at): each stops firing from resolved_at on."""
        for alert_id, when in closed:
            at = _datetime_ns(when)
            if alert_id in self._ends:
                end = min(self._ends[alert_id], at)
                self._ends[alert_id] = end
                self._end_changed(alert_id)
                heapq.heappush(self._heap, (end, alert_id))
            elif alert_id not in self._incident_of:
                self._pending[alert_id] = at

    def open_incidents(self, now: datetime) -> list[Incident]:
        """Incidents neither resolved nor quiet at `now`, earliest first (nothing is mutated)."""
        at = _datetime_ns(now)
        resolving: dict[str, tuple[int, int]] = {}  # incident -> (alerts resolved by now, latest)
        for end, alert_id in self._heap:
            if end <= at and self._ends.get(alert_id) == end:
                incident_id = self._incident_of[alert_id]
                count, latest = resolving.get(incident_id, (0, -1))
                resolving[incident_id] = (count + 1, max(latest, end))
        found = []
        for record in self._live.values():
            count, latest = resolving.get(record.incident_id, (0, -1))
            if self._closing_time(record, at, record.firing - count, latest) is None:
                found.append(self._as_incident(record, None))
        return sorted(found, key=lambda inc: (inc.started_at, inc.incident_id))

    def incident(self, incident_id: str) -> Incident | None:
        record = self._incidents.get(incident_id)
        if record is None:
            return None
        closed = record.closed_at
        if closed is None:
            closed = self._closing_time(record, self._clock, record.firing, record.last_resolved)
        return self._as_incident(record, closed)

    def knows(self, incident_id: str) -> bool:
        """Whether the incident is still kept (open, or closed within keep_closed)."""
        return incident_id in self._incidents

    def incident_of(self, alert_id: str) -> str | None:
        return self._incident_of.get(alert_id)

    def to_state(self) -> dict:
        """The grouper as JSON-able data: live incidents, the latest closed ones, firing alerts,
        the changes still recent enough to matter and how often each rule has fired."""
        kept = [self._incidents[incident_id] for incident_id in self._closed]
        state = self._state_besides_incidents()
        return {
            "version": state.pop("version"),
            "clock": state.pop("clock"),
            "incidents": [r.as_state() for r in (*kept, *self._live.values())],
            **state,
        }

    def state_parts(self, prefix: str = "") -> tuple[dict, dict[str, str]]:
        """to_state() in pieces a store keeps apart, so that a write need hold only what changed
        (state_changes): a small head (the incidents' order, the clock, the recent changes, the
        rules' counts) and parts by key, one per incident (its text kept from one call to the next
        until the incident changes) and one per firing alert's end. Every key starts with
        `prefix`. from_parts() puts them back together."""
        head, kept = self._head()
        parts = {f"{prefix}{INCIDENT_PART}{r.incident_id}": self._text(r) for r in kept}
        parts.update((f"{prefix}{END_PART}{a}", str(end)) for a, end in self._ends.items())
        self._ends_changed, self._forgotten = set(), set()
        return head, parts

    def state_changes(self, prefix: str = "") -> tuple[dict, dict[str, str | None]]:
        """The head, and the parts that changed since the last state_parts() or state_changes():
        None for a part no longer kept. Its cost is what changed, not the whole state. Before any
        state_parts(), every part."""
        if self._ends_changed is None:
            return self.state_parts(prefix)
        head, kept = self._head()
        # a new or changed incident has no text: it is made only when handed out
        changed: dict[str, str | None] = {
            f"{prefix}{INCIDENT_PART}{r.incident_id}": self._text(r) for r in kept if r.text is None
        }
        changed.update(dict.fromkeys(f"{prefix}{INCIDENT_PART}{i}" for i in self._forgotten))
        for alert_id in self._ends_changed:
            end = self._ends.get(alert_id)
            changed[f"{prefix}{END_PART}{alert_id}"] = None if end is None else str(end)
        self._ends_changed.clear()
        self._forgotten.clear()
        return head, changed

    def _head(self) -> tuple[dict, tuple[_Open, ...]]:
        state = self._state_besides_incidents()
        del state["ends"]
        kept = (*map(self._incidents.__getitem__, self._closed), *self._live.values())
        state["order"] = [record.incident_id for record in kept]
        state["firing_alerts"] = len(self._ends)
        return state, kept

    @staticmethod
    def _text(record: _Open) -> str:
        if record.text is None:
            record.text = _compact(record.as_state())
        return record.text

    @classmethod
    def from_parts(
        cls,
        journey_map: JourneyMap,
        config: IncidentConfig | None,
        head: dict,
        parts: dict[str, str],
        prefix: str = "",
    ) -> IncidentGrouper:
        """The grouper state_parts() wrote (the head, and the parts under `prefix`). ValueError when
        a part is missing or one too many (another writer's parts mixed in, or a write cut short)."""
        state = dict(head)
        order = state.pop("order")
        incident, end = prefix + INCIDENT_PART, prefix + END_PART
        try:
            state["incidents"] = [json.loads(parts[incident + i]) for i in order]
        except KeyError as missing:
            raise ValueError(f"incident state: no part for {missing.args[0]!r}") from None
        ends = {k[len(end) :]: int(v) for k, v in parts.items() if k.startswith(end)}
        if len(ends) != state.pop("firing_alerts"):
            raise ValueError(
                f"incident state: {len(ends)} firing alerts in the parts, "
                f"{head['firing_alerts']} in the head"
            )
        state["ends"] = ends
        return cls.from_state(journey_map, config, state)

    def _state_besides_incidents(self) -> dict:
        since = self._clock - self._change_window
        return {
            "version": STATE_VERSION,
            "clock": self._clock,
            "ends": self._ends,
            "pending": self._pending,
            "changes": [
                [service, when, change_id]
                for service, rows in self._changes.items()
                for when, change_id in rows
                if when >= since
            ],
            "fired": self._fired,
            "first_seen": self._first_seen,
        }

    @classmethod
    def from_state(
        cls, journey_map: JourneyMap, config: IncidentConfig | None, state: dict
    ) -> IncidentGrouper:
        if state.get("version") not in READABLE_STATE_VERSIONS:
            raise ValueError(
                f"incident state: expected version {STATE_VERSION}, got {state.get('version')!r}"
            )
        grouper = cls(journey_map, config)
        grouper._clock = int(state["clock"])
        for item in state["incidents"]:
            record = _Open.from_state(item)
            grouper._incidents[record.incident_id] = record
            for alert_id in record.alert_ids:
                grouper._incident_of[alert_id] = record.incident_id
            if record.closed_at is None:
                grouper._index(record)
            else:
                grouper._closed.append(record.incident_id)
        grouper._ends = {k: int(v) for k, v in state["ends"].items()}
        grouper._heap = [(end, alert_id) for alert_id, end in grouper._ends.items()]
        heapq.heapify(grouper._heap)
        grouper._pending = {k: int(v) for k, v in state["pending"].items()}
        grouper._fired = {k: int(v) for k, v in state.get("fired", {}).items()}
        grouper._first_seen = int(state.get("first_seen", grouper._clock))
        for service, when, change_id in state["changes"]:
            grouper._change_ids.add(change_id)
            insort(grouper._changes.setdefault(service, []), (int(when), change_id))
        return grouper

    # ------------------------------------------------------------------ one alert

    def _assign_one(
        self, alert_id: str, fired: int, resolved: int, evidence: _AlertEvidence
    ) -> tuple:
        known = self._incident_of.get(alert_id)
        if known is not None:  # a re-sent firing keeps its incident, as it stood when it joined
            record = self._incidents[known]
            at = record.alert_ids.index(alert_id)
            return self._answer(record, at + 1, record.services_at[at])
        now = max(fired, self._clock)
        self._clock = now
        self._apply_resolutions(now)
        self._find_dying(now)
        noisy = self._noisy(evidence.service_rule, now)
        record = self._best_candidate(evidence, now, noisy)
        if record is None:
            record = _Open("inc-" + alert_id, now)
            self._incidents[record.incident_id] = record
            self._index(record)
        self._join(record, alert_id, evidence, now)
        if not noisy and self._a_failure_sign(evidence):
            record.informative += 1
            if record.where is None:
                self._pick.add(record)
        self._start_firing(record, alert_id, fired, resolved)
        self._expire_at(record)
        if len(self._live) >= self._sweep_at:
            self._sweep(now)
        return self._answer(record, len(record.alert_ids), len(record.services))

    def _noisy(self, service_rule: str, now: int) -> bool:
        """Whether the alert's rule has fired more than `noisy_rule_per_day` so far (counted over
        at least a day, so the first firings are never noisy); counts this firing."""
        if self._first_seen < 0:
            self._first_seen = now
        count = self._fired.get(service_rule, 0)
        self._fired[service_rule] = count + 1
        limit = self.config.noisy_rule_per_day
        if not limit:
            return False
        days = max(now - self._first_seen, NS_PER_DAY) / NS_PER_DAY
        return count / days > limit

    def _best_candidate(self, evidence: _AlertEvidence, now: int, noisy: bool) -> _Open | None:
        """The live incident with the strongest evidence: a shared upstream group key, then a
        re-fire of one of its rules, then the call graph while it is young (a probe of a stage it
        puts at risk while younger), then a shared callee while it is younger still.

        A noisy rule's alert joins only by key or a confirmed incident its service is already
        in, and only by key does anything join an incident without a telling alert (a symptom
        from a rule that is not noisy): a rule that fires that often on its own, or a strained
        resource alone, says little about a failure. Among equals, the incident with more
        telling alerts (the established failure) wins."""
        anomalous = evidence.anomaly is None or evidence.anomaly >= self.config.min_anomaly_score
        if self._dying.by_rule:
            self._close_candidates(evidence, now, anomalous)
        live, pick = self._live, self._pick
        keyed = {self._by_key[key] for key in evidence.keys if key in self._by_key}
        if keyed:  # any live incident: a shared key is the strongest evidence there is
            return max(
                map(live.__getitem__, keyed),
                key=lambda record: self._rank(record, evidence, _BY_KEY),
            )
        # Weaker evidence, level by level: an incident is weighed at the strongest it has
        seen = pick.by_rule.get(evidence.rule, set())
        best = self._best_of(seen, _BY_RULE, evidence, now, noisy)
        if best is None and anomalous:
            graph: set[str] = set()
            for near in self._topology.near(evidence.service):
                graph.update(pick.by_root.get(near, ()))
            for stage in evidence.probes:
                graph.update(pick.by_stage.get(stage, ()))
            graph -= seen
            best = self._best_of(graph, _BY_GRAPH, evidence, now, noisy)
            if best is None and self._related_window:
                related = self._related(pick, evidence, now)
                related -= seen
                related -= graph
                best = self._best_of(related, _BY_RELATION, evidence, now, noisy)
        if best is not None and best[0] <= _BY_GRAPH:
            record = best[-1]
            if now - record.grown <= self._join_gap:
                record.burst += 1  # another symptom in a burst: a failure, not a coincidence
                record.confirmed = record.burst >= self.config.confirm_symptoms
            record.grown = now
        return None if best is None else best[-1]

    def _best_of(
        self, found: set[str], level: int, evidence: _AlertEvidence, now: int, noisy: bool
    ) -> tuple | None:
        """The best of `found` (live incidents with a telling alert, not closed by now) that the
        alert may join at `level` (below a key): its rank with the record last; None if none."""
        best = None
        live = self._live
        for incident_id in found:
            record = live[incident_id]
            if noisy and not (record.confirmed and evidence.service in record.services):
                continue  # noise, unless on a service already failing in a confirmed incident
            if evidence.rule in record.rules and not record.confirmed:
                continue  # a flap of its only symptoms is no second symptom
            if level <= _BY_GRAPH and not (
                self._forming(record, now) and self._a_symptom(record, evidence, level)
            ):
                continue
            if not self._compatible(record, evidence):
                continue
            if level == _BY_GRAPH and evidence.probes and now - record.started > self._probe_window:
                continue  # a check names a stage, not a cause: late, a new failure of it
            rank = self._rank(record, evidence, level)
            if best is None or rank > best:
                best = rank
        return None if best is None else (*best, live[best[5]])

    @staticmethod
    def _rank(record: _Open, evidence: _AlertEvidence, level: int) -> tuple:
        """Among incidents an alert may join: the strongest evidence, then the most shared labels,
        the most telling alerts, the latest alert, the earliest start."""
        shared = sum(value in record.labels.get(k, ()) for k, value in evidence.labels)
        return (
            level,
            shared,
            record.informative,
            record.last_alert,
            -record.started,
            record.incident_id,
        )

    def _close_candidates(self, evidence: _AlertEvidence, now: int, anomalous: bool) -> None:
        """Close the incidents, closed by now, that the alert would weigh (as it weighs every
        candidate: the same ones close at the same alert, whatever it joins)."""
        dying, live = self._dying, self._live
        found = set(dying.by_rule.get(evidence.rule, ()))
        for key in evidence.keys:
            incident_id = self._by_key.get(key)
            if incident_id is not None and live[incident_id].where is dying:
                found.add(incident_id)
        if anomalous:
            by_root = dying.by_root
            for near in self._topology.near(evidence.service):
                if near in by_root:
                    found.update(by_root[near])
            for stage in evidence.probes:
                found.update(dying.by_stage.get(stage, ()))
            if self._related_window:
                found.update(self._related(dying, evidence, now))
        if found:
            for record in sorted(map(live.__getitem__, found), key=attrgetter("seq")):
                self._close(record, now)

    def _a_failure_sign(self, evidence: _AlertEvidence) -> bool:
        """Errors, latency, unavailability or an anomaly: what users would see. A strained
        resource (saturation, other) alone is no failure yet."""
        return evidence.signal is None or evidence.signal in self.config.symptom_signals

    def _a_symptom(self, record: _Open, evidence: _AlertEvidence, level: int) -> bool:
        """Upstream of a failure, and beside it, it shows as errors, latency, unavailability or
        anomalies; a caller's own saturation is its own problem. On or below a root, anything."""
        if evidence.signal is None or evidence.signal in self.config.symptom_signals:
            return True
        if level == _BY_RELATION:
            return False
        below = self._topology.below(evidence.service)
        return not any(root in below for root in record.roots)

    def _forming(self, record: _Open, now: int) -> bool:
        """Whether new symptoms still join: a confirmed incident while it is young enough, an
        unconfirmed one only in the burst gap after its latest symptom."""
        if record.confirmed:
            return (
                now - record.started <= self._join_window
                and now - record.last_alert <= self._confirmed_gap
            )
        return now - record.grown <= self._join_gap

    def _related(self, index: _Index, evidence: _AlertEvidence, now: int) -> set[str]:
        """Young incidents whose services call what the alert's service calls (siblings)."""
        since, live = now - self._related_window, self._live
        found: set[str] = set()
        for service in self._topology.cone(evidence.service):
            found.update(index.by_cone.get(service, ()))
        return {incident_id for incident_id in found if live[incident_id].started >= since}

    def _compatible(self, record: _Open, evidence: _AlertEvidence) -> bool:
        if (
            self.config.same_region
            and evidence.region is not None
            and record.regions
            and evidence.region not in record.regions
        ):
            return False
        for label, value in evidence.labels:
            seen = record.labels.get(label)
            if seen and value not in seen:
                return False
        return True

    def _join(self, record: _Open, alert_id: str, evidence: _AlertEvidence, now: int) -> None:
        service, index = evidence.service, record.where  # a live one: _pick, or none yet
        record.text = None  # changed by this alert (here, and in _assign_one and _best_candidate)
        record.alert_ids.append(alert_id)
        record.last_alert = now
        self._incident_of[alert_id] = record.incident_id
        if evidence.region is not None:
            record.regions.add(evidence.region)
        for label, value in evidence.labels:
            record.labels.setdefault(label, set()).add(value)
        for key in evidence.keys:
            record.keys.add(key)
            self._by_key[key] = record.incident_id
        if evidence.rule not in record.rules:
            record.rules.add(evidence.rule)
            if index is not None:
                index.by_rule.setdefault(evidence.rule, set()).add(record.incident_id)
        if service not in record.services:
            record.services.append(service)
            for widened in self._topology.cone(service) - record.cone:
                record.cone.add(widened)
                if index is not None and index.cones:
                    index.by_cone.setdefault(widened, set()).add(record.incident_id)
            new_stages = [s for s in self._topology.stages(service) if s not in record.stage_set]
            if new_stages:
                record.stages.extend(new_stages)
                record.stage_set.update(new_stages)
                record.stages_text = ";".join(record.stages)
                if index is not None:
                    for stage in new_stages:
                        index.by_stage.setdefault(stage, set()).add(record.incident_id)
            self._place_root(record, service)
        record.services_at.append(len(record.services))
        record.root, record.reason = self._root_candidate(record, now)

    def _place_root(self, record: _Open, service: str) -> None:
        """Roots are the incident's deepest services: none of its other services is below them."""
        below = self._topology.below(service)
        if any(root in below for root in record.roots):
            return  # a caller of a root: a symptom
        deeper = [root for root in record.roots if service in self._topology.below(root)]
        index = record.where
        for root in deeper:
            record.roots.remove(root)
            if index is not None:
                _drop(index.by_root, root, record.incident_id)
        record.roots.append(service)
        if index is not None:
            index.by_root.setdefault(service, set()).add(record.incident_id)

    def _root_candidate(self, record: _Open, now: int) -> tuple[str, str]:
        """The deepest service, or what it calls directly when that changed recently; among
        several, one changed recently, else the first to alert."""
        for root in record.roots:
            for service in (root, *self.journey_map.dependencies.get(root, ())):
                change = self._recent_change(service, now)
                if change is not None:
                    on = "" if service == root else f" (called by {root})"
                    return service, f"recent change {change} on {service}{on}"
        root = record.roots[0]
        if len(record.services) > 1 and len(record.roots) == 1:
            return root, "deepest service in the dependency graph"
        return root, "first to alert"

    def _recent_change(self, service: str, now: int) -> str | None:
        rows = self._changes.get(service)
        if not rows:
            return None
        at = bisect_right(rows, (now, "\uffff"))
        if at and rows[at - 1][0] >= now - self._change_window:
            return rows[at - 1][1]
        return None

    # ------------------------------------------------------------------ firing and closing

    def _start_firing(self, record: _Open, alert_id: str, fired: int, resolved: int) -> None:
        end = fired + self._hold
        pending = self._pending.pop(alert_id, -1)
        for known in (resolved, pending):
            if known >= 0:
                end = min(end, max(known, fired))
        record.firing += 1
        self._ends[alert_id] = end
        self._end_changed(alert_id)
        heapq.heappush(self._heap, (end, alert_id))

    def _apply_resolutions(self, now: int) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            end, alert_id = heapq.heappop(heap)
            if self._ends.get(alert_id) != end:
                continue  # superseded by an earlier resolution
            del self._ends[alert_id]
            self._end_changed(alert_id)
            record = self._incidents.get(self._incident_of.get(alert_id, ""))
            if record is not None:
                record.text = None
                record.firing -= 1
                record.last_resolved = max(record.last_resolved, end)
                if record.firing <= 0 and record.closed_at is None:
                    self._expire_at(record)  # its last firing ended: it may close earlier

    def _expire_at(self, record: _Open) -> None:
        """Note from when a live incident is closed unless it changes meanwhile: the first time
        _closing_time gives one. A later time needs no new entry (the earlier one, when due,
        is put back at the record's time)."""
        expires = record.last_alert + self._quiet + 1
        if record.firing <= 0:
            expires = min(expires, record.last_resolved + self._grace + 1)
        if expires < record.expires or not record.expires:
            heapq.heappush(self._expiry, (expires, record.incident_id))
        record.expires = expires

    def _find_dying(self, now: int) -> None:
        """Move the live incidents closed by `now` from `_pick` (or no index) to `_dying`."""
        expiry, live, dying = self._expiry, self._live, self._dying
        while expiry and expiry[0][0] <= now:
            _, incident_id = heapq.heappop(expiry)
            record = live.get(incident_id)
            if record is None or record.where is dying:
                continue  # closed, or found before
            if record.expires > now:
                heapq.heappush(expiry, (record.expires, incident_id))  # it went on meanwhile
                continue
            if record.where is not None:
                record.where.remove(record)
            dying.add(record)

    def _close(self, record: _Open, now: int) -> None:
        """A live incident found closed at `now` (it is in `_dying`): closed from then on."""
        record.closed_at = self._closing_time(record, now, record.firing, record.last_resolved)
        record.text = None
        self._unindex(record)
        self._closed.append(record.incident_id)
        while len(self._closed) > self.config.keep_closed:
            self._forget(self._incidents.pop(self._closed.popleft()))

    def _end_changed(self, alert_id: str) -> None:
        """Note a firing alert's end set or dropped, once the state is kept track of (state_parts)."""
        if self._ends_changed is not None:
            self._ends_changed.add(alert_id)

    def _forget(self, record: _Open) -> None:
        """A closed incident beyond `keep_closed`: a long-running service does not keep them all."""
        if self._ends_changed is not None:
            self._forgotten.add(record.incident_id)
        for alert_id in record.alert_ids:
            self._incident_of.pop(alert_id, None)
            if self._ends.pop(alert_id, None) is not None:
                self._end_changed(alert_id)

    def _closing_time(self, record: _Open, now: int, firing: int, last_resolved: int) -> int | None:
        """When the incident closed, if it has by `now`: its alerts all resolved (and stayed so
        for the grace), or no new alert for the quiet time."""
        if firing <= 0 and now - last_resolved > self._grace:
            return last_resolved
        if now - record.last_alert > self._quiet:
            return record.last_alert + self._quiet
        return None

    def _sweep(self, now: int) -> None:
        dying = self._dying
        for record in [r for r in self._live.values() if r.where is dying]:
            self._close(record, now)
        self._sweep_at = max(256, 2 * len(self._live))

    def _index(self, record: _Open) -> None:
        self._went_live += 1
        record.seq = self._went_live
        self._live[record.incident_id] = record
        for key in record.keys:
            self._by_key[key] = record.incident_id
        if record.informative:
            self._pick.add(record)
        if record.alert_ids:  # a restored one (a new one gets its expiry once it has an alert)
            self._expire_at(record)

    def _unindex(self, record: _Open) -> None:
        self._live.pop(record.incident_id, None)
        if record.where is not None:
            record.where.remove(record)
        for key in record.keys:
            if self._by_key.get(key) == record.incident_id:
                del self._by_key[key]

    # ------------------------------------------------------------------ answers

    def _answer(self, record: _Open, position: int, services: int) -> tuple:
        """incident_id, its size now, the alert's place in it and its services when the alert
        joined (point in time, a re-send included), the root candidate, whether it is mapped,
        the stages at risk."""
        return (
            record.incident_id,
            len(record.alert_ids),
            position,
            record.root,
            bool(self._topology.stages(record.root)),
            record.stages_text,
            services,
        )

    def _as_incident(self, record: _Open, closed: int | None) -> Incident:
        return Incident(
            incident_id=record.incident_id,
            started_at=_ns_datetime(record.started),
            last_alert_at=_ns_datetime(record.last_alert),
            alert_ids=tuple(record.alert_ids),
            services=tuple(record.services),
            stages=tuple(record.stages),
            root_service=record.root,
            root_reason=record.reason,
            resolved_at=None if closed is None else _ns_datetime(closed),
        )

    def _evidence(self, alerts: pd.DataFrame) -> list[_AlertEvidence]:
        n = len(alerts)
        region = _values(alerts, "region", n)
        labels = _values(alerts, "labels", n)
        cache = self._label_cache
        if len(cache) > LABEL_CACHE_SIZE:
            cache.clear()
        parsed, codes = [], []
        for value in labels:
            text = json.dumps(value, sort_keys=True) if isinstance(value, dict) else value
            if text is None:
                codes.append(-1)  # the service passes labels as objects, files as JSON text
                continue
            found = cache.get(text)
            if found is None:
                found = cache[text] = self._label_evidence(text)
            codes.append(len(parsed))
            parsed.append(found)
        codes = np.asarray(codes, dtype=np.int64)
        services = [str(v) for v in _values(alerts, "service", n)]
        names = [str(v) if v is not None else "" for v in _values(alerts, "alert_name", n)]
        anomaly = [
            float(v) if v is not None else float("nan") for v in _values(alerts, "anomaly_score", n)
        ]
        signals = _values(alerts, "signal", n)
        none = ((), (), "", ())
        series_of = [parsed[c][2] if c >= 0 else "" for c in codes.tolist()]
        probes_of = [parsed[c][3] if c >= 0 else () for c in codes.tolist()]
        return [
            _AlertEvidence(
                service,
                f"{service}\x1f{name}\x1f{series}",
                f"{service}\x1f{name}",
                None if score != score else score,  # NaN: no detector's confidence
                signal,
                None if r is None else str(r),
                *(parsed[c] if c >= 0 else none)[:2],
                probes,
            )
            for service, name, score, signal, r, c, series, probes in zip(
                services,
                names,
                anomaly,
                signals,
                region,
                codes.tolist(),
                series_of,
                probes_of,
                strict=True,
            )
        ]

    def _label_evidence(self, text: object) -> tuple[tuple, tuple, str, tuple]:
        labels = label_mapping(text)
        same = tuple(
            (k, str(labels[k])) for k in self.config.same_labels if labels.get(k) not in (None, "")
        )
        keys = tuple(
            f"{k}={labels[k]}" for k in self.config.key_labels if labels.get(k) not in (None, "")
        )
        series = "\x1f".join(str(labels.get(k, "")) for k in self.config.series_labels)
        return same, keys, series, probed_stages(labels, self.config.stage_labels)


def label_mapping(text: object) -> dict:
    """An alert's labels as JSON text read into a mapping; {} when it is none."""
    try:
        labels = json.loads(text) if isinstance(text, str) else {}
    except ValueError:
        return {}
    return labels if isinstance(labels, dict) else {}


def probed_stages(labels: dict, stage_labels: tuple[str, ...]) -> tuple[str, ...]:
    """The stages (journey/stage) a synthetic check names in its `stage_labels`; none when the
    alert is no check."""
    return tuple(str(labels[k]) for k in stage_labels if labels.get(k) not in (None, ""))


def group_incidents(
    alerts: pd.DataFrame,
    journey_map: JourneyMap,
    config: IncidentConfig | None = None,
    changes: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Offline: one fresh IncidentGrouper over the whole history in fired_at order (same answer
    as feeding the same alerts online in any batching)."""
    return IncidentGrouper(journey_map, config).assign(alerts, changes)


def _compact(value: object) -> str:
    # no spaces and no check for cycles (the state has none): it is megabytes when many are open
    return json.dumps(value, separators=(",", ":"), check_circular=False)


def _as_ns(values: pd.Series, missing: int | None = None) -> np.ndarray:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        times = values  # already zone-aware: to_numpy gives UTC (to_datetime would copy)
    else:
        times = pd.to_datetime(values, utc=True)
    ns = times.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    if missing is not None:
        ns = np.where(times.isna().to_numpy(), missing, ns)
    return ns


def _datetime_ns(when: datetime) -> int:
    stamp = pd.Timestamp(when)
    if stamp.tzinfo is None:
        raise ValueError(f"incident times need a time zone (UTC); got {when!r}")
    return int(stamp.tz_convert(UTC).value)


def _ns_datetime(ns: int) -> datetime:
    return pd.Timestamp(ns - ns % 1000, tz=UTC).to_pydatetime()  # datetime holds microseconds


def _values(alerts: pd.DataFrame, column: str, n: int) -> list:
    """A column as plain Python values, missing ones (absent column, None, NaN, NaT) as None."""
    if column not in alerts:
        return [None] * n
    return [None if v is None or v != v else v for v in alerts[column].tolist()]


def _empty_answer(index: pd.Index) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "incident_id": pd.Series([], dtype=object),
            "incident_size": pd.Series([], dtype="int64"),
            "incident_position": pd.Series([], dtype="int64"),
            "incident_root_service": pd.Series([], dtype=object),
            "incident_root_mapped": pd.Series([], dtype=bool),
            "incident_stages": pd.Series([], dtype=object),
            "incident_services": pd.Series([], dtype="int64"),
        },
        index=index,
    )
