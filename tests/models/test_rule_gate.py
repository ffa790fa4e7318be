"""Never ship worse than the rule: a model that does not beat severity and criticality_rule stays @challenger."""

from __future__ import annotations

import pandas as pd
import pytest
from mlflow import MlflowClient

from features.loading import load_data_dir
from features.settings import settings_at
from models.registry import CHALLENGER, CHAMPION, gate, version_of
from pipeline.render import comparison
from pipeline.train import train


def test_the_gate_refuses_a_model_that_loses_to_a_rule_even_without_a_champion():
    decision = gate(0.9, None, None, "iw_recall_at_budget", {"severity": (0.30, 0.31)})
    assert decision.alias == CHALLENGER and decision.lost_to == ("severity",)
    assert "does not beat the rules" in decision.sentence()
    assert "severity 0.310" in decision.sentence()


def test_a_tie_with_a_rule_is_not_a_win():
    decision = gate(0.9, 0.5, "1", "iw_recall_at_budget", {"criticality_rule": (0.4, 0.4)})
    assert decision.alias == CHALLENGER and decision.lost_to == ("criticality_rule",)


def test_beating_every_rule_and_the_champion_promotes():
    rules = {"severity": (0.4, 0.1), "criticality_rule": (0.4, 0.2)}
    assert gate(0.9, 0.5, "1", "iw_recall_at_budget", rules).alias == CHAMPION


def test_a_model_that_buys_the_budgets_recall_with_the_rest_of_the_ordering_stays_challenger():
    """The primary metric reads only the top of the ranking at the page budget: a model a hair
    better there but far worse on PR-AUC does not replace the champion on its own."""
    rules = {"severity": (0.41, 0.1)}
    trade = gate(0.874, 0.870, "1", "iw_recall_at_budget", rules, pr_auc=(0.41, 0.66))
    assert trade.alias == CHALLENGER
    assert "PR-AUC 0.410 vs 0.660" in trade.sentence()
    both = gate(0.874, 0.870, "1", "iw_recall_at_budget", rules, pr_auc=(0.66, 0.66))
    assert both.alias == CHAMPION


@pytest.mark.integration
def test_train_keeps_a_model_that_loses_to_severity_off_champion(tmp_path, sample_dir):
    """Verdicts that say exactly the critical alerts hurt users make severity a perfect ordering
    (PR-AUC 1): no model can strictly beat it, so train says so and the gate refuses it."""
    alerts = load_data_dir(sample_dir).alerts
    verdicts = pd.DataFrame(
        {
            "alert_id": alerts["alert_id"],
            "impact": (alerts["severity"] == "critical").astype(int),
            "ts": alerts["fired_at"] + pd.Timedelta(hours=1),
        }
    )
    path = tmp_path / "verdicts.parquet"
    verdicts.to_parquet(path, index=False)
    settings = settings_at(tmp_path / "home")
    result = train(sample_dir, settings, feedback_path=path)
    assert result.evaluation.table.loc["severity", "pr_auc"] == pytest.approx(1.0)
    assert result.decision.alias == CHALLENGER and "severity" in result.decision.lost_to
    client = MlflowClient(settings.tracking_uri, settings.tracking_uri)
    assert version_of(client, "journeyrank", CHAMPION) is None
    tags = client.get_run(result.run_id).data.tags
    assert "does not beat the rules" in tags["gate.decision"]
    assert "does NOT beat severity" in comparison(result.evaluation, "held-out").caption
