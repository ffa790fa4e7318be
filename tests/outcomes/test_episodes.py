"""Degradation episodes on hand-made outcomes: which dips become episodes, their span, cost and alerts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from outcome_world import MAP, STEP_NS, alerts, at, dip, outcomes
from pydantic import ValidationError

from features.baselines import fit_baselines
from features.episodes import (
    EPISODE_COLUMNS,
    EpisodeConfig,
    degradation_episodes,
    episode_spans,
    stage_summary,
    stage_week_summary,
    window_losses,
)
from features.stages import StageIndex

STAGES = StageIndex.from_map(MAP)


@pytest.fixture(scope="module")
def clean_baselines():
    return fit_baselines(outcomes(), STAGES, STEP_NS)


def episodes_of(frame, clean_baselines=None, found_alerts=None, config=None) -> pd.DataFrame:
    return degradation_episodes(frame, found_alerts, MAP, STEP_NS, clean_baselines, config)


def test_a_dip_is_exactly_one_episode_with_its_start_end_and_duration():
    found = episodes_of(outcomes(dips=dip("pay", range(100, 106), 0.5)))  # baselines fit on itself
    assert list(found.columns) == list(EPISODE_COLUMNS)
    assert len(found) == 1
    episode = found.iloc[0]
    assert (episode["journey"], episode["stage"]) == ("buy", "pay")
    assert episode["start"] == at(100) and episode["end"] == at(106)
    assert episode["duration_min"] == 30 and episode["windows"] == 6
    assert episode["lost_completions"] == pytest.approx(
        6 * 60
    )  # 200 sessions: 160 expected, 100 done
    assert episode["relative_drop"] == pytest.approx(60 / 160)


def test_the_baselines_fit_on_the_period_are_not_dragged_down_by_the_dip(clean_baselines):
    frame = outcomes(dips=dip("pay", range(100, 106), 0.5))
    pd.testing.assert_frame_equal(episodes_of(frame), episodes_of(frame, clean_baselines))


def test_a_single_noisy_window_is_not_an_episode(clean_baselines):
    frame = outcomes(dips=dip("pay", [100], 0.7))  # z ≈ 3.5 in one window, normal around it
    windows = window_losses(frame, STAGES, clean_baselines, MAP, STEP_NS)
    assert windows["z"].max() == pytest.approx(20 / np.sqrt(32))
    assert episodes_of(frame, clean_baselines).empty


def test_one_extreme_window_is_an_episode_a_five_minute_outage(clean_baselines):
    found = episodes_of(outcomes(dips=dip("pay", [100], 0.2)), clean_baselines)
    assert len(found) == 1 and found.iloc[0]["duration_min"] == 5
    strict = EpisodeConfig(single_window_z=100.0)
    assert episodes_of(outcomes(dips=dip("pay", [100], 0.2)), clean_baselines, config=strict).empty


def test_two_dips_one_normal_window_apart_stay_one_episode(clean_baselines):
    dips = dip("pay", range(100, 103), 0.5) | dip("pay", range(104, 107), 0.5)
    found = episodes_of(outcomes(dips=dips), clean_baselines)
    assert len(found) == 1
    assert found.iloc[0]["start"] == at(100) and found.iloc[0]["end"] == at(107)
    assert found.iloc[0]["windows"] == 7  # the normal window inside counts toward the duration


def test_two_normal_windows_restore_the_stage(clean_baselines):
    dips = dip("pay", range(100, 103), 0.5) | dip("pay", range(105, 108), 0.5)
    found = episodes_of(outcomes(dips=dips), clean_baselines)
    assert list(found["start"]) == [at(100), at(105)]
    assert list(found["end"]) == [at(103), at(108)]


def test_a_slow_burn_below_the_window_threshold_is_one_episode(clean_baselines):
    frame = outcomes(dips=dip("pay", range(200, 248), 0.76))  # z ≈ 1.4 per window for 4 hours
    windows = window_losses(frame, STAGES, clean_baselines, MAP, STEP_NS)
    assert windows["z"].max() < EpisodeConfig().window_z
    found = episodes_of(frame, clean_baselines)
    assert len(found) == 1
    assert found.iloc[0]["start"] == at(200) and found.iloc[0]["duration_min"] == 240


def test_a_significant_but_immaterial_dip_is_left_out(clean_baselines):
    frame = outcomes(dips=dip("pay", range(100, 104), 0.5))
    assert len(episodes_of(frame, clean_baselines)) == 1
    strict = EpisodeConfig(min_lost_completions=1000)
    assert episodes_of(frame, clean_baselines, config=strict).empty


def test_the_segments_and_regions_hurt_and_the_weighted_loss(clean_baselines):
    frame = outcomes(dips=dip("pay", range(100, 104), 0.2), only=("new", "eu"))
    found = episodes_of(frame, clean_baselines)
    assert len(found) == 1
    episode = found.iloc[0]
    assert episode["segments_hurt"] == "new" and episode["regions_hurt"] == "eu"
    assert episode["lost_completions"] == pytest.approx(4 * 30)
    assert episode["lost_value"] == pytest.approx(4 * 30 * 2.0 * 10.0)  # × segment weight × value


def test_alerts_during_and_just_before_are_attached_through_the_journey_map(clean_baselines):
    start = 100 * 5  # minutes after T0
    fired = alerts(
        ("early", start - 30, "pay-svc"),  # before the lead time
        ("lead", start - 10, "pay-svc"),
        ("during", start + 5, "pay-svc"),
        ("dependency", start + 10, "db"),  # db is behind pay-svc
        ("other-stage", start + 5, "cart-svc"),
        ("unmapped", start + 5, "mystery"),
        ("after", start + 40, "pay-svc"),
    )
    found = episodes_of(outcomes(dips=dip("pay", range(100, 106), 0.5)), clean_baselines, fired)
    assert found.iloc[0]["alerts_before"] == ["lead"]
    assert found.iloc[0]["alerts_during"] == ["during", "dependency"]


def test_episodes_on_both_stages_come_in_time_order(clean_baselines):
    dips = dip("pay", range(300, 304), 0.5) | dip("cart", range(100, 104), 0.5)
    found = episodes_of(outcomes(dips=dips), clean_baselines)
    assert list(found["stage"]) == ["cart", "pay"]
    assert list(found["episode_id"]) == ["ep-00001", "ep-00002"]


def test_episode_spans_is_the_rule_on_plain_arrays():
    config = EpisodeConfig()
    z = np.array([0, 5, 5, 0, 5, 0, 0, 5, 0, 0, 1.0])
    variance = np.ones_like(z)
    assert episode_spans(z, z * 1.0, variance, config) == [(1, 4)]


def test_the_smoothing_must_be_centred():
    with pytest.raises(ValidationError, match="odd"):
        EpisodeConfig(smooth_windows=4)


def test_stage_summary_counts_episodes_and_the_spread_around_the_baseline(clean_baselines):
    frame = outcomes(dips=dip("pay", range(100, 106), 0.5))
    windows = window_losses(frame, STAGES, clean_baselines, MAP, STEP_NS)
    found = episodes_of(frame, clean_baselines)
    summary = stage_summary(windows, found).set_index("stage")
    assert summary.loc["pay", "episodes"] == 1 and summary.loc["cart", "episodes"] == 0
    assert summary.loc["pay", "ttr_median_min"] == 30
    assert summary.loc["cart", "rate_spread_pp"] == pytest.approx(0.0)
    assert summary.loc["pay", "rate_spread_pp"] > 0
    weekly = stage_week_summary(windows, found)
    assert set(weekly["week"]) == {at(0)}  # T0 is a Monday: one week
    assert weekly["episodes"].sum() == 1
