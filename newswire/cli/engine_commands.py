"""`newswire engine start|stop|status`: the local Elasticsearch (or OpenSearch) node for the demo and the tests."""

from __future__ import annotations

import typer

from kernel.settings import get_settings
from newswire.cli.app import app
from newswire.cli.output import console, print_json
from pipelines import local_engine

engine_app = typer.Typer(
    help="Run a real local Elasticsearch node (or OpenSearch: NEWSWIRE_ENGINE_FLAVOUR) from Maven Central on 127.0.0.1."
)
app.add_typer(engine_app, name="engine")

_NAMES = {"elasticsearch": "Elasticsearch", "opensearch": "OpenSearch"}


def _report(status: local_engine.EngineStatus, as_json: bool) -> None:
    if as_json:
        print_json(status.as_dict())
    elif status.healthy:
        name = _NAMES.get(status.flavour or "", status.flavour)
        console.print(f"[green]engine up[/] at {status.url} ({name} {status.version}, pid {status.pid})")
    else:
        console.print(f"engine not running at {status.url}")


@engine_app.command()
def start(
    as_json: bool = typer.Option(False, "--json"),
    fresh: bool = typer.Option(False, "--fresh", help="Discard the node's data dir first (when it cannot recover it)."),
) -> None:
    """Fetch the jars once, start the node in the background and wait for health."""
    try:
        with console.status("starting the local engine ..."):
            status = local_engine.start(get_settings(), fresh=fresh)
    except local_engine.EngineError as error:
        console.print(str(error), style="red", markup=False, highlight=False)
        raise typer.Exit(1) from None
    _report(status, as_json)


@engine_app.command()
def stop(as_json: bool = typer.Option(False, "--json")) -> None:
    """Stop the node by its own pid."""
    _report(local_engine.stop(get_settings()), as_json)


@engine_app.command("status")
def status_(as_json: bool = typer.Option(False, "--json")) -> None:
    """Is the node running and healthy, and which engine and version is it?"""
    status = local_engine.status(get_settings())
    _report(status, as_json)
    raise typer.Exit(0 if status.healthy else 1)
