"""The training report: comparison and slice tables, figures, and a model card a reviewer reads."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_curve

from models.evaluation import MODEL, SLICES, comparison_table
from models.metrics import (
    expected_calibration_error,
    ranking_order,
    reliability_bins,
    shap_mean_abs,
)
from models.reference_rankings import ORACLE

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from models.evaluation import Evaluation
    from models.ranking import Ranker
    from models.training import TimeSplit

DPI = 110
UNMAPPED = "(unmapped)"  # the slice value models.metrics.slice_metrics gives alerts without a stage
TOP_GAIN_FEATURES = 25
TOP_SHAP_FEATURES = 20
SHAP_PLOT_ROWS = 4000  # beeswarm points per feature; the mean |contribution| uses every alert
SLICE_MIN_POSITIVES = 3  # models.metrics.slice_metrics leaves slices with fewer positives blank
COLOURS = {
    MODEL: "#1f5fbf",
    "severity": "#8c8c8c",
    "criticality_rule": "#e08a1e",
    "journey_weight": "#3a9a48",
    ORACLE: "#222222",
}
FIGURES = {
    "impact_recall.png": "impact-weighted recall against the share of alerts paged (look here first)",
    "pr_curves.png": "precision-recall curves of every ordering",
    "calibration.png": "reliability of the calibrated probability",
    "slices.png": "model against the best reference ordering, per stage and per source",
    "feature_importance.png": "LightGBM gain importance",
    "shap_summary.png": "TreeSHAP contributions on the held-out alerts",
}


def write_training_report(
    evaluation: Evaluation, ranker: Ranker, split: TimeSplit, out_dir: Path
) -> list[Path]:
    """Write tables, figures and model_card.md into out_dir; return the files in reading order."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    contributions = ranker.contributions(split.test)
    shap = shap_mean_abs(contributions, list(ranker.spec.features))
    paths = [
        *_write_tables(evaluation, shap, out_dir),
        _plot(plot_impact_recall, evaluation, out_dir / "impact_recall.png"),
        _plot(plot_pr_curves, evaluation, out_dir / "pr_curves.png"),
        _plot(plot_calibration, evaluation, out_dir / "calibration.png"),
        _plot(plot_slices, evaluation, out_dir / "slices.png"),
        _plot(plot_feature_importance, ranker, out_dir / "feature_importance.png"),
        _plot(plot_shap_summary, (contributions, split.test, ranker), out_dir / "shap_summary.png"),
    ]
    card = out_dir / "model_card.md"
    card.write_text(model_card(evaluation, ranker, split, shap), encoding="utf-8")
    return [card, *paths]


# --- tables -------------------------------------------------------------------------------


def _write_tables(evaluation: Evaluation, shap: pd.DataFrame, out_dir: Path) -> list[Path]:
    paths = [out_dir / "comparison.csv", out_dir / "comparison.md"]
    evaluation.table.rename_axis("ordering").to_csv(paths[0])
    paths[1].write_text(comparison_markdown(evaluation) + "\n", encoding="utf-8")
    for title in SLICES:
        path = out_dir / f"slices_{title}.csv"
        evaluation.slices[title].to_csv(path, index=False)
        paths.append(path)
    paths.append(out_dir / "shap_mean_abs.csv")
    shap.to_csv(paths[-1], index=False)
    return paths


def comparison_markdown(evaluation: Evaluation) -> str:
    """models.evaluation.comparison_table as Markdown: shares as percentages, scores to 3 decimals."""
    table = comparison_table(evaluation)
    rows = [[name, *(_cell(c, v) for c, v in row.items())] for name, row in table.iterrows()]
    frame = evaluation.frame
    caption = (
        f"{len(frame):,} held-out alerts, {int(frame['label'].sum()):,} with user impact; "
        f"page budget {_pct(evaluation.budget)} of alerts. IWR = impact-weighted recall."
    )
    return _markdown(["ordering", *table.columns], rows) + f"\n\n{caption}"


def _cell(column: str, value: float) -> str:
    if column.endswith("%"):
        return _pct(value)
    if "÷" in column:
        return "n/a" if pd.isna(value) else f"{value:.2f}×"
    return _num(value)


