"""Incident grouping: point in time, the same online in any batching, deterministic ids, closing."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from features.config import FeatureJobConfig, IncidentConfig
from features.incidents import INCIDENT_COLUMNS, IncidentGrouper, group_incidents
from features.journey_map import JourneyMap

T0 = pd.Timestamp("2026-03-02 00:00", tz="UTC")

MAP = JourneyMap.model_validate(
    {
        "version": "inc-1",
        "journeys": {
            "buy": {
                "stages": [
                    {"name": "cart", "impact": 0.5, "services": {"web": "hard", "cart": "hard"}},
                    {"name": "pay", "impact": 1.0, "services": {"pay": "hard"}},
                ]
            }
        },
        "dependencies": {"web": ["cart", "pay"], "cart": ["db"], "pay": ["db"]},
    }
)


def alerts(*rows: tuple, labels: dict | None = None, **columns: dict) -> pd.DataFrame:
    """(alert_id, minute fired, service[, region[, minute resolved]]) rows; `columns` give other
    columns by alert_id (alert_name "Errors" and signal "errors" unless given)."""
    records = []
    for row in rows:
        alert_id, minute, service = row[:3]
        region = row[3] if len(row) > 3 else "eu"
        resolved = row[4] if len(row) > 4 else None
        records.append(
            {
                "alert_id": alert_id,
                "fired_at": T0 + pd.Timedelta(minutes=minute),
                "resolved_at": None if resolved is None else T0 + pd.Timedelta(minutes=resolved),
                "service": service,
                "alert_name": columns.get("alert_name", {}).get(alert_id, f"Errors-{alert_id}"),
                "signal": columns.get("signal", {}).get(alert_id, "errors"),
                "anomaly_score": columns.get("anomaly_score", {}).get(alert_id, np.nan),
                "region": region,
                "labels": json.dumps((labels or {}).get(alert_id, {})),
            }
        )
    frame = pd.DataFrame(records)
    frame["resolved_at"] = pd.to_datetime(frame["resolved_at"], utc=True)
    return frame


def busy_history(n: int = 400, seed: int = 3) -> pd.DataFrame:
    """Many alerts on every service and region, with and without resolutions, some at one time."""
    rng = np.random.default_rng(seed)
    minutes = np.sort(rng.integers(0, 2000, n)).astype(float)
    services = rng.choice(["web", "cart", "pay", "db", "batch"], n)
    regions = rng.choice(["eu", "us"], n)
    holds = np.where(rng.random(n) < 0.2, np.nan, rng.exponential(25, n))
    rows = [
        (f"a{i:04d}", m, s, r, None if np.isnan(h) else m + h)
        for i, (m, s, r, h) in enumerate(zip(minutes, services, regions, holds, strict=True))
    ]
    return alerts(*rows)


def test_callers_and_callees_join_unrelated_services_do_not():
    got = group_incidents(
        alerts(("a1", 0, "db"), ("a2", 2, "pay"), ("a3", 3, "web"), ("a4", 4, "batch")), MAP
    )
    assert got["incident_id"].tolist() == ["inc-a1", "inc-a1", "inc-a1", "inc-a4"]
    assert got["incident_size"].tolist() == [1, 2, 3, 1]
    assert got["incident_position"].tolist() == [1, 2, 3, 1]
    assert list(got.columns) == list(INCIDENT_COLUMNS)


def test_the_hop_limit_keeps_distant_services_apart():
    rows = alerts(("a1", 0, "db"), ("a2", 1, "web"))
    assert group_incidents(rows, MAP)["incident_id"].nunique() == 1
    apart = group_incidents(rows, MAP, IncidentConfig(max_hops=1))
    assert apart["incident_id"].tolist() == ["inc-a1", "inc-a2"]


def test_other_regions_and_clusters_stay_apart():
    rows = alerts(("a1", 0, "db", "eu"), ("a2", 1, "pay", "us"), ("a3", 2, "pay", "eu"))
    assert group_incidents(rows, MAP)["incident_id"].tolist() == ["inc-a1", "inc-a2", "inc-a1"]
    anywhere = group_incidents(rows, MAP, IncidentConfig(same_region=False))
    assert anywhere["incident_id"].nunique() == 1
    labelled = alerts(
        ("a1", 0, "db", None),
        ("a2", 1, "pay", None),
        labels={"a1": {"cluster": "k1"}, "a2": {"cluster": "k2"}},
    )
    assert group_incidents(labelled, MAP)["incident_id"].tolist() == ["inc-a1", "inc-a2"]


def test_an_upstream_group_key_joins_what_the_map_does_not_relate():
    rows = alerts(
        ("a1", 0, "batch"),
        ("a2", 1, "web", "us"),
        labels={"a1": {"groupKey": '{}:{team="x"}'}, "a2": {"groupKey": '{}:{team="x"}'}},
    )
    assert group_incidents(rows, MAP)["incident_id"].tolist() == ["inc-a1", "inc-a1"]


def test_labels_as_objects_count_like_labels_as_json_text():
    text = alerts(("a1", 0, "db", None), ("a2", 1, "pay", None), labels={"a2": {"cluster": "k2"}})
    objects = text.assign(labels=[{"cluster": "k1"}, {"cluster": "k2"}])
    assert group_incidents(objects, MAP)["incident_id"].tolist() == ["inc-a1", "inc-a2"]


def test_a_later_alert_never_changes_an_earlier_alerts_incident():
    history = busy_history()
    full = group_incidents(history, MAP)
    for cut in (50, 199, 333):
        early = group_incidents(history.iloc[:cut], MAP)
        pd.testing.assert_frame_equal(early, full.iloc[:cut])


def test_a_resolution_counts_only_from_its_time():
    # a3 joins while a1 and a2 still fire (their resolutions are in the rows, but later)
    rows = alerts(
        ("a1", 0, "db", "eu", 30), ("a2", 2, "pay", "eu", 35), ("a3", 15, "web", "eu", 36)
    )
    config = IncidentConfig(resolved_grace_min=5)
    assert group_incidents(rows, MAP, config)["incident_id"].tolist() == ["inc-a1"] * 3
    later = pd.concat([rows, alerts(("a4", 50, "web"))], ignore_index=True)
    assert group_incidents(later, MAP, config)["incident_id"].tolist()[3] == "inc-a4"


def test_a_lone_alert_takes_new_symptoms_only_in_its_burst():
    rows = alerts(("a1", 0, "db"), ("a2", 25, "pay"))  # beyond join_gap_min (20)
    assert group_incidents(rows, MAP)["incident_id"].tolist() == ["inc-a1", "inc-a2"]
    burst = alerts(("a1", 0, "db"), ("a2", 2, "pay"), ("a3", 14, "web"))  # confirmed: 15 min
    assert group_incidents(burst, MAP)["incident_id"].tolist() == ["inc-a1"] * 3
    config = IncidentConfig(confirmed_gap_min=10)
    assert group_incidents(burst, MAP, config)["incident_id"].tolist()[2] == "inc-a3"


def test_a_flap_is_no_second_symptom_but_a_refire_joins_a_confirmed_incident():
    same = {"alert_name": {"a1": "Errors", "a2": "Errors", "a4": "Errors"}}
    flap = alerts(("a1", 0, "db"), ("a2", 2, "db"), **same)
    assert group_incidents(flap, MAP)["incident_id"].tolist() == ["inc-a1", "inc-a2"]
    refire = alerts(("a1", 0, "db", "eu", 40), ("a3", 1, "pay"), ("a4", 45, "db"), **same)
    got = group_incidents(refire, MAP, IncidentConfig(confirmed_gap_min=5))
    assert got["incident_id"].tolist() == ["inc-a1"] * 3


def test_a_callers_own_saturation_stays_apart_a_callees_joins():
    saturated = {"signal": {"a2": "saturation"}}
    caller = alerts(("a1", 0, "pay"), ("a2", 1, "web"), **saturated)
    assert group_incidents(caller, MAP)["incident_id"].tolist() == ["inc-a1", "inc-a2"]
    callee = alerts(("a1", 0, "pay"), ("a2", 1, "db"), **saturated)
    assert group_incidents(callee, MAP)["incident_id"].tolist() == ["inc-a1", "inc-a1"]


def test_an_unsure_detector_does_not_join():
    rows = alerts(("a1", 0, "db"), ("a2", 1, "pay"), anomaly_score={"a2": 0.2})
    assert group_incidents(rows, MAP)["incident_id"].tolist() == ["inc-a1", "inc-a2"]
    sure = alerts(("a1", 0, "db"), ("a2", 1, "pay"), anomaly_score={"a2": 0.9})
    assert group_incidents(sure, MAP)["incident_id"].tolist() == ["inc-a1", "inc-a1"]


def test_siblings_join_only_when_asked_a_stage_probe_joins():
    siblings = alerts(("a1", 0, "cart"), ("a2", 1, "pay"))  # both call db
    assert group_incidents(siblings, MAP)["incident_id"].tolist() == ["inc-a1", "inc-a2"]
    asked = IncidentConfig(related_min=10)
    assert group_incidents(siblings, MAP, asked)["incident_id"].tolist() == ["inc-a1", "inc-a1"]
    probe = alerts(("a1", 0, "pay"), ("a2", 1, "batch"), labels={"a2": {"check": "buy/pay"}})
    assert group_incidents(probe, MAP)["incident_id"].tolist() == ["inc-a1", "inc-a1"]


def test_siblings_are_found_after_a_restore_and_not_once_closed():
    asked = IncidentConfig(related_min=10)
    first = IncidentGrouper(MAP, asked)
    first.assign(alerts(("a1", 0, "cart")))
    restored = IncidentGrouper.from_state(MAP, asked, json.loads(json.dumps(first.to_state())))
    joined = restored.assign(alerts(("a2", 1, "pay")))
    assert joined["incident_id"].tolist() == ["inc-a1"]
    closed = alerts(("a1", 0, "cart", "eu", 0.5), ("a2", 1, "pay"))  # a1 resolved: closed
    assert group_incidents(closed, MAP, asked)["incident_id"].tolist() == ["inc-a1", "inc-a2"]


def test_online_in_any_batching_equals_offline():
    history = busy_history()
    offline = group_incidents(history, MAP)
    rng = np.random.default_rng(0)
    for _ in range(3):
        cuts = np.sort(rng.choice(np.arange(1, len(history)), size=12, replace=False))
        grouper = IncidentGrouper(MAP)
        bounds = zip([0, *cuts], [*cuts, len(history)], strict=True)
        parts = [grouper.assign(history.iloc[a:b]) for a, b in bounds]
        pd.testing.assert_frame_equal(pd.concat(parts), offline)


def test_the_persisted_state_carries_on_where_it_stopped():
    history = busy_history()
    offline = group_incidents(history, MAP)
    first = IncidentGrouper(MAP)
    head = first.assign(history.iloc[:250])
    state = json.loads(json.dumps(first.to_state()))
    tail = IncidentGrouper.from_state(MAP, None, state).assign(history.iloc[250:])
    pd.testing.assert_frame_equal(pd.concat([head, tail]), offline)


def test_the_state_in_parts_carries_on_where_it_stopped_and_says_when_a_part_is_missing():
    """state_parts: what a store keeps apart (serving/incident_book.py writes the changed parts)."""
    history = busy_history()
    offline = group_incidents(history, MAP)
    first = IncidentGrouper(MAP)
    head = first.assign(history.iloc[:250])
    state, parts = json.loads(json.dumps(first.state_parts("w1/")))
    assert all(key.startswith("w1/") for key in parts)
    assert len(parts) == len(state["order"]) + state["firing_alerts"]
    others = {"w0/incident/inc-x": "{}", "w0/end/x": "1"}  # another writer's, left in the store
    restored = IncidentGrouper.from_parts(MAP, None, state, {**parts, **others}, "w1/")
    pd.testing.assert_frame_equal(pd.concat([head, restored.assign(history.iloc[250:])]), offline)
    incident = next(key for key in parts if "/incident/" in key)
    with pytest.raises(ValueError, match="no part for"):
        IncidentGrouper.from_parts(
            MAP, None, state, {k: v for k, v in parts.items() if k != incident}, "w1/"
        )
    end = next(key for key in parts if "/end/" in key)
    with pytest.raises(ValueError, match="firing alerts"):
        IncidentGrouper.from_parts(
            MAP, None, state, {k: v for k, v in parts.items() if k != end}, "w1/"
        )


def test_the_changes_put_on_the_parts_give_the_state_as_it_stands():
    """state_changes: what a write after the first holds (new, changed and forgotten parts)."""
    history = busy_history()
    grouper = IncidentGrouper(MAP, IncidentConfig(keep_closed=5))
    grouper.assign(history.iloc[:250])
    head, parts = grouper.state_changes("w/")  # the first time: every part
    assert len(parts) == len(head["order"]) + head["firing_alerts"] > 0
    for start, stop in [(250, 255), (255, 400)]:
        grouper.assign(history.iloc[start:stop])
        head, changed = grouper.state_changes("w/")
        assert None in changed.values(), "a closed incident forgotten, an alert's end dropped"
        assert len(changed) < len(parts) or stop - start > 5, "five alerts change a few parts"
        parts = {k: v for k, v in {**parts, **changed}.items() if v is not None}
        restored = IncidentGrouper.from_parts(MAP, None, head, parts, "w/")
        assert restored.to_state() == json.loads(json.dumps(grouper.to_state()))
    assert grouper.state_changes("w/")[1] == {}, "nothing changed since"


def test_ids_come_from_the_opening_alert_whatever_the_row_order():
    history = busy_history()
    offline = group_incidents(history, MAP)
    shuffled = history.sample(frac=1.0, random_state=1)
    again = group_incidents(shuffled, MAP).loc[history.index]
    pd.testing.assert_frame_equal(again, offline)
    openers = offline[offline["incident_position"] == 1]
    assert (openers["incident_id"] == "inc-" + history.loc[openers.index, "alert_id"]).all()


def test_all_alerts_resolved_closes_the_incident_after_the_grace():
    config = IncidentConfig(resolved_grace_min=10)
    rows = alerts(
        ("a1", 0, "db", "eu", 5),
        ("a2", 1, "pay", "eu", 12),
        ("a3", 14, "web", "eu", 16),
        ("a4", 40, "web"),
    )
    assert group_incidents(rows, MAP, config)["incident_id"].tolist() == [
        "inc-a1",
        "inc-a1",
        "inc-a1",
        "inc-a4",
    ]


def test_resolve_online_closes_like_a_resolved_at_offline():
    config = IncidentConfig(resolved_grace_min=10)
    first = alerts(("a1", 0, "db"), ("a2", 1, "pay"))
    control = IncidentGrouper(MAP, config)
    control.assign(first)
    assert control.assign(alerts(("a3", 14, "web")))["incident_id"].tolist() == ["inc-a1"]
    grouper = IncidentGrouper(MAP, config)
    grouper.assign(first)
    grouper.resolve([("a1", T0 + pd.Timedelta(minutes=2)), ("a2", T0 + pd.Timedelta(minutes=2))])
    assert grouper.assign(alerts(("a3", 14, "web")))["incident_id"].tolist() == ["inc-a3"]
    assert grouper.incident("inc-a1").resolved_at == T0 + pd.Timedelta(minutes=2)


def test_a_quiet_incident_closes_even_while_an_alert_still_fires():
    same = {"alert_name": {"a1": "Errors", "a3": "Errors", "a4": "Errors"}}
    rows = alerts(("a1", 0, "db"), ("a2", 1, "pay"), ("a3", 25, "db"), ("a4", 80, "db"), **same)
    got = group_incidents(rows, MAP, IncidentConfig(quiet_min=30))
    assert got["incident_id"].tolist() == ["inc-a1", "inc-a1", "inc-a1", "inc-a4"]


def test_open_incidents_are_those_neither_resolved_nor_quiet():
    grouper = IncidentGrouper(MAP, IncidentConfig(quiet_min=60, resolved_grace_min=0))
    grouper.assign(alerts(("a1", 0, "db", "eu", 20), ("a2", 5, "batch", "eu")))
    at = T0 + pd.Timedelta(minutes=30)
    assert [inc.incident_id for inc in grouper.open_incidents(at)] == ["inc-a2"]
    assert grouper.open_incidents(T0 + pd.Timedelta(minutes=70)) == []
    assert grouper.open_incidents(T0 + pd.Timedelta(minutes=10))[0].incident_id == "inc-a1"


def test_the_root_candidate_is_the_deepest_service_or_the_one_changed():
    rows = alerts(("a1", 0, "web"), ("a2", 1, "pay"), ("a3", 2, "db"))
    got = group_incidents(rows, MAP)
    assert got["incident_root_service"].tolist() == ["web", "pay", "db"]
    assert got["incident_stages"].iloc[-1].split(";") == ["buy/cart", "buy/pay"]
    grouper = IncidentGrouper(MAP)
    changes = pd.DataFrame(
        {"change_id": ["c1"], "ts": [T0 - pd.Timedelta(minutes=10)], "service": ["db"]}
    )
    grouper.assign(rows.iloc[:2], changes)
    incident = grouper.incident("inc-a1")
    assert incident.root_service == "db"
    assert incident.root_reason.startswith("recent change c1 on db")


def test_an_unmapped_root_is_flagged():
    got = group_incidents(alerts(("a1", 0, "batch"), ("a2", 1, "db")), MAP)
    assert got["incident_root_mapped"].tolist() == [False, True]


def test_a_resent_firing_keeps_its_incident():
    grouper = IncidentGrouper(MAP)
    first = grouper.assign(alerts(("a1", 0, "db"), ("a2", 1, "pay")))
    again = grouper.assign(alerts(("a2", 1, "pay")))
    assert again["incident_id"].tolist() == ["inc-a1"]
    assert again["incident_position"].tolist() == [2]
    assert first["incident_size"].tolist() == [1, 2]


def test_times_without_a_zone_are_refused():
    grouper = IncidentGrouper(MAP)
    with pytest.raises(ValueError, match="time zone"):
        grouper.resolve([("a1", pd.Timestamp("2026-03-02 00:00").to_pydatetime())])


def test_the_config_travels_with_the_feature_job_config():
    assert FeatureJobConfig().incidents == IncidentConfig()
    assert FeatureJobConfig(incidents={"quiet_min": 5}).incidents.quiet_min == 5


def test_forgetting_old_closed_incidents_changes_no_answer():
    history = busy_history()
    kept = IncidentGrouper(MAP)
    forgetful = IncidentGrouper(MAP, IncidentConfig(keep_closed=2))
    pd.testing.assert_frame_equal(forgetful.assign(history), kept.assign(history))
    first = kept.assign(history.iloc[:1])["incident_id"].iloc[0]
    assert kept.incident(first) is not None and forgetful.incident(first) is None
    closed = [i for i in forgetful.to_state()["incidents"] if i["closed_at"] is not None]
    assert len(closed) == 2


def flapping_history(days: float = 2.0, every_min: int = 60) -> pd.DataFrame:
    """db's "Flap" rule firing every `every_min` for `days` (24 a day by default), each for 5 min."""
    minutes = range(0, int(days * 1440), every_min)
    ids = [f"h{m:05d}" for m in minutes]
    rows = [(alert_id, m, "db", "eu", m + 5) for alert_id, m in zip(ids, minutes, strict=True)]
    return alerts(*rows, alert_name=dict.fromkeys(ids, "Flap"), signal=dict.fromkeys(ids, "other"))


