"""The ranker: features in, ranked answers out — probability, priority, tier, route, stage, reasons, playbook."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.baselines import Baselines
from features.journey_map import JourneyMap
from features.spec import FeatureSpec
from features.stages import StageIndex
from features.table import primary_stage
from features.timeaxis import hour_of_week, to_ns
from models.calibration import ScoreCalibrator
from models.reasons import reasons_for
from models.tiers import ROUTES, TierThresholds

UNMAPPED_IMPACT = (
    0.1  # an unmapped alert still ranks, by probability, but below mapped ones at equal risk
)
ANSWER_COLUMNS = (
    "alert_id",
    "impact_probability",
    "priority",
    "tier",
    "route",
    "journey",
    "stage",
    "segment_at_risk",
    "reasons",
    "playbook",
    "escalation",
    "model_version",
    "journey_map_version",
    "flags",
)
META_INPUTS = ("alert_id", "service", "signal", "severity", "alert_name", "fired_at")


def ranker_rows(alerts: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """What the ranker takes: each alert's identity columns beside its features (same row order)."""
    meta = alerts.reset_index(drop=True)[[c for c in META_INPUTS if c not in features.columns]]
    return pd.concat([features.reset_index(drop=True), meta], axis=1)


def users_at_risk(features: pd.DataFrame) -> np.ndarray:
    """Sessions the mapped stages expect over the next half hour, or twice the last 15 min if busier."""
    expected = features["expected_sessions_30m"].to_numpy(float)
    live = 2.0 * features["sessions_at_risk_15m"].to_numpy(float)
    return np.nan_to_num(np.fmax(expected, live))


def priority_score(probability: np.ndarray, features: pd.DataFrame) -> np.ndarray:
    """The ordering score: probability × users at risk × stage impact (DESIGN.md, "The ranker").

    Users at risk enter on a log scale (a stage with 10x the traffic is not 10x as urgent at the
    same probability: most of its users are not hit) and stage impact as the map's customer
    impact score × the worth of one completion, the same worth the impact weight counts in.
    """
    impact = np.nan_to_num(features["stage_impact_max"].to_numpy(float), nan=UNMAPPED_IMPACT)
    value = np.nan_to_num(features["stage_value_max"].to_numpy(float), nan=1.0)
    return (
        probability
        * np.log(2.0 + users_at_risk(features))
        * np.maximum(impact, UNMAPPED_IMPACT)
        * value
    )


@dataclass
class Ranker:
    """Everything needed to rank, fitted at training time and carried as one model."""

    booster: lgb.Booster
    calibrator: ScoreCalibrator
    spec: FeatureSpec
    baselines: Baselines
    thresholds: TierThresholds
    journey_map: JourneyMap
    info: dict = field(
        default_factory=dict
    )  # trained period, label config, metrics: for the model card

    @cached_property
    def stages(self) -> StageIndex:
        return StageIndex.from_map(self.journey_map)

    def raw_scores(self, features: pd.DataFrame) -> np.ndarray:
        return self.booster.predict(self.spec.model_inputs(features), raw_score=True)

    def probabilities(self, features: pd.DataFrame) -> np.ndarray:
        return self.calibrator.predict(self.raw_scores(features))

    def contributions(self, features: pd.DataFrame) -> np.ndarray:
        """Per-feature contributions to the raw score (TreeSHAP), without the bias column."""
        return self.booster.predict(self.spec.model_inputs(features), pred_contrib=True)[:, :-1]

    def score(self, features: pd.DataFrame, raw: np.ndarray | None = None) -> pd.DataFrame:
        """impact_probability, priority and tier per row, in input order (no explanations: fast)."""
        probability = self.calibrator.predict(self.raw_scores(features) if raw is None else raw)
        priority = priority_score(probability, features)
        return pd.DataFrame(
            {
                "impact_probability": probability,
                "priority": priority,
                "tier": self.thresholds.tier(priority),
            },
            index=features.index,
        )

    def rank(self, rows: pd.DataFrame, model_version: str = "") -> pd.DataFrame:
        """The answer for each alert (rows: META_INPUTS + features), highest priority first."""
        rows = rows.reset_index(drop=True)
        # one TreeSHAP pass gives both: the raw score is the contributions plus the bias
        explained = self.booster.predict(self.spec.model_inputs(rows), pred_contrib=True)
        contributions = explained[:, :-1]
        scored = self.score(rows, raw=explained.sum(axis=1))
        journey, stage = primary_stage(rows["service"], self.stages)
        tier = scored["tier"].to_numpy()
        context = [
            {
                "stage": s or "its stages",
                "service": svc,
                "severity": sev,
                "alert_name": name,
                "change_kind": kind,
            }
            for s, svc, sev, name, kind in zip(
                stage,
                rows["service"],
                rows.get("severity", [""] * len(rows)),
                rows.get("alert_name", [""] * len(rows)),
                rows["change_kind"],
                strict=True,
            )
        ]
        reasons = reasons_for(contributions, rows, list(self.spec.features), context)
        answers = pd.DataFrame(
            {
                "alert_id": rows["alert_id"].astype(str).to_numpy(),
                "impact_probability": scored["impact_probability"].to_numpy(),
                "priority": scored["priority"].to_numpy(),
                "tier": tier,
                "route": [ROUTES[t] for t in tier],
                "journey": journey,
                "stage": stage,
                "segment_at_risk": self._segment_at_risk(journey, stage, rows),
                "reasons": [json.dumps(r) for r in reasons],
                "playbook": [
                    self.journey_map.playbook_for(j, s, sig) if j else None
                    for j, s, sig in zip(
                        journey, stage, rows.get("signal", [None] * len(rows)), strict=True
                    )
                ],
                "escalation": [self.journey_map.escalation_for(t) for t in tier],
                "model_version": str(model_version),
                "journey_map_version": str(self.journey_map.version),
                "flags": [",".join(f) for f in self._flags(rows)],
            }
        )
        return answers.sort_values("priority", ascending=False, kind="stable").reset_index(
            drop=True
        )

    def _segment_at_risk(self, journey, stage, rows: pd.DataFrame) -> list[str | None]:
        """The segment whose normal traffic at this stage and hour is worth the most."""
        baselines = self.baselines.aligned(self.stages, self.baselines.segments)
        if not baselines.segments:
            return [None] * len(rows)
        weights = np.array([self.journey_map.segment_weight(s) for s in baselines.segments])
        codes = self.stages.code_of(
            pd.Series(journey, dtype=object).fillna(""), pd.Series(stage, dtype=object).fillna("")
        )
        how = (
            hour_of_week(to_ns(rows["fired_at"]))
            if "fired_at" in rows
            else np.zeros(len(rows), np.int64)
        )
        worth = np.nan_to_num(baselines.sessions[np.maximum(codes, 0), :, how]) * weights
        best = np.array(baselines.segments, dtype=object)[worth.argmax(axis=1)]
        return [b if c >= 0 else None for b, c in zip(best, codes, strict=True)]

    def _flags(self, rows: pd.DataFrame) -> list[list[str]]:
        mapped = rows["mapped"].to_numpy(float) > 0
        live = rows["live_windows_15m"].to_numpy(float) > 0
        known_rules = set(self.spec.categorical.get("alert_name", ()))
        flags = []
        for i in range(len(rows)):
            f = []
            if not mapped[i]:
                f.append("unmapped_service")
            elif not live[i]:
                f.append("no_live_journey_data")
            if known_rules and rows["alert_name"].iloc[i] not in known_rules:
                f.append("new_rule")
            flags.append(f)
        return flags
