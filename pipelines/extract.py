"""Title, body and publication date of one article page.

Structured metadata (JSON-LD ``NewsArticle``, Open Graph, ``article:published_time``,
``<time datetime>``) is trusted first because publishers fill it for search engines and it
is rarely polluted by page chrome; every string read from it is HTML-unescaped, since
publishers often entity-encode JSON-LD and ``<meta content>`` twice. trafilatura then finds the
main text, not in precision mode: that discards article containers whose class merely looks
like chrome (``main_bar``) and skips trafilatura's fallbacks, which empties whole pages. The fast
mode runs first and the full mode (with the fallbacks) only when the fast text is implausibly
short against the paragraphs the page shows.
Short lines of page furniture at the body's edges (comment policies, "read also" boxes, share
rows, update-time lines, copyright) are cut after extraction. Per-source ``hints`` narrow the
search. Trailers such as ``/ انتهى/`` and ``المصدر : ...`` are deliberately kept: cleaning cuts
them later and attribution reads them.
"""

from __future__ import annotations

import codecs
import json
import re
from collections import Counter
from collections.abc import Iterator
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from html import unescape
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import charset_normalizer
import lxml.html
import trafilatura
from cssselect import GenericTranslator, SelectorError
from htmldate import find_date
from lxml import etree
from trafilatura.settings import Extractor

from kernel.dates import parse_iso_datetime
from pipelines.arabic import word_runs
from pipelines.clean import ZWNJ, cut_boilerplate_edges, is_trailer_line, normalize_text


