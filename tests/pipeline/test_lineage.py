"""Lineage: the dataset MLflow logs is the one from_pandas would give, only faster to compute."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.data.digest_utils import MAX_ROWS

from pipeline.lineage import pandas_dataset, pandas_digest

ROWS = MAX_ROWS + 50  # past the rows MLflow hashes, so a gap late in a column still counts


@pytest.fixture
def frame() -> pd.DataFrame:
    """One column of each kind the data contract holds, with gaps before and after MLflow's head."""
    n = np.arange(ROWS)
    frame = pd.DataFrame(
        {
            "alert_id": pd.Series([f"a{i}" for i in n], dtype="str"),
            "region": pd.Series(["eu"] * ROWS, dtype="str"),
            "fired_at": pd.date_range("2026-10-05", periods=ROWS, freq="min", tz="UTC"),
            "resolved_at": pd.date_range("2026-10-05", periods=ROWS, freq="min", tz="UTC"),
            "sessions": n,
            "errors": pd.array(n, dtype="Int64"),
            "score": n / 7.0,
            "flag": n % 2 == 0,
        }
    )
    frame.loc[ROWS - 3, "region"] = np.nan  # after the first MAX_ROWS rows
    frame.loc[5, "resolved_at"] = pd.NaT
    frame.loc[7, "errors"] = pd.NA
    frame.loc[9, "score"] = np.nan
    return frame


def test_the_digest_is_mlflows(frame):
    assert pandas_digest(frame) == mlflow.data.from_pandas(frame).digest
    complete = frame.assign(region="eu")  # now a column of str only: it joins the hash
    assert pandas_digest(complete) == mlflow.data.from_pandas(complete).digest
    assert pandas_digest(complete) != pandas_digest(frame)


def test_object_columns_are_checked_value_by_value(frame):
    mixed = frame.assign(labels=pd.Series(["x"] * ROWS, dtype=object))
    mixed.loc[ROWS - 1, "labels"] = 1
    assert pandas_digest(mixed) == mlflow.data.from_pandas(mixed).digest


def test_schema_and_profile_are_mlflows(frame, tmp_path):
    ours = pandas_dataset(frame, tmp_path / "alerts.parquet", "alerts").to_dict()
    theirs = mlflow.data.from_pandas(
        frame, source=str((tmp_path / "alerts.parquet").resolve()), name="alerts"
    ).to_dict()
    assert ours == theirs
    assert '"required": false' in ours["schema"]  # the gaps were seen
