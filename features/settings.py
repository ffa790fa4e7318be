"""Settings every layer reads: paths, URIs and environment overrides, resolved when a command runs."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL_URI = "models:/journeyrank@champion"
REGISTERED_MODEL_NAME = "journeyrank"


class Settings(BaseSettings):
    """Where JourneyRank keeps its state and which model it serves (DESIGN.md, "Configuration")."""

    model_config = SettingsConfigDict(env_prefix="JOURNEYRANK_", extra="ignore")

    home: Path = Field(
        Path(".journeyrank"), description="Working folder for the registry, state and logs."
    )
    model: str = Field(DEFAULT_MODEL_URI, description="Model URI the service ranks with.")
    state_url: str | None = Field(
        None, description="Online state store; SQLite in home when unset."
    )
    api_token: str | None = Field(None, description="Bearer token every POST must carry, when set.")
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
