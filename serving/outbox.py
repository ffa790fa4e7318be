"""The forwarding outbox: ranked batches waiting to go downstream, durable across restarts (SQLite in home).

A batch is committed here (synchronous=FULL) before the ranking answer leaves, and leaves the
outbox only when the downstream has taken it. Each row carries an idempotency key: the same
batch is never queued twice, and a receiver can drop a copy re-sent after a crash.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

OUTBOX_FILE = "outbox.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,          -- idempotency key of the delivery
    body TEXT NOT NULL,                -- the JSON posted downstream
    created_at INTEGER NOT NULL,       -- ns since the epoch, UTC
    attempts INTEGER NOT NULL DEFAULT 0,
    due_at INTEGER NOT NULL,           -- the next attempt, not before (ns)
    delivered_at INTEGER,
    failed_at INTEGER,                 -- refused for good by the downstream (a 4xx)
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (due_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
"""
PENDING = "delivered_at IS NULL AND failed_at IS NULL"


@dataclass(frozen=True)
class Delivery:
    id: int
    key: str
    body: str
    attempts: int


class Outbox:
    """Request threads add, the forwarder's thread takes and settles; one lock over both connections.

    Adding syncs to disk before it returns (synchronous=FULL): an acknowledged batch survives
    even a power cut. Settling does not wait for the disk (NORMAL, still safe from a process
    crash): a settlement lost to a power cut only sends a batch again, under the same key.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = _connect(path, "FULL")
        self.db.executescript(SCHEMA)
        self._settling = _connect(path, "NORMAL")
        self._lock = threading.Lock()

    @classmethod
    def in_home(cls, home: Path) -> Outbox:
        return cls(Path(home) / OUTBOX_FILE)

    def add(self, key: str, body: str) -> bool:
        """Queue a delivery, durably; False when one with this key is already queued or sent."""
        now = time.time_ns()
        with self._lock:
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO outbox (key, body, created_at, due_at) VALUES (?, ?, ?, ?)",
                (key, body, now, now),
            )
        return cursor.rowcount == 1

    def take_due(self, limit: int, lease_s: float) -> list[Delivery]:
        """The oldest deliveries due now, leased: another taker skips them until the lease ends."""
        now = time.time_ns()
        with self._lock:
            db = self._settling
            db.execute("BEGIN IMMEDIATE")
            try:
                rows = db.execute(
                    f"SELECT id, key, body, attempts FROM outbox WHERE {PENDING} AND due_at <= ? "
                    "ORDER BY id LIMIT ?",
                    (now, limit),
                ).fetchall()
                db.executemany(
                    "UPDATE outbox SET due_at = ? WHERE id = ?",
                    [(now + int(lease_s * 1e9), row[0]) for row in rows],
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return [Delivery(*row) for row in rows]

    def delivered(self, delivery: Delivery) -> None:
        self._set(
            "delivered_at = ?, attempts = attempts + 1, last_error = NULL", time.time_ns(), delivery
        )

    def retry(self, delivery: Delivery, error: str, after_s: float, attempted: bool = True) -> None:
        due = time.time_ns() + int(after_s * 1e9)
        counted = "attempts + 1" if attempted else "attempts"
        self._set(f"due_at = ?, attempts = {counted}, last_error = ?", (due, error), delivery)

    def failed(self, delivery: Delivery, error: str) -> None:
        self._set(
            "failed_at = ?, attempts = attempts + 1, last_error = ?",
            (time.time_ns(), error),
            delivery,
        )

    def _set(self, assignments: str, values: object, delivery: Delivery) -> None:
        values = values if isinstance(values, tuple) else (values,)
        with self._lock:
            self._settling.execute(
                f"UPDATE outbox SET {assignments} WHERE id = ?", (*values, delivery.id)
            )

    # ------------------------------------------------------------------ reads and upkeep

    def pending(self) -> int:
        with self._lock:
            return self.db.execute(f"SELECT count(*) FROM outbox WHERE {PENDING}").fetchone()[0]

    def next_due_s(self) -> float | None:
        """Seconds until the next pending delivery is due (0 when overdue); None when none waits."""
        with self._lock:
            due = self.db.execute(f"SELECT min(due_at) FROM outbox WHERE {PENDING}").fetchone()[0]
        return None if due is None else max(0.0, (due - time.time_ns()) / 1e9)

    def prune(self, older_than_s: float) -> int:
        """Forget deliveries settled (delivered or refused) longer ago than this."""
        cutoff = time.time_ns() - int(older_than_s * 1e9)
        with self._lock:
            return self.db.execute(
                "DELETE FROM outbox WHERE coalesce(delivered_at, failed_at) < ?", (cutoff,)
            ).rowcount

    def integrity(self) -> str:
        with self._lock:
            return self.db.execute("PRAGMA integrity_check").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._settling.close()
            self.db.close()


def _connect(path: Path, synchronous: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    db.execute("PRAGMA busy_timeout=30000")
    return db
