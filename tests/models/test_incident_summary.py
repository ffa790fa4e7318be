"""Incidents from their alerts' answers: summary per incident, pages once unless the tier rises."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.incidents import (
    SUMMARY_COLUMNS,
    incident_pages,
    incident_priorities,
    incident_summary,
    rank_by_incident,
)
from models.truth_metrics import (
    concurrent_failures_as_one,
    grouping_against_truth,
    grouping_errors,
    pages_per_true_incident,
)

T0 = pd.Timestamp("2026-03-02", tz="UTC")


def answers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "alert_id": ["a1", "a2", "a3", "b1"],
            "incident_id": ["inc-a1", "inc-a1", "inc-a1", "inc-b1"],
            "fired_at": [T0 + pd.Timedelta(minutes=m) for m in (0, 1, 2, 3)],
            "impact_probability": [0.2, 0.7, 0.4, 0.1],
            "priority": [1.0, 5.0, 2.0, 9.0],
            "tier": ["P3", "P2", "P1", "P4"],
            "incident_stages": ["buy/pay", "buy/pay;buy/cart", "buy/pay;buy/cart", ""],
            "incident_root_service": ["web", "pay", "db", "batch"],
        }
    )


def test_an_incident_takes_its_alerts_best_figures_and_latest_root():
    summary = incident_summary(answers())
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    assert summary["incident_id"].tolist() == ["inc-b1", "inc-a1"]  # by priority
    a = summary.set_index("incident_id").loc["inc-a1"]
    assert a["alerts"] == 3 and a["started_at"] == T0
    assert a["probability"] == pytest.approx(0.7) and a["priority"] == pytest.approx(5.0)
    assert a["tier"] == "P1" and a["root_service"] == "db"
    assert a["stages"] == "buy/pay;buy/cart"


def test_the_summary_does_not_depend_on_the_row_order():
    frame = answers()
    shuffled = incident_summary(frame.iloc[[3, 2, 0, 1]])
    pd.testing.assert_frame_equal(shuffled, incident_summary(frame))


def test_an_incident_pages_once_unless_its_tier_rises():
    pages = incident_pages(["i", "i", "i", "j", "i", "j"], ["P3", "P2", "P2", "P4", "P1", "P2"])
    assert pages.tolist() == [False, True, False, False, True, True]


def test_grouping_figures_against_the_truth():
    truth = pd.DataFrame(
        {"alert_id": ["a", "b", "c", "d", "e"], "incident_id": ["T1", "T1", "T1", None, None]}
    )
    ids = pd.Series(["a", "b", "c", "d", "e"])
    perfect = grouping_against_truth(ids, pd.Series(["x", "x", "x", "d", "e"]), truth)
    assert perfect["pairwise_f1"] == 1.0 and perfect["compression"] == pytest.approx(0.4)
    assert perfect["truth_compression"] == pytest.approx(0.4)
    # noise put with the incident: 3 true pairs of 6 predicted; a split loses 2 of 3 true pairs
    merged = grouping_against_truth(ids, pd.Series(["x", "x", "x", "x", "e"]), truth)
    assert merged["pairwise_precision"] == pytest.approx(0.5) and merged["pairwise_recall"] == 1
    split = grouping_against_truth(ids, pd.Series(["x", "y", "y", "d", "e"]), truth)
    assert split["pairwise_recall"] == pytest.approx(1 / 3)
    assert split["pairwise_precision"] == 1.0


def failures(*rows: tuple) -> pd.DataFrame:
    """truth_incidents rows: (incident_id, service, start minute, end minute, region)."""
    frame = pd.DataFrame(rows, columns=["incident_id", "service", "start", "end", "region"])
    return frame.assign(
        start=T0 + pd.to_timedelta(frame["start"], unit="min"),
        end=T0 + pd.to_timedelta(frame["end"], unit="min"),
    )


def test_concurrent_failures_of_one_service_in_one_region_are_taken_as_one():
    as_one = concurrent_failures_as_one(
        failures(
            ("db-late", "db", 5, 15, "eu"),  # overlaps db-everywhere: one with it
            ("db-everywhere", "db", 0, 10, None),  # a failure of no region overlaps every region
            ("db-us", "db", 8, 9, "us"),  # overlaps db-everywhere too
            ("db-after", "db", 20, 30, "eu"),  # after them all: a failure of its own
            ("api", "api", 5, 15, "eu"),  # another service: its own
            ("cache-eu", "cache", 0, 10, "eu"),
            ("cache-us", "cache", 5, 15, "us"),  # the same time in another region: its own
            ("q-1", "queue", 0, 10, "eu"),
            ("q-2", "queue", 9, 30, "eu"),
            ("q-3", "queue", 25, 40, "eu"),  # overlaps q-2 only, which overlaps q-1: all one
        )
    )
    assert {i for i, first in as_one.items() if first == "db-everywhere"} == {
        "db-everywhere",
        "db-late",
        "db-us",
    }
    assert as_one["db-after"] == "db-after" and as_one["api"] == "api"
    assert as_one["cache-eu"] == "cache-eu" and as_one["cache-us"] == "cache-us"
    assert as_one["q-2"] == as_one["q-3"] == "q-1"


def test_the_truth_with_concurrent_failures_as_one_bounds_a_grouping_that_cannot_split_them():
    # a1 a2 of T1 and a3 of T2: two concurrent failures of db; a4 of T3, elsewhere; a5 noise
    truth = pd.DataFrame(
        {"alert_id": ["a1", "a2", "a3", "a4", "a5"], "incident_id": ["T1", "T1", "T2", "T3", None]}
    )
    true_incidents = failures(("T1", "db", 0, 30, "eu"), ("T2", "db", 10, 40, "eu"),
                              ("T3", "api", 0, 30, "eu"))  # fmt: skip
    ids = pd.Series(["a1", "a2", "a3", "a4", "a5"])
    merged = pd.Series(["x", "x", "x", "y", "z"])  # T1 and T2 put together, the rest right
    found = grouping_against_truth(ids, merged, truth, true_incidents)
    # the truth itself, T1 and T2 as one: 1 true pair of the 3 it puts together
    assert found["truth_f1_concurrent_as_one"] == pytest.approx(2 * (1 / 3) / (1 / 3 + 1))
    assert found["pairwise_f1"] == pytest.approx(found["truth_f1_concurrent_as_one"])
    apart = failures(("T1", "db", 0, 30, "eu"), ("T2", "db", 31, 40, "eu"),
                     ("T3", "api", 0, 30, "eu"))  # fmt: skip
    assert grouping_against_truth(ids, merged, truth, apart)["truth_f1_concurrent_as_one"] == 1.0
    assert "truth_f1_concurrent_as_one" not in grouping_against_truth(ids, merged, truth)
    merges, _ = grouping_errors(ids, merged, truth)
    assert merges.loc["x", "parts"] == ("T1", "T2")  # most alerts first


def test_pages_per_true_incident_counts_every_predicted_incident_that_paged_for_it():
    truth = pd.DataFrame({"alert_id": ["a", "b", "c", "d"], "incident_id": ["T", "T", "U", None]})
    ids = pd.Series(["a", "b", "c", "d"])
    pages = np.array([True, True, False, True])
    assert pages_per_true_incident(ids, pd.Series(["x", "y", "z", "w"]), pages, truth) == 2.0
    once = np.array([True, False, False, True])
    assert pages_per_true_incident(ids, pd.Series(["x", "x", "z", "w"]), once, truth) == 1.0


def test_an_alert_ranks_by_its_incidents_priority_so_far():
    ranked = answers().drop(columns="incident_id").sort_values("priority", ascending=False)
    incident_of = dict(zip(answers()["alert_id"], answers()["incident_id"], strict=True))
    out, best = rank_by_incident(ranked, answers()[["alert_id", "fired_at"]], incident_of)
    lifted = out.set_index("alert_id")["incident_priority"]
    # a1 fired first (1.0); a2 raised the incident to 5.0; a3 came later and stands there too
    assert lifted.to_dict() == {"b1": 9.0, "a2": 5.0, "a3": 5.0, "a1": 1.0}
    assert out["alert_id"].tolist() == ["b1", "a2", "a3", "a1"]  # incident priority, then own
    assert list(out.columns[:2]) == ["alert_id", "incident_id"]
    assert best == {"inc-a1": 5.0, "inc-b1": 9.0}


def test_an_incidents_best_from_earlier_answers_carries_over():
    later = answers().iloc[[2]].drop(columns="incident_id")
    out, best = rank_by_incident(later, answers(), {"a3": "inc-a1"}, {"inc-a1": 7.5})
    assert out["incident_priority"].tolist() == [7.5] and out["priority"].tolist() == [2.0]
    assert best == {"inc-a1": 7.5}
    running, _ = incident_priorities(["x", "x", "y"], [1.0, np.nan, 3.0])
    assert running.tolist() == [1.0, 1.0, 3.0]  # a missing priority ranks with its incident
