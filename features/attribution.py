"""Impact labels attributed to causes: an alert is credited with a degradation only when it explains it.

The window label (`features.labels`) asks "did the alert's stages lose completions right after it
fired?" — which also credits every alert that merely fired while a stage was degrading for
another reason. Attribution looks at each degradation over its whole life instead:

1. degradations: per mapped service (the stages it reaches hard, pooled), in all regions and in
   each, and per stage for services the map leaves out — runs of windows significantly below
   normal (`features.episodes.episode_spans`), kept when material;
2. chains: firings of one rule on one service that follow each other form one condition, active
   from its first firing to its last resolution;
3. candidates: a chain active around a degradation of its service (or, for a service the map
   leaves out, of a stage its alerts precede beyond chance: `features.map_evidence`);
4. chance, measured: the same degradations moved whole days both ways. The share of candidates
   beyond chance — per rule on its service, per circumstance (timing, companion alerts), per
   anomaly_score quarter and per size of the alert's incident (`features.incidents`: a
   coincidence most often fires alone) — gives each candidate a probability of being a cause
   (`causal_posterior`);
5. credit: causes (`min_posterior`) and the other alerts of their failure (`share_credit`): by
   default those fired on a cause's service while an episode credited to two chains or more
   lasted, whose rule fires in failures beyond chance (`failure_members`; `member_hops` adds
   the callers: a failure travels up the call graph);
6. (an option, as is the incident-size evidence in 4) the credited alerts' incidents
   (`incident_members`): the symptoms the incident grouper put with them on their callers, and
   the synthetic checks, while the episode lasted, whose rule fires in failures beyond chance. The grouper's other evidence (bursts, noisy rules, probes'
   stages, region and cluster) keeps out most of what merely fired on a caller meanwhile. With
   `root_hops`, a service that several credited services of an incident call is their root: its
   alerts there share the credit, and the symptoms on its other callers follow;
7. (`check_members`) the synthetic checks, in whatever incident, that fail during a credited
   episode (in its region) and probe a stage it was measured on, whose rule fires in failures
   beyond chance: the grouper joins a check only to a young incident, and a slow burn's checks
   fail hours in;
8. (`series_members`) the earlier firings, in the same incident, of the series (rule on service)
   of an alert that shares a cause's credit (5, 6): a slow failure fires those rules hours before
   its drop is significant, before the span in which members are looked for. A cause's own
   earlier firings are left to the posterior, which judged them as candidates;
9. (`persisting_min`) persisting conditions: a chain active for hours whose service's stages lost
   completions over its life, outside that service's episodes, significantly and materially on
   average (`persisting_conditions`): a slow burn on a quiet stage opens no episode.

The label is 1 for credited alerts; `impact_weight` is the lost value of the costliest
degradation credited; `attributed_to` names the first episode credited ("deg-…"), or for a
persisting condition alone its chain ("cond-…").
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.baselines import Baselines
from features.config import AttributionConfig, IncidentConfig
from features.episodes import episode_spans, window_losses
from features.incidents import group_incidents, label_mapping, probed_stages
from features.journey_map import JourneyMap
from features.loading import DataDir
from features.map_evidence import unmapped_links
from features.stages import StageIndex
from features.timeaxis import MINUTE_NS, from_ns, to_ns

ATTRIBUTION_COLUMNS = ("alert_id", "label", "impact_weight", "attributed_to", "causal_share")
INCIDENT_SERIES_EDGES = (1, 2, 3, 6)  # alert series in an incident: 1, 2, 3-5, 6 or more


@dataclass(frozen=True)
class GroupedAlerts:
    """What the incident grouper says of each alert, in the alerts' order: its incident, and
    whether the alert is a symptom (a signal by which a failure shows on its callers) or a
    synthetic check (it names the stage it probes)."""

    incident: np.ndarray
    symptom: np.ndarray
    checked: np.ndarray  # the journey/stage a synthetic check names (None: the alert is no check)

    @property
    def probe(self) -> np.ndarray:
        """Whether each alert is a synthetic check."""
        return pd.notna(self.checked)


def grouped_alerts(
    alerts: pd.DataFrame,
    journey_map: JourneyMap,
    config: IncidentConfig | None = None,
    changes: pd.DataFrame | None = None,
) -> GroupedAlerts:
    """Each alert's incident over the whole history (`group_incidents`), and the grouper's own
    vocabulary for it (`symptom_signals`, `stage_labels`)."""
    config = config or IncidentConfig()
    grouped = group_incidents(alerts, journey_map, config, changes)
    if "signal" in alerts:
        symptom = alerts["signal"].isin(config.symptom_signals).to_numpy(dtype=bool)
    else:
        symptom = np.zeros(len(alerts), dtype=bool)
    checked = (
        _checked_stage(alerts["labels"], config.stage_labels)
        if "labels" in alerts
        else np.full(len(alerts), None, dtype=object)
    )
    return GroupedAlerts(grouped["incident_id"].to_numpy(dtype=object), symptom, checked)


def _checked_stage(labels: pd.Series, stage_labels: tuple[str, ...]) -> np.ndarray:
    """Per alert, the stage its labels (JSON text or a mapping) name as a synthetic check's, as
    the grouper reads them (`probed_stages`; the first when several); None for other alerts."""
    texts = [json.dumps(v, sort_keys=True) if isinstance(v, dict) else v for v in labels]
    codes, distinct = pd.factorize(pd.Series(texts, dtype=object))
    named = [probed_stages(label_mapping(text), stage_labels) for text in distinct]
    values = np.array([found[0] if found else None for found in named] + [None], dtype=object)
    return values[np.where(codes >= 0, codes, len(distinct))]


def attribute_impact(
    alerts: pd.DataFrame,
    outcomes: pd.DataFrame,
    stages: StageIndex,
    journey_map: JourneyMap,
    baselines: Baselines,
    step_ns: int,
    config: AttributionConfig | None = None,
    grouped: GroupedAlerts | None = None,
) -> pd.DataFrame:
    """ATTRIBUTION_COLUMNS per alert, in the alerts' order (label 0 where nothing is credited).
    With `grouped` (the alerts' incidents), `incident_evidence`, `incident_members`,
    `series_members` and `check_members` apply."""
    config = config or AttributionConfig()
    windows = _windows_by_region(outcomes, stages, baselines, journey_map, step_ns, config)
    episodes = degradations(windows, stages, config)
    outside = None
    if config.credit_unmapped and config.unmapped_by_evidence:
        found = unmapped_links(alerts, windows[None], journey_map, step_ns, config.episodes)
        alerts = alerts.assign(service=alerts["service"].astype(str).replace(found.renamed))
        outside = {code: found.services_of(key) for code, key in enumerate(stages.keys())}
    chains = alert_chains(alerts, config)
    candidates = candidate_pairs(alerts, chains, episodes, stages, config, outside)
    if len(candidates) == 0:
        credit = _credit(
            alerts, chains, candidates, np.zeros(0), episodes, stages, journey_map, config
        )
    else:
        chance = chance_pairs(alerts, chains, episodes, stages, config, outside)
        companions = companion_bins(alerts, chains, journey_map, config)
        scores = score_bins(alerts) if config.score_evidence else None
        sizes = None
        if grouped is not None and config.incident_evidence:
            sizes = incident_bins(alerts, grouped.incident)
        posterior = causal_posterior(chains, candidates, chance, companions, config, scores, sizes)
        credit = _credit(
            alerts, chains, candidates, posterior, episodes, stages, journey_map, config, grouped
        )
    persisting = persisting_conditions(alerts, chains, windows[None], episodes, stages, config)
    return _with_persisting(credit, persisting)


def _windows_by_region(outcomes, stages, baselines, journey_map, step_ns, config):
    """Per-window losses of all regions together (key None) and, with `by_region`, of each."""
    scopes = {None: outcomes}
    if config.by_region and "region" in outcomes and outcomes["region"].notna().any():
        regions = outcomes["region"].astype(str)
        scopes |= {r: outcomes[regions == r] for r in sorted(regions.unique()) if r != "<NA>"}
    return {
        r: window_losses(part, stages, baselines, journey_map, step_ns)
        for r, part in scopes.items()
    }


def alert_chains(alerts: pd.DataFrame, config: AttributionConfig) -> pd.DataFrame:
    """Per alert: `chain` (an id), `chain_start`, `chain_end` (ns), `key` (rule on service) and
    `rule` codes — firings of one rule on one service less than `chain_gap_min` apart, each
    active until resolved (or for `open_hold_min` when the resolution is unknown)."""
    fired = to_ns(alerts["fired_at"])
    resolved = fired + int(config.open_hold_min * MINUTE_NS)
    if "resolved_at" in alerts:
        known = alerts["resolved_at"].notna().to_numpy()
        resolved[known] = np.maximum(to_ns(alerts["resolved_at"][known]), fired[known])
    names = alerts["alert_name"].astype(str)
    key = pd.factorize(pd.MultiIndex.from_arrays([names, alerts["service"].astype(str)]))[0]
    order = np.lexsort((fired, key))
    k, f, r = key[order], fired[order], resolved[order]
    chain = np.empty(len(order), dtype=np.int64)
    gap = int(config.chain_gap_min * MINUTE_NS)
    current, end = -1, 0
    for i in range(len(order)):  # a running end: a chain lasts while its firings overlap
        if i == 0 or k[i] != k[i - 1] or f[i] > end + gap:
            current, end = current + 1, r[i]
        else:
            end = max(end, r[i])
        chain[i] = current
    out = np.empty(len(order), dtype=np.int64)
    out[order] = chain
    return pd.DataFrame(
        {
            "chain": out,
            "chain_start": pd.Series(fired).groupby(out).transform("min").to_numpy(),
            "chain_end": pd.Series(resolved).groupby(out).transform("max").to_numpy(),
            "key": key,
            "rule": pd.factorize(names)[0],
        }
    )


def degradations(
    windows_by_region: dict[str | None, pd.DataFrame], stages: StageIndex, config: AttributionConfig
) -> pd.DataFrame:
    """Material episodes, in one frame (episode_id, service, stage_code, region, start, end,
    lost_completions, lost_value), found in every region's windows and in all regions' together
    (region None), at each of `time_scales` (windows summed by that many):

    - per mapped service, over the pooled windows of the stages it reaches hard (all its stages
      when none is hard): one failure that costs a little at each of many stages is seen whole;
    - per stage (service None), for the services the map leaves out (`credit_unmapped`).

    A failure in one region drowns in the others' traffic, and a slow burn in the noise of single
    windows: the regional and coarser series see them.
    """
    found = [
        episode
        for region, windows in windows_by_region.items()
        if len(windows)
        for episode in _episodes_of(windows, stages, config, region)
    ]
    columns = [
        "service",
        "stage_code",
        "region",
        "start_ns",
        "end_ns",
        "lost_completions",
        "lost_value",
    ]
    out = pd.DataFrame(found, columns=columns)
    out = out.sort_values(["start_ns", "stage_code"], kind="stable", ignore_index=True)
    return out.assign(
        episode_id=[f"deg-{i:05d}" for i in range(1, len(out) + 1)],
        start=from_ns(out["start_ns"].to_numpy(np.int64)),
        end=from_ns(out["end_ns"].to_numpy(np.int64)),
    ).drop(columns=["start_ns", "end_ns"])


def _stage_grid(windows: pd.DataFrame) -> tuple[dict[str, np.ndarray], np.ndarray, dict[int, int]]:
    """The windows as stage × window arrays (lost, completion_var, expected_completed,
    lost_value), the windows' starts (ns) and each stage code's row."""
    codes = np.sort(windows["stage_code"].unique())
    ordered = windows.sort_values(["stage_code", "window_start"], kind="stable")
    grid = {
        name: ordered[name].to_numpy(np.float64).reshape(len(codes), -1)
        for name in ("lost", "completion_var", "expected_completed", "lost_value")
    }
    starts = to_ns(ordered["window_start"].iloc[: grid["lost"].shape[1]])
    return grid, starts, {int(c): i for i, c in enumerate(codes)}


def _episodes_of(windows: pd.DataFrame, stages: StageIndex, config: AttributionConfig, region):
    grid, starts, row_of = _stage_grid(windows)
    codes = np.array(sorted(row_of), dtype=np.int64)
    step = int(np.min(np.diff(starts))) if len(starts) > 1 else MINUTE_NS
    groups: list[tuple[str | None, int, list[int]]] = [
        (service, -1, [row_of[c] for c in chosen if c in row_of])
        for service, chosen in _measured_stages(stages).items()
    ]
    if config.credit_unmapped:
        groups += [(None, int(c), [row_of[int(c)]]) for c in codes]
    episodes = config.episodes
    for service, code, members in groups:
        pooled = {name: values[members].sum(axis=0) for name, values in grid.items()}
        for scale in config.time_scales:
            for first, last in _spans(pooled, scale, episodes):
                span = slice(first, last + 1)
                lost = pooled["lost"][span].sum()
                expected = pooled["expected_completed"][span].sum()
                if (
                    lost < episodes.min_lost_completions
                    or lost < episodes.min_relative_drop * expected
                ):
                    continue
                value = max(pooled["lost_value"][span].sum(), 0.0)
                yield (service, code, region, starts[first], starts[last] + step, lost, value)


def _spans(pooled: dict[str, np.ndarray], scale: int, config) -> list[tuple[int, int]]:
    """Episode spans (first, last window) of the series summed over blocks of `scale` windows."""
    n = len(pooled["lost"])
    blocks = -(-n // scale)
    summed = {
        name: np.pad(pooled[name], (0, blocks * scale - n)).reshape(blocks, scale).sum(axis=1)
        for name in ("lost", "completion_var")
    }
    z = _z(summed["lost"], summed["completion_var"])
    spans = episode_spans(z, summed["lost"], summed["completion_var"], config)
    return [(first * scale, min(n - 1, last * scale + scale - 1)) for first, last in spans]


def _z(lost: np.ndarray, variance: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(variance > 0, lost / np.sqrt(np.where(variance > 0, variance, 1.0)), 0.0)


def candidate_pairs(
    alerts: pd.DataFrame,
    chains: pd.DataFrame,
    episodes: pd.DataFrame,
    stages: StageIndex,
    config: AttributionConfig,
    outside: dict[int, tuple[str, ...]] | None = None,
) -> pd.DataFrame:
    """(alert, episode, linked, timing) pairs: the alert's chain was active from `lead_min` before
    the episode to its end and the alert fired by then. A service's degradation pairs with its
    own alerts (`linked`); a stage's with the alerts of the services the map links to no stage —
    with `outside` (stage code -> services), only those whose alerts precede the stage's
    degradations beyond chance (`features.map_evidence.unmapped_links`), else all of them;
    `timing` says when the chain began and whether it outlived the episode (`timing_bin`)."""
    columns = {"alert": np.int64, "episode": np.int64, "linked": bool, "timing": np.int64}
    if len(episodes) == 0 or len(alerts) == 0:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in columns.items()})
    services = alerts["service"].astype(str).to_numpy(dtype=object)
    index = ActiveAlerts(services, alerts, chains)
    unlinked = tuple(sorted(set(services) - set(stages.links["service"])))
    ep_start, ep_end = to_ns(episodes["start"]), to_ns(episodes["end"])
    lead = int(config.lead_min * MINUTE_NS)
    owners = episodes["service"].to_numpy(dtype=object)
    codes = episodes["stage_code"].to_numpy()
    hits = []
    for e, owner in enumerate(owners):
        if pd.notna(owner):
            hits.append(index.active(owner, ep_start[e] - lead, ep_end[e]))
            continue
        suspects = unlinked if outside is None else outside.get(int(codes[e]), ())
        found = [index.active(s, ep_start[e] - lead, ep_end[e]) for s in suspects]
        hits.append(np.concatenate(found) if found else np.zeros(0, np.int64))
    alert = np.concatenate(hits) if hits else np.zeros(0, np.int64)
    episode = np.repeat(np.arange(len(episodes)), [len(h) for h in hits])
    start, end = chains["chain_start"].to_numpy()[alert], chains["chain_end"].to_numpy()[alert]
    out = pd.DataFrame(
        {
            "alert": alert,
            "episode": episode,
            "linked": pd.notna(owners[episode]),
            "timing": timing_bin(start - ep_start[episode], end - ep_end[episode], config),
        }
    ).astype(columns)
    return out.drop_duplicates(["alert", "episode"], ignore_index=True)


class ActiveAlerts:
    """Alerts by group (a service, or None), sorted by fired_at, to find those whose chain was
    active in a span and that fired by its end — in O(log n) plus the few found."""

    def __init__(self, groups: np.ndarray, alerts: pd.DataFrame, chains: pd.DataFrame) -> None:
        fired = to_ns(alerts["fired_at"])
        self.chain_end = chains["chain_end"].to_numpy()
        longest = self.chain_end - chains["chain_start"].to_numpy()
        self.rows, self.fired, self.longest = {}, {}, {}
        codes, names = pd.factorize(pd.Series(groups, dtype=object), use_na_sentinel=False)
        for code, name in enumerate(names):
            rows = np.flatnonzero(codes == code)
            rows = rows[np.argsort(fired[rows], kind="stable")]
            key = None if pd.isna(name) else name
            self.rows[key], self.fired[key] = rows, fired[rows]
            self.longest[key] = int(longest[rows].max()) if len(rows) else 0

    def active(self, group, lo: int, hi: int) -> np.ndarray:
        """Rows of `group` fired by `hi` whose chain ends at or after `lo`."""
        if group not in self.rows:
            return np.zeros(0, np.int64)
        # a chain that ends after lo began at most `longest` before it: only those can qualify
        times = self.fired[group]
        first = np.searchsorted(times, lo - self.longest[group], "left")
        last = np.searchsorted(times, hi, "right")
        rows = self.rows[group][first:last]
        return rows[self.chain_end[rows] >= lo]


TIMING_BINS = 6
COMPANION_BINS = 3  # alone, one related alert along, two or more


def companion_bins(
    alerts: pd.DataFrame, chains: pd.DataFrame, journey_map: JourneyMap, config
) -> np.ndarray:
    """Per alert, 0/1/2: how many other chains (other rules) began within `companion_min` of its
    chain on its own service or a service it calls or that calls it in the map. One failure
    trips several rules on the services it travels through; a coincidence fires alone."""
    services = alerts["service"].astype(str).to_numpy()
    first = chains.drop_duplicates("chain")
    by_service = {
        s: np.sort(part["chain_start"].to_numpy())
        for s, part in first.assign(service=services[first.index]).groupby("service")
    }
    near = _neighbours(journey_map)
    window = int(config.companion_min * MINUTE_NS)
    start = chains["chain_start"].to_numpy()
    count = np.zeros(len(alerts), dtype=np.int64)
    for service in np.unique(services):
        mine = np.flatnonzero(services == service)
        for other in {service, *near.get(service, ())}:
            times = by_service.get(other)
            if times is None:
                continue
            lo = np.searchsorted(times, start[mine] - window, "left")
            hi = np.searchsorted(times, start[mine] + window, "right")
            count[mine] += hi - lo
    count -= 1  # its own chain
    return np.minimum(np.maximum(count, 0), COMPANION_BINS - 1)


def _neighbours(journey_map: JourneyMap) -> dict[str, set[str]]:
    """Each service's direct callees and callers in the map's `dependencies`."""
    near: dict[str, set[str]] = {}
    for caller, callees in journey_map.dependencies.items():
        for callee in callees:
            near.setdefault(caller, set()).add(callee)
            near.setdefault(callee, set()).add(caller)
    return near


SCORE_BINS = 5  # no anomaly_score, then four quarters of [0, 1]


def score_bins(alerts: pd.DataFrame) -> np.ndarray:
    """Per alert, 0 when it carries no anomaly_score, else 1..4: the quarter of [0, 1] it is in."""
    if "anomaly_score" not in alerts:
        return np.zeros(len(alerts), dtype=np.int64)
    score = pd.to_numeric(alerts["anomaly_score"], errors="coerce").to_numpy(np.float64)
    quarter = np.clip(np.floor(np.nan_to_num(score) * 4), 0, 3).astype(np.int64) + 1
    return np.where(np.isfinite(score), quarter, 0)


def incident_bins(alerts: pd.DataFrame, incident: np.ndarray) -> np.ndarray:
    """Per alert, 0..3: how many alert series (rule on service) its incident holds — 1, 2, 3-5,
    6 or more (`INCIDENT_SERIES_EDGES`). One failure trips several rules on the services it
    travels through; a coincidence most often fires alone."""
    series = pd.factorize(
        pd.MultiIndex.from_arrays([alerts["alert_name"].astype(str), alerts["service"].astype(str)])
    )[0]
    held = pd.Series(series).groupby(pd.factorize(incident)[0]).transform("nunique").to_numpy()
    return np.searchsorted(np.asarray(INCIDENT_SERIES_EDGES), held, side="right") - 1


def timing_bin(start_offset_ns: np.ndarray, end_offset_ns: np.ndarray, config) -> np.ndarray:
    """0..5: the chain began long before the episode, at its onset or later (× 3), and ended
    before the episode did or outlived it (× 2). A cause tends to start at the onset and to
    last as long as the damage; a coincidence starts and stops at random."""
    began = np.where(
        start_offset_ns < -config.lead_min * MINUTE_NS,
        0,
        np.where(start_offset_ns <= config.onset_min * MINUTE_NS, 1, 2),
    )
    outlived = end_offset_ns >= -config.end_slack_min * MINUTE_NS
    return (began * 2 + outlived).astype(np.int64)


def chance_pairs(
    alerts: pd.DataFrame,
    chains: pd.DataFrame,
    episodes: pd.DataFrame,
    stages: StageIndex,
    config: AttributionConfig,
    outside: dict[int, tuple[str, ...]] | None = None,
) -> tuple[pd.DataFrame, float]:
    """Candidate pairs against the episodes moved whole days both ways (`null_shift_days`), and
    how many periods' worth of episodes they stand for (each move weighs the share it keeps
    inside the data); `period` says which move a pair came from. Moving by whole days keeps the hour of day: a rule that fires at busy
    hours — when incidents also happen and are easiest to see — meets as many moved episodes
    by chance as it meets real ones, so chance is measured, not modelled."""
    fired = to_ns(alerts["fired_at"])
    first, last = fired.min(), fired.max()
    parts, kept = [], 0.0
    for days in config.null_shift_days:
        for sign in (-1, 1):
            shift = pd.Timedelta(days=sign * days)
            moved = episodes.assign(start=episodes["start"] + shift, end=episodes["end"] + shift)
            inside = (to_ns(moved["start"]) >= first) & (to_ns(moved["end"]) <= last)
            if inside.any():
                kept += inside.mean()
                pairs = candidate_pairs(alerts, chains, moved[inside], stages, config, outside)
                parts.append(pairs.assign(period=len(parts)))
    if not parts:
        return candidate_pairs(alerts, chains, episodes.iloc[:0], stages, config), 0.0
    return pd.concat(parts, ignore_index=True), kept


def causal_posterior(
    chains: pd.DataFrame,
    candidates: pd.DataFrame,
    chance: tuple[pd.DataFrame, float],
    companions: np.ndarray,
    config: AttributionConfig,
    scores: np.ndarray | None = None,
    incident_sizes: np.ndarray | None = None,
) -> np.ndarray:
    """Per candidate pair, the probability that the alert is a cause rather than a coincidence.

    Two views of the same question, each the share of candidates beyond chance: by the alert's
    rule on its service (its chains; sparse ones borrow their rule's share over all services,
    with `prior_chains` pseudo-chains), and by the pair's circumstances — its timing against the
    episode and how many related alerts fired with it (`companion_bins`). They combine as
    independent evidence on the odds scale, relative to the overall share; so do, when given,
    the alert's anomaly_score quarter (`scores`) and its incident's size (`incident_sizes`).
    """
    null, periods = chance
    scale = 1.0 / periods if periods > 0 else 0.0
    key = chains["key"].to_numpy()
    rule_of_key = pd.Series(chains["rule"].to_numpy()).groupby(key).first()
    seen = _chains_per(chains, candidates, "key")
    expected = _chains_per(chains, null, "key").reindex(seen.index, fill_value=0.0) * scale
    rule = rule_of_key.reindex(seen.index).to_numpy()
    rule_seen = seen.groupby(rule).transform("sum")
    rule_share = _share(rule_seen, expected.groupby(rule).transform("sum"), config.prior_chains)
    prior = config.prior_chains
    key_share = ((seen - expected) + prior * rule_share).clip(lower=0) / (seen + prior)
    by_key = key_share.reindex(key[candidates["alert"]], fill_value=0.0).to_numpy()
    bins = np.arange(TIMING_BINS * COMPANION_BINS)
    seen_bin, null_bin = (
        p["timing"].to_numpy() * COMPANION_BINS + companions[p["alert"].to_numpy()]
        for p in (candidates, null)
    )
    seen_t = pd.Series(seen_bin).value_counts().reindex(bins, fill_value=0).astype(float)
    expected_t = pd.Series(null_bin).value_counts().reindex(bins, fill_value=0) * scale
    by_time = _share(seen_t, expected_t, 0.0).to_numpy()[seen_bin]
    overall = _share(pd.Series([len(candidates)]), pd.Series([len(null) * scale]), 0.0).iloc[0]
    logit = _logit(by_key) + _logit(by_time) - _logit(np.full(len(by_key), overall))
    for bins in (b for b in (scores, incident_sizes) if b is not None):
        by_bin = _bin_share(bins, candidates, null, scale)
        logit = logit + _logit(by_bin) - _logit(np.full(len(by_key), overall))
    return 1.0 / (1.0 + np.exp(-logit))


def _bin_share(
    bins: np.ndarray, seen: pd.DataFrame, null: pd.DataFrame, scale: float
) -> np.ndarray:
    """Per pair of `seen`, the share of seen pairs beyond chance in its alert's bin."""
    seen_bin, null_bin = (bins[p["alert"].to_numpy()] for p in (seen, null))
    every = np.arange(int(bins.max(initial=0)) + 1)
    seen_n = pd.Series(seen_bin).value_counts().reindex(every, fill_value=0).astype(float)
    expected = pd.Series(null_bin).value_counts().reindex(every, fill_value=0) * scale
    return _share(seen_n, expected, 0.0).to_numpy()[seen_bin]


