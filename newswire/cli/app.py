"""The Typer application every command module registers on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="newswire",
    help="Arabic wire-service news: crawl, archive, process, index and search.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
