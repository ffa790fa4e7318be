"""The live state of the stages an alert reaches: outcome windows that ended before it fired, against normal."""

from __future__ import annotations

import numpy as np

from features.catalogue import Feature
from features.context import AlertBatch, FeatureContext
from features.journey_state import PAIRS_PER_BLOCK, sum_over_segments
from features.timeaxis import MINUTE_NS, hour_of_week

SHORT_MIN, LONG_MIN = 5, 15
AHEAD_MIN = (
    30  # users expected at the stages over the next half hour: who an ongoing failure would hit
)
WINDOW_FEATURES = ("drop", "drop_z", "abandon", "error_rate", "error_excess", "latency")
PAIR_VALUES = (
    *WINDOW_FEATURES,
    "drop_5m",
    "abandon_5m",
    "sessions",
    "new_sessions",
    "weighted_sessions",
)

FEATURES = (
    Feature(
        "sessions_at_risk_15m",
        "sessions that reached the busiest mapped stage",
        "15 min",
        "journey outcomes",
    ),
    Feature(
        "expected_sessions_30m",
        "sessions the busiest mapped stage normally sees in the next 30 min at this hour of week",
        "30 min ahead",
        "baselines",
    ),
    Feature(
        "completion_drop_5m",
        "worst mapped stage: share of expected completions missing",
        "5 min",
        "journey outcomes",
    ),
    Feature(
        "completion_drop_15m",
        "worst mapped stage: share of expected completions missing",
        "15 min",
        "journey outcomes",
    ),
    Feature(
        "completion_drop_z_15m",
        "worst mapped stage: missing completions in standard deviations",
        "15 min",
        "journey outcomes",
    ),
    Feature(
        "abandonment_excess_5m",
        "worst mapped stage: abandonment above normal, per session",
        "5 min",
        "journey outcomes",
    ),
    Feature(
        "abandonment_excess_15m",
        "worst mapped stage: abandonment above normal, per session",
        "15 min",
        "journey outcomes",
    ),
    Feature(
        "error_rate_15m",
        "worst mapped stage: user-visible errors per session",
        "15 min",
        "journey outcomes",
    ),
    Feature(
        "error_excess_15m",
        "worst mapped stage: errors per session above normal",
        "15 min",
        "journey outcomes",
    ),
    Feature(
        "latency_deviation_15m",
        "worst mapped stage: log of p95 latency over its normal",
        "15 min",
        "journey outcomes",
    ),
    Feature(
        "new_user_share_15m",
        "share of the sessions at risk from new-user segments",
        "15 min",
        "journey outcomes",
    ),
    Feature(
        "segment_weight_15m",
        "mean segment weight of the sessions at risk (worth of their conversions)",
        "15 min",
        "journey outcomes",
    ),
    Feature(
        "live_windows_15m",
        "outcome windows with data for the mapped stages (0: no live journey data)",
        "15 min",
        "journey outcomes",
    ),
)


def compute(batch: AlertBatch, context: FeatureContext) -> dict[str, np.ndarray]:
    state = context.journey
    stage = batch.pair_columns["stage_code"]
    t = batch.fired[batch.pair_columns["row"]]
    # windows before k_hi ended strictly before t, and at least the feed's delay before it
    known_by = t - round(context.config.live_data_delay_min * MINUTE_NS) - 1
    k_hi = state.window_index(known_by)
    k_long = state.window_index(known_by - LONG_MIN * MINUTE_NS)
    k_short = state.window_index(known_by - SHORT_MIN * MINUTE_NS)
    weights = np.array([context.journey_map.segment_weight(s) for s in state.segments])
    is_new = np.isin(np.array(state.segments, dtype=object), list(context.config.new_user_segments))
    pair = _pair_values(state, stage, k_short, k_long, k_hi, weights, is_new)
    ahead = np.nan_to_num(context.baselines.sessions[stage, :, hour_of_week(t)]).sum(axis=1) * (
        AHEAD_MIN * MINUTE_NS / state.step_ns
    )
    # one session walks several mapped stages: the busiest stage is the number of people at risk
    total = batch.per_alert(pair["sessions"], "sum")
    busiest = batch.per_alert(pair["sessions"], "max")
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "sessions_at_risk_15m": busiest,
            "expected_sessions_30m": batch.per_alert(ahead, "max"),
            "completion_drop_5m": batch.per_alert(pair["drop_5m"]),
            "completion_drop_15m": batch.per_alert(pair["drop"]),
            "completion_drop_z_15m": batch.per_alert(pair["drop_z"]),
            "abandonment_excess_5m": batch.per_alert(pair["abandon_5m"]),
            "abandonment_excess_15m": batch.per_alert(pair["abandon"]),
            "error_rate_15m": batch.per_alert(pair["error_rate"]),
            "error_excess_15m": batch.per_alert(pair["error_excess"]),
            "latency_deviation_15m": batch.per_alert(pair["latency"]),
            "new_user_share_15m": _share(batch, pair["new_sessions"], total),
            "segment_weight_15m": _share(batch, pair["weighted_sessions"], total),
            "live_windows_15m": np.nan_to_num(
                batch.per_alert(state.data_windows(stage, k_long, k_hi))
            ),
        }


