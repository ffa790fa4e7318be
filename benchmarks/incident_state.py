"""Writing the service's incident state: all of it, against what changed since the last write.

The stream is the serving benchmark's: the sample's latest alerts replayed under new ids, 100 per
ranking pass and 1 ms apart, so incidents pile up open as they do under load. Every WRITE_EVERY
passes (about PERSIST_EVERY_S of /rank at its p50), two groupers fed the same alerts write their
state to SQLite state stores of their own:

- all: every part (`IncidentGrouper.state_parts`, replacing the parts kept). This is what a
  book's first write costs, and what every write would cost without the changes kept track of.
- changed: the head and the parts changed since the last write (`state_changes`). This is what
  `IncidentBook.persist` writes after its first write.

A write is timed from the grouper's state to the committed transaction. The first write is left
out of both columns (it is a whole one either way). At the end both stores are read back and
must give the grouper as it stands.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

PASSES, WRITE_EVERY = 600, 40
DOCUMENT = "incidents"
MB = 2**20


def main() -> None:
    from benchmarks.serving import SAMPLE_DIR, rank_batches
    from features.incidents import IncidentGrouper
    from features.loading import load_data_dir
    from serving.api_models import AlertIn
    from serving.engine import alerts_frame
    from serving.state import SqliteStateStore

    data = load_data_dir(SAMPLE_DIR)
    end = data.journey_outcomes["window_start"].max() + data.window
    frames = [
        alerts_frame([AlertIn.model_validate(a) for a in batch])
        for batch in rank_batches(data.alerts, end, PASSES)
    ]
    groupers = {name: IncidentGrouper(data.journey_map) for name in ("all", "changed")}
    seconds: dict[str, list[float]] = {name: [] for name in groupers}
    sizes: dict[str, list[int]] = {name: [] for name in groupers}
    with tempfile.TemporaryDirectory() as scratch:
        stores = {name: SqliteStateStore(Path(scratch) / f"{name}.sqlite") for name in groupers}
        for done, frame in enumerate(frames, start=1):
            for grouper in groupers.values():
                grouper.assign(frame)
            if done % WRITE_EVERY:
                continue
            first = done == WRITE_EVERY
            for name, grouper in groupers.items():
                whole = first or name == "all"
                started = time.perf_counter()
                head, parts = grouper.state_parts() if whole else grouper.state_changes()
                text = json.dumps(head, separators=(",", ":"))
                stores[name].put_document(DOCUMENT, text, parts, replace=whole)
                if not first:
                    seconds[name].append(time.perf_counter() - started)
                    sizes[name].append(len(text) + sum(len(p or "") for p in parts.values()))
            print(f"  pass {done}/{PASSES}: state written", flush=True)
        state = groupers["all"].to_state()
        for name, store in stores.items():
            head, parts = store.document(DOCUMENT)
            restored = IncidentGrouper.from_parts(data.journey_map, None, json.loads(head), parts)
            if restored.to_state() != json.loads(json.dumps(state)):
                raise SystemExit(f"the {name!r} store does not give the grouper back")
    firing = len(state["ends"])
    print(
        f"{PASSES} passes of 100 alerts, a write every {WRITE_EVERY}; at the end "
        f"{len(state['incidents']):,} incidents kept, {firing:,} alerts firing; both stores "
        "read back to the same grouper"
    )
    print(render_table(seconds, sizes))


def render_table(seconds: dict[str, list[float]], sizes: dict[str, list[int]]) -> str:
    figures = {
        name: (
            statistics.median(seconds[name]) * 1e3,
            max(seconds[name]) * 1e3,
            statistics.mean(sizes[name]) / MB,
        )
        for name in seconds
    }
    lines = [f"{'write':<8}  {'writes':>6}  {'p50 ms':>7}  {'max ms':>7}  {'MB a write':>10}"]
    for name, (p50, top, mb) in figures.items():
        lines.append(f"{name:<8}  {len(seconds[name]):>6}  {p50:>7.1f}  {top:>7.1f}  {mb:>10.2f}")
    (p50_all, top_all, mb_all), (p50, top, mb) = figures["all"], figures["changed"]
    lines.append(
        f"all / changed: p50 {p50_all / p50:.1f}x, max {top_all / top:.1f}x, bytes {mb_all / mb:.1f}x"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
