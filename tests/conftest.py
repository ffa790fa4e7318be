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


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish(session):
    """End a run that skipped tests for want of a program with one line: how many, why, the fix.

    A wrapper, so the line comes after pytest's own "N passed, M skipped" line: the last one read.
    """
    result = yield
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        from programs import missing_program_summary

        reports = reporter.stats.get("skipped", [])
        line = missing_program_summary([_skip_message(r) for r in reports])
        if line:
            reporter.write_line(line, yellow=True, bold=True)
    return result


def _skip_message(report) -> str:
    longrepr = report.longrepr
    return longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
