"""The one adapter between newswire and the search engine (Elasticsearch 8/9 or OpenSearch 2/3).

The flavour is read from the server's ``GET /``; OpenSearch is spoken to through ``opensearch-py``
and Elasticsearch through ``elasticsearch``, but every request body is the same JSON for both: all
calls go through each client's low-level ``perform_request``. Connection settings come only from
:class:`pipelines.settings.Settings` and are never printed (see :func:`redact_url`).

Index layout: versioned indices ``<prefix>-articles-v<N>`` created from one index template, behind
a read alias and a write alias, so a new mapping can be built beside the old one and switched to
atomically (see docs/search.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from itertools import islice
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

from pipelines.records import Article, RecordStatus
from pipelines.settings import Settings

TEMPLATES_DIR = Path(__file__).resolve().parent / "index_templates"
LIFECYCLE_POLICY_NAME = "newswire-superseded-articles"
ISM_NOT_AVAILABLE = "ISM not available"


class SearchEngineError(RuntimeError):
    """A request the engine refused or could not answer; the message never holds credentials."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass
class BulkResult:
    indexed: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


# --- documents -------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def credited_agencies(article: Article) -> list[str]:
    """Every agency the story is credited to, the primary credit first, without repeats."""
    ids = ([article.attribution.agency_id] if article.attribution else []) + [c.agency_id for c in article.credits]
    return list(dict.fromkeys(ids))


def article_document(article: Article) -> dict[str, Any]:
    """The indexed form of an article: attribution flattened into keyword fields for filters."""
    credit = article.attribution
    provenance = article.provenance
    return {
        "id": article.id,
        "url": article.url,
        "canonical_url": article.canonical_url,
        "source_id": article.source_id,
        "title": article.title,
        "lead": article.lead,
        "body": article.body,
        "published_at": _iso(article.published_at),
        "crawled_at": _iso(article.crawled_at),
        "language": article.language,
        "language_confidence": article.language_confidence,
        "agency": credit.agency_id if credit else None,
        "agency_name_ar": credit.name_ar if credit else None,
        "agency_name_en": credit.name_en if credit else None,
        "attribution_evidence": credit.evidence if credit else None,
        "attribution_rule": credit.rule if credit else None,
        "attribution_confidence": credit.confidence if credit else None,
        "credited_agencies": credited_agencies(article),
        "cited_agencies": article.cited_agencies,
        "removed_trailers": article.removed_trailers,
        "story_cluster": article.story_cluster,
        "content_hash": article.content_hash,
        "status": article.status.value,
        "warnings": article.warnings,
        "pipeline_version": article.pipeline_version,
        "crawl_run": provenance.crawl_run if provenance else None,
        "warc_file": provenance.warc_file if provenance else None,
        "warc_record_id": provenance.warc_record_id if provenance else None,
    }


def bulk_lines(articles: Iterable[Article], index: str) -> Iterator[str]:
    """NDJSON action + source per indexable article (by id); error records are skipped."""
    for article in articles:
        if article.status == RecordStatus.ERROR:
            continue
        action = json.dumps({"index": {"_index": index, "_id": article.id}})
        source = json.dumps(article_document(article), ensure_ascii=False)
        yield f"{action}\n{source}\n"


# --- index design (the JSON files in index_templates/) --------------------------------


@cache
def _template_file(name: str) -> str:
    return (TEMPLATES_DIR / name).read_text(encoding="utf-8")


def load_template(name: str) -> dict[str, Any]:
    """A fresh copy of one JSON file of index_templates/ (callers may modify it)."""
    return json.loads(_template_file(name))


def articles_index_body() -> dict[str, Any]:
    """Settings, analysis and mappings of an articles index."""
    return load_template("articles.json")


def index_template_body(settings: Settings) -> dict[str, Any]:
    body = articles_index_body()
    return {
        "index_patterns": [f"{settings.index_prefix}-articles-v*"],
        "priority": 200,
        "template": body,
        "_meta": {"managed_by": "newswire", "description": "Arabic news articles (see docs/search.md)"},
    }


