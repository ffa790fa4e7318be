"""The BentoML service: thin and typed; the work happens in serving/engine.py."""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path

import bentoml
from _bentoml_sdk.io_models import IORootModel  # what BentoML builds for a root input
from bentoml.exceptions import BentoMLException
from pydantic import TypeAdapter

from features.settings import Settings, load_settings
from serving.adapters import (
    AlertmanagerWebhook,
    GrafanaWebhook,
    NativeRankResponse,
    PagerDutyEvents,
)
from serving.api_models import (
    AlertIn,
    ChangeIn,
    FeedbackIn,
    ModelInfo,
    OutcomeRow,
    RankResponse,
    Stored,
)
from serving.dashboard.app import create_dashboard
from serving.guard import DASHBOARD_PATH, INCIDENTS_PATH, Guard
from serving.incident_routes import create_incident_routes

MODEL_NAME = "journeyrank"
# One worker process: each holds the whole live state, so a second one doubles the memory. Its
# threads let requests that arrive together queue in the engine, which ranks them in shared
# passes (serving/engine.py); the engine's own locks keep the state consistent.
WORKERS, THREADS = 1, 8


_JSON = TypeAdapter(object)


class PagerDutyBody(IORootModel[PagerDutyEvents]):
    """PagerDuty events as the whole body. BentoML reads a root list with json.loads, which turns
    a body that is not JSON into a 500; pydantic reads it here, so it is a 422 with a message."""

    __root_input__ = True

    @classmethod
    def model_validate_json(cls, json_data, **kwargs):
        return cls.model_validate(_JSON.validate_json(json_data), **kwargs)


