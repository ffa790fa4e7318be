"""The drift audit as a page a reviewer reads offline (plots inlined) and as JSON with every figure."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.drift import Thresholds
from models.ranking import Ranker
from models.tiers import TIERS
from pipeline.reports.html import (
    Section,
    bullet_list,
    figure_html,
    html_page,
    new_figure,
    number,
    paragraph,
    percent,
    table_html,
)
from pipeline.results import Audit

LEVEL_COLOURS = {"stable": "#8fbf8f", "moderate": "#e6b34d", "major": "#d9534f"}
SHOWN_FEATURES = 25


def audit_json(audit: Audit) -> dict:
    return {
        "model_uri": audit.model_uri,
        "model_version": audit.version,
        "source": audit.source,
        "period": [str(t) for t in audit.period],
        "alerts": audit.alerts,
        "verdict": {"level": audit.verdict.level, "reasons": audit.verdict.reasons},
        "features": audit.features.replace({np.nan: None}).to_dict("records"),
        "score": audit.score,
        "tiers": audit.tiers,
        "coverage": audit.coverage,
        "performance": audit.performance,
    }


def audit_html(audit: Audit, ranker: Ranker) -> str:
    verdict = audit.verdict
    sections = [
        Section(
            "Verdict",
            paragraph(f"{verdict.level.upper()}")
            + (
                bullet_list(verdict.reasons)
                if verdict.reasons
                else paragraph("No finding crossed a threshold.")
            ),
        ),
        Section("Feature drift", _features_section(audit)),
        Section("Score and tiers", _score_section(audit, ranker)),
        Section("Mapping coverage", _coverage_section(audit)),
        Section("Performance on matured labels", _performance_section(audit)),
    ]
    subtitle = (
        f"{audit.model_uri} (v{audit.version}) · {audit.source} · {audit.alerts:,} alerts from "
        f"{audit.period[0]:%Y-%m-%d %H:%M} to {audit.period[1]:%Y-%m-%d %H:%M} UTC"
    )
    return html_page("JourneyRank drift audit", sections, subtitle)


def _features_section(audit: Audit) -> str:
    shown = audit.features.head(SHOWN_FEATURES)
    fig = new_figure()
    fig.set_size_inches(8, 0.28 * len(shown) + 1.2)
    ax = fig.add_subplot()
    ax.barh(
        shown["feature"][::-1],
        shown["psi"][::-1],
        color=[LEVEL_COLOURS[v] for v in shown["level"][::-1]],
    )
    for x, label in ((0.10, "moderate"), (0.25, "major")):
        ax.axvline(x, color="#666", linestyle="--", linewidth=0.8)
        ax.text(x, len(shown) - 0.4, f" {label}", fontsize=8, color="#666")
    ax.set_xlabel("population stability index against the training profile (fixed bins)")
    ax.set_title(
        f"the {len(shown)} features that moved most (colour: level, after a KS or chi² test)"
    )
    columns = [
        *("feature", "kind", "importance_rank", "gain_share"),
        *("psi", "test", "statistic", "p_value", "level"),
    ]
    return (
        figure_html(fig, "PSI per feature", "feature-psi")
        + paragraph(
            "Levels: stable below PSI 0.10 or when the test is not significant (p ≥ 0.01); moderate from "
            "0.10; major from 0.25. Drift in a feature that carries at least "
            f"{Thresholds().min_gain_share:.1%} of the model's LightGBM gain counts toward the "
            "verdict, and major drift in any feature the model uses.",
            "note",
        )
        + table_html(
            audit.features[columns],
            {
                "gain_share": lambda v: f"{float(v):.1%}",
                "psi": number(3),
                "statistic": number(3),
                "p_value": lambda v: f"{float(v):.1g}",
            },
        )
    )


def _score_section(audit: Audit, ranker: Ranker) -> str:
    reference = ranker.profile["score"]
    edges = np.asarray(reference["edges"])
    fig = new_figure()
    fig.set_size_inches(9, 3.2)
    left, right = fig.subplots(1, 2)
    labels = [f"≤{e:.2f}" for e in edges] + [
        f">{edges[-1]:.2f}" if len(edges) else "all",
        "missing",
    ]
    now = audit.score.get("shares")
    x = np.arange(len(reference["shares"]))
    left.bar(x - 0.2, reference["shares"], 0.4, label="training", color="#7a9cc6")
    if now is not None:
        left.bar(x + 0.2, now, 0.4, label="now", color="#e39b57")
    left.set_xticks(x, labels[: len(x)], rotation=60, fontsize=7)
    left.set_title(f"impact probability by training decile (PSI {audit.score['psi']:.3f})")
    left.legend()
    tiers = list(TIERS)
    y = np.arange(len(tiers))
    right.bar(
        y - 0.2,
        [audit.tiers["mix_trained"].get(t, 0) for t in tiers],
        0.4,
        label="training (held out)",
        color="#7a9cc6",
    )
    right.bar(
        y + 0.2, [audit.tiers["mix"].get(t, 0) for t in tiers], 0.4, label="now", color="#e39b57"
    )
    right.set_xticks(y, tiers)
    right.set_title("tier mix")
    right.legend()
    return figure_html(fig, "score distribution and tier mix", "score") + paragraph(
        f"Pages a day now: {audit.tiers['pages_per_day']:.1f}; promised by training: "
        f"{audit.tiers['promised_pages_per_day']:.1f}."
    )


def _coverage_section(audit: Audit) -> str:
    c = audit.coverage
    rows = pd.DataFrame(
        [
            {
                "finding": "alerts from services the map lacks",
                "now": percent(c["unmapped_share"]),
                "training": percent(c["unmapped_share_trained"]),
            },
            {
                "finding": "alerts from services never seen in training",
                "now": percent(c["new_service_share"]),
                "training": "0%",
            },
            {
                "finding": "alerts from rules never seen in training",
                "now": percent(c["new_rule_share"]),
                "training": "0%",
            },
            {
                "finding": "journey-map version",
                "now": c["map_version_served"],
                "training": c["map_version_trained"],
            },
        ]
    )
    new = pd.DataFrame(
        {"service": list(c["new_service_alerts"]), "alerts": list(c["new_service_alerts"].values())}
    )
    return (
        table_html(rows)
        + (paragraph("New services:") + table_html(new) if len(new) else "")
        + _unmapped_services(c.get("unmapped_services", []))
    )


def _unmapped_services(unmapped: list[dict]) -> str:
    """The services the map lacks, by the map check's evidence (see `journeyrank map-check`)."""
    if not unmapped:
        return paragraph("Every alerting service is on the journey map.")
    rows = pd.DataFrame(
        {
            "service": [u["service"] for u in unmapped],
            "alerts": [u["alerts"] for u in unmapped],
            "suggested links": [
                ", ".join(f"{s['journey']}/{s['stage']} ({s['link']})" for s in u["stages"]) or "—"
                for u in unmapped
            ],
            "lift": [u["lift"] for u in unmapped],
            "evidence": [u["evidence"] for u in unmapped],
        }
    )
    return paragraph(
        "Services the map lacks, ranked by how far their alerts precede stage degradations beyond "
        "chance (evidence: the lift's lower bound; `journeyrank map-check` writes the patch):"
    ) + table_html(rows, {"lift": number(1), "evidence": number(2)})


