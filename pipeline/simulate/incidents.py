"""Incidents: what breaks, how, for how long and how badly (heavy tails), spontaneous or after a change."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .clock import MINUTE_NS, Clock
from .world import World

MAX_DEGRADATION = 0.95


def simulate_incidents(
    world: World, clock: Clock, changes: pd.DataFrame, rng: np.random.Generator, id_tag: str = ""
) -> pd.DataFrame:
    """Spontaneous incidents (more under load) plus those some changes start, in time order."""
    spontaneous = _spontaneous_starts(world, clock, rng)
    caused = changes.loc[changes["starts_incident"], ["service", "ts_ns", "change_id"]]
    after_change = pd.DataFrame(
        {
            "service": caused["service"].to_numpy(),
            "start_ns": caused["ts_ns"].to_numpy()
            + (rng.uniform(1, 25, len(caused)) * MINUTE_NS).astype(np.int64),
            "change_id": caused["change_id"].to_numpy(),
        }
    )
    incidents = pd.concat([spontaneous, after_change], ignore_index=True)
    incidents = incidents[incidents["start_ns"] < clock.end_ns]
    incidents = incidents.sort_values(["start_ns", "service"], kind="stable").reset_index(drop=True)
    return _draw_shapes(world, incidents, rng, id_tag)


def _spontaneous_starts(world: World, clock: Clock, rng: np.random.Generator) -> pd.DataFrame:
    minutes = clock.minutes()
    load = world.diurnal((minutes / 60.0) % 24.0)
    weights = (0.5 + 0.5 * load) / (0.5 + 0.5 * load).mean()
    rows = []
    days = clock.n_windows * clock.window_min / 1440.0
    for service in world.all_services():
        rate = (
            world.incidents.off_path_per_service_day
            if service in world.off_path_services
            else world.incidents.per_service_day
        ) * world.incident_factor.get(service, 1.0)
        n = rng.poisson(rate * days)
        windows = rng.choice(clock.n_windows, size=n, p=weights / weights.sum())
        offsets = rng.uniform(0, clock.window_ns, n).astype(np.int64)
        for w, off in zip(windows, offsets, strict=True):
            rows.append((service, clock.start_ns + int(w) * clock.window_ns + int(off), None))
    return pd.DataFrame(rows, columns=["service", "start_ns", "change_id"])


def _draw_shapes(
    world: World, incidents: pd.DataFrame, rng: np.random.Generator, id_tag: str
) -> pd.DataFrame:
    n = len(incidents)
    specs = world.incidents.kinds
    kinds = list(specs)
    shares = np.array([specs[k].share for k in kinds])
    kind = rng.choice(kinds, size=n, p=shares / shares.sum())
    params = np.array(
        [(s.log_minutes, s.minutes_sigma, s.log_size, s.size_sigma) for s in map(specs.get, kind)]
    ).reshape(n, 4)
    minutes = np.exp(rng.normal(params[:, 0], params[:, 1]))
    size = np.exp(rng.normal(params[:, 2], params[:, 3]))
    mitigated = rng.random(n) < world.incidents.mitigated_share
    degradation = MAX_DEGRADATION * (1.0 - np.exp(-size)) * np.where(mitigated, 0.08, 1.0)
    regions = list(world.regions)
    regional = [k for k in kinds if specs[k].regional]
    region = np.where(np.isin(kind, regional), rng.choice(regions, size=n), None)
    incidents = incidents.assign(
        kind=kind,
        raw_degradation=MAX_DEGRADATION * (1.0 - np.exp(-size)),
        end_ns=incidents["start_ns"].to_numpy()
        + (np.clip(minutes, 2, 24 * 60) * MINUTE_NS).astype(np.int64),
        degradation=degradation,
        latency_factor=np.where(
            np.isin(kind, [k for k in kinds if specs[k].slows]),
            np.exp(rng.normal(0.8, 0.5, n)),
            0.3,
        ),
        region=region,
        mitigated=mitigated,
    )
    incidents["incident_id"] = [f"inc-{id_tag}{i:05d}" for i in range(1, n + 1)]
    return incidents
