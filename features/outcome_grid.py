"""Journey outcomes on a dense time grid: stage × segment × window arrays that window sums read from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.stages import StageIndex
from features.timeaxis import floor_to_grid, to_ns

COUNT_MEASURES = ("sessions", "completed", "abandoned", "errors")


@dataclass(frozen=True)
class OutcomeGrid:
    """Counts per stage × segment × window, windows [origin + k·step, origin + (k+1)·step)."""

    origin_ns: int
    step_ns: int
    segments: tuple[str, ...]
    sessions: np.ndarray
    completed: np.ndarray
    abandoned: np.ndarray
    errors: np.ndarray  # where reported
    error_sessions: np.ndarray  # sessions of the rows that reported errors
    latency_sum: np.ndarray  # Σ sessions × p95 latency, where latency was reported
    latency_sessions: np.ndarray  # Σ sessions behind latency_sum

    @property
    def n_windows(self) -> int:
        return self.sessions.shape[2]

    def window_starts_ns(self) -> np.ndarray:
        return self.origin_ns + np.arange(self.n_windows, dtype=np.int64) * self.step_ns


def build_outcome_grid(
    outcomes: pd.DataFrame,
    stages: StageIndex,
    step_ns: int,
    segments: tuple[str, ...] = (),
    origin_ns: int | None = None,
    end_ns: int | None = None,
) -> OutcomeGrid:
    """Sum outcome rows (over regions) into the grid; stages the map lacks are left out."""
    stage = stages.code_of(outcomes["journey"], outcomes["stage"])
    start = to_ns(outcomes["window_start"])
    keep = stage >= 0
    segments = tuple(segments) + tuple(
        sorted(set(outcomes["segment"].unique().astype(str)) - set(segments))
    )
    first = int(start.min()) if len(start) else 0
    origin = first if origin_ns is None else origin_ns
    last = int(start.max()) + step_ns if len(start) else origin
    n_windows = max(0, int(np.ceil(((end_ns or last) - origin) / step_ns)))
    k = floor_to_grid(start, origin, step_ns)
    keep &= (k >= 0) & (k < n_windows)
    g = pd.Index(segments).get_indexer(outcomes["segment"].astype(str))
    shape = (stages.n_stages, len(segments), n_windows)
    cell = (
        np.ravel_multi_index((stage[keep], g[keep], k[keep]), shape)
        if n_windows
        else np.zeros(0, np.int64)
    )

    def summed(values: np.ndarray) -> np.ndarray:
        return np.bincount(cell, weights=values[keep], minlength=int(np.prod(shape))).reshape(shape)

    sessions = outcomes["sessions"].to_numpy(dtype=np.float64)
    latency = outcomes["latency_p95_ms"].to_numpy(dtype=np.float64, na_value=np.nan)
    reported = np.isfinite(latency)
    errors = outcomes["errors"].to_numpy(dtype=np.float64, na_value=np.nan)
    counted = np.isfinite(errors)  # an unreported error count is unknown, not zero
    return OutcomeGrid(
        origin,
        step_ns,
        segments,
        sessions=summed(sessions),
        completed=summed(outcomes["completed"].to_numpy(dtype=np.float64)),
        abandoned=summed(outcomes["abandoned"].to_numpy(dtype=np.float64)),
        errors=summed(np.where(counted, errors, 0.0)),
        error_sessions=summed(np.where(counted, sessions, 0.0)),
        latency_sum=summed(np.where(reported, latency * sessions, 0.0)),
        latency_sessions=summed(np.where(reported, sessions, 0.0)),
    )
