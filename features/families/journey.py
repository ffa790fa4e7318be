"""The journey stages an alert's service reaches through the map, and what they are worth."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.catalogue import Feature
from features.context import AlertBatch, FeatureContext
from features.stages import KIND_CODES

FEATURES = (
    Feature(
        "mapped",
        "1 when the map links the service to some stage, directly or through dependencies",
        "",
        "journey map",
    ),
    Feature("mapped_stages", "how many stages the service reaches", "", "journey map"),
    Feature("mapped_journeys", "how many journeys those stages belong to", "", "journey map"),
    Feature(
        "stage_impact_max",
        "highest customer impact score among the stages reached",
        "",
        "journey map",
    ),
    Feature(
        "stage_value_max",
        "highest worth of one completion among the stages reached",
        "",
        "journey map",
    ),
    Feature("stage_impact_sum", "Σ impact over the stages reached", "", "journey map"),
    Feature(
        "stage_impact_value_sum", "Σ impact × value over the stages reached", "", "journey map"
    ),
    Feature(
        "hard_dependency",
        "1 when some stage needs the service (hard), 0 when all only soft",
        "",
        "journey map",
    ),
    Feature(
        "dependency_hops_min",
        "0 when a stage lists the service itself, else hops through dependencies",
        "",
        "journey map",
    ),
    Feature(
        "funnel_position_min",
        "earliest funnel position reached: 0 first stage … 1 last stage",
        "",
        "journey map",
    ),
    Feature("funnel_position_max", "latest funnel position reached", "", "journey map"),
)


def compute(batch: AlertBatch, context: FeatureContext) -> dict[str, np.ndarray]:
    table = context.stages.table
    pairs = batch.pair_columns
    stage = pairs["stage_code"]
    impact = table["impact"].to_numpy()[stage]
    value = table["value"].to_numpy()[stage]
    position = table["funnel_position"].to_numpy()[stage]
    journey, journeys = pd.factorize(
        table["journey"]
    )  # a code per journey: only distinct ones count
    hard = (pairs["kind_code"] == KIND_CODES["hard"]).astype(float)
    stages_reached = batch.per_alert(np.ones(len(stage)), "sum")
    # (alert, journey) once each, however many of the journey's stages the alert reaches
    distinct = np.unique(pairs["row"] * max(len(journeys), 1) + journey[stage])
    return {
        "mapped": np.isfinite(stages_reached).astype(np.float64),
        "mapped_stages": np.nan_to_num(stages_reached),
        "mapped_journeys": np.bincount(
            distinct // max(len(journeys), 1), minlength=len(batch)
        ).astype(np.float64),
        "stage_impact_max": batch.per_alert(impact),
        "stage_value_max": batch.per_alert(value),
        "stage_impact_sum": batch.per_alert(impact, "sum"),
        "stage_impact_value_sum": batch.per_alert(impact * value, "sum"),
        "hard_dependency": batch.per_alert(hard),
        "dependency_hops_min": batch.per_alert(pairs["hops"], "min"),
        "funnel_position_min": batch.per_alert(position, "min"),
        "funnel_position_max": batch.per_alert(position),
    }
