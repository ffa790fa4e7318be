"""The import graph of the first-party packages: its cycles and the imports that run back up.

The layers are CONTRIBUTING.md's "Where things live": `features` uses nothing first-party, `models` uses
`features`, `pipeline` and `serving` use both and not each other; `benchmarks` sits on top.
Every import counts, wherever it stands (module level, inside a function, under
`TYPE_CHECKING`): an import deferred to break a circle at run time still makes the circle.

    python scripts/import_graph.py            # summary, cycles, violations, private names taken
                                              # from another module; exit 1 if any
    python scripts/import_graph.py --edges    # also every first-party edge
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("features", "models", "pipeline", "serving", "benchmarks")
LAYER = {"features": 0, "models": 1, "pipeline": 2, "serving": 2, "benchmarks": 3}


@dataclass(frozen=True)
class Edge:
    """`source` imports `target` at `line` of the source's file."""

    source: str
    target: str
    line: int


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def first_party_modules(root: Path = ROOT) -> dict[str, Path]:
    return {
        module_name(path, root): path
        for package in PACKAGES
        for path in sorted((root / package).rglob("*.py"))
    }


def _imported_names(tree: ast.AST, module: str, is_package: bool, modules: dict[str, Path]):
    """Each name an import statement reaches: `from p import m` reaches `p.m` when it is a module."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield (submodule if submodule in modules else base), node.lineno


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest first-party module `name` names (`models.ranking.Ranker` → `models.ranking`)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_edges(root: Path = ROOT) -> list[Edge]:
    modules = first_party_modules(root)
    edges: set[Edge] = set()
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for name, line in _imported_names(tree, module, path.name == "__init__.py", modules):
            target = _resolve(name, modules)
            if target and target != module and not module.startswith(f"{target}."):
                edges.add(Edge(module, target, line))
    # one edge per (source, target), at its first line
    first: dict[tuple[str, str], Edge] = {}
    for edge in sorted(edges, key=lambda e: (e.source, e.target, e.line)):
        first.setdefault((edge.source, edge.target), edge)
    return list(first.values())


def cycles(edges: list[Edge]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    graph: dict[str, list[str]] = {}
    for edge in edges:
        graph.setdefault(edge.source, []).append(edge.target)
        graph.setdefault(edge.target, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph[node]:
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def layer_violations(edges: list[Edge]) -> list[Edge]:
    """Imports of a package on the same floor or above (other than one's own package)."""
    wrong = []
    for edge in edges:
        source, target = edge.source.split(".")[0], edge.target.split(".")[0]
        if source != target and LAYER[target] >= LAYER[source]:
            wrong.append(edge)
    return sorted(wrong, key=lambda e: (e.source, e.line))


def private_imports(root: Path = ROOT) -> list[str]:
    """`from first_party import _name`: a private name taken from another module."""
    modules = first_party_modules(root)
    found = []
    for path in modules.values():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if (
                isinstance(node, ast.ImportFrom)
                and not node.level
                and _resolve(node.module, modules)
            ):
                names = [a.name for a in node.names if a.name.startswith("_")]
                found += [
                    f"{path.relative_to(root)}:{node.lineno}  {node.module}.{n}" for n in names
                ]
    return sorted(found)


def _where(edge: Edge, modules: dict[str, Path]) -> str:
    path = modules[edge.source].relative_to(ROOT)
    return f"{path}:{edge.line}  {edge.source} -> {edge.target}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", action="store_true", help="print every first-party edge")
    args = parser.parse_args(argv)
    modules = first_party_modules()
    edges = import_edges()
    found = cycles(edges)
    wrong = layer_violations(edges)
    private = private_imports()
    print(
        f"{len(modules)} modules, {len(edges)} first-party imports, "
        f"{len(found)} cycles, {len(wrong)} layer violations, {len(private)} private names imported"
    )
    for component in found:
        print("cycle: " + " <-> ".join(component))
    for edge in wrong:
        print("layer: " + _where(edge, modules))
    for where in private:
        print("private: " + where)
    if args.edges:
        for edge in sorted(edges, key=lambda e: (e.source, e.target)):
            print("edge: " + _where(edge, modules))
    return 1 if found or wrong or private else 0


if __name__ == "__main__":
    sys.exit(main())
