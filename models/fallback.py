"""Answers without the model: the criticality rule orders, the alert's severity sets the tier.

Fail-open (README.md, "Safe in front of on-call"): when the model cannot load, the state store cannot answer or the
features fail for a request, /rank still answers, flagged `fallback`, never with a 5xx. Shadow
mode answers the same way, flagged `shadow`: the routing an alert had before the model (severity
pages: critical and high page, warning tickets, info goes to the digest), while the model's own
answer is logged for `journeyrank shadow-report`. P1 (the incident room) stays the model's and the
policy's to give: severity alone never opens an incident room.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from features.journey_map import JourneyMap
from models.ranking import ANSWER_COLUMNS
from models.reference_rankings import criticality_rule_score
from models.tiers import ROUTES

FALLBACK, SHADOW = "fallback", "shadow"
SEVERITY_TIER = {"critical": "P2", "high": "P2", "warning": "P3", "info": "P4"}
_WHY = {
    FALLBACK: "fallback: the model could not answer ({cause}); ranked by the criticality rule "
    "(impact of the stages the service serves, then severity), tier from severity",
    SHADOW: "shadow mode: routed as before the model (tier from severity); the model's answer "
    "is in the inference log",
}


def original_tier(severity: pd.Series) -> np.ndarray:
    """The tier an alert's severity gives it: the routing before the model."""
    return severity.map(SEVERITY_TIER).fillna("P3").to_numpy(dtype=object)


def rule_answers(
    alerts: pd.DataFrame,
    journey_map: JourneyMap | None,
    flag: str,
    model_version: str = "",
    cause: str = "",
) -> pd.DataFrame:
    """One answer per alert (the ranker's columns), highest criticality first, flagged `flag`."""
    alerts = alerts.reset_index(drop=True)
    impact_sum, journey, stage = _stage_impacts(alerts["service"], journey_map)
    table = pd.DataFrame({"severity": alerts["severity"], "stage_impact_sum": impact_sum})
    priority = criticality_rule_score(table)
    tier = original_tier(alerts["severity"])
    reason = json.dumps([_WHY[flag].format(cause=cause or "unknown")])
    flags = [flag if j is not None else f"{flag},unmapped_service" for j in journey]
    answers = pd.DataFrame(
        {
            "alert_id": alerts["alert_id"].astype(str).to_numpy(dtype=object),
            "impact_probability": np.nan,
            "priority": priority,
            "tier": tier,
            "route": [ROUTES[t] for t in tier],
            "journey": journey,
            "stage": stage,
            "segment_at_risk": None,
            "reasons": reason,
            "playbook": [
                journey_map.playbook_for(j, s, sig) if j is not None and journey_map else None
                for j, s, sig in zip(journey, stage, _signals(alerts), strict=True)
            ],
            "escalation": [journey_map.escalation_for(t) if journey_map else None for t in tier],
            "model_version": str(model_version),
            "journey_map_version": str(journey_map.version) if journey_map else "",
            "flags": flags,
        },
        columns=list(ANSWER_COLUMNS),
    )
    order = np.lexsort((np.arange(len(answers)), -priority))
    return answers.iloc[order].reset_index(drop=True)


def _signals(alerts: pd.DataFrame) -> list:
    if "signal" not in alerts:
        return [None] * len(alerts)
    return [s if isinstance(s, str) else None for s in alerts["signal"].tolist()]


def _stage_impacts(services: pd.Series, journey_map: JourneyMap | None):
    """Per alert: the summed impact of the stages its service serves (directly or through
    dependencies), and the journey and stage of the highest of them (None when unmapped)."""
    n = len(services)
    if journey_map is None:
        return np.zeros(n), [None] * n, [None] * n
    links = journey_map.service_stage_links()
    impacts = journey_map.stage_table()[["journey", "stage", "impact"]]
    links = links.merge(impacts, on=["journey", "stage"], how="left")
    total = links.groupby("service")["impact"].sum()
    top = links.sort_values("impact", ascending=False, kind="stable").drop_duplicates("service")
    top = top.set_index("service")
    values = services.tolist()
    impact_sum = np.array([float(total.get(s, 0.0)) for s in values])
    journey = [top.at[s, "journey"] if s in top.index else None for s in values]
    stage = [top.at[s, "stage"] if s in top.index else None for s in values]
    return impact_sum, journey, stage
