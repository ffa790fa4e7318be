"""The house the design draws: no import circle, no import running back up the layers."""

import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load_tool():
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "scripts/import_graph.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


graph = _load_tool()


def test_the_first_party_packages_have_no_import_cycle():
    assert graph.cycles(graph.import_edges()) == []


def test_no_import_runs_back_up_the_layers():
    wrong = [
        f"{e.source} -> {e.target} (line {e.line})"
        for e in graph.layer_violations(graph.import_edges())
    ]
    assert wrong == []


def test_no_module_takes_a_private_name_from_another():
    assert graph.private_imports() == []


def _tree(root: Path, files: dict[str, str]) -> Path:
    for package in graph.PACKAGES:
        (root / package).mkdir()
        (root / package / "__init__.py").write_text("")
    for name, text in files.items():
        (root / name).write_text(textwrap.dedent(text))
    return root


@pytest.fixture
def tree(tmp_path):
    return lambda files: _tree(tmp_path, files)


def test_a_deferred_import_still_closes_a_cycle(tree):
    root = tree(
        {
            "pipeline/job.py": "from pipeline.job_report import page\n",
            "pipeline/job_report.py": "def page():\n    from pipeline import job\n",
        }
    )
    assert graph.cycles(graph.import_edges(root)) == [["pipeline.job", "pipeline.job_report"]]


def test_relative_imports_resolve_inside_their_package(tree):
    root = tree({"models/a.py": "from .b import x\n", "models/b.py": "from . import a\n"})
    assert graph.cycles(graph.import_edges(root)) == [["models.a", "models.b"]]


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ("features/f.py", "from models.m import thing\n"),
        ("models/m.py", "import pipeline.p\n"),
        ("serving/s.py", "from pipeline.p import job\n"),
        ("pipeline/p.py", "from serving import s\n"),
        (
            "features/f.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from serving.s import x\n",
        ),
    ],
)
def test_an_import_up_or_across_the_top_floor_is_a_violation(tree, source, text):
    modules = {"features/f.py": "", "models/m.py": "", "pipeline/p.py": "", "serving/s.py": ""}
    root = tree({**modules, source: text})
    assert len(graph.layer_violations(graph.import_edges(root))) == 1


def test_imports_down_the_layers_are_allowed(tree):
    root = tree(
        {
            "features/f.py": "import json\n",
            "models/m.py": "from features.f import json\n",
            "pipeline/p.py": "from models import m\nfrom features import f\n",
            "serving/s.py": "import models.m\n",
            "benchmarks/b.py": "from pipeline import p\nfrom serving import s\n",
        }
    )
    edges = graph.import_edges(root)
    assert len(edges) == 6
    assert graph.layer_violations(edges) == []
    assert graph.cycles(edges) == []


def test_a_private_name_taken_from_another_module_is_found(tree):
    root = tree(
        {"models/a.py": "def _helper(): ...\n", "models/b.py": "from models.a import _helper\n"}
    )
    assert graph.private_imports(root) == ["models/b.py:1  models.a._helper"]
