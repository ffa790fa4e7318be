"""Train → MLflow → registry → champion gate, evaluate, score and promote, on the committed sample."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from features.incidents import group_incidents
from features.loading import load_data_dir
from features.settings import Settings, settings_at
from models.config import LightGBMConfig, TrainConfig
from models.evaluation import MODEL
from models.registry import CHALLENGER, CHAMPION
from pipeline.evaluate import evaluate_model
from pipeline.promote import promote
from pipeline.score import score_alerts
from pipeline.train import train

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    return settings_at(tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="module")
def first(settings, sample_dir):
    return train(sample_dir, settings)


@pytest.fixture(scope="module")
def client(settings, first) -> MlflowClient:
    return MlflowClient(settings.tracking_uri, settings.tracking_uri)


def test_the_model_beats_every_ordering_teams_use_today(first):
    table = first.evaluation.table
    assert {"severity", "criticality_rule", "journey_weight", "oracle", MODEL} <= set(table.index)
    assert table.loc[MODEL, "pr_auc"] >= 2.0 * table.loc["severity", "pr_auc"]
    assert table.loc[MODEL, "pr_auc"] >= 1.5 * table.loc["criticality_rule", "pr_auc"]
    assert table.loc[MODEL, "iw_recall_at_10pct"] >= 0.9 * table.loc["oracle", "iw_recall_at_10pct"]


def test_probabilities_are_calibrated_on_the_held_out_days(first):
    assert first.evaluation.table.loc[MODEL, "ece"] <= 0.05


def test_the_run_holds_config_lineage_metrics_and_artifacts(first, client):
    run = client.get_run(first.run_id)
    assert run.data.params["features.labels.impact_window_min"] == "30"
    assert "model.pr_auc" in run.data.metrics and "severity.pr_auc" in run.data.metrics
    assert {d.dataset.name for d in run.inputs.dataset_inputs} >= {"alerts", "journey_outcomes"}
    assert all(d.dataset.digest for d in run.inputs.dataset_inputs)
    assert run.data.tags["journey_map_version"] == "2026-10-01"
    report = {a.path.split("/")[-1] for a in client.list_artifacts(first.run_id, "report")}
    assert {
        "model_card.md",
        "pr_curves.png",
        "calibration.png",
        "shap_summary.png",
        "comparison.csv",
    } <= report


def test_the_first_model_becomes_champion(first, client):
    assert first.decision.alias == CHAMPION and first.decision.champion_figure is None
    assert str(client.get_model_version_by_alias("journeyrank", CHAMPION).version) == first.version


def test_a_worse_model_stays_challenger_and_the_decision_is_logged(
    first, settings, sample_dir, client
):
    weak = TrainConfig(lightgbm=LightGBMConfig(max_rounds=1, early_stopping_rounds=1, num_leaves=2))
    second = train(sample_dir, settings, weak)
    assert second.decision.alias == CHALLENGER
    decision = second.decision  # worse on the budget's recall, or on the rest of the ordering
    assert decision.new_figure < decision.champion_figure or decision.pr_auc[0] < decision.pr_auc[1]
    assert str(client.get_model_version_by_alias("journeyrank", CHAMPION).version) == first.version
    assert (
        str(client.get_model_version_by_alias("journeyrank", CHALLENGER).version) == second.version
    )
    tags = client.get_run(second.run_id).data.tags
    assert "does not beat" in tags["gate.decision"]


def test_evaluate_prints_the_table_for_a_registered_model(first, settings, sample_dir):
    result = evaluate_model("models:/journeyrank@champion", sample_dir, settings)
    assert result.version == first.version
    assert (
        result.evaluation.table.loc[MODEL, "pr_auc"]
        > result.evaluation.table.loc["severity", "pr_auc"]
    )
    grouping = result.grouping  # the sample carries the simulator's truth
    assert grouping["incidents"] < grouping["alerts"]
    assert 0 < grouping["pairwise_f1"] <= 1 and 0 < grouping["compression"] < 1


def test_scoring_one_at_a_time_equals_scoring_all_at_once(first, sample_dir):
    data = load_data_dir(sample_dir)
    alerts = data.alerts[
        data.alerts["fired_at"] >= data.alerts["fired_at"].max() - pd.Timedelta(hours=2)
    ]
    together = score_alerts(first.ranker, data, alerts).set_index("alert_id")
    alone = pd.concat(
        [score_alerts(first.ranker, data, alerts.iloc[[i]]) for i in range(len(alerts))]
    )
    alone = alone.set_index("alert_id").loc[together.index]
    np.testing.assert_allclose(alone["priority"], together["priority"], rtol=1e-12)
    assert (
        (
            alone[["tier", "stage", "reasons", "playbook", "incident_id"]].fillna("")
            == together[["tier", "stage", "reasons", "playbook", "incident_id"]].fillna("")
        )
        .all()
        .all()
    )


def test_scored_alerts_carry_the_incident_the_history_groups_them_into(first, sample_dir):
    data = load_data_dir(sample_dir)
    alerts = data.alerts.iloc[-300:]
    ranked = score_alerts(first.ranker, data, alerts)
    assert list(ranked.columns[:2]) == ["alert_id", "incident_id"]
    grouped = group_incidents(
        data.alerts, first.ranker.journey_map, first.ranker.spec.config.incidents, data.changes
    )
    expected = pd.Series(grouped["incident_id"].to_numpy(), index=data.alerts["alert_id"])
    assert (ranked["incident_id"].to_numpy() == expected.loc[ranked["alert_id"]].to_numpy()).all()
    assert ranked["incident_id"].nunique() < len(ranked)


def test_promote_moves_the_champion_and_records_why(first, settings, client):
    challenger = str(client.get_model_version_by_alias("journeyrank", CHALLENGER).version)
    result = promote(challenger, "rollback drill", settings)
    assert result.previous == first.version
    assert str(client.get_model_version_by_alias("journeyrank", CHAMPION).version) == challenger
    assert (
        "rollback drill"
        in client.get_model_version("journeyrank", challenger).tags["champion_reason"]
    )
    promote(first.version, "restore", settings)


def test_the_logged_model_ranks_through_plain_mlflow_pyfunc(first, settings, sample_dir):
    mlflow.set_tracking_uri(settings.tracking_uri)
    model = mlflow.pyfunc.load_model(f"models:/journeyrank/{first.version}")
    rows = first.split.test.head(20)
    from features.build import FEATURE_NAMES
    from models.ranking import META_INPUTS

    rows = rows[list(dict.fromkeys([*META_INPUTS, *FEATURE_NAMES]))]
    rows = rows.assign(
        fired_at=rows["fired_at"].dt.tz_localize(None)
    )  # MLflow signatures hold naive UTC times
    answers = model.predict(rows, params={"model_version": first.version})
    assert list(answers["priority"]) == sorted(answers["priority"], reverse=True)
    assert set(answers["model_version"]) == {first.version}
    assert all(isinstance(json.loads(r), list) for r in answers["reasons"])
