"""The one recipe from history to features: journey state → labels → label history → context → features.

Every path follows it with the fitted state it holds (the map, the baselines, the window width
and the config): the feature job (features/table.py) and its slices (features/slices.py), batch
scoring (pipeline/score.py), the service's warm start (serving/warm.py) and its live state
(features/online.py). What differs between them is only which history they hand it. The alerts
whose features are asked for carry their incident as it stood when they fired (the grouper's
answer, `with_incidents`): offline from `incidents` over the whole history, online from the
service's grouper, fed as alerts arrive.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from features.alert_index import AlertLookups, index_alerts
from features.baselines import Baselines
from features.build import build_features
from features.config import FeatureJobConfig
from features.context import (
    ChangeHistory,
    FeatureContext,
    LabelHistory,
    index_changes,
    index_labels,
)
from features.incidents import group_incidents
from features.journey_map import JourneyMap
from features.journey_state import JourneyState, build_journey_state
from features.labels import derive_impact_labels, label_history
from features.stages import StageIndex

MATURED_COLUMNS = ("alert_id", "matured_at", "label", "alert_name", "service")


@dataclass(frozen=True)
class History:
    """One history taken through the recipe: its journey state, derived labels and context."""

    journey: JourneyState
    derived: pd.DataFrame  # derive_impact_labels of the history's alerts
    context: FeatureContext


@dataclass(frozen=True)
class Recipe:
    """The fitted state features are computed with, and each step of the recipe on it."""

    journey_map: JourneyMap
    stages: StageIndex
    baselines: Baselines
    window_ns: int
    config: FeatureJobConfig
    # baselines aligned with a journey state's segments, by segments (they change rarely, if ever)
    _aligned: dict[tuple[str, ...], Baselines] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def of(
        cls,
        journey_map: JourneyMap,
        baselines: Baselines,
        config: FeatureJobConfig,
        window_ns: int,
        stages: StageIndex | None = None,
    ) -> Recipe:
        stages = stages if stages is not None else StageIndex.from_map(journey_map)
        return cls(journey_map, stages, baselines, int(window_ns), config)

    # ------------------------------------------------------------------ the steps

    def journey(
        self, outcomes: pd.DataFrame, origin_ns: int | None = None, end_ns: int | None = None
    ) -> JourneyState:
        """Observed against expected outcomes (on the grid [origin, end) when given)."""
        return build_journey_state(
            outcomes, self.stages, self.baselines, self.window_ns, origin_ns, end_ns
        )

    def labels(self, alerts: pd.DataFrame, journey: JourneyState) -> pd.DataFrame:
        """Each alert's derived impact label, from the outcomes of its impact window."""
        return derive_impact_labels(
            alerts, journey, self.stages, self.journey_map, self.config.labels
        )

    def matured_labels(self, alerts: pd.DataFrame, journey: JourneyState) -> pd.DataFrame:
        """The labels that matured, named by rule (MATURED_COLUMNS): what a live state keeps."""
        derived = self.labels(alerts, journey)
        matured = derived[derived["label"].notna()]
        return matured[["alert_id", "matured_at", "label"]].merge(
            alerts[["alert_id", "alert_name", "service"]], on="alert_id"
        )

    def context(
        self,
        journey: JourneyState,
        alerts: AlertLookups,
        changes: ChangeHistory,
        labels: LabelHistory,
    ) -> FeatureContext:
        """What the features may look at, from histories already indexed (online: kept up to date)."""
        return FeatureContext(
            stages=self.stages,
            journey_map=self.journey_map,
            baselines=self.aligned_baselines(journey),
            journey=journey,
            alerts=alerts,
            changes=changes,
            labels=labels,
            config=self.config.features,
        )

    def indexed_context(
        self,
        journey: JourneyState,
        alerts: pd.DataFrame,
        changes: pd.DataFrame | None,
        label_events: pd.DataFrame | None,
    ) -> FeatureContext:
        """context, indexing each history table once."""
        return self.context(
            journey,
            index_alerts(alerts, self.stages, self.config.features),
            index_changes(changes),
            index_labels(label_events),
        )

    def aligned_baselines(self, journey: JourneyState) -> Baselines:
        aligned = self._aligned.get(journey.segments)
        if aligned is None:
            aligned = self._aligned[journey.segments] = self.baselines.aligned(
                self.stages, journey.segments
            )
        return aligned

    def incidents(self, alerts: pd.DataFrame, changes: pd.DataFrame | None) -> pd.DataFrame:
        """Each alert's incident as it stood when it fired (the grouper's answer, by alert_id):
        one grouper over the whole history in fire order, as the service's grouper answers live."""
        grouped = group_incidents(alerts, self.journey_map, self.config.incidents, changes)
        grouped.index = pd.Index(alerts["alert_id"].astype(str).to_numpy(dtype=object))
        return grouped

    # ------------------------------------------------------------------ the whole recipe

    def over(
        self,
        outcomes: pd.DataFrame,
        alerts: pd.DataFrame,
        changes: pd.DataFrame | None,
        feedback: pd.DataFrame | None,
    ) -> History:
        """The recipe over one history: journey state, labels, their history as it matured, context."""
        journey = self.journey(outcomes)
        derived = self.labels(alerts, journey)
        label_events = label_history(alerts, derived, feedback)
        return History(
            journey, derived, self.indexed_context(journey, alerts, changes, label_events)
        )

    def features(
        self, alerts: pd.DataFrame, context: FeatureContext, progress=None
    ) -> pd.DataFrame:
        """Every feature of `alerts` as of each one's fired_at (alert_id first, catalogue order);
        the alerts carry their incident columns (features.families.incident.with_incidents)."""
        return build_features(alerts, context, progress=progress)
