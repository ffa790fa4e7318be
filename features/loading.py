"""Load each contract file (Parquet or CSV) into canonical dtypes, or fail with one ContractError."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from features.clock import Clock
from features.errors import ContractError, Verbatim
from features.journey_map import JourneyMap, load_journey_map
from features.schemas import (
    ALERTS,
    CHANGES,
    FEEDBACK,
    JOURNEY_OUTCOMES,
    KIND_EXPECTED,
    SESSION_EVENTS_TABLE,
    TABLES,
    TIMESTAMP_DTYPE,
    TRUTH,
    ColumnSpec,
    SchemaErrors,
    TableSpec,
)

JOURNEY_MAP_FILE = "journey_map.yaml"
TABLE_SUFFIXES = (".parquet", ".csv")  # in order of preference
SESSION_BATCH_ROWS = 1_000_000

# An ISO 8601 time of day followed by its offset: 'Z', '+02:00', '-0500' or '+02'.
_TIME_WITH_OFFSET = re.compile(
    r"[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$", re.IGNORECASE
)
_CSV_LINE = re.compile(r"line (\d+)")
PathLike = str | Path


# ---------------------------------------------------------------- one loader per file


def load_alerts(path: PathLike) -> pd.DataFrame:
    return load_table(path, ALERTS)


def load_journey_outcomes(path: PathLike, journey_map: JourneyMap | None = None) -> pd.DataFrame:
    """Load outcomes; also check windows share one width and, given a map, that its stages exist."""
    path = Path(path)
    outcomes = load_table(path, JOURNEY_OUTCOMES)
    check_window_grid(outcomes["window_start"], path.name, outcomes)
    if journey_map is not None:
        check_stages_in_map(outcomes, journey_map, path.name)
    return outcomes


def load_session_events(path: PathLike) -> pd.DataFrame:
    batches = list(iter_session_event_batches(path))
    if not batches:
        return empty_frame(SESSION_EVENTS_TABLE)
    return pd.concat(batches, ignore_index=True)


def iter_session_event_batches(
    path: PathLike, batch_rows: int = SESSION_BATCH_ROWS
) -> Iterator[pd.DataFrame]:
    """Stream session events a batch at a time, each validated; errors name the row in the file."""
    path = existing_file(path)
    first_row = 1
    for raw in _iter_raw_batches(path, SESSION_EVENTS_TABLE, batch_rows):
        yield validate_table(raw, SESSION_EVENTS_TABLE, path.name, first_row)
        first_row += len(raw)


def load_changes(path: PathLike) -> pd.DataFrame:
    return load_table(path, CHANGES)


def load_feedback(path: PathLike) -> pd.DataFrame:
    return load_table(path, FEEDBACK)


def load_truth(path: PathLike) -> pd.DataFrame:
    return load_table(path, TRUTH)


def load_table(path: PathLike, spec: TableSpec) -> pd.DataFrame:
    """Read a whole contract table and return it validated, in canonical dtypes."""
    path = existing_file(path)
    raw = next(_iter_raw_batches(path, spec, batch_rows=None))
    if spec.rows_required and raw.empty:
        raise ContractError(path.name, "", "at least one data row", got=Verbatim("a header only"))
    return validate_table(raw, spec, path.name)


# ---------------------------------------------------------------- the data directory


@dataclass(frozen=True, eq=False)
class DataDir:
    """A loaded, validated data directory (session_events stay on disk: see `files`)."""

    path: Path
    journey_map: JourneyMap
    alerts: pd.DataFrame
    journey_outcomes: pd.DataFrame
    changes: pd.DataFrame | None
    feedback: pd.DataFrame | None
    truth: pd.DataFrame | None
    window: pd.Timedelta
    files: dict[str, Path]


def find_table(data_dir: PathLike, name: str) -> Path | None:
    """`<name>.parquet` if present, else `<name>.csv`, else None."""
    for suffix in TABLE_SUFFIXES:
        candidate = Path(data_dir) / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def find_data_files(data_dir: PathLike) -> dict[str, Path]:
    """Every contract file present in the directory, by table name (and 'journey_map')."""
    data_dir = Path(data_dir)
    files = {name: found for name in TABLES if (found := find_table(data_dir, name)) is not None}
    journey_map = data_dir / JOURNEY_MAP_FILE
    if journey_map.is_file():
        files["journey_map"] = journey_map
    return files


def load_data_dir(data_dir: PathLike) -> DataDir:
    """Load and validate every contract file of a data directory except the (large) session events."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise ContractError(
            str(data_dir), "", "a data directory", got=Verbatim("no such directory")
        )
    files = find_data_files(data_dir)
    _require_files(data_dir, files)
    journey_map = load_journey_map(files["journey_map"])
    outcomes = load_journey_outcomes(files["journey_outcomes"], journey_map)
    return DataDir(
        path=data_dir,
        journey_map=journey_map,
        alerts=load_alerts(files["alerts"]),
        journey_outcomes=outcomes,
        changes=_load_if_present(files, "changes", load_changes),
        feedback=_load_if_present(files, "feedback", load_feedback),
        truth=_load_if_present(files, "truth", load_truth),
        window=infer_window_width(outcomes["window_start"], outcomes),
        files=files,
    )


