"""The feature job cut into time slices (the plan the Spark engine runs) gives the default engine's table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from feature_tables import assert_same_table

from features.loading import load_data_dir
from features.slices import build_feature_table_by_slices, plan_slices, slices_of_rows
from features.table import build_feature_table
from features.timeaxis import MINUTE_NS


@pytest.fixture(scope="module")
def sample(sample_dir):
    return load_data_dir(sample_dir)


@pytest.mark.parametrize("n_slices", [1, 7])
def test_slice_by_slice_equals_the_whole_job(sample, n_slices):
    want = build_feature_table(sample).frame
    got = build_feature_table_by_slices(sample, n_slices=n_slices).frame
    assert_same_table(got, want)


def test_feedback_corrections_cross_slices(sample):
    """Verdicts given days after their alerts change later slices' impact rates, as in one piece."""
    picked = sample.alerts.iloc[::97]
    feedback = pd.DataFrame(
        {
            "alert_id": picked["alert_id"].to_numpy(),
            "impact": np.arange(len(picked)) % 2,
            "ts": picked["fired_at"] + pd.Timedelta(days=2),
        }
    )
    data = type(sample)(**{**sample.__dict__, "feedback": feedback})
    assert_same_table(
        build_feature_table_by_slices(data, n_slices=5).frame, build_feature_table(data).frame
    )


def test_every_row_goes_to_each_slice_whose_window_holds_it(sample):
    plan = plan_slices(sample.alerts, sample.journey_outcomes, 5 * MINUTE_NS, _config(), 6)
    t = np.sort(
        np.random.default_rng(3).integers(plan.edges[0] - 10**13, plan.edges[-1] + 10**13, 500)
    )
    before, after = 3 * 10**12, 2 * 10**12
    rows, slices = slices_of_rows(plan, t, before, after)
    want = {
        (i, k)
        for i in range(len(t))
        for k in range(plan.n_slices)
        if plan.edges[k] - before <= t[i] < plan.edges[k + 1] + after
    }
    assert set(zip(rows.tolist(), slices.tolist(), strict=True)) == want


def _config():
    from features.config import FeatureJobConfig

    return FeatureJobConfig()
