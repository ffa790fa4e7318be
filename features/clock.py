"""One rule for rows dated in the future: more than a tolerance ahead of the clock, a row is refused.

A row from the future is a broken clock or a forged request, never news: accepted, one such row
would become the service's "now" and every later answer would be computed as of that time. The
same rule holds offline (the loaders) and online (the service's POST routes), against the wall
clock of the machine doing the work; the tolerance absorbs ordinary skew between machines.
History and simulated data lie in the past, so they pass; data simulated ahead of the real date
needs a larger JOURNEYRANK_FUTURE_TOLERANCE_MIN.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.settings import env_name, load_settings

TOLERANCE_ENV = env_name("future_tolerance_min")


@dataclass(frozen=True)
class Clock:
    """The wall clock (or a test's), and how far ahead of it a row may be dated."""

    tolerance_min: float
    now_ns: Callable[[], int] = field(default=time.time_ns)

    @classmethod
    def from_settings(cls) -> Clock:
        return cls(load_settings().future_tolerance_min)

    def latest_allowed_ns(self) -> int:
        return self.now_ns() + int(self.tolerance_min * 60e9)

    def first_future(self, times: pd.Series) -> int | None:
        """The position of the first time later than the clock allows, or None."""
        values = pd.DatetimeIndex(times).as_unit("ns").asi8
        late = (values > self.latest_allowed_ns()) & ~pd.isna(times).to_numpy()
        return int(np.argmax(late)) if late.any() else None

    def expected(self) -> str:
        """What a time must be, in words, for messages."""
        now = pd.Timestamp(self.now_ns(), unit="ns", tz="UTC").floor("s")
        return (
            f"a time at most {self.tolerance_min:g} min ahead of the clock ({now}; "
            f"{TOLERANCE_ENV} sets the tolerance)"
        )
