"""Journey health anywhere: the worst stage of every journey right before the alert, mapped or not.

The map is written by people and misses services (and renames them); for such an alert the
stages it "reaches" are none, yet users may be hurting somewhere. These features read every
stage's live state, so an alert from a service the map forgot still sees the damage it fires in.
"""

from __future__ import annotations

import numpy as np

from features.catalogue import Feature
from features.context import AlertBatch, FeatureContext
from features.families.live_state import LONG_MIN
from features.journey_state import sum_over_segments
from features.timeaxis import MINUTE_NS

FEATURES = (
    Feature(
        "any_stage_drop_z_15m",
        "worst stage of any journey: missing completions in standard deviations",
        "15 min",
        "journey outcomes",
    ),
    Feature(
        "stages_degraded_15m",
        "stages of any journey missing completions at z ≥ 3",
        "15 min",
        "journey outcomes",
    ),
)
DEGRADED_Z = 3.0


def compute(batch: AlertBatch, context: FeatureContext) -> dict[str, np.ndarray]:
    state = context.journey
    known_by = batch.fired - round(context.config.live_data_delay_min * MINUTE_NS) - 1
    k_hi = state.window_index(known_by)
    k_lo = state.window_index(known_by - LONG_MIN * MINUTE_NS)
    # alerts that fire in the same window see the same state: look each window up once
    spans, at = np.unique(np.stack([k_lo, k_hi], axis=1), axis=0, return_inverse=True)
    at = np.asarray(at).reshape(-1)
    n_stages = context.stages.n_stages
    z = np.full((len(spans), n_stages), np.nan)
    for code in range(n_stages):
        sums = state.sums(np.full(len(spans), code), spans[:, 0], spans[:, 1])
        missing = sum_over_segments(sums["expected_completed"] - sums["completed"])
        variance = sum_over_segments(sums["completion_var"])
        with np.errstate(invalid="ignore", divide="ignore"):
            z[:, code] = np.where(variance > 0, missing / np.sqrt(variance), np.nan)
    seen = np.isfinite(z).any(axis=1)
    worst = np.where(seen, np.nanmax(np.where(np.isfinite(z), z, -np.inf), axis=1), np.nan)
    degraded = (np.nan_to_num(z, nan=-np.inf) >= DEGRADED_Z).sum(axis=1).astype(np.float64)
    return {"any_stage_drop_z_15m": worst[at], "stages_degraded_15m": degraded[at]}
