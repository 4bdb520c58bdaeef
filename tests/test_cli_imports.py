"""A command loads its own module and what that needs: `newswire search` neither the other commands'
stacks, nor the HTTP libraries the search client does not send through, nor the Elasticsearch client's
API namespaces."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from search_support import isolated_engine

from newswire.cli import app
from newswire.cli.app import COMMAND_MODULES
from pipelines.evaluation.search import demo_corpus
from pipelines.search import search_articles

REPO_ROOT = Path(__file__).resolve().parent.parent

# Runs `newswire ARGS` as the installed command does, then writes which modules it had loaded.
_REPORT_MODULES = """
import atexit, json, sys
atexit.register(lambda: sys.stderr.write("MODULES " + json.dumps(sorted(sys.modules)) + "\\n"))
sys.argv = ["newswire", *sys.argv[1:]]
from newswire.cli import main
main()
"""

OTHER_COMMANDS = {f"newswire.cli.{module}" for module in COMMAND_MODULES.values()} - {"newswire.cli.search_commands"}
NOT_FOR_SEARCH = OTHER_COMMANDS | {
    "aiohttp", "httpx",  # HTTP libraries of the clients' async and alternative nodes
    "pipelines.local_engine", "kernel.registry", "rich.progress",  # other commands' needs
    "scrapy", "trafilatura", "datasketch", "langdetect",  # the crawl and processing stacks
    "pipelines.stories", "pipelines.dedup",  # story clustering
    "kernel.agencies", "yaml",  # the agency table: only an index being created or --agency reads it
}
SEARCH_CLIENT = {"elasticsearch": "elastic_transport", "opensearch": "opensearchpy"}
"""What a search sends through: the Elasticsearch client's own transport (the client package, with
every API namespace, only for bulk writes and copies), or opensearch-py."""
NOT_LOADED_BY = {"elasticsearch": {"elasticsearch", "opensearchpy", "requests"}, "opensearch": {"elasticsearch"}}
"""What a search on each flavour does not load: the elasticsearch client package itself, and the other
flavour's client (opensearch-py itself requires requests)."""


def test_each_command_is_registered_by_the_module_command_modules_names():
    group = typer.main.get_group(app)
    group.list_commands(None)  # loads every command module
    defined_in = {}
    for name, command in group.commands.items():
        callback = getattr(command, "callback", None)
        if callback is not None and name not in {info.name for info in app.registered_groups}:
            defined_in[name] = callback.__module__
    for info in app.registered_groups:
        defined_in[info.name] = next(module for module, loaded in sys.modules.items()
                                     if module.startswith("newswire.cli.")
                                     and info.typer_instance in vars(loaded).values())
    assert defined_in == {name: f"newswire.cli.{module}" for name, module in COMMAND_MODULES.items()}


@pytest.mark.engine
def test_search_loads_only_the_search_stack_and_one_client(engine_settings, engine_flavour):
    with isolated_engine(engine_settings, "imports") as engine:
        engine.ensure_ready()
        engine.bulk_upsert(demo_corpus())
        engine.refresh()
        done = subprocess.run([sys.executable, "-c", _REPORT_MODULES, "search", "إدلب OR سوريا", "--json"],
                              capture_output=True, text=True, timeout=120, check=False,
                              env={**os.environ, "PYTHONPATH": str(REPO_ROOT),
                                   "NEWSWIRE_INDEX_PREFIX": engine.settings.index_prefix})
        expected = [hit.id for hit in search_articles(engine, "إدلب OR سوريا")]
    assert done.returncode == 0, done.stderr
    assert [hit["id"] for hit in json.loads(done.stdout)["hits"]] == expected and expected
    modules = set(json.loads(next(line for line in done.stderr.splitlines() if line.startswith("MODULES "))[8:]))
    assert SEARCH_CLIENT[engine_flavour] in modules and "newswire.cli.search_commands" in modules
    loaded = {name.split(".")[0] if not name.startswith(("newswire.", "pipelines.", "kernel.", "rich."))
              else name for name in modules}
    assert loaded & (NOT_FOR_SEARCH | NOT_LOADED_BY[engine_flavour]) == set()
