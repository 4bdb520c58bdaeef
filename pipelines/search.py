"""Searching the articles: one query builder shared by the CLI, the API callers and the evaluation.

The query asks for every query word (after Arabic analysis) somewhere in title, lead or body,
weights the title over the body, and rewards documents where the words stand together as a
phrase in the unstemmed ``.exact`` subfields. Analysts may write ``OR`` between words, ``-word``
to exclude one and ``"a phrase"`` for words in that order (``simple_query_string``). No fuzziness:
a word absent from every text finds nothing, which analysts rely on to know that nothing was
published; when filters are what removed every match, :func:`explain_no_hits` says which.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any

from kernel.dates import check_window
from pipelines.index import SearchEngine

HIGHLIGHT_PRE = "<mark>"
HIGHLIGHT_POST = "</mark>"

# Stemmed fields carry recall (plural/singular, with or without the article); the unstemmed
# .exact fields add weight to the surface form; title counts more than the lead, the lead more
# than the body.
MATCH_FIELDS = ["title^3", "title.exact^3", "lead^1.5", "body", "body.exact"]
PHRASE_FIELDS = ["title.exact^3", "body.exact"]
PHRASE_SLOP = 2
# Quoted words are matched in the unstemmed subfields (a phrase means these very words); fields
# without one (lead) keep their own.
QUOTED_SUFFIX = ".exact"
# The syntax an analyst types, without fuzzy matching (``~`` after a word), which would find
# words that were never published.
QUERY_FLAGS = "OR|AND|NOT|PHRASE|PRECEDENCE|PREFIX|WHITESPACE|ESCAPE|SLOP"
_QUOTED = re.compile(r'("[^"]*"?)')
_WORD_OPERATORS = [(re.compile(r"(?<!\S)OR(?!\S)"), "|"), (re.compile(r"(?<!\S)AND(?!\S)"), "+"),
                   (re.compile(r"(?<!\S)NOT\s+"), "-")]
_SYNTAX = re.compile(r'["|()~*]|(?<!\S)[-+]|(?<!\S)(?:OR|AND|NOT)(?!\S)')

SEARCH_TIMEOUT = "10s"
"""Engine-side bound of the query phase; a search that runs out returns the hits found so far."""
HIGHLIGHT_MAX_CHARS = 100_000
"""Characters of a field the highlighter reads: a long article still matches whole, only its
snippet comes from its first part. Without the bound one 4 MB article kept a search thread busy
for minutes, long after the client had given up."""
# The same bound is spelled differently by the two engines.
_MAX_OFFSET_KEY = {"elasticsearch": "max_analyzed_offset", "opensearch": "max_analyzer_offset"}


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


# --- filter values --------------------------------------------------------------------------


def resolve_agency(value: str) -> str:
    """The agency id for an id, a name or an abbreviation, in any case or alef spelling
    (``SANA``, ``سانا``, ``وكالة الأنباء السورية`` -> ``sana``); ValueError listing the ids."""
    # imported here: only a search filtered by agency reads the table
    from kernel.agencies import load_agencies

    ids = [agency.id for agency in load_agencies()]
    if value.strip().lower() in ids:
        return value.strip().lower()
    # imported here: the gazetteer brings the text stack, which only a name to look up needs
    from pipelines.attribution import load_gazetteer

    found = load_gazetteer().lookup(value)
    if found is None:
        raise ValueError(f"unknown agency {value!r}; known ids: {', '.join(ids)} "
                         "(their names and abbreviations work too, e.g. SANA or سانا)")
    return found


@cache
def known_languages() -> tuple[str, ...]:
    """Every code the language stage can write: langdetect's profiles (the ones it loads),
    Sorani (``ckb``, told apart by its letters: langdetect has no profile) and ``und``."""
    from langdetect.detector_factory import PROFILES_DIRECTORY
    return ("ar", "fa", "ur", "ckb", "en", "fr",
            *sorted(set(os.listdir(PROFILES_DIRECTORY)) - {"ar", "fa", "ur", "en", "fr"}), "und")


def check_language(value: str) -> str:
    code = value.strip().lower()
    if code not in known_languages():
        raise ValueError(f"unknown language {value!r}; known codes: {' '.join(known_languages())}")
    return code


def article_filters(*, agency: str | None = None, lang: str | None = None,
                    since: date | None = None, until: date | None = None) -> list[dict]:
    """Filter clauses (no scoring): agency among the credits, language, publication day range (UTC)."""
    check_window(since, until)
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


# --- the query ------------------------------------------------------------------------------


def query_syntax(query: str) -> str:
    """The analyst's query in ``simple_query_string`` syntax: ``OR``/``AND``/``NOT`` between
    words become ``|``/``+``/``-`` (outside quotes; lower-case "or" stays a word)."""
    parts = _QUOTED.split(query)
    for position in range(0, len(parts), 2):  # the even parts are outside quotes
        for pattern, operator in _WORD_OPERATORS:
            parts[position] = pattern.sub(operator, parts[position])
    return "".join(parts)


def _text_clause(query: str, fields: list[str], **options: Any) -> dict:
    return {"simple_query_string": {"query": query_syntax(query), "fields": fields, "flags": QUERY_FLAGS,
                                    **options}}


def text_query(query: str) -> dict:
    """The scoring part: all words must match (each in any field); phrase proximity adds to the score.

    The proximity bonus is for plain words only: with operators there is no one phrase to look for.
    """
    scoring: dict = {"bool": {"must": [_text_clause(query, MATCH_FIELDS, default_operator="and",
                                                    quote_field_suffix=QUOTED_SUFFIX)]}}
    # for one word a "phrase" would only count the word a second time
    if len(query.split()) > 1 and not _SYNTAX.search(query):
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


def search_request(query: str, *, size: int = 10, flavour: str = "opensearch", **filters: Any) -> dict:
    request = {
        "query": build_query(query, **filters),
        "size": size,
        "timeout": SEARCH_TIMEOUT,
        "_source": ["title", "agency", "source_id", "language", "published_at", "url"],
        "highlight": {
            # The plain highlighter reads the text itself and so stops at the bound below; the
            # unified one follows the indexed offsets through the whole field and, on a long
            # text with few sentence ends, looks for sentence breaks around every match.
            "type": "plain",
            _MAX_OFFSET_KEY[flavour]: HIGHLIGHT_MAX_CHARS,
            "pre_tags": [HIGHLIGHT_PRE],
            "post_tags": [HIGHLIGHT_POST],
            "require_field_match": False,
            # Every positive query word, marked wherever it occurs in the stemmed fields.
            "highlight_query": _text_clause(query, ["title", "lead", "body"]),
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
    body = search_request(query, size=size, flavour=engine.flavour, agency=agency, lang=lang, since=since,
                          until=until)
    answer = engine.request("POST", f"/{index or engine.settings.read_alias}/_search", body)
    return [hit_from_response(hit) for hit in answer["hits"]["hits"]]


# --- when nothing is found ------------------------------------------------------------------


def count_matches(engine: SearchEngine, query: str, index: str | None = None, **filters: Any) -> int:
    body = {"query": build_query(query, **filters)}
    return engine.request("POST", f"/{index or engine.settings.read_alias}/_count", body)["count"]


def _matching(count: int) -> str:
    return "1 article matches" if count == 1 else f"{count} articles match"


def explain_no_hits(engine: SearchEngine, query: str, index: str | None = None, **filters: Any) -> str:
    """Why a search found nothing, in one sentence: the words match no article at all, or they
    do and these filters are what removed every match (each filter counted alone, then together)."""
    given = {name: value for name, value in filters.items() if value is not None}
    unfiltered = count_matches(engine, query, index)
    if unfiltered == 0:
        return f"no article matches {query!r} ({count_matches(engine, '', index)} articles searched)"
    alone = {name: count_matches(engine, query, index, **{name: value}) for name, value in given.items()}
    culprits = [f"--{name} {given[name]}" for name, count in alone.items() if count == 0]
    if culprits:
        return f"{_matching(unfiltered)} {query!r}, none of them with " + ", none with ".join(culprits)
    each = ", ".join(f"--{name} {given[name]} alone leaves {count}" for name, count in alone.items())
    return f"{_matching(unfiltered)} {query!r}, none with all the filters together ({each})"