def _chains_per(chains: pd.DataFrame, pairs: pd.DataFrame, by: str) -> pd.Series:
    """Distinct chains among the pairs' alerts, counted per `by` (a chain re-firing counts once),
    once in each period of moved episodes: a chain that lasts for days meets every move, and
    counted once over all of them it would look eight times rarer by chance than it is."""
    alert = pairs["alert"].to_numpy()
    period = pairs["period"].to_numpy() if "period" in pairs else np.zeros(len(alert), np.int64)
    hit = pd.DataFrame(
        {"chain": chains["chain"].to_numpy()[alert], "period": period, "alert": alert}
    )
    first = hit.drop_duplicates(["chain", "period"])["alert"].to_numpy()
    return pd.Series(chains[by].to_numpy()[first]).value_counts().astype(np.float64)


def _share(seen: pd.Series, expected: pd.Series, prior: float) -> pd.Series:
    return (seen - expected).clip(lower=0) / (seen + prior).where(seen + prior > 0, 1.0)


def _logit(p: np.ndarray, eps: float = 1e-3) -> np.ndarray:
    p = np.clip(p, eps, 1 - eps)
    return np.log(p / (1 - p))


def _credit(
    alerts: pd.DataFrame,
    chains: pd.DataFrame,
    candidates: pd.DataFrame,
    posterior: np.ndarray,
    episodes: pd.DataFrame,
    stages: StageIndex,
    journey_map: JourneyMap,
    config: AttributionConfig,
    grouped: GroupedAlerts | None = None,
) -> pd.DataFrame:
    """Credit the causes, and share it with alerts of the same failure (`share_credit`), of
    the credited alerts' incidents (`incident_members`), with their series' earlier firings
    there (`series_members`) and with the checks of their stages (`check_members`)."""
    n = len(alerts)
    need = np.where(candidates["linked"], config.min_posterior, config.min_unmapped_posterior)
    anchors = candidates[posterior >= need]
    best = np.zeros(n)
    np.maximum.at(best, candidates["alert"].to_numpy(), posterior)
    if config.share_credit == "failure":
        shared = failure_members(alerts, chains, anchors, episodes, journey_map, config)
    else:
        shared = _same_failure(alerts, chains, anchors, episodes, stages, journey_map, config)
        shared = shared[best[shared["alert"].to_numpy()] >= config.min_shared_posterior]
    credited = pd.concat([anchors[["alert", "episode"]], shared], ignore_index=True)
    credited = credited.drop_duplicates(["alert", "episode"])
    if grouped is not None and config.incident_members and len(credited):
        mates = incident_members(alerts, chains, credited, episodes, journey_map, grouped, config)
        credited = pd.concat([credited, mates], ignore_index=True)
        credited = credited.drop_duplicates(["alert", "episode"])
    if grouped is not None and config.series_members and len(credited):
        members = credited[~credited["alert"].isin(anchors["alert"])]
        earlier = series_members(alerts, members, grouped)
        credited = pd.concat([credited, earlier], ignore_index=True)
        credited = credited.drop_duplicates(["alert", "episode"])
    if grouped is not None and config.check_members and len(credited):
        checks = check_members(alerts, chains, credited, episodes, stages, grouped, config)
        credited = pd.concat([credited, checks], ignore_index=True)
        credited = credited.drop_duplicates(["alert", "episode"])
    value = episodes["lost_value"].to_numpy() if len(episodes) else np.zeros(0)
    weight = np.zeros(n)  # the costliest episode credited: regions and scales see one failure twice
    np.maximum.at(weight, credited["alert"].to_numpy(), value[credited["episode"].to_numpy()])
    label = np.bincount(credited["alert"], minlength=n) > 0
    first = credited.drop_duplicates("alert")
    ids = episodes["episode_id"].to_numpy() if len(episodes) else np.zeros(0, dtype=object)
    attributed = np.full(n, None, dtype=object)
    attributed[first["alert"].to_numpy()] = ids[first["episode"].to_numpy()]
    return pd.DataFrame(
        {
            "alert_id": alerts["alert_id"].to_numpy(),
            "label": label.astype(np.int64),
            "impact_weight": weight.astype(np.float64),
            "attributed_to": attributed,
            "causal_share": best,
        }
    )


