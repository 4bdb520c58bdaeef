"""The Typer application every command module registers on, and its global options."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

app = typer.Typer(
    name="newswire",
    help="Arabic wire-service news: crawl, archive, process, index and search.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain help: a flag reads `--json`, not `--json <bool>`, and choices read `<update|rebuild>`.
    rich_markup_mode=None,
)


@dataclass
class RunOptions:
    debug: bool = False


run_options = RunOptions()
"""The global options of this run, for the error boundary in :func:`newswire.cli.main`."""


def package_version() -> str:
    try:
        return version("newswire")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"newswire {package_version()}")
        raise typer.Exit()


@app.callback()
def global_options(
    debug: Annotated[bool, typer.Option("--debug", envvar="NEWSWIRE_DEBUG",
                                        help="Show the traceback of an error, not only its one-line message.")] = False,
    _version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                           help="Print the version and exit.")] = False,
) -> None:
    run_options.debug = debug
