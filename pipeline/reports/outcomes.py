"""The outcome report: the figures, the self-contained HTML page and the JSON that holds every number in it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

from models.replay import PAGE_EVERYTHING, PAGE_NOTHING
from pipeline.reports.html import (
    Section,
    bullet_list,
    figure_html,
    format_cell,
    html_page,
    new_figure,
    number,
    paragraph,
    percent,
    table_html,
)
from pipeline.reports.training import COLOURS
from pipeline.results import Outcomes

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FIGURES = {
    "time_to_restore": "Time to restore journey continuity per stage: each dot is an episode, the box its quartiles",
    "weekly_lost_value": "Lost value per stage and week: lost completions × stage value × segment weight",
    "worst_stage_timeline": "The stage that lost the most value: its completion rate against the baseline, "
    "episodes shaded, and the pages each policy sent for it",
    "costliest_episode": "The costliest episode of that stage, window by window, two hours either "
    "side, and when each policy paged for it",
    "policy_coverage": "Each paging policy: share of episodes paged within 15 minutes of their start "
    "(filled) and within 5 (hollow), against the pages it sends a day",
}
POLICY_COLOURS = {**COLOURS, PAGE_EVERYTHING: "#b71c1c", PAGE_NOTHING: "#9e9e9e"}
EPISODE_SHADE = "#ef9a9a"
WORST_EPISODES = 25
REPLAY_FORMATS = {
    "pages": number(0),
    "pages_per_day": number(1),
    "incident_pages": number(0),
    "incident_pages_per_day": number(1),
    "page_share": percent,
    "episodes_paged": percent,
    "paged_within_5m": percent,
    "paged_within_15m": percent,
    "median_min_to_first_page": number(1),
    "lost_value_unpaged": number(0),
    "lost_value_unpaged_share": percent,
    "lost_completions_unpaged": number(0),
    "pages_without_episode": number(0),
    "pages_without_episode_share": percent,
}
STAGE_FORMATS = {
    "episodes": number(0),
    "ttr_median_min": number(0),
    "ttr_p90_min": number(0),
    "lost_completions": number(0),
    "lost_value": number(0),
    "completion_rate": percent,
    "baseline_rate": percent,
    "rate_spread_pp": number(1),
    "spread_vs_normal": number(2),
}


# --- the numbers ----------------------------------------------------------------------------


def summary(outcomes: Outcomes) -> dict[str, float]:
    """The headline figures (also the MLflow metrics)."""
    episodes = outcomes.episodes
    duration = episodes["duration_min"].to_numpy(float)
    attached = episodes["alerts_before"].map(len) + episodes["alerts_during"].map(len)
    return {
        "days": outcomes.days,
        "alerts": len(outcomes.alerts),
        "alerts_per_day": len(outcomes.alerts) / outcomes.days if outcomes.days else np.nan,
        "episodes": len(episodes),
        "stages_with_episodes": int(episodes[["journey", "stage"]].drop_duplicates().shape[0]),
        "ttr_median_min": float(np.median(duration)) if len(duration) else np.nan,
        "ttr_p90_min": float(np.quantile(duration, 0.9)) if len(duration) else np.nan,
        "lost_completions": float(episodes["lost_completions"].sum()),
        "lost_value": float(episodes["lost_value"].sum()),
        "episodes_with_mapped_alert": float((attached > 0).mean()) if len(episodes) else np.nan,
    }


def worst_stage(outcomes: Outcomes) -> tuple[str, str] | None:
    """The stage whose episodes lost the most value over the period (None without episodes)."""
    if outcomes.episodes.empty:
        return None
    lost = outcomes.episodes.groupby(["journey", "stage"], sort=False)["lost_value"].sum()
    return lost.idxmax()


def timeline(outcomes: Outcomes) -> dict | None:
    """The worst stage's windows, episodes and, per policy, the times of its pages for that stage."""
    stage = worst_stage(outcomes)
    if stage is None:
        return None
    windows = outcomes.windows[
        (outcomes.windows["journey"] == stage[0]) & (outcomes.windows["stage"] == stage[1])
    ]
    code = int(outcomes.stage_index.code_of(pd.Series([stage[0]]), pd.Series([stage[1]]))[0])
    pairs = outcomes.stage_index.pairs(outcomes.alerts["service"])
    reaches = np.zeros(len(outcomes.alerts), dtype=bool)
    reaches[pairs.loc[pairs["stage_code"] == code, "row"].to_numpy()] = True
    fired = outcomes.alerts["fired_at"]
    pages = {
        name: list(fired[np.asarray(paged, dtype=bool) & reaches])
        for name, paged in outcomes.pages.items()
    }
    episodes = outcomes.episodes[
        (outcomes.episodes["journey"] == stage[0]) & (outcomes.episodes["stage"] == stage[1])
    ]
    return {
        "journey": stage[0],
        "stage": stage[1],
        "windows": windows,
        "episodes": episodes,
        "pages": pages,
    }


