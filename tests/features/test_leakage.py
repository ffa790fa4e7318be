"""No leakage, proven: nothing an alert could not have known at fired_at changes any of its features."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.build import CATEGORICAL, FEATURE_NAMES
from features.loading import load_data_dir
from features.table import build_feature_table
from pipeline.simulate import SimulationConfig, simulate

SETTINGS = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Two simulated days, their features, and the baselines held fixed (fitted state, like a model's)."""
    out = tmp_path_factory.mktemp("leak") / "data"
    simulate(SimulationConfig(out=out, days=2, seed=21))
    data = load_data_dir(out)
    table = build_feature_table(data)
    return data, table


def features_of(data, table, alert_id: str) -> pd.Series:
    again = build_feature_table(data, config=table.config, baselines=table.baselines)
    return again.frame.set_index("alert_id").loc[alert_id, list(FEATURE_NAMES)]


def assert_unchanged(before: pd.Series, after: pd.Series) -> None:
    for name in FEATURE_NAMES:
        a, b = before[name], after[name]
        if name in CATEGORICAL:
            assert (pd.isna(a) and pd.isna(b)) or a == b, name
        else:
            assert (np.isnan(a) and np.isnan(b)) or abs(a - b) <= 1e-9, (name, a, b)


def pick_alert(data, fraction: float) -> pd.Series:
    """An alert well inside the period, so that it has both a past and a future."""
    ordered = data.alerts.sort_values("fired_at")
    return ordered.iloc[int(len(ordered) * (0.3 + 0.6 * fraction))]


@SETTINGS
@given(fraction=st.floats(0, 1), scale=st.floats(0, 3), seed=st.integers(0, 2**16))
def test_outcomes_of_windows_ending_after_fired_at_change_nothing(world, fraction, scale, seed):
    data, table = world
    alert = pick_alert(data, fraction)
    outcomes = data.journey_outcomes.copy()
    later = (outcomes["window_start"] + data.window > alert["fired_at"]).to_numpy()
    rng = np.random.default_rng(seed)
    sessions = (
        outcomes.loc[later, "sessions"].to_numpy() * scale * rng.uniform(0.5, 1.5, later.sum())
    ).astype(np.int64)
    outcomes.loc[later, "sessions"] = sessions
    outcomes.loc[later, "completed"] = (sessions * rng.uniform(0, 1, later.sum())).astype(np.int64)
    outcomes.loc[later, "abandoned"] = 0
    outcomes.loc[later, "errors"] = (sessions * 0.3).astype(np.int64)
    outcomes.loc[later, "latency_p95_ms"] = outcomes.loc[later, "latency_p95_ms"] * (1 + scale)
    changed = dataclasses.replace(data, journey_outcomes=outcomes)
    assert_unchanged(
        features_of(data, table, alert["alert_id"]), features_of(changed, table, alert["alert_id"])
    )


@SETTINGS
@given(fraction=st.floats(0, 1), seed=st.integers(0, 2**16), drop=st.booleans())
def test_later_alerts_and_later_resolutions_change_nothing(world, fraction, seed, drop):
    data, table = world
    alert = pick_alert(data, fraction)
    t = alert["fired_at"]
    rng = np.random.default_rng(seed)
    alerts = data.alerts.copy()
    later = (alerts["fired_at"] > t).to_numpy()
    if drop:
        alerts = alerts[~later | (alerts["alert_id"] == alert["alert_id"]).to_numpy()]
    else:
        # more firings after t, copies of later ones on other services and rules
        extra = alerts[later].sample(frac=0.5, random_state=seed).copy()
        extra["alert_id"] = "extra-" + extra["alert_id"]
        extra["service"] = rng.permutation(extra["service"].to_numpy())
        alerts = pd.concat([alerts, extra], ignore_index=True)
    resolved_later = (alerts["resolved_at"] > t).fillna(False).to_numpy()
    alerts.loc[resolved_later, "resolved_at"] = t + pd.Timedelta(
        seconds=1
    )  # resolved right after t instead
    changed = dataclasses.replace(data, alerts=alerts.reset_index(drop=True))
    assert_unchanged(
        features_of(data, table, alert["alert_id"]), features_of(changed, table, alert["alert_id"])
    )


@SETTINGS
@given(
    fraction=st.floats(0, 1),
    minutes=st.floats(0, 600),
    kind=st.sampled_from(["deploy", "config", "feature_flag"]),
)
def test_later_changes_change_nothing(world, fraction, minutes, kind):
    data, table = world
    alert = pick_alert(data, fraction)
    later_change = pd.DataFrame(
        {
            "change_id": ["chg-later"],
            "ts": [alert["fired_at"] + pd.Timedelta(minutes=minutes)],
            "service": [alert["service"]],
            "kind": [kind],
            "description": ["a change after the alert"],
        }
    )
    changes = pd.concat(
        [data.changes[data.changes["ts"] < alert["fired_at"]], later_change], ignore_index=True
    )
    changed = dataclasses.replace(data, changes=changes.astype(data.changes.dtypes.to_dict()))
    assert_unchanged(
        features_of(data, table, alert["alert_id"]), features_of(changed, table, alert["alert_id"])
    )


@SETTINGS
@given(fraction=st.floats(0, 1), seed=st.integers(0, 2**16))
def test_verdicts_given_after_fired_at_change_nothing(world, fraction, seed):
    """Labels not yet matured, or overridden later by a human verdict, are unknown at fire time."""
    data, table = world
    alert = pick_alert(data, fraction)
    earlier = data.alerts[data.alerts["fired_at"] < alert["fired_at"]].sample(20, random_state=seed)
    rng = np.random.default_rng(seed)
    verdicts = pd.DataFrame(
        {
            "alert_id": earlier["alert_id"].to_numpy(),
            "impact": rng.integers(0, 2, len(earlier)),
            "ts": alert["fired_at"]
            + pd.to_timedelta(rng.uniform(0, 120, len(earlier)), unit="min"),
        }
    )
    changed = dataclasses.replace(data, feedback=verdicts)
    assert_unchanged(
        features_of(data, table, alert["alert_id"]), features_of(changed, table, alert["alert_id"])
    )


def test_a_verdict_given_before_fired_at_does_reach_the_features(world):
    """The other side of the same coin: the tests above could not pass by ignoring verdicts altogether."""
    data, table = world
    alert = pick_alert(data, 0.9)
    same_rule = data.alerts[
        (data.alerts["alert_name"] == alert["alert_name"])
        & (data.alerts["service"] == alert["service"])
        & (data.alerts["fired_at"] < alert["fired_at"] - pd.Timedelta(hours=2))
    ]
    assert len(same_rule) > 0
    verdicts = pd.DataFrame(
        {
            "alert_id": same_rule["alert_id"].to_numpy(),
            "impact": 1,
            "ts": (same_rule["fired_at"] + pd.Timedelta(minutes=1)).to_numpy(),
        }
    )
    before = features_of(data, table, alert["alert_id"])
    after = features_of(dataclasses.replace(data, feedback=verdicts), table, alert["alert_id"])
    assert after["rule_impact_rate"] > before["rule_impact_rate"]
