"""The offline feature job's core: labels and point-in-time features for every alert of a data directory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.attribution import attributed_labels
from features.baselines import Baselines, fit_baselines
from features.config import FeatureJobConfig
from features.families.incident import with_incidents
from features.labels import apply_feedback, label_history
from features.loading import DataDir
from features.recipe import Recipe
from features.schemas import STRING_DTYPE, TIMESTAMP_DTYPE
from features.stages import StageIndex

META_COLUMNS = ("alert_id", "fired_at", "service", "severity", "alert_source", "journey", "stage")


@dataclass(frozen=True)
class FeatureTable:
    """Features, labels and impact weights per alert, with the fitted state they were computed with."""

    frame: pd.DataFrame
    baselines: Baselines
    stages: StageIndex
    config: FeatureJobConfig
    window_ns: int
    incidents: pd.DataFrame | None = None  # the grouper's answer of every alert, by alert_id


def build_feature_table(
    data: DataDir,
    config: FeatureJobConfig | None = None,
    baselines: Baselines | None = None,
    feedback: pd.DataFrame | None = None,
    progress: Callable[[str], None] | None = None,
) -> FeatureTable:
    """Fit baselines (unless given), derive labels, then compute every feature as of each fired_at.

    The `label` column is the training target (attributed to causes, see features.attribution);
    the track-record features read the window labels as they matured, which is what a live
    service knows at each fired_at.
    """
    config = config or FeatureJobConfig()
    step = progress or (lambda _: None)
    stages = StageIndex.from_map(data.journey_map)
    window_ns = int(data.window.value)
    if baselines is None:
        baselines = fit_baselines(data.journey_outcomes, stages, window_ns, config.baselines)
    step("baselines")
    recipe = Recipe.of(data.journey_map, baselines, config, window_ns, stages)
    feedback = feedback if feedback is not None else data.feedback
    journey = recipe.journey(data.journey_outcomes)
    derived = recipe.labels(data.alerts, journey)
    target = attributed_labels(
        derived, data, stages, baselines, config.attribution, config.incidents
    )
    labels = apply_feedback(target, feedback) if feedback is not None else target
    step("labels")
    label_events = label_history(data.alerts, derived, feedback)
    context = recipe.indexed_context(journey, data.alerts, data.changes, label_events)
    step("history indexes")
    incidents = recipe.incidents(data.alerts, data.changes)
    step("incidents")
    features = recipe.features(with_incidents(data.alerts, incidents), context, progress=step)
    frame = join_on_alert_id(alert_meta(data.alerts, stages), features, labels)
    return FeatureTable(frame, baselines, stages, config, window_ns, incidents)


def join_on_alert_id(meta: pd.DataFrame, *others: pd.DataFrame) -> pd.DataFrame:
    """meta, then each other frame's columns, matched one to one on alert_id.

    All three are built from the alerts in their order, so when the ids line up and are unique the
    match is a side-by-side concat; anything else goes through merge, which checks and explains.
    """
    ids = meta["alert_id"]
    names = [name for frame in (meta, *others) for name in frame.columns if name != "alert_id"]
    aligned = (
        len(set(names)) == len(names)
        and ids.is_unique
        and all(
            len(other) == len(ids) and (other["alert_id"].to_numpy() == ids.to_numpy()).all()
            for other in others
        )
    )
    if not aligned:
        frame = meta
        for other in others:
            frame = frame.merge(other, on="alert_id", validate="one_to_one")
        return frame
    parts = [meta.reset_index(drop=True)] + [
        other.drop(columns="alert_id").reset_index(drop=True) for other in others
    ]
    return pd.concat(parts, axis=1)


def alert_meta(alerts: pd.DataFrame, stages: StageIndex) -> pd.DataFrame:
    """Who the alert is (for slices and answers): ids, source, and the stage it matters most to."""
    journey, stage = primary_stage(alerts["service"], stages)
    return pd.DataFrame(
        {
            "alert_id": _values(alerts["alert_id"]),
            "fired_at": _values(alerts["fired_at"]),
            "service": _values(alerts["service"]),
            "severity": _values(alerts["severity"]),
            "source": _values(alerts["source"]),
            "journey": journey,
            "stage": stage,
        }
    ).rename(columns={"source": "alert_source"})


def _values(column: pd.Series):
    """The column's values as a new frame would hold them from `column.to_numpy()`.

    The contract's own dtypes come back from that round trip unchanged, so they skip it (a
    tz-aware column makes a million Timestamp objects on the way); any other dtype takes it.
    """
    if column.dtype == STRING_DTYPE or column.dtype == TIMESTAMP_DTYPE:
        return column.array
    return column.to_numpy()


def primary_stage(services: pd.Series, stages: StageIndex) -> tuple[np.ndarray, np.ndarray]:
    """The mapped stage with the highest impact (then hard before soft, then fewest hops); None if unmapped."""
    pairs = stages.pairs(services)
    pairs["impact"] = stages.table["impact"].to_numpy()[pairs["stage_code"]]
    best = pairs.sort_values(
        ["row", "impact", "kind_code", "hops"], ascending=[True, False, True, True]
    )
    best = best.drop_duplicates("row").set_index("row")["stage_code"].reindex(range(len(services)))
    found = best.notna().to_numpy()
    codes = best.fillna(0).astype(int).to_numpy()
    journey = np.where(found, stages.table["journey"].to_numpy(dtype=object)[codes], None)
    stage = np.where(found, stages.table["stage"].to_numpy(dtype=object)[codes], None)
    return journey, stage
