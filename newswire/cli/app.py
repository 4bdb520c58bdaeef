"""The Typer application every command module registers on, and its global options.

A command's module, and what that module imports, is loaded when the command is asked for (or
all of them, for the list in ``--help``): ``newswire search`` then pays for the search stack
only, not for the engine runner, the crawler's registry or the evaluation tables.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer
import typer.core
import typer.main

COMMAND_MODULES = {
    "annotate": "annotate_commands", "eval-language": "annotate_commands", "eval-dedup": "annotate_commands",
    "eval-attribution": "attribution_commands",
    "crawl": "crawl_commands", "mirror": "crawl_commands", "crawl-state": "crawl_commands",
    "engine": "engine_commands",
    "airflow-local": "local_airflow_commands",
    "extract": "process_commands", "process": "process_commands", "reprocess": "process_commands",
    "demo": "process_commands", "dead-letters": "process_commands",
    "search": "search_commands", "index": "search_commands", "eval-search": "search_commands",
    "kibana-export": "search_commands", "kibana-setup": "search_commands",
}
"""The module of :mod:`newswire.cli` that registers each top-level command (or command group)."""


class CommandsOnDemand(typer.core.TyperGroup):
    """The top-level group, whose commands are registered by their modules when first asked for."""

    def get_command(self, ctx, cmd_name):
        if cmd_name not in self.commands:
            # a name missing from COMMAND_MODULES (a typo, or a command added without its entry)
            # is looked for in every module, as are the suggestions for a typo
            self._load([COMMAND_MODULES[cmd_name]] if cmd_name in COMMAND_MODULES else COMMAND_MODULES.values())
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx):
        self._load(COMMAND_MODULES.values())
        return super().list_commands(ctx)

    def _load(self, modules) -> None:
        for module in dict.fromkeys(modules):
            importlib.import_module(f"{__package__}.{module}")
        # the modules registered on `app`; the group Typer builds from it now holds their commands
        self.commands = typer.main.get_group(app).commands


app = typer.Typer(
    name="newswire",
    cls=CommandsOnDemand,
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
