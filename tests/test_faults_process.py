"""Fault injection for processing and indexing (issue 10, cases 1, 2, 4-8, 10, 13).

Each test reproduces one way a bad page or a bad night lost or blocked articles, against real
WARC files and, where the index is involved, a private OpenSearch node on its own port (its
writes are blocked and processes are killed here, so the shared node on 9250 is never touched).
Every test asserts which documents end up where: counts and ids.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from warc_builder import FakePage, write_warc

from kernel.archive import parse_warc_path
from kernel.records import RecordStatus, article_id
from kernel.settings import Settings, get_settings
from pipelines import batch, local_engine, rebuild, stages
from pipelines.index import SearchEngine, SearchEngineError

FAULTS_PORT = int(os.environ.get("NEWSWIRE_FAULTS_ENGINE_PORT", "9431"))
SPA = "https://www.spa.gov.sa"


ARABIC = stages.SourceProfile(language="ar", timezone="Asia/Riyadh")


_SENTENCES = [
    "أعلنت وزارة الصحة اليوم افتتاح مستشفى جديد في مدينة الرياض بطاقة استيعابية كبيرة",
    "وقال المتحدث الرسمي إن المشروع يخدم سكان المنطقة ويقلل فترات الانتظار في المستشفيات",
    "وأضاف أن العمل جار على تجهيز الأقسام الطبية بأحدث المعدات خلال الأسابيع المقبلة",
    "وأشار إلى أن الوزارة تعتزم إطلاق برامج تدريبية للكوادر الوطنية العاملة في القطاع",
]


def spa_url(number: int) -> str:
    return f"{SPA}/ar/N{number}"


def article_html(number: int, *, title: str | None = None, canonical: str | None = None,
                 head: str = "", body_extra: str = "", published: str = "2026-11-27T08:00:00+03:00") -> bytes:
    """An Arabic article page, its text distinct per number."""
    title = title or f"خبر رقم {number}: افتتاح مستشفى جديد في الرياض"
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    paragraphs = "".join(f"<p>{_SENTENCES[(number + i) % 4]} وفق البيان رقم {number * 7 + i}.</p>"
                         for i in range(4))
    return (f'<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="utf-8"><title>{title}</title>{link}'
            f'<meta property="article:published_time" content="{published}">{head}</head>'
            f"<body><article><h1>{title}</h1>{paragraphs}{body_extra}</article></body></html>").encode()


def spa_pages(numbers) -> list[FakePage]:
    return [FakePage(spa_url(n), article_html(n)) for n in numbers]


def night(settings: Settings, day: int, pages: list[FakePage], run: str = "a") -> Path:
    return write_warc(Path(settings.archive), "spa", date(2026, 11, day), f"202611{day:02d}T020000Z-{run}", pages)


def ids(numbers) -> set[str]:
    return {article_id(spa_url(n)) for n in numbers}


def processed_ids(summary: dict) -> set[str]:
    return {json.loads(line)["id"] for path in summary["outputs"] for line in Path(path).read_text().splitlines()}


# ---------------------------------------------------------------------------- a private engine


@pytest.fixture(scope="module")
def private_engine() -> Settings:
    """A node of our own on FAULTS_PORT (writes blocked, processes killed); stopped at the end
    unless NEWSWIRE_FAULTS_KEEP_ENGINE is set (to iterate on the tests)."""
    settings = get_settings(engine_port=FAULTS_PORT, search_url=f"http://127.0.0.1:{FAULTS_PORT}")
    for name in ("search_api_key", "search_user", "search_password"):
        settings = settings.model_copy(update={name: None})
    local_engine.start(settings)
    yield settings
    if not os.environ.get("NEWSWIRE_FAULTS_KEEP_ENGINE"):
        local_engine.stop(settings)


@pytest.fixture()
def faults(private_engine, tmp_path) -> Settings:
    """Settings on the private engine with an index prefix and a data dir of this test only."""
    settings = private_engine.model_copy(update={"data_dir": tmp_path / "data",
                                                 "index_prefix": f"nwfaults-{uuid.uuid4().hex[:8]}"})
    yield settings
    engine = SearchEngine.connect(settings)
    engine.request("DELETE", f"/{settings.index_prefix}-*")


def cli(settings: Settings, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "newswire.cli", *args], env=cli_env(settings),
                          capture_output=True, text=True, timeout=timeout, check=False)


def cli_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWIRE_SEARCH_")}
    return env | {"NEWSWIRE_SEARCH_URL": settings.search_url, "NEWSWIRE_INDEX_PREFIX": settings.index_prefix,
                  "NEWSWIRE_DATA_DIR": str(settings.data_dir), "COLUMNS": "200"}


def stored_ids(engine: SearchEngine, index: str | None = None) -> set[str]:
    engine.refresh(index)
    answer = engine.request("POST", f"/{index or engine.settings.read_alias}/_search",
                            {"size": 10_000, "_source": False, "query": {"match_all": {}}})
    return {hit["_id"] for hit in answer["hits"]["hits"]}


# ---------------------------------------------------------------------------- case 1


@pytest.mark.engine
def test_write_block_leaves_files_unprocessed_and_the_next_run_indexes_all_exactly_once(faults):
    engine = SearchEngine.connect(faults)
    serving = engine.ensure_ready()
    night(faults, 27, spa_pages(range(100000, 100030)))
    night(faults, 28, spa_pages(range(100030, 100060)))
    engine.request("PUT", f"/{serving}/_settings", {"index.blocks.write": True})  # what a flood stage does

    blocked = batch.process_archive(faults)
    assert (blocked["indexed"], blocked["index_failed"], blocked["index_rejected"]) == (0, 60, 0)
    assert len(blocked["pending_warc_files"]) == 2
    assert "cluster_block_exception" in blocked["index_failure"]
    assert blocked["dead_letter"] == 0  # a block is nobody's fault: no dead letters
    with pytest.raises(batch.IndexingIncomplete, match="2 WARC files stay unprocessed"):
        batch.raise_if_failure_rate_exceeded(blocked, faults)
    assert batch.already_processed(faults) == set()

    engine.request("PUT", f"/{serving}/_settings", {"index.blocks.write": False})
    lifted = batch.process_archive(faults)
    assert (lifted["warc_files"], lifted["indexed"], lifted["index_failed"]) == (2, 60, 0)
    assert lifted["pending_warc_files"] == []
    assert engine.count() == 60
    assert stored_ids(engine) == ids(range(100000, 100060))
    assert batch.process_archive(faults)["warc_files"] == 0  # both files are done now


@pytest.mark.engine
def test_one_immense_url_is_one_dead_letter_with_the_engines_reason(faults):
    pages = spa_pages(range(100100, 100110))
    immense = f"{SPA}/ar/N100110?ref=" + "x" * 40_000  # a keyword over Lucene's 32,766-byte term limit
    pages.append(FakePage(immense, article_html(100110)))
    warc = night(faults, 27, pages)

    summary = batch.process_archive(faults)
    assert (summary["records"], summary["indexed"], summary["index_rejected"], summary["index_failed"]) == (11, 10, 1, 0)
    assert summary["dead_letter"] == 1 and summary["failure_rate"] == round(1 / 11, 4)
    dead_file = f"{faults.dead_letters}/spa/2026/11/27/{warc.name.removesuffix('.warc.gz')}.jsonl"
    assert list(batch.dead_letters(faults)) == [dead_file]
    [letter] = batch.dead_letters(faults)[dead_file]
    assert letter["url"] == immense and letter["warc_file"] == str(warc)
    assert letter["reason"].startswith("index rejected: ") and "immense term" in letter["reason"]
    assert batch.already_processed(faults) == {str(warc)}
    assert stored_ids(SearchEngine.connect(faults)) == ids(range(100100, 100110))


# ---------------------------------------------------------------------------- case 2 and 5


def test_the_same_article_in_two_files_of_one_batch_keeps_the_latest_crawl(data_settings):
    night(data_settings, 27, spa_pages(range(100200, 100210)), run="killed")
    night(data_settings, 28, spa_pages(range(100205, 100215)), run="again")  # 100205-100209 crawled twice
    summary = batch.process_archive(data_settings, index=False)
    assert (summary["records"], summary["superseded"], summary["dead_letter"]) == (15, 5, 0)
    first, second = (processed_ids({"outputs": [path]}) for path in summary["outputs"])
    assert first == ids(range(100200, 100205))
    assert second == ids(range(100205, 100215))
    again = batch.process_archive(data_settings, index=False, only_new=False)
    assert [processed_ids({"outputs": [p]}) for p in again["outputs"]] == [first, second]


def test_poison_records_are_dead_letters_or_warned_records_never_a_failed_batch(data_settings):
    surrogate = '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "خبر \\ud83d عاجل"}</script>'
    pages = spa_pages(range(100300, 100305)) + [
        FakePage(spa_url(100305), article_html(100305, head=surrogate, title="")),
        FakePage(spa_url(100306), article_html(100306, canonical="https://www.spa.gov.sa:99999/ar/N100306")),
    ]
    night(data_settings, 27, pages)
    summary = batch.process_archive(data_settings, index=False)
    assert (summary["records"], summary["dead_letter"]) == (7, 0)
    records = {json.loads(line)["id"]: json.loads(line)
               for line in Path(summary["outputs"][0]).read_text().splitlines()}
    assert set(records) == ids(range(100300, 100307))
    assert records[article_id(spa_url(100305))]["title"] == "خبر \ufffd عاجل"
    assert "canonical_url_invalid_ignored" in records[article_id(spa_url(100306))]["warnings"]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_body_that_does_not_decode_is_one_dead_letter_and_the_rest_of_its_file_is_processed(data_settings,
                                                                                            workers):
    """A br body that is not brotli raised out of the WARC reader and took the whole file (every
    worker's share) down with it."""
    import brotli

    pages = spa_pages(range(100400, 100403))
    pages[1] = FakePage(spa_url(100401), b"\x8b\x02not brotli at all", content_encoding="br")
    pages.append(FakePage(spa_url(100403), brotli.compress(article_html(100403)), content_encoding="br"))
    warc = night(data_settings, 27, pages)
    summary = batch.process_archive(data_settings, index=False, workers=2)
    assert processed_ids(summary) == ids([100400, 100402, 100403])
    [(_, dead)] = batch.dead_letters(data_settings).items()
    assert [(d["url"], d["warc_file"]) for d in dead] == [(spa_url(100401), str(warc))]
    assert dead[0]["reason"].startswith("undecodable body (Content-Encoding br)")
    assert dead[0]["warc_record_id"].startswith("<urn:uuid:")
    assert batch.unprocessed_warc_files(data_settings) == []  # every record is a record or a dead letter


KILLS_ITS_WORKER = b"<!-- kills its worker -->"


def _share_with_deadly_pages(share, profiles):
    """``batch._process_share`` in a worker where a page holding KILLS_ITS_WORKER kills the process
    with SIGKILL, as a parser crash or the OOM killer would; when the page also names a flag file
    (``<!-- once: PATH -->``), only the first time, as an operator's kill would."""
    from pipelines import batch as worker_batch

    process_response = worker_batch._process_response

    def deadly(item, warc, profile):
        if KILLS_ITS_WORKER in item.body:
            once = re.search(rb"<!-- once: (\S+) -->", item.body)
            if once is None or not Path(once.group(1).decode()).exists():
                if once is not None:
                    Path(once.group(1).decode()).touch()
                os.kill(os.getpid(), signal.SIGKILL)
        return process_response(item, warc, profile)

    worker_batch._process_response = deadly
    return worker_batch._process_share(share, profiles)


def test_a_page_that_kills_its_worker_is_one_dead_letter_and_the_rest_of_the_batch_is_processed(
        data_settings, monkeypatch):
    monkeypatch.setattr(batch, "_process_share", _share_with_deadly_pages)
    pages = spa_pages(range(100500, 100506))
    pages[3] = FakePage(spa_url(100503), article_html(100503, body_extra=KILLS_ITS_WORKER.decode()))
    warc = night(data_settings, 27, pages)
    other = night(data_settings, 28, spa_pages(range(100510, 100513)))
    summary = batch.process_archive(data_settings, index=False, workers=2)
    assert processed_ids(summary) == ids([100500, 100501, 100502, 100504, 100505, 100510, 100511, 100512])
    assert (summary["responses"], summary["errors"], summary["dead_letter"]) == (9, 1, 1)
    dead = batch.dead_letters(data_settings)
    assert list(dead) == [batch.dead_letter_path(data_settings, parse_warc_path(str(warc)))]
    [letter] = next(iter(dead.values()))
    assert (letter["reason"], letter["url"], letter["warc_file"]) == (batch.KILLED_WORKER, spa_url(100503), str(warc))
    assert letter["warc_record_id"].startswith("<urn:uuid:")
    assert batch.unprocessed_warc_files(data_settings) == []  # both files are done
    assert not list(Path(data_settings.processed).rglob("*.started"))
    assert other.exists() and warc.exists()


def test_a_daemonic_process_processes_its_batch_itself(data_settings, monkeypatch):
    """Celery's pool processes, which run Airflow's tasks on the CeleryExecutor, are daemonic, and
    multiprocessing refuses a daemonic process children: such a process takes the files itself."""
    night(data_settings, 27, spa_pages(range(100700, 100706)))
    monkeypatch.setitem(multiprocessing.current_process()._config, "daemon", True)
    summary = batch.process_archive(data_settings, index=False, workers=2)
    assert processed_ids(summary) == ids(range(100700, 100706))
    assert (summary["responses"], summary["errors"], summary["dead_letter"]) == (6, 0, 0)
    assert batch.unprocessed_warc_files(data_settings) == []


def test_a_worker_killed_once_from_outside_costs_no_article(data_settings, monkeypatch, tmp_path):
    monkeypatch.setattr(batch, "_process_share", _share_with_deadly_pages)
    flag = tmp_path / "killed-once"
    pages = spa_pages(range(100600, 100606))
    pages[2] = FakePage(spa_url(100602), article_html(
        100602, body_extra=f"{KILLS_ITS_WORKER.decode()}<!-- once: {flag} -->"))
    night(data_settings, 27, pages)
    summary = batch.process_archive(data_settings, index=False, workers=2)
    assert flag.exists()  # the worker was killed
    assert processed_ids(summary) == ids(range(100600, 100606))
    assert (summary["errors"], summary["dead_letter"]) == (0, 0)
    assert batch.dead_letters(data_settings) == {}


def test_canonical_links_are_trusted_only_when_plausible_for_the_page(data_settings):
    home = [FakePage(spa_url(n), article_html(n, canonical=f"{SPA}/")) for n in range(100400, 100420)]
    night(data_settings, 27, home + spa_pages([100500]))
    # Later nights: ten pages whose canonical names that other article (a template fault).
    stamped = [FakePage(spa_url(n), article_html(n, canonical=spa_url(100500))) for n in range(100501, 100511)]
    night(data_settings, 28, stamped)
    trusted = [
        FakePage(spa_url(100600) + "?page=2", article_html(100600, canonical=spa_url(100600))),  # a variant
        FakePage("http://127.0.0.1:8123/ar/N100601", article_html(100601, canonical=spa_url(100601))),  # mirror
        FakePage(spa_url(100602), article_html(100602, canonical="https://elsewhere.example/ar/N100602")),
    ]
    night(data_settings, 29, trusted)

    summary = batch.process_archive(data_settings, index=False)
    records = [json.loads(line) for path in summary["outputs"] for line in Path(path).read_text().splitlines()]
    by_id = {record["id"]: record for record in records}
    assert (summary["records"], summary["superseded"], len(by_id)) == (34, 0, 34)
    assert ids(range(100400, 100420)) | ids(range(100500, 100511)) | ids([100600, 100601, 100602]) == set(by_id)
    assert by_id[article_id(spa_url(100500))]["provenance"]["crawl_run"].startswith("20261127")  # not replaced
    assert all("canonical_url_home_page_ignored" in by_id[i]["warnings"] for i in ids(range(100400, 100420)))
    assert all("canonical_url_names_another_article_ignored" in by_id[i]["warnings"]
               for i in ids(range(100501, 100511)))
    assert by_id[article_id(spa_url(100600))]["url"] == spa_url(100600) + "?page=2"
    assert by_id[article_id(spa_url(100601))]["url"].startswith("http://127.0.0.1:8123/")
    assert "canonical_url_other_site_ignored" in by_id[article_id(spa_url(100602))]["warnings"]


# ---------------------------------------------------------------------------- case 4


@pytest.mark.engine
def test_scheduled_processing_catches_up_a_night_that_was_never_processed(faults):
    from newswire import airflow_support

    night(faults, 27, spa_pages(range(100700, 100720)))  # night 1: the engine was down all night
    tonight = night(faults, 28, spa_pages(range(100720, 100730)))
    events = {airflow_support.RAW_ARCHIVE: [SimpleNamespace(extra={"warc_files": [str(tonight)]})]}
    files = airflow_support.new_warc_files(faults, events)
    assert len(files) == 2 and files[1] == str(tonight)  # last night's file too, first: not only the announced one
    summary = airflow_support.reconcile_run(
        faults, files, [airflow_support.process_warc_file(faults, warc_file) for warc_file in files])
    assert (summary["warc_files"], summary["indexed"]) == (2, 30)
    assert stored_ids(SearchEngine.connect(faults)) == ids(range(100700, 100730))


def test_a_backlog_longer_than_one_run_maps_is_taken_oldest_first_over_several_runs(data_settings, monkeypatch):
    from newswire import airflow_support

    monkeypatch.setattr(airflow_support, "MAX_FILES_PER_RUN", 2)
    files = [str(night(data_settings, day, spa_pages([100900 + day]))) for day in (28, 26, 27)]
    first_run = airflow_support.new_warc_files(data_settings, None)
    assert first_run == [files[1], files[2]]  # the 26th and the 27th
    batch.process_archive(data_settings, index=False, warc_files=first_run)
    assert airflow_support.new_warc_files(data_settings, None) == [files[0]]


# ---------------------------------------------------------------------------- case 6


def test_each_file_is_marked_done_by_its_own_marker_and_an_interrupted_one_is_taken_again(data_settings):
    files = [night(data_settings, day, spa_pages(range(100800 + 10 * day, 100802 + 10 * day))) for day in (26, 27, 28)]
    batch.process_archive(data_settings, index=False, warc_files=[str(f) for f in files[:2]])
    assert batch.already_processed(data_settings) == {str(f) for f in files[:2]}
    first_marker = Path(batch.marker_path(data_settings, parse_warc_path(str(files[0]))))
    written = first_marker.stat().st_mtime_ns
    # A worker killed while writing the third file's marker leaves only its temporary file.
    third_marker = Path(batch.marker_path(data_settings, parse_warc_path(str(files[2]))))
    third_marker.parent.mkdir(parents=True, exist_ok=True)
    third_marker.with_name(third_marker.name + ".tmp-deadbeef").write_text('{"warc_file": "')

    summary = batch.process_archive(data_settings, index=False)
    assert summary["warc_files"] == 1
    assert processed_ids(summary) == ids([101080, 101081])
    assert batch.already_processed(data_settings) == {str(f) for f in files}
    assert first_marker.stat().st_mtime_ns == written  # marking one file never rewrites another's state
    assert json.loads(third_marker.read_text())["warc_file"] == str(files[2])


def test_the_processed_list_of_earlier_versions_becomes_markers_a_torn_line_taken_again(data_settings):
    files = [night(data_settings, day, spa_pages(range(100900 + 10 * day, 100902 + 10 * day))) for day in (26, 27, 28)]
    legacy = data_settings.state_dir / "processed-warcs.jsonl"
    legacy.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"warc_file": str(f), "processed_at": "2026-11-28"}) for f in files]
    legacy.write_text("\n".join(lines[:2]) + "\n" + lines[2][:30])  # an append interrupted halfway

    summary = batch.process_archive(data_settings, index=False)
    assert summary["warc_files"] == 1
    assert processed_ids(summary) == ids([101180, 101181])
    assert batch.already_processed(data_settings) == {str(f) for f in files}
    assert not legacy.exists() and legacy.with_name("processed-warcs.jsonl.migrated").exists()
    leftovers = [p for p in Path(data_settings.data_dir).rglob("*") if ".tmp-" in p.name and "deadbeef" not in p.name]
    assert leftovers == []  # every marker, record and dead-letter file was renamed into place


