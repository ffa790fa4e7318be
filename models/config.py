"""Training settings as typed data: the split, LightGBM, calibration and the page budget (all logged)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from features.config import FeatureJobConfig

# how models/calibration.py maps the booster's raw score to a probability
CalibrationMethod = Literal["centered_isotonic", "isotonic", "sigmoid"]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitConfig(_Config):
    """By time, never at random: train | validation (early stopping, calibration, thresholds) | held out."""

    validation_days: float = Field(3.0, gt=0)
    test_days: float = Field(5.0, gt=0)


class LightGBMConfig(_Config):
    learning_rate: float = 0.03
    num_leaves: int = 15
    min_child_samples: int = 20
    feature_fraction: float = 0.8
    bagging_fraction: float = 0.8
    bagging_freq: int = 1
    lambda_l2: float = 1.0
    cat_smooth: float = 20.0
    max_rounds: int = 2000
    early_stopping_rounds: int = 100
    seed: int = 7


class PageBudget(_Config):
    """How much paging the team accepts: a share of alerts, or pages a day (whichever is given)."""

    share: float | None = Field(
        0.10, gt=0, le=1, description="Page at most this share of alerts (P1 + P2)."
    )
    per_day: float | None = Field(
        None, gt=0, description="Or: page at most this many alerts a day."
    )
    incident_room_share: float = Field(
        0.2, gt=0, le=1, description="Of the pages, the top share is P1 (incident room)."
    )
    ticket_share: float = Field(
        0.2, ge=0, le=1, description="The next share of all alerts becomes P3 (ticket)."
    )

    @model_validator(mode="after")
    def _one_budget(self) -> PageBudget:
        if self.share is None and self.per_day is None:
            raise ValueError("set page_budget.share or page_budget.per_day")
        return self


class TrainConfig(_Config):
    """Everything `journeyrank train` reads; `--config FILE` overrides any part of it (YAML)."""

    features: FeatureJobConfig = FeatureJobConfig()
    split: SplitConfig = SplitConfig()
    lightgbm: LightGBMConfig = LightGBMConfig()
    calibration: CalibrationMethod = Field(
        "centered_isotonic",
        description="centered_isotonic: isotonic steps joined at their centres (calibrated, and "
        "the booster's order kept); isotonic: the steps; sigmoid: Platt's curve.",
    )
    page_budget: PageBudget = PageBudget()
    registered_model: str = "journeyrank"
