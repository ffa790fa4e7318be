"""A worker's live mirror: rows it puts go in without being read back, and it holds what a worker
that reads every row back from the store holds, whoever wrote in between."""

from __future__ import annotations

import pandas as pd

from features.families.incident import with_incidents
from features.incidents import IncidentGrouper
from features.loading import load_data_dir
from serving.live import LiveState
from serving.state import SqliteStateStore


class CountingStore(SqliteStateStore):
    """A SQLite store that counts the rows read back per table, and can let another worker write
    just before its next put."""

    def __init__(self, path) -> None:
        super().__init__(path)
        self.read: dict[str, int] = {}
        self.before_next_put = None

    def rows_since(self, name, after):
        rows, mark = super().rows_since(name, after)
        self.read[name] = self.read.get(name, 0) + len(rows)
        return rows, mark

    def put_seen(self, name, frame, seen):
        if self.before_next_put is not None:
            self.before_next_put, write = None, self.before_next_put
            write()
        return super().put_seen(name, frame, seen)


def test_a_worker_takes_in_its_own_rows_unread_and_holds_what_a_reader_holds(
    served, sample_dir, tmp_path
):
    ranker = served[1].ranker
    data = load_data_dir(sample_dir)
    alerts = data.alerts.sort_values(["fired_at", "alert_id"]).tail(300).reset_index(drop=True)
    batches = [alerts.iloc[i : i + 50] for i in range(0, 300, 50)]
    path = tmp_path / "state.sqlite"
    mine = LiveState(CountingStore(path), ranker)
    other = SqliteStateStore(path)  # another worker on the same store
    reader = LiveState(CountingStore(path), ranker)  # reads every row back

    mine.put("outcomes", data.journey_outcomes.tail(2000))
    mine.put("alerts", batches[0])
    mine.put("alerts", batches[1])
    assert mine.store.read == {}  # its own rows went in as written
    other.put("alerts", batches[2])
    mine.put("alerts", batches[3])  # another worker's rows first: synced, its own go in unread
    assert mine.store.read == {"alerts": 50}
    mine.store.before_next_put = lambda: other.put("alerts", batches[4])
    mine.put("alerts", batches[5])  # the other wrote between its sync and its put: read back
    assert mine.store.read == {"alerts": 150}

    reader.sync()
    assert mine.seen == reader.seen
    pd.testing.assert_frame_equal(mine.mirror.alerts, reader.mirror.alerts)
    pd.testing.assert_frame_equal(mine.mirror.outcomes, reader.mirror.outcomes)
    grouped = IncidentGrouper(ranker.journey_map).assign(alerts)
    grouped.index = pd.Index(alerts["alert_id"].astype(str))
    later = with_incidents(batches[5], grouped)
    pd.testing.assert_frame_equal(mine.features_for(later), reader.features_for(later))
