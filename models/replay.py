"""A replay of paging policies over a period: which alerts each policy pages, and what users got from it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.episodes import alert_episode_matches
from features.stages import StageIndex
from features.timeaxis import MINUTE_NS, to_ns
from models.reference_rankings import criticality_rule_score, severity_score
from models.tiers import PAGED_TIERS

PAGE_EVERYTHING, PAGE_NOTHING = "page_everything", "page_nothing"
QUICK_MINUTES = (5, 15)
REPLAY_COLUMNS = (
    "pages",
    "pages_per_day",
    "incident_pages",
    "incident_pages_per_day",
    "page_share",
    "episodes_paged",
    "paged_within_5m",
    "paged_within_15m",
    "median_min_to_first_page",
    "lost_value_unpaged",
    "lost_value_unpaged_share",
    "lost_completions_unpaged",
    "pages_without_episode",
    "pages_without_episode_share",
)


@dataclass(frozen=True)
class Replay:
    """The replay table (one row per policy) and, per episode, minutes from its start to each policy's first page."""

    table: pd.DataFrame
    first_page_min: pd.DataFrame  # episodes × policies; NaN = never paged
    matches: pd.DataFrame  # (episode, alert, fired_ns) pairs that a page of that alert would cover


def stage_impact_sum(alerts: pd.DataFrame, stages: StageIndex) -> np.ndarray:
    """Σ impact of the stages each alert's service reaches (the criticality rule's input); NaN if none."""
    pairs = stages.pairs(alerts["service"])
    impact = stages.table["impact"].to_numpy()[pairs["stage_code"].to_numpy()]
    total = np.bincount(pairs["row"], weights=impact, minlength=len(alerts))
    mapped = np.bincount(pairs["row"], minlength=len(alerts)) > 0
    return np.where(mapped, total, np.nan)


def reference_pages(
    alerts: pd.DataFrame, stages: StageIndex, budget: float
) -> dict[str, np.ndarray]:
    """What severity and criticality_rule page at the budget: their top `budget` share of the alerts.

    Severity drops the recency tie-break of `severity_score` (under one severity step): it orders a
    live queue, but over a replay it would page only the period's last days. Alerts tied at the
    cut are picked evenly over time instead.
    """
    table = alerts.assign(stage_impact_sum=stage_impact_sum(alerts, stages))
    scores = {
        "severity": np.floor(severity_score(table)),
        "criticality_rule": criticality_rule_score(table),
    }
    return {name: top_share(score, budget) for name, score in scores.items()}


def model_pages(alerts: pd.DataFrame, ranked: pd.DataFrame) -> np.ndarray:
    """The model pages what it puts in P1 or P2 (its own page-budget thresholds)."""
    tier = ranked.set_index("alert_id")["tier"].reindex(alerts["alert_id"].astype(str))
    return tier.isin(PAGED_TIERS).to_numpy()


def top_share(score: np.ndarray, share: float) -> np.ndarray:
    """Page the ceil(share · n) highest scores (alerts in time order); ties at the cut spread evenly."""
    score = np.asarray(score, dtype=np.float64)
    n = len(score)
    k = min(n, int(np.ceil(share * n)))
    paged = np.zeros(n, dtype=bool)
    if k == 0:
        return paged
    cut = np.sort(score)[::-1][k - 1]
    paged[score > cut] = True
    tied = np.flatnonzero(score == cut)
    wanted = k - int(paged.sum())
    paged[tied[((np.arange(wanted) + 0.5) * len(tied) / wanted).astype(int)]] = True
    return paged


def replay_paging(
    episodes: pd.DataFrame,
    alerts: pd.DataFrame,
    pages: dict[str, np.ndarray],
    stages: StageIndex,
    lead_min: float,
    days: float,
    incidents: np.ndarray | None = None,
) -> Replay:
    """For each policy (a paged mask over `alerts`): pages a day, how many episodes it paged in time,
    the lost value it left unpaged, its pages that matched no episode, and its time to first page.
    With `incidents` (the incident_id of each alert, alerts in time order), also the pages it
    sends when an incident pages once (`incident_pages`): its first paged alert only.

    A page covers an episode when the alert's service reaches the episode's stage through the
    journey map and it fired between start − `lead_min` and end (the episodes' alert attachment).
    """
    matches = alert_episode_matches(episodes, alerts, stages, lead_min)
    start = to_ns(episodes["start"])
    first = {}
    rows = {}
    for name, paged in pages.items():
        paged = np.asarray(paged, dtype=bool)
        hit = matches[paged[matches["alert"].to_numpy()]] if len(matches) else matches
        first_ns = hit.groupby("episode")["fired_ns"].min().reindex(range(len(episodes)))
        minutes = (first_ns.to_numpy(dtype=float) - start) / MINUTE_NS
        first[name] = minutes
        covering = np.zeros(len(alerts), dtype=bool)
        covering[hit["alert"].to_numpy()] = True
        rows[name] = _policy_row(episodes, paged, covering, minutes, days)
        once = (
            int(pd.Series(np.asarray(incidents, dtype=object)[paged]).nunique())
            if incidents is not None
            else np.nan
        )
        rows[name] |= {
            "incident_pages": once,
            "incident_pages_per_day": once / days if days > 0 else float("nan"),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")[list(REPLAY_COLUMNS)]
    first_page = pd.DataFrame(first, index=episodes["episode_id"].to_numpy())
    return Replay(table.rename_axis("policy"), first_page, matches)


def _policy_row(
    episodes: pd.DataFrame,
    paged: np.ndarray,
    covering: np.ndarray,
    minutes: np.ndarray,
    days: float,
) -> dict[str, float]:
    n_episodes, n_pages = len(episodes), int(paged.sum())
    reached = np.isfinite(minutes)
    value = episodes["lost_value"].to_numpy(float)
    lost = episodes["lost_completions"].to_numpy(float)
    total_value = value.sum()

    def share(mask: np.ndarray) -> float:
        return float(mask.sum() / n_episodes) if n_episodes else float("nan")

    row = {
        "pages": n_pages,
        "pages_per_day": n_pages / days if days > 0 else float("nan"),
        "page_share": n_pages / len(paged) if len(paged) else float("nan"),
        "episodes_paged": share(reached),
    }
    for quick in QUICK_MINUTES:
        row[f"paged_within_{quick}m"] = share(
            reached & (np.nan_to_num(minutes, nan=np.inf) <= quick)
        )
    row |= {
        "median_min_to_first_page": float(np.median(minutes[reached])) if reached.any() else np.nan,
        "lost_value_unpaged": float(value[~reached].sum()),
        "lost_value_unpaged_share": float(value[~reached].sum() / total_value)
        if total_value > 0
        else float("nan"),
        "lost_completions_unpaged": float(lost[~reached].sum()),
        "pages_without_episode": int((paged & ~covering).sum()),
        "pages_without_episode_share": float((paged & ~covering).sum() / n_pages)
        if n_pages
        else float("nan"),
    }
    return row
