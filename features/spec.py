"""The feature specification a model carries: which features, their kinds and categories, and their config."""

from __future__ import annotations

import json

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
        inputs = features.reindex(columns=list(self.features)).copy()
        for name in self.features:
            if name in self.categorical:
                inputs[name] = pd.Categorical(
                    inputs[name].astype(object), categories=list(self.categorical[name])
                )
            else:
                inputs[name] = pd.to_numeric(inputs[name], errors="coerce").astype("float64")
        return inputs

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2)

    @classmethod
    def from_json(cls, text: str) -> FeatureSpec:
        return cls.model_validate_json(text)
