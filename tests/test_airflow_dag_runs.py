"""dag.test() of the crawl and process DAGs against the demo mirror and the real local engine,
and the dead-letter path of processing with a broken WARC record and a malformed page."""

from __future__ import annotations

import json
from datetime import date

import pytest
from airflow_harness import DAGS_FOLDER, free_port
from warc_builder import FakePage, write_warc

from kernel.settings import get_settings

pytestmark = [pytest.mark.airflow, pytest.mark.engine]

SEED_TITLE = "في اتصاله هاتفيا بنظيره الروسي .. روحاني: التعاون لمحاربة الارهاب واجبنا جميعا"


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert bag.import_errors == {}
    return bag


@pytest.fixture()
def newswire_env(engine_settings, airflow_db, tmp_path, monkeypatch):
    """NEWSWIRE_* for the tasks (they read the environment, as in production): a fresh data dir
    and index prefix; no `newswire_search` connection, so the engine comes from the env too."""
    monkeypatch.setenv("NEWSWIRE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NEWSWIRE_INDEX_PREFIX", f"{engine_settings.index_prefix}-{tmp_path.name[-12:].lower()}")
    monkeypatch.delenv("AIRFLOW_CONN_NEWSWIRE_SEARCH", raising=False)
    return monkeypatch


def _raw_archive_events(run_id: str) -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        events = session.scalars(
            select(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri == "newswire://raw-archive/", AssetEvent.source_run_id == run_id)
        ).all()
        return [dict(event.extra) for event in events]


def _task_result(run, task_id: str):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        value = session.scalars(select(XComModel.value).where(
            XComModel.run_id == run.run_id, XComModel.dag_id == run.dag_id,
            XComModel.task_id == task_id, XComModel.key == "return_value")).one()
    return json.loads(value) if isinstance(value, str) else value


