"""Schema-driven fuzzing of every POST route in the service's OpenAPI document (Hypothesis).

Bodies follow each route's request schema, then some are broken on purpose: a value swapped for
any JSON, a required key dropped, an unknown key added, or the body is not JSON at all. Every
answer must be below 500, and every 4xx must carry an "error" message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ANY_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and infinities too: Python writes them, strict parsers refuse them
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@dataclass
class FuzzResult:
    requests: dict[str, int] = field(default_factory=dict)
    server_errors: list[tuple[str, str, int, str]] = field(default_factory=list)
    silent_4xx: list[tuple[str, str, int, str]] = field(default_factory=list)
    accepted: int = 0  # 2xx answers

    @property
    def total(self) -> int:
        return sum(self.requests.values())


def fuzz_post_routes(client: httpx.Client, examples_per_route: int) -> FuzzResult:
    """`client`: an httpx client on the service (its base_url, any auth header)."""
    spec = client.get("/docs.json").json()
    components = spec.get("components", {}).get("schemas", {})
    result = FuzzResult()
    for path, item in spec["paths"].items():
        if "post" not in item:
            continue
        schema = item["post"]["requestBody"]["content"]["application/json"]["schema"]
        _fuzz_one(client, path, body_strategy(schema, components), examples_per_route, result)
    return result


def _fuzz_one(client, path, bodies, examples: int, result: FuzzResult) -> None:
    result.requests[path] = 0

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(bodies)
    def send(raw: bytes) -> None:
        answer = client.post(path, content=raw, headers={"content-type": "application/json"})
        result.requests[path] += 1
        sample = (path, raw[:300].decode("utf-8", "replace"), answer.status_code, answer.text[:300])
        if answer.status_code >= 500:
            result.server_errors.append(sample)
        elif answer.status_code >= 400 and not _has_message(answer):
            result.silent_4xx.append(sample)
        elif answer.is_success:
            result.accepted += 1

    send()


def _has_message(answer: httpx.Response) -> bool:
    try:
        message = answer.json().get("error")
    except (ValueError, AttributeError):
        return False
    return isinstance(message, str) and bool(message.strip())


# ---------------------------------------------------------------------- schema to strategy


def body_strategy(schema: dict, components: dict) -> st.SearchStrategy[bytes]:
    valid = from_schema(schema, components)
    broken = valid.flatmap(_broken)
    not_json = st.sampled_from([b"", b"{", b"null", b"[]", b"\xff\xfe", b'{"a": 1}x'])
    return st.one_of(
        valid.map(_dumps), valid.map(_dumps), broken.map(_dumps), not_json | st.binary(max_size=40)
    )


def _dumps(value) -> bytes:
    return json.dumps(value, allow_nan=True, default=str).encode()


def from_schema(schema: dict, components: dict, depth: int = 0) -> st.SearchStrategy:
    if "$ref" in schema:
        return from_schema(components[schema["$ref"].rsplit("/", 1)[-1]], components, depth)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([from_schema(s, components, depth) for s in schema[key]])
    if "allOf" in schema:
        return from_schema(schema["allOf"][0], components, depth)
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if depth > 4:
        return st.none()
    if kind == "object" or "properties" in schema:
        return _object(schema, components, depth)
    if kind == "array":
        item = from_schema(schema.get("items", {}), components, depth + 1)
        return st.lists(item, max_size=min(schema.get("maxItems", 4), 4))
    if kind == "string":
        return _string(schema)
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum")) | st.integers()
    if kind == "number":
        bounded = st.floats(schema.get("minimum"), schema.get("maximum"), allow_nan=False)
        return bounded | st.floats()
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return ANY_JSON


def _object(schema: dict, components: dict, depth: int) -> st.SearchStrategy:
    properties = schema.get("properties", {})
    required = set(schema.get("required", ()))
    fields = {k: from_schema(v, components, depth + 1) for k, v in properties.items()}
    extra = schema.get("additionalProperties")
    free = (
        st.dictionaries(st.text(max_size=10), from_schema(extra, components, depth + 1), max_size=3)
        if isinstance(extra, dict)
        else st.just({})
    )
    return st.builds(
        lambda fixed, optional, more: {**more, **fixed, **optional},
        st.fixed_dictionaries({k: v for k, v in fields.items() if k in required}),
        st.fixed_dictionaries({}, optional={k: v for k, v in fields.items() if k not in required}),
        free,
    )


def _string(schema: dict) -> st.SearchStrategy:
    if schema.get("format") == "date-time":
        aware = st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat())
        return aware | st.datetimes().map(lambda d: d.isoformat()) | st.text(max_size=30)
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    return st.text(min_size=low, max_size=min(high or 40, 40)) | st.text(max_size=5)


@st.composite
def _broken(draw, value):
    """The same body with one thing wrong: a value replaced, a key dropped or an unknown one added."""
    if isinstance(value, dict) and value:
        key = draw(st.sampled_from(sorted(value)))
        how = draw(st.sampled_from(("replace", "drop", "add", "deeper")))
        if how == "replace":
            return {**value, key: draw(ANY_JSON)}
        if how == "drop":
            return {k: v for k, v in value.items() if k != key}
        if how == "add":
            return {**value, draw(st.text(max_size=10)): draw(ANY_JSON)}
        return {**value, key: draw(_broken(value[key]))}
    if isinstance(value, list) and value:
        i = draw(st.integers(0, len(value) - 1))
        return [*value[:i], draw(_broken(value[i])), *value[i + 1 :]]
    return draw(ANY_JSON)