def persisting_conditions(
    alerts: pd.DataFrame,
    chains: pd.DataFrame,
    windows: pd.DataFrame,
    episodes: pd.DataFrame,
    stages: StageIndex,
    config: AttributionConfig,
) -> pd.DataFrame:
    """The alerts of conditions (chains) active `persisting_min` or longer whose service's stages
    (those it is measured on, all regions together) lost completions over the condition's life,
    outside its service's episodes, at z `persisting_z` and `persisting_drop` of the expected:
    columns alert, chain, lost_value (of that loss).

    A slow burn on a quiet stage loses a little in each window, never enough to open an episode,
    yet it keeps its rules firing for hours. Over a condition's own life the loss is one named
    test, not a search over every stretch of time, so a modest bar keeps chance out. The windows
    of its service's episodes are left out: that loss is the ordinary attribution's to explain,
    and a long condition that merely spans a failure would otherwise be credited with it."""
    found = pd.DataFrame(
        {"alert": np.zeros(0, np.int64), "chain": np.zeros(0, np.int64), "lost_value": 0.0}
    )
    if not config.persisting_min or not len(windows) or not len(alerts):
        return found
    spans = pd.DataFrame(
        {
            "chain": chains["chain"].to_numpy(),
            "start": chains["chain_start"].to_numpy(),
            "end": chains["chain_end"].to_numpy(),
            "service": alerts["service"].astype(str).to_numpy(),
        }
    ).drop_duplicates("chain")
    spans = spans[spans["end"] - spans["start"] >= int(config.persisting_min * MINUTE_NS)]
    if spans.empty:
        return found
    grid, starts, row_of = _stage_grid(windows)
    measured = _measured_stages(stages)
    explained = _episode_windows(episodes, starts)
    first = np.clip(np.searchsorted(starts, spans["start"].to_numpy(), "right") - 1, 0, None)
    last = np.searchsorted(starts, spans["end"].to_numpy(), "right")  # windows begun by its end
    kept: dict[int, float] = {}  # chain -> the lost value of its loss
    for chain, service, lo, hi in zip(spans["chain"], spans["service"], first, last, strict=True):
        rows = [row_of[c] for c in measured.get(service, ()) if c in row_of]
        if not rows or hi <= lo:
            continue
        outside = ~explained[service][lo:hi] if service in explained else slice(None)
        total = {name: series[rows, lo:hi][:, outside].sum() for name, series in grid.items()}
        lost = total["lost"]
        if (
            total["completion_var"] > 0
            and lost >= config.persisting_z * np.sqrt(total["completion_var"])
            and lost >= config.persisting_drop * total["expected_completed"]
            and lost >= config.episodes.min_lost_completions
        ):
            kept[chain] = max(total["lost_value"], 0.0)
    members = np.flatnonzero(chains["chain"].isin(list(kept)).to_numpy())
    chain = chains["chain"].to_numpy()[members]
    value = np.array([kept[c] for c in chain], dtype=np.float64)
    return pd.DataFrame({"alert": members, "chain": chain, "lost_value": value})


