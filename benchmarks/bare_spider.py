"""The crawl baseline: a bare Scrapy spider that reads a sitemap (index), fetches every URL it lists and
writes each response (and its request) to one gzipped WARC file with warcio.

No robots.txt, no seen-state, no canonical or redirect bookkeeping, no manifest: what is left is
the cost of Scrapy and warcio themselves. It uses the download slot newswire gives sites on
127.0.0.1 (no delay, the same concurrency), so the two crawls differ only in newswire's own work.

    python benchmarks/bare_spider.py SITEMAP_URL OUT.warc.gz    # prints {"pages": N, "seconds": S}
"""

from __future__ import annotations

import json
import sys
import time
from io import BytesIO

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.utils.sitemap import Sitemap
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

LOOPBACK_SLOT = {"delay": 0.0, "concurrency": 4}  # crawler.settings gives 127.0.0.1 the same slot


class BareSpider(scrapy.Spider):
    name = "bare"

    def __init__(self, sitemap_url: str, writer: WARCWriter, **kwargs):
        super().__init__(**kwargs)
        self.sitemap_url = sitemap_url
        self.writer = writer
        self.pages = 0

    async def start(self):
        yield scrapy.Request(self.sitemap_url, callback=self.parse_sitemap)

    def parse_sitemap(self, response):
        sitemap = Sitemap(response.body)
        follow = self.parse_sitemap if sitemap.type == "sitemapindex" else self.parse_page
        for entry in sitemap:
            yield scrapy.Request(entry["loc"], callback=follow)

    def parse_page(self, response):
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, vs in response.headers.items() for v in vs]
        record = self.writer.create_warc_record(
            response.url, "response", payload=BytesIO(response.body), length=len(response.body),
            http_headers=StatusAndHeaders(f"{response.status} OK", headers, protocol="HTTP/1.1"))
        request = self.writer.create_warc_record(
            response.url, "request",
            http_headers=StatusAndHeaders(f"GET {response.url} HTTP/1.1", [], is_http_request=True),
            warc_headers_dict={"WARC-Concurrent-To": record.rec_headers.get_header("WARC-Record-ID")})
        self.writer.write_record(record)
        self.writer.write_record(request)
        self.pages += 1


def main() -> None:
    sitemap_url, out_path = sys.argv[1], sys.argv[2]
    started = time.perf_counter()
    with open(out_path, "wb") as out:
        writer = WARCWriter(out, gzip=True, warc_version="1.1")
        process = CrawlerProcess({
            "LOG_LEVEL": "WARNING", "TELNETCONSOLE_ENABLED": False, "COOKIES_ENABLED": False,
            "ROBOTSTXT_OBEY": False, "CONCURRENT_REQUESTS": 16,
            "DOWNLOAD_SLOTS": {"127.0.0.1": LOOPBACK_SLOT},
        })
        crawler = process.create_crawler(BareSpider)
        process.crawl(crawler, sitemap_url=sitemap_url, writer=writer)
        process.start()
    print(json.dumps({"pages": crawler.spider.pages, "seconds": round(time.perf_counter() - started, 3)}))


if __name__ == "__main__":
    main()
