"""Small WARC files written by the crawler's own archive writer, for processing tests without a crawl,
and the demo mirror's article pages to fill them with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

from crawler import demo_site
from crawler.archive import WarcArchive
from crawler.items import ArchivedPage, HttpExchange
from kernel.archive import run_paths


@dataclass
class FakePage:
    url: str
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    listed_published_at: datetime | None = None  # the feed/sitemap date the crawler recorded
    content_encoding: str | None = None  # `body` is then the bytes as sent in that encoding


def write_warc(archive_root: Path, source_id: str, crawl_day: date, run_id: str, pages: list[FakePage],
               broken_tail: bool = False) -> Path:
    """A WARC file exactly as the crawler writes it; `broken_tail` appends a damaged gzip member."""
    fetched_at = datetime.combine(crawl_day, time(2, 0), tzinfo=UTC)
    warc_url, _ = run_paths(str(archive_root), source_id, run_id, fetched_at)
    archive = WarcArchive(warc_url, {"software": "newswire tests"})
    for page in pages:
        exchange = HttpExchange(method="GET", url=page.url, request_headers=[], protocol="HTTP/1.1",
                                status=page.status, response_headers=[("Content-Type", page.content_type)] + (
                                    [("Content-Encoding", page.content_encoding)] if page.content_encoding else []),
                                body=page.body, fetched_at=fetched_at)
        archive.write(ArchivedPage(source_id=source_id, requested_url=page.url, final_url=page.url, redirects=[],
                                   discovered_via="rss",
                                   listed_published_at=page.listed_published_at, page_canonical=None,
                                   url_keys=[page.url], exchange=exchange))
    archive.close()
    path = Path(warc_url)
    if broken_tail:
        with path.open("ab") as out:
            # A gzip member header followed by garbage: what a torn write leaves behind.
            out.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"not a warc record" * 4)
    return path


SEED_NUMBER, COPY_NUMBER = "2216410", "2216499"


def demo_site_pages() -> dict[str, list[FakePage]]:
    """Every article page of each demo-mirror source (its static pages too), at the site's real address."""
    layouts, articles = demo_site.load_layouts(), demo_site.load_articles()
    pages: dict[str, list[FakePage]] = {}
    for source_id, layout in layouts.items():
        base = layout["canonical_base"]
        own = {a["path"] for a in articles if a["source"] == source_id}
        own |= {static["path"] for static in layout.get("static_pages", [])}
        pages[source_id] = [FakePage(base + path, body, content_type) for path, (body, content_type)
                            in demo_site.render_site(source_id, layout, articles, base).items() if path in own]
    return pages


def demo_pages() -> dict[str, list[FakePage]]:
    """The demo site's pages and the seed page republished under another address, so that one
    story has two records."""
    pages = demo_site_pages()
    seed = next(page for page in pages["tasnim"] if SEED_NUMBER in page.url)
    pages["tasnim"].append(FakePage(seed.url.replace(SEED_NUMBER, COPY_NUMBER),
                                    seed.body.replace(SEED_NUMBER.encode(), COPY_NUMBER.encode()), seed.content_type))
    return pages
