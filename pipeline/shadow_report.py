"""`journeyrank shadow-report`: what the model would have changed while it ran in shadow.

In shadow mode the service answers (and forwards) the routing alerts had before the model, and
logs the model's own answer. This reads that log over a period and says what the model would
have changed: pages saved, the impact-weighted recall it keeps against the labels that have
matured (derived from DIR's outcomes, human verdicts applied), and — the figure to read first —
the alerts it would have demoted below a page that turned out to hurt users.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.attribution import attributed_labels
from features.baselines import fit_baselines
from features.config import FeatureJobConfig
from features.labels import apply_feedback
from features.loading import load_data_dir
from features.recipe import Recipe
from features.settings import Settings
from features.stages import StageIndex
from models.fallback import FALLBACK, original_tier
from models.inference_log import InferenceLog
from pipeline.io import parse_since, write_atomically, write_table

PAGES = ("P1", "P2")
JSON_FILE, DEMOTED_FILE = "shadow_report.json", "shadow_demoted_harmful.csv"
DEMOTED_COLUMNS = ["alert_id", "fired_at", "service", "alert_name", "severity",
                   "original_tier", "model_tier", "impact_weight", "stage"]  # fmt: skip


@dataclass(frozen=True)
class ShadowReport:
    since: str
    until: str | None
    alerts: int  # alerts the model answered in the period (fallback answers left out)
    fallback_alerts: int
    pages_original: int
    pages_model: int
    pages_saved: int
    pages_saved_share: float
    labelled: int  # of the alerts, those whose label has matured
    impactful: int
    iw_recall_original: float | None  # share of the impact weight the original routing paged
    iw_recall_model: float | None
    iw_recall_kept: float | None  # model / original
    demoted_harmful: int
    demoted_harmful_weight: float
    labels_from: str | None

    def lines(self) -> list[str]:
        """The report in words, as the CLI prints it."""
        out = [
            f"{self.alerts:,} alerts the model ranked in shadow since {self.since}"
            + (
                f" ({self.fallback_alerts:,} fallback answers left out)"
                if self.fallback_alerts
                else ""
            ),
            f"pages: original routing {self.pages_original:,}, the model {self.pages_model:,} — "
            f"{self.pages_saved:,} saved ({self.pages_saved_share:.0%})",
        ]
        if self.labels_from is None:
            out.append("impact: no labels (give --data DIR, whose outcomes label the period)")
            return out
        out.append(
            f"impact: {self.impactful:,} of {self.labelled:,} alerts with matured labels hurt users "
            f"(labels from {self.labels_from})"
        )
        if self.iw_recall_model is not None:
            out.append(
                f"impact-weighted recall of the pages: original {self.iw_recall_original:.1%}, "
                f"model {self.iw_recall_model:.1%} (kept {self.iw_recall_kept:.1%})"
            )
        out.append(
            f"demoted below a page and hurt users: {self.demoted_harmful:,} alerts "
            f"(impact weight {self.demoted_harmful_weight:,.1f})"
        )
        return out


def shadow_report(
    settings: Settings, since, data_dir: Path | None = None
) -> tuple[ShadowReport, pd.DataFrame]:
    """The report over alerts fired since `since`, and the harmful demotions (worst first)."""
    start = parse_since(since)
    logged = InferenceLog.in_home(settings.home).export()
    if start is not None and len(logged):
        logged = logged[logged["fired_at"] >= start]
    logged = logged.drop_duplicates("alert_id", keep="last")
    fell_back = logged["flags"].fillna("").str.split(",").map(lambda f: FALLBACK in f)
    answered = logged[~fell_back.astype(bool)].reset_index(drop=True)
    answered = answered.assign(
        original_tier=original_tier(answered["severity"]), model_tier=answered["tier"]
    )
    paged_original = answered["original_tier"].isin(PAGES).to_numpy()
    paged_model = answered["model_tier"].isin(PAGES).to_numpy()
    labels = _labels(data_dir, InferenceLog.in_home(settings.home).verdicts())
    if labels is not None:
        answered = answered.join(labels, on="alert_id")
    else:
        answered = answered.assign(label=np.nan, impact_weight=np.nan)
    matured = answered["label"].notna().to_numpy()
    hurt = matured & (answered["label"].fillna(0).to_numpy() == 1)
    weight = np.nan_to_num(answered["impact_weight"].to_numpy(float))
    demoted = answered[hurt & paged_original & ~paged_model].assign(
        impact_weight=weight[hurt & paged_original & ~paged_model]
    )
    demoted = demoted.sort_values("impact_weight", ascending=False, kind="stable")
    total = weight[hurt].sum()
    recall = (lambda paged: float(weight[hurt & paged].sum() / total)) if total > 0 else None
    original = recall(paged_original) if recall else None
    model = recall(paged_model) if recall else None
    pages_saved = int(paged_original.sum() - paged_model.sum())
    report = ShadowReport(
        since=str(start) if start is not None else "the first entry",
        until=str(answered["fired_at"].max()) if len(answered) else None,
        alerts=len(answered),
        fallback_alerts=int(fell_back.sum()),
        pages_original=int(paged_original.sum()),
        pages_model=int(paged_model.sum()),
        pages_saved=pages_saved,
        pages_saved_share=pages_saved / paged_original.sum() if paged_original.sum() else 0.0,
        labelled=int(matured.sum()),
        impactful=int(hurt.sum()),
        iw_recall_original=original,
        iw_recall_model=model,
        iw_recall_kept=model / original if original else None,
        demoted_harmful=len(demoted),
        demoted_harmful_weight=float(demoted["impact_weight"].sum()),
        labels_from=str(data_dir) if data_dir is not None else None,
    )
    return report, demoted[DEMOTED_COLUMNS].reset_index(drop=True)


def run_shadow_report(
    settings: Settings, since, data_dir: Path | None = None, out: Path | None = None
) -> tuple[ShadowReport, pd.DataFrame, list[Path]]:
    report, demoted = shadow_report(settings, since, data_dir)
    files: list[Path] = []
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        json_path = out / JSON_FILE
        payload = json.dumps(asdict(report), indent=1, default=str)
        write_atomically(json_path, lambda tmp: tmp.write_text(payload, "utf-8"))
        write_table(demoted, out / DEMOTED_FILE)
        files = [json_path, out / DEMOTED_FILE]
    return report, demoted, files


def _labels(data_dir: Path | None, verdicts: pd.DataFrame) -> pd.DataFrame | None:
    """label and impact_weight by alert_id: the training target derived from DIR's outcomes
    (attributed to causes; unknown while an alert's window is open), then the human verdicts of
    DIR and of the log applied."""
    if data_dir is None:
        return None
    data = load_data_dir(data_dir)
    config = FeatureJobConfig()
    stages = StageIndex.from_map(data.journey_map)
    window_ns = int(data.window.value)
    baselines = fit_baselines(data.journey_outcomes, stages, window_ns, config.baselines)
    recipe = Recipe.of(data.journey_map, baselines, config, window_ns, stages)
    verdicts_given = [f for f in (data.feedback, verdicts) if f is not None and len(f)]
    feedback = pd.concat(verdicts_given, ignore_index=True) if verdicts_given else None
    derived = recipe.labels(data.alerts, recipe.journey(data.journey_outcomes))
    labels = attributed_labels(derived, data, stages, baselines, config.attribution)
    if feedback is not None:
        labels = apply_feedback(labels, feedback)
    return labels.set_index("alert_id")[["label", "impact_weight"]]
