"""Settings every layer reads: paths, URIs and environment overrides, resolved when a command runs."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL_URI = "models:/journeyrank@champion"
FUTURE_TOLERANCE_MIN = 10.0  # rows dated further ahead of the clock than this are refused
DASHBOARD_SESSION_HOURS = 12.0  # a dashboard sign-in lasts this long
REGISTERED_MODEL_NAME = "journeyrank"


class Settings(BaseSettings):
    """Where JourneyRank keeps its state and which model it serves (README.md, "Configuration")."""

    model_config = SettingsConfigDict(env_prefix="JOURNEYRANK_", extra="ignore")

    home: Path = Field(
        Path(".journeyrank"), description="Working folder for the registry, state and logs."
    )
    model: str = Field(DEFAULT_MODEL_URI, description="Model URI the service ranks with.")
    state_url: str | None = Field(
        None, description="Online state store; SQLite in home when unset."
    )
    api_token: str | None = Field(None, description="Bearer token every POST must carry, when set.")
    policy: Path | None = Field(
        None, description="Policy file (YAML): floors and shadow mode, above the model."
    )
    shadow: bool = Field(
        False, description="Shadow mode: rank and log, answer with the original routing."
    )
    future_tolerance_min: float = Field(
        FUTURE_TOLERANCE_MIN,
        ge=0,
        description="Minutes a row may be dated ahead of the clock (skew); later ones are refused.",
    )
    dashboard_session_hours: float = Field(
        DASHBOARD_SESSION_HOURS, gt=0, description="How long a dashboard sign-in lasts."
    )
    mlflow_tracking_uri: str | None = Field(
        None,
        validation_alias="MLFLOW_TRACKING_URI",
        description="MLflow tracking and registry URI.",
    )

    @property
    def tracking_uri(self) -> str:
        """The MLflow URI: the environment's, else SQLite in home (four slashes: absolute path)."""
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{self.home.resolve() / 'mlflow.db'}"

    @property
    def state_path(self) -> Path:
        return self.home.resolve() / "state.sqlite"


def settings_at(home: Path) -> Settings:
    """Settings rooted in one folder, MLflow included, whatever the environment says (tests, demos)."""
    home = Path(home).resolve()
    return Settings(home=home, mlflow_tracking_uri=f"sqlite:///{home / 'mlflow.db'}")


def load_settings(**overrides: object) -> Settings:
    """Resolve settings now: defaults, then environment variables, then explicit overrides."""
    return Settings(**overrides)