def _pair_values(state, stage, k_short, k_long, k_hi, weights, is_new) -> dict[str, np.ndarray]:
    """Per (alert, stage) pair: the window features and the session counts the family reduces per alert."""
    out = {name: np.empty(len(stage)) for name in PAIR_VALUES}
    # a block of pairs at a time keeps the look-ups small (see PAIRS_PER_BLOCK)
    for start in range(0, len(stage), PAIRS_PER_BLOCK):
        block = slice(start, start + PAIRS_PER_BLOCK)
        sums = state.sums(stage[block], k_long[block], k_hi[block])
        short = _window_features(
            state.sums(stage[block], k_short[block], k_hi[block]), ("drop", "abandon")
        )
        sessions = sums["sessions"]
        values = {
            **_window_features(sums),
            "drop_5m": short["drop"],
            "abandon_5m": short["abandon"],
            "sessions": sum_over_segments(sessions),
            "new_sessions": sum_over_segments(sessions[:, is_new]),
            "weighted_sessions": sum_over_segments(sessions * weights),
        }
        for name, value in values.items():
            out[name][block] = value
    return out


def _window_features(
    sums: dict[str, np.ndarray], names: tuple[str, ...] = WINDOW_FEATURES
) -> dict[str, np.ndarray]:
    """Per (alert, stage) pair, summed over segments: deviations from the baselines, NaN without sessions."""
    total = _Totals(sums)
    n = total["sessions"]
    seen = n > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        missing = total["expected_completed"] - total["completed"]
        features = {
            "drop": lambda: np.where(
                seen & (total["expected_completed"] > 0),
                missing / total["expected_completed"],
                np.nan,
            ),
            "drop_z": lambda: np.where(
                seen & (total["completion_var"] > 0),
                missing / np.sqrt(total["completion_var"]),
                np.nan,
            ),
            "abandon": lambda: np.where(
                seen, (total["abandoned"] - total["expected_abandoned"]) / n, np.nan
            ),
            "error_rate": lambda: np.where(
                total["error_sessions"] > 0, total["errors"] / total["error_sessions"], np.nan
            ),
            "error_excess": lambda: np.where(
                total["error_sessions"] > 0,
                (total["errors"] - total["expected_errors"]) / total["error_sessions"],
                np.nan,
            ),
            "latency": lambda: np.where(
                (total["latency_sessions"] > 0) & (total["expected_latency_sum"] > 0),
                np.log(total["latency_sum"] / total["expected_latency_sum"]),
                np.nan,
            ),
        }
        return {name: features[name]() for name in names}


class _Totals(dict):
    """Measures summed over segments, each summed only when a feature first asks for it."""

    def __init__(self, sums: dict[str, np.ndarray]) -> None:
        super().__init__()
        self.sums = sums

    def __missing__(self, name: str) -> np.ndarray:
        self[name] = sum_over_segments(self.sums[name])
        return self[name]


def _share(batch: AlertBatch, part: np.ndarray, total: np.ndarray) -> np.ndarray:
    summed = batch.per_alert(part, "sum")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, summed / total, np.nan)
