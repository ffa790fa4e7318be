"""The data contract as data: one table spec per file, with the pandera checks that enforce it."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd

with warnings.catch_warnings():
    # With pyspark installed (the `spark` extra), pandera imports pyspark.pandas, on import and in
    # the checks its first validation loads; PySpark warns that it does not fully support pandas 3.
    # Nothing here uses it, and the Spark engine moves data through Arrow only
    # (pipeline/spark/session.py says why that works).
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    import pandera.backends.pandas.builtin_checks  # noqa: F401  (imported by the first validation)
    import pandera.pandas as pa
    from pandera.errors import SchemaErrors  # noqa: F401  (loading.py takes it from here)

from features.values import SEVERITIES, SIGNALS

SESSION_EVENTS = ("enter", "complete", "abandon", "error")

# Canonical in-memory dtypes: every loader returns exactly these, whatever the file format.
TIMESTAMP_DTYPE = pd.DatetimeTZDtype("ns", "UTC")
STRING_DTYPE = pd.StringDtype(na_value=np.nan)  # pandas 3's default "str"
INT_DTYPE = np.dtype("int64")
NULLABLE_INT_DTYPE = pd.Int64Dtype()  # an optional count can be absent, which int64 cannot hold
FLOAT_DTYPE = np.dtype("float64")

Kind = Literal["string", "timestamp", "int", "float"]
_DTYPE_OF_KIND = {
    "string": STRING_DTYPE,
    "timestamp": TIMESTAMP_DTYPE,
    "int": INT_DTYPE,
    "float": FLOAT_DTYPE,
}

# What a value of each kind must look like, in the words of an error message.
KIND_EXPECTED: dict[str, str] = {
    "string": "text",
    "timestamp": "a timestamp with a time zone",
    "int": "a whole number",
    "float": "a number",
}


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a contract table: its kind, whether a file must have it, and what it means."""

    name: str
    dtype: Kind
    required: bool
    description: str = ""
    nullable: bool | None = None  # None: nullable exactly when optional
    checks: tuple[pa.Check, ...] = ()
    unique: bool = False

    @property
    def allows_null(self) -> bool:
        return (not self.required) if self.nullable is None else self.nullable

    @property
    def pandas_dtype(self) -> object:
        if self.dtype == "int" and self.allows_null:
            return NULLABLE_INT_DTYPE
        return _DTYPE_OF_KIND[self.dtype]

    def to_pandera(self) -> pa.Column:
        return pa.Column(
            self.pandas_dtype,
            checks=list(self.checks),
            nullable=self.allows_null,
            unique=self.unique,
            report_duplicates="exclude_first",
            required=True,
            name=self.name,
            description=self.description,
        )


@dataclass(frozen=True)
class RowRule:
    """A check across columns of one row; `expected` is both the pandera error and the message."""

    columns: tuple[str, ...]
    expected: str
    test: Callable[[pd.DataFrame], pd.Series]

    def to_pandera(self) -> pa.Check:
        return pa.Check(self.test, error=self.expected)


@dataclass(frozen=True)
class TableSpec:
    """A contract table: its columns, cross-column rules, and whether a file may hold no rows."""

    name: str
    description: str
    columns: tuple[ColumnSpec, ...]
    rules: tuple[RowRule, ...] = ()
    rows_required: bool = False
    time_column: str | None = None
    required_file: bool = False

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    @property
    def timestamp_columns(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns if column.dtype == "timestamp")

    @property
    def required_columns(self) -> list[str]:
        return [column.name for column in self.columns if column.required]

    def column(self, name: str) -> ColumnSpec:
        return next(column for column in self.columns if column.name == name)

    def rule_for(self, expected: str) -> RowRule | None:
        return next((rule for rule in self.rules if rule.expected == expected), None)

    @cached_property
    def schema(self) -> pa.DataFrameSchema:
        """The pandera schema for a frame already in canonical dtypes (see features.loading)."""
        return pa.DataFrameSchema(
            {column.name: column.to_pandera() for column in self.columns},
            checks=[rule.to_pandera() for rule in self.rules],
            name=self.name,
        )


