"""Scrapy settings come from newswire's settings: politeness, limits, cache, backoff."""

from scrapy import Request

from crawler.middlewares import LocalMirrorMiddleware, backoff_delay
from crawler.settings import scrapy_settings
from kernel.settings import get_settings


def test_scrapy_settings_follow_newswire_settings(tmp_path):
    settings = get_settings(data_dir=tmp_path, contact_url="https://newsroom.example/crawler",
                            download_timeout=7.5, max_page_bytes=123_456, http_cache=True, crawl_delay=2.0)
    scrapy = scrapy_settings(settings)
    assert scrapy["USER_AGENT"] == "newswire/0.1 (+https://newsroom.example/crawler)"
    assert scrapy["ROBOTSTXT_OBEY"] is True
    assert scrapy["AUTOTHROTTLE_ENABLED"] is True and scrapy["AUTOTHROTTLE_START_DELAY"] == 2.0
    assert scrapy["DOWNLOAD_DELAY"] == 2.0
    assert scrapy["CONCURRENT_REQUESTS_PER_DOMAIN"] == 2
    assert scrapy["DOWNLOAD_TIMEOUT"] == 7.5 and scrapy["DOWNLOAD_MAXSIZE"] == 123_456
    assert scrapy["HTTPCACHE_ENABLED"] is True and scrapy["HTTPCACHE_DIR"] == str(tmp_path / "httpcache")
    assert {500, 502, 503, 504, 408, 429} <= set(scrapy["RETRY_HTTP_CODES"])
    assert scrapy_settings(get_settings(data_dir=tmp_path))["HTTPCACHE_ENABLED"] is False


def test_retry_backoff_doubles_per_retry():
    assert [backoff_delay(1.5, n) for n in range(4)] == [0.0, 1.5, 3.0, 6.0]
    assert backoff_delay(0.0, 3) == 0.0


def test_only_local_mirrors_skip_the_politeness_delay(tmp_path):
    scrapy = scrapy_settings(get_settings(data_dir=tmp_path))
    assert scrapy["DOWNLOAD_SLOTS"]["127.0.0.1"]["delay"] == 0.0
    assert "www.tasnimnews.com" not in scrapy["DOWNLOAD_SLOTS"]
    local, remote = Request("http://127.0.0.1:8701/ar/"), Request("https://www.tasnimnews.com/ar/")
    for request in (local, remote):
        LocalMirrorMiddleware().process_request(request)
    assert local.meta.get("autothrottle_dont_adjust_delay") is True
    assert "autothrottle_dont_adjust_delay" not in remote.meta
