"""Downloader middlewares: keep the wire bytes for the archive, back off before retries, and
spare local mirrors the politeness delays meant for other people's servers."""

from __future__ import annotations

from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.task import deferLater

RAW_RESPONSE_KEY = "newswire_raw_response"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


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
    exactly as the server sent them together with their Content-Encoding header.
    """

    def process_response(self, request, response):
        request.meta[RAW_RESPONSE_KEY] = response
        return response


def backoff_delay(base_delay: float, retry_times: int) -> float:
    """Seconds to wait before retry number ``retry_times`` (0: the first attempt, no wait)."""
    return base_delay * 2 ** (retry_times - 1) if retry_times > 0 else 0.0


class RetryBackoffMiddleware:
    """Waits base * 2**(n-1) seconds before the n-th retry of a request (5xx, timeouts)."""

    def __init__(self, base_delay: float):
        self.base_delay = base_delay

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.getfloat("NEWSWIRE_RETRY_BACKOFF", 1.0))

    async def process_request(self, request):
        delay = backoff_delay(self.base_delay, request.meta.get("retry_times", 0))
        if delay > 0:
            from twisted.internet import (
                reactor,  # the one Scrapy installed, not a default
            )

            await maybe_deferred_to_future(deferLater(reactor, delay, lambda: None))
        return None