def _best_reference(evaluation: Evaluation) -> str | None:
    """The deployable reference ordering with the best primary figure; None when there is none."""
    if evaluation.table.index.difference([MODEL, ORACLE]).empty:
        return None
    return evaluation.best_reference()


# --- figures ------------------------------------------------------------------------------


def _plot(draw, subject, path: Path) -> Path:
    """Draw on a fresh Agg figure (no pyplot state, nothing global), save, and free it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    draw(fig, subject)
    fig.savefig(path, dpi=DPI)
    fig.clear()
    return path


def _colour(name: str, index: int) -> str:
    from matplotlib import colormaps

    return COLOURS.get(name, colormaps["tab10"](index % 10))


def _style(name: str) -> dict:
    width = 2.4 if name == MODEL else 1.5
    return {"lw": width, "ls": "--" if name == ORACLE else "-", "zorder": 3 if name == MODEL else 2}


def plot_impact_recall(fig: Figure, evaluation: Evaluation) -> None:
    """Impact-weighted recall as the share of alerts paged grows, one line per ordering."""
    fig.set_size_inches(8.5, 5.6)
    ax = fig.subplots()
    label = evaluation.frame["label"].to_numpy(int)
    weight = np.where(
        label == 1, np.nan_to_num(evaluation.frame["impact_weight"].to_numpy(float)), 0.0
    )
    paged = np.arange(len(label) + 1) / max(len(label), 1) * 100
    for i, (name, score) in enumerate(evaluation.scores.items()):
        covered = np.cumsum(np.concatenate([[0.0], weight[ranking_order(score)]]))
        covered /= max(weight.sum(), 1e-12)
        at_budget = evaluation.table.loc[name, "iw_recall_at_budget"]
        ax.plot(
            paged,
            covered * 100,
            color=_colour(name, i),
            label=f"{name} ({_pct(at_budget)} at budget)",
            **_style(name),
        )
    ax.plot([0, 100], [0, 100], color="#bbbbbb", lw=1, ls=":", label="random order")
    ax.axvline(evaluation.budget * 100, color="#c62828", lw=1.2, ls="-.")
    ax.annotate(
        f"page budget {_pct(evaluation.budget)}",
        (evaluation.budget * 100, 3),
        xytext=(4, 0),
        textcoords="offset points",
        color="#c62828",
        fontsize=9,
    )
    ax.set(
        xlim=(0, 100),
        ylim=(0, 101),
        xlabel="alerts paged, highest ranked first (% of held-out alerts)",
        ylabel="impact-weighted recall (% of user impact paged)",
        title="Impact-weighted recall against the share of alerts paged",
    )
    ax.grid(alpha=0.3)
    ax.legend(
        loc="lower right", fontsize=9, title="ordering (recall at the budget)", title_fontsize=9
    )


def plot_pr_curves(fig: Figure, evaluation: Evaluation) -> None:
    """Precision against recall of the impact class for every ordering, PR-AUC in the legend."""
    fig.set_size_inches(8, 5.6)
    ax = fig.subplots()
    label = evaluation.frame["label"].to_numpy(int)
    # a precision-recall curve needs both classes
    scores = evaluation.scores if len(np.unique(label)) == 2 else {}
    for i, (name, score) in enumerate(scores.items()):
        precision, recall, _ = precision_recall_curve(label, score)
        ax.step(
            recall,
            precision,
            where="post",
            color=_colour(name, i),
            label=f"{name} (PR-AUC {_num(evaluation.table.loc[name, 'pr_auc'])})",
            **_style(name),
        )
    ax.axhline(
        label.mean(), color="#bbbbbb", lw=1, ls=":", label=f"impact rate {_pct(label.mean())}"
    )
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1.02),
        xlabel="recall (share of impactful alerts ranked above the cut)",
        ylabel="precision (share of alerts above the cut with impact)",
        title=f"Precision-recall of the impact class ({len(label):,} held-out alerts)",
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=9)


def plot_calibration(fig: Figure, evaluation: Evaluation) -> None:
    """Reliability diagram over equal-count bins, the diagonal, and the histogram of probabilities."""
    fig.set_size_inches(6.8, 7.2)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    probability = np.asarray(evaluation.probability, dtype=float)
    label = evaluation.frame["label"].to_numpy(float)
    bins = reliability_bins(probability, label)
    error = np.sqrt(np.clip(bins["observed"] * (1 - bins["observed"]), 1e-12, None) / bins["n"])
    top.plot([0, 1], [0, 1], color="#999999", ls=":", lw=1, label="perfect calibration")
    top.errorbar(
        bins["predicted"],
        bins["observed"],
        yerr=error,
        fmt="o-",
        color=COLOURS[MODEL],
        capsize=3,
        label=f"{len(bins)} equal-count bins (±1 s.e.)",
    )
    ece = expected_calibration_error(probability, label)
    top.set(
        xlim=(0, 1),
        ylim=(0, 1),
        ylabel="observed impact rate in the bin",
        title=f"Calibration on the held-out alerts — ECE {_num(ece)}",
    )
    top.grid(alpha=0.3)
    top.legend(loc="upper left", fontsize=9)
    bottom.hist(probability, bins=40, range=(0, 1), color=COLOURS[MODEL], alpha=0.7)
    bottom.set_yscale("log")
    bottom.set(xlabel="predicted impact probability (calibrated)", ylabel="alerts (log)")
    bottom.grid(alpha=0.3)


def plot_feature_importance(fig: Figure, ranker: Ranker) -> None:
    """Top features by LightGBM gain, as a share of the total gain."""
    gain = pd.Series(ranker.booster.feature_importance("gain"), index=list(ranker.spec.features))
    top = (
        (gain / max(gain.sum(), 1e-12) * 100)
        .sort_values(ascending=False)
        .head(TOP_GAIN_FEATURES)[::-1]
    )
    fig.set_size_inches(8.5, 0.3 * len(top) + 1.6)
    ax = fig.subplots()
    colours = ["#8c8c8c" if f in ranker.spec.categorical else COLOURS[MODEL] for f in top.index]
    ax.barh(top.index, top.to_numpy(), color=colours)
    for y, value in enumerate(top.to_numpy()):
        ax.annotate(
            f"{value:.1f}%",
            (value, y),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.set(
        xlabel="share of the total split gain (%)  —  grey bars: categorical features",
        title=f"LightGBM gain importance (top {len(top)} of {len(gain)} features)",
    )
    ax.margins(x=0.12)
    ax.grid(axis="x", alpha=0.3)


def plot_shap_summary(fig: Figure, subject: tuple[np.ndarray, pd.DataFrame, Ranker]) -> None:
    """Beeswarm of TreeSHAP contributions for the top features by mean |contribution|."""
    contributions, frame, ranker = subject
    features = list(ranker.spec.features)
    mean_abs = np.abs(contributions).mean(axis=0)
    top = np.argsort(-mean_abs, kind="stable")[:TOP_SHAP_FEATURES]
    rows = np.random.default_rng(0).permutation(len(frame))[:SHAP_PLOT_ROWS]
    fig.set_size_inches(9, 0.38 * len(top) + 1.8)
    ax = fig.subplots()
    points = [
        _swarm_row(ax, contributions[rows, j], y, _value_rank(frame, features[j], rows, ranker))
        for y, j in enumerate(top[::-1])
    ]
    coloured = [p for p in points if p is not None]
    ax.axvline(0, color="#666666", lw=0.8)
    ax.set_yticks(
        range(len(top)), [f"{features[j]}  ({mean_abs[j]:.3f})" for j in top[::-1]], fontsize=9
    )
    ax.set(
        xlabel="contribution to the raw score (log-odds); right = more likely user impact",
        title=f"TreeSHAP on {len(frame):,} held-out alerts — top {len(top)} features by mean |contribution|"
        + _sampled_note(len(rows), len(frame)),
    )
    ax.grid(axis="x", alpha=0.3)
    if coloured:
        bar = fig.colorbar(coloured[0], ax=ax, pad=0.01, aspect=40, ticks=[0, 1])
        bar.ax.set_yticklabels(["low", "high"])
        bar.set_label("feature value (rank); grey: categorical or missing")


def _sampled_note(shown: int, total: int) -> str:
    """Say on the plot when it draws a sample, and that the figures beside it do not."""
    if shown >= total:
        return ""
    return f"\npoints: a random {shown:,} of the {total:,} alerts; mean |contribution| from all of them"


def _swarm_row(ax, x: np.ndarray, y: int, rank: np.ndarray):
    """One feature's points around height y: grey where there is no value rank, else coloured by it."""
    height = y + _swarm_offsets(x, np.random.default_rng(y))
    grey = np.isnan(rank)
    ax.scatter(x[grey], height[grey], s=5, color="#9e9e9e", alpha=0.6, lw=0)
    if grey.all():
        return None
    style = {"s": 5, "cmap": "coolwarm", "vmin": 0, "vmax": 1, "alpha": 0.7, "lw": 0}
    return ax.scatter(x[~grey], height[~grey], c=rank[~grey], **style)


