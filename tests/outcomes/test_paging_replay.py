"""The paging replay on hand-made episodes and alerts: coverage in time, unpaged loss, interruptions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from outcome_world import MAP, STEP_NS, alerts, dip, outcomes

from features.baselines import fit_baselines
from features.episodes import degradation_episodes
from features.stages import StageIndex
from models.replay import (
    PAGE_EVERYTHING,
    PAGE_NOTHING,
    model_pages,
    reference_pages,
    replay_paging,
    top_share,
)

STAGES = StageIndex.from_map(MAP)
LEAD = 15.0
DAYS = 7.0


@pytest.fixture(scope="module")
def episodes() -> pd.DataFrame:
    """pay at 08:20-08:50 (windows 100-105), cart at 16:40-17:00 (windows 200-203)."""
    dips = dip("pay", range(100, 106), 0.5) | dip("cart", range(200, 204), 0.5)
    frame = outcomes(dips=dips)
    found = degradation_episodes(
        frame, None, MAP, STEP_NS, fit_baselines(outcomes(), STAGES, STEP_NS)
    )
    assert list(found["stage"]) == ["pay", "cart"]
    return found


FIRED = alerts(
    ("pay-3m", 500 + 3, "pay-svc"),  # pay episode starts at minute 500
    ("pay-10m", 500 + 10, "pay-svc"),
    ("cart-early", 1000 - 20, "cart-svc"),  # before the lead time of the cart episode (minute 1000)
    ("cart-12m", 1000 + 12, "cart-svc"),
    ("noise", 3000, "pay-svc"),
    ("unmapped", 510, "mystery"),
)


def replay(episodes, **pages):
    return replay_paging(episodes, FIRED, pages, STAGES, LEAD, DAYS)


def mask(*ids: str) -> np.ndarray:
    return FIRED["alert_id"].isin(ids).to_numpy()


def test_page_everything_covers_every_episode_that_has_an_alert_at_all_alerts_a_day(episodes):
    table = replay(episodes, **{PAGE_EVERYTHING: np.ones(len(FIRED), bool)}).table
    row = table.loc[PAGE_EVERYTHING]
    assert row["pages"] == len(FIRED) and row["pages_per_day"] == pytest.approx(len(FIRED) / DAYS)
    assert row["episodes_paged"] == 1.0 and row["lost_value_unpaged"] == 0.0
    assert row["paged_within_5m"] == 0.5  # pay at +3 min; cart first at +12
    assert row["paged_within_15m"] == 1.0
    assert row["median_min_to_first_page"] == pytest.approx(7.5)
    # the early cart alert is outside the lead, noise matches nothing, unmapped reaches no stage
    assert row["pages_without_episode"] == 3


def test_page_nothing_covers_none_and_leaves_all_lost_value_unpaged(episodes):
    row = replay(episodes, **{PAGE_NOTHING: np.zeros(len(FIRED), bool)}).table.loc[PAGE_NOTHING]
    assert row["pages"] == 0 and row["pages_per_day"] == 0.0
    assert row["episodes_paged"] == 0.0 and row["paged_within_15m"] == 0.0
    assert row["lost_value_unpaged"] == pytest.approx(episodes["lost_value"].sum())
    assert row["lost_value_unpaged_share"] == 1.0
    assert row["pages_without_episode"] == 0 and np.isnan(row["median_min_to_first_page"])


def test_a_late_page_covers_the_episode_but_not_in_time(episodes):
    result = replay(episodes, late=mask("pay-10m"), noise=mask("noise"))
    late = result.table.loc["late"]
    assert late["episodes_paged"] == 0.5 and late["paged_within_5m"] == 0.0
    assert late["paged_within_15m"] == 0.5
    cart_value = episodes.loc[episodes["stage"] == "cart", "lost_value"].sum()
    assert late["lost_value_unpaged"] == pytest.approx(cart_value)
    assert result.table.loc["noise", "pages_without_episode_share"] == 1.0
    assert result.first_page_min.loc[episodes["episode_id"].iloc[0], "late"] == pytest.approx(10)


def test_top_share_pages_the_budget_and_spreads_ties_evenly_over_time():
    score = np.array([1, 1, 1, 1, 1, 1, 1, 1, 5, 1.0])
    paged = top_share(score, 0.3)  # ceil(3) pages: the 5, then two of the nine tied, spread
    assert paged.sum() == 3 and paged[8]
    assert np.flatnonzero(paged & (score == 1)).tolist() == [2, 6]
    assert top_share(score, 1.0).all() and top_share(np.zeros(0), 0.1).size == 0


def test_reference_policies_page_criticals_and_journey_critical_services_first():
    fired = pd.concat(
        [
            alerts(("a", 1, "pay-svc"), ("b", 2, "cart-svc"), severity="warning"),
            alerts(("c", 3, "mystery"), severity="critical"),
            alerts(*[(f"n{i}", 10 + i, "mystery") for i in range(7)], severity="info"),
        ],
        ignore_index=True,
    )
    pages = reference_pages(fired, STAGES, 0.1)
    assert fired.loc[pages["severity"], "alert_id"].tolist() == ["c"]
    assert fired.loc[pages["criticality_rule"], "alert_id"].tolist() == ["a"]  # pay: impact 1.0


def test_the_model_pages_its_p1_and_p2_tiers():
    ranked = pd.DataFrame({"alert_id": ["x", "y", "z"], "tier": ["P3", "P1", "P2"]})
    fired = alerts(("y", 1, "a"), ("z", 2, "b"), ("x", 3, "c"))
    assert model_pages(fired, ranked).tolist() == [True, True, False]


def tiny_data_dir(frame: pd.DataFrame, fired: pd.DataFrame):
    from pathlib import Path

    from features.loading import DataDir

    return DataDir(Path("tiny"), MAP, fired, frame, None, None, None, pd.Timedelta(STEP_NS), {})


@pytest.mark.parametrize("quiet", [False, True], ids=["a dip", "a quiet week"])
def test_the_report_renders_with_and_without_episodes(quiet):
    from pipeline.outcomes import compute_outcomes
    from pipeline.reports.outcomes import FIGURES, outcomes_html, outcomes_json

    frame = outcomes() if quiet else outcomes(dips=dip("pay", range(100, 106), 0.5))
    found = compute_outcomes(tiny_data_dir(frame, FIRED), budget=0.2)
    assert len(found.episodes) == (0 if quiet else 1)
    page = outcomes_html(found)
    payload = outcomes_json(found)
    assert ("No stage was significantly below normal" in page) == quiet
    figures = set(FIGURES) - ({"worst_stage_timeline", "costliest_episode"} if quiet else set())
    assert set(payload["figures"]) == figures
    assert page.count("<img ") == len(figures)


def test_an_incident_pages_once_however_many_of_its_alerts_page(episodes):
    incidents = np.array(["i-pay", "i-pay", "i-cart", "i-cart", "i-noise", "i-pay"])
    everything = {PAGE_EVERYTHING: np.ones(len(FIRED), bool)}
    row = replay_paging(episodes, FIRED, everything, STAGES, LEAD, DAYS, incidents).table.loc[
        PAGE_EVERYTHING
    ]
    assert row["pages"] == len(FIRED) and row["incident_pages"] == 3
    assert row["incident_pages_per_day"] == pytest.approx(3 / DAYS)
    without = replay(episodes, **everything).table.loc[PAGE_EVERYTHING]
    assert np.isnan(without["incident_pages"])
