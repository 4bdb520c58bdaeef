"""The Airflow glue: Connection -> settings, crawl window and subprocess, asset event extras."""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
from airflow.sdk import Connection
from airflow.sdk.exceptions import AirflowFailException

from newswire import airflow_support as support


def test_connection_with_host_port_scheme_login_and_ca_bundle():
    conn = Connection(conn_id="newswire_search", conn_type="generic", host="search.internal", port=9200,
                      schema="https", login="reader", password="s3cret-pw",
                      extra=json.dumps({"ca_certs": "/etc/ssl/newsroom-ca.pem"}))
    assert support.search_overrides(conn) == {
        "search_url": "https://search.internal:9200", "search_user": "reader",
        "search_password": "s3cret-pw", "search_ca_certs": "/etc/ssl/newsroom-ca.pem"}


def test_connection_with_url_host_and_api_key():
    conn = Connection(conn_id="newswire_search", conn_type="generic", host="https://es.cloud.example:443/",
                      extra=json.dumps({"api_key": "abc==", "index_prefix": "newsroom"}))
    assert support.search_overrides(conn) == {
        "search_url": "https://es.cloud.example:443", "search_api_key": "abc==", "index_prefix": "newsroom"}


def test_task_settings_from_connection_env_var(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_NEWSWIRE_SEARCH", json.dumps(
        {"conn_type": "generic", "host": "10.0.0.7", "port": 9201, "login": "ingest",
         "password": "pw-12345"}))
    settings = support.task_settings()
    assert settings.search_url == "http://10.0.0.7:9201"
    assert settings.search_user == "ingest"
    assert settings.search_password.get_secret_value() == "pw-12345"


def test_task_settings_fall_back_to_newswire_env(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_NEWSWIRE_SEARCH", raising=False)
    monkeypatch.setenv("NEWSWIRE_SEARCH_URL", "http://127.0.0.1:9299")
    assert support.task_settings().search_url == "http://127.0.0.1:9299"


def test_crawl_window_is_the_data_interval():
    start = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
    end = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
    assert support.crawl_window(start, end) == (date(2026, 11, 28), date(2026, 11, 29))
    assert support.crawl_window(None, None, today=date(2026, 11, 29)) == (date(2026, 11, 28), date(2026, 11, 29))
    # A missed night is caught up by the next run; the seen-state skips what is archived already.
    assert support.crawl_window(start, end, lookback_days=2) == (date(2026, 11, 26), date(2026, 11, 29))


def test_crawl_window_from_the_trigger_form():
    start = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
    end = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
    assert support.crawl_window(start, end, {"since": "2026-11-01", "until": None}) == (
        date(2026, 11, 1), date(2026, 11, 29))
    with pytest.raises(ValueError, match=r"since \(2026-12-01\) is after until \(2026-11-29\)"):
        support.crawl_window(start, end, {"since": "2026-12-01"})


def test_parse_manifest_single_list_and_garbage():
    manifest = {"source_id": "tasnim", "warc_file": "/a/tasnim/2026/11/29/tasnim-x.warc.gz", "articles": 3}
    assert support.parse_manifest(json.dumps(manifest), "tasnim") == manifest
    other = {"source_id": "petra"}
    assert support.parse_manifest(json.dumps([other, manifest]), "tasnim") == manifest
    with pytest.raises(support.CrawlFailed, match="printed no JSON manifest"):
        support.parse_manifest("Traceback ...", "tasnim")


def test_run_crawl_raises_with_exit_code(monkeypatch):
    monkeypatch.setattr(support, "newswire_command",
                        lambda: [sys.executable, "-c", "import sys; sys.exit(3)"])
    with pytest.raises(support.CrawlFailed, match="crawl of tasnim exited with 3"):
        support.run_crawl("tasnim", date(2026, 11, 28), date(2026, 11, 29))


def test_run_crawl_passes_the_window_and_returns_the_manifest_summary(monkeypatch, caplog):
    echo = ("import json, sys; print(json.dumps({'source_id': sys.argv[3], 'run_id': ' '.join(sys.argv[1:]),"
            " 'warc_file': '/a/t.warc.gz', 'manifest_file': '/a/t.manifest.json', 'counts': {'skipped': 2},"
            " 'skipped': [{'url': 'https://x/skipped-1'}, {'url': 'https://x/skipped-2'}], 'archived': []}))")
    monkeypatch.setattr(support, "newswire_command", lambda: [sys.executable, "-c", echo])
    with caplog.at_level("INFO"):
        summary = support.run_crawl("tasnim", date(2026, 11, 28), date(2026, 11, 29))
    assert summary["run_id"] == "crawl --source tasnim --since 2026-11-28 --until 2026-11-29 --json"
    assert (summary["warc_file"], summary["manifest_file"], summary["counts"]) == (
        "/a/t.warc.gz", "/a/t.manifest.json", {"skipped": 2})
    assert "skipped" not in summary and "archived" not in summary  # the lists stay in the manifest file
    [logged] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("crawl of tasnim")]
    assert "skipped-1" not in logged and '"skipped": 2' in logged
    assert support.archive_event_extra([summary]) == {"warc_files": ["/a/t.warc.gz"], "sources": ["tasnim"]}


