"""The map check as a page a map owner reads offline: findings, evidence plots, the patch to review."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import yaml

from features.map_evidence import map_summary, suggested_patch
from pipeline.reports.html import (
    Section,
    figure_html,
    html_page,
    new_figure,
    number,
    paragraph,
    percent,
    table_html,
)
from pipeline.results import MapCheck

SHOWN_SERVICES = 25
LINK_COLOURS = {"hard": "#d9534f", "soft": "#e6b34d", "": "#7a9cc6"}


def map_check_html(check: MapCheck) -> str:
    found = check.found
    suggested = found.unmapped[found.unmapped["suggested"]]
    sections = [
        Section("Findings", _findings(check, len(suggested))),
        Section("Unmapped services", _unmapped_section(check)),
        Section("Renamed services", _renamed_section(check)),
        Section("Doubtful links", _doubtful_section(check)),
        Section("What the history says against what the map says", _heatmap_section(check)),
        Section("Stages: services and traffic", _stages_section(check)),
        Section("Suggested patch (not applied)", _patch_section(check)),
    ]
    subtitle = (
        f"{check.map_source} (version {check.journey_map.version}) · {check.alerts:,} alerts and "
        f"{len(check.episodes):,} degradation episodes from {check.period[0]:%Y-%m-%d %H:%M} to "
        f"{check.period[1]:%Y-%m-%d %H:%M} UTC"
    )
    return html_page("JourneyRank map check", sections, subtitle)


def _findings(check: MapCheck, suggested: int) -> str:
    found, config = check.found, check.config
    stages = found.stages
    items = [
        f"{suggested} unmapped service(s) whose alerts precede stage degradations beyond chance, "
        f"of {len(found.unmapped)} the map does not reach",
        f"{len(found.renamed)} service(s) the map names under an old name (a migration)",
        f"{len(found.doubtful)} doubtful link(s): mapped, alerting, and never ahead of impact",
        f"{(stages['status'] == 'no services').sum()} stage(s) with live data but no services; "
        f"{(stages['status'] == 'sparse').sum()} too sparse to label; "
        f"{(stages['status'] == 'no data').sum()} without data",
        f"{len(found.silent)} mapped service(s) sent no alert: {', '.join(found.silent) or 'none'}",
    ]
    method = (
        f"Evidence: a service's alerts within {config.burst_gap_min:g} min of its first form a "
        "burst; a burst counts when more of the service's rules fire in it than in its typical "
        f"burst (and at least {config.corroborating_rules}). It precedes a degradation when it "
        f"starts from {config.onset_before_min:g} min before to {config.onset_after_min:g} min "
        "after an episode's onset. Chance is the share of each hour of the day the stage spends "
        "near an onset; lift is hits over chance, with exact Poisson bounds at "
        f"{config.confidence:.0%}. A link is suggested with ≥ {config.suggest_min_hits} hits and "
        f"a lower bound above {config.suggest_min_lift:g}. A mapped hard link or dependency is "
        f"doubtful when its upper bound is below {config.doubt_max_lift:g} (lower when the map's "
        "own hard links show little lift), judged only where a hit is not likely by chance."
    )
    return (
        "<ul>"
        + "".join(f"<li>{html.escape(i)}</li>" for i in items)
        + "</ul>"
        + paragraph(method, "note")
    )


def _unmapped_section(check: MapCheck) -> str:
    unmapped = check.found.unmapped
    if unmapped.empty:
        return paragraph("Every alerting service is on the map.")
    shown = unmapped.head(SHOWN_SERVICES)
    fig = new_figure()
    fig.set_size_inches(8, 0.3 * len(shown) + 1.2)
    ax = fig.add_subplot()
    evidence = shown["evidence"].fillna(0).to_numpy()[::-1]
    lift = shown["lift"].fillna(0).to_numpy()[::-1]
    colours = ["#d9534f" if s else "#9aa7b5" for s in shown["suggested"][::-1]]
    y = np.arange(len(shown))
    ax.barh(y, lift, color="#e4e4e4", label="lift (hits ÷ chance)")
    ax.barh(y, evidence, color=colours, label="lower bound (evidence)")
    ax.axvline(check.config.suggest_min_lift, color="#666", linestyle="--", linewidth=0.8)
    ax.set_yticks(y, shown["service"][::-1], fontsize=8)
    ax.set_xlabel("times chance, at the stage where the evidence is strongest")
    ax.set_title("unmapped services by evidence (red: a link is suggested)")
    ax.legend(loc="lower right", fontsize=8)
    rows = pd.DataFrame(
        {
            "service": unmapped["service"],
            "alerts": unmapped["alerts"],
            "bursts": unmapped["bursts"],
            "suggested links": [
                ", ".join(f"{s['journey']}/{s['stage']} ({s['link']})" for s in stages) or "—"
                for stages in unmapped["stages"]
            ],
            "lift": unmapped["lift"],
            "evidence": unmapped["evidence"],
            "p": unmapped["p_value"],
            "replaces": [", ".join(r) or "—" for r in unmapped["replaces"]],
            "examples": [
                ", ".join(e for s in stages for e in s["examples"][:2]) or "—"
                for stages in unmapped["stages"]
            ],
        }
    )
    return figure_html(fig, "evidence per unmapped service", "unmapped") + table_html(
        rows, {"lift": number(1), "evidence": number(2), "p": lambda v: f"{float(v):.2g}"}
    )


def _renamed_section(check: MapCheck) -> str:
    renamed = check.found.renamed
    if renamed.empty:
        return paragraph(
            "No unmapped service took over the stages of a mapped one that fell silent."
        )
    rows = pd.DataFrame(
        {
            "new name": renamed["service"],
            "old name in the map": [", ".join(r) for r in renamed["replaces"]],
            "stages": [
                ", ".join(f"{s['journey']}/{s['stage']}" for s in stages)
                for stages in renamed["stages"]
            ],
            "lift": renamed["lift"],
            "evidence": renamed["evidence"],
        }
    )
    return paragraph(
        "Unmapped services whose alerts precede the degradations of stages whose mapped service "
        "stopped alerting before they started: the map still names the old service.",
        "note",
    ) + table_html(rows, {"lift": number(1), "evidence": number(2)})


def _doubtful_section(check: MapCheck) -> str:
    doubtful = check.found.doubtful
    if doubtful.empty:
        return paragraph("No hard link or dependency with enough alerts stayed clear of impact.")
    return paragraph(
        "Hard service→stage links and dependency edges whose alert bursts preceded impact no more "
        "than chance, with enough bursts to tell (the lift's upper bound is low). A dependency "
        "counts as supported when the callee's bursts precede a degradation of a stage the caller "
        "serves or a burst of the caller itself.",
        "note",
    ) + table_html(
        doubtful,
        {"expected": number(1), "lift": number(2), "lift_high": number(2)},
    )


def _heatmap_section(check: MapCheck) -> str:
    evidence = check.found.evidence
    if evidence.empty:
        return paragraph("No alerts in the period.")
    evidence = evidence.assign(target=evidence["journey"] + "/" + evidence["stage"])
    lift = evidence.pivot(index="service", columns="target", values="lift_low")
    link = evidence.pivot(index="service", columns="target", values="link")
    order = list(dict.fromkeys(evidence["target"]))
    strongest = lift.max(axis=1).sort_values(ascending=False)
    services = list(strongest.index[:40])
    lift, link = lift.loc[services, order], link.loc[services, order]
    fig = new_figure()
    fig.set_size_inches(9, 0.22 * len(services) + 2.2)
    ax = fig.add_subplot()
    image = ax.imshow(np.log2(1 + lift.fillna(0).to_numpy()), cmap="Reds", aspect="auto")
    for i, j in zip(*np.nonzero(link.to_numpy() != ""), strict=True):
        kind = link.iat[i, j]
        ax.text(j, i, "H" if kind == "hard" else "s", ha="center", va="center", fontsize=6)
    ax.set_xticks(range(len(order)), order, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(services)), services, fontsize=7)
    fig.colorbar(image, ax=ax, label="log2(1 + lift lower bound)")
    ax.set_title("evidence per service × stage; H / s: the map links them (hard / soft)")
    return figure_html(fig, "service × stage evidence against the map's links", "heatmap")


def _stages_section(check: MapCheck) -> str:
    stages = check.found.stages
    fig = new_figure()
    fig.set_size_inches(8, 3)
    ax = fig.add_subplot()
    names = stages["journey"] + "/" + stages["stage"]
    colours = [
        {"ok": "#8fbf8f", "sparse": "#e6b34d", "no services": "#d9534f"}.get(s, "#ccc")
        for s in stages["status"]
    ]
    ax.bar(range(len(stages)), stages["detectable_drop"].fillna(1.0).clip(upper=1.0), color=colours)
    ax.axhline(check.config.sparse_max_drop, color="#666", linestyle="--", linewidth=0.8)
    ax.set_xticks(range(len(stages)), names, rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("drop a typical window must show")
    ax.set_title("how large a loss one window of each stage can reveal (dashed: too sparse)")
    return figure_html(fig, "detectable drop per stage", "stages") + table_html(
        stages,
        {
            "typical_sessions": number(0),
            "completion_rate": percent,
            "detectable_drop": percent,
        },
    )


def _patch_section(check: MapCheck) -> str:
    return (
        paragraph(
            "Written to map_patch.yaml beside this page. The journey map itself was not changed.",
            "note",
        )
        + f"<pre>{html.escape(patch_yaml(check))}</pre>"
    )


def map_check_json(check: MapCheck) -> dict:
    found = check.found
    summary = map_summary(found)
    return {
        "journey_map": check.map_source,
        "journey_map_version": str(check.journey_map.version),
        "period": [str(t) for t in check.period],
        "alerts": check.alerts,
        "episodes": len(check.episodes),
        "unmapped_services": summary["unmapped_services"],
        "renamed_services": summary["renamed_services"],
        "doubtful_links": _records(found.doubtful),
        **{k: summary[k] for k in ("sparse_stages", "stages_without_services")},
        "stages_without_data": [
            f"{r.journey}/{r.stage}" for r in found.stages.itertuples() if r.status == "no data"
        ],
        "silent_services": found.silent,
        "stages": _records(found.stages),
        "config": check.config.model_dump(),
    }


def patch_yaml(check: MapCheck) -> str:
    """map_patch.yaml: the suggested changes with their reasons, headed by how to use them."""
    header = (
        f"# Suggested changes to the journey map ({check.map_source}, version "
        f"{check.journey_map.version}),\n# from `journeyrank map-check` on "
        f"{check.period[0]:%Y-%m-%d} → {check.period[1]:%Y-%m-%d}. Nothing was applied: review "
        "each entry,\n# edit journey_map.yaml by hand, bump its version, and retrain.\n"
    )
    body = yaml.safe_dump(
        suggested_patch(check.found, check.journey_map), sort_keys=False, allow_unicode=True
    )
    return header + body


def _records(frame: pd.DataFrame) -> list[dict]:
    clean = frame.astype(object).where(frame.notna(), None)
    return [
        {k: (float(v) if isinstance(v, np.floating) else v) for k, v in row.items()}
        for row in clean.to_dict("records")
    ]
