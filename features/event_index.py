"""Point-in-time look-ups over keyed event times: counts in a window, the last event before, sums so far.

Events are sorted by (key, time) once; every query is a binary search, so a million alerts
ask a million questions in well under a second. All comparisons are strict where "before"
is meant: an event at exactly the query time is not in its past.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

import numpy as np

NO_KEY = -1


class EventLookups(Protocol):
    """What features ask of keyed event times: EventIndex (built once) or KeyedTimeline (updated in place)."""

    def __len__(self) -> int: ...

    def count_between(self, keys: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray: ...

    def last_before(self, keys: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def sum_before(
        self, name: str, keys: np.ndarray, times: np.ndarray, *, inclusive: bool = False
    ) -> np.ndarray: ...


@dataclass(frozen=True)
class EventIndex:
    """Times (int64 ns) of events under integer keys, with optional values to accumulate."""

    keys: np.ndarray
    times: np.ndarray
    order_times: np.ndarray  # all event times, sorted: the common rank scale for keys and queries
    composite: np.ndarray  # key × (n + 1) + rank, sorted
    position: np.ndarray  # original row of each sorted event
    cumulative: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def build(
        cls, keys: np.ndarray, times: np.ndarray, values: dict[str, np.ndarray] | None = None
    ) -> EventIndex:
        keys = np.asarray(keys, dtype=np.int64)
        times = np.asarray(times, dtype=np.int64)
        valid = keys != NO_KEY
        rows = np.flatnonzero(valid)
        order_times = np.sort(times[rows])
        rank = _search(order_times, times[rows], "left")
        composite = keys[rows] * (len(rows) + 1) + rank
        order = np.argsort(composite, kind="stable")
        cumulative = {
            name: np.concatenate([[0.0], np.cumsum(np.asarray(v, dtype=np.float64)[rows][order])])
            for name, v in (values or {}).items()
        }
        return cls(
            keys[rows][order],
            times[rows][order],
            order_times,
            composite[order],
            rows[order],
            cumulative,
        )

    def __len__(self) -> int:
        return len(self.keys)

    def _slot(self, keys: np.ndarray, times: np.ndarray, side: str = "left") -> np.ndarray:
        """How many events of the same key lie before each query (strictly, or at-or-before for 'right')."""
        rank = _search(self.order_times, times, side)
        return _search(self.composite, np.asarray(keys) * (len(self.keys) + 1) + rank, "left")

    def _first(self, keys: np.ndarray) -> np.ndarray:
        """Where each query key's events start in the sorted order: a search for key × (n + 1)."""
        starts = self._key_starts
        if starts is None:
            return _search(self.composite, keys * (len(self.keys) + 1), "left")
        return starts[np.clip(keys, 0, len(starts) - 1)]

    @cached_property
    def _key_starts(self) -> np.ndarray | None:
        """That search done once for every key 0 … max + 1 (beyond: as max + 1; below 0: as 0), if keys are small."""
        if len(self.keys) == 0 or self.keys[0] < 0 or self.keys[-1] > 4 * len(self.keys) + 1024:
            return None
        return np.searchsorted(
            self.composite, np.arange(self.keys[-1] + 2) * (len(self.keys) + 1), side="left"
        )

    def count_between(self, keys: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Events of each query's key with start <= time < end."""
        keys = np.asarray(keys, dtype=np.int64)
        counts = self._slot(keys, end) - self._slot(keys, start)
        return np.where(keys == NO_KEY, 0, counts)

    def last_before(self, keys: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(time, original row) of each key's latest event strictly before the query; (-1, -1) if none."""
        keys = np.asarray(keys, dtype=np.int64)
        at = self._slot(keys, times) - 1
        safe = np.clip(at, 0, max(len(self.keys) - 1, 0))
        found = (at >= 0) & (keys != NO_KEY) & (len(self.keys) > 0)
        found &= self.keys[safe] == keys if len(self.keys) else False
        return (
            np.where(found, self.times[safe] if len(self.keys) else -1, -1),
            np.where(found, self.position[safe] if len(self.keys) else -1, -1),
        )

    def sum_before(
        self, name: str, keys: np.ndarray, times: np.ndarray, *, inclusive: bool = False
    ) -> np.ndarray:
        """Σ value over each key's events before the query time (at-or-before when inclusive)."""
        keys = np.asarray(keys, dtype=np.int64)
        first = self._first(keys)
        upto = self._slot(keys, times, side="right" if inclusive else "left")
        total = self.cumulative[name][upto] - self.cumulative[name][first]
        return np.where(keys == NO_KEY, 0.0, total)


SORTED_SEARCH_MIN = 4096  # needles from which sorting them first pays off


def _search(haystack: np.ndarray, needles: np.ndarray, side: str) -> np.ndarray:
    """np.searchsorted, with many needles searched in sorted order (the same answers, far fewer cache misses).

    Binary searches for needles in random order jump all over a large haystack; in sorted order
    each starts near the last one, which beats the cost of sorting them.
    """
    needles = np.asarray(needles)
    if len(needles) < SORTED_SEARCH_MIN or len(haystack) < SORTED_SEARCH_MIN or _is_sorted(needles):
        return np.searchsorted(haystack, needles, side=side)
    order = np.argsort(needles)
    found = np.empty(len(needles), dtype=np.intp)
    found[order] = np.searchsorted(haystack, needles[order], side=side)
    return found


def _is_sorted(values: np.ndarray) -> bool:
    return bool(np.all(values[1:] >= values[:-1]))