def _value_rank(frame: pd.DataFrame, feature: str, rows: np.ndarray, ranker: Ranker) -> np.ndarray:
    """The feature's value as a percentile rank among the held-out alerts; NaN for categoricals."""
    if feature in ranker.spec.categorical or feature not in frame:
        return np.full(len(rows), np.nan)
    values = pd.to_numeric(frame[feature], errors="coerce")
    return values.rank(pct=True).to_numpy(float)[rows]


def _swarm_offsets(x: np.ndarray, rng: np.random.Generator, width: float = 0.4) -> np.ndarray:
    """Vertical offsets that grow with the local density of x: a cheap beeswarm."""
    if len(x) == 0 or np.ptp(x) == 0:
        return rng.uniform(-width, width, len(x)) * 0.5
    counts, edges = np.histogram(x, bins=60)
    density = counts[np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(counts) - 1)]
    return rng.uniform(-1, 1, len(x)) * width * np.sqrt(density / counts.max())


def plot_slices(fig: Figure, evaluation: Evaluation) -> None:
    """PR-AUC and impact-weighted recall at 10% per stage and per source: the model vs the best reference."""
    reference = _best_reference(evaluation)
    names = [MODEL, *([reference] if reference else [])]
    parts = {
        title: _slice_pivot(evaluation.slices[title], SLICES[title], names)
        for title in ("stage", "source")
    }
    heights = [max(len(p), 2) for p in parts.values()]
    fig.set_size_inches(13, 0.42 * sum(heights) + 2.2)
    axes = fig.subplots(2, 2, height_ratios=heights, sharey="row")
    for row, (title, pivot) in enumerate(parts.items()):
        for col, (metric, label) in enumerate(
            (("pr_auc", "PR-AUC"), ("iw_recall_at_10pct", "impact-weighted recall at 10%"))
        ):
            _slice_bars(axes[row, col], pivot, metric, names)
            axes[row, col].set_title(f"{label} by {title}", fontsize=11)
    axes[0, 0].legend(loc="lower right", fontsize=9)
    fig.suptitle(
        f"By slice: the model against the best reference ordering ({reference}); "
        f"n/a = fewer than {SLICE_MIN_POSITIVES} alerts with impact",
        fontsize=12,
    )


