"""`journeyrank map-check`: where the journey map is wrong, from the history alone; a patch to review."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import mlflow

from features.loading import DataDir, load_data_dir
from features.map_evidence import (
    MapCheckConfig,
    map_health,
)
from features.settings import Settings
from models.registry import load_ranker_from, use_tracking
from pipeline.io import write_atomically
from pipeline.reports.map_check import map_check_html, map_check_json, patch_yaml
from pipeline.results import MapCheck

EXPERIMENT = "map-checks"
JSON_FILE, PATCH_FILE, HTML_FILE = "map_check.json", "map_patch.yaml", "map_check.html"


@dataclass(frozen=True)
class MapCheckResult:
    check: MapCheck
    json: Path
    patch: Path
    html: Path
    run_id: str

    @property
    def files(self) -> list[Path]:
        return [self.json, self.patch, self.html]


def check_map(
    data_dir: Path,
    out_dir: Path,
    settings: Settings,
    model_uri: str | None = None,
    config: MapCheckConfig | None = None,
) -> MapCheckResult:
    """Check the map against DIR's history; with a model, the map and baselines it was trained with.

    Writes map_check.json, map_patch.yaml (for a person to review: the map file is never
    touched) and map_check.html, and logs an MLflow run.
    """
    config = config or MapCheckConfig()
    use_tracking(settings.tracking_uri, EXPERIMENT)
    data = load_data_dir(data_dir)
    ranker = load_ranker_from(model_uri) if model_uri else None
    check = compute_map_check(data, config, ranker, model_uri)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = out_dir / JSON_FILE, out_dir / PATCH_FILE, out_dir / HTML_FILE
    payload = map_check_json(check)
    write_atomically(
        paths[0], lambda tmp: tmp.write_text(json.dumps(payload, indent=1, default=str), "utf-8")
    )
    write_atomically(paths[1], lambda tmp: tmp.write_text(patch_yaml(check), "utf-8"))
    write_atomically(paths[2], lambda tmp: tmp.write_text(map_check_html(check), "utf-8"))
    run_id = _log_run(check, paths)
    return MapCheckResult(check, *paths, run_id)


def compute_map_check(
    data: DataDir, config: MapCheckConfig, ranker=None, model_uri: str | None = None
) -> MapCheck:
    """The findings in memory; nothing is written."""
    journey_map = ranker.journey_map if ranker is not None else data.journey_map
    baselines = ranker.baselines if ranker is not None else None
    found, episodes = map_health(
        data.journey_outcomes,
        data.alerts,
        journey_map,
        int(data.window.value),
        baselines,
        config,
    )
    starts = data.journey_outcomes["window_start"]
    return MapCheck(
        found,
        episodes,
        journey_map,
        f"model {model_uri}" if ranker is not None else str(data.files["journey_map"]),
        (starts.min(), starts.max() + data.window),
        len(data.alerts),
        config,
    )


def _log_run(check: MapCheck, paths) -> str:
    found = check.found
    with mlflow.start_run(run_name="map-check") as run:
        mlflow.set_tags(
            {"journey_map": check.map_source, "journey_map_version": str(check.journey_map.version)}
        )
        mlflow.log_params(
            {
                "period_start": str(check.period[0]),
                "period_end": str(check.period[1]),
                "alerts": check.alerts,
                **check.config.model_dump(),
            }
        )
        mlflow.log_metrics(
            {
                "episodes": float(len(check.episodes)),
                "unmapped_services": float(len(found.unmapped)),
                "suggested_services": float(found.unmapped["suggested"].sum()),
                "doubtful_links": float(len(found.doubtful)),
                "sparse_stages": float((found.stages["status"] == "sparse").sum()),
                "stages_without_services": float((found.stages["status"] == "no services").sum()),
            }
        )
        for path in paths:
            mlflow.log_artifact(str(path), artifact_path="map_check")
    return run.info.run_id