def _records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records", date_format="iso", date_unit="s"))


def outcomes_json(outcomes: Outcomes) -> dict:
    """Every number of the report, and for each figure the data it is drawn from."""
    line = timeline(outcomes)
    replay = outcomes.replay.table.reset_index()
    figures = {
        "time_to_restore": {
            "caption": FIGURES["time_to_restore"],
            "data": _records(outcomes.episodes[["episode_id", "journey", "stage", "duration_min"]]),
        },
        "weekly_lost_value": {
            "caption": FIGURES["weekly_lost_value"],
            "data": _records(outcomes.stage_weeks[["journey", "stage", "week", "lost_value"]]),
        },
        "policy_coverage": {
            "caption": FIGURES["policy_coverage"],
            "data": _records(
                replay[["policy", "pages_per_day", "paged_within_5m", "paged_within_15m"]]
            ),
        },
    }
    if line is not None:
        figures["worst_stage_timeline"] = {
            "caption": FIGURES["worst_stage_timeline"],
            "journey": line["journey"],
            "stage": line["stage"],
            "data": _records(
                line["windows"][
                    ["window_start", "sessions", "completed", "expected_completed", "z"]
                ]
            ),
            "episodes": _records(line["episodes"][["episode_id", "start", "end", "lost_value"]]),
            "pages": {k: [t.isoformat() for t in v] for k, v in line["pages"].items()},
        }
        costliest = line["episodes"].sort_values("lost_value", ascending=False).iloc[0]
        figures["costliest_episode"] = {
            "caption": FIGURES["costliest_episode"],
            "episode_id": costliest["episode_id"],
            "from": (costliest["start"] - ZOOM).isoformat(),
            "to": (costliest["end"] + ZOOM).isoformat(),
            "data": "the worst_stage_timeline windows and pages between `from` and `to`",
        }
    return {
        "report": "journeyrank outcomes",
        "data_dir": outcomes.data_dir,
        "period": {
            "start": outcomes.period_start.isoformat(),
            "end": outcomes.period_end.isoformat(),
            "days": outcomes.days,
        },
        "model": {"uri": outcomes.model_uri, "version": outcomes.model_version},
        "page_budget": outcomes.budget,
        "episode_config": outcomes.config.model_dump(mode="json"),
        "summary": summary(outcomes),
        "replay": _records(replay),
        "stages": _records(outcomes.per_stage),
        "stage_weeks": _records(outcomes.stage_weeks),
        "episodes": _records(outcomes.episodes),
        "figures": figures,
    }


def replay_digest(table: pd.DataFrame) -> pd.DataFrame:
    """The replay table as people read it in a terminal: the key columns, formatted."""

    def with_share(count: pd.Series, share: pd.Series) -> list[str]:
        return [f"{c:,.0f} ({percent(s)})" for c, s in zip(count, share, strict=True)]

    return pd.DataFrame(
        {
            "pages/day": table["pages_per_day"].map(number(1)),
            "paged": table["episodes_paged"].map(percent),
            "≤5 min": table["paged_within_5m"].map(percent),
            "≤15 min": table["paged_within_15m"].map(percent),
            "min to page": table["median_min_to_first_page"].map(number(1)),
            "value unpaged": with_share(
                table["lost_value_unpaged"], table["lost_value_unpaged_share"]
            ),
            "no-episode pages": with_share(
                table["pages_without_episode"], table["pages_without_episode_share"]
            ),
        },
        index=table.index,
    )


# --- the page -------------------------------------------------------------------------------