def _performance_section(audit: Audit) -> str:
    performance = audit.performance
    if performance is None:
        return paragraph(
            "No matured labels with both outcomes in the period yet: performance is not judged."
        )
    now, then = performance["now"], performance["trained"]
    table = pd.DataFrame(
        [
            {"figure": k, "now": now[k], "held-out days at training": then[k]}
            for k in ("pr_auc", "iw_recall_at_budget", "ece")
        ]
    )
    stages = pd.DataFrame([{"stage": k, **v} for k, v in performance["by_stage"].items()])
    fig = new_figure()
    fig.set_size_inches(8, 3)
    ax = fig.add_subplot()
    if len(stages):
        x = np.arange(len(stages))
        ax.bar(
            x - 0.2,
            stages["trained_pr_auc"].astype(float),
            0.4,
            label="held out at training",
            color="#7a9cc6",
        )
        ax.bar(x + 0.2, stages["pr_auc"].astype(float), 0.4, label="now", color="#e39b57")
        ax.set_xticks(x, stages["stage"], rotation=30, fontsize=8)
        ax.set_ylabel("PR-AUC")
        ax.legend()
    return (
        paragraph(
            f"{now['alerts']:,} alerts with matured labels, {now['positives']} with user impact "
            "(labels derived from the period's journey outcomes with the model's baselines; feedback applied)."
        )
        + table_html(table, {"now": number(3), "held-out days at training": number(3)})
        + figure_html(fig, "PR-AUC per stage", "stages")
        + table_html(stages)
    )
