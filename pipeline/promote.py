"""`journeyrank promote`: move @champion by hand, with the reason on record."""

from __future__ import annotations

import getpass
from dataclasses import dataclass

import mlflow

from features.settings import Settings
from models.registry import CHAMPION, set_alias, use_tracking, version_of

PROMOTIONS_EXPERIMENT = "journeyrank-promotions"


@dataclass(frozen=True)
class PromoteResult:
    version: str
    previous: str | None
    reason: str


def promote(
    version: str, reason: str, settings: Settings, name: str = "journeyrank"
) -> PromoteResult:
    """Point @champion at VERSION; the reason is tagged on the version and logged as a run."""
    client = use_tracking(settings.tracking_uri, PROMOTIONS_EXPERIMENT)
    client.get_model_version(name, version)  # fails clearly when the version does not exist
    previous = version_of(client, name, CHAMPION)
    previous_version = str(previous.version) if previous is not None else None
    set_alias(client, name, CHAMPION, version, f"promoted by hand: {reason}")
    with mlflow.start_run(run_name=f"promote v{version}"):
        mlflow.log_params(
            {
                "version": version,
                "previous_champion": previous_version,
                "reason": reason,
                "by": getpass.getuser(),
            }
        )
    return PromoteResult(version, previous_version, reason)
