"""A failed night is visible: the run is red and the failed task POSTs a notification to
NEWSWIRE_ALERT_WEBHOOK (a real HTTP server on 127.0.0.1 here), without credentials in it."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime

import pytest
from airflow_harness import DAGS_FOLDER, free_port
from warc_builder import FakePage, write_warc

from benchmarks.thirty_nights import AlertInbox, alert_inbox
from kernel.settings import get_settings
from newswire import airflow_support as support

PASSWORD = "s3cret-pw"


@pytest.fixture()
def inbox(monkeypatch):
    with alert_inbox() as url:
        monkeypatch.setenv("NEWSWIRE_ALERT_WEBHOOK", url)
        yield AlertInbox.received


def test_every_task_of_the_three_dags_notifies_on_failure():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert sorted(bag.dags) == ["newswire_crawl", "newswire_process", "newswire_reprocess"]
    callbacks = {(dag_id, task.task_id): task.on_failure_callback
                 for dag_id, dag in bag.dags.items() for task in dag.tasks}
    assert len(callbacks) == 8
    assert all(cb in (support.notify_failure, [support.notify_failure]) for cb in callbacks.values()), callbacks


def test_the_notice_is_one_line_without_credentials(monkeypatch):
    monkeypatch.setenv("NEWSWIRE_SEARCH_PASSWORD", PASSWORD)
    error = ConnectionError(f"cannot reach http://newswire:{PASSWORD}@es.internal:9200/_bulk\nTraceback ...")

    class Ti:
        dag_id, run_id, task_id, map_index, try_number = "newswire_crawl", "scheduled__x", "crawl", 2, 4

    notice = support.failure_notice(
        {"ti": Ti(), "exception": error, "logical_date": datetime(2026, 11, 3, 2, tzinfo=UTC)}, get_settings())
    assert notice == {
        "event": "newswire_task_failed", "dag_id": "newswire_crawl", "run_id": "scheduled__x",
        "task_id": "crawl", "map_index": 2, "try_number": 4, "logical_date": "2026-11-03T02:00:00+00:00",
        "error": "ConnectionError: cannot reach http://***@es.internal:9200/_bulk"}
    assert support.failure_notice({"ti": Ti(), "exception": None}, get_settings())["error"].startswith(
        "no exception recorded")


def test_a_webhook_that_is_down_only_logs(monkeypatch, caplog):
    monkeypatch.setenv("NEWSWIRE_ALERT_WEBHOOK", f"http://127.0.0.1:{free_port()}/token-abc")
    with caplog.at_level(logging.ERROR, logger=support.__name__):
        support.notify_failure({"exception": RuntimeError("engine down"), "run_id": "manual__1"})
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert messages[0].startswith("newswire task failed: ") and '"error": "RuntimeError: engine down"' in messages[0]
    assert messages[1].startswith("the failure notification could not be sent")
    assert "token-abc" not in " ".join(messages)


def test_a_last_step_failing_for_tasks_that_already_notified_sends_nothing_more(inbox, caplog):
    error = support.FailedTasksAlreadyNotified("crawl failed for irna; the other sources were published")
    with caplog.at_level(logging.ERROR, logger=support.__name__):
        support.notify_failure({"exception": error, "run_id": "scheduled__x"})
    assert inbox == []
    assert any("crawl failed for irna" in r.getMessage() for r in caplog.records)  # still in the task log


@pytest.mark.airflow
def test_a_failed_process_run_is_red_and_notified(airflow_db, inbox, tmp_path, monkeypatch, caplog):
    from airflow.dag_processing.dagbag import DagBag

    # The engine is down: nothing listens on its port (credentials in its URL must not leak).
    monkeypatch.setenv("NEWSWIRE_SEARCH_URL", f"http://newswire:{PASSWORD}@127.0.0.1:{free_port()}")
    monkeypatch.setenv("NEWSWIRE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("AIRFLOW_CONN_NEWSWIRE_SEARCH", raising=False)
    write_warc(tmp_path / "data" / "archive", "tasnim", date(2026, 11, 3), "20261103T020000Z-a", [
        FakePage("https://www.tasnimnews.com/ar/news/2016/11/03/1/a", b"<html><body><p>x</p></body></html>")])
    dag = DagBag(dag_folder=str(DAGS_FOLDER)).dags["newswire_process"]
    monkeypatch.setitem(dag.get_task("process_warc_file").partial_kwargs, "retries", 0)  # fail now, not in 2 minutes
    night = datetime(2026, 11, 3, 2, tzinfo=UTC)

    with caplog.at_level(logging.ERROR, logger=support.__name__):
        run = dag.test(logical_date=night)

    assert run.state == "failed"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert (states["process_warc_file"], states["reconcile_stories"]) == ("failed", "failed")
    assert len(inbox) == 1  # the failed file's task notifies; the run's last step, failing for it, does not
    [message] = inbox
    assert (message["path"], message["content_type"]) == ("/newswire-alerts", "application/json; charset=utf-8")
    notice = message["notice"]
    assert {k: notice[k] for k in ("event", "dag_id", "run_id", "task_id", "map_index", "logical_date")} == {
        "event": "newswire_task_failed", "dag_id": "newswire_process", "run_id": run.run_id,
        "task_id": "process_warc_file", "map_index": 0, "logical_date": night.isoformat()}
    assert notice["error"] and "\n" not in notice["error"]
    assert PASSWORD not in json.dumps(notice)
    assert any(r.getMessage().startswith("newswire task failed: ") and run.run_id in r.getMessage()
               for r in caplog.records)
