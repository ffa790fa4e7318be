"""The online state store in Redis, for several service replicas: SqliteStateStore's interface and semantics.

Per table: a hash of rows by key (each row a JSON array in the table's column order, times as
integer ns), a sorted set `log` of keys scored by a write sequence number (the rowid replicas
catch up by: a replaced row gets a new number, as SQLite's delete-then-insert gives a new
rowid), and a sorted set `time` of keys scored by the retention time column. A write is one
Lua script, so no replica can read past a write that another has half done; a reader that has
seen number n has seen every row written before it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import parse_qs, urlparse

import pandas as pd

from features.online import Retention
from features.timeaxis import MINUTE_NS, to_ns
from serving.state import TABLES, Table, rows_frame, rows_written, table_records

KEY_SEPARATOR = "\x1f"
DEFAULT_PREFIX = "journeyrank"
# Sorted-set scores are doubles: ns since the epoch keep ~256 ns of precision there, so the
# exact times are read from the rows and the scores only narrow the search.
SCORE_SLACK_NS = 4096

# KEYS: seq, rows, log, time; ARGV: n, then n × (key, row json, time score or "")
_PUT = """
local n = tonumber(ARGV[1])
local last = redis.call('INCRBY', KEYS[1], n)
for i = 1, n do
  local key, row, t = ARGV[3 * i - 1], ARGV[3 * i], ARGV[3 * i + 1]
  redis.call('HSET', KEYS[2], key, row)
  redis.call('ZADD', KEYS[3], last - n + i, key)
  if t == '' then redis.call('ZREM', KEYS[4], key) else redis.call('ZADD', KEYS[4], t, key) end
end
return last
"""
# KEYS: rows, log, time; ARGV: pairs of (key, the write number it was read at)
_DELETE_UNCHANGED = """
local deleted = 0
for i = 1, #ARGV, 2 do
  local key, seen = ARGV[i], tonumber(ARGV[i + 1])
  if tonumber(redis.call('ZSCORE', KEYS[2], key)) == seen then
    redis.call('HDEL', KEYS[1], key)
    redis.call('ZREM', KEYS[2], key)
    redis.call('ZREM', KEYS[3], key)
    deleted = deleted + 1
  end
