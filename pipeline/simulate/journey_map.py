"""The journey map the shop's teams wrote: close to the truth, but never complete."""

from __future__ import annotations

from .world import ESCALATION, PLAYBOOKS, SEGMENTS, World


def journey_map_document(world: World) -> dict:
    """The journey_map.yaml content, as plain data in a stable order."""
    unmapped = world.unmapped_services
    journeys: dict[str, dict] = {}
    for journey in world.journeys:
        stages = []
        for stage in journey.stages:
            services = {s: k for s, k in stage.services.items() if s not in unmapped}
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
        caller: [c for c in callees if c not in unmapped]
        for caller, callees in world.dependencies.items()
        if caller not in unmapped
    }
    return {
        "version": world.map_version,
        "segments": {name: spec["weight"] for name, spec in SEGMENTS.items()},
        "journeys": journeys,
        "dependencies": {k: v for k, v in dependencies.items() if v},
        "escalation": dict(ESCALATION),
    }
