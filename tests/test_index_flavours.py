"""Flavour detection and identical request bodies for Elasticsearch.

No Elasticsearch node is available locally (the real engine is OpenSearch, tested in
test_index.py), so a stand-in on 127.0.0.1 answers like Elasticsearch 9 does and records what
the adapter sends through the `elasticsearch` client.
"""

from __future__ import annotations

import json

import pytest
from http_stub import JsonStub, serve
from pydantic import SecretStr
from test_index import make_article

from kernel.settings import get_settings
from pipelines.index import LIFECYCLE_POLICY_NAME, SearchEngine, SearchEngineError

ES_ROOT = {"name": "es01", "cluster_name": "docker-cluster",
           "version": {"number": "9.1.0", "build_flavor": "default", "lucene_version": "10.2.2"},
           "tagline": "You Know, for Search"}


class ElasticsearchLike(JsonStub):
    response_headers = {"X-Elastic-Product": "Elasticsearch"}
    received: list[dict] = []

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.received.append({"method": self.command, "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
        if self.path == "/":
            return self._answer(200, ES_ROOT)
        if self.path.startswith("/_bulk"):
            items = [{"index": {"_id": json.loads(line)["index"]["_id"], "status": 201}}
                     for line in body.decode().splitlines()[::2]]
            return self._answer(200, {"errors": False, "items": items})
        if self.path.startswith("/missing"):
            return self._answer(404, {"error": {"type": "index_not_found_exception", "reason": "no such index"},
                                      "status": 404})
        return self._answer(200, {"acknowledged": True})

    do_GET = do_PUT = do_POST = do_DELETE = _handle  # noqa: N815 (http.server API)


@pytest.fixture()
def elasticsearch_like():
    handler = type("Handler", (ElasticsearchLike,), {"received": []})
    with serve(handler) as url:
        settings = get_settings(search_url=url, index_prefix="nwflavour",
                                search_api_key=SecretStr("key-that-must-not-leak"))
        yield settings, handler.received


def test_elasticsearch_is_detected_and_gets_the_same_bodies(elasticsearch_like):
    settings, received = elasticsearch_like
    engine = SearchEngine.connect(settings)
    assert (engine.flavour, engine.version) == ("elasticsearch", "9.1.0")
    query = {"query": {"match": {"body": "إدلب"}}}
    engine.request("POST", "/nwflavour-articles/_search", query)
    sent = received[-1]
    assert json.loads(sent["body"]) == query
    assert sent["headers"]["authorization"] == "ApiKey key-that-must-not-leak"
    assert "key-that-must-not-leak" not in repr(engine)


def test_elasticsearch_bulk_is_ndjson_by_id_and_lifecycle_is_ilm(elasticsearch_like):
    settings, received = elasticsearch_like
    engine = SearchEngine.connect(settings)
    engine.bulk_upsert([make_article("x1"), make_article("x2")])
    bulk = next(r for r in received if r["path"].startswith("/_bulk"))
    assert "ndjson" in bulk["headers"]["content-type"]
    actions = [json.loads(line) for line in bulk["body"].decode().splitlines()[::2]]
    assert actions == [{"index": {"_index": "nwflavour-articles-write", "_id": "x1"}},
                       {"index": {"_index": "nwflavour-articles-write", "_id": "x2"}}]
    assert engine.install_lifecycle_policy() == f"ILM policy {LIFECYCLE_POLICY_NAME} installed"
    assert received[-1]["method"] == "PUT" and received[-1]["path"] == f"/_ilm/policy/{LIFECYCLE_POLICY_NAME}"
    assert "delete" in json.loads(received[-1]["body"])["policy"]["phases"]


def test_elasticsearch_errors_carry_the_status_without_the_key(elasticsearch_like):
    settings, _ = elasticsearch_like
    engine = SearchEngine.connect(settings)
    with pytest.raises(SearchEngineError) as raised:
        engine.request("GET", "/missing/_count")
    assert raised.value.status == 404
    assert "key-that-must-not-leak" not in str(raised.value)
    assert engine.exists("/missing") is False


@pytest.mark.parametrize("server_version", ["8.15.0", "9.1.0"])
def test_one_client_serves_elasticsearch_8_and_9(elasticsearch_like, monkeypatch, server_version):
    settings, received = elasticsearch_like
    monkeypatch.setitem(ES_ROOT["version"], "number", server_version)
    engine = SearchEngine.connect(settings)
    engine.request("POST", "/nwflavour-articles/_search", {"query": {"match_all": {}}})
    engine.bulk_upsert([make_article("x1")])
    major = server_version.split(".")[0]
    search, bulk = received[-2], received[-1]
    assert search["headers"]["accept"] == f"application/vnd.elasticsearch+json; compatible-with={major}"
    assert search["headers"]["content-type"] == f"application/vnd.elasticsearch+json; compatible-with={major}"
    assert bulk["headers"]["content-type"] == f"application/vnd.elasticsearch+x-ndjson; compatible-with={major}"