def _slice_pivot(slices: pd.DataFrame, column: str, names: list[str]) -> pd.DataFrame:
    """One row per slice value with alerts, positives and each named ordering's two metrics."""
    part = slices[slices["ranking"].isin(names)]
    wide = part.pivot(index=column, columns="ranking", values=["pr_auc", "iw_recall_at_10pct"])
    counts = part.drop_duplicates(column).set_index(column)[["alerts", "positives"]]
    wide.columns = [f"{metric}|{name}" for metric, name in wide.columns]
    return counts.join(wide).sort_values("alerts", kind="stable")


def _slice_bars(ax, pivot: pd.DataFrame, metric: str, names: list[str]) -> None:
    y = np.arange(len(pivot))
    height = 0.8 / len(names)
    for i, name in enumerate(names):
        values = pivot[f"{metric}|{name}"].to_numpy(float)
        offset = y + ((len(names) - 1) / 2 - i) * height  # the model's bar on top of its group
        ax.barh(offset, np.nan_to_num(values), height, color=_colour(name, i), label=name)
        for yy, value in zip(offset, values, strict=True):
            text = "n/a" if np.isnan(value) else f"{value:.2f}"
            ax.annotate(
                text,
                (0 if np.isnan(value) else value, yy),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=7,
                color="#555555" if np.isnan(value) else "black",
            )
    ticks = [
        f"{v}  ({int(p)}/{int(a)})"
        for v, p, a in zip(pivot.index, pivot["positives"], pivot["alerts"], strict=True)
    ]
    ax.set_yticks(y, ticks, fontsize=9)
    ax.set_xlim(0, 1.12)
    ax.set_xlabel(
        f"{'PR-AUC' if metric == 'pr_auc' else 'impact-weighted recall'}  —  labels: slice (impactful/alerts)",
        fontsize=8,
    )
    ax.grid(axis="x", alpha=0.3)


