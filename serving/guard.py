"""ASGI middleware in front of every route: the bearer token on POSTs and the incident routes, and validation errors as 422s."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from features.settings import Settings, load_settings

OPEN_PATHS = ("/healthz", "/readyz", "/livez", "/metrics", "/docs", "/docs.json", "/ui")
DASHBOARD_PATH = "/ui"
INCIDENTS_PATH = "/incidents"  # GET routes, mounted: what they tell is as private as the POSTs
READY_PATH = "/readyz"


class Guard:
    """With JOURNEYRANK_API_TOKEN set, a POST or an incident route's request without
    `Authorization: Bearer <token>` gets 401.

    And /readyz says when the service is degraded: still 200 (fail-open: it answers every /rank,
    with the criticality rule), with a JSON body naming each cause.
    """

    def __init__(
        self,
        app: ASGIApp,
        degraded: Callable[[], dict[str, str]] | None = None,
        settings: Callable[[], Settings] = load_settings,
    ) -> None:
        self.app = app
        self.degraded = degraded
        self.settings = settings  # the running service's: reading the environment costs ms

    @property
    def token(self) -> str | None:
        return self.settings().api_token  # never logged

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _under(scope["path"], DASHBOARD_PATH):
            # the dashboard signs its users in with a cookie of its own (serving/dashboard/auth.py)
            await self.app(scope, receive, send)
            return
        if scope["path"] == READY_PATH and self.degraded is not None:
            causes = self.degraded()
            if causes:
                await _json(send, 200, {"status": "degraded", "causes": causes})
                return
        if scope["path"] == INCIDENTS_PATH:  # the mounted app's root, without a redirect
            scope = {**scope, "path": INCIDENTS_PATH + "/", "raw_path": b"/incidents/"}
        token = self.token
        guarded = scope["method"] == "POST" or _under(scope["path"], INCIDENTS_PATH)
        if guarded and token and not self._authorized(scope, token):
            await _json(
                send,
                401,
                {"error": "missing or wrong bearer token (Authorization: Bearer <token>)"},
                {"www-authenticate": "Bearer"},
            )
            return
        await self.app(
            scope, receive, _ValidationAs422(send) if scope["method"] == "POST" else send
        )

    def _authorized(self, scope: Scope, token: str) -> bool:
        header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
        scheme, _, given = header.partition(" ")
        # compare_digest: the time taken says nothing about how much of the token was right
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        )


class _ValidationAs422:
    """BentoML answers a body that fails its types with 400; say 422 and name the field, as the API promises.

    Every 4xx body leaves as one JSON object with an "error" message.
    """

    def __init__(self, send: Send) -> None:
        self.send = send
        self.start: Message | None = None
        self.body = b""

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start" and 400 <= message["status"] < 500:
            self.start = message
            return
        if self.start is None:
            await self.send(message)
            return
        self.body += message.get("body", b"")
        if message.get("more_body"):
            return
        status, body = self.start["status"], self.body
        try:
            parsed = json.loads(self.body)
        except ValueError:
            parsed = None
        if isinstance(parsed, list) and len(parsed) == 1 and isinstance(parsed[0], dict):
            body = json.dumps(parsed[0]).encode()  # BentoML wraps some errors in a one-item list
        elif status == 400 and isinstance(parsed, dict) and isinstance(parsed.get("detail"), list):
            status, body = (
                422,
                json.dumps({**parsed, "error": _first_problem(parsed["detail"])}).encode(),
            )
        headers = [(k, v) for k, v in self.start["headers"] if k.lower() != b"content-length"]
        await self.send(
            {
                **self.start,
                "status": status,
                "headers": [*headers, (b"content-length", str(len(body)).encode())],
            }
        )
        await self.send({"type": "http.response.body", "body": body})


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _first_problem(details: list[dict]) -> str:
    if not details:
        return "invalid request body"
    first = details[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return f"{where}: {first.get('msg', 'invalid')}{more}"


async def _json(
    send: Send, status: int, payload: dict, headers: dict[str, str] | None = None
) -> None:
    body = json.dumps(payload).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
