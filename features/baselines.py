"""Robust per stage × segment × hour-of-week baselines: what each stage normally does, incidents left out."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.config import BaselineConfig
from features.outcome_grid import OutcomeGrid, build_outcome_grid
from features.stages import StageIndex
from features.timeaxis import HOURS_PER_WEEK, hour_of_week

MAD_TO_SD = 1.4826


@dataclass(frozen=True)
class Baselines:
    """Normal completion, abandonment and error rates, traffic and latency, fitted on a past period.

    Arrays are stage × segment × hour-of-week (latency: stage × hour-of-week) in the order of
    `stage_keys` and `segments`; `dispersion` (stage × segment) is the extra-binomial variance
    factor that significance tests use. They travel inside the ranker: nothing is refitted live.
    """

    stage_keys: tuple[tuple[str, str], ...]
    segments: tuple[str, ...]
    completion: np.ndarray
    abandonment: np.ndarray
    error_rate: np.ndarray
    sessions: np.ndarray
    latency_p95_ms: np.ndarray
    dispersion: np.ndarray
    trimmed_share: float

    def aligned(self, stages: StageIndex, segments: tuple[str, ...]) -> Baselines:
        """The same baselines in another stage and segment order; unseen segments get the stage's mean."""
        known = {key: i for i, key in enumerate(self.stage_keys)}
        rows = [
            known.get(key, -1)
            for key in zip(stages.table["journey"], stages.table["stage"], strict=True)
        ]
        cols = [self.segments.index(s) if s in self.segments else -1 for s in segments]

        def pick(values: np.ndarray) -> np.ndarray:
            padded = np.concatenate([values, np.full((1, *values.shape[1:]), np.nan)], axis=0)
            by_stage = padded[rows]
            if values.ndim == 2 and values is self.latency_p95_ms:
                return by_stage
            mean = np.nanmean(by_stage, axis=1, keepdims=True) if by_stage.shape[1] else by_stage
            with_mean = np.concatenate([by_stage, mean], axis=1)
            return with_mean[:, cols]

        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore", RuntimeWarning
            )  # mean of a stage never seen: NaN is right
            return Baselines(
                tuple(zip(stages.table["journey"], stages.table["stage"], strict=True)),
                tuple(segments),
                pick(self.completion),
                pick(self.abandonment),
                pick(self.error_rate),
                pick(self.sessions),
                pick(self.latency_p95_ms),
                pick(self.dispersion),
                self.trimmed_share,
            )

    def to_frame(self) -> pd.DataFrame:
        """Long form (one row per stage × segment × hour of week), as the ranker stores it."""
        s, g, h = np.meshgrid(
            np.arange(len(self.stage_keys)),
            np.arange(len(self.segments)),
            np.arange(HOURS_PER_WEEK),
            indexing="ij",
        )
        s, g, h = s.ravel(), g.ravel(), h.ravel()
        return pd.DataFrame(
            {
                "journey": [self.stage_keys[i][0] for i in s],
                "stage": [self.stage_keys[i][1] for i in s],
                "segment": np.asarray(self.segments, dtype=object)[g] if self.segments else [],
                "hour_of_week": h,
                "completion_rate": self.completion[s, g, h],
                "abandon_rate": self.abandonment[s, g, h],
                "error_rate": self.error_rate[s, g, h],
                "sessions_per_window": self.sessions[s, g, h],
                "latency_p95_ms": self.latency_p95_ms[s, h],
                "dispersion": self.dispersion[s, g],
            }
        ).assign(trimmed_share=self.trimmed_share)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Baselines:
        keys = tuple(dict.fromkeys(zip(frame["journey"], frame["stage"], strict=True)))
        segments = tuple(dict.fromkeys(frame["segment"]))
        shape = (len(keys), len(segments), HOURS_PER_WEEK)

        def grid(column: str) -> np.ndarray:
            return frame[column].to_numpy(dtype=np.float64).reshape(shape)

        return cls(
            keys,
            segments,
            grid("completion_rate"),
            grid("abandon_rate"),
            grid("error_rate"),
            grid("sessions_per_window"),
            grid("latency_p95_ms")[:, 0, :],
            grid("dispersion")[:, :, 0],
            float(frame["trimmed_share"].iloc[0]) if len(frame) else 0.0,
        )


