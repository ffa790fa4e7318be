"""Journey-map health: whose alerts precede which stage's degradations beyond chance, and where the map is wrong.

The unit of evidence is an alert *burst*: a service's alerts chained less than `burst_gap_min`
apart. A burst counts when it is corroborated — two or more of the service's rules fire in it —
because one rule firing alone is mostly monitoring noise, and a real failure trips several.
A burst *precedes* a degradation of a stage when it starts between `onset_before_min` before and
`onset_after_min` after the onset of one of the stage's episodes (`features.episodes`). Chance is
the share of each hour of the day the stage spends near an onset, so a service that alerts at
busy hours, when failures are likelier, does not look linked for that alone. Counts are sparse,
so lifts carry exact Poisson bounds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy import stats

from features.baselines import Baselines, fit_baselines
from features.episodes import EpisodeConfig, find_episodes, window_losses
from features.journey_map import JourneyMap
from features.stages import StageIndex
from features.timeaxis import HOUR_NS, MINUTE_NS, to_ns

HOURS_PER_DAY = 24
EXAMPLES = 3


class MapCheckConfig(BaseModel):
    """When a link is suggested, doubted, or a stage too sparse to label: thresholds as logged data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    burst_gap_min: float = Field(
        15.0, gt=0, description="A service's alerts closer than this are one burst."
    )
    corroborating_rules: int = Field(
        2, ge=1, description="Distinct rules of the service a burst needs to count as evidence."
    )
    onset_before_min: float = Field(
        15.0, ge=0, description="A burst this long before an episode's onset precedes it ..."
    )
    onset_after_min: float = Field(
        15.0, ge=0, description="... and so does one up to this long after (detection delay)."
    )
    confidence: float = Field(
        0.95, gt=0.5, lt=1, description="One-sided confidence of the lift bounds."
    )
    suggest_min_hits: int = Field(
        3, ge=1, description="Bursts preceding a stage's degradations needed to suggest a link ..."
    )
    suggest_min_lift: float = Field(
        1.0, ge=1, description="... and the lift's lower bound must exceed this."
    )
    doubt_max_lift: float = Field(
        2.0,
        gt=1,
        description="A mapped link is doubtful when its lift's upper bound stays below this.",
    )
    sparse_window_z: float = Field(
        1.5, gt=0, description="z a window's loss must reach to count as degraded (as episodes)."
    )
    sparse_max_drop: float = Field(
        0.5,
        gt=0,
        description="A stage is too sparse to label when a typical window must lose more than this share to be seen.",
    )


@dataclass(frozen=True)
class MapEvidence:
    """Everything the map check found; each frame's columns are documented where it is built."""

    evidence: pd.DataFrame  # service × stage (`service_stage_evidence`)
    suggestions: pd.DataFrame  # proposed links of unmapped services (`suggest_links`)
    unmapped: pd.DataFrame  # one row per service new to the map, by evidence (`rank_unmapped`)
    renamed: pd.DataFrame  # the same, for services the map names under an old name
    doubtful: pd.DataFrame  # mapped links without impact (`doubtful_links`)
    stages: pd.DataFrame  # per stage: services, traffic, status (`stage_coverage`)
    silent: list[str]  # mapped services that sent no alert in the period