def _episode_windows(episodes: pd.DataFrame, starts: np.ndarray) -> dict[str, np.ndarray]:
    """Per service, which windows (of `starts`) lie in one of its episodes (any region, any
    time scale)."""
    inside: dict[str, np.ndarray] = {}
    mapped = episodes[episodes["service"].notna()] if len(episodes) else episodes
    if not len(mapped):
        return inside
    begin = np.searchsorted(starts, to_ns(mapped["start"]), "left")
    end = np.searchsorted(starts, to_ns(mapped["end"]), "left")
    for service, a, b in zip(mapped["service"].astype(str), begin, end, strict=True):
        inside.setdefault(service, np.zeros(len(starts), dtype=bool))[a:b] = True
    return inside


def _with_persisting(credit: pd.DataFrame, persisting: pd.DataFrame) -> pd.DataFrame:
    """`credit` with the persisting conditions' alerts credited too (attributed to
    "cond-<chain>" where nothing else was; weighed by the larger loss)."""
    if persisting.empty:
        return credit
    at = persisting["alert"].to_numpy()
    label = credit["label"].to_numpy().copy()
    label[at] = 1
    weight = credit["impact_weight"].to_numpy().copy()
    np.maximum.at(weight, at, persisting["lost_value"].to_numpy())
    attributed = credit["attributed_to"].to_numpy().copy()
    unnamed = pd.isna(attributed[at])
    attributed[at[unnamed]] = [f"cond-{c:05d}" for c in persisting["chain"].to_numpy()[unnamed]]
    return credit.assign(label=label, impact_weight=weight, attributed_to=attributed)


