"""The online path computes, for every alert, what the offline job computes: one definition, two paths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.build import CATEGORICAL, FEATURE_NAMES
from features.families.incident import with_incidents
from features.incidents import IncidentGrouper
from features.loading import load_data_dir
from features.online import OnlineFeatureState, Retention
from features.table import build_feature_table

HOUR = pd.Timedelta(hours=1)


@pytest.fixture(scope="module")
def sample(sample_dir):
    data = load_data_dir(sample_dir)
    rng = np.random.default_rng(3)
    picked = data.alerts.sample(40, random_state=1)
    feedback = pd.DataFrame(
        {
            "alert_id": picked["alert_id"].to_numpy(),
            "impact": rng.integers(0, 2, len(picked)),
            "ts": (
                picked["fired_at"] + pd.to_timedelta(rng.uniform(5, 300, len(picked)), unit="min")
            ).to_numpy(),
        }
    )
    return data, feedback


def replay(data, feedback, offline, retention: Retention) -> pd.DataFrame:
    """Feed history hour by hour, in time order, and ask for each hour's alerts' features as they
    arrive, each hour's alerts grouped by one incident grouper fed the same batches (as the
    service's is) before their features are asked for."""
    state = OnlineFeatureState(
        data.journey_map, offline.baselines, offline.config, offline.window_ns, retention
    )
    grouper = IncidentGrouper(data.journey_map, offline.config.incidents)
    outcome_end = data.journey_outcomes["window_start"] + data.window
    start = data.alerts["fired_at"].min().floor("h")
    pushed = pd.Timestamp.min.tz_localize("UTC")
    answers = []
    for hour in pd.date_range(start, data.alerts["fired_at"].max() + HOUR, freq="h"):
        end = hour + HOUR
        state.add_outcomes(data.journey_outcomes[(outcome_end > pushed) & (outcome_end <= end)])
        changes = data.changes[(data.changes["ts"] >= pushed) & (data.changes["ts"] < end)]
        state.add_changes(changes)
        grouper.add_changes(changes)
        state.add_feedback(feedback[(feedback["ts"] >= pushed) & (feedback["ts"] < end)])
        pushed = end
        batch = data.alerts[(data.alerts["fired_at"] >= hour) & (data.alerts["fired_at"] < end)]
        if len(batch):
            state.add_alerts(batch)
            grouped = grouper.assign(batch).set_axis(batch["alert_id"].astype(str))
            answers.append(state.features_for(with_incidents(batch, grouped)))
        state.prune(hour)
    return pd.concat(answers, ignore_index=True)


def assert_same_features(online: pd.DataFrame, offline: pd.DataFrame) -> None:
    offline = offline.set_index("alert_id").loc[online["alert_id"]]
    online = online.set_index("alert_id")
    for name in FEATURE_NAMES:
        if name in CATEGORICAL:
            assert online[name].fillna("∅").tolist() == offline[name].fillna("∅").tolist(), name
        else:
            np.testing.assert_allclose(
                online[name].to_numpy(float),
                offline[name].to_numpy(float),
                rtol=0,
                atol=1e-9,
                equal_nan=True,
                err_msg=name,
            )


def test_replaying_the_sample_through_the_online_state_gives_the_offline_features(sample):
    data, feedback = sample
    offline = build_feature_table(data, feedback=feedback)
    online = replay(data, feedback, offline, Retention())
    assert len(online) == len(data.alerts)
    assert_same_features(online, offline.frame)
    # the incident features are not trivially equal: incidents of several alerts and services
    assert (online["incident_alerts_so_far"] > 1).mean() > 0.05
    assert (online["incident_services_so_far"] > 1).any()
