"""Schemathesis fuzzing of every POST route in the running service's OpenAPI document.

Each route gets bodies that fit its schema (positive), bodies that break it (negative), and bodies
that are not JSON at all (a generated body cut short, or raw bytes). Every answer must be below
500, every 4xx must carry an "error" message, and every 2xx must match the documented response.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

# each kind of body: the data Schemathesis generates, and whether it is sent as JSON
MODES = {
    "positive": (GenerationMode.POSITIVE, False),
    "negative": (GenerationMode.NEGATIVE, False),
    "not-json": (GenerationMode.POSITIVE, True),
}


@dataclass
class FuzzResult:
    requests: Counter = field(default_factory=Counter)  # (path, mode) -> requests sent
    server_errors: list[tuple[str, str, int, str]] = field(default_factory=list)
    silent_4xx: list[tuple[str, str, int, str]] = field(default_factory=list)
    off_schema_2xx: list[tuple[str, str, int, str]] = field(default_factory=list)
    accepted: int = 0  # 2xx answers

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def per_route(self) -> dict[str, int]:
        routes: Counter = Counter()
        for (path, _), n in self.requests.items():
            routes[path] += n
        return dict(routes)

    @property
    def errors(self) -> int:
        return len(self.server_errors) + len(self.silent_4xx) + len(self.off_schema_2xx)


def fuzz_post_routes(
    url: str, examples_per_route: int, headers: dict[str, str] | None = None
) -> FuzzResult:
    """`examples_per_route` is split evenly over the three kinds of body; `headers` go on every request."""
    schema = schemathesis.openapi.from_url(
        f"{url}/docs.json", config=schemathesis.Config(), timeout=30
    ).include(method="POST")
    result = FuzzResult()
    with requests.Session() as session:
        session.headers.update(headers or {})
        for operation in schema.get_all_operations():
            operation = operation.ok()  # a route the loader cannot read fails the run here
            for mode in MODES:
                _fuzz(operation, mode, url, session, examples_per_route // len(MODES), result)
    return result


def _fuzz(operation, mode: str, url: str, session, examples: int, result: FuzzResult) -> None:
    generation, not_json = MODES[mode]
    cases = operation.as_strategy(generation_mode=generation)
    cuts = _cuts() if not_json else st.none()
    result.requests[(operation.path, mode)] = 0

    # derandomize: the same requests on every run; no database, no deadline: a bounded, steady step
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases, cut=cuts)
    def send(case, cut) -> None:
        body = {} if cut is None else {"data": _broken(case.body, cut)}
        answer = case.call(base_url=url, session=session, timeout=60, **body)
        result.requests[(operation.path, mode)] += 1
        sent = answer.request.body or b""
        sample = (operation.path, _text(sent), answer.status_code, answer.text[:300])
        if answer.status_code >= 500:
            result.server_errors.append(sample)
        elif answer.status_code >= 400 and not _has_message(answer):
            result.silent_4xx.append(sample)
        elif 200 <= answer.status_code < 300:
            result.accepted += 1
            try:
                case.validate_response(answer, checks=[response_schema_conformance])
            except schemathesis.errors.FailureGroup as failure:
                result.off_schema_2xx.append((*sample[:3], str(failure)[:300]))

    send()


def _cuts() -> st.SearchStrategy:
    """Where to cut the generated JSON (a fraction of its length), or raw bytes instead of it."""
    return st.floats(0, 1, exclude_max=True) | st.binary(max_size=40)


def _broken(body, cut: float | bytes) -> bytes:
    if isinstance(cut, bytes):
        return cut
    text = json.dumps(body, default=str).encode()
    return text[: int(len(text) * cut)]  # shorter than the whole: never a complete JSON document


def _has_message(answer) -> bool:
    try:
        message = answer.json().get("error")
    except (ValueError, AttributeError):
        return False
    return isinstance(message, str) and bool(message.strip())


def _text(sent: bytes | str) -> str:
    return (sent if isinstance(sent, str) else sent.decode("utf-8", "replace"))[:300]
