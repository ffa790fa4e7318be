"""Which online state store a service opens: JOURNEYRANK_STATE_URL decides (SQLite in home when unset)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import pandas as pd

from features.online import Retention
from features.settings import Settings

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
SQLITE_SCHEME = "sqlite:///"


class StateStore(Protocol):
    """What the engine, the live mirror and the warm start ask of a store (SQLite or Redis)."""

    retention: Retention

    def put(self, name: str, frame: pd.DataFrame) -> int: ...
    def put_seen(
        self, name: str, frame: pd.DataFrame, seen: int
    ) -> tuple[int, tuple[pd.DataFrame, int] | None]: ...
    def resolve(self, alert_ids: list[str], resolved_at: pd.Series) -> int: ...
    def add_label_totals(self, totals: pd.DataFrame) -> None: ...
    def put_document(
        self, name: str, head: str, parts: Mapping[str, str | None] | None = None, *, replace=False
    ) -> None: ...
    def document(self, name: str) -> tuple[str, dict[str, str]] | None: ...
    def rows_since(self, name: str, after: int) -> tuple[pd.DataFrame, int]: ...
    def last_rowids(self, names: tuple[str, ...]) -> dict[str, int]: ...
    def label_totals(self) -> pd.DataFrame: ...
    def latest(self, name: str, column: str) -> int | None: ...
    def count(self, name: str) -> int: ...
    def is_empty(self) -> bool: ...
    def prune(self, now_ns: int) -> None: ...
    def integrity(self) -> str: ...


def open_state_store(settings: Settings, retention: Retention | None = None) -> StateStore:
    """redis://… (several replicas share it), sqlite:///path, or unset: SQLite in JOURNEYRANK_HOME."""
    from serving.state import SqliteStateStore

    url = settings.state_url
    if not url:
        return SqliteStateStore.in_home(settings.home, retention)
    if url.startswith(REDIS_SCHEMES):
        from serving.redis_state import RedisStateStore

        return RedisStateStore.from_url(url, retention)
    if url.startswith(SQLITE_SCHEME):
        return SqliteStateStore(Path(url[len(SQLITE_SCHEME) - 1 :]), retention)
    raise ValueError(
        f"JOURNEYRANK_STATE_URL must start with redis://, rediss://, unix:// or sqlite:///, got {url!r}"
    )
