"""`journeyrank evaluate`: the comparison table for any registered model on any data directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from features.incidents import group_incidents
from features.loading import DataDir, load_data_dir
from features.settings import Settings
from features.table import build_feature_table
from models.evaluation import Evaluation, evaluate
from models.ranking import Ranker
from models.registry import load_ranker_from, resolve, use_tracking
from models.truth_metrics import grouping_against_truth

DEFAULT_BUDGET = 0.10


@dataclass(frozen=True)
class EvaluateResult:
    model_uri: str
    version: str | None
    evaluation: Evaluation
    alerts: int
    grouping: dict[str, float]  # compression always; pairwise figures when DIR has the truth


def evaluate_model(model_uri: str, data_dir: Path, settings: Settings) -> EvaluateResult:
    """Features and labels of DIR with the model's own baselines; every labelled alert is scored."""
    client = use_tracking(settings.tracking_uri)
    _, version = resolve(client, model_uri)
    ranker = load_ranker_from(model_uri)
    data = load_data_dir(data_dir)
    table = build_feature_table(data, ranker.spec.config, ranker.baselines)
    frame = (
        table.frame[table.frame["label"].notna()]
        .sort_values("fired_at", kind="stable")
        .reset_index(drop=True)
    )
    frame["label"] = frame["label"].astype(int)
    scored = ranker.score(frame)
    budget = float(ranker.info.get("page_budget_share", DEFAULT_BUDGET))
    evaluation = evaluate(
        frame,
        scored["priority"].to_numpy(),
        scored["impact_probability"].to_numpy(),
        budget,
        data.truth,
    )
    return EvaluateResult(
        model_uri, version, evaluation, len(frame), grouping_quality(ranker, data, table.incidents)
    )


def grouping_quality(
    ranker: Ranker, data: DataDir, grouped: pd.DataFrame | None = None
) -> dict[str, float]:
    """How DIR's alerts group into incidents by the ranker's incident config: alerts, incidents
    and compression; against the simulator's truth (when present) pairwise precision, recall, F1.
    `grouped`: the grouper's answer of DIR's alerts (the feature table's), when already made."""
    if grouped is None:
        grouped = group_incidents(
            data.alerts, ranker.journey_map, ranker.spec.config.incidents, data.changes
        )
    n, incidents = len(grouped), grouped["incident_id"].nunique()
    quality = {
        "alerts": float(n),
        "incidents": float(incidents),
        "compression": 1.0 - incidents / n if n else float("nan"),
    }
    if data.truth is not None:
        quality |= grouping_against_truth(
            data.alerts["alert_id"], grouped["incident_id"], data.truth
        )
    return quality
