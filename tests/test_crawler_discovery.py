"""Discovery parsers: RSS/Atom feeds, sitemaps (index, news, gzipped), robots.txt, listings."""

import gzip
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from crawler.discovery import (
    in_window,
    local_date,
    parse_date,
    parse_feed,
    parse_listing,
    parse_sitemap,
    sitemaps_in_robots,
)

TEHRAN = ZoneInfo("Asia/Tehran")


def test_rss_items_with_links_and_dates():
    feed = b"""<?xml version="1.0"?><rss version="2.0"><channel>
      <item><title>a</title><link>https://s.example/ar/news/1</link><pubDate>Fri, 27 Nov 2026 23:30:00 +0330</pubDate></item>
      <item><title>b</title><guid>/ar/news/2</guid></item>
      <item><title>no link</title></item>
    </channel></rss>"""
    listed = parse_feed(feed, "https://s.example/ar/rss")
    assert [x.url for x in listed] == ["https://s.example/ar/news/1", "https://s.example/ar/news/2"]
    assert listed[0].published == datetime(2026, 11, 27, 23, 30, tzinfo=timezone(timedelta(hours=3, minutes=30)))
    assert listed[1].published is None


def test_atom_entries_prefer_the_alternate_link():
    feed = b"""<feed xmlns="http://www.w3.org/2005/Atom">
      <entry><link rel="self" href="/api/1"/><link rel="alternate" href="/ar/news/1"/>
             <published>2026-11-27T10:00:00Z</published></entry></feed>"""
    [entry] = parse_feed(feed, "https://s.example/feed")
    assert entry.url == "https://s.example/ar/news/1"
    assert entry.published == datetime(2026, 11, 27, 10, tzinfo=timezone.utc)


def test_broken_feed_gives_no_links_instead_of_crashing():
    assert parse_feed(b"this is not xml <<<", "https://s.example/rss") == []


def test_news_sitemap_and_index_and_gzip():
    urlset = b"""<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
      <url><loc>https://s.example/N1</loc><lastmod>2026-11-01</lastmod>
        <news:news><news:publication_date>2026-11-27T09:00:00+03:00</news:publication_date></news:news></url>
      <url><loc>https://s.example/N2</loc><lastmod>2026-11-26</lastmod></url></urlset>"""
    document = parse_sitemap(gzip.compress(urlset), "https://s.example/sitemap.xml.gz")
    assert not document.is_index
    assert [(e.url, e.published.date()) for e in document.entries] == [
        ("https://s.example/N1", date(2026, 11, 27)),  # the news date wins over lastmod
        ("https://s.example/N2", date(2026, 11, 26)),
    ]
    index = parse_sitemap(b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <sitemap><loc>/news.xml</loc></sitemap></sitemapindex>""", "https://s.example/index.xml")
    assert index.is_index and [e.url for e in index.entries] == ["https://s.example/news.xml"]


def test_robots_sitemap_lines():
    robots = b"User-agent: *\nDisallow: /search\nSitemap: https://s.example/a.xml\nsitemap: /b.xml\n"
    assert sitemaps_in_robots(robots, "https://s.example/robots.txt") == [
        "https://s.example/a.xml", "https://s.example/b.xml"]


def test_listing_links_are_dated_by_their_own_item():
    html = """<html><body><a href="/">home</a>
      <ul><li><a href="/?p=1#respond">one</a><time datetime="2026-11-27T10:00:00+03:00">x</time></li>
          <li><a href="/?p=2">two</a></li></ul>
      <a href="javascript:void(0)">js</a></body></html>"""
    listed = parse_listing(html, "https://sana.example/?cat=3")
    assert [(x.url, x.published) for x in listed] == [
        ("https://sana.example/", None),
        ("https://sana.example/?p=1", datetime(2026, 11, 27, 10, tzinfo=timezone(timedelta(hours=3)))),
        ("https://sana.example/?p=2", None),
    ]


def test_window_uses_the_sites_calendar_day():
    late_evening = parse_date("2026-11-19T22:00:00+00:00")  # already 20 November in Tehran
    assert local_date(late_evening, TEHRAN) == date(2026, 11, 20)
    assert local_date(parse_date("2026-11-19"), TEHRAN) == date(2026, 11, 19)  # naive: site-local
    assert in_window(date(2026, 11, 20), date(2026, 11, 20), date(2026, 11, 20))
    assert not in_window(date(2026, 11, 19), date(2026, 11, 20), None)
    assert in_window(date(2020, 2, 29), None, None)
    assert parse_date("not a date") is None and parse_date("") is None
