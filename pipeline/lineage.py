"""Dataset lineage for MLflow runs: which files, with which digests, went into a run."""

from __future__ import annotations

import hashlib
from pathlib import Path

import mlflow

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
        dataset = mlflow.data.from_pandas(frame, source=str(Path(path).resolve()), name=name)
        mlflow.log_input(dataset, context=context)
        digests[name] = file_digest(Path(path))
    map_path = data.files.get("journey_map")
    if map_path is not None:
        digests["journey_map"] = file_digest(Path(map_path))
    if feedback_path is not None:
        digests["feedback_file"] = file_digest(feedback_path)
    mlflow.set_tags({f"data.sha256.{k}": v for k, v in digests.items()})
    mlflow.set_tag("data.dir", str(data.path))
    return digests
