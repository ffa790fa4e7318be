"""Files a job hands on, written atomically, and the times its options name."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from features.errors import ContractError


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """`write(tmp)` to a file beside `path`, then rename it: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not mkstemp: its 0600 mode would survive the rename; a plain new file follows the umask.
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """A table a job hands on: CSV when the name ends in .csv, else Parquet; written atomically."""
    if path.suffix == ".csv":
        write_atomically(path, lambda tmp: frame.to_csv(tmp, index=False))
    else:
        write_atomically(path, lambda tmp: frame.to_parquet(tmp, index=False))


def parse_since(since: pd.Timestamp | str | None) -> pd.Timestamp | None:
    """An ISO 8601 time with a time zone (naive times are refused, not guessed), in UTC."""
    if since is None:
        return None
    try:
        stamp = pd.Timestamp(since)
    except ValueError as err:
        raise ContractError(
            "--since", "option", "an ISO 8601 time stamp with a time zone", got=str(since)
        ) from err
    if stamp.tzinfo is None:
        raise ContractError("--since", "option", "a time zone (…Z or …+01:00)", got=str(since))
    return stamp.tz_convert("UTC")