def _one_of(values: tuple[str, ...]) -> pa.Check:
    return pa.Check.isin(values, error=f"one of {', '.join(values)}")


def _count() -> pa.Check:
    return pa.Check.ge(0, error="a whole number ≥ 0")


def _zero_or_one() -> pa.Check:
    return pa.Check.isin((0, 1), error="0 or 1")


def _in_unit_interval() -> pa.Check:
    return pa.Check.in_range(0, 1, error="a number in [0, 1]")


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def _are_json_objects(texts: pd.Series) -> pd.Series:
    """`_is_json_object` of every value, parsing each distinct text once (labels repeat a lot)."""
    codes, distinct = pd.factorize(texts)
    verdicts = np.fromiter(
        (_is_json_object(text) for text in distinct), dtype=bool, count=len(distinct)
    )
    return pd.Series(
        np.append(verdicts, True)[codes], index=texts.index
    )  # code -1 (missing): not judged here


def _resolved_after_fired(alerts: pd.DataFrame) -> pd.Series:
    return alerts["resolved_at"].isna() | (alerts["resolved_at"] >= alerts["fired_at"])


def _outcomes_add_up(outcomes: pd.DataFrame) -> pd.Series:
    return outcomes["completed"] + outcomes["abandoned"] <= outcomes["sessions"]


_OUTCOME_KEY = ("window_start", "journey", "stage", "segment", "region")


def _one_row_per_key(outcomes: pd.DataFrame) -> pd.Series:
    return ~outcomes.duplicated(list(_OUTCOME_KEY), keep="first")


ALERTS = TableSpec(
    name="alerts",
    description="One row per alert firing.",
    required_file=True,
    rows_required=True,
    time_column="fired_at",
    columns=(
        ColumnSpec("alert_id", "string", True, "Unique id of the firing.", unique=True),
        ColumnSpec("fired_at", "timestamp", True, "When the alert fired (UTC)."),
        ColumnSpec("resolved_at", "timestamp", False, "When it resolved (UTC); null while firing."),
        ColumnSpec("source", "string", True, "prometheus, grafana, datadog, pagerduty, aiops, ..."),
        ColumnSpec("service", "string", True, "Emitting service; matched against the journey map."),
        ColumnSpec("alert_name", "string", True, "Rule or check name."),
        ColumnSpec(
            "severity",
            "string",
            True,
            "critical, high, warning or info (adapters map native values).",
            checks=(_one_of(SEVERITIES),),
        ),
        ColumnSpec("signal", "string", False, ", ".join(SIGNALS) + ".", checks=(_one_of(SIGNALS),)),
        ColumnSpec(
            "anomaly_score",
            "float",
            False,
            "An AIOps detector's confidence, in [0, 1].",
            checks=(_in_unit_interval(),),
        ),
        ColumnSpec("region", "string", False, "Region the alert comes from."),
        ColumnSpec(
            "labels",
            "string",
            False,
            "Everything else, as a JSON object in a string.",
            checks=(pa.Check(_are_json_objects, error="a JSON object as text"),),
        ),
    ),
    rules=(
        RowRule(
            ("fired_at", "resolved_at"), "resolved_at at or after fired_at", _resolved_after_fired
        ),
    ),
)