# --- model card ---------------------------------------------------------------------------


def model_card(evaluation: Evaluation, ranker: Ranker, split: TimeSplit, shap: pd.DataFrame) -> str:
    """The model card as Markdown: what it is for, on what data, with what labels, how good, where it is weak."""
    sections = [
        _card_intro(ranker),
        _card_data(ranker, split),
        _card_label(ranker, evaluation),
        _card_tiers(ranker, evaluation),
        _card_comparison(evaluation),
        _card_slices(evaluation),
        _card_features(shap, ranker),
        _card_limits(evaluation, split),
        _card_files(),
    ]
    return "\n\n".join(sections) + "\n"


def _card_intro(ranker: Ranker) -> str:
    info = ranker.info
    return "\n".join(
        [
            "# Model card — JourneyRank alert ranker",
            "",
            f"**Model:** LightGBM binary classifier ({ranker.booster.num_trees()} trees, best iteration "
            f"{info.get('best_iteration', 'n/a')}, {len(ranker.spec.features)} features) with "
            f"{getattr(ranker.calibrator, 'method', 'a')} calibration and page-budget tiers, logged as one "
            "MLflow pyfunc model; its registered version is the one of the MLflow run this card belongs to.",
            "",
            "**Intended use:** rank incoming monitoring alerts by the probability and size of their impact "
            "on users at the customer-journey stages they touch, so that the alert router pages the few that "
            "matter (tiers P1–P4, routes incident room / page / ticket / digest).",
            "",
            "**Not intended for:** replacing incident judgement. A low rank is not evidence that nothing is "
            "wrong; responders still decide. It does not detect incidents by itself — it only orders alerts "
            "that monitoring already raised.",
        ]
    )


def _card_data(ranker: Ranker, split: TimeSplit) -> str:
    info = ranker.info
    rows = [
        [
            "data",
            f"{_when(info.get('data_from'))} → {_when(info.get('data_to'))}",
            f"{_count(info.get('alerts'))} alerts ({_count(info.get('labelled_alerts'))} with a matured label)",
        ],
        [
            "train",
            f"before {_when(info.get('validation_start', split.validation_start))}",
            f"{_count(info.get('train_alerts', len(split.train)))} alerts",
        ],
        [
            "validation",
            f"{_when(info.get('validation_start', split.validation_start))} → "
            f"{_when(info.get('test_start', split.test_start))} ({split.days('validation'):.1f} days)",
            f"{_count(info.get('validation_alerts', len(split.validation)))} alerts: early stopping, calibration, tier thresholds",
        ],
        [
            "test (held out)",
            f"{_when(info.get('test_start', split.test_start))} → {_when(split.end)} "
            f"({split.days('test'):.1f} days)",
            f"{_count(info.get('test_alerts', len(split.test)))} alerts: every figure below",
        ],
    ]
    window = info.get("window_minutes")
    return "\n".join(
        [
            "## Data and split",
            "",
            _markdown(["part", "period (UTC)", "alerts"], rows),
            "",
            f"Split by time, never at random. Journey outcomes come in windows of {_num(window, 0)} minutes. "
            f"Journey map version **{ranker.journey_map.version}** (stored with the model and every ranked alert).",
        ]
    )


