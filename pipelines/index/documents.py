"""What is indexed: the document of an article, and the index design it is indexed into.

The index design is the JSON in ``templates/``; the parts that follow from other tables are
filled in here: the agency synonyms and the place names kept from the stemmer from the agency
table (and ``templates/place_names.txt``), the letter-variant char filter from
:mod:`pipelines.arabic`, so no list is kept twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kernel.records import Article, RecordStatus, representative
from kernel.settings import Settings
from pipelines.arabic import analyzer_char_mappings, fold_letters

if TYPE_CHECKING:
    from kernel.agencies import Agency

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def credited_agencies(article: Article) -> list[str]:
    """Every agency the story is credited to, the primary credit first, without repeats."""
    ids = ([article.attribution.agency_id] if article.attribution else []) + [c.agency_id for c in article.credits]
    return list(dict.fromkeys(ids))


def article_document(article: Article) -> dict[str, Any]:
    """The indexed form of an article: attribution flattened into keyword fields for filters."""
    credit = article.attribution
    provenance = article.provenance
    return {
        "id": article.id,
        "url": article.url,
        "canonical_url": article.canonical_url,
        "source_id": article.source_id,
        "title": article.title,
        "lead": article.lead,
        "body": article.body,
        "published_at": _iso(article.published_at),
        "crawled_at": _iso(article.crawled_at),
        "language": article.language,
        "language_confidence": article.language_confidence,
        "agency": credit.agency_id if credit else None,
        "agency_name_ar": credit.name_ar if credit else None,
        "agency_name_en": credit.name_en if credit else None,
        "attribution_evidence": credit.evidence if credit else None,
        "attribution_rule": credit.rule if credit else None,
        "attribution_confidence": credit.confidence if credit else None,
        "credited_agencies": credited_agencies(article),
        "cited_agencies": article.cited_agencies,
        "removed_trailers": article.removed_trailers,
        "story_cluster": article.story_cluster,
        # The member a story is named after stands for it in Kibana's one-article-per-story view.
        "story_representative": representative(article.story_cluster, article.id),
        "content_hash": article.content_hash,
        "status": article.status.value,
        "warnings": article.warnings,
        "pipeline_version": article.pipeline_version,
        "crawl_run": provenance.crawl_run if provenance else None,
        "warc_file": provenance.warc_file if provenance else None,
        "warc_record_id": provenance.warc_record_id if provenance else None,
    }


def bulk_lines(articles: Iterable[Article], index: str) -> Iterator[str]:
    """NDJSON action + source per indexable article (by id); error records are skipped."""
    for article in articles:
        if article.status == RecordStatus.ERROR:
            continue
        action = json.dumps({"index": {"_index": index, "_id": article.id}})
        source = json.dumps(article_document(article), ensure_ascii=False)
        yield f"{action}\n{source}\n"


@cache
def _template_file(name: str) -> str:
    return (TEMPLATES_DIR / name).read_text(encoding="utf-8")


def load_template(name: str) -> dict[str, Any]:
    """A fresh copy of one JSON file of templates/ (callers may modify it)."""
    return json.loads(_template_file(name))


# A word takes a conjunction (و ف) and then a preposition (ب ك ل) written onto it; ل + ال is لل.
_CONJUNCTIONS = ("", "و", "ف")
_PREPOSITIONS = ("", "ب", "ك", "ل")


def place_names(agencies: tuple[Agency, ...]) -> list[str]:
    """The place names of ``templates/place_names.txt`` and of the agency table, without repeats."""
    listed = [line.strip() for line in _template_file("place_names.txt").splitlines()
              if line.strip() and not line.startswith("#")]
    return list(dict.fromkeys(listed + [place for agency in agencies for place in agency.places]))


def _written_forms(name: str) -> list[str]:
    forms = []
    for conjunction in _CONJUNCTIONS:
        for preposition in _PREPOSITIONS:
            if preposition == "ل" and name.startswith("ال"):
                forms.append(conjunction + "لل" + name[2:])
            else:
                forms.append(conjunction + preposition + name)
    return forms


def protected_place_rules(agencies: tuple[Agency, ...]) -> list[str]:
    """``stemmer_override`` rules: every written form of a place name -> the name, kept from the stemmer.

    Rules match tokens after ``arabic_normalization``, so they are written with its foldings.
    """
    rules, owner = [], {}
    for name in map(fold_letters, place_names(agencies)):
        forms = _written_forms(name)
        for form in forms:
            if owner.setdefault(form, name) != name:
                raise ValueError(f"place names {owner[form]!r} and {name!r} share the written form {form!r}")
        rules.append(f"{', '.join(forms)} => {name}")
    return rules


def articles_index_body(agencies_file: Path | None = None) -> dict[str, Any]:
    """Settings, analysis and mappings of an articles index, with the synonyms and place names of
    the agency table (``NEWSWIRE_AGENCIES_FILE``, else the bundled one)."""
    # imported here: the agency table (YAML, its models) is read only where an index is created,
    # which ``newswire search`` never does
    from kernel.agencies import BUNDLED_AGENCIES, load_agencies, synonym_groups

    body = load_template("articles.json")
    analysis = body["settings"]["analysis"]
    agencies = load_agencies(agencies_file or BUNDLED_AGENCIES)
    analysis["char_filter"]["arabic_letter_variants"]["mappings"] = analyzer_char_mappings()
    analysis["filter"]["agency_synonyms"]["synonyms"] = synonym_groups(agencies)
    analysis["filter"]["protected_places"]["rules"] = protected_place_rules(agencies)
    return body


def index_template_body(settings: Settings) -> dict[str, Any]:
    body = articles_index_body(settings.agencies_file)
    # Only what is configured replaces the template's own values (one shard, no replica).
    for name, value in (("number_of_shards", settings.index_shards), ("number_of_replicas", settings.index_replicas)):
        if value is not None:
            body["settings"][name] = value
    return {
        "index_patterns": [f"{settings.index_prefix}-articles-v*"],
        "priority": 200,
        "template": body,
        "_meta": {"managed_by": "newswire", "description": "Arabic news articles (see docs/search.md)"},
    }
