"""`journeyrank score`: batch ranking — each alert scored as if live at its fired_at, with context from DIR."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from features.families.incident import with_incidents
from features.loading import DataDir, load_alerts, load_data_dir
from features.settings import Settings
from models.incidents import rank_by_incident
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
    grouped: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Rank `alerts` against DIR's history (plus the alerts themselves), point in time at each
    fired_at; the policy's floors apply as they do on /rank. Each answer carries its incident_id
    and its incident's priority as it stood then, and they come highest incident priority first.
    `grouped`: grouped_alerts of the same, when the caller has it already."""
    grouped = grouped if grouped is not None else grouped_alerts(ranker, data, alerts)
    targets = with_earlier_members(data, alerts, grouped)
    rows = scoring_rows(ranker, data, targets, grouped)
    ranked = ranker.rank(rows, model_version=model_version)
    return by_incident(ranked, targets, alerts, grouped, policy, ranker)


def by_incident(
    ranked: pd.DataFrame,
    targets: pd.DataFrame,
    alerts: pd.DataFrame,
    grouped: pd.DataFrame,
    policy: Policy,
    ranker: Ranker,
) -> pd.DataFrame:
    """The answers of `alerts` (`ranked` answers every alert of `targets`), with their incident's
    priority run over `targets` in fire order, the policy's floors applied."""
    incident_of = grouped["incident_id"].to_dict()
    ranked, _ = rank_by_incident(ranked, targets, incident_of)
    ranked = ranked[ranked["alert_id"].isin(set(alerts["alert_id"].astype(str)))]
    ranked = ranked.reset_index(drop=True)
    return apply_floors(ranked, alerts, policy, ranker.journey_map.escalation_for)


def grouped_alerts(ranker: Ranker, data: DataDir, alerts: pd.DataFrame) -> pd.DataFrame:
    """The incident columns (features.incidents) of DIR's history and `alerts`, indexed by
    alert_id: each alert grouped as it stood when it fired, by the ranker's incident config."""
    return ranker.recipe.incidents(_with_history(data, alerts), data.changes)


def with_earlier_members(
    data: DataDir, alerts: pd.DataFrame, grouped: pd.DataFrame
) -> pd.DataFrame:
    """`alerts` and the history's other alerts of their incidents, fired before the last of them:
    what an incident's priority had reached when each of `alerts` joined it."""
    ids = alerts["alert_id"].astype(str)
    incidents = set(grouped["incident_id"].reindex(ids))
    history = data.alerts[~data.alerts["alert_id"].astype(str).isin(set(ids))]
    members = grouped["incident_id"].reindex(history["alert_id"].astype(str)).isin(incidents)
    earlier = history[members.to_numpy() & (history["fired_at"] <= alerts["fired_at"].max())]
    return pd.concat([earlier, alerts], ignore_index=True) if len(earlier) else alerts


def _with_history(data: DataDir, alerts: pd.DataFrame) -> pd.DataFrame:
    return pd.concat(
        [data.alerts[~data.alerts["alert_id"].isin(alerts["alert_id"])], alerts], ignore_index=True
    )


def scoring_rows(
    ranker: Ranker, data: DataDir, alerts: pd.DataFrame, grouped: pd.DataFrame | None = None
) -> pd.DataFrame:
    """What the ranker takes for `alerts`: identity columns and features as of each fired_at.
    `grouped`: grouped_alerts of (at least) the same alerts, when the caller has it already."""
    history = _with_history(data, alerts)
    recipe = ranker.recipe
    context = recipe.over(data.journey_outcomes, history, data.changes, data.feedback).context
    if grouped is None:
        grouped = recipe.incidents(history, data.changes)
    return ranker_rows(alerts, recipe.features(with_incidents(alerts, grouped), context))


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

        grouped = grouped_alerts(ranker, data, alerts)
        targets = with_earlier_members(data, alerts, grouped)
        with spark_session() as spark:
            rows = scoring_rows(ranker, data, targets, grouped)
            ranked = rank_on_spark(spark, model_uri, rows, version or "")
        ranked = by_incident(ranked, targets, alerts, grouped, policy, ranker)
    elif engine == "pandas":
        ranked = score_alerts(ranker, data, alerts, version or "", policy)
    else:
        raise ValueError(f"engine must be pandas or spark, got {engine!r}")
    write_table(ranked, out)
    return ScoreResult(ranked, version)
