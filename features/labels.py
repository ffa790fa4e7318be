"""Impact labels: did the stages an alert touches lose completions, significantly and materially, right after it?"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.config import LabelConfig
from features.journey_map import JourneyMap
from features.journey_state import PAIRS_PER_BLOCK, JourneyState, sum_over_segments
from features.stages import StageIndex
from features.timeaxis import MINUTE_NS, from_ns, to_ns

LABEL_COLUMNS = (
    "alert_id",
    "label",
    "impact_weight",
    "label_source",
    "matured_at",
    "lost_completions",
    "excess_abandonment",
    "impact_z",
    "relative_drop",
    "impact_journey",
    "impact_stage",
    "measured_weight",
)
HISTORY_COLUMNS = ("matured_at", "alert_name", "service", "n", "positives")


def derive_impact_labels(
    alerts: pd.DataFrame,
    state: JourneyState,
    stages: StageIndex,
    journey_map: JourneyMap,
    config: LabelConfig | None = None,
    feedback: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One label per alert, measured in the impact window after fired_at against the baselines.

    label 1 when some stage the alert maps to lost completions with z ≥ min_z, at least
    min_lost_completions and at least min_relative_drop of what it should have completed;
    impact_weight = Σ lost completions × stage value × segment weight over those stages.
    Alerts whose window has not closed by the end of the data get no label yet (<NA>); a
    feedback verdict overrides the derived label. Sources: derived, unmapped, feedback.
    """
    config = config or LabelConfig()
    fired = to_ns(alerts["fired_at"])
    pairs = stages.pairs(alerts["service"])
    measured = _measure_pairs(pairs, fired, state, stages, journey_map, config)
    labels = _per_alert(measured, alerts, fired, state, stages, config)
    return apply_feedback(labels, feedback) if feedback is not None else labels


def _measure_pairs(
    pairs, fired, state: JourneyState, stages: StageIndex, journey_map, config
) -> dict[str, np.ndarray]:
    """Per (alert, stage) pair, row-sorted: what it lost in the impact window, whether that is a hit, when known."""
    rows = pairs["row"].to_numpy()
    t = fired[rows]
    stage = pairs["stage_code"].to_numpy()
    window_end = t + config.impact_window_min * MINUTE_NS
    k_lo = state.window_index(t)
    k_hi = state.window_index(window_end, round_up=True)
    # the last window overlapping the impact window ends here: the label is known from then on
    matured = (
        state.origin_ns
        - np.floor_divide(state.origin_ns - window_end, state.step_ns) * state.step_ns
    )
    weights = np.array([journey_map.segment_weight(s) for s in state.segments])
    value = stages.table["value"].to_numpy()[stage]
    measured = {
        name: np.empty(len(stage))
        for name in ("lost", "z", "relative", "excess_abandonment", "weighted")
    }
    # a block of pairs at a time keeps the look-ups small (see PAIRS_PER_BLOCK)
    for start in range(0, len(stage), PAIRS_PER_BLOCK):
        block = slice(start, start + PAIRS_PER_BLOCK)
        losses = _losses(state.sums(stage[block], k_lo[block], k_hi[block]), weights, value[block])
        for name, values in losses.items():
            measured[name][block] = values
    lost, z, relative = measured["lost"], measured["z"], measured["relative"]
    hit = (
        (z >= config.min_z)
        & (lost >= config.min_lost_completions)
        & (relative >= config.min_relative_drop)
    )
    return {"row": rows, "stage_code": stage, **measured, "hit": hit, "matured_ns": matured}


def _losses(
    sums: dict[str, np.ndarray], weights: np.ndarray, value: np.ndarray
) -> dict[str, np.ndarray]:
    lost_by_segment = sums["expected_completed"] - sums["completed"]
    lost = sum_over_segments(lost_by_segment)
    expected = sum_over_segments(sums["expected_completed"])
    variance = sum_over_segments(sums["completion_var"])
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(variance > 0, lost / np.sqrt(variance), 0.0)
        relative = np.where(expected > 0, lost / expected, 0.0)
    return {
        "lost": lost,
        "z": z,
        "relative": relative,
        "excess_abandonment": sum_over_segments(sums["abandoned"] - sums["expected_abandoned"]),
        "weighted": np.clip(sum_over_segments(lost_by_segment * weights), 0, None) * value,
    }


