"""Ranking quality across a family of worlds (`make bench-quality`): the worst world is the figure that counts.

For each world of `journeyrank simulate --world` and each seed: simulate TOTAL_DAYS, cut the data
directory at TRAIN_DAYS, train on the first part exactly as `journeyrank train` does (its own
MLflow home, so each run's gate starts fresh), then score every alert of the following days as if
live with `journeyrank score`'s function (point-in-time features, context from the whole
directory). The scores are compared with the simulator's truth, which nothing but this
evaluation reads:

- labels: the training labels `journeyrank features` derived on the training days against the
  true impact — precision, recall, impact-weighted recall;
- orderings: the model's (the queue's order: each alert by its incident's priority as it stood
  when the alert joined; and "model (own)", each alert by its own priority), severity,
  criticality_rule, journey_weight, "perfect probability" (the queue's order with the truth in
  place of the model's probability: what the priority lets a model reach) and the oracle —
  PR-AUC, ROC-AUC, impact-weighted recall at a 10% page budget, per alert and counting each true
  incident once (`models.truth_metrics`);
- ratios model/severity, model/criticality_rule, model/oracle, and per world the worst seed;
  then the worst world;
- incidents: the scored alerts grouped as `journeyrank score` groups them (features/incidents.py)
  against the true incidents — pairwise precision / recall / F1 (noise alerts are singletons),
  compression (1 − incidents / alerts) beside the truth's own, and pages per true incident when
  an incident pages once against when every P1/P2 alert pages (`models.truth_metrics`), and
  what paging once costs when the incidents are the true ones (the paging policy's own floor).

`python -m benchmarks.quality [--worlds a,b] [--seeds 1,2,3] [--days N --train-days M]
[--config train.yaml] [--labels window] [--labels-only] [--plot PNG]`: `--config` judges a
training config (a model change) on every world, as `journeyrank train --config` reads it;
`--labels-only` derives the training labels and judges only them (no training, no scoring), to
weigh a label change. Either way the run ends with each goal judged on every run, printed and
drawn (`--plot`, default GOAL_BOARD; benchmarks/_quality_plot.py).
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks._quality_plot import write_goal_board
from features.loading import DataDir, find_table, load_data_dir
from features.settings import settings_at
from models.config import TrainConfig
from models.incidents import PAGING_TIERS, incident_pages, rank_by_incident
from models.metrics import budget_count
from models.priority import UnmappedStand
from models.reference_rankings import perfect_probability_score, reference_scores
from models.training import TimeSplit
from models.truth_metrics import (
    TRUTH_BUDGET,
    grouping_against_truth,
    grouping_errors,
    missed_at_budget,
    orderings_against_truth,
    pages_per_true_incident,
    truth_agreement,
)
from pipeline.score import grouped_alerts, score_alerts, scoring_rows
from pipeline.simulate import SimulationConfig, simulate
from pipeline.simulate.worlds import WORLDS
from pipeline.stack import TABLES
from pipeline.train import build_training_set, train
from pipeline.train_config import load_train_config

TOTAL_DAYS = 35
TRAIN_DAYS = 28
SEEDS = (1, 2, 3)
PERFECT = "perfect probability"  # the queue's order with the truth in place of the probability
ORDERINGS = (
    "model",
    "model (own)",
    "severity",
    "criticality_rule",
    "journey_weight",
    PERFECT,
    "oracle",
)
GOALS = {  # issue "Quality that holds…": on every world and seed
    "pr_auc / severity": 2.0,
    "pr_auc / criticality_rule": 1.5,
    "iw_recall / oracle": 0.8,
    "model roc_auc": 0.85,
    "label precision": 0.8,
    "label recall": 0.6,
    "label iw_recall": 0.85,
}
GROUPING_GOALS = {  # issue 15, on every world
    "pairwise_f1": 0.9,
    "compression": 0.8,
    "pages_per_true_incident": 1.1,
}
LOWER_IS_BETTER = frozenset(  # the grouping figures where less is better: pages
    {
        "pages_per_true_incident",
        "paged_incidents_per_true_incident",
        "truth_pages_per_true_incident",
        "alert_pages_per_true_incident",
    }
)
TRUTH_BOUNDS = {  # a goal the truth bounds: what it reaches on the same run
    "pairwise_f1": "truth_f1_concurrent_as_one",  # concurrent failures of one service as one
    "compression": "truth_compression",
    "pages_per_true_incident": "truth_pages_per_true_incident",
    "iw_recall / oracle": "perfect probability iw_recall / oracle",  # the priority's own ceiling
}
REACH = "the truth reaches"  # the verdicts' column of TRUTH_BOUNDS
# each goal on every run, drawn; relative to where it runs (`make` runs at the root)
GOAL_BOARD = Path("bench-data/quality_goals.png")
MISSED_SHOWN = 3  # true incidents shown per run where the model's IWR@10% is lost
TIME_COLUMNS = {"alerts": "fired_at", "journey_outcomes": "window_start", "changes": "ts"}


@dataclass(frozen=True)
class WorldRun:
    world: str
    seed: int
    labels: dict[str, float]
    table: pd.DataFrame  # orderings × metrics against the truth on the scored days
    scored_alerts: int
    seconds: float
    scored: (
        pd.DataFrame
    )  # per scored alert: its features, the ranker's answer and each ordering's score
    grouping: dict[str, float]  # incidents of the scored alerts against the true ones
    missed: pd.DataFrame  # the model's IWR@10% lost, per true incident (missed_at_budget)
    grouping_errors: tuple[pd.DataFrame, pd.DataFrame]  # worst merges and splits (grouping_errors)
    true_incidents: pd.DataFrame | None = None  # the world's truth_incidents (root service, kind)


def run_world(
    world: str,
    seed: int,
    workdir: Path,
    days: int = TOTAL_DAYS,
    train_days: int = TRAIN_DAYS,
    config: TrainConfig | None = None,
) -> WorldRun:
    """Simulate, cut, train on the first `train_days`, score the rest as if live, compare with the truth."""
    started = time.perf_counter()
    data, history, cutoff = simulated_and_cut(world, seed, workdir, days, train_days)
    true_incidents = pd.read_parquet(workdir / "full" / "truth_incidents.parquet")
    result = train(history, settings_at(workdir / "home"), config)
    later = data.alerts[data.alerts["fired_at"] >= cutoff].reset_index(drop=True)
    grouped = grouped_alerts(result.ranker, data, later)  # grouped once, for both
    rows = scoring_rows(result.ranker, data, later, grouped)
    ranked = score_alerts(result.ranker, data, later, grouped=grouped)
    ranked = ranked.set_index("alert_id").loc[rows["alert_id"]]
    scores = {
        "model": ranked["incident_priority"].to_numpy(),  # the queue's order: by incident
        "model (own)": ranked["priority"].to_numpy(),  # each alert by its own evidence alone
        **reference_scores(rows, data.truth),
        PERFECT: perfect_probability_queue(
            rows, data.truth, result.ranker.unmapped, ranked["incident_id"].to_numpy(dtype=object)
        ),
    }
    table = orderings_against_truth(rows["alert_id"], scores, data.truth)
    labels = label_agreement(result.split, data.truth)
    scored = rows.assign(
        impact_probability=ranked["impact_probability"].to_numpy(),
        **{f"score_{name}": values for name, values in scores.items()},
    )
    incidents = ranked["incident_id"].reindex(later["alert_id"].astype(str))
    grouping = grouping_quality(later, incidents, ranked["tier"], data.truth, true_incidents)
    missed = missed_at_budget(rows["alert_id"], scores["model"], data.truth, rows["service"])
    errors = grouping_errors(later["alert_id"], incidents, data.truth)
    seconds = time.perf_counter() - started
    return WorldRun(
        world, seed, labels, table, len(later), seconds, scored, grouping, missed, errors,
        true_incidents,
    )  # fmt: skip


def perfect_probability_queue(
    rows: pd.DataFrame, truth: pd.DataFrame, unmapped: UnmappedStand, incident_ids: np.ndarray
) -> np.ndarray:
    """The queue's order were the model's probability perfect (`perfect_probability_score`), each
    alert by its incident's best so far as `journeyrank score` ranks it (`rank_by_incident`;
    `incident_ids`: per row of `rows`). Its IWR@10% against the oracle's is what the priority lets
    a model reach on the run: where it falls short of the goal, no probability meets it; the
    distance from it to the model's is the probability's to win."""
    ids = rows["alert_id"].astype(str)
    answers = pd.DataFrame(
        {"alert_id": ids, "priority": perfect_probability_score(rows, truth, unmapped)}
    )
    fired = pd.DataFrame({"alert_id": ids, "fired_at": rows["fired_at"]})
    incident_of = dict(zip(ids, incident_ids, strict=True))
    queued, _ = rank_by_incident(answers, fired, incident_of)
    return queued.set_index("alert_id")["incident_priority"].reindex(ids).to_numpy()


def grouping_quality(
    alerts: pd.DataFrame,
    incidents: pd.Series,
    tiers: pd.Series,
    truth: pd.DataFrame,
    true_incidents: pd.DataFrame | None = None,
) -> dict[str, float]:
    """Grouping figures of `alerts` (time order) against the truth, and the pages a true
    incident costs when incidents page once versus when every paging-tier alert pages; beside
    them the pages it would cost were the incidents the true ones (`truth_pages_…`: what paging
    once and again on a tier rise costs at F1 = 1, the floor no grouping goes under), and with
    `true_incidents` the F1 the truth gets with its concurrent failures of one service as one;
    and the incidents an on-call tool opens per true incident (`paged_incidents_…`: a tier rise
    re-sends the same dedup key, which PagerDuty and its like add to the incident already open)."""
    ids = alerts["alert_id"].astype(str)
    tiers = tiers.reindex(ids).to_numpy(dtype=object)
    incidents = pd.Series(incidents.to_numpy(dtype=object))
    once = incident_pages(incidents, tiers)
    every = pd.Series(tiers).isin(PAGING_TIERS).to_numpy()
    per_alert = pd.Series(ids.to_numpy(), dtype=object)
    true = truth.set_index("alert_id")["incident_id"].reindex(ids).to_numpy(dtype=object)
    true = pd.Series(np.where(pd.isna(true), "alert:" + ids.to_numpy(), true), dtype=object)
    return grouping_against_truth(ids, incidents, truth, true_incidents) | {
        "pages_per_true_incident": pages_per_true_incident(ids, incidents, once, truth),
        "paged_incidents_per_true_incident": pages_per_true_incident(
            ids, incidents, first_pages(incidents, once), truth
        ),
        "truth_pages_per_true_incident": pages_per_true_incident(
            ids, true, incident_pages(true, tiers), truth
        ),
        "alert_pages_per_true_incident": pages_per_true_incident(ids, per_alert, every, truth),
    }


def first_pages(incidents: pd.Series, pages: np.ndarray) -> np.ndarray:
    """Of the alerts that sent a page, the first of each incident: the page that opened it."""
    paged = pd.Series(incidents.to_numpy(dtype=object))[np.asarray(pages, dtype=bool)]
    opened = np.zeros(len(incidents), dtype=bool)
    opened[paged.index[~paged.duplicated()].to_numpy()] = True
    return opened


def cut_data_dir(source: Path, out: Path, cutoff: pd.Timestamp) -> Path:
    """The data directory as it stood at `cutoff`: rows dated before it, windows that ended by it."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "journey_map.yaml").write_bytes((source / "journey_map.yaml").read_bytes())
    data = load_data_dir(source)
    for name in TABLES:
        path = find_table(source, name)
        if path is None:
            continue
        frame = pd.read_parquet(path)
        if name == "journey_outcomes":
            frame = frame[frame["window_start"] + data.window <= cutoff]
        elif name in TIME_COLUMNS:
            frame = frame[frame[TIME_COLUMNS[name]] < cutoff]
        elif name == "truth":
            frame = frame[
                frame["alert_id"].isin(
                    data.alerts.loc[data.alerts["fired_at"] < cutoff, "alert_id"]
                )
            ]
        frame.to_parquet(out / path.name, index=False)
    return out