def outcomes_html(outcomes: Outcomes) -> str:
    """The report as one HTML file that opens offline (figures inlined, no external assets)."""
    head = summary(outcomes)
    model = (
        f"model {outcomes.model_uri} (v{outcomes.model_version})"
        if outcomes.model_uri
        else "no model given"
    )
    subtitle = (
        f"{outcomes.data_dir}: {outcomes.period_start:%Y-%m-%d %H:%M} → {outcomes.period_end:%Y-%m-%d %H:%M} UTC "
        f"({outcomes.days:.1f} days), {model}, page budget {outcomes.budget:.0%}"
    )
    sections = [
        Section("What users lived through", _headline(head)),
        Section(
            "Time to restore journey continuity",
            _figure(plot_time_to_restore, outcomes, "time_to_restore")
            + table_html(_stage_table(outcomes.per_stage), STAGE_FORMATS),
        ),
        Section(
            "Per stage and week",
            _figure(plot_weekly_lost_value, outcomes, "weekly_lost_value")
            + table_html(_stage_table(outcomes.stage_weeks), STAGE_FORMATS),
        ),
    ]
    if worst_stage(outcomes) is not None:
        sections.append(
            Section(
                "The stage that lost the most",
                _figure(plot_worst_stage_timeline, outcomes, "worst_stage_timeline")
                + _figure(plot_costliest_episode, outcomes, "costliest_episode"),
            )
        )
    sections += [
        Section(
            "Replay of paging policies",
            paragraph(_replay_note(outcomes), "note")
            + table_html(outcomes.replay.table, REPLAY_FORMATS, index=True)
            + _figure(plot_policy_coverage, outcomes, "policy_coverage"),
        ),
        Section(
            f"The {WORST_EPISODES} costliest episodes",
            table_html(_worst_episodes(outcomes), _episode_formats(outcomes)),
        ),
        Section("How episodes are found", _method(outcomes)),
    ]
    return html_page("Journey outcomes and paging replay", sections, subtitle)


def _figure(draw, outcomes: Outcomes, name: str) -> str:
    fig = new_figure()
    draw(fig, outcomes)
    return figure_html(fig, FIGURES[name], name)


def _headline(head: dict) -> str:
    if not head["episodes"]:
        return paragraph(f"No stage was significantly below normal in {head['days']:.1f} days.")
    return paragraph(
        f"{head['episodes']} degradation episodes on {head['stages_with_episodes']} stages in "
        f"{head['days']:.1f} days; journeys took a median {head['ttr_median_min']:.0f} minutes to "
        f"restore (p90 {head['ttr_p90_min']:.0f}). Users lost {head['lost_completions']:,.0f} "
        f"completions, worth {head['lost_value']:,.0f} in value. {head['alerts']:,} alerts fired "
        f"({head['alerts_per_day']:,.0f} a day); {head['episodes_with_mapped_alert']:.0%} of the episodes "
        "had an alert of a service the journey map links to their stage, fired before or during them."
    )


