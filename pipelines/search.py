"""Searching the articles: one query builder shared by the CLI, the API callers and the evaluation.

The query asks for every query word (after Arabic analysis) somewhere in title, lead or body,
weights the title over the body, and rewards documents where the words stand together as a
phrase in the unstemmed ``.exact`` subfields. No fuzziness: a word absent from every text finds
nothing, which analysts rely on to know that nothing was published.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pipelines.index import SearchEngine

HIGHLIGHT_PRE = "<mark>"
HIGHLIGHT_POST = "</mark>"

# Stemmed fields carry recall (plural/singular, with or without the article); the unstemmed
# .exact fields add weight to the surface form; title counts more than the lead, the lead more
# than the body.
MATCH_FIELDS = ["title^3", "title.exact^3", "lead^1.5", "body", "body.exact"]
PHRASE_FIELDS = ["title.exact^3", "body.exact"]
PHRASE_SLOP = 2
TIE_BREAKER = 0.3


@dataclass(frozen=True)
class SearchHit:
    id: str
    score: float
    title: str
    agency: str | None
    source_id: str | None
    language: str | None
    published_at: str | None
    url: str
    snippet: str
    """Highlighted fragments of the body (or the title), words wrapped in <mark>...</mark>."""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def article_filters(*, agency: str | None = None, lang: str | None = None,
                    since: date | None = None, until: date | None = None) -> list[dict]:
    """Filter clauses (no scoring): agency among the credits, language, publication day range (UTC)."""
    filters: list[dict] = []
    if agency:
        filters.append({"term": {"credited_agencies": agency}})
    if lang:
        filters.append({"term": {"language": lang}})
    if since or until:
        bounds: dict[str, str] = {}
        if since:
            bounds["gte"] = since.isoformat()
        if until:
            bounds["lt"] = (until + timedelta(days=1)).isoformat()  # the whole `until` day counts
        filters.append({"range": {"published_at": bounds}})
    return filters


def text_query(query: str) -> dict:
    """The scoring part: all words must match; phrase proximity adds to the score.

    A match in several fields (title, lead and body) counts more than one in the body alone
    (tie_breaker), so a story that leads with a word beats a short one that mentions it once.
    """
    scoring: dict = {"bool": {"must": [{"multi_match": {
        "query": query, "type": "cross_fields", "fields": MATCH_FIELDS, "operator": "and",
        "tie_breaker": TIE_BREAKER}}]}}
    if len(query.split()) > 1:  # for one word a "phrase" would only count the word a second time
        scoring["bool"]["should"] = [{"multi_match": {"query": query, "type": "phrase", "fields": PHRASE_FIELDS,
                                                      "slop": PHRASE_SLOP, "boost": 2}}]
    return scoring


def build_query(query: str, **filters: Any) -> dict:
    """The ``query`` part of the search request (also what the relevance evaluation measures).

    An empty query matches every article (browsing with filters only).
    """
    scoring = text_query(query) if query.strip() else {"bool": {"must": [{"match_all": {}}]}}
    scoring["bool"]["filter"] = article_filters(**filters)
    return scoring


def search_request(query: str, *, size: int = 10, **filters: Any) -> dict:
    request = {
        "query": build_query(query, **filters),
        "size": size,
        "_source": ["title", "agency", "source_id", "language", "published_at", "url"],
        "highlight": {
            "type": "unified",
            "pre_tags": [HIGHLIGHT_PRE],
            "post_tags": [HIGHLIGHT_POST],
            "require_field_match": False,
            # The unified highlighter finds no terms in a multi-word cross_fields query; a plain
            # match on the stemmed fields marks every query word wherever it occurs.
            "highlight_query": {"multi_match": {"query": query, "fields": ["title", "lead", "body"]}},
            "fields": {
                "body": {"fragment_size": 160, "number_of_fragments": 2, "no_match_size": 160},
                "title": {"number_of_fragments": 0},
            },
        },
    }
    if not query.strip():  # nothing to rank by: newest first
        request["sort"] = [{"published_at": {"order": "desc", "missing": "_last"}}]
        del request["highlight"]["highlight_query"]
    return request


def hit_from_response(hit: dict) -> SearchHit:
    source = hit.get("_source", {})
    highlight = hit.get("highlight", {})
    fragments = highlight.get("body") or highlight.get("title") or []
    return SearchHit(
        id=hit["_id"],
        score=hit.get("_score") or 0.0,
        title=source.get("title", ""),
        agency=source.get("agency"),
        source_id=source.get("source_id"),
        language=source.get("language"),
        published_at=source.get("published_at"),
        url=source.get("url", ""),
        snippet=" … ".join(fragment.replace("\n", " ") for fragment in fragments),
    )


def search_articles(engine: SearchEngine, query: str, *, agency: str | None = None, lang: str | None = None,
                    since: date | None = None, until: date | None = None, size: int = 10,
                    index: str | None = None) -> list[SearchHit]:
    """Ranked hits from the read alias (or ``index``), best first; newest first for an empty query."""
    body = search_request(query, size=size, agency=agency, lang=lang, since=since, until=until)
    answer = engine.request("POST", f"/{index or engine.settings.read_alias}/_search", body)
    return [hit_from_response(hit) for hit in answer["hits"]["hits"]]
