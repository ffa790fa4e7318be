"""Metrics and tiers on tiny hand-made orderings: one behaviour per test."""

from __future__ import annotations

import numpy as np
import pytest

from models.config import PageBudget
from models.metrics import expected_calibration_error, impact_weighted_recall, noise_reduction
from models.tiers import fit_thresholds

LABEL = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 1])
WEIGHT = np.array([5.0, 0, 3.0, 0, 0, 0, 0, 0, 0, 2.0])


def test_impact_weighted_recall_counts_weight_not_alerts():
    score = np.arange(10, 0, -1, dtype=float)  # input order is the ranking
    assert impact_weighted_recall(score, LABEL, WEIGHT, 0.10) == pytest.approx(0.5)
    assert impact_weighted_recall(score, LABEL, WEIGHT, 0.30) == pytest.approx(0.8)
    assert impact_weighted_recall(score, LABEL, WEIGHT, 1.0) == pytest.approx(1.0)


def test_noise_reduction_is_the_share_left_unpaged_at_95_percent_weight():
    perfect = np.where(LABEL == 1, WEIGHT + 10, 0.0)
    assert noise_reduction(perfect, LABEL, WEIGHT) == pytest.approx(0.7)  # page 3 of 10
    worst = -perfect
    assert noise_reduction(worst, LABEL, WEIGHT) == pytest.approx(0.0)


def test_ties_are_broken_by_input_order_not_by_chance():
    flat = np.zeros(10)
    assert impact_weighted_recall(flat, LABEL, WEIGHT, 0.10) == pytest.approx(0.5)


def test_calibration_error_is_zero_when_rates_match():
    probability = np.repeat([0.1, 0.5], 10)
    label = np.array([1] + [0] * 9 + [1] * 5 + [0] * 5)
    assert expected_calibration_error(probability, label, bins=2) == pytest.approx(0.0)
    assert expected_calibration_error(np.full(20, 0.9), label, bins=2) > 0.5


def test_thresholds_page_no_more_than_the_budget():
    priority = np.linspace(0, 1, 1000)
    tiers = fit_thresholds(priority, days=2.0, budget=PageBudget(share=0.1))
    assigned = tiers.tier(priority)
    assert (np.isin(assigned, ["P1", "P2"])).mean() == pytest.approx(0.1, abs=0.002)
    assert (assigned == "P1").mean() == pytest.approx(0.02, abs=0.002)
    assert (assigned == "P3").mean() == pytest.approx(0.2, abs=0.002)


def test_a_pages_per_day_budget_converts_to_a_share():
    tiers = fit_thresholds(
        np.linspace(0, 1, 1000), days=10.0, budget=PageBudget(share=None, per_day=5)
    )
    assert tiers.pages_per_day <= 5.0 and tiers.page_share == pytest.approx(0.05, abs=0.002)


def test_tied_priorities_at_the_cut_are_not_paged():
    priority = np.array([3.0, 2.0, 2.0, 2.0, 1.0])
    tiers = fit_thresholds(priority, days=1.0, budget=PageBudget(share=0.4))
    assert (tiers.tier(priority) != "P4").sum() >= 1
    assert (
        np.isin(tiers.tier(priority), ["P1", "P2"]).sum() == 1
    )  # the tie at 2.0 stays out together
