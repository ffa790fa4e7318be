"""Aggregating session events: attribution to the enter window, orphans, partitions, and the simulator's truth."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.aggregation import (
    aggregate_events_frame,
    aggregate_session_events,
    combine_partials,
    to_journey_outcomes,
)
from features.errors import ContractError
from features.loading import load_journey_outcomes, load_table, validate_table
from features.schemas import JOURNEY_OUTCOMES, SESSION_EVENTS_TABLE
from pipeline.aggregate import aggregate
from pipeline.simulate import SimulationConfig, simulate

WINDOW = pd.Timedelta(minutes=5)
KEY = ["window_start", "journey", "stage", "segment", "region"]
COUNTS = ["sessions", "completed", "abandoned", "errors"]
COLUMNS = ["ts", "session_id", "journey", "stage", "segment", "region", "event"]


def _events(*rows: tuple[str, ...]) -> pd.DataFrame:
    """Events from (minute 'HH:MM', session, stage, event) rows, in journey 'purchase', segment 'new', region 'eu'."""
    raw = pd.DataFrame(
        [
            (f"2026-10-05T{minute}:00Z", session, "purchase", stage, "new", "eu", event)
            for minute, session, stage, event in rows
        ],
        columns=COLUMNS,
    )
    return validate_table(raw, SESSION_EVENTS_TABLE, "session_events.parquet")


def _outcomes(events: pd.DataFrame) -> pd.DataFrame:
    return to_journey_outcomes(aggregate_events_frame(events, WINDOW).counts)


def _row(outcomes: pd.DataFrame, minute: str, stage: str) -> dict[str, int]:
    hit = outcomes[
        (outcomes["window_start"] == pd.Timestamp(f"2026-10-05T{minute}:00Z"))
        & (outcomes["stage"] == stage)
    ]
    assert len(hit) == 1
    return {name: int(hit[name].iloc[0]) for name in COUNTS}


def _write(events: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        events.to_csv(path, index=False)
    else:
        events.to_parquet(path, index=False)
    return path


@pytest.fixture
def funnel_events() -> pd.DataFrame:
    """Four sessions over two stages and three windows, with one orphan at the end."""
    return _events(
        ("00:01", "s1", "cart", "enter"),
        ("00:02", "s1", "cart", "complete"),
        ("00:02", "s1", "checkout", "enter"),
        ("00:03", "s2", "cart", "enter"),
        ("00:04", "s2", "cart", "error"),
        ("00:06", "s2", "cart", "abandon"),
        ("00:07", "s3", "cart", "enter"),
        ("00:08", "s1", "checkout", "complete"),
        ("00:11", "s4", "cart", "enter"),
        ("00:12", "s4", "cart", "complete"),
        ("00:12", "s4", "checkout", "enter"),
        ("00:13", "s5", "checkout", "complete"),
    )


def test_completion_in_the_next_window_counts_in_the_enter_window() -> None:
    events = _events(("00:04", "s1", "checkout", "enter"), ("00:06", "s1", "checkout", "complete"))

    outcomes = _outcomes(events)

    assert len(outcomes) == 1
    assert _row(outcomes, "00:00", "checkout") == {
        "sessions": 1,
        "completed": 1,
        "abandoned": 0,
        "errors": 0,
    }


def test_abandon_is_counted_and_a_session_without_outcome_is_neither() -> None:
    events = _events(
        ("00:01", "s1", "checkout", "enter"),
        ("00:02", "s1", "checkout", "abandon"),
        ("00:03", "s2", "checkout", "enter"),
    )

    assert _row(_outcomes(events), "00:00", "checkout") == {
        "sessions": 2,
        "completed": 0,
        "abandoned": 1,
        "errors": 0,
    }


def test_errors_count_every_error_event_of_entered_sessions() -> None:
    events = _events(
        ("00:01", "s1", "checkout", "enter"),
        ("00:02", "s1", "checkout", "error"),
        ("00:03", "s1", "checkout", "error"),
        ("00:04", "s1", "checkout", "complete"),
    )

    assert _row(_outcomes(events), "00:00", "checkout")["errors"] == 2


def test_events_of_a_visit_without_enter_are_dropped_and_counted() -> None:
    events = _events(
        ("00:01", "s1", "checkout", "error"),
        ("00:02", "s1", "checkout", "complete"),
        ("00:03", "s2", "checkout", "enter"),
    )

    partial = aggregate_events_frame(events, WINDOW)

    assert partial.orphan_events == 2
    assert _row(to_journey_outcomes(partial.counts), "00:00", "checkout") == {
        "sessions": 1,
        "completed": 0,
        "abandoned": 0,
        "errors": 0,
    }


def test_keys_without_sessions_are_absent() -> None:
    events = _events(
        ("00:01", "s1", "cart", "enter"),
        ("00:11", "s2", "cart", "enter"),
        ("00:12", "s3", "checkout", "complete"),  # an orphan makes no row either
    )

    outcomes = _outcomes(events)

    assert outcomes[["window_start", "stage"]].astype(str).values.tolist() == [
        ["2026-10-05 00:00:00+00:00", "cart"],
        ["2026-10-05 00:10:00+00:00", "cart"],
    ]


def test_a_session_entering_twice_counts_once_in_its_first_window() -> None:
    events = _events(
        ("00:07", "s1", "cart", "enter"),
        ("00:03", "s1", "cart", "enter"),
        ("00:08", "s1", "cart", "complete"),
    )

    outcomes = _outcomes(events)

    assert len(outcomes) == 1
    assert _row(outcomes, "00:00", "cart")["completed"] == 1


def test_events_without_regions_give_outcomes_without_regions(tmp_path: Path) -> None:
    events = _events(("00:01", "s1", "cart", "enter"), ("00:02", "s1", "cart", "complete")).drop(
        columns="region"
    )
    path = _write(events, tmp_path / "session_events.csv")

    outcomes = aggregate_session_events(path, WINDOW).outcomes

    assert outcomes["region"].isna().all()
    assert _row(outcomes, "00:00", "cart") == {
        "sessions": 1,
        "completed": 1,
        "abandoned": 0,
        "errors": 0,
    }


def test_output_is_sorted_canonical_and_meets_the_contract(funnel_events: pd.DataFrame) -> None:
    outcomes = _outcomes(funnel_events)

    pd.testing.assert_frame_equal(
        validate_table(outcomes, JOURNEY_OUTCOMES, "journey_outcomes.parquet"), outcomes
    )
    assert outcomes[KEY].equals(outcomes.sort_values(KEY, ignore_index=True)[KEY])
    assert outcomes["latency_p95_ms"].isna().all()


def test_partials_of_disjoint_sessions_add_up_to_the_whole(funnel_events: pd.DataFrame) -> None:
    one_half = funnel_events["session_id"].isin(["s1", "s3"])
    halves = [funnel_events[one_half], funnel_events[~one_half]]

    combined = combine_partials(aggregate_events_frame(half, WINDOW) for half in halves)

    pd.testing.assert_frame_equal(to_journey_outcomes(combined.counts), _outcomes(funnel_events))
    assert combined.orphan_events == 1


def test_many_batches_and_partitions_give_the_one_batch_result(
    funnel_events: pd.DataFrame, tmp_path: Path
) -> None:
    path = _write(funnel_events, tmp_path / "session_events.parquet")

    whole = aggregate_session_events(path, WINDOW)
    split = aggregate_session_events(path, WINDOW, batch_rows=2, partition_rows=3)

    assert (whole.partitions, split.partitions) == (1, 4)
    pd.testing.assert_frame_equal(split.outcomes, whole.outcomes)
    pd.testing.assert_frame_equal(whole.outcomes, _outcomes(funnel_events))
    assert (split.events_read, split.orphan_events) == (12, 1)


def test_csv_events_give_the_parquet_result(funnel_events: pd.DataFrame, tmp_path: Path) -> None:
    parquet = _write(funnel_events, tmp_path / "session_events.parquet")
    csv = _write(funnel_events, tmp_path / "session_events.csv")

    from_csv = aggregate_session_events(csv, WINDOW, batch_rows=5, partition_rows=4)

    pd.testing.assert_frame_equal(
        from_csv.outcomes, aggregate_session_events(parquet, WINDOW).outcomes
    )
    assert from_csv.events_read == 12


def test_progress_ends_at_the_event_count(funnel_events: pd.DataFrame, tmp_path: Path) -> None:
    path = _write(funnel_events, tmp_path / "session_events.parquet")
    calls: list[tuple[int, int]] = []

    aggregate_session_events(path, WINDOW, lambda done, total: calls.append((done, total)))

    assert calls[-1] == (12, 12)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_the_job_writes_parquet_or_csv_that_loads_back(
    funnel_events: pd.DataFrame, tmp_path: Path
) -> None:
    events = _write(funnel_events, tmp_path / "session_events.parquet")

    result = aggregate(events, tmp_path / "out" / "journey_outcomes.parquet")
    aggregate(events, tmp_path / "out" / "journey_outcomes.csv")

    for name in ("journey_outcomes.parquet", "journey_outcomes.csv"):
        loaded = load_journey_outcomes(tmp_path / "out" / name)
        pd.testing.assert_frame_equal(loaded, result.outcomes)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "journey_outcomes.csv",
        "journey_outcomes.parquet",
    ]


def test_an_event_outside_the_vocabulary_raises_and_writes_nothing(
    funnel_events: pd.DataFrame, tmp_path: Path
) -> None:
    bad = funnel_events.astype({"event": object})
    bad.loc[3, "event"] = "purchase"
    events = _write(bad, tmp_path / "session_events.parquet")
    out = tmp_path / "out"

    with pytest.raises(ContractError) as caught:
        aggregate(events, out / "journey_outcomes.parquet")

    assert str(caught.value).startswith(
        "session_events.parquet: column 'event', row 4: expected one of"
    )
    assert not out.exists() or not any(out.iterdir())


def test_only_orphans_is_refused_rather_than_written_empty(tmp_path: Path) -> None:
    events = _write(
        _events(("00:01", "s1", "cart", "complete")), tmp_path / "session_events.parquet"
    )

    with pytest.raises(ContractError, match="at least one session that enters a stage"):
        aggregate(events, tmp_path / "journey_outcomes.parquet")

    assert not (tmp_path / "journey_outcomes.parquet").exists()


def test_simulated_events_aggregate_back_to_the_simulated_outcomes(tmp_path: Path) -> None:
    simulate(SimulationConfig(out=tmp_path / "sim", days=2, seed=5, events=True))
    expected = load_table(tmp_path / "sim" / "journey_outcomes.parquet", JOURNEY_OUTCOMES)

    result = aggregate(
        tmp_path / "sim" / "session_events.parquet", tmp_path / "journey_outcomes.parquet", 5
    )

    assert result.orphan_events == 0
    got = load_table(tmp_path / "journey_outcomes.parquet", JOURNEY_OUTCOMES)
    pd.testing.assert_frame_equal(
        got[KEY + COUNTS], expected.sort_values(KEY, ignore_index=True)[KEY + COUNTS]
    )
