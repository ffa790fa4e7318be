"""The quality benchmark's goal board (benchmarks/quality.py::goal_board): every goal judged on
every run, and its picture (benchmarks/_quality_plot.py): a panel per goal, each run's bar
coloured by its verdict, the goal as a dashed line and what the truth reaches as a tick."""

from __future__ import annotations

import matplotlib.colors as mcolors
import numpy as np
import pytest
from matplotlib.image import imread

from benchmarks._quality_plot import MET, MISSED, UNJUDGED, draw_goal_board, write_goal_board
from benchmarks.quality import goal_board, verdicts
from pipeline.reports.html import new_figure

GOALS = {"iw_recall / oracle": 0.8, "label precision": 0.8, "pages_per_true_incident": 1.1}
FIGURES = {
    "shop 1": {
        "iw_recall / oracle": 0.87,
        "perfect probability iw_recall / oracle": 0.98,
        "label precision": 0.93,
        "pages_per_true_incident": 1.05,
        "truth_pages_per_true_incident": 1.0,
    },
    "media 2": {
        "iw_recall / oracle": 0.72,
        "perfect probability iw_recall / oracle": 0.83,
        "pages_per_true_incident": 1.9,
        "truth_pages_per_true_incident": 1.4,
    },  # judged without labels
}


def test_the_board_judges_every_goal_on_every_run_and_fewer_pages_are_better():
    board = goal_board(FIGURES, GOALS).set_index(["goal", "run"])
    assert len(board) == len(GOALS) * len(FIGURES)
    assert board.loc[("iw_recall / oracle", "media 2"), "margin"] == pytest.approx(0.72 - 0.8)
    assert board.loc[("iw_recall / oracle", "media 2"), "bound"] == pytest.approx(0.83)
    pages = board.loc[("pages_per_true_incident", "shop 1")]
    assert pages["lower_is_better"] and pages["margin"] == pytest.approx(1.1 - 1.05)  # met
    assert board.loc[("pages_per_true_incident", "media 2"), "margin"] < 0  # 1.9 pages: missed
    assert np.isnan(board.loc[("label precision", "media 2"), "margin"])  # no such figure
    assert np.isnan(board.loc[("label precision", "shop 1"), "bound"])  # the truth bounds it not


def test_the_verdicts_name_the_worst_run_on_the_board():
    table = verdicts(goal_board(FIGURES, GOALS))
    assert table.loc["iw_recall / oracle", "worst run"] == "media 2"
    assert table.loc["iw_recall / oracle", "runs meeting it"] == "1 of 2"
    assert table.loc["label precision", "worst run"] == "shop 1"  # the one run judged
    assert table.loc["label precision", "runs meeting it"] == "1 of 2"


def test_each_goal_is_a_panel_with_each_run_coloured_by_its_verdict():
    fig = new_figure()
    draw_goal_board(fig, goal_board(FIGURES, GOALS), "Each goal on every run")
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == len(GOALS)
    expected = {
        "iw_recall / oracle": [MET, MISSED],
        "label precision": [MET, UNJUDGED],
        "pages_per_true_incident": [MET, MISSED],
    }
    for ax, (goal, colours) in zip(panels, expected.items(), strict=True):
        assert ax.get_title().startswith(goal)
        faces = [mcolors.to_hex(bar.get_facecolor()) for bar in ax.patches]
        assert faces == [mcolors.to_hex(c) for c in colours]
        assert [t.get_text() for t in ax.get_xticklabels()] == ["shop 1", "media 2"]
        dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
        assert len(dashed) == 1 and dashed[0].get_ydata()[0] == GOALS[goal]
    iwr, labels, pages = panels
    assert "1 of 2 runs meet it; worst media 2: 0.720" in iwr.get_title()
    assert "<= 1.1" in pages.get_title()
    ticks = [line for line in iwr.get_lines() if line.get_marker() == "_"]
    assert list(ticks[0].get_ydata()) == [0.98, 0.83]  # what a perfect probability reaches
    assert not [line for line in labels.get_lines() if line.get_marker() == "_"]
    assert "what the truth reaches" in [t.get_text() for t in fig.legends[0].get_texts()]


def test_the_legend_names_no_tick_where_the_truth_bounds_no_goal():
    fig = new_figure()
    labels_only = {run: {"label precision": 0.9} for run in FIGURES}
    draw_goal_board(fig, goal_board(labels_only, {"label precision": 0.8}), "Label goals")
    named = [t.get_text() for t in fig.legends[0].get_texts()]
    assert named == ["meets the goal", "misses it", "the goal"]


def test_the_board_is_written_as_a_picture_where_asked(tmp_path):
    path = write_goal_board(goal_board(FIGURES, GOALS), tmp_path / "deep" / "goals.png", "Goals")
    assert path == tmp_path / "deep" / "goals.png"
    height, width, _ = imread(path).shape
    assert width > height > 100  # four panels a row at most: three panels side by side
