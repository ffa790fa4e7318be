"""The orderings teams use today, scored so that higher means page first; the model must beat them all."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.families.alert import SEVERITY_LEVEL
from models.priority import UnmappedStand, priority_score

ORACLE = "oracle"  # the ordering by true impact: only where the truth is known
SEVERITY_WEIGHT = {"critical": 1.0, "high": 0.7, "warning": 0.4, "info": 0.1}
_RECENCY_SCALE = 1e-3  # recency only breaks ties: it stays below one severity step


def severity_score(table: pd.DataFrame) -> np.ndarray:
    """Severity, then recency: Alertmanager's and PagerDuty's default queue."""
    level = table["severity"].map(SEVERITY_LEVEL).to_numpy(float)
    fired = table["fired_at"].astype("int64").to_numpy(float)
    span = max(fired.max() - fired.min(), 1.0) if len(fired) else 1.0
    return level + _RECENCY_SCALE * (fired - fired.min()) / span


def criticality_rule_score(table: pd.DataFrame) -> np.ndarray:
    """ServiceNow-style priority: the sum of the impacted stages' impact scores first, severity second."""
    level = table["severity"].map(SEVERITY_LEVEL).to_numpy(float)
    return np.nan_to_num(table["stage_impact_sum"].to_numpy(float)) * 10.0 + level


def journey_weight_score(table: pd.DataFrame) -> np.ndarray:
    """The lightweight mapping: stage impact × severity weight."""
    weight = table["severity"].map(SEVERITY_WEIGHT).to_numpy(float)
    return np.nan_to_num(table["stage_impact_max"].to_numpy(float)) * weight


def oracle_score(table: pd.DataFrame, truth: pd.DataFrame) -> np.ndarray:
    """What the simulator knows: true impact first, then the true lost value (evaluation only)."""
    known = truth.set_index("alert_id").reindex(table["alert_id"])
    impact = known["true_impact"].fillna(0).to_numpy(float)
    return impact * (1.0 + np.log1p(known["true_lost_value"].fillna(0).to_numpy(float)))


def perfect_probability_score(
    table: pd.DataFrame, truth: pd.DataFrame, unmapped: UnmappedStand
) -> np.ndarray:
    """The ranker's priority were its probability perfect: each alert's stake (its priority at
    probability 1: users at risk × stage impact, `models.priority`) where it truly signals impact,
    0 elsewhere (evaluation only). What the priority lets a model reach: the oracle orders by the
    true lost value, this by what the ranker can see of it."""
    known = truth.set_index("alert_id").reindex(table["alert_id"])
    impact = known["true_impact"].fillna(0).to_numpy(float)
    return impact * priority_score(np.ones(len(table)), table, unmapped)


def reference_scores(
    table: pd.DataFrame, truth: pd.DataFrame | None = None
) -> dict[str, np.ndarray]:
    scores = {
        "severity": severity_score(table),
        "criticality_rule": criticality_rule_score(table),
        "journey_weight": journey_weight_score(table),
    }
    if truth is not None:
        scores[ORACLE] = oracle_score(table, truth)
    return scores
