"""`journeyrank validate`: check every file of a data directory against the contract and profile it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Group
from rich.markup import escape
from rich.table import Table

from features.journey_map import JourneyMap
from features.loading import (
    DataDir,
    check_stages_in_map,
    describe_width,
    iter_session_event_batches,
    load_data_dir,
)
from features.schemas import SESSION_EVENTS_TABLE, TABLES
from features.values import SEVERITIES

TimeRange = tuple[pd.Timestamp, pd.Timestamp]
UNMAPPED_SHOWN = 10  # services named in the printed profile; the JSON lists them all


@dataclass(frozen=True)
class StageSessions:
    """Sessions that reached one stage, over the outcomes' whole period and per day."""

    journey: str
    stage: str
    position: int
    sessions: int
    sessions_per_day: float


@dataclass(frozen=True)
class DataProfile:
    """What a valid data directory holds: sizes, periods, alert mix, map coverage, traffic per stage."""

    path: str
    journey_map_version: str
    files: dict[str, str]
    rows: dict[str, int]
    time_ranges: dict[str, TimeRange]
    window: pd.Timedelta
    alert_days: int
    alerts_per_day_by_severity: dict[str, float]
    alerts_per_day_by_source: dict[str, float]
    mapped_alert_share: float
    unmapped_services: list[str]
    outcome_days: int
    sessions_by_stage: list[StageSessions]

    def to_dict(self) -> dict[str, Any]:
        """The profile as plain JSON types (timestamps in ISO 8601, the window in seconds)."""
        data = asdict(self)
        data["time_ranges"] = {
            name: [start.isoformat(), end.isoformat()]
            for name, (start, end) in self.time_ranges.items()
        }
        data["window"] = self.window.isoformat()
        data["window_seconds"] = int(self.window.total_seconds())
        return data


def validate_data_dir(path: str | Path) -> DataProfile:
    """Load and check every contract file (session events batch by batch); raise ContractError if any fails."""
    data = load_data_dir(path)
    rows = {name: len(frame) for name, frame in _tables(data).items()}
    time_ranges = {
        name: _time_range(frame[TABLES[name].time_column]) for name, frame in _timed(data).items()
    }
    if "session_events" in data.files:
        rows["session_events"], events_range = _scan_session_events(
            data.files["session_events"], data.journey_map
        )
        if events_range is not None:
            time_ranges["session_events"] = events_range
    return DataProfile(
        path=str(data.path),
        journey_map_version=data.journey_map.version,
        files={name: file.name for name, file in data.files.items()},
        rows=rows,
        time_ranges={name: span for name, span in time_ranges.items() if span is not None},
        window=data.window,
        **_alert_mix(data.alerts, data.journey_map),
        outcome_days=_days_spanned(data.journey_outcomes["window_start"]),
        sessions_by_stage=_sessions_by_stage(data.journey_outcomes, data.journey_map),
    )


def _tables(data: DataDir) -> dict[str, pd.DataFrame]:
    frames = {
        "alerts": data.alerts,
        "journey_outcomes": data.journey_outcomes,
        "changes": data.changes,
        "feedback": data.feedback,
        "truth": data.truth,
    }
    return {name: frame for name, frame in frames.items() if frame is not None}


def _timed(data: DataDir) -> dict[str, pd.DataFrame]:
    return {name: frame for name, frame in _tables(data).items() if TABLES[name].time_column}


def _time_range(times: pd.Series) -> TimeRange | None:
    times = times.dropna()
    return None if times.empty else (times.min(), times.max())


def _scan_session_events(path: Path, journey_map: JourneyMap) -> tuple[int, TimeRange | None]:
    """Validate the events batch by batch (they may not fit in memory); count rows, find the period."""
    rows, starts, ends = 0, [], []
    time_column = SESSION_EVENTS_TABLE.time_column
    for batch in iter_session_event_batches(path):
        check_stages_in_map(batch, journey_map, path.name, first_row=rows + 1)
        rows += len(batch)
        if span := _time_range(batch[time_column]):
            starts.append(span[0])
            ends.append(span[1])
    return rows, ((min(starts), max(ends)) if starts else None)


def _days_spanned(times: pd.Series) -> int:
    """Calendar days (UTC) from the first to the last time, both included; quiet days count too."""
    times = times.dropna()
    if times.empty:
        return 0
    return int((times.max().normalize() - times.min().normalize()).days) + 1


