"""`journeyrank audit`: is the served model still the model we trained? Drift, coverage, performance, verdict."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd

from features.loading import DataDir, load_data_dir
from features.map_evidence import map_health, unmapped_records
from features.settings import Settings
from features.table import build_feature_table
from features.vocabulary import rule_keys
from models.drift import LEVELS, Thresholds, feature_drift, judge, numeric_drift
from models.evaluation import MODEL, evaluate
from models.inference_log import InferenceLog
from models.ranking import Ranker
from models.registry import load_ranker_from, resolve, use_tracking
from models.tiers import PAGED_TIERS, TIERS
from models.uncertainty import margin_spread
from pipeline.io import parse_since, write_atomically
from pipeline.reports.audit import audit_html, audit_json
from pipeline.results import Audit

EXPERIMENT = "audits"
HTML_FILE, JSON_FILE = "audit.html", "audit.json"


@dataclass(frozen=True)
class AuditResult:
    audit: Audit
    html: Path
    json: Path
    run_id: str

    def reaches(self, level: str) -> bool:
        """Whether the verdict is `level` (investigate or retrain) or worse."""
        return LEVELS.index(self.audit.verdict.level) >= LEVELS.index(level)


def run_audit(
    model_uri: str,
    data_dir: Path,
    out_dir: Path,
    settings: Settings,
    since=None,
    limits: Thresholds | None = None,
) -> AuditResult:
    start = parse_since(since)
    client = use_tracking(settings.tracking_uri, EXPERIMENT)
    _, version = resolve(client, model_uri)
    ranker = load_ranker_from(model_uri)
    if not ranker.profile:
        raise ValueError(
            f"{model_uri} carries no reference profile (trained before audits existed): retrain it"
        )
    data = load_data_dir(data_dir)
    audit = compute_audit(ranker, data, settings, model_uri, version, start, limits or Thresholds())
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path, json_path = out_dir / HTML_FILE, out_dir / JSON_FILE
    payload = audit_json(audit)
    write_atomically(html_path, lambda tmp: tmp.write_text(audit_html(audit, ranker), "utf-8"))
    write_atomically(
        json_path, lambda tmp: tmp.write_text(json.dumps(payload, indent=1, default=str), "utf-8")
    )
    run_id = _log_run(audit, payload, (html_path, json_path))
    return AuditResult(audit, html_path, json_path, run_id)


def compute_audit(
    ranker: Ranker,
    data: DataDir,
    settings: Settings,
    model_uri: str,
    version: str | None,
    start: pd.Timestamp | None,
    limits: Thresholds,
) -> Audit:
    """Current = what the service logged in the period, or (when it logged nothing) DIR's period scored now."""
    table = build_feature_table(data, ranker.spec.config, ranker.baselines).frame
    current, source = _current(table, settings, start)
    current = _score_missing(current, ranker)
    if current.empty:
        raise ValueError(
            "no alerts in the audited period" + (f" (since {start})" if start is not None else "")
        )
    profile = ranker.profile
    period = (current["fired_at"].min(), current["fired_at"].max())
    days = max((period[1] - period[0]) / pd.Timedelta(days=1), 1 / 24)
    importance = dict(
        zip(ranker.spec.features, ranker.booster.feature_importance("gain"), strict=True)
    )
    features = feature_drift(profile, current, importance)
    score = numeric_drift(profile["score"], current["impact_probability"])
    pages = current["tier"].isin(PAGED_TIERS).sum()
    tiers = {
        "mix": current["tier"]
        .value_counts(normalize=True)
        .reindex(list(TIERS), fill_value=0)
        .to_dict(),
        "mix_trained": profile["tier_mix"],
        "pages_per_day": pages / days,
        "promised_pages_per_day": profile["pages_per_day"],
        "days": days,
    }
    coverage = _coverage(current, profile, str(data.journey_map.version))
    coverage["unmapped_services"] = _unmapped_by_evidence(data)
    performance = _performance(current, profile)
    verdict = judge(features, score, tiers, coverage, performance, limits)
    return Audit(
        model_uri,
        version,
        source,
        period,
        len(current),
        features,
        score,
        tiers,
        coverage,
        performance,
        verdict,
    )


