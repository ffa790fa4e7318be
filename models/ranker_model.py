"""The ranker as one self-contained MLflow pyfunc: plain-file artifacts, the project's code, and a signature."""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import mlflow
import pandas as pd
import yaml

from features.baselines import Baselines
from features.journey_map import JourneyMap
from features.spec import FeatureSpec
from models.calibration import ScoreCalibrator
from models.ranking import Ranker
from models.tiers import TierThresholds

ARTIFACT_KEY = "ranker"
CODE_DIRS = ("features", "models")
REPO_ROOT = Path(__file__).resolve().parent.parent


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
    )


class JourneyRankerModel(mlflow.pyfunc.PythonModel):
    """pyfunc: rows of alert meta + features in, ranked answers out (params: model_version)."""

    def load_context(self, context) -> None:
        self.ranker = load_ranker(Path(context.artifacts[ARTIFACT_KEY]))

    def predict(
        self, context, model_input: pd.DataFrame, params: dict | None = None
    ) -> pd.DataFrame:
        return self.ranker.rank(model_input, model_version=(params or {}).get("model_version", ""))


def log_ranker(ranker: Ranker, folder: Path, example: pd.DataFrame, name: str = "ranker"):
    """Log the ranker to the active run with its code, signature and input example; returns the ModelInfo."""
    save_ranker(ranker, folder)
    example = example.reset_index(drop=True)
    if isinstance(example["fired_at"].dtype, pd.DatetimeTZDtype):
        # MLflow signatures hold naive datetimes: the ranker reads naive times as UTC
        example["fired_at"] = example["fired_at"].dt.tz_convert("UTC").dt.tz_localize(None)
    signature = mlflow.models.infer_signature(
        example, ranker.rank(example), params={"model_version": ""}
    )
    return mlflow.pyfunc.log_model(
        name=name,
        python_model=JourneyRankerModel(),
        artifacts={ARTIFACT_KEY: str(folder)},
        code_paths=[str(REPO_ROOT / d) for d in CODE_DIRS],
        signature=signature,
        input_example=example,
        pip_requirements=_requirements(),
    )


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [
        f"{p}=={version(p)}"
        for p in (
            "mlflow",
            "lightgbm",
            "pandas",
            "pyarrow",
            "numpy",
            "scikit-learn",
            "pydantic",
            "pyyaml",
            "pandera",
            "scipy",
        )
    ]
