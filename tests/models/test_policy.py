"""Policy floors: the file is validated like the map, and a matching alert never ranks below its floor."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from features.errors import ContractError
from models.policy import POLICY_FLOOR, apply_floors, load_policy

POLICY = """\
version: 2026-12-01
floors:
  - name: slo-burn-rate
    match: {alert_name: "*BurnRate*"}
    tier: P2
    reason: SLO burn-rate alerts always page
  - name: payments-critical
    match: {alert_name: "re:^Payments", severity: critical, labels: {team: "pay*"}}
    tier: P1
"""


def _policy(tmp_path: Path, text: str = POLICY):
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return load_policy(path)


def _answers(tiers: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "alert_id": [f"a{i}" for i in range(len(tiers))],
            "priority": [10.0 - i for i in range(len(tiers))],
            "tier": tiers,
            "route": "x",
            "escalation": None,
            "reasons": json.dumps(["model reason"]),
            "flags": ["", "new_rule", "", ""][: len(tiers)],
        }
    )


ALERTS = pd.DataFrame(
    {
        "alert_id": ["a0", "a1", "a2", "a3"],
        "alert_name": ["HighLatency", "CheckoutBurnRateFast", "PaymentsDown", "PaymentsDown"],
        "source": "prometheus",
        "severity": ["critical", "warning", "critical", "critical"],
        "labels": [None, None, json.dumps({"team": "payments"}), json.dumps({"team": "web"})],
    }
)


def test_a_matching_alert_is_raised_to_its_floor_flagged_with_the_reason(tmp_path):
    floored = apply_floors(_answers(["P2", "P4", "P3", "P3"]), ALERTS, _policy(tmp_path))
    by_id = floored.set_index("alert_id")
    assert by_id.loc["a1", "tier"] == "P2" and by_id.loc["a1", "route"] == "page"
    assert by_id.loc["a1", "flags"] == f"new_rule,{POLICY_FLOOR}"
    assert json.loads(by_id.loc["a1", "reasons"])[0] == (
        "policy floor 'slo-burn-rate': SLO burn-rate alerts always page (the model said P4)"
    )
    assert by_id.loc["a2", "tier"] == "P1"  # regex, severity and a label glob all hold
    assert json.loads(by_id.loc["a2", "reasons"])[0].startswith(
        "policy floor 'payments-critical': alerts with alert_name re:^Payments, severity critical, "
        "label team pay* never rank below P1"
    )
    assert by_id.loc["a3", "tier"] == "P3" and POLICY_FLOOR not in by_id.loc["a3", "flags"]
    assert list(floored["alert_id"]) == ["a2", "a0", "a1", "a3"]  # highest tier first


def test_a_floored_alert_moves_up_and_nothing_else_moves(tmp_path):
    """Answers ranked by their incidents' priority need not come in tier order: a floor moves only
    the alert it raises, to just before the first answer below its new tier."""
    floored = apply_floors(_answers(["P4", "P2", "P3", "P1"]), ALERTS, _policy(tmp_path))
    assert list(floored["alert_id"]) == ["a2", "a0", "a1", "a3"]
    assert list(floored["tier"]) == ["P1", "P4", "P2", "P1"]


def test_a_floor_never_lowers_a_tier(tmp_path):
    floored = apply_floors(_answers(["P1", "P1", "P1", "P1"]), ALERTS, _policy(tmp_path))
    assert (
        list(floored["tier"]) == ["P1"] * 4
        and not floored["flags"].str.contains(POLICY_FLOOR).any()
    )


def test_no_policy_file_means_no_floors_and_no_shadow():
    policy = load_policy(None)
    assert policy.floors == [] and policy.shadow is False


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("floors:\n  - name: x\n    match: {alert_name: a}\n    tier: P5\n",
         "policy.yaml: floors[0].tier, line 4: expected P1, P2, P3 or P4; got 'P5'"),
        ("floors:\n  - name: x\n    match: {}\n    tier: P2\n",
         "policy.yaml: floors[0].match, line 3: expected at least one of alert_name, source, severity, labels"),
        ("floors:\n  - name: x\n    match: {alert_nme: a}\n    tier: P2\n",
         "policy.yaml: floors[0].match.alert_nme, line 3: expected one of the keys alert_name, source, "
         "severity, labels; got unknown key 'alert_nme'"),
        ("floors:\n  - name: x\n    match: {alert_name: 're:('}\n    tier: P2\n",
         "policy.yaml: floors[0].match.alert_name[0], line 3: expected a valid regular expression"),
        ("shadow: maybe\n", "policy.yaml: shadow, line 1: expected true or false; got 'maybe'"),
    ],
)  # fmt: skip
def test_a_bad_policy_is_one_message_naming_the_key_and_line(tmp_path, text, message):
    with pytest.raises(ContractError) as caught:
        _policy(tmp_path, text)
    assert str(caught.value).startswith(message)
