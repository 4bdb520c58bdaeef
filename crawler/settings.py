"""Scrapy settings of the newswire crawler, derived from :class:`kernel.settings.Settings`.

Politeness is not optional: robots.txt is obeyed, AutoThrottle adapts to each site, at most two
requests run against one host at a time, and the User-Agent says who we are and where to write.
"""

from __future__ import annotations

from functools import cache

from crawler.middlewares import LOOPBACK_HOSTS
from kernel.settings import Settings

RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]


def scrapy_settings(settings: Settings, *, log_level: str = "WARNING") -> dict:
    return {
        "BOT_NAME": "newswire",
        "SPIDER_MODULES": ["crawler.spiders"],
        "USER_AGENT": settings.crawler_user_agent,
        "ROBOTSTXT_OBEY": True,
        "DEFAULT_REQUEST_HEADERS": {
            "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "Accept-Language": "ar,en;q=0.5",
        },
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        # politeness
        "CONCURRENT_REQUESTS": 16,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 2,
        # What a callback yields (a sitemap's requests, an article page's one item) is handled
        # one at a time: the item pipeline, the WARC writer, is synchronous, so Scrapy's default
        # of 100 in parallel only adds scheduling work.
        "CONCURRENT_ITEMS": 1,
        "DOWNLOAD_DELAY": settings.crawl_delay,
        "AUTOTHROTTLE_ENABLED": True,
        "AUTOTHROTTLE_START_DELAY": max(settings.crawl_delay, 0.0),
        "AUTOTHROTTLE_MAX_DELAY": 60.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": 1.0,
        # our own mirrors on this machine need no politeness (see LocalMirrorMiddleware)
        "DOWNLOAD_SLOTS": {host: {"delay": 0.0, "concurrency": 4} for host in LOOPBACK_HOSTS},
        # failures
        "RETRY_ENABLED": True,
        "RETRY_TIMES": 2,
        "RETRY_HTTP_CODES": RETRY_HTTP_CODES,
        "NEWSWIRE_RETRY_BACKOFF": settings.retry_backoff,
        "DOWNLOAD_TIMEOUT": settings.download_timeout,
        "DOWNLOAD_MAXSIZE": settings.max_page_bytes,
        "DOWNLOAD_WARNSIZE": settings.max_page_bytes // 2,
        # development only: replay responses from disk instead of asking the site again
        "HTTPCACHE_ENABLED": settings.http_cache,
        "HTTPCACHE_DIR": str(settings.data_dir / "httpcache"),
        "DOWNLOADER_MIDDLEWARES": {
            "crawler.middlewares.RequestGuardMiddleware": 50,
            "crawler.middlewares.LocalMirrorMiddleware": 90,
            "crawler.middlewares.RetryBackoffMiddleware": 560,
            "crawler.middlewares.RawResponseMiddleware": 595,
        },
        "DOWNLOAD_HANDLERS": {scheme: "crawler.download_handler.KeepConnectionsHandler" for scheme in ("http", "https")},
        "ITEM_PIPELINES": {"crawler.pipelines.WarcArchivePipeline": 300},
        "LOG_LEVEL": log_level,
    }


# Scrapy's own tools (scrapy.cfg names this module: `scrapy list`, `scrapy crawl registry -a
# source=ID`, `scrapy shell`) read a settings module's upper-case names; these are the settings of
# `newswire crawl`, from the environment, computed on first use so that importing the module reads
# nothing.
@cache
def _from_environment() -> dict:
    from kernel.settings import get_settings

    return scrapy_settings(get_settings())


def __getattr__(name: str):
    if name.isupper() and name in _from_environment():
        return _from_environment()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_from_environment()))
