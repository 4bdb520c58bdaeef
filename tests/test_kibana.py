"""Kibana / OpenSearch Dashboards saved objects: validated against the formats read from each product's source
(pipelines/kibana_schemas), their fields against the real index mapping, and imported over HTTP into a local
stand-in (Kibana cannot run here)."""

from __future__ import annotations

import json
from email.parser import BytesParser
from email.policy import HTTP
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest
from http_stub import JsonStub, serve
from search_support import isolated_engine
from typer.testing import CliRunner

from newswire.cli import app
from pipelines.kibana import (
    AGENCY_CREDIT_FIELD,
    NO_CREDIT,
    REPRESENTATIVE_FIELD,
    TARGETS,
    TIME_FIELD,
    saved_objects,
    target_for_status,
    to_ndjson,
)

AGGREGATABLE_TYPES = {"keyword", "date", "long", "integer", "float", "double", "boolean"}
KIBANA_TARGETS = [name for name, target in TARGETS.items() if target.flavour == "kibana"]


def objects_of(target: str, alias: str = "newswire-articles") -> list[dict]:
    return saved_objects(alias, TARGETS[target].flavour, target)


def by_type(objects: list[dict], object_type: str) -> list[dict]:
    return [saved for saved in objects if saved["type"] == object_type]


def schema_of(target: str) -> dict:
    return json.loads(TARGETS[target].schema_file.read_text(encoding="utf-8"))


def json_attributes(saved: dict) -> dict:
    """Every attribute stored as a JSON string, parsed (they must parse)."""
    attributes = saved["attributes"]
    parsed = {key: json.loads(value) for key, value in attributes.items() if key.endswith("JSON") or key in {
        "fieldFormatMap", "runtimeFieldMap"}}
    if "kibanaSavedObjectMeta" in attributes:
        parsed["searchSource"] = json.loads(attributes["kibanaSavedObjectMeta"]["searchSourceJSON"])
    if "controlGroupInput" in attributes:
        parsed["controls"] = json.loads(attributes["controlGroupInput"]["panelsJSON"])
    return parsed


@pytest.mark.parametrize("target", TARGETS)
def test_committed_files_are_the_generated_objects(target):
    assert TARGETS[target].ndjson_file.read_text(encoding="utf-8") == to_ndjson(objects_of(target))


def test_kibana_export_prints_the_newest_kibana_set(monkeypatch):
    monkeypatch.setenv("NEWSWIRE_INDEX_PREFIX", "newswire")
    result = CliRunner().invoke(app, ["kibana-export"])
    assert result.exit_code == 0
    assert result.stdout == TARGETS["kibana-9"].ndjson_file.read_text(encoding="utf-8")


@pytest.mark.parametrize("target", TARGETS)
def test_every_object_matches_the_format_read_from_the_products_source(target):
    schema = schema_of(target)
    assert schema["major"] == TARGETS[target].major
    assert all(source["commit"] and source["path"] for source in schema["derived_from"])
    for saved in objects_of(target):
        type_schema = schema["types"][saved["type"]]
        jsonschema.validate(saved["attributes"], type_schema["attributes"])
        json_attributes(saved)
        if TARGETS[target].flavour == "kibana":
            assert saved["coreMigrationVersion"] == schema["coreMigrationVersion"]
            assert saved["typeMigrationVersion"] in type_schema["versions"], saved["id"]
            assert "migrationVersion" not in saved
        else:
            assert saved["migrationVersion"] == {saved["type"]: saved["migrationVersion"][saved["type"]]}
            assert saved["migrationVersion"][saved["type"]] in type_schema["versions"]
            assert "typeMigrationVersion" not in saved


def test_the_9x_only_control_option_is_refused_by_the_8x_format():
    dashboard_9 = by_type(objects_of("kibana-9"), "dashboard")[0]
    assert dashboard_9["attributes"]["controlGroupInput"]["showApplySelections"] is False
    with pytest.raises(jsonschema.ValidationError, match="showApplySelections"):
        jsonschema.validate(dashboard_9["attributes"], schema_of("kibana-8")["types"]["dashboard"]["attributes"])
    assert "showApplySelections" not in by_type(objects_of("kibana-8"), "dashboard")[0]["attributes"]["controlGroupInput"]


