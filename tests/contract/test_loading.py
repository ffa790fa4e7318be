"""Every bad input the data contract names fails with one message: file, column, row, expectation."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from contract_data import JOURNEY_MAP_YAML, START, write_table

from features.errors import ContractError, Verbatim
from features.journey_map import load_journey_map
from features.loading import (
    find_table,
    infer_window_width,
    iter_session_event_batches,
    load_alerts,
    load_changes,
    load_data_dir,
    load_feedback,
    load_journey_outcomes,
    load_session_events,
    load_truth,
    validate_table,
)
from features.schemas import ALERTS, TABLES

Write = Callable[[pd.DataFrame, str], Path]


def _message(load: Callable[..., object], *args: object) -> str:
    with pytest.raises(ContractError) as caught:
        load(*args)
    return str(caught.value)


# ---------------------------------------------------------------- the error itself


def test_contract_error_reads_as_one_line_naming_file_column_row_and_expectation() -> None:
    error = ContractError(
        "alerts.csv",
        "column 'severity'",
        "one of critical, high, warning, info",
        row=3,
        got="urgent",
    )
    assert str(error) == (
        "alerts.csv: column 'severity', row 3: expected one of critical, high, warning, info; got 'urgent'"
    )
    assert isinstance(error, ValueError)


def test_contract_error_names_lines_for_yaml_and_survives_pickling() -> None:
    error = ContractError(
        "journey_map.yaml", "journeys.a.stages[0].impact", "a number", 7, Verbatim("x")
    )
    assert (
        str(error)
        == "journey_map.yaml: journeys.a.stages[0].impact, line 7: expected a number; got x"
    )
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.file, copy.where, copy.row, str(copy)) == (error.file, error.where, 7, str(error))


# ---------------------------------------------------------------- a valid directory


def test_valid_dir_loads_with_canonical_dtypes(data_dir: Path) -> None:
    data = load_data_dir(data_dir)
    assert data.window == pd.Timedelta(minutes=5)
    assert data.alerts["fired_at"].dtype == "datetime64[ns, UTC]"
    assert data.alerts["resolved_at"].dtype == "datetime64[ns, UTC]"
    assert data.alerts["alert_id"].dtype == "str"
    assert data.alerts["anomaly_score"].dtype == "float64"
    outcomes = data.journey_outcomes
    assert outcomes["window_start"].dtype == "datetime64[ns, UTC]"
    assert outcomes[["sessions", "completed", "abandoned"]].dtypes.eq("int64").all()
    assert outcomes["errors"].dtype == "Int64"  # optional count: nullable
    assert data.feedback is not None and data.feedback["impact"].dtype == "int64"
    assert data.truth is not None and data.truth["true_impact"].dtype == "int64"
    assert set(data.files) == {*TABLES, "journey_map"}


def test_csv_and_parquet_load_identically(data_dir: Path, csv_dir: Path) -> None:
    from_parquet, from_csv = load_data_dir(data_dir), load_data_dir(csv_dir)
    for name in ("alerts", "journey_outcomes", "changes", "feedback", "truth"):
        pd.testing.assert_frame_equal(getattr(from_parquet, name), getattr(from_csv, name))
    pd.testing.assert_frame_equal(
        load_session_events(data_dir / "session_events.parquet"),
        load_session_events(csv_dir / "session_events.csv"),
    )


def test_optional_columns_absent_from_a_file_are_added_all_null(
    frames: dict[str, pd.DataFrame], write: Write
) -> None:
    optional = ["resolved_at", "signal", "anomaly_score", "region", "labels"]
    alerts = load_alerts(write(frames["alerts"].drop(columns=optional), "alerts.csv"))
    assert list(alerts.columns) == ALERTS.column_names
    assert alerts[optional].isna().all().all()
    assert alerts["resolved_at"].dtype == "datetime64[ns, UTC]"
    assert alerts["anomaly_score"].dtype == "float64"
    assert alerts["signal"].dtype == "str"


def test_other_offsets_are_converted_to_utc(frames: dict[str, pd.DataFrame], write: Write) -> None:
    alerts = frames["alerts"].assign(
        fired_at=frames["alerts"]["fired_at"].dt.tz_convert("Europe/Paris")
    )
    from_csv = load_alerts(write(alerts, "alerts.csv"))
    from_parquet = load_alerts(write(alerts, "alerts.parquet"))
    expected = frames["alerts"]["fired_at"].dt.as_unit("ns")
    assert (from_csv["fired_at"] == expected).all()
    assert (from_parquet["fired_at"] == expected).all()
    assert str(from_csv["fired_at"].dt.tz) == "UTC"


def test_na_text_is_a_value_not_a_missing_cell(
    frames: dict[str, pd.DataFrame], write: Write
) -> None:
    alerts = load_alerts(write(frames["alerts"].assign(region="NA"), "alerts.csv"))
    assert (alerts["region"] == "NA").all()


def test_missing_windows_are_fine_when_the_rest_sit_on_the_grid(
    frames: dict[str, pd.DataFrame], write: Write
) -> None:
    outcomes = frames["journey_outcomes"]
    gap = outcomes["window_start"].between(
        START + pd.Timedelta(minutes=10), START + pd.Timedelta(minutes=25)
    )
    loaded = load_journey_outcomes(write(outcomes[~gap], "journey_outcomes.parquet"))
    assert infer_window_width(loaded["window_start"]) == pd.Timedelta(minutes=5)


def test_header_only_optional_table_loads_empty(
    frames: dict[str, pd.DataFrame], write: Write
) -> None:
    changes = load_changes(write(frames["changes"].iloc[:0], "changes.csv"))
    assert changes.empty
    assert changes["ts"].dtype == "datetime64[ns, UTC]"


def test_find_table_prefers_parquet(data_dir: Path, frames: dict[str, pd.DataFrame]) -> None:
    write_table(frames["alerts"], data_dir / "alerts.csv")
    assert find_table(data_dir, "alerts") == data_dir / "alerts.parquet"
    assert find_table(data_dir, "nothing") is None


# ---------------------------------------------------------------- one test per bad input


def test_missing_required_column(frames: dict[str, pd.DataFrame], write: Write) -> None:
    path = write(frames["alerts"].drop(columns="severity"), "alerts.csv")
    assert _message(load_alerts, path).startswith(
        "alerts.csv: column 'severity': expected a column named 'severity' (required); got columns alert_id,"
    )


def test_missing_required_column_in_parquet(frames: dict[str, pd.DataFrame], write: Write) -> None:
    path = write(frames["journey_outcomes"].drop(columns="abandoned"), "journey_outcomes.parquet")
    assert _message(load_journey_outcomes, path).startswith(
        "journey_outcomes.parquet: column 'abandoned': expected a column named 'abandoned' (required)"
    )


def test_wrong_type_in_csv_names_the_row(frames: dict[str, pd.DataFrame], write: Write) -> None:
    outcomes = frames["journey_outcomes"].astype({"sessions": object})
    outcomes.loc[2, "sessions"] = "abc"
    path = write(outcomes, "journey_outcomes.csv")
    assert _message(load_journey_outcomes, path) == (
        "journey_outcomes.csv: column 'sessions', row 3: expected a whole number; got 'abc'"
    )


def test_fractional_count_is_refused(frames: dict[str, pd.DataFrame], write: Write) -> None:
    outcomes = frames["journey_outcomes"].astype({"completed": "float64"})
    outcomes.loc[4, "completed"] = 2.5
    path = write(outcomes, "journey_outcomes.parquet")
    assert _message(load_journey_outcomes, path) == (
        "journey_outcomes.parquet: column 'completed', row 5: expected a whole number; got 2.5"
    )


def test_text_where_a_timestamp_is_expected_in_csv(
    frames: dict[str, pd.DataFrame], write: Write
) -> None:
    alerts = frames["alerts"].astype({"fired_at": object})
    alerts.loc[1, "fired_at"] = "yesterday"
    assert _message(load_alerts, write(alerts, "alerts.csv")) == (
        "alerts.csv: column 'fired_at', row 2: expected an ISO 8601 timestamp, "
        "e.g. 2026-01-01T00:00:00Z; got 'yesterday'"
    )


def test_parquet_column_of_the_wrong_arrow_type(
    frames: dict[str, pd.DataFrame], write: Write
) -> None:
    alerts = frames["alerts"].assign(
        fired_at=frames["alerts"]["fired_at"].map(pd.Timestamp.isoformat)
    )
    assert _message(load_alerts, write(alerts, "alerts.parquet")) == (
        "alerts.parquet: column 'fired_at', row 1: expected a timestamp with a time zone; "
        "got 2026-03-02T00:07:00+00:00 (Arrow type large_string)"
    )


def test_naive_timestamps_in_csv_are_refused(frames: dict[str, pd.DataFrame], write: Write) -> None:
    alerts = frames["alerts"].astype({"fired_at": object})
    alerts.loc[3, "fired_at"] = "2026-03-02 00:41:00"
    assert _message(load_alerts, write(alerts, "alerts.csv")) == (
        "alerts.csv: column 'fired_at', row 4: expected an ISO 8601 timestamp with a time zone offset "
        "(Z or +00:00), e.g. 2026-01-01T00:00:00Z; got '2026-03-02 00:41:00'"
    )


def test_naive_timestamps_in_parquet_are_refused(
    frames: dict[str, pd.DataFrame], write: Write
) -> None:
    outcomes = frames["journey_outcomes"]
    naive = outcomes.assign(window_start=outcomes["window_start"].dt.tz_localize(None))
    message = _message(load_journey_outcomes, write(naive, "journey_outcomes.parquet"))
    assert message.startswith(
        "journey_outcomes.parquet: column 'window_start', row 1: expected a timestamp with a time zone "
        "(Parquet timestamp with tz=UTC); got 2026-03-02 00:00:00 (Arrow type timestamp["
    )


def test_duplicate_alert_id(frames: dict[str, pd.DataFrame], write: Write) -> None:
    alerts = frames["alerts"]
    alerts.loc[3, "alert_id"] = "a2"
    assert _message(load_alerts, write(alerts, "alerts.csv")) == (
        "alerts.csv: column 'alert_id', row 4: expected a unique alert_id; got 'a2' again (first at row 2)"
    )


def test_severity_outside_the_vocabulary(frames: dict[str, pd.DataFrame], write: Write) -> None:
    alerts = frames["alerts"]
    alerts.loc[2, "severity"] = "urgent"
    assert _message(load_alerts, write(alerts, "alerts.csv")) == (
        "alerts.csv: column 'severity', row 3: expected one of critical, high, warning, info; got 'urgent'"
    )


def test_negative_counts(frames: dict[str, pd.DataFrame], write: Write) -> None:
    outcomes = frames["journey_outcomes"]
    outcomes.loc[4, "abandoned"] = -1
    assert _message(load_journey_outcomes, write(outcomes, "journey_outcomes.csv")) == (
        "journey_outcomes.csv: column 'abandoned', row 5: expected a whole number ≥ 0; got -1"
    )


def test_completed_plus_abandoned_above_sessions(
    frames: dict[str, pd.DataFrame], write: Write
) -> None:
    outcomes = frames["journey_outcomes"]
    outcomes.loc[5, "completed"] = outcomes.loc[5, "sessions"]
    assert _message(load_journey_outcomes, write(outcomes, "journey_outcomes.csv")) == (
        "journey_outcomes.csv: columns completed, abandoned, sessions, row 6: "
        "expected completed + abandoned ≤ sessions; got completed=42, abandoned=10, sessions=42"
    )


def test_windows_of_mixed_width(frames: dict[str, pd.DataFrame], write: Write) -> None:
    outcomes = frames["journey_outcomes"]
    outcomes.loc[20, "window_start"] += pd.Timedelta(minutes=2)
    assert _message(load_journey_outcomes, write(outcomes, "journey_outcomes.csv")) == (
        "journey_outcomes.csv: column 'window_start', row 21: expected windows of one width "
        "(5 min, on the grid from 2026-03-02 00:00:00+00:00); got 2026-03-02 00:27:00+00:00"
    )


def test_duplicate_outcome_rows(frames: dict[str, pd.DataFrame], write: Write) -> None:
    outcomes = frames["journey_outcomes"]
    outcomes = pd.concat([outcomes, outcomes.iloc[[7]]], ignore_index=True)
    assert _message(load_journey_outcomes, write(outcomes, "journey_outcomes.parquet")).startswith(
        "journey_outcomes.parquet: columns window_start, journey, stage, segment, region, row 49: "
        "expected one row per window_start, journey, stage, segment, region"
    )


def test_stage_in_outcomes_that_the_map_lacks(
    data_dir: Path, frames: dict[str, pd.DataFrame]
) -> None:
    outcomes = frames["journey_outcomes"]
    outcomes.loc[8, "stage"] = "payment"
    write_table(outcomes, data_dir / "journey_outcomes.parquet")
    assert _message(load_data_dir, data_dir) == (
        "journey_outcomes.parquet: column 'stage', row 9: expected a stage of journey 'signup' "
        "in the journey map (form, confirm); got 'payment'"
    )


def test_journey_in_outcomes_that_the_map_lacks(
    frames: dict[str, pd.DataFrame], write: Write
) -> None:
    outcomes = frames["journey_outcomes"]
    outcomes.loc[1, "journey"] = "checkout"
    path = write(outcomes, "journey_outcomes.csv")
    journey_map = load_journey_map(write_yaml(path.parent, JOURNEY_MAP_YAML))
    assert _message(load_journey_outcomes, path, journey_map) == (
        "journey_outcomes.csv: column 'journey', row 2: expected a journey of the journey map (signup); "
        "got 'checkout'"
    )


def write_yaml(directory: Path, text: str) -> Path:
    path = directory / "journey_map.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("table", "column", "row", "bad", "expected"),
    [
        ("alerts", "anomaly_score", 4, 1.5, "expected a number in [0, 1]; got 1.5"),
        ("alerts", "labels", 1, "[1, 2]", "expected a JSON object as text; got '[1, 2]'"),
        ("alerts", "signal", 2, "cpu", "expected one of latency, errors, saturation,"),
        ("feedback", "impact", 2, 2, "expected 0 or 1; got 2"),
        ("truth", "true_lost_value", 3, -1.0, "expected a number ≥ 0; got -1.0"),
        (
            "session_events",
            "event",
            5,
            "click",
            "expected one of enter, complete, abandon, error; got 'click'",
        ),
    ],
)
def test_values_outside_their_domain(
    frames: dict[str, pd.DataFrame],
    write: Write,
    table: str,
    column: str,
    row: int,
    bad: object,
    expected: str,
) -> None:
    frame = frames[table].astype({column: object})
    frame.loc[row - 1, column] = bad
    loaders = {
        "alerts": load_alerts,
        "feedback": load_feedback,
        "truth": load_truth,
        "session_events": load_session_events,
    }
    message = _message(loaders[table], write(frame, f"{table}.csv"))
    assert message.startswith(f"{table}.csv: column '{column}', row {row}: {expected}")


def test_resolved_before_fired(frames: dict[str, pd.DataFrame], write: Write) -> None:
    alerts = frames["alerts"]
    alerts.loc[1, "resolved_at"] = alerts.loc[1, "fired_at"] - pd.Timedelta(minutes=1)
    assert _message(load_alerts, write(alerts, "alerts.parquet")) == (
        "alerts.parquet: columns fired_at, resolved_at, row 2: expected resolved_at at or after fired_at; "
        "got fired_at=2026-03-02 00:16:00+00:00, resolved_at=2026-03-02 00:15:00+00:00"
    )


def test_empty_required_cell(frames: dict[str, pd.DataFrame], write: Write) -> None:
    alerts = frames["alerts"]
    alerts.loc[2, "service"] = None
    assert _message(load_alerts, write(alerts, "alerts.csv")) == (
        "alerts.csv: column 'service', row 3: expected text; got an empty cell"
    )


@pytest.mark.parametrize("name", ["alerts.csv", "alerts.parquet", "session_events.parquet"])
def test_empty_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    load = load_session_events if name.startswith("session") else load_alerts
    assert (
        _message(load, path) == f"{name}: expected a header and rows; got an empty file (0 bytes)"
    )


@pytest.mark.parametrize("name", ["alerts.csv", "journey_outcomes.parquet"])
def test_header_only_where_rows_are_required(
    frames: dict[str, pd.DataFrame], write: Write, name: str
) -> None:
    table = name.split(".")[0]
    path = write(frames[table].iloc[:0], name)
    load = load_alerts if table == "alerts" else load_journey_outcomes
    assert _message(load, path) == f"{name}: expected at least one data row; got a header only"


def test_unreadable_parquet(tmp_path: Path) -> None:
    path = tmp_path / "alerts.parquet"
    path.write_bytes(b"PAR1 this is not really parquet")
    assert _message(load_alerts, path).startswith(
        "alerts.parquet: expected a readable Parquet file; got ArrowInvalid: "
    )


def test_truncated_parquet(frames: dict[str, pd.DataFrame], write: Write) -> None:
    path = write(frames["alerts"], "alerts.parquet")
    path.write_bytes(path.read_bytes()[:-40])
    assert _message(load_alerts, path).startswith(
        "alerts.parquet: expected a readable Parquet file; got "
    )


def test_unreadable_csv_names_the_row(frames: dict[str, pd.DataFrame], write: Write) -> None:
    path = write(frames["alerts"], "alerts.csv")
    lines = path.read_text().splitlines()
    lines[3] += ",extra,fields"
    path.write_text("\n".join(lines) + "\n")
    assert _message(load_alerts, path).startswith(
        "alerts.csv: row 3: expected a readable CSV file (UTF-8); got ParserError: "
    )


def test_missing_required_file(data_dir: Path) -> None:
    (data_dir / "journey_outcomes.parquet").unlink()
    assert _message(load_data_dir, data_dir) == (
        f"{data_dir}: expected journey_outcomes.parquet or journey_outcomes.csv (required); got no such file"
    )


def test_in_memory_frames_are_checked_the_same_way(frames: dict[str, pd.DataFrame]) -> None:
    alerts = frames["alerts"]
    alerts.loc[0, "severity"] = "page"
    assert _message(validate_table, alerts, ALERTS, "request body").startswith(
        "request body: column 'severity', row 1: expected one of critical, high, warning, info"
    )


# ---------------------------------------------------------------- session events, streamed


def test_session_event_batches_name_the_row_in_the_whole_file(
    frames: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    events = frames["session_events"]
    events.loc[4, "event"] = "click"
    path = tmp_path / "session_events.parquet"
    events.to_parquet(path, index=False, row_group_size=2)
    batches = iter_session_event_batches(path, batch_rows=2)
    assert len(next(batches)) == 2 and len(next(batches)) == 2
    with pytest.raises(ContractError) as caught:
        next(batches)
    assert str(caught.value) == (
        "session_events.parquet: column 'event', row 5: "
        "expected one of enter, complete, abandon, error; got 'click'"
    )


def test_session_event_csv_batches(frames: dict[str, pd.DataFrame], write: Write) -> None:
    path = write(frames["session_events"], "session_events.csv")
    batches = list(iter_session_event_batches(path, batch_rows=4))
    assert [len(batch) for batch in batches] == [4, 2]
    assert batches[1]["ts"].dtype == "datetime64[ns, UTC]"


def test_labels_round_trip_as_json_text(data_dir: Path) -> None:
    alerts = load_data_dir(data_dir).alerts
    assert json.loads(alerts.loc[0, "labels"]) == {"team": "web"}


def test_every_97th_window_30_s_late_is_off_the_grid(sample_dir: Path, tmp_path: Path) -> None:
    """Shifted rows must not pose as a 30 s grid (gaps are read within each series)."""
    outcomes = pd.read_parquet(sample_dir / "journey_outcomes.parquet")
    late = outcomes.index % 97 == 96
    outcomes.loc[late, "window_start"] += pd.Timedelta(seconds=30)
    path = tmp_path / "journey_outcomes.parquet"
    outcomes.to_parquet(path, index=False)
    first = outcomes.loc[late, "window_start"].iloc[0]
    assert _message(load_journey_outcomes, path) == (
        "journey_outcomes.parquet: column 'window_start', row 97: expected windows of one width "
        f"(5 min, on the grid from {outcomes['window_start'].min()}); got {first}"
    )


# ---------------------------------------------------------------- rows from the future


def test_a_row_dated_beyond_the_tolerance_ahead_of_the_clock_is_refused(
    frames: dict[str, pd.DataFrame], write: Write
) -> None:
    alerts = frames["alerts"]
    alerts.loc[3, ["fired_at", "resolved_at"]] = pd.Timestamp("2100-01-01", tz="UTC")
    message = _message(load_alerts, write(alerts, "alerts.parquet"))
    assert message.startswith(
        "alerts.parquet: column 'fired_at', row 4: expected a time at most 10 min ahead of the clock ("
    )
    assert message.endswith("; got 2100-01-01 00:00:00+00:00")


@pytest.mark.parametrize("name", ["journey_outcomes", "changes", "feedback"])
def test_every_table_refuses_the_future(
    frames: dict[str, pd.DataFrame], write: Write, name: str
) -> None:
    frame = frames[name]
    column = TABLES[name].time_column
    frame.loc[1, column] = pd.Timestamp.now(tz="UTC") + pd.Timedelta(hours=1)
    with pytest.raises(ContractError) as caught:
        validate_table(frame, TABLES[name], f"{name}.csv")
    assert (caught.value.where, caught.value.row) == (f"column '{column}'", 2)


def test_skew_within_the_tolerance_passes_and_the_tolerance_is_a_setting(
    frames: dict[str, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    changes = frames["changes"]
    changes.loc[0, "ts"] = pd.Timestamp.now(tz="UTC") + pd.Timedelta(minutes=5)
    assert len(validate_table(changes, TABLES["changes"], "changes.csv")) == len(changes)
    monkeypatch.setenv("JOURNEYRANK_FUTURE_TOLERANCE_MIN", "1")
    with pytest.raises(ContractError, match="at most 1 min ahead of the clock"):
        validate_table(changes, TABLES["changes"], "changes.csv")
