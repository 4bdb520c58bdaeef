"""How newswire speaks to the engine: one transport per client, identical request bodies.

OpenSearch is spoken to through ``opensearch-py`` and Elasticsearch through ``elasticsearch``'s own
transport, ``elastic-transport``; every call goes through a low-level ``perform_request`` with the
same JSON. The
flavour is read from the server's ``GET /``. Connection settings come only from
:class:`kernel.settings.Settings` and are never printed (see :func:`redact_url`).
"""

from __future__ import annotations

import importlib
import logging
import re
import sys
import time
from collections.abc import Iterable, Iterator
from functools import cached_property
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit, urlunsplit

from kernel.settings import Settings

log = logging.getLogger(__name__)

UNSUPPORTED_ENDPOINT = (400, 404, 405)
"""How an engine answers a request for an API it does not have ("no handler found for uri")."""

# The clients log every request at INFO and opensearch-py every refused one (a 404 of an
# existence check, the 400 of an absent plugin) at WARNING, with a traceback. Requests are
# logged here at DEBUG instead, and refusals reach the caller as SearchEngineError, which knows
# whether the answer was expected. A level the operator configured is left alone.
CLIENT_LOG_LEVELS = {"elasticsearch": logging.WARNING, "elastic_transport": logging.WARNING,
                     "urllib3": logging.WARNING, "opensearch": logging.ERROR}
for _name, _level in CLIENT_LOG_LEVELS.items():
    if logging.getLogger(_name).level == logging.NOTSET:
        logging.getLogger(_name).setLevel(_level)


# Each client package imports, when it is first imported, every HTTP library it could drive
# (elastic_transport: aiohttp, httpx and requests; opensearch-py: aiohttp for its async client),
# a fifth of a second or more, although newswire only sends through the synchronous urllib3 node
# (elasticsearch) or connection (opensearch-py requires requests itself, so it stays). Those not
# loaded yet are hidden while the client is imported: the client then counts them as not
# installed, which is what the synchronous client does without them.
UNDRIVEN_HTTP_LIBRARIES = {"elastic_transport": ("aiohttp", "httpx", "requests"),
                           "elasticsearch": ("aiohttp", "httpx", "requests"), "opensearchpy": ("aiohttp",)}


def import_client(package: str):
    """The client package, imported without the HTTP libraries newswire does not send through."""
    if package in sys.modules:
        return sys.modules[package]
    hidden = [name for name in UNDRIVEN_HTTP_LIBRARIES[package] if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # what the import system reads as "not installed"
    try:
        return importlib.import_module(package)
    finally:
        for name in hidden:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]


class SearchEngineError(RuntimeError):
    """A request the engine refused or could not answer; the message never holds credentials."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def redact_url(url: str) -> str:
    """The URL (or comma-separated URLs) with any user:password@ replaced, safe for logs and errors."""
    if "," in url:
        return ",".join(redact_url(part.strip()) for part in url.split(","))
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))


def _log_request(method: str, path: str, started: float, outcome: int | str) -> None:
    log.debug("%s %s: %s in %.0f ms", method, path, outcome, (time.monotonic() - started) * 1000)


class Transport(Protocol):
    def request(self, method: str, path: str, body: Any = None, params: dict | None = None,
                ndjson: bool = False) -> Any: ...

    def streaming_bulk(self, actions: Iterable[dict], **options: Any) -> Iterator[tuple[bool, dict]]: ...

    def reindex(self, source: str, target: str) -> int: ...


# The client's transport retries these itself (with its own back-off) before a request fails:
# an engine restarting or overloaded answers 502/503/504 or times out for a while.
TRANSPORT_RETRIES: dict[str, Any] = {"max_retries": 3, "retry_on_timeout": True,
                                     "retry_on_status": (502, 503, 504)}


def _auth_options(settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if settings.search_ca_certs:
        options["ca_certs"] = settings.search_ca_certs
    return options


def _user_password(settings: Settings) -> tuple[str, str] | None:
    if settings.search_user and settings.search_password:
        return settings.search_user, settings.search_password.get_secret_value()
    return None


class OpenSearchTransport:
    def __init__(self, settings: Settings):
        OpenSearch = import_client("opensearchpy").OpenSearch

        headers = {}
        if settings.search_api_key:
            headers["Authorization"] = f"ApiKey {settings.search_api_key.get_secret_value()}"
        self._client = OpenSearch(
            hosts=settings.search_urls, http_auth=_user_password(settings), headers=headers or None,
            use_ssl=settings.search_url.startswith("https"), verify_certs=True,
            timeout=60, **TRANSPORT_RETRIES, **_auth_options(settings),
        )
        self._url = redact_url(settings.search_url)

    def request(self, method, path, body=None, params=None, ndjson=False):
        from opensearchpy.exceptions import TransportError

        # opensearch-py sends content-type: application/json itself; only bulk bodies differ.
        headers = {"content-type": "application/x-ndjson"} if ndjson else None
        started = time.monotonic()
        try:
            answer = self._client.transport.perform_request(method, path, params=params, body=body, headers=headers)
        except TransportError as error:
            status = error.status_code if isinstance(error.status_code, int) else None
            _log_request(method, path, started, status or "failed")
            raise SearchEngineError(f"{method} {path} on {self._url}: {status or ''} {error.error}", status) from None
        _log_request(method, path, started, "ok")
        return answer

    def streaming_bulk(self, actions, **options):
        """opensearch-py's own bulk helper over this client (chunking, byte cap, 429 back-off)."""
        from opensearchpy.helpers import streaming_bulk

        return streaming_bulk(self._client, actions, **options)

    def reindex(self, source: str, target: str) -> int:
        """opensearch-py's scan and bulk helpers copy the documents, for engines without ``_reindex``."""
        from opensearchpy import helpers

        return scan_and_bulk(helpers, self._client, source, target)


