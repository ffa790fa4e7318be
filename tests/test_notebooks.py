"""The notebooks run top to bottom on the sample, are what their sources build, and carry no outputs in git."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
SAMPLE_DIR = REPO / "data" / "sample"

# Whole-notebook limits in seconds (pytest-timeout); a single cell gets CELL_TIMEOUT_S.
NOTEBOOK_TIMEOUT_S = {
    "01-explore-journeys-and-alerts": 300,
    "02-train-and-compare": 600,
    "03-review-a-drift-audit": 600,
}
CELL_TIMEOUT_S = 300


def _builder():
    spec = importlib.util.spec_from_file_location(
        "build_notebooks", NOTEBOOKS / "build_notebooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _committed() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def test_every_notebook_is_listed_here():
    assert {p.stem for p in _committed()} == set(NOTEBOOK_TIMEOUT_S)


@pytest.mark.parametrize("path", _committed(), ids=lambda p: p.stem)
def test_notebook_outputs_are_stripped(path):
    notebook = nbformat.read(path, as_version=4)
    for number, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        assert cell.outputs == [], f"{path.name} cell {number} has outputs: strip them"
        assert cell.execution_count is None, f"{path.name} cell {number} has an execution count"


def test_notebooks_are_built_from_their_sources():
    built = _builder().built_notebooks()
    assert set(built) == set(_committed()), "notebooks/src/*.py and notebooks/*.ipynb differ"
    for path, text in built.items():
        assert path.read_text("utf-8") == text, (
            f"{path.name} differs from notebooks/src/{path.stem}.py: edit the source, then "
            "run `make notebooks`"
        )


@pytest.mark.integration
@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.timeout(s)) for n, s in NOTEBOOK_TIMEOUT_S.items()],
)
def test_notebook_runs_top_to_bottom(name, tmp_path, monkeypatch, capsys):
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    # The kernel inherits this environment: the sample by absolute path, and nothing of the
    # user's JourneyRank home or MLflow store (the notebooks use settings_at on a scratch folder).
    monkeypatch.setenv("JOURNEYRANK_SAMPLE", str(SAMPLE_DIR))
    monkeypatch.setenv("JOURNEYRANK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebooks' scratch folders go with the test
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel's working directory
    )
    started = time.perf_counter()
    client.execute()  # raises CellExecutionError, naming the cell, on the first error
    seconds = time.perf_counter() - started
    with capsys.disabled():
        print(f"\n{name}.ipynb executed in {seconds:.1f} s")
