"""`newswire engine start|stop|status`: the local Elasticsearch (or OpenSearch) node for the demo and the tests.

`start --nodes 3` runs a local Elasticsearch cluster instead; stop and status then cover every member.
"""

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


def _report_cluster(cluster: local_engine.ClusterStatus, as_json: bool) -> None:
    if as_json:
        print_json(cluster.as_dict())
        return
    health = cluster.health
    if health is None:
        console.print(f"cluster of {len(cluster.nodes)} nodes: no member answers")
    else:
        colour = {"green": "green", "yellow": "yellow"}.get(health["status"], "red")
        console.print(f"cluster {health['cluster_name']}: [{colour}]{health['status']}[/], "
                      f"{health['number_of_nodes']} of {len(cluster.nodes)} nodes, "
                      f"{health['active_shards']} active shards, {health['unassigned_shards']} unassigned")
    for node in cluster.nodes:
        _report(node, as_json=False)


@engine_app.command()
def start(
    as_json: bool = typer.Option(False, "--json"),
    fresh: bool = typer.Option(False, "--fresh", help="Discard the node's data dir first (when it cannot recover it)."),
    nodes: int = typer.Option(1, "--nodes", min=1, help="Run a local Elasticsearch cluster of this many nodes, "
                              "on consecutive ports from NEWSWIRE_ENGINE_PORT (the first member's)."),
) -> None:
    """Fetch the jars once, start the node (or every cluster member) in the background and wait for health."""
    settings = get_settings()
    try:
        with console.status("starting the local engine ..."):
            if nodes > 1:
                cluster = local_engine.start_cluster(settings, nodes, fresh=fresh)
            else:
                status = local_engine.start(settings, fresh=fresh)
    except local_engine.EngineError as error:
        console.print(str(error), style="red", markup=False, highlight=False)
        raise typer.Exit(1) from None
    if nodes > 1:
        _report_cluster(cluster, as_json)
    else:
        _report(status, as_json)


@engine_app.command()
def stop(as_json: bool = typer.Option(False, "--json")) -> None:
    """Stop the node by its own pid; every member, when a cluster was started from this port."""
    settings = get_settings()
    if local_engine.cluster_members(settings):
        _report_cluster(local_engine.stop_cluster(settings), as_json)
    else:
        _report(local_engine.stop(settings), as_json)


@engine_app.command("status")
def status_(as_json: bool = typer.Option(False, "--json")) -> None:
    """Is the node (or each cluster member) running and healthy, and which engine and version is it?"""
    settings = get_settings()
    if local_engine.cluster_members(settings):
        cluster = local_engine.cluster_status(settings)
        _report_cluster(cluster, as_json)
        raise typer.Exit(0 if cluster.healthy else 1)
    status = local_engine.status(settings)
    _report(status, as_json)
    raise typer.Exit(0 if status.healthy else 1)
