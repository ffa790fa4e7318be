"""Terminal rendering of job results: tables people read at the end of a run."""

from __future__ import annotations

import math

import pandas as pd
from rich.table import Table

from models.evaluation import MODEL, Evaluation, comparison_table, rules_not_beaten


def frame_table(
    frame: pd.DataFrame, title: str, index_name: str = "", highlight: str | None = None
) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(index_name)
    for column in frame.columns:
        table.add_column(str(column), justify="right")
    for index, row in frame.iterrows():
        style = "bold" if index == highlight else None
        table.add_row(str(index), *(_cell(v) for v in row), style=style)
    return table


def comparison(evaluation: Evaluation, title: str) -> Table:
    table = frame_table(comparison_table(evaluation), title, "ranking", highlight=MODEL)
    lost = rules_not_beaten(evaluation)
    if lost:
        table.caption = (
            f"the model does NOT beat {' and '.join(lost)} on PR-AUC here: "
            "the champion gate will not promote it"
        )
        table.caption_style = "bold red"
    return table


def _cell(value) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        return f"{value:.3f}"
    return str(value)


def grouping_line(grouping: dict[str, float]) -> str:
    """Alerts → incidents in one line, with the pairwise figures when the truth was there."""
    line = (
        f"incidents: {int(grouping['alerts']):,} alerts → {int(grouping['incidents']):,} incidents "
        f"(compression {grouping['compression']:.1%})"
    )
    if "pairwise_f1" in grouping:
        line += (
            f"; against the truth: pairwise precision {grouping['pairwise_precision']:.3f}, "
            f"recall {grouping['pairwise_recall']:.3f}, F1 {grouping['pairwise_f1']:.3f} "
            f"(the truth's own compression {grouping['truth_compression']:.1%})"
        )
    return line
