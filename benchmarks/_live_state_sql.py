"""The live-journey-state family written directly in DuckDB SQL: the reference for benchmarks/features.py.

Python only prepares lookup relations (the stages each alert reaches, the fitted baselines as
long tables, segment weights); the point-in-time join of alerts with outcome windows and every
aggregation after it are SQL. Two formulations of the same join, both checked against
features/families/live_state.py by tests/features/test_live_state_reference.py:

- `range`: for each (alert, stage) pair, sum the windows that ended in the 15 (and 5) minutes
  before the pair's cutoff, the windows enumerated on the grid and equi-joined (the direct SQL);
- `prefix`: running sums per stage on the dense window grid, read at three cells per pair
  (the algorithm of features/journey_state.py, in SQL; the faster of the two).

A window counts when it ended strictly before fired_at minus the feed delay
(`FeatureConfig.live_data_delay_min`): with known_by = fired_ns - delay_ns - 1, the windows that
ended at or before known_by, and of those the ones that ended after known_by - 15 (or 5) minutes.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from features.baselines import Baselines
from features.config import FeatureConfig
from features.journey_map import JourneyMap
from features.stages import StageIndex
from features.timeaxis import HOURS_PER_WEEK, MINUTE_NS, to_ns

LONG_MIN, SHORT_MIN, AHEAD_MIN = 15, 5, 30
FEATURES = (
    "sessions_at_risk_15m",
    "expected_sessions_30m",
    "completion_drop_5m",
    "completion_drop_15m",
    "completion_drop_z_15m",
    "abandonment_excess_5m",
    "abandonment_excess_15m",
    "error_rate_15m",
    "error_excess_15m",
    "latency_deviation_15m",
    "new_user_share_15m",
    "segment_weight_15m",
    "live_windows_15m",
)

# One outcome grid cell per stage × segment × window (regions summed), with what the baselines
# expected of it; then one row per stage × window, segments summed.
_WINDOWS = """
cells AS (
    SELECT s.stage_code, o.segment, epoch_ns(o.window_start) AS start_ns,
           sum(o.sessions)::DOUBLE AS n,
           sum(o.completed)::DOUBLE AS completed,
           sum(o.abandoned)::DOUBLE AS abandoned,
           -- an unreported error count is unknown, not zero: errors and their sessions where reported
           coalesce(sum(o.errors), 0)::DOUBLE AS errors,
           sum(CASE WHEN o.errors IS NOT NULL THEN o.sessions ELSE 0 END)::DOUBLE AS error_sessions,
           sum(CASE WHEN isfinite(o.latency_p95_ms) THEN o.latency_p95_ms * o.sessions ELSE 0 END)::DOUBLE
               AS latency_sum,
           sum(CASE WHEN isfinite(o.latency_p95_ms) THEN o.sessions ELSE 0 END)::DOUBLE AS latency_sessions
    FROM outcomes o JOIN stage_codes s ON s.journey = o.journey AND s.stage = o.stage
    GROUP BY ALL
),
expected AS (
    SELECT c.stage_code, c.start_ns, c.n, c.completed, c.abandoned, c.errors, c.error_sessions,
           c.latency_sum, c.latency_sessions,
           CASE WHEN isfinite(e.p_complete) THEN c.n * e.p_complete ELSE c.completed END
               AS expected_completed,
           CASE WHEN isfinite(c.n * e.p_complete * (1 - e.p_complete) * e.dispersion)
                THEN c.n * e.p_complete * (1 - e.p_complete) * e.dispersion ELSE 0 END AS completion_var,
           CASE WHEN isfinite(e.p_abandon) THEN c.n * e.p_abandon ELSE c.abandoned END
               AS expected_abandoned,
           CASE WHEN isfinite(e.p_error) THEN c.error_sessions * e.p_error ELSE c.errors END
               AS expected_errors,
           CASE WHEN isfinite(e.latency_p95_ms) THEN c.latency_sessions * e.latency_p95_ms
                ELSE c.latency_sum END AS expected_latency_sum,
           CASE WHEN g.is_new THEN c.n ELSE 0 END AS new_n,
           c.n * g.weight AS weighted_n
    FROM cells c
    JOIN expectations e ON e.stage_code = c.stage_code AND e.segment = c.segment
        AND e.hour_of_week = (c.start_ns // 3600000000000 + 72) % 168
    JOIN segment_info g ON g.segment = c.segment
),
windows AS (
    SELECT stage_code, (start_ns - (SELECT min(epoch_ns(window_start)) FROM outcomes)) // $step AS k,
           start_ns + $step AS end_ns,
           sum(n) AS n, sum(completed) AS completed, sum(expected_completed) AS expected_completed,
           sum(completion_var) AS completion_var, sum(abandoned) AS abandoned,
           sum(expected_abandoned) AS expected_abandoned, sum(errors) AS errors,
           sum(error_sessions) AS error_sessions, sum(expected_errors) AS expected_errors,
           sum(latency_sum) AS latency_sum, sum(latency_sessions) AS latency_sessions, sum(expected_latency_sum) AS expected_latency_sum,
           sum(new_n) AS new_n, sum(weighted_n) AS weighted_n
    FROM expected GROUP BY stage_code, start_ns
)"""

_MEASURES = (
    "n", "completed", "expected_completed", "completion_var", "abandoned", "expected_abandoned",
    "errors", "error_sessions", "expected_errors", "latency_sum", "latency_sessions",
    "expected_latency_sum", "new_n", "weighted_n",
)  # fmt: skip
_SHORT_MEASURES = ("n", "completed", "expected_completed", "abandoned", "expected_abandoned")

# Per (alert, stage) pair and window length: deviations from normal, NULL where undefined.
_PAIR_FEATURES = """
    CASE WHEN n > 0 AND expected_completed > 0
         THEN (expected_completed - completed) / expected_completed END AS drop_15,
    CASE WHEN n > 0 AND completion_var > 0
         THEN (expected_completed - completed) / sqrt(completion_var) END AS drop_z_15,
    CASE WHEN n > 0 THEN (abandoned - expected_abandoned) / n END AS abandon_15,
    CASE WHEN error_sessions > 0 THEN errors / error_sessions END AS error_rate_15,
    CASE WHEN error_sessions > 0 THEN (errors - expected_errors) / error_sessions END AS error_excess_15,
    CASE WHEN latency_sessions > 0 AND expected_latency_sum > 0
         THEN CASE WHEN latency_sum > 0 THEN ln(latency_sum / expected_latency_sum)
                   ELSE '-inf'::DOUBLE END END AS latency_15,
    CASE WHEN n_5 > 0 AND expected_completed_5 > 0
         THEN (expected_completed_5 - completed_5) / expected_completed_5 END AS drop_5,
    CASE WHEN n_5 > 0 THEN (abandoned_5 - expected_abandoned_5) / n_5 END AS abandon_5"""

# Per alert: the busiest stage (one session walks several mapped stages), shares of the sessions
# summed over the stages, worst stages; alerts the map does not reach get NULLs (and 0 live windows).
_PER_ALERT = """
per_alert AS (
    SELECT row, max(n) AS busiest, sum(n) AS n, sum(new_n) AS new_n, sum(weighted_n) AS weighted_n,
           max(ahead) AS ahead, max(live_windows) AS live_windows,
           max(drop_5) AS drop_5, max(drop_15) AS drop_15, max(drop_z_15) AS drop_z_15,
           max(abandon_5) AS abandon_5, max(abandon_15) AS abandon_15, max(error_rate_15) AS error_rate_15,
           max(error_excess_15) AS error_excess_15, max(latency_15) AS latency_15
    FROM pair_features GROUP BY row
)
SELECT a.row,
       p.busiest AS sessions_at_risk_15m,
       p.ahead AS expected_sessions_30m,
       p.drop_5 AS completion_drop_5m,
       p.drop_15 AS completion_drop_15m,
       p.drop_z_15 AS completion_drop_z_15m,
       p.abandon_5 AS abandonment_excess_5m,
       p.abandon_15 AS abandonment_excess_15m,
       p.error_rate_15 AS error_rate_15m,
       p.error_excess_15 AS error_excess_15m,
       p.latency_15 AS latency_deviation_15m,
       CASE WHEN p.n > 0 THEN p.new_n / p.n END AS new_user_share_15m,
       CASE WHEN p.n > 0 THEN p.weighted_n / p.n END AS segment_weight_15m,
       coalesce(p.live_windows, 0)::DOUBLE AS live_windows_15m
FROM alerts a LEFT JOIN per_alert p ON p.row = a.row
ORDER BY a.row"""


def _sum_columns(prefix: str, measures: tuple[str, ...], suffix: str = "", where: str = "") -> str:
    filtered = f" FILTER (WHERE {where})" if where else ""
    return ",\n".join(f"coalesce(sum({prefix}{m}){filtered}, 0) AS {m}{suffix}" for m in measures)


RANGE_SQL = f"""
WITH {_WINDOWS},
cutoffs AS (  -- known_by: the windows counted ended at or before it (strictly before fired_at - delay)
    SELECT row, fired_ns, fired_ns - $delay - 1 AS known_by FROM alerts
),
pair_windows AS (  -- the grid windows that ended in (known_by - 15 min, known_by]
    SELECT p.row, p.stage_code, c.known_by,
           unnest(range(greatest(c.known_by - $long - o.origin, 0) // $step,
                        greatest(c.known_by - o.origin, 0) // $step)) AS k
    FROM pairs p JOIN cutoffs c ON c.row = p.row
    CROSS JOIN (SELECT min(epoch_ns(window_start)) AS origin FROM outcomes) o
),
pair_sums AS (
    SELECT p.row, p.stage_code,
{_sum_columns("w.", _MEASURES)},
{_sum_columns("w.", _SHORT_MEASURES, "_5", "w.end_ns > p.known_by - $short")},
           count(*) FILTER (WHERE w.n > 0) AS live_windows
    FROM pair_windows p LEFT JOIN windows w ON w.stage_code = p.stage_code AND w.k = p.k
    GROUP BY p.row, p.stage_code
),
pair_features AS (
    SELECT q.row, coalesce(p.n, 0) AS n, coalesce(p.new_n, 0) AS new_n,
           coalesce(p.weighted_n, 0) AS weighted_n, coalesce(p.live_windows, 0) AS live_windows,
           x.sessions * $ahead_windows AS ahead,
           {_PAIR_FEATURES}
    FROM pairs q
    JOIN alerts a ON a.row = q.row
    -- users expected at the stage over the next half hour, from the baselines of fired_at's hour
    LEFT JOIN ahead_sessions x ON x.stage_code = q.stage_code
        AND x.hour_of_week = (a.fired_ns // 3600000000000 + 72) % 168
    LEFT JOIN pair_sums p ON p.row = q.row AND p.stage_code = q.stage_code
),
{_PER_ALERT}
"""


def _between(hi: str, lo: str, measures: tuple[str, ...], suffix: str = "") -> str:
    return ",\n".join(
        f"coalesce({hi}.{m}, 0) - coalesce({lo}.{m}, 0) AS {m}{suffix}" for m in measures
    )


def _running_columns(prefix: str = "", window: str = "w") -> str:
    return ",\n".join(f"coalesce(sum({prefix}{m}) OVER {window}, 0) AS {m}" for m in _MEASURES)


PREFIX_SQL = f"""
WITH {_WINDOWS},
grid AS (
    SELECT min(epoch_ns(window_start)) AS origin,
           (max(epoch_ns(window_start)) - min(epoch_ns(window_start))) // $step + 1 AS n_windows
    FROM outcomes
),
dense AS (
    SELECT s.stage_code, g.k
    FROM stage_codes s CROSS JOIN (SELECT unnest(range(0, n_windows + 1)) AS k FROM grid) g
),
after AS (SELECT *, k + 1 AS k_after FROM windows),
prefix AS (  -- prefix[k]: every measure summed over the stage's windows before window k
    SELECT d.stage_code * (grid.n_windows + 1) + d.k AS cell,
{_running_columns("w.", "r")},
           sum(CASE WHEN w.n > 0 THEN 1 ELSE 0 END) OVER r AS live
    FROM dense d CROSS JOIN grid LEFT JOIN after w ON w.stage_code = d.stage_code AND w.k_after = d.k
    WINDOW r AS (PARTITION BY d.stage_code ORDER BY d.k ROWS UNBOUNDED PRECEDING)
),
cutoffs AS (  -- known_by: the windows counted ended at or before it (strictly before fired_at - delay)
    SELECT row, fired_ns - $delay - 1 AS known_by FROM alerts
),
ends AS (  -- the prefix cells of each pair's stage at known_by, 15 and 5 minutes before (clipped to the grid)
    SELECT p.row, p.stage_code,
           p.stage_code * (grid.n_windows + 1)
               + least(greatest(c.known_by - grid.origin, 0) // $step, grid.n_windows) AS at_hi,
           p.stage_code * (grid.n_windows + 1)
               + least(greatest(c.known_by - $long - grid.origin, 0) // $step, grid.n_windows) AS at_long,
           p.stage_code * (grid.n_windows + 1)
               + least(greatest(c.known_by - $short - grid.origin, 0) // $step, grid.n_windows) AS at_short
    FROM pairs p JOIN cutoffs c ON c.row = p.row CROSS JOIN grid
),
pair_sums AS (
    SELECT e.row, e.stage_code,
{_between("hi", "lo15", _MEASURES)},
{_between("hi", "lo5", _SHORT_MEASURES, "_5")},
           hi.live - lo15.live AS live_windows
    FROM ends e
    JOIN prefix hi ON hi.cell = e.at_hi
    JOIN prefix lo15 ON lo15.cell = e.at_long
    JOIN prefix lo5 ON lo5.cell = e.at_short
),
pair_features AS (
    SELECT q.row, p.n, p.new_n, p.weighted_n, p.live_windows,
           x.sessions * $ahead_windows AS ahead,
           {_PAIR_FEATURES}
    FROM pairs q
    JOIN alerts a ON a.row = q.row
    LEFT JOIN ahead_sessions x ON x.stage_code = q.stage_code
        AND x.hour_of_week = (a.fired_ns // 3600000000000 + 72) % 168
    JOIN pair_sums p ON p.row = q.row AND p.stage_code = q.stage_code
),
{_PER_ALERT}
"""


@dataclass(frozen=True)
class ReferenceInputs:
    """What the SQL reads: the outcomes as read from Parquet, plus lookup relations prepared in Python."""

    outcomes: pa.Table
    alerts: pa.Table  # row, fired_ns
    pairs: pa.Table  # row, stage_code: the stages each alert's service reaches
    stage_codes: pa.Table  # journey, stage, stage_code
    expectations: pa.Table  # stage_code, segment, hour_of_week, p_complete, p_abandon, p_error, dispersion, latency_p95_ms
    ahead_sessions: pa.Table  # stage_code, hour_of_week, sessions (summed over segments, NaN as 0)
    segment_info: pa.Table  # segment, weight, is_new
    step_ns: int
    delay_ns: int = 0  # FeatureConfig.live_data_delay_min: the feed's lag before a window counts


def prepare_inputs(
    outcomes: pa.Table | pd.DataFrame,
    alerts: pd.DataFrame,
    stages: StageIndex,
    baselines: Baselines,
    journey_map: JourneyMap,
    step_ns: int,
    config: FeatureConfig | None = None,
) -> ReferenceInputs:
    """The relations the SQL reads; baselines aligned to the outcome segments as the feature job aligns them."""
    config = config or FeatureConfig()
    if isinstance(outcomes, pd.DataFrame):
        outcomes = pa.Table.from_pandas(outcomes, preserve_index=False)
    outcome_segments = set(map(str, outcomes.column("segment").unique().to_pylist()))
    segments = tuple(baselines.segments) + tuple(sorted(outcome_segments - set(baselines.segments)))
    aligned = baselines.aligned(stages, segments)
    pairs = stages.pairs(alerts["service"])
    s, g, h = (
        x.ravel()
        for x in np.meshgrid(
            np.arange(stages.n_stages),
            np.arange(len(segments)),
            np.arange(HOURS_PER_WEEK),
            indexing="ij",
        )
    )
    expectations = pa.table(
        {
            "stage_code": pa.array(s),
            "segment": pa.array(np.asarray(segments, dtype=object)[g]),
            "hour_of_week": pa.array(h),
            "p_complete": pa.array(aligned.completion[s, g, h]),
            "p_abandon": pa.array(aligned.abandonment[s, g, h]),
            "p_error": pa.array(aligned.error_rate[s, g, h]),
            "dispersion": pa.array(aligned.dispersion[s, g]),
            "latency_p95_ms": pa.array(aligned.latency_p95_ms[s, h]),
        }
    )
    ahead_s, ahead_h = (
        x.ravel()
        for x in np.meshgrid(np.arange(stages.n_stages), np.arange(HOURS_PER_WEEK), indexing="ij")
    )
    return ReferenceInputs(
        outcomes=outcomes,
        alerts=pa.table(
            {
                "row": pa.array(np.arange(len(alerts))),
                "fired_ns": pa.array(to_ns(alerts["fired_at"])),
            }
        ),
        pairs=pa.table(
            {
                "row": pa.array(pairs["row"].to_numpy(np.int64)),
                "stage_code": pa.array(pairs["stage_code"].to_numpy(np.int64)),
            }
        ),
        stage_codes=pa.table(
            {
                "journey": pa.array(stages.table["journey"].astype(str).to_numpy(dtype=object)),
                "stage": pa.array(stages.table["stage"].astype(str).to_numpy(dtype=object)),
                "stage_code": pa.array(np.arange(stages.n_stages)),
            }
        ),
        expectations=expectations,
        ahead_sessions=pa.table(
            {
                "stage_code": pa.array(ahead_s),
                "hour_of_week": pa.array(ahead_h),
                # the sum over segments as the family takes it: an unknown baseline counts 0
                "sessions": pa.array(np.nan_to_num(aligned.sessions).sum(axis=1)[ahead_s, ahead_h]),
            }
        ),
        segment_info=pa.table(
            {
                "segment": pa.array(list(segments)),
                "weight": pa.array([journey_map.segment_weight(x) for x in segments], pa.float64()),
                "is_new": pa.array([x in config.new_user_segments for x in segments]),
            }
        ),
        step_ns=step_ns,
        delay_ns=round(config.live_data_delay_min * MINUTE_NS),
    )


QUERIES = {"range": RANGE_SQL, "prefix": PREFIX_SQL}


def run_reference(
    inputs: ReferenceInputs, query: str = "prefix", threads: int | None = None
) -> pd.DataFrame:
    """Run one formulation; one row per alert (in input order): row and the family's 13 features."""
    sql = QUERIES[query]
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    for name in (
        "outcomes",
        "alerts",
        "pairs",
        "stage_codes",
        "expectations",
        "ahead_sessions",
        "segment_info",
    ):
        con.register(name, getattr(inputs, name))
    params = {
        "step": inputs.step_ns,
        "delay": inputs.delay_ns,
        "long": LONG_MIN * MINUTE_NS,
        "short": SHORT_MIN * MINUTE_NS,
        "ahead_windows": AHEAD_MIN * MINUTE_NS / inputs.step_ns,
    }
    used = {k: v for k, v in params.items() if f"${k}" in sql}
    result = con.sql(sql, params=used).to_arrow_table()
    con.close()
    frame = result.to_pandas()
    return frame.astype(dict.fromkeys(FEATURES, np.float64))
