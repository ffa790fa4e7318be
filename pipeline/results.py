"""What the audit, outcomes and map-check jobs compute: the result objects their reports take."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.episodes import EpisodeConfig
from features.journey_map import JourneyMap
from features.map_evidence import MapCheckConfig, MapEvidence
from features.stages import StageIndex
from models.drift import Verdict
from models.replay import Replay


@dataclass(frozen=True)
class Audit:
    model_uri: str
    version: str | None
    source: str  # "inference log" or "data directory"
    period: tuple[pd.Timestamp, pd.Timestamp]
    alerts: int
    features: pd.DataFrame
    score: dict
    tiers: dict
    coverage: dict
    performance: dict | None
    verdict: Verdict


@dataclass(frozen=True)
class Outcomes:
    """Everything the report shows, computed over one period of a data directory."""

    period_start: pd.Timestamp
    period_end: pd.Timestamp
    episodes: (
        pd.DataFrame
    )  # features.episodes.EPISODE_COLUMNS, plus minutes to each policy's first page
    windows: (
        pd.DataFrame
    )  # per stage × window: observed, expected, z (features.episodes.window_losses)
    per_stage: pd.DataFrame  # per stage over the period (features.episodes.stage_summary)
    stage_weeks: pd.DataFrame  # per stage and week
    replay: Replay
    pages: dict[str, np.ndarray]  # policy -> paged mask over `alerts`
    alerts: pd.DataFrame  # the period's alerts, in time order
    stage_index: StageIndex
    budget: float
    config: EpisodeConfig
    data_dir: str
    model_uri: str | None = None
    model_version: str | None = None

    @property
    def days(self) -> float:
        return (self.period_end - self.period_start) / pd.Timedelta(days=1)


@dataclass(frozen=True)
class MapCheck:
    """The check's findings and what they were computed on."""

    found: MapEvidence
    episodes: pd.DataFrame
    journey_map: JourneyMap
    map_source: str  # the data directory's journey_map.yaml, or the model's map
    period: tuple[pd.Timestamp, pd.Timestamp]
    alerts: int
    config: MapCheckConfig