# The serving process imports this module only to read the service's shape; pandas, LightGBM and
# the engine are imported by the worker that builds the service (in __init__), not here: ~200 MB
# less in a process that holds no data (tests/serving/test_service_imports.py).
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
        from serving.adapters import AdapterConfig
        from serving.forwarder import Forwarder

        settings = load_settings()
        self.adapters = AdapterConfig.load(settings.adapters)
        self.forwarder = Forwarder.from_settings(settings)
        self.engine = RankingEngine.open(
            settings,
            ranker_folder(self.model_ref.path),
            model,
            settings.warm_from,
            pd.Timestamp(settings.warm_until) if settings.warm_until else None,
        )
        if self.forwarder is not None:
            self.forwarder.start()

    @bentoml.on_shutdown
    def stop_forwarding(self) -> None:
        if getattr(self, "forwarder", None) is not None:
            self.forwarder.stop()

    def __is_ready__(self) -> bool:
        # fail-open: a service whose model or state is out still answers (/readyz says degraded)
        return getattr(self, "engine", None) is not None and self.engine.ready

    @bentoml.api(route="/rank")
    def rank(self, alerts: list[AlertIn]) -> RankResponse:
        """Rank alerts (the contract's alerts schema), highest incident priority first."""
        return self._rank(alerts, via="rank")

    @bentoml.api(route="/rank/alertmanager")
    def rank_alertmanager(self, webhook: AlertmanagerWebhook, /) -> NativeRankResponse:
        """Alertmanager's webhook (version 4): firing alerts ranked, resolved ones closed."""
        from serving.adapters import from_alertmanager

        return self._native(from_alertmanager, webhook, via="alertmanager")

    @bentoml.api(route="/rank/grafana")
    def rank_grafana(self, webhook: GrafanaWebhook, /) -> NativeRankResponse:
        """Grafana alerting's webhook: firing alerts ranked, resolved ones closed."""
        from serving.adapters import from_grafana

        return self._native(from_grafana, webhook, via="grafana")

    @bentoml.api(route="/rank/pagerduty", input_spec=PagerDutyBody)
    def rank_pagerduty(self, events: PagerDutyEvents, /) -> NativeRankResponse:
        """PagerDuty Events API v2, one event or a list: triggers ranked, acknowledge and resolve close."""
        from serving.adapters import from_pagerduty

        return self._native(from_pagerduty, events, via="pagerduty")

    def _native(self, translate, payload, via: str) -> NativeRankResponse:
        from pydantic import ValidationError

        from serving.adapters import problems

        try:
            translated = translate(payload, self.adapters)
        except ValueError as err:  # a payload the adapter cannot map (pydantic's errors included)
            message = problems(err) if isinstance(err, ValidationError) else str(err)
            raise BentoMLException(message, error_code=HTTPStatus.UNPROCESSABLE_ENTITY) from err
        ranked = self._rank(translated.firing, via)
        closed = self.engine.close(translated.closed)
        return NativeRankResponse(ranked=ranked.ranked, model=ranked.model, closed=closed)

    def _rank(self, alerts: list[AlertIn], via: str) -> RankResponse:
        """Rank and log (the engine), then queue the forwarded tiers, all before the answer leaves."""
        from serving.engine import FromTheFuture, TooManyAlerts

        try:
            response = self.engine.rank(alerts)
        except TooManyAlerts as err:
            raise BentoMLException(
                str(err), error_code=HTTPStatus.REQUEST_ENTITY_TOO_LARGE
            ) from err
        except FromTheFuture as err:
            raise BentoMLException(str(err), error_code=HTTPStatus.UNPROCESSABLE_ENTITY) from err
        if self.forwarder is not None:
            self.forwarder.enqueue(alerts, response, via)
        return response

    @bentoml.api(route="/journey-metrics")
    def journey_metrics(self, rows: list[OutcomeRow]) -> Stored:
        """The live journey feed: rows of journey_outcomes."""
        return self._ingest("outcomes", rows)

    @bentoml.api(route="/changes")
    def changes(self, rows: list[ChangeIn]) -> Stored:
        """Deploys, config pushes, flags, experiments."""
        return self._ingest("changes", rows)

    @bentoml.api(route="/feedback")
    def feedback(self, rows: list[FeedbackIn]) -> Stored:
        """Human verdicts on past alerts; they override derived labels."""
        return self._ingest("feedback", rows)

    def _ingest(self, name: str, rows: list) -> Stored:
        from serving.engine import FromTheFuture, StateUnavailable

        try:
            return Stored(stored=self.engine.ingest(name, rows))
        except FromTheFuture as err:  # the whole request is refused: nothing of it is stored
            raise BentoMLException(str(err), error_code=HTTPStatus.UNPROCESSABLE_ENTITY) from err
        except StateUnavailable as err:  # the sender retries; /rank meanwhile answers fail-open
            raise BentoMLException(str(err), error_code=HTTPStatus.SERVICE_UNAVAILABLE) from err


def _degraded_causes() -> dict[str, str]:
    engine = getattr(bentoml.get_current_service(), "engine", None)
    return engine.degraded_causes() if engine is not None else {}


def _paged_tiers(incident_ids: list[str]) -> dict[str, str]:
    """The tier each incident was paged at; none without forwarding."""
    forwarder = getattr(bentoml.get_current_service(), "forwarder", None)
    return forwarder.paged_tiers(incident_ids) if forwarder is not None else {}


def _settings() -> Settings:
    """The settings this worker's service was built with (read once, when it started)."""
    engine = getattr(bentoml.get_current_service(), "engine", None)
    return getattr(engine, "settings", None) or load_settings()


JourneyRank.add_asgi_middleware(Guard, degraded=_degraded_causes, settings=_settings)
# The dashboard and the incident routes read the engine of the service instance this worker
# built (set by BentoML before the worker takes requests).
JourneyRank.mount_asgi_app(
    create_dashboard(lambda: bentoml.get_current_service().engine, _paged_tiers),
    path=DASHBOARD_PATH,
)
JourneyRank.mount_asgi_app(
    create_incident_routes(lambda: bentoml.get_current_service().engine, _paged_tiers),
    path=INCIDENTS_PATH,
)


def ranker_folder(model_path: str) -> Path:
    """Where the ranker's plain files sit inside a BentoML-imported MLflow model."""
    from models.ranker_files import ranker_files_in

    return ranker_files_in(Path(model_path) / "mlflow_model")