def _require_files(data_dir: Path, files: dict[str, Path]) -> None:
    required = [spec.name for spec in TABLES.values() if spec.required_file] + ["journey_map"]
    for name in required:
        if name not in files:
            wanted = JOURNEY_MAP_FILE if name == "journey_map" else f"{name}.parquet or {name}.csv"
            raise ContractError(
                str(data_dir), "", f"{wanted} (required)", got=Verbatim("no such file")
            )


def _load_if_present(
    files: dict[str, Path], name: str, load: Callable[[Path], pd.DataFrame]
) -> pd.DataFrame | None:
    return load(files[name]) if name in files else None


# ---------------------------------------------------------------- windows and the journey map


SERIES_COLUMNS = (
    "journey",
    "stage",
    "segment",
    "region",
)  # one outcome series: its windows in turn


def infer_window_width(
    window_starts: pd.Series, series: pd.DataFrame | None = None
) -> pd.Timedelta:
    """The most common gap between consecutive window starts (the smallest, on a tie).

    Given the outcome `series` columns (same rows), gaps are taken within each series: a few
    shifted rows then cannot pose as a narrower grid (every 97th row 30 s late puts a 30 s and a
    4 min 30 s gap between distinct starts of a 5-min grid; within its series, the width stays).
    Without them, or with one window per series, between the distinct starts of all rows.
    """
    gaps = _gaps_within_series(window_starts, series) if series is not None else None
    if gaps is None or gaps.empty:
        distinct = pd.Series(window_starts.dropna().unique()).sort_values()
        gaps = distinct.diff().dropna()
    if gaps.empty:
        raise ValueError("at least two distinct window_start values are needed to infer the width")
    counts = gaps.value_counts()
    return pd.Timedelta(counts[counts == counts.max()].index.min())


def _gaps_within_series(window_starts: pd.Series, series: pd.DataFrame) -> pd.Series:
    keys = [c for c in SERIES_COLUMNS if c in series.columns]
    frame = series[keys].assign(_start=window_starts.to_numpy())
    ordered = frame.sort_values([*keys, "_start"], kind="stable")
    same = (ordered[keys].shift() == ordered[keys]) | (
        ordered[keys].isna() & ordered[keys].shift().isna()
    )
    gaps = ordered["_start"].diff()[same.all(axis=1)]
    return gaps[gaps > pd.Timedelta(0)]


