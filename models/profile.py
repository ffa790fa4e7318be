"""The reference profile a model carries for drift audits: fixed bins, samples, score and tier mix, figures."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.vocabulary import rule_keys
from models.evaluation import MODEL, Evaluation
from models.tiers import PAGED_TIERS, TIERS
from models.uncertainty import margin_spread

BINS = 10
BINNED_DIGITS = 6  # significant digits at which values meet the bin edges (numeric_shares)
SAMPLE_SIZE = 2000
SEED = 7


def numeric_profile(values: pd.Series, rng: np.random.Generator) -> dict:
    """Quantile edges (fixed from now on), the share in each bin and missing, and a sample for KS tests."""
    finite = values.to_numpy(dtype=float)
    present = finite[np.isfinite(finite)]
    edges = (
        np.unique(np.quantile(present, np.linspace(0, 1, BINS + 1)[1:-1]))
        if len(present)
        else np.array([])
    )
    return {
        "kind": "numeric",
        "edges": edges.tolist(),
        "shares": numeric_shares(finite, edges).tolist(),
        "sample": rng.choice(present, size=min(SAMPLE_SIZE, len(present)), replace=False).tolist()
        if len(present)
        else [],
    }


def numeric_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Shares of values per bin (len(edges) + 1 bins) then the missing share.

    Values and edges are compared at BINNED_DIGITS significant digits: a calibrated score has
    plateaus, a quantile edge can fall on one, and the same score computed two ways (the
    booster's raw score, or TreeSHAP's sum as the service computes it) differs by ~1e-13, which
    would put a plateau's alerts on either side of its edge."""
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    bins = np.searchsorted(_significant(edges), _significant(values[finite]), side="right")
    counts = np.bincount(bins, minlength=len(edges) + 1)
    return np.append(counts, (~finite).sum()) / max(len(values), 1)


def _significant(values) -> np.ndarray:
    """Finite values rounded to BINNED_DIGITS significant digits."""
    values = np.asarray(values, dtype=float)
    magnitude = np.floor(np.log10(np.abs(np.where(values == 0, 1.0, values))))
    scale = 10.0 ** (BINNED_DIGITS - 1 - magnitude)
    return np.round(values * scale) / scale


def categorical_profile(values: pd.Series) -> dict:
    counts = categorical_counts(values)
    total = max(sum(counts.values()), 1)
    return {"kind": "categorical", "shares": {k: v / total for k, v in counts.items()}}


def categorical_counts(values: pd.Series) -> dict[str, int]:
    """Alerts per category, missing counted as its own category "∅"."""
    counts = values.astype(object).where(values.notna(), None).value_counts(dropna=False)
    return {("∅" if k is None else str(k)): int(v) for k, v in counts.items()}


def build_profile(
    frame: pd.DataFrame,
    scored: pd.DataFrame,
    spec_features: tuple[str, ...],
    categorical: set[str],
    held_out: Evaluation,
    held_out_tiers: pd.Series,
    held_out_days: float,
    map_version: str,
) -> dict:
    """frame: every labelled alert's features (the reference period); scored: its impact_probability."""
    rng = np.random.default_rng(SEED)
    features = {
        name: categorical_profile(frame[name])
        if name in categorical
        else numeric_profile(frame[name], rng)
        for name in spec_features
    }
    tiers = held_out_tiers.value_counts(normalize=True).reindex(list(TIERS), fill_value=0.0)
    paged = float(tiers[list(PAGED_TIERS)].sum())
    return {
        "period": [str(frame["fired_at"].min()), str(frame["fired_at"].max())],
        "alerts": len(frame),
        "features": features,
        "score": numeric_profile(scored["impact_probability"], rng),
        "tier_mix": tiers.to_dict(),
        "page_share": paged,
        "pages_per_day": paged * len(held_out_tiers) / max(held_out_days, 1e-9),
        "unmapped_share": float((frame["mapped"] == 0).mean()),
        "services": sorted(frame["service"].astype(str).unique()),
        "rules": sorted(set(rule_keys(frame))),
        "journey_map_version": map_version,
        "held_out": {
            "alerts": len(held_out.frame),
            "positives": int(held_out.frame["label"].sum()),
            "pr_auc": held_out.figure(MODEL, "pr_auc"),
            "iw_recall_at_budget": held_out.figure(MODEL),
            "ece": held_out.figure(MODEL, "ece"),
            "reference_pr_auc": held_out.figure(held_out.best_reference("pr_auc"), "pr_auc"),
            "reference_iw_recall_at_budget": held_out.figure(held_out.best_reference()),
            **margin_spread(held_out),
            "budget": held_out.budget,
            "by_stage": _stage_figures(held_out),
        },
    }


def _stage_figures(evaluation: Evaluation) -> dict:
    stage = evaluation.slices["stage"]
    model = stage[stage["ranking"] == MODEL].set_index("stage")
    return {
        str(k): {
            "alerts": int(r["alerts"]),
            "positives": int(r["positives"]),
            "pr_auc": _num(r["pr_auc"]),
            "iw_recall_at_10pct": _num(r["iw_recall_at_10pct"]),
        }
        for k, r in model.iterrows()
    }


def _num(value) -> float | None:
    return None if pd.isna(value) else float(value)
