"""The priority: what is at stake if the model is right, and what an unmapped alert stands for."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.priority import UNMAPPED_IMPACT, UnmappedStand, priority_score


def alerts(impact, expected, live=None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "stage_impact_max": impact,
            "expected_sessions_30m": expected,
            "sessions_at_risk_15m": live if live is not None else [np.nan] * len(impact),
        }
    )


def test_the_stand_is_the_median_mapped_alert():
    frame = alerts(
        impact=[0.9, 0.5, 0.7, np.nan, np.nan],
        expected=[100.0, 300.0, 200.0, np.nan, 5_000.0],
    )
    assert UnmappedStand.fit(frame) == UnmappedStand(users_at_risk=200.0, stage_impact=0.7)


def test_a_mapped_impact_below_the_floor_counts_at_the_floor():
    frame = alerts(impact=[0.0, 0.0, 0.9], expected=[10.0, 10.0, 10.0])
    assert UnmappedStand.fit(frame).stage_impact == UNMAPPED_IMPACT


def test_with_no_mapped_alert_the_stand_is_the_rule_before():
    frame = alerts(impact=[np.nan, np.nan], expected=[np.nan, np.nan])
    assert UnmappedStand.fit(frame) == UnmappedStand()
    assert np.allclose(
        priority_score(np.array([0.5, 0.2]), frame), np.array([0.5, 0.2]) * np.log(2.0) * 0.1
    )


def test_an_unmapped_alert_ranks_as_the_typical_mapped_one_at_equal_probability():
    stand = UnmappedStand(users_at_risk=400.0, stage_impact=0.6)
    frame = alerts(impact=[np.nan, 0.6, 0.9], expected=[np.nan, 400.0, 400.0])
    priority = priority_score(np.full(3, 0.3), frame, stand)
    assert np.isclose(priority[0], priority[1])
    assert priority[2] > priority[0]


def test_an_unmapped_alert_stands_for_no_users_of_its_own():
    """Sessions a feature row may carry for an unmapped alert do not move it: it is the stand."""
    stand = UnmappedStand(users_at_risk=50.0, stage_impact=0.5)
    quiet = alerts(impact=[np.nan], expected=[np.nan])
    busy = alerts(impact=[np.nan], expected=[1e6], live=[1e6])
    p = np.array([0.4])
    assert np.allclose(priority_score(p, quiet, stand), priority_score(p, busy, stand))


def test_more_probability_or_more_users_never_lowers_priority():
    frame = alerts(impact=[0.5, 0.5, np.nan], expected=[10.0, 1_000.0, np.nan])
    stand = UnmappedStand.fit(frame)
    low, high = (
        priority_score(np.full(3, 0.2), frame, stand),
        priority_score(np.full(3, 0.4), frame, stand),
    )
    assert (high > low).all()
    assert low[1] > low[0]
