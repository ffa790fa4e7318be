"""Audits of later periods of the sample's shop: one unshifted (no false alarm), one per shift (caught, named)."""

from __future__ import annotations

import json

import mlflow
import pandas as pd
import pytest

from features.loading import load_data_dir
from features.map_evidence import map_health
from features.settings import settings_at
from features.table import build_feature_table
from models.inference_log import InferenceLog
from models.ranking import ranker_rows
from models.registry import load_ranker_from, use_tracking
from pipeline.audit import EXPERIMENT, run_audit
from pipeline.cli import AUDIT_FAILED, main
from pipeline.simulate import SHIFTS, SimulationConfig, simulate
from pipeline.simulate.shifts import CHANGED_MAP_VERSION, NEW_SERVICE
from pipeline.stack import stack_data_dirs
from pipeline.train import train

pytestmark = pytest.mark.integration

SAMPLE_SEED, SAMPLE_DAYS, PERIOD_DAYS = 20261101, 21, 7
PERIOD = SAMPLE_DAYS // PERIOD_DAYS  # the week right after the sample's three
SINCE = "2026-10-26T00:00:00Z"
MODEL = "models:/journeyrank@champion"
# What each shift must be named by: a word its reasons contain.
NAMED_BY = {
    "traffic_mix": "new_user_share",
    "new_service": NEW_SERVICE,
    "retuned_rules": "alert_name",
    "map_change": f"now {CHANGED_MAP_VERSION}",
    # a stale detector fires its rules 3x as often on noise and scores incidents like noise:
    # named by its scores, or by the share of its signal
    "degraded_detector": ("anomaly_score", "feature signal drifted"),
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, sample_dir):
    settings = settings_at(tmp_path_factory.mktemp("audit-home"))
    train(sample_dir, settings)
    return settings


@pytest.fixture(scope="module")
def period(tmp_path_factory, sample_dir):
    """The sample followed by a later week, shifted or not, as one data directory."""
    root = tmp_path_factory.mktemp("periods")

    def make(shift: str | None):
        name = shift or "unshifted"
        week = root / f"week-{name}"
        config = SimulationConfig(
            out=week,
            days=PERIOD_DAYS,
            seed=SAMPLE_SEED,
            period=PERIOD,
            shifts=(shift,) if shift else (),
        )
        simulate(config)
        return stack_data_dirs([sample_dir, week], root / f"stacked-{name}")

    return make


def test_the_sample_ends_where_the_audited_week_begins(sample_dir):
    alerts = pd.read_parquet(sample_dir / "alerts.parquet")
    assert (
        alerts["fired_at"].max()
        < pd.Timestamp(SINCE)
        <= alerts["fired_at"].max() + pd.Timedelta(days=1)
    )


def test_an_unshifted_later_week_is_ok(trained, period, tmp_path):
    result = run_audit(MODEL, period(None), tmp_path / "audit", trained, since=SINCE)
    audit = result.audit
    assert audit.verdict.level == "ok", audit.verdict.reasons
    assert audit.source == "data directory"
    assert audit.period[0] >= pd.Timestamp(SINCE)
    assert audit.performance is not None and audit.performance["now"]["positives"] >= 100
    assert audit.coverage["new_services"] == []
    assert audit.coverage["map_version_served"] == audit.coverage["map_version_trained"]


@pytest.mark.parametrize("shift", SHIFTS)
def test_each_shift_is_caught_and_named(trained, period, tmp_path, shift):
    result = run_audit(MODEL, period(shift), tmp_path / "audit", trained, since=SINCE)
    verdict = result.audit.verdict
    assert verdict.level != "ok"
    names = NAMED_BY[shift] if isinstance(NAMED_BY[shift], tuple) else (NAMED_BY[shift],)
    assert any(name in reason for name in names for reason in verdict.reasons), verdict.reasons


def test_the_audit_writes_a_page_that_opens_offline_a_json_and_an_mlflow_run(
    trained, period, tmp_path
):
    result = run_audit(MODEL, period("traffic_mix"), tmp_path / "audit", trained, since=SINCE)
    page = result.html.read_text()
    for section in (
        "Verdict",
        "Feature drift",
        "Score and tiers",
        "Mapping coverage",
        "Performance on matured labels",
    ):
        assert section in page
    assert "data:image/png;base64," in page
    assert 'src="http' not in page and 'href="http' not in page  # nothing fetched when opened
    figures = json.loads(result.json.read_text())
    assert figures["verdict"]["level"] == result.audit.verdict.level
    assert {f["feature"] for f in figures["features"]} >= {"new_user_share_15m", "anomaly_score"}
    assert figures["performance"]["trained"]["pr_auc"] > 0
    use_tracking(trained.tracking_uri)
    run = mlflow.get_run(result.run_id)
    assert mlflow.get_experiment(run.info.experiment_id).name == EXPERIMENT
    assert run.data.tags["model_version"] == result.audit.version
    assert run.data.tags["verdict"] == result.audit.verdict.level
    assert "psi.new_user_share_15m" in run.data.metrics


def test_the_coverage_names_the_unmapped_services_ranked_by_the_map_checks_evidence(
    trained, period, tmp_path
):
    data_dir = period("new_service")
    result = run_audit(MODEL, data_dir, tmp_path / "audit", trained, since=SINCE)
    named = [u["service"] for u in result.audit.coverage["unmapped_services"]]
    assert NEW_SERVICE in named
    data = load_data_dir(data_dir)
    found, _ = map_health(
        data.journey_outcomes, data.alerts, data.journey_map, int(data.window.value)
    )
    assert named == list(found.unmapped["service"])
    assert (
        json.loads(result.json.read_text())["coverage"]["unmapped_services"][0]["service"]
        == named[0]
    )
    assert f"<td>{NEW_SERVICE}</td>" in result.html.read_text()


def test_fail_on_sets_the_exit_code(trained, period, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JOURNEYRANK_HOME", str(trained.home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    shifted = period("new_service")
    args = ["audit", "--model", MODEL, "--data", str(shifted), "--out", str(tmp_path / "a")]
    args += ["--since", SINCE]
    assert main(args) == 0  # without --fail-on an audit only reports
    assert main([*args, "--fail-on", "investigate"]) == AUDIT_FAILED
    assert main([*args, "--fail-on", "retrain"]) == 0
    out = capsys.readouterr().out
    assert "verdict: investigate" in out and NEW_SERVICE in out


def test_what_the_service_logged_is_audited_when_there_is_a_log(trained, period, tmp_path):
    """The inference log of the period is the current side; the data directory only labels it."""
    data_dir = period(None)
    use_tracking(trained.tracking_uri)
    ranker = load_ranker_from(MODEL)
    from features.loading import load_data_dir

    data = load_data_dir(data_dir)
    table = build_feature_table(data, ranker.spec.config, ranker.baselines).frame
    week = table[table["fired_at"] >= pd.Timestamp(SINCE)].reset_index(drop=True)
    rows = ranker_rows(week, week)
    answers = ranker.rank(rows, "1")
    InferenceLog.in_home(trained.home).write(
        answers, rows[["alert_id", *ranker.spec.features]], week
    )
    try:
        result = run_audit(MODEL, data_dir, tmp_path / "audit", trained, since=SINCE)
    finally:
        (trained.home / "inference_log.sqlite").unlink()
    assert result.audit.source == "inference log"
    assert result.audit.alerts == len(week)
    assert result.audit.verdict.level == "ok", result.audit.verdict.reasons
