"""The `newswire` command: one CLI that drives every stage, for humans and for the DAGs.

Each area registers its commands on :data:`newswire.cli.app.app` from its own module;
:func:`main` is the one place where errors become a one-line message and an exit status.
"""

from __future__ import annotations

import sys
import traceback

import typer
from pydantic import SecretStr, ValidationError

from kernel.agencies import AgencyTableError
from kernel.registry import RegistryError
from kernel.settings import Settings
from kernel.storage import StorageError
from newswire.cli import (  # noqa: F401 (imported to register their commands)
    annotate_commands,
    attribution_commands,
    crawl_commands,
    engine_commands,
    local_airflow_commands,
    process_commands,
    search_commands,
)
from newswire.cli.app import app, run_options
from pipelines.index import SearchEngineError
from pipelines.kibana import KibanaSetupError
from pipelines.local_engine import EngineError

__all__ = ["app", "main"]

KNOWN_ERRORS = {SearchEngineError: "search engine", RegistryError: "source registry", AgencyTableError: "agency table",
                EngineError: "local engine", KibanaSetupError: "Kibana setup", StorageError: "storage"}
"""What goes wrong outside the program (engine down, bad registry or agency table, local node
that does not start, archive or processed root out of reach), with the name the error line gives it: the message says what and where,
a traceback would say nothing more."""


def settings_problem(error: ValidationError) -> str:
    """`NEWSWIRE_X: what is wrong (got value)` for each invalid setting; secrets are not repeated."""
    problems = []
    for item in error.errors():
        name = str(item["loc"][0]) if item["loc"] else ""
        field = Settings.model_fields.get(name)
        secret = field is not None and SecretStr in getattr(field.annotation, "__args__", (field.annotation,))
        got = "" if secret else f" (got {item.get('input')!r})"
        problems.append(f"NEWSWIRE_{name.upper()}: {item['msg']}{got}")
    return "; ".join(problems)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _fail(message: str, status: int) -> None:
    if run_options.debug:
        traceback.print_exc()
    sys.stderr.write(_one_line(message) + "\n")
    sys.exit(status)


def main() -> None:
    """Run the CLI; every error a user can cause or fix ends in one line on stderr and a
    non-zero status (2: the command line was wrong, 1: the command failed). ``--debug`` or
    NEWSWIRE_DEBUG=1 adds the traceback."""
    try:
        status = app(standalone_mode=False)
    except typer.TyperException as error:  # usage: unknown option, bad value, missing argument
        where = error.ctx.command_path if getattr(error, "ctx", None) else "newswire"
        _fail(f"{where}: {error.format_message()} (see --help)", error.exit_code)
    except typer.Abort:
        _fail("aborted", 1)
    except ValidationError as error:
        if error.title != Settings.__name__:
            raise  # a record that does not validate is a bug: its traceback is wanted
        _fail(f"invalid setting: {settings_problem(error)}", 2)
    except tuple(KNOWN_ERRORS) as error:
        _fail(f"newswire: {next(n for t, n in KNOWN_ERRORS.items() if isinstance(error, t))}: {error}", 1)
    sys.exit(status if isinstance(status, int) else 0)
