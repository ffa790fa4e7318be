"""The online shop: browse, sign-up, purchase and renewal on three continents (the sample's world).

Its output is the committed data/sample, byte for byte: change nothing here without re-making it.
"""

from __future__ import annotations

import numpy as np

from ..world import (
    Diurnal,
    IncidentKind,
    IncidentRates,
    JourneyDef,
    Monitoring,
    RegionDef,
    ScaleProfile,
    SegmentDef,
    StageDef,
    World,
)

SEGMENTS = {
    "new": SegmentDef(weight=1.5, completion=0.85),
    "returning": SegmentDef(weight=1.0, completion=1.0),
    "premium": SegmentDef(weight=2.0, completion=1.12),
}

REGIONS = {
    "eu": RegionDef(share=0.38, utc_offset=1.0),
    "us": RegionDef(share=0.44, utc_offset=-5.0),
    "apac": RegionDef(share=0.18, utc_offset=8.0),
}

# A night trough, a lunch shoulder and an evening peak.
DIURNAL = Diurnal(
    base=0.08, peaks=((1.0, 20.5, 2.6), (0.55, 12.5, 2.2), (0.35, 9.0, 1.8)), mean=0.62
)

SCALES = {
    "small": ScaleProfile(window_min=5, traffic=1.0, hosts_per_service=3, noise=1.0),
    "large": ScaleProfile(window_min=1, traffic=3.0, hosts_per_service=30, noise=10.0),
}

INCIDENTS = IncidentRates(
    kinds={
        "outage": IncidentKind(0.13, np.log(18), 0.9, 0.6, 0.9, error_share=0.6),
        "error_burst": IncidentKind(0.34, np.log(12), 0.8, -1.6, 1.1, error_share=0.6),
        "latency": IncidentKind(0.30, np.log(25), 0.8, -2.4, 1.0, slows=True),
        "slow_burn": IncidentKind(0.10, np.log(170), 0.5, -2.3, 0.8, slows=True, ramps=True),
        "partial_region": IncidentKind(
            0.13, np.log(30), 0.8, 0.0, 1.0, error_share=0.6, regional=True
        ),
    },
    per_service_day=0.3,
    off_path_per_service_day=0.15,
    mitigated_share=0.25,
)

MONITORING = Monitoring(
    teams=(
        "web",
        "search",
        "catalog",
        "identity",
        "growth",
        "cart",
        "payments",
        "orders",
        "billing",
        "platform",
        "data",
        "sre",
    ),
    sources={"prometheus": 0.55, "grafana": 0.25, "datadog": 0.20},
    datastores=frozenset(
        {"db-primary", "db-replica", "cache", "message-queue", "search-index", "ml-feature-store"}
    ),
    team_bias=(-1, 0, 0, 1),  # some teams page on everything
)

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

ESCALATION = {
    "P1": "incident room: #inc-bridge + product on-call",
    "P2": "page the owning team's on-call",
    "P3": "ticket in the owning team's queue",
    "P4": "daily digest",
}

PLAYBOOKS = {
    "latency": "Check saturation and recent deploys of {services}; shed load or scale out; roll back if a deploy preceded it.",
    "errors": "Inspect error logs of {services}; roll back the last change; fail over if errors persist 5 min.",
    "availability": "Fail over {services} to the standby region; open the incident room; post a status-page note.",
    "default": "Confirm user impact on the {stage} dashboard; engage {owner}; follow the {journey} runbook.",
}


MAP_VERSION = "2026-10-01"


WORLD = World(
    journeys=JOURNEYS,
    dependencies=DEPENDENCIES,
    off_path_services=OFF_PATH_SERVICES,
    unmapped_services=UNMAPPED_SERVICES,
    map_version=MAP_VERSION,
    segments=SEGMENTS,
    regions=REGIONS,
    diurnal=DIURNAL,
    scales=SCALES,
    incidents=INCIDENTS,
    monitoring=MONITORING,
    escalation=ESCALATION,
    playbooks=PLAYBOOKS,
    supports_shifts=True,
)
