"""The incident book's state in the store: each write holds what changed, a restart gets the same
grouper back, and a state that replicas wrote over each other is rebuilt from the alerts."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pandas as pd
import pytest

from features.incidents import IncidentGrouper, group_incidents
from features.journey_map import load_journey_map
from serving.incident_book import STATE_DOCUMENT, IncidentBook
from serving.state import SqliteStateStore


class CountingStore(SqliteStateStore):
    """A SQLite store that remembers how many parts each document write held."""

    def __init__(self, path) -> None:
        super().__init__(path)
        self.writes: list[tuple[int, bool]] = []

    def put_document(self, name, head, parts=None, *, replace=False) -> None:
        self.writes.append((len(parts or {}), replace))
        super().put_document(name, head, parts, replace=replace)


@pytest.fixture
def history(sample_dir) -> tuple:
    alerts = pd.read_parquet(sample_dir / "alerts.parquet").sort_values(["fired_at", "alert_id"])
    return load_journey_map(sample_dir / "journey_map.yaml"), alerts.tail(600)


def live_state(alerts: pd.DataFrame) -> SimpleNamespace:
    """What the book reads of a worker's live state: the alert rows seen, the mirror's tables."""
    return SimpleNamespace(seen={"alerts": 0}, mirror=SimpleNamespace(alerts=alerts, changes=None))


def test_a_write_holds_what_changed_and_a_restart_gets_the_same_grouper(tmp_path, history):
    journey_map, alerts = history
    store = CountingStore(tmp_path / "state.sqlite")
    book = IncidentBook(journey_map, IncidentGrouper(journey_map), live_state(alerts))
    book.assign(alerts.iloc[:590])
    book.persist(store)
    book.assign(alerts.iloc[590:595])
    book.persist(store)
    book.persist(store)  # nothing changed meanwhile
    (everything, first), (changed, later), (none, _) = store.writes
    assert first and not later and everything > 100
    assert 0 < changed < everything / 10 and none == 0
    restored = IncidentBook.opened(journey_map, None, store, live_state(alerts.iloc[:0]))
    assert restored.grouper.to_state() == book.grouper.to_state()
    tail = alerts.iloc[595:]
    assert restored.assign(tail) == book.assign(tail)


def test_a_state_replicas_wrote_over_each_other_is_rebuilt_from_the_alerts(
    tmp_path, history, caplog
):
    journey_map, alerts = history
    store = SqliteStateStore(tmp_path / "state.sqlite")
    mine = IncidentBook(journey_map, IncidentGrouper(journey_map), live_state(alerts))
    other = IncidentBook(journey_map, IncidentGrouper(journey_map), live_state(alerts))
    mine.assign(alerts.iloc[:300])
    mine.persist(store)
    other.assign(alerts.iloc[300:310])
    other.persist(store)  # its first write: all of its parts, none of mine
    mine.assign(alerts.iloc[300:])
    mine.persist(store)  # only what changed since my last write: my older parts are gone
    head, parts = store.document(STATE_DOCUMENT)
    kept = [k for k in parts if k.startswith(mine.writer + "incident/")]
    assert mine.writer in head and 0 < len(kept) < len(mine.grouper.to_state()["incidents"])
    with caplog.at_level(logging.WARNING, logger="serving.incident_book"):
        reopened = IncidentBook.opened(journey_map, None, store, live_state(alerts))
    assert "not whole" in caplog.text and "rebuilt from the alerts" in caplog.text
    offline = group_incidents(alerts, journey_map)
    assert reopened.assign(alerts) == offline["incident_id"].tolist()
