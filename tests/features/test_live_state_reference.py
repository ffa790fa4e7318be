"""The benchmark's DuckDB reference computes what the live-state family computes (else it measures nothing)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from benchmarks._live_state_sql import FEATURES, QUERIES, prepare_inputs, run_reference
from features.baselines import fit_baselines
from features.config import FeatureJobConfig
from features.context import AlertBatch, FeatureContext
from features.families import live_state
from features.journey_state import build_journey_state
from features.loading import DataDir, load_data_dir
from features.stages import StageIndex

TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def sample(sample_dir: Path) -> DataDir:
    return load_data_dir(sample_dir)


@pytest.fixture(scope="module")
def fitted(sample: DataDir):
    config = FeatureJobConfig()
    stages = StageIndex.from_map(sample.journey_map)
    baselines = fit_baselines(
        sample.journey_outcomes, stages, int(sample.window.value), config.baselines
    )
    return stages, baselines, config


@pytest.fixture(scope="module")
def ours(sample: DataDir, fitted) -> pd.DataFrame:
    stages, baselines, config = fitted
    journey = build_journey_state(
        sample.journey_outcomes, stages, baselines, int(sample.window.value)
    )
    context = FeatureContext(
        stages=stages,
        journey_map=sample.journey_map,
        baselines=baselines.aligned(stages, journey.segments),
        journey=journey,
        alerts=None,
        changes=None,
        labels=None,
        config=config.features,
    )
    return pd.DataFrame(live_state.compute(AlertBatch.of(sample.alerts, stages), context))


def test_the_reference_covers_the_whole_family() -> None:
    assert tuple(f.name for f in live_state.FEATURES) == FEATURES


@pytest.mark.parametrize("query", sorted(QUERIES))
def test_duckdb_reference_matches_the_live_state_family(
    query: str, sample: DataDir, fitted, ours
) -> None:
    stages, baselines, config = fitted
    outcomes = pq.read_table(sample.files["journey_outcomes"])
    inputs = prepare_inputs(
        outcomes,
        sample.alerts,
        stages,
        baselines,
        sample.journey_map,
        int(sample.window.value),
        config.features,
    )
    reference = run_reference(inputs, query)
    assert reference["row"].tolist() == list(range(len(sample.alerts)))
    for name in FEATURES:
        expected, got = ours[name].to_numpy(), reference[name].to_numpy()
        assert np.isfinite(expected).any(), f"{name}: the sample never exercises it"
        np.testing.assert_allclose(
            got, expected, rtol=TOLERANCE, atol=TOLERANCE, equal_nan=True, err_msg=name
        )
