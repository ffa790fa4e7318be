"""The feature job cut into time slices of alerts, each with exactly the history its features can see.

Every feature looks back a bounded time (7 days at most) except the impact rates, which count
every label matured before fired_at; labels look 30 minutes ahead. So a slice of alerts
[start, end) needs the alerts of the week before it, the outcome windows around it and the
label history summed up to its start. Given those, the feature and label code of the default
engine computes each slice unchanged: any engine that moves slices to workers (Spark) runs
the same definitions, and `build_feature_table_by_slices` shows the cut changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.alert_index import CONCURRENCY_WINDOW_MIN
from features.attribution import attributed_labels
from features.baselines import fit_baselines
from features.config import FeatureJobConfig
from features.families.alert_history import WEEK_MIN
from features.families.change import RECENT_MIN
from features.families.incident import with_incidents
from features.families.live_state import LONG_MIN
from features.journey_state import JourneyState
from features.labels import apply_feedback, label_history
from features.loading import DataDir
from features.recipe import Recipe
from features.stages import StageIndex
from features.table import FeatureTable, alert_meta, join_on_alert_id
from features.timeaxis import MINUTE_NS, from_ns, to_ns

# Concurrency counts distinct services by their previous firing too: two windows of look-back.
ALERT_LOOKBACK_MIN = WEEK_MIN + 2 * CONCURRENCY_WINDOW_MIN
SLICE_ALERTS = 50_000  # alerts a slice computes: its week of context stays a few hundred MB


@dataclass(frozen=True)
class SlicePlan:
    """Slice k computes the alerts fired in [edges[k], edges[k + 1]) on a grid of outcome windows.

    Each slice sees alerts from `alert_lookback_ns` before its start, changes from
    `change_lookback_ns` before, and outcome windows from `outcomes_before_ns` before its start
    to `outcomes_after_ns` after its end (live state looks back, labels ahead).
    """

    edges: np.ndarray  # int64 ns, ascending; the last edge is past every alert
    origin_ns: int  # the outcome grid of the whole data: slices use windows on it
    end_ns: int
    step_ns: int
    alert_lookback_ns: int
    change_lookback_ns: int
    outcomes_before_ns: int
    outcomes_after_ns: int

    @property
    def n_slices(self) -> int:
        return len(self.edges) - 1

    def slice_of(self, ns: np.ndarray) -> np.ndarray:
        """The slice whose alerts' time range holds each time (clipped to the first and last)."""
        k = np.searchsorted(self.edges, np.asarray(ns, dtype=np.int64), side="right") - 1
        return np.clip(k, 0, self.n_slices - 1)

    def grid(self, k: int) -> tuple[int, int]:
        """(origin, end) of slice k's outcome grid: windows of the whole data's grid, cut to its needs."""
        lo = int(self.edges[k]) - self.outcomes_before_ns
        hi = int(self.edges[k + 1]) + self.outcomes_after_ns
        origin = self.origin_ns + max(0, (lo - self.origin_ns) // self.step_ns) * self.step_ns
        end = self.origin_ns + -(-(hi - self.origin_ns) // self.step_ns) * self.step_ns
        return origin, max(origin, min(end, self.end_ns))


def plan_slices(
    alerts: pd.DataFrame,
    outcomes: pd.DataFrame,
    step_ns: int,
    config: FeatureJobConfig,
    n_slices: int | None = None,
) -> SlicePlan:
    """Slices of about equal numbers of alerts (SLICE_ALERTS each unless `n_slices` is given)."""
    fired = np.sort(to_ns(alerts["fired_at"]))
    n = n_slices or max(1, -(-len(fired) // SLICE_ALERTS))
    n = max(1, min(n, len(fired)))
    inner = fired[(np.arange(1, n) * len(fired)) // n] if len(fired) else np.zeros(0, np.int64)
    first, last = (int(fired[0]), int(fired[-1])) if len(fired) else (0, 0)
    edges = np.unique(np.concatenate([[first], inner, [last + 1]])).astype(np.int64)
    starts = to_ns(outcomes["window_start"])
    origin = int(starts.min()) if len(starts) else 0
    end = int(starts.max()) + step_ns if len(starts) else origin
    features = config.features
    return SlicePlan(
        edges=edges,
        origin_ns=origin,
        end_ns=end,
        step_ns=step_ns,
        alert_lookback_ns=ALERT_LOOKBACK_MIN * MINUTE_NS,
        change_lookback_ns=max(features.change_lookback_min, RECENT_MIN) * MINUTE_NS,
        outcomes_before_ns=round((LONG_MIN + features.live_data_delay_min) * MINUTE_NS)
        + 2 * step_ns,
        outcomes_after_ns=config.labels.impact_window_min * MINUTE_NS + 2 * step_ns,
    )


def slices_of_rows(
    plan: SlicePlan, ns: np.ndarray, before: int, after: int
) -> tuple[np.ndarray, np.ndarray]:
    """(row, slice) for every slice that needs each row: a row at time t belongs to slice k when
    edges[k] - before <= t < edges[k + 1] + after (a row may serve several slices)."""
    first = plan.slice_of(np.asarray(ns) - after)
    last = plan.slice_of(np.asarray(ns) + before)
    # a row past the last edge (+ after) or before the first (- before) belongs to no slice
    inside = (ns >= plan.edges[0] - before) & (ns < plan.edges[-1] + after)
    sizes = np.where(inside, last - first + 1, 0)
    rows = np.repeat(np.arange(len(ns)), sizes)
    within = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    return rows, np.repeat(first, sizes) + within


# ---------------------------------------------------------------- one slice, engine-agnostic


@dataclass(frozen=True)
class SliceInputs:
    """Everything slice k of a plan reads (its history, already cut); the same on any engine."""

    k: int
    alerts: pd.DataFrame  # fired in [edges[k] - alert look-back, edges[k + 1]), with incidents
    outcomes: pd.DataFrame  # windows in [edges[k] - before, edges[k + 1] + after)
    changes: pd.DataFrame | None
    label_events: pd.DataFrame | None  # label history as of the slice (label_history_as_of)


@dataclass(frozen=True)
class FittedState:
    """What the whole job shares with every slice: fitted once, on the driver."""

    plan: SlicePlan
    recipe: Recipe


def targets_of(plan: SlicePlan, k: int, alerts: pd.DataFrame) -> pd.DataFrame:
    fired = to_ns(alerts["fired_at"])
    mine = (fired >= plan.edges[k]) & (fired < plan.edges[k + 1])
    return alerts[mine].reset_index(drop=True)


def slice_journey_state(state: FittedState, k: int, outcomes: pd.DataFrame) -> JourneyState:
    return state.recipe.journey(outcomes, *state.plan.grid(k))


def slice_labels(state: FittedState, inputs: SliceInputs) -> pd.DataFrame:
    """derive_impact_labels for the slice's alerts (feedback is applied on the whole, after)."""
    journey = slice_journey_state(state, inputs.k, inputs.outcomes)
    return state.recipe.labels(targets_of(state.plan, inputs.k, inputs.alerts), journey)


def slice_features(state: FittedState, inputs: SliceInputs) -> pd.DataFrame:
    """alert_meta and build_features for the slice's alerts, against the slice's history."""
    recipe = state.recipe
    journey = slice_journey_state(state, inputs.k, inputs.outcomes)
    context = recipe.indexed_context(journey, inputs.alerts, inputs.changes, inputs.label_events)
    targets = targets_of(state.plan, inputs.k, inputs.alerts)
    return join_on_alert_id(alert_meta(targets, recipe.stages), recipe.features(targets, context))


def label_history_as_of(history: pd.DataFrame, start_ns: int, end_ns: int) -> pd.DataFrame:
    """The label history a slice [start, end) needs: rows matured before start summed per rule
    (one row each, just before start), then the rows of the slice itself. Counts are whole
    numbers, so the sums are exact and every "before fired_at" total is unchanged."""
    matured = to_ns(history["matured_at"])
    earlier = history[matured < start_ns]
    summary = (
        earlier.groupby(["alert_name", "service"], sort=True, observed=True)[["n", "positives"]]
        .sum()
        .reset_index()
    )
    summary.insert(0, "matured_at", from_ns(np.full(len(summary), start_ns - 1)))
    current = history[(matured >= start_ns) & (matured < end_ns)]
    return pd.concat([summary, current[list(summary.columns)]], ignore_index=True)


def slice_inputs(
    plan: SlicePlan,
    k: int,
    alerts: pd.DataFrame,
    outcomes: pd.DataFrame,
    changes: pd.DataFrame | None,
    history: pd.DataFrame | None,
) -> SliceInputs:
    """Cut slice k's inputs from whole tables (what an engine's shuffle does, here in memory)."""
    start, end = int(plan.edges[k]), int(plan.edges[k + 1])
    fired = to_ns(alerts["fired_at"])
    windows = to_ns(outcomes["window_start"])
    return SliceInputs(
        k,
        alerts[(fired >= start - plan.alert_lookback_ns) & (fired < end)],
        outcomes[
            (windows >= start - plan.outcomes_before_ns) & (windows < end + plan.outcomes_after_ns)
        ],
        changes_of_slice(plan, k, changes),
        None if history is None else label_history_as_of(history, start, end),
    )


def changes_of_slice(plan: SlicePlan, k: int, changes: pd.DataFrame | None) -> pd.DataFrame | None:
    """The changes slice k can see (changes are few: every slice cuts its own from all of them)."""
    if changes is None:
        return None
    ts = to_ns(changes["ts"])
    return changes[(ts >= plan.edges[k] - plan.change_lookback_ns) & (ts < plan.edges[k + 1])]


def build_feature_table_by_slices(
    data: DataDir, config: FeatureJobConfig | None = None, n_slices: int | None = None
) -> FeatureTable:
    """build_feature_table, slice by slice in this process: the plan any distributed engine follows."""
    config = config or FeatureJobConfig()
    step_ns = int(data.window.value)
    stages = StageIndex.from_map(data.journey_map)
    baselines = fit_baselines(data.journey_outcomes, stages, step_ns, config.baselines)
    plan = plan_slices(data.alerts, data.journey_outcomes, step_ns, config, n_slices)
    state = FittedState(plan, Recipe.of(data.journey_map, baselines, config, step_ns, stages))
    # incidents run through the whole history in fire order: grouped once, carried by the alerts
    incidents = state.recipe.incidents(data.alerts, data.changes)
    alerts = with_incidents(data.alerts, incidents)

    def inputs(k: int, history: pd.DataFrame | None) -> SliceInputs:
        return slice_inputs(plan, k, alerts, data.journey_outcomes, data.changes, history)

    derived = pd.concat(
        [slice_labels(state, inputs(k, None)) for k in range(plan.n_slices)], ignore_index=True
    )
    history = label_history(data.alerts, derived, data.feedback)
    features = pd.concat(
        [slice_features(state, inputs(k, history)) for k in range(plan.n_slices)],
        ignore_index=True,
    )
    return assemble_feature_table(data, state, derived, features, incidents)


def assemble_feature_table(
    data: DataDir,
    state: FittedState,
    derived: pd.DataFrame,
    features: pd.DataFrame,
    incidents: pd.DataFrame | None = None,
) -> FeatureTable:
    """Slices' labels and features back in the alerts' order, feedback applied: the feature table."""
    order = pd.Index(features["alert_id"]).get_indexer(data.alerts["alert_id"])
    features = features.iloc[order].reset_index(drop=True)
    derived = derived.set_index("alert_id").loc[data.alerts["alert_id"]].reset_index()
    recipe = state.recipe
    target = attributed_labels(
        derived, data, recipe.stages, recipe.baselines, recipe.config.attribution
    )
    labels = apply_feedback(target, data.feedback) if data.feedback is not None else target
    frame = join_on_alert_id(features, labels)
    return FeatureTable(
        frame, recipe.baselines, recipe.stages, recipe.config, recipe.window_ns, incidents
    )
