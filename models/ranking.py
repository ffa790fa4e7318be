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
from features.recipe import Recipe
from features.spec import FeatureSpec
from features.stages import StageIndex
from features.table import primary_stage
from features.timeaxis import hour_of_week, to_ns
from models.calibration import ScoreCalibrator
from models.priority import UnmappedStand, priority_score
from models.reasons import reasons_for
from models.tiers import ROUTES, TierThresholds
from models.tree_shap import TreeTables

REMEMBERED_SERVICES = 10_000  # per-service answers kept between requests (stage, playbook)
_UNKNOWN = object()
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


def flag_list(text: str | None) -> list[str]:
    """An answer's flags as a list: its `flags` column holds them joined by commas (none: empty)."""
    return [flag for flag in (text or "").split(",") if flag]


def ranker_rows(alerts: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """What the ranker takes: each alert's identity columns beside its features (same row order)."""
    rows = features.reset_index(drop=True)
    for name in [c for c in META_INPUTS if c not in features.columns]:
        rows[name] = alerts[name].reset_index(drop=True)
    return rows


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
    profile: dict = field(
        default_factory=dict
    )  # the reference for drift audits (models/profile.py)
    unmapped: UnmappedStand = field(
        default_factory=UnmappedStand
    )  # what an alert the map does not reach stands for in the priority

    @cached_property
    def stages(self) -> StageIndex:
        return StageIndex.from_map(self.journey_map)

    @cached_property
    def recipe(self) -> Recipe:
        """The features' recipe with what the model was trained with: map, baselines, window, config."""
        return Recipe.of(
            self.journey_map, self.baselines, self.spec.config, self.spec.window_ns, self.stages
        )

    def raw_scores(self, features: pd.DataFrame) -> np.ndarray:
        return self.booster.predict(self.spec.model_inputs(features), raw_score=True)

    def probabilities(self, features: pd.DataFrame) -> np.ndarray:
        return self.calibrator.predict(self.raw_scores(features))

    def contributions(self, features: pd.DataFrame) -> np.ndarray:
        """Per-feature contributions to the raw score (TreeSHAP), without the bias column."""
        return self.explain(features)[:, :-1]

    def score(self, features: pd.DataFrame, raw: np.ndarray | None = None) -> pd.DataFrame:
        """impact_probability, priority and tier per row, in input order (no explanations: fast)."""
        probability = self.calibrator.predict(self.raw_scores(features) if raw is None else raw)
        priority = priority_score(probability, features, self.unmapped)
        return pd.DataFrame(
            {
                "impact_probability": probability,
                "priority": priority,
                "tier": self.thresholds.tier(priority),
            },
            index=features.index,
        )

    def rank(
        self, rows: pd.DataFrame, model_version: str = "", *, plain_text: bool = False
    ) -> pd.DataFrame:
        """The answer for each alert (rows: META_INPUTS + features), highest priority first.

        plain_text: text columns as Python objects rather than inferred Arrow text, the same
        values (the service takes its answers apart row by row: Arrow text costs it twice).
        """
        rows = rows.reset_index(drop=True)
        # one TreeSHAP pass gives both: the raw score is the contributions plus the bias
        explained = self.explain(rows)
        contributions = explained[:, :-1]
        probability = self.calibrator.predict(explained.sum(axis=1))
        priority = priority_score(probability, rows, self.unmapped)
        tier = self.thresholds.tier(priority).astype(object)
        journey, stage = self._primary_stages(rows["service"])
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
        columns = {
            "alert_id": rows["alert_id"].astype(str).to_numpy(),
            "impact_probability": probability,
            "priority": priority,
            "tier": tier,
            "route": [ROUTES[t] for t in tier],
            "journey": journey,
            "stage": stage,
            "segment_at_risk": self._segment_at_risk(journey, stage, rows),
            "reasons": [json.dumps(r) for r in reasons],
            "playbook": [
                self._playbook(j, s, sig) if j else None
                for j, s, sig in zip(
                    journey, stage, rows.get("signal", [None] * len(rows)), strict=True
                )
            ],
            "escalation": [self._escalation(t) for t in tier],
            "model_version": str(model_version),
            "journey_map_version": str(self.journey_map.version),
            "flags": [",".join(f) for f in self._flags(rows)],
        }
        order = _highest_first(priority)
        taken = {
            name: np.asarray(values, dtype=object)[order]
            if isinstance(values, list)
            else (values[order] if isinstance(values, np.ndarray) else values)
            for name, values in columns.items()
        }
        if plain_text:
            taken = {name: _as_objects(values, len(order)) for name, values in taken.items()}
        return pd.DataFrame(taken)

    def explain(self, rows: pd.DataFrame) -> np.ndarray:
        """TreeSHAP contributions of every feature, and the bias last (rows × (features + 1)).

        LightGBM's `pred_contrib`, worked out from tables of the booster's leaves (TreeTables: the
        same values to ~1e-15, faster: benchmarks/explain.py); LightGBM's own when the tables do
        not cover the booster or the inputs do not line up with its categories."""
        matrix = self.model_matrix(rows)
        if matrix is None:
            return self.booster.predict(self.spec.model_inputs(rows), pred_contrib=True)
        if self.tree_tables is None:
            return self.booster.predict(matrix, pred_contrib=True)
        return self.tree_tables.explain(matrix)

    @cached_property
    def tree_tables(self) -> TreeTables | None:
        """The booster's TreeSHAP tables (~0.2 s to work out, once), None where they do not apply."""
        return TreeTables.of(self.booster)

    def warm(self) -> Ranker:
        """Work out now what the first explanation would otherwise wait for: the TreeSHAP tables."""
        _ = self.tree_tables
        return self

    def model_matrix(self, rows: pd.DataFrame) -> np.ndarray | None:
        """What the booster makes of `spec.model_inputs(rows)`, built without the frame in between.

        LightGBM turns the inputs' categoricals into their codes among the categories it was
        trained with (missing and unseen values: NaN) and everything into one float64 matrix;
        None when the booster's categories do not line up with the spec's (the frame path then).
        """
        codes = self._category_codes
        if codes is None:
            return None
        matrix = np.empty((len(rows), len(self.spec.features)), dtype=np.float64)
        numbers = []  # (place, name) of the numeric features in float64 columns: taken at once
        dtypes = rows.dtypes  # a Series built per call: once, not once per feature
        for j, name in enumerate(self.spec.features):
            if name not in rows:
                matrix[:, j] = np.nan
            elif name in codes:
                lookup = codes[name]
                matrix[:, j] = [lookup.get(v, np.nan) for v in rows[name].to_numpy(dtype=object)]
            elif dtypes[name] == np.float64:
                numbers.append((j, name))
            else:
                matrix[:, j] = pd.to_numeric(rows[name], errors="coerce").to_numpy(np.float64)
        if numbers:
            places, names = zip(*numbers, strict=True)
            matrix[:, list(places)] = rows[list(names)].to_numpy(dtype=np.float64)
        return matrix

    @cached_property
    def _category_codes(self) -> dict[str, dict[str, float]] | None:
        """Per categorical feature: each category the spec knows -> its code in the booster's order."""
        trained = self.booster.pandas_categorical
        names = [f for f in self.spec.features if f in self.spec.categorical]
        if trained is None or len(trained) != len(names):
            return None
        codes = {}
        for name, categories in zip(names, trained, strict=True):
            known = set(self.spec.categorical[name])  # model_inputs leaves out any other value
            codes[name] = {c: float(code) for code, c in enumerate(categories) if c in known}
        return codes

    def _primary_stages(self, services: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """primary_stage of each service, worked out once per service and remembered."""
        remembered = self._primary_stage_of
        values = services.to_numpy(dtype=object).tolist()
        known = {s: remembered.get(s) for s in dict.fromkeys(values)}
        new = [s for s, found in known.items() if found is None]
        if new:
            journeys, stages = primary_stage(pd.Series(new, dtype=object), self.stages)
            found = dict(zip(new, zip(journeys, stages, strict=True), strict=True))
            known.update(found)
            if len(remembered) + len(found) > REMEMBERED_SERVICES:
                remembered.clear()  # requests can name any service: keep the memory bounded
            remembered.update(found)
        journey, stage = np.empty(len(values), dtype=object), np.empty(len(values), dtype=object)
        for i, service in enumerate(values):
            journey[i], stage[i] = known[service]
        return journey, stage

    @cached_property
    def _primary_stage_of(self) -> dict[str, tuple[str | None, str | None]]:
        return {}

    def _playbook(self, journey: str, stage: str, signal) -> str | None:
        # playbook_for looks a signal up among the stage's (string) keys: anything else is no signal
        key = (journey, stage, signal if isinstance(signal, str) else None)
        playbooks = self._playbooks
        found = playbooks.get(key, _UNKNOWN)
        if found is _UNKNOWN:
            if len(playbooks) > REMEMBERED_SERVICES:
                playbooks.clear()
            found = playbooks[key] = self.journey_map.playbook_for(*key)
        return found

    @cached_property
    def _playbooks(self) -> dict[tuple, str | None]:
        return {}

    def _escalation(self, tier: str) -> str | None:
        escalations = self._escalations
        if tier not in escalations:
            escalations[tier] = self.journey_map.escalation_for(tier)  # tiers: four at most
        return escalations[tier]

    @cached_property
    def _escalations(self) -> dict[str, str | None]:
        return {}

    def _stage_codes(self, journey: np.ndarray, stage: np.ndarray) -> np.ndarray:
        """StageIndex.code_of for the (journey, stage) of each answer; -1 where unmapped."""
        codes = self._code_of_stage
        return np.array(
            [codes.get((_text(j), _text(s)), -1) for j, s in zip(journey, stage, strict=True)],
            dtype=np.int64,
        )

    @cached_property
    def _code_of_stage(self) -> dict[tuple[str, str], int]:
        table = self.stages.table
        return {
            (str(j), str(s)): code
            for code, (j, s) in enumerate(zip(table["journey"], table["stage"], strict=True))
        }

    @cached_property
    def _segment_baselines(self):
        """The baselines in stage-code order, and the weight of each of their segments."""
        baselines = self.baselines.aligned(self.stages, self.baselines.segments)
        weights = np.array([self.journey_map.segment_weight(s) for s in baselines.segments])
        return baselines, weights

    def _segment_at_risk(self, journey, stage, rows: pd.DataFrame) -> list[str | None]:
        """The segment whose normal traffic at this stage and hour is worth the most."""
        baselines, weights = self._segment_baselines
        if not baselines.segments:
            return [None] * len(rows)
        codes = self._stage_codes(journey, stage)
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
        known_rules = self._known_rules
        names = rows["alert_name"].tolist() if known_rules else [None] * len(rows)
        flags = []
        for i, name in enumerate(names):
            f = []
            if not mapped[i]:
                f.append("unmapped_service")
            elif not live[i]:
                f.append("no_live_journey_data")
            if known_rules and name not in known_rules:
                f.append("new_rule")
            flags.append(f)
        return flags

    @cached_property
    def _known_rules(self) -> set[str]:
        return set(self.spec.categorical.get("alert_name", ()))


def _as_objects(values, rows: int):
    """A column with the values pandas would hold, text as Python objects rather than Arrow text.

    Numbers stay numbers; a text column's missing values read as NaN, as they do from the text
    dtype pandas infers (a column with no text at all keeps them as they are, as pandas does).
    """
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
        return values
    if not isinstance(values, np.ndarray):
        values = np.full(rows, values, dtype=object)
    missing = pd.isna(values)
    if missing.any() and pd.api.types.infer_dtype(values, skipna=True) == "string":
        values = values.copy()
        values[missing] = np.nan
    return pd.Series(values, dtype=object, copy=False)


def _text(value) -> str:
    """A value as code_of compares it: missing as "", anything else as its str."""
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def _highest_first(priority: np.ndarray) -> np.ndarray:
    """The row order of sort_values(ascending=False, kind="stable"): ties keep their order, NaN last."""
    priority = np.asarray(priority, dtype=np.float64)
    missing = np.isnan(priority)
    rows = np.arange(len(priority))
    values, where = priority[~missing][::-1], rows[~missing][::-1]
    return np.concatenate([where[values.argsort(kind="stable")][::-1], rows[missing]])
