"""The simulator: reproducible, valid under the contract, and realistic enough to learn from."""

from __future__ import annotations

import filecmp
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from features.loading import load_data_dir, load_session_events
from features.values import SEVERITIES
from pipeline.simulate import SimulationConfig, simulate

FILES = (
    "alerts.parquet",
    "journey_outcomes.parquet",
    "changes.parquet",
    "truth.parquet",
    "truth_incidents.parquet",
    "journey_map.yaml",
    "session_events.parquet",
)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("sim")
    for name, seed in (("a", 11), ("b", 11), ("c", 12)):
        simulate(SimulationConfig(out=root / name, days=3, seed=seed, events=True))
    return root / "a", root / "b", root / "c"


def test_same_seed_writes_byte_identical_files(two_runs):
    a, b, _ = two_runs
    for name in FILES:
        assert filecmp.cmp(a / name, b / name, shallow=False), name


def test_another_seed_writes_other_data(two_runs):
    a, _, c = two_runs
    assert not filecmp.cmp(a / "alerts.parquet", c / "alerts.parquet", shallow=False)


def test_output_meets_the_data_contract(two_runs):
    data = load_data_dir(two_runs[0])
    assert data.window == pd.Timedelta(minutes=5)
    assert len(data.alerts) > 0 and len(data.journey_outcomes) > 0
    assert set(data.truth["alert_id"]) == set(data.alerts["alert_id"])


def test_session_events_add_up_to_the_outcomes(two_runs):
    events = load_session_events(two_runs[0] / "session_events.parquet")
    outcomes = load_data_dir(two_runs[0]).journey_outcomes
    keys = ["window_start", "journey", "stage", "segment", "region"]
    counted = (
        events.assign(window_start=events["ts"].dt.floor("5min"))
        .pivot_table(index=keys, columns="event", values="session_id", aggfunc="size", fill_value=0)
        .reset_index()
    )
    both = outcomes.merge(counted, on=keys, how="outer", validate="one_to_one")
    for column, event in (
        ("sessions", "enter"),
        ("completed", "complete"),
        ("abandoned", "abandon"),
        ("errors", "error"),
    ):
        assert (both[column].fillna(0).astype(int) == both[event].fillna(0).astype(int)).all(), (
            column
        )


def test_a_session_enters_a_stage_before_it_leaves_it(two_runs):
    events = load_session_events(two_runs[0] / "session_events.parquet")
    one = events[events["session_id"] == events["session_id"].iloc[len(events) // 2]]
    entered = one.loc[one["event"] == "enter"].groupby("stage")["ts"].min()
    left = one.loc[one["event"].isin(["complete", "abandon"])].groupby("stage")["ts"].min()
    assert (left.reindex(entered.index).dropna() >= entered.reindex(left.index).dropna()).all()


# --- realism, on the committed sample (the figures the foundation issue asks to show)


@pytest.fixture(scope="module")
def sample(sample_dir):
    data = load_data_dir(sample_dir)
    return data, data.alerts.merge(data.truth, on="alert_id", validate="one_to_one")


def test_a_minority_of_alerts_hurt_users(sample):
    _, alerts = sample
    assert 0.05 <= alerts["true_impact"].mean() <= 0.20
    assert alerts["incident_id"].isna().mean() > 0.7  # noise is the majority


def test_severity_says_something_but_little(sample):
    _, alerts = sample
    rank = alerts["severity"].map({s: len(SEVERITIES) - i for i, s in enumerate(SEVERITIES)})
    pr_auc = average_precision_score(alerts["true_impact"], rank)
    assert alerts["true_impact"].mean() * 1.2 < pr_auc < 0.4


def test_the_map_is_incomplete_and_some_services_are_on_no_user_path(sample):
    data, alerts = sample
    covered = data.journey_map.covered_services()
    unmapped = alerts.loc[~alerts["service"].isin(covered)]
    assert len(unmapped) > 0
    assert unmapped["true_impact"].sum() > 0  # a real dependency the map's authors left out
    assert (unmapped.groupby("service")["true_impact"].max() == 0).any()  # services on no user path


def test_incidents_of_every_kind_with_heavy_tailed_damage(sample_dir):
    incidents = pd.read_parquet(sample_dir / "truth_incidents.parquet")
    assert set(incidents["kind"]) == {
        "outage",
        "error_burst",
        "latency",
        "slow_burn",
        "partial_region",
    }
    hurt = incidents.loc[incidents["lost_completions"] > 0, "lost_completions"]
    assert hurt.max() > 20 * hurt.median()
    assert incidents["change_id"].notna().any()  # some incidents follow a change


def test_incidents_alert_on_callers_and_after_a_lag(sample):
    data, alerts = sample
    incidents = pd.read_parquet(data.path / "truth_incidents.parquet").set_index("incident_id")
    from_incidents = alerts.dropna(subset=["incident_id"])
    origin = incidents.loc[from_incidents["incident_id"]]
    assert (from_incidents["service"].to_numpy() != origin["service"].to_numpy()).any()
    lag = (from_incidents["fired_at"].to_numpy() - origin["start"].to_numpy()) / np.timedelta64(
        1, "m"
    )
    assert np.median(lag) > 1


def test_the_sample_is_small_enough_to_commit(sample_dir):
    assert sum(f.stat().st_size for f in sample_dir.iterdir()) < 10 * 2**20
