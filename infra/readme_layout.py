"""Writes the README's "Layout" section from the tree itself: each folder and module with the
first line of its docstring. `python infra/readme_layout.py --write` refreshes the README;
tests/test_readme_layout.py fails when the README and the tree disagree."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
START, END = "<!-- layout:start -->", "<!-- layout:end -->"

# Folders in data-flow order, with what they are; their Python modules are listed under them.
FOLDERS = {
    "kernel/": "the shared kernel: settings, records, URLs, dates, archive layout and storage, the agency table",
    "crawler/": "the Scrapy project: settings, items, middlewares, the registry-driven spider -> WARC",
    "crawler/spiders/": "the one generic spider",
    "pipelines/": "processing: one stage sequence per page, the batch edge, reprocessing, search",
    "pipelines/index/": "the engine adapter, split by job",
    "pipelines/evaluation/": "evaluations on the labelled sets, through the production stages",
    "newswire/": "the `newswire` command and what only the DAGs need",
    "newswire/cli/": "one module per group of commands",
    "dags/": "Airflow TaskFlow DAGs: schedules and wiring only",
    "infra/": "setup, the local engine's Maven project, demo mirror, test object store, production stack, Kibana objects",
    "benchmarks/": "speed and quality measured against a baseline in the same run",
    "tests/": "the suite (real engine, real crawls on 127.0.0.1, real Airflow)",
    "docs/": "architecture, search design, production, scaling out",
}


def _summary(path: Path) -> str:
    try:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    except SyntaxError:
        doc = None
    if not doc:
        return ""
    paragraph = " ".join(doc.strip().split("\n\n", 1)[0].split())
    return paragraph.split(". ", 1)[0].rstrip(".")


def layout_block() -> str:
    lines = ["```"]
    for folder, what in FOLDERS.items():
        lines.append(f"{folder:<28}{what}")
        if folder in ("tests/", "infra/", "docs/"):
            continue
        for module in sorted((REPO / folder).glob("*.py")):
            name = module.name
            summary = _summary(module)
            if not summary:
                continue
            lines.append(f"  {name:<26}{summary}")
    lines.append("```")
    return "\n".join(lines)


def readme_with_layout(readme: str) -> str:
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{layout_block()}\n{END}{tail}"


if __name__ == "__main__":
    updated = readme_with_layout(README.read_text(encoding="utf-8"))
    if "--write" in sys.argv:
        README.write_text(updated, encoding="utf-8")
    else:
        sys.stdout.write(layout_block() + "\n")
