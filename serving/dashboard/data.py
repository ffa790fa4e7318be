"""What the dashboard shows, read from the engine: the ranked queue by incident, journey health, one alert
or incident in depth."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.timeaxis import MINUTE_NS, to_ns
from models.ranking import flag_list
from models.tiers import TIERS

QUEUE_HOURS = 6
HEALTH_WINDOW_MIN = 15
HURTING_Z, HURTING_DROP = 2.5, 0.05  # a stage hurts when its shortfall is significant and material
ALERTS_PER_STAGE = 8
CURVE_BEFORE_MIN, CURVE_AFTER_MIN = 120, 60
TOP_CONTRIBUTIONS = 10
SIMILAR_SHOWN = 10
FILTERED = ("journey", "stage", "tier")


@dataclass(frozen=True)
class Filters:
    journey: str | None = None
    stage: str | None = None
    tier: str | None = None

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        for column in FILTERED:
            value = getattr(self, column)
            if value:
                frame = frame[frame[column] == value]
        return frame

    @property
    def any(self) -> bool:
        return any(getattr(self, c) for c in FILTERED)


def now_ns(engine) -> int:
    """The data's own clock: the latest alert or outcome window the service has seen."""
    with engine.reading():
        latest = engine.live.event_time_ns()
    return latest if latest is not None else time.time_ns()


def filter_choices(engine) -> dict[str, list[str]]:
    """The journeys and stages of the map the model was trained with, and the tiers."""
    table = engine.ranker.stages.table
    return {
        "journey": list(dict.fromkeys(table["journey"])),
        "stage": list(dict.fromkeys(table["stage"])),
        "tier": list(TIERS),
    }


def queue(engine, filters: Filters, hours: float = QUEUE_HOURS) -> list[dict]:
    """Each alert of the last hours as last ranked, in the order /rank answers in: by its incident's
    priority then, and its own (a row logged before incidents ranks by its own)."""
    now = now_ns(engine)
    log = engine.log.recent(pd.Timestamp(now - int(hours * 60 * MINUTE_NS), tz="UTC"))
    log = filters.apply(log)
    log["incident_priority"] = log["incident_priority"].fillna(log["priority"])
    log = log.sort_values(["incident_priority", "priority"], ascending=False, kind="stable")
    ages = np.maximum(now - to_ns(log["fired_at"]), 0) / MINUTE_NS
    incident_of = _incident_of(engine)
    return [
        _queue_row(row, float(age), _text(row["incident_id"]) or incident_of(row["alert_id"]))
        for row, age in zip(log.to_dict("records"), ages.tolist(), strict=True)
    ]


def queue_incidents(engine, rows: list[dict]) -> list[dict]:
    """The queue's alerts folded under their incidents, highest priority first (each incident's
    alerts in the queue's order): the incident's tier and figures are its best alert's."""
    folded: dict[str, list[dict]] = {}
    for row in rows:
        folded.setdefault(row["incident_id"], []).append(row)
    incidents = []
    for incident_id, members in folded.items():
        with engine.reading():
            found = engine.incidents.incident(incident_id) if engine.incidents else None
        incidents.append(
            {
                "incident_id": incident_id,
                "tier": min(r["tier"] for r in members),
                "impact_probability": max(r["impact_probability"] for r in members),
                "priority": max(r["priority"] for r in members),
                "size": len(found.alert_ids) if found else len(members),
                "root_service": found.root_service if found else members[0]["service"],
                "root_reason": found.root_reason if found else "",
                "stages": [s.replace("/", " / ") for s in found.stages] if found else [],
                "resolved": bool(found and found.resolved_at is not None),
                "alerts": members,
            }
        )
    return sorted(incidents, key=lambda i: -i["priority"])  # stable: ties keep the queue's order


def _incident_of(engine):
    grouper = engine.incidents.grouper if engine.incidents is not None else None

    def of(alert_id: str) -> str:
        found = grouper.incident_of(alert_id) if grouper is not None else None
        return found or f"inc-{alert_id}"  # ranked before the grouper knew it: its own

    return of


