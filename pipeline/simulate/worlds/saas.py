"""A B2B SaaS: office-hours traffic in two regions, business segments that vanish at weekends.

Why it exists: it is everything the shop is not. Logins run to thousands per 5-min window while
a renewal payment comes every few windows; enterprise seats are worth many times a trial's;
failures travel down a deep call graph; most alerts are noise and teams mark many `critical`;
batch jobs on no user path page at night; and the map its people wrote has a hard login service
missing, a false edge onto a batch job and a service renamed since.
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
    "enterprise": SegmentDef(weight=12.0, completion=1.04, weekend=0.03),
    "smb": SegmentDef(weight=2.0, completion=0.96, weekend=0.08),
    "trial": SegmentDef(weight=0.4, completion=0.82, weekend=0.2),
}

REGIONS = {
    "amer": RegionDef(share=0.55, utc_offset=-6.0),
    "emea": RegionDef(share=0.45, utc_offset=1.0),
}

# Office hours: a morning start, a post-lunch plateau, a little evening catch-up, dead at night.
DIURNAL = Diurnal.normalised(0.03, ((1.0, 9.5, 1.4), (0.8, 14.5, 2.0), (0.12, 20.5, 1.2)))

SCALES = {
    "small": ScaleProfile(window_min=5, traffic=1.0, hosts_per_service=4, noise=0.75),
    "large": ScaleProfile(window_min=1, traffic=3.0, hosts_per_service=30, noise=10.0),
}

JOURNEYS = (
    JourneyDef(
        "login",
        daily_sessions=450_000,
        segment_shares={"enterprise": 0.55, "smb": 0.35, "trial": 0.10},
        stages=(
            StageDef(
                "sign_in",
                0.8,
                0.5,
                0.93,
                0.6,
                250,
                {"auth-gateway": "hard", "sso-bridge": "hard", "identity-api": "hard"},
                "identity-team",
            ),
            StageDef(
                "mfa",
                0.7,
                0.5,
                0.96,
                0.5,
                300,
                {"mfa-service": "hard", "identity-api": "hard", "notify-svc": "soft"},
                "identity-team",
            ),
            StageDef(
                "workspace_load",
                0.9,
                1.0,
                0.97,
                0.4,
                600,
                {"workspace-api": "hard", "permissions": "hard", "feature-gate": "soft"},
                "workspace-team",
            ),
        ),
    ),
    JourneyDef(
        "reporting",
        daily_sessions=60_000,
        segment_shares={"enterprise": 0.60, "smb": 0.35, "trial": 0.05},
        stages=(
            StageDef(
                "open_dashboard",
                0.6,
                2.0,
                0.8,
                0.6,
                700,
                {"dashboard-api": "hard", "workspace-api": "hard", "query-engine": "soft"},
                "analytics-team",
            ),
            StageDef(
                "run_query",
                0.7,
                4.0,
                0.85,
                0.7,
                1800,
                {"query-engine": "hard", "warehouse-proxy": "hard"},
                "analytics-team",
            ),
            StageDef(
                "export_report",
                0.5,
                6.0,
                0.9,
                0.5,
                2500,
                {"export-svc": "hard", "object-store": "hard"},
                "analytics-team",
            ),
        ),
    ),
    JourneyDef(
        "team_invite",
        daily_sessions=3_000,
        segment_shares={"enterprise": 0.30, "smb": 0.50, "trial": 0.20},
        stages=(
            StageDef(
                "send_invite",
                0.6,
                15.0,
                0.85,
                0.7,
                400,
                {"team-api": "hard", "notify-svc": "hard"},
                "growth-team",
            ),
            StageDef(
                "accept_invite",
                0.7,
                30.0,
                0.7,
                0.6,
                450,
                {"identity-api": "hard", "team-api": "hard", "sso-bridge": "soft"},
                "growth-team",
            ),
            StageDef(
                "first_project",
                0.8,
                60.0,
                0.6,
                0.5,
                500,
                {"workspace-api": "hard", "template-svc": "soft"},
                "growth-team",
            ),
        ),
    ),
    JourneyDef(
        "renewal",
        daily_sessions=80,  # a renewal payment every few 5-min windows in office hours
        weekend_factor=0.3,
        segment_shares={"enterprise": 0.50, "smb": 0.45, "trial": 0.05},
        stages=(
            StageDef(
                "renewal_quote",
                0.8,
                200.0,
                0.8,
                0.6,
                500,
                {"billing-api": "hard", "pricing-engine": "hard"},
                "billing-team",
            ),
            StageDef(
                "renewal_payment",
                1.0,
                2500.0,
                0.9,
                0.7,
                900,
                {"billing-api": "hard", "payment-provider": "hard", "invoice-svc": "soft"},
                "billing-team",
            ),
        ),
    ),
)

DEPENDENCIES = {
    "auth-gateway": {"identity-api": "hard", "rate-limiter": "soft"},
    "sso-bridge": {"identity-api": "hard", "session-cache": "hard"},
    "identity-api": {"user-db": "hard", "session-cache": "hard"},
    "mfa-service": {"user-db": "hard", "notify-svc": "soft"},
    "notify-svc": {"event-bus": "hard"},
    "workspace-api": {"tenant-db": "hard", "permissions": "hard", "session-cache": "soft"},
    "permissions": {"tenant-db": "hard", "session-cache": "soft"},
    "feature-gate": {"config-store": "hard"},
    "dashboard-api": {"tenant-db": "hard", "query-engine": "soft"},
    "query-engine": {"warehouse-proxy": "hard", "result-cache": "soft"},
    "warehouse-proxy": {"warehouse": "hard"},
    "export-svc": {"object-store": "hard", "event-bus": "soft"},
    "team-api": {"tenant-db": "hard", "notify-svc": "soft"},
    "template-svc": {"object-store": "soft"},
    "billing-api": {"billing-db": "hard", "pricing-engine": "hard", "event-bus": "soft"},
    "pricing-engine": {"billing-db": "hard"},
    "invoice-svc": {"billing-db": "hard", "object-store": "soft"},
}

OFF_PATH_SERVICES = (
    "usage-aggregator",
    "nightly-export",
    "search-reindex",
    "audit-archiver",
    "backup-agent",
    "ci-runner",
    "lake-loader",
    "churn-model",
    "admin-console",
)

INCIDENTS = IncidentRates(
    kinds={
        "outage": IncidentKind(0.10, np.log(15), 0.9, 0.5, 0.9, error_share=0.6),
        "error_burst": IncidentKind(0.28, np.log(12), 0.8, -1.6, 1.1, error_share=0.6),
        "latency": IncidentKind(0.26, np.log(25), 0.8, -2.4, 1.0, slows=True),
        "slow_burn": IncidentKind(0.18, np.log(150), 0.5, -2.0, 0.8, slows=True, ramps=True),
        "partial_region": IncidentKind(
            0.18, np.log(35), 0.8, 0.0, 1.0, error_share=0.6, regional=True
        ),
    },
    per_service_day=0.26,
    off_path_per_service_day=0.45,  # batch jobs fail often, at night, and hurt no one
    mitigated_share=0.3,
)

MONITORING = Monitoring(
    teams=("identity", "workspace", "analytics", "growth", "billing", "platform", "data", "sre"),
    sources={"datadog": 0.5, "prometheus": 0.3, "grafana": 0.2},
    datastores=frozenset(
        {
            "user-db",
            "session-cache",
            "tenant-db",
            "result-cache",
            "warehouse",
            "object-store",
            "billing-db",
            "event-bus",
            "config-store",
        }
    ),
    team_bias=(0, 0, 1, 1, 2),  # most teams mark their rules a level or two above what they mean
    coincident_chance=0.35,
)

ESCALATION = {
    "P1": "major incident: #sev1 bridge + customer-success lead for affected accounts",
    "P2": "page the owning squad's on-call",
    "P3": "Jira ticket in the owning squad's board",
    "P4": "weekly ops review",
}

PLAYBOOKS = {
    "latency": "Check {services} saturation and the tenant with the heaviest queries; throttle it; roll back a recent deploy.",
    "errors": "Read {services} error logs by tenant; roll back the last release; switch the feature gate off.",
    "availability": "Fail {services} over to the other region; open the sev1 bridge; update the status page.",
    "default": "Check {stage} health for enterprise tenants first; engage {owner}; follow the {journey} runbook.",
}

WORLD = World(
    journeys=JOURNEYS,
    dependencies=DEPENDENCIES,
    off_path_services=OFF_PATH_SERVICES,
    unmapped_services=("sso-bridge",),  # added for enterprise SSO; nobody updated the map
    map_version="2026-09-14",
    segments=SEGMENTS,
    regions=REGIONS,
    diurnal=DIURNAL,
    scales=SCALES,
    incidents=INCIDENTS,
    monitoring=MONITORING,
    escalation=ESCALATION,
    playbooks=PLAYBOOKS,
    incident_factor={"sso-bridge": 2.5},  # young code: it breaks more often than the rest
    # The map says billing calls the usage aggregator; in truth the batch job pushes to billing
    # overnight, so its failures never reach a renewal.
    false_dependencies=(("billing-api", "usage-aggregator"),),
    migrations=(("report-service", "query-engine"),),  # rewritten last quarter, renamed
)