def simulated_and_cut(
    world: str, seed: int, workdir: Path, days: int, train_days: int
) -> tuple[DataDir, Path, pd.Timestamp]:
    """The world simulated into workdir/full (its truth beside it), and the data directory cut
    after its first `train_days` into workdir/train: (the whole data, the cut one's path, the cut)."""
    full = workdir / "full"
    simulate(SimulationConfig(out=full, days=days, seed=seed, world=world))
    data = load_data_dir(full)
    cutoff = data.alerts["fired_at"].min().floor("D") + pd.Timedelta(days=train_days)
    return data, cut_data_dir(full, workdir / "train", cutoff), cutoff


def label_agreement(split: TimeSplit, truth: pd.DataFrame) -> dict[str, float]:
    """The training labels of every part of the split (train, validation, held out) against the truth."""
    return truth_agreement(pd.concat([split.train, split.validation, split.test]), truth)


def world_labels(
    world: str, seed: int, workdir: Path, *, days: int, train_days: int, config: TrainConfig
) -> dict[str, float]:
    """The labels `train` would derive on the first `train_days` against the truth, without
    training: `--labels-only`, to judge a label change (the attribution config) on every world in
    a fraction of the time. The same figures as run_world's `labels`."""
    data, history, _ = simulated_and_cut(world, seed, workdir, days, train_days)
    training = build_training_set(load_data_dir(history), config)
    return label_agreement(training.split, data.truth)


