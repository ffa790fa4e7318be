"""`journeyrank aggregate`: turn a session_events file into a journey_outcomes file, written atomically."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.aggregation import AggregationResult, Progress, aggregate_session_events
from features.errors import ContractError, Verbatim
from features.loading import validate_table
from features.schemas import JOURNEY_OUTCOMES
from pipeline.io import write_atomically

WINDOW_MIN = 5


def aggregate(
    events_path: Path,
    out_path: Path,
    window_min: int = WINDOW_MIN,
    progress: Progress | None = None,
    engine: str = "pandas",
) -> AggregationResult:
    """Aggregate `events_path` into `window_min`-minute journey outcomes at `out_path` (.parquet or .csv).

    `engine` "pandas" streams on this machine; "spark" runs the same definition on Spark
    (SPARK_MASTER, spark-submit's master, or local[2]). Bad input raises ContractError and
    leaves `out_path` untouched.
    """
    if window_min < 1:
        raise ValueError(f"window_min must be a whole number of minutes ≥ 1, got {window_min}")
    events_path, out_path = Path(events_path), Path(out_path)
    window = pd.Timedelta(minutes=window_min)
    if engine == "spark":
        result = _aggregate_on_spark(events_path, window)
        if progress is not None:  # Spark reports its own stages; the bar only learns the end
            progress(result.events_read, result.events_read)
    elif engine == "pandas":
        result = aggregate_session_events(events_path, window, progress)
    else:
        raise ValueError(f"engine must be pandas or spark, got {engine!r}")
    if result.outcomes.empty:
        # journey_outcomes needs rows; an empty file would fail every later loader.
        orphans = f"{result.orphan_events} of them at stages their session never entered"
        got = Verbatim(f"{result.events_read} events, {orphans}")
        raise ContractError(
            events_path.name, "", "at least one session that enters a stage", got=got
        )
    outcomes = validate_table(result.outcomes, JOURNEY_OUTCOMES, out_path.name)
    csv = out_path.suffix.lower() == ".csv"
    write_atomically(out_path, lambda tmp: _write_outcomes(outcomes, tmp, csv))
    return result


def _aggregate_on_spark(events_path: Path, window: pd.Timedelta) -> AggregationResult:
    from pipeline.spark.aggregate import aggregate_session_events_spark
    from pipeline.spark.session import spark_session

    with spark_session() as spark:
        return aggregate_session_events_spark(spark, events_path, window)


def _write_outcomes(table: pd.DataFrame, path: Path, csv: bool) -> None:
    if csv:
        table.to_csv(path, index=False)
        return
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    pq.write_table(arrow.replace_schema_metadata(None), path, compression="zstd")