# ---------------------------------------------------------------------------- case 7 and 8


def test_pages_with_a_nul_byte_or_absurdly_deep_json_ld_are_still_articles(data_settings):
    nul = [FakePage(spa_url(n), article_html(n, body_extra="<p>\x00</p>").replace(b"<h1>", b"<h1>\x00"))
           for n in range(101100, 101160)]
    deep = '<script type="application/ld+json">' + "[" * 100_000 + "]" * 100_000 + "</script>"
    deep_pages = [FakePage(spa_url(n), article_html(n, head=deep)) for n in range(101160, 101165)]
    night(data_settings, 27, nul + deep_pages)
    summary = batch.process_archive(data_settings, index=False)
    assert (summary["records"], summary["errors"], summary["dead_letter"]) == (65, 0, 0)
    assert processed_ids(summary) == ids(range(101100, 101165))


def test_utf8_page_with_a_stray_byte_or_a_cut_letter_reads_as_arabic():
    page = article_html(101200)
    stray = page.replace("مستشفى".encode(), "مستشفى".encode() + b"\xff", 1)
    cut = page + "ب".encode()[:1]
    for raw in (stray, cut):
        record = stages.process_page(raw, spa_url(101200), source_id="spa", profile=ARABIC)
        assert record.status == RecordStatus.OK
        assert record.language == "ar"
        assert record.title == "خبر رقم 101200: افتتاح مستشفى جديد في الرياض"


