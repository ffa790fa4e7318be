"""The journey map: its look-ups, how services reach stages, and one clear message per bad key."""

from __future__ import annotations

from pathlib import Path

import pytest
from contract_data import JOURNEY_MAP_YAML

from features.errors import ContractError
from features.journey_map import JourneyMap, load_journey_map


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "journey_map.yaml"
    path.write_text(text)
    return path


def _message(tmp_path: Path, text: str) -> str:
    with pytest.raises(ContractError) as caught:
        load_journey_map(_write(tmp_path, text))
    return str(caught.value)


@pytest.fixture
def journey_map(tmp_path: Path) -> JourneyMap:
    return load_journey_map(_write(tmp_path, JOURNEY_MAP_YAML))


def test_stage_table_lists_stages_in_funnel_order(journey_map: JourneyMap) -> None:
    stages = journey_map.stage_table()
    assert stages.to_dict("list") == {
        "journey": ["signup", "signup"],
        "stage": ["form", "confirm"],
        "position": [0, 1],
        "n_stages": [2, 2],
        "impact": [0.6, 0.9],
        "value": [1.0, 10.0],
        "owner": ["growth-team", stages["owner"].iloc[1]],
    }
    assert stages["owner"].isna().iloc[1]
    assert stages.dtypes.astype(str).to_dict() == {
        "journey": "str",
        "stage": "str",
        "position": "int64",
        "n_stages": "int64",
        "impact": "float64",
        "value": "float64",
        "owner": "str",
    }


def test_lookups(journey_map: JourneyMap) -> None:
    assert journey_map.version == "2026-03-01"
    assert journey_map.segment_weight("new") == 1.5
    assert journey_map.segment_weight("unlisted") == 1.0
    assert journey_map.escalation_for("P1") == "incident room + product on-call"
    assert journey_map.escalation_for("P4") is None
    assert journey_map.playbook_for("signup", "form", "latency") == "Check the web tier."
    assert journey_map.playbook_for("signup", "form", "errors") == "Open the signup dashboard."
    assert journey_map.playbook_for("signup", "form", None) == "Open the signup dashboard."
    assert journey_map.playbook_for("signup", "confirm", "latency") is None
    assert journey_map.playbook_for("nowhere", "form", "latency") is None


LINKS_MAP = """\
version: v1
journeys:
  shop:
    stages:
      - name: browse
        impact: 0.3
        services: {api: hard}
      - name: pay
        impact: 1.0
        services: {worker: soft, api: soft}
      - name: ship
        impact: 0.5
        services: {x: soft, y: hard}
dependencies:
  api: [db, cache]
  cache: [api]        # a cycle back to the caller
  db: [storage]
  storage: [db]       # and a cycle further down
  worker: [db]
  x: [z]
  y: [z]
"""


def test_service_stage_links_follow_dependencies_transitively(tmp_path: Path) -> None:
    links = load_journey_map(_write(tmp_path, LINKS_MAP)).service_stage_links()
    got = {(row.service, row.stage): (row.kind, row.hops) for row in links.itertuples()}
    assert got == {
        ("api", "browse"): ("hard", 0),
        ("cache", "browse"): ("hard", 1),
        ("db", "browse"): ("hard", 1),
        ("storage", "browse"): ("hard", 2),
        # api and worker are both soft here; db is one hop from either
        ("api", "pay"): ("soft", 0),
        ("worker", "pay"): ("soft", 0),
        ("cache", "pay"): ("soft", 1),
        ("db", "pay"): ("soft", 1),
        ("storage", "pay"): ("soft", 2),
        # z is one hop from a soft and from a hard service: the tie goes to hard
        ("x", "ship"): ("soft", 0),
        ("y", "ship"): ("hard", 0),
        ("z", "ship"): ("hard", 1),
    }
    assert list(links.columns) == ["service", "journey", "stage", "kind", "hops"]
    assert links["hops"].dtype == "int64"
    assert list(links["stage"].drop_duplicates()) == ["browse", "pay", "ship"]  # funnel order


