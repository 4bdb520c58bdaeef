"""The engine adapter: documents, template and analysis, versions and aliases, bulk upserts."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from search_support import isolated_engine
from typer.testing import CliRunner

from kernel.records import Article, Attribution, Provenance, RecordStatus
from newswire.cli import app
from pipelines.index import (
    ILM_NOT_AVAILABLE,
    ISM_NOT_AVAILABLE,
    SearchEngine,
    SearchEngineError,
    article_document,
    redact_url,
)
from pipelines.index.documents import bulk_lines

TASNIM = Attribution(agency_id="tasnim", name_ar="وكالة تسنيم للأنباء", name_en="Tasnim News Agency",
                     evidence="المصدر : وكالة تسنيم للأنباء", position=1520, rule="trailer", confidence=0.98)
SANA = Attribution(agency_id="sana", name_ar="الوكالة العربية السورية للأنباء", name_en="Syrian Arab News Agency",
                   evidence="(سانا)", position=12, rule="parenthetical", confidence=0.9)


def make_article(article_id: str = "a1", **fields) -> Article:
    defaults = dict(url=f"https://example.org/{article_id}", canonical_url=f"https://example.org/{article_id}",
                    source_id="tasnim", title="عنوان الخبر", body="نص الخبر", language="ar")
    return Article(id=article_id, **(defaults | fields))


# --- documents (no engine) ----------------------------------------------------------------


def test_article_document_flattens_attribution_and_provenance():
    article = make_article(
        attribution=TASNIM, credits=[TASNIM, SANA], cited_agencies=["iaea"],
        published_at=datetime(2020, 3, 7, 9, 30, tzinfo=UTC), story_cluster="c-17", content_hash="h1",
        provenance=Provenance(warc_file="tasnim/2026/11/29/x.warc.gz", warc_record_id="<urn:uuid:1>",
                              crawl_run="20261129T020000Z-a1b2c3"),
        warnings=["no_date"],
    )
    doc = article_document(article)
    assert doc["agency"] == "tasnim"
    assert doc["agency_name_ar"] == "وكالة تسنيم للأنباء"
    assert doc["agency_name_en"] == "Tasnim News Agency"
    assert doc["attribution_evidence"] == "المصدر : وكالة تسنيم للأنباء"
    assert doc["attribution_rule"] == "trailer"
    assert doc["credited_agencies"] == ["tasnim", "sana"]
    assert doc["cited_agencies"] == ["iaea"]
    assert doc["published_at"] == "2020-03-07T09:30:00+00:00"
    assert doc["crawl_run"] == "20261129T020000Z-a1b2c3"
    assert doc["warc_record_id"] == "<urn:uuid:1>"
    assert doc["status"] == "ok"
    assert doc["warnings"] == ["no_date"]


def test_article_without_attribution_has_empty_agency_fields():
    doc = article_document(make_article())
    assert (doc["agency"], doc["credited_agencies"], doc["crawl_run"]) == (None, [], None)


def test_bulk_lines_skip_error_records_and_use_the_article_id():
    ok = make_article("keep")
    broken = make_article("drop", status=RecordStatus.ERROR, error="empty_page")
    lines = list(bulk_lines([ok, broken], "idx"))
    assert len(lines) == 1
    action, source = lines[0].splitlines()
    assert action == '{"index": {"_index": "idx", "_id": "keep"}}'
    assert '"title": "عنوان الخبر"' in source


def test_redact_url_hides_credentials():
    assert redact_url("https://elastic:s3cret@es.example:9200/") == "https://***@es.example:9200/"
    assert redact_url("http://127.0.0.1:9250") == "http://127.0.0.1:9250"


# --- against the real engine ------------------------------------------------------------


@pytest.fixture()
def engine(engine_settings, request):
    with isolated_engine(engine_settings, f"ix{abs(hash(request.node.name)) % 10**6}") as engine:
        yield engine


@pytest.mark.engine
def test_connect_detects_the_flavour_and_never_shows_the_password(engine_settings, engine_flavour):
    settings = engine_settings.model_copy(update={"search_user": "analyst", "search_password": SecretStr("s3cret-pw")})
    engine = SearchEngine.connect(settings)
    assert engine.flavour == engine_flavour
    assert "s3cret-pw" not in repr(engine)
    with pytest.raises(SearchEngineError) as raised:
        engine.request("GET", "/no-such-index-here/_doc/1")
    assert raised.value.status == 404
    assert "s3cret-pw" not in str(raised.value)


@pytest.mark.engine
def test_ensure_ready_creates_v1_behind_both_aliases_and_is_idempotent(engine):
    settings = engine.settings
    assert engine.ensure_ready() == settings.index_name(1)
    assert engine.ensure_ready() == settings.index_name(1)
    aliases = engine.request("GET", f"/{settings.index_name(1)}/_alias")[settings.index_name(1)]["aliases"]
    assert aliases[settings.read_alias] == {}
    assert aliases[settings.write_alias] == {"is_write_index": True}
    mapping = engine.mapping()
    assert mapping["properties"]["body"]["analyzer"] == "arabic_text"
    assert mapping["properties"]["body"]["fields"]["exact"]["analyzer"] == "arabic_exact"
    assert mapping["properties"]["agency"]["type"] == "keyword"
    index_settings = engine.request("GET", f"/{settings.index_name(1)}/_settings")[settings.index_name(1)]
    assert index_settings["settings"]["index"]["query"]["default_field"] == [
        "title", "title.exact", "lead", "body", "body.exact"]


@pytest.mark.engine
def missing_lifecycle(flavour: str) -> str:
    """What `index init` reports on the local nodes: neither carries ILM (x-pack) nor ISM (a plugin)."""
    return ILM_NOT_AVAILABLE if flavour == "elasticsearch" else ISM_NOT_AVAILABLE


@pytest.mark.engine
def test_lifecycle_policy_reports_a_missing_lifecycle_api_without_failing(engine, engine_flavour):
    # Production Elasticsearch (ILM) or OpenSearch with its ISM plugin would get the policy installed.
    assert engine.install_lifecycle_policy() == missing_lifecycle(engine_flavour)


ANALYSIS_CASES = [
    # Persian keyboard letters (kaf, yeh), hamza forms, taa marbuta, tatweel, diacritics, the article.
    ("رئیس کورونا", ["رئيس", "كورونا"]),
    ("الإرهابيين", ["ارهاب"]),
    ("أستانا", ["استانا"]),
    ("إدلب", ["ادلب"]),
    ("الصحة", ["صح"]),
    ("الصحه", ["صح"]),
    ("مستشفى", ["مستشف"]),
    ("مستشفي", ["مستشف"]),
    ("الإرهـــاب", ["ارهاب"]),
    ("ٱلْإِرْهَابِ", ["ارهاب"]),
    ("في إدلب", ["ادلب"]),  # stop word dropped
]


@pytest.mark.engine
@pytest.mark.parametrize(("text", "tokens"), ANALYSIS_CASES)
def test_arabic_analyzer_normalises_variants_to_one_token(engine, text, tokens):
    index = engine.ensure_ready()
    answer = engine.request("POST", f"/{index}/_analyze", {"analyzer": "arabic_text", "text": text})
    assert [token["token"] for token in answer["tokens"]] == tokens


@pytest.mark.engine
def test_exact_subfield_keeps_the_word_unstemmed_but_normalised(engine):
    index = engine.ensure_ready()
    answer = engine.request("POST", f"/{index}/_analyze", {"analyzer": "arabic_exact", "text": "الإرهابيين في إدلب"})
    assert [token["token"] for token in answer["tokens"]] == ["الارهابيين", "في", "ادلب"]


@pytest.mark.engine
def test_agency_abbreviation_expands_to_the_full_name_at_search_time(engine):
    index = engine.ensure_ready()
    answer = engine.request("POST", f"/{index}/_analyze", {"analyzer": "arabic_exact_search", "text": "واس"})
    assert {token["token"] for token in answer["tokens"]} >= {"واس", "وكاله", "الانباء", "السعوديه"}


@pytest.mark.engine
def test_bulk_upsert_twice_leaves_one_document_and_skips_errors(engine):
    engine.ensure_ready()
    article = make_article("same-id", attribution=TASNIM)
    first = engine.bulk_upsert([article, make_article("bad", status=RecordStatus.ERROR)])
    second = engine.bulk_upsert([article])
    engine.refresh()
    assert (first.indexed, first.failed, second.indexed) == (1, 0, 1)
    assert engine.count() == 1
    stored = engine.request("GET", f"/{engine.settings.read_alias}/_doc/same-id")["_source"]
    assert stored["agency"] == "tasnim"


@pytest.mark.engine
def test_bulk_upsert_chunks_and_reports_rejected_documents(engine):
    engine.ensure_ready()
    engine.settings.bulk_chunk_size = 2
    # A keyword over Lucene's 32,766-byte term limit is refused by the engine itself.
    immense = make_article("immense", url="https://www.spa.gov.sa/" + "x" * 40_000)
    articles = [make_article(f"n{i}") for i in range(2)] + [immense] + [make_article(f"n{i}") for i in range(2, 4)]
    result = engine.bulk_upsert(articles)
    assert (result.indexed, result.failed) == (4, 1)
    assert len(result.errors) == 1 and result.errors[0].startswith("immense: ")
    engine.refresh()
    assert engine.count() == 4
    assert not engine.exists(f"/{engine.settings.read_alias}/_doc/immense")


@pytest.mark.engine
def test_new_version_and_atomic_alias_switch(engine):
    settings = engine.settings
    engine.ensure_ready()
    engine.bulk_upsert([make_article("old")])
    new_index = engine.create_next_version()
    assert new_index == settings.index_name(2)
    engine.bulk_upsert([make_article("new1"), make_article("new2")], index=new_index)
    engine.switch_aliases(new_index)
    engine.refresh(f"{settings.index_name(1)},{new_index}")
    assert engine.current_index() == new_index
    assert engine.count() == 2
    assert engine.count(settings.index_name(1)) == 1  # the old version stays until its retention ends
    assert list(engine.request("GET", f"/_alias/{settings.write_alias}")) == [new_index]
    assert engine.status()["versions"] == {settings.index_name(1): 1, settings.index_name(2): 2}
    with pytest.raises(SearchEngineError):
        engine.switch_aliases(settings.index_name(9))


@pytest.mark.engine
def test_copy_documents_into_the_next_version(engine):
    settings = engine.settings
    engine.ensure_ready()
    engine.bulk_upsert([make_article("c1", attribution=TASNIM), make_article("c2")])
    engine.refresh()
    new_index = engine.create_next_version()
    assert engine.copy_documents(settings.index_name(1), new_index) == 2
    assert engine.request("GET", f"/{new_index}/_doc/c1")["_source"]["agency"] == "tasnim"
    assert engine.copy_documents(settings.index_name(1), new_index) == 2  # again: overwrites, no duplicates
    engine.refresh(new_index)
    assert engine.count(new_index) == 2


@pytest.mark.engine
def test_index_commands(engine, monkeypatch):
    settings = engine.settings
    monkeypatch.setenv("NEWSWIRE_INDEX_PREFIX", settings.index_prefix)
    runner = CliRunner()

    def run(*args):
        result = runner.invoke(app, ["index", *args])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout) if "--json" in args else result.output

    assert run("init", "--json") == {"current_index": settings.index_name(1), "lifecycle": missing_lifecycle(settings.engine_flavour)}
    assert run("new-version", "--json") == {"index": settings.index_name(2)}
    assert run("switch", settings.index_name(2), "--json") == {"current_index": settings.index_name(2)}
    status = run("status", "--json")
    assert status["current_index"] == settings.index_name(2)
    assert status["versions"] == {settings.index_name(1): 0, settings.index_name(2): 0}
    refused = runner.invoke(app, ["index", "switch", settings.index_name(7)])
    assert refused.exit_code == 1
    assert f"no index {settings.index_name(7)}" in refused.output


def test_one_member_of_each_story_cluster_represents_it():
    members = [make_article("a1", story_cluster="a1"), make_article("b7", story_cluster="a1"),
               make_article("c3", story_cluster=None)]
    assert [article_document(a)["story_representative"] for a in members] == [True, False, True]
