"""What really happened to users: each incident's lost completions, and which alerts deserved a page."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .effects import HARD_PATH_EXPOSURE, Effects, peak_stage_drop, stage_exposure
from .traffic import Funnel
from .world import World

MATERIAL_LOST_COMPLETIONS = 10.0  # at least this many users failed to go on ...
MATERIAL_STAGE_DROP = 0.05  # ... and some stage lost at least this share of its completions
LATE_GRACE_MIN = 10  # an alert that fires this long after users recovered no longer signals impact


def incident_damage(
    world: World, incidents: pd.DataFrame, effects: Effects, funnel: Funnel
) -> pd.DataFrame:
    """Per incident: lost completions (expected, from the unharmed rate), their value, peak stage drop."""
    values = np.array([stage.value for _, stage in world.flat_stages()])
    weights = np.array([segment.weight for segment in world.segments.values()])
    lost = np.zeros(len(incidents))
    lost_value = np.zeros(len(incidents))
    for i, d, w0, w1 in effects.per_incident:
        # sessions × unharmed rate × this incident's share of damage: stage × segment × region × window
        expected_lost = (
            funnel.sessions[:, :, :, w0:w1] * funnel.healthy_rate[:, :, :, w0:w1] * d[:, None, :, :]
        )
        lost[i] = expected_lost.sum()
        lost_value[i] = (expected_lost.sum(axis=(2, 3)) * values[:, None] * weights[None, :]).sum()
    peak = peak_stage_drop(effects, len(incidents)).max(axis=1)
    damage = pd.DataFrame({"lost_completions": lost, "lost_value": lost_value, "peak_drop": peak})
    damage["material"] = (damage["lost_completions"] >= MATERIAL_LOST_COMPLETIONS) & (
        damage["peak_drop"] >= MATERIAL_STAGE_DROP
    )
    return pd.concat([incidents.reset_index(drop=True), damage], axis=1)


def alert_truth(
    alerts: pd.DataFrame, incident_of_alert: pd.Series, incidents: pd.DataFrame
) -> pd.DataFrame:
    """truth.parquet (read only by evaluation): per alert its incident, the value and completions
    that incident cost users (0 for noise), and whether the alert signalled material impact."""
    by_id = incidents.set_index("incident_id")
    incident_id = incident_of_alert.reset_index(drop=True)
    known = incident_id.notna().to_numpy()
    lost_value = np.zeros(len(alerts))
    lost_completions = np.zeros(len(alerts))
    impact = np.zeros(len(alerts), dtype=np.int64)
    if known.any():
        rows = by_id.loc[incident_id[known]]
        fired_ns = alerts["fired_at"].astype("int64").to_numpy()[known]
        in_time = fired_ns <= rows["end_ns"].to_numpy() + LATE_GRACE_MIN * 60 * 10**9
        lost_value[known] = np.round(rows["lost_value"].to_numpy(), 3)
        lost_completions[known] = np.round(rows["lost_completions"].to_numpy(), 3)
        impact[known] = (rows["material"].to_numpy() & in_time).astype(np.int64)
    return pd.DataFrame(
        {
            "alert_id": alerts["alert_id"].to_numpy(),
            "incident_id": incident_id.astype("str").where(known, None),
            "true_lost_value": lost_value,
            "true_impact": impact,
            "true_lost_completions": lost_completions,
        }
    )


def coincident_noise(world: World, alerts: pd.DataFrame, incidents: pd.DataFrame) -> pd.DataFrame:
    """Noise alerts (no incident) on the other services of the stages a material incident hurts
    on hard paths, fired while it lasted: what labels by coincidence wrongly credit.

    `alerts` carry their truth (incident_id); `incidents` are truth_incidents.parquet's rows.
    """
    exposure = stage_exposure(world)
    stages = [stage for _, stage in world.flat_stages()]
    noise = alerts.loc[alerts["incident_id"].isna()]
    during = np.zeros(len(noise), dtype=bool)
    for inc in incidents.loc[incidents["material"]].itertuples():
        hurt = np.flatnonzero(exposure[inc.service] >= HARD_PATH_EXPOSURE)
        others = {s for k in hurt for s in stages[k].services} - {inc.service}
        during |= (
            noise["fired_at"].between(inc.start, inc.end) & noise["service"].isin(others)
        ).to_numpy()
    return noise.loc[during]
