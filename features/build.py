"""`build_features`: every family's features for a batch of alerts, from one context (offline or online)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.catalogue import Feature, catalogue_markdown
from features.context import AlertBatch, FeatureContext
from features.families import FAMILIES

ALL_FEATURES: tuple[Feature, ...] = tuple(
    f for family in FAMILIES.values() for f in family.FEATURES
)
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in ALL_FEATURES)
CATEGORICAL: tuple[str, ...] = tuple(f.name for f in ALL_FEATURES if f.kind == "categorical")


def build_features(alerts: pd.DataFrame, context: FeatureContext, progress=None) -> pd.DataFrame:
    """alert_id plus one column per catalogued feature, in catalogue order, rows in the input's order."""
    batch = AlertBatch.of(alerts, context.stages)
    columns: dict[str, np.ndarray] = {"alert_id": batch.alerts["alert_id"].to_numpy(dtype=object)}
    for title, family in FAMILIES.items():
        values = family.compute(batch, context)
        declared = [f.name for f in family.FEATURES]
        if list(values) != declared:
            raise AssertionError(f"{family.__name__} computed {list(values)}, declares {declared}")
        columns.update(values)
        if progress:
            progress(title)
    frame = pd.DataFrame(columns)
    for name in CATEGORICAL:
        frame[name] = frame[name].astype("str").where(frame[name].notna(), None)
    return frame


def feature_catalogue() -> str:
    return catalogue_markdown(
        ALL_FEATURES, {title: family.FEATURES for title, family in FAMILIES.items()}
    )