def test_a_noisy_rules_alert_stands_alone_and_draws_nothing():
    at = 2 * 1440 + 30
    later = alerts(
        ("x1", at, "db"), ("x2", at + 1, "pay"), ("x3", at + 2, "db"), alert_name={"x1": "Flap"}
    )
    rows = pd.concat([flapping_history(), later], ignore_index=True)
    got = group_incidents(rows, MAP)["incident_id"].tolist()[-3:]
    assert got == ["inc-x1", "inc-x2", "inc-x2"]  # x3 (another db rule) joins pay's incident
    off = group_incidents(rows, MAP, IncidentConfig(noisy_rule_per_day=0))
    assert off["incident_id"].tolist()[-3:] == ["inc-x1"] * 3


def test_a_noisy_rules_alert_joins_a_confirmed_incident_its_service_is_in():
    at = 2 * 1440 + 30
    later = alerts(
        ("x1", at, "pay"), ("x2", at + 1, "db"), ("x3", at + 2, "db"), alert_name={"x3": "Flap"}
    )
    rows = pd.concat([flapping_history(), later], ignore_index=True)
    assert group_incidents(rows, MAP)["incident_id"].tolist()[-3:] == ["inc-x1"] * 3
    lone = rows[rows["alert_id"] != "x2"]  # pay's incident unconfirmed, db not in it
    assert group_incidents(lone, MAP)["incident_id"].tolist()[-2:] == ["inc-x1", "inc-x3"]


