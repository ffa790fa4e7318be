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
SMALL_BATCH = 1000  # alerts: up to this many, per-alert Python beats pandas' per-call overhead


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
    for name in CATEGORICAL:  # text, missing stays missing
        columns[name] = _as_text(columns[name])
    return pd.DataFrame(columns)


def _as_text(values: np.ndarray) -> np.ndarray | pd.Series:
    """Each value as its str, missing where missing: a "str" column once in the frame.

    A request's few alerts take a list (pandas' per-call cost is most of the time there); the
    offline job's many take pandas' vectorized conversion. Both give the same column.
    """
    if len(values) > SMALL_BATCH:
        column = pd.Series(values, dtype=object)
        return column.astype("str").where(column.notna(), None)
    values = np.asarray(values, dtype=object)
    missing = pd.isna(values)
    return np.array(
        [None if m else str(v) for v, m in zip(values, missing, strict=True)], dtype=object
    )


def feature_catalogue() -> str:
    return catalogue_markdown(
        ALL_FEATURES, {title: family.FEATURES for title, family in FAMILIES.items()}
    )
