"""The simulated online shop: journeys, segments, regions, services and their true dependencies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# The simulator is the one place allowed to name a concrete shop: library code reads all of
# this from the journey map and the data, never from here.


@dataclass(frozen=True)
class StageDef:
    name: str
    impact: float
    value: float
    completion: float  # base probability that a session at this stage goes on
    abandon: float  # of the sessions that do not go on, the share that leaves within the window
    latency_ms: float
    services: dict[str, str]  # the services the stage really uses: name -> hard | soft
    owner: str = ""


@dataclass(frozen=True)
class JourneyDef:
    name: str
    daily_sessions: float  # arrivals at the first stage per day, whole shop, before seasonality
    stages: tuple[StageDef, ...]
    weekend_factor: float = 1.0
    segment_shares: dict[str, float] = field(default_factory=dict)


SEGMENTS: dict[str, dict[str, float]] = {
    # weight of a lost conversion, completion multiplier
    "new": {"weight": 1.5, "completion": 0.85},
    "returning": {"weight": 1.0, "completion": 1.0},
    "premium": {"weight": 2.0, "completion": 1.12},
}

REGIONS: dict[str, dict[str, float]] = {
    # traffic share, hours ahead of UTC (drives the daily cycle)
    "eu": {"share": 0.38, "utc_offset": 1.0},
    "us": {"share": 0.44, "utc_offset": -5.0},
    "apac": {"share": 0.18, "utc_offset": 8.0},
}

JOURNEYS: tuple[JourneyDef, ...] = (
    JourneyDef(
        "browse",
        daily_sessions=60_000,
        weekend_factor=1.25,
        segment_shares={"new": 0.45, "returning": 0.45, "premium": 0.10},
        stages=(
            StageDef(
                "landing",
                0.3,
                0.2,
                0.72,
                0.85,
                180,
                {"web-frontend": "hard", "cdn": "hard", "recommendations": "soft"},
                "web-team",
            ),
            StageDef(
                "search",
                0.5,
                0.5,
                0.66,
                0.75,
                240,
                {"search-api": "hard", "web-frontend": "hard", "recommendations": "soft"},
                "search-team",
            ),
            StageDef(
                "product_page",
                0.6,
                1.0,
                0.42,
                0.7,
                260,
                {"catalog": "hard", "web-frontend": "hard", "reviews": "soft", "inventory": "soft"},
                "catalog-team",
            ),
        ),
    ),
    JourneyDef(
        "signup",
        daily_sessions=7_000,
        weekend_factor=1.1,
        segment_shares={"new": 0.9, "returning": 0.1, "premium": 0.0},
        stages=(
            StageDef(
                "signup_form",
                0.7,
                3.0,
                0.78,
                0.8,
                320,
                {"auth": "hard", "web-frontend": "hard", "captcha": "soft"},
                "identity-team",
            ),
            StageDef(
                "verify_email",
                0.6,
                3.0,
                0.83,
                0.6,
                400,
                {"email-sender": "hard", "auth": "hard"},
                "identity-team",
            ),
            StageDef(
                "onboarding",
                0.8,
                5.0,
                0.74,
                0.7,
                350,
                {"user-profile": "hard", "recommendations": "soft"},
                "growth-team",
            ),
        ),
    ),
    JourneyDef(
        "purchase",
        daily_sessions=14_000,
        weekend_factor=1.3,
        segment_shares={"new": 0.30, "returning": 0.55, "premium": 0.15},
        stages=(
            StageDef(
                "cart",
                0.7,
                10.0,
                0.64,
                0.7,
                300,
                {"cart-api": "hard", "inventory": "hard", "pricing": "soft"},
                "cart-team",
            ),
            StageDef(
                "checkout",
                0.9,
                40.0,
                0.82,
                0.75,
                420,
                {"checkout-api": "hard", "pricing": "hard", "tax-service": "hard"},
                "payments-team",
            ),
            StageDef(
                "payment",
                1.0,
                60.0,
                0.9,
                0.8,
                650,
                {"payments": "hard", "fraud-check": "hard", "checkout-api": "hard"},
                "payments-team",
            ),
            StageDef(
                "confirmation",
                0.8,
                5.0,
                0.97,
                0.5,
                280,
                {"order-service": "hard", "email-sender": "soft"},
                "orders-team",
            ),
        ),
    ),
    JourneyDef(
        "renewal",
        daily_sessions=1_800,
        weekend_factor=0.8,
        segment_shares={"new": 0.0, "returning": 0.7, "premium": 0.3},
        stages=(
            StageDef(
                "renewal_offer",
                0.6,
                20.0,
                0.61,
                0.7,
                300,
                {"subscriptions": "hard", "pricing": "soft", "email-sender": "soft"},
                "billing-team",
            ),
            StageDef(
                "renewal_payment",
                0.95,
                80.0,
                0.88,
                0.8,
                640,
                {"subscriptions": "hard", "payments": "hard"},
                "billing-team",
            ),
        ),
    ),
)

# The true call graph: service -> {callee: hard | soft}. Failures travel from callee to caller.
DEPENDENCIES: dict[str, dict[str, str]] = {
    "web-frontend": {"api-gateway": "hard", "feature-flags": "soft"},
    "search-api": {"search-index": "hard", "api-gateway": "hard", "cache": "soft"},
    "catalog": {"db-primary": "hard", "cache": "soft"},
    "reviews": {"db-replica": "hard"},
    "inventory": {"db-primary": "hard", "cache": "soft"},
    "auth": {"db-primary": "hard", "cache": "soft", "api-gateway": "hard"},
    "email-sender": {"message-queue": "hard"},
    "user-profile": {"db-primary": "hard"},
    "recommendations": {"ml-feature-store": "hard"},
    "cart-api": {"db-primary": "hard", "cache": "hard", "api-gateway": "hard"},
    "pricing": {"db-replica": "hard", "feature-flags": "soft"},
    "checkout-api": {"cart-api": "hard", "db-primary": "hard", "api-gateway": "hard"},
    "payments": {"payment-gateway": "hard", "db-primary": "hard"},
    "fraud-check": {"ml-feature-store": "soft", "db-replica": "hard"},
    "order-service": {"db-primary": "hard", "message-queue": "hard"},
    "subscriptions": {"db-primary": "hard", "api-gateway": "hard"},
    "db-replica": {"db-primary": "soft"},
}

# Services that run the business but sit on no user path.
OFF_PATH_SERVICES: tuple[str, ...] = (
    "batch-etl",
    "reporting",
    "data-warehouse",
    "ml-training",
    "backup-agent",
    "log-shipper",
    "ci-runner",
    "metrics-store",
    "admin-portal",
)

# Real services the journey map's authors left out (the map is never complete).
UNMAPPED_SERVICES: tuple[str, ...] = ("tax-service", "feature-flags")

ESCALATION: dict[str, str] = {
    "P1": "incident room: #inc-bridge + product on-call",
    "P2": "page the owning team's on-call",
    "P3": "ticket in the owning team's queue",
    "P4": "daily digest",
}

PLAYBOOKS: dict[str, str] = {
    "latency": "Check saturation and recent deploys of {services}; shed load or scale out; roll back if a deploy preceded it.",
    "errors": "Inspect error logs of {services}; roll back the last change; fail over if errors persist 5 min.",
    "availability": "Fail over {services} to the standby region; open the incident room; post a status-page note.",
    "default": "Confirm user impact on the {stage} dashboard; engage {owner}; follow the {journey} runbook.",
}


MAP_VERSION = "2026-10-01"


@dataclass(frozen=True)
class World:
    """What stays put from one period to the next, unless a shift changes it.

    Segments, regions, escalation and playbooks never shift, so they stay module constants.
    """

    journeys: tuple[JourneyDef, ...]
    dependencies: Mapping[str, Mapping[str, str]]
    off_path_services: tuple[str, ...]
    unmapped_services: tuple[str, ...]  # real services the journey map leaves out
    map_version: str
    incident_factor: Mapping[str, float] = field(default_factory=dict)  # service -> rate multiplier

    def all_services(self) -> list[str]:
        """Every service of the shop, on a user path or not, in a stable order."""
        names: set[str] = set(self.dependencies) | set(self.off_path_services)
        for callees in self.dependencies.values():
            names |= set(callees)
        for journey in self.journeys:
            for stage in journey.stages:
                names |= set(stage.services)
        return sorted(names)

    def flat_stages(self) -> list[tuple[str, StageDef]]:
        """(journey name, StageDef) in funnel order, journey by journey."""
        return [(j.name, s) for j in self.journeys for s in j.stages]


SHOP = World(JOURNEYS, DEPENDENCIES, OFF_PATH_SERVICES, UNMAPPED_SERVICES, MAP_VERSION)
