"""The last line of a run that skipped tests for want of a program names them and the fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from programs import INSTALL_COMMAND, missing_program_summary, require

REPO = Path(__file__).resolve().parent.parent  # not from conftest: several folders have one


def test_the_summary_counts_the_skips_names_the_programs_and_the_command():
    messages = [
        "Skipped: Debian's redis-server is not installed (scripts/... installs it with apt-get)",
        "Skipped: Debian's redis-server is not installed (scripts/... installs it with apt-get)",
        "Skipped: prometheus-alertmanager is not installed (scripts/... installs it)",
        "Skipped: needs a GPU",
    ]
    line = missing_program_summary(messages)
    assert line == (
        "3 tests skipped because Debian's redis-server, prometheus-alertmanager are not "
        f"installed; install them with: {INSTALL_COMMAND}"
    )
    assert missing_program_summary(["Skipped: needs a GPU"]) is None


def test_require_skips_off_ci_and_fails_in_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="is not installed"):
        require(None, "frobnicator")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="frobnicator is not installed"):
        require(None, "frobnicator")


@pytest.mark.integration
def test_a_run_without_redis_ends_with_the_line(tmp_path):
    """A real pytest run on a PATH without redis-server: the Redis tests skip, the last line says so."""
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PATH"] = os.path.dirname(sys.executable)  # the venv's python, no system programs
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/serving/test_redis_state.py"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    last = run.stdout.strip().splitlines()[-1]
    assert "skipped because Debian's redis-server is not installed" in last, run.stdout[-2000:]
    assert last.endswith(f"install them with: {INSTALL_COMMAND}")