def ratios(run: WorldRun) -> dict[str, float]:
    t = run.table
    return {
        "pr_auc / severity": t.loc["model", "pr_auc"] / t.loc["severity", "pr_auc"],
        "pr_auc / criticality_rule": t.loc["model", "pr_auc"] / t.loc["criticality_rule", "pr_auc"],
        "iw_recall / oracle": t.loc["model", "iw_recall"] / t.loc["oracle", "iw_recall"],
        "incident iw_recall / oracle": t.loc["model", "incident_iw_recall"]
        / t.loc["oracle", "incident_iw_recall"],
        "model roc_auc": t.loc["model", "roc_auc"],
        "label precision": run.labels["precision"],
        "label recall": run.labels["recall"],
        "label iw_recall": run.labels["iw_recall"],
    }


def truth_bounds(run: WorldRun) -> dict[str, float]:
    """What the truth reaches on the run of the goals `ratios` reads (the grouping's are in
    `run.grouping`): IWR@10% were the probability perfect, against the oracle's."""
    t = run.table
    if PERFECT not in t.index:  # a run judged without it
        return {}
    return {
        TRUTH_BOUNDS["iw_recall / oracle"]: t.loc[PERFECT, "iw_recall"]
        / t.loc["oracle", "iw_recall"]
    }


