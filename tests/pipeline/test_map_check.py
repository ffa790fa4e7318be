"""`journeyrank map-check`: its files, exit codes, a map that is never touched, and what it finds
in every simulated world against the errors planted there (map_truth.json)."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import mlflow
import pytest
import yaml

from features.loading import load_data_dir
from features.map_evidence import MapCheckConfig
from features.settings import settings_at
from pipeline.cli import main
from pipeline.map_check import EXPERIMENT, JSON_FILE, compute_map_check
from pipeline.simulate import SimulationConfig, simulate
from pipeline.simulate.worlds import WORLDS

# Long enough for a few of each planted service's incidents to hurt users (a world's incidents
# are rare: ~0.3 a day per service, most of them too small to cost completions).
WORLD_DAYS = 60
# 60 days from the simulator's default start would run past today's date, and loaders refuse
# rows dated in the future (issue 17): the same Monday-midnight start, 18 weeks earlier
WORLD_START = datetime(2026, 6, 1, tzinfo=UTC)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_map_check_writes_json_patch_and_page_and_never_touches_the_map(
    sample_dir, tmp_path, jr_home, capsys
):
    data = tmp_path / "data"
    shutil.copytree(sample_dir, data)
    before = digest(data / "journey_map.yaml")
    out = tmp_path / "out"
    assert main(["map-check", "--data", str(data), "--out", str(out)]) == 0
    assert digest(data / "journey_map.yaml") == before
    assert sorted(p.name for p in out.iterdir()) == [
        "map_check.html",
        "map_check.json",
        "map_patch.yaml",
    ]
    found = json.loads((out / JSON_FILE).read_text())
    for key in ("unmapped_services", "renamed_services", "doubtful_links", "sparse_stages"):
        assert key in found
    services = [u["service"] for u in found["unmapped_services"]]
    assert services, "the sample's map leaves services out"
    covered = load_data_dir(data).journey_map.covered_services()
    assert not set(services) & covered
    for entry in found["unmapped_services"]:
        assert {"service", "stages", "alerts", "lift", "evidence"} <= set(entry)
    evidence = [u["evidence"] or 0.0 for u in found["unmapped_services"]]
    suggested = [u["suggested"] for u in found["unmapped_services"]]
    assert suggested == sorted(suggested, reverse=True)  # suggestions first, then by evidence
    assert evidence[suggested.count(True) :] == sorted(
        evidence[suggested.count(True) :], reverse=True
    )
    patch = yaml.safe_load((out / "map_patch.yaml").read_text())
    assert patch["journey_map_version"] == str(load_data_dir(data).journey_map.version)
    assert "Nothing was applied" in (out / "map_patch.yaml").read_text()
    page = (out / "map_check.html").read_text()
    assert page.count("data:image/png;base64,") >= 3 and "<script" not in page
    printed = capsys.readouterr().out
    assert "MLflow run" in printed
    mlflow.set_tracking_uri(settings_at(jr_home).tracking_uri)
    runs = mlflow.search_runs(experiment_names=[EXPERIMENT])
    assert len(runs) == 1 and runs["metrics.unmapped_services"].iloc[0] == len(services)


def test_a_bad_map_is_bad_input_and_nothing_is_written(sample_dir, tmp_path, jr_home, capsys):
    data = tmp_path / "data"
    shutil.copytree(sample_dir, data)
    (data / "journey_map.yaml").write_text("version: 1\njourneys: {a: {stages: [\n")
    out = tmp_path / "out"
    assert main(["map-check", "--data", str(data), "--out", str(out)]) == 2
    assert "journey_map.yaml" in capsys.readouterr().err
    assert not out.exists()


def test_a_missing_data_directory_and_a_missing_option_exit_2(tmp_path, jr_home, capsys):
    assert main(["map-check", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path)]) == 2
    assert "nowhere" in capsys.readouterr().err
    assert main(["map-check", "--data", str(tmp_path)]) == 2
    assert "--out" in capsys.readouterr().err


@pytest.fixture(scope="module", params=sorted(WORLDS))
def world(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"world-{request.param}")
    simulate(SimulationConfig(out=out, days=WORLD_DAYS, world=request.param, start=WORLD_START))
    data = load_data_dir(out)
    truth = json.loads((out / "map_truth.json").read_text())
    return data, truth, compute_map_check(data, MapCheckConfig())


@pytest.mark.integration
def test_the_planted_missing_service_is_the_first_suggestion_with_a_true_stage(world):
    _, truth, check = world
    suggested = check.found.unmapped[check.found.unmapped["suggested"]]
    planted = {m["service"]: m["stages"] for m in truth["missing_services"]}
    assert len(suggested), "no suggestion at all"
    first = suggested.iloc[0]
    assert first["service"] in planted
    true_stages = {(s["journey"], s["stage"]) for s in planted[first["service"]]}
    assert (first["stages"][0]["journey"], first["stages"][0]["stage"]) in true_stages


@pytest.mark.integration
def test_the_planted_false_dependency_is_doubted(world):
    _, truth, check = world
    doubtful = check.found.doubtful
    edges = set(zip(doubtful["service"], doubtful["target"], strict=True))
    for planted in truth["false_dependencies"]:
        assert (planted["service"], planted["callee"]) in edges


@pytest.mark.integration
def test_at_most_one_false_suggestion_per_ten_services(world):
    data, truth, check = world
    found = check.found
    planted = {m["service"] for m in truth["missing_services"]}
    planted |= {m["new"] for m in truth["migrations"]}
    suggested = set(found.unmapped.loc[found.unmapped["suggested"], "service"])
    suggested |= set(found.renamed["service"])
    services = data.alerts["service"].nunique()
    assert len(suggested - planted) <= services / 10
