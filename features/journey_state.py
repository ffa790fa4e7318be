"""Observed against expected journey outcomes, as prefix sums: any run of windows summed in O(1)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.baselines import Baselines
from features.outcome_grid import OutcomeGrid, build_outcome_grid
from features.stages import StageIndex
from features.timeaxis import hour_of_week

MEASURES = (
    "sessions",
    "completed",
    "expected_completed",
    "completion_var",
    "abandoned",
    "expected_abandoned",
    "errors",
    "error_sessions",
    "expected_errors",
    "latency_sum",
    "latency_sessions",
    "expected_latency_sum",
    "expected_sessions",
)
# (alert, stage) pairs to look up at once: a block's sums (pairs × measures × segments × 8 B) stay a
# few MB that memory reuses, where all pairs at once would page-fault through gigabytes.
PAIRS_PER_BLOCK = 1 << 15


@dataclass(frozen=True)
class JourneyState:
    """Per stage × segment, cumulative sums over windows of what happened and what was expected."""

    origin_ns: int
    step_ns: int
    segments: tuple[str, ...]
    prefix: np.ndarray  # measure × stage × segment × (windows + 1), prefix[..., 0] = 0
    windows_with_data: np.ndarray  # stage × (windows + 1): prefix count of windows with sessions

    @property
    def n_windows(self) -> int:
        return self.prefix.shape[-1] - 1

    @property
    def end_ns(self) -> int:
        return self.origin_ns + self.n_windows * self.step_ns

    def window_index(self, ns: np.ndarray, *, round_up: bool = False) -> np.ndarray:
        """Grid index of each time, clipped to the grid; round_up gives the first window starting at or after it."""
        offset = np.asarray(ns, dtype=np.int64) - self.origin_ns
        k = (
            -np.floor_divide(-offset, self.step_ns)
            if round_up
            else np.floor_divide(offset, self.step_ns)
        )
        return np.clip(k, 0, self.n_windows)

    def sums(self, stage: np.ndarray, k_lo: np.ndarray, k_hi: np.ndarray) -> dict[str, np.ndarray]:
        """Each measure summed over windows [k_lo, k_hi) of the stage: arrays of pairs × segments."""
        rows = self._rows()
        if rows is None:
            diff = (
                self.prefix[:, stage, :, k_hi] - self.prefix[:, stage, :, k_lo]
            )  # pairs × measures × segments
        else:  # one contiguous row per look-up instead of measures × segments scattered reads
            width = self.prefix.shape[-1]
            stage = np.asarray(stage, dtype=np.int64) * width
            diff = rows.take(stage + k_hi, axis=0)
            diff -= rows.take(stage + k_lo, axis=0)
            diff = diff.reshape(len(diff), *self.prefix.shape[::2])
        return {name: diff[:, i, :] for i, name in enumerate(MEASURES)}

    def _rows(self) -> np.ndarray | None:
        """The prefix sums as (stage × window) rows of measure × segment, when stored that way (no copy)."""
        stored = self.prefix.transpose(1, 3, 0, 2)
        if not stored.flags.c_contiguous:
            return None
        return stored.reshape(stored.shape[0] * stored.shape[1], -1)

    def data_windows(self, stage: np.ndarray, k_lo: np.ndarray, k_hi: np.ndarray) -> np.ndarray:
        return self.windows_with_data[stage, k_hi] - self.windows_with_data[stage, k_lo]


def sum_over_segments(values: np.ndarray) -> np.ndarray:
    """`values.sum(axis=1)` of a pairs × segments array, bit for bit, at vector speed.

    numpy adds a short axis (under 8 values) left to right, one row at a time; column-wise vector
    additions in the same order give the same floats without the per-row loop.
    """
    if not 0 < values.shape[1] < 8:
        return values.sum(axis=1)
    total = values[:, 0].copy()
    for column in range(1, values.shape[1]):
        total += values[:, column]
    return total


def build_journey_state(
    outcomes: pd.DataFrame,
    stages: StageIndex,
    baselines: Baselines,
    step_ns: int,
    origin_ns: int | None = None,
    end_ns: int | None = None,
) -> JourneyState:
    grid = build_outcome_grid(outcomes, stages, step_ns, baselines.segments, origin_ns, end_ns)
    return journey_state_from_grid(grid, baselines.aligned(stages, grid.segments))


def journey_state_from_grid(grid: OutcomeGrid, baselines: Baselines) -> JourneyState:
    """Expectations from the baselines of each window's hour of week; unknown baselines expect what happened."""
    how = hour_of_week(grid.window_starts_ns())
    n = grid.sessions
    p_complete = baselines.completion[:, :, how]
    p_abandon = baselines.abandonment[:, :, how]
    p_error = baselines.error_rate[:, :, how]
    latency = baselines.latency_p95_ms[:, how][:, None, :]
    with np.errstate(invalid="ignore"):
        measures = {
            "sessions": n,
            "completed": grid.completed,
            "expected_completed": np.where(np.isfinite(p_complete), n * p_complete, grid.completed),
            "completion_var": np.nan_to_num(
                n * p_complete * (1 - p_complete) * baselines.dispersion[:, :, None]
            ),
            "abandoned": grid.abandoned,
            "expected_abandoned": np.where(np.isfinite(p_abandon), n * p_abandon, grid.abandoned),
            "errors": grid.errors,
            "error_sessions": grid.error_sessions,
            "expected_errors": np.where(
                np.isfinite(p_error), grid.error_sessions * p_error, grid.errors
            ),
            "latency_sum": grid.latency_sum,
            "latency_sessions": grid.latency_sessions,
            "expected_latency_sum": np.where(
                np.isfinite(latency), grid.latency_sessions * latency, grid.latency_sum
            ),
            "expected_sessions": np.nan_to_num(baselines.sessions[:, :, how]),
        }
    # Stored stage × window × measure × segment, so a look-up reads one contiguous row (see `sums`);
    # `prefix` is that storage in its documented axis order: the same values, other strides.
    n_stages, n_segments, n_windows = n.shape
    stored = np.zeros((n_stages, n_windows + 1, len(MEASURES), n_segments))
    for i, name in enumerate(MEASURES):
        values = np.broadcast_to(measures[name], n.shape)  # stage × segment × window
        np.cumsum(values.transpose(0, 2, 1), axis=1, out=stored[:, 1:, i, :])
    prefix = stored.transpose(2, 0, 3, 1)
    has_data = (n.sum(axis=1) > 0).astype(np.int64)
    windows = np.concatenate(
        [np.zeros((has_data.shape[0], 1), np.int64), np.cumsum(has_data, axis=1)], axis=1
    )
    return JourneyState(grid.origin_ns, grid.step_ns, grid.segments, prefix, windows)
