"""Processing of pages and archived crawls into records, dead letters and the real index."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from warc_builder import FakePage, write_warc

from kernel.records import RecordStatus, article_id
from kernel.settings import get_settings
from pipelines import batch, rebuild, stages

FIXTURES = Path(__file__).resolve().parent / "fixtures"

SEED_PAGE = (FIXTURES / "pages" / "tasnim_seed.html").read_bytes()
SEED_URL = "https://www.tasnimnews.com/ar/news/2020/02/29/2216410/?utm_source=telegram"
SEED_CANONICAL = "https://www.tasnimnews.com/ar/news/2020/02/29/2216410/"
# sha256 of the canonical URL: the same on every machine, so every re-run upserts the same document.
SEED_ID = "bfbe428819681f168618bec1c3aa0461"

ENGLISH_PAGE = b"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Oil prices rise as OPEC meets in Vienna</title>
<meta property="article:published_time" content="2026-11-27T08:00:00+00:00"></head>
<body><nav><a href="/">Home</a> <a href="/world">World</a></nav>
<article><h1>Oil prices rise as OPEC meets in Vienna</h1>
<p>Oil prices rose on Friday as ministers of the producer group gathered in Vienna to discuss output for
the first quarter of next year, traders said.</p>
<p>Brent crude futures gained 1.2 percent in early trading, while analysts expected the group to extend
its current production limits until the end of March.</p></article>
<footer>Copyright 2026</footer></body></html>"""


@pytest.fixture(scope="module")
def seed_record():
    return stages.process_page(SEED_PAGE, SEED_URL, source_id="tasnim",
                                profile=stages.SourceProfile(language="ar", timezone="Asia/Tehran"))


def test_seed_record_identity_and_dates(seed_record):
    assert seed_record.status == RecordStatus.OK
    assert seed_record.canonical_url == SEED_CANONICAL
    assert seed_record.id == SEED_ID == article_id(SEED_CANONICAL)
    assert seed_record.title == "في اتصاله هاتفيا بنظيره الروسي .. روحاني: التعاون لمحاربة الارهاب واجبنا جميعا"
    assert seed_record.published_at == datetime(2020, 2, 29, 14, 35, tzinfo=timezone(timedelta(hours=3, minutes=30)))


def test_seed_record_language_and_attribution(seed_record):
    assert seed_record.language == "ar"
    assert seed_record.language_confidence > 0.9
    assert seed_record.attribution.agency_id == "tasnim"
    assert seed_record.attribution.evidence == "المصدر : وكالة تسنيم للأنباء"
    assert seed_record.cited_agencies == ["tasnim"]


def test_seed_body_is_clean_and_trailers_are_recorded(seed_record):
    body = seed_record.body
    assert body.startswith("أكد الرئيس الايراني، يوم السبت")
    assert body.endswith("معربا عن امله بإزالة الخلافات الموجودة بسرعة من خلال المحادثات.")
    assert "انتهى" not in body and "المصدر" not in body
    assert seed_record.removed_trailers == ["/ انتهى/", "المصدر : وكالة تسنيم للأنباء ."]
    for boilerplate in ("أخبار ذات صلة", "جميع الحقوق محفوظة", "الأكثر مشاهدة", "تلغرام"):
        assert boilerplate not in body
    assert len(seed_record.content_hash) >= 16


