"""The journey map the shop's teams wrote: close to the truth, but never complete."""

from __future__ import annotations

from .effects import flat_stages
from .world import DEPENDENCIES, ESCALATION, JOURNEYS, PLAYBOOKS, SEGMENTS, UNMAPPED_SERVICES

MAP_VERSION = "2026-10-01"


def journey_map_document() -> dict:
    """The journey_map.yaml content, as plain data in a stable order."""
    journeys: dict[str, dict] = {}
    for journey in JOURNEYS:
        stages = []
        for stage in journey.stages:
            services = {s: k for s, k in stage.services.items() if s not in UNMAPPED_SERVICES}
            named = ", ".join(services)
            stages.append(
                {
                    "name": stage.name,
                    "impact": stage.impact,
                    "value": stage.value,
                    "owner": stage.owner,
                    "services": services,
                    "playbooks": {
                        signal: text.format(
                            services=named,
                            stage=stage.name,
                            owner=stage.owner,
                            journey=journey.name,
                        )
                        for signal, text in PLAYBOOKS.items()
                    },
                }
            )
        journeys[journey.name] = {"stages": stages}
    dependencies = {
        caller: [c for c in callees if c not in UNMAPPED_SERVICES]
        for caller, callees in DEPENDENCIES.items()
        if caller not in UNMAPPED_SERVICES
    }
    return {
        "version": MAP_VERSION,
        "segments": {name: spec["weight"] for name, spec in SEGMENTS.items()},
        "journeys": journeys,
        "dependencies": {k: v for k, v in dependencies.items() if v},
        "escalation": dict(ESCALATION),
    }


def n_stages() -> int:
    return len(flat_stages())