def test_format_characters_are_stripped_but_zwnj_inside_a_word_is_kept():
    page = article_html(101300, title="الوز\u00adير يفتتح\u2060 المستشفى می\u200cخواهد\u200c",
                        body_extra="<p>مستشفى الرياض\u200b الجديد يعمل بكامل طا\u00adقته اليوم وفق البيان</p>")
    record = stages.process_page(page, spa_url(101300), source_id="spa", profile=ARABIC)
    assert record.title == "الوزير يفتتح المستشفى می\u200cخواهد"  # Persian keeps its ZWNJ inside the word
    assert record.body.endswith("مستشفى الرياض الجديد يعمل بكامل طاقته اليوم وفق البيان")
    assert not record.body.startswith("الوزير")  # the title line is recognised and not repeated in the body
    assert not any(ch in record.body + record.title for ch in "\u00ad\u2060\u200b\u200e\u200f\ufeff")


@pytest.mark.parametrize("published", ["9999-12-31T00:00:00Z", "0001-01-01T00:00:00Z", "2099-05-01T00:00:00Z",
                                       "2026-06-01T08:00:00Z"])
def test_dates_outside_the_crawl_window_fall_back_to_the_url_date(published):
    url = "https://news.example.org/2026/03/01/hospital"
    crawled = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 2026-06-01 is in the future of this crawl
    record = stages.process_page(article_html(1, published=published), url, crawled_at=crawled)
    assert record.published_at.date() == date(2026, 3, 1)
    assert {"published_at_implausible_ignored", "published_at_from_url"} <= set(record.warnings)
    assert record.status == RecordStatus.FLAGGED


