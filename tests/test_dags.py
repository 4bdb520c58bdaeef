"""The DAG folder imports cleanly and the DAGs are shaped as the issue documents them."""

from __future__ import annotations

import pytest
from airflow_harness import DAGS_FOLDER

from kernel.settings import get_settings

EXPECTED = {"newswire_crawl", "newswire_process", "newswire_reprocess"}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))


def test_no_import_errors_and_three_dags(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == EXPECTED


def test_every_task_has_retries_backoff_and_timeout(dagbag):
    for dag in dagbag.dags.values():
        for t in dag.tasks:
            assert t.retries >= 1, f"{dag.dag_id}.{t.task_id} has no retries"
            assert t.retry_exponential_backoff, f"{dag.dag_id}.{t.task_id} retries without backoff"
            assert t.execution_timeout is not None, f"{dag.dag_id}.{t.task_id} has no execution_timeout"


def test_crawl_schedule_from_settings_and_no_catchup(dagbag):
    dag = dagbag.dags["newswire_crawl"]
    assert dag.timetable.expression == get_settings().crawl_schedule == "0 2 * * *"
    assert dag.catchup is False
    crawl = dag.get_task("crawl")
    assert crawl.retries == 3 and crawl.max_retry_delay.total_seconds() == 3600
    publish = dag.get_task("publish_raw_archive")
    assert publish.trigger_rule == "all_done_min_one_success"
    assert [o.uri for o in publish.outlets] == ["newswire://raw-archive/"]


def test_crawl_schedule_follows_the_setting(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("NEWSWIRE_CRAWL_SCHEDULE", "30 3 * * *")
    bag = DagBag(dag_folder=str(DAGS_FOLDER / "newswire_crawl.py"))
    assert bag.import_errors == {}
    assert bag.dags["newswire_crawl"].timetable.expression == "30 3 * * *"


def test_process_runs_on_the_raw_archive_asset(dagbag):
    dag = dagbag.dags["newswire_process"]
    assert type(dag.timetable).__name__ == "AssetTriggeredTimetable"
    assert [a.uri for a in dag.timetable.asset_condition.objects] == ["newswire://raw-archive/"]
    assert dag.catchup is False


def test_reprocess_is_manual_with_typed_params(dagbag):
    from kernel.registry import load_registry

    dag = dagbag.dags["newswire_reprocess"]
    assert dag.timetable.__class__.__name__ == "NullTimetable"
    schemas = {name: param.schema for name, param in dag.params.items()}
    assert schemas["since"]["format"] == schemas["until"]["format"] == "date"
    assert "string" in schemas["since"]["type"]
    registry_ids = [s.id for s in load_registry(get_settings())]
    assert "array" in schemas["sources"]["type"]
    assert schemas["sources"]["items"]["enum"] == registry_ids == schemas["sources"]["examples"]
    assert schemas["mode"]["enum"] == ["update", "rebuild"]
    assert schemas["mode"]["values_display"]["rebuild"] == (
        "rebuild into a new index version and switch the aliases when it is complete")
    assert schemas["mode"]["values_display"]["update"] == "update in place"
    assert schemas["dry_run"]["type"] == "boolean"
    assert all(schema.get("title") and dag.params.get_param(name).description
               for name, schema in schemas.items())
    assert dag.params["mode"] == "update" and dag.params["dry_run"] is False


@pytest.mark.parametrize("path", sorted(DAGS_FOLDER.glob("*.py")), ids=lambda p: p.name)
def test_dag_files_use_airflow_3_idioms_only(path):
    source = path.read_text(encoding="utf-8")
    assert "from airflow.sdk import" in source
    for leftover in ("schedule_interval", "airflow.operators.python", "airflow.decorators", "execution_date",
                     "days_ago", "provide_context"):
        assert leftover not in source, f"{path.name} uses the Airflow 2 leftover {leftover!r}"
