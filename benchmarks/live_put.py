"""A ranking pass's alerts into the state store and the worker's live mirror: read back, against
put through.

The stream is the serving benchmark's: the sample's latest alerts replayed under new ids, 100 per
ranking pass. Two workers, each on a SQLite state store of its own warmed with the same recent
journey outcomes, take in the same passes:

- read back: `store.put` then `LiveState.sync`, which reads the rows just written back from the
  store (what every pass did before `LiveState.put`);
- put through: `LiveState.put`, which syncs first and then hands the mirror the rows it wrote as
  the store would give them back, unread, when no one else wrote in between (here no one does).

A pass is timed from the frame to the mirror holding it; the two workers take turns going first.
At the end both mirrors must hold the same alerts and outcomes.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

PASSES, WARM_UP = 300, 20


def main() -> None:
    import pandas as pd

    from benchmarks.features import fitted
    from benchmarks.serving import SAMPLE_DIR, rank_batches
    from serving.api_models import AlertIn
    from serving.engine import alerts_frame
    from serving.live import LiveState
    from serving.state import SqliteStateStore

    data, _, baselines, config = fitted(SAMPLE_DIR)
    # what a worker's live state reads of its ranker
    ranker = SimpleNamespace(
        journey_map=data.journey_map,
        baselines=baselines,
        spec=SimpleNamespace(config=config, window_ns=int(data.window.value)),
    )
    end = data.journey_outcomes["window_start"].max() + data.window
    frames = [
        alerts_frame([AlertIn.model_validate(a) for a in batch])
        for batch in rank_batches(data.alerts, end, WARM_UP + PASSES)
    ]
    recent = data.journey_outcomes[
        data.journey_outcomes["window_start"] >= end - pd.Timedelta("2h")
    ]

    def read_back(live: LiveState, frame: pd.DataFrame) -> None:
        live.store.put("alerts", frame)
        live.sync()

    def put_through(live: LiveState, frame: pd.DataFrame) -> None:
        live.put("alerts", frame)

    ways = {"read back": read_back, "put through": put_through}
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    with tempfile.TemporaryDirectory() as scratch:
        workers = {}
        for name in ways:
            live = LiveState(SqliteStateStore(Path(scratch) / f"{name}.sqlite"), ranker)
            live.put("outcomes", recent)
            workers[name] = live
        for done, frame in enumerate(frames):
            order = list(ways) if done % 2 == 0 else list(reversed(ways))
            for name in order:
                started = time.perf_counter()
                ways[name](workers[name], frame)
                if done >= WARM_UP:
                    seconds[name].append(time.perf_counter() - started)
        first, second = (workers[name].mirror for name in ways)
        pd.testing.assert_frame_equal(first.alerts, second.alerts)
        pd.testing.assert_frame_equal(first.outcomes, second.outcomes)
        held = len(first.alerts)
    print(
        f"{PASSES} passes of {len(frames[-1])} alerts after {WARM_UP} warm-up; "
        f"both mirrors hold the same {held:,} alerts"
    )
    print(f"{'way':<12} {'p50 ms':>8} {'mean ms':>8} {'p90 ms':>8}")
    for name, times in seconds.items():
        ms = sorted(t * 1e3 for t in times)
        p90 = ms[int(0.9 * (len(ms) - 1))]
        print(f"{name:<12} {statistics.median(ms):8.2f} {statistics.fmean(ms):8.2f} {p90:8.2f}")
    back, through = (seconds[name] for name in ways)
    print(
        f"read back / put through: p50 {statistics.median(back) / statistics.median(through):.2f}x, "
        f"mean {statistics.fmean(back) / statistics.fmean(through):.2f}x"
    )


if __name__ == "__main__":
    main()
