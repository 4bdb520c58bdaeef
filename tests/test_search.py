"""Searching the seed article and the demo corpus on the real engine, as the CLI and Kibana do."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import arabic_reshaper
import pytest
import yaml
from bidi import get_display
from search_support import isolated_engine
from typer.testing import CliRunner

from newswire.cli import app
from newswire.cli.output import MARK_END, MARK_START, terminal_lines
from pipelines.evaluation.search import (
    DEMO_ARTICLES_DIR,
    SEED_ID,
    demo_article,
    demo_corpus,
    seed_article,
)
from pipelines.search import (
    article_filters,
    build_query,
    check_language,
    explain_no_hits,
    resolve_agency,
    search_articles,
)

pytestmark = pytest.mark.engine

PERSIAN_LETTERS_DOC = "2026/11/27/9100001"  # written with ی and ک, mentions کورونا once
REPO_ROOT = Path(__file__).resolve().parent.parent
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


# --- analyst syntax, filters by name, the reason for no hits -------------------------------


def test_or_finds_either_word_and_minus_excludes(corpus_engine):
    idlib, syria = set(hit_ids(corpus_engine, "إدلب")), set(hit_ids(corpus_engine, "سوريا"))
    assert idlib and syria - idlib  # some articles name Syria without Idlib
    assert set(hit_ids(corpus_engine, "إدلب OR سوريا")) == idlib | syria
    assert set(hit_ids(corpus_engine, "سوريا -إدلب")) == syria - idlib
    assert hit_ids(corpus_engine, "إدلب سوريا or") == []  # lower-case "or" is a word to find


def test_quoted_words_are_a_phrase(corpus_engine):
    assert SEED_ID in hit_ids(corpus_engine, '"الاتفاق النووي"')
    assert SEED_ID not in hit_ids(corpus_engine, '"النووي الاتفاق"')
    assert SEED_ID in hit_ids(corpus_engine, "النووي الاتفاق")  # unquoted: both words, any order


def test_agency_by_name_or_abbreviation_in_any_case():
    assert resolve_agency("SANA") == resolve_agency("سانا") == resolve_agency("Sana") == "sana"
    assert resolve_agency("وكالة الانباء السعودية") == resolve_agency("SPA") == "spa"
    with pytest.raises(ValueError, match="unknown agency 'nosuch'; known ids: spa, sana"):
        resolve_agency("nosuch")


def test_known_languages_cover_what_the_language_stage_writes():
    from pipelines.language import detect_language

    samples = {"ar": "قال الرئيس السوري في مؤتمر صحفي إن الحكومة ستواصل العمل من أجل إعادة الإعمار في المدن",
               "fa": "رئیس جمهور ایران گفت که دولت برای بهبود وضعیت اقتصادی کشور تلاش می‌کند و این کار ادامه دارد",
               "ckb": "سەرۆکی هەرێمی کوردستان ڕایگەیاند کە حکومەت بەردەوام دەبێت لە کارەکانی بۆ خزمەتی خەڵک",
               "en": "The president said the government would keep working on the reconstruction of the cities",
               "und": "12345 67890"}
    for expected, text in samples.items():
        assert detect_language("", text).language == expected
        assert check_language(expected.upper()) == expected
    with pytest.raises(ValueError, match="unknown language 'arabic'; known codes: ar fa ur ckb en fr "):
        check_language("arabic")


def test_no_hits_names_the_filter_that_removed_them(corpus_engine):
    explain = lambda query, **filters: explain_no_hits(corpus_engine, query, **filters)  # noqa: E731
    assert explain("البرازيل") == f"no article matches 'البرازيل' ({corpus_engine.count()} articles searched)"
    assert explain("إدلب", agency="spa") == "1 article matches 'إدلب', none of them with --agency spa"
    assert explain("إدلب", agency="spa", lang="fa") == (
        "1 article matches 'إدلب', none of them with --agency spa, none with --lang fa")
    assert explain("إدلب", agency="tasnim", since=date(2026, 1, 1)) == (
        "1 article matches 'إدلب', none of them with --since 2026-01-01")
    # SANA wrote about the president after 19 November, the others before: each filter alone leaves some
    sana, before = (len(hit_ids(corpus_engine, "الرئيس", agency="sana")),
                    len(hit_ids(corpus_engine, "الرئيس", until=date(2026, 11, 19))))
    assert sana and before
    assert explain("الرئيس", agency="sana", until=date(2026, 11, 19)).endswith(
        f"none with all the filters together (--agency sana alone leaves {sana}, --until 2026-11-19 alone leaves "
        f"{before})")


def newswire(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **env}
    return subprocess.run([sys.executable, "-m", "newswire.cli", *args], capture_output=True, text=True,
                          env=environment, timeout=120, check=False)


def test_search_redirected_to_a_file_leaves_the_hits_in_it(corpus_engine, tmp_path):
    hits_file = tmp_path / "hits.txt"
    with hits_file.open("w", encoding="utf-8") as out:
        done = subprocess.run([sys.executable, "-m", "newswire.cli", "search", "إدلب OR سوريا"], stdout=out,
                              stderr=subprocess.PIPE, text=True, timeout=120, check=False,
                              env={**os.environ, "PYTHONPATH": str(REPO_ROOT),
                                   "NEWSWIRE_INDEX_PREFIX": corpus_engine.settings.index_prefix})
    assert done.returncode == 0, done.stderr
    expected = search_articles(corpus_engine, "إدلب OR سوريا")
    text = hits_file.read_text(encoding="utf-8")
    assert text.startswith(f"1. tasnim  2020-02-29  {expected[0].url}\n   {expected[0].title}\n")
    assert [line.split("  ")[-1] for line in text.splitlines() if line[:1].isdigit()] == [h.url for h in expected]
    assert "<mark>" not in text and not re.search("[\ufe70-\ufeff]", text)  # stored letters, reading order
    assert done.stderr == f"{len(expected)} hit(s) for 'إدلب OR سوريا'\n"


def test_search_json_is_stable_and_says_why_nothing_was_found(corpus_engine):
    done = newswire("search", "إدلب", "--agency", "SANA", "--json",
                    NEWSWIRE_INDEX_PREFIX=corpus_engine.settings.index_prefix)
    assert done.returncode == 0
    assert json.loads(done.stdout) == {
        "query": "إدلب", "filters": {"since": None, "until": None, "agency": "sana", "lang": None}, "hits": [],
        "no_hits": "1 article matches 'إدلب', none of them with --agency sana"}
    assert done.stderr == "no hits: 1 article matches 'إدلب', none of them with --agency sana\n"


def test_search_on_a_terminal_is_shaped_and_reordered(corpus_engine):
    primary, secondary = pty.openpty()
    done = subprocess.run([sys.executable, "-m", "newswire.cli", "search", "إدلب", "--size", "1"], stdout=secondary,
                          stderr=subprocess.PIPE, timeout=120, check=False,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "COLUMNS": "200",
                               "NEWSWIRE_INDEX_PREFIX": corpus_engine.settings.index_prefix})
    os.close(secondary)
    screen = b""
    while chunk := _read(primary):
        screen += chunk
    os.close(primary)
    assert done.returncode == 0
    text = re.sub(r"\x1b\[[0-9;]*m", "", screen.decode("utf-8"))
    title = search_articles(corpus_engine, "إدلب", size=1)[0].title
    assert get_display(arabic_reshaper.reshape(title)) in text  # joined letter forms, display order
    assert title not in text


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # the other side is closed
        return b""


def test_terminal_lines_keep_the_marks_on_their_words():
    [line] = terminal_lines(f"قال {MARK_START}بوتين{MARK_END} في موسكو", 80)
    assert line == "ﻮﻜﺳﻮﻣ ﻲﻓ [bold yellow]ﻦﻴﺗﻮﺑ[/] ﻝﺎﻗ"


# --- place names and the stemmer -----------------------------------------------------------


def test_riyadh_is_not_mathematics(engine_settings):
    from kernel.records import Article

    def article(doc_id: str, body: str) -> Article:
        return Article(id=doc_id, url=f"demo://x/{doc_id}", canonical_url=f"demo://x/{doc_id}", source_id="spa",
                       title="خبر", lead=body, body=body, language="ar")

    with isolated_engine(engine_settings, "places") as engine:
        engine.ensure_ready()
        engine.bulk_upsert([article("math", "أعلنت الوزارة نتائج أولمبياد الرياضيات للطلاب هذا العام"),
                            article("sport", "فاز المنتخب في بطولة الرياضة المدرسية"),
                            article("riyadh", "وصل الوفد إلى الرياض صباح اليوم"),
                            article("in-riyadh", "عقد الاجتماع بالرياض وحضره الوزراء"),
                            article("cairo", "وصل الوزير القاهرة"), article("oppressor", "إن الله قاهر الظالمين")])
        engine.refresh()
        assert sorted(hit_ids(engine, "الرياض")) == ["in-riyadh", "riyadh"]
        # sport and mathematics keep sharing their stem; only the city is taken out of it
        assert sorted(hit_ids(engine, "الرياضيات")) == ["math", "sport"]
        assert sorted(hit_ids(engine, "للرياض")) == ["in-riyadh", "riyadh"]
        assert hit_ids(engine, "القاهرة") == ["cairo"]
        hit = search_articles(engine, "الرياض", size=5)
        assert all("الرياضيات" not in h.snippet for h in hit)


def test_every_written_form_of_a_place_is_indexed_as_the_place(corpus_engine):
    from kernel.agencies import load_agencies
    from pipelines.arabic import fold_letters
    from pipelines.index.documents import place_names

    names = place_names(load_agencies())
    assert {"الرياض", "القاهرة", "قنا", "بترا"} <= set(names)  # the list and the agency table's places
    index = corpus_engine.current_index()
    for name in names:
        forms = [name, "و" + name, ("لل" + name[2:]) if name.startswith("ال") else "ب" + name]
        answer = corpus_engine.request("POST", f"/{index}/_analyze", {"analyzer": "arabic_text", "text": " ".join(forms)})
        assert [token["token"] for token in answer["tokens"]] == [fold_letters(name)] * 3, name