@dataclass(frozen=True)
class MinuteGrid:
    """A minute grid over the period with outcomes; onsets and bursts are placed on it."""

    origin_ns: int
    n_minutes: int

    @classmethod
    def of_windows(cls, window_starts: pd.Series, step_ns: int) -> MinuteGrid:
        starts = to_ns(window_starts)
        origin = int(starts.min()) // MINUTE_NS * MINUTE_NS
        return cls(origin, int((int(starts.max()) + step_ns - origin) // MINUTE_NS))

    def minute(self, ns: np.ndarray) -> np.ndarray:
        return (np.asarray(ns, dtype=np.int64) - self.origin_ns) // MINUTE_NS

    def hour_of_day(self) -> np.ndarray:
        ns = self.origin_ns + np.arange(self.n_minutes, dtype=np.int64) * MINUTE_NS
        return (ns // HOUR_NS) % HOURS_PER_DAY


# ---------------------------------------------------------------- bursts and onsets


def alert_bursts(alerts: pd.DataFrame, gap_min: float, corroborating_rules: int) -> pd.DataFrame:
    """One row per burst: service, start_ns, alerts, rules (distinct alert names), corroborated,
    first_alert_id.

    A burst is the service's alerts from one alert to `gap_min` after it (bounded, so a service
    that alerts all the time still has many bursts, not one). It is corroborated when more of
    the service's rules fire in it than in its typical burst, and at least `corroborating_rules`
    — or all the rules it has, when it has fewer.
    """
    if alerts.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in _BURST_DTYPES.items()})
    service, services = pd.factorize(alerts["service"].astype(str))
    fired = to_ns(alerts["fired_at"])
    order = np.lexsort((fired, service))
    service, fired = service[order], fired[order]
    new = _burst_starts(service, fired, int(gap_min * MINUTE_NS))
    burst = np.cumsum(new) - 1
    rule, _ = pd.factorize(alerts["alert_name"].astype(str).to_numpy()[order])
    rules = _distinct_per_group(burst, rule, int(burst[-1]) + 1)
    first_service = service[new]
    typical = pd.Series(rules).groupby(first_service).median().to_numpy()
    service_rules = _distinct_per_group(service, rule, len(services))
    needed = np.minimum(np.maximum(corroborating_rules, typical + 1), service_rules)
    return pd.DataFrame(
        {
            "service": np.asarray(services, dtype=object)[first_service].astype(str),
            "start_ns": fired[new],
            "alerts": np.bincount(burst),
            "rules": rules,
            "corroborated": rules >= needed[first_service],
            "first_alert_id": alerts["alert_id"].astype(str).to_numpy()[order][new],
        }
    )


_BURST_DTYPES = {
    "service": "str",
    "start_ns": "int64",
    "alerts": "int64",
    "rules": "int64",
    "corroborated": "bool",
    "first_alert_id": "str",
}


def _burst_starts(service: np.ndarray, fired: np.ndarray, gap_ns: int) -> np.ndarray:
    """True at each alert that opens a burst (rows sorted by service, then time)."""
    new = np.zeros(len(fired), dtype=bool)
    at = 0
    while at < len(fired):
        new[at] = True
        end = np.searchsorted(service, service[at], side="right")  # the service's last row + 1
        at = min(int(np.searchsorted(fired[at:end], fired[at] + gap_ns, side="right")) + at, end)
    return new


def _distinct_per_group(group: np.ndarray, value: np.ndarray, n_groups: int) -> np.ndarray:
    pairs = np.unique(group.astype(np.int64) * (int(value.max()) + 1) + value)
    return np.bincount(pairs // (int(value.max()) + 1), minlength=n_groups)


def onset_masks(
    episodes: pd.DataFrame,
    stages: StageIndex,
    grid: MinuteGrid,
    before_min: float,
    after_min: float,
) -> np.ndarray:
    """stage × minute: True where a burst starting then would precede one of the stage's episodes."""
    mask = np.zeros((stages.n_stages, grid.n_minutes), dtype=bool)
    if episodes.empty:
        return mask
    code = stages.code_of(episodes["journey"], episodes["stage"])
    onset = grid.minute(to_ns(episodes["start"]))
    lo = np.clip(onset - int(before_min), 0, grid.n_minutes)
    hi = np.clip(onset + int(after_min) + 1, 0, grid.n_minutes)
    for c, a, b in zip(code, lo, hi, strict=True):
        if c >= 0:
            mask[c, a:b] = True
    return mask


def chance_by_hour(mask: np.ndarray, grid: MinuteGrid) -> np.ndarray:
    """row × hour of day: the share of that hour's minutes inside the row's mask (the chance of a hit)."""
    hour = grid.hour_of_day()
    minutes = np.bincount(hour, minlength=HOURS_PER_DAY).astype(float)
    covered = np.stack([np.bincount(hour, weights=row, minlength=HOURS_PER_DAY) for row in mask])
    return np.divide(covered, minutes, out=np.zeros_like(covered), where=minutes > 0)


# ---------------------------------------------------------------- lift and its bounds


def lift_bounds(hits: np.ndarray, expected: np.ndarray, confidence: float) -> pd.DataFrame:
    """Observed over chance, with exact one-sided Poisson bounds at `confidence` and the p-value
    of seeing this many hits or more by chance. Columns: lift, lift_low, lift_high, p_value."""
    hits = np.asarray(hits, dtype=float)
    expected = np.asarray(expected, dtype=float)
    alpha = 1.0 - confidence
    low = np.where(hits > 0, stats.chi2.ppf(alpha, 2 * hits) / 2, 0.0)
    high = stats.chi2.ppf(confidence, 2 * hits + 2) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(expected > 0, 1.0 / expected, np.nan)
    return pd.DataFrame(
        {
            "lift": hits * scale,
            "lift_low": low * scale,
            "lift_high": high * scale,
            "p_value": np.where(expected > 0, stats.poisson.sf(hits - 1, expected), 1.0),
        }
    )


def precedence(
    bursts: pd.DataFrame, masks: np.ndarray, grid: MinuteGrid, confidence: float
) -> pd.DataFrame:
    """Per mask row: bursts (the corroborated ones inside the grid), hits, expected, and lift bounds."""
    minute = grid.minute(bursts["start_ns"].to_numpy())
    inside = bursts["corroborated"].to_numpy() & (minute >= 0) & (minute < grid.n_minutes)
    minute = minute[inside]
    hour = grid.hour_of_day()[minute]
    hits = masks[:, minute].sum(axis=1)
    expected = chance_by_hour(masks, grid)[:, hour].sum(axis=1)
    counts = pd.DataFrame({"bursts": len(minute), "hits": hits, "expected": expected})
    return pd.concat([counts, lift_bounds(hits, expected, confidence)], axis=1)


# ---------------------------------------------------------------- service × stage evidence


def service_stage_evidence(
    alerts: pd.DataFrame,
    episodes: pd.DataFrame,
    journey_map: JourneyMap,
    grid: MinuteGrid,
    config: MapCheckConfig,
) -> pd.DataFrame:
    """service × stage: alerts, bursts, hits, expected, lift bounds, p_value, how the map links them
    (`link`: hard, soft or "" when not at all; `hops`: 0 direct, more through dependencies) and
    `covered` (the map reaches the service somewhere). Examples are the first alerts of hit bursts."""
    stages = StageIndex.from_map(journey_map)
    bursts = alert_bursts(alerts, config.burst_gap_min, config.corroborating_rules)
    masks = onset_masks(episodes, stages, grid, config.onset_before_min, config.onset_after_min)
    alert_counts = alerts["service"].astype(str).value_counts()
    parts = []
    for service, own in bursts.groupby("service", sort=True):
        found = precedence(own, masks, grid, config.confidence)
        found.insert(0, "service", service)
        found.insert(1, "journey", stages.table["journey"].to_numpy())
        found.insert(2, "stage", stages.table["stage"].to_numpy())
        found.insert(3, "alerts", int(alert_counts[service]))
        found["examples"] = _examples(own, masks, grid)
        parts.append(found)
    if not parts:
        return pd.DataFrame(columns=EVIDENCE_COLUMNS)
    evidence = pd.concat(parts, ignore_index=True)
    links = journey_map.service_stage_links().rename(columns={"kind": "link"})
    evidence = evidence.merge(links, on=["service", "journey", "stage"], how="left")
    evidence["link"] = evidence["link"].fillna("").astype(str)
    evidence["hops"] = evidence["hops"].astype("Int64")
    evidence["covered"] = evidence["service"].isin(journey_map.covered_services())
    return evidence[list(EVIDENCE_COLUMNS)]


EVIDENCE_COLUMNS = (
    "service",
    "journey",
    "stage",
    "alerts",
    "bursts",
    "hits",
    "expected",
    "lift",
    "lift_low",
    "lift_high",
    "p_value",
    "link",
    "hops",
    "covered",
    "examples",
)


def _examples(bursts: pd.DataFrame, masks: np.ndarray, grid: MinuteGrid) -> list[list[str]]:
    minute = grid.minute(bursts["start_ns"].to_numpy())
    usable = bursts["corroborated"].to_numpy() & (minute >= 0) & (minute < grid.n_minutes)
    ids = bursts["first_alert_id"].to_numpy()[usable]
    hit = masks[:, minute[usable]]
    return [list(ids[row][:EXAMPLES]) for row in hit]


# ---------------------------------------------------------------- findings


def suggest_links(evidence: pd.DataFrame, config: MapCheckConfig) -> pd.DataFrame:
    """Stages an unmapped service's bursts precede beyond chance, each with a proposed kind.

    `kind` is calibrated on the map's own direct links: hard when the evidence (the lift's lower
    bound) reaches the geometric middle of what the map's hard and soft links show — a soft
    dependency degrades gracefully, so its failures rarely precede a degradation.
    """
    candidates = evidence[
        ~evidence["covered"]
        & (evidence["hits"] >= config.suggest_min_hits)
        & (evidence["lift_low"] > config.suggest_min_lift)
    ].copy()
    candidates["kind"] = np.where(
        candidates["lift_low"] >= hard_evidence(evidence, config), "hard", "soft"
    )
    return candidates.sort_values(
        ["lift_low", "p_value"], ascending=[False, True], kind="stable"
    ).reset_index(drop=True)


def hard_evidence(evidence: pd.DataFrame, config: MapCheckConfig) -> float:
    """The lift lower bound that separates the map's hard direct links from its soft ones.

    Without both kinds to learn from, any suggested link counts as hard: it passed the test, so
    its failures visibly hurt the stage.
    """
    direct = evidence[(evidence["hops"] == 0) & (evidence["bursts"] > 0)]
    hard, soft = (direct.loc[direct["link"] == kind, "lift_low"].median() for kind in KINDS)
    if not (np.isfinite(hard) and np.isfinite(soft)) or hard <= soft:
        return config.suggest_min_lift
    return float(np.sqrt(hard * max(soft, config.suggest_min_lift / 10)))


KINDS = ("hard", "soft")


def rank_unmapped(evidence: pd.DataFrame, suggestions: pd.DataFrame) -> pd.DataFrame:
    """One row per service the map does not reach: service, alerts, stages (its suggested links,
    strongest first), lift and evidence (its strongest link's lift and lower bound)."""
    rows = []
    for service, own in evidence[~evidence["covered"]].groupby("service", sort=False):
        mine = suggestions[suggestions["service"] == service]
        best = (
            mine.iloc[0] if len(mine) else own.sort_values("lift_low", na_position="first").iloc[-1]
        )
        rows.append(
            {
                "service": service,
                "alerts": int(own["alerts"].iloc[0]),
                "bursts": int(own["bursts"].iloc[0]),
                "suggested": bool(len(mine)),
                "stages": [
                    {
                        "journey": r.journey,
                        "stage": r.stage,
                        "link": r.kind,
                        "hits": int(r.hits),
                        "expected": float(r.expected),
                        "lift": float(r.lift),
                        "lift_low": float(r.lift_low),
                        "p_value": float(r.p_value),
                        "examples": list(r.examples),
                    }
                    for r in mine.itertuples()
                ],
                "lift": float(best["lift"]) if best["bursts"] else float("nan"),
                "evidence": float(best["lift_low"]) if best["bursts"] else 0.0,
                "p_value": float(best["p_value"]),
            }
        )
    columns = ["service", "alerts", "bursts", "suggested", "stages", "lift", "evidence", "p_value"]
    ranked = pd.DataFrame(rows, columns=columns)
    return ranked.sort_values(
        ["suggested", "evidence", "p_value", "alerts"],
        ascending=[False, False, True, False],
        kind="stable",
        ignore_index=True,
    )


def doubtful_links(
    evidence: pd.DataFrame,
    edges: pd.DataFrame,
    config: MapCheckConfig,
) -> pd.DataFrame:
    """Mapped links whose bursts do not precede impact although there were enough of them to show
    it: the lift's upper bound stays below `doubt_max_lift`. Only hard direct links and dependency
    edges are judged — a soft link is allowed to hurt nobody. Columns: what (service_stage or
    dependency), service, target (stage or callee's caller), bursts, hits, expected, lift, lift_high."""
    hard = evidence[(evidence["hops"] == 0) & (evidence["link"] == "hard")]
    direct = pd.DataFrame(
        {
            "what": "service_stage",
            "service": hard["service"],
            "target": hard["journey"] + "/" + hard["stage"],
            **{c: hard[c] for c in _DOUBT_FIGURES},
        }
    )
    depends = pd.DataFrame(
        {
            "what": "dependency",
            "service": edges["caller"],
            "target": edges["callee"],
            **{c: edges[c] for c in _DOUBT_FIGURES},
        }
    )
    found = pd.concat([direct, depends], ignore_index=True)
    # Where a hit is likely by chance, even a real link cannot show a lift of doubt_max_lift:
    # such a link is not judged.
    chance = found["expected"] / found["bursts"].where(found["bursts"] > 0)
    informative = chance <= 1 / config.doubt_max_lift
    found = found[informative & (found["lift_high"] < doubt_threshold(evidence, config))]
    return found.sort_values("lift_high", kind="stable", ignore_index=True)


MAX_TARGET_SHARE = 0.5  # a target covering more of the time than this cannot show a lift of 2


def doubt_threshold(evidence: pd.DataFrame, config: MapCheckConfig) -> float:
    """`doubt_max_lift`, or less when the map's own hard links show little lift in this history
    (noisy monitoring): a link is only doubted for falling well short of what real links show."""
    hard = evidence[
        (evidence["hops"] == 0) & (evidence["link"] == "hard") & (evidence["bursts"] > 0)
    ]
    typical = hard["lift"].median()
    if not np.isfinite(typical):
        return config.doubt_max_lift
    return float(min(config.doubt_max_lift, np.sqrt(max(typical, 1.0))))


_DOUBT_FIGURES = ("bursts", "hits", "expected", "lift", "lift_high")


def dependency_evidence(
    alerts: pd.DataFrame,
    episodes: pd.DataFrame,
    journey_map: JourneyMap,
    grid: MinuteGrid,
    config: MapCheckConfig,
) -> pd.DataFrame:
    """Per `dependencies` edge caller → callee: do the callee's bursts precede a degradation of a
    stage the caller serves, or a burst of the caller itself (a failure travelling up the edge)?
    Columns: caller, callee, then `precedence`'s."""
    stages = StageIndex.from_map(journey_map)
    bursts = alert_bursts(alerts, config.burst_gap_min, config.corroborating_rules)
    onsets = onset_masks(episodes, stages, grid, config.onset_before_min, config.onset_after_min)
    links = journey_map.service_stage_links()
    code = stages.code_of(links["journey"], links["stage"])
    by_service = dict(tuple(bursts.groupby("service", sort=False)))
    rows = []
    for caller, callees in journey_map.dependencies.items():
        target = onsets[code[(links["service"] == caller).to_numpy()]].any(axis=0)
        caller_bursts = _burst_mask(by_service.get(caller), grid, config)
        if caller_bursts.mean() <= MAX_TARGET_SHARE:  # a caller that always alerts tells nothing
            target |= caller_bursts
        for callee in callees:
            own = by_service.get(callee, bursts.iloc[:0])
            found = precedence(own, target[None, :], grid, config.confidence)
            rows.append({"caller": caller, "callee": callee, **found.iloc[0].to_dict()})
    columns = ["caller", "callee", "bursts", "hits", "expected", *lift_bounds([], [], 0.9)]
    return pd.DataFrame(rows, columns=columns)


def _burst_mask(
    bursts: pd.DataFrame | None, grid: MinuteGrid, config: MapCheckConfig
) -> np.ndarray:
    """Minutes where a callee's burst would precede one of these bursts. Every burst of the
    caller counts: a failure travelling up an edge trips the caller's error or latency rule,
    often that one alone."""
    mask = np.zeros(grid.n_minutes, dtype=bool)
    if bursts is None:
        return mask
    minute = grid.minute(bursts["start_ns"].to_numpy())
    for m in minute[(minute >= 0) & (minute < grid.n_minutes)]:
        mask[max(m - int(config.onset_after_min), 0) : m + int(config.onset_before_min) + 1] = True
    return mask


def stage_coverage(
    windows: pd.DataFrame, episodes: pd.DataFrame, journey_map: JourneyMap, config: MapCheckConfig
) -> pd.DataFrame:
    """Per stage: services (direct), sessions, typical sessions per window, completion rate, the
    drop a typical window must show to be seen, episodes, and status: ok, no services (live data
    but nothing mapped), sparse (too little traffic to label), or no data."""
    table = journey_map.stage_table()[["journey", "stage"]]
    active = windows[windows["sessions"] > 0]
    traffic = active.groupby(["journey", "stage"]).agg(
        sessions=("sessions", "sum"),
        completed=("completed", "sum"),
        typical_sessions=("sessions", "median"),
    )
    out = table.join(traffic, on=["journey", "stage"])
    out["services"] = [
        len(journey_map.find_stage(j, s).services)
        for j, s in zip(out["journey"], out["stage"], strict=True)
    ]
    rate = out["completed"] / out["sessions"]
    out["completion_rate"] = rate
    with np.errstate(divide="ignore", invalid="ignore"):
        out["detectable_drop"] = config.sparse_window_z * np.sqrt(
            (1 - rate) / (out["typical_sessions"] * rate)
        )
    counts = episodes.groupby(["journey", "stage"]).size().rename("episodes")
    out = out.join(counts, on=["journey", "stage"])
    out["episodes"] = out["episodes"].fillna(0).astype(int)
    out["sessions"] = out["sessions"].fillna(0).astype(int)
    out["status"] = np.select(
        [
            out["sessions"] == 0,
            out["services"] == 0,
            ~(out["detectable_drop"] <= config.sparse_max_drop),
        ],
        ["no data", "no services", "sparse"],
        "ok",
    )
    return out.drop(columns="completed")


def silent_services(alerts: pd.DataFrame, journey_map: JourneyMap) -> list[str]:
    """Services the map names on a stage that sent no alert at all in the period."""
    named = {
        service
        for journey in journey_map.journeys.values()
        for stage in journey.stages
        for service in stage.services
    }
    return sorted(named - set(alerts["service"].astype(str)))


def likely_renames(
    unmapped: pd.DataFrame, alerts: pd.DataFrame, journey_map: JourneyMap
) -> pd.Series:
    """Per unmapped service: mapped services on its suggested stages whose last alert came before
    its first (or that never alerted) — the map still names the old service of a migration."""
    first = alerts.groupby("service")["fired_at"].min()
    last = alerts.groupby("service")["fired_at"].max()
    found = []
    for row in unmapped.itertuples():
        names = set()
        for link in row.stages:
            stage = journey_map.find_stage(link["journey"], link["stage"])
            names |= set(stage.services) if stage is not None else set()
        old = [
            s
            for s in sorted(names)
            if s not in last.index or last[s] < first.get(row.service, pd.Timestamp.max)
        ]
        found.append(old)
    return pd.Series(found, index=unmapped.index, dtype=object)


def check_map_evidence(
    alerts: pd.DataFrame,
    windows: pd.DataFrame,
    episodes: pd.DataFrame,
    journey_map: JourneyMap,
    step_ns: int,
    config: MapCheckConfig | None = None,
) -> MapEvidence:
    """Every finding of the map check from the period's alerts, per-window losses and episodes."""
    config = config or MapCheckConfig()
    grid = MinuteGrid.of_windows(windows["window_start"], step_ns)
    evidence = service_stage_evidence(alerts, episodes, journey_map, grid, config)
    edges = dependency_evidence(alerts, episodes, journey_map, grid, config)
    suggestions = suggest_links(evidence, config)
    ranked = rank_unmapped(evidence, suggestions)
    ranked["replaces"] = likely_renames(ranked, alerts, journey_map)
    # A migration's new name is not missing from the map: the map names it under the old one.
    renamed = ranked["replaces"].map(len) > 0
    return MapEvidence(
        evidence=evidence,
        suggestions=suggestions,
        unmapped=ranked[~renamed].reset_index(drop=True),
        renamed=ranked[renamed].reset_index(drop=True),
        doubtful=doubtful_links(evidence, edges, config),
        stages=stage_coverage(windows, episodes, journey_map, config),
        silent=silent_services(alerts, journey_map),
    )


@dataclass(frozen=True)
class UnmappedLinks:
    """What the history says of the services the map leaves out, for attribution: the stages each
    one's alerts precede beyond chance (`suggest_links`), and a migration's new name -> old."""

    stages: dict[str, tuple[str, ...]]  # (journey, stage) key "journey/stage" -> services
    renamed: dict[str, str]

    def services_of(self, key: str) -> tuple[str, ...]:
        return self.stages.get(key, ())


def unmapped_links(
    alerts: pd.DataFrame,
    windows: pd.DataFrame,
    journey_map: JourneyMap,
    step_ns: int,
    episode_config: EpisodeConfig,
    config: MapCheckConfig | None = None,
) -> UnmappedLinks:
    """The map check's evidence on the uncovered services only (the mapped ones need none)."""
    config = config or MapCheckConfig()
    covered = journey_map.covered_services()
    outside = alerts[~alerts["service"].astype(str).isin(covered)]
    if outside.empty or windows.empty:
        return UnmappedLinks({}, {})
    grid = MinuteGrid.of_windows(windows["window_start"], step_ns)
    episodes = find_episodes(windows, episode_config)
    evidence = service_stage_evidence(outside, episodes, journey_map, grid, config)
    suggestions = suggest_links(evidence, config)
    ranked = rank_unmapped(evidence, suggestions)
    renames = likely_renames(ranked, alerts, journey_map)
    renamed = {
        service: old[0]
        for service, old in zip(ranked["service"], renames, strict=True)
        if len(old) == 1
    }
    stages: dict[str, list[str]] = {}
    for row in suggestions.itertuples():
        if row.service not in renamed:
            stages.setdefault(f"{row.journey}/{row.stage}", []).append(str(row.service))
    return UnmappedLinks({k: tuple(sorted(v)) for k, v in stages.items()}, renamed)


def map_health(
    outcomes: pd.DataFrame,
    alerts: pd.DataFrame,
    journey_map: JourneyMap,
    step_ns: int,
    baselines: Baselines | None = None,
    config: MapCheckConfig | None = None,
    episode_config: EpisodeConfig | None = None,
) -> tuple[MapEvidence, pd.DataFrame]:
    """The map check of a history: its degradation episodes (the outcomes report's definition,
    baselines fitted on the history unless given) and what the alerts say about the map."""
    episode_config = episode_config or EpisodeConfig()
    stages = StageIndex.from_map(journey_map)
    if baselines is None:
        baselines = fit_baselines(outcomes, stages, step_ns, episode_config.baselines)
    windows = window_losses(outcomes, stages, baselines, journey_map, step_ns)
    episodes = find_episodes(windows, episode_config)
    return check_map_evidence(alerts, windows, episodes, journey_map, step_ns, config), episodes


# ---------------------------------------------------------------- as records and a patch


def unmapped_records(ranked: pd.DataFrame) -> list[dict]:
    """`unmapped_services` (or `renamed_services`) as map_check.json, the audit and the dashboard
    show them, by evidence."""
    return [
        {
            "service": r.service,
            "stages": r.stages,
            "alerts": int(r.alerts),
            "bursts": int(r.bursts),
            "lift": _number(r.lift),
            "evidence": _number(r.evidence),
            "p_value": _number(r.p_value),
            "suggested": bool(r.suggested),
            "replaces": list(r.replaces),
        }
        for r in ranked.itertuples()
    ]


def _number(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def suggested_patch(found: MapEvidence, journey_map: JourneyMap) -> dict:
    """The changes a person should review, as data: links to add (a rename where the map still
    names the old service), dependencies and hard links to question. Nothing here is applied."""
    add = []
    rename = [
        {
            "old": old,
            "new": row.service,
            "stages": [f"{s['journey']}/{s['stage']}" for s in row.stages],
        }
        for row in found.renamed.itertuples()
        for old in row.replaces
    ]
    for row in found.unmapped[found.unmapped["suggested"]].itertuples():
        for link in row.stages:
            add.append(
                {
                    "journey": link["journey"],
                    "stage": link["stage"],
                    "service": row.service,
                    "link": link["link"],
                    "why": f"{link['hits']} of its corroborated alert bursts preceded a degradation "
                    f"of the stage, {link['lift']:.1f}× chance (at least {link['lift_low']:.1f}×)",
                }
            )
    doubtful = found.doubtful
    edges = doubtful[doubtful["what"] == "dependency"]
    hard = doubtful[doubtful["what"] == "service_stage"]
    return {
        "journey_map_version": str(journey_map.version),
        "add_services": add,
        "rename_services": rename,
        "remove_dependencies": [
            {"service": r.service, "callee": r.target, "why": _doubt_why(r)}
            for r in edges.itertuples()
        ],
        "review_hard_links": [
            {"service": r.service, "stage": r.target, "why": _doubt_why(r)}
            for r in hard.itertuples()
        ],
    }


def _doubt_why(row) -> str:
    return (
        f"{int(row.hits)} of {int(row.bursts)} corroborated alert bursts preceded impact, "
        f"{row.expected:.1f} expected by chance: at most {row.lift_high:.1f}× chance"
    )


def map_summary(found: MapEvidence) -> dict:
    """What a model carries of its training history's map check, for the dashboard to show."""
    stages = found.stages
    return {
        "unmapped_services": unmapped_records(found.unmapped),
        "renamed_services": unmapped_records(found.renamed),
        "doubtful_links": [
            {"what": r.what, "service": r.service, "target": r.target, "lift_high": r.lift_high}
            for r in found.doubtful.itertuples()
        ],
        "sparse_stages": _stage_keys(stages, "sparse"),
        "stages_without_services": _stage_keys(stages, "no services"),
    }


def _stage_keys(stages: pd.DataFrame, status: str) -> list[str]:
    chosen = stages[stages["status"] == status]
    return [f"{j}/{s}" for j, s in zip(chosen["journey"], chosen["stage"], strict=True)]
