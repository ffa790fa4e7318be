"""Drift findings and the verdict, on data whose answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.drift import (
    GROWS_WITH_HISTORY,
    Thresholds,
    categorical_drift,
    judge,
    numeric_drift,
    psi,
)
from models.profile import categorical_profile, numeric_profile, numeric_shares

RNG = np.random.default_rng(3)


def test_psi_is_zero_on_equal_shares_and_grows_with_the_shift():
    shares = np.array([0.25, 0.25, 0.25, 0.25])
    assert psi(shares, shares) == pytest.approx(0.0)
    small = psi(shares, np.array([0.3, 0.25, 0.25, 0.2]))
    large = psi(shares, np.array([0.7, 0.1, 0.1, 0.1]))
    assert 0 < small < 0.1 < 0.25 < large


def test_a_numeric_feature_from_the_same_distribution_is_stable():
    reference = numeric_profile(pd.Series(RNG.normal(size=5000)), np.random.default_rng(1))
    found = numeric_drift(reference, pd.Series(RNG.normal(size=3000)))
    assert found["level"] == "stable" and found["psi"] < 0.05


def test_a_shifted_numeric_feature_is_major_and_missing_values_count_in_their_own_bin():
    reference = numeric_profile(pd.Series(RNG.normal(size=5000)), np.random.default_rng(1))
    shifted = numeric_drift(reference, pd.Series(RNG.normal(1.0, 1.0, size=3000)))
    assert shifted["level"] == "major" and shifted["p_value"] < 1e-6
    gone = numeric_drift(reference, pd.Series([np.nan] * 2000 + list(RNG.normal(size=1000))))
    assert gone["shares"][-1] == pytest.approx(2 / 3)
    assert gone["level"] == "major"


def test_categories_never_seen_are_pooled_and_listed():
    reference = categorical_profile(pd.Series(["a"] * 500 + ["b"] * 500))
    found = categorical_drift(reference, pd.Series(["a"] * 300 + ["b"] * 300 + ["new"] * 400))
    assert found["unseen"] == ["new"]
    assert found["level"] == "major"
    same = categorical_drift(reference, pd.Series(["a"] * 480 + ["b"] * 520))
    assert same["level"] == "stable"


def _findings(level="stable", rank=1, feature="f", gain_share=0.2):
    return pd.DataFrame(
        [
            {
                "feature": feature,
                "kind": "numeric",
                "importance_rank": rank,
                "gain_share": gain_share,
                "psi": 0.3,
                "test": "KS",
                "statistic": 0.2,
                "p_value": 1e-9,
                "level": level,
            }
        ]
    )


TIERS = {"pages_per_day": 50.0, "promised_pages_per_day": 50.0}
COVERAGE = {
    "map_version_served": "1",
    "map_version_trained": "1",
    "unmapped_share": 0.3,
    "unmapped_share_trained": 0.3,
    "new_services": [],
    "new_service_alerts": {},
    "new_rule_share": 0.0,
}
FIGURES = {
    "positives": 200,
    "pr_auc": 0.4,
    "iw_recall_at_budget": 0.7,
    "ece": 0.03,
    "reference_pr_auc": 0.2,
    "reference_iw_recall_at_budget": 0.35,
    "iw_recall_margin_se": 0.05,
    "pr_auc_lift_se": 0.2,
}


def _judge(features=None, tiers=TIERS, coverage=COVERAGE, now=FIGURES):
    performance = {"now": now, "trained": FIGURES}
    return judge(
        features if features is not None else _findings(),
        {"psi": 0.01, "level": "stable"},
        tiers,
        coverage,
        performance,
        Thresholds(),
    )


def test_nothing_moved_is_ok():
    verdict = _judge()
    assert verdict.level == "ok" and verdict.reasons == []


def test_drift_counts_in_features_the_model_leans_on_and_major_drift_in_any_it_uses():
    assert _judge(_findings("major", rank=1)).level == "investigate"
    assert _judge(_findings("moderate", rank=23, gain_share=0.007)).level == "investigate"
    assert _judge(_findings("moderate", rank=40, gain_share=0.001)).level == "ok"
    assert _judge(_findings("major", rank=40, gain_share=0.001)).level == "investigate"
    assert _judge(_findings("major", rank=50, gain_share=0.0)).level == "ok"  # never used


def test_a_count_that_grows_with_history_is_not_judged_by_its_drift():
    """A later week has longer histories behind it: such a count always drifts up."""
    assert GROWS_WITH_HISTORY
    for grows in sorted(GROWS_WITH_HISTORY):
        assert _judge(_findings("major", rank=1, feature=grows)).level == "ok", grows


def test_pages_far_from_the_promise_and_a_new_map_and_service_are_named():
    assert "pages a day" in _judge(tiers={**TIERS, "pages_per_day": 90.0}).reasons[0]
    coverage = {
        **COVERAGE,
        "map_version_served": "2",
        "new_services": ["promo"],
        "new_service_alerts": {"promo": 60},
    }
    verdict = _judge(coverage=coverage)
    assert verdict.level == "investigate"
    assert any("journey map changed" in r for r in verdict.reasons)
    assert any("promo (60 alerts)" in r for r in verdict.reasons)


def test_performance_retrains_only_beyond_chance_and_against_the_periods_own_orderings():
    harder_period = {
        **FIGURES,
        "iw_recall_at_budget": 0.5,
        "reference_iw_recall_at_budget": 0.15,
        "pr_auc": 0.2,
        "reference_pr_auc": 0.1,
    }
    assert _judge(now=harder_period).level == "ok"  # every ordering fell: the period, not the model
    worse_model = {**FIGURES, "iw_recall_at_budget": 0.36, "pr_auc": 0.2}
    verdict = _judge(now=worse_model)
    assert verdict.level == "retrain"
    assert any("over today's best ordering" in r for r in verdict.reasons)
    noisy = {**worse_model, "iw_recall_margin_se": 0.3, "pr_auc_lift_se": 1.0}
    assert _judge(now=noisy).level == "ok"  # too few positives to tell


def test_too_few_matured_positives_are_noted_not_judged():
    verdict = _judge(now={**FIGURES, "positives": 5, "iw_recall_at_budget": 0.0})
    assert verdict.level == "ok"
    assert "not judged" in verdict.reasons[0]


def test_a_score_plateau_on_a_bin_edge_lands_in_one_bin_however_the_score_was_computed():
    """A calibrated score has plateaus, and a quantile edge can fall on one. The service sums
    TreeSHAP contributions where the booster gives its raw score: ~1e-13 apart, and the audit
    must put both in the same bin (a plateau split across its edge read as drift, PSI 0.68)."""
    plateau = 0.0010438410499319837
    reference = pd.Series(np.r_[np.full(300, plateau), np.linspace(0.01, 1.0, 700)])
    profile = numeric_profile(reference, np.random.default_rng(0))
    assert np.isclose(profile["edges"][0], plateau)  # the first edge is on the plateau
    above = numeric_shares(np.full(300, plateau + 2e-13), np.asarray(profile["edges"]))
    below = numeric_shares(np.full(300, plateau - 2e-13), np.asarray(profile["edges"]))
    np.testing.assert_array_equal(above, below)
    drifted = numeric_drift(profile, reference - 2e-13)
    assert drifted["level"] == "stable" and drifted["psi"] < 1e-9
