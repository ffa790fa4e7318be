"""A video-streaming service: prime-time evenings on three continents, 15-min windows, busy weekends.

Why it exists: a third shape again. Traffic peaks late in each region's evening and grows at
weekends instead of vanishing; outcomes come in 15-minute windows; the segments are worth
little (ad-supported viewers) to a lot (premium subscribers); failures are mostly buffering
(latency) and regional CDN trouble; and its map misses the DRM licence service every play
needs, lists a false call onto the nightly transcoder, and still names the old recommender.
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
    "free_ads": SegmentDef(weight=0.3, completion=0.9, weekend=1.15),
    "standard": SegmentDef(weight=1.0, completion=1.0),
    "premium": SegmentDef(weight=3.0, completion=1.05),
}

REGIONS = {
    "latam": RegionDef(share=0.25, utc_offset=-3.0),
    "emea": RegionDef(share=0.45, utc_offset=1.0),
    "apac": RegionDef(share=0.30, utc_offset=9.0),
}

# Prime time around 21:00 local (its tail past midnight listed again at −3 h), a lunch bump and
# a small breakfast one.
DIURNAL = Diurnal.normalised(
    0.04, ((1.0, 21.0, 1.8), (1.0, -3.0, 1.8), (0.3, 13.0, 2.2), (0.15, 7.5, 1.0))
)

SCALES = {
    "small": ScaleProfile(window_min=15, traffic=1.0, hosts_per_service=3, noise=1.0),
    "large": ScaleProfile(window_min=5, traffic=3.0, hosts_per_service=20, noise=6.0),
}

JOURNEYS = (
    JourneyDef(
        "watch",
        daily_sessions=300_000,
        weekend_factor=1.4,
        segment_shares={"free_ads": 0.40, "standard": 0.40, "premium": 0.20},
        stages=(
            StageDef(
                "home_feed",
                0.4,
                0.1,
                0.8,
                0.6,
                350,
                {"edge-api": "hard", "cdn-edge": "hard", "personalize": "soft"},
                "discovery-team",
            ),
            StageDef(
                "title_page",
                0.5,
                0.3,
                0.7,
                0.7,
                300,
                {"catalog-svc": "hard", "edge-api": "hard", "artwork-svc": "soft"},
                "discovery-team",
            ),
            StageDef(
                "start_stream",
                0.9,
                1.0,
                0.92,
                0.8,
                1200,
                {"playback-api": "hard", "drm-license": "hard", "cdn-edge": "hard"},
                "playback-team",
            ),
        ),
    ),
    JourneyDef(
        "subscribe",
        daily_sessions=2_500,
        weekend_factor=1.2,
        segment_shares={"free_ads": 0.80, "standard": 0.20, "premium": 0.0},
        stages=(
            StageDef(
                "choose_plan",
                0.7,
                20.0,
                0.5,
                0.7,
                400,
                {"plans-api": "hard", "edge-api": "hard", "ab-testing": "soft"},
                "growth-team",
            ),
            StageDef(
                "subscribe_payment",
                1.0,
                120.0,
                0.85,
                0.8,
                900,
                {"billing-gw": "hard", "payment-psp": "hard", "fraud-screen": "soft"},
                "billing-team",
            ),
        ),
    ),
    JourneyDef(
        "downloads",
        daily_sessions=20_000,
        weekend_factor=1.1,
        segment_shares={"free_ads": 0.0, "standard": 0.5, "premium": 0.5},
        stages=(
            StageDef(
                "select_download",
                0.4,
                0.5,
                0.8,
                0.5,
                300,
                {"download-api": "hard", "catalog-svc": "hard"},
                "offline-team",
            ),
            StageDef(
                "fetch_license",
                0.6,
                1.0,
                0.95,
                0.6,
                700,
                {"drm-license": "hard", "download-api": "hard"},
                "offline-team",
            ),
        ),
    ),
)

DEPENDENCIES = {
    "edge-api": {"session-store": "hard", "rate-limiter": "soft"},
    "personalize": {"feature-store": "hard", "session-store": "soft"},
    "catalog-svc": {"catalog-db": "hard", "catalog-cache": "soft"},
    "artwork-svc": {"image-store": "hard"},
    "playback-api": {
        "catalog-svc": "hard",
        "session-store": "hard",
        "drm-license": "hard",
        "entitlement": "hard",
    },
    "drm-license": {"license-db": "hard", "entitlement": "hard"},
    "entitlement": {"account-db": "hard", "catalog-cache": "soft"},
    "plans-api": {"account-db": "hard", "ab-testing": "soft"},
    "billing-gw": {"account-db": "hard", "entitlement": "soft"},
    "fraud-screen": {"feature-store": "soft"},
    "download-api": {"entitlement": "hard", "catalog-db": "hard"},
    "cdn-edge": {"origin-storage": "hard"},
}

OFF_PATH_SERVICES = (
    "transcode-batch",
    "metadata-ingest",
    "royalty-reports",
    "ad-reconciler",
    "backup-agent",
    "ci-runner",
    "log-shipper",
)

INCIDENTS = IncidentRates(
    kinds={
        "outage": IncidentKind(0.12, np.log(20), 0.9, 0.6, 0.9, error_share=0.6),
        "error_burst": IncidentKind(0.22, np.log(15), 0.8, -1.6, 1.1, error_share=0.6),
        "latency": IncidentKind(0.34, np.log(35), 0.8, -2.2, 1.0, error_share=0.05, slows=True),
        "slow_burn": IncidentKind(0.12, np.log(200), 0.5, -2.2, 0.8, slows=True, ramps=True),
        "partial_region": IncidentKind(
            0.20, np.log(45), 0.8, 0.2, 1.0, error_share=0.4, regional=True
        ),
    },
    per_service_day=0.3,
    off_path_per_service_day=0.2,
    mitigated_share=0.2,
)

MONITORING = Monitoring(
    teams=("discovery", "playback", "growth", "billing", "offline", "edge", "content", "sre"),
    sources={"prometheus": 0.6, "grafana": 0.4},
    datastores=frozenset(
        {
            "session-store",
            "feature-store",
            "catalog-db",
            "catalog-cache",
            "image-store",
            "license-db",
            "account-db",
            "origin-storage",
        }
    ),
    team_bias=(-1, 0, 0, 1, 1),
    coincident_chance=0.3,
)

ESCALATION = {
    "P1": "war room: #playback-war-room + comms for the status page",
    "P2": "page the owning team's on-call",
    "P3": "ticket for the owning team",
    "P4": "morning digest",
}

PLAYBOOKS = {
    "latency": "Check {services} and CDN hit ratio by region; shift traffic to another CDN; lower the bitrate ladder.",
    "errors": "Inspect {services} error logs; roll back the last deploy; fail licence checks open for premium if DRM is down.",
    "availability": "Drain the failing region of {services}; open the war room; post on the status page.",
    "default": "Watch {stage} starts per region; engage {owner}; follow the {journey} runbook.",
}

WORLD = World(
    journeys=JOURNEYS,
    dependencies=DEPENDENCIES,
    off_path_services=OFF_PATH_SERVICES,
    unmapped_services=("drm-license",),  # owned by a vendor team; never put in the map
    map_version="2026-08-30",
    segments=SEGMENTS,
    regions=REGIONS,
    diurnal=DIURNAL,
    scales=SCALES,
    incidents=INCIDENTS,
    monitoring=MONITORING,
    escalation=ESCALATION,
    playbooks=PLAYBOOKS,
    incident_factor={"drm-license": 2.0},  # a vendor SDK upgraded often
    # The map says playback calls the transcoder; in truth titles are transcoded overnight and
    # playback only reads the results from origin storage.
    false_dependencies=(("playback-api", "transcode-batch"),),
    migrations=(("recommender", "personalize"),),
)