def test_a_rules_rate_counts_over_at_least_a_day():
    early = alerts(("x1", 90, "db"), ("x2", 91, "pay"), alert_name={"x1": "Flap"})
    four_in_an_hour = flapping_history(days=1 / 24, every_min=15)  # 4 a day, not 96
    rows = pd.concat([four_in_an_hour, early], ignore_index=True)
    assert group_incidents(rows, MAP)["incident_id"].tolist()[-2:] == ["inc-x1", "inc-x1"]
    five = pd.concat([flapping_history(days=1 / 24, every_min=12), early], ignore_index=True)
    assert group_incidents(five, MAP)["incident_id"].tolist()[-2:] == ["inc-x1", "inc-x2"]


def test_the_firing_counts_carry_over_in_the_persisted_state():
    at = 2 * 1440 + 30
    later = alerts(("x1", at, "db"), ("x2", at + 1, "pay"), alert_name={"x1": "Flap"})
    rows = pd.concat([flapping_history(), later], ignore_index=True)
    offline = group_incidents(rows, MAP)
    first = IncidentGrouper(MAP)
    head = first.assign(rows.iloc[:-2])
    state = json.loads(json.dumps(first.to_state()))
    tail = IncidentGrouper.from_state(MAP, None, state).assign(rows.iloc[-2:])
    pd.testing.assert_frame_equal(pd.concat([head, tail]), offline)
    state.update(version=1)
    del state["fired"], state["first_seen"]  # a state written before the counts: they restart
    older = IncidentGrouper.from_state(MAP, None, state).assign(rows.iloc[-2:])
    assert older["incident_id"].tolist() == ["inc-x1", "inc-x1"]


