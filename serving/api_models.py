"""Typed request and answer bodies: every field described, so the OpenAPI page documents each route."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    FiniteFloat,
    model_validator,
)

from features.values import Severity, Signal
from models.tiers import Tier

# counts are stored as SQLite INTEGER and pandas int64: a larger one would fail the write (a 500)
INT64_MAX = 2**63 - 1
Count = Annotated[int, Field(ge=0, le=INT64_MAX)]
Text = Annotated[str, Field(min_length=1, max_length=512)]
# pandas holds times as int64 nanoseconds: a year outside 1678..2261 cannot be stored
EARLIEST, LATEST = datetime(1678, 1, 1, tzinfo=UTC), datetime(2262, 1, 1, tzinfo=UTC)


def _storable(when: datetime) -> datetime:
    if not EARLIEST <= when < LATEST:
        raise ValueError("time stamp outside the years 1678-2261")
    return when


Instant = Annotated[AwareDatetime, AfterValidator(_storable)]


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class AlertIn(_In):
    """One alert firing, in the contract's alerts schema (adapters map native payloads to it)."""

    alert_id: Text = Field(description="Unique id; a re-sent id replaces the earlier copy.")
    fired_at: Instant = Field(description="When it fired, with a time zone (ISO 8601).")
    resolved_at: Instant | None = Field(None, description="When it resolved; null while firing.")
    source: Text = Field(
        description="The tool that sent it: prometheus, grafana, datadog, pagerduty, aiops, …"
    )
    service: Text = Field(description="The emitting service, matched against the journey map.")
    alert_name: Text = Field(description="The rule or check name.")
    severity: Severity = Field(description="critical, high, warning or info.")
    signal: Signal | None = Field(
        None, description="latency, errors, saturation, availability, anomaly or other."
    )
    anomaly_score: Annotated[FiniteFloat, Field(ge=0, le=1)] | None = Field(
        None, description="An AIOps detector's confidence in [0, 1]."
    )
    region: str | None = Field(None, description="Region, when the alert has one.")
    labels: dict[str, Any] | None = Field(None, description="Everything else, as a JSON object.")


class RankedAlert(BaseModel):
    """The answer for one alert; the list comes highest incident priority first."""

    alert_id: str
    impact_probability: float | None = Field(
        description="Calibrated probability that users are hurt at a journey stage; null in a "
        "fallback answer (the model could not answer)."
    )
    priority: float = Field(
        description="The ordering score: probability × users at risk × stage impact."
    )
    incident_priority: float = Field(
        description="Its incident's priority when it joined: the highest priority of the "
        "incident's alerts so far, its own included. The list is ordered by it, then by priority."
    )
    tier: Tier = Field(
        description="P1 incident room, P2 page, P3 ticket, P4 digest (thresholds from the page budget)."
    )
    route: str = Field(description="incident_room, page, ticket or digest.")
    journey: str | None = Field(
        description="The journey of the stage at risk; null when the service is unmapped."
    )
    stage: str | None = Field(description="The stage at risk.")
    segment_at_risk: str | None = Field(
        description="The most valuable segment at that stage at this hour."
    )
    reasons: list[str] = Field(description="The top contributions to the score, in words.")
    playbook: str | None = Field(
        description="The stage's playbook for this signal, from the journey map."
    )
    escalation: str | None = Field(
        description="Where this tier goes, from the journey map's escalation."
    )
    model_version: str
    journey_map_version: str
    flags: list[str] = Field(
        description="unmapped_service, no_live_journey_data, new_rule, policy_floor, fallback, "
        "shadow, …"
    )
    incident_id: str = Field(
        description="The incident it joined when it fired (`inc-` and the id of the alert that "
        "opened it); forwarding pages once per incident, under this key."
    )


class ModelInfo(BaseModel):
    name: str
    version: str = Field(description="Registered model version.")
    uri: str = Field(description="The MLflow URI it was imported from.")
    journey_map_version: str
    page_share: float = Field(description="Share of alerts the tier thresholds page (P1 + P2).")


class RankResponse(BaseModel):
    ranked: list[RankedAlert]
    model: ModelInfo


class OutcomeRow(_In):
    """One row of journey_outcomes: a window × journey × stage × segment (× region)."""

    window_start: Instant = Field(description="Start of the window, with a time zone.")
    journey: Text
    stage: Text
    segment: Text
    region: str | None = None
    sessions: Count = Field(description="Sessions that reached the stage in the window.")
    completed: Count = Field(description="Of those, how many went on.")
    abandoned: Count = Field(description="Of those, how many left the journey here.")
    errors: Count | None = Field(None, description="User-visible errors at this stage.")
    latency_p95_ms: Annotated[FiniteFloat, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _adds_up(self) -> OutcomeRow:
        if self.completed + self.abandoned > self.sessions:
            raise ValueError("completed + abandoned must not exceed sessions")
        return self


class ChangeIn(_In):
    change_id: Text
    ts: Instant
    service: Text
    kind: Text = Field(description="deploy, config, feature_flag, experiment, …")
    description: str | None = None


class FeedbackIn(_In):
    alert_id: Text
    impact: Literal[0, 1] = Field(
        description="1: the alert had user impact; 0: it did not. Overrides the derived label."
    )
    ts: Instant
    author: str | None = None
    note: str | None = None


class Stored(BaseModel):
    stored: int = Field(description="Rows stored.")


class IncidentSummary(BaseModel):
    """An open incident as `GET /incidents` lists it, highest priority first."""

    incident_id: str
    started_at: datetime = Field(description="When its first alert fired.")
    last_alert_at: datetime = Field(description="When its latest alert fired.")
    alerts: int = Field(description="Alerts in it so far.")
    services: list[str] = Field(description="The services its alerts came from.")
    stages: list[str] = Field(description="The journey stages at risk (`journey/stage`).")
    root_service: str = Field(description="The root-cause candidate.")
    root_reason: str = Field(description="Why that service is the candidate.")
    impact_probability: float | None = Field(
        description="The highest impact probability of its alerts; null when none was ranked."
    )
    priority: float = Field(description="The highest priority of its alerts.")
    tier: Tier = Field(description="The highest tier of its alerts (P1 highest).")
    paged: Tier | None = Field(
        description="The tier it was paged at through forwarding; null when it was not paged."
    )
    resolved_at: datetime | None = Field(description="When its alerts had all resolved.")


class IncidentAlert(BaseModel):
    alert_id: str
    fired_at: datetime
    resolved_at: datetime | None
    service: str
    alert_name: str
    severity: str
    journey: str | None
    stage: str | None
    impact_probability: float | None
    priority: float | None = Field(description="Its ranked priority; null if it was never ranked.")
    tier: Tier | None


class ChangeOut(BaseModel):
    change_id: str
    ts: datetime
    service: str
    kind: str
    description: str | None


class IncidentDetail(IncidentSummary):
    """One incident in depth: its alerts in the order they fired and the changes around its start."""

    alert_list: list[IncidentAlert] = Field(description="Its alerts, earliest first.")
    changes: list[ChangeOut] = Field(
        description="Changes to its services (or their dependencies) around its start."
    )


class IncidentList(BaseModel):
    incidents: list[IncidentSummary]