@pytest.mark.parametrize(
    ("raw", "content_type", "reason"),
    [
        (b"", "text/html", "empty_page"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <</Type /Catalog>> endobj", "application/pdf", "not_html"),
    ],
)
def test_bad_pages_give_error_records(raw, content_type, reason):
    record = stages.process_page(raw, "https://www.spa.gov.sa/news/1", source_id="spa", content_type=content_type)
    assert record.status == RecordStatus.ERROR
    assert record.error == f"extraction failed: {reason}"
    assert record.id == article_id("https://www.spa.gov.sa/news/1")


def test_english_page_is_flagged_with_language_en():
    record = stages.process_page(ENGLISH_PAGE, "https://www.spa.gov.sa/en/news/77", source_id="spa")
    assert record.status == RecordStatus.FLAGGED
    assert record.language == "en"
    assert any("language en" in warning for warning in record.warnings)


def _archive_with_bad_input(archive: Path) -> Path:
    return write_warc(archive, "tasnim", date(2026, 11, 28), "20261128T020000Z-abc123", [
        FakePage(SEED_URL, SEED_PAGE),
        FakePage("https://www.tasnimnews.com/ar/news/2026/11/28/1/", b""),
        FakePage("https://www.tasnimnews.com/ar/news/2026/11/28/2/", ENGLISH_PAGE),
        FakePage("https://www.tasnimnews.com/ar/news/2026/11/28/3/", b"\x00\x01\x02binary", "application/octet-stream"),
    ], broken_tail=True)


def test_archive_batch_survives_bad_input_and_writes_dead_letters(data_settings):
    warc = _archive_with_bad_input(Path(data_settings.archive))
    summary = batch.process_archive(data_settings, index=False)
    assert summary["warc_files"] == 1
    assert summary["responses"] == 4
    assert (summary["ok"], summary["flagged"], summary["errors"]) == (1, 1, 2)
    assert summary["dead_letter"] == 3  # two pages that failed extraction and the torn tail
    assert summary["languages"] == {"ar": 1, "en": 1}
    assert summary["agencies"] == {"tasnim": 1}

    processed = Path(summary["outputs"][0])
    assert processed == Path(data_settings.processed) / "tasnim/2026/11/28/tasnim-20261128T020000Z-abc123.jsonl"
    records = [json.loads(line) for line in processed.read_text().splitlines()]
    assert [r["id"] for r in records] == [SEED_ID, article_id("https://www.tasnimnews.com/ar/news/2026/11/28/2/")]
    assert records[0]["provenance"]["warc_file"] == str(warc)
    assert records[0]["provenance"]["warc_record_id"].startswith("<urn:uuid:")

    dead_file = f"{data_settings.dead_letters}/tasnim/2026/11/28/tasnim-20261128T020000Z-abc123.jsonl"
    [(where, dead)] = batch.dead_letters(data_settings).items()
    assert where == dead_file
    assert [d["reason"] for d in dead[:2]] == ["extraction failed: empty_page", "extraction failed: not_html"]
    assert dead[2]["reason"].startswith("unreadable WARC data")
    assert all(d["warc_file"] == str(warc) for d in dead)

    # Nothing new the second time: the batch is remembered, the raw archive is untouched.
    again = batch.process_archive(data_settings, index=False)
    assert again["warc_files"] == 0
    assert warc.exists()

    # Processing it again replaces its dead letters instead of adding a second copy.
    batch.process_archive(data_settings, index=False, only_new=False)
    assert [d["reason"] for d in batch.dead_letters(data_settings)[dead_file]] == [d["reason"] for d in dead]


def test_dead_letters_under_their_own_root_are_written_listed_by_the_cli_and_removed_there(tmp_path):
    root = f"file://{tmp_path}/shared/dead-letter"  # an fsspec URL, away from the data dir
    env = {**os.environ, "PYTHONPATH": str(FIXTURES.parent.parent), "NEWSWIRE_DATA_DIR": str(tmp_path / "data"),
           "NEWSWIRE_DEAD_LETTER_ROOT": root, "COLUMNS": "250"}
    env.pop("NEWSWIRE_DEBUG", None)
    settings = get_settings(data_dir=tmp_path / "data", dead_letter_root=root)
    tasnim = _archive_with_bad_input(Path(settings.archive))
    spa_url = "https://www.spa.gov.sa/N2299900"
    spa = write_warc(Path(settings.archive), "spa", date(2026, 11, 29), "20261129T020000Z-def456", [
        FakePage(spa_url, b"", "text/html")])

    def newswire(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "newswire.cli", *args], capture_output=True, text=True,
                              env=env, timeout=120, check=False)

    processed = newswire("process", "--no-index", "--json")
    assert processed.returncode == 2  # 4 of 6 failed: above the allowed 20%
    assert f"see `newswire dead-letters` (files under {root})" in " ".join(processed.stderr.split())
    assert not (tmp_path / "data" / "dead-letter").exists()
    tasnim_file = f"{tmp_path}/shared/dead-letter/tasnim/2026/11/28/{tasnim.name.removesuffix('.warc.gz')}.jsonl"
    spa_file = f"{tmp_path}/shared/dead-letter/spa/2026/11/29/{spa.name.removesuffix('.warc.gz')}.jsonl"

    listed = newswire("dead-letters", "--json")
    assert listed.returncode == 0, listed.stderr
    by_file = json.loads(listed.stdout)
    assert list(by_file) == [tasnim_file, spa_file]  # oldest crawl day first
    assert [d["reason"] for d in by_file[tasnim_file]][:2] == [
        "extraction failed: empty_page", "extraction failed: not_html"]
    assert by_file[tasnim_file][2]["reason"].startswith("unreadable WARC data")
    assert [(d["reason"], d["url"], d["warc_file"]) for d in by_file[spa_file]] == [
        ("extraction failed: empty_page", spa_url, str(spa))]
    assert list(json.loads(newswire("dead-letters", "--json", "--source", "spa").stdout)) == [spa_file]
    assert list(json.loads(newswire("dead-letters", "--json", "--until", "2026-11-28").stdout)) == [tasnim_file]

    table = newswire("dead-letters", "--since", "2026-11-29")
    assert table.returncode == 0, table.stderr
    assert [line.split("│")[1:4] for line in table.stdout.splitlines() if spa_url in line] == [
        [f" {spa.name} ", " extraction failed: empty_page ", f" {spa_url} "]]
    assert table.stderr.strip() == f"1 dead letters in 1 files under {root}"

    # The page fixed (the WARC file stands in for a parser that now reads it): its dead letters go.
    spa.unlink()
    write_warc(Path(settings.archive), "spa", date(2026, 11, 29), "20261129T020000Z-def456", [
        FakePage(spa_url, SEED_PAGE)])
    assert batch.process_archive(settings, index=False, sources=["spa"], only_new=False)["dead_letter"] == 0
    assert list(batch.dead_letters(settings)) == [tasnim_file]
    assert json.loads(newswire("dead-letters", "--json", "--source", "spa").stdout) == {}


