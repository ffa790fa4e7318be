"""Time in nanoseconds since the epoch, and the calendar keys baselines are indexed by."""

from __future__ import annotations

import numpy as np
import pandas as pd

MINUTE_NS = 60 * 10**9
HOUR_NS = 60 * MINUTE_NS
HOURS_PER_WEEK = 168
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday; hour_of_week counts from Monday 00:00 UTC


def to_ns(times: pd.Series | pd.DatetimeIndex | np.ndarray) -> np.ndarray:
    """UTC nanoseconds as int64 (NaT becomes the int64 minimum, as pandas stores it)."""
    values = pd.DatetimeIndex(times)
    if values.tz is not None:
        values = values.tz_convert("UTC").tz_localize(None)
    return values.as_unit("ns").asi8


def from_ns(ns: np.ndarray) -> pd.DatetimeIndex:
    return pd.to_datetime(np.asarray(ns, dtype=np.int64), utc=True)


def hour_of_week(ns: np.ndarray) -> np.ndarray:
    """0..167, Monday 00:00 UTC = 0."""
    return ((np.asarray(ns) // HOUR_NS + _EPOCH_WEEKDAY * 24) % HOURS_PER_WEEK).astype(np.int64)


def floor_to_grid(ns: np.ndarray, origin_ns: int, step_ns: int) -> np.ndarray:
    """Index of the grid cell holding each time (cells [origin + k·step, origin + (k+1)·step))."""
    return np.floor_divide(np.asarray(ns, dtype=np.int64) - origin_ns, step_ns)
