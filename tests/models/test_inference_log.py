"""The inference log keeps each answer's incident, and a log written before incidents gains them."""

from __future__ import annotations

import sqlite3

import pandas as pd

from models.inference_log import InferenceLog

T0 = pd.Timestamp("2026-03-02", tz="UTC")
OLD_SCHEMA = """
CREATE TABLE inference_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, logged_at INTEGER NOT NULL, alert_id TEXT NOT NULL,
    fired_at INTEGER NOT NULL, service TEXT, alert_name TEXT, source TEXT, severity TEXT,
    model_version TEXT, journey_map_version TEXT, impact_probability REAL, priority REAL,
    tier TEXT, route TEXT, journey TEXT, stage TEXT, segment_at_risk TEXT, reasons TEXT,
    playbook TEXT, flags TEXT, features TEXT
);
INSERT INTO inference_log (logged_at, alert_id, fired_at, priority, tier, flags, features)
VALUES (1, 'old', 1, 0.5, 'P3', '', '{}');
"""


def _answers(incidents: bool) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    answers = pd.DataFrame(
        {
            "alert_id": ["a", "b"],
            "impact_probability": [0.9, 0.1],
            "priority": [4.0, 0.5],
            "tier": ["P1", "P4"],
            "route": ["incident_room", "digest"],
            "journey": ["buy", None],
            "stage": ["pay", None],
            "segment_at_risk": [None, None],
            "reasons": ["[]", "[]"],
            "playbook": [None, None],
            "escalation": [None, None],
            "model_version": "1",
            "journey_map_version": "m",
            "flags": ["", ""],
        }
    )
    if incidents:
        answers = answers.assign(incident_id=["inc-a", "inc-a"], incident_priority=[4.0, 4.0])
    alerts = pd.DataFrame(
        {
            "alert_id": ["a", "b"],
            "fired_at": [T0, T0 + pd.Timedelta(minutes=1)],
            "service": "pay",
            "alert_name": "Errors",
            "source": "prometheus",
            "severity": "critical",
        }
    )
    return answers, pd.DataFrame({"alert_id": ["a", "b"], "f": [1.0, 2.0]}), alerts


def test_each_answer_is_logged_with_its_incident_and_its_incidents_priority(tmp_path):
    log = InferenceLog(tmp_path / "log.sqlite")
    log.write(*_answers(incidents=True))
    latest = log.latest_answers(["a", "b"]).set_index("alert_id")
    assert latest["incident_id"].tolist() == ["inc-a", "inc-a"]
    assert latest.loc["b", "incident_priority"] == 4.0 and latest.loc["b", "priority"] == 0.5


def test_an_answer_outside_any_incident_stands_by_its_own_priority(tmp_path):
    log = InferenceLog(tmp_path / "log.sqlite")
    log.write(*_answers(incidents=False))
    latest = log.latest_answers(["b"])
    assert latest["incident_id"].isna().all() and latest["incident_priority"].tolist() == [0.5]


def test_a_log_written_before_incidents_gains_their_columns(tmp_path):
    path = tmp_path / "log.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
    log = InferenceLog(path)
    log.write(*_answers(incidents=True))
    exported = log.export().set_index("alert_id")
    assert pd.isna(exported.loc["old", "incident_id"])
    assert exported.loc["a", "incident_id"] == "inc-a"
