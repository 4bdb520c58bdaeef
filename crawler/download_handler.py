"""The HTTP(S) download handler: Scrapy's own, with a connection pool that closes no connection
the crawl could still use.

Scrapy keeps ``CONCURRENT_REQUESTS_PER_DOMAIN`` idle connections per host, the politeness bound
for other people's sites (2). A download slot allowed more at once (DOWNLOAD_SLOTS: our own
mirrors on this machine, 4), and any slot in the moments its downloader starts a request or two
beyond the slot's concurrency, then closes a connection after most responses and opens a new one
for the next request, which cost the crawl of a local mirror more than half its time. The pool
keeps up to ``CONCURRENT_REQUESTS`` per host instead; a host never has more connections than
requests it was sent at once, so a polite slot still holds no more than its own few.
"""

from __future__ import annotations

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler


class KeepConnectionsHandler(HTTP11DownloadHandler):
    def __init__(self, crawler):
        super().__init__(crawler)
        self._pool.maxPersistentPerHost = crawler.settings.getint("CONCURRENT_REQUESTS")
