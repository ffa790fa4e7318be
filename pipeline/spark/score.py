"""`journeyrank score --engine spark`: the registered ranker as a Spark UDF (`mlflow.pyfunc.spark_udf`)."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from features.timeaxis import to_ns
from models.ranking import ANSWER_COLUMNS
from pipeline.spark.session import collect

_NUMBERS = ("impact_probability", "priority")
_CAST_MISSING = ("None", "nan")
RANKED_DDL = ", ".join(
    f"`{name}` {'double' if name in _NUMBERS else 'string'}" for name in ANSWER_COLUMNS
)


def rank_on_spark(
    spark, model_uri: str, rows: pd.DataFrame, model_version: str = ""
) -> pd.DataFrame:
    """The ranker's answer for every row, computed by Spark tasks; highest priority first, as `rank` orders.

    Each task loads the model once (env_manager="local": the tasks' Python is this project's)
    and ranks its rows with the pyfunc's `predict`, the same call the service and batch make.
    """
    import mlflow.pyfunc
    from pyspark.sql import functions as F

    predict = mlflow.pyfunc.spark_udf(
        spark,
        model_uri,
        result_type=RANKED_DDL,
        env_manager="local",
        params={"model_version": model_version},
    )
    frame = spark.createDataFrame(_as_arrow(rows))
    frame = frame.repartition(spark.sparkContext.defaultParallelism)
    answers = frame.select(predict(F.struct(*[F.col(f"`{c}`") for c in rows.columns])).alias("a"))
    ranked = collect(answers.select("a.*"))
    return highest_first(_missing_restored(ranked), rows["alert_id"])


def _missing_restored(ranked: pd.DataFrame) -> pd.DataFrame:
    """Missing text back to missing: spark_udf casts a struct's string fields with astype(str)
    (mlflow.pyfunc._convert_struct_values), so a missing stage arrives as "None" or "nan"."""
    text = [name for name in ANSWER_COLUMNS if name not in _NUMBERS]
    return ranked.assign(
        **{name: ranked[name].mask(ranked[name].isin(_CAST_MISSING)) for name in text}
    )


def _as_arrow(rows: pd.DataFrame) -> pa.Table:
    """The rows as the model's signature reads them: fired_at naive UTC (µs: Spark's unit), text as text."""
    columns = {}
    for name in rows.columns:
        column = rows[name]
        if name == "fired_at":
            columns[name] = pa.array(to_ns(column) // 1000, pa.timestamp("us"))
        elif pd.api.types.is_float_dtype(column.dtype):
            columns[name] = pa.array(column.to_numpy(float), pa.float64())
        else:
            values = column.astype(object).where(column.notna(), None)
            columns[name] = pa.array(values.tolist(), pa.string())
    return pa.table(columns)


def highest_first(ranked: pd.DataFrame, alert_ids: pd.Series) -> pd.DataFrame:
    """Highest priority first, ties in the input's order (what Ranker.rank does within one batch)."""
    position = pd.Index(alert_ids.astype(str)).get_indexer(ranked["alert_id"])
    ordered = ranked.assign(_position=position).sort_values(
        ["priority", "_position"], ascending=[False, True], na_position="last", kind="stable"
    )
    return ordered.drop(columns="_position").reset_index(drop=True)[list(ANSWER_COLUMNS)]
