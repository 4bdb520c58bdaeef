"""newswire_reprocess through Airflow's REST API (/api/v2, token auth) on a real `airflow standalone`:
a rebuild creates the next index version, moves both aliases, keeps the document count, and
searches issued while it runs keep answering."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from kernel.settings import get_settings

pytestmark = [pytest.mark.airflow, pytest.mark.engine]

QUERY = "روحاني"  # in the seed article's title


def _search_while(engine, stop: threading.Event, answers: list[int], failures: list[str]) -> None:
    from pipelines.search import search_articles

    while not stop.is_set():
        try:
            answers.append(len(search_articles(engine, QUERY, size=5)))
        except Exception as exc:  # any failure of a search during the rebuild is the finding
            failures.append(repr(exc))
        time.sleep(0.1)


def test_rebuild_through_the_rest_api_switches_aliases_without_search_downtime(airflow_server,
                                                                               standalone_newswire):
    from pipelines.index import SearchEngine

    settings = get_settings(data_dir=standalone_newswire["NEWSWIRE_DATA_DIR"],
                            index_prefix=standalone_newswire["NEWSWIRE_INDEX_PREFIX"])
    engine = SearchEngine.connect(settings)
    assert engine.current_index() == settings.index_name(1)
    documents_before = engine.count()
    assert documents_before >= 16

    airflow_server.wait_for_dag("newswire_reprocess")
    token = airflow_server.token()
    today = datetime.now(UTC).date().isoformat()  # the session fixture crawled today

    started = time.monotonic()
    stop, answers, failures = threading.Event(), [], []
    poller = threading.Thread(target=_search_while, args=(engine, stop, answers, failures))
    poller.start()
    try:
        run = airflow_server.api("POST", "/dags/newswire_reprocess/dagRuns", {
            "logical_date": None,
            "conf": {"since": today, "until": today, "sources": None, "mode": "rebuild", "dry_run": False},
        }, token=token)
        finished = airflow_server.wait_for_run("newswire_reprocess", run["dag_run_id"])
    finally:
        stop.set()
        poller.join()

    assert finished["state"] == "success", f"see {airflow_server.log_path}"
    result = airflow_server.task_result("newswire_reprocess", run["dag_run_id"], "reprocess_archive")
    assert (result["mode"], result["previous_index"], result["index"]) == (
        "rebuild", settings.index_name(1), settings.index_name(2))

    aliases = engine.request("GET", f"/_alias/{settings.read_alias},{settings.write_alias}")
    assert aliases == {settings.index_name(2): {"aliases": {
        settings.read_alias: {}, settings.write_alias: {"is_write_index": True}}}}
    assert engine.count(settings.index_name(2)) == documents_before == result["documents"]

    assert failures == []
    assert len(answers) >= 10 and min(answers) >= 1
    print(f"\nrebuild via REST: {time.monotonic() - started:.1f}s from trigger to success, "
          f"{len(answers)} searches answered meanwhile, {len(failures)} failed, {documents_before} documents")
