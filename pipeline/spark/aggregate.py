"""`journeyrank aggregate --engine spark`: session events → journey outcomes, the definition run per partition.

Spark reads the events (Parquet or CSV, a file or a directory of parts), shuffles them by
session_id so every event of a session lands in one partition, and each partition runs the
default engine's `aggregate_events_frame` on its events, validated by the contract's own
`validate_table`. The partial counts of disjoint sessions add up: a second shuffle by window
sends each key's partials to one task, which adds them with the same `sum_counts`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from features.aggregation import (
    OUTCOME_COUNTS,
    OUTCOME_KEY,
    AggregationResult,
    aggregate_events_frame,
    sum_counts,
    to_journey_outcomes,
)
from features.errors import ContractError
from features.loading import existing_file, validate_table
from features.schemas import INT_DTYPE, SESSION_EVENTS_TABLE, STRING_DTYPE, TIMESTAMP_DTYPE
from features.timeaxis import from_ns
from pipeline.spark.session import collect, for_spark, restore, spark_schema

# Events a partition aggregates at once: ~100 B each in pandas, so a task stays near 1 GiB.
PARTITION_EVENTS = 2_000_000
_COUNTS = {"window_start": TIMESTAMP_DTYPE} | dict.fromkeys(OUTCOME_KEY[1:], STRING_DTYPE)
_COUNTS |= dict.fromkeys(OUTCOME_COUNTS, INT_DTYPE)


def aggregate_session_events_spark(
    spark, path: str | Path, window: pd.Timedelta, partition_events: int = PARTITION_EVENTS
) -> AggregationResult:
    """The same AggregationResult as `aggregate_session_events`, computed by Spark."""
    events = read_session_events(spark, path)
    events_read = events.count()
    partitions = max(2 * spark.sparkContext.defaultParallelism, -(-events_read // partition_events))
    orphans = spark.sparkContext.accumulator(0)
    name = Path(str(path)).name
    partials = events.repartition(partitions, "session_id").mapInPandas(
        _partial_counts(window, name, orphans), spark_schema(_COUNTS)
    )
    totals = partials.repartition(partitions, "window_start").mapInPandas(
        _summed, spark_schema(_COUNTS)
    )
    try:
        counts = restore(collect(totals), _COUNTS)
    except Exception as exc:  # a task's ContractError reaches the driver as Spark's error text
        raise _contract_error(exc, name) from None
    return AggregationResult(to_journey_outcomes(counts), events_read, orphans.value, partitions)


def read_session_events(spark, path: str | Path):
    """The events as Spark reads them: Parquet times as int64 ns (Spark's timestamps hold µs), CSV as text."""
    path = str(path)
    if "://" not in path and not Path(path).is_dir():
        existing_file(path)  # a local file gets the default engine's checks and messages
    if path.lower().endswith(".csv"):
        return spark.read.option("header", True).option("inferSchema", False).csv(path)
    spark.conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")
    frame = spark.read.parquet(path)
    missing = [c for c in SESSION_EVENTS_TABLE.column_names if c not in frame.columns]
    if missing:
        raise ContractError(Path(path).name, "", f"the columns {', '.join(missing)}")
    return frame


def _partial_counts(window: pd.Timedelta, file: str, orphans):
    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        from pipeline.spark.session import quiet_pandas_warning

        quiet_pandas_warning()
        raw = pd.concat(list(batches), ignore_index=True)
        if raw.empty:
            return
        if pd.api.types.is_integer_dtype(raw["ts"].dtype):  # Parquet: ns since the epoch
            raw["ts"] = from_ns(raw["ts"].to_numpy())
        events = validate_table(raw, SESSION_EVENTS_TABLE, file)
        partial = aggregate_events_frame(events, window)
        orphans.add(partial.orphan_events)
        yield for_spark(_plain(partial.counts))

    return run


def _summed(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    counts = restore(pd.concat(list(batches), ignore_index=True), _COUNTS)
    if not counts.empty:
        yield for_spark(_plain(sum_counts(counts)))


def _plain(counts: pd.DataFrame) -> pd.DataFrame:
    """Categorical text keys as text (what crosses to Arrow and back without dictionaries)."""
    return counts.astype({name: STRING_DTYPE for name in OUTCOME_KEY[1:]})


def _contract_error(exc: Exception, file: str) -> Exception:
    text = str(exc)
    marker = "ContractError: "
    if marker not in text:
        return exc
    message = text.split(marker, 1)[1].strip().splitlines()[0]
    return TaskContractError(f"{message} (rows counted within a Spark partition of {file})")


class TaskContractError(ContractError):
    """A ContractError raised in a Spark task, with the message the task wrote (exit code 2)."""

    def __init__(self, text: str) -> None:
        self.text = text
        ValueError.__init__(self, text)

    @property
    def message(self) -> str:
        return self.text

    def __reduce__(self) -> tuple[type, tuple[object, ...]]:
        return (type(self), (self.text,))
