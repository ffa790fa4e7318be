"""What a simulated organisation is, as data: its journeys, people, clocks, services, monitoring and map.

Every simulate module reads the World it is given; the concrete organisations live in worlds/.
The simulator is the one place allowed to name them: library code reads all of this from the
journey map and the data, never from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class StageDef:
    name: str
    impact: float
    value: float
    completion: float  # base probability that a session at this stage goes on
    abandon: float  # of the sessions that do not go on, the share that leaves within the window
    latency_ms: float
    services: dict[str, str]  # the services the stage really uses: name -> hard | soft
    owner: str = ""


@dataclass(frozen=True)
class JourneyDef:
    name: str
    daily_sessions: float  # arrivals at the first stage per day, whole world, before seasonality
    stages: tuple[StageDef, ...]
    weekend_factor: float = 1.0
    segment_shares: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SegmentDef:
    weight: float  # worth of a lost conversion (the map's segment weight)
    completion: float  # multiplier on every stage's completion rate
    weekend: float = 1.0  # multiplier on its traffic on local Saturdays and Sundays


@dataclass(frozen=True)
class RegionDef:
    share: float  # of every journey's traffic
    utc_offset: float  # hours ahead of UTC: drives the local daily cycle and weekends


@dataclass(frozen=True)
class Diurnal:
    """Daily traffic shape by local hour: a floor plus Gaussian peaks, scaled to a mean near 1."""

    base: float
    peaks: tuple[tuple[float, float, float], ...]  # (height, local hour, width in hours)
    mean: float  # the shape's mean over a day before scaling

    @classmethod
    def normalised(cls, base: float, peaks: tuple[tuple[float, float, float], ...]) -> Diurnal:
        """The shape with its true daily mean, so a day's traffic is what the journey says."""
        raw = cls(base, peaks, 1.0)(np.arange(0, 24, 1 / 60))
        return cls(base, peaks, round(float(raw.mean()), 4))

    def __call__(self, hour: np.ndarray) -> np.ndarray:
        shape = self.base
        for height, centre, width in self.peaks:
            shape = shape + height * np.exp(-0.5 * ((hour - centre) / width) ** 2)
        return shape / self.mean


@dataclass(frozen=True)
class ScaleProfile:
    """How big one world is at a scale: window width, traffic, monitored hosts and noise volume."""

    window_min: int
    traffic: float  # multiplier on every journey's daily sessions
    hosts_per_service: int  # infrastructure alerts fire per host
    noise: float  # multiplier on noise-alert rates


@dataclass(frozen=True)
class IncidentKind:
    share: float  # of spontaneous incidents
    log_minutes: float  # log-median duration
    minutes_sigma: float
    log_size: float  # log-median size (degradation = MAX × (1 − e^−size))
    size_sigma: float
    error_share: float = 0.15  # of the degradation users see as errors
    slows: bool = False  # latency grows with it
    ramps: bool = False  # grows over most of its life; its alerts come late
    regional: bool = False  # hits one region only


@dataclass(frozen=True)
class IncidentRates:
    kinds: Mapping[str, IncidentKind]
    per_service_day: float  # spontaneous incidents of a service on a user path
    off_path_per_service_day: float
    mitigated_share: (
        float  # failover or retries absorb the failure: alerts fire, users barely notice
    )


@dataclass(frozen=True)
class Monitoring:
    """Who writes the alert rules and how: teams, sources, severity habits, coincident noise."""

    teams: tuple[str, ...]
    sources: Mapping[str, float]  # where the teams' rules live -> share of services
    datastores: frozenset[str]  # services monitored with datastore rules
    team_bias: tuple[int, ...]  # severity levels a team adds, drawn per team
    # Chance that a service on a stage an incident degrades fires an unrelated alert meanwhile
    # (retries, rerouted load): noise that coincides with real impact.
    coincident_chance: float = 0.0


@dataclass(frozen=True)
class World:
    """One organisation. What stays put from one period to the next, unless a shift changes it."""

    journeys: tuple[JourneyDef, ...]
    dependencies: Mapping[str, Mapping[str, str]]  # the true call graph: caller -> {callee: kind}
    off_path_services: tuple[str, ...]  # services that run the business on no user path
    unmapped_services: tuple[str, ...]  # real services the journey map leaves out
    map_version: str
    segments: Mapping[str, SegmentDef]
    regions: Mapping[str, RegionDef]
    diurnal: Diurnal
    scales: Mapping[str, ScaleProfile]
    incidents: IncidentRates
    monitoring: Monitoring
    escalation: Mapping[str, str]
    playbooks: Mapping[str, str]
    incident_factor: Mapping[str, float] = field(default_factory=dict)  # service -> rate multiplier
    # Planted map errors besides the missing services: edges the map lists that the call graph
    # does not have, and services renamed since the map was written (old, new).
    false_dependencies: tuple[tuple[str, str], ...] = ()
    migrations: tuple[tuple[str, str], ...] = ()
    supports_shifts: bool = False  # shifts.py names this world's services

    def all_services(self) -> list[str]:
        """Every service of the world, on a user path or not, in a stable order."""
        names: set[str] = set(self.dependencies) | set(self.off_path_services)
        for callees in self.dependencies.values():
            names |= set(callees)
        for journey in self.journeys:
            for stage in journey.stages:
                names |= set(stage.services)
        return sorted(names)

    def flat_stages(self) -> list[tuple[str, StageDef]]:
        """(journey name, StageDef) in funnel order, journey by journey."""
        return [(j.name, s) for j in self.journeys for s in j.stages]
