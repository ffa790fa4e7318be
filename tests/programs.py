"""Programs the integration tests start themselves (Chromium, Alertmanager, Redis, Java for Spark)."""

from __future__ import annotations

import os

import pytest

INSTALL_SCRIPT = "scripts/install-test-programs.sh"
INSTALL_COMMAND = f"sudo {INSTALL_SCRIPT}"
NOT_INSTALLED = "is not installed"  # how the summary (tests/conftest.py) tells these skips apart


def require(found: object, what: str) -> None:
    """A program a test needs is missing: skip on a workstation, fail in CI (`.ci/run` installs it
    and sets CI, so a broken install can never pass as skipped tests)."""
    if not found:
        message = f"{what} {NOT_INSTALLED} ({INSTALL_SCRIPT} installs it with apt-get)"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)


def missing_program_summary(skip_messages: list[str]) -> str | None:
    """One line for the end of the run: how many tests skipped for want of which programs, and the fix."""
    missing = [m for m in skip_messages if NOT_INSTALLED in m]
    if not missing:
        return None
    programs = sorted({m.split(f" {NOT_INSTALLED}")[0].removeprefix("Skipped: ") for m in missing})
    return (
        f"{len(missing)} test{'' if len(missing) == 1 else 's'} skipped because {', '.join(programs)} "
        f"{'is' if len(programs) == 1 else 'are'} not installed; "
        f"install them with: {INSTALL_COMMAND}"
    )