def _per_alert(
    measured: dict[str, np.ndarray], alerts, fired, state: JourneyState, stages: StageIndex, config
) -> pd.DataFrame:
    n = len(alerts)
    rows, hit = measured["row"], measured["hit"]
    weight = np.bincount(rows[hit], weights=measured["weighted"][hit], minlength=n)
    label = np.bincount(rows[hit], minlength=n) > 0
    starts = (
        np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]]) if len(rows) else np.zeros(0, np.int64)
    )
    worst = _worst_pairs(measured["z"], starts)
    matured = fired + config.impact_window_min * MINUTE_NS
    if len(rows):
        latest = np.maximum.reduceat(measured["matured_ns"], starts)
        matured[rows[starts]] = np.maximum(matured[rows[starts]], latest)
    mapped = np.bincount(rows, minlength=n) > 0
    known = matured <= state.end_ns

    def of_worst(values: np.ndarray) -> np.ndarray:
        out = np.full(n, np.nan)
        out[rows[worst]] = values[worst]
        return out

    worst_stage = stages.table.reindex(of_worst(measured["stage_code"]))
    label_known = pd.array(label.astype(np.int64), dtype="Int64")
    label_known[~known] = pd.NA
    out = pd.DataFrame(
        {
            "alert_id": alerts["alert_id"].to_numpy(),
            "label": label_known,
            "impact_weight": np.where(known, weight, np.nan),
            "label_source": np.where(mapped, "derived", "unmapped"),
            "matured_at": from_ns(matured),
            "lost_completions": of_worst(measured["lost"]),
            "excess_abandonment": of_worst(measured["excess_abandonment"]),
            "impact_z": of_worst(measured["z"]),
            "relative_drop": of_worst(measured["relative"]),
            "impact_journey": worst_stage["journey"].to_numpy(),
            "impact_stage": worst_stage["stage"].to_numpy(),
            "measured_weight": np.bincount(rows, weights=measured["weighted"], minlength=n),
        }
    )
    return out


def _worst_pairs(z: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per alert (pairs grouped from `starts`), its pair with the highest z: the first on a tie, NaN only if all are."""
    if len(starts) == 0:
        return np.zeros(0, np.int64)
    group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(z)]))
    best = np.fmax.reduceat(z, starts)[group]
    candidate = (z == best) | np.isnan(best)
    return np.minimum.reduceat(np.where(candidate, np.arange(len(z)), len(z)), starts)


def apply_feedback(labels: pd.DataFrame, feedback: pd.DataFrame) -> pd.DataFrame:
    """The latest verdict per alert wins (source 'feedback'); a confirmed impact weighs at least 1."""
    latest = (
        feedback.sort_values("ts", kind="stable")
        .drop_duplicates("alert_id", keep="last")
        .set_index("alert_id")
    )
    hit = labels["alert_id"].isin(latest.index).to_numpy()
    if not hit.any():
        return labels
    impact = latest.loc[labels.loc[hit, "alert_id"], "impact"].to_numpy()
    out = labels.copy()
    out.loc[hit, "label"] = impact
    out.loc[hit, "impact_weight"] = np.where(
        impact == 1, np.maximum(labels.loc[hit, "measured_weight"], 1.0), 0.0
    )
    out.loc[hit, "label_source"] = "feedback"
    return out


def label_history(
    alerts: pd.DataFrame, derived: pd.DataFrame, feedback: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Labels as they became known, as history rows (matured_at, alert_name, service, n, positives).

    A derived label counts from its maturity; a verdict replaces it from the verdict's time on
    (a correction row), so a feature asking "before fired_at" sees labels as they stood then.
    """
    known = derived[derived["label"].notna()][["alert_id", "matured_at", "label"]]
    rows = known.merge(alerts[["alert_id", "alert_name", "service"]], on="alert_id")
    events = pd.DataFrame(
        {
            "matured_at": rows["matured_at"],
            "alert_name": rows["alert_name"],
            "service": rows["service"],
            "n": 1.0,
            "positives": rows["label"].astype(float).to_numpy(),
        }
    )
    if feedback is None or feedback.empty:
        return events
    return pd.concat([events, _corrections(alerts, known, feedback)], ignore_index=True)


def _corrections(alerts: pd.DataFrame, known: pd.DataFrame, feedback: pd.DataFrame) -> pd.DataFrame:
    """Rows that, added to the derived rows, make each alert count as its latest verdict from that verdict on."""
    derived = known.set_index("alert_id")
    names = alerts.set_index("alert_id")[["alert_name", "service"]]
    rows = []
    for alert_id, verdicts in (
        feedback[feedback["alert_id"].isin(names.index)].sort_values("ts").groupby("alert_id")
    ):
        matured = derived["matured_at"].get(alert_id)
        label = float(derived["label"][alert_id]) if matured is not None else 0.0
        corrected = np.zeros(2)  # (n, positives) added by corrections so far
        for when in sorted({*verdicts["ts"], *([matured] if matured is not None else [])}):
            given = verdicts[verdicts["ts"] <= when]
            if len(given):
                target = np.array([1.0, float(given["impact"].iloc[-1])])
            else:
                target = np.array([1.0, label])  # only the derived label is known yet
            from_derived = (
                np.array([1.0, label]) if matured is not None and matured <= when else np.zeros(2)
            )
            delta = target - from_derived - corrected
            if np.any(delta != 0):
                rows.append((when, *names.loc[alert_id], *delta))
                corrected += delta
    return pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
