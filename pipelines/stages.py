"""The stage sequence: one page (or one text) -> one record.

extract -> clean -> language -> attribution -> content hash, as pure functions over typed
records. Every caller runs exactly this code: nightly processing and reprocessing
(:mod:`pipelines.batch`), ``newswire extract`` and ``newswire annotate``, the evaluations and
the benchmarks. Story clustering needs the whole batch, so it is the batch's step, but what it
compares is defined here (:func:`story_text`) so every caller clusters the same input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import tldextract

from kernel.records import Article, Provenance, RecordStatus, article_id
from kernel.registry import Source, path_and_query
from kernel.urls import canonicalize_url
from pipelines.attribution import Gazetteer, tag_attribution
from pipelines.clean import cut_trailers, normalize_text
from pipelines.dedup import content_hash
from pipelines.extract import ExtractedPage, ExtractionError, extract_page
from pipelines.language import detect_language


@dataclass(frozen=True)
class SourceProfile:
    """What processing needs to know about a source: language, time zone, extraction hints, and
    the agency table its credits are looked up in."""

    language: str = "ar"
    timezone: str | None = None
    hints: dict[str, Any] = field(default_factory=dict)
    gazetteer: Gazetteer | None = None  # the configured agency table's; None: the bundled one
    article_regex: re.Pattern[str] | None = None  # the registry's article_pattern; None: any path
    base_url: str | None = None

    @classmethod
    def of(cls, source: Source, gazetteer: Gazetteer | None = None) -> SourceProfile:
        return cls(language=source.language, timezone=source.timezone, hints=dict(source.hints),
                   gazetteer=gazetteer, article_regex=source.article_regex, base_url=source.base_url)


DEFAULT_PROFILE = SourceProfile()

# Sane sizes for one article: beyond them a page is a template fault or a dump, cut and flagged.
MAX_TITLE_CHARS = 1_000
MAX_BODY_CHARS = 200_000
# Warnings that make a record worth a look: a page the site published broken.
_FLAGGING_WARNINGS = {"title_truncated", "body_truncated", "published_at_implausible_ignored"}
# The offline snapshot of the public suffix list bundled with tldextract: processing never fetches.
_REGISTRABLE = tldextract.TLDExtract(suffix_list_urls=())


def _site(url: str) -> str:
    host = urlsplit(url).hostname or ""
    return _REGISTRABLE(host).top_domain_under_public_suffix or host


def trusted_canonical(declared: str, fetched_canonical: str, profile: SourceProfile) -> tuple[str, str | None]:
    """The URL a record's id comes from, and a warning when the page's declared canonical is not used.

    A canonical link is trusted only when it is plausible for the page: a valid URL on the
    page's site (the fetched host's or the source's registrable domain), not the home page,
    an article URL by the source's pattern, and not another article: when the fetched URL is
    itself an article URL, the canonical may only be a variant of it (same path and query once
    canonicalised), since a template fault that stamps one article's link on every page must
    not merge them. Otherwise the fetched URL's canonical form is the id.
    """
    try:
        canonical = canonicalize_url(declared)
    except ValueError:  # e.g. a port out of range
        return fetched_canonical, "canonical_url_invalid_ignored"
    if _site(canonical) not in {_site(fetched_canonical), _site(profile.base_url or fetched_canonical)}:
        return fetched_canonical, "canonical_url_other_site_ignored"
    target = path_and_query(canonical)
    if target == "/":
        return fetched_canonical, "canonical_url_home_page_ignored"
    pattern = profile.article_regex
    if pattern is not None:
        if not pattern.search(target):
            return fetched_canonical, "canonical_url_not_an_article_ignored"
        if pattern.search(path_and_query(fetched_canonical)) and target != path_and_query(fetched_canonical):
            return fetched_canonical, "canonical_url_names_another_article_ignored"
    return canonical, None


def process_page(
    raw: bytes | str,
    url: str,
    *,
    source_id: str | None = None,
    content_type: str | None = None,
    crawled_at: datetime | None = None,
    provenance: Provenance | None = None,
    profile: SourceProfile = DEFAULT_PROFILE,
    listed_published_at: datetime | None = None,
) -> Article:
    """One article page to one record. Never raises: bad input gives an error or flagged record.

    ``listed_published_at`` is the date the feed or sitemap gave the URL (the crawler's WARC
    metadata), used when the page's own date is missing or implausible.
    """
    try:
        canonical = canonicalize_url(url)
    except ValueError:  # an unparsable fetched URL still names one record
        canonical = url
    base = dict(url=url, canonical_url=canonical, id=article_id(canonical), source_id=source_id,
                crawled_at=crawled_at, provenance=provenance)
    try:
        page = extract_page(raw, url, content_type=content_type, timezone=profile.timezone,
                            hints=profile.hints, crawled_at=crawled_at, listed_published_at=listed_published_at)
    except ExtractionError as exc:
        return Article(**base, status=RecordStatus.ERROR, error=f"extraction failed: {exc.reason}")
    except Exception as exc:  # a parser bug must flag one record, not stop the night's batch
        return Article(**base, status=RecordStatus.ERROR, error=f"extraction crashed: {exc!r}")

    try:
        if page.canonical_url:
            canonical, warning = trusted_canonical(page.canonical_url, base["canonical_url"], profile)
            base.update(canonical_url=canonical, id=article_id(canonical))
            if warning:
                page.warnings.append(warning)
        return analyse_page(page, base, profile)
    except Exception as exc:
        return Article(**base, title=page.title, status=RecordStatus.ERROR,
                       error=f"processing crashed: {exc!r}")


def text_page(title: str, text: str, byline: str = "") -> ExtractedPage:
    """A text that arrives already extracted (``newswire annotate``, evaluations)."""
    return ExtractedPage(title=title, body=text, lead="", published_at=None, canonical_url=None,
                         html_lang=None, byline=byline)


def analyse_page(page: ExtractedPage, base: dict[str, Any], profile: SourceProfile = DEFAULT_PROFILE) -> Article:
    """clean -> language -> attribution -> content hash over an extracted page."""
    warnings = list(page.warnings)
    title = normalize_text(page.title)
    if len(title) > MAX_TITLE_CHARS:
        title = title[:MAX_TITLE_CHARS]
        warnings.append("title_truncated")
    full_text = normalize_text(page.body)
    cleaned = cut_trailers(full_text)
    if len(cleaned.body) > MAX_BODY_CHARS:
        cleaned = replace(cleaned, body=cleaned.body[:MAX_BODY_CHARS])
        warnings.append("body_truncated")
    attribution = tag_attribution(full_text, title, byline=page.byline, metadata=page.authors,
                                  gazetteer=profile.gazetteer)
    language = detect_language(title, cleaned.body)
    warnings += [f"language:{flag}" for flag in language.flags]
    status = RecordStatus.FLAGGED if _FLAGGING_WARNINGS & set(warnings) else RecordStatus.OK
    if language.language != profile.language:
        status = RecordStatus.FLAGGED
        warnings.append(f"language {language.language} where the source publishes {profile.language}")
    elif language.flags:
        status = RecordStatus.FLAGGED
    lead = normalize_text(page.lead) if page.lead else cleaned.body.split("\n", 1)[0]
    return Article(
        **base,
        title=title,
        body=cleaned.body,
        lead=lead,
        published_at=page.published_at,
        language=language.language,
        language_confidence=round(language.confidence, 4),
        attribution=attribution.credited[0] if attribution.credited else None,
        credits=attribution.credited,
        cited_agencies=attribution.cited_agencies,
        removed_trailers=cleaned.removed,
        content_hash=content_hash(cleaned.body),
        warnings=warnings,
        status=status,
    )


def story_text(article: Article) -> str:
    """What story clustering compares: the title and the cleaned body."""
    return f"{article.title}\n{article.body}"
