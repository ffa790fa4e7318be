"""How an incident travels through the call graph to the stages users walk through."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .clock import Clock
from .world import IncidentKind, World

DIRECT = {"hard": 1.0, "soft": 0.1}  # a stage's own services
HOP = {"hard": 0.9, "soft": 0.1}  # each step down the call graph (retries absorb a little)
HARD_PATH_EXPOSURE = 0.5  # a stage feels at least this share of a failure only on hard paths


def stage_exposure(world: World) -> dict[str, np.ndarray]:
    """service -> share of its failure each stage feels (max over call paths)."""
    stages = world.flat_stages()
    exposure = {s: np.zeros(len(stages)) for s in world.all_services()}
    for k, (_, stage) in enumerate(stages):
        frontier = {svc: DIRECT[kind] for svc, kind in stage.services.items()}
        while frontier:
            nxt: dict[str, float] = {}
            for svc, factor in frontier.items():
                if factor <= exposure[svc][k] + 1e-12:
                    continue
                exposure[svc][k] = factor
                for callee, kind in world.dependencies.get(svc, {}).items():
                    nxt[callee] = max(nxt.get(callee, 0.0), factor * HOP[kind])
            frontier = nxt
    return exposure


def callers_within(world: World, service: str, hops: int) -> dict[str, int]:
    """Services that call `service` directly or through others, with their distance."""
    found: dict[str, int] = {}
    frontier = {service}
    for distance in range(1, hops + 1):
        frontier = {
            caller
            for caller, callees in world.dependencies.items()
            if callees.keys() & frontier and caller not in found and caller != service
        }
        for caller in sorted(frontier):
            found[caller] = distance
    return found


@dataclass
class Effects:
    """Per stage × region × window: completion loss, extra error rate and latency multiplier."""

    fail: np.ndarray
    error_rate: np.ndarray
    latency: np.ndarray
    per_incident: list[
        tuple[int, np.ndarray, int, int]
    ]  # (incident row, d[stage, region, w0:w1], w0, w1)


def incident_profile(row: pd.Series, kind: IncidentKind, clock: Clock) -> tuple[int, np.ndarray]:
    """First window and the strength of the incident in each window it touches (0..1)."""
    w0 = max(0, int((row.start_ns - clock.start_ns) // clock.window_ns))
    w1 = min(clock.n_windows, int((row.end_ns - clock.start_ns) // clock.window_ns) + 1)
    starts = clock.start_ns + np.arange(w0, w1, dtype=np.int64) * clock.window_ns
    overlap = np.clip(
        np.minimum(starts + clock.window_ns, row.end_ns) - np.maximum(starts, row.start_ns), 0, None
    )
    strength = overlap / clock.window_ns
    if kind.ramps:
        mid = (starts + clock.window_ns / 2 - row.start_ns) / max(1, row.end_ns - row.start_ns)
        strength = strength * np.clip(mid / 0.8, 0, 1)
    return w0, strength


def apply_incidents(world: World, incidents: pd.DataFrame, clock: Clock) -> Effects:
    """Combine every incident's damage; concurrent failures compound multiplicatively."""
    exposure = stage_exposure(world)
    n_stages, regions = len(world.flat_stages()), list(world.regions)
    shape = (n_stages, len(regions), clock.n_windows)
    survive_log = np.zeros(shape)
    error_rate = np.zeros(shape)
    latency = np.ones(shape)
    per_incident = []
    for i, row in enumerate(incidents.itertuples(index=False)):
        kind = world.incidents.kinds[row.kind]
        w0, strength = incident_profile(row, kind, clock)
        if len(strength) == 0:
            continue
        region_mask = np.array(
            [not isinstance(row.region, str) or r == row.region for r in regions], dtype=float
        )
        spread = (
            exposure[row.service][:, None, None]
            * region_mask[None, :, None]
            * strength[None, None, :]
        )
        d = np.clip(row.degradation * spread, 0, 0.99)
        w1 = w0 + len(strength)
        survive_log[:, :, w0:w1] += np.log1p(-d)
        error_rate[:, :, w0:w1] += d * kind.error_share
        latency[:, :, w0:w1] *= 1.0 + row.latency_factor * spread
        per_incident.append((i, d, w0, w1))
    return Effects(1.0 - np.exp(survive_log), np.clip(error_rate, 0, 0.95), latency, per_incident)


def peak_stage_drop(effects: Effects, n_incidents: int) -> np.ndarray:
    """incident × stage: the largest share of completions the incident took from the stage."""
    peak = np.zeros((n_incidents, effects.fail.shape[0]))
    for i, d, _, _ in effects.per_incident:
        peak[i] = d.max(axis=(1, 2))
    return peak
