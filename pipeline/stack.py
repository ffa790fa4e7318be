"""Later periods appended to their history: one data directory, as a live system would have kept it.

An audit of a new week needs the weeks before it (alert histories and baselines look back up to
seven days), and a simulated later period is written on its own. `stack_data_dirs` appends them,
in time order, under the newest journey map: outcome rows of stages that map no longer has are
history of a funnel that is gone, so they are left out rather than rejected by the contract.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from features.journey_map import JourneyMap, load_journey_map
from features.loading import JOURNEY_MAP_FILE, find_table

TABLES = ("alerts", "journey_outcomes", "changes", "feedback", "truth", "truth_incidents")


def stack_data_dirs(dirs: list[Path], out: Path) -> Path:
    """Concatenate each contract table over `dirs` (oldest first) into `out`, under the last map."""
    if not dirs:
        raise ValueError("nothing to stack: give at least one data directory")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(dirs[-1]) / JOURNEY_MAP_FILE, out / JOURNEY_MAP_FILE)
    journey_map = load_journey_map(out / JOURNEY_MAP_FILE)
    for name in TABLES:
        parts = [_read(path) for d in dirs if (path := find_table(d, name)) is not None]
        if not parts:
            continue
        frame = pd.concat(parts, ignore_index=True)
        if name == "journey_outcomes":
            frame = _stages_in(frame, journey_map)
        frame.to_parquet(out / f"{name}.parquet", index=False)
    return out


def _read(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def _stages_in(outcomes: pd.DataFrame, journey_map: JourneyMap) -> pd.DataFrame:
    known = {(name, s.name) for name, j in journey_map.journeys.items() for s in j.stages}
    keep = [(j, s) in known for j, s in zip(outcomes["journey"], outcomes["stage"], strict=True)]
    return outcomes[keep].reset_index(drop=True)
