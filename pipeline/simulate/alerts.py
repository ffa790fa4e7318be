"""Alert firings: those real incidents cause (on the failing service, its callers, probes) and noise."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

import numpy as np
import pandas as pd

from .clock import MINUTE_NS, Clock
from .effects import callers_within, stage_exposure
from .rules import Detector, Rule, anomaly_severity
from .world import IncidentKind, World

FIRING_COLUMNS = ["rule_id", "fired_ns", "resolved_ns", "host", "region", "score", "incident_id"]
CALLER_CHANCE = {1: 0.55, 2: 0.25}
SYNTHETIC_THRESHOLD = 0.15  # a probe fails once a stage loses this share of completions
REFIRE_AFTER_MIN = 45
COINCIDENT_SIGNALS = ("saturation", "latency", "anomaly", "other")  # what extra load trips
COINCIDENT_STAGE_DROP = 0.05  # stages that lost this share of completions draw bystander alerts


def simulate_noise(
    world: World,
    rules: list[Rule],
    clock: Clock,
    hosts: int,
    noise: float,
    detector: Detector,
    rng,
) -> pd.DataFrame:
    """False and flapping firings of every rule, shaped by load or nightly batch windows."""
    minutes = clock.minutes()
    utc_hour = (minutes / 60.0) % 24.0
    shapes = {
        "flat": np.ones_like(minutes),
        "load": world.diurnal(utc_hour),
        "nightly": 0.2 + 3.0 * np.exp(-0.5 * ((utc_hour - 2.5) / 1.2) ** 2),
    }
    cumulative = {k: np.cumsum(v / v.sum()) for k, v in shapes.items()}
    days = clock.n_windows * clock.window_min / 1440.0
    parts = []
    for rule in rules:
        per_host = 1 if rule.check else hosts
        expected = rule.noise_per_day * noise * per_host * days
        burst = rng.geometric(1 / 3.0, size=rng.poisson(expected / 3.0)) if rule.flapping else None
        n_seed = len(burst) if rule.flapping else rng.poisson(expected)
        if n_seed == 0:
            continue
        windows = np.searchsorted(cumulative[rule.template.pattern], rng.random(n_seed))
        fired = (
            clock.start_ns
            + windows.astype(np.int64) * clock.window_ns
            + rng.integers(0, clock.window_ns, n_seed)
        )
        host = rng.integers(0, per_host, n_seed)
        if rule.flapping:
            fired, host = _bursts(fired, host, burst, rng)
        n = len(fired)
        hold = np.exp(rng.normal(np.log(4 if rule.flapping else 22), 0.7, n)) * MINUTE_NS
        parts.append(
            pd.DataFrame(
                {
                    "rule_id": rule.rule_id,
                    "fired_ns": fired,
                    "resolved_ns": fired + hold.astype(np.int64),
                    "host": host,
                    "region": rng.integers(0, len(world.regions), n),
                    "score": rng.beta(*detector.noise_score, n),
                    "incident_id": None,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _bursts(fired, host, sizes, rng):
    """A flapping rule fires, clears and fires again a few minutes apart."""
    reps = np.repeat(np.arange(len(fired)), sizes)
    step = np.concatenate([np.r_[0, rng.uniform(3, 12, s - 1)].cumsum() for s in sizes])
    return fired[reps] + (step * MINUTE_NS).astype(np.int64), host[reps]


def simulate_incident_alerts(
    world: World,
    rules: list[Rule],
    incidents: pd.DataFrame,
    peak_stage_damage: np.ndarray,
    hosts: int,
    detector: Detector,
    rng,
) -> pd.DataFrame:
    """Each incident's alerts: own rules, callers' rules, the anomaly detector and stage probes."""
    by_service: dict[str, list[Rule]] = {}
    for rule in rules:
        by_service.setdefault(rule.service, []).append(rule)
    probe_of_stage = {r.check: r for r in rules if r.check}
    stage_names = [f"{j}/{s.name}" for j, s in world.flat_stages()]
    exposure = stage_exposure(world)
    rows: list[tuple] = []
    fire = partial(_maybe_fire, rows, kinds=world.incidents.kinds, detector=detector, rng=rng)
    for i, inc in enumerate(incidents.itertuples(index=False)):
        size = _sensitivity(inc.raw_degradation)
        region = _region_index(world, inc.region, rng)
        for rule in by_service.get(inc.service, []):
            if not rule.check:
                fire(rule, inc, rule.template.detects.get(inc.kind, 0) * size, 0, region, hosts)
        for caller, distance in callers_within(world, inc.service, 2).items():
            for rule in by_service.get(caller, []):
                if rule.template.signal in ("errors", "latency", "anomaly") and not rule.check:
                    chance = rule.template.detects.get(inc.kind, 0) * size * CALLER_CHANCE[distance]
                    fire(rule, inc, chance, distance, region, hosts)
        for k in np.flatnonzero(peak_stage_damage[i] >= SYNTHETIC_THRESHOLD):
            if exposure[inc.service][k] > 0:
                fire(probe_of_stage[stage_names[k]], inc, 0.85, 0, region, 1)
    return pd.DataFrame(rows, columns=FIRING_COLUMNS)


def simulate_coincident_noise(
    world: World,
    rules: list[Rule],
    incidents: pd.DataFrame,
    peak_stage_damage: np.ndarray,
    hosts: int,
    detector: Detector,
    rng,
) -> pd.DataFrame:
    """Unrelated alerts on the other services of the stages an incident degrades, while it lasts.

    Retries and rerouted load trip saturation and latency rules on services the failure never
    touched; they are noise (no incident) that fires exactly when the stage's outcomes drop.
    """
    chance = world.monitoring.coincident_chance
    if chance <= 0:
        return pd.DataFrame(columns=FIRING_COLUMNS)
    noisy: dict[str, list[Rule]] = {}
    for rule in rules:
        if not rule.check and rule.template.signal in COINCIDENT_SIGNALS:
            noisy.setdefault(rule.service, []).append(rule)
    stages = [stage for _, stage in world.flat_stages()]
    rows: list[tuple] = []
    for i, inc in enumerate(incidents.itertuples(index=False)):
        related = {inc.service, *callers_within(world, inc.service, 2)}
        hurt = np.flatnonzero(peak_stage_damage[i] >= COINCIDENT_STAGE_DROP)
        bystanders = sorted({s for k in hurt for s in stages[k].services} - related)
        for service in bystanders:
            if service not in noisy or rng.random() >= chance:
                continue
            rule = noisy[service][int(rng.integers(len(noisy[service])))]
            fired = int(rng.uniform(inc.start_ns, max(inc.end_ns, inc.start_ns + MINUTE_NS)))
            hold = int(np.exp(rng.normal(np.log(15), 0.6)) * MINUTE_NS)
            region = _region_index(world, inc.region, rng)
            score = rng.beta(*detector.noise_score)
            rows.append(
                (rule.rule_id, fired, fired + hold, int(rng.integers(hosts)), region, score, None)
            )
    return pd.DataFrame(rows, columns=FIRING_COLUMNS)


def _region_index(world: World, region, rng) -> int:
    """The region an incident hit, or any region for one that hit them all."""
    if isinstance(region, str):
        return list(world.regions).index(region)
    return int(rng.integers(len(world.regions)))


def _sensitivity(raw_degradation: float) -> float:
    """Small failures trip fewer rules; detection saturates for big ones."""
    return float(np.clip((raw_degradation / 0.08) ** 0.5, 0.15, 1.0))


def _maybe_fire(
    rows,
    rule: Rule,
    inc,
    chance: float,
    distance: int,
    region: int,
    hosts: int,
    *,
    kinds: Mapping[str, IncidentKind],
    detector: Detector,
    rng,
) -> None:
    if rng.random() >= chance:
        return
    lag = np.exp(rng.normal(np.log(rule.template.lag_min), 0.6)) + 3.0 * distance * rng.uniform(
        0.5, 1.5
    )
    if kinds[inc.kind].ramps:
        lag = lag * 4 + rng.uniform(0, 0.5) * (inc.end_ns - inc.start_ns) / MINUTE_NS
    fired = inc.start_ns + int(lag * MINUTE_NS)
    if fired > inc.end_ns and rng.random() < 0.7:
        return  # the failure cleared before the rule's `for:` elapsed
    host = int(rng.integers(hosts))
    score = rng.beta(*detector.incident_score)
    while True:
        resolved = max(
            fired + MINUTE_NS, inc.end_ns + int(np.exp(rng.normal(np.log(4), 0.5)) * MINUTE_NS)
        )
        refire = fired + int(np.exp(rng.normal(np.log(REFIRE_AFTER_MIN), 0.3)) * MINUTE_NS)
        flaps = refire < inc.end_ns - 5 * MINUTE_NS
        rows.append(
            (
                rule.rule_id,
                fired,
                refire - 2 * MINUTE_NS if flaps else resolved,
                host,
                region,
                score,
                inc.incident_id,
            )
        )
        if not flaps:
            return
        fired = refire


def firings_to_alerts(
    world: World, firings: pd.DataFrame, rules: list[Rule], clock: Clock, id_tag: str = ""
) -> tuple[pd.DataFrame, pd.Series]:
    """The alerts table of the contract, in time order with stable ids, plus the incident each came from."""
    firings = firings[
        (firings["fired_ns"] >= clock.start_ns) & (firings["fired_ns"] < clock.end_ns)
    ]
    firings = firings.sort_values(["fired_ns", "rule_id", "host"], kind="stable").reset_index(
        drop=True
    )
    attrs = (
        pd.DataFrame([_rule_attrs(r) for r in rules]).set_index("rule_id").loc[firings["rule_id"]]
    )
    attrs = attrs.reset_index(drop=True)
    is_anomaly = (attrs["source"] == "aiops").to_numpy()
    score = firings["score"].to_numpy()
    severity = np.where(is_anomaly, anomaly_severity(score), attrs["severity"].to_numpy())
    region = np.array(list(world.regions))[firings["region"].to_numpy()]
    host = firings["host"].astype(str)
    check = np.where(attrs["check"] != "", ', "check": "' + attrs["check"] + '"', "")
    labels = (
        '{"team": "'
        + attrs["team"]
        + '", "instance": "'
        + attrs["service"]
        + "-"
        + host
        + '", "env": "prod", "cluster": "k8s-'
        + region
        + '"'
        + check
        + "}"
    )
    resolved = pd.to_datetime(firings["resolved_ns"], utc=True)
    alerts = pd.DataFrame(
        {
            "alert_id": f"alrt-{id_tag}"
            + pd.Series(np.arange(1, len(firings) + 1)).astype(str).str.zfill(7),
            "fired_at": pd.to_datetime(firings["fired_ns"], utc=True),
            "resolved_at": resolved.where(firings["resolved_ns"] < clock.end_ns),
            "source": attrs["source"],
            "service": attrs["service"],
            "alert_name": attrs["alert_name"],
            "severity": severity,
            "signal": attrs["signal"],
            "anomaly_score": np.where(is_anomaly, np.round(score, 4), np.nan),
            "region": region,
            "labels": labels,
        }
    )
    return alerts, firings["incident_id"]


def _rule_attrs(rule: Rule) -> dict:
    return {
        "rule_id": rule.rule_id,
        "service": rule.service,
        "alert_name": rule.template.alert_name,
        "signal": rule.template.signal,
        "source": rule.source,
        "severity": rule.severity,
        "team": rule.team,
        "check": rule.check,
    }
