"""`journeyrank export-feedback`: the verdicts responders posted to /feedback, as a contract file.

The file is what `journeyrank train --feedback FILE` reads: each verdict overrides the label the
journey outcomes would give its alert, and the model card counts the overrides. The service
keeps every verdict in its inference log (the state store prunes them with its label retention).
"""

from __future__ import annotations

from pathlib import Path

from features.settings import Settings
from models.inference_log import InferenceLog
from pipeline.io import write_table


def export_feedback(settings: Settings, out: Path) -> int:
    """Write every stored verdict (the latest per alert) to `out` (.parquet or .csv); rows written."""
    latest = InferenceLog.in_home(settings.home).verdicts()
    write_table(latest, out)
    return len(latest)