def _current(
    table: pd.DataFrame, settings: Settings, start: pd.Timestamp | None
) -> tuple[pd.DataFrame, str]:
    """Features, scores and tiers of the audited alerts, with the labels DIR's outcomes give them."""
    logged = InferenceLog.in_home(settings.home).export()
    if start is not None and len(logged):
        logged = logged[logged["fired_at"] >= start]
    if len(logged):
        logged = logged.drop_duplicates("alert_id", keep="last")
        # the features as the ranker saw them; the log's own columns where no feature has the name
        features = logged.rename(columns=lambda c: c.removeprefix("feature."))
        features = features.loc[:, ~features.columns.duplicated(keep="last")]
        labels = table.set_index("alert_id")[["label", "impact_weight", "stage", "alert_source"]]
        current = features.drop(columns=["stage"], errors="ignore").join(labels, on="alert_id")
        return current.sort_values("fired_at", kind="stable").reset_index(
            drop=True
        ), "inference log"
    period = table if start is None else table[table["fired_at"] >= start]
    return period.reset_index(drop=True), "data directory"


def _score_missing(current: pd.DataFrame, ranker: Ranker) -> pd.DataFrame:
    """A period of DIR is scored now; the inference log already holds what was served."""
    if "impact_probability" in current or current.empty:
        return current
    scored = ranker.score(current)
    return current.assign(**scored)


def _coverage(current: pd.DataFrame, profile: dict, served_map: str) -> dict:
    known_services = set(profile["services"])
    rules = pd.Series(rule_keys(current), index=current.index)
    new_services = current.loc[~current["service"].isin(known_services), "service"].value_counts()
    return {
        "unmapped_share": float((current["mapped"] == 0).mean()),
        "unmapped_share_trained": profile["unmapped_share"],
        "new_services": list(new_services.index),
        "new_service_alerts": new_services.to_dict(),
        "new_service_share": float(new_services.sum() / len(current)),
        "new_rule_share": float((~rules.isin(set(profile["rules"]))).mean()),
        "map_version_served": served_map,
        "map_version_trained": profile["journey_map_version"],
    }


def _unmapped_by_evidence(data: DataDir) -> list[dict]:
    """The services the map lacks, ranked as `journeyrank map-check` ranks them (DIR's history)."""
    found, _ = map_health(
        data.journey_outcomes, data.alerts, data.journey_map, int(data.window.value)
    )
    return unmapped_records(found.unmapped)


def _performance(current: pd.DataFrame, profile: dict) -> dict | None:
    """Figures on matured labels (derived from DIR's outcomes, feedback applied) against the held-out ones."""
    matured = current[current["label"].notna()].reset_index(drop=True)
    if matured.empty or matured["label"].nunique() < 2:
        return None
    matured["label"] = matured["label"].astype(int)
    held_out = profile["held_out"]
    evaluation = evaluate(
        matured,
        matured["priority"].to_numpy(),
        matured["impact_probability"].to_numpy(),
        held_out["budget"],
    )
    stage = evaluation.slices["stage"]
    by_stage = stage[stage["ranking"] == MODEL].set_index("stage")
    return {
        "now": {
            "alerts": len(matured),
            "positives": int(matured["label"].sum()),
            "pr_auc": evaluation.figure(MODEL, "pr_auc"),
            "iw_recall_at_budget": evaluation.figure(MODEL),
            "ece": evaluation.figure(MODEL, "ece"),
            "reference_pr_auc": evaluation.figure(evaluation.best_reference("pr_auc"), "pr_auc"),
            "reference_iw_recall_at_budget": evaluation.figure(evaluation.best_reference()),
            **margin_spread(evaluation),
        },
        "trained": held_out,
        "by_stage": {
            str(k): {
                "alerts": int(r["alerts"]),
                "positives": int(r["positives"]),
                "pr_auc": r["pr_auc"],
                "trained_pr_auc": held_out["by_stage"].get(str(k), {}).get("pr_auc"),
            }
            for k, r in by_stage.iterrows()
        },
    }


def _log_run(audit: Audit, payload: dict, paths) -> str:
    with mlflow.start_run(run_name="audit") as run:
        mlflow.set_tags(
            {
                "model_uri": audit.model_uri,
                "model_version": audit.version or "",
                "verdict": audit.verdict.level,
                "source": audit.source,
            }
        )
        mlflow.log_params(
            {
                "period_start": str(audit.period[0]),
                "period_end": str(audit.period[1]),
                "alerts": audit.alerts,
            }
        )
        metrics = {
            "score_psi": audit.score["psi"],
            "pages_per_day": audit.tiers["pages_per_day"],
            "unmapped_share": audit.coverage["unmapped_share"],
            "features_major": float((audit.features["level"] == "major").sum()),
            "features_moderate": float((audit.features["level"] == "moderate").sum()),
        }
        metrics |= {f"psi.{r.feature}": float(r.psi) for r in audit.features.itertuples()}
        if audit.performance is not None:
            metrics |= {f"now.{k}": float(v) for k, v in audit.performance["now"].items()}
        mlflow.log_metrics({k: v for k, v in metrics.items() if pd.notna(v)})
        for path in paths:
            mlflow.log_artifact(str(path), artifact_path="audit")
    return run.info.run_id