def print_run(run: WorldRun) -> None:
    print(
        f"\n--- world {run.world}, seed {run.seed}: {run.scored_alerts:,} alerts scored as if live "
        f"({run.seconds:.0f} s) ---"
    )
    a = run.labels
    print(
        f"labels vs truth: precision {a['precision']:.3f}  recall {a['recall']:.3f}  "
        f"impact-weighted recall {a['iw_recall']:.3f}  (derived rate {a['derived_rate']:.1%}, true {a['true_rate']:.1%})"
    )
    shown = run.table.loc[list(ORDERINGS)].rename(
        columns={
            "pr_auc": "PR-AUC",
            "roc_auc": "ROC-AUC",
            "iw_recall": "IWR@10%",
            "incident_pr_auc": "PR-AUC (incidents once)",
            "incident_iw_recall": "IWR@10% (incidents once)",
        }
    )
    print(shown.to_string(float_format=lambda v: f"{v:.3f}"))
    print("  " + "  ".join(f"{k} {v:.2f}" for k, v in (ratios(run) | truth_bounds(run)).items()))
    print("  incidents: " + "  ".join(f"{k} {v:.3f}" for k, v in run.grouping.items()))
    print(
        f"  IWR@10% lost most on (of {run.scored_alerts:,} alerts, the top {budget_size(run)} paged):"
    )
    for row in run.missed.head(MISSED_SHOWN).itertuples():
        print(
            f"    {row.incident_id} ({row.services}): {row.alerts} alerts, {row.paged} paged, "
            f"best rank {row.best_rank}: {row.missed_share:.1%} of the lost value"
        )
    merges, splits = run.grouping_errors
    print(
        "  pairwise precision lost most on (predicted incidents holding several true ones; a "
        "noise alert counts as one of its own):"
    )
    for row in merges.head(MISSED_SHOWN).itertuples():
        print(
            f"    {row.Index}: {row.alerts} alerts of {row.true_incidents} true incidents "
            f"({named_failures(row.parts, run.true_incidents)}): "
            f"{row.false_pairs_share:.1%} of the false pairs"
        )
    print("  pairwise recall lost most on (true incidents split up):")
    for row in splits.head(MISSED_SHOWN).itertuples():
        print(
            f"    {row.Index}: {row.alerts} alerts in {row.pieces} incidents: "
            f"{row.missed_pairs_share:.1%} of the missed pairs"
        )


def budget_size(run: WorldRun) -> int:
    return budget_count(run.scored_alerts, TRUTH_BUDGET)


