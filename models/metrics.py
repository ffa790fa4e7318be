"""Ranking metrics on a held-out period: discrimination, impact-weighted recall at a page budget, calibration."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

BUDGETS = (0.05, 0.10, 0.20)
NOISE_RECALL_TARGET = 0.95
ECE_BINS = 10


def ranking_order(score: np.ndarray) -> np.ndarray:
    """Highest score first; ties keep input order (inputs are in time order: stable and reproducible)."""
    return np.argsort(-np.asarray(score, dtype=np.float64), kind="stable")


def budget_count(alerts: int, budget: float) -> int:
    """How many of `alerts` a page budget (a share) pages: the share, rounded up."""
    return int(np.ceil(budget * alerts))


def paged_at_budget(score: np.ndarray, budget: float) -> np.ndarray:
    """Which alerts are paged when the top `budget` share by score is (ranking_order's ties)."""
    paged = np.zeros(len(score), dtype=bool)
    paged[ranking_order(score)[: budget_count(len(score), budget)]] = True
    return paged


def impact_weighted_recall(score, label, weight, budget: float) -> float:
    """Share of all impact weight among the alerts paged when paging the top `budget` share."""
    label, weight = np.asarray(label), np.asarray(weight, dtype=np.float64)
    total = weight[label == 1].sum()
    if total <= 0:
        return float("nan")
    return float(weight[paged_at_budget(score, budget) & (label == 1)].sum() / total)


def noise_reduction(score, label, weight, target: float = NOISE_RECALL_TARGET) -> float:
    """Share of alerts that need no page while the pages still cover `target` of the impact weight."""
    label, weight = np.asarray(label), np.asarray(weight, dtype=np.float64)
    total = weight[label == 1].sum()
    if total <= 0:
        return float("nan")
    covered = np.cumsum(np.where(label == 1, weight, 0.0)[ranking_order(score)]) / total
    paged = int(np.searchsorted(covered, target - 1e-12) + 1)
    return float(1.0 - min(paged, len(label)) / len(label))


def expected_calibration_error(probability, label, bins: int = ECE_BINS) -> float:
    """Mean |observed rate − predicted probability| over equal-count bins, weighted by bin size."""
    probability, label = (
        np.asarray(probability, dtype=np.float64),
        np.asarray(label, dtype=np.float64),
    )
    if len(label) == 0:
        return float("nan")
    order = np.argsort(probability, kind="stable")
    gaps = [
        abs(label[part].mean() - probability[part].mean()) * len(part)
        for part in np.array_split(order, min(bins, len(label)))
        if len(part)
    ]
    return float(np.sum(gaps) / len(label))


def ranking_metrics(
    score, label, weight, probability=None, threshold: float | None = None
) -> dict[str, float]:
    """Every figure of the comparison table (models/evaluation.py) for one ordering.

    The probability-based ones (calibration) only when `probability` is given.
    """
    score, label = np.asarray(score, dtype=np.float64), np.asarray(label).astype(int)
    both = len(np.unique(label)) == 2
    out = {
        "n": float(len(label)),
        "positives": float(label.sum()),
        "pr_auc": float(average_precision_score(label, score)) if both else float("nan"),
        "roc_auc": float(roc_auc_score(label, score)) if both else float("nan"),
    }
    for budget in BUDGETS:
        out[f"iw_recall_at_{round(budget * 100)}pct"] = impact_weighted_recall(
            score, label, weight, budget
        )
    out["noise_reduction_at_95_iw_recall"] = noise_reduction(score, label, weight)
    if threshold is not None:
        out["f1"] = float(f1_score(label, score >= threshold, zero_division=0))
    if probability is not None:
        out["ece"] = expected_calibration_error(probability, label)
    return out


def slice_metrics(
    frame: pd.DataFrame, by: str, scores: dict[str, np.ndarray], min_positives: int = 3
) -> pd.DataFrame:
    """PR-AUC and impact-weighted recall at 10% per slice (stage, source, severity) for each ordering."""
    rows = []
    for value, part in frame.groupby(by, dropna=False, sort=True):
        index = part.index.to_numpy()
        label, weight = part["label"].to_numpy(int), part["impact_weight"].to_numpy(float)
        for name, score in scores.items():
            enough = label.sum() >= min_positives and len(np.unique(label)) == 2
            rows.append(
                {
                    by: "(unmapped)" if pd.isna(value) else value,
                    "ranking": name,
                    "alerts": len(part),
                    "positives": int(label.sum()),
                    "pr_auc": float(average_precision_score(label, score[index]))
                    if enough
                    else float("nan"),
                    "iw_recall_at_10pct": impact_weighted_recall(score[index], label, weight, 0.10)
                    if enough
                    else float("nan"),
                }
            )
    return pd.DataFrame(rows)


def reliability_bins(
    probability: np.ndarray, label: np.ndarray, bins: int = ECE_BINS
) -> pd.DataFrame:
    """Equal-count bins of the predicted probability (as in expected_calibration_error)."""
    order = np.argsort(probability, kind="stable")
    rows = [
        {"predicted": probability[part].mean(), "observed": label[part].mean(), "n": len(part)}
        for part in np.array_split(order, min(bins, len(label)))
        if len(part)
    ]
    return pd.DataFrame(rows)


def shap_mean_abs(contributions: np.ndarray, features: list[str]) -> pd.DataFrame:
    """Mean |TreeSHAP contribution| per feature (raw-score units), largest first."""
    return (
        pd.DataFrame(
            {
                "feature": features,
                "mean_abs_contribution": np.abs(contributions).mean(axis=0),
                "mean_contribution": contributions.mean(axis=0),
            }
        )
        .sort_values("mean_abs_contribution", ascending=False, kind="stable")
        .reset_index(drop=True)
    )
