"""The map check: its time on > 1M alerts beside loading them, and what it finds in every world
against the errors planted there.

Time: on `simulate --scale large --days 30` (> 1M alerts, 1-minute outcomes), loading the data
directory (the floor every job pays), the degradation episodes the check reuses, and the whole
check (episodes included), each the best of `REPEATS` runs. Goal: the check <= 30 s.

Quality: each world of the simulator for `WORLD_DAYS` days, the check's findings beside
map_truth.json: the rank of the planted missing services among the suggestions and whether a
true stage came with them, whether each planted false dependency is doubted, whether each
migration is told as a rename, and false suggestions per 10 services (goal: first suggestion
planted with a true stage, every false dependency doubted, <= 1 false suggestion per 10).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

REPEATS = 2
CHECK_SECONDS_GOAL = 30.0
WORLD_DAYS = 60
# the simulator's default start plus 60 days runs past today, and loaders refuse future rows
WORLD_START = datetime(2026, 6, 1, tzinfo=UTC)  # a Monday, as every simulated start


def main(data_dir: Path | None = None) -> None:
    from benchmarks.features import DATA_DIR, ensure_data

    timing(ensure_data(data_dir or DATA_DIR))
    quality()


def _best_of(run):
    from benchmarks.features import best_of

    return best_of(run, REPEATS)


def timing(data_dir: Path) -> None:
    from features.baselines import fit_baselines
    from features.episodes import EpisodeConfig, find_episodes, window_losses
    from features.loading import load_data_dir
    from features.map_evidence import MapCheckConfig
    from features.stages import StageIndex
    from pipeline.map_check import compute_map_check

    load_s, data = _best_of(lambda: load_data_dir(data_dir))
    stages, step = StageIndex.from_map(data.journey_map), int(data.window.value)

    def episodes():
        baselines = fit_baselines(data.journey_outcomes, stages, step, EpisodeConfig().baselines)
        windows = window_losses(data.journey_outcomes, stages, baselines, data.journey_map, step)
        return find_episodes(windows)

    episodes_s, found_episodes = _best_of(episodes)
    check_s, check = _best_of(lambda: compute_map_check(data, MapCheckConfig()))
    assert len(check.episodes) == len(found_episodes)  # the check's episodes are these
    print(
        f"data: {data_dir} ({len(data.alerts):,} alerts, {len(data.journey_outcomes):,} outcome "
        f"rows, {len(found_episodes):,} episodes)"
    )
    rows = [
        ("load the data directory (floor)", load_s),
        ("degradation episodes (reused)", episodes_s),
        ("map check (episodes included)", check_s),
    ]
    print(f"{'step':<34}{'seconds':>9}{'× load':>9}")
    for name, seconds in rows:
        print(f"{name:<34}{seconds:>9.1f}{seconds / load_s:>9.2f}")
    verdict = "met" if check_s <= CHECK_SECONDS_GOAL else "MISSED"
    print(f"goal: map check <= {CHECK_SECONDS_GOAL:.0f} s: {verdict} ({check_s:.1f} s)")


def quality() -> None:
    from features.loading import load_data_dir
    from features.map_evidence import MapCheckConfig
    from pipeline.map_check import compute_map_check
    from pipeline.simulate import SimulationConfig, simulate
    from pipeline.simulate.worlds import WORLDS

    print(f"\nworlds, {WORLD_DAYS} days each: found against planted (map_truth.json)")
    with tempfile.TemporaryDirectory(prefix="bench-map-check-") as scratch:
        for name in sorted(WORLDS):
            out = Path(scratch) / name
            simulate(SimulationConfig(out=out, days=WORLD_DAYS, world=name, start=WORLD_START))
            data = load_data_dir(out)
            truth = json.loads((out / "map_truth.json").read_text())
            found = compute_map_check(data, MapCheckConfig()).found
            for line in compare(name, found, truth, data.alerts["service"].nunique()):
                print(line)


def compare(world: str, found, truth: dict, services: int) -> list[str]:
    """Lines of found against planted for one world."""
    suggested = found.unmapped[found.unmapped["suggested"]].reset_index(drop=True)
    order = list(suggested["service"])
    lines = [f"[{world}] {services} services; suggestions: {', '.join(order) or 'none'}"]
    for planted in truth["missing_services"]:
        service = planted["service"]
        true = {(s["journey"], s["stage"]): s["link"] for s in planted["stages"]}
        if service not in order:
            lines.append(f"  missing {service}: not suggested (true stages {sorted(true)})")
            continue
        links = suggested.loc[order.index(service), "stages"]
        shown = ", ".join(_against_truth(s, true) for s in links)
        lines.append(f"  missing {service}: suggestion #{order.index(service) + 1}: {shown}")
    doubted = set(zip(found.doubtful["service"], found.doubtful["target"], strict=True))
    for edge in truth["false_dependencies"]:
        pair = (edge["service"], edge["callee"])
        told = "doubted" if pair in doubted else "NOT doubted"
        lines.append(f"  false dependency {pair[0]} → {pair[1]}: {told}")
    renamed = dict(zip(found.renamed["service"], found.renamed["replaces"], strict=True))
    for move in truth["migrations"]:
        told = move["old"] in renamed.get(move["new"], [])
        lines.append(f"  migration {move['old']} → {move['new']}: {'told' if told else 'not told'}")
    planted = {m["service"] for m in truth["missing_services"]} | {
        m["new"] for m in truth["migrations"]
    }
    false = sorted((set(order) | set(renamed)) - planted)
    other_doubts = len(doubted) - len(
        {(e["service"], e["callee"]) for e in truth["false_dependencies"]} & doubted
    )
    lines.append(
        f"  false suggestions: {len(false)} ({', '.join(false) or 'none'}) = "
        f"{10 * len(false) / services:.1f} per 10 services; other doubtful links: {other_doubts}"
    )
    return lines


def _against_truth(link: dict, true: dict) -> str:
    stage = (link["journey"], link["stage"])
    text = f"{link['journey']}/{link['stage']} {link['link']}"
    if stage not in true:
        return text + " ✗"
    return text + (" ✓" if true[stage] == link["link"] else f" ✓ (true {true[stage]})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="a large data directory (default bench-data/)")
    main(parser.parse_args().data)