def _stage_table(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    if "week" in out:
        out["week"] = out["week"].dt.strftime("%Y-%m-%d")
    return out


def _replay_note(outcomes: Outcomes) -> str:
    model = (
        "The model pages its P1 and P2 tiers; " if outcomes.model_uri else "No model was given; "
    )
    return (
        f"Alerts of the period in time order. {model}severity and criticality_rule page their top "
        f"{outcomes.budget:.0%} of alerts by their own score. A page covers an episode when the alert's "
        f"service reaches the episode's stage through the journey map and it fired between "
        f"{outcomes.config.alert_lead_min:g} minutes before the episode's start and its end. "
        "Minutes to page: from the episode's start to its first covering page (negative: the page "
        "came before the stage dipped). Lost value unpaged: the value lost in episodes no page "
        "covered. Pages without an episode: interruptions without user impact. The references' "
        "top share is taken over the whole period, in hindsight; the model's tiers use thresholds "
        "fitted before it, on its validation days."
    )


def _worst_episodes(outcomes: Outcomes) -> pd.DataFrame:
    columns = [
        "episode_id",
        "journey",
        "stage",
        "start",
        "duration_min",
        "lost_completions",
        "lost_value",
        "segments_hurt",
        "regions_hurt",
        *[c for c in outcomes.episodes.columns if c.startswith("min_to_page_")],
    ]
    worst = outcomes.episodes.sort_values("lost_value", ascending=False).head(WORST_EPISODES)
    return (
        worst[columns]
        .rename(columns=lambda c: c.replace("min_to_page_", "page "))
        .assign(
            alerts=(worst["alerts_before"].map(len) + worst["alerts_during"].map(len)).to_numpy()
        )
    )


def _episode_formats(outcomes: Outcomes) -> dict:
    formats = {"duration_min": number(0), "lost_completions": number(0), "lost_value": number(0)}
    return formats | {f"page {name}": number(0) for name in outcomes.pages}


def _method(outcomes: Outcomes) -> str:
    config = outcomes.config
    items = [
        "Baselines: per stage × segment × hour of week, fitted robustly (incident windows trimmed) "
        "on the whole data directory.",
        f"A window is degraded when its one-sided z of lost completions reaches {config.window_z:g}, "
        f"or when it lost completions (z ≥ {config.edge_z:g}) and the {config.smooth_windows} windows "
        f"centred on it together reach {config.window_z:g}.",
        f"Degraded windows fewer than {config.exit_windows} normal windows apart are one episode; it "
        f"opens when its windows together reach z {config.enter_z:g} over at least "
        f"{config.enter_windows} degraded windows, or one window alone reaches z {config.single_window_z:g}.",
        f"Material: at least {config.min_lost_completions:g} completions and "
        f"{config.min_relative_drop:.0%} of the expected completions lost. Time to restore: from the "
        "start of the first degraded window to the end of the last.",
        f"Segments and regions hurt: their own loss reaches z {config.slice_z:g} and "
        f"{config.slice_min_relative_drop:.0%} of their expected completions.",
    ]
    return bullet_list(items) + paragraph(
        "Settings: " + ", ".join(f"{k}={format_cell(v)}" for k, v in config.model_dump().items()),
        "note",
    )


# --- the figures ----------------------------------------------------------------------------


def _label(journey: str, stage: str) -> str:
    return f"{journey} / {stage}"


def plot_time_to_restore(fig: Figure, outcomes: Outcomes) -> None:
    """Box and strip of episode durations per stage (funnel order), log minutes."""
    episodes = outcomes.episodes
    order = [
        (j, s)
        for j, s in zip(outcomes.per_stage["journey"], outcomes.per_stage["stage"], strict=True)
        if ((episodes["journey"] == j) & (episodes["stage"] == s)).any()
    ]
    fig.set_size_inches(8.5, 0.42 * max(len(order), 3) + 1.4)
    ax = fig.subplots()
    if not order:
        _empty(ax, "no degradation episodes in the period")
        return
    groups = [
        episodes.loc[
            (episodes["journey"] == j) & (episodes["stage"] == s), "duration_min"
        ].to_numpy(float)
        for j, s in order
    ]
    positions = np.arange(len(order))[::-1]
    ax.boxplot(
        groups,
        positions=positions,
        orientation="horizontal",
        widths=0.6,
        showfliers=False,
        medianprops={"color": "#1f5fbf", "lw": 2},
    )
    rng = np.random.default_rng(0)
    for y, values in zip(positions, groups, strict=True):
        ax.scatter(
            values,
            y + rng.uniform(-0.18, 0.18, len(values)),
            s=14,
            color="#c62828",
            alpha=0.6,
            zorder=3,
        )
    ax.set_yticks(
        positions, [f"{_label(j, s)} ({len(g)})" for (j, s), g in zip(order, groups, strict=True)]
    )
    ax.set_xscale("log")
    ticks = [5, 10, 15, 30, 60, 120, 240, 480, 960]
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.set(
        xlabel="minutes from the first degraded window to restored (log scale)",
        title="Time to restore journey continuity, per stage (episodes in brackets)",
    )
    ax.grid(axis="x", alpha=0.3)


def plot_weekly_lost_value(fig: Figure, outcomes: Outcomes) -> None:
    """Horizontal bars per stage, one per week."""
    table = outcomes.stage_weeks
    stages = list(dict.fromkeys(zip(table["journey"], table["stage"], strict=True)))
    weeks = sorted(table["week"].unique())
    fig.set_size_inches(8.5, 0.42 * max(len(stages), 3) + 1.4)
    ax = fig.subplots()
    height = 0.8 / max(len(weeks), 1)
    base = np.arange(len(stages))[::-1]
    for i, week in enumerate(weeks):
        part = table[table["week"] == week].set_index(["journey", "stage"])["lost_value"]
        values = part.reindex(pd.MultiIndex.from_tuples(stages)).fillna(0).to_numpy()
        ax.barh(
            base + (len(weeks) - 1 - i - (len(weeks) - 1) / 2) * height,
            values,
            height=height,
            label=f"week of {pd.Timestamp(week):%Y-%m-%d}",
        )
    ax.set_yticks(base, [_label(j, s) for j, s in stages])
    ax.set(
        xlabel="lost value (completions × stage value × segment weight)",
        title="Lost value per stage and week",
    )
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)


def plot_worst_stage_timeline(fig: Figure, outcomes: Outcomes) -> None:
    """Hourly completion rate vs baseline over the period, episodes shaded and marked, pages below."""
    line = timeline(outcomes)
    fig.set_size_inches(11, 6.2)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1.5])
    hourly = (
        line["windows"]
        .set_index("window_start")[["sessions", "completed", "expected_completed"]]
        .resample("1h")
        .sum()
    )
    hourly = hourly[hourly["sessions"] > 0]
    _rates(top, hourly, "hourly")
    _shade(top, bottom, line["episodes"])
    top.scatter(
        line["episodes"]["start"],
        np.full(len(line["episodes"]), 1.0),
        transform=top.get_xaxis_transform(),
        marker="v",
        s=40,
        color="#c62828",
        clip_on=False,
        label="episode start",
    )
    top.set_title(
        f"{_label(line['journey'], line['stage'])}: {len(line['episodes'])} episodes "
        f"(shaded), {line['episodes']['lost_value'].sum():,.0f} value lost"
    )
    top.legend(loc="lower left", fontsize=9)
    _pages(bottom, line["pages"], "pages for this stage, per policy")


