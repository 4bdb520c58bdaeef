"""The `newswire` command: one CLI that drives every stage, for humans and for the DAGs.

Each area registers its commands on :data:`newswire.cli.app.app` from its own module.
"""

from __future__ import annotations

from newswire.cli import (  # noqa: F401 (imported to register their commands)
    annotate_commands,
    attribution_commands,
    crawl_commands,
    engine_commands,
    local_airflow_commands,
    process_commands,
    search_commands,
)
from newswire.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    app()
