"""How far a figure could move by chance: a block bootstrap over hours of alerts.

Alerts that fire in the same hour share incidents, and impact weights are heavy-tailed (one long
checkout outage can carry a third of a week's lost completions), so resampling single alerts
would understate the spread. Whole hours are resampled instead, keeping each incident's alerts
together. Audits use the spread to tell a model that got worse from a period that was only
different.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from models.evaluation import MODEL, Evaluation
from models.metrics import impact_weighted_recall

RESAMPLES = 200
BLOCK = "1h"
SEED = 11


def margin_spread(evaluation: Evaluation, resamples: int = RESAMPLES) -> dict[str, float]:
    """Standard errors of the model's margins over the best reference ordering on these alerts:
    impact-weighted recall at the budget (difference) and PR-AUC (ratio)."""
    frame = evaluation.frame
    label = frame["label"].to_numpy(int)
    weight = frame["impact_weight"].to_numpy(float)
    model = evaluation.scores[MODEL]
    recall_ref = evaluation.scores[evaluation.best_reference("iw_recall_at_budget")]
    pr_ref = evaluation.scores[evaluation.best_reference("pr_auc")]
    members = _blocks(frame["fired_at"])
    rng = np.random.default_rng(SEED)
    margins, lifts = [], []
    for _ in range(resamples):
        index = np.concatenate([members[i] for i in rng.integers(len(members), size=len(members))])
        y, w = label[index], weight[index]
        if y.min() == y.max():
            continue
        margins.append(
            impact_weighted_recall(model[index], y, w, evaluation.budget)
            - impact_weighted_recall(recall_ref[index], y, w, evaluation.budget)
        )
        lifts.append(
            average_precision_score(y, model[index])
            / max(average_precision_score(y, pr_ref[index]), 1e-9)
        )
    return {
        "iw_recall_margin_se": float(np.std(margins, ddof=1)) if len(margins) > 1 else 0.0,
        "pr_auc_lift_se": float(np.std(lifts, ddof=1)) if len(lifts) > 1 else 0.0,
    }


def _blocks(fired_at: pd.Series) -> list[np.ndarray]:
    """Row positions of the alerts of each hour."""
    codes, _ = pd.factorize(fired_at.dt.floor(BLOCK))
    order = np.argsort(codes, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(codes[order])) + 1)
