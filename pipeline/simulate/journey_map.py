"""The journey map the teams wrote, close to the truth but wrong in planted ways, and what was planted."""

from __future__ import annotations

from .effects import HARD_PATH_EXPOSURE, stage_exposure
from .world import World


def journey_map_document(world: World) -> dict:
    """The journey_map.yaml content, as plain data in a stable order.

    The map leaves out the unmapped services, still names migrated services by their old name,
    and lists the false dependencies as if the callers made those calls.
    """
    unmapped = world.unmapped_services
    as_written = {new: old for old, new in world.migrations}
    journeys: dict[str, dict] = {}
    for journey in world.journeys:
        stages = []
        for stage in journey.stages:
            services = {
                as_written.get(s, s): k for s, k in stage.services.items() if s not in unmapped
            }
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
                        for signal, text in world.playbooks.items()
                    },
                }
            )
        journeys[journey.name] = {"stages": stages}
    dependencies = {
        as_written.get(caller, caller): [as_written.get(c, c) for c in callees if c not in unmapped]
        for caller, callees in world.dependencies.items()
        if caller not in unmapped
    }
    for caller, callee in world.false_dependencies:
        dependencies.setdefault(caller, []).append(callee)
    return {
        "version": world.map_version,
        "segments": {name: segment.weight for name, segment in world.segments.items()},
        "journeys": journeys,
        "dependencies": {k: v for k, v in dependencies.items() if v},
        "escalation": dict(world.escalation),
    }


def map_truth(world: World) -> dict:
    """map_truth.json: the errors planted in the map, for map-check tests and benchmarks only.

    A missing service's stages are every stage whose users feel its failures, directly or
    through the call graph; the link is hard when the stage feels most of a failure.
    """
    exposure = stage_exposure(world)
    stages = world.flat_stages()
    return {
        "missing_services": [
            {
                "service": service,
                "stages": [
                    {
                        "journey": journey,
                        "stage": stage.name,
                        "link": "hard" if exposure[service][k] >= HARD_PATH_EXPOSURE else "soft",
                    }
                    for k, (journey, stage) in enumerate(stages)
                    if exposure[service][k] > 0
                ],
            }
            for service in world.unmapped_services
        ],
        "false_dependencies": [
            {"service": caller, "callee": callee} for caller, callee in world.false_dependencies
        ],
        "migrations": [{"old": old, "new": new} for old, new in world.migrations],
    }