def test_failure_rate_threshold(data_settings):
    _archive_with_bad_input(Path(data_settings.archive))
    summary = batch.process_archive(data_settings, index=False)
    assert summary["failure_rate"] == pytest.approx(3 / 5)
    with pytest.raises(batch.FailureRateExceeded):
        batch.raise_if_failure_rate_exceeded(summary, data_settings)
    lenient = data_settings.model_copy(update={"max_failure_rate": 0.7})
    batch.raise_if_failure_rate_exceeded(summary, lenient)


@pytest.mark.engine
def test_indexing_the_same_crawl_twice_leaves_one_document(engine_settings, tmp_path):
    settings = engine_settings.model_copy(
        update={"data_dir": tmp_path, "index_prefix": f"{engine_settings.index_prefix}-twice"})
    _archive_with_bad_input(Path(settings.archive))
    first = batch.process_archive(settings)
    second = batch.process_archive(settings, only_new=False)
    assert first["indexed"] == second["indexed"] == 2

    from pipelines.index import SearchEngine
    from pipelines.search import search_articles

    engine = SearchEngine.connect(settings)
    assert engine.count() == 2
    hits = search_articles(engine, "إدلب")
    assert [hit.id for hit in hits] == [SEED_ID]


@pytest.mark.engine
def test_failed_rebuild_leaves_the_old_index_serving(engine_settings, tmp_path, monkeypatch):
    settings = engine_settings.model_copy(
        update={"data_dir": tmp_path, "index_prefix": f"{engine_settings.index_prefix}-rollback"})
    _archive_with_bad_input(Path(settings.archive))
    batch.process_archive(settings)

    from pipelines.index import SearchEngine
    from pipelines.search import search_articles

    engine = SearchEngine.connect(settings)
    serving = engine.current_index()

    def crash(*args, **kwargs):  # a parser bug halfway through the rebuild
        raise RuntimeError("parser crashed halfway")

    monkeypatch.setattr(rebuild, "process_archive", crash)
    with pytest.raises(RuntimeError, match="parser crashed halfway"):
        rebuild.reprocess(settings, since=None, until=None, sources=None, mode="rebuild")

    assert engine.current_index() == serving == settings.index_name(1)
    assert not engine.exists(f"/{settings.index_name(2)}")  # the half-built version is gone
    assert [hit.id for hit in search_articles(engine, "إدلب")] == [SEED_ID]

    monkeypatch.undo()
    summary = rebuild.reprocess(settings, since=None, until=None, sources=None, mode="rebuild")
    assert (summary["previous_index"], summary["index"]) == (settings.index_name(1), settings.index_name(2))
    assert engine.current_index() == settings.index_name(2)
    assert engine.count() == 2


