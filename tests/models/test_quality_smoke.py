"""A small run of the cross-world quality benchmark (benchmarks/quality.py) on a world unlike the sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks.quality import (
    GOALS,
    GROUPING_GOALS,
    ORDERINGS,
    PERFECT,
    REACH,
    WorldRun,
    cut_data_dir,
    first_pages,
    main,
    named_failures,
    perfect_probability_queue,
    ratios,
    run_board,
    run_world,
    summarise,
    summarise_grouping,
    verdicts,
    with_labels,
)
from features.loading import load_data_dir
from models.priority import UnmappedStand
from models.truth_metrics import grouping_errors, missed_at_budget
from pipeline.simulate import SimulationConfig, simulate
from pipeline.train_config import load_train_config

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


def test_a_perfect_probability_reaches_no_further_than_the_oracle_and_the_perfect_alerts_first(
    saas_run,
):
    table, scored = saas_run.table, saas_run.scored
    # the oracle pages the costliest true alerts: no ordering's IWR@10% goes past it
    assert table.loc[PERFECT, "iw_recall"] <= table.loc["oracle", "iw_recall"] + 1e-12
    assert table.loc[PERFECT, "iw_recall"] > table.loc["severity", "iw_recall"]
    perfect = scored[f"score_{PERFECT}"]
    assert (perfect > 0).sum() > 0 and (perfect >= 0).all()  # a stake is positive, else 0


def test_the_perfect_probability_queue_ranks_each_true_alert_by_its_stake_and_its_incident():
    # out of time order on purpose: the queue runs in fire order whatever the rows' order
    rows = pd.DataFrame(
        {
            "alert_id": ["late-noise", "cause", "before", "other", "unmapped"],
            "fired_at": pd.to_datetime(
                [
                    "2026-01-01 00:02",
                    "2026-01-01 00:01",
                    "2026-01-01 00:00",
                    "2026-01-01 00:03",
                    "2026-01-01 00:04",
                ],
                utc=True,
            ),
            "stage_impact_max": [0.5, 0.9, 0.9, 0.5, np.nan],
            "expected_sessions_30m": [100.0, 1000.0, 1000.0, 100.0, np.nan],
            "sessions_at_risk_15m": [10.0, 100.0, 100.0, 10.0, np.nan],
        }
    )
    truth = pd.DataFrame(
        {"alert_id": ["cause", "unmapped", "late-noise"], "true_impact": [1, 1, 0]}
    )
    stand = UnmappedStand(users_at_risk=50.0, stage_impact=0.4)
    incidents = np.array(["A", "A", "A", "B", "C"], dtype=object)
    queued = perfect_probability_queue(rows, truth, stand, incidents)
    cause = np.log(2.0 + 1000.0) * 0.9
    assert queued[1] == pytest.approx(cause)  # its stake: users at risk x stage impact
    assert queued[0] == pytest.approx(cause)  # a later alert of its incident stands where it does
    assert queued[2] == 0.0  # fired before the cause: its incident was not yet known to hurt
    assert queued[3] == 0.0  # another incident, no true impact
    assert queued[4] == pytest.approx(np.log(2.0 + 50.0) * 0.4)  # unmapped: the stand's stake


def test_the_model_beats_severity_on_a_world_it_was_not_built_with(saas_run):
    assert saas_run.table.loc["model", "pr_auc"] > saas_run.table.loc["severity", "pr_auc"]
    assert ratios(saas_run)["pr_auc / severity"] > 1.0


def test_labels_are_compared_with_the_truth(saas_run):
    labels = saas_run.labels
    assert 0 < labels["precision"] <= 1 and 0 < labels["recall"] <= 1
    assert 0 < labels["iw_recall"] <= 1


def test_labels_only_judges_the_labels_a_full_run_trains_on_and_nothing_else(
    saas_run, capsys, tmp_path
):
    board = tmp_path / "labels.png"
    cut = ["--days", "21", "--train-days", "16"]
    main(["--labels-only", "--worlds", "saas", "--seeds", "1", *cut, "--plot", str(board)])
    out = capsys.readouterr().out
    assert f"each goal on every run, drawn: {board}" in out and board.stat().st_size > 0
    found = saas_run.labels  # the same world and cut, trained and scored
    assert (
        f"world saas, seed 1: labels vs truth: precision {found['precision']:.3f}  "
        f"recall {found['recall']:.3f}  impact-weighted recall {found['iw_recall']:.3f}"
    ) in out
    verdicts = out.split("=== each label goal on every run")[1]
    assert all(f"label {k}" in verdicts for k in ("precision", "recall", "iw_recall"))
    assert "1 of 1" in verdicts or "0 of 1" in verdicts
    assert "PR-AUC" not in out and "pairwise_f1" not in out  # nothing trained, scored or grouped


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


def test_the_run_says_where_the_models_recall_at_the_budget_is_lost(saas_run):
    missed = saas_run.missed
    lost = 1 - saas_run.table.loc["model", "iw_recall"]
    assert missed["missed_share"].sum() == pytest.approx(lost)
    assert missed["missed_share"].is_monotonic_decreasing
    assert (missed["paged"] <= missed["alerts"]).all()


def test_the_recall_lost_is_counted_per_true_incident_and_alert_by_alert():
    # 20 alerts, the top 2 paged: a chatty incident of 3 alerts (one paged), a quiet one of 1
    # that is paged, one of 1 that is not, noise elsewhere
    ids = pd.Series([f"a{i}" for i in range(20)])
    score = np.linspace(1, 0, 20)  # a0 ranks first
    truth = pd.DataFrame(
        {
            "alert_id": ids,
            "incident_id": ["big", "small", "big", "big", "late"] + [None] * 15,
            "true_impact": [1, 1, 1, 1, 1] + [0] * 15,
            "true_lost_value": [10.0, 5.0, 10.0, 10.0, 5.0] + [0.0] * 15,
        }
    )
    services = pd.Series(["db", "web", "api", "db", "pay"] + ["x"] * 15)
    missed = missed_at_budget(ids, score, truth, services, budget=0.1).set_index("incident_id")
    assert missed.loc["big", "alerts"] == 3 and missed.loc["big", "paged"] == 1
    assert missed.loc["big", "best_rank"] == 1 and missed.loc["big", "services"] == "api,db"
    assert missed.loc["big", "missed_share"] == pytest.approx(20 / 40)  # two alerts of 10 of 40
    assert missed.loc["late", "missed_share"] == pytest.approx(5 / 40)
    assert missed.loc["small", "missed_share"] == 0.0
    assert missed.index.tolist() == ["big", "late", "small"]  # most missed first


def test_wrong_merges_and_splits_are_counted_in_pairs():
    # true: x = a1 a2 a3, y = a4 a5, a6 noise; predicted: P = a1 a2 a4 a6, Q = a3, R = a5
    ids = pd.Series(["a1", "a2", "a3", "a4", "a5", "a6"])
    truth = pd.DataFrame({"alert_id": ids, "incident_id": ["x", "x", "x", "y", "y", None]})
    predicted = pd.Series(["P", "P", "Q", "P", "R", "P"])
    merges, splits = grouping_errors(ids, predicted, truth)
    # P holds 6 pairs, one of them true (a1 a2): 5 false pairs, all of them
    assert merges.index.tolist() == ["P"]
    assert merges.loc["P", "alerts"] == 4 and merges.loc["P", "true_incidents"] == 3
    assert merges.loc["P", "false_pairs_share"] == pytest.approx(1.0)
    # x misses a1-a3 and a2-a3 (2 pairs), y misses a4-a5 (1 pair); noise is never split
    assert splits.index.tolist() == ["x", "y"]
    assert splits.loc["x", "pieces"] == 2
    assert splits["missed_pairs_share"].tolist() == pytest.approx([2 / 3, 1 / 3])


def test_the_run_names_the_grouping_errors_behind_its_pairwise_figures(saas_run):
    merges, splits = saas_run.grouping_errors
    grouping = saas_run.grouping
    if grouping["pairwise_precision"] < 1:
        assert merges["false_pairs_share"].sum() == pytest.approx(1.0)
    if grouping["pairwise_recall"] < 1:
        assert splits["missed_pairs_share"].sum() == pytest.approx(1.0)
    assert (merges["true_incidents"] >= 2).all() and (splits["pieces"] >= 2).all()


def test_a_training_config_is_judged_with_the_labels_asked_for(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("calibration: sigmoid\nlightgbm:\n  num_leaves: 7\n")
    config = with_labels(load_train_config(path), "window")
    assert config.calibration == "sigmoid" and config.lightgbm.num_leaves == 7
    assert config.features.attribution.method == "window"
    kept = with_labels(load_train_config(path), None)
    assert kept.features.attribution.method == "attributed"  # the config's own (the default)


def _judged(
    world: str, seed: int, model_iwr: float, f1: float, pages: float, f1_bound: float | None = None
) -> WorldRun:
    """A run with only the figures the goals read: the model's IWR@10% (the oracle's is 1),
    the pairwise F1 (and what the truth reaches, when given) and the pages per true incident;
    every other goal met."""
    table = pd.DataFrame(
        {
            "pr_auc": [0.9, 0.1, 0.1, 1.0],
            "roc_auc": [0.95, 0.5, 0.6, 1.0],
            "iw_recall": [model_iwr, 0.1, 0.2, 1.0],
            "incident_iw_recall": [0.9, 0.1, 0.2, 1.0],
        },
        index=["model", "severity", "criticality_rule", "oracle"],
    )
    labels = {"precision": 0.9, "recall": 0.7, "iw_recall": 0.9}
    grouping = {
        "pairwise_f1": f1,
        "compression": 0.15,
        "truth_compression": 0.12,
        "pages_per_true_incident": pages,
        "truth_pages_per_true_incident": 1.4,
    }
    if f1_bound is not None:
        grouping["truth_f1_concurrent_as_one"] = f1_bound
    empty = pd.DataFrame()
    return WorldRun(world, seed, labels, table, 10, 0.0, empty, grouping, empty, (empty, empty))


def test_each_goal_names_its_worst_run_and_by_how_much_it_misses():
    runs = [_judged("shop", 1, 0.85, 0.95, 1.05), _judged("media", 2, 0.70, 0.80, 1.90)]
    table = verdicts(run_board(runs))
    assert set(table.index) == set(GOALS) | set(GROUPING_GOALS)
    iwr = table.loc["iw_recall / oracle"]
    assert iwr["worst run"] == "media 2" and iwr["runs meeting it"] == "1 of 2"
    assert iwr["margin"] == pytest.approx(0.70 - 0.8)  # missed by 0.1
    pages = table.loc["pages_per_true_incident"]  # lower is better: the most pages is worst
    assert pages["target"] == "<= 1.1" and pages["worst run"] == "media 2"
    assert pages["margin"] == pytest.approx(1.1 - 1.90)
    assert pages[REACH] == 1.4  # the floor paging once has with true incidents
    met = table.loc["pr_auc / severity"]
    assert met["runs meeting it"] == "2 of 2" and met["margin"] == pytest.approx(9.0 - 2.0)
    assert np.isnan(met[REACH])  # the truth bounds the grouping goals and IWR@10% only
    assert np.isnan(iwr[REACH])  # runs judged without a perfect-probability ordering
    assert table.loc["compression", "runs meeting it"] == "0 of 2"
    assert np.isnan(table.loc["pairwise_f1", REACH])  # no truth_incidents


def test_the_iwr_goal_shows_what_a_perfect_probability_reaches_on_its_worst_run():
    runs = [_judged("shop", 1, 0.85, 0.95, 1.05), _judged("media", 2, 0.70, 0.80, 1.90)]
    for run, perfect in zip(runs, (0.99, 0.83), strict=True):
        run.table.loc[PERFECT] = [1.0, 1.0, perfect, 1.0]
    iwr = verdicts(run_board(runs)).loc["iw_recall / oracle"]
    assert iwr["worst run"] == "media 2" and iwr[REACH] == pytest.approx(0.83)


def test_the_f1_goal_shows_what_the_truth_reaches_with_concurrent_failures_as_one():
    runs = [_judged("shop", 1, 0.9, 0.95, 1.0, 0.99), _judged("saas", 3, 0.9, 0.66, 1.0, 0.79)]
    f1 = verdicts(run_board(runs)).loc["pairwise_f1"]
    assert f1["worst run"] == "saas 3" and f1[REACH] == pytest.approx(0.79)


def test_the_run_names_the_root_service_and_kind_of_each_true_incident_a_merge_holds(saas_run):
    merges, _ = saas_run.grouping_errors
    assert not merges.empty, "some predicted incident holds several true ones on this run"
    named = named_failures(merges["parts"].iloc[0], saas_run.true_incidents)
    roots = saas_run.true_incidents.set_index("incident_id")
    for part in merges["parts"].iloc[0]:
        if part in roots.index:
            assert f"{roots.loc[part, 'service']} {roots.loc[part, 'kind']}" in named
        else:
            assert part.startswith("alert:") and "noise" in named
    assert 0 <= saas_run.grouping["truth_f1_concurrent_as_one"] <= 1
