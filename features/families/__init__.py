"""Feature families: each module defines its features once (catalogue entries plus one compute function)."""

from __future__ import annotations

from features.families import (
    alert,
    alert_history,
    change,
    concurrency,
    incident,
    journey,
    journey_health,
    live_state,
)

FAMILIES = {
    "The alert": alert,
    "The journey it maps to": journey,
    "Live journey state before fired_at": live_state,
    "Journey health anywhere before fired_at": journey_health,
    "Alert history": alert_history,
    "Concurrency": concurrency,
    "Changes": change,
    "The incident so far": incident,
}
