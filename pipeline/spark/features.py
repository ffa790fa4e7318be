"""`journeyrank features --engine spark`: the feature job's time slices as Spark tasks.

The driver loads and validates the data directory, fits the baselines and plans the slices
(features/slices.py). Spark sends each alert and outcome row to every slice that needs it
(explode over the slices a row's time falls in, as column expressions) and cogroups them by
slice; each task runs the default engine's own label and feature code on its slice. Labels
come first (one pass), their history is gathered, then features (a second pass).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.baselines import fit_baselines
from features.config import FeatureJobConfig
from features.families.incident import with_incidents
from features.labels import LABEL_COLUMNS, label_history
from features.loading import DataDir
from features.recipe import Recipe
from features.slices import (
    SLICE_ALERTS,
    FittedState,
    SliceInputs,
    SlicePlan,
    assemble_feature_table,
    changes_of_slice,
    label_history_as_of,
    plan_slices,
    slice_features,
    slice_labels,
)
from features.stages import StageIndex
from features.table import FeatureTable
from pipeline.spark.session import collect, for_spark, restore, spark_schema, to_spark

SLICE = "_slice"


def build_feature_table_spark(
    spark, data: DataDir, config: FeatureJobConfig | None = None, n_slices: int | None = None
) -> FeatureTable:
    """build_feature_table on Spark: the same frame (labels equal; floats within 1e-9, as window
    sums come from prefix sums that start at each slice)."""
    config = config or FeatureJobConfig()
    step_ns = int(data.window.value)
    stages = StageIndex.from_map(data.journey_map)
    baselines = fit_baselines(data.journey_outcomes, stages, step_ns, config.baselines)
    parallelism = spark.sparkContext.defaultParallelism
    plan = plan_slices(
        data.alerts, data.journey_outcomes, step_ns, config, n_slices or _slices(data, parallelism)
    )
    state = FittedState(plan, Recipe.of(data.journey_map, baselines, config, step_ns, stages))
    # one shuffle partition a slice: a slice is the unit of work, and empty partitions cost a task each
    spark.conf.set("spark.sql.shuffle.partitions", str(plan.n_slices))
    # incidents run through the whole history in fire order: grouped once here, the alerts carry them
    incidents = state.recipe.incidents(data.alerts, data.changes)
    with_incident = with_incidents(data.alerts, incidents)
    alerts = _by_slice(to_spark(spark, with_incident), "fired_at", plan, plan.alert_lookback_ns, 0)
    outcomes = _by_slice(
        to_spark(spark, data.journey_outcomes),
        "window_start",
        plan,
        plan.outcomes_before_ns,
        plan.outcomes_after_ns,
    )
    grouped = alerts.groupBy(SLICE).cogroup(outcomes.groupBy(SLICE))
    dtypes = _Dtypes(data, with_incident)
    derived = restore(
        collect(
            grouped.applyInPandas(_task(state, dtypes, None, None, "labels"), dtypes.labels_ddl)
        ),
        dtypes.labels,
    )
    history = label_history(data.alerts, derived, data.feedback)
    sc = spark.sparkContext
    changes = sc.broadcast(data.changes)
    shared_history = sc.broadcast(history)
    task = _task(state, dtypes, changes, shared_history, "features")
    features = collect(grouped.applyInPandas(task, dtypes.features_ddl))
    changes.destroy()
    shared_history.destroy()
    return assemble_feature_table(
        data, state, derived, restore(features, dtypes.features), incidents
    )


def _slices(data: DataDir, parallelism: int) -> int:
    """At least two slices a core, so the cores stay busy while the largest slice finishes."""
    return max(2 * parallelism, -(-len(data.alerts) // SLICE_ALERTS))


def _by_slice(frame, time_column: str, plan: SlicePlan, before: int, after: int):
    """Each row once for every slice k with edges[k] - before <= t < edges[k + 1] + after."""
    from pyspark.sql import functions as F

    t = F.col(time_column)
    inside = (t >= int(plan.edges[0]) - before) & (t < int(plan.edges[-1]) + after)
    first, last = _slice_of(t - F.lit(after), plan), _slice_of(t + F.lit(before), plan)
    return frame.where(inside).withColumn(SLICE, F.explode(F.sequence(first, last)))


def _slice_of(t, plan: SlicePlan):
    """The column form of SlicePlan.slice_of: how many inner edges lie at or before t."""
    from pyspark.sql import functions as F

    k = F.lit(0)
    for edge in plan.edges[1:-1]:
        k = k + F.when(t >= F.lit(int(edge)), 1).otherwise(0)
    return k


class _Dtypes:
    """The dtypes of every frame that crosses Spark, to restore them on the other side."""

    def __init__(self, data: DataDir, alerts: pd.DataFrame) -> None:
        self.alerts = dict(alerts.dtypes)  # the data's alerts with their incident columns
        self.outcomes = dict(data.journey_outcomes.dtypes)
        self.labels = _label_dtypes()
        self.features = _feature_dtypes(data)

    @property
    def labels_ddl(self) -> str:
        return spark_schema(self.labels)

    @property
    def features_ddl(self) -> str:
        return spark_schema(self.features)


def _label_dtypes() -> dict[str, object]:
    from features.schemas import STRING_DTYPE, TIMESTAMP_DTYPE

    dtypes = dict.fromkeys(LABEL_COLUMNS, np.dtype("float64"))
    text = ("alert_id", "label_source", "impact_journey", "impact_stage")
    dtypes |= dict.fromkeys(text, STRING_DTYPE)
    dtypes |= {"label": pd.Int64Dtype(), "matured_at": TIMESTAMP_DTYPE}
    return dtypes


def _feature_dtypes(data: DataDir) -> dict[str, object]:
    from features.build import CATEGORICAL, FEATURE_NAMES
    from features.schemas import STRING_DTYPE, TIMESTAMP_DTYPE
    from features.table import META_COLUMNS

    dtypes = dict.fromkeys(META_COLUMNS, STRING_DTYPE) | {"fired_at": TIMESTAMP_DTYPE}
    for name in FEATURE_NAMES:
        dtypes[name] = STRING_DTYPE if name in CATEGORICAL else np.dtype("float64")
    return dtypes


def _task(state: FittedState, dtypes: _Dtypes, changes, history, what: str):
    """The function each slice runs: its inputs restored, then the default engine's code."""

    def run(alerts: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
        from pipeline.spark.session import quiet_pandas_warning

        quiet_pandas_warning()
        k = int(alerts[SLICE].iloc[0])
        start, end = int(state.plan.edges[k]), int(state.plan.edges[k + 1])
        inputs = SliceInputs(
            k,
            restore(alerts, dtypes.alerts),
            restore(outcomes, dtypes.outcomes),
            changes_of_slice(state.plan, k, changes.value) if changes else None,
            label_history_as_of(history.value, start, end) if history else None,
        )
        if what == "labels":
            out = slice_labels(state, inputs)
            return for_spark(out[list(dtypes.labels)])
        out = slice_features(state, inputs)
        return for_spark(out[list(dtypes.features)])

    return run