def _queue_row(row: dict, age_min: float, incident_id: str) -> dict:
    reasons = json.loads(row["reasons"] or "[]")
    return {
        "alert_id": row["alert_id"],
        "incident_id": incident_id,
        "tier": row["tier"],
        "impact_probability": float(row["impact_probability"]),
        "priority": float(row["priority"]),
        "incident_priority": float(row["incident_priority"]),
        "journey": _text(row["journey"]),
        "stage": _text(row["stage"]),
        "service": row["service"],
        "alert_name": row["alert_name"],
        "severity": row["severity"],
        "top_reason": reasons[0] if reasons else "",
        "playbook": _text(row["playbook"]) or "",
        "age_min": age_min,
        "fired_at": row["fired_at"].isoformat(),
    }


def journey_health(engine, alerts: list[dict]) -> list[dict]:
    """Per journey, each stage's completion over the last minutes of live data against normal."""
    with engine.reading():
        state = engine.live.mirror.context().journey
        end = engine.live.mirror.data_end_ns
    table = engine.ranker.stages.table
    codes = np.arange(len(table))
    if end is None:
        sums = {k: np.zeros(len(codes)) for k in ("sessions", "completed", "expected_completed")}
        sums["completion_var"] = np.zeros(len(codes))
    else:
        k_hi = state.window_index(np.full(len(codes), end), round_up=True)
        k_lo = state.window_index(np.full(len(codes), end - HEALTH_WINDOW_MIN * MINUTE_NS))
        sums = {k: v.sum(axis=1) for k, v in state.sums(codes, k_lo, k_hi).items()}
    journeys: dict[str, list[dict]] = {}
    for code, (journey, stage) in enumerate(zip(table["journey"], table["stage"], strict=True)):
        mapped = [a for a in alerts if a["journey"] == journey and a["stage"] == stage]
        measured = {k: float(sums[k][code]) for k in sums}
        journeys.setdefault(journey, []).append(_stage_health(stage, measured, mapped))
    return [
        {"journey": j, "stages": s, "hurting": any(x["hurting"] for x in s)}
        for j, s in journeys.items()
    ]


def map_gaps(engine) -> dict | None:
    """The map check the model carries from its training history (`journeyrank train`): services
    the map lacks, by evidence, with the stages they should link to; None for older models."""
    found = engine.ranker.profile.get("map_check")
    if found is None:
        return None
    unmapped = found["unmapped_services"]
    return {
        "suggested": [u for u in unmapped if u["suggested"]],
        "unsupported": [u["service"] for u in unmapped if not u["suggested"]],
        "renamed": found.get("renamed_services", []),
        "doubtful": found["doubtful_links"],
        "sparse_stages": found["sparse_stages"],
        "stages_without_services": found["stages_without_services"],
    }


def _stage_health(stage: str, sums: dict[str, float], alerts: list[dict]) -> dict:
    n, done, expected, var = (
        sums[k] for k in ("sessions", "completed", "expected_completed", "completion_var")
    )
    drop = 1 - done / expected if expected > 0 else None
    z = (expected - done) / np.sqrt(var) if var > 0 else 0.0
    return {
        "stage": stage,
        "sessions": int(n),
        "completion_now": done / n if n > 0 else None,
        "completion_normal": expected / n if n > 0 else None,
        "drop": drop,
        "z": float(z),
        "hurting": bool(drop is not None and z >= HURTING_Z and drop >= HURTING_DROP),
        "alerts": alerts[:ALERTS_PER_STAGE],
        "alert_count": len(alerts),
    }


def alert_detail(engine, alert_id: str) -> dict | None:
    """One ranked alert: its answer, why (contributions), its stage around it, its rule's history."""
    logged = engine.log.lookup(alert_id)
    if logged is None:
        return None
    return {
        **logged,
        "reasons": json.loads(logged["reasons"] or "[]"),
        "flags": flag_list(logged["flags"]),
        "waterfall": contributions(engine.ranker, logged["features"]),
        "curve": stage_curve(engine, logged),
        "similar": similar_alerts(engine, logged),
        "escalation": engine.ranker.journey_map.escalation_for(logged["tier"]),
    }


def contributions(ranker, features: dict) -> dict:
    """The largest TreeSHAP contributions to the raw score (log-odds), the rest summed in one bar."""
    frame = pd.DataFrame([{name: features.get(name) for name in ranker.spec.features}])
    explained = ranker.explain(frame)[0]
    names, values = list(ranker.spec.features), explained[:-1]
    order = np.argsort(-np.abs(values), kind="stable")
    items = [
        (f"{names[j]} = {_show(features.get(names[j]))}", float(values[j]))
        for j in order[:TOP_CONTRIBUTIONS]
    ]
    if len(order) > TOP_CONTRIBUTIONS:
        rest = float(values[order[TOP_CONTRIBUTIONS:]].sum())
        items.append((f"{len(order) - TOP_CONTRIBUTIONS} other features", rest))
    return {"items": items, "base": float(explained[-1]), "total": float(explained.sum())}


