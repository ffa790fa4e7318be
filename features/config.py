"""What an impact label and a feature mean, as typed settings: every threshold is data, logged per run."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BaselineConfig(_Config):
    """Robust per stage × segment × hour-of-week baselines that incidents do not distort."""

    trim_z: float = Field(
        4.0,
        gt=0,
        description="Windows whose rate sits this many robust SDs off the median are left out (incidents).",
    )
    shrink_sessions: float = Field(
        500.0,
        ge=0,
        description="Pseudo-sessions pulling a sparse hour-of-week toward its hour-of-day rate.",
    )


class LabelConfig(_Config):
    """An alert had user impact when its stages lost completions that are significant *and* material."""

    impact_window_min: int = Field(
        30, gt=0, description="Minutes after fired_at in which the loss is measured."
    )
    min_z: float = Field(
        2.5,
        ge=0,
        description="Statistical significance: one-sided z of lost completions (2.5: p ≈ 0.006).",
    )
    min_lost_completions: float = Field(
        10.0, ge=0, description="Materiality: completions lost at a stage."
    )
    min_relative_drop: float = Field(
        0.05, ge=0, le=1, description="Materiality: share of the stage's expected completions lost."
    )


class FeatureConfig(_Config):
    """Windows and priors of the point-in-time features."""

    live_data_delay_min: float = Field(
        0.0,
        ge=0,
        description="Minutes after a window ends before its outcomes are counted live (the feed's lag).",
    )
    flap_resolve_min: int = Field(
        10, gt=0, description="A firing resolved this fast counts as a flap."
    )
    change_lookback_min: int = Field(10080, gt=0, description="How far back a change still counts.")
    impact_prior_strength: float = Field(
        10.0, ge=0, description="Pseudo-labels pulling a rule's impact rate to the overall rate."
    )
    new_user_segments: tuple[str, ...] = Field(
        ("new",), description="Segments counted as new users."
    )


class FeatureJobConfig(_Config):
    """Everything that defines the feature table: baselines, labels and features."""

    baselines: BaselineConfig = BaselineConfig()
    labels: LabelConfig = LabelConfig()
    features: FeatureConfig = FeatureConfig()