def redact_url(url: str) -> str:
    """The URL with any user:password@ replaced, safe for logs and errors."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))


# --- transports: one per client, identical request bodies ----------------------------


class _Transport(Protocol):
    def request(self, method: str, path: str, body: Any = None, params: dict | None = None,
                ndjson: bool = False) -> Any: ...


def _auth_options(settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if settings.search_ca_certs:
        options["ca_certs"] = settings.search_ca_certs
    return options


def _user_password(settings: Settings) -> tuple[str, str] | None:
    if settings.search_user and settings.search_password:
        return settings.search_user, settings.search_password.get_secret_value()
    return None


class _OpenSearchTransport:
    def __init__(self, settings: Settings):
        from opensearchpy import OpenSearch

        headers = {}
        if settings.search_api_key:
            headers["Authorization"] = f"ApiKey {settings.search_api_key.get_secret_value()}"
        self._client = OpenSearch(
            hosts=[settings.search_url], http_auth=_user_password(settings), headers=headers or None,
            use_ssl=settings.search_url.startswith("https"), verify_certs=True,
            timeout=60, **_auth_options(settings),
        )
        self._url = redact_url(settings.search_url)

    def request(self, method, path, body=None, params=None, ndjson=False):
        from opensearchpy.exceptions import TransportError

        # opensearch-py sends content-type: application/json itself; only bulk bodies differ.
        headers = {"content-type": "application/x-ndjson"} if ndjson else None
        try:
            return self._client.transport.perform_request(method, path, params=params, body=body, headers=headers)
        except TransportError as error:
            status = error.status_code if isinstance(error.status_code, int) else None
            raise SearchEngineError(f"{method} {path} on {self._url}: {status or ''} {error.error}", status) from None


class _ElasticsearchTransport:
    """Elasticsearch 8 or 9 through the installed client (either major).

    The client would ask for ``compatible-with=<its own major>``, which a server of the other major
    refuses; naming the server's major explicitly makes one client serve both.
    """

    def __init__(self, settings: Settings, server_major: str):
        from elasticsearch import Elasticsearch

        auth: dict[str, Any] = {}
        if settings.search_api_key:
            auth["api_key"] = settings.search_api_key.get_secret_value()
        elif (user_password := _user_password(settings)) is not None:
            auth["basic_auth"] = user_password
        self._client = Elasticsearch(settings.search_url, request_timeout=60, **auth, **_auth_options(settings))
        self._url = redact_url(settings.search_url)
        self._json = f"application/vnd.elasticsearch+json; compatible-with={server_major}"
        self._ndjson = f"application/vnd.elasticsearch+x-ndjson; compatible-with={server_major}"

    def request(self, method, path, body=None, params=None, ndjson=False):
        from elastic_transport import TransportError
        from elasticsearch import ApiError

        headers = {"accept": self._json}
        if body is not None:
            headers["content-type"] = self._ndjson if ndjson else self._json
        try:
            return self._client.perform_request(method, path, params=params, headers=headers, body=body).body
        except ApiError as error:
            raise SearchEngineError(f"{method} {path} on {self._url}: {error.meta.status} {error.message}",
                                    error.meta.status) from None
        except TransportError as error:
            raise SearchEngineError(f"{method} {path} on {self._url}: {error.message}") from None


def detect_flavour(settings: Settings) -> tuple[str, str]:
    """("opensearch"|"elasticsearch", version number) from the server's GET /.

    Asked through opensearch-py because the elasticsearch client refuses servers that are not
    Elasticsearch before it would even show their answer.
    """
    info = _OpenSearchTransport(settings).request("GET", "/")
    version = info.get("version", {})
    flavour = "opensearch" if version.get("distribution") == "opensearch" else "elasticsearch"
    return flavour, version.get("number", "")


# --- the adapter -----------------------------------------------------------------------


_VERSION_RE = re.compile(r"-v(\d+)$")


def _path(*names: str) -> str:
    return "/" + "/".join(quote(name, safe=",*") for name in names)


class SearchEngine:
    """Everything newswire asks of the engine; create it with :meth:`connect`."""

    def __init__(self, settings: Settings, flavour: str, version: str, transport: _Transport):
        self.settings = settings
        self.flavour = flavour
        self.version = version
        self._transport = transport

    @classmethod
    def connect(cls, settings: Settings) -> SearchEngine:
        flavour, version = detect_flavour(settings)
        if flavour == "opensearch":
            transport: _Transport = _OpenSearchTransport(settings)
        else:
            transport = _ElasticsearchTransport(settings, server_major=version.split(".")[0])
        return cls(settings, flavour, version, transport)

    def __repr__(self) -> str:
        return f"SearchEngine({self.flavour} {self.version} at {redact_url(self.settings.search_url)})"

    def request(self, method: str, path: str, body: Any = None, params: dict | None = None,
                ndjson: bool = False) -> Any:
        """A raw request with the same JSON body whatever the flavour (for search and evaluation)."""
        return self._transport.request(method, path, body=body, params=params, ndjson=ndjson)

    def exists(self, path: str) -> bool:
        try:
            self.request("GET", path)
        except SearchEngineError as error:
            if error.status == 404:
                return False
            raise
        return True

    # --- setup ---------------------------------------------------------------------

    def ensure_ready(self) -> str:
        """Template, lifecycle policy, first versioned index and both aliases, where missing."""
        self.put_index_template()
        self.install_lifecycle_policy()
        if not self.exists(_path("_alias", self.settings.read_alias)):
            index = self.settings.index_name(1)
            if not self.exists(_path(index)):
                self.create_index(index)
            self._attach_aliases(index)
        return self.current_index()

    def put_index_template(self) -> None:
        name = f"{self.settings.index_prefix}-articles"
        self.request("PUT", _path("_index_template", name), index_template_body(self.settings))

    def install_lifecycle_policy(self) -> str:
        """ILM on Elasticsearch, ISM on OpenSearch where the plugin answers; returns what happened."""
        if self.flavour == "elasticsearch":
            self.request("PUT", _path("_ilm", "policy", LIFECYCLE_POLICY_NAME), load_template("ilm_policy.json"))
            return f"ILM policy {LIFECYCLE_POLICY_NAME} installed"
        if not self._ism_available():
            return ISM_NOT_AVAILABLE
        path = _path("_plugins", "_ism", "policies", LIFECYCLE_POLICY_NAME)
        try:
            current = self.request("GET", path)
            params = {"if_seq_no": current["_seq_no"], "if_primary_term": current["_primary_term"]}
        except SearchEngineError as error:
            if error.status != 404:
                raise
            params = None
        self.request("PUT", path, load_template("ism_policy.json"), params=params)
        return f"ISM policy {LIFECYCLE_POLICY_NAME} installed"

    def _ism_available(self) -> bool:
        try:
            self.request("GET", _path("_plugins", "_ism", "policies"))
        except SearchEngineError as error:
            if error.status in (400, 404, 405):
                return False
            raise
        return True

    def create_index(self, index: str, body: dict | None = None) -> None:
        """An empty index; from the template unless a full body is given (evaluation indices)."""
        self.request("PUT", _path(index), body or {})

    def delete_index(self, index: str) -> None:
        try:
            self.request("DELETE", _path(index))
        except SearchEngineError as error:
            if error.status != 404:
                raise

    def _attach_aliases(self, index: str) -> None:
        self.request("POST", "/_aliases", {"actions": [
            {"add": {"index": index, "alias": self.settings.read_alias}},
            {"add": {"index": index, "alias": self.settings.write_alias, "is_write_index": True}},
        ]})

    # --- versions and aliases --------------------------------------------------------

    def versions(self) -> list[str]:
        """Every versioned articles index of this prefix, oldest first."""
        pattern = f"{self.settings.index_prefix}-articles-v*"
        indices = self.request("GET", _path(pattern), params={"expand_wildcards": "open"})
        prefix = f"{self.settings.index_prefix}-articles-v"
        names = [name for name in indices if name.startswith(prefix) and name[len(prefix):].isdigit()]
        return sorted(names, key=lambda name: int(_VERSION_RE.search(name).group(1)))

    def version_being_built(self) -> str | None:
        """A version newer than the serving one exists while a rebuild fills it, until the switch."""
        versions = self.versions()
        serving = self.current_index()
        return versions[-1] if versions and versions[-1] != serving else None

    def current_index(self) -> str:
        """The index the read alias points at."""
        answer = self.request("GET", _path("_alias", self.settings.read_alias))
        return sorted(answer)[0]

    def create_next_version(self) -> str:
        self.put_index_template()
        versions = self.versions()
        last = int(_VERSION_RE.search(versions[-1]).group(1)) if versions else 0
        index = self.settings.index_name(last + 1)
        self.create_index(index)
        return index

    def switch_aliases(self, index: str) -> None:
        """Move the read and write alias to ``index`` in one atomic request; retire the old version."""
        if not self.exists(_path(index)):
            raise SearchEngineError(f"no index {index} to switch to", 404)
        holders = self._alias_holders()
        old = [name for name in holders if name != index]
        actions: list[dict] = [{"remove": {"index": name, "alias": alias}}
                               for name in old for alias in holders[name].get("aliases", {})]
        actions += [
            {"add": {"index": index, "alias": self.settings.read_alias}},
            {"add": {"index": index, "alias": self.settings.write_alias, "is_write_index": True}},
        ]
        self.request("POST", "/_aliases", {"actions": actions})
        for name in old:
            self._retire(name)

    def _alias_holders(self) -> dict[str, dict]:
        names = f"{self.settings.read_alias},{self.settings.write_alias}"
        try:
            return self.request("GET", _path("_alias", names))
        except SearchEngineError as error:
            if error.status == 404:
                return {}
            raise

    def _retire(self, index: str) -> None:
        """Hand a superseded version to the lifecycle policy, which deletes it after the retention."""
        if self.flavour == "elasticsearch":
            self.request("PUT", _path(index, "_settings"), {"index": {
                "lifecycle.name": LIFECYCLE_POLICY_NAME,
                "lifecycle.origination_date": int(datetime.now(UTC).timestamp() * 1000),
            }})
        elif self._ism_available():
            self.request("POST", _path("_plugins", "_ism", "add", index), {"policy_id": LIFECYCLE_POLICY_NAME})

    # --- documents ---------------------------------------------------------------------

    def bulk_upsert(self, articles: Iterable[Article], index: str | None = None) -> BulkResult:
        """Index articles by id in chunks (indexing again replaces, never duplicates)."""
        target = index or self.settings.write_alias
        result = BulkResult()
        lines = bulk_lines(articles, target)
        while chunk := list(islice(lines, self.settings.bulk_chunk_size)):
            answer = self.request("POST", "/_bulk", "".join(chunk).encode("utf-8"), ndjson=True)
            for item in answer["items"]:
                outcome = item["index"]
                if outcome.get("error"):
                    result.failed += 1
                    reason = outcome["error"].get("reason", outcome["error"].get("type"))
                    result.errors.append(f"{outcome['_id']}: {reason}")
                else:
                    result.indexed += 1
        return result

    def copy_documents(self, source: str, target: str) -> int:
        """Copy every document of ``source`` into ``target`` (server-side reindex); returns how many."""
        answer = self.request("POST", "/_reindex", {"source": {"index": source}, "dest": {"index": target}},
                              params={"wait_for_completion": "true", "refresh": "true"})
        if answer.get("failures"):
            reasons = [failure.get("cause", {}).get("reason", str(failure)) for failure in answer["failures"][:3]]
            raise SearchEngineError(f"copying {source} to {target}: {len(answer['failures'])} failures: {reasons}")
        return answer["created"] + answer["updated"]

    def refresh(self, index: str | None = None) -> None:
        self.request("POST", _path(index or self.settings.read_alias, "_refresh"))

    def count(self, index: str | None = None) -> int:
        return self.request("GET", _path(index or self.settings.read_alias, "_count"))["count"]

    def mapping(self, index: str | None = None) -> dict[str, Any]:
        """The field mappings of one index (the current one by default)."""
        index = index or self.current_index()
        return self.request("GET", _path(index, "_mapping"))[index]["mappings"]

    def status(self) -> dict[str, Any]:
        """What an operator wants to see: flavour, aliases, versions and document counts."""
        has_alias = self.exists(_path("_alias", self.settings.read_alias))
        return {
            "flavour": self.flavour,
            "version": self.version,
            "url": redact_url(self.settings.search_url),
            "read_alias": self.settings.read_alias,
            "write_alias": self.settings.write_alias,
            "current_index": self.current_index() if has_alias else None,
            "versions": {name: self.count(name) for name in self.versions()} if has_alias else {},
        }
