"""Native payloads routers really send (Alertmanager, Grafana, PagerDuty) mapped to the alerts contract.

Each adapter returns the firings to rank and the closures to record: resolved and acknowledged
events close an alert in the state store; they are not new firings. A re-sent firing gets the
same alert_id (from the fingerprint or dedup_key), so it replaces its earlier copy.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from features.settings import env_name
from features.values import SIGNALS
from serving.api_models import LATEST, AlertIn, Instant, RankResponse, Severity

CONFIG_ENV = env_name("adapters")
TEXT_MAX = 512  # the contract's longest text field (AlertIn)

DEFAULT_SEVERITIES: dict[str, Severity] = {
    **dict.fromkeys(("critical", "crit", "page", "p1", "sev1", "emergency", "fatal"), "critical"),
    **dict.fromkeys(("high", "p2", "sev2", "error", "major", "alert"), "high"),
    **dict.fromkeys(("warning", "warn", "p3", "sev3", "minor", "medium"), "warning"),
    **dict.fromkeys(("info", "p4", "p5", "sev4", "sev5", "low", "none", "ok", "debug"), "info"),
}
DEFAULT_SIGNAL_WORDS = {
    "latency": ("latency", "slow", "duration", "p95", "p99", "timeout"),
    "errors": ("error", "5xx", "fail", "exception"),
    "saturation": ("cpu", "memory", "disk", "saturat", "pressure", "queue", "throttl"),
    "availability": ("down", "unavailable", "unreachable", "availability", "health", "crashloop"),
    "anomaly": ("anomal",),
}


class AdapterConfig(BaseModel):
    """How native labels map to the contract (YAML at JOURNEYRANK_ADAPTERS overrides these defaults)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service_labels: tuple[str, ...] = Field(
        ("service", "service_name", "app", "app_kubernetes_io_name", "job", "component"),
        description="Label names that name the service; the first one present wins.",
    )
    severity_labels: tuple[str, ...] = ("severity", "priority", "level")
    region_labels: tuple[str, ...] = ("region", "cluster", "zone", "datacenter")
    signal_labels: tuple[str, ...] = ("signal", "category")
    severity_map: dict[str, Severity] = Field(
        default_factory=lambda: dict(DEFAULT_SEVERITIES),
        description="Native severities to the contract's four; extends the defaults (any case).",
    )
    signal_words: dict[str, tuple[str, ...]] = Field(
        default_factory=lambda: dict(DEFAULT_SIGNAL_WORDS),
        description="Without a signal label, words in the alert name that name its signal.",
    )
    default_severity: Severity = "warning"
    unknown_service: str = "unknown"
    pagerduty_service_fields: tuple[str, ...] = ("component", "source", "group")

    @field_validator("severity_map", mode="before")
    @classmethod
    def _extends_defaults(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {**DEFAULT_SEVERITIES, **{str(k).strip().lower(): v for k, v in value.items()}}

    def severity(self, raw: object) -> Severity:
        key = str(raw).strip().lower() if raw is not None else ""
        return self.severity_map.get(key, self.default_severity)

    def signal(self, declared: object, alert_name: str) -> str | None:
        if declared in SIGNALS:
            return str(declared)
        name = alert_name.lower()
        return next(
            (s for s, words in self.signal_words.items() if any(w in name for w in words)), None
        )

    @classmethod
    def load(cls, path: str | Path | None) -> AdapterConfig:
        """The defaults, or the YAML at `path`; a bad file fails with its name and the key."""
        if not path:
            return cls()
        try:
            return cls.model_validate(yaml.safe_load(Path(path).read_text()) or {})
        except ValidationError as err:
            raise ValueError(f"{path} ({CONFIG_ENV}): {problems(err)}") from err
        except (OSError, yaml.YAMLError) as err:
            raise ValueError(f"{path} ({CONFIG_ENV}): {err}") from err


@dataclass
class Translated:
    firing: list[AlertIn] = field(default_factory=list)
    closed: list[tuple[str, datetime]] = field(default_factory=list)  # (alert_id, when)


class NativeRankResponse(RankResponse):
    closed: int = Field(
        0, description="Resolved or acknowledged alerts closed in the state store (not ranked)."
    )


# ---------------------------------------------------------------- Alertmanager and Grafana


class _Loose(BaseModel):  # field names are the payloads' own (camelCase)
    """Senders add fields over time: unknown ones are kept, never refused."""

    model_config = ConfigDict(extra="allow")


class PromAlert(_Loose):
    status: Literal["firing", "resolved"] = Field(
        "firing", description="firing, or resolved (closes it)."
    )
    labels: dict[str, str] = Field(default_factory=dict, description="Identify the alert.")
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: Instant = Field(description="When it started firing.")
    endsAt: AwareDatetime | None = Field(
        None, description="When it resolved (0001-01-01 while firing)."
    )
    generatorURL: str | None = None
    fingerprint: str | None = Field(None, description="Stable id of the label set.")
    values: dict[str, Any] | None = Field(None, description="Grafana: the query values.")
    silenceURL: str | None = None
    dashboardURL: str | None = None
    panelURL: str | None = None
    imageURL: str | None = None


class AlertmanagerWebhook(_Loose):
    """Alertmanager's webhook, version 4: one notification for a group of alerts."""

    version: str = "4"
    groupKey: str | None = None
    truncatedAlerts: int = 0
    status: Literal["firing", "resolved"] | None = None
    receiver: str | None = None
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str | None = None
    alerts: list[PromAlert] = Field(description="The group's alerts, firing and resolved.")


class GrafanaWebhook(AlertmanagerWebhook):
    """Grafana alerting's webhook: Alertmanager's fields plus orgId, title, state and message."""

    orgId: int | None = None
    title: str | None = None
    state: str | None = None
    message: str | None = None


def from_alertmanager(
    webhook: AlertmanagerWebhook, config: AdapterConfig, source: str = "prometheus"
) -> Translated:
    out = Translated()
    for alert in webhook.alerts:
        labels = {**webhook.commonLabels, **alert.labels}
        # one firing episode of one label set: a re-send keeps both, a new episode starts later
        started = alert.startsAt.astimezone(UTC)
        alert_id = _text(f"{source}:{_fingerprint(alert, labels)}:{started:%Y%m%dT%H%M%SZ}")
        if alert.status == "resolved":
            out.closed.append((alert_id, _closed_at(alert.endsAt, alert.startsAt)))
            continue
        name = labels.get("alertname") or labels.get("rulename") or _title(webhook) or "unnamed"
        extra = {k: getattr(alert, k) for k in ("generatorURL", "dashboardURL", "panelURL")}
        out.firing.append(
            AlertIn(
                alert_id=alert_id,
                fired_at=alert.startsAt,
                source=source,
                service=_text(_first(labels, config.service_labels) or config.unknown_service),
                alert_name=_text(name),
                severity=config.severity(_first(labels, config.severity_labels)),
                signal=config.signal(_first(labels, config.signal_labels), name),
                anomaly_score=_score(
                    labels.get("anomaly_score") or alert.annotations.get("anomaly_score")
                ),
                region=_first(labels, config.region_labels),
                labels={
                    **labels,
                    # Alertmanager's group: evidence that its alerts share an incident
                    **({"groupKey": webhook.groupKey} if webhook.groupKey else {}),
                    "annotations": {**webhook.commonAnnotations, **alert.annotations},
                    **{k: v for k, v in extra.items() if v},
                    **({"values": alert.values} if alert.values else {}),
                },
            )
        )
    return out


def from_grafana(webhook: GrafanaWebhook, config: AdapterConfig) -> Translated:
    return from_alertmanager(webhook, config, source="grafana")


def _fingerprint(alert: PromAlert, labels: dict[str, str]) -> str:
    if alert.fingerprint and alert.fingerprint.strip():
        return alert.fingerprint.strip()
    # Alertmanager and Grafana always send one; otherwise the label set identifies the series
    return _digest(json.dumps(labels, sort_keys=True))


def _title(webhook: AlertmanagerWebhook) -> str | None:
    return getattr(webhook, "title", None)


# ---------------------------------------------------------------- PagerDuty Events API v2


class PagerDutyPayload(_Loose):
    summary: str = Field(min_length=1, max_length=1024, description="What is wrong, in a line.")
    source: str = Field(min_length=1, description="The affected system (host, service).")
    severity: Literal["critical", "error", "warning", "info"]
    timestamp: Instant | None = Field(None, description="When it was detected.")
    component: str | None = None
    group: str | None = None
    class_: str | None = Field(None, alias="class", description="The kind of event.")
    custom_details: dict[str, Any] | str | None = None


class PagerDutyEvent(_Loose):
    """One PagerDuty Events API v2 event: trigger (ranked), acknowledge or resolve (closed)."""

    routing_key: str | None = None
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str | None = Field(None, description="Identifies the alert across its events.")
    payload: PagerDutyPayload | None = Field(None, description="Required for trigger.")
    images: list[dict[str, Any]] = Field(default_factory=list)
    links: list[dict[str, Any]] = Field(default_factory=list)


def _as_list(value: object) -> object:
    return [value] if isinstance(value, dict) else value


PagerDutyEvents = Annotated[
    list[PagerDutyEvent],
    BeforeValidator(_as_list),
    Field(description="Events API v2 events: a list, or one event on its own."),
]


def from_pagerduty(events: list[PagerDutyEvent], config: AdapterConfig) -> Translated:
    out = Translated()
    for i, event in enumerate(events):
        p = event.payload
        key = (event.dedup_key or "").strip()
        if not key and p is None:
            raise ValueError(f"event {i}: an event needs a dedup_key or a payload to identify it")
        key = key or _digest(f"{p.source}|{p.summary}|{p.timestamp}")
        alert_id = _text(f"pagerduty:{key}")
        when = p.timestamp if p and p.timestamp else None
        if event.event_action != "trigger":
            out.closed.append((alert_id, when or datetime.now(UTC)))
            continue
        if p is None:
            raise ValueError(f"event {i}: a trigger event needs a payload")
        details = p.custom_details if isinstance(p.custom_details, dict) else {}
        name = p.class_ or p.summary
        fields = (getattr(p, f, None) for f in config.pagerduty_service_fields)
        service = next((v for v in fields if isinstance(v, str) and v.strip()), None)
        out.firing.append(
            AlertIn(
                alert_id=alert_id,
                fired_at=when or datetime.now(UTC),
                source="pagerduty",
                service=_text(service or config.unknown_service),
                alert_name=_text(name),
                severity=config.severity(p.severity),
                signal=config.signal(details.get("signal"), name),
                anomaly_score=_score(details.get("anomaly_score")),
                region=_plain(details.get("region")),
                labels={
                    "summary": p.summary,
                    "source": p.source,
                    **{k: v for k, v in (("component", p.component), ("group", p.group)) if v},
                    "custom_details": p.custom_details,
                    **({"links": event.links} if event.links else {}),
                },
            )
        )
    return out


# ---------------------------------------------------------------- shared


def problems(err: ValidationError) -> str:
    """A validation error in one line: each problem's place and what was expected."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in err.errors()
    )


def _first(labels: dict[str, str], names: tuple[str, ...]) -> str | None:
    return next((labels[n].strip() for n in names if labels.get(n, "").strip()), None)


def _text(value: str) -> str:
    """Contract text: at most TEXT_MAX characters (a long native id keeps a stable digest)."""
    value = value.strip() or "unnamed"
    return value if len(value) <= TEXT_MAX else f"{value[: TEXT_MAX - 17]}~{_digest(value)}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _plain(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _closed_at(ends_at: datetime | None, starts_at: datetime) -> datetime:
    """When a resolved alert ended: its endsAt when plausible, otherwise now."""
    if ends_at is not None and starts_at <= ends_at < LATEST:
        return ends_at
    return datetime.now(UTC)


def _score(raw: object) -> float | None:
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if 0.0 <= value <= 1.0 else None  # NaN fails both comparisons