def _same_failure(
    alerts: pd.DataFrame,
    chains: pd.DataFrame,
    anchors: pd.DataFrame,
    episodes: pd.DataFrame,
    stages: StageIndex,
    journey_map: JourneyMap,
    config: AttributionConfig,
) -> pd.DataFrame:
    """(alert, episode) pairs for the other alerts of a credited failure: alerts that began with
    an anchor's episode (from `lead_min` before its start to `onset_min` after) on the anchor's
    service ('service'), on services that call it, directly or not ('callers': a failure travels
    up the call graph), or on services it calls or that call it directly ('neighbours')."""
    empty = pd.DataFrame({"alert": pd.Series(dtype=np.int64), "episode": pd.Series(dtype=np.int64)})
    if config.share_credit == "none" or len(anchors) == 0:
        return empty
    services = alerts["service"].astype(str).to_numpy(dtype=object)
    index = ActiveAlerts(services, alerts, chains)
    if config.share_credit == "callers":
        related = {s: set(callers) for s, callers in stages.callers.items()}
    elif config.share_credit == "neighbours":
        related = _neighbours(journey_map)
    else:
        related = {}
    lead = int(config.lead_min * MINUTE_NS)
    ep_start, ep_end = to_ns(episodes["start"]), to_ns(episodes["end"])
    found, of = [], []
    for e, part in anchors.groupby("episode"):
        near: set[str] = set()
        for service in set(services[part["alert"].to_numpy()]):
            near |= {service, *related.get(service, ())}
        for service in sorted(near):
            hit = index.active(service, ep_start[e] - lead, ep_end[e])
            found.append(hit)
            of.append(np.full(len(hit), e))
    if not found:
        return empty
    pairs = pd.DataFrame({"alert": np.concatenate(found), "episode": np.concatenate(of)})
    began = chains["chain_start"].to_numpy()[pairs["alert"].to_numpy()]
    onset = ep_start[pairs["episode"].to_numpy()]
    with_it = (began >= onset - lead) & (began <= onset + int(config.onset_min * MINUTE_NS))
    return pairs[with_it].astype(np.int64)


