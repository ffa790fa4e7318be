"""Incidents from their alerts' answers: one impact probability, priority and tier each, paged once,
and the incident's priority each alert ranks by."""

from __future__ import annotations

from collections.abc import Mapping

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


def incident_priorities(
    incident_ids: pd.Series | np.ndarray,
    priority: pd.Series | np.ndarray,
    best_before: Mapping[str, float] | None = None,
) -> tuple[np.ndarray, dict[str, float]]:
    """Per alert, in fire order, its incident's priority once it joined: the highest priority of
    the incident's alerts so far, its own included (`best_before`: each incident's best from
    alerts ranked before these); and each incident's best after them.

    An alert ranks by its incident's priority: a failure's later alerts (a caller's timeouts, a
    probe, a re-fire) carry little evidence of their own, but they are the same failure a
    responder already knows to be serious, so they stand where it stands in the queue.
    """
    ids = pd.Series(np.asarray(incident_ids, dtype=object))
    values = pd.Series(np.asarray(priority, dtype=np.float64)).fillna(-np.inf)
    if best_before:
        values = np.maximum(values, ids.map(best_before).fillna(-np.inf).astype(np.float64))
    running = values.groupby(ids.to_numpy(), sort=False).cummax().to_numpy()
    best = pd.Series(running).groupby(ids.to_numpy(), sort=False).max()
    running = np.where(np.isneginf(running), np.nan, running)
    return running, {str(k): float(v) for k, v in best.items() if np.isfinite(v)}


def rank_by_incident(
    answers: pd.DataFrame,
    alerts: pd.DataFrame,
    incident_of: Mapping[str, str],
    best_before: Mapping[str, float] | None = None,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """`answers` with `incident_id` (after alert_id) and `incident_priority` (after priority),
    highest incident priority first, then priority; and each incident's best after them.

    `alerts` (alert_id, fired_at) gives the fire order the incidents' priorities run in (ties in
    the frame's order); `incident_of` maps each alert_id to its incident.
    """
    fired = alerts.drop_duplicates("alert_id", keep="last").set_index("alert_id")["fired_at"]
    ids = answers["alert_id"].astype(str)
    when = fired.reindex(ids.to_numpy()).to_numpy()
    order = np.lexsort((np.arange(len(answers)), when))
    incidents = np.array([incident_of[a] for a in ids], dtype=object)
    running, best = incident_priorities(
        incidents[order], answers["priority"].to_numpy(np.float64)[order], best_before
    )
    lifted = np.empty(len(answers))
    lifted[order] = running
    columns = [c for c in answers.columns if c not in ("incident_id", "incident_priority")]
    at = columns.index("priority") + 1 if "priority" in columns else len(columns)
    columns[at:at] = ["incident_priority"]
    columns.insert(columns.index("alert_id") + 1, "incident_id")
    out = answers.assign(incident_id=incidents, incident_priority=lifted)[columns]
    rank = np.lexsort(
        (
            np.arange(len(out)),
            -np.nan_to_num(out["priority"].to_numpy(np.float64), nan=-np.inf),
            -np.nan_to_num(lifted, nan=-np.inf),
        )
    )
    return out.iloc[rank].reset_index(drop=True), best


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
