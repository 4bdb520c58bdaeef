"""The local Elasticsearch node analyses text exactly as the OpenSearch node does, and behaves as a node.

The analysis components of the index template come, on the local Elasticsearch node, from the
project's own plugin (infra/engine/elasticsearch) rather than from the distribution's
analysis-common module; OpenSearch ships its own analysis-common. Running every paragraph of
the page fixtures and the demo mirror through each analyzer on both engines and comparing the
tokens, positions and offsets shows the plugin is a faithful stand-in.

Both nodes run on their own ports (NEWSWIRE_TEST_ES_PORT, NEWSWIRE_TEST_OS_PORT,
NEWSWIRE_TEST_LIFECYCLE_PORT), apart from the shared test node; a node this module starts, it stops.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import lxml.html
import pytest
import yaml
from conftest import ENGINE_PORTS
from elasticsearch import Elasticsearch
from typer.testing import CliRunner

from kernel.settings import Settings, get_settings
from newswire.cli import app
from pipelines import local_engine
from pipelines.index import articles_index_body

REPO_ROOT = Path(__file__).resolve().parent.parent
PAGES = REPO_ROOT / "tests" / "fixtures" / "pages"
DEMO_ARTICLES = REPO_ROOT / "infra" / "demo-mirror" / "articles"
LIFECYCLE_PORT = int(os.environ.get("NEWSWIRE_TEST_LIFECYCLE_PORT", "9282"))
INDEX = "analysis-identity"
# The template's own analyzers, plus the built-in `arabic` analyzer the search evaluation uses as baseline.
ANALYZERS = [*articles_index_body()["settings"]["analysis"]["analyzer"], "arabic"]


def _request(url: str, method: str = "GET", body: dict | None = None) -> tuple[dict, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as resp:
        return json.load(resp), dict(resp.headers)


def _paragraphs() -> list[tuple[str, str]]:
    """(where, text) for every paragraph: <p>, headings and <title> of the pages; title, paragraphs, trailer of the demo articles."""
    found = []
    for page in sorted(PAGES.glob("*.html")):
        tree = lxml.html.fromstring(page.read_bytes())
        for element in tree.iter("title", "h1", "h2", "h3", "p"):
            text = element.text_content().strip()
            if text:
                found.append((page.name, text))
    for mirror in sorted(DEMO_ARTICLES.glob("*.yaml")):
        for article in yaml.safe_load(mirror.read_text(encoding="utf-8")):
            for text in [article.get("title", ""), *article.get("paragraphs", []), *article.get("trailer", [])]:
                if text.strip():
                    found.append((f"{mirror.name} {article['slug']}", text.strip()))
    return found


def _tokens(url: str, analyzer: str, text: str) -> list[tuple]:
    body, _ = _request(f"{url}/{INDEX}/_analyze", "POST", {"analyzer": analyzer, "text": text})
    return [(t["token"], t["position"], t["start_offset"], t["end_offset"], t["type"], t.get("positionLength", 1))
            for t in body["tokens"]]


@contextmanager
def _running_node(settings: Settings) -> Iterator[str]:
    """The node's URL; it is started unless it runs already, and stopped afterwards only if started here."""
    started_here = not local_engine.status(settings).healthy
    status = local_engine.start(settings)
    try:
        yield status.url
    finally:
        if started_here:
            local_engine.stop(settings)


@pytest.fixture(scope="module")
def engines() -> Iterator[dict[str, str]]:
    """Both flavours up, each with an index made from the template's settings (analysis included)."""
    template_settings = articles_index_body()["settings"]
    with ExitStack() as stack:
        urls = {
            flavour: stack.enter_context(_running_node(get_settings(engine_flavour=flavour, engine_port=port)))
            for flavour, port in ENGINE_PORTS.items()  # the suite's own nodes, when they run already
        }
        for url in urls.values():
            if _index_exists(url, INDEX):
                _request(f"{url}/{INDEX}", "DELETE")
            _request(f"{url}/{INDEX}", "PUT", {"settings": template_settings})
            stack.callback(_request, f"{url}/{INDEX}", "DELETE")
        yield urls


def _index_exists(url: str, index: str) -> bool:
    try:
        urllib.request.urlopen(urllib.request.Request(f"{url}/{index}", method="HEAD"), timeout=30).close()
        return True
    except urllib.error.HTTPError:
        return False


def test_both_flavours_run(engines):
    root, _ = _request(engines["elasticsearch"])
    assert root["version"]["number"] == local_engine.ELASTICSEARCH_VERSION
    assert root["version"]["build_flavor"] == "default"
    root, _ = _request(engines["opensearch"])
    assert root["version"]["distribution"] == "opensearch"