def fit_baselines(
    outcomes: pd.DataFrame, stages: StageIndex, step_ns: int, config: BaselineConfig | None = None
) -> Baselines:
    """Fit on the given period: trim incident windows per stage × segment × hour of day, then pool."""
    config = config or BaselineConfig()
    grid = build_outcome_grid(outcomes, stages, step_ns)
    how = hour_of_week(grid.window_starts_ns())
    kept = _typical_windows(grid, how % 24, config.trim_z)
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", RuntimeWarning
        )  # empty groups give NaN, which is the answer
        completion = _pooled_rate(grid.completed, grid.sessions, kept, how, config.shrink_sessions)
        abandonment = _pooled_rate(grid.abandoned, grid.sessions, kept, how, config.shrink_sessions)
        error_rate = _pooled_rate(
            grid.errors, grid.error_sessions, kept, how, config.shrink_sessions
        )
        sessions = _median_by_hour(grid.sessions, how)
        latency = _median_by_hour(
            (grid.latency_sum.sum(axis=1) / grid.latency_sessions.sum(axis=1))[:, None, :], how
        )[:, 0, :]
        dispersion = _dispersion(grid, kept, completion[:, :, how])
    observed = grid.sessions > 0
    trimmed = 1.0 - kept[observed].mean() if observed.any() else 0.0
    keys = tuple(zip(stages.table["journey"], stages.table["stage"], strict=True))
    return Baselines(
        keys,
        grid.segments,
        completion,
        abandonment,
        error_rate,
        sessions,
        latency,
        dispersion,
        float(trimmed),
    )


def _typical_windows(grid: OutcomeGrid, hour_of_day: np.ndarray, trim_z: float) -> np.ndarray:
    """Windows whose completions sit within trim_z robust SDs of their hour of day's pooled rate.

    Standardised by the binomial variance at the pooled rate (medians of small-window rates are
    lumpy), rescaled by the residuals' own MAD for over-dispersion; two passes, so the incidents
    trimmed in the first no longer pull the rate of the second.
    """
    kept = np.zeros(grid.sessions.shape, dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for hour in range(24):
            cols = hour_of_day == hour
            n, c = grid.sessions[:, :, cols], grid.completed[:, :, cols]
            use = n > 0
            for _ in range(2):
                rate = (np.where(use, c, 0).sum(axis=2) / np.where(use, n, 0).sum(axis=2))[
                    :, :, None
                ]
                z = (c - n * rate) / np.sqrt(n * rate * (1 - rate))
                centre = np.nanmedian(z, axis=2, keepdims=True)
                scale = np.fmax(
                    1.0, MAD_TO_SD * np.nanmedian(np.abs(z - centre), axis=2, keepdims=True)
                )
                degenerate = ~np.isfinite(z)  # rate 0 or 1 in this hour: nothing to trim by
                use = (n > 0) & (degenerate | (np.abs(z / scale) <= trim_z))
            kept[:, :, cols] = use
    return kept


def _pooled_rate(
    events: np.ndarray, sessions: np.ndarray, kept: np.ndarray, how: np.ndarray, shrink: float
) -> np.ndarray:
    """Pooled rate per hour of week over typical windows, shrunk to hour-of-day, then overall."""
    e, n = np.where(kept, events, 0.0), np.where(kept, sessions, 0.0)
    e_how, n_how = _sum_by_hour(e, how), _sum_by_hour(n, how)
    e_hod = e_how.reshape(*e_how.shape[:2], 7, 24).sum(axis=2)
    n_hod = n_how.reshape(*n_how.shape[:2], 7, 24).sum(axis=2)
    overall = (e.sum(axis=2) / n.sum(axis=2))[:, :, None]
    hod = (e_hod + shrink * overall) / (n_hod + shrink)
    return (e_how + shrink * np.tile(hod, 7)) / (n_how + shrink)


def _sum_by_hour(values: np.ndarray, how: np.ndarray) -> np.ndarray:
    """stage × segment × window summed into stage × segment × hour of week."""
    cells = values.shape[0] * values.shape[1]
    index = (np.arange(cells)[:, None] * HOURS_PER_WEEK + how[None, :]).ravel()
    summed = np.bincount(
        index, weights=values.reshape(cells, -1).ravel(), minlength=cells * HOURS_PER_WEEK
    )
    return summed.reshape(*values.shape[:2], HOURS_PER_WEEK)


def _median_by_hour(values: np.ndarray, how: np.ndarray) -> np.ndarray:
    out = np.full((*values.shape[:2], HOURS_PER_WEEK), np.nan)
    for hour in np.unique(how):
        out[:, :, hour] = np.nanmedian(values[:, :, how == hour], axis=2)
    return out


def _dispersion(grid: OutcomeGrid, kept: np.ndarray, expected_rate: np.ndarray) -> np.ndarray:
    """Extra-binomial variance of completions in typical windows (at least 1: never narrower than binomial)."""
    n = np.where(kept, grid.sessions, 0.0)
    c = np.where(kept, grid.completed, 0.0)
    p = np.nan_to_num(expected_rate)
    residual = ((c - n * p) ** 2).sum(axis=2)
    binomial = (n * p * (1 - p)).sum(axis=2)
    return np.clip(
        np.where(binomial > 0, residual / np.where(binomial > 0, binomial, 1), 1.0), 1.0, None
    )
