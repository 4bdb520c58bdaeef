"""The bundled demo mirror (infra/demo-mirror): content, layouts, and a real crawl of it."""

import json
import os
import subprocess
import sys
import urllib.request
from datetime import date, datetime
from pathlib import Path

import pytest
import yaml

from crawler.demo_site import DEMO_DIR
from crawler.demo_site import load_articles as load_demo_articles
from crawler.mirror import serve_demo_mirror
from kernel.registry import article_match, load_registry
from kernel.settings import get_settings

SEED_PAGE = Path(__file__).resolve().parent / "fixtures" / "pages" / "tasnim_seed.html"
SEED_PATH = "/ar/news/2020/02/29/2216410/"
NEWSWIRE = str(Path(sys.executable).with_name("newswire"))
# The seed must stay the best match for these words, so the demo wire articles avoid them.
SEED_TOPICS = ["إدلب", "ادلب", "بوتين", "الإرهاب", "الارهاب", "روسيا", "كورونا", "أستانا", "استانا", "الاتفاق النووي"]


def get(url: str) -> tuple[bytes, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read(), response.headers.get("Content-Type")


@pytest.fixture(scope="module")
def mirror():
    with serve_demo_mirror() as demo:
        yield demo


def test_wire_articles_are_realistic_and_off_the_seed_topics():
    wire = yaml.safe_load((DEMO_DIR / "articles" / "wire.yaml").read_text(encoding="utf-8"))
    assert len(wire) >= 15
    assert {a["source"] for a in wire} == {"tasnim", "spa", "sana"}
    for article in wire:
        published = datetime.fromisoformat(article["published"])
        assert date(2026, 11, 20) <= published.date() <= date(2026, 11, 28), article["slug"]
        text = " ".join([article["title"], *article["paragraphs"], *article.get("trailer", [])])
        assert not [w for w in SEED_TOPICS if w in text], article["slug"]
        credit = {"tasnim": "المصدر : وكالة تسنيم للأنباء .", "spa": "واس", "sana": "-سانا"}[article["source"]]
        assert credit in text, article["slug"]


def test_every_demo_article_is_served_at_a_url_its_real_source_accepts(mirror):
    registry = {s.id: s for s in load_registry(get_settings(agencies_file=None))}
    articles = load_demo_articles()
    assert len(articles) >= 15
    for article in articles:
        url = mirror.base_urls[article["source"]] + article["path"]
        assert article_match(registry[article["source"]], url), url
        body, content_type = get(url)
        assert content_type == "text/html; charset=utf-8"
        assert article["title"] in body.decode("utf-8")


def test_seed_page_is_served_byte_for_byte_and_listed_with_its_date(mirror):
    body, _ = get(mirror.base_urls["tasnim"] + SEED_PATH)
    assert body == SEED_PAGE.read_bytes()
    feed, content_type = get(mirror.base_urls["tasnim"] + "/ar/rss/feed/0/8/0/")
    assert content_type.startswith("application/xml")
    text = feed.decode("utf-8")
    assert f"<link>{mirror.base_urls['tasnim']}{SEED_PATH}</link>" in text
    assert "<pubDate>Sat, 29 Feb 2020 14:35:00 +0330</pubDate>" in text


def test_each_source_keeps_its_discovery_method(mirror):
    robots, _ = get(mirror.base_urls["spa"] + "/robots.txt")
    assert f"Sitemap: {mirror.base_urls['spa']}/sitemaps/news-ar.xml" in robots.decode()
    sitemap, _ = get(mirror.base_urls["spa"] + "/sitemaps/news-ar.xml")
    assert b"<news:publication_date>" in sitemap
    listing, _ = get(mirror.base_urls["sana"] + "/?cat=3")
    assert b'<li class="post"><a href="/?p=' in listing


def test_demo_crawl_archives_every_demo_article_and_the_seed(mirror, tmp_path):
    env = {**os.environ, "NEWSWIRE_DATA_DIR": str(tmp_path),  # default politeness settings
           "NEWSWIRE_ARCHIVE_ROOT": str(tmp_path / "archive"), "NEWSWIRE_ENABLED_SOURCES": "[]",
           "NEWSWIRE_BASE_URL_OVERRIDES": json.dumps(mirror.base_urls)}  # overrides from the environment
    args = [NEWSWIRE, "crawl", "--json"] + [a for s in mirror.base_urls for a in ("--source", s)]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    manifests = {m["source_id"]: m for m in json.loads(done.stdout)}
    articles = load_demo_articles()
    for source in ("tasnim", "spa", "sana"):
        expected = {a["path"] for a in articles if a["source"] == source} | ({SEED_PATH} if source == "tasnim" else set())
        archived = {a["url"].removeprefix(mirror.base_urls[source]) for a in manifests[source]["archived"]}
        assert archived == expected, source
        assert manifests[source]["counts"]["failed"] == 0
    assert manifests["sana"]["skipped_by_reason"] == {"not_article": 4}  # the listing's menu links


def test_mirror_serve_command_prints_base_urls_and_serves():
    process = subprocess.Popen([NEWSWIRE, "mirror", "serve", "--port-base", "0"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    try:
        lines = [process.stdout.readline().strip() for _ in range(3)]
        base_urls = dict(line.split("=", 1) for line in lines)
        assert set(base_urls) == {"tasnim", "spa", "sana"}
        body, _ = get(base_urls["tasnim"] + SEED_PATH)
        assert body == SEED_PAGE.read_bytes()
    finally:
        process.terminate()
        process.wait(timeout=10)
