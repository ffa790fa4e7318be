"""Later periods of the same shop, and the shifts a drift audit must catch: each changes what it claims."""

from __future__ import annotations

import filecmp
import functools
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from features.loading import load_data_dir
from pipeline.cli import main
from pipeline.simulate import DEFAULT_START, MANIFEST_FILE, SHIFTS, SimulationConfig, simulate
from pipeline.simulate.rules import SEVERITY_LEVELS
from pipeline.simulate.shifts import NEW_SERVICE, REMOVED_STAGES

SEED, DAYS = 11, 3

# sha256 of `simulate(SimulationConfig(out, days=2, seed=5, events=True))`, written by the
# simulator before periods and shifts existed: period 0 must stay byte for byte what it was
# (truth.parquet's since it gained true_lost_completions; the evaluation-only file).
PERIOD_0_SHA256 = {
    "alerts.parquet": "8e6b6beab269608a56fc22830d6422c2b78482606489ef357022f62d20bbc01f",
    "changes.parquet": "59126542a6bfea75add43b665c0a2b35c534666dc9dc653cc3d55ce5858ce278",
    "journey_map.yaml": "2eaad8d297e4cd1d6d22b0c9fd401701d093a0e81ce71467369fc9b30a3cc592",
    "journey_outcomes.parquet": "17326270ad7f0e5fce299b9d7d908ff44b6d95a612b5a0c4774d1cf8af431f9f",
    "session_events.parquet": "0c667f3289da23838bc6c50d50d0fdd13a8bd140795fc92f3262decca6aee345",
}
# The truth's costs are sums of floats whose last bits follow the CPU's vector instructions (one
# machine wrote different bytes than another), so they are compared by content, to 6 decimals.
PERIOD_0_TRUTH_DIGEST = {
    "truth.parquet": "4bd5f800ffbb70479d22641adedaaccabeb919e361026c60adfe8bc8655b70ed",
    "truth_incidents.parquet": "5b10c8e164d0aa60a93995168be32523a73e4a6d47c7d4c6b9dc66546c32295e",
}
SAMPLE_FILES = (
    "alerts.parquet",
    "journey_outcomes.parquet",
    "changes.parquet",
    "truth.parquet",
    "truth_incidents.parquet",
    "journey_map.yaml",
    "map_truth.json",
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Period 0, period 1, and period 1 under each shift alone: same seed, three days each."""
    root = tmp_path_factory.mktemp("periods")
    configs = {"p0": {}, "p1": {"period": 1}} | {
        name: {"period": 1, "shifts": (name,)} for name in SHIFTS
    }
    for name, options in configs.items():
        simulate(SimulationConfig(out=root / name, days=DAYS, seed=SEED, **options))
    return {name: root / name for name in configs}


_data = functools.cache(load_data_dir)  # the runs are written once and only read (never mutated)


def _alerts(run: Path) -> pd.DataFrame:
    data = _data(run)
    alerts = data.alerts.merge(data.truth, on="alert_id", validate="one_to_one")
    labels = alerts["labels"].map(json.loads)
    return alerts.assign(
        team=labels.map(lambda x: x["team"]), check=labels.map(lambda x: x.get("check", ""))
    )


def _team_rules(alerts: pd.DataFrame) -> pd.Series:
    """(service, alert_name, check) -> severity of the rules teams wrote (the detector's vary by score)."""
    written = alerts.loc[alerts["source"] != "aiops"]
    return written.groupby(["service", "alert_name", "check"])["severity"].agg(
        lambda s: "/".join(sorted(set(s)))
    )


def _stage_services(run: Path) -> dict[tuple[str, str], dict[str, str]]:
    """(journey, stage) -> its services, as the journey map says."""
    journeys = _data(run).journey_map.journeys
    return {
        (j, stage.name): stage.services
        for j, journey in journeys.items()
        for stage in journey.stages
    }


def _first_stage_segment_shares(run: Path) -> pd.Series:
    outcomes = _data(run).journey_outcomes
    firsts = outcomes.groupby("journey")["stage"].first()
    entering = outcomes.loc[outcomes["stage"].isin(firsts)]
    return entering.groupby("segment")["sessions"].sum() / entering["sessions"].sum()


def _owners(alerts: pd.DataFrame) -> pd.Series:
    """service -> 'source/team' of the rules teams wrote."""
    written = alerts.loc[alerts["source"].isin(["prometheus", "grafana", "datadog"])]
    return (
        (written["source"] + "/" + written["team"])
        .groupby(written["service"])
        .agg(lambda s: "|".join(sorted(set(s))))
    )


def _same_file(a: Path, b: Path, name: str) -> bool:
    """Byte for byte, except the truth's float costs (PERIOD_0_TRUTH_DIGEST): to 6 decimals."""
    if name in PERIOD_0_TRUTH_DIGEST:
        return _content_digest(a / name) == _content_digest(b / name)
    return filecmp.cmp(a / name, b / name, shallow=False)


# ---------------------------------------------------------------- period 0 and later periods


def test_period_0_writes_what_the_simulator_wrote_before_periods(tmp_path):
    simulate(SimulationConfig(out=tmp_path, days=2, seed=5, events=True))
    for name, digest in PERIOD_0_SHA256.items():
        assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == digest, name
    for name, digest in PERIOD_0_TRUTH_DIGEST.items():
        assert _content_digest(tmp_path / name) == digest, name


def _content_digest(path: Path) -> str:
    frame = pd.read_parquet(path)
    floats = frame.select_dtypes("float").columns
    frame[floats] = frame[floats].round(6)
    rows = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(rows.tobytes()).hexdigest()


def test_the_sample_recipe_still_writes_the_committed_sample(tmp_path, sample_dir):
    simulate(SimulationConfig(out=tmp_path, days=21, seed=20261101))
    for name in SAMPLE_FILES:
        assert _same_file(tmp_path, sample_dir, name), name


def test_a_later_period_starts_where_the_one_before_ended(runs):
    before = json.loads((runs["p0"] / MANIFEST_FILE).read_text())
    after = json.loads((runs["p1"] / MANIFEST_FILE).read_text())
    assert after["start"] == before["end"]
    fired = _data(runs["p1"]).alerts["fired_at"]
    assert fired.min() >= pd.Timestamp(after["start"]) and fired.max() < pd.Timestamp(after["end"])


def test_a_later_period_is_the_same_shop_with_other_events(runs):
    early, late = _alerts(runs["p0"]), _alerts(runs["p1"])
    rules_early, rules_late = _team_rules(early), _team_rules(late)
    common = rules_early.index.intersection(rules_late.index)
    assert len(common) > 0.6 * len(rules_early)
    assert (rules_early[common] == rules_late[common]).all()  # each rule's team severity
    owners_early, owners_late = _owners(early), _owners(late)
    both = owners_early.index.intersection(owners_late.index)
    assert len(both) > 30 and owners_early[both].equals(owners_late[both])
    assert _same_file(runs["p0"], runs["p1"], "journey_map.yaml")
    assert not set(early["fired_at"]) & set(late["fired_at"])  # what happens is drawn afresh
    assert not set(early["alert_id"]) & set(late["alert_id"])  # and ids never clash


def test_a_later_period_is_reproducible(runs, tmp_path):
    simulate(SimulationConfig(out=tmp_path, days=DAYS, seed=SEED, period=1))
    for name in (*SAMPLE_FILES, MANIFEST_FILE):
        assert _same_file(runs["p1"], tmp_path, name), name


def test_changes_keep_to_weekdays_whatever_day_a_period_starts(runs):
    changes = _data(runs["p1"]).changes  # Thursday to Saturday
    per_day = changes["ts"].dt.day_name().value_counts()
    assert per_day["Saturday"] < 0.3 * per_day[["Thursday", "Friday"]].mean()


def test_the_manifest_records_how_the_directory_was_made(runs):
    manifest = json.loads((runs["retuned_rules"] / MANIFEST_FILE).read_text())
    assert manifest["seed"] == SEED and manifest["period"] == 1 and manifest["days"] == DAYS
    assert manifest["start"] == (DEFAULT_START + pd.Timedelta(days=DAYS)).isoformat()
    assert manifest["shifts"] == ["retuned_rules"]
    assert set(manifest["shift_details"]) == {"retuned_rules"}
    assert json.loads((runs["p0"] / MANIFEST_FILE).read_text())["shifts"] == []


# ---------------------------------------------------------------- each shift


@pytest.mark.parametrize("shift", list(SHIFTS))
def test_shifted_output_still_meets_the_data_contract(runs, shift):
    data = _data(runs[shift])
    assert set(data.truth["alert_id"]) == set(data.alerts["alert_id"])
    assert set(data.journey_outcomes["stage"]) == {s for _, s in _stage_services(runs[shift])}


def test_traffic_mix_moves_segment_shares_and_volume_and_leaves_alerting_alone(runs):
    before, after = (
        _first_stage_segment_shares(runs["p1"]),
        _first_stage_segment_shares(runs["traffic_mix"]),
    )
    assert after["new"] > before["new"] + 0.15
    assert after["premium"] < 0.5 * before["premium"]
    sessions = {
        run: _data(runs[run]).journey_outcomes["sessions"].sum() for run in ("p1", "traffic_mix")
    }
    assert 1.2 < sessions["traffic_mix"] / sessions["p1"] < 1.6
    for name in ("alerts.parquet", "changes.parquet", "journey_map.yaml"):
        assert _same_file(runs["p1"], runs["traffic_mix"], name), name


def test_new_service_alerts_from_outside_the_map_and_hurts_users(runs):
    alerts = _alerts(runs["new_service"])
    assert (alerts["service"] == NEW_SERVICE).sum() > 5
    for earlier in ("p0", "p1"):
        assert NEW_SERVICE not in set(_alerts(runs[earlier])["service"])
    assert NEW_SERVICE not in _data(runs["new_service"]).journey_map.covered_services()
    assert _same_file(runs["p1"], runs["new_service"], "journey_map.yaml")
    incidents = pd.read_parquet(runs["new_service"] / "truth_incidents.parquet")
    assert incidents.loc[incidents["service"] == NEW_SERVICE, "lost_completions"].sum() > 0
    others = _team_rules(alerts.loc[alerts["service"] != NEW_SERVICE])
    unshifted = _team_rules(_alerts(runs["p1"]))
    common = others.index.intersection(unshifted.index)
    assert (others[common] == unshifted[common]).all()  # the old rules are untouched


def test_retuned_rules_move_the_severities_of_the_same_rules(runs):
    before, after = _team_rules(_alerts(runs["p1"])), _team_rules(_alerts(runs["retuned_rules"]))
    probes = before.index.get_level_values("check") != ""
    before = before[~probes]
    common = before.index.intersection(after.index)
    assert len(common) > 0.8 * len(before)
    level = {name: i for i, name in enumerate(SEVERITY_LEVELS)}
    single = [key for key in common if "/" not in before[key] + after[key]]
    steps = pd.Series([level[after[k]] - level[before[k]] for k in single])
    assert (steps != 0).mean() > 0.3 and steps.mean() > 0.15
    alerts_before, alerts_after = _alerts(runs["p1"]), _alerts(runs["retuned_rules"])
    assert _owners(alerts_after).equals(_owners(alerts_before))  # same sources and teams
    assert len(alerts_after) > 1.2 * len(alerts_before)  # some flapping rules got much noisier
    for name in ("journey_outcomes.parquet", "changes.parquet", "truth_incidents.parquet"):
        assert _same_file(runs["p1"], runs["retuned_rules"], name), name


def test_map_change_edits_the_map_and_the_funnel_it_describes(runs):
    before, after = _data(runs["p1"]), _data(runs["map_change"])
    assert after.journey_map.version != before.journey_map.version
    stages_before, stages_after = _stage_services(runs["p1"]), _stage_services(runs["map_change"])
    assert set(stages_before) - set(stages_after) == REMOVED_STAGES
    changed = [k for k in stages_after if stages_after[k] != stages_before[k]]
    assert len(changed) >= 2  # a service moved between stages, another from hard to soft
    assert not {stage for _, stage in REMOVED_STAGES} & set(after.journey_outcomes["stage"])
    assert _same_file(runs["p1"], runs["map_change"], "journey_map.yaml") is False
    assert _same_file(runs["p1"], runs["map_change"], "changes.parquet")


def test_degraded_detector_scores_incidents_like_noise_and_fires_more(runs):
    def anomaly_scores(run: str) -> tuple[float, float, int]:
        alerts = _alerts(runs[run])
        detector = alerts.loc[alerts["source"] == "aiops"]
        real = detector["incident_id"].notna()
        scores = detector["anomaly_score"]
        return scores[real].mean(), scores[~real].mean(), len(detector)

    real_before, noise_before, n_before = anomaly_scores("p1")
    real_after, noise_after, n_after = anomaly_scores("degraded_detector")
    assert real_before - noise_before > 0.2
    assert abs(real_after - noise_after) < 0.1
    assert n_after > 2 * n_before
    after, before = (
        _team_rules(_alerts(runs["degraded_detector"])),
        _team_rules(_alerts(runs["p1"])),
    )
    common = after.index.intersection(before.index)
    assert (after[common] == before[common]).all()  # the teams' rules are untouched
    for name in ("journey_outcomes.parquet", "changes.parquet", "truth_incidents.parquet"):
        assert _same_file(runs["p1"], runs["degraded_detector"], name), name


def test_all_shifts_at_once_apply_in_one_order_and_meet_the_contract(tmp_path):
    shifts = tuple(reversed(SHIFTS))
    simulate(SimulationConfig(out=tmp_path, days=2, seed=SEED, period=2, shifts=shifts))
    assert json.loads((tmp_path / MANIFEST_FILE).read_text())["shifts"] == list(SHIFTS)
    data = load_data_dir(tmp_path)
    assert NEW_SERVICE in set(data.alerts["service"])


# ---------------------------------------------------------------- settings and the command line


def test_the_config_resolves_the_start_and_refuses_bad_settings(tmp_path):
    assert SimulationConfig(out=tmp_path).start == DEFAULT_START
    later = SimulationConfig(out=tmp_path, days=7, period=2)
    assert later.start == DEFAULT_START + pd.Timedelta(days=14)
    chosen = datetime(2027, 1, 4, tzinfo=UTC)
    assert SimulationConfig(out=tmp_path, period=3, start=chosen).start == chosen
    with pytest.raises(ValueError, match="unknown shift 'nope'"):
        SimulationConfig(out=tmp_path, shifts=("nope",))
    with pytest.raises(ValueError, match="time zone"):
        SimulationConfig(out=tmp_path, start=datetime(2027, 1, 4))
    with pytest.raises(ValueError, match="midnight"):
        SimulationConfig(out=tmp_path, start=datetime(2027, 1, 4, 6, tzinfo=UTC))
    with pytest.raises(ValueError, match="period"):
        SimulationConfig(out=tmp_path, period=-1)


def test_the_cli_simulates_a_shifted_later_period(tmp_path, capsys):
    out = tmp_path / "d"
    argv = ["simulate", "--out", str(out), "--days", "1", "--seed", "3", "--period", "1"]
    argv += ["--start", "2026-11-02", "--shift", "map_change", "--shift", "traffic_mix"]
    assert main(argv) == 0
    manifest = json.loads((out / MANIFEST_FILE).read_text())
    assert manifest["start"] == "2026-11-02T00:00:00+00:00"
    assert manifest["shifts"] == ["traffic_mix", "map_change"]
    assert "shifts: traffic_mix, map_change" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [("--shift", "nope", "degraded_detector"), ("--start", "2026-13-01", "YYYY-MM-DD")],
)
def test_the_cli_refuses_unknown_shifts_and_bad_dates(tmp_path, capsys, option, value, message):
    argv = ["simulate", "--out", str(tmp_path / "d"), "--days", "1", option, value]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "d").exists()
