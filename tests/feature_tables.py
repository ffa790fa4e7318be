"""Comparing feature tables made by two engines (or two plans) of the same definitions."""

from __future__ import annotations

import numpy as np
import pandas as pd


def assert_same_table(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Same columns, dtypes, rows and labels; floats to 1e-9 (the online parity's tolerance):
    window sums come from prefix sums that start at each slice, so they differ in the last bits."""
    assert list(got.columns) == list(want.columns)
    assert got["alert_id"].tolist() == want["alert_id"].tolist()
    for name in want.columns:
        assert got[name].dtype == want[name].dtype, name
        if want[name].dtype == np.float64:
            np.testing.assert_allclose(
                got[name].to_numpy(), want[name].to_numpy(), rtol=1e-9, atol=1e-9, err_msg=name
            )
        else:
            pd.testing.assert_series_equal(got[name], want[name], obj=name)
