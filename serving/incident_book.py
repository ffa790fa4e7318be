"""The service's incidents: one point-in-time grouper fed as alerts are ranked, and what a responder reads of them.

The grouper (features/incidents.py) is the one offline and evaluation use: fed the same alerts
in fire order it gives the same incident ids. The book keeps it, remembers each alert's incident
(a re-sent alert keeps the one it joined) and each incident's highest priority so far (what its
next alert ranks by), persists the grouper's state in the state store, and
answers `GET /incidents` from the grouping and the inference log's answers.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import datetime, timedelta

import pandas as pd

from features.incidents import Incident, IncidentConfig, IncidentGrouper
from features.journey_map import JourneyMap, trace_dependencies
from models.fallback import FALLBACK
from models.incidents import TIER_ORDER, incident_summary
from models.inference_log import InferenceLog

log = logging.getLogger(__name__)

STATE_DOCUMENT = "incidents"  # the grouper's state, under this name in the state store
PERSIST_EVERY_S = 2.0  # what changed in the state is written at most so often
CHANGES_BEFORE = timedelta(hours=2)  # the changes shown around an incident's start
CHANGES_AFTER = timedelta(minutes=30)


class IncidentBook:
    def __init__(self, journey_map: JourneyMap, grouper: IncidentGrouper, live) -> None:
        self.journey_map = journey_map
        self.grouper = grouper
        self.live = live  # the worker's live state: which of the store's alert rows it has seen
        # each incident's highest priority so far: what its next alert ranks by (rank_by_incident)
        self.best: dict[str, float] = {}
        self._persisted_at = -float("inf")
        # The state's parts go under a key of this book's own: replicas sharing a store each
        # write theirs, and a head names the writer whose parts it goes with.
        self.writer = f"{uuid.uuid4().hex[:12]}/"
        self._written = False  # whether the store holds this book's parts as they stood

    @classmethod
    def opened(
        cls, journey_map: JourneyMap, config: IncidentConfig | None, store, live
    ) -> IncidentBook:
        """The grouper as it was last persisted, caught up with the alert rows the store took
        after it (new firings joined in fire order, resolutions applied); or, with none saved (or
        one whose parts do not add up), rebuilt from the alerts and changes the store holds (a
        warm start or a first start), as the offline grouping groups them."""
        changes = live.mirror.changes
        grouper = _restored(journey_map, config, store, changes)
        if grouper is None:
            grouper = IncidentGrouper(journey_map, config)
            grouper.assign(live.mirror.alerts, changes)
        book = cls(journey_map, grouper, live)
        book.persist(store)
        return book

    # ------------------------------------------------------------------ as alerts come

    def assign(self, alerts: pd.DataFrame) -> list[str]:
        """Each alert's incident id, in the frame's order: an alert seen before keeps its own."""
        return self.answer(alerts)["incident_id"].tolist()

    def answer(self, alerts: pd.DataFrame) -> pd.DataFrame:
        """The grouper's answer (INCIDENT_COLUMNS) for each alert as it stood when it joined, by
        alert_id, in the frame's order: what the incident features read."""
        answer = self.grouper.assign(alerts)
        answer.index = pd.Index(alerts["alert_id"].astype(str).to_numpy(dtype=object))
        return answer

    def add_changes(self, changes: pd.DataFrame) -> None:
        self.grouper.add_changes(changes)

    def resolve(self, closed: list[tuple[str, datetime]]) -> None:
        self.grouper.resolve(closed)

    def persist(self, store, force: bool = True) -> None:
        """Write what changed in the grouper's state to the store (unless `force` is off and it
        was written less than PERSIST_EVERY_S ago: what a restart misses, it catches up from the
        store's alerts). The state is megabytes when many incidents are open; a write holds the
        small head and the parts — incidents, firing alerts' ends — that changed since the last
        (all of them the first time, or after a failed write): its cost is what changed."""
        now = time.monotonic()
        if not force and now - self._persisted_at < PERSIST_EVERY_S:
            return
        self.best = {k: v for k, v in self.best.items() if self.grouper.knows(k)}
        whole = not self._written  # all the parts the first time, or after a failed write
        state = self.grouper.state_parts if whole else self.grouper.state_changes
        head, parts = state(self.writer)
        document = json.dumps(
            {"alerts_seen": self.live.seen["alerts"], "writer": self.writer, "grouper": head},
            separators=(",", ":"),
        )
        self._written = False  # unknown until the write is done
        store.put_document(STATE_DOCUMENT, document, parts, replace=whole)
        self._written = True
        self._persisted_at = now

    def recall_priorities(self, log: InferenceLog) -> None:
        """Each incident's highest priority so far, from the latest logged answers of the alerts
        the live state holds (the model's: a fallback answer's rule score is on another scale) —
        derived, so a restart loses none of it."""
        alert_ids = self.live.mirror.alerts["alert_id"].tolist()
        of = {a: i for a in alert_ids if (i := self.grouper.incident_of(a)) is not None}
        answers = log.latest_answers(list(of))
        model = ~answers["flags"].fillna("").str.contains(FALLBACK, regex=False)
        answers = answers[model].assign(incident_id=answers["alert_id"].map(of))
        self.best = answers.groupby("incident_id")["priority"].max().astype(float).to_dict()

    # ------------------------------------------------------------------ what responders read

    def open_incidents(self, now: datetime) -> list[Incident]:
        return self.grouper.open_incidents(now)

    def incident(self, incident_id: str) -> Incident | None:
        return self.grouper.incident(incident_id)

    def changes_around(self, incident: Incident, changes: pd.DataFrame) -> pd.DataFrame:
        """Changes to the incident's services, or to what they depend on, around its start."""
        if changes is None or changes.empty:
            return pd.DataFrame(columns=["change_id", "ts", "service", "kind", "description"])
        reached: set[str] = set()
        for service in incident.services:
            reached.update(trace_dependencies(service, self.journey_map.dependencies))
        start = pd.Timestamp(incident.started_at)
        near = changes[
            changes["service"].isin(reached)
            & (changes["ts"] >= start - CHANGES_BEFORE)
            & (changes["ts"] <= start + CHANGES_AFTER)
        ]
        return near.sort_values("ts", kind="stable")


