"""`journeyrank export-feedback`: the verdicts responders posted to /feedback, as a contract file.

The file is what `journeyrank train --feedback FILE` reads: each verdict overrides the label the
journey outcomes would give its alert, and the model card counts the overrides. The service
keeps every verdict in its inference log (the state store prunes them with its label retention).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from features.settings import Settings
from models.inference_log import InferenceLog
from pipeline.features import write_atomically


def export_feedback(settings: Settings, out: Path) -> int:
    """Write every stored verdict (the latest per alert) to `out` (.parquet or .csv); rows written."""
    latest = InferenceLog.in_home(settings.home).verdicts()
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(out, lambda tmp: _write(latest, tmp, out.suffix))
    return len(latest)


def _write(frame: pd.DataFrame, path: Path, suffix: str) -> None:
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