def check_window_grid(
    window_starts: pd.Series, file: str, series: pd.DataFrame | None = None
) -> pd.Timedelta:
    """Every window must start on one grid of the inferred width; whole gaps (empty windows) are fine."""
    try:
        width = infer_window_width(window_starts, series)
    except ValueError:
        expected = (
            "at least two distinct window_start values (the window width is inferred from them)"
        )
        raise ContractError(file, "column 'window_start'", expected, got=Verbatim("one")) from None
    origin = window_starts.min()
    off_grid = ((window_starts - origin) % width) != pd.Timedelta(0)
    if off_grid.any():
        position = int(off_grid.to_numpy().argmax())
        expected = f"windows of one width ({describe_width(width)}, on the grid from {origin})"
        raise ContractError(
            file,
            "column 'window_start'",
            expected,
            row=position + 1,
            got=window_starts.iloc[position],
        )
    return width


def describe_width(width: pd.Timedelta) -> str:
    """5 minutes -> '5 min'; widths that are not whole minutes as pandas writes them."""
    seconds = int(width.total_seconds())
    return f"{seconds // 60} min" if seconds % 60 == 0 else str(width)


def check_stages_in_map(
    frame: pd.DataFrame, journey_map: JourneyMap, file: str, first_row: int = 1
) -> None:
    """Every (journey, stage) of the frame must be a stage of the journey map."""
    stages = journey_map.stage_table()
    known = pd.MultiIndex.from_frame(stages[["journey", "stage"]])
    unknown = ~pd.MultiIndex.from_frame(frame[["journey", "stage"]]).isin(known)
    if not unknown.any():
        return
    position = int(unknown.argmax())
    journey, stage = frame["journey"].iloc[position], frame["stage"].iloc[position]
    if journey not in journey_map.journeys:
        where, got = "column 'journey'", journey
        expected = f"a journey of the journey map ({', '.join(journey_map.journeys)})"
    else:
        where, got = "column 'stage'", stage
        names = stages.loc[stages["journey"] == journey, "stage"]
        expected = f"a stage of journey '{journey}' in the journey map ({', '.join(names)})"
    raise ContractError(file, where, expected, row=first_row + position, got=got)


# ---------------------------------------------------------------- reading files


def existing_file(path: PathLike) -> Path:
    path = Path(path)
    if not path.is_file():
        raise ContractError(path.name, "", "an existing file", got=Verbatim(f"no file at {path}"))
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise ContractError(
            path.name, "", "a .parquet or .csv file", got=Verbatim(path.suffix or "no suffix")
        )
    if path.stat().st_size == 0:
        raise ContractError(
            path.name, "", "a header and rows", got=Verbatim("an empty file (0 bytes)")
        )
    return path


def _iter_raw_batches(
    path: Path, spec: TableSpec, batch_rows: int | None
) -> Iterator[pd.DataFrame]:
    """The file as raw frames (Parquet columns type-checked, CSV as text); one frame if no batch size."""
    if path.suffix.lower() == ".parquet":
        yield from _iter_parquet(path, spec, batch_rows)
    else:
        yield from _iter_csv(path, batch_rows)


def _iter_parquet(path: Path, spec: TableSpec, batch_rows: int | None) -> Iterator[pd.DataFrame]:
    with _parquet_errors_as_contract_errors(path.name):
        parquet = pq.ParquetFile(path)
        _require_columns(parquet.schema_arrow.names, spec, path.name)
        if batch_rows is None:
            batches: Iterator[pa.RecordBatch | pa.Table] = iter([parquet.read()])
        else:
            batches = parquet.iter_batches(batch_size=batch_rows)
        first_row, empty = 1, True
        for batch in batches:
            _check_arrow_types(batch, spec, path.name, first_row)
            first_row, empty = first_row + batch.num_rows, False
            yield batch.to_pandas()
    if empty:  # a Parquet file with no row groups still has a schema
        yield parquet.schema_arrow.empty_table().to_pandas()


@contextmanager
def _parquet_errors_as_contract_errors(file: str) -> Iterator[None]:
    # pyarrow reports a corrupt or truncated file in many ways; the user needs one message.
    try:
        yield
    except (pa.ArrowException, OSError) as exc:
        got = Verbatim(f"{type(exc).__name__}: {exc}")
        raise ContractError(file, "", "a readable Parquet file", got=got) from None


