"""What the service does per request, kept out of the BentoML class: rank, ingest, log, measure."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.schemas import TIMESTAMP_DTYPE
from features.settings import Settings
from models.inference_log import InferenceLog
from models.ranker_files import load_ranker
from models.ranking import Ranker, ranker_rows
from serving import telemetry
from serving.api_models import (
    AlertIn,
    ChangeIn,
    FeedbackIn,
    ModelInfo,
    OutcomeRow,
    RankedAlert,
    RankResponse,
)
from serving.live import LiveState
from serving.state import SqliteStateStore
from serving.warm import warm_start

MAX_ALERTS_PER_REQUEST = 1000
PRUNE_EVERY_NS = 5 * 60 * 10**9


class TooManyAlerts(ValueError):
    pass


@dataclass
class RankingEngine:
    ranker: Ranker
    model: ModelInfo
    store: SqliteStateStore
    log: InferenceLog
    live: LiveState
    max_alerts: int = MAX_ALERTS_PER_REQUEST
    _pruned_at: int = 0

    @classmethod
    def open(
        cls,
        settings: Settings,
        ranker_dir: Path,
        model: ModelInfo,
        warm_from: Path | None = None,
        warm_until: pd.Timestamp | None = None,
    ) -> RankingEngine:
        ranker = load_ranker(ranker_dir)
        store = SqliteStateStore.in_home(settings.home)
        if warm_from is not None and store.is_empty():
            warm_start(store, ranker, warm_from, warm_until)
        engine = cls(
            ranker, model, store, InferenceLog.in_home(settings.home), LiveState(store, ranker)
        )
        engine.live.sync()
        return engine

    @property
    def ready(self) -> bool:
        return self.ranker is not None and self.store is not None

    # ------------------------------------------------------------------ routes

    def rank(self, alerts: list[AlertIn]) -> RankResponse:
        """Store the alerts, compute features from live state, rank, log durably, then answer."""
        if len(alerts) > self.max_alerts:
            raise TooManyAlerts(
                f"{len(alerts)} alerts in one request; at most {self.max_alerts} (split the batch)"
            )
        started = time.perf_counter()
        frame = alerts_frame(alerts)
        if frame.empty:
            return RankResponse(ranked=[], model=self.model)
        self.store.put("alerts", frame)
        self.live.sync()
        features = self.live.features_for(frame)
        answers = self.ranker.rank(ranker_rows(frame, features), model_version=self.model.version)
        self.log.write(answers, features, frame)
        self._housekeeping()
        telemetry.record_ranked(answers, time.perf_counter() - started, self.state_lag_seconds())
        return RankResponse(
            ranked=[_answer(row) for row in answers.to_dict("records")], model=self.model
        )

    def ingest(self, name: str, rows: list[OutcomeRow] | list[ChangeIn] | list[FeedbackIn]) -> int:
        frame = pd.DataFrame([r.model_dump() for r in rows])
        if frame.empty:
            return 0
        for column in ("window_start", "ts"):
            if column in frame:
                frame[column] = pd.to_datetime(frame[column], utc=True).astype(TIMESTAMP_DTYPE)
        stored = self.store.put(name, frame)
        self.live.sync()
        self._housekeeping()
        telemetry.record_state_lag(self.state_lag_seconds())
        return stored

    # ------------------------------------------------------------------ upkeep

    def state_lag_seconds(self) -> float | None:
        """How far the journey feed lags the wall clock (the live state's freshness)."""
        latest = self.live.mirror.data_end_ns
        return None if latest is None else max(0.0, (time.time_ns() - latest) / 1e9)

    def _housekeeping(self) -> None:
        now = self.live.event_time_ns()
        if now is None or now - self._pruned_at < PRUNE_EVERY_NS:
            return
        self.store.prune(now)
        self.live.mirror.prune(pd.Timestamp(now, tz="UTC"))
        self._pruned_at = now


def alerts_frame(alerts: list[AlertIn]) -> pd.DataFrame:
    """Request alerts in the contract's canonical dtypes (pydantic has already checked each field)."""
    frame = pd.DataFrame([a.model_dump() for a in alerts])
    if frame.empty:
        return frame
    for column in ("fired_at", "resolved_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True).astype(TIMESTAMP_DTYPE)
    frame["anomaly_score"] = pd.to_numeric(frame["anomaly_score"], errors="coerce").astype(
        "float64"
    )
    frame["labels"] = [None if v is None else json.dumps(v) for v in frame["labels"]]
    return frame.drop_duplicates("alert_id", keep="last").reset_index(drop=True)


def _answer(row: dict) -> RankedAlert:
    return RankedAlert(
        **{
            k: (None if isinstance(v, float) and np.isnan(v) else v)
            for k, v in row.items()
            if k not in ("reasons", "flags")
        },
        reasons=json.loads(row["reasons"]),
        flags=[f for f in row["flags"].split(",") if f],
    )
