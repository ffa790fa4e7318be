"""Explaining a batch of alerts (TreeSHAP): LightGBM's `pred_contrib` against the ranker's tables
(models/tree_shap.py), on the same input matrix, in one run.

The sample's model (trained once per code version, shared with benchmarks/serving.py) explains
the feature rows of the sample's latest alerts, as `journeyrank score` builds them, in batches of
1, 10, 100 (a /rank request) and 800 (a pass at concurrency 8). The two ways take turns, ROUNDS
times CALLS calls each:

- warm: the same batch again and again, as a loop of calls leaves the caches;
- cold: after reading 64 MB, as the rest of a ranking pass leaves the caches between two
  explanations (the tables are read at random, so this is the figure a pass sees).

LightGBM runs on its OpenMP threads (one per core, waiting passively as `journeyrank` sets them);
the tables on one thread. Both must give the same contributions to 1e-12.
"""

from __future__ import annotations

import statistics
import time

BATCHES = (1, 10, 100, 800)
ROUNDS, CALLS = 5, 10
EVICT_BYTES = 64 * 2**20


def main() -> None:
    import numpy as np

    from benchmarks.serving import CACHE_DIR, SAMPLE_DIR, ensure_model
    from features.loading import load_data_dir
    from models.registry import load_ranker_from, use_tracking
    from models.tree_shap import TreeTables
    from pipeline.score import scoring_rows

    settings = ensure_model(CACHE_DIR)
    use_tracking(settings.tracking_uri)
    ranker = load_ranker_from("models:/journeyrank@champion")
    data = load_data_dir(SAMPLE_DIR)
    alerts = data.alerts.sort_values("fired_at").tail(max(BATCHES)).reset_index(drop=True)
    matrix = ranker.model_matrix(scoring_rows(ranker, data, alerts))
    started = time.perf_counter()
    tables = TreeTables.of(ranker.booster)
    built = time.perf_counter() - started
    if tables is None:
        raise SystemExit("the sample's model has paths too long to tabulate: nothing to compare")
    ways = {
        "lightgbm": lambda m: ranker.booster.predict(m, pred_contrib=True),
        "tables": tables.explain,
    }
    worst = float(np.abs(ways["lightgbm"](matrix) - ways["tables"](matrix)).max())
    if worst > 1e-12:
        raise SystemExit(f"the tables disagree with LightGBM by {worst:.3g}")
    evict = np.ones(EVICT_BYTES // 8)
    print(
        f"{len(matrix)} alerts of data/sample, {matrix.shape[1]} features; "
        f"{ranker.booster.num_trees()} trees; tables of {tables.table.size:,} values built in "
        f"{built:.2f} s; largest difference {worst:.1e}"
    )
    print(f"{'batch':>6} {'':6} {'lightgbm ms':>12} {'tables ms':>10} {'ratio':>7}")
    for batch in BATCHES:
        rows = matrix[:batch]
        for cache in ("warm", "cold"):
            seconds = _alternate(ways, rows, evict if cache == "cold" else None)
            lightgbm, ours = (statistics.median(seconds[name]) * 1e3 for name in ways)
            print(f"{batch:>6} {cache:6} {lightgbm:>12.3f} {ours:>10.3f} {lightgbm / ours:>6.2f}x")


def _alternate(ways: dict, rows, evict) -> dict[str, list[float]]:
    """Each way CALLS times in a row (after one untimed call), the ways taking turns ROUNDS times;
    `evict` read before each call."""
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(ROUNDS):
        for name, explain in ways.items():
            explain(rows)
            for _ in range(CALLS):
                if evict is not None:
                    evict.sum()
                started = time.perf_counter()
                explain(rows)
                seconds[name].append(time.perf_counter() - started)
    return seconds


if __name__ == "__main__":
    from benchmarks.__main__ import main as run

    run(["explain"])
