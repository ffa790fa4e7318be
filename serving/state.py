"""The online state store: recent journey outcomes, alerts, changes, feedback and matured labels.

SQLite in JOURNEYRANK_HOME (WAL, so several BentoML workers read while one writes). Every
worker keeps an in-memory mirror and catches up by rowid; the store is the one source of truth.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.online import Retention
from features.schemas import ALERTS, CHANGES, FEEDBACK, JOURNEY_OUTCOMES, TableSpec
from features.timeaxis import MINUTE_NS, NAT_NS, from_ns, to_ns
from models.inference_log import WalCheckpoints

STATE_FILE = "state.sqlite"


COUNTS = ("sessions", "completed", "abandoned", "impact")  # int64
NULLABLE_COUNTS = ("errors",)  # Int64: a count not reported is unknown
MEASURES = ("latency_p95_ms", "anomaly_score", "label")  # float64


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple[str, ...]
    columns: tuple[str, ...]
    times: tuple[str, ...]  # columns held as ns since the epoch
    kept_by: str | None  # the time column retention prunes by


def _contract_table(name: str, spec: TableSpec, key: tuple[str, ...]) -> Table:
    """A contract table held as it is: its columns, its times, pruned by its time column."""
    return Table(name, key, tuple(spec.column_names), spec.timestamp_columns, spec.time_column)


TABLES = {
    "outcomes": _contract_table(
        "outcomes", JOURNEY_OUTCOMES, ("window_start", "journey", "stage", "segment", "region")
    ),
    "alerts": _contract_table("alerts", ALERTS, ("alert_id",)),
    "changes": _contract_table("changes", CHANGES, ("change_id",)),
    "feedback": _contract_table("feedback", FEEDBACK, ("alert_id", "ts")),
    "labels": Table(
        "labels",
        ("alert_id",),
        ("alert_id", "matured_at", "label", "alert_name", "service"),
        ("matured_at",),
        "matured_at",
    ),
}


def _ddl(table: Table) -> str:
    columns = ", ".join(table.columns)
    # a rowid table (not WITHOUT ROWID): rowid order is write order, what mirrors catch up by
    return f"CREATE TABLE IF NOT EXISTS {table.name} ({columns}, PRIMARY KEY ({', '.join(table.key)}));"


class SqliteStateStore:
    """Upserts by each table's key; `rows_since` hands each worker what it has not seen yet."""

    def __init__(self, path: Path, retention: Retention | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.retention = retention or Retention()
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA busy_timeout=30000")
        self.checkpoints = WalCheckpoints(self.db, path)
        self.db.executescript("".join(_ddl(t) for t in TABLES.values()))
        # the latest firing is asked for on every request, and retention deletes by fired_at
        self.db.execute("CREATE INDEX IF NOT EXISTS alerts_fired_at ON alerts (fired_at)")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS label_totals (alert_name, service, n, positives, "
            "PRIMARY KEY (alert_name, service))"
        )
        self.db.execute("CREATE TABLE IF NOT EXISTS documents (name PRIMARY KEY, body)")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS document_parts (name, key, body, PRIMARY KEY (name, key)) "
            "WITHOUT ROWID"
        )

    @classmethod
    def in_home(cls, home: Path, retention: Retention | None = None) -> SqliteStateStore:
        return cls(Path(home) / STATE_FILE, retention)

    # ------------------------------------------------------------------ writes

    def put(self, name: str, frame: pd.DataFrame) -> int:
        """Insert or replace rows (canonical dtypes in); returns how many."""
        if frame.empty:
            return 0
        records = table_records(frame, TABLES[name])
        self._insert(name, records)
        return len(records)

    def put_seen(
        self, name: str, frame: pd.DataFrame, seen: int
    ) -> tuple[int, tuple[pd.DataFrame, int] | None]:
        """`put` for a reader that holds every row up to rowid `seen`: how many, and the rows as
        `rows_since(name, seen)` would read them back with the new high-water mark, when no one
        else wrote in between and no key repeats among them (else None: read them back).

        Each insert takes a rowid above all before it, so n inserts that end n rowids above the
        `seen` they start from are the rows after it, in order; the table's columns have no type
        (no affinity), so SQLite gives back exactly the values bound."""
        if frame.empty:
            return 0, None
        table = TABLES[name]
        records = table_records(frame, table)
        before, after = self._insert(name, records)
        return len(records), rows_written(records, table, seen, before, after)

    def _insert(self, name: str, records: list[tuple]) -> tuple[int, int]:
        """Insert or replace `records` in one transaction: the highest rowid before and after."""
        table = TABLES[name]
        placeholders = ", ".join("?" * len(table.columns))
        top = f"SELECT coalesce(max(rowid), 0) FROM {name}"
        self.db.execute("BEGIN IMMEDIATE")
        try:
            before = self.db.execute(top).fetchone()[0]
            # delete-then-insert gives a replaced row a new rowid, so every mirror sees the update
            self.db.executemany(
                f"INSERT OR REPLACE INTO {name} ({', '.join(table.columns)}) VALUES ({placeholders})",
                records,
            )
            after = self.db.execute(top).fetchone()[0]
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.checkpoints.written()
        return before, after

    def resolve(self, alert_ids: list[str], resolved_at: pd.Series) -> int:
        """Close alerts (resolved or acknowledged events): a later resolution, never a firing."""
        rows = [(int(t), a) for a, t in zip(alert_ids, to_ns(resolved_at), strict=True)]
        self.db.execute("BEGIN IMMEDIATE")
        changed = 0
        for t, a in rows:
            found = self.db.execute("SELECT * FROM alerts WHERE alert_id = ?", (a,)).fetchone()
            if found is not None:
                values = dict(zip(TABLES["alerts"].columns, found, strict=True))
                values["resolved_at"] = t
                self.db.execute(
                    f"INSERT OR REPLACE INTO alerts ({', '.join(values)}) VALUES "
                    f"({', '.join('?' * len(values))})",
                    tuple(values.values()),
                )
                changed += 1
        self.db.execute("COMMIT")
        return changed

    def add_label_totals(self, totals: pd.DataFrame) -> None:
        self.db.executemany(
            "INSERT INTO label_totals VALUES (?, ?, ?, ?) ON CONFLICT (alert_name, service) DO UPDATE SET "
            "n = n + excluded.n, positives = positives + excluded.positives",
            totals[["alert_name", "service", "n", "positives"]].itertuples(index=False, name=None),
        )

    def put_document(
        self, name: str, head: str, parts: Mapping[str, str | None] | None = None, *, replace=False
    ) -> None:
        """Keep one named document (the incident grouper's state): its head text, replacing the
        one kept before, and its parts by key, each written (None: deleted); `replace`: the parts
        given are all it has. One transaction: a reader sees it before or after, never half."""
        parts = parts or {}
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute("INSERT OR REPLACE INTO documents VALUES (?, ?)", (name, head))
            if replace:
                self.db.execute("DELETE FROM document_parts WHERE name = ?", (name,))
            self.db.executemany(
                "DELETE FROM document_parts WHERE name = ? AND key = ?",
                [(name, key) for key, body in parts.items() if body is None],
            )
            self.db.executemany(
                "INSERT OR REPLACE INTO document_parts VALUES (?, ?, ?)",
                [(name, key, body) for key, body in parts.items() if body is not None],
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.checkpoints.written()

    # ------------------------------------------------------------------ reads

    def document(self, name: str) -> tuple[str, dict[str, str]] | None:
        """A document's head and parts, as one write left them; None when none is kept."""
        self.db.execute("BEGIN")  # both reads in one snapshot
        try:
            found = self.db.execute("SELECT body FROM documents WHERE name = ?", (name,)).fetchone()
            parts = self.db.execute("SELECT key, body FROM document_parts WHERE name = ?", (name,))
            kept = None if found is None else (found[0], dict(parts.fetchall()))
        finally:
            self.db.execute("COMMIT")
        return kept

    def rows_since(self, name: str, after: int) -> tuple[pd.DataFrame, int]:
        """Rows written after rowid `after`, in canonical dtypes, and the new high-water mark."""
        table = TABLES[name]
        cursor = self.db.execute(
            f"SELECT rowid, {', '.join(table.columns)} FROM {name} WHERE rowid > ? ORDER BY rowid",
            (after,),
        )
        rows = cursor.fetchall()
        if not rows:
            return rows_frame([], table), after
        return rows_frame([row[1:] for row in rows], table), int(rows[-1][0])

    def last_rowids(self, names: tuple[str, ...]) -> dict[str, int]:
        """The highest rowid of each table (0 when empty), in one query: which tables have news."""
        query = ", ".join(f"(SELECT max(rowid) FROM {TABLES[name].name})" for name in names)
        found = self.db.execute(f"SELECT {query}").fetchone()
        return {name: value or 0 for name, value in zip(names, found, strict=True)}

    def label_totals(self) -> pd.DataFrame:
        return pd.read_sql_query(
            "SELECT alert_name, service, n, positives FROM label_totals", self.db
        )

    def latest(self, name: str, column: str) -> int | None:
        value = self.db.execute(f"SELECT max({column}) FROM {name}").fetchone()[0]
        return None if value is None else int(value)

    def count(self, name: str) -> int:
        return self.db.execute(f"SELECT count(*) FROM {name}").fetchone()[0]

    def is_empty(self) -> bool:
        return all(self.count(name) == 0 for name in ("outcomes", "alerts"))

    # ------------------------------------------------------------------ housekeeping

    def prune(self, now_ns: int) -> None:
        """Forget what no feature can see any more (the retention in config), in event time."""
        keep = self.retention.minutes_by_table()
        self.db.execute("BEGIN IMMEDIATE")
        for name, minutes in keep.items():
            column = TABLES[name].kept_by
            self.db.execute(
                f"DELETE FROM {name} WHERE {column} < ?", (now_ns - minutes * MINUTE_NS,)
            )
        self.db.execute("COMMIT")

    def integrity(self) -> str:
        return self.db.execute("PRAGMA integrity_check").fetchone()[0]


def table_records(frame: pd.DataFrame, table: Table) -> list[tuple]:
    columns = {}
    for name in table.columns:
        values = frame[name] if name in frame else pd.Series([None] * len(frame))
        if name in table.times:
            columns[name] = _ns_or_none(values)
        elif name == "labels":
            columns[name] = [
                None
                if v is None or (isinstance(v, float) and np.isnan(v))
                else (v if isinstance(v, str) else json.dumps(v))
                for v in values
            ]
        else:
            columns[name] = [
                None if _missing(v) else (v.item() if hasattr(v, "item") else v) for v in values
            ]
    return list(zip(*columns.values(), strict=True))


def rows_frame(records: list[tuple], table: Table) -> pd.DataFrame:
    """Stored records (the table's columns, as bound) in canonical dtypes; text stays Python
    strings, as the live mirror holds it. Each column is built in its dtype at once: a frame of
    objects converted column by column cost a ranking pass a millisecond."""
    values = zip(*records, strict=True) if records else [()] * len(table.columns)
    index = pd.RangeIndex(len(records))  # one index for all: no column is aligned to another's
    return pd.DataFrame(
        {
            name: _typed(name, column, table, index)
            for name, column in zip(table.columns, values, strict=True)
        },
        index=index,
    )


def _typed(name: str, column: tuple, table: Table, index: pd.Index):
    """One stored column in its canonical dtype. Times go through int64 exactly (through float64,
    as to_numeric takes a column with a missing value, a time kept only ~256 ns of precision: a row
    read in a batch with a missing time differed from the same row read in one without)."""
    if name in table.times:
        return from_ns(np.array([NAT_NS if v is None else v for v in column], dtype=np.int64))
    if name in COUNTS:
        return np.array(column, dtype=np.int64)
    if name in NULLABLE_COUNTS:
        return pd.array([pd.NA if v is None else v for v in column], dtype="Int64")
    if name in MEASURES:
        return np.array([np.nan if v is None else v for v in column], dtype=np.float64)
    # a bare array of text would be inferred "str"
    return pd.Series(_mirrored_text(column), index=index, dtype=object)


def rows_written(
    records: list[tuple], table: Table, seen: int, before: int, after: int
) -> tuple[pd.DataFrame, int] | None:
    """What `rows_since(seen)` reads after a write numbered its `records` `before` + 1 … `after`:
    the records themselves and `after`, when the reader had seen all there was before them and
    each took a number of its own (no key repeats among them: a repeat replaces the one before
    it); else None."""
    at = [table.columns.index(column) for column in table.key]
    distinct = len({tuple(record[i] for i in at) for record in records}) == len(records)
    if before != seen or after - before != len(records) or not distinct:
        return None
    return rows_frame(records, table), after


def _ns_or_none(times: pd.Series) -> list[int | None]:
    """Times as the store holds them: int ns since the epoch, None where missing."""
    ns = to_ns(times)
    values = ns.tolist()
    for i in np.flatnonzero(ns == NAT_NS).tolist():
        values[i] = None
    return values


def _mirrored_text(column: tuple) -> tuple | list:
    """A text column as the live mirror holds text: NaN where a value is missing, unless all are.

    (What a frame built from the rows infers, "str" or, with no value at all, None objects, once
    the mirror has made its text plain Python objects.) Each distinct text is one object: a
    week of alerts repeats a few service, rule and severity names thousands of times.
    """
    if all(v is None for v in column):
        return column
    return [np.nan if v is None else (sys.intern(v) if isinstance(v, str) else v) for v in column]


def _missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))
