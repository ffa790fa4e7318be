"""Settings of one simulation run: length, seed, scale, and what to write."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

Scale = Literal["small", "large"]


@dataclass(frozen=True)
class ScaleProfile:
    """How big the shop is: window width, traffic, monitored hosts and noise volume."""

    window_min: int
    traffic: float  # multiplier on every journey's daily sessions
    hosts_per_service: int  # infrastructure alerts fire per host
    noise: float  # multiplier on noise-alert rates


SCALES: dict[str, ScaleProfile] = {
    "small": ScaleProfile(window_min=5, traffic=1.0, hosts_per_service=3, noise=1.0),
    "large": ScaleProfile(window_min=1, traffic=3.0, hosts_per_service=30, noise=10.0),
}

DEFAULT_START = datetime(2026, 10, 5, tzinfo=UTC)  # a Monday


@dataclass(frozen=True)
class SimulationConfig:
    out: Path
    days: int = 14
    seed: int = 7
    scale: Scale = "small"
    events: bool = False
    start: datetime = DEFAULT_START

    @property
    def profile(self) -> ScaleProfile:
        return SCALES[self.scale]
