"""The feedback loop: a verdict posted to /feedback reaches `journeyrank train --feedback` and wins."""

from __future__ import annotations

import mlflow
import pandas as pd

from features.settings import settings_at
from models.registry import use_tracking
from pipeline.cli import main
from pipeline.train import train


def test_a_posted_verdict_overrides_a_training_label_and_the_model_card_counts_it(
    served, client, sample_dir, tmp_path, capsys
):
    _, first = served
    quiet = first.split.train[first.split.train["label"] == 0].iloc[0]
    verdict = {
        "alert_id": quiet["alert_id"],
        "impact": 1,
        "ts": "2026-10-27T09:00:00Z",
        "author": "oncall@example.com",
        "note": "checkout customers complained",
    }
    assert client.post("/feedback", json={"rows": [verdict]}).json() == {"stored": 1}

    exported = tmp_path / "verdicts.parquet"
    assert main(["export-feedback", "--out", str(exported)]) == 0  # JOURNEYRANK_HOME: the service's
    assert "1 verdicts" in capsys.readouterr().out
    verdicts = pd.read_parquet(exported)
    assert verdicts[["alert_id", "impact", "author"]].to_dict("records") == [
        {"alert_id": quiet["alert_id"], "impact": 1, "author": "oncall@example.com"}
    ]

    settings = settings_at(tmp_path / "retrain-home")
    again = train(sample_dir, settings, feedback_path=exported)
    row = again.split.train.set_index("alert_id").loc[quiet["alert_id"]]
    assert (row["label"], row["label_source"]) == (1, "feedback")
    assert again.ranker.info["feedback_overrides"] == 1
    use_tracking(settings.tracking_uri)
    card = mlflow.artifacts.load_text(f"runs:/{again.run_id}/report/model_card.md")
    assert "feedback overrides: **1**" in card
