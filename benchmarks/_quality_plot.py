"""The quality benchmark's goals drawn: each goal a panel, each run a bar coloured by whether it
meets the goal, the goal as a dashed line and, where the truth bounds a goal, what the truth
reaches on each run as a black tick. Nine runs by ten goals read faster as a picture than as the
verdict table, which names only the worst run of each."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.reports.html import DPI, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MET = "#2e7d32"
MISSED = "#c62828"
UNJUDGED = "#9e9e9e"  # a run without the figure
BOUND = "#212121"
PANEL_COLUMNS = 4
PANEL_INCHES = (3.3, 2.9)


def write_goal_board(board: pd.DataFrame, path: Path, title: str) -> Path:
    """`board` (benchmarks.quality.goal_board) drawn to a PNG at `path`."""
    fig = new_figure()
    rows, columns = _grid(board)
    fig.set_size_inches(PANEL_INCHES[0] * columns, PANEL_INCHES[1] * rows + 0.8)
    draw_goal_board(fig, board, title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    fig.clear()
    return path


def draw_goal_board(fig: Figure, board: pd.DataFrame, title: str) -> None:
    """A panel per goal of `board` (goal, run, value, target, lower_is_better, margin, bound),
    in the board's order, and one legend."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    goals = list(dict.fromkeys(board["goal"]))
    axes = fig.subplots(*_grid(board), squeeze=False).ravel()
    for ax, goal in zip(axes, goals, strict=False):
        _draw_goal(ax, board[board["goal"] == goal], goal)
    for ax in axes[len(goals) :]:
        ax.set_visible(False)
    fig.suptitle(title)
    handles = [
        Patch(color=MET, label="meets the goal"),
        Patch(color=MISSED, label="misses it"),
        Line2D([], [], color="#555555", linestyle="--", label="the goal"),
    ]
    if board["bound"].notna().any():
        truth = "what the truth reaches"
        handles.append(Line2D([], [], color=BOUND, marker="_", ls="", markersize=14, label=truth))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)


def _grid(board: pd.DataFrame) -> tuple[int, int]:
    """Rows and columns of panels: a panel per goal, PANEL_COLUMNS a row at most."""
    goals = board["goal"].nunique()
    columns = min(PANEL_COLUMNS, goals)
    return math.ceil(goals / columns), columns


def _draw_goal(ax, runs: pd.DataFrame, goal: str) -> None:
    x = np.arange(len(runs))
    margin = runs["margin"].to_numpy(dtype=float)
    colours = np.where(np.isnan(margin), UNJUDGED, np.where(margin >= 0, MET, MISSED))
    ax.bar(x, runs["value"].to_numpy(dtype=float), color=colours, width=0.7)
    target = float(runs["target"].iloc[0])
    ax.axhline(target, color="#555555", linestyle="--", linewidth=1)
    bound = runs["bound"].to_numpy(dtype=float)
    known = ~np.isnan(bound)
    if known.any():
        ax.plot(x[known], bound[known], linestyle="", marker="_", markersize=14, color=BOUND)
    sign = "<=" if runs["lower_is_better"].iloc[0] else ">="
    meeting = f"{int((margin >= 0).sum())} of {len(runs)} runs meet it"
    if not np.isnan(margin).all():
        worst = runs.iloc[int(np.nanargmin(margin))]
        meeting += f"; worst {worst['run']}: {worst['value']:.3f}"
    ax.set_title(f"{goal} {sign} {target:g}\n{meeting}", fontsize=9)
    ax.set_xticks(x, runs["run"].tolist(), rotation=90, fontsize=7)
    ax.tick_params(axis="y", labelsize=7)