end
return deleted
"""

# KEYS: log, rows; ARGV: the number last seen. Returns number, row, number, row, ... in write order.
_ROWS_SINCE = """
local listed = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'WITHSCORES')
local out = {}
for i = 1, #listed, 2 do
  out[#out + 1] = listed[i + 1]
  out[#out + 1] = redis.call('HGET', KEYS[2], listed[i])
end
return out
"""


class RedisStateStore:
    """Upserts by each table's key; `rows_since` hands each replica what it has not seen yet."""

    def __init__(self, client, prefix: str = DEFAULT_PREFIX, retention: Retention | None = None):
        self.redis = client
        self.prefix = prefix
        self.retention = retention or Retention()
        self._put = client.register_script(_PUT)
        self._delete = client.register_script(_DELETE_UNCHANGED)
        self._since = client.register_script(_ROWS_SINCE)

    @classmethod
    def from_url(cls, url: str, retention: Retention | None = None) -> RedisStateStore:
        """redis://host:port/db (or rediss://, unix://); `?prefix=NAME` keeps several stores apart."""
        import redis

        query = parse_qs(urlparse(url).query)
        prefix = query.pop("prefix", [DEFAULT_PREFIX])[0]
        plain = url.split("?", 1)[0] + (
            "?" + "&".join(f"{k}={v[0]}" for k, v in query.items()) if query else ""
        )
        client = redis.Redis.from_url(plain, socket_timeout=30, health_check_interval=30)
        client.ping()  # fail at start-up, not on the first request
        return cls(client, prefix, retention)

    def _keys(self, name: str) -> tuple[str, str, str, str]:
        base = f"{self.prefix}:{name}"
        return f"{base}:seq", f"{base}:rows", f"{base}:log", f"{base}:time"

    # ------------------------------------------------------------------ writes

    def put(self, name: str, frame: pd.DataFrame) -> int:
        """Insert or replace rows (canonical dtypes in); returns how many."""
        if frame.empty:
            return 0
        table = TABLES[name]
        self._write(table, table_records(frame, table))
        return len(frame)

    def put_seen(
        self, name: str, frame: pd.DataFrame, seen: int
    ) -> tuple[int, tuple[pd.DataFrame, int] | None]:
        """SqliteStateStore.put_seen: the script numbers a write's rows last - n + 1 … last."""
        if frame.empty:
            return 0, None
        table = TABLES[name]
        records = table_records(frame, table)
        last = self._write(table, records)
        return len(records), rows_written(records, table, seen, last - len(records), last)

    def _write(self, table: Table, records: list[tuple]) -> int:
        """Write `records` in one script: the write number of the last."""
        at = {c: i for i, c in enumerate(table.columns)}
        kept = at[table.kept_by] if table.kept_by else None
        argv: list[object] = [len(records)]
        for record in records:
            key = KEY_SEPARATOR.join(_key_text(record[at[c]]) for c in table.key)
            score = "" if kept is None or record[kept] is None else str(int(record[kept]))
            argv += [key, json.dumps(list(record)), score]
        return int(self._put(keys=list(self._keys(table.name)), args=argv))

    def resolve(self, alert_ids: list[str], resolved_at: pd.Series) -> int:
        """Close alerts (resolved or acknowledged events): a later resolution, never a firing."""
        table = TABLES["alerts"]
        _, rows_key, _, _ = self._keys("alerts")
        found = self.redis.hmget(rows_key, list(alert_ids)) if alert_ids else []
        position = table.columns.index("resolved_at")
        changed = []
        for row, t in zip(found, to_ns(resolved_at), strict=True):
            if row is not None:
                values = json.loads(row)
                values[position] = int(t)
                changed.append(tuple(values))
        if changed:
            self._write(table, changed)
        return len(changed)

    def add_label_totals(self, totals: pd.DataFrame) -> None:
        n_key, positives_key = self._totals_keys()
        with self.redis.pipeline(transaction=True) as pipe:
            for name, service, n, positives in totals[
                ["alert_name", "service", "n", "positives"]
            ].itertuples(index=False, name=None):
                field = f"{name}{KEY_SEPARATOR}{service}"
                pipe.hincrbyfloat(n_key, field, float(n))
                pipe.hincrbyfloat(positives_key, field, float(positives))
            pipe.execute()

    def put_document(
        self, name: str, head: str, parts: Mapping[str, str | None] | None = None, *, replace=False
    ) -> None:
        """As SqliteStateStore.put_document: the head a string, the parts one hash, one MULTI."""
        parts = parts or {}
        head_key, parts_key = self._document_keys(name)
        gone = [key for key, body in parts.items() if body is None]
        kept = {key: body for key, body in parts.items() if body is not None}
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(head_key, head)
            if replace:
                pipe.delete(parts_key)
            if gone:
                pipe.hdel(parts_key, *gone)
            if kept:
                pipe.hset(parts_key, mapping=kept)
            pipe.execute()

    def document(self, name: str) -> tuple[str, dict[str, str]] | None:
        """As SqliteStateStore.document: both read in one MULTI."""
        head_key, parts_key = self._document_keys(name)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.get(head_key)
            pipe.hgetall(parts_key)
            head, parts = pipe.execute()
        if head is None:
            return None
        return head.decode(), {key.decode(): body.decode() for key, body in parts.items()}

    def _document_keys(self, name: str) -> tuple[str, str]:
        return f"{self.prefix}:documents:{name}", f"{self.prefix}:document_parts:{name}"

    def _totals_keys(self) -> tuple[str, str]:
        return f"{self.prefix}:label_totals:n", f"{self.prefix}:label_totals:positives"

    # ------------------------------------------------------------------ reads

    def rows_since(self, name: str, after: int) -> tuple[pd.DataFrame, int]:
        """Rows written after number `after`, in canonical dtypes, and the new high-water mark."""
        table = TABLES[name]
        _, rows_key, log_key, _ = self._keys(name)
        # keys and rows are read in one script: what a replica reads is one moment's state
        flat = self._since(keys=[log_key, rows_key], args=[after])
        listed = [(int(flat[i]), flat[i + 1]) for i in range(0, len(flat), 2)]
        if not listed:
            return rows_frame([], table), after
        return rows_frame([tuple(json.loads(row)) for _, row in listed], table), int(listed[-1][0])

    def last_rowids(self, names: tuple[str, ...]) -> dict[str, int]:
        """The highest write number of each table (0 when empty), in one round trip."""
        with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.zrevrange(self._keys(name)[2], 0, 0, withscores=True)
            found = pipe.execute()
        return {name: int(top[0][1]) if top else 0 for name, top in zip(names, found, strict=True)}

    def label_totals(self) -> pd.DataFrame:
        n_key, positives_key = self._totals_keys()
        n, positives = self.redis.hgetall(n_key), self.redis.hgetall(positives_key)
        fields = sorted(n)
        pairs = [f.decode().split(KEY_SEPARATOR, 1) for f in fields]
        return pd.DataFrame(
            {
                "alert_name": [p[0] for p in pairs],
                "service": [p[1] for p in pairs],
                "n": [float(n[f]) for f in fields],
                "positives": [float(positives.get(f, 0.0)) for f in fields],
            }
        )

    def latest(self, name: str, column: str) -> int | None:
        table = TABLES[name]
        _, rows_key, _, time_key = self._keys(name)
        position = table.columns.index(column)
        if column == table.kept_by:
            top = self.redis.zrevrange(time_key, 0, 0, withscores=True)
            if not top:
                return None
            floor = top[0][1] - SCORE_SLACK_NS
            keys = self.redis.zrevrangebyscore(time_key, "+inf", floor)
            rows = self.redis.hmget(rows_key, keys)
        else:
            rows = self.redis.hvals(rows_key)
        values = [json.loads(r)[position] for r in rows if r is not None]
        values = [v for v in values if v is not None]
        return max(values) if values else None

    def count(self, name: str) -> int:
        return int(self.redis.hlen(self._keys(name)[1]))

    def is_empty(self) -> bool:
        return all(self.count(name) == 0 for name in ("outcomes", "alerts"))

    # ------------------------------------------------------------------ housekeeping

    def prune(self, now_ns: int) -> None:
        """Forget what no feature can see any more (the retention in config), in event time."""
        keep = self.retention.minutes_by_table()
        for name, minutes in keep.items():
            self._prune_table(TABLES[name], now_ns - minutes * MINUTE_NS)

    def _prune_table(self, table: Table, cutoff_ns: int) -> None:
        _, rows_key, log_key, time_key = self._keys(table.name)
        candidates = self.redis.zrangebyscore(time_key, "-inf", cutoff_ns + SCORE_SLACK_NS)
        if not candidates:
            return
        position = table.columns.index(table.kept_by)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hmget(rows_key, candidates)
            pipe.zmscore(log_key, candidates)
            rows, numbers = pipe.execute()
        args: list[object] = []
        for key, row, number in zip(candidates, rows, numbers, strict=True):
            if row is not None and number is not None:
                t = json.loads(row)[position]
                if t is not None and t < cutoff_ns:  # exact, as SQLite's `<` on integers
                    args += [key, int(number)]
        if args:
            self._delete(keys=[rows_key, log_key, time_key], args=args)

    def integrity(self) -> str:
        return "ok" if self.redis.ping() else "no answer from Redis"


def _key_text(value) -> str:
    return "" if value is None else str(value)
