"""Dataset lineage for MLflow runs: which files, with which digests, went into a run."""

from __future__ import annotations

import hashlib
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.data.digest_utils import MAX_ROWS, compute_pandas_digest, get_normalized_md5_digest
from mlflow.data.pandas_dataset import PandasDataset

from features.loading import DataDir

LINEAGE_TABLES = ("alerts", "journey_outcomes", "changes", "feedback")


def file_digest(path: Path) -> str:
    """SHA-256 of the file's bytes: the same file, the same digest, wherever it lives."""
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()


def log_data_lineage(
    data: DataDir, feedback_path: Path | None = None, context: str = "training"
) -> dict[str, str]:
    """mlflow.log_input for each table (with MLflow's dataset digest) plus file SHA-256 tags."""
    digests = {}
    for name in LINEAGE_TABLES:
        frame = getattr(data, name, None)
        path = data.files.get(name)
        if frame is None or path is None:
            continue
        mlflow.log_input(pandas_dataset(frame, Path(path), name), context=context)
        digests[name] = file_digest(Path(path))
    map_path = data.files.get("journey_map")
    if map_path is not None:
        digests["journey_map"] = file_digest(Path(map_path))
    if feedback_path is not None:
        digests["feedback_file"] = file_digest(feedback_path)
    mlflow.set_tags({f"data.sha256.{k}": v for k, v in digests.items()})
    mlflow.set_tag("data.dir", str(data.path))
    return digests


def pandas_dataset(frame: pd.DataFrame, path: Path, name: str) -> PandasDataset:
    """mlflow.data.from_pandas with the same digest and schema, without a Python call per cell.

    MLflow infers both by visiting every value in Python: minutes on a million alerts. The digest
    comes from `pandas_digest`; the schema from the rows that show each column's type and whether
    it has gaps, which is all MLflow's inference reads from a column of one type.
    """
    source = str(path.resolve())
    dataset = mlflow.data.from_pandas(frame, source=source, name=name, digest=pandas_digest(frame))
    witnesses = mlflow.data.from_pandas(frame.iloc[schema_witnesses(frame)], source=source)
    dataset.schema = witnesses.schema  # a cached property: set, MLflow never infers it again
    return dataset


def schema_witnesses(frame: pd.DataFrame) -> np.ndarray:
    """Row positions holding, for every column, its first value and its first missing value."""
    missing = frame.isna().to_numpy()
    rows = [np.flatnonzero(column)[:1] for present in (~missing, missing) for column in present.T]
    return np.unique(np.concatenate([np.zeros(0, np.int64), *rows]))


def pandas_digest(frame: pd.DataFrame) -> str:
    """mlflow.data.digest_utils.compute_pandas_digest, deciding which columns hold only str by dtype."""
    if len(frame) <= MAX_ROWS:
        return compute_pandas_digest(frame)
    head = frame.head(MAX_ROWS)
    only_str = head.columns[[_only_str(frame.iloc[:, i]) for i in range(frame.shape[1])]]
    hashed = head[only_str.union(head.select_dtypes(include=[np.number]).columns)]
    return get_normalized_md5_digest(
        [pd.util.hash_pandas_object(hashed).values, np.int64(len(frame))]
        + [str(x).encode() for x in frame.columns]
    )


def _only_str(column: pd.Series) -> bool:
    """Whether every value is a Python str, as `column.map(type) == str` would say."""
    if column.dtype.kind in "biufcmM":  # numbers, booleans and times are never str
        return False
    if isinstance(column.dtype, pd.StringDtype):  # str values, or a missing marker that is not str
        return bool(column.notna().all())
    return bool(column.map(lambda value: type(value) is str).all())
