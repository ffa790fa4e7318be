"""Write a simulated data directory: contract files in a stable, byte-reproducible form."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from .clock import Clock
from .events import funnel_events
from .traffic import Funnel
from .world import World

MANIFEST_FILE = "simulation.json"  # how the directory was made; no contract loader reads it
MAP_TRUTH_FILE = "map_truth.json"  # the errors planted in the map; read only by evaluation
PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 9, "row_group_size": 1_000_000}
INCIDENT_COLUMNS = [
    "incident_id",
    "service",
    "kind",
    "start",
    "end",
    "region",
    "change_id",
    "mitigated",
    "degradation",
    "lost_completions",
    "lost_value",
    "peak_drop",
    "material",
]


def write_data_dir(
    out: Path,
    *,
    alerts,
    journey_outcomes,
    changes,
    truth,
    incidents,
    journey_map,
    map_truth: dict,
    funnel: Funnel | None,
    world: World,
    clock: Clock,
    entropy: tuple[int, ...],
    manifest: dict,
) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "alerts": _write(alerts, out / "alerts.parquet"),
        "journey_outcomes": _write(journey_outcomes, out / "journey_outcomes.parquet"),
        "changes": _write(_changes_table(changes), out / "changes.parquet"),
        "truth": _write(truth, out / "truth.parquet"),
        "truth_incidents": _write(_incidents_table(incidents), out / "truth_incidents.parquet"),
        "journey_map": out / "journey_map.yaml",
    }
    files["journey_map"].write_text(yaml.safe_dump(journey_map, sort_keys=False, width=120))
    if funnel is not None:
        files["session_events"] = _write_events(
            world, funnel, clock, out / "session_events.parquet", entropy
        )
    files["map_truth"] = _write_json(map_truth, out / MAP_TRUTH_FILE)
    files["manifest"] = _write_json(manifest, out / MANIFEST_FILE)
    return files


def _write_json(document: dict, path: Path) -> Path:
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def _write(frame: pd.DataFrame, path: Path) -> Path:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table.replace_schema_metadata(None), path, **PARQUET_OPTIONS)
    return path


def _changes_table(changes: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "change_id": changes["change_id"],
            "ts": pd.to_datetime(changes["ts_ns"], utc=True),
            "service": changes["service"],
            "kind": changes["kind"],
            "description": changes["description"],
        }
    )


def _incidents_table(incidents: pd.DataFrame) -> pd.DataFrame:
    table = incidents.assign(
        start=pd.to_datetime(incidents["start_ns"], utc=True),
        end=pd.to_datetime(incidents["end_ns"], utc=True),
        region=incidents["region"].astype("str").where(incidents["region"].notna(), None),
        change_id=incidents["change_id"].astype("str").where(incidents["change_id"].notna(), None),
    )
    return table[INCIDENT_COLUMNS]


def _write_events(
    world: World, funnel: Funnel, clock: Clock, path: Path, entropy: tuple[int, ...]
) -> Path:
    """One journey at a time, so memory stays bounded by the largest journey."""
    writer = None
    for j in range(len(world.journeys)):
        table = funnel_events(world, funnel, clock, np.random.default_rng([*entropy, j]), j)
        table = table.cast(
            pa.schema(
                [
                    f.with_type(pa.string()) if pa.types.is_dictionary(f.type) else f
                    for f in table.schema
                ]
            )
        )
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema, compression="zstd")
        writer.write_table(table, row_group_size=1_000_000)
    writer.close()
    return path