def test_among_equal_candidates_the_established_incident_wins():
    rows = alerts(
        ("a1", 0, "cart"),  # cart's incident: three alerts
        ("a2", 1, "cart"),
        ("a3", 2, "cart"),
        ("b1", 3, "pay"),  # pay's incident, newer: one alert
        ("c1", 4, "db"),  # below both
    )
    assert group_incidents(rows, MAP)["incident_id"].tolist()[-1] == "inc-a1"


def test_a_strained_resource_alone_draws_no_symptoms_but_joins_a_failure_below_it():
    alone = alerts(("a1", 0, "db"), ("a2", 1, "pay"), signal={"a1": "saturation"})
    assert group_incidents(alone, MAP)["incident_id"].tolist() == ["inc-a1", "inc-a2"]
    after = alerts(("a1", 0, "pay"), ("a2", 1, "db"), signal={"a2": "saturation"})
    assert group_incidents(after, MAP)["incident_id"].tolist() == ["inc-a1", "inc-a1"]


def test_a_stage_probe_joins_only_a_young_incident():
    probe = {"p": {"check": "buy/pay"}}
    young = alerts(("a1", 0, "pay"), ("a2", 15, "pay"), ("p", 28, "batch"), labels=probe)
    assert group_incidents(young, MAP)["incident_id"].tolist() == ["inc-a1"] * 3
    # pay's incident goes on (its alerts come within 15 minutes of each other) past an hour
    going_on = [(f"a{i}", 13 * i, "pay") for i in range(6)]  # at 0, 13, ... 65 minutes
    late = alerts(*going_on, ("p", 70, "batch"), labels=probe)
    assert group_incidents(late, MAP)["incident_id"].tolist() == ["inc-a0"] * 6 + ["inc-p"]
    longer = IncidentConfig(probe_join_min=240)
    assert group_incidents(late, MAP, longer)["incident_id"].tolist() == ["inc-a0"] * 7
