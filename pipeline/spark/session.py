"""The Spark session the jobs run in, and the one place that moves pandas frames in and out of Spark.

PySpark 4.3 warns that pandas >= 3 is "not fully supported". What the engine uses works with
pandas 3.1: Arrow-based pandas UDFs (`mapInPandas`, `applyInPandas`, `cogroup`) hand each task
a pandas frame and take one back, and frames cross the driver as Arrow tables
(`createDataFrame(pyarrow.Table)`, `DataFrame.toArrow()`), never through Spark's own pandas
conversion; text leaves a task as Python objects (see `for_spark`). Times travel as int64
nanoseconds: Spark's timestamps hold microseconds, so a timestamp column would lose the
contract's nanoseconds (Spark refuses that conversion) and come back time-zone naive.
Nothing needs pinning; the warning is filtered.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pyarrow as pa

from features.schemas import STRING_DTYPE, TIMESTAMP_DTYPE
from features.timeaxis import from_ns, to_ns

PANDAS_WARNING = "PySpark does not yet fully support pandas"
LOCAL_MASTER = "local[2]"
LOCAL_DRIVER_MEMORY = "4g"
# Spark's Python workers are processes of their own: their warnings filter comes through the environment.
_WORKER_ENV = {"PYTHONWARNINGS": f"ignore:{PANDAS_WARNING}:FutureWarning"}


def quiet_pandas_warning() -> None:
    warnings.filterwarnings("ignore", message=PANDAS_WARNING, category=FutureWarning)


@contextmanager
def spark_session(master: str | None = None, app_name: str = "journeyrank") -> Iterator:
    """A session for one job, stopped after it: `master` (default SPARK_MASTER, else local[2]);
    under spark-submit the master and resources are spark-submit's. An active session is reused."""
    quiet_pandas_warning()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    for key, value in _WORKER_ENV.items():
        os.environ.setdefault(key, value)
    try:
        from pyspark.sql import SparkSession
    except ImportError as err:
        raise RuntimeError(
            "the Spark engine needs PySpark: pip install 'journeyrank[spark]' "
            "(in this repository: uv sync --extra spark)"
        ) from err

    active = SparkSession.getActiveSession()
    if active is not None:  # a caller's session (a test's, a notebook's): use it, leave it running
        yield active
        return
    builder = (
        SparkSession.builder.appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.execution.arrow.pyspark.fallback.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
    )
    for key, value in _WORKER_ENV.items():
        builder = builder.config(f"spark.executorEnv.{key}", value)
    master = master or os.environ.get("SPARK_MASTER")
    if master or not os.environ.get("SPARK_ENV_LOADED"):  # spark-submit sets SPARK_ENV_LOADED
        builder = builder.master(master or LOCAL_MASTER)
        if (master or LOCAL_MASTER).startswith("local"):
            # in local mode the driver's JVM is the executor too: Spark's 1 GiB default is too little
            memory = os.environ.get("SPARK_DRIVER_MEMORY", LOCAL_DRIVER_MEMORY)
            builder = builder.config("spark.driver.memory", memory)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    try:
        yield spark
    finally:
        spark.stop()


def to_spark(spark, frame: pd.DataFrame):
    """A pandas frame as a Spark DataFrame through Arrow, times as int64 ns (NaT: the int64 minimum)."""
    frame = frame.reset_index(drop=True)
    columns = {}
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            columns[name] = pa.array(to_ns(column), pa.int64())
        elif column.dtype == object or column.dtype == STRING_DTYPE:
            columns[name] = pa.array(column.astype(object).where(column.notna(), None), pa.string())
        else:
            columns[name] = pa.Array.from_pandas(column)
    return spark.createDataFrame(pa.table(columns))


def spark_schema(dtypes: dict[str, object]) -> str:
    """The DDL schema a pandas UDF returns frames of these dtypes in (times as int64 ns)."""

    def kind(dtype) -> str:
        if isinstance(dtype, pd.DatetimeTZDtype):
            return "long"
        if pd.api.types.is_bool_dtype(dtype):
            return "boolean"
        if pd.api.types.is_integer_dtype(dtype):
            return "long"
        if pd.api.types.is_float_dtype(dtype):
            return "double"
        return "string"

    return ", ".join(f"`{name}` {kind(dtype)}" for name, dtype in dtypes.items())


def for_spark(frame: pd.DataFrame) -> pd.DataFrame:
    """What a pandas UDF hands back: times as int64 ns, text as Python str objects (None: missing).

    Not pandas 3's "str" columns: those are backed by pyarrow, and one built by concatenation
    holds a chunked array, which PySpark 4.3's UDF serializer cannot take (it calls
    RecordBatch.from_arrays: "Cannot convert pyarrow.lib.ChunkedArray to pyarrow.lib.Array").
    """
    out = {}
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            out[name] = to_ns(column)
        elif column.dtype == object or column.dtype == STRING_DTYPE:
            text = column.astype(object)
            out[name] = text.where(column.notna(), None)
        else:
            out[name] = column
    return pd.DataFrame(out)


def restore(frame: pd.DataFrame, dtypes: dict[str, object]) -> pd.DataFrame:
    """A frame from Spark (a task's input, or collected) back in the dtypes it left with."""
    out = {}
    for name, dtype in dtypes.items():
        if name not in frame and frame.empty:  # an empty side of a cogroup has no columns
            out[name] = pd.Series([], dtype=dtype)
            continue
        column = frame[name]
        if isinstance(dtype, pd.DatetimeTZDtype):
            out[name] = pd.Series(from_ns(column.to_numpy(np.int64)), name=name).astype(
                TIMESTAMP_DTYPE
            )
        elif dtype == STRING_DTYPE:
            out[name] = column.astype(STRING_DTYPE)
        else:
            out[name] = column.astype(dtype)
    return pd.DataFrame(out)


def collect(frame) -> pd.DataFrame:
    """A Spark DataFrame on the driver through Arrow (not Spark's own pandas conversion)."""
    return frame.toArrow().to_pandas()
