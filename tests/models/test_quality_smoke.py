"""A small run of the cross-world quality benchmark (benchmarks/quality.py) on a world unlike the sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks.quality import (
    ORDERINGS,
    cut_data_dir,
    first_pages,
    ratios,
    run_world,
    summarise,
    summarise_grouping,
)
from features.loading import load_data_dir
from pipeline.simulate import SimulationConfig, simulate

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def saas_run(tmp_path_factory):
    return run_world("saas", 1, tmp_path_factory.mktemp("quality"), days=21, train_days=16)


def test_every_ordering_is_judged_against_the_truth(saas_run):
    table = saas_run.table
    assert set(ORDERINGS) <= set(table.index)
    assert table.loc["oracle", "pr_auc"] == pytest.approx(1.0)  # the truth ranks itself perfectly
    assert table.loc["oracle", "incident_iw_recall"] >= table.loc["severity", "incident_iw_recall"]
    assert saas_run.scored_alerts > 0


def test_the_model_beats_severity_on_a_world_it_was_not_built_with(saas_run):
    assert saas_run.table.loc["model", "pr_auc"] > saas_run.table.loc["severity", "pr_auc"]
    assert ratios(saas_run)["pr_auc / severity"] > 1.0


def test_labels_are_compared_with_the_truth(saas_run):
    labels = saas_run.labels
    assert 0 < labels["precision"] <= 1 and 0 < labels["recall"] <= 1
    assert 0 < labels["iw_recall"] <= 1


def test_the_summary_names_the_worst_world_and_the_goals(saas_run):
    summary = summarise([saas_run])
    assert list(summary.index) == ["saas", "WORST WORLD", "goal"]
    assert summary.loc["goal", "pr_auc / severity"] == 2.0


def test_a_cut_directory_holds_only_what_was_known_at_the_cutoff(tmp_path):
    full = tmp_path / "full"
    simulate(SimulationConfig(out=full, days=3, seed=2))
    cutoff = pd.Timestamp("2026-10-07T00:00:00Z")
    cut = load_data_dir(cut_data_dir(full, tmp_path / "cut", cutoff))
    assert cut.alerts["fired_at"].max() < cutoff
    assert (cut.journey_outcomes["window_start"] + cut.window).max() <= cutoff
    assert set(cut.truth["alert_id"]) == set(cut.alerts["alert_id"])


def test_the_grouping_is_judged_against_the_true_incidents(saas_run):
    grouping = saas_run.grouping
    assert grouping["alerts"] == saas_run.scored_alerts
    assert 0 < grouping["pairwise_precision"] <= 1 and 0 < grouping["pairwise_recall"] <= 1
    # an incident pages once: never more pages per true incident than when every alert pages
    assert grouping["pages_per_true_incident"] <= grouping["alert_pages_per_true_incident"]
    summary = summarise_grouping([saas_run])
    assert list(summary.index) == ["saas", "WORST WORLD", "goal"]
    assert summary.loc["goal", "pairwise_f1"] == 0.9


def test_an_incident_opens_one_on_call_incident_however_often_its_tier_rises():
    incidents = pd.Series(["a", "a", "b", "a", "b"])
    pages = np.array([True, False, False, True, True])  # "a" pages, then again on a tier rise
    assert first_pages(incidents, pages).tolist() == [True, False, False, False, True]
