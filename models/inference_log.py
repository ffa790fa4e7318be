"""The inference log: every ranked alert with its features, scores and versions, written before the answer."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from features.timeaxis import from_ns, to_ns
from models.ranking import ANSWER_COLUMNS

LOG_FILE = "inference_log.sqlite"
CHECKPOINT_PAUSE_S = 0.0  # after a write, wait this long, then checkpoint what has gathered
WAL_BACKSTOP_PAGES = 16_384  # the committing connection checkpoints only a WAL past 64 MiB
SCHEMA = """
CREATE TABLE IF NOT EXISTS inference_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    logged_at INTEGER NOT NULL,          -- ns since the epoch, UTC
    alert_id TEXT NOT NULL,
    fired_at INTEGER NOT NULL,
    service TEXT, alert_name TEXT, source TEXT, severity TEXT,
    model_version TEXT, journey_map_version TEXT,
    impact_probability REAL, priority REAL, tier TEXT, route TEXT,
    journey TEXT, stage TEXT, segment_at_risk TEXT,
    reasons TEXT, playbook TEXT, flags TEXT,
    features TEXT,                       -- JSON object: every feature the ranker saw
    incident_id TEXT, incident_priority REAL
);
CREATE INDEX IF NOT EXISTS inference_log_logged_at ON inference_log (logged_at);
CREATE INDEX IF NOT EXISTS inference_log_alert ON inference_log (alert_id);
CREATE INDEX IF NOT EXISTS inference_log_fired_at ON inference_log (fired_at);  -- the dashboard
CREATE TABLE IF NOT EXISTS verdicts (    -- every human verdict posted to /feedback, never pruned
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    logged_at INTEGER NOT NULL,
    alert_id TEXT NOT NULL,
    impact INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    author TEXT,
    note TEXT
);
"""
VERDICT_COLUMNS = ("alert_id", "impact", "ts", "author", "note")  # the contract's feedback table
LOGGED_ALERT = ("service", "alert_name", "source", "severity")  # what the log keeps of the alert
SCORES = ("impact_probability", "priority")
VERSIONS = ("model_version", "journey_map_version")
# The ranker's answer columns logged as they are (escalation follows from the tier and the map):
# the versions, then (after the two scores) the rest, in the ranker's order.
ANSWERED = (
    *VERSIONS,
    *(c for c in ANSWER_COLUMNS if c not in ("alert_id", "escalation", *SCORES, *VERSIONS)),
)
# The incident it joined and the incident's priority then (what the queue orders by): added to
# logs written before them on open, so an older log reads them as unknown.
INCIDENT = {"incident_id": "TEXT", "incident_priority": "REAL"}
COLUMNS = (
    "logged_at", "alert_id", "fired_at", *LOGGED_ALERT,
    *ANSWERED[:2], *SCORES, *ANSWERED[2:], "features", *INCIDENT,
)  # fmt: skip
INSERT = (
    f"INSERT INTO inference_log ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
)


class InferenceLog:
    """An append-only SQLite log; each batch is one durable transaction (synchronous=FULL)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA busy_timeout=30000")
        self.db.executescript(SCHEMA)
        _add_missing_columns(self.db)
        self.checkpoints = WalCheckpoints(self.db, path)

    @classmethod
    def in_home(cls, home: Path) -> InferenceLog:
        return cls(Path(home) / LOG_FILE)

    def write(self, answers: pd.DataFrame, features: pd.DataFrame, alerts: pd.DataFrame) -> int:
        """answers: the ranker's output; features: alert_id + features; alerts: the alerts ranked."""
        ids = answers["alert_id"].tolist()
        alert, at = _rows_for(alerts, ids)
        feats, feature_at = _rows_for(features, ids)
        feats = feats.drop(columns="alert_id")
        if feats.columns.empty:  # a fail-open answer: no feature was computed
            feature_json = ["{}"] * len(ids)
        else:  # pandas writes the records in C (NaN as null), one JSON object per line
            lines = feats.to_json(orient="records", lines=True).splitlines()
            feature_json = [lines[i] for i in feature_at]
        fired = to_ns(alert["fired_at"]).tolist()
        now = time.time_ns()
        rows = list(
            zip(
                [now] * len(ids),
                ids,
                [fired[i] for i in at],
                *([column[i] for i in at] for column in (alert[c].tolist() for c in LOGGED_ALERT)),
                *(answers[c].tolist() for c in ANSWERED[:2]),
                *(answers[c].astype(float).tolist() for c in SCORES),
                *(answers[c].tolist() for c in ANSWERED[2:]),
                feature_json,
                *_incident_columns(answers),
                strict=True,
            )
        )
        with self._transaction():
            self.db.executemany(INSERT, rows)
        self.checkpoints.written()
        return len(rows)

    def export(self, since: pd.Timestamp | None = None) -> pd.DataFrame:
        """The log as a frame (times as UTC timestamps, features as columns)."""
        after = 0 if since is None else int(to_ns(pd.DatetimeIndex([since]))[0])
        frame = pd.read_sql_query(
            "SELECT * FROM inference_log WHERE logged_at >= ? ORDER BY id", self.db, params=(after,)
        )
        frame["logged_at"] = from_ns(frame["logged_at"].to_numpy())
        frame["fired_at"] = from_ns(frame["fired_at"].to_numpy())
        features = pd.DataFrame([json.loads(f) for f in frame.pop("features")], index=frame.index)
        return pd.concat([frame, features.add_prefix("feature.")], axis=1)

    def count(self) -> int:
        return self.db.execute("SELECT count(*) FROM inference_log").fetchone()[0]

    def write_verdicts(self, feedback: pd.DataFrame) -> int:
        """Keep verdicts for retraining: the state store prunes them with its label retention."""
        rows = [
            (time.time_ns(), str(a), int(i), int(t), _or_none(u), _or_none(n))
            for a, i, t, u, n in zip(
                feedback["alert_id"],
                feedback["impact"],
                to_ns(feedback["ts"]).tolist(),
                feedback.get("author", pd.Series([None] * len(feedback))),
                feedback.get("note", pd.Series([None] * len(feedback))),
                strict=True,
            )
        ]
        with self._transaction():
            self.db.executemany(
                "INSERT INTO verdicts (logged_at, alert_id, impact, ts, author, note) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    def verdicts(self) -> pd.DataFrame:
        """The latest verdict per alert, in the contract's feedback columns."""
        frame = pd.read_sql_query(
            f"SELECT {', '.join(VERDICT_COLUMNS)} FROM verdicts ORDER BY ts, id", self.db
        )
        frame["ts"] = from_ns(frame["ts"].to_numpy())
        frame["impact"] = frame["impact"].astype("int64")
        return frame.drop_duplicates("alert_id", keep="last").reset_index(drop=True)

    def recent(self, fired_after: pd.Timestamp) -> pd.DataFrame:
        """The latest answer for each alert fired after `fired_after`, in log order (no features).

        Read on a connection of its own: the dashboard reads while requests write on `self.db`.
        """
        after = int(to_ns(pd.DatetimeIndex([fired_after]))[0])
        columns = ", ".join(c for c in COLUMNS if c != "features")
        query = (
            f"SELECT {columns} FROM inference_log WHERE id IN "
            "(SELECT max(id) FROM inference_log WHERE fired_at > ? GROUP BY alert_id) ORDER BY id"
        )
        with self._reader() as db:
            frame = pd.read_sql_query(query, db, params=(after,))
        frame["logged_at"] = from_ns(frame["logged_at"].to_numpy())
        frame["fired_at"] = from_ns(frame["fired_at"].to_numpy())
        return frame

    def latest_answers(self, alert_ids: list[str]) -> pd.DataFrame:
        """The latest logged answer of each of these alerts (no features); absent if never ranked."""
        columns = ", ".join(c for c in COLUMNS if c != "features")
        frames = []
        with self._reader() as db:
            for start in range(0, len(alert_ids), 500):  # SQLite's limit on bound parameters
                chunk = list(alert_ids[start : start + 500])
                marks = ", ".join("?" * len(chunk))
                query = (
                    f"SELECT {columns} FROM inference_log WHERE id IN (SELECT max(id) FROM "
                    f"inference_log WHERE alert_id IN ({marks}) GROUP BY alert_id) ORDER BY id"
                )
                frames.append(pd.read_sql_query(query, db, params=chunk))
        frame = (
            pd.concat(frames, ignore_index=True)
            if frames
            else pd.DataFrame(columns=[c for c in COLUMNS if c != "features"])
        )
        frame["fired_at"] = from_ns(frame["fired_at"].to_numpy(dtype="int64"))
        return frame

    def lookup(self, alert_id: str) -> dict | None:
        """The latest logged answer for one alert, its features parsed; None if it was never ranked."""
        with self._reader() as db:
            db.row_factory = sqlite3.Row
            row = db.execute(
                "SELECT * FROM inference_log WHERE alert_id = ? ORDER BY id DESC LIMIT 1",
                (alert_id,),
            ).fetchone()
        if row is None:
            return None
        found = dict(row)
        found["features"] = json.loads(found["features"])
        for name in ("logged_at", "fired_at"):
            found[name] = pd.Timestamp(found[name], tz="UTC")
        return found

    @contextlib.contextmanager
    def _reader(self):
        db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            yield db
        finally:
            db.close()

    def _transaction(self):
        return _Transaction(self.db)


class WalCheckpoints:
    """Checkpoints a WAL database from a thread of its own, not inside a request's COMMIT.

    SQLite checkpoints in the COMMIT that takes the WAL past wal_autocheckpoint pages: that
    request waits while megabytes are copied into the database file and synced. Here the
    connection checkpoints itself only past WAL_BACKSTOP_PAGES, and a thread checkpoints
    passively (writers never wait for it) a moment after writes. Durability is unchanged: a
    commit still syncs the WAL before it returns; a checkpoint only moves committed pages.
    """

    def __init__(self, db: sqlite3.Connection, path: Path, pause_s: float = CHECKPOINT_PAUSE_S):
        db.execute(f"PRAGMA wal_autocheckpoint={WAL_BACKSTOP_PAGES}")
        self.path, self.pause_s = path, pause_s
        self._written = threading.Event()
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()

    def written(self) -> None:
        """A write was committed: checkpoint soon (the thread starts with the first write)."""
        self._written.set()
        if self._thread is None:
            with self._starting:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name=f"checkpoint {self.path.name}", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        while True:
            self._written.wait()
            time.sleep(self.pause_s)  # let a burst of commits gather into one checkpoint
            self._written.clear()
            with contextlib.suppress(sqlite3.Error):  # busy or gone: the next write asks again
                db.execute("PRAGMA wal_checkpoint(PASSIVE)")


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind, value, traceback) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")