JOURNEY_OUTCOMES = TableSpec(
    name="journey_outcomes",
    description="One row per window × journey × stage × segment (× region).",
    required_file=True,
    rows_required=True,
    time_column="window_start",
    columns=(
        ColumnSpec(
            "window_start",
            "timestamp",
            True,
            "Start of the window (UTC); windows have one fixed width, inferred from the data; "
            "a window with no sessions may be absent.",
        ),
        ColumnSpec("journey", "string", True, "Journey name, as in the journey map."),
        ColumnSpec("stage", "string", True, "Stage name, as in the journey map."),
        ColumnSpec("segment", "string", True, "User segment."),
        ColumnSpec("region", "string", False, "Region."),
        ColumnSpec(
            "sessions",
            "int",
            True,
            "Sessions that reached the stage in the window.",
            checks=(_count(),),
        ),
        ColumnSpec(
            "completed",
            "int",
            True,
            "Of those, how many went on to the next stage or finished.",
            checks=(_count(),),
        ),
        ColumnSpec(
            "abandoned",
            "int",
            True,
            "Sessions that left the journey at this stage; completed + abandoned ≤ sessions.",
            checks=(_count(),),
        ),
        ColumnSpec(
            "errors", "int", False, "User-visible errors at this stage.", checks=(_count(),)
        ),
        ColumnSpec("latency_p95_ms", "float", False, "95th percentile latency, in milliseconds."),
    ),
    rules=(
        RowRule(
            ("completed", "abandoned", "sessions"),
            "completed + abandoned ≤ sessions",
            _outcomes_add_up,
        ),
        RowRule(
            _OUTCOME_KEY,
            "one row per window_start, journey, stage, segment, region",
            _one_row_per_key,
        ),
    ),
)

SESSION_EVENTS_TABLE = TableSpec(
    name="session_events",
    description="Raw journey events; `journeyrank aggregate` turns them into journey_outcomes.",
    time_column="ts",
    columns=(
        ColumnSpec("ts", "timestamp", True, "When the event happened (UTC)."),
        ColumnSpec("session_id", "string", True, "The user session."),
        ColumnSpec("journey", "string", True, "Journey name, as in the journey map."),
        ColumnSpec("stage", "string", True, "Stage name, as in the journey map."),
        ColumnSpec("segment", "string", True, "User segment."),
        ColumnSpec("region", "string", False, "Region."),
        ColumnSpec(
            "event",
            "string",
            True,
            ", ".join(SESSION_EVENTS) + ".",
            checks=(_one_of(SESSION_EVENTS),),
        ),
    ),
)

CHANGES = TableSpec(
    name="changes",
    description="Deploys and other changes.",
    time_column="ts",
    columns=(
        ColumnSpec("change_id", "string", True, "Unique id of the change.", unique=True),
        ColumnSpec("ts", "timestamp", True, "When the change happened (UTC)."),
        ColumnSpec("service", "string", True, "Service changed."),
        ColumnSpec("kind", "string", True, "deploy, config, feature_flag, experiment, ..."),
        ColumnSpec("description", "string", False, "Free text."),
    ),
)

FEEDBACK = TableSpec(
    name="feedback",
    description="Human verdicts on past alerts; a verdict overrides the derived label.",
    time_column="ts",
    columns=(
        ColumnSpec("alert_id", "string", True, "The alert judged."),
        ColumnSpec(
            "impact", "int", True, "1 if the alert hurt users, else 0.", checks=(_zero_or_one(),)
        ),
        ColumnSpec("ts", "timestamp", True, "When the verdict was given (UTC)."),
        ColumnSpec("author", "string", False, "Who gave it."),
        ColumnSpec("note", "string", False, "Why."),
    ),
)

TRUTH = TableSpec(
    name="truth",
    description="The simulator's ground truth per alert; read only by evaluation.",
    columns=(
        ColumnSpec("alert_id", "string", True, "The alert.", unique=True),
        ColumnSpec(
            "incident_id",
            "string",
            True,
            "The incident that caused it; null for noise.",
            nullable=True,
        ),
        ColumnSpec(
            "true_lost_value",
            "float",
            True,
            "Value truly lost because of the incident.",
            checks=(pa.Check.ge(0, error="a number ≥ 0"),),
        ),
        ColumnSpec(
            "true_impact",
            "int",
            True,
            "1 if the alert truly hurt users, else 0.",
            checks=(_zero_or_one(),),
        ),
        ColumnSpec(
            "true_lost_completions",
            "float",
            False,
            "Completions the alert's incident truly cost users; 0 for noise.",
            checks=(pa.Check.ge(0, error="a number ≥ 0"),),
        ),
    ),
)

TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (ALERTS, JOURNEY_OUTCOMES, SESSION_EVENTS_TABLE, CHANGES, FEEDBACK, TRUTH)
}
