"""Fixtures every test tier shares: where the committed sample lives, and a private JourneyRank home."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE_DIR = REPO / "data" / "sample"


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE_DIR


@pytest.fixture
def jr_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh JOURNEYRANK_HOME (and MLflow store inside it) so no test touches ./.journeyrank."""
    home = tmp_path / "home"
    monkeypatch.setenv("JOURNEYRANK_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return home
