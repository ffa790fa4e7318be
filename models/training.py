"""Fit the ranker: a time split, LightGBM with early stopping, calibration, and page-budget tiers."""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.baselines import Baselines
from features.journey_map import JourneyMap
from features.spec import FeatureSpec
from models.calibration import ScoreCalibrator
from models.config import LightGBMConfig, SplitConfig, TrainConfig
from models.priority import UnmappedStand, priority_score
from models.ranking import Ranker
from models.tiers import fit_thresholds

DAY = pd.Timedelta(days=1)
# More people at risk, or a stage that cannot work without the service, must never lower priority.
INCREASING = ("sessions_at_risk_15m", "expected_sessions_30m", "hard_dependency")


@dataclass(frozen=True)
class TimeSplit:
    """Labelled alerts cut by fired_at: train < validation_start <= validation < test_start <= test."""

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    validation_start: pd.Timestamp
    test_start: pd.Timestamp
    end: pd.Timestamp

    def days(self, part: str) -> float:
        bounds = {
            "validation": (self.validation_start, self.test_start),
            "test": (self.test_start, self.end),
        }
        start, end = bounds[part]
        return (end - start) / DAY

    def describe(self, part: str) -> str:
        """The part in words, with its period (UTC): 'validation days 2026-10-28 00:00 → 2026-10-31 00:00'."""
        if part == "train":
            return f"training days before {_day(self.validation_start)}"
        if part == "validation":
            return f"validation days {_day(self.validation_start)} → {_day(self.test_start)}"
        return f"held-out days {_day(self.test_start)} → {_day(self.end)}"


def _day(moment: pd.Timestamp) -> str:
    return "?" if pd.isna(moment) else moment.strftime("%Y-%m-%d %H:%M")


def split_by_time(
    alerts_start: pd.Timestamp, alerts_end: pd.Timestamp, config: SplitConfig
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The two cut points, on day boundaries from the end of the data; refused when train would be empty."""
    end = alerts_end.ceil("D")
    test_start = end - pd.Timedelta(days=config.test_days)
    validation_start = test_start - pd.Timedelta(days=config.validation_days)
    if validation_start <= alerts_start:
        span = (alerts_end - alerts_start) / DAY
        raise ValueError(
            f"the data spans {span:.1f} days: too short for {config.validation_days:g} validation and "
            f"{config.test_days:g} held-out days with training days before them"
        )
    return validation_start, test_start


def cut(frame: pd.DataFrame, validation_start: pd.Timestamp, test_start: pd.Timestamp) -> TimeSplit:
    """Only alerts whose label has matured take part; they stay in time order."""
    labelled = (
        frame[frame["label"].notna()].sort_values("fired_at", kind="stable").reset_index(drop=True)
    )
    labelled["label"] = labelled["label"].astype(int)
    fired = labelled["fired_at"]
    parts = [
        labelled[m].reset_index(drop=True)
        for m in (
            fired < validation_start,
            (fired >= validation_start) & (fired < test_start),
            fired >= test_start,
        )
    ]
    return TimeSplit(*parts, validation_start, test_start, fired.max())


NEEDS_BOTH = {
    "train": "the booster learns from",
    "validation": "early stopping, calibration and the tier thresholds are fitted on",
    "test": "the held-out evaluation and the champion gate are measured on",
}


def require_both_classes(split: TimeSplit, parts: tuple[str, ...] = tuple(NEEDS_BOTH)) -> None:
    """Refuse, naming the days and the counts, a part without alerts of both kinds (with user impact, without)."""
    problems = []
    for part in parts:
        label = getattr(split, part)["label"]
        impactful = int(label.sum())
        if 0 < impactful < len(label):
            continue
        kind = "with user impact" if impactful == 0 else "without user impact"
        problems.append(
            f"the {split.describe(part)} hold {len(label):,} labelled alerts, none {kind}, "
            f"but they are what {NEEDS_BOTH[part]}"
        )
    if problems:
        raise ValueError(
            "; ".join(problems) + ". Train on more days, or move the cut points "
            "(split.validation_days, split.test_days), so that every part holds both kinds."
        )


def impact_sample_weight(frame: pd.DataFrame) -> np.ndarray:
    """Positives count more the more they cost users: what impact-weighted recall rewards."""
    weight = np.nan_to_num(frame["impact_weight"].to_numpy(float))
    return np.where(frame["label"].to_numpy() == 1, 1.0 + np.sqrt(weight) / 3.0, 1.0)


def booster_params(spec: FeatureSpec, config: LightGBMConfig) -> dict:
    """LightGBM's parameters for the ranker: binary objective, monotone where more risk must rank higher."""
    return {
        "objective": "binary",
        "learning_rate": config.learning_rate,
        "num_leaves": config.num_leaves,
        "min_child_samples": config.min_child_samples,
        "feature_fraction": config.feature_fraction,
        "bagging_fraction": config.bagging_fraction,
        "bagging_freq": config.bagging_freq,
        "lambda_l2": config.lambda_l2,
        "cat_smooth": config.cat_smooth,
        "seed": config.seed,
        "deterministic": True,
        # LightGBM otherwise picks row- or column-wise histograms by timing both, so the same data
        # could train differently on a busy machine; its docs pair deterministic with forcing one.
        # Row-wise is what it picks on bench-data when the machine is quiet: ~1.4x col-wise there.
        "force_row_wise": True,
        "num_threads": 2,
        "verbose": -1,
        "monotone_constraints": [1 if name in INCREASING else 0 for name in spec.features],
        "monotone_constraints_method": "advanced",
    }


def fit_booster(split: TimeSplit, spec: FeatureSpec, config: LightGBMConfig) -> lgb.Booster:
    """LightGBM on native categoricals, early-stopped on the validation days."""
    train = lgb.Dataset(
        spec.model_inputs(split.train),
        split.train["label"],
        weight=impact_sample_weight(split.train),
    )
    valid = lgb.Dataset(
        spec.model_inputs(split.validation),
        split.validation["label"],
        weight=impact_sample_weight(split.validation),
        reference=train,
    )
    return lgb.train(
        booster_params(spec, config),
        train,
        config.max_rounds,
        valid_sets=[valid],
        callbacks=[lgb.early_stopping(config.early_stopping_rounds, verbose=False)],
    )


def fit_ranker(
    split: TimeSplit,
    spec: FeatureSpec,
    baselines: Baselines,
    journey_map: JourneyMap,
    config: TrainConfig,
    info: dict | None = None,
) -> Ranker:
    """Booster, then calibration and tier thresholds on the validation days (never the held-out ones)."""
    require_both_classes(split, ("train", "validation"))
    booster = fit_booster(split, spec, config.lightgbm)
    raw = booster.predict(spec.model_inputs(split.validation), raw_score=True)
    calibrator = ScoreCalibrator(config.calibration).fit(raw, split.validation["label"])
    probability = calibrator.predict(raw)
    unmapped = UnmappedStand.fit(split.train)
    thresholds = fit_thresholds(
        priority_score(probability, split.validation, unmapped),
        split.days("validation"),
        config.page_budget,
    )
    return Ranker(
        booster,
        calibrator,
        spec,
        baselines,
        thresholds,
        journey_map,
        info={"best_iteration": booster.best_iteration, **(info or {})},
        unmapped=unmapped,
    )
