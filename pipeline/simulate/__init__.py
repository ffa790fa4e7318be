"""`journeyrank simulate`: an online shop whose incidents hurt journeys and whose monitoring is noisy."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .alerts import firings_to_alerts, simulate_incident_alerts, simulate_noise
from .changes import simulate_changes
from .clock import Clock
from .config import SCALES, SimulationConfig
from .effects import apply_incidents, peak_stage_drop
from .incidents import simulate_incidents
from .journey_map import journey_map_document
from .rules import build_rules
from .traffic import funnel_to_outcomes, simulate_funnel
from .truth import alert_truth, incident_damage
from .writer import write_data_dir

__all__ = ["SCALES", "SimulationConfig", "SimulationResult", "simulate"]


@dataclass(frozen=True)
class SimulationResult:
    out: Path
    files: dict[str, Path]
    rows: dict[str, int]
    impact_rate: float
    seconds: float


def simulate(config: SimulationConfig, progress=None) -> SimulationResult:
    """Simulate `config.days` of the shop and write a contract data directory to `config.out`."""
    started = time.perf_counter()
    step = progress or (lambda message: None)
    seeds = np.random.SeedSequence(config.seed).spawn(6)
    rng = [np.random.default_rng(s) for s in seeds]
    clock = Clock.for_config(config)
    profile = config.profile

    step("changes and incidents")
    changes = simulate_changes(clock, rng[0])
    incidents = simulate_incidents(clock, changes, rng[1])
    effects = apply_incidents(incidents, clock)
    step("journey traffic")
    funnel = simulate_funnel(clock, effects, profile.traffic, rng[2])
    outcomes = funnel_to_outcomes(funnel, clock)
    step("alerts")
    rules = build_rules(rng[3])
    firings = pd.concat(
        [
            simulate_noise(rules, clock, profile.hosts_per_service, profile.noise, rng[4]),
            simulate_incident_alerts(
                rules,
                incidents,
                peak_stage_drop(effects, len(incidents)),
                profile.hosts_per_service,
                rng[5],
            ),
        ],
        ignore_index=True,
    )
    alerts, incident_of_alert = firings_to_alerts(firings, rules, clock)
    incidents = incident_damage(incidents, effects, funnel)
    truth = alert_truth(alerts, incident_of_alert, incidents)

    step("writing files")
    files = write_data_dir(
        config.out,
        alerts=alerts,
        journey_outcomes=outcomes,
        changes=changes,
        truth=truth,
        incidents=incidents,
        journey_map=journey_map_document(),
        funnel=funnel if config.events else None,
        clock=clock,
        seed=config.seed,
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