class ElasticsearchTransport:
    """Elasticsearch 8 or 9: requests go through elastic-transport, the installed client's own
    transport (its node pool, retries, TLS and serializers); the client itself, whose package loads
    every API namespace of its synchronous and asynchronous clients (a fifth of a second or more), is
    built on that same transport only when its bulk or scan helpers are needed, so that a search
    does not pay for it.

    The client would ask for ``compatible-with=<its own major>``, which a server of the other major
    refuses; naming the server's major explicitly makes one client serve both.
    """

    def __init__(self, settings: Settings, server_major: str):
        transport = import_client("elastic_transport")

        headers = {}
        if settings.search_api_key:
            headers["authorization"] = f"ApiKey {settings.search_api_key.get_secret_value()}"
        elif (user_password := _user_password(settings)) is not None:
            headers["authorization"] = transport.client_utils.basic_auth_to_header(user_password)
        nodes = []
        for url in settings.search_urls:
            node = transport.client_utils.url_to_node_config(url, use_default_ports_for_scheme=True)
            nodes.append(node.replace(headers={**node.headers, **headers}, request_timeout=60,
                                      **_auth_options(settings)))
        json_serializer, ndjson_serializer = transport.JsonSerializer(), transport.NdjsonSerializer()
        self._transport = transport.Transport(nodes, serializers={
            "application/json": json_serializer, "application/vnd.elasticsearch+json": json_serializer,
            "application/x-ndjson": ndjson_serializer, "application/vnd.elasticsearch+x-ndjson": ndjson_serializer,
        }, **TRANSPORT_RETRIES)
        self._server_major = server_major
        self._json = f"application/vnd.elasticsearch+json; compatible-with={server_major}"
        self._ndjson = f"application/vnd.elasticsearch+x-ndjson; compatible-with={server_major}"
        self._url = redact_url(settings.search_url)

    def request(self, method, path, body=None, params=None, ndjson=False):
        from elastic_transport import TransportError

        headers = {"accept": self._json}
        if body is not None:
            headers["content-type"] = self._ndjson if ndjson else self._json
        target = f"{path}?{urlencode(params)}" if params else path
        started = time.monotonic()
        try:
            meta, answer = self._transport.perform_request(method, target, headers=headers, body=body)
        except TransportError as error:
            _log_request(method, path, started, "failed")
            raise SearchEngineError(f"{method} {path} on {self._url}: {error.message}") from None
        _log_request(method, path, started, meta.status)
        if not 200 <= meta.status < 300:
            raise SearchEngineError(f"{method} {path} on {self._url}: {meta.status} {_error_type(answer)}",
                                    meta.status)
        return answer

    @cached_property
    def _client(self):
        Elasticsearch = import_client("elasticsearch").Elasticsearch
        return _server_major_client(Elasticsearch, self._server_major)(_transport=self._transport)

    def streaming_bulk(self, actions, **options):
        """elasticsearch-py's own bulk helper over this transport (chunking, byte cap, 429 back-off)."""
        from elasticsearch.helpers import streaming_bulk

        return streaming_bulk(self._client, actions, **options)

    def reindex(self, source: str, target: str) -> int:
        """elasticsearch-py's scan and bulk helpers copy the documents, for engines without ``_reindex``.

        (Its ``helpers.reindex`` first asks the data-stream API, which such an engine lacks too.)
        """
        from elasticsearch import helpers

        return scan_and_bulk(helpers, self._client, source, target)


