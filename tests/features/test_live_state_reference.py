"""The benchmark's DuckDB reference computes what the live-state family computes (else it measures nothing)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from benchmarks._live_state_sql import FEATURES, QUERIES, prepare_inputs, run_reference
from features.baselines import Baselines, fit_baselines
from features.config import FeatureConfig, FeatureJobConfig
from features.context import AlertBatch, FeatureContext
from features.families import live_state
from features.journey_state import build_journey_state
from features.loading import DataDir, load_data_dir
from features.stages import StageIndex
from features.timeaxis import HOUR_NS, to_ns

TOLERANCE = 1e-9
# The variant case: a feed 2.5 min behind, and error counts left unreported (null) for one region,
# for every row in the hours 03:00-05:00 UTC (windows, hence alerts, with no error data at all) and
# for one stage × segment throughout (a baseline error rate that is unknown).
DELAY_MIN = 2.5
UNREPORTED_REGION, UNREPORTED_HOURS = "eu", (3, 4)
UNREPORTED_CELL = ("purchase", "payment", "premium")  # journey, stage, segment


@dataclass(frozen=True)
class Case:
    outcomes: pd.DataFrame  # what our family reads (as loaded)
    outcome_table: pa.Table  # what the SQL reads (as read from Parquet)
    alerts: pd.DataFrame
    stages: StageIndex
    baselines: Baselines
    config: FeatureJobConfig
    window_ns: int


def _unreported(window_start_ns, journey, stage, segment, region) -> np.ndarray:
    """Which outcome rows leave `errors` unreported in the variant case (by content, not row order)."""
    journey, stage, segment, region = (
        np.asarray(x, dtype=object) for x in (journey, stage, segment, region)
    )
    hour_of_day = (np.asarray(window_start_ns) // HOUR_NS) % 24
    return (
        (region == UNREPORTED_REGION)
        | np.isin(hour_of_day, UNREPORTED_HOURS)
        | (
            (journey == UNREPORTED_CELL[0])
            & (stage == UNREPORTED_CELL[1])
            & (segment == UNREPORTED_CELL[2])
        )
    )


@pytest.fixture(scope="module")
def sample(sample_dir: Path) -> DataDir:
    return load_data_dir(sample_dir)


@pytest.fixture(scope="module", params=["sample", "unreported errors, feed delay"])
def case(request: pytest.FixtureRequest, sample: DataDir) -> Case:
    outcomes, table = sample.journey_outcomes, pq.read_table(sample.files["journey_outcomes"])
    config = FeatureJobConfig()
    if request.param != "sample":
        config = FeatureJobConfig(features=FeatureConfig(live_data_delay_min=DELAY_MIN))
        columns = ("journey", "stage", "segment", "region")
        mask = _unreported(to_ns(outcomes["window_start"]), *(outcomes[c] for c in columns))
        outcomes = outcomes.assign(errors=outcomes["errors"].mask(mask))
        table_mask = _unreported(
            pc.cast(table.column("window_start"), pa.int64()).to_numpy(),
            *(table.column(c).to_numpy(zero_copy_only=False) for c in columns),
        )
        errors = pc.if_else(
            pa.array(table_mask), pa.nulls(len(table), pa.int64()), table.column("errors")
        )
        table = table.set_column(table.schema.get_field_index("errors"), "errors", errors)
        assert mask.sum() == table_mask.sum() == table.column("errors").null_count > 0
    stages = StageIndex.from_map(sample.journey_map)
    window_ns = int(sample.window.value)
    baselines = fit_baselines(outcomes, stages, window_ns, config.baselines)
    return Case(outcomes, table, sample.alerts, stages, baselines, config, window_ns)


def _ours(case: Case, sample: DataDir, alerts: pd.DataFrame) -> pd.DataFrame:
    journey = build_journey_state(case.outcomes, case.stages, case.baselines, case.window_ns)
    context = FeatureContext(
        stages=case.stages,
        journey_map=sample.journey_map,
        baselines=case.baselines.aligned(case.stages, journey.segments),
        journey=journey,
        alerts=None,
        changes=None,
        labels=None,
        config=case.config.features,
    )
    return pd.DataFrame(live_state.compute(AlertBatch.of(alerts, case.stages), context))


def _reference(case: Case, sample: DataDir, alerts: pd.DataFrame, query: str) -> pd.DataFrame:
    inputs = prepare_inputs(
        case.outcome_table,
        alerts,
        case.stages,
        case.baselines,
        sample.journey_map,
        case.window_ns,
        case.config.features,
    )
    return run_reference(inputs, query)


def _assert_same(reference: pd.DataFrame, ours: pd.DataFrame, n_alerts: int) -> None:
    assert reference["row"].tolist() == list(range(n_alerts))
    for name in FEATURES:
        expected, got = ours[name].to_numpy(), reference[name].to_numpy()
        assert np.isfinite(expected).any(), f"{name}: the sample never exercises it"
        np.testing.assert_allclose(
            got, expected, rtol=TOLERANCE, atol=TOLERANCE, equal_nan=True, err_msg=name
        )


@pytest.fixture(scope="module")
def ours(case: Case, sample: DataDir) -> pd.DataFrame:
    return _ours(case, sample, case.alerts)


def test_the_reference_covers_the_whole_family() -> None:
    assert tuple(f.name for f in live_state.FEATURES) == FEATURES


@pytest.mark.parametrize("query", sorted(QUERIES))
def test_duckdb_reference_matches_the_live_state_family(
    query: str, case: Case, sample: DataDir, ours: pd.DataFrame
) -> None:
    _assert_same(_reference(case, sample, case.alerts, query), ours, len(case.alerts))


def test_the_variant_case_exercises_the_error_edge_cases(case: Case, ours: pd.DataFrame) -> None:
    if case.config.features.live_data_delay_min == 0:
        pytest.skip("the plain sample reports every error count")
    assert np.isnan(case.baselines.error_rate).any()  # the fallback to observed errors
    with_windows = ours["live_windows_15m"] > 0
    assert (with_windows & ours["error_rate_15m"].isna()).any()  # sessions, none reporting errors


@pytest.mark.parametrize("query", ["prefix"])
def test_alerts_fired_on_window_boundaries(query: str, case: Case, sample: DataDir) -> None:
    # fired exactly the feed's delay after a window ended: that window is not yet known
    delay = pd.Timedelta(minutes=case.config.features.live_data_delay_min)
    fired = case.alerts["fired_at"].dt.floor(pd.Timedelta(case.window_ns)) + delay
    alerts = case.alerts.assign(fired_at=fired)
    _assert_same(_reference(case, sample, alerts, query), _ours(case, sample, alerts), len(alerts))
