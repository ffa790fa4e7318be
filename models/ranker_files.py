"""The ranker's fitted parts as plain files a person can open (no pickles, no MLflow needed to read them)."""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import pandas as pd
import yaml

from features.baselines import Baselines
from features.journey_map import JourneyMap
from features.spec import FeatureSpec
from models.calibration import ScoreCalibrator
from models.priority import UnmappedStand
from models.ranking import Ranker
from models.tiers import TierThresholds

RANKER_DIR = "ranker"  # the ranker's plain files; MLflow keeps the folder's name under artifacts/
PROFILE_FILE = "profile.json"
UNMAPPED_FILE = "unmapped.json"


def ranker_files_in(mlflow_model: Path) -> Path:
    """Where the ranker's plain files sit inside a saved MLflow model (its MLmodel's folder)."""
    return Path(mlflow_model) / "artifacts" / RANKER_DIR


def save_ranker(ranker: Ranker, folder: Path) -> Path:
    """Every fitted part as a file a person can open: booster text, JSON, Parquet, YAML."""
    folder.mkdir(parents=True, exist_ok=True)
    ranker.booster.save_model(str(folder / "booster.txt"))
    (folder / "calibrator.json").write_text(json.dumps(ranker.calibrator.to_dict()))
    (folder / "feature_spec.json").write_text(ranker.spec.to_json())
    ranker.baselines.to_frame().to_parquet(folder / "baselines.parquet", index=False)
    (folder / "thresholds.json").write_text(json.dumps(ranker.thresholds.to_dict(), indent=2))
    (folder / "journey_map.yaml").write_text(
        yaml.safe_dump(ranker.journey_map.model_dump(mode="json"), sort_keys=False)
    )
    (folder / "info.json").write_text(json.dumps(ranker.info, indent=2, default=str))
    (folder / PROFILE_FILE).write_text(json.dumps(ranker.profile, default=str))
    (folder / UNMAPPED_FILE).write_text(json.dumps(ranker.unmapped.to_dict(), indent=2))
    return folder


def load_ranker(folder: Path) -> Ranker:
    return Ranker(
        booster=lgb.Booster(model_file=str(folder / "booster.txt")),
        calibrator=ScoreCalibrator.from_dict(json.loads((folder / "calibrator.json").read_text())),
        spec=FeatureSpec.from_json((folder / "feature_spec.json").read_text()),
        baselines=Baselines.from_frame(pd.read_parquet(folder / "baselines.parquet")),
        thresholds=TierThresholds(**json.loads((folder / "thresholds.json").read_text())),
        journey_map=JourneyMap.model_validate(
            yaml.safe_load((folder / "journey_map.yaml").read_text())
        ),
        info=json.loads((folder / "info.json").read_text()),
        profile=_profile(folder / PROFILE_FILE),
        unmapped=_unmapped(folder / UNMAPPED_FILE),
    )


def _profile(path: Path) -> dict:
    """Models saved before audits existed carry no profile; `journeyrank audit` says so."""
    return json.loads(path.read_text()) if path.exists() else {}


def _unmapped(path: Path) -> UnmappedStand:
    """Models saved before the stand was fitted rank unmapped alerts by the rule they were trained with."""
    return UnmappedStand(**json.loads(path.read_text())) if path.exists() else UnmappedStand()
