"""A policy floor holds the same on /rank and in `journeyrank score` (one place applies it)."""

from __future__ import annotations

import json

import pandas as pd
from service_client import alert_json, make_client
from test_server import history_and_incoming

from features.loading import load_data_dir
from models.policy import load_policy
from pipeline.score import score_alerts


def test_a_floor_holds_alike_on_rank_and_in_score(
    served, sample_dir, service_env, tmp_path, monkeypatch
):
    _, trained = served
    history, incoming = history_and_incoming(sample_dir, tmp_path / "history")
    quiet = incoming[incoming["severity"].isin(["warning", "info"])]["alert_name"].iloc[0]
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(
        f"floors:\n  - name: never-miss\n    match: {{alert_name: '{quiet}'}}\n    tier: P1\n"
        "    reason: the on-call team asked to see these\n"
    )
    monkeypatch.setenv("JOURNEYRANK_WARM_FROM", str(history))
    monkeypatch.setenv("JOURNEYRANK_POLICY", str(policy_file))
    with make_client() as client:
        over_http = client.post("/rank", json={"alerts": alert_json(incoming)}).json()["ranked"]
    batch = score_alerts(
        trained.ranker,
        load_data_dir(history),
        load_data_dir(sample_dir).alerts.loc[incoming.index],
        trained.version,
        load_policy(policy_file),
    )
    http = pd.DataFrame(over_http)
    assert list(http["alert_id"]) == list(batch["alert_id"])  # the same order, floors included
    assert list(http["tier"]) == list(batch["tier"])
    floored = set(incoming.loc[incoming["alert_name"] == quiet, "alert_id"])
    for frame, flags, reasons in ((http, http["flags"], http["reasons"]),
                                  (batch, batch["flags"].str.split(","), batch["reasons"].map(json.loads))):  # fmt: skip
        held = frame["alert_id"].isin(floored).to_numpy()
        assert (frame.loc[held, "tier"] == "P1").all()
        assert all("policy_floor" in f for f in flags[held])
        assert all(
            r[0].startswith("policy floor 'never-miss': the on-call team asked")
            for r in reasons[held]
        )
    assert http["tier"].iloc[0] == "P1"
