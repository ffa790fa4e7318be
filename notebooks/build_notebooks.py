"""Build notebooks/*.ipynb from their Python sources in notebooks/src/ (cells marked `# %%`), outputs empty.

The sources are what reviewers read and edit: a diff of a `.py` file says what changed, a diff of
notebook JSON rarely does. `# %% [markdown]` starts a markdown cell whose lines are comments
(`# ` is dropped); `# %%` starts a code cell. tests/test_notebooks.py checks the committed notebooks
are what this script builds, and that they carry no outputs.

    uv run --frozen python notebooks/build_notebooks.py      # or: make notebooks
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NOTEBOOKS = Path(__file__).resolve().parent
SOURCES = NOTEBOOKS / "src"
CELL_MARK = re.compile(r"^# %%(?P<markdown> \[markdown\])?\s*$")
KERNEL = {"display_name": "Python 3 (JourneyRank)", "language": "python", "name": "python3"}


def parse_cells(text: str) -> list[tuple[str, str]]:
    """(kind, source) per cell, in order; text before the first mark is a module docstring and dropped."""
    cells: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        mark = CELL_MARK.match(line)
        if mark:
            cells.append(("markdown" if mark["markdown"] else "code", []))
        elif cells:
            cells[-1][1].append(line)
    return [(kind, _cell_source(kind, lines)) for kind, lines in cells]


def _cell_source(kind: str, lines: list[str]) -> str:
    if kind == "markdown":
        lines = [line[2:] if line.startswith("# ") else line.removeprefix("#") for line in lines]
    return "\n".join(lines).strip("\n")


def build_notebook(source: Path) -> nbformat.NotebookNode:
    cells = [
        new_markdown_cell(text) if kind == "markdown" else new_code_cell(text)
        for kind, text in parse_cells(source.read_text("utf-8"))
    ]
    for number, cell in enumerate(cells):
        cell["id"] = f"{source.stem[:2]}-{number:02d}"  # stable ids: rebuilding changes nothing
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = KERNEL
    notebook.metadata["language_info"] = {"name": "python"}
    return notebook


def notebook_text(source: Path) -> str:
    return nbformat.writes(build_notebook(source)) + "\n"


def built_notebooks() -> dict[Path, str]:
    """notebooks/<name>.ipynb -> its JSON text, for every source in notebooks/src/."""
    return {
        NOTEBOOKS / f"{source.stem}.ipynb": notebook_text(source)
        for source in sorted(SOURCES.glob("*.py"))
    }


def main() -> int:
    for path, text in built_notebooks().items():
        path.write_text(text, "utf-8")
        print(f"wrote {path.relative_to(NOTEBOOKS.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