@pytest.mark.engine
def test_extract_command_prints_the_record_and_indexes_it(engine_settings, tmp_path):
    env = dict(os.environ, NEWSWIRE_INDEX_PREFIX=f"{engine_settings.index_prefix}-extract")
    page = tmp_path / "seed.html"
    page.write_bytes(SEED_PAGE)
    run = subprocess.run([sys.executable, "-m", "newswire.cli", "extract", str(page), "--url", SEED_URL,
                          "--source", "tasnim", "--index"], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    record = json.loads(run.stdout)
    assert (record["id"], record["source_id"], record["language"]) == (SEED_ID, "tasnim", "ar")
    assert record["attribution"]["evidence"] == "المصدر : وكالة تسنيم للأنباء"
    assert f"indexed 1 document as {SEED_ID}" in run.stderr

    found = subprocess.run([sys.executable, "-m", "newswire.cli", "search", "أستانا", "--agency", "tasnim", "--json"],
                           env=env, capture_output=True, text=True, timeout=120, check=True)
    assert [hit["id"] for hit in json.loads(found.stdout)["hits"]] == [SEED_ID]


@pytest.mark.engine
def test_nightly_processing_during_a_rebuild_reaches_the_new_version_too(engine_settings, tmp_path):
    settings = engine_settings.model_copy(
        update={"data_dir": tmp_path, "index_prefix": f"{engine_settings.index_prefix}-overlap"})
    from pipelines.index import SearchEngine

    engine = SearchEngine.connect(settings)
    engine.ensure_ready()
    building = engine.create_next_version()  # a rebuild has copied the serving index and is still running

    _archive_with_bad_input(Path(settings.archive))  # tonight's crawl arrives meanwhile
    summary = batch.process_archive(settings)
    assert (summary["index"], summary["also_indexed_into"]) == (settings.index_name(1), building)
    assert engine.count(settings.index_name(1)) == engine.count(building) == 2

    engine.switch_aliases(building)  # the rebuild completes: tonight's articles are still found
    from pipelines.search import search_articles

    assert [hit.id for hit in search_articles(engine, "إدلب")] == [SEED_ID]
    assert engine.version_being_built() is None


@pytest.mark.parametrize("name", ["0f" * 16, 'a "quoted"\\ name\n\u200c\x01 خبر'])
def test_setting_a_story_cluster_on_a_json_line_gives_the_bytes_model_dump_json_gives(name):
    from kernel.records import Article, Attribution

    article = Article(id="1" * 32, url="https://example.com/a", canonical_url="https://example.com/a",
                      title='"story_cluster":null, in a title', body='{"story_cluster":"x",} \\" \u2028 وكالة',
                      attribution=Attribution(agency_id="spa", name_ar="واس", name_en="SPA", evidence="(واس)",
                                              position=0, rule="trailer", confidence=0.9),
                      story_cluster="2" * 32 if name.isalnum() else None)
    line = article.model_dump_json() + "\n"
    expected = article.model_copy(update={"story_cluster": name}).model_dump_json() + "\n"
    assert batch._with_story_cluster(line, name) == expected
