"""Small threaded HTTP mirrors of news sites on 127.0.0.1, for tests and the demo.

Each source gets its own server (and port), so each has its own ``/robots.txt``. A site is a
mapping of path (with query) to :class:`Page`; a page may misbehave on purpose: answer slowly,
fail with 500 before succeeding, redirect, or carry bytes in a legacy charset.

Like real news sites, the mirrors compress what they send (gzip unless a page asks for ``br``)
when the client accepts it, and may send a page chunked, so the crawl is tested on wire bytes
that differ from the page.
"""

from __future__ import annotations

import gzip
import mimetypes
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import brotli
import yaml

from crawler import demo_site
from kernel.urls import canonicalize_url

BEHAVIOURS_FILE = "_behaviours.yaml"
BASE_URL_PLACEHOLDER = b"{{base_url}}"
TEXT_TYPES = {".html": "text/html; charset=utf-8", ".xml": "application/xml; charset=utf-8",
              ".txt": "text/plain; charset=utf-8"}


@dataclass(frozen=True)
class Page:
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    statuses: tuple[int, ...] = ()  # answered in turn on the first requests, then `status`
    delay: float = 0.0  # seconds to wait before answering
    redirect: str | None = None  # Location of a 301
    headers: tuple[tuple[str, str], ...] = ()
    content_encoding: str = "gzip"  # sent when the client accepts it: gzip, br or identity
    chunked: bool = False  # Transfer-Encoding: chunked instead of a Content-Length


COMPRESSORS = {"gzip": lambda body: gzip.compress(body, mtime=0), "br": brotli.compress}
CHUNK_BYTES = 4096


def accepted_encodings(accept_encoding: str | None) -> set[str]:
    """Codings named in an Accept-Encoding header, without those refused with q=0."""
    codings = set()
    for part in (accept_encoding or "").split(","):
        coding, _, params = part.strip().partition(";")
        if coding and params.replace(" ", "") not in ("q=0", "q=0.0"):
            codings.add(coding.strip().lower())
    return codings


def path_key(target: str) -> str:
    """Lookup key of a request target: tracking parameters and encoding differences removed."""
    canonical = canonicalize_url("http://mirror" + target)
    return canonical.removeprefix("http://mirror")


@dataclass
class Site:
    pages: dict[str, Page] = field(default_factory=dict)

    def add(self, target: str, page: Page) -> None:
        self.pages[path_key(target)] = page

    def lookup(self, target: str) -> Page | None:
        return self.pages.get(path_key(target))


NOT_FOUND = Page(b"<html><body><h1>404</h1></body></html>", status=404)


class _Handler(BaseHTTPRequestHandler):
    server: MirrorServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle's algorithm the body then waits for
    # the client's delayed ACK (about 40 ms) on every reused connection, which web servers avoid.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        mirror = self.server
        page = mirror.site.lookup(self.path) or NOT_FOUND
        status = mirror.next_status(self.path, page)
        if page.delay:
            time.sleep(page.delay)
        try:
            self.send_response(status)
            if page.redirect:
                self.send_header("Location", page.redirect)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_header("Content-Type", page.content_type)
            body = page.body
            accepted = accepted_encodings(self.headers.get("Accept-Encoding"))
            if page.content_encoding in COMPRESSORS and page.content_encoding in accepted:
                body = COMPRESSORS[page.content_encoding](body)
                self.send_header("Content-Encoding", page.content_encoding)
            if page.chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(len(body)))
            for name, value in page.headers:
                self.send_header(name, value)
            self.end_headers()
            if page.chunked:
                for start in range(0, len(body), CHUNK_BYTES):
                    chunk = body[start:start + CHUNK_BYTES]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeouts, size caps): nothing to answer to

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class MirrorServer(ThreadingHTTPServer):
    """One site on one port of 127.0.0.1, in a background thread."""

    daemon_threads = True

    def __init__(self, site: Site | None = None, port: int = 0):
        super().__init__(("127.0.0.1", port), _Handler)
        self.site = site or Site()
        self.requests: list[str] = []  # every request target, in arrival order
        self.arrivals: list[float] = []  # time.monotonic() of each of them
        self.connections = 0  # TCP connections accepted
        self.connection_ends: list[float] = []  # time.monotonic() when each was closed
        self._hits: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def process_request(self, request, client_address) -> None:
        with self._lock:
            self.connections += 1
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        with self._lock:
            self.connection_ends.append(time.monotonic())
        super().shutdown_request(request)

    def next_status(self, target: str, page: Page) -> int:
        with self._lock:
            self.requests.append(target)
            self.arrivals.append(time.monotonic())
            key = path_key(target)
            attempt = self._hits[key]
            self._hits[key] += 1
        if page.redirect:
            return HTTPStatus.MOVED_PERMANENTLY
        return page.statuses[attempt] if attempt < len(page.statuses) else page.status

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class Mirrors:
    """One :class:`MirrorServer` per source; a context manager."""

    def __init__(self, servers: dict[str, MirrorServer]):
        self.servers = servers

    @property
    def base_urls(self) -> dict[str, str]:
        return {source: server.base_url for source, server in self.servers.items()}

    def close(self) -> None:
        for server in self.servers.values():
            server.close()

    def __enter__(self) -> Mirrors:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_servers(source_ids: list[str], port_base: int = 0) -> Mirrors:
    """Bind one server per source: ports port_base, port_base+1, ... or free ports when 0."""
    servers: dict[str, MirrorServer] = {}
    try:
        for offset, source_id in enumerate(source_ids):
            servers[source_id] = MirrorServer(port=port_base + offset if port_base else 0)
    except OSError:
        Mirrors(servers).close()
        raise
    return Mirrors(servers)