class ExtractionError(ValueError):
    """A page that yields no article; ``reason`` is a stable machine-readable code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class ExtractedPage:
    title: str
    body: str
    lead: str
    published_at: datetime | None
    canonical_url: str | None
    html_lang: str | None
    warnings: list[str] = field(default_factory=list)
    byline: str = ""  # a byline or dateline shown apart from the body ("الرياض - واس")
    authors: str = ""  # author names of JSON-LD or <meta name="author">, one a line


# ---------------------------------------------------------------------------- decoding

# Magic numbers of formats crawlers commonly receive instead of HTML.
_BINARY_SIGNATURES = (b"%PDF", b"PK\x03\x04", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"\x1f\x8b",
                      b"RIFF", b"OggS", b"ID3", b"\xd0\xcf\x11\xe0")
# Types that are never an article page (text/plain and octet-stream are left to the content
# checks: servers label HTML with them often enough).
_NON_HTML_TYPES = ("application/pdf", "application/json", "application/zip", "image/", "audio/", "video/",
                   "text/csv", "application/javascript", "text/javascript")
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.I)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.I)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_ARABIC_LETTER = re.compile(r"[\u0621-\u064a\u0671-\u06d3]")


def _lookup(charset: str | None) -> str | None:
    if not charset:
        return None
    try:
        return codecs.lookup(charset.strip().lower()).name
    except LookupError:
        return None


def _declared_charsets(raw: bytes, content_type: str | None) -> list[str]:
    """Charsets in order of authority: BOM, HTTP header, <meta> in the first 4 KB."""
    found: list[str] = []
    for bom, name in _BOMS:
        if raw.startswith(bom):
            found.append(name)
    header = _HEADER_CHARSET.search(content_type or "")
    meta = _META_CHARSET.search(raw[:4096])
    for candidate in (header.group(1) if header else None,
                      meta.group(1).decode("ascii", "ignore") if meta else None):
        name = _lookup(candidate)
        if name and name not in found:
            found.append(name)
    return found


def _strict(raw: bytes, charset: str) -> str | None:
    try:
        return raw.decode(charset)
    except (UnicodeDecodeError, LookupError):
        return None


def _arabic_share(text: str) -> float:
    """Share of Arabic letters among the non-ASCII characters of ``text``."""
    non_ascii = sum(1 for ch in text if ord(ch) > 127)
    return len(_ARABIC_LETTER.findall(text)) / non_ascii if non_ascii else 0.0


# UTF-8 with at most this many invalid bytes (or this share of its non-ASCII bytes) is UTF-8
# with a stray byte or a letter cut in two, not a single-byte page: in windows-1256 nearly
# every Arabic letter is an invalid UTF-8 sequence.
_UTF8_STRAY_BYTES = 8
_UTF8_STRAY_SHARE = 0.01


def _mostly_utf8(raw: bytes) -> str | None:
    text = raw.decode("utf-8", errors="replace")
    invalid = text.count("\ufffd") - raw.count("\ufffd".encode())
    non_ascii = sum(1 for byte in raw if byte > 127)
    if invalid <= max(_UTF8_STRAY_BYTES, _UTF8_STRAY_SHARE * non_ascii) and non_ascii > 2 * invalid:
        return text
    return None


def decode_html(raw: bytes, content_type: str | None = None) -> str:
    """Bytes to text: BOM, then a sanity-checked header or <meta> charset.

    Arabic sites often declare one charset and serve another, so the declaration is checked:
    bytes that are valid UTF-8 with non-ASCII content are UTF-8 whatever a single-byte label
    says (such sequences almost never arise by chance), and so are bytes with only a few
    invalid sequences (decoded with U+FFFD for those). A single-byte decoding without Arabic
    letters loses to windows-1256 when that one reads as Arabic; when nothing reads as Arabic,
    charset-normalizer's guess is the last resort.
    """
    declared = _declared_charsets(raw, content_type)
    if declared and declared[0].startswith("utf-16"):
        return raw.decode(declared[0], errors="replace").lstrip("\ufeff")
    utf8 = _strict(raw, "utf-8")
    if utf8 is not None:
        return utf8.lstrip("\ufeff")
    if (nearly := _mostly_utf8(raw)) is not None:
        return nearly.lstrip("\ufeff")
    cp1256 = raw.decode("cp1256", errors="replace")
    for charset in declared:
        text = _strict(raw, charset)
        if text is not None and (_arabic_share(text) >= 0.5 or _arabic_share(cp1256) < 0.5):
            return text
    if _arabic_share(cp1256) < 0.5 and (guess := charset_normalizer.from_bytes(raw).best()) is not None:
        return str(guess)
    return cp1256


def _looks_like_html(raw: bytes, text: str, content_type: str | None) -> bool:
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime and mime.startswith(_NON_HTML_TYPES):
        return False
    head = text[:4096]
    if raw.lstrip()[:8].startswith(_BINARY_SIGNATURES) or head.count("\x00") > len(head) // 10:
        return False  # NULs throughout: binary data or unmarked UTF-16, not a page with a stray NUL
    first = text.lstrip()[:1]
    if first in ("{", "["):  # JSON bodies served with a text/html type
        return False
    return re.search(r"<(html|head|body|p|div|article|meta|title)\b", text[:20000], re.I) is not None


# ---------------------------------------------------------------------------- metadata

_CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_LEAD_MIN_WORDS = 6
_BODY_MIN_WORDS = 8  # fewer words is menu residue (a row of links), not an article
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_ARTICLE_TYPES = {"NewsArticle", "Article", "ReportageNewsArticle", "BlogPosting", "AnalysisNewsArticle"}


def _json_ld_items(tree: lxml.html.HtmlElement) -> list[dict]:
    items: list[dict] = []
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text_content())
        except (json.JSONDecodeError, TypeError, RecursionError):
            continue  # broken or absurdly nested metadata: the HTML article is still read
        stack = data if isinstance(data, list) else [data]
        while stack:
            item = stack.pop(0)
            if isinstance(item, dict):
                stack.extend(item.get("@graph", []) if isinstance(item.get("@graph"), list) else [])
                items.append(item)
            elif isinstance(item, list):
                stack.extend(item)
    return items


def _news_article(tree: lxml.html.HtmlElement) -> dict:
    for item in _json_ld_items(tree):
        kind = item.get("@type")
        kinds = set(kind) if isinstance(kind, list) else {kind}
        if kinds & _ARTICLE_TYPES:
            return item
    return {}


def _authors(tree: lxml.html.HtmlElement, article: dict) -> list[str]:
    """Author names from JSON-LD (a name, an object or a list of them) or the meta author tag:
    wire copy is often credited only there (author: "واس")."""
    authors = article.get("author")
    items = authors if isinstance(authors, list) else [authors]
    names = [_json_ld_text(item, "name") if isinstance(item, dict) else unescape(item)
             for item in items if isinstance(item, (dict, str))]
    names = [" ".join(name.split()) for name in names if name and name.strip()]
    return names or [name for name in [_meta(tree, "author")] if name]


def _meta(tree: lxml.html.HtmlElement, *names: str) -> str | None:
    for name in names:
        for value in tree.xpath(f'//meta[@property="{name}" or @name="{name}"]/@content'):
            if value.strip():
                return unescape(value).strip()
    return None


def _first_text(tree: lxml.html.HtmlElement, xpath: str) -> str | None:
    for node in tree.xpath(xpath):
        text = node if isinstance(node, str) else node.text_content()
        text = " ".join(text.split())
        if text:
            return text
    return None


def _json_ld_text(article: dict, key: str) -> str:
    """A string field of JSON-LD, HTML-unescaped (``&quot;`` and ``&amp;quot;`` alike)."""
    value = article.get(key)
    if not isinstance(value, str):
        return ""
    previous = None
    while previous != value:  # double-encoded entities are common in CMS output
        previous, value = value, unescape(value)
    # A lone surrogate ("\\ud83d" without its pair) is valid JSON but no text: it cannot be encoded.
    return _LONE_SURROGATE.sub("\ufffd", value)


def _structured_dates(tree: lxml.html.HtmlElement, article: dict) -> Iterator[str | None]:
    yield _json_ld_text(article, "datePublished") or None
    yield _meta(tree, "article:published_time", "og:published_time", "pubdate", "publishdate", "date")
    yield _first_text(tree, "//time/@datetime")


# /2021/03/14/, /2021-03-14-, /20210314/ in a URL's path: the day the CMS filed the article.
_URL_DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})([/_-]?)(0?[1-9]|1[0-2])\2(0?[1-9]|[12]\d|3[01])(?!\d)")
_EARLIEST_PLAUSIBLE = datetime(1995, 1, 1)  # before Arabic news sites existed: a CMS default


def _url_date(url: str) -> datetime | None:
    for match in _URL_DATE.finditer(urlsplit(url).path):
        if not match.group(2) and len(match.group(0)) != 8:
            continue  # undelimited digits must be exactly YYYYMMDD
        try:
            return datetime(int(match.group(1)), int(match.group(3)), int(match.group(4)))
        except ValueError:
            continue
    return None


def _plausible(value: datetime | None, crawled_at: datetime) -> bool:
    """Not before Arabic news sites existed, and not after the page was fetched (a day's slack
    for time zones): 9999-12-31, 0001-01-01 and 2099 are CMS defaults and typos."""
    if value is None:
        return False
    naive = value.replace(tzinfo=None)
    return _EARLIEST_PLAUSIBLE <= naive <= crawled_at.replace(tzinfo=None) + timedelta(days=1)


def _published_at(tree: lxml.html.HtmlElement, article: dict, url: str, tz_name: str | None,
                  warnings: list[str], crawled_at: datetime | None,
                  listed_published_at: datetime | None) -> datetime | None:
    fetched = (crawled_at or datetime.now(dt_timezone.utc)).astimezone(dt_timezone.utc)
    structured = [d for d in map(parse_iso_datetime, _structured_dates(tree, article)) if d]
    parsed = next((d for d in structured if _plausible(d, fetched)), None)
    if parsed is None and _plausible(listed_published_at, fetched):
        # The feed or sitemap date is machine-readable and per-article.
        parsed = listed_published_at
        warnings.append("published_at_from_listing")
        if structured:
            warnings.append("published_at_implausible_ignored")
    elif parsed is None:
        # No plausible machine-readable date: the URL's day beats htmldate's guess from the
        # visible text, which often picks a sidebar or footer date.
        parsed = _url_date(url)
        if _plausible(parsed, fetched):
            warnings.append("published_at_from_url")
        else:
            parsed = parse_iso_datetime(find_date(deepcopy(tree), original_date=True, extensive_search=True))
            if parsed is None:
                warnings.append("no_published_at")
                return None
        if structured:
            warnings.append("published_at_implausible_ignored")
        warnings.append("published_at_day_only")
    if parsed.tzinfo is not None:
        return parsed
    zone = _zone(tz_name)
    if zone is None:
        warnings.append("published_at_naive_assumed_utc")
        return parsed.replace(tzinfo=dt_timezone.utc)
    return parsed.replace(tzinfo=zone)


def _zone(tz_name: str | None) -> ZoneInfo | None:
    if not tz_name:
        return None
    try:
        return ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _title(tree: lxml.html.HtmlElement, article: dict, title_xpath: str | None) -> str:
    selected = _first_text(tree, title_xpath) if title_xpath else None
    if selected:
        return selected
    headline = _json_ld_text(article, "headline")
    if headline.strip():
        return " ".join(headline.split())
    return (_meta(tree, "og:title", "twitter:title")
            or _first_text(tree, "//h1")
            or _first_text(tree, "//title")
            or "")


def _canonical_url(tree: lxml.html.HtmlElement, url: str) -> str | None:
    href = _first_text(tree, '//link[@rel="canonical"]/@href') or _meta(tree, "og:url")
    return urljoin(url, href) if href else None


# ---------------------------------------------------------------------------- main text

def _css_to_xpath(selector: str) -> str:
    try:
        return GenericTranslator().css_to_xpath(selector)
    except SelectorError as exc:
        raise ValueError(f"bad CSS selector {selector!r} in extraction hints: {exc}") from exc


# trafilatura's fast mode skips its fallbacks (its readability and jusText passes over the page),
# a large part of its time that changes nothing where the fast text already holds the page's
# paragraphs. A fast text that holds less than this share of the words the page shows in <p>
# elements is implausibly short (an article container discarded as chrome, the menu kept
# instead): the full mode runs. Its length alone would not tell, since a kept menu has words
# too; words are compared as bags because trafilatura drops marks (U+200F) inside them.
_FAST_TEXT_MIN_SHARE = 0.5
_WORD = re.compile(r"\w+")  # a character is \w exactly when str.isalnum() holds for it or it is "_"


def _holds_the_paragraphs(text: str, root: lxml.html.HtmlElement) -> bool:
    if not text:
        return False
    # one regex pass over the paragraphs joined by spaces: no word spans two of them
    shown = Counter(word_runs(" ".join(node.text_content() for node in root.iter("p")), _WORD))
    words = Counter(word_runs(text, _WORD))
    kept = sum(min(count, words[word]) for word, count in shown.items())
    return kept >= _FAST_TEXT_MIN_SHARE * shown.total()


# trafilatura's options for each mode, built once: building them reads its config file's values.
_TRAFILATURA_OPTIONS = {fast: Extractor(output_format="txt", fast=fast, comments=False, tables=False, images=False,
                                        dedup=False, with_metadata=False)
                        for fast in (True, False)}


def _trafilatura_text(source: etree._Element, url: str, fast: bool) -> str:
    # The page's tree, not its HTML: trafilatura would parse the page a second time. It prunes a
    # copy of the tree it is given (trafilatura >= 2.3.1), and metadata reads the tree later.
    options = _TRAFILATURA_OPTIONS[fast]
    # The page's URL set on the shared options as Extractor(url=url) sets it (trafilatura's own
    # command line reuses one Extractor per file the same way).
    options.url, options.source = url, url.encode("utf-8", "replace").decode("utf-8")
    return trafilatura.extract(source, options=options) or ""


def _main_text(tree: lxml.html.HtmlElement, url: str, body_xpath: str | None, warnings: list[str]) -> str:
    nodes = tree.xpath(body_xpath) if body_xpath else []
    if body_xpath and not nodes:
        warnings.append("hint_body_selector_unmatched")  # the site changed its layout
    source = nodes[0] if nodes else tree
    text = _trafilatura_text(source, url, fast=True)
    if not _holds_the_paragraphs(text, source):
        text = _trafilatura_text(source, url, fast=False)
    if not text and nodes:
        # trafilatura's own heuristics found nothing in the hinted container: trust the hint.
        text = "\n".join(node.text_content() for node in nodes[0].iter("p")) or nodes[0].text_content()
    return text


def _paragraphs(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def _body_without_title(paragraphs: list[str], title: str) -> list[str]:
    """trafilatura keeps the <h1> as the first line; the title is stored on its own (compared
    cleaned: trafilatura drops invisible characters the title may still hold)."""
    def key(line: str) -> str:
        return normalize_text(line).replace(ZWNJ, "")

    if paragraphs and title and key(paragraphs[0]) == key(title):
        return paragraphs[1:]
    return paragraphs


def _lead(paragraphs: list[str]) -> str:
    """First real paragraph: a dateline line such as ``حماة-سانا`` alone is not a lead."""
    return next((p for p in paragraphs if len(p.split()) >= _LEAD_MIN_WORDS), paragraphs[0])


def _cut_at_end_marker(paragraphs: list[str], end_markers: list[str]) -> list[str]:
    """Drop what follows the first line holding an end marker, keeping that line and the
    trailer lines right after it (``المصدر : ...``): both are read by cleaning and attribution."""
    for index, line in enumerate(paragraphs):
        if any(marker in line for marker in end_markers):
            end = index + 1
            while end < len(paragraphs) and is_trailer_line(paragraphs[end]):
                end += 1
            return paragraphs[:end]
    return paragraphs


def extract_page(raw: bytes | str, url: str, *, content_type: str | None = None,
                 timezone: str | None = None, hints: dict | None = None, crawled_at: datetime | None = None,
                 listed_published_at: datetime | None = None) -> ExtractedPage:
    """Extract one article page. ``timezone`` (IANA name) is the source's zone for naive dates.

    A publication date is plausible between 1995 and a day after ``crawled_at`` (now when not
    given); when the page's own dates are not, the feed/sitemap date ``listed_published_at``,
    then the URL's date, then htmldate's reading of the page is used, with warnings.

    ``hints`` are the source registry's per-site extraction hints (``crawler/sources.yaml``):

    - ``body_selector``: CSS selector of the article container; the main-text search runs
      inside its first match only (``body_xpath``, an XPath, is still read when no CSS is
      given). A selector that matches nothing falls back to the whole page with warning
      ``hint_body_selector_unmatched``;
    - ``title_selector``: CSS selector whose first non-empty text is the title, before
      JSON-LD and Open Graph;
    - ``end_markers``: strings that close the story (``/ انتهى/``); lines after the first line
      holding one are dropped, except the trailer lines right after it.

    Raises ExtractionError with reason ``empty_page``, ``not_html`` or ``no_main_text``, and
    ValueError for a hint that is not a valid CSS selector.
    """
    hints = hints or {}
    body_xpath = _css_to_xpath(hints["body_selector"]) if hints.get("body_selector") else hints.get("body_xpath")
    title_xpath = _css_to_xpath(hints["title_selector"]) if hints.get("title_selector") else None
    raw_bytes = raw.encode("utf-8") if isinstance(raw, str) else raw
    if not raw_bytes.strip():
        raise ExtractionError("empty_page")
    html = raw if isinstance(raw, str) else decode_html(raw_bytes, content_type)
    if not _looks_like_html(raw_bytes, html, content_type):
        raise ExtractionError("not_html", content_type or "no HTML markup found")
    # lxml refuses NULs and other C0 controls in text (and stray ones are common in CMS output).
    html = _CONTROL_CHARACTERS.sub("", html)
    try:
        # lxml refuses str input that still carries an XML encoding declaration (XHTML pages).
        tree = lxml.html.fromstring(_XML_DECLARATION.sub("", html, count=1))
    except (etree.ParserError, ValueError) as exc:
        raise ExtractionError("not_html", str(exc)) from exc

    warnings: list[str] = []
    article = _news_article(tree)
    title = _title(tree, article, title_xpath)
    paragraphs = _body_without_title(_paragraphs(_main_text(tree, url, body_xpath, warnings)), title)
    structured_body = _paragraphs(_json_ld_text(article, "articleBody"))
    # >=: trafilatura's own fallback may return the same articleBody flattened to one line.
    if structured_body and len(" ".join(structured_body)) >= len(" ".join(paragraphs)):
        paragraphs = structured_body
        warnings.append("body_from_json_ld")
    if hints.get("end_markers"):
        paragraphs = _cut_at_end_marker(paragraphs, list(hints["end_markers"]))
    paragraphs, _ = cut_boilerplate_edges(paragraphs)
    if sum(len(p.split()) for p in paragraphs) < _BODY_MIN_WORDS:
        raise ExtractionError("no_main_text", url)
    if not title:
        warnings.append("no_title")
    html_lang = (tree.get("lang") or tree.get("xml:lang") or "").strip() or None
    return ExtractedPage(
        title=title,
        body="\n".join(paragraphs),
        lead=_lead(paragraphs),
        published_at=_published_at(tree, article, url, timezone, warnings, crawled_at, listed_published_at),
        canonical_url=_canonical_url(tree, url),
        html_lang=html_lang,
        warnings=warnings,
        authors="\n".join(_authors(tree, article)),
    )
