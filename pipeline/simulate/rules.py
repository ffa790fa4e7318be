"""The alert rules teams wrote (what each watches, its noise, its severity) and the AIOps detector."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .world import World

SEVERITY_LEVELS = ("info", "warning", "high", "critical")


@dataclass(frozen=True)
class Template:
    alert_name: str
    signal: str
    detects: dict[str, float]  # incident kind -> chance to fire on its own service at full size
    lag_min: float
    noise_per_day: float  # false firings per host per day
    pattern: str = "flat"  # flat | load | nightly
    severity_odds: dict[str, float] = field(default_factory=dict)


APP = (
    Template(
        "HighErrorRate",
        "errors",
        {
            "outage": 0.9,
            "error_burst": 0.85,
            "partial_region": 0.6,
            "slow_burn": 0.4,
            "latency": 0.1,
        },
        3,
        0.12,
        "load",
        {"critical": 0.25, "high": 0.5, "warning": 0.25},
    ),
    Template(
        "HighLatencyP95",
        "latency",
        {
            "latency": 0.85,
            "slow_burn": 0.6,
            "outage": 0.3,
            "error_burst": 0.2,
            "partial_region": 0.3,
        },
        5,
        0.25,
        "load",
        {"critical": 0.1, "high": 0.4, "warning": 0.5},
    ),
    Template(
        "InstanceDown",
        "availability",
        {"outage": 0.9, "partial_region": 0.5},
        2,
        0.05,
        "flat",
        {"critical": 0.7, "high": 0.3},
    ),
    Template(
        "CPUThrottlingHigh",
        "saturation",
        {"latency": 0.3, "slow_burn": 0.3},
        8,
        0.35,
        "load",
        {"critical": 0.05, "high": 0.25, "warning": 0.5, "info": 0.2},
    ),
    Template(
        "MemoryPressure",
        "saturation",
        {"slow_burn": 0.4},
        10,
        0.18,
        "flat",
        {"critical": 0.05, "high": 0.3, "warning": 0.45, "info": 0.2},
    ),
    Template(
        "PodCrashLooping",
        "other",
        {"outage": 0.5, "error_burst": 0.3},
        4,
        0.15,
        "flat",
        {"critical": 0.3, "high": 0.4, "warning": 0.3},
    ),
    Template(
        "ErrorBudgetBurnFast",
        "errors",
        {
            "outage": 0.9,
            "error_burst": 0.7,
            "latency": 0.4,
            "slow_burn": 0.7,
            "partial_region": 0.6,
        },
        6,
        0.03,
        "flat",
        {"critical": 0.5, "high": 0.4, "warning": 0.1},
    ),
)
DATASTORE = (
    Template(
        "InstanceDown",
        "availability",
        {"outage": 0.9, "partial_region": 0.5},
        2,
        0.05,
        "flat",
        {"critical": 0.8, "high": 0.2},
    ),
    Template(
        "ReplicationLag",
        "other",
        {"slow_burn": 0.4, "latency": 0.3},
        7,
        0.5,
        "nightly",
        {"critical": 0.2, "high": 0.4, "warning": 0.4},
    ),
    Template(
        "SlowQueries",
        "latency",
        {"latency": 0.8, "slow_burn": 0.6, "outage": 0.2},
        5,
        0.4,
        "load",
        {"high": 0.4, "warning": 0.5, "info": 0.1},
    ),
    Template(
        "ConnectionsNearLimit",
        "saturation",
        {"outage": 0.4, "error_burst": 0.4, "latency": 0.3},
        4,
        0.3,
        "load",
        {"critical": 0.3, "high": 0.4, "warning": 0.3},
    ),
    Template(
        "DiskWillFillIn4h",
        "saturation",
        {"slow_burn": 0.2},
        15,
        0.2,
        "nightly",
        {"critical": 0.4, "high": 0.3, "warning": 0.3},
    ),
)
OFF_PATH = (
    Template(
        "JobFailed",
        "errors",
        {"outage": 0.9, "error_burst": 0.8, "partial_region": 0.5},
        3,
        0.4,
        "nightly",
        {"critical": 0.4, "high": 0.4, "warning": 0.2},
    ),
    Template(
        "JobDurationHigh",
        "latency",
        {"latency": 0.7, "slow_burn": 0.6},
        10,
        0.5,
        "nightly",
        {"high": 0.3, "warning": 0.6, "info": 0.1},
    ),
    Template(
        "InstanceDown",
        "availability",
        {"outage": 0.9, "partial_region": 0.5},
        2,
        0.1,
        "flat",
        {"critical": 0.6, "high": 0.4},
    ),
    Template(
        "DiskWillFillIn4h",
        "saturation",
        {"slow_burn": 0.2},
        15,
        0.3,
        "nightly",
        {"critical": 0.4, "high": 0.3, "warning": 0.3},
    ),
    Template(
        "BacklogGrowing",
        "saturation",
        {"slow_burn": 0.6, "latency": 0.5},
        9,
        0.4,
        "load",
        {"critical": 0.2, "high": 0.4, "warning": 0.4},
    ),
)
ANOMALY = (
    Template(
        "AnomalousErrorRate",
        "anomaly",
        {"outage": 0.6, "error_burst": 0.6, "partial_region": 0.4, "slow_burn": 0.3},
        4,
        0.25,
        "load",
    ),
    Template(
        "AnomalousLatency",
        "anomaly",
        {"latency": 0.6, "slow_burn": 0.5, "outage": 0.3},
        4,
        0.25,
        "load",
    ),
    Template(
        "AnomalousTrafficDrop", "anomaly", {"outage": 0.5, "partial_region": 0.4}, 4, 0.15, "flat"
    ),
)
SYNTHETIC = Template("SyntheticCheckFailed", "availability", {}, 4, 0.25, "flat")
FLAPPING_SHARE = 0.1


@dataclass(frozen=True)
class Rule:
    rule_id: int
    service: str
    template: Template
    source: str
    severity: str
    team: str
    noise_per_day: float
    flapping: bool
    check: str = ""  # synthetic checks: the journey-stage they probe


@dataclass(frozen=True)
class Detector:
    """The AIOps anomaly detector's confidence: beta parameters on false positives and on incidents."""

    noise_score: tuple[float, float] = (2.0, 3.2)
    incident_score: tuple[float, float] = (4.5, 1.8)