def _card_label(ranker: Ranker, evaluation: Evaluation) -> str:
    labels = ranker.info.get("label_config", {})
    frame = evaluation.frame
    return "\n".join(
        [
            "## Label: what “user impact” means",
            "",
            "An alert is mapped to the journey stages whose services it touches (directly or through the "
            f"map's dependencies). In the **{labels.get('impact_window_min', 'n/a')} minutes** after it fired "
            f"(impact_window_min = {labels.get('impact_window_min', 'n/a')}), "
            "each of those stages' completions are compared with what the stage normally completes at that "
            "hour of the week for each segment (robust baselines fitted on the training days). The label is 1 "
            "when some stage lost completions that are both significant and material:",
            "",
            f"- significant: one-sided z of the lost completions ≥ **min_z = {labels.get('min_z', 'n/a')}**;",
            f"- material: at least **min_lost_completions = {labels.get('min_lost_completions', 'n/a')}** "
            f"completions lost, and at least **min_relative_drop = {labels.get('min_relative_drop', 'n/a')}** "
            f"({_pct(labels.get('min_relative_drop'))}) of what the stage should have completed.",
            "",
            "Its size — lost completions × stage value × segment weight — is the `impact_weight` that "
            "impact-weighted recall counts. A human verdict in the feedback overrides the derived label.",
            "",
            f"- impact rate: {_pct(ranker.info.get('impact_rate'))} of all labelled alerts; "
            f"{_pct(frame['label'].mean())} of the held-out ones ({int(frame['label'].sum()):,} of {len(frame):,});",
            f"- feedback overrides: **{_count(ranker.info.get('feedback_overrides', 0))}** labels set by a human "
            f"verdict ({_count(ranker.info.get('feedback_verdicts', 0))} verdicts supplied).",
        ]
    )


def _card_tiers(ranker: Ranker, evaluation: Evaluation) -> str:
    t = ranker.thresholds
    tiers = pd.Series(t.tier(evaluation.scores[MODEL])).value_counts(normalize=True)
    paged = tiers.get("P1", 0.0) + tiers.get("P2", 0.0)
    rows = [
        ["P1 — incident room", f"priority ≥ {_num(t.p1)}", _pct(tiers.get("P1", 0.0))],
        ["P2 — page", f"priority ≥ {_num(t.p2)}", _pct(tiers.get("P2", 0.0))],
        ["P3 — ticket", f"priority ≥ {_num(t.p3)}", _pct(tiers.get("P3", 0.0))],
        ["P4 — digest", "below", _pct(tiers.get("P4", 0.0))],
    ]
    return "\n".join(
        [
            "## Tiers and the page budget",
            "",
            _markdown(["tier", "threshold", "share of held-out alerts"], rows),
            "",
            f"Page budget: **{_pct(evaluation.budget)}** of alerts paged (P1 + P2). Thresholds were tuned on "
            f"the validation days, where they paged {_pct(t.page_share)} of alerts "
            f"(page_share, {t.pages_per_day:.1f} pages a day); on the held-out days they page {_pct(paged)}.",
            "",
            f"Priority = probability × log(2 + users at risk) × stage impact. An alert the map does "
            f"not reach stands for {ranker.unmapped.users_at_risk:,.0f} users at risk and a stage "
            f"impact of {_num(ranker.unmapped.stage_impact, 2)} (the mapped alerts' medians on the "
            "training days).",
        ]
    )


def _card_comparison(evaluation: Evaluation) -> str:
    return "\n".join(
        [
            "## Headline: the model against today's orderings (held-out days)",
            "",
            comparison_markdown(evaluation),
            "",
            "severity = severity then recency; criticality_rule = summed stage impact then severity; "
            "journey_weight = stage impact × severity weight"
            + (
                "; oracle = the simulator's true impact (an upper reference, not deployable)."
                if ORACLE in evaluation.scores
                else "."
            ),
            "",
            "![impact-weighted recall](impact_recall.png)",
        ]
    )