def _restored(
    journey_map: JourneyMap, config: IncidentConfig | None, store, changes: pd.DataFrame
) -> IncidentGrouper | None:
    """The grouper the store keeps, caught up with the alert rows written after it; None when it
    keeps none, or one whose parts do not add up (replicas that shared the store wrote over
    each other's: the caller rebuilds it from the alerts)."""
    saved = store.document(STATE_DOCUMENT)
    if saved is None:
        return None
    head, parts = saved
    document = json.loads(head)
    state = document["grouper"]
    try:
        if "incidents" in state:  # one document holding it all, as before the parts
            grouper = IncidentGrouper.from_state(journey_map, config, state)
        else:
            grouper = IncidentGrouper.from_parts(
                journey_map, config, state, parts, document["writer"]
            )
    except ValueError as err:
        log.warning("the incident state kept is not whole (%s): rebuilt from the alerts", err)
        return None
    later, _ = store.rows_since("alerts", document["alerts_seen"])
    known = later["alert_id"].map(grouper.incident_of).notna()
    grouper.assign(later[~known], changes)
    closed = later[known & later["resolved_at"].notna()]
    grouper.resolve(list(zip(closed["alert_id"], closed["resolved_at"], strict=True)))
    return grouper


def summary(incident: Incident, answers: pd.DataFrame, paged: str | None) -> dict:
    """An incident with the impact its alerts' answers give it (models/incidents.py, as evaluation
    computes it offline: the highest probability, priority and tier of its alerts)."""
    mine = answers[answers["alert_id"].isin(incident.alert_ids)]
    figures = incident_summary(mine.assign(incident_id=incident.incident_id)) if len(mine) else None
    probability = None if figures is None else figures["probability"].iloc[0]
    return {
        "incident_id": incident.incident_id,
        "started_at": incident.started_at,
        "last_alert_at": incident.last_alert_at,
        "alerts": len(incident.alert_ids),
        "services": list(incident.services),
        "stages": list(incident.stages),
        "root_service": incident.root_service,
        "root_reason": incident.root_reason,
        "impact_probability": None if pd.isna(probability) else float(probability),
        "priority": 0.0 if figures is None else float(figures["priority"].iloc[0]),
        "tier": TIER_ORDER[-1] if figures is None else figures["tier"].iloc[0],
        "paged": paged,
        "resolved_at": incident.resolved_at,
    }
