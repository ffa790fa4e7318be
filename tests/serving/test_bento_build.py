"""`bentoml build` makes a bento of the project's serving code and the imported ranker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.serve import bentoml_env

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def test_bentoml_build_packs_the_code_the_dashboard_and_the_model(served):
    settings, _ = served
    env = {**os.environ, **bentoml_env(settings)}
    bentoml = [sys.executable, "-m", "bentoml"]
    built = subprocess.run(
        [*bentoml, "build", "--output", "tag"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    tag = built.stdout.strip().splitlines()[-1].removeprefix("__tag__:")
    described = subprocess.run(
        [*bentoml, "get", tag, "-o", "json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert described.returncode == 0, described.stderr[-2000:]
    info = json.loads(described.stdout)
    (service,) = info["services"]
    assert [m["tag"].split(":")[0] for m in service["models"]] == ["journeyrank"]
    assert "lightgbm>=4.3" in info["image"]["python_requirements"]
    bento_dir = Path(env["BENTOML_HOME"]) / "bentos" / Path(*tag.split(":"))
    src = bento_dir / "src"
    for part in (
        "serving/service.py",
        "serving/dashboard/templates/queue.html",
        "serving/dashboard/static/app.css",
        "models/ranking.py",
        "features/build.py",
    ):
        assert (src / part).exists(), part
    assert not (src / "tests").exists()
