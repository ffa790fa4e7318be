"""Fixtures for the contract tests: a valid data directory in Parquet or CSV, and a file writer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from contract_data import make_frames, write_data_dir, write_table


@pytest.fixture
def frames() -> dict[str, pd.DataFrame]:
    return make_frames()


@pytest.fixture
def data_dir(tmp_path: Path, frames: dict[str, pd.DataFrame]) -> Path:
    return write_data_dir(tmp_path / "data", frames, "parquet")


@pytest.fixture
def csv_dir(tmp_path: Path, frames: dict[str, pd.DataFrame]) -> Path:
    return write_data_dir(tmp_path / "data_csv", frames, "csv")


@pytest.fixture
def write(tmp_path: Path) -> Callable[[pd.DataFrame, str], Path]:
    """Write one frame as a named file in a scratch folder: write(frame, 'alerts.csv')."""

    def _write(frame: pd.DataFrame, name: str) -> Path:
        return write_table(frame, tmp_path / name)

    return _write
