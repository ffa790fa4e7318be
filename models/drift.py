"""Drift findings against a model's reference profile: features, score, tier mix, coverage, performance."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from features.build import ALL_FEATURES
from models.profile import categorical_counts, numeric_shares

GROWS_WITH_HISTORY = frozenset(f.name for f in ALL_FEATURES if f.grows_with_history)

EPS = 1e-4
PSI_MODERATE, PSI_MAJOR = 0.10, 0.25
P_SIGNIFICANT = 0.01
LEVELS = ("ok", "investigate", "retrain")


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """Population stability index over the same bins (shares smoothed so empty bins stay finite)."""
    ref = np.clip(np.asarray(reference, dtype=float), EPS, None)
    cur = np.clip(np.asarray(current, dtype=float), EPS, None)
    ref, cur = ref / ref.sum(), cur / cur.sum()
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def level_of(psi_value: float, p_value: float) -> str:
    if p_value >= P_SIGNIFICANT or psi_value < PSI_MODERATE:
        return "stable"
    return "major" if psi_value >= PSI_MAJOR else "moderate"


def numeric_drift(reference: dict, values: pd.Series) -> dict:
    """PSI on the reference bins; KS on the values present, and a χ² test on how many are missing
    (a feed that stops leaves its features missing, which KS alone would never see)."""
    current = values.to_numpy(dtype=float)
    shares = numeric_shares(current, np.asarray(reference["edges"]))
    present = current[np.isfinite(current)]
    sample = np.asarray(reference["sample"], dtype=float)
    test, statistic, p_value = "KS", float("nan"), 1.0
    if len(present) and len(sample):
        ks = stats.ks_2samp(sample, present)
        statistic, p_value = float(ks.statistic), float(ks.pvalue)
    missing_p = _missing_share_p(reference["shares"][-1], len(current) - len(present), len(current))
    if missing_p < p_value:
        test, p_value = "χ² missing", missing_p
        statistic = float(shares[-1] - reference["shares"][-1])
    value = psi(reference["shares"], shares)
    return {
        "test": test,
        "statistic": statistic,
        "p_value": p_value,
        "psi": value,
        "level": level_of(value, p_value),
        "shares": shares.tolist(),
    }


def _missing_share_p(expected_share: float, missing: int, total: int) -> float:
    if total == 0:
        return 1.0
    expected = np.clip(np.array([expected_share, 1 - expected_share]), EPS, None)
    observed = np.array([missing, total - missing], dtype=float)
    return float(stats.chisquare(observed, expected / expected.sum() * total).pvalue)


def categorical_drift(reference: dict, values: pd.Series) -> dict:
    """Chi-square of current counts against the reference shares; categories never seen pool as 'other'."""
    counts = categorical_counts(values)
    ref = reference["shares"]
    names = sorted(set(ref) | {"(other)"})
    observed = np.array(
        [
            counts.get(n, 0)
            if n != "(other)"
            else sum(v for k, v in counts.items() if k not in ref)
            for n in names
        ],
        dtype=float,
    )
    expected_share = np.array([ref.get(n, 0.0) for n in names]) + EPS
    expected_share /= expected_share.sum()
    total = observed.sum()
    if total == 0:
        return {
            "test": "chi²",
            "statistic": float("nan"),
            "p_value": 1.0,
            "psi": 0.0,
            "level": "stable",
            "unseen": [],
        }
    test = stats.chisquare(observed, expected_share * total)
    value = psi(expected_share, observed / total)
    unseen = sorted(k for k in counts if k not in ref)
    return {
        "test": "chi²",
        "statistic": float(test.statistic),
        "p_value": float(test.pvalue),
        "psi": value,
        "level": level_of(value, float(test.pvalue)),
        "unseen": unseen,
    }


def feature_drift(
    profile: dict, current: pd.DataFrame, importance: dict[str, float]
) -> pd.DataFrame:
    rank = {
        name: i + 1 for i, name in enumerate(sorted(importance, key=importance.get, reverse=True))
    }
    total_gain = sum(importance.values()) or 1.0
    rows = []
    for name, reference in profile["features"].items():
        if name not in current:
            continue
        check = numeric_drift if reference["kind"] == "numeric" else categorical_drift
        found = {k: v for k, v in check(reference, current[name]).items() if k != "shares"}
        rows.append(
            {
                "feature": name,
                "kind": reference["kind"],
                "importance_rank": rank.get(name, len(rank) + 1),
                "gain_share": importance.get(name, 0.0) / total_gain,
                **found,
            }
        )
    return (
        pd.DataFrame(rows)
        .sort_values(["psi"], ascending=False, kind="stable")
        .reset_index(drop=True)
    )


@dataclass
class Verdict:
    level: str = "ok"
    reasons: list[str] = field(default_factory=list)

    def raise_to(self, level: str, reason: str) -> None:
        self.reasons.append(f"{level}: {reason}")
        if LEVELS.index(level) > LEVELS.index(self.level):
            self.level = level


@dataclass(frozen=True)
class Thresholds:
    """When a finding matters: documented defaults, overridable per audit."""

    # moderate or major drift in a feature that carries this much of the model's gain is worth a
    # look (a share, not a rank: how many features a model leans on differs from model to model);
    # major drift is, in any feature the model uses at all: a population that moved that far
    # (a traffic mix, a feed) is news even where one model leans on it little
    min_gain_share: float = 0.005
    major_features_to_retrain: int = 3
    score_psi: float = PSI_MODERATE
    pages_ratio: float = 1.5  # pages a day now vs promised, either way
    unmapped_points: float = 0.05
    new_service_alerts: int = 20  # a service the model never saw, alerting this often
    new_rule_share: float = 0.10
    # Performance is judged by the model's margin over today's best ordering on the same alerts,
    # which carries the period's own difficulty (a period of subtler incidents lowers every
    # ordering, the model's too, and is no reason to retrain).
    recall_margin_drop: float = 0.15  # impact-weighted recall at the budget, absolute
    pr_auc_lift_ratio: float = 0.7  # PR-AUC ÷ the best reference's, now against at training
    # ... and only beyond what chance explains (models/uncertainty.py): three standard errors, as
    # control charts use, since an audit checks two figures and every feature at once.
    z: float = 3.0
    ece: float = 0.10
    min_positives: int = 20


def weighed(features: pd.DataFrame, limits: Thresholds) -> pd.Series:
    """Which features' drift the verdict weighs: those the model leans on (`min_gain_share` of its
    gain or more), and any it uses when the drift is major; never a count that grows with history."""
    judged = ~features["feature"].isin(GROWS_WITH_HISTORY)
    leaned_on = features["gain_share"] >= limits.min_gain_share
    used = (features["level"] == "major") & (features["gain_share"] > 0)
    return judged & (leaned_on | used)


def judge(
    features: pd.DataFrame,
    score: dict,
    tiers: dict,
    coverage: dict,
    performance: dict | None,
    limits: Thresholds,
) -> Verdict:
    """ok, investigate or retrain, with every reason that drove it."""
    verdict = Verdict()
    important = features[weighed(features, limits)]
    moved = important[important["level"] != "stable"]
    major = moved[moved["level"] == "major"]
    for row in moved.itertuples():
        verdict.raise_to(
            "investigate",
            f"feature {row.feature} drifted, {row.level} (PSI {row.psi:.2f}, {row.test} "
            f"p={row.p_value:.1g}; #{row.importance_rank} by importance, "
            f"{row.gain_share:.1%} of the gain)",
        )
    if len(major) >= limits.major_features_to_retrain:
        verdict.raise_to("retrain", f"{len(major)} important features drifted at once")
    if score["psi"] >= limits.score_psi and score["level"] != "stable":
        verdict.raise_to("investigate", f"score distribution drifted (PSI {score['psi']:.2f})")
    ratio = tiers["pages_per_day"] / max(tiers["promised_pages_per_day"], 1e-9)
    if ratio > limits.pages_ratio or ratio < 1 / limits.pages_ratio:
        verdict.raise_to(
            "investigate",
            f"{tiers['pages_per_day']:.1f} pages a day against "
            f"{tiers['promised_pages_per_day']:.1f} promised by training ({ratio:.1f}x)",
        )
    _judge_coverage(verdict, coverage, limits)
    if performance is not None:
        _judge_performance(verdict, performance, limits)
    return verdict


def _judge_coverage(verdict: Verdict, coverage: dict, limits: Thresholds) -> None:
    if coverage["map_version_served"] != coverage["map_version_trained"]:
        verdict.raise_to(
            "investigate",
            f"journey map changed: trained on {coverage['map_version_trained']}, "
            f"now {coverage['map_version_served']}",
        )
    if coverage["unmapped_share"] - coverage["unmapped_share_trained"] > limits.unmapped_points:
        verdict.raise_to(
            "investigate",
            f"{coverage['unmapped_share']:.0%} of alerts from services the map lacks "
            f"(training: {coverage['unmapped_share_trained']:.0%})",
        )
    new = {
        k: v for k, v in coverage["new_service_alerts"].items() if v >= limits.new_service_alerts
    }
    if new:
        verdict.raise_to(
            "investigate",
            "services never seen in training are alerting: "
            + ", ".join(f"{name} ({count} alerts)" for name, count in list(new.items())[:5]),
        )
    if coverage["new_rule_share"] > limits.new_rule_share:
        verdict.raise_to(
            "investigate",
            f"{coverage['new_rule_share']:.0%} of alerts come from rules never seen in training",
        )


def _chance(now: dict, then: dict, name: str, limits: Thresholds) -> float:
    """How far apart the two periods' figures could be by chance alone (block-bootstrap errors)."""
    return limits.z * float(np.hypot(now.get(name, 0.0), then.get(name, 0.0)))