def failure_members(
    alerts: pd.DataFrame,
    chains: pd.DataFrame,
    anchors: pd.DataFrame,
    episodes: pd.DataFrame,
    journey_map: JourneyMap,
    config: AttributionConfig,
) -> pd.DataFrame:
    """(alert, episode) pairs for the other alerts of each credited failure: alerts that fired
    during an episode credited to at least `min_failure_chains` distinct chains (from `lead_min`
    before it to `late_grace_min` after it) on a cause's service or on a service that calls it
    within `member_hops` calls, whose rule on its service fires in failures beyond chance.

    A failure trips its own rules and its callers' while it lasts — a slow burn long after its
    onset — and noise fires there too. Chance is measured as for the causes: the same failures
    moved whole days both ways; a rule on a service is a member where the share of its chains
    beyond chance reaches `min_member_share` (sparse ones borrow their rule's share), its
    anomaly_score quarter weighed in as for causes (`score_evidence`). One chain alone does not
    make a failure: a coincidence that cleared the bar shares nothing."""
    chain = chains["chain"].to_numpy()[anchors["alert"].to_numpy()]
    backing = pd.Series(chain).groupby(anchors["episode"].to_numpy()).transform("nunique")
    anchors = anchors[backing.to_numpy() >= config.min_failure_chains]
    spans = _failure_spans(alerts, anchors, episodes, journey_map, config)
    index = ActiveAlerts(alerts["service"].astype(str).to_numpy(dtype=object), alerts, chains)
    fired = to_ns(alerts["fired_at"])
    members = _alerts_in(spans, index, fired)
    if len(members) == 0:
        return members[["alert", "episode"]]
    member = _member_share(alerts, chains, spans, members, index, config)
    kept = member >= config.min_member_share
    return members.loc[kept, ["alert", "episode"]].reset_index(drop=True)


def incident_members(
    alerts: pd.DataFrame,
    chains: pd.DataFrame,
    credited: pd.DataFrame,
    episodes: pd.DataFrame,
    journey_map: JourneyMap,
    grouped: GroupedAlerts,
    config: AttributionConfig,
) -> pd.DataFrame:
    """(alert, episode) pairs for the alerts the incident grouper put in a credited alert's
    incident, fired from `lead_min` before the episode to `late_grace_min` after it: symptoms on
    services that call a credited service of the episode within `incident_hops` calls, and
    synthetic checks — where their rule on its service fires in failures beyond chance
    (`min_incident_share`, measured as in `failure_members`).

    A failure shows on its callers as errors and latency; the grouper ties those to it by their
    burst, region and cluster, and leaves out rules that fire all day. What fired on a service
    the failure does not reach, or as a strained resource there, is left out: those are most
    often noise that met the failure.

    With `root_hops`, the credit goes down the call graph first: the alerts of the incident on a
    service a credited service calls (within `root_hops` calls), fired by the episode's end, are
    the failure's root — a shared callee whose own rules met the damage too weakly to be a cause
    on their own — and the symptoms on the root's other callers follow it."""
    mates = _incident_mates(alerts, credited, episodes, grouped, config)
    services = alerts["service"].astype(str).to_numpy(dtype=object)
    a = mates["alert"].to_numpy()
    index = ActiveAlerts(services, alerts, chains)
    callers = _callers_within(journey_map, config.incident_hops)
    kept = _symptoms_above(credited, mates, services, callers, grouped) | grouped.probe[a]
    found = [_beyond_chance(alerts, chains, mates[kept], index, config)]
    if config.root_hops:
        root = _roots(alerts, credited, mates, episodes, journey_map, grouped, config)
        roots = _beyond_chance(alerts, chains, mates[root], index, config)
        follow = _symptoms_above(roots, mates, services, callers, grouped) & ~kept
        found += [roots, _beyond_chance(alerts, chains, mates[follow], index, config)]
    return pd.concat(found, ignore_index=True).drop_duplicates(ignore_index=True)


def series_members(
    alerts: pd.DataFrame, credited: pd.DataFrame, grouped: GroupedAlerts
) -> pd.DataFrame:
    """(alert, episode) pairs for the firings of a credited alert's series — its rule on its
    service — that the grouper put in the same incident and that fired before it, credited with
    its episode. A slow failure shows first as firings of the rules that later share its
    credit, before its drop is significant and so before the span in which members are looked
    for; the incident keeps the rule's firings on other days, and beside other failures, out.
    `credited` holds the members (`_credit` leaves the causes out: the earlier firings of a
    cause were candidates themselves, and the posterior has judged them)."""
    series = pd.DataFrame(
        {
            "incident": grouped.incident,
            "service": alerts["service"].astype(str).to_numpy(dtype=object),
            "rule": alerts["alert_name"].astype(str).to_numpy(dtype=object),
            "fired": to_ns(alerts["fired_at"]),
            "alert": np.arange(len(alerts)),
        }
    )
    a = credited["alert"].to_numpy()
    latest = series.iloc[a].assign(episode=credited["episode"].to_numpy())
    latest = latest.rename(columns={"fired": "until"}).drop(columns="alert")
    pairs = latest.merge(series, on=["incident", "service", "rule"])
    return pairs.loc[pairs["fired"] < pairs["until"], ["alert", "episode"]].reset_index(drop=True)