def test_an_implausible_page_date_falls_back_to_the_sitemap_date(data_settings):
    listed = datetime(2026, 11, 26, 21, 30, tzinfo=UTC)
    night(data_settings, 27, [FakePage(spa_url(101400), article_html(101400, published="9999-12-31T00:00:00Z"),
                                       listed_published_at=listed)])
    summary = batch.process_archive(data_settings, index=False)
    [record] = [json.loads(line) for line in Path(summary["outputs"][0]).read_text().splitlines()]
    assert datetime.fromisoformat(record["published_at"]) == listed
    assert "published_at_from_listing" in record["warnings"]


def test_oversized_title_and_body_are_cut_and_flagged():
    page = article_html(101500, title="عنوان " * 8_334, body_extra="<p>" + "كلمة " * 50_000 + "</p>")
    record = stages.process_page(page, spa_url(101500), source_id="spa", profile=ARABIC)
    assert (len(record.title), len(record.body), record.status) == (1_000, 200_000, RecordStatus.FLAGGED)
    assert {"title_truncated", "body_truncated"} <= set(record.warnings)
    assert (stages.MAX_TITLE_CHARS, stages.MAX_BODY_CHARS) == (1_000, 200_000)


# ---------------------------------------------------------------------------- case 10


@pytest.mark.engine
def test_a_failed_cleanup_does_not_mask_the_rebuilds_own_error(faults, monkeypatch, caplog):
    night(faults, 27, spa_pages(range(101600, 101603)))
    batch.process_archive(faults)

    def crash(*args, **kwargs):
        raise RuntimeError("parser crashed halfway")

    def cleanup_fails(self, index):
        raise SearchEngineError(f"DELETE /{index}: engine went away")

    monkeypatch.setattr(rebuild, "process_archive", crash)
    monkeypatch.setattr(SearchEngine, "delete_index", cleanup_fails)
    with pytest.raises(RuntimeError, match="parser crashed halfway"):
        rebuild.reprocess(faults, since=None, until=None, sources=None, mode="rebuild")
    assert f"could not delete the half-built {faults.index_name(2)}" in caplog.text