def _iter_csv(path: Path, batch_rows: int | None) -> Iterator[pd.DataFrame]:
    # Read every cell as text and convert per column, so a bad value is named by row, not guessed.
    # Only an empty cell is missing: 'NA' is a region and 'null' a possible service name.
    # utf-8-sig: spreadsheets put a byte-order mark before the first column name.
    options = {"dtype": str, "keep_default_na": False, "na_values": [""], "encoding": "utf-8-sig"}
    try:
        if batch_rows is None:
            yield pd.read_csv(path, **options)
        else:
            yield from pd.read_csv(path, chunksize=batch_rows, **options)
    except pd.errors.EmptyDataError:
        raise ContractError(
            path.name, "", "a header and rows", got=Verbatim("an empty file")
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        line = _CSV_LINE.search(str(exc))
        row = int(line.group(1)) - 1 if line else None  # line 1 is the header
        got = Verbatim(f"{type(exc).__name__}: {exc}")
        raise ContractError(
            path.name, "", "a readable CSV file (UTF-8)", row=row, got=got
        ) from None


def _require_columns(columns: list[str], spec: TableSpec, file: str) -> None:
    for name in spec.required_columns:
        if name not in columns:
            got = Verbatim(f"columns {', '.join(map(str, columns))}" if columns else "no columns")
            raise ContractError(
                file, f"column '{name}'", f"a column named '{name}' (required)", got=got
            )


# ---------------------------------------------------------------- Arrow types (Parquet)


def _arrow_is_text(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        return _arrow_is_text(kind.value_type)
    return (
        pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
    )


def _is_number(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)


_ARROW_ACCEPTS: dict[str, Callable[[pa.DataType], bool]] = {
    "string": _arrow_is_text,
    "timestamp": pa.types.is_timestamp,
    "int": _is_number,  # whole-number floats are accepted, then checked value by value
    "float": _is_number,
}


def _check_arrow_types(
    batch: pa.RecordBatch | pa.Table, spec: TableSpec, file: str, first_row: int
) -> None:
    for column in spec.columns:
        if column.name not in batch.schema.names:
            continue
        values = batch.column(column.name)
        kind = values.type
        if pa.types.is_null(kind) or batch.num_rows == 0:
            continue
        if not _ARROW_ACCEPTS[column.dtype](kind):
            _raise_arrow_type(values, column, file, first_row, KIND_EXPECTED[column.dtype])
        if column.dtype == "timestamp" and kind.tz is None:
            expected = "a timestamp with a time zone (Parquet timestamp with tz=UTC)"
            _raise_arrow_type(values, column, file, first_row, expected)


def _raise_arrow_type(
    values: pa.Array | pa.ChunkedArray, column: ColumnSpec, file: str, first_row: int, expected: str
) -> None:
    position = pc.index(pc.is_valid(values), True).as_py()
    row = None if position < 0 else first_row + position
    shown = "" if position < 0 else f"{values[position].as_py()!s} "
    got = Verbatim(f"{shown}(Arrow type {values.type})")
    raise ContractError(file, f"column '{column.name}'", expected, row=row, got=got)


# ---------------------------------------------------------------- canonical dtypes and values


def validate_table(
    raw: pd.DataFrame, spec: TableSpec, file: str, first_row: int = 1, clock: Clock | None = None
) -> pd.DataFrame:
    """Bring a raw frame to the spec's canonical dtypes and check its values; rows counted from first_row.

    Also the entry point for frames that never were files (request bodies): pass a `file` label.
    No time may lie further ahead of `clock` (default: the wall clock) than its tolerance.
    """
    _require_columns(list(raw.columns), spec, file)
    frame = raw.reset_index(drop=True)
    converted = {
        column.name: _convert_column(frame, column, file, first_row) for column in spec.columns
    }
    extras = [name for name in frame.columns if name not in converted]
    frame = pd.concat([pd.DataFrame(converted, index=frame.index), frame[extras]], axis=1)
    _check_values(frame, spec, file, first_row)
    check_not_future(frame, spec, file, first_row, clock or Clock.from_settings())
    return frame


def check_not_future(
    frame: pd.DataFrame, spec: TableSpec, file: str, first_row: int, clock: Clock
) -> None:
    """Refuse the first row dated more than the tolerance ahead of the clock (features/clock.py)."""
    for column in spec.columns:
        if column.dtype != "timestamp" or column.name not in frame:
            continue
        position = clock.first_future(frame[column.name])
        if position is not None:
            got = frame[column.name].iloc[position]
            where = f"column '{column.name}'"
            raise ContractError(file, where, clock.expected(), row=first_row + position, got=got)


def empty_frame(spec: TableSpec) -> pd.DataFrame:
    """A table with no rows but every contract column, in canonical dtypes."""
    return pd.DataFrame(
        {column.name: pd.Series(dtype=column.pandas_dtype) for column in spec.columns}
    )


def _convert_column(
    frame: pd.DataFrame, column: ColumnSpec, file: str, first_row: int
) -> pd.Series:
    if column.name not in frame.columns:
        # An optional column a file leaves out is all-null, so later code can rely on it existing.
        return pd.Series(None, index=frame.index, dtype=column.pandas_dtype)
    values = frame[column.name]
    where = _Where(file, column, first_row)
    if not column.allows_null:
        where.fail_if(values.isna(), values, KIND_EXPECTED[column.dtype], Verbatim("an empty cell"))
    return _CONVERTERS[column.dtype](values, where)


@dataclass(frozen=True)
class _Where:
    """Where a column's values come from, to name the first bad one in a ContractError."""

    file: str
    column: ColumnSpec
    first_row: int

    def fail_if(self, bad: pd.Series, values: pd.Series, expected: str, got: object = None) -> None:
        if bad.any():
            position = int(bad.to_numpy().argmax())
            raise self.error(position, expected, values.iloc[position] if got is None else got)

    def error(self, position: int, expected: str, got: object) -> ContractError:
        where = f"column '{self.column.name}'"
        return ContractError(self.file, where, expected, row=self.first_row + position, got=got)


def _to_string(values: pd.Series, where: _Where) -> pd.Series:
    where.fail_if(values.notna() & ~_holds_text(values), values, "text")
    return values.astype(where.column.pandas_dtype)


def _holds_text(values: pd.Series) -> pd.Series:
    """True where a value is text or missing."""
    if isinstance(values.dtype, pd.StringDtype):
        return pd.Series(True, index=values.index)
    is_text = values.astype(object).map(lambda value: isinstance(value, str), na_action="ignore")
    return is_text.fillna(True).astype(bool)


_ISO_EXAMPLE = "e.g. 2026-01-01T00:00:00Z"


def _to_timestamp(values: pd.Series, where: _Where) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return _as_utc(values.dt.tz_convert("UTC"), where)
    if pd.api.types.is_datetime64_dtype(values.dtype):
        # Refused, not guessed: a naive time could be any zone.
        naive = values.notna()
        got = Verbatim(f"{values[naive].iloc[0]} (no time zone)") if naive.any() else None
        where.fail_if(naive, values, "a timestamp with a time zone", got)
        return values.dt.tz_localize("UTC").astype(TIMESTAMP_DTYPE)  # all null
    where.fail_if(
        values.notna() & ~_holds_text(values), values, f"an ISO 8601 timestamp, {_ISO_EXAMPLE}"
    )
    return _parse_timestamps(values.astype("str"), where)


def _parse_timestamps(text: pd.Series, where: _Where) -> pd.Series:
    parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    unparsed = text.notna() & parsed.isna()
    naive = text.notna() & ~text.str.contains(_TIME_WITH_OFFSET, na=False)
    bad = unparsed | naive
    if bad.any():
        position = int(bad.to_numpy().argmax())
        zone = "" if unparsed.iloc[position] else " with a time zone offset (Z or +00:00)"
        expected = f"an ISO 8601 timestamp{zone}, {_ISO_EXAMPLE}"
        raise where.error(position, expected, text.iloc[position])
    return _as_utc(parsed, where)


def _as_utc(values: pd.Series, where: _Where) -> pd.Series:
    try:
        return values.astype(TIMESTAMP_DTYPE)
    except (OverflowError, pd.errors.OutOfBoundsDatetime):
        expected = "a timestamp between 1677 and 2262"
        raise ContractError(where.file, f"column '{where.column.name}'", expected) from None


def _to_number(values: pd.Series, where: _Where) -> pd.Series:
    if pd.api.types.is_bool_dtype(values.dtype) or not pd.api.types.is_numeric_dtype(values.dtype):
        numbers = pd.to_numeric(values.astype(object).where(_holds_text(values)), errors="coerce")
    else:
        numbers = values.astype("float64")
    where.fail_if(values.notna() & numbers.isna(), values, KIND_EXPECTED[where.column.dtype])
    return numbers


def _to_float(values: pd.Series, where: _Where) -> pd.Series:
    return _to_number(values, where).astype(where.column.pandas_dtype)


def _to_int(values: pd.Series, where: _Where) -> pd.Series:
    if pd.api.types.is_integer_dtype(values.dtype):
        return values.astype(where.column.pandas_dtype)
    numbers = _to_number(values, where)
    where.fail_if(numbers.notna() & (numbers % 1 != 0), values, "a whole number")
    return numbers.astype("Int64").astype(where.column.pandas_dtype)


_CONVERTERS: dict[str, Callable[[pd.Series, _Where], pd.Series]] = {
    "string": _to_string,
    "timestamp": _to_timestamp,
    "int": _to_int,
    "float": _to_float,
}


def _check_values(frame: pd.DataFrame, spec: TableSpec, file: str, first_row: int) -> None:
    try:
        spec.schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        raise _first_failure(exc.failure_cases, frame, spec, file, first_row) from None


def _first_failure(
    cases: pd.DataFrame, frame: pd.DataFrame, spec: TableSpec, file: str, first_row: int
) -> ContractError:
    """The failure in the earliest row (then the leftmost column), as one ContractError."""
    located = cases[cases["index"].notna()]
    if located.empty:  # a whole-column failure (e.g. dtype): no row to name
        case = cases.iloc[0]
        return ContractError(
            file, f"column '{case['column']}'", str(case["check"]), got=case["failure_case"]
        )
    order = {name: i for i, name in enumerate(frame.columns)}
    located = located.assign(
        _row=located["index"].astype("int64"),
        _col=located["column"].map(lambda name: order.get(name, -1)),
    )
    case = located.sort_values(["_row", "_col"]).iloc[0]
    position = int(case["_row"])
    row = first_row + position
    rule = (
        spec.rule_for(str(case["check"])) if case["schema_context"] == "DataFrameSchema" else None
    )
    if rule is not None:
        got = Verbatim(", ".join(f"{name}={frame[name].iloc[position]}" for name in rule.columns))
        return ContractError(
            file, f"columns {', '.join(rule.columns)}", rule.expected, row=row, got=got
        )
    if case["check"] == "field_uniqueness":
        return _duplicate_error(frame, str(case["column"]), position, file, first_row)
    return ContractError(
        file, f"column '{case['column']}'", str(case["check"]), row=row, got=case["failure_case"]
    )


def _duplicate_error(
    frame: pd.DataFrame, column: str, position: int, file: str, first_row: int
) -> ContractError:
    value = frame[column].iloc[position]
    first = int((frame[column] == value).to_numpy().argmax())
    got = Verbatim(f"'{value}' again (first at row {first_row + first})")
    return ContractError(
        file, f"column '{column}'", f"a unique {column}", row=first_row + position, got=got
    )
