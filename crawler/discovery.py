"""Finding article links: pure parsers for feeds, sitemaps, robots.txt and listing pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urldefrag, urljoin
from zoneinfo import ZoneInfo

from lxml import etree
from parsel import Selector
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import sitemap_urls_from_robots

from kernel.dates import parse_iso_datetime

MAX_SITEMAP_BYTES = 50_000_000  # the sitemap protocol's own limit for an uncompressed file
XML_PARSER = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, huge_tree=False)


@dataclass(frozen=True)
class Listed:
    """An article link as a discovery document lists it."""

    url: str
    published: datetime | None = None


@dataclass(frozen=True)
class SitemapDocument:
    is_index: bool
    entries: list[Listed]  # articles of a urlset, or child sitemaps of an index


def parse_date(value: str | None) -> datetime | None:
    """ISO 8601 (sitemaps, Atom, <time>) or RFC 822 (RSS) dates; None when unreadable."""
    if not value or not value.strip():
        return None
    parsed = parse_iso_datetime(value)
    if parsed is not None:
        return parsed
    try:
        return parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None


def local_date(moment: datetime, tz: ZoneInfo) -> date:
    """The calendar date at the site: aware times are converted, naive ones are site-local."""
    return moment.astimezone(tz).date() if moment.tzinfo else moment.date()


def in_window(day: date, since: date | None, until: date | None) -> bool:
    return (since is None or day >= since) and (until is None or day <= until)


def _xml_root(body: bytes) -> etree._Element | None:
    if body[:3] == b"\x1f\x8b\x08":  # gzip magic: a .xml.gz sitemap served as-is
        body = gunzip(body, max_size=MAX_SITEMAP_BYTES)
    try:
        return etree.fromstring(body, parser=XML_PARSER)
    except etree.XMLSyntaxError:
        return None


def _text(element: etree._Element, xpath: str) -> str | None:
    found = element.xpath(xpath)
    if not found:
        return None
    first = found[0]
    return (first if isinstance(first, str) else (first.text or "")).strip() or None


def parse_feed(body: bytes, feed_url: str) -> list[Listed]:
    """Items of an RSS 2.0 / RSS 1.0 feed or entries of an Atom feed."""
    root = _xml_root(body)
    if root is None:
        return []
    listed = []
    for item in root.xpath("//*[local-name()='item' or local-name()='entry']"):
        link = (
            _text(item, "*[local-name()='link'][@rel='alternate']/@href")
            or _text(item, "*[local-name()='link']/@href")
            or _text(item, "*[local-name()='link']")
            or _text(item, "*[local-name()='guid'][not(@isPermaLink='false')]")
        )
        if not link:
            continue
        published = parse_date(
            _text(item, "*[local-name()='pubDate']")
            or _text(item, "*[local-name()='published']")
            or _text(item, "*[local-name()='date']")
            or _text(item, "*[local-name()='updated']")
        )
        listed.append(Listed(urljoin(feed_url, link), published))
    return listed


def parse_sitemap(body: bytes, sitemap_url: str) -> SitemapDocument:
    """A urlset (with Google News publication dates or lastmod) or a sitemap index."""
    root = _xml_root(body)
    if root is None:
        return SitemapDocument(False, [])
    is_index = etree.QName(root).localname == "sitemapindex"
    child = "sitemap" if is_index else "url"
    entries = []
    for element in root.xpath(f"*[local-name()='{child}']"):
        loc = _text(element, "*[local-name()='loc']")
        if not loc:
            continue
        published = parse_date(
            _text(element, ".//*[local-name()='publication_date']")
            or _text(element, "*[local-name()='lastmod']")
        )
        entries.append(Listed(urljoin(sitemap_url, loc), published))
    return SitemapDocument(is_index, entries)


def sitemaps_in_robots(robots_txt: bytes, robots_url: str) -> list[str]:
    return list(dict.fromkeys(sitemap_urls_from_robots(robots_txt, base_url=robots_url)))


def parse_listing(html: str, page_url: str) -> list[Listed]:
    """Every link of a section page, dated by the nearest enclosing item's <time datetime>."""
    page = Selector(text=html)
    listed = []
    for anchor in page.xpath("//a[@href]"):
        href = anchor.attrib["href"].strip()
        if not href or href.startswith(("javascript:", "mailto:", "tel:", "#")):
            continue
        item = anchor.xpath("ancestor::*[self::li or self::article or self::tr][1]")
        stamp = item.xpath(".//time/@datetime").get() if item else None
        listed.append(Listed(urldefrag(urljoin(page_url, href))[0], parse_date(stamp)))
    return listed
