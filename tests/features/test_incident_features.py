"""The incident family: each alert's incident as it stood when it fired, read from the grouper's answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.context import AlertBatch
from features.families import incident
from features.families.incident import with_incidents
from features.incidents import IncidentGrouper, group_incidents
from features.stages import StageIndex
from tests.features import tiny

STAGES = StageIndex.from_map(tiny.MAP)


def features_of(alerts: pd.DataFrame) -> dict[str, np.ndarray]:
    return incident.compute(AlertBatch.of(alerts, STAGES), None)


def grouped_by_id(alerts: pd.DataFrame) -> pd.DataFrame:
    return group_incidents(alerts, tiny.MAP).set_axis(alerts["alert_id"].astype(str))


def test_size_and_services_so_far_of_each_alerts_incident():
    # db fails, its callers follow within minutes; recs alerts alone hours later
    alerts = tiny.alerts(
        ("a1", 0, "db"), ("a2", 2, "pay-svc"), ("a3", 3, "cart-svc"), ("a4", 300, "recs")
    )
    got = features_of(with_incidents(alerts, grouped_by_id(alerts)))
    assert got["incident_alerts_so_far"].tolist() == [1, 2, 3, 1]
    assert got["incident_services_so_far"].tolist() == [1, 2, 3, 1]


def test_a_later_alert_changes_nothing_of_an_earlier_alerts_incident_features():
    first = tiny.alerts(("a1", 0, "db"), ("a2", 2, "pay-svc"))
    later = tiny.alerts(("a1", 0, "db"), ("a2", 2, "pay-svc"), ("a3", 3, "cart-svc"))
    before = features_of(with_incidents(first, grouped_by_id(first)))
    after = features_of(with_incidents(later, grouped_by_id(later)).iloc[:2])
    for name in before:
        np.testing.assert_array_equal(before[name], after[name], err_msg=name)


def test_the_grouper_fed_in_batches_gives_the_offline_features():
    alerts = tiny.alerts(
        ("a1", 0, "db"), ("a2", 2, "pay-svc"), ("a3", 3, "cart-svc"), ("a4", 300, "recs")
    )
    offline = features_of(with_incidents(alerts, grouped_by_id(alerts)))
    grouper = IncidentGrouper(tiny.MAP)
    online = [
        features_of(with_incidents(batch, grouper.assign(batch).set_axis(batch["alert_id"])))
        for batch in (alerts.iloc[:1], alerts.iloc[1:3], alerts.iloc[3:])
    ]
    for name in offline:
        np.testing.assert_array_equal(
            offline[name], np.concatenate([part[name] for part in online]), err_msg=name
        )


def test_an_alert_sent_again_after_its_incident_grew_keeps_the_features_it_first_had():
    """Alertmanager re-sends a firing alert; its features are its incident as it stood when it
    fired, as offline, not the incident it has grown into (its priority would drift otherwise)."""
    alerts = tiny.alerts(("a1", 0, "db"), ("a2", 2, "pay-svc"), ("a3", 3, "cart-svc"))
    grouper = IncidentGrouper(tiny.MAP)
    first = features_of(with_incidents(alerts, grouper.assign(alerts).set_axis(alerts["alert_id"])))
    again = alerts.iloc[:2]
    resent = features_of(with_incidents(again, grouper.assign(again).set_axis(again["alert_id"])))
    restored = IncidentGrouper.from_state(tiny.MAP, None, grouper.to_state())
    after_restart = features_of(
        with_incidents(again, restored.assign(again).set_axis(again["alert_id"]))
    )
    for name in first:
        np.testing.assert_array_equal(resent[name], first[name][:2], err_msg=name)
        np.testing.assert_array_equal(after_restart[name], first[name][:2], err_msg=name)
    assert first["incident_services_so_far"].tolist() == [1, 2, 3]


def test_with_incidents_picks_each_alerts_answer_by_alert_id_from_a_history():
    history = tiny.alerts(("h1", 0, "db"), ("a1", 2, "pay-svc"), ("h2", 200, "recs"))
    grouped = grouped_by_id(history)
    alerts = history.iloc[[1]]
    got = with_incidents(alerts, grouped)
    assert got.index.tolist() == alerts.index.tolist()
    assert got["incident_position"].tolist() == [2]
    assert got["incident_services"].tolist() == [2]
    assert list(got.columns[: len(alerts.columns)]) == list(alerts.columns)


def test_an_alert_the_grouper_never_saw_is_refused_with_its_id():
    grouped = grouped_by_id(tiny.alerts(("a1", 0, "db")))
    with pytest.raises(ValueError, match="'a2'"):
        with_incidents(tiny.alerts(("a1", 0, "db"), ("a2", 1, "pay-svc")), grouped)


def test_alerts_without_the_groupers_answer_are_refused_by_name():
    with pytest.raises(KeyError, match=r"incident_position.*with_incidents"):
        features_of(tiny.alerts(("a1", 0, "db")))
