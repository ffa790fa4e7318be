"""Incidents from their alerts' answers: one impact probability, priority and tier each, paged once."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.tiers import PAGED_TIERS, TIERS

PAGING_TIERS = PAGED_TIERS
TIER_ORDER = TIERS  # best first
SUMMARY_COLUMNS = (
    "incident_id",
    "alerts",
    "started_at",
    "probability",
    "priority",
    "tier",
    "stages",
    "root_service",
)


def incident_summary(answers: pd.DataFrame) -> pd.DataFrame:
    """One row per incident, highest priority first: its alerts, start (earliest fired_at), the
    max impact probability and priority of its alerts, the best tier of its alerts, the stages at
    risk (incident_stages of its latest alert, else its alerts' journey/stage) and the root-cause
    candidate as it stands at its latest alert.

    `answers`: one row per ranked alert with incident_id, impact_probability, priority and tier;
    fired_at, incident_stages, incident_root_service, journey and stage when known.
    """
    frame = answers.assign(
        _rank=_tier_rank(answers["tier"]),
        _at=answers.get("fired_at", pd.NaT),
        _order=np.arange(len(answers)),
    ).sort_values(["_at", "_order"], kind="stable")
    grouped = frame.groupby("incident_id", sort=False)
    summary = pd.DataFrame(
        {
            "alerts": grouped.size(),
            "started_at": grouped["_at"].min(),
            "probability": grouped["impact_probability"].max(),
            "priority": grouped["priority"].max(),
            "tier": grouped["_rank"].min().map(dict(enumerate(TIER_ORDER))),
            "stages": grouped.apply(_stages, include_groups=False),
            "root_service": grouped["incident_root_service"].last()
            if "incident_root_service" in frame
            else None,
        }
    )
    summary = summary.rename_axis("incident_id").reset_index()
    return summary.sort_values("priority", ascending=False, kind="stable").reset_index(drop=True)[
        list(SUMMARY_COLUMNS)
    ]


def incident_pages(
    incident_ids: pd.Series | np.ndarray,
    tiers: pd.Series | np.ndarray,
    paging_tiers: tuple[str, ...] = PAGING_TIERS,
) -> np.ndarray:
    """Which alerts (in time order) send a page when an incident pages once: the first of its
    alerts in a paging tier, and a later one only when it raises the incident's tier."""
    rank = _tier_rank(pd.Series(np.asarray(tiers, dtype=object)))
    paging = {TIER_ORDER.index(t) for t in paging_tiers if t in TIER_ORDER}
    best: dict[object, int] = {}
    pages = np.zeros(len(rank), dtype=bool)
    for i, (incident, r) in enumerate(
        zip(np.asarray(incident_ids, dtype=object), rank, strict=True)
    ):
        if r in paging and r < best.get(incident, len(TIER_ORDER)):
            pages[i] = True
        best[incident] = min(best.get(incident, len(TIER_ORDER)), r)
    return pages


def _tier_rank(tiers: pd.Series) -> np.ndarray:
    order = {t: i for i, t in enumerate(TIER_ORDER)}
    return np.array([order.get(t, len(TIER_ORDER)) for t in tiers], dtype=np.int64)


def _stages(group: pd.DataFrame) -> str:
    if "incident_stages" in group and group["incident_stages"].notna().any():
        return str(group["incident_stages"].dropna().iloc[-1])
    if {"journey", "stage"} <= set(group.columns):
        named = group.dropna(subset=["journey", "stage"])
        return ";".join(dict.fromkeys(named["journey"] + "/" + named["stage"]))
    return ""
