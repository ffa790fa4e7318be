"""`journeyrank score`: batch ranking — each alert scored as if live at its fired_at, with context from DIR."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from features.incidents import group_incidents
from features.loading import DataDir, load_alerts, load_data_dir
from features.settings import Settings
from models.policy import NO_POLICY, Policy, apply_floors, load_policy
from models.ranking import Ranker, ranker_rows
from models.registry import load_ranker_from, resolve, use_tracking
from pipeline.io import write_table


@dataclass(frozen=True)
class ScoreResult:
    ranked: pd.DataFrame
    model_version: str | None


def score_alerts(
    ranker: Ranker,
    data: DataDir,
    alerts: pd.DataFrame,
    model_version: str = "",
    policy: Policy = NO_POLICY,
) -> pd.DataFrame:
    """Rank `alerts` against DIR's history (plus the alerts themselves), point in time at each
    fired_at; the policy's floors apply as they do on /rank. Each answer carries its incident_id."""
    ranked = ranker.rank(scoring_rows(ranker, data, alerts), model_version=model_version)
    ranked = apply_floors(ranked, alerts, policy, ranker.journey_map.escalation_for)
    return with_incidents(ranked, alert_incidents(ranker, data, alerts))


def alert_incidents(ranker: Ranker, data: DataDir, alerts: pd.DataFrame) -> pd.DataFrame:
    """The incident columns (features.incidents) of `alerts`, indexed by alert_id: grouped with
    DIR's history as it stood when each fired, by the ranker's incident config."""
    history = _with_history(data, alerts)
    grouped = group_incidents(
        history, ranker.journey_map, ranker.spec.config.incidents, data.changes
    )
    grouped.index = history["alert_id"].astype(str)
    return grouped.loc[alerts["alert_id"].astype(str)]


def with_incidents(ranked: pd.DataFrame, incidents: pd.DataFrame) -> pd.DataFrame:
    """Answers with their incident_id (after alert_id), in their own order."""
    ids = incidents["incident_id"].reindex(ranked["alert_id"].astype(str)).to_numpy()
    return ranked.drop(columns="incident_id", errors="ignore").assign(incident_id=ids)[
        [
            "alert_id",
            "incident_id",
            *[c for c in ranked.columns if c not in ("alert_id", "incident_id")],
        ]
    ]


def _with_history(data: DataDir, alerts: pd.DataFrame) -> pd.DataFrame:
    return pd.concat(
        [data.alerts[~data.alerts["alert_id"].isin(alerts["alert_id"])], alerts], ignore_index=True
    )


def scoring_rows(ranker: Ranker, data: DataDir, alerts: pd.DataFrame) -> pd.DataFrame:
    """What the ranker takes for `alerts`: identity columns and features as of each fired_at."""
    history = _with_history(data, alerts)
    recipe = ranker.recipe
    context = recipe.over(data.journey_outcomes, history, data.changes, data.feedback).context
    return ranker_rows(alerts, recipe.features(alerts, context))


def score(
    model_uri: str,
    data_dir: Path,
    alerts_path: Path,
    out: Path,
    settings: Settings,
    engine: str = "pandas",
) -> ScoreResult:
    """`engine` "spark" ranks the rows with `mlflow.pyfunc.spark_udf` on the registered model."""
    client = use_tracking(settings.tracking_uri)
    _, version = resolve(client, model_uri)
    ranker = load_ranker_from(model_uri)
    data, alerts = load_data_dir(data_dir), load_alerts(alerts_path)
    policy = load_policy(settings.policy)
    if engine == "spark":
        from pipeline.spark.score import rank_on_spark
        from pipeline.spark.session import spark_session

        with spark_session() as spark:
            rows = scoring_rows(ranker, data, alerts)
            ranked = rank_on_spark(spark, model_uri, rows, version or "")
        ranked = apply_floors(ranked, alerts, policy, ranker.journey_map.escalation_for)
        ranked = with_incidents(ranked, alert_incidents(ranker, data, alerts))
    elif engine == "pandas":
        ranked = score_alerts(ranker, data, alerts, version or "", policy)
    else:
        raise ValueError(f"engine must be pandas or spark, got {engine!r}")
    write_table(ranked, out)
    return ScoreResult(ranked, version)
