"""The journey map as arrays: stage codes, their attributes, and which stages each service reaches."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.journey_map import JourneyMap, trace_dependencies

KIND_CODES = {"hard": 0, "soft": 1}


@dataclass(frozen=True)
class StageIndex:
    """Stages in funnel order (journey by journey) with their attributes, addressable by code."""

    table: pd.DataFrame  # journey, stage, position, n_stages, impact, value, owner, funnel_position
    links: pd.DataFrame  # service, stage_code, kind_code, hops — sorted by service
    dependencies: dict[str, tuple[str, ...]]  # service -> services it calls, transitively
    callers: dict[str, tuple[str, ...]]  # service -> services that call it, transitively
    version: str

    @classmethod
    def from_map(cls, journey_map: JourneyMap) -> StageIndex:
        table = journey_map.stage_table()
        table["funnel_position"] = table["position"] / (table["n_stages"] - 1).clip(lower=1)
        code = {
            (j, s): i for i, (j, s) in enumerate(zip(table["journey"], table["stage"], strict=True))
        }
        raw = journey_map.service_stage_links()
        links = (
            pd.DataFrame(
                {
                    "service": raw["service"].astype(str),
                    "stage_code": [
                        code[(j, s)] for j, s in zip(raw["journey"], raw["stage"], strict=True)
                    ],
                    "kind_code": raw["kind"].map(KIND_CODES).astype(np.int64),
                    "hops": raw["hops"].astype(np.int64),
                }
            )
            .sort_values(["service", "stage_code"], kind="stable")
            .reset_index(drop=True)
        )
        dependencies = _reach(journey_map.dependencies)
        callers: dict[str, list[str]] = {}
        for caller, callees in dependencies.items():
            for callee in callees:
                callers.setdefault(callee, []).append(caller)
        return cls(
            table,
            links,
            dependencies,
            {k: tuple(sorted(v)) for k, v in callers.items()},
            str(journey_map.version),
        )

    @property
    def n_stages(self) -> int:
        return len(self.table)

    def code_of(self, journeys: pd.Series, stages: pd.Series) -> np.ndarray:
        """Stage codes for (journey, stage) columns; -1 where the map lacks the pair."""
        keys = pd.MultiIndex.from_frame(self.table[["journey", "stage"]])
        return keys.get_indexer(
            pd.MultiIndex.from_arrays([journeys.astype(str), stages.astype(str)])
        )

    def keys(self) -> pd.Series:
        """Each stage as "journey/stage" text, in code order (how checks and incidents name it)."""
        return self.table["journey"].astype(str) + "/" + self.table["stage"].astype(str)

    def pairs(self, services: pd.Series) -> pd.DataFrame:
        """One row per (alert row, linked stage): row, stage_code, kind_code, hops — by row, then stage."""
        linked = pd.Index(self.links["service"].unique())
        first = self.links["service"].searchsorted(linked, side="left")
        count = self.links["service"].searchsorted(linked, side="right") - first
        found, distinct = pd.factorize(services, use_na_sentinel=False)  # look each service up once
        code = linked.get_indexer(np.asarray(distinct, dtype=object))[found]
        per_row = np.where(code >= 0, count[code], 0)
        rows = np.repeat(np.arange(len(code)), per_row)
        within = np.arange(per_row.sum()) - np.repeat(np.cumsum(per_row) - per_row, per_row)
        at = np.repeat(np.where(code >= 0, first[code], 0), per_row) + within
        return pd.DataFrame(
            {
                "row": rows,
                "stage_code": self.links["stage_code"].to_numpy()[at],
                "kind_code": self.links["kind_code"].to_numpy()[at],
                "hops": self.links["hops"].to_numpy()[at],
            }
        )


def _reach(dependencies: dict[str, list[str]]) -> dict[str, tuple[str, ...]]:
    services = set(dependencies) | {c for callees in dependencies.values() for c in callees}
    return {
        s: tuple(sorted(name for name in trace_dependencies(s, dependencies) if name != s))
        for s in sorted(services)
    }