@pytest.mark.parametrize("fields", [
    {"host": "https://ingest:hunter2-pw@search.internal:9200"},
    {"host": "search.internal", "port": 9200, "login": "ingest", "password": "hunter2-pw"},
    {"host": "https://search.internal", "password": "hunter2-pw", "extra": json.dumps({"password": "hunter2-pw",
                                                                                        "api_key": "hunter2-pw"})},
])
def test_task_settings_log_no_credential(monkeypatch, caplog, fields):
    conn = Connection(conn_id="newswire_search", conn_type="generic", **fields)
    monkeypatch.setattr(Connection, "get", classmethod(lambda cls, conn_id: conn))
    with caplog.at_level("DEBUG"):
        settings = support.task_settings()
    assert "search.internal" in settings.search_url
    assert "search.internal" in caplog.text
    assert "hunter2-pw" not in caplog.text and "ingest:" not in caplog.text


def test_archive_event_extra_skips_failed_sources():
    manifests = [
        {"source_id": "tasnim", "warc_file": "/a/t1.warc.gz"},
        None,  # a source whose crawl failed has no manifest
        {"source_id": "petra", "warc_file": "/a/p1.warc.gz"},
        {"source_id": "wam", "warc_file": None},  # crawled, nothing new to archive
    ]
    assert support.archive_event_extra(manifests) == {
        "warc_files": ["/a/p1.warc.gz", "/a/t1.warc.gz"], "sources": ["petra", "tasnim", "wam"]}


def test_warc_files_from_triggering_events():
    event = lambda files: SimpleNamespace(extra={"warc_files": files})  # noqa: E731
    events = {support.RAW_ARCHIVE: [event(["/a/2.warc.gz"]), event(["/a/1.warc.gz", "/a/2.warc.gz"])]}
    assert support.warc_files_from_events(events) == ["/a/1.warc.gz", "/a/2.warc.gz"]
    assert support.warc_files_from_events({support.RAW_ARCHIVE: [event([])]}) == []
    assert support.warc_files_from_events({}) is None


def test_reprocess_params_are_checked_and_fail_without_retry():
    with pytest.raises(AirflowFailException, match="since must be a date as YYYY-MM-DD"):
        support.reprocess_from_params(None, {"since": "29/11/2026"})
    with pytest.raises(AirflowFailException, match=r"since \(2026-11-29\) is after until \(2026-11-01\)"):
        support.reprocess_from_params(None, {"since": "2026-11-29", "until": "2026-11-01"})


def test_task_instances_record_the_celery_worker_name_where_one_is_set(monkeypatch):
    import socket

    monkeypatch.setenv(support.WORKER_HOSTNAME_ENV, "w2@vm")
    assert support.worker_hostname() == "w2@vm"
    monkeypatch.delenv(support.WORKER_HOSTNAME_ENV)
    assert support.worker_hostname() == socket.getfqdn()