def plot_costliest_episode(fig: Figure, outcomes: Outcomes) -> None:
    """The worst stage's costliest episode window by window, two hours either side, and the pages."""
    line = timeline(outcomes)
    episode = line["episodes"].sort_values("lost_value", ascending=False).iloc[0]
    lo, hi = episode["start"] - ZOOM, episode["end"] + ZOOM
    fig.set_size_inches(11, 5.6)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1.5])
    windows = line["windows"]
    near = windows[(windows["window_start"] >= lo) & (windows["window_start"] < hi)]
    _rates(top, near[near["sessions"] > 0].set_index("window_start"), "per window", "o")
    _shade(top, bottom, line["episodes"])
    top.set_xlim(lo, hi)
    top.set_title(
        f"{episode['episode_id']} at {_label(line['journey'], line['stage'])}: "
        f"{episode['duration_min']:.0f} min to restore, {episode['lost_completions']:.0f} completions "
        f"({episode['lost_value']:,.0f} value) lost"
    )
    top.legend(loc="lower left", fontsize=9)
    pages = {name: [t for t in times if lo <= t < hi] for name, times in line["pages"].items()}
    _pages(bottom, pages, "pages for this stage, per policy (shaded: episodes)")


ZOOM = pd.Timedelta(hours=2)


def _rates(ax, frame: pd.DataFrame, unit: str, marker: str = "") -> None:
    ax.plot(
        frame.index,
        frame["completed"] / frame["sessions"] * 100,
        lw=0.9,
        marker=marker,
        ms=3,
        color="#555555",
        label=f"completion rate ({unit})",
    )
    ax.plot(
        frame.index,
        frame["expected_completed"] / frame["sessions"] * 100,
        lw=1.6,
        color="#1f5fbf",
        label="baseline",
    )
    ax.set_ylabel("completion rate (%)")
    ax.grid(alpha=0.3)


def _shade(top, bottom, episodes: pd.DataFrame) -> None:
    for ax in (top, bottom):
        for episode in episodes.itertuples():
            ax.axvspan(episode.start, episode.end, color=EPISODE_SHADE, alpha=0.55, lw=0)


def _pages(ax, pages: dict[str, list], title: str) -> None:
    names = list(pages)
    for y, name in enumerate(names):
        if pages[name]:
            ax.eventplot(
                [pd.to_datetime(pages[name])],
                lineoffsets=y,
                linelengths=0.7,
                colors=POLICY_COLOURS.get(name, "#444444"),
            )
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_ylim(-0.6, len(names) - 0.4)
    ax.invert_yaxis()
    ax.set(xlabel="time (UTC)", title=title)
    ax.grid(axis="x", alpha=0.3)
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def plot_policy_coverage(fig: Figure, outcomes: Outcomes) -> None:
    """Share of episodes paged within 5 and 15 minutes against pages a day, one point pair per policy."""
    table = outcomes.replay.table
    fig.set_size_inches(8, 5.2)
    ax = fig.subplots()
    for name, row in table.iterrows():
        colour = POLICY_COLOURS.get(name, "#444444")
        x = row["pages_per_day"]
        y5, y15 = row["paged_within_5m"] * 100, row["paged_within_15m"] * 100
        ax.plot([x, x], [y5, y15], color=colour, lw=1.5)
        ax.scatter([x], [y15], color=colour, s=70, zorder=3, label=name)
        ax.scatter([x], [y5], facecolors="white", edgecolors=colour, s=70, zorder=3)
        ax.annotate(
            name, (x, y15), xytext=(6, 4), textcoords="offset points", fontsize=9, color=colour
        )
    ax.set_xscale("symlog", linthresh=1)
    ax.set(
        ylim=(-3, 103),
        xlabel="pages a day (symmetric log scale)",
        ylabel="episodes paged in time (%)",
        title="Coverage of user-impacting episodes against interruptions",
    )
    ax.grid(alpha=0.3)
    ax.legend(
        loc="lower right", fontsize=9, title="filled: ≤ 15 min, hollow: ≤ 5 min", title_fontsize=9
    )


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#666666")
    ax.set_axis_off()