def _symptoms_above(credited, mates, services, callers, grouped) -> np.ndarray:
    """Per mate, whether it is a symptom on a service that calls (`callers`) a service credited
    with its episode."""
    on = set(zip(credited["episode"], services[credited["alert"].to_numpy()], strict=True))
    e, a = mates["episode"].to_numpy(), mates["alert"].to_numpy()
    return _on_services(e, services[a], _reached(on, callers)) & grouped.symptom[a]


def _roots(alerts, credited, mates, episodes, journey_map, grouped, config) -> np.ndarray:
    """Per mate, whether it is on a common callee (`_shared_callees`, within `root_hops`) of
    the credited services of its incident and fired by its episode's end."""
    services = alerts["service"].astype(str).to_numpy(dtype=object)
    incident, a = grouped.incident, mates["alert"].to_numpy()
    common = _shared_callees(
        incident[credited["alert"].to_numpy()],
        services[credited["alert"].to_numpy()],
        _callees_within(journey_map, config.root_hops),
        config.min_root_callers,
    )
    by_end = to_ns(alerts["fired_at"])[a] <= to_ns(episodes["end"])[mates["episode"].to_numpy()]
    return _on_services(incident[a], services[a], common) & by_end


def _incident_mates(alerts, credited, episodes, grouped, config):
    """(alert, episode, lo, hi) of the alerts in a credited alert's incident fired from
    `lead_min` before the episode to `late_grace_min` after it (`_inside_spans`)."""
    incident = grouped.incident
    pairs = pd.DataFrame(
        {"incident": incident[credited["alert"].to_numpy()], "episode": credited["episode"]}
    ).drop_duplicates()
    everyone = pd.DataFrame({"alert": np.arange(len(alerts)), "incident": incident})
    mates = pairs.merge(everyone, on="incident")[["alert", "episode"]]
    return _inside_spans(alerts, mates, episodes, config)


def _inside_spans(alerts, pairs: pd.DataFrame, episodes, config) -> pd.DataFrame:
    """The (alert, episode) `pairs` whose alert fired from `lead_min` before the episode to
    `late_grace_min` after it, with that span (lo, hi in ns)."""
    lo, hi = _episode_span(episodes, pairs["episode"].to_numpy(), config)
    fired = to_ns(alerts["fired_at"])[pairs["alert"].to_numpy()]
    inside = (fired >= lo) & (fired <= hi)
    return pairs[inside].assign(lo=lo[inside], hi=hi[inside]).reset_index(drop=True)


def _episode_span(episodes, e: np.ndarray, config) -> tuple[np.ndarray, np.ndarray]:
    """Per episode index: from `lead_min` before it to `late_grace_min` after it (ns)."""
    lo = to_ns(episodes["start"])[e] - int(config.lead_min * MINUTE_NS)
    hi = to_ns(episodes["end"])[e] + int(config.late_grace_min * MINUTE_NS)
    return lo, hi


def _reached(on: set, graph: dict[str, set[str]]) -> set:
    """(episode, service) pairs one step of `graph` (service -> services) away from `on`."""
    return {(ep, other) for ep, service in on for other in graph.get(service, ())}


def _on_services(episode: np.ndarray, service: np.ndarray, pairs: set) -> np.ndarray:
    """Per (episode, service), whether it is in `pairs`."""
    return np.array([p in pairs for p in zip(episode, service, strict=True)], dtype=bool)


def _shared_callees(incident, service, callees: dict[str, set[str]], least: int) -> set:
    """(incident, service) pairs: the services that at least `least` of the credited services
    (`service`, in `incident`) call — a common callee of several failing callers is their likely
    root; one caller's callee is as often a bystander."""
    held = set(zip(incident, service, strict=True))
    calls = pd.Series(
        [(i, callee) for i, s in held for callee in callees.get(s, ())], dtype=object
    ).value_counts()
    return set(calls.index[calls.to_numpy() >= least])


def _beyond_chance(alerts, chains, mates, index, config) -> pd.DataFrame:
    """The (alert, episode) of `mates` whose rule on its service fires in failures beyond
    chance (`min_incident_share`), met over each episode's span [lo, hi] on the mate's service."""
    mates = mates.reset_index(drop=True)
    if len(mates) == 0:
        return mates[["alert", "episode"]]
    services = alerts["service"].astype(str).to_numpy(dtype=object)
    spans = mates.assign(service=services[mates["alert"].to_numpy()])
    spans = spans.drop_duplicates(["episode", "service"])[["episode", "service", "lo", "hi"]]
    share = _member_share(alerts, chains, spans, mates, index, config)
    return mates.loc[share >= config.min_incident_share, ["alert", "episode"]].reset_index(
        drop=True
    )


def check_members(
    alerts: pd.DataFrame,
    chains: pd.DataFrame,
    credited: pd.DataFrame,
    episodes: pd.DataFrame,
    stages: StageIndex,
    grouped: GroupedAlerts,
    config: AttributionConfig,
) -> pd.DataFrame:
    """(alert, episode) pairs for the synthetic checks, in whatever incident, fired from
    `lead_min` before a credited episode to `late_grace_min` after it that probe a stage the
    episode was measured on, where their rule on its service fires in failures beyond chance
    (`min_incident_share`).

    The grouper joins a check only to a young incident (`probe_join_min`): the checks of a slow
    burn fail hours in and open incidents of their own, though the stage they name is the one
    the failure is costing."""
    probes = np.flatnonzero(grouped.probe)
    if len(probes) == 0 or len(credited) == 0:
        return credited.iloc[:0][["alert", "episode"]].reset_index(drop=True)
    stage_code = pd.Index(stages.keys()).get_indexer(grouped.checked[probes])
    checks = pd.DataFrame({"alert": probes, "stage_code": stage_code})
    measured = _measured_stages(stages)
    credited_episodes = np.unique(credited["episode"].to_numpy())
    owners = episodes["service"].to_numpy(dtype=object)[credited_episodes]
    codes = episodes["stage_code"].to_numpy()[credited_episodes]
    covered = pd.DataFrame(
        [
            (e, c)
            for e, owner, code in zip(credited_episodes, owners, codes, strict=True)
            for c in (measured.get(owner, ()) if pd.notna(owner) else (code,))
        ],
        columns=["episode", "stage_code"],
    )
    pairs = _inside_spans(alerts, covered.merge(checks, on="stage_code"), episodes, config)
    if "region" in alerts:  # a failure seen in one region fails that region's checks
        ep_region = episodes["region"].to_numpy(dtype=object)[pairs["episode"].to_numpy()]
        al_region = alerts["region"].to_numpy(dtype=object)[pairs["alert"].to_numpy()]
        pairs = pairs[pd.isna(ep_region) | (ep_region == al_region)]
    index = ActiveAlerts(alerts["service"].astype(str).to_numpy(dtype=object), alerts, chains)
    return _beyond_chance(alerts, chains, pairs, index, config)


def _measured_stages(stages: StageIndex) -> dict[str, np.ndarray]:
    """Per mapped service, the stages its degradations are measured on: those it reaches hard,
    pooled (all its stages when none is hard)."""
    out = {}
    for service, links in stages.links.groupby("service", sort=True):
        hard = links[links["kind_code"] == 0]["stage_code"]
        out[str(service)] = (hard if len(hard) else links["stage_code"]).unique()
    return out


