"""The house's layering, checked on the source: lower layers never import higher ones, packages form no cycle.

Every import counts, those inside functions too (a lazy import is still a dependency). The package's
`__init__` is left out: it is the public face and names things from every layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pcnn_fer

SOURCE = Path(pcnn_fer.__file__).parent
# package -> the packages it must never import
FRONT_ENDS = {"cli", "serve", "cluster", "report"}  # built on the library; nothing below imports them
FORBIDDEN = {
    "models": {"data", "engine", "faces", "inference", "weights"} | FRONT_ENDS,
    "data": {"engine", "inference"} | FRONT_ENDS,
    "faces": {"engine", "inference"} | FRONT_ENDS,
    "weights": {"engine", "inference"} | FRONT_ENDS,
    "engine": {"inference"} | FRONT_ENDS,
    "inference": {"engine"} | FRONT_ENDS,
    "serve": {"cli", "cluster", "report", "engine"},
    "cluster": {"cli", "serve", "report", "engine"},
    "report": {"cli", "serve", "cluster", "engine"},
}


def _package_of(path: Path) -> str:
    parts = path.relative_to(SOURCE).with_suffix("").parts
    return parts[0]


def _imported_packages(path: Path) -> set[str]:
    """The pcnn_fer packages (first name below pcnn_fer) that the module at `path` imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] if node.module != "pcnn_fer" else [f"pcnn_fer.{a.name}" for a in node.names]
        found |= {name.split(".")[1] for name in names if name.startswith("pcnn_fer.")}
    return found


def package_graph() -> dict[str, set[str]]:
    """package -> the other packages its modules import."""
    graph: dict[str, set[str]] = {}
    for path in SOURCE.rglob("*.py"):
        if path == SOURCE / "__init__.py":
            continue
        package = _package_of(path)
        graph.setdefault(package, set()).update(_imported_packages(path) - {package})
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle between packages, as a path that returns to its start, or None."""
    state: dict[str, str] = {}
    trail: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        trail.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return trail[trail.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = "done"
        trail.pop()
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_lower_layers_import_nothing_of_higher_ones():
    graph = package_graph()
    breaches = {package: sorted(graph.get(package, set()) & forbidden) for package, forbidden in FORBIDDEN.items()}
    assert {package: names for package, names in breaches.items() if names} == {}


def test_packages_import_one_another_without_a_cycle():
    assert _cycle(package_graph()) is None


def test_the_checker_sees_lazy_imports_and_finds_cycles():
    # The rules above pass only if the checker can fail: it must find a cycle and an import inside a function.
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
    assert "engine" in _imported_packages(SOURCE / "cli" / "train.py")
