"""The `newswire` command: one CLI that drives every stage, for humans and for the DAGs.

Each area registers its commands on :data:`newswire.cli.app.app` from its own module, loaded
when one of its commands runs (:data:`newswire.cli.app.COMMAND_MODULES`); :func:`main` is the
one place where errors become a one-line message and an exit status.
"""

from __future__ import annotations

import sys
import traceback

import typer
from pydantic import SecretStr, ValidationError

from kernel.settings import Settings
from newswire.cli.app import app, run_options

__all__ = ["app", "main"]

KNOWN_ERRORS = {"pipelines.index.transport.SearchEngineError": "search engine",
                "kernel.registry.RegistryError": "source registry", "kernel.agencies.AgencyTableError": "agency table",
                "pipelines.local_engine.EngineError": "local engine", "pipelines.kibana.KibanaSetupError": "Kibana setup",
                "kernel.storage.StorageError": "storage"}
"""What goes wrong outside the program (engine down, bad registry or agency table, local node
that does not start, archive or processed root out of reach), with the name the error line gives it: the message says what and where,
a traceback would say nothing more. Named by module, which the command imported if it raised one."""


def known_error(error: BaseException) -> str | None:
    """The KNOWN_ERRORS name of the error's class, None for any other error."""
    for path, name in KNOWN_ERRORS.items():
        module, _, cls = path.rpartition(".")
        if module in sys.modules and isinstance(error, getattr(sys.modules[module], cls)):
            return name
    return None


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
    except Exception as error:
        if (name := known_error(error)) is None:
            raise
        _fail(f"newswire: {name}: {error}", 1)
    sys.exit(status if isinstance(status, int) else 0)
