"""The house rules a newcomer relies on: no import cycles, a registry that imports no family, a
README that is a front door, and figures that live in measured.json, not in prose."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import modelzoo
from modelzoo import zootable

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "modelzoo"


def module_of(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


def import_graph() -> dict[str, set[str]]:
    """Which package modules each one imports, at its top or inside a function."""
    modules = {module_of(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert "modelzoo.zoo" in graph["modelzoo.training"], "the graph reader sees the imports"
    assert cycles(graph) == []


def test_the_registry_imports_no_family_and_nothing_that_builds():
    code = "import sys, modelzoo.registry; print(sorted(m for m in sys.modules if m.startswith('modelzoo.')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    loaded = eval(result.stdout.strip().splitlines()[-1])
    assert not [m for m in loaded if m.startswith(("modelzoo.models", "modelzoo.zoo", "modelzoo.training"))]


def test_readme_is_a_front_door_with_its_table_current():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    assert readme == zootable.readme_with_table(readme), "run: python benchmarks/accuracy.py --docs"
    assert (ROOT / zootable.DOCS).read_text() == zootable.model_zoo_page(), "run: accuracy.py --docs"
    for link in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (ROOT / link).is_file(), link
    for page in (ROOT / "docs").glob("*.md"):
        for link in re.findall(r"\]\(([^)#:]+\.md)", page.read_text()):
            assert (page.parent / link).is_file(), f"{page.name} links to {link}"


def test_figures_live_in_measured_json_not_in_docstrings():
    """A four-decimal figure in the package's code is a measurement that will go stale (a
    target's published anchor, on a `Target(...)` line, is a citation, not ours)."""
    stale = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in PACKAGE.rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"(?<![\w.])0\.\d{4}\b", line) and "Target(" not in line
    ]
    assert stale == []
    assert modelzoo.describe("cnn_mnist").measured is not None
