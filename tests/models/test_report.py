"""The training report: every table, figure and the model card, from one small simulated run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from matplotlib.image import imread

from features.baselines import fit_baselines
from features.loading import load_data_dir
from features.spec import FeatureSpec
from features.stages import StageIndex
from features.table import build_feature_table
from models.config import SplitConfig, TrainConfig
from models.evaluation import evaluate
from models.training import cut, fit_ranker, split_by_time
from pipeline.reports.training import write_training_report
from pipeline.simulate import SimulationConfig, simulate

CONFIG = TrainConfig(split=SplitConfig(validation_days=2, test_days=3))
TABLES = ("comparison.csv", "slices_stage.csv", "slices_source.csv", "slices_severity.csv")
FIGURES = (
    "pr_curves.png",
    "impact_recall.png",
    "calibration.png",
    "feature_importance.png",
    "shap_summary.png",
    "slices.png",
)


def _trained(data_dir: Path):
    """Evaluation, ranker and split built the way `journeyrank train` builds them (no MLflow)."""
    data = load_data_dir(data_dir)
    start, end = data.alerts["fired_at"].min(), data.alerts["fired_at"].max()
    validation_start, test_start = split_by_time(start, end, CONFIG.split)
    history = data.journey_outcomes[
        data.journey_outcomes["window_start"] + data.window <= validation_start
    ]
    stages = StageIndex.from_map(data.journey_map)
    baselines = fit_baselines(history, stages, int(data.window.value), CONFIG.features.baselines)
    table = build_feature_table(data, CONFIG.features, baselines)
    split = cut(table.frame, validation_start, test_start)
    version = str(data.journey_map.version)
    spec = FeatureSpec.from_table(split.train, table.config, table.window_ns, version)
    info = {
        "data_from": str(start),
        "data_to": str(end),
        "validation_start": str(validation_start),
        "test_start": str(test_start),
        "impact_rate": float(split.train["label"].mean()),
        "feedback_overrides": 0,
        "label_config": table.config.labels.model_dump(),
        "window_minutes": table.window_ns / 60e9,
        "train_alerts": len(split.train),
        "validation_alerts": len(split.validation),
        "test_alerts": len(split.test),
    }
    ranker = fit_ranker(split, spec, baselines, data.journey_map, CONFIG, info=info)
    scored = ranker.score(split.test)
    evaluation = evaluate(
        split.test,
        scored["priority"].to_numpy(),
        scored["impact_probability"].to_numpy(),
        0.10,
        data.truth,
    )
    return evaluation, ranker, split


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("report")
    simulate(SimulationConfig(out=root / "data", days=10, seed=5))
    evaluation, ranker, split = _trained(root / "data")
    paths = write_training_report(evaluation, ranker, split, root / "report")
    return root / "report", paths, evaluation, ranker


def test_every_file_is_written_and_returned(report):
    out, paths, _, _ = report
    expected = {*TABLES, *FIGURES, "comparison.md", "shap_mean_abs.csv", "model_card.md"}
    assert {p.name for p in paths} == expected
    assert all(p.parent == out and p.is_file() and p.stat().st_size > 0 for p in paths)


@pytest.mark.parametrize("name", FIGURES)
def test_figures_are_readable_images(report, name):
    out, _, _, _ = report
    assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    height, width = imread(out / name).shape[:2]
    assert 400 <= width <= 2500 and 300 <= height <= 2500, (width, height)


def test_the_comparison_holds_every_ordering(report):
    out, _, evaluation, _ = report
    orderings = set(evaluation.scores)
    assert {"model", "severity", "criticality_rule", "journey_weight", "oracle"} <= orderings
    table = pd.read_csv(out / "comparison.csv", index_col="ordering")
    assert set(table.index) == orderings
    assert table.loc["model", "pr_auc"] == pytest.approx(evaluation.figure("model", "pr_auc"))
    markdown = (out / "comparison.md").read_text()
    assert all(f"| {name} |" in markdown for name in orderings)


@pytest.mark.parametrize(
    ("name", "column"),
    [
        ("slices_stage.csv", "stage"),
        ("slices_source.csv", "alert_source"),
        ("slices_severity.csv", "severity"),
    ],
)
def test_every_slice_table_holds_every_ordering_for_every_slice(report, name, column):
    out, _, evaluation, _ = report
    slices = pd.read_csv(out / name)
    assert set(slices["ranking"]) == set(evaluation.scores)
    assert slices.groupby(column)["ranking"].nunique().eq(len(evaluation.scores)).all()


def test_shap_table_covers_every_feature_largest_first(report):
    out, _, _, ranker = report
    shap = pd.read_csv(out / "shap_mean_abs.csv")
    assert sorted(shap["feature"]) == sorted(ranker.spec.features)
    assert shap["mean_abs_contribution"].is_monotonic_decreasing


def test_model_card_states_labels_map_version_and_page_budget(report):
    out, _, evaluation, ranker = report
    card = (out / "model_card.md").read_text()
    labels = ranker.info["label_config"]
    for key in ("impact_window_min", "min_z", "min_lost_completions", "min_relative_drop"):
        assert f"{key} = {labels[key]}" in card, key
    assert str(ranker.journey_map.version) in card
    assert f"Page budget: **{evaluation.budget * 100:.1f}%**" in card
    assert f"{ranker.thresholds.p2:.3f}" in card
    for name in FIGURES:
        assert f"({name})" in card