def test_the_sets_differ_in_their_version_fields():
    versions = {target: {o["type"]: o["typeMigrationVersion"] for o in objects_of(target)} for target in KIBANA_TARGETS}
    assert versions["kibana-8"] == {"index-pattern": "8.0.0", "search": "8.0.0", "lens": "8.5.0", "dashboard": "8.0.0"}
    assert versions["kibana-9"] == {"index-pattern": "8.0.0", "search": "10.3.0", "lens": "8.5.0", "dashboard": "10.2.0"}
    osd = {o["type"]: o["migrationVersion"] for o in objects_of("opensearch-dashboards-2")}
    assert osd["visualization"] == {"visualization": "7.10.0"} and osd["dashboard"] == {"dashboard": "7.9.3"}


@pytest.mark.parametrize("target", TARGETS)
def test_references_resolve_and_ids_follow_the_index_prefix(target):
    objects = objects_of(target, "wire2-articles")
    known = {(o["type"], o["id"]) for o in objects}
    assert all(o["id"].startswith("wire2-articles") for o in objects)
    for saved in objects:
        names = {reference["name"] for reference in saved["references"]}
        for reference in saved["references"]:
            assert (reference["type"], reference["id"]) in known, f"{saved['id']} -> {reference}"
        source = json_attributes(saved).get("searchSource", {})
        wanted = [source.get("indexRefName")] + [f["meta"]["indexRefName"] for f in source.get("filter", [])]
        assert {name for name in wanted if name} <= names
    data_view = by_type(objects, "index-pattern")[0]
    assert data_view["attributes"]["title"] == "wire2-articles" and data_view["attributes"]["timeFieldName"] == TIME_FIELD


@pytest.mark.parametrize("target", TARGETS)
def test_dashboard_panels_do_not_overlap_and_fill_the_width(target):
    panels = json.loads(by_type(objects_of(target), "dashboard")[0]["attributes"]["panelsJSON"])
    cells = [(x, y) for p in panels for x in range(p["gridData"]["x"], p["gridData"]["x"] + p["gridData"]["w"])
             for y in range(p["gridData"]["y"], p["gridData"]["y"] + p["gridData"]["h"])]
    assert len(cells) == len(set(cells)), "two panels share a grid cell"
    assert all(p["gridData"]["x"] + p["gridData"]["w"] <= 48 for p in panels)
    assert [p["panelIndex"] for p in panels] == [p["gridData"]["i"] for p in panels]


