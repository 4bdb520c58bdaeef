"""The one-way arrows of docs/architecture.md, checked on the code: crawler/ and pipelines/ meet
only in kernel/, kernel/ depends on neither, and no module imports itself back through others."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("kernel", "crawler", "pipelines", "newswire")


def _imports() -> dict[str, set[str]]:
    modules = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            name = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
            modules[name] = path
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            graph[name].update(t for t in targets if t.split(".")[0] in PACKAGES and t != name)
    return graph


def test_crawler_and_pipelines_meet_only_in_the_kernel():
    crossing = sorted((module, target) for module, targets in _imports().items() for target in targets
                      if {module.split(".")[0], target.split(".")[0]} == {"crawler", "pipelines"}
                      or module.startswith("kernel") and not target.startswith("kernel"))
    assert crossing == []


def test_no_import_cycle():
    graph = _imports()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(t for t in graph.get(module, ()) if t in graph or t in state):
            if state.get(target) == 1:
                cycles.append(path[path.index(target):] + [target])
            elif not state.get(target):
                visit(target, path)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if not state.get(module):
            visit(module, [])
    assert cycles == []
