"""The one adapter between newswire and the search engine (Elasticsearch 8/9 or OpenSearch 2/3).

Split by job: :mod:`.transport` (clients, flavour, redaction), :mod:`.documents` (what is
indexed and the index design), :mod:`.lifecycle` (versions, aliases, policies) and
:mod:`.writes` (bulk). :class:`SearchEngine` joins them for callers.
"""

from __future__ import annotations

from typing import Any

from kernel.settings import Settings
from pipelines.index.documents import (
    article_document,
    articles_index_body,
    credited_agencies,
    index_template_body,
)
from pipelines.index.lifecycle import (
    ILM_NOT_AVAILABLE,
    ISM_NOT_AVAILABLE,
    LIFECYCLE_POLICY_NAME,
    IndexLifecycle,
    index_path,
)
from pipelines.index.transport import (
    ElasticsearchTransport,
    OpenSearchTransport,
    SearchEngineError,
    Transport,
    detect_flavour,
    redact_url,
)
from pipelines.index.writes import BulkResult, DocumentWrites

__all__ = [
    "BulkResult", "ILM_NOT_AVAILABLE", "ISM_NOT_AVAILABLE", "LIFECYCLE_POLICY_NAME", "SearchEngine", "SearchEngineError",
    "article_document", "articles_index_body", "credited_agencies", "index_template_body", "redact_url",
]


class SearchEngine(IndexLifecycle, DocumentWrites):
    """Everything newswire asks of the engine; create it with :meth:`connect`."""

    def __init__(self, settings: Settings, flavour: str, version: str, transport: Transport):
        self.settings = settings
        self.flavour = flavour
        self.version = version
        self._transport = transport

    @classmethod
    def connect(cls, settings: Settings) -> SearchEngine:
        flavour, version = detect_flavour(settings)
        if flavour == "opensearch":
            transport: Transport = OpenSearchTransport(settings)
        else:
            transport = ElasticsearchTransport(settings, server_major=version.split(".")[0])
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

    def check_health(self) -> None:
        """Raise SearchEngineError unless the cluster answers and is green or yellow."""
        health = self.request("GET", "/_cluster/health")
        if health.get("status") not in ("green", "yellow"):
            raise SearchEngineError(f"cluster health is {health.get('status')!r} at "
                                    f"{redact_url(self.settings.search_url)}")

    def refresh(self, index: str | None = None) -> None:
        self.request("POST", index_path(index or self.settings.read_alias, "_refresh"))

    def count(self, index: str | None = None) -> int:
        return self.request("GET", index_path(index or self.settings.read_alias, "_count"))["count"]

    def mapping(self, index: str | None = None) -> dict[str, Any]:
        """The field mappings of one index (the current one by default)."""
        index = index or self.current_index()
        return self.request("GET", index_path(index, "_mapping"))[index]["mappings"]

    def status(self) -> dict[str, Any]:
        """What an operator wants to see: flavour, aliases, versions and document counts."""
        has_alias = self.exists(index_path("_alias", self.settings.read_alias))
        return {
            "flavour": self.flavour,
            "version": self.version,
            "url": redact_url(self.settings.search_url),
            "read_alias": self.settings.read_alias,
            "write_alias": self.settings.write_alias,
            "current_index": self.current_index() if has_alias else None,
            "versions": {name: self.count(name) for name in self.versions()} if has_alias else {},
            "roles": self.version_roles() if has_alias else {},
        }
