"""The journey map: journeys, their stages in funnel order, the services each stage needs, and routing."""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import pandas as pd
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from pydantic_core import ErrorDetails

from features.errors import ContractError, Verbatim

ServiceKind = Literal["hard", "soft"]


class MapValueError(ValueError):
    """A failed journey-map check carrying the message parts; `at` points below the checked field."""

    def __init__(self, expected: str, got: object = None, at: tuple[str | int, ...] = ()) -> None:
        super().__init__(expected)
        self.expected = expected
        self.got = got
        self.at = at


def _check_unit_interval(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise MapValueError("a number in [0, 1]", value)
    return value


def _version_as_text(value: object) -> object:
    # YAML reads an unquoted 2026-11-01 as a date; the version is a label, so keep it as written.
    if isinstance(value, dt.date | int | float) and not isinstance(value, bool):
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    return value


def _none_as_empty(value: object) -> object:
    # `playbooks:` with nothing under it is YAML null; read it as "none given".
    return {} if value is None else value


UnitInterval = Annotated[float, AfterValidator(_check_unit_interval)]
Version = Annotated[str, BeforeValidator(_version_as_text), Field(min_length=1)]
Weight = Annotated[float, Field(ge=0)]


class _MapModel(BaseModel):
    # Unknown keys are refused: a misspelt `servces:` must not silently drop a stage's services.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Stage(_MapModel):
    """One step of a journey and the services it depends on."""

    name: Annotated[str, Field(min_length=1)]
    impact: UnitInterval
    value: Annotated[float, Field(gt=0)] = 1.0
    owner: str | None = None
    services: Annotated[dict[str, ServiceKind], BeforeValidator(_none_as_empty)]
    playbooks: Annotated[dict[str, str], BeforeValidator(_none_as_empty)] = {}


class Journey(_MapModel):
    """A journey's stages, in funnel order."""

    stages: Annotated[list[Stage], Field(min_length=1)]

    @field_validator("stages")
    @classmethod
    def _stage_names_unique(cls, stages: list[Stage]) -> list[Stage]:
        seen: set[str] = set()
        for position, stage in enumerate(stages):
            if stage.name in seen:
                raise MapValueError(
                    "stage names unique within the journey", stage.name, (position, "name")
                )
            seen.add(stage.name)
        return stages


class JourneyMap(_MapModel):
    """The journey map (journey_map.yaml), with the look-ups every layer uses."""

    version: Version
    segments: Annotated[dict[str, Weight], BeforeValidator(_none_as_empty)] = {}
    journeys: Annotated[dict[str, Journey], Field(min_length=1)]
    dependencies: Annotated[dict[str, list[str]], BeforeValidator(_none_as_empty)] = {}
    escalation: Annotated[dict[str, str], BeforeValidator(_none_as_empty)] = {}

    def stage_table(self) -> pd.DataFrame:
        """One row per (journey, stage): funnel position (0-based), journey length, impact, value, owner."""
        rows = [
            {
                "journey": journey_name,
                "stage": stage.name,
                "position": position,
                "n_stages": len(journey.stages),
                "impact": stage.impact,
                "value": stage.value,
                "owner": stage.owner,
            }
            for journey_name, journey in self.journeys.items()
            for position, stage in enumerate(journey.stages)
        ]
        return pd.DataFrame(rows, columns=_STAGE_COLUMNS).astype(_STAGE_DTYPES)

    def find_stage(self, journey: str, stage: str) -> Stage | None:
        found = self.journeys.get(journey)
        if found is None:
            return None
        return next((candidate for candidate in found.stages if candidate.name == stage), None)

    def segment_weight(self, segment: str) -> float:
        """Worth of a lost conversion in this segment relative to others; unlisted segments weigh 1."""
        return float(self.segments.get(segment, 1.0))

    def service_stage_links(self) -> pd.DataFrame:
        """Every (service, journey, stage) link, direct (hops 0) or through dependencies (hops ≥ 1)."""
        best: dict[tuple[str, str, str], tuple[int, int]] = {}
        for journey_name, stage, service, kind in self._direct_links():
            for reached, hops in trace_dependencies(service, self.dependencies).items():
                key = (reached, journey_name, stage.name)
                # Shortest path wins; on a tie, 'hard' (ranked 0) beats 'soft' (ranked 1).
                candidate = (hops, _KIND_RANK[kind])
                if key not in best or candidate < best[key]:
                    best[key] = candidate
        return self._links_frame(best)

    def covered_services(self) -> set[str]:
        """Services the map links to at least one stage, directly or through dependencies."""
        covered: set[str] = set()
        for _, _, service, _ in self._direct_links():
            covered.update(trace_dependencies(service, self.dependencies))
        return covered

    def escalation_for(self, tier: str) -> str | None:
        return self.escalation.get(tier)

    def playbook_for(self, journey: str, stage: str, signal: str | None) -> str | None:
        """The stage's playbook for this signal, else its 'default' one, else None."""
        found = self.find_stage(journey, stage)
        if found is None:
            return None
        if signal is not None and signal in found.playbooks:
            return found.playbooks[signal]
        return found.playbooks.get("default")

    def _direct_links(self) -> list[tuple[str, Stage, str, str]]:
        return [
            (journey_name, stage, service, kind)
            for journey_name, journey in self.journeys.items()
            for stage in journey.stages
            for service, kind in stage.services.items()
        ]

    def _links_frame(self, best: dict[tuple[str, str, str], tuple[int, int]]) -> pd.DataFrame:
        # Rows in funnel order (journeys as the map lists them), nearest services first.
        order = {
            (journey_name, stage.name): (journey_index, position)
            for journey_index, (journey_name, journey) in enumerate(self.journeys.items())
            for position, stage in enumerate(journey.stages)
        }
        rows = sorted(
            (
                (service, journey, stage, _KINDS[kind_rank], hops)
                for (service, journey, stage), (hops, kind_rank) in best.items()
            ),
            key=lambda row: (order[(row[1], row[2])], row[4], row[0]),
        )
        return pd.DataFrame(rows, columns=_LINK_COLUMNS).astype(_LINK_DTYPES)


_KIND_RANK = {"hard": 0, "soft": 1}
_KINDS = {rank: kind for kind, rank in _KIND_RANK.items()}
_STAGE_COLUMNS = ["journey", "stage", "position", "n_stages", "impact", "value", "owner"]
_STAGE_DTYPES = {
    "journey": "str",
    "stage": "str",
    "position": "int64",
    "n_stages": "int64",
    "impact": "float64",
    "value": "float64",
    "owner": "str",
}
_LINK_COLUMNS = ["service", "journey", "stage", "kind", "hops"]
_LINK_DTYPES = {"service": "str", "journey": "str", "stage": "str", "kind": "str", "hops": "int64"}


def trace_dependencies(service: str, dependencies: dict[str, list[str]]) -> dict[str, int]:
    """The service and everything it calls, transitively, each with its shortest hop count."""
    hops = {service: 0}
    queue = deque([service])
    while queue:
        caller = queue.popleft()
        for callee in dependencies.get(caller, []):
            if callee not in hops:  # also what keeps a dependency cycle from looping
                hops[callee] = hops[caller] + 1
                queue.append(callee)
    return hops


# ---------------------------------------------------------------- loading


def load_journey_map(path: str | Path) -> JourneyMap:
    """Read and validate journey_map.yaml; any problem is one ContractError naming the key and line."""
    return load_yaml_model(path, JourneyMap, "a journey map (a mapping with version and journeys)")


M = TypeVar("M", bound=BaseModel)


def load_yaml_model(
    path: str | Path,
    model: type[M],
    what: str,
    allowed_keys: Callable[[tuple[str | int, ...]], list[str]] | None = None,
) -> M:
    """Read a YAML file into a pydantic model; any problem is one ContractError naming key and line.

    `what` describes the whole file for an empty one; `allowed_keys(parent path)` lists the keys
    a mapping may hold, for the message about an unknown one (default: the journey map's).
    """
    path = Path(path)
    text = _read_text(path)
    root = _compose(text, path.name)
    if root is None:
        raise ContractError(path.name, "", what, got=Verbatim("an empty file"))
    if not isinstance(root, yaml.MappingNode):
        got = Verbatim("a list") if isinstance(root, yaml.SequenceNode) else root.value
        raise ContractError(path.name, "", what, row=_line(root), got=got)
    _check_unique_keys(root, (), path.name)
    data = _construct(text, path.name)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _to_contract_error(exc, root, path.name, allowed_keys or _allowed_keys) from None


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise ContractError(path.name, "", "an existing file", got=Verbatim(f"no file at {path}"))
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ContractError(path.name, "", "UTF-8 text", got=Verbatim(str(exc))) from None


def _compose(text: str, file: str) -> yaml.Node | None:
    with _yaml_errors_as_contract_errors(file):
        return yaml.compose(text, Loader=yaml.SafeLoader)


def _construct(text: str, file: str) -> Any:
    with _yaml_errors_as_contract_errors(file):
        return yaml.safe_load(text)


@contextmanager
def _yaml_errors_as_contract_errors(file: str) -> Iterator[None]:
    try:
        yield
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ContractError(
            file, "", "valid YAML", row=line, got=Verbatim(str(exc.problem))
        ) from None
    except yaml.YAMLError as exc:
        raise ContractError(file, "", "valid YAML", got=Verbatim(str(exc))) from None


def _check_unique_keys(node: yaml.Node, path: tuple[str | int, ...], file: str) -> None:
    # YAML keeps the last of two equal keys without a word; a repeated journey would vanish.
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _check_unique_keys(item, (*path, index), file)
    if not isinstance(node, yaml.MappingNode):
        return
    first_line: dict[str, int] = {}
    for key_node, value_node in node.value:
        key = str(key_node.value)
        if key in first_line:
            raise ContractError(
                file,
                format_key_path((*path, key)),
                "each key once",
                row=_line(key_node),
                got=Verbatim(f"'{key}' again (first at line {first_line[key]})"),
            )
        first_line[key] = _line(key_node)
        _check_unique_keys(value_node, (*path, key), file)


def format_key_path(loc: tuple[str | int, ...]) -> str:
    """('journeys', 'a_journey', 'stages', 0, 'impact') -> 'journeys.a_journey.stages[0].impact'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _to_contract_error(
    exc: ValidationError, root: yaml.Node, file: str, allowed_keys: Callable
) -> ContractError:
    errors = [_describe_error(error, root, file, allowed_keys) for error in exc.errors()]
    # Report the problem nearest the top of the file, as a reader would meet it.
    return min(errors, key=lambda error: error.row if error.row is not None else float("inf"))


def _describe_error(
    error: ErrorDetails, root: yaml.Node, file: str, allowed_keys: Callable
) -> ContractError:
    loc = tuple(error["loc"])
    expected, got = _expected_and_got(error, loc, allowed_keys)
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, MapValueError):
        loc = (*loc, *cause.at)
    return ContractError(file, format_key_path(loc), expected, row=_line_of(root, loc), got=got)


_EXPECTED_BY_TYPE = {
    "missing": "a value (this key is required)",
    "float_parsing": "a number",
    "float_type": "a number",
    "string_type": "text",
    "dict_type": "a mapping (key: value)",
    "list_type": "a list",
    "bool_parsing": "true or false",
}


def _expected_and_got(
    error: ErrorDetails, loc: tuple[str | int, ...], allowed_keys: Callable
) -> tuple[str, object]:
    kind, ctx, given = error["type"], error.get("ctx", {}), error.get("input")
    cause = ctx.get("error")
    if isinstance(cause, MapValueError):
        return cause.expected, cause.got
    if kind == "missing":
        return _EXPECTED_BY_TYPE[kind], None
    if kind == "extra_forbidden":
        return f"one of the keys {', '.join(allowed_keys(loc[:-1]))}", Verbatim(
            f"unknown key '{loc[-1]}'"
        )
    if kind == "literal_error":
        return ctx["expected"].replace("'", ""), given
    bounds = {
        "greater_than": ">",
        "greater_than_equal": "≥",
        "less_than": "<",
        "less_than_equal": "≤",
    }
    if kind in bounds:
        limit = next(iter(ctx.values()))
        return f"a number {bounds[kind]} {limit:g}", given
    if kind == "too_short":
        return "at least one entry", Verbatim("none")
    return _EXPECTED_BY_TYPE.get(kind, error["msg"].removeprefix("Input should be ")), given


def _allowed_keys(parent: tuple[str | int, ...]) -> list[str]:
    # Only three kinds of mapping exist in the map, told apart by the shape of their path.
    model: type[BaseModel] = JourneyMap
    if len(parent) == 2 and parent[0] == "journeys":
        model = Journey
    elif len(parent) == 4 and parent[2] == "stages":
        model = Stage
    return list(model.model_fields)


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _line_of(root: yaml.Node, loc: tuple[str | int, ...]) -> int | None:
    """The line of the key at `loc`, or of the deepest part of it the file has (a missing key)."""
    node, line = root, _line(root)
    for part in loc:
        child = _child(node, part)
        if child is None:
            break
        node, line = child[1], _line(child[0])
    return line


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        return next(((k, v) for k, v in node.value if str(k.value) == str(part)), None)
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part], node.value[part]
    return None
