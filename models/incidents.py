"""Incidents from their alerts' answers: one impact probability, priority and tier each, paged once,
and the incident's priority each alert ranks by."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from features.timeaxis import to_ns
from models.tiers import PAGED_TIERS, TIERS

_LAST = np.iinfo(np.int64).max

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
    # One walk with a dict: a grouped cummax costs a millisecond of pandas set-up per call, and
    # the service calls this once per pass. An alert without an incident has no priority here.
    values = np.asarray(priority, dtype=np.float64)
    values = np.where(np.isnan(values), -np.inf, values).tolist()
    before = best_before or {}
    best: dict = {}
    running = np.empty(len(values))
    for i, (incident, value) in enumerate(
        zip(np.asarray(incident_ids, dtype=object).tolist(), values, strict=True)
    ):
        if pd.isna(incident):
            running[i] = np.nan
            continue
        so_far = best.get(incident)
        if so_far is None:
            so_far = before.get(incident, -np.inf)
            so_far = -np.inf if so_far is None or so_far != so_far else float(so_far)
        best[incident] = running[i] = max(so_far, value)
    running = np.where(np.isneginf(running), np.nan, running)
    return running, {str(k): v for k, v in best.items() if np.isfinite(v)}


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
    ids = answers["alert_id"].astype(str).tolist()
    # each alert's last copy's fire time (ns; an alert not among them sorts last)
    fired = dict(zip(alerts["alert_id"].tolist(), to_ns(alerts["fired_at"]).tolist(), strict=True))
    when = np.array([fired.get(a, _LAST) for a in ids], dtype=np.int64)
    order = np.lexsort((np.arange(len(ids)), when))
    incidents = np.array([incident_of[a] for a in ids], dtype=object)
    running, best = incident_priorities(
        incidents[order], answers["priority"].to_numpy(np.float64)[order], best_before
    )
    lifted = np.empty(len(ids))
    lifted[order] = running
    rank = np.lexsort(
        (
            np.arange(len(ids)),
            -np.nan_to_num(answers["priority"].to_numpy(np.float64), nan=-np.inf),
            -np.nan_to_num(lifted, nan=-np.inf),
        )
    )
    out = answers.drop(columns=["incident_id", "incident_priority"], errors="ignore")
    out = out.take(rank).reset_index(drop=True)  # each column keeps its dtype
    columns = list(out.columns)
    out.insert(columns.index("priority") + 1 if "priority" in columns else len(columns),
               "incident_priority", lifted[rank])  # fmt: skip
    out.insert(columns.index("alert_id") + 1, "incident_id", incidents[rank])
    return out, best


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