@pytest.mark.engine
def test_a_killed_rebuild_leaves_an_orphan_that_nightly_processing_skips_and_retire_deletes(faults):
    night(faults, 27, spa_pages(range(102000, 102300)))
    assert batch.process_archive(faults)["indexed"] == 300
    engine = SearchEngine.connect(faults)
    orphan = faults.index_name(2)

    rebuild_run = subprocess.Popen([sys.executable, "-m", "newswire.cli", "reprocess", "--mode", "rebuild", "--json"],
                                   env=cli_env(faults), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and rebuild_run.poll() is None:
        try:
            if engine.count(orphan) == 300:  # copied, now reprocessing
                break
        except SearchEngineError:
            pass  # not created yet, or its shard not started yet
        time.sleep(0.1)
    assert rebuild_run.poll() is None, "the rebuild ended before it could be killed"
    rebuild_run.send_signal(signal.SIGKILL)
    rebuild_run.wait()

    tonight = night(faults, 28, spa_pages(range(102300, 102310)))
    summary = batch.process_archive(faults)
    assert (summary["warc_files"], summary["indexed"], summary["also_indexed_into"]) == (1, 10, None)
    assert stored_ids(engine, faults.index_name(1)) == ids(range(102000, 102310))
    assert engine.count(orphan) == 300  # nothing written into the orphan
    assert batch.already_processed(faults) >= {str(tonight)}

    status = cli(faults, "index", "status", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["roles"] == {faults.index_name(1): "serving", orphan: "orphan"}
    refused = cli(faults, "index", "retire", faults.index_name(1))
    assert refused.returncode == 1 and "holds the read or write alias" in refused.stdout + refused.stderr
    retired = cli(faults, "index", "retire", orphan)
    assert retired.returncode == 0, retired.stdout + retired.stderr
    assert engine.versions() == [faults.index_name(1)]
    assert engine.count() == 310


# ---------------------------------------------------------------------------- case 13


@pytest.mark.parametrize("command", [["process"], ["reprocess", "--mode", "rebuild"]])
def test_an_engine_that_is_down_fails_in_seconds_before_anything_is_extracted(data_settings, command):
    night(data_settings, 27, spa_pages(range(103000, 103400)))
    down = data_settings.model_copy(update={"search_url": "http://127.0.0.1:9439", "index_prefix": "nwfaults-down"})
    started = time.monotonic()
    run = cli(down, *command, timeout=120)
    elapsed = time.monotonic() - started
    output = (run.stdout + run.stderr).strip()
    assert run.returncode == 1
    assert len(output.splitlines()) == 1 and output.startswith("newswire: search engine:") and "127.0.0.1:9439" in output
    assert "Traceback" not in output
    assert not Path(data_settings.processed).exists()  # not one record was written
    assert elapsed < 15, f"took {elapsed:.1f} s"
