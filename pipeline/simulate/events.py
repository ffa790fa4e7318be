"""Raw session events consistent with the outcomes: the input `journeyrank aggregate` rebuilds them from."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .clock import Clock
from .traffic import Funnel
from .world import World

EVENT_NAMES = ("enter", "complete", "abandon", "error")


def funnel_events(
    world: World, funnel: Funnel, clock: Clock, rng: np.random.Generator, journey_index: int
) -> pa.Table:
    """One journey's events, session by session: completers of a stage enter the next in the window.

    Within a (window, segment, region) block the first `completed` sessions of a stage go on,
    the next `abandoned` leave, and errors fall on the first `errors` sessions; ids are unique.
    """
    first = sum(len(j.stages) for j in world.journeys[:journey_index])
    journey = world.journeys[journey_index]
    stages = world.flat_stages()
    arrivals = funnel.sessions[first]  # segment × region × window
    block_base = np.cumsum(arrivals.ravel()) - arrivals.ravel()
    parts = []
    for k in range(len(journey.stages)):
        s = first + k
        for event, counts, offset in (
            ("enter", funnel.sessions[s], 0),
            ("complete", funnel.completed[s], 0),
            ("abandon", funnel.abandoned[s], funnel.completed[s]),
            (
                "error",
                funnel.errors[s],
                funnel.sessions[s] - funnel.errors[s],
            ),  # those who fail to go on
        ):
            slot = (k + (0.0 if event == "enter" else 0.5)) / len(journey.stages)
            parts.append(
                _expand(counts, offset, block_base, s, event, slot, len(journey.stages), clock, rng)
            )
    cols = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    order = np.lexsort((cols["event"], cols["session"], cols["ts"]))
    stage_names = np.array([st.name for _, st in stages])
    return pa.table(
        {
            "ts": pa.array(cols["ts"][order], pa.timestamp("ns", tz="UTC")),
            "session_id": pa.array(
                cols["session"][order] + _session_offset(journey_index), pa.int64()
            ).cast(pa.string()),
            "journey": pa.array(np.full(len(order), journey.name)).dictionary_encode(),
            "stage": pa.array(stage_names[cols["stage"][order]]).dictionary_encode(),
            "segment": pa.array(
                np.array(list(world.segments))[cols["segment"][order]]
            ).dictionary_encode(),
            "region": pa.array(
                np.array(list(world.regions))[cols["region"][order]]
            ).dictionary_encode(),
            "event": pa.array(np.array(EVENT_NAMES)[cols["event"][order]]).dictionary_encode(),
        }
    )


def _session_offset(journey_index: int) -> int:
    return journey_index * 10**12  # journeys never share a session id


def _expand(
    counts, offset, block_base, stage, event, slot, n_stages, clock: Clock, rng
) -> dict[str, np.ndarray]:
    """Events of one kind at one stage; a session enters a stage before it leaves it, stage by stage."""
    flat = counts.ravel()
    n = int(flat.sum())
    block = np.repeat(np.arange(flat.size), flat)
    within = np.arange(n) - np.repeat(np.cumsum(flat) - flat, flat)
    g, r, w = np.unravel_index(block, counts.shape)
    within_window = (slot + rng.random(n) * 0.5 / n_stages) * clock.window_ns
    ts = clock.start_ns + w.astype(np.int64) * clock.window_ns + within_window.astype(np.int64)
    return {
        "ts": ts,
        "session": block_base[block] + within + offset.ravel()[block]
        if np.ndim(offset)
        else block_base[block] + within,
        "stage": np.full(n, stage),
        "segment": g,
        "region": r,
        "event": np.full(n, EVENT_NAMES.index(event)),
    }
