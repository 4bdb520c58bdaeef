"""Downloader middlewares: keep the wire bytes for the archive, refuse requests to internal or
off-site addresses, back off before retries (as long as the server's Retry-After asks), and spare
local mirrors the politeness delays meant for other people's servers."""

from __future__ import annotations

import ipaddress
import socket
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.task import deferLater

RAW_RESPONSE_KEY = "newswire_raw_response"
RETRY_AFTER_KEY = "newswire_retry_after"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
RETRY_AFTER_STATUSES = (429, 503)
MAX_RETRY_AFTER = 600.0  # a server asking for more is retried on a later run instead of stalling this one


class LocalMirrorMiddleware:
    """Requests to this machine (test and demo mirrors) keep the zero delay of their download
    slot (see DOWNLOAD_SLOTS in crawler.settings) instead of being throttled by AutoThrottle."""

    def process_request(self, request):
        if urlparse_cached(request).hostname in LOOPBACK_HOSTS:
            request.meta["autothrottle_dont_adjust_delay"] = True
        return None


class RawResponseMiddleware:
    """Remembers each response as received, before HttpCompressionMiddleware decodes it.

    Sits between redirects (600) and decompression (590), so the archive gets the body bytes
    exactly as the server sent them together with their Content-Encoding header. The
    decompression middleware rewrites Content-Encoding in the headers of the response it is
    handed, so a compressed response is kept as a copy with headers of its own.
    """

    def process_response(self, request, response):
        request.meta[RAW_RESPONSE_KEY] = response.replace() if b"Content-Encoding" in response.headers else response
        return response


def site_host(url: str) -> str:
    """The part of a URL that says which site it is on: host and port, without ``www.``."""
    return urlsplit(url).netloc.lower().removeprefix("www.")


def is_internal_host(host: str | None) -> bool:
    """Loopback, private, link-local or otherwise non-global addresses, in any spelling the
    resolver would accept (``127.1``, ``0x7f.0.0.1``, ``[::ffff:127.0.0.1]``), and ``localhost``."""
    if not host:
        return True
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return False  # a name: the site check decides
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return not address.is_global


class RefusedRequest(IgnoreRequest):
    """A request the crawler must not send; ``reason`` names why in the manifest."""

    def __init__(self, reason: str, url: str):
        super().__init__(f"{reason}: {url}")
        self.reason = reason


class RequestGuardMiddleware:
    """Keeps pages from steering the crawler: no request to an internal address (except the
    mirror a run was explicitly pointed at, on its own host and port), no redirect off the
    source's site, and no redirect loop.

    Runs first (before robots.txt), so a refused target is not even asked for its robots.txt.
    """

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request):
        base_url = self.crawler.spider.run.base_url
        target = site_host(request.url)
        redirects = request.meta.get("redirect_urls")
        on_site = target == site_host(base_url)
        if redirects:
            if request.url in redirects:
                raise RefusedRequest("redirect_loop", request.url)
            if is_internal_host(urlparse_cached(request).hostname) and not on_site:
                raise RefusedRequest("redirect_internal_address", request.url)
            if not on_site:
                raise RefusedRequest("redirect_off_site", request.url)
        elif is_internal_host(urlparse_cached(request).hostname) and not on_site:
            raise RefusedRequest("internal_address", request.url)


def backoff_delay(base_delay: float, retry_times: int) -> float:
    """Seconds to wait before retry number ``retry_times`` (0: the first attempt, no wait)."""
    return base_delay * 2 ** (retry_times - 1) if retry_times > 0 else 0.0


def retry_after_seconds(value: str, now: datetime) -> float | None:
    """A Retry-After header (delay-seconds or an HTTP date) as seconds from `now`, capped at
    MAX_RETRY_AFTER; None when it is neither."""
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp() - now.timestamp()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


class RetryBackoffMiddleware:
    """Waits base * 2**(n-1) seconds before the n-th retry of a request (5xx, timeouts), or
    longer when a 429/503 answer said how long in its Retry-After header.

    Its process_response runs before RetryMiddleware's (550), which copies the request's meta,
    and with it the server's wish, into the retry.
    """

    def __init__(self, base_delay: float):
        self.base_delay = base_delay

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.getfloat("NEWSWIRE_RETRY_BACKOFF", 1.0))

    async def process_request(self, request):
        retry_after = request.meta.pop(RETRY_AFTER_KEY, 0.0)
        delay = max(backoff_delay(self.base_delay, request.meta.get("retry_times", 0)), retry_after)
        if delay > 0:
            from twisted.internet import (
                reactor,  # the one Scrapy installed, not a default
            )

            await maybe_deferred_to_future(deferLater(reactor, delay, lambda: None))
        return None

    def process_response(self, request, response):
        header = response.headers.get("Retry-After") if response.status in RETRY_AFTER_STATUSES else None
        if header and (seconds := retry_after_seconds(header.decode("latin-1"), datetime.now(UTC))) is not None:
            request.meta[RETRY_AFTER_KEY] = seconds
        return response
