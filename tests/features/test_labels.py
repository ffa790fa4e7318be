"""Impact labels on tiny hand-made outcomes: one behaviour per test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tiny import MAP, STEP, T0, alerts, outcomes

from features.baselines import fit_baselines
from features.config import LabelConfig
from features.journey_state import build_journey_state
from features.labels import apply_feedback, derive_impact_labels, label_history
from features.stages import StageIndex

STAGES = StageIndex.from_map(MAP)
DAY_WINDOWS = 288
OUTAGE_AT = 6 * DAY_WINDOWS + 120  # day 7, 10:00: pay loses most completions for 30 min


def labels_for(alert_rows, data, feedback=None, config=None):
    baselines = fit_baselines(data, STAGES, int(STEP.value))
    state = build_journey_state(data, STAGES, baselines, int(STEP.value))
    return derive_impact_labels(alert_rows, state, STAGES, MAP, config or LabelConfig(), feedback)


@pytest.fixture(scope="module")
def outage():
    return outcomes(drops={("pay", OUTAGE_AT + i): 0.2 for i in range(6)})


def minutes_of(window: int) -> float:
    return window * 5


def test_an_alert_right_before_a_loss_on_its_stage_is_labelled_impact(outage):
    out = labels_for(alerts(("a", minutes_of(OUTAGE_AT), "pay-svc")), outage)
    assert out.loc[0, "label"] == 1
    assert out.loc[0, "impact_stage"] == "pay"
    # lost completions x stage value x segment weight: 6 windows x 60 lost x 10 x (2.0 + 1.0)
    assert out.loc[0, "impact_weight"] == pytest.approx(6 * 60 * 10 * 3.0, rel=0.02)


def test_a_dependency_reaches_the_stage_through_the_map(outage):
    assert labels_for(alerts(("a", minutes_of(OUTAGE_AT), "db")), outage).loc[0, "label"] == 1


def test_an_alert_on_a_healthy_stage_is_not_impact(outage):
    out = labels_for(alerts(("a", minutes_of(OUTAGE_AT), "cart-svc")), outage.assign())
    assert out.loc[0, "label"] == 0  # cart-svc reaches cart, which completed normally


def test_an_alert_after_the_loss_ended_is_not_impact(outage):
    assert (
        labels_for(alerts(("a", minutes_of(OUTAGE_AT + 12), "pay-svc")), outage).loc[0, "label"]
        == 0
    )


def test_an_unmapped_service_is_labelled_zero_and_says_so(outage):
    out = labels_for(alerts(("a", minutes_of(OUTAGE_AT), "batch-job")), outage)
    assert out.loc[0, "label"] == 0 and out.loc[0, "label_source"] == "unmapped"


def test_an_alert_whose_window_has_not_closed_has_no_label_yet():
    data = outcomes(days=1)
    out = labels_for(alerts(("a", 24 * 60 - 10, "pay-svc")), data)
    assert pd.isna(out.loc[0, "label"])


def test_a_loss_too_small_to_matter_is_not_impact():
    data = outcomes(drops={("pay", OUTAGE_AT + i): 0.79 for i in range(6)})
    assert labels_for(alerts(("a", minutes_of(OUTAGE_AT), "pay-svc")), data).loc[0, "label"] == 0


def test_materiality_thresholds_come_from_config(outage):
    strict = LabelConfig(min_lost_completions=10_000)
    assert (
        labels_for(alerts(("a", minutes_of(OUTAGE_AT), "pay-svc")), outage, config=strict).loc[
            0, "label"
        ]
        == 0
    )


def test_baselines_are_not_dragged_down_by_the_incident(outage):
    baselines = fit_baselines(outage, STAGES, int(STEP.value))
    assert np.nanmin(baselines.completion) == pytest.approx(0.8, abs=0.005)


def test_a_verdict_overrides_the_derived_label(outage):
    alert_rows = alerts(("a", minutes_of(OUTAGE_AT), "pay-svc"), ("b", 60, "pay-svc"))
    verdicts = pd.DataFrame(
        {
            "alert_id": ["a", "b", "b"],
            "impact": [0, 0, 1],
            "ts": [T0 + pd.Timedelta(days=8)] * 2 + [T0 + pd.Timedelta(days=9)],
        }
    )
    out = labels_for(alert_rows, outage, feedback=verdicts).set_index("alert_id")
    assert out.loc["a", "label"] == 0 and out.loc["a", "impact_weight"] == 0
    assert (
        out.loc["b", "label"] == 1 and out.loc["b", "impact_weight"] >= 1
    )  # the latest verdict wins
    assert set(out["label_source"]) == {"feedback"}


def test_label_history_counts_a_verdict_only_from_when_it_was_given(outage):
    alert_rows = alerts(("a", 60, "pay-svc"))
    derived = labels_for(alert_rows, outage)
    verdict_at = T0 + pd.Timedelta(days=2)
    history = label_history(
        alert_rows, derived, pd.DataFrame({"alert_id": ["a"], "impact": [1], "ts": [verdict_at]})
    )

    def known_at(when):
        seen = history[history["matured_at"] < when]
        return seen["n"].sum(), seen["positives"].sum()

    assert known_at(T0 + pd.Timedelta(minutes=60)) == (0, 0)  # not matured yet
    assert known_at(T0 + pd.Timedelta(days=1)) == (1, 0)  # the derived label
    assert known_at(verdict_at + pd.Timedelta(seconds=1)) == (1, 1)  # the verdict, replacing it


def test_apply_feedback_without_verdicts_for_these_alerts_changes_nothing(outage):
    derived = labels_for(alerts(("a", 60, "pay-svc")), outage)
    none = pd.DataFrame({"alert_id": ["zzz"], "impact": [1], "ts": [T0]})
    pd.testing.assert_frame_equal(apply_feedback(derived, none), derived)
