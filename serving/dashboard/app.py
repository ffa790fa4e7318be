"""The dashboard's web app: the ranked queue by incident, journey health and a drill-down per alert
and per incident (`GET /ui`).

Read-only and offline: pages are rendered on the server (charts as inline SVG); the one script
and style sheet ship in static/. Handlers are plain functions: Starlette runs them on its thread
pool, so reading the engine's state never blocks the service's event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from features.settings import Settings, load_settings
from serving.dashboard import auth

HERE = Path(__file__).parent
REFRESH_S = 15
NO_STORE = {"cache-control": "no-store"}
_templates = Environment(
    loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"])
)


def create_dashboard(
    engine_of: Callable[[], object],
    paged_tiers: Callable[[list[str]], dict[str, str]] = lambda ids: {},
) -> Starlette:
    """The dashboard app; `engine_of()` gives the service's RankingEngine when a request comes,
    `paged_tiers` the tier each incident was paged at (nothing without forwarding)."""
    # pandas and the engine's modules load in the worker at the first page, not where the
    # service module is only imported to read its shape (see serving/service.py)

    def queue_page(request: Request) -> Response:
        from serving.dashboard import data

        engine, filters = engine_of(), _filters(request)
        rows = data.queue(engine, filters)
        return _page(
            request,
            engine,
            "queue.html",
            rows=rows,
            incidents=data.queue_incidents(engine, rows),
            filters=filters,
            choices=data.filter_choices(engine),
            hours=data.QUEUE_HOURS,
            refresh_s=REFRESH_S,
        )

    def queue_api(request: Request) -> Response:
        from serving.dashboard import data

        engine = engine_of()
        rows = data.queue(engine, _filters(request))
        incidents = data.queue_incidents(engine, rows)
        return JSONResponse({"rows": rows, "incidents": incidents}, headers=NO_STORE)

    def health_page(request: Request) -> Response:
        from serving.dashboard import data, svg

        engine = engine_of()
        journeys = data.journey_health(engine, data.queue(engine, data.Filters()))
        for journey in journeys:
            journey["funnel_svg"] = svg.funnel(journey["stages"])
        return _page(
            request,
            engine,
            "health.html",
            journeys=journeys,
            map_gaps=data.map_gaps(engine),
            window_min=data.HEALTH_WINDOW_MIN,
            hurting_z=data.HURTING_Z,
            hurting_drop=data.HURTING_DROP,
        )

    def alert_page(request: Request) -> Response:
        from serving.dashboard import data, svg

        engine = engine_of()
        detail = data.alert_detail(engine, request.path_params["alert_id"])
        if detail is None:
            return _page(request, engine, "missing.html", status_code=404)
        chart = detail["waterfall"]
        return _page(
            request,
            engine,
            "alert.html",
            a=detail,
            waterfall_svg=svg.waterfall(chart["items"], chart["base"], chart["total"]),
            curve_svg=svg.curve(detail["curve"], marker=0.0),
        )

    def incident_page(request: Request) -> Response:
        from serving.dashboard import data, svg

        engine = engine_of()
        detail = data.incident_detail(engine, request.path_params["incident_id"], paged_tiers)
        if detail is None:
            return _page(request, engine, "missing.html", status_code=404, what="incident")
        events = [
            (x, f"{name} ({tier or 'not ranked'})", svg.TIER_COLOURS.get(tier, svg.MUTED))
            for x, name, tier in detail["alert_marks"]
        ]
        events += [(x, label, svg.CHANGE) for x, label in detail["change_marks"]]  # fmt: skip
        return _page(
            request,
            engine,
            "incident.html",
            i=detail,
            timeline_svg=svg.curve(
                detail["curve"],
                marker=0.0,
                x_label="minutes from the incident's start",
                marker_label="incident started",
                events=events,
            ),
        )

    async def login(request: Request) -> Response:
        token = auth.configured_token(_settings_of(engine_of()))
        if token is None:
            return RedirectResponse(f"{_base(request)}/", status_code=303)
        if request.method == "GET":
            return _login_form(request)
        form = await request.form()
        if not auth.token_matches(str(form.get("token", "")), token):
            return _login_form(request, "That token is not right.", status_code=401)
        response = RedirectResponse(f"{_base(request)}/", status_code=303)
        value, max_age = auth.new_session(token, _settings_of(engine_of()).dashboard_session_hours)
        response.set_cookie(
            auth.COOKIE,
            value,
            max_age=max_age,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path=f"{_base(request)}/",
        )
        return response

    def logout(request: Request) -> Response:
        response = RedirectResponse(f"{_base(request)}/login", status_code=303)
        response.delete_cookie(auth.COOKIE, path=f"{_base(request)}/")
        return response

    return Starlette(
        routes=[
            Route("/", queue_page),
            Route("/health", health_page),
            Route("/alerts/{alert_id:path}", alert_page),
            Route("/incidents/{incident_id:path}", incident_page),
            Route("/api/queue", queue_api),
            Route("/login", login, methods=["GET", "POST"]),
            Route("/logout", logout, methods=["GET", "POST"]),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ],
        middleware=[Middleware(SignInRequired, engine_of=engine_of)],
    )


class SignInRequired:
    """With a token configured, pages redirect to the sign-in form and the JSON API answers 401
    until the request's cookie proves the token was given."""

    def __init__(self, app: ASGIApp, engine_of: Callable[[], object]) -> None:
        self.app = app
        self.engine_of = engine_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = _route_path(scope)
        if scope["type"] != "http" or path == "/login" or path.startswith("/static/"):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        token = auth.configured_token(_settings_of(self.engine_of()))
        if auth.signed_in(request.cookies.get(auth.COOKIE), token):
            await self.app(scope, receive, send)
            return
        if path.startswith("/api/"):
            response: Response = JSONResponse({"error": "sign in first"}, status_code=401)
        else:
            response = RedirectResponse(f"{_base(request)}/login", status_code=303)
        await response(scope, receive, send)


def _settings_of(engine) -> Settings:
    """The settings the service was built with (an engine made without them: the environment's)."""
    return getattr(engine, "settings", None) or load_settings()


def _page(request: Request, engine, template: str, status_code: int = 200, **values) -> Response:
    from serving.dashboard.data import now_ns

    now = datetime.fromtimestamp(now_ns(engine) / 1e9, UTC)
    body = _templates.get_template(template).render(
        base=_base(request),
        page=template.removesuffix(".html"),
        model=engine.model,
        now=f"{now:%Y-%m-%d %H:%M} UTC",
        sign_out=auth.configured_token(_settings_of(engine)) is not None,
        **values,
    )
    return HTMLResponse(body, status_code=status_code, headers=NO_STORE)


def _login_form(request: Request, error: str | None = None, status_code: int = 200) -> Response:
    body = _templates.get_template("login.html").render(base=_base(request), error=error)
    return HTMLResponse(body, status_code=status_code, headers=NO_STORE)


def _filters(request: Request):
    from serving.dashboard.data import FILTERED, Filters

    return Filters(**{name: request.query_params.get(name) or None for name in FILTERED})


def _base(request: Request) -> str:
    """Where the app is mounted (`/ui`): every link and the cookie's path start there."""
    return request.scope.get("root_path", "").rstrip("/")


def _route_path(scope: Scope) -> str:
    root = scope.get("root_path", "")
    path = scope["path"]
    return path[len(root) :] if root and path.startswith(root) else path
