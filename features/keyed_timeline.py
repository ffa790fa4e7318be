"""Keyed event times that grow and shrink as live alerts come and are replaced: EventIndex's answers, updated in place.

EventIndex (features/event_index.py) is built once over a whole history; a KeyedTimeline takes
batches of events (and removals) one after another. Both answer the look-ups of EventLookups.
"""

from __future__ import annotations

import numpy as np


class KeyedTimeline:
    """Event times (int64 ns) under small integer keys, in one array sorted by key, then time.

    Inserting or removing a batch of events is one pass over the array (np.insert, np.delete)
    instead of a sort; a look-up is a binary search within its key's run, all queries at once.
    The answers are EventIndex's for the same events; a flag (0/1 per event) is kept as a second
    timeline of the flagged events, so its sums are counts, exact in any order.
    """

    def __init__(self, flags: tuple[str, ...] = ()) -> None:
        self.times = np.zeros(0, np.int64)
        self.offsets = np.zeros(1, np.int64)  # key k's events: times[offsets[k] : offsets[k + 1]]
        self._flagged = {name: KeyedTimeline() for name in flags}

    def __len__(self) -> int:
        return len(self.times)

    def insert(self, keys: np.ndarray, times: np.ndarray, **flags: np.ndarray) -> None:
        self._flags_too("insert", keys, times, flags)
        keys, times = _by_key_then_time(keys, times)
        if not len(keys):
            return
        n_keys = max(len(self.offsets) - 1, int(keys[-1]) + 1)
        if n_keys >= len(self.offsets):
            extra = np.full(n_keys + 1 - len(self.offsets), self.offsets[-1])
            self.offsets = np.concatenate([self.offsets, extra])
        lo, hi = self._runs(keys)
        # live alerts mostly come after everything their key holds: those go at the run's end
        latest = self.times[np.maximum(hi - 1, 0)] if len(self.times) else hi
        at = hi.copy()
        inside = (hi > lo) & (latest > times)
        if inside.any():
            at[inside] = _search_runs(self.times, lo[inside], hi[inside], times[inside], right=True)
        self.times = np.insert(self.times, at, times)
        self.offsets = self.offsets + _run_sizes(keys, n_keys)

    def remove(self, keys: np.ndarray, times: np.ndarray, **flags: np.ndarray) -> None:
        self._flags_too("remove", keys, times, flags)
        keys, times = _by_key_then_time(keys, times)
        if not len(keys):
            return
        lo, hi = self._runs(keys)
        at = _search_runs(self.times, lo, hi, times) + _rank_among_equals(keys, times)
        if np.any(at >= hi) or np.any(self.times[np.minimum(at, len(self.times) - 1)] != times):
            raise ValueError("removing events the timeline does not hold")
        self.times = np.delete(self.times, at)
        self.offsets = self.offsets - _run_sizes(keys, len(self.offsets) - 1)

    def count_between(self, keys: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Events of each query's key with start <= time < end."""
        keys = np.asarray(keys, dtype=np.int64)
        lo, hi = self._runs(keys)
        both = _search_runs(
            self.times, np.concatenate([lo, lo]), np.concatenate([hi, hi]),
            np.concatenate([np.asarray(end, np.int64), np.asarray(start, np.int64)]),
        )  # fmt: skip
        return both[: len(keys)] - both[len(keys) :]

    def count_before(
        self, keys: np.ndarray, times: np.ndarray, *, inclusive: bool = False
    ) -> np.ndarray:
        lo, hi = self._runs(np.asarray(keys, dtype=np.int64))
        return _search_runs(self.times, lo, hi, np.asarray(times, np.int64), right=inclusive) - lo

    def last_before(self, keys: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(time, place in this timeline) of each key's latest event strictly before the query; (-1, -1) if none."""
        lo, hi = self._runs(np.asarray(keys, dtype=np.int64))
        at = _search_runs(self.times, lo, hi, np.asarray(times, np.int64)) - 1
        found = at >= lo
        if not len(self.times):
            return np.full(len(at), -1, np.int64), np.full(len(at), -1, np.int64)
        return np.where(found, self.times[np.maximum(at, 0)], -1), np.where(found, at, -1)

    def sum_before(
        self, name: str, keys: np.ndarray, times: np.ndarray, *, inclusive: bool = False
    ) -> np.ndarray:
        """Σ flag over each key's events before the query time (at-or-before when inclusive)."""
        flagged = self._flagged[name]
        return flagged.count_before(keys, times, inclusive=inclusive).astype(np.float64)

    def _runs(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each query key's run [lo, hi) in `times`; empty for keys without events (NO_KEY included)."""
        n_keys = len(self.offsets) - 1
        known = (keys >= 0) & (keys < n_keys)
        safe = np.where(known, keys, 0)
        return (
            np.where(known, self.offsets[safe], 0),
            np.where(known, self.offsets[np.minimum(safe + 1, n_keys)], 0),
        )

    def _flags_too(self, how: str, keys, times, flags: dict[str, np.ndarray]) -> None:
        if set(flags) != set(self._flagged):
            raise ValueError(f"events need the flags {sorted(self._flagged)}, got {sorted(flags)}")
        for name, flag in flags.items():
            flag = np.asarray(flag, dtype=bool)
            getattr(self._flagged[name], how)(np.asarray(keys)[flag], np.asarray(times)[flag])


def _by_key_then_time(keys, times) -> tuple[np.ndarray, np.ndarray]:
    keys, times = np.asarray(keys, dtype=np.int64), np.asarray(times, dtype=np.int64)
    order = np.lexsort((times, keys))
    return keys[order], times[order]


def _run_sizes(keys: np.ndarray, n_keys: int) -> np.ndarray:
    """How many events each key's run gains, as the shift of every run boundary (0 first)."""
    return np.concatenate([[0], np.cumsum(np.bincount(keys, minlength=n_keys))])


def _rank_among_equals(keys: np.ndarray, times: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... along each run of equal (key, time) in sorted events: copies removed side by side."""
    same = np.concatenate([[False], (keys[1:] == keys[:-1]) & (times[1:] == times[:-1])])
    place = np.arange(len(keys))
    return place - np.maximum.accumulate(np.where(same, 0, place))


def _search_runs(
    values: np.ndarray, lo: np.ndarray, hi: np.ndarray, needles: np.ndarray, right: bool = False
) -> np.ndarray:
    """For each query, where `needle` would go within values[lo:hi] (sorted): np.searchsorted, per run.

    All queries in one binary search, a step for every halving of the longest run; when every
    query has the same run (one key), numpy's own search does it.
    """
    side = "right" if right else "left"
    if len(lo) and lo.min() == lo.max() and hi.min() == hi.max():
        start, stop = int(lo[0]), int(hi[0])
        return start + np.searchsorted(values[start:stop], needles, side)
    lo, hi = lo.astype(np.int64, copy=True), hi.astype(np.int64, copy=True)
    open_ = lo < hi
    while open_.any():
        mid = (lo + hi) >> 1
        probe = values[np.where(open_, mid, 0)]
        after = (probe <= needles) if right else (probe < needles)
        lo = np.where(open_ & after, mid + 1, lo)
        hi = np.where(open_ & ~after, mid, hi)
        open_ = lo < hi
    return lo
