"""The feature specification a model carries: which features, their kinds and categories, and their config."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from features.build import ALL_FEATURES, CATEGORICAL
from features.config import FeatureJobConfig


class FeatureSpec(BaseModel):
    """Enough to rebuild exactly the model's inputs: feature order, category vocabularies, definitions."""

    model_config = ConfigDict(frozen=True)

    features: tuple[str, ...]
    categorical: dict[str, tuple[str, ...]]  # feature -> categories seen in training, in code order
    config: FeatureJobConfig
    window_ns: int
    journey_map_version: str

    @classmethod
    def from_table(
        cls, frame: pd.DataFrame, config: FeatureJobConfig, window_ns: int, map_version: str
    ) -> FeatureSpec:
        categories = {
            name: tuple(sorted(frame[name].dropna().astype(str).unique())) for name in CATEGORICAL
        }
        return cls(
            features=tuple(f.name for f in ALL_FEATURES),
            categorical=categories,
            config=config,
            window_ns=window_ns,
            journey_map_version=map_version,
        )

    def model_inputs(self, features: pd.DataFrame) -> pd.DataFrame:
        """The model's input frame: numeric as float64, categoricals with the training vocabulary (unseen → missing)."""
        columns = {}
        for name in self.features:
            values = features[name] if name in features else pd.Series(np.nan, index=features.index)
            if name in self.categorical:
                columns[name] = pd.Categorical(
                    values.to_numpy(dtype=object), categories=list(self.categorical[name])
                )
            else:
                columns[name] = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
        return pd.DataFrame(columns, index=features.index)

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2)

    @classmethod
    def from_json(cls, text: str) -> FeatureSpec:
        return cls.model_validate_json(text)
