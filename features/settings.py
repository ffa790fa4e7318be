"""Settings every layer reads: paths, URIs and environment overrides, resolved when a command runs."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL_URI = "models:/journeyrank@champion"
FUTURE_TOLERANCE_MIN = 10.0  # rows dated further ahead of the clock than this are refused
DASHBOARD_SESSION_HOURS = 12.0  # a dashboard sign-in lasts this long
REGISTERED_MODEL_NAME = "journeyrank"
ENV_PREFIX = "JOURNEYRANK_"


def env_name(field: str) -> str:
    """The environment variable that sets a field of Settings (`warm_from` → JOURNEYRANK_WARM_FROM)."""
    return f"{ENV_PREFIX}{field.upper()}"


class ForwardSettings(BaseSettings):
    """JOURNEYRANK_FORWARD_*: where ranked alerts go next, and which of them."""

    model_config = SettingsConfigDict(
        env_prefix=f"{ENV_PREFIX}FORWARD_", extra="ignore", env_ignore_empty=True
    )

    url: str | None = Field(None, description="Webhook that receives ranked batches; off if unset.")
    tiers: str = Field("P1,P2", description="Comma-separated tiers forwarded (e.g. only pages).")
    token: str | None = Field(None, description="Sent as `Authorization: Bearer <token>`.")
    timeout_s: float = Field(10.0, gt=0)
    backoff_s: float = Field(1.0, gt=0, description="First retry delay; doubles per attempt.")
    backoff_max_s: float = Field(60.0, gt=0, description="Longest delay between attempts.")

    @property
    def tier_set(self) -> frozenset[str]:
        return frozenset(t.strip().upper() for t in self.tiers.split(",") if t.strip())


class Settings(BaseSettings):
    """Where JourneyRank keeps its state and which model it serves (README.md, "Configuration").

    An empty variable counts as unset (JOURNEYRANK_API_TOKEN= leaves the service open).
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", env_ignore_empty=True)

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
    adapters: Path | None = Field(
        None, description="Native payload mapping (YAML); the built-in defaults when unset."
    )
    warm_from: Path | None = Field(
        None, description="A data directory the service fills its live state from at start."
    )
    warm_until: str | None = Field(
        None, description="With warm_from: warm only from history before this time."
    )
    debug: bool = Field(False, description="Print the traceback when a command fails.")
    forward: ForwardSettings = Field(
        default_factory=ForwardSettings, description="Forwarding ranked alerts on."
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


def settings_at(home: Path) -> Settings:
    """Settings rooted in one folder, MLflow included, whatever the environment says (tests, demos)."""
    home = Path(home).resolve()
    return Settings(home=home, mlflow_tracking_uri=f"sqlite:///{home / 'mlflow.db'}")


def load_settings(**overrides: object) -> Settings:
    """Resolve settings now: defaults, then environment variables, then explicit overrides."""
    return Settings(**overrides)
