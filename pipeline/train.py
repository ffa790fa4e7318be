"""`journeyrank train`: features, a time split, the ranker, the comparison, one MLflow run, the champion gate."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd

from features.baselines import Baselines, fit_baselines
from features.build import FEATURE_NAMES
from features.loading import DataDir, load_data_dir, load_feedback
from features.map_evidence import map_health, map_summary
from features.settings import Settings
from features.spec import FeatureSpec
from features.stages import StageIndex
from features.table import FeatureTable, build_feature_table
from models.config import TrainConfig
from models.evaluation import RULES, Evaluation, evaluate
from models.profile import build_profile
from models.ranker_model import log_ranker
from models.ranking import META_INPUTS, Ranker
from models.registry import (
    CHAMPION,
    GateDecision,
    gate,
    load_ranker_from,
    set_alias,
    use_tracking,
    version_of,
)
from models.tiers import page_share
from models.training import TimeSplit, cut, fit_ranker, require_both_classes, split_by_time
from pipeline.lineage import log_data_lineage
from pipeline.reports.training import write_training_report

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    version: str
    decision: GateDecision
    evaluation: Evaluation
    ranker: Ranker
    split: TimeSplit


def train(
    data_dir: Path,
    settings: Settings,
    config: TrainConfig | None = None,
    feedback_path: Path | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Train on the data directory, log everything to one MLflow run, register, and gate @champion."""
    config = config or TrainConfig()
    step = progress or (lambda _: None)
    data = load_data_dir(data_dir)
    feedback = _feedback(data, feedback_path)
    training = build_training_set(data, config, feedback, step)
    split = training.split
    require_both_classes(split)  # before minutes of fitting: the gate needs held-out impact too
    step("LightGBM")
    info = _info(data, split, training.table, feedback, config)
    ranker = fit_ranker(
        split, training.spec, training.baselines, data.journey_map, config, info=info
    )
    step("held-out evaluation")
    evaluation = _evaluate(ranker, split.test, split, config, data.truth)
    ranker.profile = reference_profile(ranker, split, evaluation)
    step("map check")
    ranker.profile["map_check"] = map_check_of(data, training.baselines)
    step("MLflow run")
    client = use_tracking(settings.tracking_uri)
    with mlflow.start_run(run_name="train") as run:
        log_data_lineage(data, feedback_path)
        _log_config(config, ranker)
        _log_evaluation(evaluation)
        with tempfile.TemporaryDirectory() as tmp:
            step("report")
            for path in write_training_report(evaluation, ranker, split, Path(tmp) / "report"):
                mlflow.log_artifact(str(path), artifact_path="report")
            step("model, registry and champion gate")
            info = log_ranker(ranker, Path(tmp), _example(split.test))
        version = mlflow.register_model(info.model_uri, config.registered_model)
        decision = _gate(client, config, data, feedback, evaluation, str(version.version))
        mlflow.set_tags({"gate.alias": decision.alias, "gate.decision": decision.sentence()})
        mlflow.log_metric("gate.new_figure", decision.new_figure)
        if decision.champion_figure is not None:
            mlflow.log_metric("gate.champion_figure", decision.champion_figure)
        set_alias(
            client,
            config.registered_model,
            decision.alias,
            str(version.version),
            decision.sentence(),
        )
    return TrainResult(run.info.run_id, str(version.version), decision, evaluation, ranker, split)


@dataclass(frozen=True)
class TrainingSet:
    """The labelled alerts cut by time, with the fitted state the ranker carries about how they were built."""

    split: TimeSplit
    spec: FeatureSpec
    baselines: Baselines
    table: FeatureTable


def build_training_set(
    data: DataDir,
    config: TrainConfig,
    feedback: pd.DataFrame | None = None,
    progress: Progress | None = None,
) -> TrainingSet:
    """Baselines on the training days only, the feature table, the time split and the feature spec."""
    step = progress or (lambda _: None)
    validation_start, test_start = split_by_time(
        data.alerts["fired_at"].min(), data.alerts["fired_at"].max(), config.split
    )
    step("baselines on the training days")
    stages = StageIndex.from_map(data.journey_map)
    history = data.journey_outcomes[
        data.journey_outcomes["window_start"] + data.window <= validation_start
    ]
    baselines = fit_baselines(history, stages, int(data.window.value), config.features.baselines)
    table = build_feature_table(data, config.features, baselines, feedback, progress=step)
    split = cut(table.frame, validation_start, test_start)
    spec = FeatureSpec.from_table(
        split.train, table.config, table.window_ns, str(data.journey_map.version)
    )
    return TrainingSet(split, spec, baselines, table)


def _feedback(data: DataDir, path: Path | None) -> pd.DataFrame | None:
    extra = load_feedback(path) if path is not None else None
    parts = [f for f in (data.feedback, extra) if f is not None]
    return pd.concat(parts, ignore_index=True) if parts else None


def _evaluate(
    ranker: Ranker,
    frame: pd.DataFrame,
    split: TimeSplit,
    config: TrainConfig,
    truth: pd.DataFrame | None,
) -> Evaluation:
    scored = ranker.score(frame)
    return evaluate(
        frame,
        scored["priority"].to_numpy(),
        scored["impact_probability"].to_numpy(),
        page_share(config.page_budget, split.days("test"), len(frame)),
        truth,
    )