def _error_type(answer: Any) -> str:
    """What an error answer names: the error's type, as the client's own exceptions say it."""
    error = answer.get("error", answer) if isinstance(answer, dict) else answer
    return str(error["type"] if isinstance(error, dict) and "type" in error else error)


def scan_and_bulk(helpers, client, source: str, target: str) -> int:
    """Every document of `source` into `target` by id with a client's own scan and bulk helpers."""
    hits = helpers.scan(client, index=source, query={"query": {"match_all": {}}})
    actions = ({"_index": target, "_id": hit["_id"], "_source": hit["_source"]} for hit in hits)
    copied, _ = helpers.bulk(client, actions, stats_only=True, raise_on_error=True)
    return copied


# The media types the client's API methods send, before the client names its own major in them.
_PLAIN_MEDIA_TYPE = re.compile(r"application/(json|x-ndjson)")


def _server_major_client(base: type, server_major: str) -> type:
    """The Elasticsearch client class whose API methods (what the bulk and scan helpers call)
    name the server's major in their compatibility headers instead of the client's own."""
    server_media_type = rf"application/vnd.elasticsearch+\1; compatible-with={server_major}"

    class ServerMajorElasticsearch(base):
        def perform_request(self, method, path, *, headers=None, **options):
            if headers:
                headers = {name: _PLAIN_MEDIA_TYPE.sub(server_media_type, value)
                           if name.lower() in ("accept", "content-type") else value
                           for name, value in headers.items()}
            return super().perform_request(method, path, headers=headers, **options)

    return ServerMajorElasticsearch


def detect_flavour(settings: Settings) -> tuple[str, str]:
    """("opensearch"|"elasticsearch", version number) from the server's GET /.

    Asked with urllib3, which both clients are built on, so that only the client the server
    needs is imported (each costs a command a fifth to a third of a second; opensearch-py also
    loads aiohttp), and because the elasticsearch client refuses servers that are not
    Elasticsearch before it would even show their answer. Same credentials, CA bundle and
    retries as the clients.
    """
    import urllib3

    if not settings.search_urls:
        raise SearchEngineError("no search engine URL: set NEWSWIRE_SEARCH_URL")
    headers = {"accept": "application/json"}
    if settings.search_api_key:
        headers["authorization"] = f"ApiKey {settings.search_api_key.get_secret_value()}"
    retries = urllib3.Retry(total=TRANSPORT_RETRIES["max_retries"], raise_on_status=False,
                            status_forcelist=TRANSPORT_RETRIES["retry_on_status"])
    pool = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=settings.search_ca_certs, retries=retries,
                               timeout=60.0)
    try:
        for node in settings.search_urls:  # the nodes of a cluster in turn, until one answers
            url = urllib3.util.parse_url(node)
            node_headers = dict(headers)
            if not settings.search_api_key and ((user_password := _user_password(settings)) or url.auth):
                node_headers |= urllib3.make_headers(basic_auth=":".join(user_password) if user_password else url.auth)
            where = f"GET / on {redact_url(node)}"
            started = time.monotonic()
            try:
                answer = pool.request("GET", url._replace(auth=None).url.rstrip("/") + "/", headers=node_headers)
                break
            except urllib3.exceptions.HTTPError as error:
                _log_request("GET", "/", started, "failed")
                failure = f"{where}: {getattr(error, 'reason', None) or error}"
        else:
            raise SearchEngineError(failure) from None
    finally:
        pool.clear()
    _log_request("GET", "/", started, answer.status)
    try:
        info = answer.json()
    except ValueError:
        info = None
    if not 200 <= answer.status < 300 or not isinstance(info, dict):
        raise SearchEngineError(f"{where}: {answer.status} {answer.data[:200].decode('utf-8', 'replace')}",
                                answer.status)
    version = info.get("version", {})
    flavour = "opensearch" if version.get("distribution") == "opensearch" else "elasticsearch"
    return flavour, version.get("number", "")
