"""Kibana / OpenSearch Dashboards saved objects: validated against the real mapping, imported over HTTP."""

from __future__ import annotations

import json
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qs, urlsplit

import pytest
from http_stub import JsonStub, serve
from search_support import isolated_engine
from typer.testing import CliRunner

from newswire.cli import app
from pipelines.kibana import (
    DATA_VIEW_ID,
    FLAVOURS,
    NDJSON_FILES,
    SEARCH_COLUMNS,
    TIME_FIELD,
    saved_objects,
    to_ndjson,
)

AGGREGATABLE_TYPES = {"keyword", "date", "long", "integer", "float", "double", "boolean"}


def load_ndjson(flavour: str) -> list[dict]:
    return [json.loads(line) for line in NDJSON_FILES[flavour].read_text(encoding="utf-8").splitlines() if line]


def field_types(mapping: dict) -> dict[str, str]:
    """Dotted field name -> type, subfields included (title.exact, title.raw, ...)."""
    types = {}
    for name, spec in mapping["properties"].items():
        types[name] = spec.get("type", "object")
        for sub, sub_spec in spec.get("fields", {}).items():
            types[f"{name}.{sub}"] = sub_spec["type"]
    return types


def visualised_fields(saved: dict) -> list[tuple[str, str]]:
    """(field, aggregation type) for every aggregation of a visualization."""
    vis_state = json.loads(saved["attributes"]["visState"])
    return [(agg["params"]["field"], agg["type"]) for agg in vis_state["aggs"] if "field" in agg.get("params", {})]


@pytest.fixture(scope="module")
def real_mapping(engine_settings):
    with isolated_engine(engine_settings, "kibana") as engine:
        engine.ensure_ready()
        yield field_types(engine.mapping())


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_committed_files_are_the_exported_objects(flavour, monkeypatch):
    # The files are made with `newswire kibana-export --flavour F > FILE`; they must not drift.
    monkeypatch.setenv("NEWSWIRE_INDEX_PREFIX", "newswire")
    result = CliRunner().invoke(app, ["kibana-export", "--flavour", flavour])
    assert result.exit_code == 0
    assert result.stdout == NDJSON_FILES[flavour].read_text(encoding="utf-8")
    assert result.stdout == to_ndjson(saved_objects("newswire-articles", flavour))


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_object_types_and_references_resolve(flavour):
    objects = load_ndjson(flavour)
    assert [o["type"] for o in objects] == ["index-pattern", "search", "visualization", "visualization",
                                            "visualization", "visualization", "dashboard"]
    known = {(o["type"], o["id"]) for o in objects}
    for saved in objects:
        for reference in saved["references"]:
            assert (reference["type"], reference["id"]) in known, f"{saved['id']} -> {reference}"
        source = json.loads(saved["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"]) \
            if "kibanaSavedObjectMeta" in saved["attributes"] else {}
        if "indexRefName" in source:
            assert source["indexRefName"] in {r["name"] for r in saved["references"]}
    dashboard = objects[-1]
    panel_refs = [panel["panelRefName"] for panel in json.loads(dashboard["attributes"]["panelsJSON"])]
    assert panel_refs == [reference["name"] for reference in dashboard["references"]]
    assert {r["type"] for r in dashboard["references"]} == {"visualization", "search"}


def test_data_view_formats_differ_only_where_the_products_differ():
    kibana, dashboards = load_ndjson("kibana")[0], load_ndjson("opensearch-dashboards")[0]
    assert kibana["attributes"]["name"] == "newswire articles"
    assert "name" not in dashboards["attributes"]  # strict mapping in OpenSearch Dashboards
    for data_view in (kibana, dashboards):
        assert data_view["id"] == DATA_VIEW_ID
        assert data_view["attributes"]["title"] == "newswire-articles"  # the read alias
        assert data_view["attributes"]["timeFieldName"] == TIME_FIELD
        url_format = json.loads(data_view["attributes"]["fieldFormatMap"])["url"]
        assert url_format["id"] == "url" and url_format["params"]["type"] == "a"


@pytest.mark.engine
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_fields_exist_in_the_mapping_and_are_aggregatable(real_mapping, flavour):
    objects = load_ndjson(flavour)
    assert real_mapping[objects[0]["attributes"]["timeFieldName"]] == "date"
    search = objects[1]
    assert search["attributes"]["columns"] == SEARCH_COLUMNS
    assert all(column in real_mapping for column in search["attributes"]["columns"])
    used = [field for saved in objects if saved["type"] == "visualization" for field in visualised_fields(saved)]
    assert {field for field, _ in used} == {"published_at", "agency", "language", "credited_agencies", "crawl_run"}
    for field, aggregation in used:
        assert real_mapping[field] in AGGREGATABLE_TYPES, f"{field} ({real_mapping[field]}) cannot be aggregated"
        if aggregation == "date_histogram":
            assert real_mapping[field] == "date"


# --- kibana-setup against a local server that behaves like the import API -------------------


