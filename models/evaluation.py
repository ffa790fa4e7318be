"""The comparison every run ends with: the model against today's orderings, on the same later period."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

from models.metrics import impact_weighted_recall, paged_at_budget, ranking_metrics, slice_metrics
from models.reference_rankings import ORACLE, reference_scores

MODEL = "model"
RULES = ("severity", "criticality_rule")  # a model must beat each on PR-AUC to ship
SLICES = {"stage": "stage", "source": "alert_source", "severity": "severity"}


@dataclass(frozen=True)
class Evaluation:
    table: pd.DataFrame  # one row per ordering, one column per metric
    slices: dict[str, pd.DataFrame]  # per stage, source, severity
    scores: dict[str, np.ndarray]  # ordering name -> score per alert of `frame`
    probability: np.ndarray  # the model's calibrated probability per alert of `frame`
    frame: pd.DataFrame  # the evaluated alerts: label, impact_weight, slices
    budget: float  # the page budget as a share of alerts

    @property
    def primary(self) -> str:
        return "iw_recall_at_budget"

    def figure(self, ordering: str = MODEL, metric: str | None = None) -> float:
        return float(self.table.loc[ordering, metric or self.primary])

    def best_reference(self, metric: str | None = None) -> str:
        """The best of today's orderings (severity, criticality_rule, journey_weight) on these alerts:
        what the period allows without a model. The oracle, which needs the truth, is not one."""
        references = self.table.drop(index=[MODEL, ORACLE], errors="ignore")
        return str(references[metric or self.primary].idxmax())


def evaluate(
    frame: pd.DataFrame,
    priority: np.ndarray,
    probability: np.ndarray,
    budget: float,
    truth: pd.DataFrame | None = None,
) -> Evaluation:
    """Metrics of the model's priority ordering and of every reference ordering, overall and by slice."""
    frame = frame.reset_index(drop=True)
    scores = {MODEL: np.asarray(priority, dtype=np.float64), **reference_scores(frame, truth)}
    label, weight = frame["label"].to_numpy(int), frame["impact_weight"].to_numpy(float)
    rows = {}
    for name, score in scores.items():
        metrics = ranking_metrics(score, label, weight, probability if name == MODEL else None)
        metrics["iw_recall_at_budget"] = impact_weighted_recall(score, label, weight, budget)
        metrics["f1"] = f1_at_budget(score, label, budget)
        rows[name] = metrics
    slices = {title: slice_metrics(frame, column, scores) for title, column in SLICES.items()}
    return Evaluation(pd.DataFrame(rows).T, slices, scores, np.asarray(probability), frame, budget)


def f1_at_budget(score: np.ndarray, label: np.ndarray, budget: float) -> float:
    """F1 of the impact class when the top `budget` share is paged (the page threshold)."""
    return float(f1_score(label, paged_at_budget(score, budget), zero_division=0))


COLUMNS = {
    "pr_auc": "PR-AUC",
    "roc_auc": "ROC-AUC",
    "f1": "F1@budget",
    "iw_recall_at_5pct": "IWR@5%",
    "iw_recall_at_10pct": "IWR@10%",
    "iw_recall_at_20pct": "IWR@20%",
    "noise_reduction_at_95_iw_recall": "noise cut@95%",
    "ece": "ECE",
}


def comparison_table(evaluation: Evaluation) -> pd.DataFrame:
    """The printed table: orderings as rows, the metrics people read as columns, ratios to severity."""
    table = evaluation.table[[c for c in COLUMNS if c in evaluation.table]].rename(columns=COLUMNS)
    for rule in RULES:
        table[f"PR-AUC ÷ {rule}"] = (
            evaluation.table["pr_auc"] / evaluation.table.loc[rule, "pr_auc"]
        )
    return table


def rules_not_beaten(evaluation: Evaluation) -> list[str]:
    """The rules (RULES) whose PR-AUC the model does not strictly beat on these alerts."""
    model = evaluation.figure(metric="pr_auc")
    return [
        rule
        for rule in RULES
        if rule in evaluation.table.index and not model > evaluation.figure(rule, "pr_auc")
    ]