def summarise_grouping(runs: list[WorldRun]) -> pd.DataFrame:
    """Per world the worst seed of each grouping figure, then the worst world, with the goals."""
    frame = pd.DataFrame([{"world": r.world, **r.grouping} for r in runs]).drop(columns="alerts")
    worse_high = [c for c in frame.columns if c in LOWER_IS_BETTER]
    per_world = frame.groupby("world", sort=False)
    worst = per_world.min()
    worst[worse_high] = per_world[worse_high].max()
    worst.loc["WORST WORLD"] = worst.min()
    worst.loc["WORST WORLD", worse_high] = worst.drop(index="WORST WORLD")[worse_high].max()
    goals = pd.Series(GROUPING_GOALS, name="goal")
    return pd.concat([worst, goals.to_frame().T])


def summarise(runs: list[WorldRun]) -> pd.DataFrame:
    """Per world the worst seed of each ratio, then the worst world, with the goals."""
    frame = pd.DataFrame([{"world": r.world, "seed": r.seed, **ratios(r)} for r in runs])
    worst = frame.drop(columns="seed").groupby("world", sort=False).min()
    worst.loc["WORST WORLD"] = worst.min()
    goals = pd.Series({k: v for k, v in GOALS.items() if k in worst.columns}, name="goal")
    return pd.concat([worst, goals.to_frame().T])


def run_board(runs: list[WorldRun]) -> pd.DataFrame:
    """Every goal (GOALS, GROUPING_GOALS) on every run ("world seed"): goal_board of the figures
    the goals read and what the truth reaches there."""
    figures = {f"{r.world} {r.seed}": ratios(r) | r.grouping | truth_bounds(r) for r in runs}
    return goal_board(figures, GOALS | GROUPING_GOALS)


def goal_board(figures: dict[str, dict[str, float]], goals: dict[str, float]) -> pd.DataFrame:
    """Every goal against every run (named "world seed"), a row each, goals and runs in their
    order: value, target, lower_is_better, margin (>= 0: met; NaN: the run has no such figure)
    and bound, what the truth reaches on that run (TRUTH_BOUNDS; NaN where it bounds nothing, or
    for a run judged without it: a world without true incidents, or without the
    perfect-probability ordering)."""
    rows = []
    for goal, target in goals.items():
        lower = goal in LOWER_IS_BETTER
        for run, found in figures.items():
            value = float(found.get(goal, np.nan))
            rows.append(
                {
                    "goal": goal,
                    "run": run,
                    "value": value,
                    "target": target,
                    "lower_is_better": lower,
                    "margin": target - value if lower else value - target,
                    "bound": float(found.get(TRUTH_BOUNDS.get(goal), np.nan)),
                }
            )
    return pd.DataFrame(rows)


def verdicts(board: pd.DataFrame) -> pd.DataFrame:
    """Each goal of `board` (goal_board) judged on every run: the worst run and its figure, how
    many runs meet the goal, and the worst run's margin (≥ 0: met; < 0: missed by that much). For
    a goal the truth bounds, what it reaches on that same run: for a grouping goal the true
    incidents' figure (F1 = 1), for IWR@10% / oracle the queue's figure were the model's
    probability perfect (`perfect_probability_queue`)."""
    rows = []
    for goal, runs in board.groupby("goal", sort=False):
        runs = runs.set_index("run")
        margin = runs["margin"]
        worst = margin.idxmin() if margin.notna().any() else None
        row = runs.loc[worst] if worst else None
        sign = "<=" if runs["lower_is_better"].iloc[0] else ">="
        rows.append(
            {
                "goal": goal,
                "target": f"{sign} {runs['target'].iloc[0]:g}",
                "worst run": worst or "",
                "worst": row["value"] if worst else np.nan,
                "margin": row["margin"] if worst else np.nan,
                "runs meeting it": f"{int((margin >= 0).sum())} of {len(margin)}",
                REACH: row["bound"] if worst else np.nan,
            }
        )
    return pd.DataFrame(rows).set_index("goal")


def with_labels(config: TrainConfig, method: str | None) -> TrainConfig:
    """`config` with its training target's method set to `method` (as it is when None)."""
    if method is None:
        return config
    attribution = config.features.attribution.model_copy(update={"method": method})
    features = config.features.model_copy(update={"attribution": attribution})
    return config.model_copy(update={"features": features})


