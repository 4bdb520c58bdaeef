"""What the adapter sends to Elasticsearch and what it makes of the answers.

Against the real local Elasticsearch node, seen through a recording proxy on 127.0.0.1 that
forwards every request unchanged and keeps a copy of it. An 8.x server is exercised for real in
test_elasticsearch8.py. One thing cannot run here and is checked on a stand-in, named so: an
installed ILM (x-pack is not on Maven Central).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from http_stub import JsonStub, serve
from pydantic import SecretStr
from test_index import make_article

from kernel.settings import get_settings
from pipelines import local_engine
from pipelines.index import (
    ILM_NOT_AVAILABLE,
    LIFECYCLE_POLICY_NAME,
    SearchEngine,
    SearchEngineError,
)

only_elasticsearch = pytest.mark.parametrize("engine_flavour", ["elasticsearch"], indirect=True)

# Hop-by-hop or recomputed headers that a forwarding proxy must not copy.
NOT_FORWARDED = {"host", "content-length", "connection", "transfer-encoding", "keep-alive"}


def recording_proxy(upstream: str, received: list[dict]) -> type[JsonStub]:
    """A handler forwarding to `upstream` and appending each request (method, path, headers, body)."""

    class RecordingProxy(JsonStub):
        def _forward(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in NOT_FORWARDED}
            received.append({"method": self.command, "path": self.path, "body": body,
                             "headers": {k.lower(): v for k, v in self.headers.items()}})
            request = urllib.request.Request(upstream + self.path, data=body, method=self.command, headers=headers)
            try:
                response = urllib.request.urlopen(request, timeout=60)
            except urllib.error.HTTPError as refused:
                response = refused
            with response:
                payload = response.read()
                self.send_response(response.status)
                for name, value in response.headers.items():
                    if name.lower() not in NOT_FORWARDED:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward  # noqa: N815 (http.server API)

    return RecordingProxy


@pytest.fixture()
def elasticsearch_seen(engine_settings, request):
    """Settings that reach the real node through the recording proxy, an API key set, and what was sent."""
    received: list[dict] = []
    prefix = f"{engine_settings.index_prefix}-fl{abs(hash(request.node.name)) % 10**6}"
    with serve(recording_proxy(engine_settings.search_url, received)) as url:
        settings = engine_settings.model_copy(update={
            "search_url": url, "index_prefix": prefix, "search_api_key": SecretStr("key-that-must-not-leak")})
        yield settings, received
        engine = SearchEngine.connect(engine_settings.model_copy(update={"index_prefix": prefix}))
        for version in (1, 2):
            if engine.exists(f"/{settings.index_name(version)}"):
                engine.request("DELETE", f"/{settings.index_name(version)}")


@only_elasticsearch
def test_elasticsearch_is_detected_and_gets_the_same_bodies(elasticsearch_seen):
    settings, received = elasticsearch_seen
    engine = SearchEngine.connect(settings)
    assert (engine.flavour, engine.version) == ("elasticsearch", local_engine.ELASTICSEARCH_VERSION)
    engine.ensure_ready()
    query = {"query": {"match": {"body": "إدلب"}}}
    answer = engine.request("POST", f"/{settings.read_alias}/_search", query)
    assert answer["hits"]["total"]["value"] == 0
    sent = received[-1]
    assert (sent["method"], sent["path"]) == ("POST", f"/{settings.read_alias}/_search")
    assert json.loads(sent["body"]) == query
    assert sent["headers"]["authorization"] == "ApiKey key-that-must-not-leak"
    assert sent["headers"]["content-type"] == "application/vnd.elasticsearch+json; compatible-with=9"
    assert "key-that-must-not-leak" not in repr(engine)


@only_elasticsearch
def test_elasticsearch_answers_with_its_own_product_header(engine_settings):
    with urllib.request.urlopen(engine_settings.search_url + "/", timeout=30) as response:
        root = json.loads(response.read())
        assert response.headers["X-elastic-product"] == "Elasticsearch"
    assert root["version"]["number"] == local_engine.ELASTICSEARCH_VERSION
    assert "distribution" not in root["version"]  # what tells OpenSearch apart


@only_elasticsearch
def test_elasticsearch_bulk_is_ndjson_by_id(elasticsearch_seen):
    settings, received = elasticsearch_seen
    engine = SearchEngine.connect(settings)
    engine.ensure_ready()
    result = engine.bulk_upsert([make_article("x1"), make_article("x2")])
    assert (result.indexed, result.failed) == (2, 0)
    bulk = next(r for r in received if r["path"].startswith("/_bulk"))
    assert bulk["headers"]["content-type"] == "application/vnd.elasticsearch+x-ndjson; compatible-with=9"
    actions = [json.loads(line) for line in bulk["body"].decode().splitlines()[::2]]
    assert actions == [{"index": {"_index": settings.write_alias, "_id": "x1"}},
                       {"index": {"_index": settings.write_alias, "_id": "x2"}}]
    engine.refresh()
    assert engine.count() == 2
    assert engine.request("GET", f"/{settings.read_alias}/_doc/x2")["_source"]["source_id"] == "tasnim"


@only_elasticsearch
def test_elasticsearch_without_ilm_says_so_in_one_line(elasticsearch_seen):
    settings, received = elasticsearch_seen
    engine = SearchEngine.connect(settings)
    assert engine.install_lifecycle_policy() == ILM_NOT_AVAILABLE
    # Decided from the server's answer to the ILM API, not from its name.
    assert any(r["path"].startswith("/_ilm/") for r in received)
    assert not any(r["method"] == "PUT" and "/policy/" in r["path"] for r in received)


@only_elasticsearch
def test_elasticsearch_errors_carry_the_status_without_the_key(elasticsearch_seen):
    settings, _ = elasticsearch_seen
    engine = SearchEngine.connect(settings)
    with pytest.raises(SearchEngineError) as raised:
        engine.request("GET", "/no-such-index-here/_count")
    assert raised.value.status == 404
    assert "key-that-must-not-leak" not in str(raised.value)
    assert engine.exists("/no-such-index-here") is False


@only_elasticsearch
def test_rebuild_copy_without_reindex_uses_the_clients_scan_and_bulk(elasticsearch_seen):
    settings, received = elasticsearch_seen
    engine = SearchEngine.connect(settings)
    engine.ensure_ready()
    engine.bulk_upsert([make_article(f"r{n}") for n in range(5)])
    engine.refresh()
    target = engine.create_next_version()
    assert engine.copy_documents(settings.index_name(1), target) == 5
    engine.refresh(target)
    assert engine.count(target) == 5
    paths = [r["path"] for r in received]
    assert any(path.endswith("/_reindex") or path.startswith("/_reindex") for path in paths)  # asked first
    assert any("/_search" in path and "scroll" in path for path in paths)  # then scanned


# --- what cannot run here: stand-ins --------------------------------------------------------

ES_ROOT = {"name": "es01", "cluster_name": "docker-cluster",
           "version": {"number": "9.1.0", "build_flavor": "default", "lucene_version": "10.2.2"},
           "tagline": "You Know, for Search"}


class ElasticsearchWithIlm(JsonStub):
    """Answers like the official distribution, which carries ILM."""

    response_headers = {"X-Elastic-Product": "Elasticsearch"}
    received: list[dict] = []

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.received.append({"method": self.command, "path": self.path,
                              "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
        if self.path == "/":
            return self._answer(200, ES_ROOT)
        if self.path.startswith("/_bulk"):
            items = [{"index": {"_id": json.loads(line)["index"]["_id"], "status": 201}}
                     for line in body.decode().splitlines()[::2]]
            return self._answer(200, {"errors": False, "items": items})
        if self.path.startswith("/_ilm/status"):
            return self._answer(200, {"operation_mode": "RUNNING"})
        return self._answer(200, {"acknowledged": True})

    do_GET = do_PUT = do_POST = do_DELETE = _handle  # noqa: N815 (http.server API)


@pytest.fixture()
def official_distribution_stand_in():
    handler = type("Handler", (ElasticsearchWithIlm,), {"received": []})
    with serve(handler) as url:
        yield get_settings(search_url=url, index_prefix="nwflavour"), handler.received


def test_ilm_policy_is_installed_where_ilm_answers_stand_in(official_distribution_stand_in):
    settings, received = official_distribution_stand_in
    engine = SearchEngine.connect(settings)
    assert engine.install_lifecycle_policy() == f"ILM policy {LIFECYCLE_POLICY_NAME} installed"
    assert received[-1]["method"] == "PUT" and received[-1]["path"] == f"/_ilm/policy/{LIFECYCLE_POLICY_NAME}"
    assert "delete" in json.loads(received[-1]["body"])["policy"]["phases"]
