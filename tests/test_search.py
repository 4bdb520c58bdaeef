"""Searching the seed article and the demo corpus on the real engine, as the CLI and Kibana do."""

from __future__ import annotations

import json
from datetime import date

import pytest
import yaml
from search_support import isolated_engine
from typer.testing import CliRunner

from newswire.cli import app
from pipelines.evaluation.search import (
    DEMO_ARTICLES_DIR,
    SEED_ID,
    demo_article,
    demo_corpus,
    seed_article,
)
from pipelines.search import article_filters, build_query, search_articles

pytestmark = pytest.mark.engine

PERSIAN_LETTERS_DOC = "2026/11/27/9100001"  # written with ی and ک, mentions کورونا once
EVAL_IDS = {entry["slug"] for entry in yaml.safe_load((DEMO_ARTICLES_DIR / "search_eval.yaml").read_text("utf-8"))}


@pytest.fixture(scope="module")
def corpus_engine(engine_settings):
    """The seed together with every demo-mirror article, indexed twice (it must not duplicate)."""
    with isolated_engine(engine_settings, "search") as engine:
        engine.ensure_ready()
        corpus = demo_corpus()
        engine.bulk_upsert(corpus)
        result = engine.bulk_upsert(corpus)
        assert result.failed == 0, result.errors
        engine.refresh()
        yield engine


def hit_ids(engine, query, **filters):
    return [hit.id for hit in search_articles(engine, query, size=20, **filters)]


def test_indexing_the_corpus_twice_leaves_one_document_each(corpus_engine):
    assert corpus_engine.count() == len(demo_corpus())
    assert hit_ids(corpus_engine, "بوتين").count(SEED_ID) == 1


def test_seed_record_as_indexed(seed_text):
    seed = seed_article(seed_text)
    assert seed.title == "في اتصاله هاتفيا بنظيره الروسي .. روحاني: التعاون لمحاربة الارهاب واجبنا جميعا"
    assert not seed.body.endswith("المصدر : وكالة تسنيم للأنباء .")
    assert seed.body.endswith("بإزالة الخلافات الموجودة بسرعة من خلال المحادثات.")
    assert seed.attribution.agency_id == "tasnim"


SEED_QUERIES = ["ارهاب", "الإرهابيين", "ادلب", "إدلب", "روسيا", "بوتين", "كورونا", "الاتفاق النووي", "استانا",
                "أستانا"]


@pytest.mark.parametrize("query", SEED_QUERIES)
def test_seed_is_among_the_hits(corpus_engine, query):
    ids = hit_ids(corpus_engine, query)
    assert SEED_ID in ids[:10], f"{query!r}: seed not in top 10 of {ids}"
    print(f"{query!r}: seed at rank {ids.index(SEED_ID) + 1} of {len(ids)}")


@pytest.mark.parametrize("query", ["ادلب", "إدلب", "أستانا", "الاتفاق النووي", "بوتين"])
def test_seed_is_first_where_the_eval_articles_have_no_better_match(corpus_engine, query):
    # The evaluation articles avoid these subjects on purpose; other demo articles may not.
    ids = hit_ids(corpus_engine, query)
    eval_articles_above_seed = [doc for doc in ids[: ids.index(SEED_ID)] if doc in EVAL_IDS]
    assert eval_articles_above_seed == []


def test_corona_finds_the_seed_and_the_persian_letters_article(corpus_engine):
    # The Persian-letters article mentions the epidemic once in passing; the seed leads with it.
    ids = hit_ids(corpus_engine, "كورونا")
    assert ids[0] == SEED_ID
    assert PERSIAN_LETTERS_DOC in ids


def test_phrase_like_query_ranks_the_seed_first(corpus_engine):
    assert hit_ids(corpus_engine, "الإرهاب في إدلب")[0] == SEED_ID


def test_absent_word_finds_nothing(corpus_engine):
    assert hit_ids(corpus_engine, "البرازيل") == []


@pytest.mark.parametrize("query", ["رئيس منظمة الصحة", "كورونا", "التطعيم"])
def test_persian_letters_document_found_by_arabic_spelling(corpus_engine, query):
    assert PERSIAN_LETTERS_DOC in hit_ids(corpus_engine, query)


@pytest.mark.parametrize("query", ["کورونا", "الرئیس الروسی"])
def test_arabic_spelling_document_found_by_persian_letters(corpus_engine, query):
    # The seed writes كورونا and الرئيس الروسي with Arabic kaf and yeh.
    assert SEED_ID in hit_ids(corpus_engine, query)


def test_agency_abbreviation_finds_the_full_agency_name(corpus_engine):
    assert "2026/11/14/9200007" in hit_ids(corpus_engine, "واس")


def test_filters_by_agency_language_and_day(corpus_engine):
    assert SEED_ID in hit_ids(corpus_engine, "بوتين", agency="tasnim", lang="ar")
    assert hit_ids(corpus_engine, "بوتين", agency="spa") == []
    assert hit_ids(corpus_engine, "بوتين", lang="fa") == []
    assert hit_ids(corpus_engine, "بوتين", since=date(2020, 2, 29), until=date(2020, 2, 29)) == [SEED_ID]
    assert hit_ids(corpus_engine, "بوتين", since=date(2020, 3, 8)) == []
    princes = set(hit_ids(corpus_engine, "الأمير", until=date(2026, 11, 24))) & EVAL_IDS
    assert princes == {"2026/11/24/9200002", "2026/11/17/9200005"}  # not 9200001 of 25 November