def _member_share(alerts, chains, spans, members, index, config) -> np.ndarray:
    """Per member pair, the share of its rule-on-service's chains among `members` beyond what
    the same `spans` moved whole days both ways meet by chance (sparse keys borrow their rule's),
    its anomaly_score quarter weighed in on the odds scale (`score_evidence`)."""
    fired = to_ns(alerts["fired_at"])
    first, last = fired.min(), fired.max()
    moved, periods = [], 0.0
    for days in config.null_shift_days:
        for sign in (-1, 1):
            shift = sign * days * 1440 * MINUTE_NS
            inside = (spans["lo"] + shift >= first) & (spans["hi"] + shift <= last)
            if inside.any():
                periods += inside.mean()
                part = spans[inside].assign(lo=spans["lo"] + shift, hi=spans["hi"] + shift)
                moved.append(_alerts_in(part, index, fired).assign(period=len(moved)))
    null = pd.concat(moved, ignore_index=True) if moved else members.iloc[:0].assign(period=0)
    share = _key_share(chains, members, null, periods, config.prior_chains)
    key = chains["key"].to_numpy()[members["alert"].to_numpy()]
    member = share.reindex(key, fill_value=0.0).to_numpy()
    if config.score_evidence:  # the same two views as for causes, on the odds scale
        scale = 1.0 / periods if periods > 0 else 0.0
        by_score = _bin_share(score_bins(alerts), members, null, scale)
        overall = _share(pd.Series([len(members)]), pd.Series([len(null) * scale]), 0.0).iloc[0]
        logit = _logit(member) + _logit(by_score) - _logit(np.full(len(member), overall))
        member = 1.0 / (1.0 + np.exp(-logit))
    return member


def _failure_spans(alerts, anchors, episodes, journey_map, config) -> pd.DataFrame:
    """Per anchored episode and service to search: episode, service, lo, hi (ns)."""
    services = alerts["service"].astype(str).to_numpy(dtype=object)
    pairs = pd.DataFrame(
        {"episode": anchors["episode"].to_numpy(), "service": services[anchors["alert"]]}
    ).drop_duplicates()
    callers = _callers_within(journey_map, config.member_hops)
    near = pd.DataFrame(
        [(s, c) for s in pairs["service"].unique() for c in (s, *callers.get(s, ()))],
        columns=["service", "member"],
    )
    spans = pairs.merge(near, on="service")[["episode", "member"]].drop_duplicates()
    e = spans["episode"].to_numpy()
    lead, grace = int(config.lead_min * MINUTE_NS), int(config.late_grace_min * MINUTE_NS)
    return pd.DataFrame(
        {
            "episode": e,
            "service": spans["member"].to_numpy(),
            "lo": to_ns(episodes["start"])[e] - lead,
            "hi": to_ns(episodes["end"])[e] + grace,
        }
    )


def _alerts_in(spans: pd.DataFrame, index: ActiveAlerts, fired: np.ndarray) -> pd.DataFrame:
    """(alert, episode): alerts of each span's service fired inside it."""
    found, of = [], []
    for e, service, lo, hi in spans[["episode", "service", "lo", "hi"]].itertuples(index=False):
        hit = index.active(service, lo, hi)
        hit = hit[fired[hit] >= lo]
        found.append(hit)
        of.append(np.full(len(hit), e))
    if not found:
        return pd.DataFrame(
            {"alert": pd.Series(dtype=np.int64), "episode": pd.Series(dtype=np.int64)}
        )
    return pd.DataFrame({"alert": np.concatenate(found), "episode": np.concatenate(of)}).astype(
        np.int64
    )


def _key_share(chains, seen_pairs, null_pairs, periods: float, prior: float) -> pd.Series:
    """Per key (rule on service) seen among `seen_pairs`: the share of its chains beyond what
    `null_pairs` (moved copies, over `periods`) meet by chance; sparse keys borrow their rule's."""
    scale = 1.0 / periods if periods > 0 else 0.0
    rule_of_key = pd.Series(chains["rule"].to_numpy()).groupby(chains["key"].to_numpy()).first()
    seen = _chains_per(chains, seen_pairs, "key")
    expected = _chains_per(chains, null_pairs, "key").reindex(seen.index, fill_value=0.0) * scale
    rule = rule_of_key.reindex(seen.index).to_numpy()
    rule_share = _share(
        seen.groupby(rule).transform("sum"), expected.groupby(rule).transform("sum"), prior
    )
    return ((seen - expected) + prior * rule_share).clip(lower=0) / (seen + prior)


def _callers_within(journey_map: JourneyMap, hops: int) -> dict[str, set[str]]:
    """Each service's callers in the map's `dependencies`, up to `hops` calls away."""
    direct: dict[str, set[str]] = {}
    for caller, callees in journey_map.dependencies.items():
        for callee in callees:
            direct.setdefault(callee, set()).add(caller)
    return _within(direct, hops)


def _callees_within(journey_map: JourneyMap, hops: int) -> dict[str, set[str]]:
    """Each service's callees in the map's `dependencies`, up to `hops` calls away."""
    direct = {caller: set(callees) for caller, callees in journey_map.dependencies.items()}
    return _within(direct, hops)


def _within(direct: dict[str, set[str]], hops: int) -> dict[str, set[str]]:
    """Each service of `direct` (service -> its neighbours one way), and what it reaches in up
    to `hops` steps (itself left out)."""
    out = {}
    for service in direct:
        found, frontier = set(), {service}
        for _ in range(hops):
            frontier = {c for s in frontier for c in direct.get(s, ())} - found - {service}
            found |= frontier
        out[service] = found
    return out


def attributed_labels(
    derived: pd.DataFrame,
    data: DataDir,
    stages: StageIndex,
    baselines: Baselines,
    config: AttributionConfig,
    incidents: IncidentConfig | None = None,
) -> pd.DataFrame:
    """The training target: `derived` (window labels, in the alerts' order) with `label` and
    `impact_weight` from attribution, plus `attributed_to` and `causal_share`. Alerts whose
    window label is not known yet stay unknown; method 'window' keeps the window labels. The
    alerts' incidents are grouped over the whole history with `incidents` (hindsight is fine
    for a label)."""
    if config.method == "window":
        return derived
    grouped = None
    if config.incident_evidence or config.incident_members or config.series_members:
        grouped = grouped_alerts(data.alerts, data.journey_map, incidents, data.changes)
    credit = attribute_impact(
        data.alerts,
        data.journey_outcomes,
        stages,
        data.journey_map,
        baselines,
        int(data.window.value),
        config,
        grouped,
    )
    if not (credit["alert_id"].to_numpy() == derived["alert_id"].to_numpy()).all():
        credit = credit.set_index("alert_id").loc[derived["alert_id"]].reset_index()
    known = derived["label"].notna().to_numpy()
    label = pd.array(credit["label"].to_numpy(), dtype="Int64")
    label[~known] = pd.NA
    return derived.assign(
        label=label,
        impact_weight=np.where(known, credit["impact_weight"].to_numpy(), np.nan),
        attributed_to=credit["attributed_to"].to_numpy(),
        causal_share=credit["causal_share"].to_numpy(),
    )
