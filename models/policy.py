"""What people decide above the model (README.md, "Safe in front of on-call"): floors, and whether to run in shadow.

A policy file (JOURNEYRANK_POLICY, YAML) is validated like the journey map: one ContractError
naming the key and line. A *floor* says that alerts matching its selector never rank below its
tier, whatever the model says; the answer then carries the flag `policy_floor` and the floor's
reason in words. `apply_floors` is the one place it happens, for `/rank` and `journeyrank score`.

    floors:
      - name: slo-burn-rate
        match: {alert_name: "*BurnRate*", labels: {slo: "*"}}   # every condition given must hold
        tier: P2
        reason: SLO burn-rate alerts always page
    shadow: false   # true: rank and log, but answer and forward the original routing
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from features.journey_map import MapValueError, load_yaml_model
from features.values import Severity
from models.ranking import flag_list
from models.tiers import ROUTES, TIERS, Tier

POLICY_FLOOR = "policy_floor"
REGEX_PREFIX = "re:"  # a pattern that starts so is a regular expression; else a glob (fnmatch)


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str) else value


def _patterns_compile(patterns: list[str]) -> list[str]:
    for i, pattern in enumerate(patterns):
        if pattern.startswith(REGEX_PREFIX):
            try:
                re.compile(pattern.removeprefix(REGEX_PREFIX))
            except re.error as err:
                raise MapValueError(f"a valid regular expression ({err})", pattern, (i,)) from None
    return patterns


Patterns = Annotated[
    list[Annotated[str, Field(min_length=1)]],
    BeforeValidator(_as_list),
    AfterValidator(_patterns_compile),
    Field(min_length=1),
]


class _PolicyModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Selector(_PolicyModel):
    """Which alerts a floor holds: each condition given must match (a list: any of its patterns)."""

    alert_name: Patterns | None = None
    source: Patterns | None = None
    severity: Annotated[list[Severity], BeforeValidator(_as_list), Field(min_length=1)] | None = (
        None
    )
    labels: dict[str, Annotated[Patterns, BeforeValidator(_as_list)]] | None = None

    @model_validator(mode="after")
    def _says_something(self) -> Selector:
        if not any(
            v is not None for v in (self.alert_name, self.source, self.severity, self.labels)
        ):
            raise MapValueError("at least one of alert_name, source, severity, labels", None)
        return self

    def matches(self, alerts: pd.DataFrame) -> np.ndarray:
        """One bool per alert (alerts: alert_name, source, severity, labels as JSON text)."""
        hit = np.ones(len(alerts), dtype=bool)
        for column in ("alert_name", "source"):
            patterns = getattr(self, column)
            if patterns is not None:
                hit &= [_any_match(patterns, v) for v in alerts[column].tolist()]
        if self.severity is not None:
            hit &= alerts["severity"].isin(self.severity).to_numpy()
        if self.labels is not None:
            parsed = (
                [_labels(v) for v in alerts["labels"].tolist()]
                if "labels" in alerts
                else [{}] * len(alerts)
            )
            for key, patterns in self.labels.items():
                hit &= [key in found and _any_match(patterns, found[key]) for found in parsed]
        return hit

    def describe(self) -> str:
        parts = [
            f"{name} {' or '.join(values)}"
            for name in ("alert_name", "source", "severity")
            if (values := getattr(self, name)) is not None
        ]
        parts += [f"label {k} {' or '.join(v)}" for k, v in (self.labels or {}).items()]
        return ", ".join(parts)


class Floor(_PolicyModel):
    name: Annotated[str, Field(min_length=1)]
    match: Selector
    tier: Tier
    reason: str | None = None

    def words(self) -> str:
        why = self.reason or f"alerts with {self.match.describe()} never rank below {self.tier}"
        return f"policy floor '{self.name}': {why}"


class Policy(_PolicyModel):
    version: Annotated[str, BeforeValidator(lambda v: str(v) if v is not None else v)] | None = None
    floors: list[Floor] = []
    shadow: bool = False


NO_POLICY = Policy()


def _allowed_keys(parent: tuple[str | int, ...]) -> list[str]:
    model: type[BaseModel] = Policy
    if len(parent) == 2 and parent[0] == "floors":
        model = Floor
    elif len(parent) == 3 and parent[2] == "match":
        model = Selector
    return list(model.model_fields)


def load_policy(path: str | Path | None) -> Policy:
    """The policy file, validated (ContractError naming key and line); no file: no floors, no shadow."""
    if path is None:
        return NO_POLICY
    return load_yaml_model(
        path, Policy, "a policy (a mapping with floors and shadow)", _allowed_keys
    )


def apply_floors(
    answers: pd.DataFrame,
    alerts: pd.DataFrame,
    policy: Policy,
    escalation_for: Callable[[str], str | None] = lambda tier: None,
) -> pd.DataFrame:
    """Raise each answer to the best floor its alert matches; flag it and say why; keep tier order.

    answers: the ranker's (ANSWER_COLUMNS, reasons as JSON text, flags comma-joined); alerts: the
    alerts ranked (alert_id, alert_name, source, severity, labels). A floored alert moves up to
    just before the first answer left below its new tier; nothing else moves.
    """
    if not policy.floors or answers.empty:
        return answers
    rows = alerts.drop_duplicates("alert_id", keep="last").set_index("alert_id")
    rows = rows.reindex(answers["alert_id"]).reset_index()
    best = np.full(len(answers), len(TIERS), dtype=np.int64)  # index into TIERS; none = past P4
    which = np.full(len(answers), -1, dtype=np.int64)
    for i, floor in enumerate(policy.floors):
        level = TIERS.index(floor.tier)
        hit = floor.match.matches(rows) & (level < best)
        best[hit], which[hit] = level, i
    current = answers["tier"].map(TIERS.index).to_numpy()
    raised = best < current
    if not raised.any():
        return answers
    out = answers.copy()
    for position in np.flatnonzero(raised):
        floor = policy.floors[which[position]]
        was = out.at[position, "tier"]
        out.at[position, "tier"] = floor.tier
        out.at[position, "route"] = ROUTES[floor.tier]
        out.at[position, "escalation"] = escalation_for(floor.tier)
        reasons = json.loads(out.at[position, "reasons"])
        out.at[position, "reasons"] = json.dumps(
            [f"{floor.words()} (the model said {was})", *reasons]
        )
        out.at[position, "flags"] = ",".join(
            [*flag_list(str(out.at[position, "flags"])), POLICY_FLOOR]
        )
    return out.iloc[_floored_order(current, best, raised)].reset_index(drop=True)


def _floored_order(current: np.ndarray, floor: np.ndarray, raised: np.ndarray) -> np.ndarray:
    """The answers' order once floored: each raised answer moves up to just before the first
    answer left below its new tier; nothing else moves (the order may rank by more than tier)."""
    key = np.arange(len(current), dtype=np.float64)
    kept = np.flatnonzero(~raised)
    for position in np.flatnonzero(raised):
        below = kept[current[kept] > floor[position]]
        if len(below) and below[0] < position:
            key[position] = below[0] - 0.5
    return np.lexsort((np.arange(len(key)), key))


def _any_match(patterns: list[str], value: object) -> bool:
    if not isinstance(value, str):
        return False
    for pattern in patterns:
        if pattern.startswith(REGEX_PREFIX):
            if re.search(pattern.removeprefix(REGEX_PREFIX), value):
                return True
        elif fnmatch.fnmatchcase(value, pattern):
            return True
    return False


def _labels(value: object) -> dict[str, str]:
    if isinstance(value, dict):
        found = value
    elif isinstance(value, str) and value:
        try:
            found = json.loads(value)
        except ValueError:
            return {}
    else:
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}
