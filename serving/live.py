"""A worker's live view: the store's rows mirrored into the online feature state, caught up by rowid."""

from __future__ import annotations

import time

import pandas as pd

from features.online import OnlineFeatureState
from models.ranking import Ranker
from serving.state import SqliteStateStore

# order matters: labels before the outcomes that would otherwise re-derive them
SYNC_ORDER = ("labels", "changes", "feedback", "alerts", "outcomes")


class LiveState:
    def __init__(self, store: SqliteStateStore, ranker: Ranker) -> None:
        self.store = store
        self.mirror = OnlineFeatureState(
            ranker.journey_map,
            ranker.baselines,
            ranker.spec.config,
            ranker.spec.window_ns,
            store.retention,
        )
        self.seen = dict.fromkeys(SYNC_ORDER, 0)
        self.persisted_labels: set[str] = set()
        self._derived_checked: object = None  # the mirror's derived labels last persisted
        totals = store.label_totals()
        if len(totals):
            self.mirror.add_label_totals(totals)

    def sync(self) -> None:
        """Take in everything written since the last sync (by this worker or another)."""
        written = self.store.last_rowids(SYNC_ORDER)  # one cheap query finds the tables with news
        for name in SYNC_ORDER:
            if written[name] <= self.seen[name]:
                continue
            rows, self.seen[name] = self.store.rows_since(name, self.seen[name])
            self._take(name, rows)
        self._persist_new_labels()

    def put(self, name: str, frame: pd.DataFrame) -> int:
        """Store rows and take them in, with whatever others wrote before them; returns how many.

        The rows just written go into the mirror as the store would give them back, without
        reading them, when no one wrote to their table since the sync before them (a sync of their
        own reads them back otherwise): a query less per ranking pass, a round trip with Redis."""
        self.sync()
        stored, taken = self._put_through(name, frame)
        if taken:
            self._persist_new_labels()
        else:
            self.sync()
        return stored

    def _put_through(self, name: str, frame: pd.DataFrame) -> tuple[int, bool]:
        """Write rows, and take them in when the store hands them back unread (True); else a sync
        reads them, as another worker's. Returns how many were written."""
        stored, written = self.store.put_seen(name, frame, self.seen[name])
        if written is not None:
            rows, self.seen[name] = written
            self._take(name, rows)
        return stored, written is not None

    def _take(self, name: str, rows: pd.DataFrame) -> None:
        if rows.empty:
            return
        if name == "labels":
            self.mirror.add_derived_labels(rows)
            self.persisted_labels.update(rows["alert_id"])
        elif name == "alerts":
            self.mirror.add_alerts(rows)
        elif name == "outcomes":
            self.mirror.add_outcomes(rows)
        elif name == "changes":
            self.mirror.add_changes(rows)
        else:
            self.mirror.add_feedback(rows)

    def features_for(self, alerts: pd.DataFrame) -> pd.DataFrame:
        return self.mirror.features_for(alerts)

    def event_time_ns(self) -> int | None:
        """Now, in the data's own time: the latest alert or outcome window seen, never past the
        wall clock (a row dated within the tolerance ahead of it must not move "now" either)."""
        times = [
            t
            for t in (self.store.latest("alerts", "fired_at"), self.mirror.data_end_ns)
            if t is not None
        ]
        return min(max(times), time.time_ns()) if times else None

    def _persist_new_labels(self) -> None:
        """Labels this worker derived are stored, so a restart does not need the outcomes again."""
        derived = self.mirror.derived
        if derived is self._derived_checked or derived.empty:
            return  # no label derived since the last look
        self._derived_checked = derived
        new = derived[~derived["alert_id"].isin(self.persisted_labels)]
        if len(new):
            self._put_through("labels", new)
            self.persisted_labels.update(new["alert_id"])
