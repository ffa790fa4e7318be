"""Deploys, config pushes, feature flags and experiments: the changes teams make during the week."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .clock import MINUTE_NS, Clock
from .world import World

# kind -> (changes per weekday per service, chance the change starts an incident)
CHANGE_KINDS: dict[str, tuple[float, float]] = {
    "deploy": (0.9, 0.05),
    "config": (0.3, 0.07),
    "feature_flag": (0.25, 0.04),
    "experiment": (0.05, 0.03),
}
DESCRIPTIONS = {
    "deploy": "release {n} of {service}",
    "config": "config push to {service}",
    "feature_flag": "flag rollout on {service}",
    "experiment": "A/B experiment started on {service}",
}


def simulate_changes(
    world: World, clock: Clock, rng: np.random.Generator, id_tag: str = ""
) -> pd.DataFrame:
    """Changes in business hours on weekdays (UTC team hours), a few out of hours, in time order."""
    rows = []
    days = clock.n_windows * clock.window_min // (24 * 60)
    first_weekday = clock.start_weekday()
    for service in world.all_services():
        busy = 0.4 if service in world.off_path_services else 1.0
        for kind, (rate, bad_chance) in CHANGE_KINDS.items():
            for day in range(days):
                weekend = ((first_weekday + day) % 7) >= 5
                n = rng.poisson(rate * busy * (0.1 if weekend else 1.0))
                minute = np.where(
                    rng.random(n) < 0.9, rng.uniform(8 * 60, 18 * 60, n), rng.uniform(0, 24 * 60, n)
                )
                for m, bad in zip(minute, rng.random(n) < bad_chance, strict=True):
                    rows.append(
                        (service, kind, clock.start_ns + int((day * 1440 + m) * MINUTE_NS), bad)
                    )
    changes = pd.DataFrame(rows, columns=["service", "kind", "ts_ns", "starts_incident"])
    changes = changes.sort_values(["ts_ns", "service", "kind"], kind="stable").reset_index(
        drop=True
    )
    changes["change_id"] = [f"chg-{id_tag}{i:06d}" for i in range(1, len(changes) + 1)]
    per_service = changes.groupby("service").cumcount() + 1
    changes["description"] = [
        DESCRIPTIONS[k].format(n=n, service=s)
        for k, n, s in zip(changes["kind"], per_service, changes["service"], strict=True)
    ]
    return changes
