"""`journeyrank outcomes`: how long journeys stayed broken, what it cost, and how paging policies would have done."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from features.baselines import fit_baselines
from features.config import IncidentConfig
from features.episodes import (
    EpisodeConfig,
    attach_alerts,
    find_episodes,
    slices_hurt,
    stage_summary,
    stage_week_summary,
    window_losses,
)
from features.errors import ContractError
from features.incidents import group_incidents
from features.loading import DataDir, load_data_dir
from features.settings import Settings
from features.stages import StageIndex
from models.registry import load_ranker_from, resolve, use_tracking
from models.replay import (
    PAGE_EVERYTHING,
    PAGE_NOTHING,
    model_pages,
    reference_pages,
    replay_paging,
)
from pipeline.io import parse_since, write_atomically
from pipeline.lineage import file_digest
from pipeline.reports.outcomes import outcomes_html, outcomes_json
from pipeline.results import Outcomes
from pipeline.score import score_alerts

EXPERIMENT = "outcomes"
DEFAULT_BUDGET = 0.10
DAY = pd.Timedelta(days=1)
HTML_FILE, JSON_FILE, EPISODES_FILE = "outcomes.html", "outcomes.json", "episodes.csv"


@dataclass(frozen=True)
class OutcomesResult:
    outcomes: Outcomes
    html: Path
    json: Path
    episodes_csv: Path
    run_id: str

    @property
    def replay(self) -> pd.DataFrame:
        return self.outcomes.replay.table

    @property
    def episodes(self) -> pd.DataFrame:
        return self.outcomes.episodes

    @property
    def stage_weeks(self) -> pd.DataFrame:
        return self.outcomes.stage_weeks

    @property
    def files(self) -> list[Path]:
        return [self.html, self.json, self.episodes_csv]


def run_outcomes(
    data_dir: Path,
    out_dir: Path,
    settings: Settings,
    model_uri: str | None = None,
    budget: float = DEFAULT_BUDGET,
    since: pd.Timestamp | str | None = None,
    config: EpisodeConfig | None = None,
) -> OutcomesResult:
    """Episodes, per stage and week figures and the paging replay, written as HTML + JSON + an MLflow run."""
    config = config or EpisodeConfig()
    budget = _check_budget(budget)
    start = parse_since(since)
    data = load_data_dir(data_dir)
    period_outcomes(data.journey_outcomes, start)  # bad input fails before anything else starts
    client = use_tracking(settings.tracking_uri, EXPERIMENT)
    ranker, version = None, None
    if model_uri is not None:
        _, version = resolve(client, model_uri)
        ranker = load_ranker_from(model_uri)
    outcomes = compute_outcomes(data, budget, start, config, ranker, model_uri, version)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = out_dir / HTML_FILE, out_dir / JSON_FILE, out_dir / EPISODES_FILE
    payload = outcomes_json(outcomes)
    write_atomically(paths[0], lambda tmp: tmp.write_text(outcomes_html(outcomes), "utf-8"))
    write_atomically(paths[1], lambda tmp: tmp.write_text(json.dumps(payload, indent=1), "utf-8"))
    write_atomically(
        paths[2], lambda tmp: _episodes_csv(outcomes.episodes).to_csv(tmp, index=False)
    )
    run_id = _log_run(outcomes, data, payload, paths)
    return OutcomesResult(outcomes, *paths, run_id)


def compute_outcomes(
    data: DataDir,
    budget: float = DEFAULT_BUDGET,
    since: pd.Timestamp | None = None,
    config: EpisodeConfig | None = None,
    ranker=None,
    model_uri: str | None = None,
    model_version: str | None = None,
) -> Outcomes:
    """The report's contents, in memory: nothing is written.

    Baselines are fitted (robustly: incident windows trimmed) on the whole data directory, which
    gives every hour of the week its own history; `since` only limits the period reported.
    """
    config = config or EpisodeConfig()
    stages = StageIndex.from_map(data.journey_map)
    step = int(data.window.value)
    all_outcomes = data.journey_outcomes
    outcomes = period_outcomes(all_outcomes, since)
    baselines = fit_baselines(all_outcomes, stages, step, config.baselines)
    period_start = outcomes["window_start"].min()
    period_end = outcomes["window_start"].max() + data.window
    fired = data.alerts["fired_at"]
    alerts = (
        data.alerts[(fired >= period_start) & (fired < period_end)]
        .sort_values("fired_at", kind="stable")
        .reset_index(drop=True)
    )
    windows = window_losses(outcomes, stages, baselines, data.journey_map, step)
    episodes = find_episodes(windows, config)
    episodes = slices_hurt(episodes, outcomes, stages, baselines, config)
    episodes = attach_alerts(episodes, alerts, stages, config)
    pages = _policies(data, alerts, stages, budget, ranker, model_version)
    days = (period_end - period_start) / DAY
    incidents = _incident_ids(data, alerts, ranker)
    replay = replay_paging(episodes, alerts, pages, stages, config.alert_lead_min, days, incidents)
    first = replay.first_page_min.add_prefix("min_to_page_").reset_index(drop=True)
    return Outcomes(
        period_start=period_start,
        period_end=period_end,
        episodes=pd.concat([episodes, first], axis=1),
        windows=windows,
        per_stage=stage_summary(windows, episodes),
        stage_weeks=stage_week_summary(windows, episodes),
        replay=replay,
        pages=pages,
        alerts=alerts,
        stage_index=stages,
        budget=budget,
        config=config,
        data_dir=str(data.path),
        model_uri=model_uri if ranker is not None else None,
        model_version=model_version,
    )


def _incident_ids(data: DataDir, alerts: pd.DataFrame, ranker) -> np.ndarray:
    """The period's alerts' incidents, grouped with the whole history as it stood when each
    fired (by the model's incident config, or the default one)."""
    config = ranker.spec.config.incidents if ranker is not None else IncidentConfig()
    grouped = group_incidents(data.alerts, data.journey_map, config, data.changes)
    by_alert = pd.Series(grouped["incident_id"].to_numpy(), index=data.alerts["alert_id"])
    return by_alert.reindex(alerts["alert_id"]).to_numpy(dtype=object)


def _policies(
    data: DataDir, alerts: pd.DataFrame, stages: StageIndex, budget: float, ranker, version
) -> dict[str, np.ndarray]:
    """Paged masks in report order: the model (when given), the references, then the two extremes."""
    pages = {}
    if ranker is not None:
        ranked = score_alerts(ranker, data, alerts, version or "") if len(alerts) else None
        pages["model"] = (
            model_pages(alerts, ranked) if ranked is not None else np.zeros(0, dtype=bool)
        )
    pages |= reference_pages(alerts, stages, budget)
    pages[PAGE_EVERYTHING] = np.ones(len(alerts), dtype=bool)
    pages[PAGE_NOTHING] = np.zeros(len(alerts), dtype=bool)
    return pages


def period_outcomes(outcomes: pd.DataFrame, since: pd.Timestamp | None) -> pd.DataFrame:
    """The outcome rows from `since` on; a `since` after the data is bad input."""
    if since is None:
        return outcomes
    period = outcomes[outcomes["window_start"] >= since]
    if period.empty:
        last = outcomes["window_start"].max()
        raise ContractError(
            "--since", "option", f"a time before the data ends ({last})", got=str(since)
        )
    return period


def _check_budget(budget: float) -> float:
    if not (isinstance(budget, int | float) and 0 < budget <= 1) or math.isnan(budget):
        raise ContractError("--budget", "option", "a share of alerts in (0, 1]", got=budget)
    return float(budget)


def _episodes_csv(episodes: pd.DataFrame) -> pd.DataFrame:
    lists = ["alerts_before", "alerts_during"]
    return episodes.assign(**{c: episodes[c].map(" ".join) for c in lists})


def _log_run(outcomes: Outcomes, data: DataDir, payload: dict, paths) -> str:
    """One MLflow run in the `outcomes` experiment: settings, lineage, every headline figure, files."""
    with mlflow.start_run(run_name="outcomes") as run:
        _log_data_digests(data)
        params = {f"episodes.{k}": v for k, v in _flat(outcomes.config.model_dump()).items()}
        params |= {
            "budget": outcomes.budget,
            "period_start": str(outcomes.period_start),
            "period_end": str(outcomes.period_end),
            "model_uri": outcomes.model_uri or "",
            "model_version": outcomes.model_version or "",
        }
        mlflow.log_params({k: str(v) for k, v in params.items()})
        mlflow.log_metrics(_finite(payload["summary"]))
        for policy, row in outcomes.replay.table.iterrows():
            mlflow.log_metrics(_finite({f"replay.{policy}.{k}": v for k, v in row.items()}))
        for path in paths:
            mlflow.log_artifact(str(path), artifact_path="report")
    return run.info.run_id


def _log_data_digests(data: DataDir) -> None:
    """The files read, by SHA-256 (the tags training sets); no dataset copies: this run trains nothing."""
    digests = {name: file_digest(Path(path)) for name, path in sorted(data.files.items())}
    mlflow.set_tags(
        {f"data.sha256.{k}": v for k, v in digests.items()} | {"data.dir": str(data.path)}
    )


def _flat(values: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out |= _flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def _finite(values: dict) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in values.items()
        if isinstance(v, int | float | np.number) and math.isfinite(float(v))
    }