DETECTOR = Detector()


def build_rules(world: World, rng: np.random.Generator) -> list[Rule]:
    """Every service's rules, the anomaly detector's, and one synthetic check per stage."""
    services, monitoring = world.all_services(), world.monitoring
    teams, sources = monitoring.teams, monitoring.sources
    team_of = {s: teams[int(rng.integers(len(teams)))] for s in services}
    bias = {t: int(rng.choice(list(monitoring.team_bias))) for t in teams}
    source_of = {s: str(rng.choice(list(sources), p=list(sources.values()))) for s in services}
    rules: list[Rule] = []
    for service in services:
        team = team_of[service]
        rules += service_rules(
            world, service, team, bias[team], source_of[service], rng, first_id=len(rules)
        )
    for journey in world.journeys:
        for stage in journey.stages:
            service = next(s for s, kind in stage.services.items() if kind == "hard")
            severity = "critical" if stage.impact >= 0.8 else "high"
            rules.append(
                Rule(
                    len(rules),
                    service,
                    SYNTHETIC,
                    "pagerduty",
                    severity,
                    team_of.get(service, "sre"),
                    SYNTHETIC.noise_per_day,
                    False,
                    check=f"{journey.name}/{stage.name}",
                )
            )
    return rules


def service_rules(
    world: World,
    service: str,
    team: str,
    team_bias: int,
    source: str,
    rng: np.random.Generator,
    first_id: int,
) -> list[Rule]:
    """One service's rules: those its team wrote (their noise and severity), then the detector's."""
    rules: list[Rule] = []
    for template in _templates_for(world, service):
        flapping = bool(rng.random() < FLAPPING_SHARE)
        noise = (
            template.noise_per_day
            * float(np.exp(rng.normal(0, 0.8)))
            * (rng.uniform(3, 10) if flapping else 1)
        )
        severity = _team_severity(template, team_bias, rng)
        rules.append(
            Rule(first_id + len(rules), service, template, source, severity, team, noise, flapping)
        )
    for template in ANOMALY:
        noise = template.noise_per_day * float(np.exp(rng.normal(0, 0.6)))
        rules.append(
            Rule(first_id + len(rules), service, template, "aiops", "", team, noise, False)
        )
    return rules


def _templates_for(world: World, service: str) -> tuple[Template, ...]:
    if service in world.monitoring.datastores:
        return DATASTORE
    if service in world.off_path_services:
        return OFF_PATH
    if service in world.dependencies or any(
        service in stage.services for _, stage in world.flat_stages()
    ):
        return APP
    return APP[:3]  # a thin external dependency: only the basics are monitored


def _team_severity(template: Template, team_bias: int, rng: np.random.Generator) -> str:
    names = list(template.severity_odds)
    odds = np.array(list(template.severity_odds.values()))
    level = SEVERITY_LEVELS.index(str(rng.choice(names, p=odds / odds.sum()))) + team_bias
    return SEVERITY_LEVELS[int(np.clip(level, 0, 3))]


def anomaly_severity(score: np.ndarray) -> np.ndarray:
    return np.select([score >= 0.9, score >= 0.75], ["high", "warning"], "info")