def test_hits_carry_title_agency_date_and_highlighted_snippet(corpus_engine):
    hit = search_articles(corpus_engine, "إدلب", size=1)[0]
    assert hit.id == SEED_ID
    assert hit.agency == "tasnim"
    assert hit.published_at.startswith("2020-02-29")
    assert "<mark>إدلب</mark>" in hit.snippet


def test_every_word_of_a_multi_word_query_is_highlighted(corpus_engine):
    snippet = search_articles(corpus_engine, "روسيا بوتين", size=1)[0].snippet
    assert "<mark>بوتين</mark>" in snippet or "<mark>روسيا</mark>" in snippet
    title_hit = search_articles(corpus_engine, "الإرهاب في إدلب", size=1)[0]
    assert "<mark>الارهاب</mark>" in title_hit.snippet or "<mark>إدلب</mark>" in title_hit.snippet


def test_empty_query_lists_the_newest_articles_with_filters(corpus_engine):
    hits = search_articles(corpus_engine, "", size=100, agency="tasnim")
    assert hits[-1].id == SEED_ID  # published 2020, the oldest
    assert {hit.agency for hit in hits} == {"tasnim"}
    days = [hit.published_at[:10] for hit in hits]
    assert days == sorted(days, reverse=True)
    assert len(search_articles(corpus_engine, "  ", size=100)) == corpus_engine.count()


def test_build_query_filters_are_exact():
    assert article_filters(agency="spa", lang="ar", since=date(2026, 11, 1), until=date(2026, 11, 29)) == [
        {"term": {"credited_agencies": "spa"}},
        {"term": {"language": "ar"}},
        {"range": {"published_at": {"gte": "2026-11-01", "lt": "2026-11-30"}}},
    ]
    query = build_query("إدلب")
    assert query["bool"]["must"][0]["simple_query_string"]["default_operator"] == "and"
    assert query["bool"]["filter"] == []
    with pytest.raises(ValueError, match=r"since \(2026-12-01\) is after until \(2026-11-01\)"):
        article_filters(since=date(2026, 12, 1), until=date(2026, 11, 1))


# --- what Kibana sends -------------------------------------------------------------------


def kibana_free_text(clause: dict) -> dict:
    """The request Discover sends for a free-text search over the last years (bool filter + time range)."""
    return {
        "size": 50,
        "query": {"bool": {"must": [], "filter": [
            clause,
            {"range": {"published_at": {"format": "strict_date_optional_time",
                                        "gte": "2015-01-01T00:00:00.000Z", "lte": "2027-01-01T00:00:00.000Z"}}},
        ], "should": [], "must_not": []}},
    }


@pytest.mark.parametrize("query", ["الارهاب", "بوتين", "إدلب"])
def test_kibana_kql_free_text_finds_the_seed(corpus_engine, query):
    # KQL turns free text into a multi_match without fields: the index's default fields are searched.
    body = kibana_free_text({"multi_match": {"type": "best_fields", "query": query, "lenient": True}})
    answer = corpus_engine.request("POST", f"/{corpus_engine.settings.read_alias}/_search", body)
    assert SEED_ID in [hit["_id"] for hit in answer["hits"]["hits"]]


@pytest.mark.parametrize("query", ["الارهاب", "بوتين", "إدلب"])
def test_kibana_lucene_free_text_finds_the_seed(corpus_engine, query):
    body = kibana_free_text({"query_string": {"query": query, "analyze_wildcard": True, "lenient": True}})
    answer = corpus_engine.request("POST", f"/{corpus_engine.settings.read_alias}/_search", body)
    assert SEED_ID in [hit["_id"] for hit in answer["hits"]["hits"]]


# --- the command ---------------------------------------------------------------------------


def test_search_command_json(corpus_engine, monkeypatch):
    monkeypatch.setenv("NEWSWIRE_INDEX_PREFIX", corpus_engine.settings.index_prefix)
    result = CliRunner().invoke(app, ["search", "إدلب", "--agency", "tasnim", "--size", "3", "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["hits"][0]["id"] == SEED_ID
    assert answer["hits"][0]["agency"] == "tasnim"


def test_search_command_rejects_a_bad_date(corpus_engine, monkeypatch):
    monkeypatch.setenv("NEWSWIRE_INDEX_PREFIX", corpus_engine.settings.index_prefix)
    result = CliRunner().invoke(app, ["search", "إدلب", "--since", "29/11/2026"])
    assert result.exit_code == 2
    assert "29/11/2026" in result.output


def test_demo_article_from_yaml_entry():
    article = demo_article({"source": "spa", "slug": "2026/11/25/1", "published": "2026-11-25T11:00:00+03:00",
                            "title": "عنوان", "paragraphs": ["الفقرة الأولى", "الفقرة الثانية"],
                            "trailer": ["/ انتهى/"]})
    assert (article.id, article.lead, article.body) == ("2026/11/25/1", "الفقرة الأولى",
                                                        "الفقرة الأولى\nالفقرة الثانية")
    assert article.attribution.agency_id == "spa"
    assert article.removed_trailers == ["/ انتهى/"]
