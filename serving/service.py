"""The BentoML service: thin and typed; the work happens in serving/engine.py."""

from __future__ import annotations

import os
from http import HTTPStatus
from pathlib import Path

import bentoml
from bentoml.exceptions import BentoMLException

from features.settings import load_settings
from serving.api_models import (
    AlertIn,
    ChangeIn,
    FeedbackIn,
    ModelInfo,
    OutcomeRow,
    RankResponse,
    Stored,
)
from serving.guard import Guard

MODEL_NAME = "journeyrank"
WARM_FROM_ENV = "JOURNEYRANK_WARM_FROM"
WARM_UNTIL_ENV = "JOURNEYRANK_WARM_UNTIL"
# One worker process: each holds the whole live state, so a second one doubles the memory. Its
# threads let requests that arrive together queue in the engine, which ranks them in shared
# passes (serving/engine.py); the engine's own locks keep the state consistent.
WORKERS, THREADS = 1, 8


# The serving process imports this module only to read the service's shape; pandas, LightGBM and
# the engine are imported by the worker that builds the service (in __init__), not here.
@bentoml.service(name="journeyrank", workers=WORKERS, threads=THREADS, traffic={"timeout": 60})
class JourneyRank:
    """Ranks alerts by their probability of user impact at the journey stages that matter."""

    model_ref = bentoml.models.BentoModel(f"{MODEL_NAME}:latest")

    def __init__(self) -> None:
        import pandas as pd

        from serving.engine import RankingEngine

        labels = self.model_ref.info.labels
        model = ModelInfo(
            name=MODEL_NAME,
            version=labels.get("mlflow_version", "unknown"),
            uri=labels.get("mlflow_uri", ""),
            journey_map_version=labels.get("journey_map_version", ""),
            page_share=float(labels.get("page_share", "nan")),
        )
        warm = os.environ.get(WARM_FROM_ENV)
        until = os.environ.get(WARM_UNTIL_ENV)
        self.engine = RankingEngine.open(
            load_settings(),
            ranker_folder(self.model_ref.path),
            model,
            Path(warm) if warm else None,
            pd.Timestamp(until) if until else None,
        )

    def __is_ready__(self) -> bool:
        return getattr(self, "engine", None) is not None and self.engine.ready

    @bentoml.api(route="/rank")
    def rank(self, alerts: list[AlertIn]) -> RankResponse:
        """Rank alerts (the contract's alerts schema), highest priority first."""
        from serving.engine import TooManyAlerts

        try:
            return self.engine.rank(alerts)
        except TooManyAlerts as err:
            raise BentoMLException(
                str(err), error_code=HTTPStatus.REQUEST_ENTITY_TOO_LARGE
            ) from err

    @bentoml.api(route="/journey-metrics")
    def journey_metrics(self, rows: list[OutcomeRow]) -> Stored:
        """The live journey feed: rows of journey_outcomes."""
        return Stored(stored=self.engine.ingest("outcomes", rows))

    @bentoml.api(route="/changes")
    def changes(self, rows: list[ChangeIn]) -> Stored:
        """Deploys, config pushes, flags, experiments."""
        return Stored(stored=self.engine.ingest("changes", rows))

    @bentoml.api(route="/feedback")
    def feedback(self, rows: list[FeedbackIn]) -> Stored:
        """Human verdicts on past alerts; they override derived labels."""
        return Stored(stored=self.engine.ingest("feedback", rows))


JourneyRank.add_asgi_middleware(Guard)


def ranker_folder(model_path: str) -> Path:
    """Where the ranker's plain files sit inside a BentoML-imported MLflow model."""
    return Path(model_path) / "mlflow_model" / "artifacts" / "ranker"