# --- sites from a directory tree (the edge-case test mirror) ------------------------------

def _file_page(path: Path, base_url: str) -> Page:
    body = path.read_bytes().replace(BASE_URL_PLACEHOLDER, base_url.encode())
    content_type = TEXT_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return Page(body=body, content_type=content_type)


def _with_behaviour(page: Page, behaviour: dict, root: Path, base_url: str) -> Page:
    """Apply one entry of _behaviours.yaml: file, encode, pad_to, status(es), delay, redirect,
    content_encoding, chunked, headers."""
    if "file" in behaviour:
        page = _file_page(root / behaviour["file"], base_url)
    if "encode" in behaviour:  # the repo keeps UTF-8; the server sends a legacy charset
        page = replace(page, body=page.body.decode("utf-8").encode(behaviour["encode"]))
    if "pad_to" in behaviour:  # a page over the size cap, generated rather than stored
        filler = b"<!-- " + b"x" * max(0, behaviour["pad_to"] - len(page.body)) + b" -->"
        page = replace(page, body=page.body.replace(b"</body>", filler + b"</body>"))
    redirect = behaviour.get("redirect")
    return replace(
        page,
        content_type=behaviour.get("content_type", page.content_type),
        status=behaviour.get("status", page.status),
        statuses=tuple(behaviour.get("statuses", page.statuses)),
        delay=float(behaviour.get("delay", page.delay)),
        redirect=base_url + redirect if redirect and redirect.startswith("/") else redirect,
        headers=tuple((k, str(v)) for k, v in behaviour.get("headers", {}).items()) or page.headers,
        content_encoding=behaviour.get("content_encoding", page.content_encoding),
        chunked=bool(behaviour.get("chunked", page.chunked)),
    )


def site_from_directory(root: Path, base_url: str) -> Site:
    """Every file under ``root`` at its path (``index.html`` also at its folder), then the
    per-path behaviours of ``root/_behaviours.yaml`` (which may add pages without files)."""
    site = Site()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != BEHAVIOURS_FILE):
        target = "/" + path.relative_to(root).as_posix()
        page = _file_page(path, base_url)
        site.add(target, page)
        if path.name == "index.html":
            site.add(target.removesuffix("index.html"), page)
    behaviours_file = root / BEHAVIOURS_FILE
    behaviours = yaml.safe_load(behaviours_file.read_text(encoding="utf-8")) if behaviours_file.exists() else {}
    for target, behaviour in (behaviours or {}).items():
        site.add(target, _with_behaviour(site.lookup(target) or Page(), behaviour, root, base_url))
    return site


def serve_directories(roots: dict[str, Path], port_base: int = 0) -> Mirrors:
    """Serve ``{source_id: folder}`` trees, one server per source."""
    mirrors = start_servers(list(roots), port_base)
    for source_id, server in mirrors.servers.items():
        server.site = site_from_directory(roots[source_id], server.base_url)
    return mirrors


# --- the bundled demo mirror ------------------------------------------------------------

def serve_demo_mirror(port_base: int = 0) -> Mirrors:
    """Start the demo sources (tasnim, spa, sana) on 127.0.0.1; use as a context manager."""
    layouts = demo_site.load_layouts()
    articles = demo_site.load_articles()
    mirrors = start_servers(list(layouts), port_base)
    for source_id, server in mirrors.servers.items():
        site = Site()
        for target, (body, content_type) in demo_site.render_site(
                source_id, layouts[source_id], articles, server.base_url).items():
            site.add(target, Page(body=body, content_type=content_type))
        server.site = site
    return mirrors