@pytest.mark.parametrize("target", TARGETS)
def test_saved_search_shows_one_article_per_story(target):
    search = by_type(objects_of(target), "search")[0]
    (story_filter,) = json.loads(search["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])["filter"]
    assert story_filter["query"] == {"match_phrase": {REPRESENTATIVE_FIELD: True}}
    assert story_filter["meta"]["negate"] is False and story_filter["meta"]["disabled"] is False
    assert search["attributes"]["sort"] == [[TIME_FIELD, "desc"]]


@pytest.mark.parametrize("target", KIBANA_TARGETS)
def test_kibana_dashboard_has_lens_charts_and_three_controls(target):
    objects = objects_of(target)
    assert by_type(objects, "visualization") == []  # no legacy aggregation-based charts
    lens = {o["id"]: o for o in by_type(objects, "lens")}
    buckets = {}
    for object_id, chart in lens.items():
        layer = chart["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]["layer1"]
        buckets[object_id] = (layer["columns"]["bucket"]["operationType"], layer["columns"]["bucket"]["sourceField"])
        assert layer["columns"]["count"]["operationType"] == "count"
    assert buckets == {"newswire-articles-per-agency": ("terms", AGENCY_CREDIT_FIELD),
                       "newswire-articles-per-language": ("terms", "language"),
                       "newswire-articles-per-day": ("date_histogram", TIME_FIELD)}
    # "no credit" is a runtime field value, so the unattributed articles get a bucket of their own.
    runtime = json.loads(by_type(objects, "index-pattern")[0]["attributes"]["runtimeFieldMap"])[AGENCY_CREDIT_FIELD]
    assert runtime["type"] == "keyword"
    assert f"emit('{NO_CREDIT}')" in runtime["script"]["source"] and "doc['agency'].size() == 0" in runtime["script"]["source"]
    dashboard = by_type(objects, "dashboard")[0]
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    panel_targets = {r["name"]: r["id"] for r in dashboard["references"]}
    assert sorted(panel_targets[p["panelRefName"]] for p in panels) == sorted([*lens, "newswire-articles-one-per-story"])
    controls = json.loads(dashboard["attributes"]["controlGroupInput"]["panelsJSON"])
    assert {(c["type"], c["explicitInput"].get("fieldName")) for c in controls.values()} == {
        ("optionsListControl", AGENCY_CREDIT_FIELD), ("optionsListControl", "language"), ("timeSlider", None)}
    assert {r["name"] for r in dashboard["references"] if r["name"].startswith("controlGroup_")} == {
        "controlGroup_agency:optionsListDataView", "controlGroup_language:optionsListDataView"}


def test_opensearch_dashboards_set_uses_its_own_visualizations_and_controls():
    objects = objects_of("opensearch-dashboards-2")
    assert by_type(objects, "lens") == []
    assert "name" not in by_type(objects, "index-pattern")[0]["attributes"]  # refused by OpenSearch Dashboards
    states = {o["id"]: json.loads(o["attributes"]["visState"]) for o in by_type(objects, "visualization")}
    agency = states["newswire-articles-per-agency"]["aggs"][1]["params"]
    assert agency["field"] == "agency" and agency["missingBucket"] is True and agency["missingBucketLabel"] == NO_CREDIT
    assert states["newswire-articles-per-day"]["aggs"][1]["type"] == "date_histogram"
    controls = states["newswire-articles-controls"]
    assert controls["type"] == "input_control_vis"
    assert [c["fieldName"] for c in controls["params"]["controls"]] == ["agency", "language"]
    dashboard = by_type(objects, "dashboard")[0]
    assert dashboard["attributes"]["timeRestore"] is True  # the date control is the dashboard's time picker
    assert len(json.loads(dashboard["attributes"]["panelsJSON"])) == 5


@pytest.fixture(scope="module")
def real_mapping(engine_settings):
    with isolated_engine(engine_settings, "kibana") as engine:
        engine.ensure_ready()
        properties = engine.mapping()["properties"]
        yield {name: spec.get("type", "object") for name, spec in properties.items()}


@pytest.mark.engine
@pytest.mark.parametrize("target", TARGETS)
def test_fields_exist_in_the_mapping_and_are_aggregatable(real_mapping, target):
    objects = objects_of(target)
    used = {TIME_FIELD, REPRESENTATIVE_FIELD, *by_type(objects, "search")[0]["attributes"]["columns"]}
    for chart in by_type(objects, "lens"):
        for column in chart["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]["layer1"]["columns"].values():
            used.add(column["sourceField"])
    for vis in by_type(objects, "visualization"):
        state = json.loads(vis["attributes"]["visState"])
        used.update(agg["params"]["field"] for agg in state["aggs"] if "field" in agg["params"])
        used.update(control["fieldName"] for control in state["params"].get("controls", []))
    used -= {"___records___", AGENCY_CREDIT_FIELD}  # Lens' document count and the data view's runtime field
    assert used - set(real_mapping) == set()
    assert real_mapping[TIME_FIELD] == "date" and real_mapping[REPRESENTATIVE_FIELD] == "boolean"
    for field in used - {"title"}:
        assert real_mapping[field] in AGGREGATABLE_TYPES, f"{field} ({real_mapping[field]}) cannot be aggregated"


# --- kibana-setup against a local HTTP stand-in for Kibana's status and import APIs -----------------


def kibana_status(number: str) -> dict:
    return {"name": "kibana", "version": {"number": number, "build_flavor": "traditional"},
            "status": {"overall": {"level": "available", "summary": "All services are available"}}}


def dashboards_status(number: str) -> dict:
    return {"name": "osd", "version": {"number": number, "build_number": 1, "build_snapshot": False},
            "status": {"overall": {"state": "green", "title": "Green"}, "statuses": []}}


class StandInKibana(JsonStub):
    """Answers GET /api/status with a configured version and POST _import like the saved objects API."""

    xsrf_header = "kbn-xsrf"
    status: ClassVar[dict] = {}  # each test's handler subclass sets its own
    received: ClassVar[list[dict]] = []

    def do_GET(self):  # http.server's method names
        if urlsplit(self.path).path != "/api/status":
            return self._answer(404, {"statusCode": 404})
        self.received.append({"path": "/api/status", "headers": dict(self.headers)})
        self._answer(200, self.status)

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        url = urlsplit(self.path)
        self.received.append({"path": url.path, "query": parse_qs(url.query), "headers": dict(self.headers),
                              "body": body})
        if url.path != "/api/saved_objects/_import":
            return self._answer(404, {"statusCode": 404, "error": "Not Found"})
        if self.headers.get(self.xsrf_header) is None:
            return self._answer(400, {"statusCode": 400, "message": f"Request must contain a {self.xsrf_header} header."})
        lines = [json.loads(line) for line in multipart_file(self.received[-1])[1].splitlines() if line.strip()]
        self._answer(200, {"success": True, "successCount": len(lines), "successResults": [
            {"type": o["type"], "id": o["id"]} for o in lines]})


def multipart_file(received: dict) -> tuple[str, str]:
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + received["headers"]["Content-Type"].encode() + b"\r\n\r\n" + received["body"])
    part = next(message.iter_parts())
    assert part.get_param("name", header="content-disposition") == "file"
    return part.get_filename(), part.get_content().decode("utf-8")


@pytest.fixture()
def stand_in(request):
    status, xsrf = request.param
    handler = type("Handler", (StandInKibana,), {"received": [], "status": status, "xsrf_header": xsrf})
    with serve(handler) as url:
        yield url, handler.received


def imported(received: list[dict]) -> list[dict]:
    (post,) = [r for r in received if r["path"] == "/api/saved_objects/_import"]
    assert post["query"] == {"overwrite": ["true"]}
    filename, content = multipart_file(post)
    assert filename == "newswire.ndjson"
    return [json.loads(line) for line in content.splitlines()]


@pytest.mark.parametrize("stand_in", [(kibana_status("8.18.3"), "kbn-xsrf")], indirect=True)
def test_kibana_import_stand_in_8x_server_gets_the_8x_set(stand_in, monkeypatch):
    url, received = stand_in
    monkeypatch.setenv("NEWSWIRE_INDEX_PREFIX", "newswire")
    monkeypatch.setenv("NEWSWIRE_SEARCH_USER", "newswire_kibana")
    monkeypatch.setenv("NEWSWIRE_SEARCH_PASSWORD", "secret-for-the-test")
    result = CliRunner().invoke(app, ["kibana-setup", "--kibana-url", url, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"kibana_url": url, "flavour": "kibana", "server_version": "8.18.3",
                                         "object_set": "kibana-8", "imported": 6}
    objects = imported(received)
    assert [(o["type"], o["id"]) for o in objects] == [
        ("index-pattern", "newswire-articles"), ("search", "newswire-articles-one-per-story"),
        ("lens", "newswire-articles-per-agency"), ("lens", "newswire-articles-per-language"),
        ("lens", "newswire-articles-per-day"), ("dashboard", "newswire-articles-overview")]
    assert {o["typeMigrationVersion"] for o in objects if o["type"] in {"search", "dashboard"}} == {"8.0.0"}
    assert "showApplySelections" not in objects[-1]["attributes"]["controlGroupInput"]
    assert all(r["headers"]["Authorization"].startswith("Basic ") for r in received)
    assert received[-1]["headers"]["kbn-xsrf"] == "true"
    assert "secret-for-the-test" not in result.output


@pytest.mark.parametrize("stand_in", [(kibana_status("9.1.0"), "kbn-xsrf")], indirect=True)
def test_kibana_import_stand_in_9x_server_gets_the_9x_set(stand_in, monkeypatch):
    url, received = stand_in
    monkeypatch.setenv("NEWSWIRE_INDEX_PREFIX", "newswire")
    result = CliRunner().invoke(app, ["kibana-setup", "--kibana-url", url])
    assert result.exit_code == 0, result.output
    assert "(kibana-9)" in result.output and "kibana 9.1.0" in result.output
    objects = imported(received)
    assert {o["type"]: o["typeMigrationVersion"] for o in objects} == {
        "index-pattern": "8.0.0", "search": "10.3.0", "lens": "8.5.0", "dashboard": "10.2.0"}
    assert objects[-1]["attributes"]["controlGroupInput"]["showApplySelections"] is False
    assert to_ndjson(objects) == TARGETS["kibana-9"].ndjson_file.read_text(encoding="utf-8")


@pytest.mark.parametrize("stand_in", [(dashboards_status("2.19.1"), "osd-xsrf")], indirect=True)
def test_kibana_import_stand_in_opensearch_dashboards_gets_its_set_and_osd_xsrf(stand_in):
    url, received = stand_in
    result = CliRunner().invoke(app, ["kibana-setup", "--kibana-url", url, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["object_set"] == "opensearch-dashboards-2"
    objects = imported(received)
    assert [o["type"] for o in objects] == ["index-pattern", "search", *["visualization"] * 4, "dashboard"]
    assert all("migrationVersion" in o and "coreMigrationVersion" not in o for o in objects)
    assert received[-1]["headers"]["osd-xsrf"] == "true" and "kbn-xsrf" not in received[-1]["headers"]


@pytest.mark.parametrize("stand_in", [(kibana_status("9.0.2"), "kbn-xsrf")], indirect=True)
def test_kibana_import_stand_in_twice_overwrites_again(stand_in):
    url, received = stand_in
    for _ in range(2):
        assert CliRunner().invoke(app, ["kibana-setup", "--kibana-url", url]).exit_code == 0
    posts = [r for r in received if r["path"] == "/api/saved_objects/_import"]
    assert [r["query"] for r in posts] == [{"overwrite": ["true"]}] * 2
    assert multipart_file(posts[0]) == multipart_file(posts[1])


@pytest.mark.parametrize("stand_in", [(kibana_status("7.17.9"), "kbn-xsrf")], indirect=True)
def test_kibana_import_stand_in_unsupported_major_is_a_clear_error(stand_in):
    url, received = stand_in
    result = CliRunner().invoke(app, ["kibana-setup", "--kibana-url", url])
    assert result.exit_code == 1
    assert "kibana 7.17.9 is not supported; objects exist for 8.x, 9.x" in " ".join(result.output.split())
    assert [r["path"] for r in received] == ["/api/status"]  # nothing imported


@pytest.mark.parametrize("stand_in", [(kibana_status("9.1.0"), "kbn-xsrf")], indirect=True)
def test_kibana_import_stand_in_imports_a_given_file(stand_in, tmp_path):
    url, received = stand_in
    custom = tmp_path / "extra.ndjson"
    custom.write_text('{"type": "index-pattern", "id": "other", "attributes": {"title": "other-*"}}\n', "utf-8")
    result = CliRunner().invoke(app, ["kibana-setup", "--kibana-url", url, "--file", str(custom), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["imported"] == 1
    assert imported(received) == [json.loads(custom.read_text("utf-8"))]


def test_unreachable_kibana_is_a_clear_error():
    result = CliRunner().invoke(app, ["kibana-setup", "--kibana-url", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "could not reach http://127.0.0.1:9/api/status" in " ".join(result.output.split())


@pytest.mark.parametrize(("status", "expected"), [
    (kibana_status("8.19.0"), "kibana-8"), (kibana_status("9.2.1"), "kibana-9"),
    (dashboards_status("1.3.20"), "opensearch-dashboards-2"), (dashboards_status("3.0.0"), "opensearch-dashboards-2"),
])
def test_status_answer_picks_the_object_set(status, expected):
    assert target_for_status(status).name == expected


def test_kibana_before_8_8_is_refused():
    with pytest.raises(Exception, match=r"kibana 8\.7\.1 is not supported; the objects need 8\.8 or later"):
        target_for_status(kibana_status("8.7.1"))
    assert target_for_status(kibana_status("8.8.0")).name == "kibana-8"


def test_status_answer_that_is_neither_product_is_refused():
    with pytest.raises(Exception, match="did not answer like Kibana or OpenSearch Dashboards"):
        target_for_status({"version": {"number": "9.1.0"}, "status": {}})
