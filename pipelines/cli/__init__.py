"""The `newswire` command: one CLI that drives every stage, for humans and for the DAGs.

Each area registers its commands on :data:`app` from its own module, imported below.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="newswire",
    help="Arabic wire-service news: crawl, archive, process, index and search.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# Imported for their side effect of registering commands on `app`.
from pipelines.cli import (  # noqa: E402,F401
    annotate_commands,
    attribution_commands,
    crawl_commands,
    engine_commands,
    local_airflow_commands,
    process_commands,
    search_commands,
)


def main() -> None:
    app()
