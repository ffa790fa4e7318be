"""Programs the integration tests start themselves (Chromium, Alertmanager, Redis, Java for Spark)."""

from __future__ import annotations

import os

import pytest


def require(found: object, what: str) -> None:
    """A program a test needs is missing: skip on a workstation, fail in CI (`.ci/run` installs it
    and sets CI, so a broken install can never pass as skipped tests)."""
    if not found:
        message = f"{what} is not installed (.ci/run installs it with apt-get)"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