def reference_profile(ranker: Ranker, split: TimeSplit, evaluation: Evaluation) -> dict:
    """What audits compare against: the validation and held-out days, which the booster never fit.

    The training days are left out on purpose: their first week has cold alert histories, and
    the booster has seen their scores, so later periods would look drifted against them.
    """
    reference = pd.concat([split.validation, split.test], ignore_index=True)
    scored = ranker.score(reference)
    held_out_tiers = scored["tier"].iloc[len(split.validation) :]
    return build_profile(
        reference,
        scored,
        ranker.spec.features,
        set(ranker.spec.categorical),
        evaluation,
        held_out_tiers,
        split.days("test"),
        str(ranker.journey_map.version),
    )


def map_check_of(data: DataDir, baselines: Baselines) -> dict:
    """The training history's map check, carried by the model for the dashboard (what the map
    lacks is a fact about the history the model learnt from, so it travels with it)."""
    found, _ = map_health(
        data.journey_outcomes, data.alerts, data.journey_map, int(data.window.value), baselines
    )
    return map_summary(found)


def _gate(
    client,
    config: TrainConfig,
    data: DataDir,
    feedback: pd.DataFrame | None,
    evaluation: Evaluation,
    new_version: str,
) -> GateDecision:
    """Score the held-out days with the current champion (its own baselines and features) and compare.

    The champion's features come from the same data and feedback as the new model's, so that both
    are judged on what was known: only the feature config and baselines are the champion's own.
    """
    metric = "iw_recall_at_budget"
    rules = rule_figures(evaluation)
    current = version_of(client, config.registered_model, CHAMPION)
    if current is None:
        return gate(evaluation.figure(), None, None, metric, rules)
    champion = load_ranker_from(f"models:/{config.registered_model}/{current.version}")
    table = build_feature_table(data, champion.spec.config, champion.baselines, feedback)
    rows = table.frame.set_index("alert_id").loc[evaluation.frame["alert_id"]].reset_index()
    scored = champion.score(rows)
    champion_eval = evaluate(
        evaluation.frame,
        scored["priority"].to_numpy(),
        scored["impact_probability"].to_numpy(),
        evaluation.budget,
    )
    pr_auc = (evaluation.figure(metric="pr_auc"), champion_eval.figure(metric="pr_auc"))
    return gate(
        evaluation.figure(), champion_eval.figure(), str(current.version), metric, rules, pr_auc
    )


def rule_figures(evaluation: Evaluation) -> dict[str, tuple[float, float]]:
    """(model, rule) PR-AUC on the held-out days for each rule the model must beat to ship."""
    model = evaluation.figure(metric="pr_auc")
    return {
        rule: (model, evaluation.figure(rule, "pr_auc"))
        for rule in RULES
        if rule in evaluation.table.index
    }


def _info(
    data: DataDir,
    split: TimeSplit,
    table: FeatureTable,
    feedback: pd.DataFrame | None,
    config: TrainConfig,
) -> dict:
    labelled = table.frame["label"].notna()
    return {
        "data_dir": str(data.path),
        "journey_map_version": str(data.journey_map.version),
        "data_from": str(data.alerts["fired_at"].min()),
        "data_to": str(data.alerts["fired_at"].max()),
        "validation_start": str(split.validation_start),
        "test_start": str(split.test_start),
        "alerts": len(table.frame),
        "labelled_alerts": int(labelled.sum()),
        "impact_rate": float(table.frame.loc[labelled, "label"].mean()),
        "feedback_overrides": int((table.frame["label_source"] == "feedback").sum()),
        "feedback_verdicts": 0 if feedback is None else len(feedback),
        "label_config": table.config.labels.model_dump(),
        "window_minutes": table.window_ns / 60e9,
        "page_budget_share": page_share(
            config.page_budget, split.days("validation"), len(split.validation)
        ),
        "train_alerts": len(split.train),
        "validation_alerts": len(split.validation),
        "test_alerts": len(split.test),
    }


def _log_config(config: TrainConfig, ranker: Ranker) -> None:
    flat = pd.json_normalize(config.model_dump(mode="json"), sep=".").iloc[0].to_dict()
    mlflow.log_params({k: str(v) for k, v in flat.items()})
    mlflow.log_dict(config.model_dump(mode="json"), "config/train_config.json")
    mlflow.log_dict(ranker.thresholds.to_dict(), "config/tier_thresholds.json")
    mlflow.log_param("best_iteration", ranker.booster.best_iteration)
    mlflow.set_tag("journey_map_version", str(ranker.journey_map.version))


def _log_evaluation(evaluation: Evaluation) -> None:
    for ordering, row in evaluation.table.iterrows():
        mlflow.log_metrics({f"{ordering}.{k}": float(v) for k, v in row.items() if pd.notna(v)})


def _example(frame: pd.DataFrame) -> pd.DataFrame:
    """What the pyfunc takes: the alert's identity columns and its features."""
    return frame[list(dict.fromkeys([*META_INPUTS, *FEATURE_NAMES]))].head(5)