class FakeKibana(JsonStub):
    """Answers like Kibana's saved objects import: checks path, xsrf header and multipart file."""

    xsrf_header = "kbn-xsrf"
    received: list[dict] = []

    def do_POST(self):  # noqa: N802 (http.server API)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        url = urlsplit(self.path)
        self.received.append({"path": url.path, "query": parse_qs(url.query), "headers": dict(self.headers),
                              "body": body})
        if url.path != "/api/saved_objects/_import":
            return self._answer(404, {"statusCode": 404, "error": "Not Found"})
        if self.headers.get(self.xsrf_header) is None:
            return self._answer(400, {"statusCode": 400, "message": f"Request must contain a {self.xsrf_header} header."})
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n" + body)
        files = [part for part in message.iter_parts() if part.get_param("name", header="content-disposition") == "file"]
        if len(files) != 1 or not files[0].get_filename().endswith(".ndjson"):
            return self._answer(400, {"statusCode": 400, "message": "expected one .ndjson file in field 'file'"})
        lines = [json.loads(line) for line in files[0].get_content().splitlines() if line.strip()]
        self._answer(200, {"success": True, "successCount": len(lines), "successResults": [
            {"type": o["type"], "id": o["id"]} for o in lines]})


@pytest.fixture()
def fake_kibana(request):
    handler = type("Handler", (FakeKibana,), {"received": [], "xsrf_header": getattr(request, "param", "kbn-xsrf")})
    with serve(handler) as url:
        yield url, handler.received


def multipart_file(received: dict) -> tuple[str, str]:
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + received["headers"]["Content-Type"].encode() + b"\r\n\r\n" + received["body"])
    part = next(message.iter_parts())
    return part.get_filename(), part.get_content().decode("utf-8")  # sent as application/ndjson bytes


def test_kibana_setup_imports_with_overwrite_and_xsrf_header(fake_kibana, monkeypatch):
    url, received = fake_kibana
    monkeypatch.setenv("NEWSWIRE_INDEX_PREFIX", "newswire")
    monkeypatch.setenv("NEWSWIRE_SEARCH_USER", "elastic")
    monkeypatch.setenv("NEWSWIRE_SEARCH_PASSWORD", "changeme-secret")
    result = CliRunner().invoke(app, ["kibana-setup", "--kibana-url", url, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["imported"] == 7
    request = received[0]
    assert request["path"] == "/api/saved_objects/_import"
    assert request["query"] == {"overwrite": ["true"]}
    assert request["headers"]["kbn-xsrf"] == "true"
    assert request["headers"]["Authorization"].startswith("Basic ")
    assert request["headers"]["Content-Type"].startswith("multipart/form-data; boundary=")
    filename, content = multipart_file(request)
    assert filename == "newswire.ndjson"
    assert content == NDJSON_FILES["kibana"].read_text(encoding="utf-8")
    assert "changeme-secret" not in result.output


def test_kibana_setup_twice_overwrites_again(fake_kibana, monkeypatch):
    url, received = fake_kibana
    for _ in range(2):
        assert CliRunner().invoke(app, ["kibana-setup", "--kibana-url", url]).exit_code == 0
    assert [r["query"] for r in received] == [{"overwrite": ["true"]}] * 2
    assert multipart_file(received[0]) == multipart_file(received[1])


@pytest.mark.parametrize("fake_kibana", ["osd-xsrf"], indirect=True)
def test_opensearch_dashboards_flavour_sends_osd_xsrf(fake_kibana, monkeypatch):
    url, received = fake_kibana
    monkeypatch.setenv("NEWSWIRE_INDEX_PREFIX", "newswire")
    result = CliRunner().invoke(app, ["kibana-setup", "--kibana-url", url, "--flavour", "opensearch-dashboards"])
    assert result.exit_code == 0, result.output
    assert received[0]["headers"]["osd-xsrf"] == "true"
    assert "kbn-xsrf" not in received[0]["headers"]
    assert multipart_file(received[0])[1] == NDJSON_FILES["opensearch-dashboards"].read_text(encoding="utf-8")


@pytest.mark.parametrize("fake_kibana", ["osd-xsrf"], indirect=True)
def test_refused_import_is_a_clear_error(fake_kibana):
    url, _ = fake_kibana
    result = CliRunner().invoke(app, ["kibana-setup", "--kibana-url", url])  # kbn-xsrf where osd-xsrf is needed
    assert result.exit_code == 1
    assert "answered 400" in result.output
    assert "osd-xsrf" in result.output


def test_unreachable_kibana_is_a_clear_error():
    result = CliRunner().invoke(app, ["kibana-setup", "--kibana-url", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "could not reach http://127.0.0.1:9" in result.output


def test_kibana_setup_imports_a_given_file(fake_kibana, tmp_path):
    url, received = fake_kibana
    custom = tmp_path / "extra.ndjson"
    custom.write_text('{"type": "index-pattern", "id": "other", "attributes": {"title": "other-*"}}\n', "utf-8")
    result = CliRunner().invoke(app, ["kibana-setup", "--kibana-url", url, "--file", str(custom), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["imported"] == 1
    assert multipart_file(received[0])[1] == custom.read_text("utf-8")
