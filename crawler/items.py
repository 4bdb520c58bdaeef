"""What the spider hands to the archive writer: one fetched article, exactly as exchanged."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class HttpExchange:
    """The final request and its response, headers and body bytes as on the wire."""

    method: str
    url: str
    request_headers: list[tuple[str, str]]
    protocol: str
    status: int
    response_headers: list[tuple[str, str]]
    body: bytes
    fetched_at: datetime


@dataclass(frozen=True)
class ArchivedPage:
    source_id: str
    requested_url: str
    final_url: str
    redirects: list[str]
    discovered_via: str  # rss | sitemap | listing
    listed_published_at: datetime | None
    page_canonical: str | None  # the page's own <link rel=canonical>, absolute
    url_keys: list[str]  # seen-state keys: canonical forms of every URL naming this article
    exchange: HttpExchange
    warnings: list[str] = field(default_factory=list)
