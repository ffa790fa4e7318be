"""The forwarding outbox: pages waiting to go downstream, durable across restarts (SQLite in home).

A page is committed here (synchronous=FULL) before the ranking answer leaves, and leaves the
outbox only when the downstream has taken it. Each row carries an idempotency key: the same
page is never queued twice, and a receiver can drop a copy re-sent after a crash. Beside it,
the tier each incident was last paged at, written in the same transaction: an incident pages
again only when its tier rises, across restarts too.
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
CREATE TABLE IF NOT EXISTS pages (
    incident_id TEXT PRIMARY KEY,
    tier TEXT NOT NULL,                -- the highest tier it was paged at (P1 is highest)
    key TEXT NOT NULL,                 -- that page's delivery
    paged_at INTEGER NOT NULL          -- ns since the epoch, UTC
);
"""
PENDING = "delivered_at IS NULL AND failed_at IS NULL"


@dataclass(frozen=True)
class Page:
    """An incident's page at a tier: what goes downstream, under its idempotency key."""

    incident_id: str
    tier: str
    key: str
    body: str


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

    def add_pages(self, pages: list[Page]) -> int:
        """Queue each incident's page unless it was paged at this tier or a higher one (P1 < P2 ...),
        all in one durable transaction; returns how many were queued."""
        now, queued = time.time_ns(), 0
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for page in pages:
                    found = self.db.execute(
                        "SELECT tier FROM pages WHERE incident_id = ?", (page.incident_id,)
                    ).fetchone()
                    if found is not None and found[0] <= page.tier:
                        continue
                    self.db.execute(
                        "INSERT OR IGNORE INTO outbox (key, body, created_at, due_at) "
                        "VALUES (?, ?, ?, ?)",
                        (page.key, page.body, now, now),
                    )
                    self.db.execute(
                        "INSERT OR REPLACE INTO pages VALUES (?, ?, ?, ?)",
                        (page.incident_id, page.tier, page.key, now),
                    )
                    queued += 1
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return queued

    def paged_tiers(self, incident_ids: list[str]) -> dict[str, str]:
        """The highest tier each of these incidents was paged at (absent: never paged)."""
        if not incident_ids:
            return {}
        marks = ", ".join("?" * len(incident_ids))
        with self._lock:
            rows = self.db.execute(
                f"SELECT incident_id, tier FROM pages WHERE incident_id IN ({marks})",
                list(incident_ids),
            ).fetchall()
        return dict(rows)

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
        """Forget deliveries settled (delivered or refused) and pages made longer ago than this."""
        cutoff = time.time_ns() - int(older_than_s * 1e9)
        with self._lock:
            self.db.execute("DELETE FROM pages WHERE paged_at < ?", (cutoff,))
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
