"""The inference log: every ranked alert with its features, scores and versions, written before the answer."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import numpy as np
import pandas as pd

from features.timeaxis import from_ns, to_ns

LOG_FILE = "inference_log.sqlite"
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
    features TEXT                        -- JSON object: every feature the ranker saw
);
CREATE INDEX IF NOT EXISTS inference_log_logged_at ON inference_log (logged_at);
CREATE INDEX IF NOT EXISTS inference_log_alert ON inference_log (alert_id);
"""
COLUMNS = (
    "logged_at",
    "alert_id",
    "fired_at",
    "service",
    "alert_name",
    "source",
    "severity",
    "model_version",
    "journey_map_version",
    "impact_probability",
    "priority",
    "tier",
    "route",
    "journey",
    "stage",
    "segment_at_risk",
    "reasons",
    "playbook",
    "flags",
    "features",
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

    @classmethod
    def in_home(cls, home: Path) -> InferenceLog:
        return cls(Path(home) / LOG_FILE)

    def write(self, answers: pd.DataFrame, features: pd.DataFrame, alerts: pd.DataFrame) -> int:
        """answers: the ranker's output; features: alert_id + features; alerts: the alerts ranked."""
        ids = answers["alert_id"].to_numpy()
        alert = alerts.drop_duplicates("alert_id", keep="last").set_index("alert_id").reindex(ids)
        feats = features.drop_duplicates("alert_id", keep="last").set_index("alert_id").reindex(ids)
        # pandas writes the records in C (NaN as null), one JSON object per line
        feature_json = (
            feats.reset_index(drop=True).to_json(orient="records", lines=True).splitlines()
        )
        now = time.time_ns()
        fired = to_ns(alert["fired_at"])
        rows = [
            (
                now,
                a.alert_id,
                int(f),
                s,
                n,
                src,
                sev,
                a.model_version,
                a.journey_map_version,
                float(a.impact_probability),
                float(a.priority),
                a.tier,
                a.route,
                a.journey,
                a.stage,
                a.segment_at_risk,
                a.reasons,
                a.playbook,
                a.flags,
                fj,
            )
            for a, f, s, n, src, sev, fj in zip(
                answers.itertuples(index=False),
                fired,
                alert["service"],
                alert["alert_name"],
                alert["source"],
                alert["severity"],
                feature_json,
                strict=True,
            )
        ]
        with self._transaction():
            self.db.executemany(
                f"INSERT INTO inference_log ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                rows,
            )
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

    def _transaction(self):
        return _Transaction(self.db)


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
