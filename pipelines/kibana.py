"""Kibana and OpenSearch Dashboards saved objects, and their import through the saved objects API.

The objects (data view, saved search, four visualizations, one dashboard) are defined once here
and exported as NDJSON to infra/kibana/ and infra/opensearch-dashboards/ with
``newswire kibana-export`` (a test keeps those files equal to this definition). Both products read the same 7.10-era saved object format, which Kibana
migrates on import; the one difference is that OpenSearch Dashboards' strict saved object mapping
refuses the data view ``name`` attribute that Kibana 8+ uses as the display name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests

from kernel.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
FLAVOURS = ("kibana", "opensearch-dashboards")
NDJSON_FILES = {
    "kibana": REPO_ROOT / "infra" / "kibana" / "newswire.ndjson",
    "opensearch-dashboards": REPO_ROOT / "infra" / "opensearch-dashboards" / "newswire.ndjson",
}
XSRF_HEADERS = {"kibana": "kbn-xsrf", "opensearch-dashboards": "osd-xsrf"}
IMPORT_PATH = "/api/saved_objects/_import"

DATA_VIEW_ID = "newswire-articles"
SAVED_SEARCH_ID = "newswire-articles-search"
DASHBOARD_ID = "newswire-overview"
TIME_FIELD = "published_at"
SEARCH_COLUMNS = ["title", "agency", "published_at", "language", "url"]
INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"
# The last migration of each type in the 7.10 format, which both products can import.
MIGRATION_VERSIONS = {"index-pattern": "7.6.0", "search": "7.9.3", "visualization": "7.10.0", "dashboard": "7.9.3"}


class KibanaSetupError(RuntimeError):
    pass


def _search_source(with_index: bool = True) -> dict[str, str]:
    source: dict[str, Any] = {"query": {"query": "", "language": "kuery"}, "filter": []}
    if with_index:
        source["indexRefName"] = INDEX_REF
    return {"searchSourceJSON": json.dumps(source)}


def _index_reference() -> list[dict[str, str]]:
    return [{"name": INDEX_REF, "type": "index-pattern", "id": DATA_VIEW_ID}]


def _saved(object_type: str, object_id: str, attributes: dict, references: list[dict]) -> dict:
    return {"type": object_type, "id": object_id, "attributes": attributes, "references": references,
            "migrationVersion": {object_type: MIGRATION_VERSIONS[object_type]}}


def _data_view(read_alias: str, flavour: str) -> dict:
    # No stored field list: both products then read the fields from the index's mapping.
    attributes = {
        "title": read_alias,
        "timeFieldName": TIME_FIELD,
        "fieldFormatMap": json.dumps({"url": {"id": "url", "params": {
            "type": "a", "urlTemplate": "{{value}}", "labelTemplate": "{{value}}"}}}),
    }
    if flavour == "kibana":
        attributes["name"] = "newswire articles"
    return _saved("index-pattern", DATA_VIEW_ID, attributes, [])


def _saved_search() -> dict:
    return _saved("search", SAVED_SEARCH_ID, {
        "title": "newswire: articles",
        "description": "Every indexed article, newest first.",
        "columns": SEARCH_COLUMNS,
        "sort": [[TIME_FIELD, "desc"]],
        "kibanaSavedObjectMeta": _search_source(),
    }, _index_reference())


def _count() -> dict:
    return {"id": "1", "enabled": True, "type": "count", "schema": "metric", "params": {}}


def _terms(agg_id: str, field: str, schema: str, size: int, order_by: str = "1") -> dict:
    return {"id": agg_id, "enabled": True, "type": "terms", "schema": schema,
            "params": {"field": field, "size": size, "order": "desc", "orderBy": order_by,
                       "otherBucket": False, "missingBucket": False}}


def _xy_params(kind: str) -> dict:
    horizontal = kind == "horizontal_bar"
    return {
        "type": kind, "addTooltip": True, "addLegend": True, "legendPosition": "right", "times": [],
        "addTimeMarker": False,
        "grid": {"categoryLines": False},
        "categoryAxes": [{"id": "CategoryAxis-1", "type": "category", "position": "left" if horizontal else "bottom",
                          "show": True, "scale": {"type": "linear"}, "labels": {"show": True, "truncate": 100},
                          "title": {}}],
        "valueAxes": [{"id": "ValueAxis-1", "name": "LeftAxis-1", "type": "value",
                       "position": "bottom" if horizontal else "left", "show": True,
                       "scale": {"type": "linear", "mode": "normal"}, "labels": {"show": True, "truncate": 100},
                       "title": {"text": "Articles"}}],
        "seriesParams": [{"show": True, "type": "histogram", "mode": "stacked", "valueAxis": "ValueAxis-1",
                          "data": {"label": "Articles", "id": "1"}}],
    }


def _visualization(vis_id: str, title: str, vis_type: str, params: dict, aggs: list[dict]) -> dict:
    vis_state = {"title": title, "type": vis_type, "params": params, "aggs": aggs}
    return _saved("visualization", vis_id, {
        "title": title, "description": "", "version": 1, "uiStateJSON": "{}",
        "visState": json.dumps(vis_state, ensure_ascii=False),
        "kibanaSavedObjectMeta": _search_source(),
    }, _index_reference())


def _visualizations() -> list[dict]:
    date_histogram = {"id": "2", "enabled": True, "type": "date_histogram", "schema": "segment",
                      "params": {"field": TIME_FIELD, "interval": "auto", "min_doc_count": 1,
                                 "extended_bounds": {}}}
    return [
        _visualization("newswire-articles-per-agency", "newswire: articles per agency over time", "histogram",
                       _xy_params("histogram"), [_count(), date_histogram, _terms("3", "agency", "group", 10)]),
        _visualization("newswire-language-split", "newswire: language split", "pie",
                       {"type": "pie", "addTooltip": True, "addLegend": True, "legendPosition": "right",
                        "isDonut": True, "labels": {"show": True, "values": True, "last_level": True,
                                                    "truncate": 100}},
                       [_count(), _terms("2", "language", "segment", 10)]),
        _visualization("newswire-credited-agencies", "newswire: most credited agencies", "horizontal_bar",
                       _xy_params("horizontal_bar"), [_count(), _terms("2", "credited_agencies", "segment", 15)]),
        _visualization("newswire-articles-per-crawl-run", "newswire: articles per crawl run", "table",
                       {"perPage": 20, "showPartialRows": False, "showMetricsAtAllLevels": False,
                        "sort": {"columnIndex": None, "direction": None}, "showTotal": True, "totalFunc": "sum"},
                       [_count(), _terms("2", "crawl_run", "bucket", 50, order_by="_key")]),
    ]


def _dashboard(panel_objects: list[dict]) -> dict:
    panels, references = [], []
    for number, saved in enumerate(panel_objects):
        ref = f"panel_{number}"
        # Two charts per row; the saved search (a wide table) gets a row of its own.
        wide = saved["type"] == "search"
        grid = {"x": 0 if wide or number % 2 == 0 else 24, "y": 15 * (number // 2 + (number % 2 if wide else 0)),
                "w": 48 if wide else 24, "h": 15, "i": str(number + 1)}
        panels.append({"version": "7.10.0", "panelIndex": str(number + 1), "embeddableConfig": {},
                       "gridData": grid, "panelRefName": ref})
        references.append({"name": ref, "type": saved["type"], "id": saved["id"]})
    return _saved("dashboard", DASHBOARD_ID, {
        "title": "newswire: overview",
        "description": "Articles per agency over time, languages, credited agencies and crawl runs.",
        "panelsJSON": json.dumps(panels),
        "optionsJSON": json.dumps({"useMargins": True, "hidePanelTitles": False}),
        "timeRestore": True, "timeFrom": "now-30d", "timeTo": "now",
        "refreshInterval": {"pause": True, "value": 0},
        "version": 1,
        "kibanaSavedObjectMeta": _search_source(with_index=False),
    }, references)


def saved_objects(read_alias: str, flavour: str = "kibana") -> list[dict]:
    """Every saved object, referenced objects before the objects that reference them."""
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown flavour {flavour!r}; expected one of {FLAVOURS}")
    visualizations = _visualizations()
    search = _saved_search()
    return [_data_view(read_alias, flavour), search, *visualizations, _dashboard([*visualizations, search])]


def to_ndjson(objects: list[dict]) -> str:
    return "".join(json.dumps(saved, ensure_ascii=False, sort_keys=True) + "\n" for saved in objects)


def _auth(settings: Settings) -> tuple[dict[str, str], tuple[str, str] | None]:
    """Kibana is logged into with the engine's credentials (an API key or user/password)."""
    if settings.search_api_key:
        return {"Authorization": f"ApiKey {settings.search_api_key.get_secret_value()}"}, None
    if settings.search_user and settings.search_password:
        return {}, (settings.search_user, settings.search_password.get_secret_value())
    return {}, None


def import_saved_objects(kibana_url: str, ndjson: str, settings: Settings, *, flavour: str = "kibana",
                         timeout: float = 60) -> dict:
    """POST the objects to the saved objects import API, overwriting older versions (idempotent)."""
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown flavour {flavour!r}; expected one of {FLAVOURS}")
    headers, basic_auth = _auth(settings)
    headers[XSRF_HEADERS[flavour]] = "true"
    try:
        response = requests.post(
            kibana_url.rstrip("/") + IMPORT_PATH, params={"overwrite": "true"}, headers=headers, auth=basic_auth,
            files={"file": ("newswire.ndjson", ndjson.encode("utf-8"), "application/ndjson")},
            verify=settings.search_ca_certs or True, timeout=timeout,
        )
    except requests.RequestException as error:
        raise KibanaSetupError(f"could not reach {kibana_url}: {type(error).__name__}") from None
    if response.status_code != 200:
        raise KibanaSetupError(f"{kibana_url} answered {response.status_code}: {response.text[:500]}")
    answer = response.json()
    if not answer.get("success", False):
        raise KibanaSetupError(f"import reported errors: {json.dumps(answer.get('errors', []))[:1000]}")
    return answer