def stage_curve(engine, logged: dict) -> list[tuple[float, float | None, float | None]]:
    """(minutes from fired_at, observed completion, normal completion) per window of the alert's stage."""
    if not logged.get("journey"):
        return []
    code = engine.ranker.stages.code_of(
        pd.Series([logged["journey"]]), pd.Series([logged["stage"]])
    )
    if code[0] < 0:
        return []
    with engine.reading():
        state = engine.live.mirror.context().journey
    fired = logged["fired_at"].value
    first, last = state.window_index(
        np.array([fired - CURVE_BEFORE_MIN * MINUTE_NS, fired + CURVE_AFTER_MIN * MINUTE_NS])
    )
    ks = np.arange(first, last)
    if len(ks) == 0:
        return []
    sums = {k: v.sum(axis=1) for k, v in state.sums(np.full(len(ks), code[0]), ks, ks + 1).items()}
    points = []
    for i, k in enumerate(ks.tolist()):
        n = sums["sessions"][i]
        minutes = (state.origin_ns + k * state.step_ns - fired) / MINUTE_NS
        points.append(
            (
                float(minutes),
                float(sums["completed"][i] / n) if n else None,
                float(sums["expected_completed"][i] / n) if n else None,
            )
        )
    return points


def similar_alerts(engine, logged: dict) -> dict:
    """Earlier firings of the same rule (alert name on the service), and whether they hurt users."""
    with engine.reading():
        mirror = engine.live.mirror
        alerts, derived, feedback = mirror.alerts, mirror.derived, mirror.feedback
    same = alerts[
        (alerts["alert_name"] == logged["alert_name"])
        & (alerts["service"] == logged["service"])
        & (alerts["fired_at"] < logged["fired_at"])
    ]
    impact = derived.set_index("alert_id")["label"] if len(derived) else pd.Series(dtype=float)
    if len(feedback):  # a human verdict overrides the derived label
        verdicts = feedback.drop_duplicates("alert_id", keep="last").set_index("alert_id")
        impact = pd.concat([impact, verdicts["impact"].astype(float)])
        impact = impact[~impact.index.duplicated(keep="last")]
    same = same.assign(impact=same["alert_id"].map(impact)).sort_values("fired_at", ascending=False)
    known = same["impact"].dropna()
    return {
        "count": len(same),
        "labelled": len(known),
        "impact_rate": float(known.mean()) if len(known) else None,
        "recent": [
            {
                "alert_id": r["alert_id"],
                "fired_at": f"{r['fired_at']:%Y-%m-%d %H:%M}",
                "severity": r["severity"],
                "impact": None if pd.isna(r["impact"]) else int(r["impact"]),
            }
            for r in same.head(SIMILAR_SHOWN).to_dict("records")
        ],
    }


def _text(value) -> str | None:
    return value if isinstance(value, str) and value else None


def _show(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def incident_detail(engine, incident_id: str, paged_tiers) -> dict | None:
    """One incident: its figures, alerts and changes (as `GET /incidents/{id}` gives them) and its
    alerts and changes on the completion curve of its highest-priority alert's stage."""
    from serving.incident_routes import incident_detail as detail_of

    found = detail_of(engine, incident_id, paged_tiers)
    if found is None:
        return None
    started = pd.Timestamp(found["started_at"])
    ranked = [a for a in found["alert_list"] if a["priority"] is not None and a["journey"]]
    top = max(ranked, key=lambda a: a["priority"]) if ranked else None
    curve = stage_curve(
        engine,
        {"journey": top["journey"], "stage": top["stage"], "fired_at": started} if top else {},
    )
    minutes = lambda t: (pd.Timestamp(t) - started) / pd.Timedelta(minutes=1)  # noqa: E731
    return {
        **found,
        "curve_stage": f"{top['journey']} / {top['stage']}" if top else None,
        "curve": curve,
        "alert_marks": [(minutes(a["fired_at"]), a["alert_name"], a["tier"]) for a in found["alert_list"]],
        "change_marks": [(minutes(c["ts"]), f"{c['kind']} {c['change_id']} on {c['service']}")
                         for c in found["changes"]],
    }  # fmt: skip
