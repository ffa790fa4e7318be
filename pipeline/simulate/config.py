"""Settings of one simulation run: length, seed, scale, period, shifts, and what to write."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from .shifts import SHIFTS
from .world import ScaleProfile, World
from .worlds import DEFAULT_WORLD, WORLDS, world_named

Scale = Literal["small", "large"]
SCALES = ("small", "large")  # every world has a profile for each

DEFAULT_START = datetime(2026, 10, 5, tzinfo=UTC)  # a Monday


@dataclass(frozen=True)
class SimulationConfig:
    """One run of one world. Periods of one seed are the same organisation (services, rules, teams, sources); only
    what happens in them (traffic, changes, incidents, firings, scores) is drawn afresh.

    `start` must be a UTC midnight; left out, it is DEFAULT_START for period 0 and the period
    right after the one before for later periods (DEFAULT_START + period × days), and it is
    always a datetime once the config exists. `shifts` name changes applied to the whole
    period (see shifts.py); they are kept once each, in the order they are applied.
    """

    out: Path
    days: int = 14
    seed: int = 7
    scale: Scale = "small"
    events: bool = False
    start: datetime | None = None
    period: int = 0
    shifts: tuple[str, ...] = ()
    world: str = DEFAULT_WORLD

    def __post_init__(self) -> None:
        the_world = world_named(self.world)
        if self.days < 1:
            raise ValueError(f"days must be at least 1, got {self.days}")
        if self.period < 0:
            raise ValueError(f"period must be 0 or more, got {self.period}")
        unknown = [name for name in self.shifts if name not in SHIFTS]
        if unknown:
            raise ValueError(f"unknown shift {unknown[0]!r}: expected one of {', '.join(SHIFTS)}")
        if self.shifts and not the_world.supports_shifts:
            shifting = [name for name, w in WORLDS.items() if w.supports_shifts]
            raise ValueError(
                f"shifts are written for the {', '.join(shifting)} world, not {self.world!r}"
            )
        object.__setattr__(self, "shifts", tuple(name for name in SHIFTS if name in self.shifts))
        object.__setattr__(self, "start", self._resolved_start())

    def _resolved_start(self) -> datetime:
        if self.start is None:
            return DEFAULT_START + timedelta(days=self.period * self.days)
        if self.start.tzinfo is None:
            raise ValueError(f"start needs a time zone, got {self.start.isoformat()}")
        start = self.start.astimezone(UTC)
        # Daily cycles, weekdays and change hours are laid out from a midnight-UTC start.
        if start != start.replace(hour=0, minute=0, second=0, microsecond=0):
            raise ValueError(f"start must be a midnight UTC, got {start.isoformat()}")
        return start

    @property
    def organisation(self) -> World:
        """The world simulated, before any shift."""
        return WORLDS[self.world]

    @property
    def profile(self) -> ScaleProfile:
        return self.organisation.scales[self.scale]

    @property
    def entropy(self) -> tuple[int, ...]:
        """Seed words of what happens in this period; period 0's are the seed alone, as they
        were before periods existed, so its files stay byte for byte what they were."""
        return (self.seed,) if self.period == 0 else (self.seed, self.period)

    @property
    def id_tag(self) -> str:
        """Later periods tag their ids (alrt-p1-0000001) so periods can be stacked without clashes."""
        return "" if self.period == 0 else f"p{self.period}-"