def _alert_mix(alerts: pd.DataFrame, journey_map: JourneyMap) -> dict[str, Any]:
    days = _days_spanned(alerts["fired_at"])
    by_severity = alerts["severity"].value_counts().reindex(list(SEVERITIES), fill_value=0)
    by_source = (
        alerts["source"]
        .value_counts()
        .sort_index(kind="stable")
        .sort_values(ascending=False, kind="stable")
    )
    mapped = alerts["service"].isin(journey_map.covered_services())
    unmapped = alerts.loc[~mapped, "service"].value_counts()
    return {
        "alert_days": days,
        "alerts_per_day_by_severity": _per_day(by_severity, days),
        "alerts_per_day_by_source": _per_day(by_source, days),
        "mapped_alert_share": float(mapped.mean()) if len(alerts) else 0.0,
        "unmapped_services": [str(service) for service in unmapped.index],
    }


def _per_day(counts: pd.Series, days: int) -> dict[str, float]:
    return {str(key): (float(count) / days if days else 0.0) for key, count in counts.items()}


def _sessions_by_stage(outcomes: pd.DataFrame, journey_map: JourneyMap) -> list[StageSessions]:
    days = _days_spanned(outcomes["window_start"])
    totals = outcomes.groupby(["journey", "stage"])["sessions"].sum()
    return [
        StageSessions(
            journey=stage.journey,
            stage=stage.stage,
            position=int(stage.position),
            sessions=int(totals.get((stage.journey, stage.stage), 0)),
            sessions_per_day=float(totals.get((stage.journey, stage.stage), 0)) / days
            if days
            else 0.0,
        )
        for stage in journey_map.stage_table().itertuples()
    ]


# ---------------------------------------------------------------- rendering


def render_profile(profile: DataProfile) -> Group:
    """The profile as rich tables, for `journeyrank validate` to print."""
    return Group(
        f"[bold]{escape(profile.path)}[/bold]: valid. Journey map {escape(profile.journey_map_version)}, "
        f"windows of {describe_width(profile.window)}, "
        f"{profile.mapped_alert_share:.0%} of alerts from services the map covers.",
        _unmapped_line(profile),
        _files_table(profile),
        _per_day_table(
            "Alerts per day by severity", "severity", profile.alerts_per_day_by_severity, profile
        ),
        _per_day_table(
            "Alerts per day by source", "source", profile.alerts_per_day_by_source, profile
        ),
        _stages_table(profile),
    )


def _unmapped_line(profile: DataProfile, shown: int = UNMAPPED_SHOWN) -> str:
    services = profile.unmapped_services
    if not services:
        return "Every alerting service is in the journey map."
    more = f" and {len(services) - shown} more" if len(services) > shown else ""
    return f"Alerting services not in the map (most alerts first): {escape(', '.join(services[:shown]))}{more}."


def _files_table(profile: DataProfile) -> Table:
    table = Table(title="Files")
    for header in ("table", "file", "rows", "from", "to"):
        table.add_column(header, justify="right" if header == "rows" else "left")
    for name, file in profile.files.items():
        start, end = profile.time_ranges.get(name, (None, None))
        rows = f"{profile.rows[name]:,}" if name in profile.rows else ""
        table.add_row(name, file, rows, _when(start), _when(end))
    return table


def _days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"


def _when(moment: pd.Timestamp | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


def _per_day_table(title: str, key: str, per_day: dict[str, float], profile: DataProfile) -> Table:
    table = Table(title=f"{title} (over {_days(profile.alert_days)})")
    table.add_column(key)
    table.add_column("alerts per day", justify="right")
    for name, value in per_day.items():
        table.add_row(name, f"{value:,.2f}")
    return table


def _stages_table(profile: DataProfile) -> Table:
    table = Table(title=f"Sessions per stage (over {_days(profile.outcome_days)})")
    for header in ("journey", "#", "stage", "sessions", "per day"):
        table.add_column(
            header, justify="right" if header in ("#", "sessions", "per day") else "left"
        )
    for stage in profile.sessions_by_stage:
        table.add_row(
            stage.journey,
            str(stage.position + 1),
            stage.stage,
            f"{stage.sessions:,}",
            f"{stage.sessions_per_day:,.1f}",
        )
    return table
