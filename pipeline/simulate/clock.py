"""The time grid of a simulation: windows, local hours and seasonality factors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from .config import SimulationConfig

MINUTE_NS = 60 * 10**9


@dataclass(frozen=True)
class Clock:
    start_ns: int
    window_min: int
    n_windows: int

    @classmethod
    def for_config(cls, config: SimulationConfig) -> Clock:
        window_min = config.profile.window_min
        start_ns = int(config.start.timestamp()) * 10**9
        return cls(start_ns, window_min, config.days * 24 * 60 // window_min)

    @property
    def window_ns(self) -> int:
        return self.window_min * MINUTE_NS

    @property
    def end_ns(self) -> int:
        return self.start_ns + self.n_windows * self.window_ns

    def start_weekday(self) -> int:
        """Monday 0 ... Sunday 6, in UTC."""
        return datetime.fromtimestamp(self.start_ns // 10**9, tz=UTC).weekday()

    def window_starts_ns(self) -> np.ndarray:
        return self.start_ns + np.arange(self.n_windows, dtype=np.int64) * self.window_ns

    def minutes(self) -> np.ndarray:
        """Minutes since the start, at the middle of each window."""
        return (np.arange(self.n_windows) + 0.5) * self.window_min

    def window_of(self, t_ns: np.ndarray) -> np.ndarray:
        return (np.asarray(t_ns) - self.start_ns) // self.window_ns


def local_hour(minutes: np.ndarray, utc_offset: float) -> np.ndarray:
    """Fractional hour of the local day for minutes since a midnight-UTC start."""
    return ((minutes / 60.0 + utc_offset) % 24.0 + 24.0) % 24.0


def local_weekday(minutes: np.ndarray, utc_offset: float, start_weekday: int) -> np.ndarray:
    return ((np.floor((minutes / 60.0 + utc_offset) / 24.0) + start_weekday) % 7).astype(int)