def test_crawl_then_process_makes_the_demo_searchable(dagbag, newswire_env):
    from crawler.mirror import serve_demo_mirror
    from kernel.archive import list_warc_files
    from pipelines.index import SearchEngine
    from pipelines.search import search_articles

    with serve_demo_mirror() as mirror:
        newswire_env.setenv("NEWSWIRE_ENABLED_SOURCES", json.dumps(list(mirror.base_urls)))
        newswire_env.setenv("NEWSWIRE_BASE_URL_OVERRIDES", json.dumps(mirror.base_urls))
        settings = get_settings()
        # The demo articles were published in the last weeks, before this run's data interval.
        crawl_run = dagbag.dags["newswire_crawl"].test(run_conf={"since": "2016-01-01"})

    assert crawl_run.state == "success"
    states = {(ti.task_id, ti.rendered_map_index or ti.map_index): ti.state
              for ti in crawl_run.get_task_instances()}
    assert {key[1] for key in states if key[0] == "crawl"} == set(mirror.base_urls)
    assert set(states.values()) == {"success"}

    warcs = list_warc_files(settings.archive)
    assert {w.source_id for w in warcs} == set(mirror.base_urls)
    events = _raw_archive_events(crawl_run.run_id)
    assert events == [{"warc_files": sorted(w.url for w in warcs), "sources": sorted(mirror.base_urls)}]

    process_run = dagbag.dags["newswire_process"].test()
    assert process_run.state == "success"
    file_tasks = {ti.rendered_map_index: ti.state for ti in process_run.get_task_instances()
                  if ti.task_id == "process_warc_file"}
    assert file_tasks == {f"{w.source_id} {w.crawl_date:%Y-%m-%d} {w.stem}": "success" for w in warcs}  # one per file

    engine = SearchEngine.connect(settings)
    records = [json.loads(line) for path in (settings.data_dir / "processed").rglob("*.jsonl")
               for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(records) >= 16
    assert engine.count() == len({r["id"] for r in records})
    counts = _task_result(process_run, "reconcile_stories")  # the run's counts per stage are its last task's result
    assert (counts["warc_files"], counts["records"], counts["indexed"], counts["dead_letter"]) == (
        len(warcs), len(records), len(records), 0)
    assert all(r["language"] == "ar" and r["language_confidence"] > 0.5 for r in records)
    credited = [r["attribution"]["agency_id"] for r in records if r["attribution"]]
    assert len(credited) >= 15 and set(credited) == {"tasnim", "spa", "sana"}

    hits = search_articles(engine, SEED_TITLE, size=3)
    assert hits[0].title == SEED_TITLE
    assert (hits[0].source_id, hits[0].agency, hits[0].language) == ("tasnim", "tasnim", "ar")


def _dead_letter_batch(settings) -> None:
    """One good page, one malformed page (binary junk served as HTML) and a torn WARC tail."""
    seed_html = (DAGS_FOLDER.parent / "tests" / "fixtures" / "pages" / "tasnim_seed.html").read_bytes()
    write_warc(settings.data_dir / "archive", "tasnim", date(2026, 11, 28), "20261128T020000Z-dead01", [
        FakePage("https://www.tasnimnews.com/ar/news/2016/11/28/1250000/seed", seed_html),
        FakePage("https://www.tasnimnews.com/ar/news/2016/11/28/1250001/broken", b"\x00\xff\x00\xfe" * 64),
    ], broken_tail=True)


def _dead_letters(settings) -> list[dict]:
    from pipelines.batch import dead_letters

    return [letter for letters in dead_letters(settings).values() for letter in letters]


def test_process_dag_dead_letters_bad_records_and_keeps_the_good_one(dagbag, newswire_env):
    from pipelines.index import SearchEngine

    newswire_env.setenv("NEWSWIRE_MAX_FAILURE_RATE", "0.9")
    settings = get_settings()
    _dead_letter_batch(settings)

    run = dagbag.dags["newswire_process"].test()
    assert run.state == "success"

    dead = sorted(_dead_letters(settings), key=lambda d: d["reason"])
    assert len(dead) == 2
    broken_page, torn_tail = dead
    assert broken_page["reason"].startswith("extraction failed")
    assert broken_page["url"].endswith("/1250001/broken")
    assert broken_page["warc_record_id"].startswith("<urn:uuid:")
    assert torn_tail["reason"].startswith("unreadable WARC data")
    assert {d["warc_file"] for d in dead} == {
        str(settings.data_dir / "archive" / "tasnim" / "2026/11/28" / "tasnim-20261128T020000Z-dead01.warc.gz")}
    assert SearchEngine.connect(settings).count() == 1


def test_process_dag_fails_above_the_failure_rate_without_retrying(dagbag, newswire_env):
    settings = get_settings()  # default max failure rate 0.2; this batch fails 2 of 3
    _dead_letter_batch(settings)
    run = dagbag.dags["newswire_process"].test()
    assert run.state == "failed"
    states = {ti.task_id: (ti.state, ti.try_number) for ti in run.get_task_instances()}
    assert states["process_warc_file"] == ("success", 1)  # the file is done: its records are dead letters
    assert states["reconcile_stories"] == ("failed", 1)  # the run failed for good, not up for retry
    assert len(_dead_letters(settings)) == 2  # the dead letters are kept, and written once


def test_one_source_failing_does_not_stop_the_others(dagbag, newswire_env):
    from crawler.mirror import serve_demo_mirror

    dag = dagbag.dags["newswire_crawl"]
    # No retries in this run: the failure is real, waiting minutes for the retries is not needed.
    newswire_env.setitem(dag.get_task("crawl").partial_kwargs, "retries", 0)

    with serve_demo_mirror() as mirror:
        newswire_env.setenv("NEWSWIRE_ENABLED_SOURCES", json.dumps(["tasnim", "irna"]))
        newswire_env.setenv("NEWSWIRE_BASE_URL_OVERRIDES", json.dumps(
            {"tasnim": mirror.base_urls["tasnim"], "irna": f"http://127.0.0.1:{free_port()}"}))
        run = dag.test(run_conf={"since": "2016-01-01"})

    states = {(ti.task_id, ti.rendered_map_index): ti.state for ti in run.get_task_instances()}
    assert states[("crawl", "irna")] == "failed"
    assert states[("crawl", "tasnim")] == "success"
    assert states[("publish_raw_archive", None)] == "success"
    assert states[("check_every_source_crawled", None)] == "failed"
    assert run.state == "failed"  # whoever watches the schedule sees the broken source
    [event] = _raw_archive_events(run.run_id)
    assert event["sources"] == ["tasnim"]
    assert len(event["warc_files"]) == 1 and "/archive/tasnim/" in event["warc_files"][0]


def test_reprocess_dry_run_lists_the_archived_files_and_touches_no_index(dagbag, newswire_env):
    from pipelines.index import SearchEngine

    settings = get_settings()
    _dead_letter_batch(settings)
    run = dagbag.dags["newswire_reprocess"].test(run_conf={
        "since": "2026-11-28", "until": "2026-11-28", "sources": ["tasnim"], "mode": "rebuild", "dry_run": True})
    assert run.state == "success"
    plan = _task_result(run, "reprocess_archive")
    assert plan["warc_files"] == [
        str(settings.data_dir / "archive" / "tasnim" / "2026/11/28" / "tasnim-20261128T020000Z-dead01.warc.gz")]
    assert (plan["mode"], plan["dry_run"], plan["sources"]) == ("rebuild", True, ["tasnim"])
    engine = SearchEngine.connect(settings)
    assert not engine.exists(f"/{settings.index_name(1)}") and not engine.exists(f"/{settings.index_name(2)}")
    assert _dead_letters(settings) == []
