"""Shadow mode: the service ranks and logs everything but answers and forwards the original routing;
`journeyrank shadow-report` then says what the model would have changed."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pandas as pd
from service_client import alert_json, make_client
from test_server import cut_data_dir

from features.loading import load_data_dir
from features.settings import Settings
from features.table import build_feature_table
from models.inference_log import InferenceLog
from pipeline.cli import main
from pipeline.serve import free_port
from pipeline.shadow_report import shadow_report

SEVERITY_TIER = {"critical": "P2", "high": "P2", "warning": "P3", "info": "P4"}


def test_shadow_mode_forwards_the_original_routing_and_reports_what_would_change(
    sample_dir, service_env, tmp_path, monkeypatch, capsys
):
    alerts = pd.read_parquet(sample_dir / "alerts.parquet")
    table = build_feature_table(load_data_dir(sample_dir)).frame.set_index("alert_id")
    # eight hours of the last week that hold its highest-impact alert (the label long matured)
    hurt_at = table.loc[table["label"] == 1].sort_values("impact_weight")["fired_at"]
    end = alerts["fired_at"].max()
    hurt_at = hurt_at[hurt_at.between(end - pd.Timedelta(days=7), end - pd.Timedelta(hours=12))]
    until = hurt_at.iloc[-1].floor("h") - pd.Timedelta(hours=2)
    history = cut_data_dir(sample_dir, until, tmp_path / "history")
    incoming = alerts[
        (alerts["fired_at"] >= until) & (alerts["fired_at"] < until + pd.Timedelta(hours=8))
    ]
    monkeypatch.setenv("JOURNEYRANK_WARM_FROM", str(history))
    monkeypatch.setenv("JOURNEYRANK_SHADOW", "true")
    monkeypatch.setenv(
        "JOURNEYRANK_FORWARD_URL", f"http://127.0.0.1:{free_port()}/down"
    )  # kept queued
    monkeypatch.setenv("JOURNEYRANK_FORWARD_TIERS", "P1,P2,P3,P4")
    with make_client() as client:
        ranked = client.post("/rank", json={"alerts": alert_json(incoming)}).json()["ranked"]

    severity = incoming.set_index("alert_id")["severity"]
    assert {r["alert_id"] for r in ranked} == set(incoming["alert_id"])
    assert all("shadow" in r["flags"] for r in ranked)
    assert all(r["tier"] == SEVERITY_TIER[severity[r["alert_id"]]] for r in ranked)
    with sqlite3.connect(service_env / "outbox.sqlite") as db:
        forwarded = [
            a for (b,) in db.execute("SELECT body FROM outbox") for a in json.loads(b)["alerts"]
        ]
    assert {a["alert_id"]: a["tier"] for a in forwarded} == {
        r["alert_id"]: r["tier"] for r in ranked
    }

    logged = InferenceLog.in_home(service_env).export().set_index("alert_id")
    assert set(logged.index) == set(incoming["alert_id"])
    assert not logged["flags"].str.contains("shadow").any()  # the model's own answers
    assert (logged["tier"] != logged.index.map(lambda a: SEVERITY_TIER[severity[a]])).any()

    report, demoted = shadow_report(Settings(home=service_env), until.isoformat(), sample_dir)
    model_pages = logged["tier"].isin(["P1", "P2"])
    original_pages = severity.reindex(logged.index).isin(["critical", "high"])
    assert report.alerts == len(incoming) and report.fallback_alerts == 0
    assert (report.pages_original, report.pages_model) == (original_pages.sum(), model_pages.sum())
    assert report.pages_saved == original_pages.sum() - model_pages.sum()
    # recall against the training pipeline's own labels of the same alerts
    labels = table.loc[logged.index, ["label", "impact_weight"]]
    hurt = (labels["label"] == 1).to_numpy()
    weight = np.nan_to_num(labels["impact_weight"].to_numpy(float))
    assert report.labelled == labels["label"].notna().sum() and report.impactful == hurt.sum()
    assert (
        report.iw_recall_model == weight[hurt & model_pages.to_numpy()].sum() / weight[hurt].sum()
    )
    expected_demoted = logged.index[hurt & original_pages.to_numpy() & ~model_pages.to_numpy()]
    assert set(demoted["alert_id"]) == set(expected_demoted)
    assert (demoted["model_tier"].isin(["P3", "P4"]) & (demoted["original_tier"] == "P2")).all()

    monkeypatch.setenv("JOURNEYRANK_HOME", str(service_env))
    out = tmp_path / "report"
    argv = [
        "shadow-report",
        "--since",
        until.isoformat(),
        "--data",
        str(sample_dir),
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert (
        f"{report.pages_saved:,} saved" in printed
        and "demoted below a page and hurt users" in printed
    )
    assert json.loads((out / "shadow_report.json").read_text())["pages_saved"] == report.pages_saved
    assert len(pd.read_csv(out / "shadow_demoted_harmful.csv")) == report.demoted_harmful
    print(printed)
