"""A crawl keeps its connections to a site open until it ends, instead of opening a new one for
most requests when a download slot runs more requests at once than Scrapy's pool keeps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from benchmarks.corpus_site import SOURCE_ID, article_path, build_site
from crawler.mirror import start_servers

NEWSWIRE = str(Path(sys.executable).with_name("newswire"))
ARTICLES = 40


def made_up_articles(count: int) -> list[dict]:
    """Articles in the shape corpus_site renders, with invented text."""
    return [{"path": article_path(number), "title": f"خبر تجريبي رقم {number}", "author": "محرر",
             "published": datetime(2026, 11, 1 + number % 28, 9, 30),
             "paragraphs": [f"الفقرة الأولى من الخبر {number}.", "فقرة ثانية للتجربة."]}
            for number in range(1, count + 1)]


def test_a_local_mirror_is_crawled_without_closing_a_connection_before_the_last_request(tmp_path):
    env = {**os.environ, "NEWSWIRE_DATA_DIR": str(tmp_path), "NEWSWIRE_CRAWL_DELAY": "0",
           "NEWSWIRE_ENABLED_SOURCES": "[]", "NEWSWIRE_BASE_URL_OVERRIDES": "{}"}
    with start_servers([SOURCE_ID]) as mirrors:
        server = mirrors.servers[SOURCE_ID]
        server.site = build_site(made_up_articles(ARTICLES), server.base_url)
        done = subprocess.run([NEWSWIRE, "crawl", "--source", SOURCE_ID, "--json",
                               "--base-url-override", f"{SOURCE_ID}={server.base_url}"],
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        deadline = time.monotonic() + 10
        while len(server.connection_ends) < server.connections and time.monotonic() < deadline:
            time.sleep(0.05)  # the server's threads notice the closed connections
    manifest = json.loads(done.stdout)[0]
    assert manifest["counts"]["archived"] == ARTICLES
    # robots.txt (the discovery document, then again for Scrapy's robots.txt check), the sitemap
    # index, its one child sitemap, then every article
    assert sorted(t for t in server.requests if not t.startswith("/ar/")) == [
        "/robots.txt", "/robots.txt", "/sitemap-1.xml", "/sitemap.xml"]
    assert len(server.requests) == ARTICLES + 4
    assert len(server.connection_ends) == server.connections
    assert min(server.connection_ends) > server.arrivals[-1]
