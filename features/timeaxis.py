"""Time in nanoseconds since the epoch, and the calendar keys baselines are indexed by."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

MINUTE_NS = 60 * 10**9
HOUR_NS = 60 * MINUTE_NS
HOURS_PER_WEEK = 168
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday; hour_of_week counts from Monday 00:00 UTC


def to_ns(times: pd.Series | pd.DatetimeIndex | np.ndarray) -> np.ndarray:
    """UTC nanoseconds as int64 (NaT becomes the int64 minimum, as pandas stores it).

    Times in nanoseconds already (the contract's UTC timestamps, or naive ones read as UTC) hold
    exactly these integers: they are copied out as they are, not converted.
    """
    if isinstance(times, (pd.Series, pd.DatetimeIndex)) and times.dtype in _NANOSECONDS:
        return times.array.asi8.copy()
    values = pd.DatetimeIndex(times)
    if values.tz is not None:
        values = values.tz_convert("UTC").tz_localize(None)
    return values.as_unit("ns").asi8


_NANOSECONDS = (pd.DatetimeTZDtype("ns", "UTC"), np.dtype("datetime64[ns]"))
NAT_NS = np.iinfo(np.int64).min  # how pandas stores a missing time


def instants_ns(times: Sequence[datetime | None]) -> np.ndarray:
    """Aware datetimes (a request's) as UTC nanoseconds, None as NAT_NS: exact, as datetimes hold
    microseconds. The one conversion of Python times on the way in; from there on a time is ns."""
    return np.array(
        [NAT_NS if t is None else (t - _EPOCH) // _MICROSECOND * 1000 for t in times], np.int64
    )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def from_ns(ns: np.ndarray) -> pd.DatetimeIndex:
    """UTC timestamps of int64 ns (NAT_NS: NaT), read as they are (what to_datetime(ns, utc=True) gives)."""
    return pd.DatetimeIndex(np.asarray(ns, dtype=np.int64).view("M8[ns]")).tz_localize("UTC")


def hour_of_week(ns: np.ndarray) -> np.ndarray:
    """0..167, Monday 00:00 UTC = 0."""
    return ((np.asarray(ns) // HOUR_NS + _EPOCH_WEEKDAY * 24) % HOURS_PER_WEEK).astype(np.int64)


def floor_to_grid(ns: np.ndarray, origin_ns: int, step_ns: int) -> np.ndarray:
    """Index of the grid cell holding each time (cells [origin + k·step, origin + (k+1)·step))."""
    return np.floor_divide(np.asarray(ns, dtype=np.int64) - origin_ns, step_ns)
