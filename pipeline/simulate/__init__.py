"""`journeyrank simulate`: an organisation whose incidents hurt journeys and whose monitoring is noisy."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .alerts import (
    firings_to_alerts,
    simulate_coincident_noise,
    simulate_incident_alerts,
    simulate_noise,
)
from .changes import simulate_changes
from .clock import Clock
from .config import DEFAULT_START, SCALES, SimulationConfig
from .effects import apply_incidents, peak_stage_drop
from .incidents import simulate_incidents
from .journey_map import journey_map_document, map_truth
from .rules import DETECTOR, build_rules
from .shifts import SHIFTS, shift_detector, shift_rules, shift_world
from .traffic import funnel_to_outcomes, simulate_funnel
from .truth import alert_truth, incident_damage
from .world import World
from .worlds import DEFAULT_WORLD, WORLDS
from .writer import MANIFEST_FILE, write_data_dir

__all__ = [
    "DEFAULT_START",
    "MANIFEST_FILE",
    "SCALES",
    "SHIFTS",
    "WORLDS",
    "SimulationConfig",
    "SimulationResult",
    "simulate",
]

# The random streams of a run, in the order the first simulator spawned them (later ones are
# appended: a SeedSequence's n-th child does not depend on how many are spawned). The rules
# belong to the organisation and come from the seed alone; the others are what happens in one period.
STREAMS = ("changes", "incidents", "traffic", "rules", "noise", "incident_alerts", "coincident")
WORLD_STREAMS = frozenset({"rules"})


@dataclass(frozen=True)
class SimulationResult:
    out: Path
    files: dict[str, Path]
    rows: dict[str, int]
    impact_rate: float
    seconds: float


def simulate(config: SimulationConfig, progress=None) -> SimulationResult:
    """Simulate `config.days` of `config.world` and write a contract data directory to `config.out`."""
    started = time.perf_counter()
    step = progress or (lambda message: None)
    rng = _streams(config)
    world = shift_world(config.organisation, config.shifts)
    clock = Clock.for_config(config)
    profile = config.profile

    step("changes and incidents")
    changes = simulate_changes(world, clock, rng["changes"], config.id_tag)
    incidents = simulate_incidents(world, clock, changes, rng["incidents"], config.id_tag)
    effects = apply_incidents(world, incidents, clock)
    step("journey traffic")
    funnel = simulate_funnel(world, clock, effects, profile.traffic, rng["traffic"])
    outcomes = funnel_to_outcomes(world, funnel, clock)
    step("alerts")
    rules = shift_rules(
        build_rules(config.organisation, rng["rules"]), world, config.shifts, config.seed
    )
    detector = shift_detector(DETECTOR, config.shifts)
    hosts = profile.hosts_per_service
    peak_drop = peak_stage_drop(effects, len(incidents))
    firings = [
        simulate_noise(world, rules, clock, hosts, profile.noise, detector, rng["noise"]),
        simulate_incident_alerts(
            world, rules, incidents, peak_drop, hosts, detector, rng["incident_alerts"]
        ),
    ]
    coincident = simulate_coincident_noise(
        world, rules, incidents, peak_drop, hosts, detector, rng["coincident"]
    )
    if len(coincident):  # a world without it writes what it wrote before it existed
        firings.append(coincident)
    firings = pd.concat(firings, ignore_index=True)
    alerts, incident_of_alert = firings_to_alerts(world, firings, rules, clock, config.id_tag)
    incidents = incident_damage(world, incidents, effects, funnel)
    truth = alert_truth(alerts, incident_of_alert, incidents)

    step("writing files")
    files = write_data_dir(
        config.out,
        alerts=alerts,
        journey_outcomes=outcomes,
        changes=changes,
        truth=truth,
        incidents=incidents,
        journey_map=journey_map_document(world),
        map_truth=map_truth(world),
        funnel=funnel if config.events else None,
        world=world,
        clock=clock,
        entropy=config.entropy,
        manifest=_manifest(config, clock, world),
    )
    rows = {
        "alerts": len(alerts),
        "journey_outcomes": len(outcomes),
        "changes": len(changes),
        "incidents": len(incidents),
    }
    return SimulationResult(
        config.out, files, rows, float(truth["true_impact"].mean()), time.perf_counter() - started
    )


def _streams(config: SimulationConfig) -> dict[str, np.random.Generator]:
    shop = np.random.SeedSequence(config.seed).spawn(len(STREAMS))
    period = np.random.SeedSequence(list(config.entropy)).spawn(len(STREAMS))
    return {
        name: np.random.default_rng(shop[i] if name in WORLD_STREAMS else period[i])
        for i, name in enumerate(STREAMS)
    }


def _manifest(config: SimulationConfig, clock: Clock, world: World) -> dict:
    """simulation.json: how the directory was made (no paths or run times: it is reproducible).

    The shop's manifest predates worlds and stays byte for byte what it was; others name theirs.
    """
    named = {} if config.world == DEFAULT_WORLD else {"world": config.world}
    return named | {
        "seed": config.seed,
        "period": config.period,
        "start": pd.Timestamp(clock.start_ns, tz="UTC").isoformat(),
        "end": pd.Timestamp(clock.end_ns, tz="UTC").isoformat(),
        "days": config.days,
        "scale": config.scale,
        "window_min": clock.window_min,
        "events": config.events,
        "shifts": list(config.shifts),
        "shift_details": {name: SHIFTS[name].summary for name in config.shifts},
        "journey_map_version": world.map_version,
    }
