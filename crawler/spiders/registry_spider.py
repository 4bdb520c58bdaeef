"""The one generic spider: crawls any registry source, from discovery to archived article."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from urllib.parse import urldefrag

import scrapy
from scrapy import signals
from scrapy.exceptions import (
    DownloadCancelledError,
    DownloadTimeoutError,
    IgnoreRequest,
)
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.defer import CancelledError
from twisted.internet.error import TimeoutError as TwistedTimeoutError
from twisted.python.failure import Failure

from crawler.crawl_run import CrawlRun, run_for_scrapy_tool
from crawler.discovery import (
    Listed,
    in_window,
    local_date,
    parse_feed,
    parse_listing,
    parse_sitemap,
    sitemaps_in_robots,
)
from crawler.items import ArchivedPage, HttpExchange
from crawler.middlewares import RAW_RESPONSE_KEY, RefusedRequest, site_host
from kernel.registry import (
    DiscoveryType,
    absolute,
    article_match,
    date_from_match,
    rebase,
    url_key,
)

HTML_TYPES = ("text/html", "application/xhtml+xml")


def _decode_headers(headers) -> list[tuple[str, str]]:
    return [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, values in headers.items()
        for value in values
    ]


def failure_reason(failure: Failure) -> str:
    """Manifest reason for a request that ended in an error."""
    if failure.check(HttpError):
        return f"http_{failure.value.response.status}"
    if failure.check(RefusedRequest):
        return failure.value.reason
    if failure.check(DownloadTimeoutError, TwistedTimeoutError):
        return "timeout"
    if failure.check(DownloadCancelledError, CancelledError):
        return "too_large"  # the only reason a download is cancelled is DOWNLOAD_MAXSIZE
    if failure.check(IgnoreRequest) and "DOWNLOAD_MAXSIZE" in str(failure.value):
        return "too_large"  # small on the wire, over the cap once decompressed
    return "network_error"


class RegistrySpider(scrapy.Spider):
    name = "registry"

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        if "run" not in kwargs:  # started by Scrapy's own tools: `scrapy crawl registry -a source=ID`
            kwargs["run"], lock = run_for_scrapy_tool(kwargs.pop("source", None), kwargs.pop("since", None),
                                                      kwargs.pop("until", None))
            crawler.signals.connect(lambda spider: lock.close(), signal=signals.spider_closed, weak=False)
        return super().from_crawler(crawler, *args, **kwargs)

    def __init__(self, run: CrawlRun, **kwargs):
        super().__init__(name=f"registry-{run.source.id}", **kwargs)
        self.run = run
        self.source = run.source
        self.discovery_urls: set[str] = set()  # feeds/sitemaps/listings requested (no loops)
        self.listed_urls: set[str] = set()  # raw URLs already considered this run
        self.queued_keys: set[str] = set()  # keys of URLs requested this run
        self.archived_keys: set[str] = set()  # keys of pages archived this run

    # --- discovery ---------------------------------------------------------------------

    async def start(self):
        for discovery in self.source.discovery_in_preference_order():
            for request in self._discovery_request(absolute(self.run.base_url, discovery.url), discovery.type):
                yield request

    def _discovery_request(self, url: str, kind: DiscoveryType) -> Iterator[scrapy.Request]:
        url = self._resolve(url)
        if url in self.discovery_urls:
            return  # a sitemap index naming itself or an already-read sitemap
        self.discovery_urls.add(url)
        yield scrapy.Request(url, callback=self.parse_discovery, errback=self.discovery_failed,
                             cb_kwargs={"kind": kind}, dont_filter=True)

    def parse_discovery(self, response: Response, kind: DiscoveryType):
        if kind is DiscoveryType.ROBOTS_SITEMAPS:
            for sitemap in sitemaps_in_robots(response.body, response.url):
                yield from self._discovery_request(sitemap, DiscoveryType.SITEMAP_INDEX)
        elif kind in (DiscoveryType.RSS, DiscoveryType.ATOM):
            yield from self._consider(parse_feed(response.body, response.url), kind)
        elif kind is DiscoveryType.LISTING:
            yield from self._consider(parse_listing(response.text, response.url), kind)
        else:
            document = parse_sitemap(response.body, response.url)
            if document.is_index:
                for child in document.entries:
                    yield from self._discovery_request(child.url, DiscoveryType.SITEMAP_INDEX)
            else:
                yield from self._consider(document.entries, kind)

    def discovery_failed(self, failure: Failure) -> None:
        self.run.report.discovery_errors.append(
            {"url": failure.request.url, "reason": failure_reason(failure), "detail": str(failure.value)}
        )

    def _resolve(self, url: str) -> str:
        """Without fragment, and on the mirror when a mirror stands in for the real site."""
        return rebase(urldefrag(url)[0], self.source.base_url, self.run.base_url)

    def _on_site(self, url: str) -> bool:
        return site_host(url) == site_host(self.run.base_url)

    def _consider(self, listed: Iterable[Listed], kind: DiscoveryType) -> Iterator[scrapy.Request]:
        """Decide for each listed link: request it, or skip it with a reason."""
        report = self.run.report
        for link in listed:
            url = self._resolve(link.url)
            if url in self.listed_urls:
                continue
            on_site = self._on_site(url)
            if not on_site and kind is DiscoveryType.LISTING:
                continue  # share buttons, partner sites: a page's links are not all candidates
            self.listed_urls.add(url)
            report.discovered += 1
            if not on_site:
                report.skip(url, "off_site")  # never fetched: a mirror crawl stays on the mirror
                continue
            match = article_match(self.source, url)
            if match is None:
                report.skip(url, "not_article")
                continue
            day = local_date(link.published, self.source.tz) if link.published else date_from_match(match)
            if day is not None and not in_window(day, self.run.since, self.run.until):
                report.skip(url, "out_of_window")
                continue
            key = url_key(self.source, url, self.run.base_url)
            if key in self.run.seen:
                report.skip(url, "already_archived")
                continue
            if key in self.queued_keys:
                report.skip(url, "duplicate_url")
                continue
            self.queued_keys.add(key)
            # Duplicates were ruled out above by URL key; Scrapy's own filter would silently drop
            # a redirect back to a URL already requested (a loop), which RequestGuardMiddleware
            # reports instead.
            yield scrapy.Request(url, callback=self.parse_article, errback=self.article_failed,
                                 cb_kwargs={"via": kind.via, "listed_published_at": link.published},
                                 dont_filter=True)

    # --- articles ----------------------------------------------------------------------

    def parse_article(self, response: Response, via: str, listed_published_at: datetime | None):
        report = self.run.report
        report.fetched += 1
        redirects = list(response.meta.get("redirect_urls", []))
        requested = redirects[0] if redirects else response.url
        content_type = response.headers.get("Content-Type", b"").decode("latin-1").lower()
        if not isinstance(response, TextResponse) or (content_type and not content_type.startswith(HTML_TYPES)):
            report.skip(requested, "not_html")
            return
        canonical_href = response.xpath(
            "//head/link[contains(concat(' ', normalize-space(@rel), ' '), ' canonical ')]/@href"
        ).get()
        page_canonical = absolute(response.url, canonical_href.strip()) if canonical_href else None
        warnings = []
        # A canonical naming no article (a CMS pointing every page at the home page) would
        # make all pages one article; it is recorded but not trusted.
        trusted_canonical = page_canonical if page_canonical and article_match(self.source, page_canonical) else None
        if page_canonical and not trusted_canonical:
            warnings.append("canonical_not_article")
        urls = [u for u in (requested, response.url, trusted_canonical) if u]
        # mostly one URL three times (no redirect, the canonical as requested): one key each
        key_of = {u: url_key(self.source, u, self.run.base_url) for u in dict.fromkeys(urls)}
        keys = [key_of[u] for u in urls]
        later_keys = keys[1:]  # the requested URL's key was checked before the request
        if any(k in self.run.seen for k in later_keys):
            report.skip(requested, "already_archived")
            return
        # The page names another URL as the article (canonical or redirect target) and that URL
        # is requested this run in its own right: it is archived under that one, whichever
        # response arrives first.
        primary = keys[-1]
        if (primary != keys[0] and primary in self.queued_keys) or any(k in self.archived_keys for k in keys):
            report.skip(requested, "duplicate_canonical")
            return
        self.archived_keys.update(keys)
        yield ArchivedPage(
            source_id=self.source.id,
            requested_url=requested,
            final_url=response.url,
            redirects=redirects,
            discovered_via=via,
            listed_published_at=listed_published_at,
            page_canonical=page_canonical,
            url_keys=list(dict.fromkeys(keys)),
            exchange=self._exchange(response),
            warnings=warnings,
        )

    def _exchange(self, response: Response) -> HttpExchange:
        raw = response.meta.get(RAW_RESPONSE_KEY, response)
        request = response.request
        return HttpExchange(
            method=request.method,
            url=request.url,
            request_headers=_decode_headers(request.headers),
            protocol=raw.protocol or "HTTP/1.1",
            status=raw.status,
            response_headers=_decode_headers(raw.headers),
            body=raw.body,
            fetched_at=datetime.now(UTC),
        )

    def article_failed(self, failure: Failure) -> None:
        report = self.run.report
        # reported under the URL that was discovered, wherever its redirects led
        url = failure.request.meta.get("redirect_urls", [failure.request.url])[0]
        if failure.check(IgnoreRequest) and "robots.txt" in str(failure.value):
            report.skip(url, "robots_disallowed")
            return
        if failure.check(HttpError):
            report.fetched += 1
        report.fail(url, failure_reason(failure), str(failure.value)[:300])
