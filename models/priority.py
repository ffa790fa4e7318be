"""An alert's priority: probability × users at risk × stage impact, and what an unmapped alert stands for.

README.md, "Concepts in a page". The priority orders the queue and sets the tier; the model's
calibrated probability carries the evidence, the rest says how much is at stake if it is right.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

UNMAPPED_IMPACT = 0.1  # the floor of a stage's impact score in the priority


def users_at_risk(features: pd.DataFrame) -> np.ndarray:
    """Sessions the mapped stages expect over the next half hour, or twice the last 15 min if busier."""
    expected = features["expected_sessions_30m"].to_numpy(float)
    live = 2.0 * features["sessions_at_risk_15m"].to_numpy(float)
    return np.nan_to_num(np.fmax(expected, live))


@dataclass(frozen=True)
class UnmappedStand:
    """What an alert the map does not reach stands for in the priority: a typical mapped alert.

    The map is written by people and misses services. Reading its silence as "no users at risk"
    ranked a likely failure on a forgotten service below doubtful alerts on mapped stages: on the
    worst simulated world a forgotten service held 17% of the lost value and the queue paged
    almost none of it. The model reads `mapped` and every journey's health, so the probability
    already says whether an unmapped alert hurts; at the same probability it now ranks as a
    mapped alert with the median users at risk and stage impact of the training days would.
    The defaults are the rule before (no users, the impact floor): a model saved without a
    fitted stand ranks as it did when it was trained.
    """

    users_at_risk: float = 0.0
    stage_impact: float = UNMAPPED_IMPACT

    @classmethod
    def fit(cls, features: pd.DataFrame) -> UnmappedStand:
        """The medians over the mapped alerts of `features` (the defaults when there are none)."""
        impact = features["stage_impact_max"].to_numpy(float)
        mapped = ~np.isnan(impact)
        if not mapped.any():
            return cls()
        return cls(
            users_at_risk=float(np.median(users_at_risk(features)[mapped])),
            stage_impact=float(np.median(np.maximum(impact[mapped], UNMAPPED_IMPACT))),
        )

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def priority_score(
    probability: np.ndarray, features: pd.DataFrame, unmapped: UnmappedStand = UnmappedStand()
) -> np.ndarray:
    """The ordering score: probability × users at risk × stage impact.

    Users at risk enter on a log scale (a stage with 10x the traffic is not 10x as urgent at the
    same probability: most of its users are not hit) and stage impact as the map's customer
    impact score. The worth of one completion at the alert's own stages is left out on purpose:
    a failure's cost lands wherever the call graph carries it (and where the map is wrong), so
    across worlds it ranked a sure failure on a cheap stage below a doubtful one on a dear stage.
    An alert the map does not reach (no stage impact) stands for `unmapped` (UnmappedStand).
    """
    impact = features["stage_impact_max"].to_numpy(float)
    outside = np.isnan(impact)
    users = np.where(outside, unmapped.users_at_risk, users_at_risk(features))
    impact = np.where(outside, unmapped.stage_impact, np.maximum(impact, UNMAPPED_IMPACT))
    return np.asarray(probability, dtype=np.float64) * np.log(2.0 + users) * impact