def named_failures(parts: tuple[str, ...], true_incidents: pd.DataFrame | None) -> str:
    """True incidents as their root service and kind, most alerts first ("noise": an alert of none)."""
    roots = {}
    if true_incidents is not None:
        roots = {r.incident_id: f"{r.service} {r.kind}" for r in true_incidents.itertuples()}
    named = pd.Series(["noise" if p.startswith("alert:") else roots.get(p, p) for p in parts])
    counts = named.value_counts(sort=False)
    return ", ".join(name if n == 1 else f"{name} ×{n}" for name, n in counts.items())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", default=",".join(WORLDS))
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    parser.add_argument("--days", type=int, default=TOTAL_DAYS)
    parser.add_argument("--train-days", type=int, default=TRAIN_DAYS)
    parser.add_argument(
        "--config",
        type=Path,
        help="a training config to judge on every world (YAML, as `journeyrank train --config`)",
    )
    parser.add_argument(
        "--labels-only",
        action="store_true",
        help="derive the training labels on every world and judge only them (no training, no "
        "scoring): a label change (the config's features.attribution) in a fraction of the time",
    )
    parser.add_argument(
        "--plot",
        type=Path,
        default=GOAL_BOARD,
        help=f"where to draw each goal on every run, as a PNG (default {GOAL_BOARD})",
    )
    parser.add_argument(
        "--labels",
        choices=["attributed", "window"],
        help="the training target: labels attributed to causes (the default), or the window "
        "labels of before (over the config's)",
    )
    args = parser.parse_args(argv if argv is not None else [])
    config = with_labels(load_train_config(args.config), args.labels)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    method = config.features.attribution.method
    print(f"labels: {method}; {args.days} days, trained on the first {args.train_days}")
    if args.config is not None:
        print(f"training config: {args.config}")
    if args.labels_only:
        seeds = [int(s) for s in args.seeds.split(",")]
        figures = label_figures(args.worlds.split(","), seeds, args.days, args.train_days, config)
        label_goals = {k: v for k, v in GOALS.items() if k.startswith("label ")}
        board = goal_board(figures, label_goals)
        print_label_verdicts(board)
        drawn(board, args.plot, "Each label goal on every run")
        return
    runs = []
    for world in args.worlds.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            with tempfile.TemporaryDirectory(prefix=f"quality-{world}-{seed}-") as tmp:
                run = run_world(world, seed, Path(tmp), args.days, args.train_days, config)
            print_run(run)
            runs.append(run)
    print("\n=== worst seed per world, then the worst world (ratios; goals in the last row) ===")
    print(summarise(runs).to_string(float_format=lambda v: f"{v:.2f}"))
    print("\n=== incidents: worst seed per world, then the worst world (goals in the last row) ===")
    print(summarise_grouping(runs).to_string(float_format=lambda v: f"{v:.3f}"))
    print(
        "\n=== each goal on every run: the worst run, by how much it meets (+) or misses (-) it, "
        "and what the truth reaches there: for a grouping goal the true incidents (pairwise F1: "
        "with concurrent failures of one service as one, as no alert tells them apart), for "
        "IWR@10% / oracle the queue were its probability perfect (the priority's ceiling) ==="
    )
    board = run_board(runs)
    table = verdicts(board)
    table["margin"] = table["margin"].map(lambda v: f"{v:+.3f}")
    print(table.to_string(float_format=lambda v: f"{v:.3f}", na_rep=""))
    drawn(board, args.plot, "Each goal on every run")


def drawn(board: pd.DataFrame, path: Path, title: str) -> None:
    """The board drawn to `path` (benchmarks._quality_plot), and where it is said."""
    print(f"\neach goal on every run, drawn: {write_goal_board(board, path, title)}")


def label_figures(
    worlds: list[str], seeds: list[int], days: int, train_days: int, config: TrainConfig
) -> dict[str, dict[str, float]]:
    """--labels-only: each run's label agreement, printed as it comes, as the label goals read it."""
    figures = {}
    for world in worlds:
        for seed in seeds:
            started = time.perf_counter()
            with tempfile.TemporaryDirectory(prefix=f"labels-{world}-{seed}-") as tmp:
                found = world_labels(
                    world,
                    seed,
                    Path(tmp),
                    config=config,
                    days=days,
                    train_days=train_days,
                )
            figures[f"{world} {seed}"] = {f"label {k}": v for k, v in found.items()}
            print(
                f"world {world}, seed {seed}: labels vs truth: precision {found['precision']:.3f}  "
                f"recall {found['recall']:.3f}  impact-weighted recall {found['iw_recall']:.3f}  "
                f"({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
    return figures


def print_label_verdicts(board: pd.DataFrame) -> None:
    """--labels-only: the label goals' verdicts, from their board (goal_board)."""
    table = verdicts(board).drop(columns=REACH)
    table["margin"] = table["margin"].map(lambda v: f"{v:+.3f}")
    print("\n=== each label goal on every run: the worst run and its margin ===")
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
