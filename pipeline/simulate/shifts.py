"""Shifts: realistic changes to one simulated period, for drift audits to catch and name.

Each shift is a few small functions at the simulator's seams — the world (what the shop is and
what its map says), the rules (what its teams alert on) and the anomaly detector — and every
number a shift uses is a constant here. Rule changes draw from their own stream, keyed on the
seed and the shift's name, so a shift is the same change in whichever period it is applied to.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from .rules import SEVERITY_LEVELS, Detector, Rule, service_rules
from .world import JourneyDef, World

# traffic_mix: a sign-up campaign brings new users while premium users drift away.
SEGMENT_MIX = {"new": 2.5, "returning": 1.0, "premium": 0.5}  # on each journey's segment shares
TRAFFIC_VOLUME = 1.4  # on every journey's daily sessions, after the shares are renormalised

# new_service: pricing starts calling a new promotions service on every quote.
NEW_SERVICE = "promotions"
NEW_SERVICE_CALLEES = {"db-primary": "hard", "cache": "soft"}
NEW_SERVICE_CALLERS = {"pricing": "hard"}  # cart (soft), checkout (hard), renewal offer (soft)
NEW_SERVICE_TEAM = "promotions"
NEW_SERVICE_TEAM_BIAS = 1  # a new team pages on everything: severities one level up
NEW_SERVICE_SOURCE = "datadog"
NEW_SERVICE_INCIDENT_FACTOR = 3.0  # new code breaks three times as often

# retuned_rules: teams revisit their alert rules (the detector's and the probes' are not theirs).
RETUNE_UP_SHARE = 0.45  # rules whose severity goes up a level (critical stays critical)
RETUNE_DOWN_SHARE = 0.10  # ... and down a level
LOUDER_FLAPPING_SHARE = 0.5  # flapping rules whose threshold was tightened ...
LOUDER_FLAPPING_FACTOR = 4.0  # ... flap four times as much
QUIETED_FLAPPING_FACTOR = 0.25  # the others get hysteresis: a quarter of the noise, no flapping
RETUNED_NOISE_SIGMA = 0.5  # every other rule's noise rate × lognormal(0, 0.5)

# map_change: checkout v2 — prices are held from the cart, recommendations move to the order
# confirmation page, and email verification leaves the sign-up funnel. The map follows.
CHANGED_MAP_VERSION = "2026-11-16"
REMOVED_STAGES = {("signup", "verify_email")}
STAGE_SERVICES = {  # (journey, stage) -> the stage's services after the change
    ("browse", "landing"): {"web-frontend": "hard", "cdn": "hard"},
    ("purchase", "checkout"): {"checkout-api": "hard", "pricing": "soft", "tax-service": "hard"},
    ("purchase", "confirmation"): {
        "order-service": "hard",
        "email-sender": "soft",
        "recommendations": "soft",
    },
}

# degraded_detector: the AIOps detector's model goes stale.
DEGRADED_INCIDENT_SCORE = (2.2, 3.0)  # beta, mean 0.42: like its false positives' (2.0, 3.2)
DETECTOR_FALSE_POSITIVE_FACTOR = 3.0  # on every anomaly rule's noise rate

RuleShift = Callable[[list[Rule], World, np.random.Generator], list[Rule]]


def _same_world(world: World) -> World:
    return world


def _same_rules(rules: list[Rule], world: World, rng: np.random.Generator) -> list[Rule]:
    return rules


def _same_detector(detector: Detector) -> Detector:
    return detector


@dataclass(frozen=True)
class Shift:
    """One shift: a line saying what it does (simulation.json records it) and its seams."""

    summary: str
    world: Callable[[World], World] = _same_world
    rules: RuleShift = _same_rules
    detector: Callable[[Detector], Detector] = _same_detector


# ---------------------------------------------------------------- traffic_mix


def _remix_traffic(world: World) -> World:
    return replace(world, journeys=tuple(_remix(journey) for journey in world.journeys))


def _remix(journey: JourneyDef) -> JourneyDef:
    weighted = {g: share * SEGMENT_MIX.get(g, 1.0) for g, share in journey.segment_shares.items()}
    total = sum(weighted.values())
    return replace(
        journey,
        daily_sessions=journey.daily_sessions * TRAFFIC_VOLUME,
        segment_shares={g: w / total for g, w in weighted.items()},
    )


# ---------------------------------------------------------------- new_service


def _wire_new_service(world: World) -> World:
    dependencies = {caller: dict(callees) for caller, callees in world.dependencies.items()}
    dependencies[NEW_SERVICE] = dict(NEW_SERVICE_CALLEES)
    for caller, kind in NEW_SERVICE_CALLERS.items():
        dependencies[caller] = {**dependencies.get(caller, {}), NEW_SERVICE: kind}
    return replace(
        world,
        dependencies=dependencies,
        unmapped_services=(*world.unmapped_services, NEW_SERVICE),  # nobody told the map's authors
        incident_factor={**world.incident_factor, NEW_SERVICE: NEW_SERVICE_INCIDENT_FACTOR},
    )


def _add_new_service_rules(rules: list[Rule], world: World, rng: np.random.Generator) -> list[Rule]:
    first_id = max(rule.rule_id for rule in rules) + 1
    return rules + service_rules(
        world,
        NEW_SERVICE,
        NEW_SERVICE_TEAM,
        NEW_SERVICE_TEAM_BIAS,
        NEW_SERVICE_SOURCE,
        rng,
        first_id,
    )


# ---------------------------------------------------------------- retuned_rules


def _retune_rules(rules: list[Rule], world: World, rng: np.random.Generator) -> list[Rule]:
    return [rule if rule.source == "aiops" or rule.check else _retune(rule, rng) for rule in rules]


def _retune(rule: Rule, rng: np.random.Generator) -> Rule:
    up, down = RETUNE_UP_SHARE, RETUNE_DOWN_SHARE
    step = int(rng.choice([1, -1, 0], p=[up, down, 1.0 - up - down]))
    level = int(np.clip(SEVERITY_LEVELS.index(rule.severity) + step, 0, len(SEVERITY_LEVELS) - 1))
    flapping = rule.flapping and bool(rng.random() < LOUDER_FLAPPING_SHARE)
    if rule.flapping:
        factor = LOUDER_FLAPPING_FACTOR if flapping else QUIETED_FLAPPING_FACTOR
    else:
        factor = float(np.exp(rng.normal(0.0, RETUNED_NOISE_SIGMA)))
    return replace(
        rule,
        severity=SEVERITY_LEVELS[level],
        noise_per_day=rule.noise_per_day * factor,
        flapping=flapping,
    )


# ---------------------------------------------------------------- map_change


def _change_the_map(world: World) -> World:
    journeys = tuple(
        replace(
            journey,
            stages=tuple(
                replace(stage, services=dict(STAGE_SERVICES.get(key, stage.services)))
                for stage in journey.stages
                if (key := (journey.name, stage.name)) not in REMOVED_STAGES
            ),
        )
        for journey in world.journeys
    )
    return replace(world, journeys=journeys, map_version=CHANGED_MAP_VERSION)


def _retire_probes_of_gone_stages(
    rules: list[Rule], world: World, rng: np.random.Generator
) -> list[Rule]:
    stages = {f"{journey}/{stage.name}" for journey, stage in world.flat_stages()}
    return [rule for rule in rules if not rule.check or rule.check in stages]


# ---------------------------------------------------------------- degraded_detector


def _noisier_detector_rules(
    rules: list[Rule], world: World, rng: np.random.Generator
) -> list[Rule]:
    return [
        replace(rule, noise_per_day=rule.noise_per_day * DETECTOR_FALSE_POSITIVE_FACTOR)
        if rule.source == "aiops"
        else rule
        for rule in rules
    ]


def _degrade_detector(detector: Detector) -> Detector:
    return replace(detector, incident_score=DEGRADED_INCIDENT_SCORE)


# ---------------------------------------------------------------- the registry, in the order applied


def _mix_summary() -> str:
    segments = ", ".join(f"{g} ×{f:g}" for g, f in SEGMENT_MIX.items())
    return (
        f"segment shares {segments} (renormalised per journey), then sessions ×{TRAFFIC_VOLUME:g}"
    )


SHIFTS: dict[str, Shift] = {
    "traffic_mix": Shift(_mix_summary(), world=_remix_traffic),
    "new_service": Shift(
        f"{NEW_SERVICE!r} starts serving {', '.join(NEW_SERVICE_CALLERS)} with its own rules "
        f"(team {NEW_SERVICE_TEAM!r}, source {NEW_SERVICE_SOURCE!r}) and "
        f"×{NEW_SERVICE_INCIDENT_FACTOR:g} the usual incident rate; the journey map leaves it out",
        world=_wire_new_service,
        rules=_add_new_service_rules,
    ),
    "retuned_rules": Shift(
        f"teams' rules: {RETUNE_UP_SHARE:.0%} a severity level up, {RETUNE_DOWN_SHARE:.0%} down; "
        f"{LOUDER_FLAPPING_SHARE:.0%} of flapping rules ×{LOUDER_FLAPPING_FACTOR:g} noise, the others "
        f"×{QUIETED_FLAPPING_FACTOR:g} and steady; other noise rates × lognormal(0, {RETUNED_NOISE_SIGMA:g})",
        rules=_retune_rules,
    ),
    "map_change": Shift(
        f"journey map {CHANGED_MAP_VERSION}, after the shop changed: signup/verify_email removed; "
        "recommendations moved from browse/landing to purchase/confirmation; pricing soft at "
        "purchase/checkout",
        world=_change_the_map,
        rules=_retire_probes_of_gone_stages,
    ),
    "degraded_detector": Shift(
        f"anomaly scores on incidents ~ beta{DEGRADED_INCIDENT_SCORE} (like its false positives); "
        f"anomaly rules' false positives ×{DETECTOR_FALSE_POSITIVE_FACTOR:g}",
        rules=_noisier_detector_rules,
        detector=_degrade_detector,
    ),
}


def shift_world(world: World, names: tuple[str, ...]) -> World:
    for name in names:
        world = SHIFTS[name].world(world)
    return world


def shift_rules(rules: list[Rule], world: World, names: tuple[str, ...], seed: int) -> list[Rule]:
    for name in names:
        rules = SHIFTS[name].rules(rules, world, _shift_rng(seed, name))
    return rules


def shift_detector(detector: Detector, names: tuple[str, ...]) -> Detector:
    for name in names:
        detector = SHIFTS[name].detector(detector)
    return detector


def _shift_rng(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])
