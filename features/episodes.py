"""Degradation episodes: per stage, the runs of windows where completion sat significantly below normal."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.baselines import Baselines, fit_baselines
from features.config import EpisodeConfig
from features.journey_map import JourneyMap
from features.journey_state import build_journey_state, sum_over_segments
from features.stages import StageIndex
from features.timeaxis import MINUTE_NS, from_ns, hour_of_week, to_ns

EPISODE_COLUMNS = (
    "episode_id",
    "journey",
    "stage",
    "start",
    "end",
    "duration_min",
    "windows",
    "peak_z",
    "z",
    "expected_completions",
    "lost_completions",
    "relative_drop",
    "lost_value",
    "segments_hurt",
    "regions_hurt",
    "alerts_before",
    "alerts_during",
)


def degradation_episodes(
    outcomes: pd.DataFrame,
    alerts: pd.DataFrame | None,
    journey_map: JourneyMap,
    step_ns: int,
    baselines: Baselines | None = None,
    config: EpisodeConfig | None = None,
) -> pd.DataFrame:
    """Every episode of the period (EPISODE_COLUMNS), in time order; baselines fitted on it unless given."""
    config = config or EpisodeConfig()
    stages = StageIndex.from_map(journey_map)
    if baselines is None:
        baselines = fit_baselines(outcomes, stages, step_ns, config.baselines)
    windows = window_losses(outcomes, stages, baselines, journey_map, step_ns)
    episodes = find_episodes(windows, config)
    episodes = slices_hurt(episodes, outcomes, stages, baselines, config)
    return attach_alerts(episodes, alerts, stages, config)


def window_losses(
    outcomes: pd.DataFrame,
    stages: StageIndex,
    baselines: Baselines,
    journey_map: JourneyMap,
    step_ns: int,
) -> pd.DataFrame:
    """Per stage × window (every window of the grid): observed and expected completions, loss, z.

    Summed over segments and regions from the journey state (the impact labels' machinery);
    `lost_value` weighs each segment's loss by its weight and the stage's value.
    """
    state = build_journey_state(outcomes, stages, baselines, step_ns)
    weights = np.array([journey_map.segment_weight(s) for s in state.segments])
    k = np.arange(state.n_windows)
    starts = from_ns(state.origin_ns + k * state.step_ns)
    parts = []
    for code in range(stages.n_stages):
        sums = state.sums(np.full(len(k), code), k, k + 1)
        parts.append(_stage_windows(sums, weights, stages.table.iloc[code], code, starts))
    if not parts:
        return pd.DataFrame()
    return pd.concat(parts, ignore_index=True)


def _stage_windows(sums, weights, stage: pd.Series, code: int, starts) -> pd.DataFrame:
    lost_by_segment = sums["expected_completed"] - sums["completed"]
    lost = sum_over_segments(lost_by_segment)
    variance = sum_over_segments(sums["completion_var"])
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(variance > 0, lost / np.sqrt(np.where(variance > 0, variance, 1.0)), 0.0)
    return pd.DataFrame(
        {
            "stage_code": code,
            "journey": stage["journey"],
            "stage": stage["stage"],
            "window_start": starts,
            "sessions": sum_over_segments(sums["sessions"]),
            "completed": sum_over_segments(sums["completed"]),
            "expected_completed": sum_over_segments(sums["expected_completed"]),
            "completion_var": variance,
            "lost": lost,
            "z": z,
            "lost_value": sum_over_segments(lost_by_segment * weights) * float(stage["value"]),
        }
    )


def find_episodes(windows: pd.DataFrame, config: EpisodeConfig | None = None) -> pd.DataFrame:
    """Episodes from per-window losses (`window_losses`): spans, duration and what they cost.

    `end` is the end of the last degraded window, so `duration_min` is the time the stage took to
    restore journey continuity. Lost completions and value are summed over the episode's windows.
    """
    config = config or EpisodeConfig()
    rows = []
    for _, part in windows.groupby("stage_code", sort=True):
        part = part.sort_values("window_start")
        step = _step_ns(part)
        for first, last in episode_spans(
            part["z"].to_numpy(), part["lost"].to_numpy(), part["completion_var"].to_numpy(), config
        ):
            span = part.iloc[first : last + 1]
            rows.append(_episode_row(span, step))
    episodes = pd.DataFrame(rows, columns=[c for c in EPISODE_COLUMNS if c not in _LATER])
    if not rows:  # no episode: the columns still carry their types
        time = windows["window_start"].dtype if "window_start" in windows else "datetime64[ns, UTC]"
        episodes = episodes.astype({"start": time, "end": time, "windows": "int64"}).astype(
            {c: "float64" for c in _MEASURES}
        )
    material = (episodes["lost_completions"] >= config.min_lost_completions) & (
        episodes["relative_drop"] >= config.min_relative_drop
    )
    episodes = episodes[material].sort_values(["start", "journey", "stage"], kind="stable")
    episodes["episode_id"] = [f"ep-{i:05d}" for i in range(1, len(episodes) + 1)]
    return episodes.reset_index(drop=True)


_LATER = ("segments_hurt", "regions_hurt", "alerts_before", "alerts_during")
_MEASURES = (
    "duration_min",
    "peak_z",
    "z",
    "expected_completions",
    "lost_completions",
    "relative_drop",
    "lost_value",
)


def _step_ns(part: pd.DataFrame) -> int:
    starts = to_ns(part["window_start"])
    return int(np.min(np.diff(starts))) if len(starts) > 1 else MINUTE_NS


def _episode_row(span: pd.DataFrame, step_ns: int) -> dict:
    start = span["window_start"].iloc[0]
    end = span["window_start"].iloc[-1] + pd.Timedelta(step_ns, unit="ns")
    lost, expected = float(span["lost"].sum()), float(span["expected_completed"].sum())
    variance = float(span["completion_var"].sum())
    return {
        "episode_id": "",
        "journey": span["journey"].iloc[0],
        "stage": span["stage"].iloc[0],
        "start": start,
        "end": end,
        "duration_min": (end - start) / pd.Timedelta(minutes=1),
        "windows": len(span),
        "peak_z": float(span["z"].max()),
        "z": lost / np.sqrt(variance) if variance > 0 else 0.0,
        "expected_completions": expected,
        "lost_completions": lost,
        "relative_drop": lost / expected if expected > 0 else 0.0,
        "lost_value": max(float(span["lost_value"].sum()), 0.0),
    }


def episode_spans(
    z: np.ndarray, lost: np.ndarray, variance: np.ndarray, config: EpisodeConfig
) -> list[tuple[int, int]]:
    """(first, last) window index of each episode of one stage's window series.

    Degraded windows (`degraded_windows`) within fewer than `exit_windows` normal windows of each
    other form one candidate (hysteresis: a good window inside an outage does not split it). A
    candidate becomes an episode when its windows together are significant (z ≥ `enter_z`) over at
    least `enter_windows` degraded windows, or when one window alone is extreme (`single_window_z`).
    """
    z, lost, variance = (np.asarray(a, dtype=np.float64) for a in (z, lost, variance))
    degraded = degraded_windows(z, lost, variance, config)
    spans = []
    for first, last in _bridged_runs(degraded, config.exit_windows):
        pooled = _pooled_z(lost[first : last + 1].sum(), variance[first : last + 1].sum())
        enough = degraded[first : last + 1].sum() >= config.enter_windows
        extreme = z[first : last + 1].max() >= config.single_window_z
        if (enough and pooled >= config.enter_z) or extreme:
            spans.append((int(first), int(last)))
    return spans


def degraded_windows(
    z: np.ndarray, lost: np.ndarray, variance: np.ndarray, config: EpisodeConfig
) -> np.ndarray:
    """A window is degraded when its own z reaches `window_z`, or when it lost completions itself
    (z ≥ `edge_z`) and the `smooth_windows` windows centred on it together reach `window_z` — so a
    slow burn, a little below normal window after window, stays degraded while its edges stay sharp.
    """
    kernel = np.ones(config.smooth_windows)
    smoothed = _pooled_z(
        np.convolve(lost, kernel, mode="same"), np.convolve(variance, kernel, mode="same")
    )
    return (z >= config.window_z) | ((z >= config.edge_z) & (smoothed >= config.window_z))


def _pooled_z(lost, variance):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(variance > 0, lost / np.sqrt(np.where(variance > 0, variance, 1.0)), 0.0)


def _bridged_runs(degraded: np.ndarray, exit_windows: int) -> list[tuple[int, int]]:
    """[first, last] of the degraded windows, runs joined across fewer than `exit_windows` normal ones."""
    at = np.flatnonzero(degraded)
    if len(at) == 0:
        return []
    breaks = np.flatnonzero(np.diff(at) - 1 >= exit_windows)
    firsts = at[np.r_[0, breaks + 1]]
    lasts = at[np.r_[breaks, len(at) - 1]]
    return list(zip(firsts, lasts, strict=True))


def slices_hurt(
    episodes: pd.DataFrame,
    outcomes: pd.DataFrame,
    stages: StageIndex,
    baselines: Baselines,
    config: EpisodeConfig | None = None,
) -> pd.DataFrame:
    """Add `segments_hurt` and `regions_hurt`: the slices whose own loss is significant, worst first."""
    config = config or EpisodeConfig()
    rows = _rows_in_episodes(episodes, outcomes, stages, baselines)
    out = episodes.copy()
    for column, by in (("segments_hurt", "segment"), ("regions_hurt", "region")):
        out[column] = _hurt(rows, by, len(episodes), config)
    return out


def _rows_in_episodes(
    episodes: pd.DataFrame, outcomes: pd.DataFrame, stages: StageIndex, baselines: Baselines
) -> pd.DataFrame:
    """Outcome rows inside an episode of their stage, with the episode's row and their expectation."""
    code = stages.code_of(outcomes["journey"], outcomes["stage"])
    start = to_ns(outcomes["window_start"])
    episode = np.full(len(outcomes), -1)
    ep_code = stages.code_of(episodes["journey"], episodes["stage"])
    ep_start, ep_end = to_ns(episodes["start"]), to_ns(episodes["end"])
    for c in np.unique(ep_code):
        mine = np.flatnonzero(ep_code == c)
        mine = mine[np.argsort(ep_start[mine], kind="stable")]
        at = np.flatnonzero(code == c)
        slot = np.searchsorted(ep_start[mine], start[at], side="right") - 1
        inside = (slot >= 0) & (start[at] < ep_end[mine[np.maximum(slot, 0)]])
        episode[at[inside]] = mine[slot[inside]]
    rows = outcomes.loc[episode >= 0].assign(episode=episode[episode >= 0])
    aligned = baselines.aligned(stages, baselines.segments)
    g = pd.Index(aligned.segments).get_indexer(rows["segment"].astype(str))
    c = code[episode >= 0]
    how = hour_of_week(start[episode >= 0])
    p = np.where(g >= 0, aligned.completion[c, np.maximum(g, 0), how], np.nan)
    dispersion = np.where(g >= 0, aligned.dispersion[c, np.maximum(g, 0)], 1.0)
    sessions = rows["sessions"].to_numpy(float)
    known = np.isfinite(p)
    expected = np.where(known, sessions * np.nan_to_num(p), rows["completed"].to_numpy(float))
    return rows.assign(
        expected=expected,
        lost=expected - rows["completed"].to_numpy(float),
        variance=np.where(known, expected * (1 - np.nan_to_num(p)) * dispersion, 0.0),
    )


def _hurt(rows: pd.DataFrame, by: str, n: int, config: EpisodeConfig) -> list[str]:
    if by not in rows or rows[by].isna().all():
        return [""] * n
    sums = rows.groupby(["episode", by], observed=True)[["expected", "lost", "variance"]].sum()
    z = sums["lost"] / np.sqrt(sums["variance"].where(sums["variance"] > 0))
    hurt = sums[
        (z >= config.slice_z) & (sums["lost"] >= config.slice_min_relative_drop * sums["expected"])
    ].sort_values("lost", ascending=False)
    names = hurt.reset_index().groupby("episode")[by].agg(lambda s: ",".join(map(str, s)))
    return names.reindex(range(n), fill_value="").tolist()


def alert_episode_matches(
    episodes: pd.DataFrame, alerts: pd.DataFrame, stages: StageIndex, lead_min: float
) -> pd.DataFrame:
    """(episode, alert) pairs: the alert's service reaches the episode's stage through the journey
    map and it fired between start − lead and end. Columns: episode, alert (row positions), fired_ns.
    """
    pairs = stages.pairs(alerts["service"])
    fired = to_ns(alerts["fired_at"])[pairs["row"].to_numpy()]
    pair_code = pairs["stage_code"].to_numpy()
    ep_code = stages.code_of(episodes["journey"], episodes["stage"])
    lo = to_ns(episodes["start"]) - int(lead_min * MINUTE_NS)
    hi = to_ns(episodes["end"])
    found_episode, found_alert, found_fired = [], [], []
    for c in np.unique(ep_code):
        at = np.flatnonzero(pair_code == c)
        at = at[np.argsort(fired[at], kind="stable")]
        times = fired[at]
        for e in np.flatnonzero(ep_code == c):
            hit = at[np.searchsorted(times, lo[e], "left") : np.searchsorted(times, hi[e], "right")]
            found_episode.append(np.full(len(hit), e))
            found_alert.append(pairs["row"].to_numpy()[hit])
            found_fired.append(fired[hit])
    if not found_episode:
        return pd.DataFrame({"episode": [], "alert": [], "fired_ns": []}, dtype=np.int64)
    return pd.DataFrame(
        {
            "episode": np.concatenate(found_episode).astype(np.int64),
            "alert": np.concatenate(found_alert).astype(np.int64),
            "fired_ns": np.concatenate(found_fired).astype(np.int64),
        }
    ).sort_values(["episode", "fired_ns", "alert"], kind="stable", ignore_index=True)


def attach_alerts(
    episodes: pd.DataFrame,
    alerts: pd.DataFrame | None,
    stages: StageIndex,
    config: EpisodeConfig | None = None,
) -> pd.DataFrame:
    """Add `alerts_before` (within the lead time before start) and `alerts_during` (start to end):
    alert ids in firing order, of alerts whose service reaches the stage through the journey map."""
    config = config or EpisodeConfig()
    out = episodes.copy()
    before: list[list[str]] = [[] for _ in range(len(out))]
    during: list[list[str]] = [[] for _ in range(len(out))]
    if alerts is not None and len(alerts) and len(out):
        matches = alert_episode_matches(out, alerts, stages, config.alert_lead_min)
        ids = alerts["alert_id"].astype(str).to_numpy()
        starts = to_ns(out["start"])
        for e, a, t in matches.itertuples(index=False):
            (before if t < starts[e] else during)[e].append(ids[a])
    out["alerts_before"] = before
    out["alerts_during"] = during
    return out


def stage_week_summary(windows: pd.DataFrame, episodes: pd.DataFrame) -> pd.DataFrame:
    """`stage_summary` per stage and week (weeks start on Monday, UTC; episodes by their start)."""
    return stage_summary(
        windows.assign(week=_week(windows["window_start"])),
        episodes.assign(week=_week(episodes["start"])),
        by=("journey", "stage", "week"),
    )


def stage_summary(
    windows: pd.DataFrame, episodes: pd.DataFrame, by: tuple[str, ...] = ("journey", "stage")
) -> pd.DataFrame:
    """Per stage (or `by`): episodes, median and p90 time to restore, lost completions and value,
    and completion-rate stability, in funnel order.

    Stability is the spread of the completion rate around its baseline: `rate_spread_pp`, the
    session-weighted RMS gap in percentage points, and `spread_vs_normal`, the RMS per-window z
    (1 is as steady as the baselines' own noise; larger means less steady).
    """
    keys = list(by)
    active = windows[windows["sessions"] > 0]
    gap = (active["completed"] - active["expected_completed"]) / active["sessions"]
    steadiness = (
        active.assign(sq_gap=gap**2 * active["sessions"], sq_z=active["z"] ** 2)
        .groupby(keys, sort=False)
        .agg(
            sessions=("sessions", "sum"),
            completed=("completed", "sum"),
            expected_completed=("expected_completed", "sum"),
            sq_gap=("sq_gap", "sum"),
            sq_z=("sq_z", "mean"),
        )
    )
    table = pd.DataFrame(
        {
            "completion_rate": steadiness["completed"] / steadiness["sessions"],
            "baseline_rate": steadiness["expected_completed"] / steadiness["sessions"],
            "rate_spread_pp": 100 * np.sqrt(steadiness["sq_gap"] / steadiness["sessions"]),
            "spread_vs_normal": np.sqrt(steadiness["sq_z"]),
        }
    )
    lost = episodes.groupby(keys, sort=False).agg(
        episodes=("episode_id", "size"),
        ttr_median_min=("duration_min", "median"),
        ttr_p90_min=("duration_min", lambda d: float(np.quantile(d, 0.9))),
        lost_completions=("lost_completions", "sum"),
        lost_value=("lost_value", "sum"),
    )
    out = table.join(lost, how="left")
    out["episodes"] = out["episodes"].fillna(0).astype(int)
    out[["lost_completions", "lost_value"]] = out[["lost_completions", "lost_value"]].fillna(0.0)
    return out[list(SUMMARY_COLUMNS)].reset_index()


SUMMARY_COLUMNS = (
    "episodes",
    "ttr_median_min",
    "ttr_p90_min",
    "lost_completions",
    "lost_value",
    "completion_rate",
    "baseline_rate",
    "rate_spread_pp",
    "spread_vs_normal",
)


def _week(times: pd.Series) -> pd.Series:
    day = times.dt.floor("D")
    return day - pd.to_timedelta(day.dt.day_of_week, unit="D")
