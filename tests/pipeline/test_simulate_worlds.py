"""The family of simulated worlds: each valid, reproducible, shaped as designed, its map wrong as planted."""

from __future__ import annotations

import filecmp
import json
import re
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from features.loading import load_data_dir, load_session_events
from pipeline.cli import main
from pipeline.simulate import WORLDS, SimulationConfig, simulate
from pipeline.simulate.truth import coincident_noise
from pipeline.simulate.worlds import DEFAULT_WORLD

DAYS, SEED = 7, 3
REPO = Path(__file__).resolve().parents[2]
TRUTH_COLUMNS = {"alert_id", "incident_id", "true_lost_value", "true_impact"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Each world simulated twice with the same seed."""
    root = tmp_path_factory.mktemp("worlds")
    for world in WORLDS:
        for copy in ("a", "b"):
            simulate(SimulationConfig(out=root / world / copy, days=DAYS, seed=SEED, world=world))
    return {world: (root / world / "a", root / world / "b") for world in WORLDS}


@pytest.fixture(scope="module")
def loaded(runs) -> dict[str, tuple]:
    """world -> (data directory, alerts joined with their truth, incidents, map truth)."""
    out = {}
    for world, (path, _) in runs.items():
        data = load_data_dir(path)
        alerts = data.alerts.merge(data.truth, on="alert_id", validate="one_to_one")
        incidents = pd.read_parquet(path / "truth_incidents.parquet")
        planted = json.loads((path / "map_truth.json").read_text())
        out[world] = (data, alerts, incidents, planted)
    return out


def _mapped_services(data) -> set[str]:
    """Every service the map names: on a stage, as a caller or as a callee."""
    named = set(data.journey_map.covered_services())
    for caller, callees in data.journey_map.dependencies.items():
        named |= {caller, *callees}
    return named


def _map_edges(data) -> set[tuple[str, str]]:
    return {(c, d) for c, callees in data.journey_map.dependencies.items() for d in callees}


# ---------------------------------------------------------------- every world


@pytest.mark.parametrize("world", list(WORLDS))
def test_each_world_meets_the_data_contract_with_its_truth(loaded, world):
    data, alerts, _, _ = loaded[world]
    assert len(data.alerts) > 0 and len(data.journey_outcomes) > 0
    assert set(data.truth["alert_id"]) == set(data.alerts["alert_id"])
    assert TRUTH_COLUMNS | {"true_lost_completions"} <= set(data.truth.columns)
    noise = alerts["incident_id"].isna()
    assert (alerts.loc[noise, ["true_lost_completions", "true_impact"]] == 0).all().all()
    hurt = alerts["true_impact"] == 1
    assert hurt.any() and (alerts.loc[hurt, "true_lost_completions"] > 0).all()


@pytest.mark.parametrize("world", list(WORLDS))
def test_each_world_has_the_window_width_it_was_designed_with(loaded, world):
    data = loaded[world][0]
    assert data.window == pd.Timedelta(minutes=WORLDS[world].scales["small"].window_min)


def test_the_family_covers_1_5_and_15_minute_windows():
    widths = {profile.window_min for w in WORLDS.values() for profile in w.scales.values()}
    defaults = {w.scales["small"].window_min for w in WORLDS.values()}
    assert {1, 5, 15} <= widths
    assert len(defaults) >= 2  # the default scale already differs between worlds


@pytest.mark.parametrize("world", list(WORLDS))
def test_the_same_seed_writes_byte_identical_files(runs, world):
    a, b = runs[world]
    names = sorted(p.name for p in a.iterdir())
    assert "map_truth.json" in names
    for name in names:
        assert filecmp.cmp(a / name, b / name, shallow=False), name


def test_worlds_differ_from_one_another(loaded):
    journeys = {world: tuple(loaded[world][0].journey_map.journeys) for world in WORLDS}
    segments = {world: tuple(loaded[world][0].journey_map.segments) for world in WORLDS}
    regions = {world: tuple(sorted(set(loaded[world][1]["region"]))) for world in WORLDS}
    for names in (journeys, segments, regions):
        assert len(set(names.values())) == len(WORLDS)


@pytest.mark.parametrize("world", list(WORLDS))
def test_the_planted_missing_services_alert_and_are_absent_from_the_map(loaded, world):
    data, alerts, _, planted = loaded[world]
    stages = {
        (j, s.name) for j, journey in data.journey_map.journeys.items() for s in journey.stages
    }
    assert planted["missing_services"]
    for missing in planted["missing_services"]:
        assert missing["service"] not in _mapped_services(data)
        assert (alerts["service"] == missing["service"]).any()
        assert missing["stages"]
        assert {(s["journey"], s["stage"]) for s in missing["stages"]} <= stages
        assert {s["link"] for s in missing["stages"]} <= {"hard", "soft"}


@pytest.mark.parametrize("world", [w for w in WORLDS if w != DEFAULT_WORLD])
def test_a_missing_service_is_hard_on_a_user_path_and_hurts_users(loaded, world):
    _, alerts, incidents, planted = loaded[world]
    missing = planted["missing_services"][0]
    assert "hard" in {s["link"] for s in missing["stages"]}
    own = incidents.loc[incidents["service"] == missing["service"]]
    assert own["lost_completions"].sum() > 0
    assert alerts.loc[alerts["service"] == missing["service"], "true_impact"].any()


@pytest.mark.parametrize("world", [w for w in WORLDS if w != DEFAULT_WORLD])
def test_the_false_dependency_is_in_the_map_but_not_in_the_call_graph(loaded, world):
    data, _, _, planted = loaded[world]
    truth = WORLDS[world]
    assert planted["false_dependencies"]
    for edge in planted["false_dependencies"]:
        assert (edge["service"], edge["callee"]) in _map_edges(data)
        assert edge["callee"] not in truth.dependencies.get(edge["service"], {})
        # the callee is a batch job: on no user path, so the edge makes it look critical
        assert edge["callee"] in truth.off_path_services


@pytest.mark.parametrize("world", [w for w in WORLDS if w != DEFAULT_WORLD])
def test_a_migrated_service_keeps_its_old_name_in_the_map_and_alerts_under_the_new(loaded, world):
    data, alerts, _, planted = loaded[world]
    assert planted["migrations"]
    fired = set(alerts["service"])
    for move in planted["migrations"]:
        assert move["old"] in _mapped_services(data) and move["old"] not in fired
        assert move["new"] not in _mapped_services(data) and move["new"] in fired


@pytest.mark.parametrize("world", list(WORLDS))
def test_noise_fires_on_the_stages_a_real_incident_degrades_while_it_lasts(loaded, world):
    _, alerts, incidents, _ = loaded[world]
    coincident = coincident_noise(WORLDS[world], alerts, incidents)
    assert len(coincident) > 0
    assert (coincident["true_impact"] == 0).all()


def test_coincident_noise_is_planted_beyond_what_chance_brings(loaded, tmp_path, monkeypatch):
    world = "saas"
    planted = len(coincident_noise(WORLDS[world], *loaded[world][1:3]))
    quiet = replace(WORLDS[world].monitoring, coincident_chance=0.0)
    monkeypatch.setitem(WORLDS, world, replace(WORLDS[world], monitoring=quiet))
    simulate(SimulationConfig(out=tmp_path, days=DAYS, seed=SEED, world=world))
    data = load_data_dir(tmp_path)
    alerts = data.alerts.merge(data.truth, on="alert_id")
    incidents = pd.read_parquet(tmp_path / "truth_incidents.parquet")
    assert planted > 1.5 * len(coincident_noise(WORLDS[world], alerts, incidents))


@pytest.mark.parametrize("world", list(WORLDS))
def test_incidents_ramp_up_or_hit_one_region(loaded, world):
    incidents = loaded[world][2]
    assert (incidents["kind"] == "slow_burn").any()
    regional = incidents.loc[incidents["kind"] == "partial_region", "region"]
    assert len(regional) > 0 and regional.notna().all()
    assert incidents.loc[incidents["kind"] != "partial_region", "region"].isna().all()


# ---------------------------------------------------------------- the saas world's shape


def test_saas_journeys_differ_in_density_and_quiet_windows_are_absent(loaded):
    data = loaded["saas"][0]
    outcomes = data.journey_outcomes
    windows = DAYS * 24 * 60 // 5
    per_window = outcomes.groupby("stage")["sessions"].sum() / windows
    assert per_window.max() > 1000 and per_window.min() < 1
    rows = outcomes.groupby("stage")["window_start"].nunique()
    assert rows.min() < 0.5 * windows  # a renewal stage is absent from most windows


def test_saas_regions_peak_hours_apart_and_business_segments_vanish_at_weekends(loaded):
    outcomes = loaded["saas"][0].journey_outcomes
    hour = outcomes["window_start"].dt.hour
    by_hour = outcomes.groupby([outcomes["region"], hour])["sessions"].sum().unstack(0)
    peaks = by_hour.idxmax()
    assert abs(int(peaks.iloc[0]) - int(peaks.iloc[1])) >= 4
    weekend = outcomes["window_start"].dt.day_of_week >= 5
    per_day = outcomes.groupby([outcomes["segment"], weekend])["sessions"].sum().unstack()
    per_day = per_day[True] / per_day[False] * 5 / 2  # weekend day over weekday day
    assert (per_day < 0.3).all()
    weights = loaded["saas"][0].journey_map.segments
    assert max(weights.values()) >= 10 * min(weights.values())


def test_saas_alerts_are_mostly_noise_and_often_critical(loaded):
    alerts = loaded["saas"][1]
    assert alerts["incident_id"].isna().mean() > 0.7
    assert (alerts["severity"] == "critical").mean() > 0.3
    by_severity = alerts.groupby("severity")["true_impact"].mean()
    assert by_severity["critical"] < 2 * alerts["true_impact"].mean()  # severity says little


# ---------------------------------------------------------------- the command line and the fence


def test_the_cli_simulates_a_world_and_records_it(tmp_path, capsys):
    out = tmp_path / "media"
    assert main(["simulate", "--out", str(out), "--days", "1", "--world", "media"]) == 0
    manifest = json.loads((out / "simulation.json").read_text())
    assert manifest["world"] == "media" and manifest["window_min"] == 15


def test_the_cli_refuses_an_unknown_world_listing_the_worlds(tmp_path, capsys):
    assert main(["simulate", "--out", str(tmp_path), "--days", "1", "--world", "bank"]) == 2
    message = capsys.readouterr().err
    assert "--world" in message and all(name in message for name in WORLDS)


def test_the_cli_refuses_shifts_outside_the_world_they_are_written_for(tmp_path, capsys):
    args = ["simulate", "--out", str(tmp_path), "--days", "1", "--world", "saas"]
    assert main([*args, "--shift", "traffic_mix"]) == 2
    assert "--shift" in capsys.readouterr().err
    with pytest.raises(ValueError, match="shifts"):
        SimulationConfig(out=tmp_path, world="saas", shifts=("traffic_mix",))


def test_the_config_refuses_an_unknown_world(tmp_path):
    with pytest.raises(ValueError, match="unknown world 'bank'"):
        SimulationConfig(out=tmp_path, world="bank")


def _names_only_the_simulator_may_know() -> set[str]:
    """World names, and the services of every world but the shop (whose names are the sample's)."""
    names = set(WORLDS)
    for world in WORLDS.values():
        names |= set(world.all_services()) | {old for old, _ in world.migrations}
    return names - (set(WORLDS[DEFAULT_WORLD].all_services()) - set(WORLDS))


def test_no_code_outside_the_simulator_knows_a_world_or_its_names():
    names = _names_only_the_simulator_may_know()
    pattern = re.compile(
        r"(?<![\w-])(" + "|".join(map(re.escape, sorted(names))) + r")(?![\w-])", re.IGNORECASE
    )
    roots = [REPO / "features", REPO / "models", REPO / "serving", REPO / "pipeline"]
    simulator = REPO / "pipeline" / "simulate"
    found = [
        f"{path.relative_to(REPO)}: {match.group(0)}"
        for root in roots
        for path in sorted(root.rglob("*.py"))
        if simulator not in path.parents
        for match in pattern.finditer(path.read_text(encoding="utf-8"))
    ]
    assert not found


def test_session_events_of_another_world_add_up_to_its_outcomes(tmp_path):
    out = tmp_path / "media"
    simulate(SimulationConfig(out=out, days=1, seed=SEED, world="media", events=True))
    events = load_session_events(out / "session_events.parquet")
    outcomes = load_data_dir(out).journey_outcomes
    keys = ["window_start", "journey", "stage", "segment", "region"]
    counted = (
        events.assign(window_start=events["ts"].dt.floor("15min"))
        .pivot_table(index=keys, columns="event", values="session_id", aggfunc="size", fill_value=0)
        .reset_index()
    )
    both = outcomes.merge(counted, on=keys, how="outer", validate="one_to_one").fillna(0)
    assert (both["sessions"] == both["enter"]).all()
    assert (both["completed"] == both["complete"]).all()
