"""Map-check evidence on hand-made frames: bursts, chance, lift bounds, suggestions, doubts, sparse stages."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from features.journey_map import JourneyMap
from features.map_evidence import (
    MapCheckConfig,
    MinuteGrid,
    alert_bursts,
    check_map_evidence,
    lift_bounds,
    onset_masks,
    precedence,
    stage_coverage,
    suggested_patch,
)
from features.stages import StageIndex

T0 = pd.Timestamp("2026-03-02 00:00", tz="UTC")  # a Monday
STEP = pd.Timedelta(minutes=5)
DAYS = 12
MAP = JourneyMap.model_validate(
    {
        "version": "tiny-map-1",
        "journeys": {
            "buy": {
                "stages": [
                    {
                        "name": "cart",
                        "impact": 0.5,
                        "services": {"cart-svc": "hard", "recs": "soft"},
                    },
                    {"name": "pay", "impact": 1.0, "services": {"pay-svc": "hard"}},
                    {"name": "ship", "impact": 0.3, "services": {}},
                ]
            }
        },
        "dependencies": {"pay-svc": ["db", "batch"]},
    }
)
# pay degrades twice a day, at hours that move from day to day (so chance is spread over the day)
ONSETS = [T0 + pd.Timedelta(days=d, hours=h) for d in range(DAYS) for h in (3 + d % 7, 14 + d % 5)]


def windows(sessions: dict[str, int] | None = None) -> pd.DataFrame:
    """Per stage × 5-min window over DAYS days: sessions and completions (80%)."""
    sessions = sessions or {"cart": 200, "pay": 100, "ship": 50}
    starts = pd.date_range(T0, periods=DAYS * 288, freq=STEP)
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "journey": "buy",
                    "stage": stage,
                    "window_start": starts,
                    "sessions": n,
                    "completed": round(0.8 * n),
                }
            )
            for stage, n in sessions.items()
        ],
        ignore_index=True,
    )


def episodes(onsets=ONSETS, stage: str = "pay") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "journey": "buy",
            "stage": stage,
            "start": pd.DatetimeIndex(onsets),
            "end": pd.DatetimeIndex(onsets) + pd.Timedelta(minutes=30),
        }
    )


def burst(service: str, at: pd.Timestamp, rules=("HighErrorRate", "ErrorBudgetBurn")) -> list[dict]:
    """Alerts of one burst: each rule fires, a minute apart."""
    return [
        {"service": service, "fired_at": at + pd.Timedelta(minutes=i), "alert_name": rule}
        for i, rule in enumerate(rules)
    ]


def alerts(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame["alert_id"] = [f"a-{i:05d}" for i in range(len(frame))]
    return frame


def quiet_times(n: int, offset_h: float) -> list[pd.Timestamp]:
    """Times far (hours) from any onset."""
    return [T0 + pd.Timedelta(days=d % DAYS, hours=(offset_h + 0.5 + d % 3)) for d in range(n)]


def history() -> pd.DataFrame:
    """tax (unmapped) fires just before most pay onsets; noise (unmapped) fires anywhere else;
    pay-svc and db (mapped) fire before onsets; batch (mapped through a false edge) never does."""
    rows = []
    for t in ONSETS[:-4]:
        rows += burst("tax", t - pd.Timedelta(minutes=4))
        rows += burst("pay-svc", t - pd.Timedelta(minutes=2))
        rows += burst("db", t - pd.Timedelta(minutes=6))
    for t in quiet_times(12, offset_h=8):
        rows += burst("tax", t)
    for t in quiet_times(DAYS, offset_h=9) + quiet_times(DAYS, offset_h=20):
        rows += burst("noise", t)
    for day in range(DAYS):  # at the hours pay breaks, yet never near a break
        for hour in (*range(3, 10), *range(14, 19)):
            rows += burst("batch", T0 + pd.Timedelta(days=day, hours=hour, minutes=40))
    return alerts(rows)


@pytest.fixture(scope="module")
def found():
    return check_map_evidence(
        history(), windows(), episodes(), MAP, int(STEP.value), MapCheckConfig()
    )


def test_lift_bounds_are_the_exact_poisson_ones():
    bounds = lift_bounds(np.array([0, 5]), np.array([2.0, 1.0]), 0.95)
    # no hit in 2 expected: the rate is below -ln(0.05) with 95% confidence
    assert bounds["lift"].tolist() == [0.0, 5.0]
    assert bounds["lift_low"].iloc[0] == 0.0
    assert bounds["lift_high"].iloc[0] == pytest.approx(-math.log(0.05) / 2.0)
    # 5 hits where 1 was expected: P(X ≥ 5 | 1) = 1 - e^-1 (1 + 1 + 1/2 + 1/6 + 1/24)
    assert bounds["p_value"].iloc[1] == pytest.approx(
        1 - math.exp(-1) * (1 + 1 + 1 / 2 + 1 / 6 + 1 / 24)
    )
    assert 1.0 < bounds["lift_low"].iloc[1] < 5.0 < bounds["lift_high"].iloc[1]


def test_a_burst_is_bounded_and_counts_when_two_rules_fire_in_it():
    rows = burst("svc", T0, ("A", "A", "B")) + burst("svc", T0 + pd.Timedelta(minutes=20), ("A",))
    # a service firing one rule every minute for two hours still has many bursts, not one
    rows += [
        {"service": "chatty", "fired_at": T0 + pd.Timedelta(minutes=m), "alert_name": "A"}
        for m in range(120)
    ]
    found = alert_bursts(alerts(rows), gap_min=15, corroborating_rules=2)
    svc = found[found["service"] == "svc"]
    assert svc["alerts"].tolist() == [3, 1]
    assert svc["corroborated"].tolist() == [True, False]
    chatty = found[found["service"] == "chatty"]
    assert len(chatty) == 8  # minutes 0, 16, 32, ... 112
    assert chatty["corroborated"].all()  # one rule is all it has


def test_chance_is_the_onset_share_of_the_hour_the_burst_fired_in():
    stages = StageIndex.from_map(MAP)
    grid = MinuteGrid.of_windows(windows()["window_start"], int(STEP.value))
    onsets = [T0 + pd.Timedelta(days=d, hours=3, minutes=30) for d in range(DAYS)]
    masks = onset_masks(episodes(onsets), stages, grid, 15, 15)
    # a service alerting daily at 03:05, never near an onset, at the hour pay usually breaks
    rows = []
    for d in range(DAYS):
        rows += burst("night", T0 + pd.Timedelta(days=d, hours=3, minutes=5))
    bursts = alert_bursts(alerts(rows), 15, 2)
    found = precedence(bursts, masks, grid, 0.95)
    pay = stages.code_of(pd.Series(["buy"]), pd.Series(["pay"]))[0]
    assert found["hits"].iloc[pay] == 0
    assert found["expected"].iloc[pay] == pytest.approx(DAYS * 31 / 60)  # not DAYS * 31 / 1440


def test_an_unmapped_service_ahead_of_degradations_is_suggested_on_that_stage(found):
    first = found.unmapped.iloc[0]
    assert first["service"] == "tax" and first["suggested"]
    assert [(s["journey"], s["stage"]) for s in first["stages"]] == [("buy", "pay")]
    link = first["stages"][0]
    assert link["hits"] == len(ONSETS) - 4
    assert link["lift"] == pytest.approx(link["hits"] / link["expected"])
    assert link["lift_low"] > 1.0 and len(link["examples"]) > 0
    noise = found.unmapped.set_index("service").loc["noise"]
    assert not noise["suggested"] and noise["stages"] == []


def test_a_false_dependency_is_doubted_and_a_real_one_is_not(found):
    doubtful = found.doubtful
    edges = doubtful[doubtful["what"] == "dependency"]
    assert list(zip(edges["service"], edges["target"], strict=True)) == [("pay-svc", "batch")]
    assert (doubtful["lift_high"] < 2.0).all()
    # cart never degrades: its hard link has no evidence either way, so it is not doubted
    assert "cart-svc" not in set(doubtful["service"])


def test_a_link_with_too_few_alerts_is_not_doubted():
    rows = burst("pay-svc", ONSETS[0] - pd.Timedelta(minutes=2))
    rows += burst("batch", T0 + pd.Timedelta(hours=1, minutes=50))  # one burst, no hit
    found = check_map_evidence(alerts(rows), windows(), episodes(), MAP, int(STEP.value))
    assert found.doubtful.empty


def test_stages_without_services_and_too_sparse_to_label():
    stages = stage_coverage(
        windows({"cart": 200, "pay": 3, "ship": 50}), episodes(), MAP, MapCheckConfig()
    )
    status = dict(zip(stages["stage"], stages["status"], strict=True))
    assert status == {"cart": "ok", "pay": "sparse", "ship": "no services"}
    sparse = stages.set_index("stage").loc["pay"]
    # 2 of 3 complete: a window must lose 1.5 × sqrt((1/3) / (3 × 2/3)) of them to be seen
    assert sparse["detectable_drop"] == pytest.approx(1.5 * math.sqrt((1 / 3) / 2))


def test_a_stage_without_traffic_says_no_data():
    stages = stage_coverage(
        windows({"cart": 200, "pay": 100, "ship": 0}), episodes(), MAP, MapCheckConfig()
    )
    assert stages.set_index("stage").loc["ship", "status"] == "no data"


def test_a_renamed_service_is_told_apart_from_a_missing_one():
    rows = []
    for i, t in enumerate(ONSETS):
        # pay-svc is renamed pay-v2 half way through: the map still names pay-svc
        rows += burst("pay-svc" if i < len(ONSETS) // 2 else "pay-v2", t - pd.Timedelta(minutes=3))
    found = check_map_evidence(alerts(rows), windows(), episodes(), MAP, int(STEP.value))
    assert found.renamed["service"].tolist() == ["pay-v2"]
    assert found.renamed["replaces"].iloc[0] == ["pay-svc"]
    assert "pay-v2" not in set(found.unmapped["service"])
    patch = suggested_patch(found, MAP)
    assert patch["rename_services"] == [{"old": "pay-svc", "new": "pay-v2", "stages": ["buy/pay"]}]


def test_the_patch_adds_the_suggested_links_and_questions_the_doubtful_ones(found):
    patch = suggested_patch(found, MAP)
    assert patch["journey_map_version"] == "tiny-map-1"
    assert [(a["service"], a["stage"]) for a in patch["add_services"]] == [("tax", "pay")]
    assert patch["add_services"][0]["link"] in ("hard", "soft")
    assert [(r["service"], r["callee"]) for r in patch["remove_dependencies"]] == [
        ("pay-svc", "batch")
    ]
