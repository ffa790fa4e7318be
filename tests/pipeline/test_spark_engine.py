"""The Spark engine (local[2]) against the default engine: aggregate, features and labels, score."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd
import pytest
from feature_tables import assert_same_table
from programs import require

from features.aggregation import aggregate_session_events
from features.errors import ContractError
from features.loading import load_alerts, load_data_dir
from features.settings import settings_at
from features.slices import plan_slices, slices_of_rows
from features.table import build_feature_table
from features.timeaxis import MINUTE_NS, to_ns
from pipeline.aggregate import aggregate
from pipeline.features import run_features
from pipeline.simulate import SimulationConfig, simulate

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", autouse=True)
def _java_installed():
    require(shutil.which("java") or os.environ.get("JAVA_HOME"), "A Java runtime for Spark")


MODEL = "models:/journeyrank@champion"


@pytest.fixture(scope="module")
def spark():
    from pipeline.spark.session import spark_session

    with spark_session("local[2]") as session:
        yield session


@pytest.fixture(scope="module")
def events_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("spark-sim") / "data"
    simulate(SimulationConfig(out=out, days=1, seed=5, events=True))
    return out


def test_spark_features_and_labels_equal_the_default_engines(spark, sample_dir):
    from pipeline.spark.features import build_feature_table_spark

    data = load_data_dir(sample_dir)
    want = build_feature_table(data).frame
    got = build_feature_table_spark(spark, data).frame
    assert_same_table(got, want)
    assert got["label"].equals(want["label"])  # labels exactly, not to a tolerance


def test_spark_sends_each_row_to_the_slices_the_plan_says(spark, sample_dir):
    from pipeline.spark.features import SLICE, _by_slice
    from pipeline.spark.session import collect, to_spark

    data = load_data_dir(sample_dir)
    plan = plan_slices(data.alerts, data.journey_outcomes, 5 * MINUTE_NS, _config(), 6)
    alerts = data.alerts[["alert_id", "fired_at"]]
    got = collect(_by_slice(to_spark(spark, alerts), "fired_at", plan, 10**13, 10**12))
    rows, slices = slices_of_rows(plan, to_ns(alerts["fired_at"]), 10**13, 10**12)
    want = set(zip(alerts["alert_id"].to_numpy()[rows], slices.tolist(), strict=True))
    assert set(zip(got["alert_id"], got[SLICE].tolist(), strict=True)) == want


def test_spark_aggregate_equals_the_default_and_the_simulators_outcomes(spark, events_dir):
    from pipeline.spark.aggregate import aggregate_session_events_spark

    window = pd.Timedelta(minutes=5)
    events = events_dir / "session_events.parquet"
    want = aggregate_session_events(events, window)
    got = aggregate_session_events_spark(spark, events, window)
    pd.testing.assert_frame_equal(got.outcomes, want.outcomes)
    assert (got.events_read, got.orphan_events) == (want.events_read, want.orphan_events)
    simulated = load_data_dir(events_dir).journey_outcomes
    assert len(got.outcomes) == len(simulated)


def test_the_jobs_take_engine_spark_and_write_the_same_files(spark, events_dir, tmp_path):
    for engine in ("pandas", "spark"):
        aggregate(
            events_dir / "session_events.parquet", tmp_path / f"{engine}.parquet", 5, engine=engine
        )
        run_features(events_dir, tmp_path / f"features-{engine}.parquet", engine=engine)
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "spark.parquet"), pd.read_parquet(tmp_path / "pandas.parquet")
    )
    spec = [(tmp_path / f"features-{e}.spec.json").read_text() for e in ("pandas", "spark")]
    assert spec[0] == spec[1]


def test_spark_aggregate_refuses_bad_events_with_the_contracts_message(spark, events_dir, tmp_path):
    from pipeline.spark.aggregate import aggregate_session_events_spark

    events = pd.read_parquet(events_dir / "session_events.parquet").head(1000)
    events.loc[10, "event"] = "teleport"
    bad = tmp_path / "session_events.parquet"
    events.to_parquet(bad, index=False)
    with pytest.raises(ContractError, match="teleport"):
        aggregate_session_events_spark(spark, bad, pd.Timedelta(minutes=5))
    with pytest.raises(ContractError, match="an existing file"):
        aggregate_session_events_spark(spark, tmp_path / "nowhere.parquet", pd.Timedelta(minutes=5))


def test_score_engine_spark_ranks_like_batch_scoring(spark, sample_dir, tmp_path):
    """`journeyrank score --engine spark`: mlflow.pyfunc.spark_udf on the registered @champion."""
    from pipeline.score import score
    from pipeline.train import train

    settings = settings_at(tmp_path / "home")
    train(sample_dir, settings)
    alerts = tmp_path / "incoming.parquet"
    load_alerts(sample_dir / "alerts.parquet").tail(600).to_parquet(alerts, index=False)
    want, got = (
        score(MODEL, sample_dir, alerts, tmp_path / f"{engine}.parquet", settings, engine=engine)
        for engine in ("pandas", "spark")
    )
    assert got.model_version == want.model_version
    want, got = want.ranked, got.ranked
    assert got["alert_id"].tolist() == want["alert_id"].tolist()
    for name in ("impact_probability", "priority"):
        np.testing.assert_allclose(got[name].to_numpy(), want[name].to_numpy(), rtol=1e-12)
    for name in [c for c in want.columns if want[c].dtype != np.float64]:
        assert got[name].fillna("∅").tolist() == want[name].fillna("∅").tolist(), name


def _config():
    from features.config import FeatureJobConfig

    return FeatureJobConfig()