def test_synonyms_apply_on_both(engines):
    """Guards the comparison against agreeing on nothing: the agency synonym fires on each engine."""
    for url in engines.values():
        tokens = _tokens(url, "arabic_text_search", "قالت وكالة الأنباء السعودية")
        assert ("واس", 1, 5, 27, "SYNONYM", 3) in tokens
        assert [t[0] for t in tokens if t[4] != "SYNONYM"] == ["قالت", "كال", "انباء", "سعود"]


def test_analysis_is_identical_on_elasticsearch_and_opensearch(engines):
    paragraphs = _paragraphs()
    assert len(paragraphs) > 50, "the corpus should cover the fixtures and the demo mirror"
    compared = 0
    for analyzer in ANALYZERS:
        for where, text in paragraphs:
            on_es = _tokens(engines["elasticsearch"], analyzer, text)
            on_os = _tokens(engines["opensearch"], analyzer, text)
            assert on_es == on_os, (
                f"{analyzer} differs on {where}: {text!r}\n"
                f"elasticsearch: {on_es}\nopensearch:    {on_os}"
            )
            compared += len(on_es)
    assert compared > 5000


@pytest.fixture()
def lifecycle_settings() -> Iterator[Settings]:
    settings = get_settings(engine_flavour="elasticsearch", engine_port=LIFECYCLE_PORT)
    local_engine.stop(settings)
    yield settings
    local_engine.stop(settings)


def test_elasticsearch_node_lifecycle(lifecycle_settings, monkeypatch):
    settings = lifecycle_settings
    first = local_engine.start(settings, fresh=True)
    assert (first.healthy, first.flavour, first.version) == (True, "elasticsearch", local_engine.ELASTICSEARCH_VERSION)
    again = local_engine.start(settings)
    assert again.pid == first.pid, "a second start must reuse the running node"

    monkeypatch.setenv("NEWSWIRE_ENGINE_PORT", str(LIFECYCLE_PORT))
    monkeypatch.setenv("NEWSWIRE_ENGINE_FLAVOUR", "elasticsearch")
    result = CliRunner().invoke(app, ["engine", "status", "--json"])
    assert result.exit_code == 0, result.output
    reported = json.loads(result.output)
    assert (reported["flavour"], reported["version"], reported["pid"]) == ("elasticsearch", "9.5.3", first.pid)
    result = CliRunner().invoke(app, ["engine", "status"])
    assert "Elasticsearch 9.5.3" in result.output

    url = first.url
    for path in ("/", "/_cluster/health"):
        _, headers = _request(f"{url}{path}")
        assert headers.get("X-elastic-product") == "Elasticsearch"
    client = Elasticsearch(url)
    info = client.info()  # the client's product check reads the header
    assert (info["version"]["number"], info["tagline"]) == ("9.5.3", "You Know, for Search")
    assert client.ping() is True

    client.indices.create(index="lifecycle-a", settings={"number_of_replicas": 0})
    client.index(index="lifecycle-a", id="1", document={"title": "قالت وكالة الأنباء"}, refresh=True)
    client.indices.create(index="lifecycle-b", settings={"number_of_replicas": 0})
    client.indices.delete(index="lifecycle-*")  # wildcard deletes are allowed on the local node
    assert not client.indices.exists(index="lifecycle-a")
    client.indices.create(index="lifecycle-a", settings={"number_of_replicas": 0})
    client.index(index="lifecycle-a", id="1", document={"title": "قالت وكالة الأنباء"}, refresh=True)

    os.killpg(first.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while local_engine.status(settings).running and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not local_engine.status(settings).running

    recovered = local_engine.start(settings)
    assert recovered.healthy and recovered.pid != first.pid
    client = Elasticsearch(url)
    assert client.count(index="lifecycle-a")["count"] == 1
    assert client.get(index="lifecycle-a", id="1")["_source"]["title"] == "قالت وكالة الأنباء"

    local_engine.stop(settings)
    fresh = local_engine.start(settings, fresh=True)
    assert fresh.healthy
    assert not Elasticsearch(url).indices.exists(index="lifecycle-a"), "--fresh starts on an empty data dir"


def test_each_node_maps_a_class_archive_no_other_node_writes(tmp_path):
    """A JVM rewrites its class-data archive in place when it stops; nodes sharing one file would
    rewrite it under each other, so every node (flavour and port) has its own."""
    nodes = [Settings(engine_home=tmp_path, engine_flavour=flavour, engine_port=port)
             for flavour in ("elasticsearch", "opensearch") for port in (9280, 9281)]
    archives = []
    for node in nodes:
        command = local_engine._command(node, local_engine._java_home(node.engine_flavour), tmp_path / "jars")
        archives += [option.split("=", 1)[1] for option in command if option.startswith("-XX:SharedArchiveFile=")]
    assert archives == [str(local_engine.class_archive(node)) for node in nodes]
    assert len(set(archives)) == len(nodes)
    assert all(Path(archive).parent == tmp_path for archive in archives)
