"""Sessions walking the funnels: seasonal arrivals, per-segment completion, noise, and incident damage."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .clock import Clock, local_hour, local_weekday
from .effects import Effects
from .world import World

ARRIVAL_SHAPE = 40.0  # gamma-Poisson overdispersion of arrivals per window
RATE_NOISE = 0.05  # window-to-window wobble of completion rates (log scale)
BASE_ERROR_RATE = 0.003


@dataclass
class Funnel:
    """Counts per stage × segment × region × window, and the rate each stage would have had unharmed."""

    sessions: np.ndarray
    completed: np.ndarray
    abandoned: np.ndarray
    errors: np.ndarray
    latency_p95_ms: np.ndarray
    healthy_rate: np.ndarray


def simulate_funnel(
    world: World, clock: Clock, effects: Effects, traffic: float, rng: np.random.Generator
) -> Funnel:
    stages, segments, regions = world.flat_stages(), list(world.segments), list(world.regions)
    shape = (len(stages), len(segments), len(regions), clock.n_windows)
    out = Funnel(
        *(np.zeros(shape, dtype=np.int64) for _ in range(4)), np.zeros(shape), np.zeros(shape)
    )
    minutes = clock.minutes()
    day_index = (minutes // 1440).astype(int)
    first = 0
    for journey in world.journeys:
        mood = np.exp(rng.normal(0, 0.05, day_index.max() + 1))[day_index]
        for g, segment in enumerate(segments):
            share = journey.segment_shares.get(segment, 0.0)
            weekend = journey.weekend_factor * world.segments[segment].weekend
            for r, region in enumerate(regions):
                offset = world.regions[region].utc_offset
                hour = local_hour(minutes, offset)
                weekday = local_weekday(minutes, offset, clock.start_weekday())
                season = world.diurnal(hour) * np.where(weekday >= 5, weekend, 1.0)
                trend = 1.0 + 0.003 * minutes / 1440.0
                mean = (
                    journey.daily_sessions
                    * traffic
                    * share
                    * world.regions[region].share
                    * clock.window_min
                    / 1440.0
                    * season
                    * trend
                    * mood
                )
                arriving = rng.poisson(
                    mean * rng.gamma(ARRIVAL_SHAPE, 1 / ARRIVAL_SHAPE, len(mean))
                )
                _walk(out, world, arriving, first, journey, g, r, hour, effects, rng)
        first += len(journey.stages)
    return out


def _walk(
    out: Funnel, world: World, arriving, first, journey, g, r, hour, effects: Effects, rng
) -> None:
    """Sessions that complete a stage enter the next one in the same window."""
    segment = list(world.segments.values())[g]
    sessions = arriving
    evening_focus = 1.0 + 0.03 * np.sin(2 * np.pi * (hour - 15.0) / 24.0)
    for k, stage in enumerate(journey.stages):
        s = first + k
        healthy = np.clip(
            stage.completion
            * segment.completion
            * evening_focus
            * np.exp(rng.normal(0, RATE_NOISE, len(hour))),
            0,
            0.995,
        )
        fail = effects.fail[s, r]
        completed = rng.binomial(sessions, healthy * (1.0 - fail))
        leave = stage.abandon + (1.0 - stage.abandon) * np.minimum(1.0, 1.5 * fail)
        abandoned = rng.binomial(sessions - completed, np.clip(leave, 0, 1))
        errors = rng.binomial(sessions, np.clip(BASE_ERROR_RATE + effects.error_rate[s, r], 0, 1))
        load = world.diurnal(hour)
        latency = (
            stage.latency_ms
            * (1 + 0.15 * load)
            * np.exp(rng.normal(0, 0.07, len(hour)))
            * effects.latency[s, r]
        )
        out.sessions[s, g, r] = sessions
        out.completed[s, g, r] = completed
        out.abandoned[s, g, r] = abandoned
        out.errors[s, g, r] = errors
        out.latency_p95_ms[s, g, r] = np.round(latency, 1)
        out.healthy_rate[s, g, r] = healthy
        sessions = completed


def funnel_to_outcomes(world: World, funnel: Funnel, clock: Clock) -> pd.DataFrame:
    """The journey_outcomes table: one row per window × journey × stage × segment × region with sessions."""
    stages, segments, regions = world.flat_stages(), list(world.segments), list(world.regions)
    s_idx, g_idx, r_idx, w_idx = np.nonzero(funnel.sessions)
    order = np.lexsort((r_idx, g_idx, s_idx, w_idx))
    s_idx, g_idx, r_idx, w_idx = s_idx[order], g_idx[order], r_idx[order], w_idx[order]
    pick = (s_idx, g_idx, r_idx, w_idx)
    return pd.DataFrame(
        {
            "window_start": pd.to_datetime(clock.window_starts_ns()[w_idx], utc=True),
            "journey": np.array([j for j, _ in stages])[s_idx],
            "stage": np.array([st.name for _, st in stages])[s_idx],
            "segment": np.array(segments)[g_idx],
            "region": np.array(regions)[r_idx],
            "sessions": funnel.sessions[pick],
            "completed": funnel.completed[pick],
            "abandoned": funnel.abandoned[pick],
            "errors": funnel.errors[pick],
            "latency_p95_ms": funnel.latency_p95_ms[pick],
        }
    )
