"""Figures against a simulator's truth (evaluation only): label agreement and orderings, per alert and per incident."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.metrics import impact_weighted_recall, ranking_metrics

TRUTH_BUDGET = 0.10  # the page budget the cross-world figures are read at


def truth_agreement(frame: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float]:
    """Derived labels against the truth: precision, recall, and impact-weighted recall (the
    share of the true lost value that falls on alerts the labels call impactful)."""
    labelled = frame[frame["label"].notna()]
    known = truth.set_index("alert_id").reindex(labelled["alert_id"])
    true = known["true_impact"].fillna(0).to_numpy().astype(int)
    value = known["true_lost_value"].fillna(0).to_numpy(np.float64)
    derived = labelled["label"].astype(int).to_numpy()
    hits = (derived == 1) & (true == 1)
    total_value = float(value[true == 1].sum())
    return {
        "precision": float(hits.sum()) / max(int(derived.sum()), 1),
        "recall": float(hits.sum()) / max(int(true.sum()), 1),
        "iw_recall": float(value[hits].sum()) / total_value if total_value > 0 else float("nan"),
        "derived_rate": float(derived.mean()) if len(derived) else float("nan"),
        "true_rate": float(true.mean()) if len(true) else float("nan"),
    }


def orderings_against_truth(
    alert_ids: pd.Series,
    scores: dict[str, np.ndarray],
    truth: pd.DataFrame,
    budget: float = TRUTH_BUDGET,
) -> pd.DataFrame:
    """One row per ordering: PR-AUC, ROC-AUC and impact-weighted recall at `budget` against the
    true impact, per alert and with each true incident counted once (`incident_*`).

    Counting an incident once: its alerts collapse to one item scored by its best-ranked alert
    (what a responder reading the queue meets first), weighed by its true lost value; an alert of
    no incident (noise) is an item of its own.
    """
    known = truth.set_index("alert_id").reindex(pd.Index(alert_ids))
    label = known["true_impact"].fillna(0).to_numpy().astype(int)
    value = known["true_lost_value"].fillna(0).to_numpy(np.float64)
    group = known["incident_id"].astype(object).where(known["incident_id"].notna(), None)
    group = np.where(pd.isna(group), "alert:" + pd.Index(alert_ids).astype(str), group)
    codes = pd.factorize(group)[0]
    rows = {}
    for name, score in scores.items():
        score = np.asarray(score, dtype=np.float64)
        per_alert = ranking_metrics(score, label, value)
        items = (
            pd.DataFrame({"item": codes, "score": score, "label": label, "value": value})
            .groupby("item")
            .agg(score=("score", "max"), label=("label", "max"), value=("value", "max"))
        )
        per_incident = ranking_metrics(items["score"], items["label"], items["value"])
        rows[name] = {
            "pr_auc": per_alert["pr_auc"],
            "roc_auc": per_alert["roc_auc"],
            "iw_recall": impact_weighted_recall(score, label, value, budget),
            "incident_pr_auc": per_incident["pr_auc"],
            "incident_iw_recall": impact_weighted_recall(
                items["score"].to_numpy(),
                items["label"].to_numpy(),
                items["value"].to_numpy(),
                budget,
            ),
        }
    return pd.DataFrame(rows).T
