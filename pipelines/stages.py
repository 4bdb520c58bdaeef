"""The stage sequence: one page (or one text) -> one record.

extract -> clean -> language -> attribution -> content hash, as pure functions over typed
records. Every caller runs exactly this code: nightly processing and reprocessing
(:mod:`pipelines.batch`), ``newswire extract`` and ``newswire annotate``, the evaluations and
the benchmarks. Story clustering needs the whole batch, so it is the batch's step, but what it
compares is defined here (:func:`story_text`) so every caller clusters the same input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kernel.records import Article, Provenance, RecordStatus, article_id
from kernel.registry import Source
from kernel.urls import canonicalize_url
from pipelines.attribution import Gazetteer, tag_attribution
from pipelines.clean import clean_body, normalize_text
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

    @classmethod
    def of(cls, source: Source, gazetteer: Gazetteer | None = None) -> SourceProfile:
        return cls(language=source.language, timezone=source.timezone, hints=dict(source.hints),
                   gazetteer=gazetteer)


DEFAULT_PROFILE = SourceProfile()


def process_page(
    raw: bytes | str,
    url: str,
    *,
    source_id: str | None = None,
    content_type: str | None = None,
    crawled_at: datetime | None = None,
    provenance: Provenance | None = None,
    profile: SourceProfile = DEFAULT_PROFILE,
) -> Article:
    """One article page to one record. Never raises: bad input gives an error or flagged record."""
    canonical = canonicalize_url(url)
    base = dict(url=url, canonical_url=canonical, id=article_id(canonical), source_id=source_id,
                crawled_at=crawled_at, provenance=provenance)
    try:
        page = extract_page(raw, url, content_type=content_type, timezone=profile.timezone,
                            hints=profile.hints)
    except ExtractionError as exc:
        return Article(**base, status=RecordStatus.ERROR, error=f"extraction failed: {exc.reason}")
    except Exception as exc:  # a parser bug must flag one record, not stop the night's batch
        return Article(**base, status=RecordStatus.ERROR, error=f"extraction crashed: {exc!r}")

    if page.canonical_url:
        canonical = canonicalize_url(page.canonical_url)
        base.update(canonical_url=canonical, id=article_id(canonical))
    try:
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
    title = normalize_text(page.title)
    full_text = normalize_text(page.body)
    cleaned = clean_body(page.body)
    attribution = tag_attribution(full_text, title, byline=page.byline, metadata=page.authors,
                                  gazetteer=profile.gazetteer)
    language = detect_language(title, cleaned.body)
    warnings = list(page.warnings) + [f"language:{flag}" for flag in language.flags]
    status = RecordStatus.OK
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