def test_a_direct_link_beats_a_transitive_one(journey_map: JourneyMap) -> None:
    links = journey_map.service_stage_links().set_index(["service", "stage"])
    # form lists auth as soft; web (hard) also calls auth, but the direct link is shorter
    assert tuple(links.loc[("auth", "form"), ["kind", "hops"]]) == ("soft", 0)
    assert tuple(links.loc[("db", "form"), ["kind", "hops"]]) == ("hard", 1)


def test_covered_services(journey_map: JourneyMap) -> None:
    assert journey_map.covered_services() == {"web", "auth", "mailer", "db"}


def test_unquoted_date_version_is_kept_as_written(tmp_path: Path) -> None:
    text = JOURNEY_MAP_YAML.replace('version: "2026-03-01"', "version: 2026-03-01")
    assert load_journey_map(_write(tmp_path, text)).version == "2026-03-01"


# ---------------------------------------------------------------- bad maps


def test_dependency_kind_other_than_hard_or_soft(tmp_path: Path) -> None:
    text = JOURNEY_MAP_YAML.replace("mailer: soft", "mailer: optional")
    assert _message(tmp_path, text) == (
        "journey_map.yaml: journeys.signup.stages[1].services.mailer, line 14: "
        "expected hard or soft; got 'optional'"
    )


@pytest.mark.parametrize("impact", ["1.2", "-0.1"])
def test_impact_outside_unit_interval(tmp_path: Path, impact: str) -> None:
    text = JOURNEY_MAP_YAML.replace("impact: 0.9", f"impact: {impact}")
    assert _message(tmp_path, text) == (
        f"journey_map.yaml: journeys.signup.stages[1].impact, line 12: "
        f"expected a number in [0, 1]; got {float(impact)}"
    )


def test_impact_that_is_not_a_number(tmp_path: Path) -> None:
    text = JOURNEY_MAP_YAML.replace("impact: 0.6", "impact: high")
    assert _message(tmp_path, text) == (
        "journey_map.yaml: journeys.signup.stages[0].impact, line 7: expected a number; got 'high'"
    )


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    text = JOURNEY_MAP_YAML.replace("owner: growth-team", "owner: growth-team: sre")
    assert _message(tmp_path, text) == (
        "journey_map.yaml: line 8: expected valid YAML; got mapping values are not allowed here"
    )


@pytest.mark.parametrize("text", ["", "# nothing yet\n"])
def test_empty_map(tmp_path: Path, text: str) -> None:
    assert _message(tmp_path, text) == (
        "journey_map.yaml: expected a journey map (a mapping with version and journeys); got an empty file"
    )


def test_missing_key_points_at_its_parent(tmp_path: Path) -> None:
    text = JOURNEY_MAP_YAML.replace("        impact: 0.9\n", "")
    assert _message(tmp_path, text) == (
        "journey_map.yaml: journeys.signup.stages[1].impact, line 11: "
        "expected a value (this key is required)"
    )


def test_misspelt_key(tmp_path: Path) -> None:
    text = JOURNEY_MAP_YAML.replace("value: 10.0", "valu: 10.0")
    assert _message(tmp_path, text) == (
        "journey_map.yaml: journeys.signup.stages[1].valu, line 13: "
        "expected one of the keys name, impact, value, owner, services, playbooks; got unknown key 'valu'"
    )


def test_repeated_stage_name(tmp_path: Path) -> None:
    text = JOURNEY_MAP_YAML.replace("name: confirm", "name: form")
    assert _message(tmp_path, text) == (
        "journey_map.yaml: journeys.signup.stages[1].name, line 11: "
        "expected stage names unique within the journey; got 'form'"
    )


def test_repeated_key(tmp_path: Path) -> None:
    text = JOURNEY_MAP_YAML.replace("  auth: [db]\n", "  auth: [db]\n  web: [db]\n")
    assert _message(tmp_path, text) == (
        "journey_map.yaml: dependencies.web, line 18: expected each key once; got 'web' again (first at line 16)"
    )


def test_non_positive_stage_value(tmp_path: Path) -> None:
    text = JOURNEY_MAP_YAML.replace("value: 10.0", "value: 0")
    assert _message(tmp_path, text) == (
        "journey_map.yaml: journeys.signup.stages[1].value, line 13: expected a number > 0; got 0"
    )
