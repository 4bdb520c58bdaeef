"""Kibana and OpenSearch Dashboards saved objects, and their import through the saved objects API.

One set of objects per target: Kibana 8.x, Kibana 9.x and OpenSearch Dashboards. Each is generated here
for the configured read alias (so two index prefixes can live in one Kibana) and exported as NDJSON to
infra/ (a test keeps those files equal to this code; rewrite them with ``write_ndjson_files()``).
The Kibana sets carry ``coreMigrationVersion`` and a per-type ``typeMigrationVersion``; OpenSearch
Dashboards still reads the 7.10-era ``migrationVersion`` map. The versions and attribute schemas each set is checked against were read from the products' own
source and are kept, with the paths and commits read, in pipelines/kibana_schemas/.

``newswire kibana-setup`` asks the server for its version (GET /api/status) and imports the set that
server understands: Kibana refuses objects whose typeMigrationVersion is newer than it knows, and
OpenSearch Dashboards refuses the Kibana-only attributes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kernel.settings import Settings

if TYPE_CHECKING:
    import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = Path(__file__).resolve().parent / "kibana_schemas"
FLAVOURS = ("kibana", "opensearch-dashboards")
XSRF_HEADERS = {"kibana": "kbn-xsrf", "opensearch-dashboards": "osd-xsrf"}
IMPORT_PATH = "/api/saved_objects/_import"
STATUS_PATH = "/api/status"

TIME_FIELD = "published_at"
REPRESENTATIVE_FIELD = "story_representative"  # true on the one article shown for each story cluster
AGENCY_FIELD = "agency"
LANGUAGE_FIELD = "language"
# Kibana data view runtime field: the agency id, or "no credit" when the article names no agency, so the
# per-agency chart and the agency control show the unattributed articles instead of hiding them.
AGENCY_CREDIT_FIELD = "agency_credit"
NO_CREDIT = "no credit"
SEARCH_COLUMNS = ["title", "agency", "published_at", "language", "story_cluster", "url"]
INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"
FILTER_REF = "kibanaSavedObjectMeta.searchSourceJSON.filter[0].meta.index"
# Kibana core's last document migration (core-saved-objects-migration-server-internal, '8.8.0'),
# unchanged in 9.x; see pipelines/kibana_schemas/kibana-*.json.
CORE_MIGRATION_VERSION = "8.8.0"


@dataclass(frozen=True)
class Target:
    """One product line and the saved object format it imports."""

    name: str
    flavour: str
    major: int
    # type -> the format version the generated attributes are in (typeMigrationVersion, or the
    # migrationVersion entry for OpenSearch Dashboards). Kibana migrates an object forward from the
    # version it declares and refuses one newer than it knows, so each is a version every minor of the
    # major knows (listed in its schema file) whose attribute schema the generated attributes satisfy.
    versions: dict[str, str]

    @property
    def ndjson_file(self) -> Path:
        # newswire.ndjson is the newest major's set (the one the compose stack's Kibana imports).
        if self.flavour == "kibana":
            newest = self.name == DEFAULT_TARGET["kibana"]
            return REPO_ROOT / "infra" / "kibana" / ("newswire.ndjson" if newest else f"newswire-{self.major}.x.ndjson")
        return REPO_ROOT / "infra" / "opensearch-dashboards" / "newswire.ndjson"

    @property
    def schema_file(self) -> Path:
        return SCHEMA_DIR / f"{self.name}.json"


TARGETS = {
    "kibana-8": Target("kibana-8", "kibana", 8, {
        # 8.0.0: the multi-namespace conversion every type went through; lens 8.5.0: its last own migration.
        "index-pattern": "8.0.0", "search": "8.0.0", "lens": "8.5.0", "dashboard": "8.0.0"}),
    "kibana-9": Target("kibana-9", "kibana", 9, {
        # Model versions (10.N.0) that were already in 8.x's source, hence known to every 9.x minor.
        "index-pattern": "8.0.0", "search": "10.3.0", "lens": "8.5.0", "dashboard": "10.2.0"}),
    "opensearch-dashboards-2": Target("opensearch-dashboards-2", "opensearch-dashboards", 2, {
        "index-pattern": "7.6.0", "search": "7.9.3", "visualization": "7.10.0", "dashboard": "7.9.3"}),
}
SUPPORTED_MAJORS = {"kibana": (8, 9), "opensearch-dashboards": (1, 2, 3)}
# Kibana before 8.8 refuses coreMigrationVersion 8.8.0 and has no typeMigrationVersion field.
KIBANA_FIRST_TYPE_MIGRATION_VERSION = (8, 8)
DEFAULT_TARGET = {"kibana": "kibana-9", "opensearch-dashboards": "opensearch-dashboards-2"}
NDJSON_FILES = {name: target.ndjson_file for name, target in TARGETS.items()}


class KibanaSetupError(RuntimeError):
    pass


@dataclass(frozen=True)
class ObjectIds:
    """Saved object ids derived from the read alias, so each index prefix gets its own objects."""

    alias: str

    @property
    def data_view(self) -> str:
        return self.alias

    @property
    def search(self) -> str:
        return f"{self.alias}-one-per-story"

    @property
    def dashboard(self) -> str:
        return f"{self.alias}-overview"

    def chart(self, key: str) -> str:
        return f"{self.alias}-{key}"


# (key, title, field shown, Kibana Lens series type): the three charts of the dashboard.
CHARTS = [
    ("per-agency", "articles per agency (no credit included)", AGENCY_FIELD, "bar_horizontal"),
    ("per-language", "articles per language", LANGUAGE_FIELD, "bar_horizontal"),
    ("per-day", "articles per day", TIME_FIELD, "bar_stacked"),
]


def _reference(name: str, object_type: str, object_id: str) -> dict[str, str]:
    return {"name": name, "type": object_type, "id": object_id}


def _search_source(*, index: bool, one_per_story: bool = False) -> dict[str, str]:
    source: dict[str, Any] = {"query": {"query": "", "language": "kuery"}, "filter": []}
    if one_per_story:
        source["filter"].append({
            "meta": {"alias": "one article per story", "negate": False, "disabled": False, "type": "phrase",
                     "key": REPRESENTATIVE_FIELD, "params": {"query": True}, "indexRefName": FILTER_REF},
            "query": {"match_phrase": {REPRESENTATIVE_FIELD: True}},
            "$state": {"store": "appState"},
        })
    if index:
        source["indexRefName"] = INDEX_REF
    return {"searchSourceJSON": json.dumps(source, ensure_ascii=False)}


def _saved(target: Target, object_type: str, object_id: str, attributes: dict, references: list[dict]) -> dict:
    saved = {"type": object_type, "id": object_id, "attributes": attributes, "references": references}
    version = target.versions[object_type]
    if target.flavour == "kibana":
        saved["coreMigrationVersion"] = CORE_MIGRATION_VERSION
        saved["typeMigrationVersion"] = version
    else:
        saved["migrationVersion"] = {object_type: version}
    return saved


def _agency_credit_script() -> str:
    # Painless on the indexed keyword: one value per credited agency, or the "no credit" bucket.
    return (f"if (doc['{AGENCY_FIELD}'].size() == 0) {{ emit('{NO_CREDIT}'); }} "
            f"else {{ for (def agency : doc['{AGENCY_FIELD}']) {{ emit(agency); }} }}")


def _data_view(target: Target, ids: ObjectIds) -> dict:
    # No stored field list: both products read the fields from the index's mapping.
    attributes: dict[str, Any] = {
        "title": ids.alias,
        "timeFieldName": TIME_FIELD,
        "fieldFormatMap": json.dumps({"url": {"id": "url", "params": {
            "type": "a", "urlTemplate": "{{value}}", "labelTemplate": "{{value}}"}}}),
    }
    if target.flavour == "kibana":
        attributes["name"] = f"newswire articles ({ids.alias})"
        attributes["runtimeFieldMap"] = json.dumps({AGENCY_CREDIT_FIELD: {
            "type": "keyword", "script": {"source": _agency_credit_script()}}})
        attributes["allowNoIndex"] = False
    return _saved(target, "index-pattern", ids.data_view, attributes, [])


def _saved_search(target: Target, ids: ObjectIds) -> dict:
    attributes: dict[str, Any] = {
        "title": f"newswire: one article per story ({ids.alias})",
        "description": f"The representative article of each story cluster ({REPRESENTATIVE_FIELD}: true), "
                       "newest first.",
        "columns": SEARCH_COLUMNS,
        "sort": [[TIME_FIELD, "desc"]],
        "kibanaSavedObjectMeta": _search_source(index=True, one_per_story=True),
    }
    if target.flavour == "kibana":
        attributes.update({"grid": {}, "hideChart": False, "isTextBasedQuery": False})
    return _saved(target, "search", ids.search, attributes, [
        _reference(INDEX_REF, "index-pattern", ids.data_view), _reference(FILTER_REF, "index-pattern", ids.data_view)])


# --- Kibana: Lens charts and a dashboard with a control group --------------------------------------


def _lens_bucket_column(field: str) -> dict:
    if field == TIME_FIELD:
        return {"label": "day", "dataType": "date", "operationType": "date_histogram", "sourceField": TIME_FIELD,
                "isBucketed": True, "scale": "interval",
                "params": {"interval": "d", "includeEmptyRows": True, "dropPartials": False}}
    source_field = AGENCY_CREDIT_FIELD if field == AGENCY_FIELD else field
    return {"label": field, "dataType": "string", "operationType": "terms", "sourceField": source_field,
            "isBucketed": True, "scale": "ordinal",
            "params": {"size": 30, "orderBy": {"type": "column", "columnId": "count"}, "orderDirection": "desc",
                       "otherBucket": True, "missingBucket": False, "parentFormat": {"id": "terms"}}}


def _lens(target: Target, ids: ObjectIds, key: str, title: str, field: str, series_type: str) -> dict:
    layer = "layer1"
    columns = {
        "bucket": _lens_bucket_column(field),
        "count": {"label": "articles", "dataType": "number", "operationType": "count", "sourceField": "___records___",
                  "isBucketed": False, "scale": "ratio", "params": {"emptyAsNull": True}},
    }
    state = {
        "datasourceStates": {"formBased": {"layers": {layer: {
            "columns": columns, "columnOrder": ["bucket", "count"], "incompleteColumns": {}}}}},
        "visualization": {
            "preferredSeriesType": series_type, "legend": {"isVisible": False, "position": "right"},
            "valueLabels": "show",
            "layers": [{"layerId": layer, "layerType": "data", "seriesType": series_type,
                        "xAccessor": "bucket", "accessors": ["count"]}],
        },
        "query": {"query": "", "language": "kuery"},
        "filters": [],
    }
    return _saved(target, "lens", ids.chart(key), {
        "title": f"newswire: {title}", "description": "", "visualizationType": "lnsXY", "state": state,
    }, [_reference("indexpattern-datasource-current-indexpattern", "index-pattern", ids.data_view),
        _reference(f"indexpattern-datasource-layer-{layer}", "index-pattern", ids.data_view)])


def _control_group(target: Target, ids: ObjectIds) -> tuple[dict, list[dict]]:
    """Options lists for agency (no credit included) and language, and a time slider for the date."""
    controls: dict[str, dict] = {}
    references = []
    for order, (control_id, field, title) in enumerate([("agency", AGENCY_CREDIT_FIELD, "Agency"),
                                                        ("language", LANGUAGE_FIELD, "Language")]):
        controls[control_id] = {"order": order, "width": "medium", "grow": True, "type": "optionsListControl",
                                "explicitInput": {"id": control_id, "dataViewId": ids.data_view, "fieldName": field,
                                                  "title": title, "selectedOptions": [], "enhancements": {}}}
        references.append(_reference(f"controlGroup_{control_id}:optionsListDataView", "index-pattern", ids.data_view))
    controls["date"] = {"order": 2, "width": "large", "grow": True, "type": "timeSlider",
                        "explicitInput": {"id": "date", "title": "Date", "enhancements": {}}}
    group = {
        "controlStyle": "oneLine", "chainingSystem": "HIERARCHICAL",
        "panelsJSON": json.dumps(controls),
        "ignoreParentSettingsJSON": json.dumps({"ignoreFilters": False, "ignoreQuery": False,
                                                "ignoreTimerange": False, "ignoreValidations": False}),
    }
    if target.major >= 9:
        # Added by dashboard model version 2 (10.2.0): apply selections at once, no "apply" button.
        group["showApplySelections"] = False
    return group, references


def _layout(wide: list[bool]) -> list[dict]:
    """Grid positions: charts two per row, a wide panel (the saved search's table) on a row of its own."""
    grids, x, y = [], 0, 0
    for number, is_wide in enumerate(wide):
        if is_wide and x:
            x, y = 0, y + 15
        grids.append({"x": x, "y": y, "w": 48 if is_wide else 24, "h": 15, "i": str(number + 1)})
        if is_wide or x:
            x, y = 0, y + 15
        else:
            x = 24
    return grids


def _dashboard(target: Target, ids: ObjectIds, panel_objects: list[dict], extra_references: list[dict],
               extra_attributes: dict) -> dict:
    panels, references = [], []
    grids = _layout([saved["type"] == "search" for saved in panel_objects])
    for number, (saved, grid) in enumerate(zip(panel_objects, grids, strict=True)):
        ref = f"panel_{number}"
        panels.append({"type": saved["type"], "panelIndex": grid["i"], "embeddableConfig": {},
                       "gridData": grid, "panelRefName": ref})
        references.append(_reference(ref, saved["type"], saved["id"]))
    attributes = {
        "title": f"newswire: overview ({ids.alias})",
        "description": "Articles per agency (no credit included), per language and per day; one article per story.",
        "panelsJSON": json.dumps(panels),
        "optionsJSON": json.dumps({"useMargins": True, "syncColors": False, "hidePanelTitles": False}),
        "timeRestore": True, "timeFrom": "now-30d", "timeTo": "now",
        "refreshInterval": {"pause": True, "value": 0},
        "kibanaSavedObjectMeta": _search_source(index=False),
        **extra_attributes,
    }
    return _saved(target, "dashboard", ids.dashboard, attributes, references + extra_references)


def _kibana_objects(target: Target, ids: ObjectIds) -> list[dict]:
    charts = [_lens(target, ids, *chart) for chart in CHARTS]
    search = _saved_search(target, ids)
    group, group_references = _control_group(target, ids)
    dashboard = _dashboard(target, ids, [*charts, search], group_references, {"controlGroupInput": group})
    return [_data_view(target, ids), search, *charts, dashboard]


# --- OpenSearch Dashboards: aggregation-based visualizations and an input control ------------------


def _count_agg() -> dict:
    return {"id": "1", "enabled": True, "type": "count", "schema": "metric", "params": {}}


def _osd_bucket_agg(field: str) -> dict:
    if field == TIME_FIELD:
        return {"id": "2", "enabled": True, "type": "date_histogram", "schema": "segment",
                "params": {"field": TIME_FIELD, "interval": "d", "min_doc_count": 1, "extended_bounds": {}}}
    return {"id": "2", "enabled": True, "type": "terms", "schema": "segment",
            "params": {"field": field, "size": 30, "order": "desc", "orderBy": "1", "otherBucket": True,
                       "otherBucketLabel": "other", "missingBucket": field == AGENCY_FIELD,
                       "missingBucketLabel": NO_CREDIT}}


def _osd_xy_params(kind: str) -> dict:
    horizontal = kind == "horizontal_bar"
    return {
        "type": kind, "addTooltip": True, "addLegend": False, "legendPosition": "right", "times": [],
        "addTimeMarker": False, "grid": {"categoryLines": False},
        "categoryAxes": [{"id": "CategoryAxis-1", "type": "category", "position": "left" if horizontal else "bottom",
                          "show": True, "scale": {"type": "linear"}, "labels": {"show": True, "truncate": 100},
                          "title": {}}],
        "valueAxes": [{"id": "ValueAxis-1", "name": "LeftAxis-1", "type": "value",
                       "position": "bottom" if horizontal else "left", "show": True,
                       "scale": {"type": "linear", "mode": "normal"}, "labels": {"show": True, "truncate": 100},
                       "title": {"text": "articles"}}],
        "seriesParams": [{"show": True, "type": "histogram", "mode": "stacked", "valueAxis": "ValueAxis-1",
                          "data": {"label": "articles", "id": "1"}}],
    }


def _osd_visualization(target: Target, object_id: str, title: str, vis_type: str, params: dict, aggs: list[dict],
                       references: list[dict], *, with_index: bool = True) -> dict:
    vis_state = {"title": title, "type": vis_type, "params": params, "aggs": aggs}
    return _saved(target, "visualization", object_id, {
        "title": title, "description": "", "version": 1, "uiStateJSON": "{}",
        "visState": json.dumps(vis_state, ensure_ascii=False),
        "kibanaSavedObjectMeta": _search_source(index=with_index),
    }, references)


def _osd_controls(target: Target, ids: ObjectIds) -> dict:
    """Input controls for agency and language; the date is the dashboard's time picker (timeRestore)."""
    controls, references = [], []
    for number, (field, label) in enumerate([(AGENCY_FIELD, "Agency"), (LANGUAGE_FIELD, "Language")]):
        ref = f"control_{number}_index_pattern"
        controls.append({"id": str(number + 1), "fieldName": field, "label": label, "type": "list", "parent": "",
                         "indexPatternRefName": ref,
                         "options": {"type": "terms", "multiselect": True, "dynamicOptions": True, "size": 30,
                                     "order": "desc"}})
        references.append(_reference(ref, "index-pattern", ids.data_view))
    params = {"controls": controls, "updateFiltersOnChange": True, "useTimeFilter": True, "pinFilters": False}
    return _osd_visualization(target, ids.chart("controls"), "newswire: agency and language", "input_control_vis",
                              params, [], references, with_index=False)


def _osd_objects(target: Target, ids: ObjectIds) -> list[dict]:
    index_refs = [_reference(INDEX_REF, "index-pattern", ids.data_view)]
    charts = []
    for key, title, field, _ in CHARTS:
        vis_type = "histogram" if field == TIME_FIELD else "horizontal_bar"
        charts.append(_osd_visualization(target, ids.chart(key), f"newswire: {title}", vis_type,
                                         _osd_xy_params(vis_type), [_count_agg(), _osd_bucket_agg(field)], index_refs))
    controls = _osd_controls(target, ids)
    search = _saved_search(target, ids)
    dashboard = _dashboard(target, ids, [controls, *charts, search], [], {"version": 1})
    return [_data_view(target, ids), search, controls, *charts, dashboard]


def saved_objects(read_alias: str, flavour: str = "kibana", target: str | None = None) -> list[dict]:
    """Every saved object of one target (default: the newest major of `flavour`), referenced objects first."""
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown flavour {flavour!r}; expected one of {FLAVOURS}")
    chosen = TARGETS[target or DEFAULT_TARGET[flavour]]
    ids = ObjectIds(read_alias)
    return _kibana_objects(chosen, ids) if chosen.flavour == "kibana" else _osd_objects(chosen, ids)


def to_ndjson(objects: list[dict]) -> str:
    return "".join(json.dumps(saved, ensure_ascii=False, sort_keys=True) + "\n" for saved in objects)


def write_ndjson_files(read_alias: str = "newswire-articles") -> list[Path]:
    """Rewrite infra/'s NDJSON files (the objects for the default prefix) from this code."""
    for target in TARGETS.values():
        target.ndjson_file.write_text(to_ndjson(saved_objects(read_alias, target.flavour, target.name)), "utf-8")
    return [target.ndjson_file for target in TARGETS.values()]


def _auth(settings: Settings) -> tuple[dict[str, str], tuple[str, str] | None]:
    """Kibana is logged into with the engine's credentials (an API key or user/password)."""
    if settings.search_api_key:
        return {"Authorization": f"ApiKey {settings.search_api_key.get_secret_value()}"}, None
    if settings.search_user and settings.search_password:
        return {}, (settings.search_user, settings.search_password.get_secret_value())
    return {}, None


def _request(method: str, url: str, settings: Settings, timeout: float, **kwargs) -> requests.Response:
    import requests  # here: `newswire search` imports this module but never calls Kibana

    headers, basic_auth = _auth(settings)
    headers.update(kwargs.pop("headers", {}))
    try:
        return requests.request(method, url, headers=headers, auth=basic_auth,
                                verify=settings.search_ca_certs or True, timeout=timeout, **kwargs)
    except requests.RequestException as error:
        raise KibanaSetupError(f"could not reach {url}: {type(error).__name__}") from None


def target_for_status(status: dict) -> Target:
    """The object set for a server, from its GET /api/status answer.

    Kibana 8/9 answer ``status.overall.level`` ("available"); OpenSearch Dashboards answers in the legacy
    format (``status.overall.state``, "green") unless asked for ``?v8format=true``, and numbers its
    releases 1.x-3.x. Both give the release in ``version.number``.
    """
    number = str((status.get("version") or {}).get("number", ""))
    match = re.match(r"(\d+)\.(\d+)", number)
    overall = (status.get("status") or {}).get("overall") or {}
    if not match or not ({"level", "state"} & set(overall)):
        raise KibanaSetupError(f"{STATUS_PATH} did not answer like Kibana or OpenSearch Dashboards "
                               f"(version {number or 'missing'})")
    major = int(match.group(1))
    flavour = "kibana" if "level" in overall else "opensearch-dashboards"
    if major not in SUPPORTED_MAJORS[flavour]:
        supported = ", ".join(f"{m}.x" for m in SUPPORTED_MAJORS[flavour])
        raise KibanaSetupError(f"{flavour} {number} is not supported; objects exist for {supported}")
    if flavour == "opensearch-dashboards":
        return TARGETS[DEFAULT_TARGET[flavour]]
    if (major, int(match.group(2))) < KIBANA_FIRST_TYPE_MIGRATION_VERSION:
        raise KibanaSetupError(f"kibana {number} is not supported; the objects need 8.8 or later "
                               "(the first release with typeMigrationVersion)")
    return TARGETS[f"kibana-{major}"]


def detect_target(kibana_url: str, settings: Settings, *, timeout: float = 30) -> tuple[Target, str]:
    """(object set, version number) for the server at `kibana_url`."""
    response = _request("GET", kibana_url.rstrip("/") + STATUS_PATH, settings, timeout)
    if response.status_code != 200:
        raise KibanaSetupError(f"{kibana_url}{STATUS_PATH} answered {response.status_code}: {response.text[:300]}")
    try:
        status = response.json()
    except ValueError:
        raise KibanaSetupError(f"{kibana_url}{STATUS_PATH} did not answer JSON") from None
    return target_for_status(status), str(status["version"]["number"])


def import_saved_objects(kibana_url: str, ndjson: str, settings: Settings, *, flavour: str = "kibana",
                         timeout: float = 60) -> dict:
    """POST the objects to the saved objects import API, overwriting older versions (idempotent)."""
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown flavour {flavour!r}; expected one of {FLAVOURS}")
    response = _request(
        "POST", kibana_url.rstrip("/") + IMPORT_PATH, settings, timeout, params={"overwrite": "true"},
        headers={XSRF_HEADERS[flavour]: "true"},
        files={"file": ("newswire.ndjson", ndjson.encode("utf-8"), "application/ndjson")},
    )
    if response.status_code != 200:
        raise KibanaSetupError(f"{kibana_url} answered {response.status_code}: {response.text[:500]}")
    answer = response.json()
    if not answer.get("success", False):
        raise KibanaSetupError(f"import reported errors: {json.dumps(answer.get('errors', []))[:1000]}")
    return answer
