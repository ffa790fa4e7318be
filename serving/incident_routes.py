"""`GET /incidents` and `GET /incidents/{id}`: open incidents ranked by priority, and one in depth.

A Starlette app mounted on the service (BentoML's APIs are POSTs); the bearer token guards it as
it guards the POST routes (serving/guard.py). Handlers are plain functions: Starlette runs them
on its thread pool, so reading the engine's state never blocks the event loop.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

NO_STORE = {"cache-control": "no-store"}
PagedTiers = Callable[[list[str]], dict[str, str]]


def create_incident_routes(engine_of: Callable[[], object], paged_tiers: PagedTiers) -> Starlette:
    """The routes app; `engine_of()` gives the service's engine when a request comes, and
    `paged_tiers` the tier each incident was paged at (nothing is paged without forwarding)."""

    def listed(request: Request) -> Response:
        from serving.api_models import IncidentList

        rows = incident_list(engine_of(), paged_tiers)
        return _json(IncidentList(incidents=rows))

    def one(request: Request) -> Response:
        from serving.api_models import IncidentDetail

        incident_id = request.path_params["incident_id"]
        found = incident_detail(engine_of(), incident_id, paged_tiers)
        if found is None:
            return JSONResponse(
                {"error": f"no incident {incident_id!r} (ids look like inc-<alert_id>; "
                          "GET /incidents lists the open ones)"},
                status_code=404,
                headers=NO_STORE,
            )  # fmt: skip
        return _json(IncidentDetail(**found))

    return Starlette(routes=[Route("/", listed), Route("/{incident_id:path}", one)])


def incident_list(engine, paged_tiers: PagedTiers) -> list[dict]:
    """The open incidents, highest priority first (ties: the earlier first)."""
    from serving.engine import event_now
    from serving.incident_book import summary

    if engine.incidents is None:
        return []
    with engine.reading():
        incidents = engine.incidents.open_incidents(event_now(engine.live))
    answers = engine.log.latest_answers([a for i in incidents for a in i.alert_ids])
    paged = paged_tiers([i.incident_id for i in incidents])
    rows = [summary(i, answers, paged.get(i.incident_id)) for i in incidents]
    return sorted(rows, key=lambda r: (-r["priority"], r["started_at"]))


def incident_detail(engine, incident_id: str, paged_tiers: PagedTiers) -> dict | None:
    """One incident (open or not, while the grouper keeps it): its alerts and the changes around it."""
    from serving.incident_book import summary

    if engine.incidents is None:
        return None
    with engine.reading():
        incident = engine.incidents.incident(incident_id)
        if incident is None:
            return None
        mirror = engine.live.mirror
        held = mirror.alerts[mirror.alerts["alert_id"].isin(incident.alert_ids)]
        changes = engine.incidents.changes_around(incident, mirror.changes)
    answers = engine.log.latest_answers(list(incident.alert_ids))
    found = summary(incident, answers, paged_tiers([incident_id]).get(incident_id))
    found["alert_list"] = _alerts(held, answers)
    found["changes"] = [
        {**c, "description": c["description"] if isinstance(c["description"], str) else None}
        for c in changes[["change_id", "ts", "service", "kind", "description"]].to_dict("records")
    ]
    return found


def _alerts(held, answers) -> list[dict]:
    by_id = answers.set_index("alert_id")
    rows = []
    for alert in held.sort_values(["fired_at", "alert_id"], kind="stable").to_dict("records"):
        answer = by_id.loc[alert["alert_id"]] if alert["alert_id"] in by_id.index else None
        rows.append(
            {
                "alert_id": alert["alert_id"],
                "fired_at": alert["fired_at"],
                "resolved_at": None if _missing(alert["resolved_at"]) else alert["resolved_at"],
                "service": alert["service"],
                "alert_name": alert["alert_name"],
                "severity": alert["severity"],
                "journey": _text(answer, "journey"),
                "stage": _text(answer, "stage"),
                "impact_probability": _number(answer, "impact_probability"),
                "priority": _number(answer, "priority"),
                "tier": _text(answer, "tier"),
            }
        )
    return rows


def _missing(value) -> bool:
    return value is None or value != value  # NaT and NaN are not equal to themselves


def _text(answer, column: str) -> str | None:
    value = None if answer is None else answer[column]
    return value if isinstance(value, str) and value else None


def _number(answer, column: str) -> float | None:
    value = None if answer is None else answer[column]
    return None if value is None or _missing(value) else float(value)


def _json(model) -> Response:
    return Response(model.model_dump_json(), media_type="application/json", headers=NO_STORE)
