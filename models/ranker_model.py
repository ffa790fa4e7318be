"""The ranker as one self-contained MLflow pyfunc: plain-file artifacts, the project's code, and a signature."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd

from models.ranker_files import RANKER_DIR, load_ranker, save_ranker
from models.ranking import Ranker

ARTIFACT_KEY = RANKER_DIR
CODE_DIRS = ("features", "models")
REPO_ROOT = Path(__file__).resolve().parent.parent


class JourneyRankerModel(mlflow.pyfunc.PythonModel):
    """pyfunc: rows of alert meta + features in, ranked answers out (params: model_version)."""

    def load_context(self, context) -> None:
        self.ranker = load_ranker(Path(context.artifacts[ARTIFACT_KEY]))

    def predict(
        self, context, model_input: pd.DataFrame, params: dict | None = None
    ) -> pd.DataFrame:
        return self.ranker.rank(model_input, model_version=(params or {}).get("model_version", ""))


def log_ranker(ranker: Ranker, scratch: Path, example: pd.DataFrame, name: str = RANKER_DIR):
    """Log the ranker to the active run with its code, signature and input example; returns the ModelInfo.

    Its plain files are written to `scratch`/ranker first, the folder MLflow copies.
    """
    folder = Path(scratch) / RANKER_DIR
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