def _card_slices(evaluation: Evaluation) -> str:
    reference = _best_reference(evaluation)
    names = [MODEL, *([reference] if reference else [])]
    parts = [
        "## By slice",
        "",
        f"Model against the best reference ordering (**{reference}**). "
        f"n/a: fewer than {SLICE_MIN_POSITIVES} alerts with impact in the slice.",
    ]
    for title, column in SLICES.items():
        pivot = _slice_pivot(evaluation.slices[title], column, names).iloc[::-1]
        header = (
            [title, "alerts", "with impact"]
            + [f"PR-AUC {n}" for n in names]
            + [f"IWR@10% {n}" for n in names]
        )
        rows = [
            [
                str(value),
                f"{int(r['alerts']):,}",
                f"{int(r['positives']):,}",
                *[_num(r[f"pr_auc|{n}"]) for n in names],
                *[_pct(r[f"iw_recall_at_10pct|{n}"]) for n in names],
            ]
            for value, r in pivot.iterrows()
        ]
        parts += ["", f"### By {title}", "", _markdown(header, rows)]
    parts += ["", "![slices](slices.png)"]
    return "\n".join(parts)


def _card_features(shap: pd.DataFrame, ranker: Ranker) -> str:
    gain = pd.Series(ranker.booster.feature_importance("gain"), index=list(ranker.spec.features))
    share = gain / max(gain.sum(), 1e-12)
    rows = [
        [r.feature, _num(r.mean_abs_contribution), _pct(share.get(r.feature, np.nan))]
        for r in shap.head(10).itertuples()
    ]
    return "\n".join(
        [
            "## What the model leans on",
            "",
            _markdown(["feature", "mean |TreeSHAP| (log-odds)", "share of gain"], rows),
            "",
            "![SHAP summary](shap_summary.png) ![gain importance](feature_importance.png)",
        ]
    )


def _card_limits(evaluation: Evaluation, split: TimeSplit) -> str:
    frame = evaluation.frame
    items = [
        "Label noise: a loss at a stage is credited to every alert mapped to it in the window, so an "
        "alert that fires during someone else's incident is labelled impactful (and a real cause can be "
        "missed when the loss falls below the thresholds).",
        "Alerts on services the journey map does not cover are always labelled 0 unless feedback says "
        f"otherwise{_unmapped_share(frame)}; the model cannot learn their impact, so keep the map current.",
        "Baselines assume weekly seasonality (hour of the week × segment); holidays, campaigns and "
        "launches look like gains or losses.",
        f"The held-out period is {split.days('test'):.1f} days ({len(frame):,} alerts, "
        f"{int(frame['label'].sum()):,} with impact): small differences between orderings are within noise.",
        *_observed_limits(evaluation, split),
    ]
    return "## Known limits\n\n" + "\n".join(f"- {item}" for item in items)


def _unmapped_share(frame: pd.DataFrame) -> str:
    if "label_source" not in frame:
        return ""
    return f" ({_pct(frame['label_source'].eq('unmapped').mean())} of the held-out alerts)"


def _observed_limits(evaluation: Evaluation, split: TimeSplit) -> list[str]:
    """What the figures of this run show: thin slices, slices the model loses, calibration, oracle."""
    items = []
    for title in SLICES:
        slices = evaluation.slices[title].drop_duplicates(SLICES[title])
        thin = slices[
            (slices["positives"] < SLICE_MIN_POSITIVES) & (slices[SLICES[title]] != UNMAPPED)
        ]
        if len(thin):
            listed = ", ".join(
                f"{v} ({int(p)} of {int(a)})"
                for v, p, a in zip(
                    thin[SLICES[title]], thin["positives"], thin["alerts"], strict=True
                )
            )
            items.append(f"Too few alerts with impact to measure by {title}: {listed}.")
    items += _slices_lost(evaluation)
    items += _calibration_notes(evaluation, split)
    items += _oracle_notes(evaluation)
    return items