def _judge_performance(verdict: Verdict, performance: dict, limits: Thresholds) -> None:
    now, then = performance["now"], performance["trained"]
    if now["positives"] < limits.min_positives:
        verdict.reasons.append(
            f"note: only {now['positives']} matured positives: performance not judged"
        )
        return
    margin_now = now["iw_recall_at_budget"] - now["reference_iw_recall_at_budget"]
    margin_then = then["iw_recall_at_budget"] - then["reference_iw_recall_at_budget"]
    chance = _chance(now, then, "iw_recall_margin_se", limits)
    if margin_now < margin_then - max(limits.recall_margin_drop, chance):
        verdict.raise_to(
            "retrain",
            f"impact-weighted recall at the budget {now['iw_recall_at_budget']:.2f}, "
            f"{margin_now:+.2f} over today's best ordering (held-out: {margin_then:+.2f}; "
            f"chance moves it ±{chance:.2f})",
        )
    lift_now = now["pr_auc"] / max(now["reference_pr_auc"], 1e-9)
    lift_then = then["pr_auc"] / max(then["reference_pr_auc"], 1e-9)
    chance = _chance(now, then, "pr_auc_lift_se", limits)
    if lift_now < min(limits.pr_auc_lift_ratio * lift_then, lift_then - chance):
        verdict.raise_to(
            "retrain",
            f"PR-AUC {now['pr_auc']:.2f}, {lift_now:.1f}x today's best ordering "
            f"(held-out: {lift_then:.1f}x; chance moves it ±{chance:.1f})",
        )
    if now["ece"] > limits.ece:
        verdict.raise_to(
            "investigate", f"calibration error {now['ece']:.3f} (held-out: {then['ece']:.3f})"
        )