def _plain(values: dict) -> dict:
    """JSON-safe feature values: NaN becomes null, numpy scalars become Python numbers."""
    out = {}
    for key, value in values.items():
        if isinstance(value, (float, np.floating)):
            out[key] = None if np.isnan(value) else float(value)
        elif isinstance(value, np.integer):
            out[key] = int(value)
        else:
            out[key] = (
                None if value is None or (isinstance(value, float) and np.isnan(value)) else value
            )
    return out


def _or_none(value):
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def _rows_for(frame: pd.DataFrame, ids: list) -> tuple[pd.DataFrame, list[int]]:
    """Where each of `ids` is: `frame` and the row of each id's last copy in it; or, when some
    id is absent, the last copies reindexed to `ids` (missing values for the absent) and 0 … n-1.
    Rows are picked per column only, not as a frame: a ranking pass logs 100 alerts × 50 features.
    """
    where = {alert_id: i for i, alert_id in enumerate(frame["alert_id"].tolist())}
    rows = [where.get(alert_id, -1) for alert_id in ids]
    if min(rows, default=0) < 0:
        unique = frame.drop_duplicates("alert_id", keep="last").set_index("alert_id")
        return unique.reindex(ids).reset_index(), list(range(len(ids)))
    return frame, rows


def _add_missing_columns(db: sqlite3.Connection) -> None:
    """A log written by an earlier version gains the columns it lacks (unknown in its old rows)."""
    present = {row[1] for row in db.execute("PRAGMA table_info(inference_log)")}
    for name, kind in INCIDENT.items():
        if name not in present:
            db.execute(f"ALTER TABLE inference_log ADD COLUMN {name} {kind}")


def _incident_columns(answers: pd.DataFrame) -> tuple[list, list]:
    """incident_id and incident_priority per answer; answers ranked outside any incident (a bare
    ranker's) stand alone: no incident, ranked by their own priority."""
    ids = answers["incident_id"].tolist() if "incident_id" in answers else [None] * len(answers)
    by = "incident_priority" if "incident_priority" in answers else "priority"
    return ids, answers[by].astype(float).tolist()
