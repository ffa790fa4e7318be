"""The simulated worlds side by side: size, noise, density, weekends and planted map errors of each.

Each world is simulated for 35 days (seed 1) at the default scale, as the quality benchmark
trains on 28 days and scores 7. Ratios are against the shop, the world the project grew up on.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import pandas as pd
from sklearn.metrics import average_precision_score

from features.values import SEVERITIES
from pipeline.simulate import WORLDS, SimulationConfig, simulate
from pipeline.simulate.truth import coincident_noise
from pipeline.simulate.worlds import DEFAULT_WORLD

DAYS, SEED = 35, 1
SHARE, DECIMAL = "{:.1%}", "{:,.2f}"
FORMATS = {  # rows not named here are counts
    "simulate s": "{:.1f}",
    "true-impact rate": SHARE,
    "noise share": SHARE,
    "critical share": SHARE,
    "severity PR-AUC/base": DECIMAL,
    "densest stage /window": DECIMAL,
    "sparsest stage /window": DECIMAL,
    "stage density ratio": "{:,.0f}",
    "weekend/weekday min": DECIMAL,
}


def main() -> None:
    with tempfile.TemporaryDirectory() as root:
        figures = {name: _figures(name, Path(root) / name) for name in WORLDS}
    rows = [row for row in figures[DEFAULT_WORLD] if row != "planted"]
    width = max(len(r) for r in rows) + 2
    print("".join([f"{'':<{width}}", *(f"{name:>14}" for name in figures)]))
    for row in rows:
        cells = [FORMATS.get(row, "{:,}").format(figures[name][row]) for name in figures]
        print("".join([f"{row:<{width}}", *(f"{c:>14}" for c in cells)]))
    base = figures[DEFAULT_WORLD]
    print(f"\nratios to {DEFAULT_WORLD}:")
    for row in ("alerts", "material incidents", "outcome rows", "stage density ratio"):
        ratios = "  ".join(f"{name} ×{figures[name][row] / base[row]:.2f}" for name in figures)
        print(f"  {row:<22} {ratios}")
    for name in figures:
        planted = figures[name]["planted"]
        print(f"\n{name} planted map errors: {json.dumps(planted)}")


def _figures(world: str, out: Path) -> dict:
    started = time.perf_counter()
    simulate(SimulationConfig(out=out, days=DAYS, seed=SEED, world=world))
    seconds = time.perf_counter() - started
    alerts = pd.read_parquet(out / "alerts.parquet").merge(pd.read_parquet(out / "truth.parquet"))
    incidents = pd.read_parquet(out / "truth_incidents.parquet")
    outcomes = pd.read_parquet(out / "journey_outcomes.parquet")
    manifest = json.loads((out / "simulation.json").read_text())
    planted = json.loads((out / "map_truth.json").read_text())
    per_window = outcomes.groupby("stage")["sessions"].sum() / (
        DAYS * 1440 / manifest["window_min"]
    )
    rank = alerts["severity"].map({s: len(SEVERITIES) - i for i, s in enumerate(SEVERITIES)})
    impact = alerts["true_impact"]
    return {
        "window min": manifest["window_min"],
        "simulate s": seconds,
        "alerts": len(alerts),
        "true-impact rate": impact.mean(),
        "noise share": alerts["incident_id"].isna().mean(),
        "critical share": (alerts["severity"] == "critical").mean(),
        "severity PR-AUC/base": average_precision_score(impact, rank) / impact.mean(),
        "incidents": len(incidents),
        "material incidents": int(incidents["material"].sum()),
        "coincident noise": len(coincident_noise(WORLDS[world], alerts, incidents)),
        "outcome rows": len(outcomes),
        "densest stage /window": per_window.max(),
        "sparsest stage /window": per_window.min(),
        "stage density ratio": per_window.max() / per_window.min(),
        "weekend/weekday min": _weekend_ratio(outcomes),
        "planted": planted,
    }


def _weekend_ratio(outcomes: pd.DataFrame) -> float:
    """A weekend day's sessions over a weekday's, for the segment whose weekends are quietest."""
    weekend = outcomes["window_start"].dt.day_of_week >= 5
    per_segment = outcomes.groupby([outcomes["segment"], weekend])["sessions"].sum().unstack()
    return float((per_segment[True] / 2 / (per_segment[False] / 5)).min())


if __name__ == "__main__":
    main()