def _slices_lost(evaluation: Evaluation) -> list[str]:
    """Slices where the best reference ordering beats the model on PR-AUC or IWR@10%."""
    reference = _best_reference(evaluation)
    if reference is None:
        return []
    metrics = (("pr_auc", "PR-AUC", _num), ("iw_recall_at_10pct", "IWR@10%", _pct))
    lost = []
    for title, column in SLICES.items():
        pivot = _slice_pivot(evaluation.slices[title], column, [MODEL, reference]).iloc[::-1]
        for value, r in pivot.iterrows():
            gaps = [
                f"{name} {fmt(r[f'{metric}|{MODEL}'])} vs {fmt(r[f'{metric}|{reference}'])}"
                for metric, name, fmt in metrics
                if r[f"{metric}|{MODEL}"] < r[f"{metric}|{reference}"]
            ]
            lost += [f"{title} {value} ({', '.join(gaps)})"] if gaps else []
    if not lost:
        return []
    return [f"Slices where the model trails {reference}: " + "; ".join(lost) + "."]


def _calibration_notes(evaluation: Evaluation, split: TimeSplit) -> list[str]:
    probability = np.asarray(evaluation.probability, dtype=float)
    bins = reliability_bins(probability, evaluation.frame["label"].to_numpy(float))
    worst = (bins["observed"] - bins["predicted"]).abs().max()
    note = (
        f"Calibration: ECE {_num(expected_calibration_error(probability, evaluation.frame['label']))}; "
        f"the largest gap in a bin is {_pct(worst)}; probabilities range {_num(probability.min())}–"
        f"{_num(probability.max())}."
    )
    if worst > 0.1:
        note += " Read probabilities as a ranking more than as exact rates."
    fitted, held_out = split.validation["label"].mean(), evaluation.frame["label"].mean()
    if not 2 / 3 < held_out / max(fitted, 1e-12) < 3 / 2:
        note += (
            f" The calibrator was fitted on validation days with an impact rate of {_pct(fitted)}; "
            f"the held-out days have {_pct(held_out)}, so probabilities shift with it."
        )
    return [note]


def _oracle_notes(evaluation: Evaluation) -> list[str]:
    if ORACLE not in evaluation.scores:
        return []
    truly = evaluation.scores[ORACLE] > 0
    label = evaluation.frame["label"].to_numpy(int) == 1
    note = (
        f"Against the simulator's truth, {_pct((label & ~truly).sum() / max(label.sum(), 1))} of the "
        f"alerts labelled impactful had no true impact and {_pct((truly & ~label).sum() / max(truly.sum(), 1))} "
        "of the truly impactful were labelled 0: that is the label noise every figure here is measured with."
    )
    if evaluation.figure(MODEL, "pr_auc") >= evaluation.figure(ORACLE, "pr_auc"):
        note += (
            " The model's PR-AUC reaches the oracle's because both are scored against the derived "
            "labels, which the model learns and the oracle does not."
        )
    return [note]


def _card_files() -> str:
    lines = [f"- [{name}]({name}) — {what}" for name, what in FIGURES.items()]
    lines += [
        "- [comparison.csv](comparison.csv), [comparison.md](comparison.md) — every metric of every ordering",
        "- [slices_stage.csv](slices_stage.csv), [slices_source.csv](slices_source.csv), "
        "[slices_severity.csv](slices_severity.csv) — metrics per slice and ordering",
        "- [shap_mean_abs.csv](shap_mean_abs.csv) — mean |TreeSHAP contribution| per feature",
    ]
    return "## Files\n\n" + "\n".join(lines)


# --- formatting ---------------------------------------------------------------------------


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _pct(value) -> str:
    return "n/a" if _missing(value) else f"{float(value) * 100:.1f}%"


def _num(value, decimals: int = 3) -> str:
    return "n/a" if _missing(value) else f"{float(value):.{decimals}f}"


def _count(value) -> str:
    return "n/a" if _missing(value) else f"{int(value):,}"


def _when(value) -> str:
    if _missing(value):
        return "n/a"
    try:
        return pd.Timestamp(value).tz_convert("UTC").strftime("%Y-%m-%d %H:%M")
    except (ValueError, TypeError):
        return str(value)
