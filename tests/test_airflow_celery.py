"""The CeleryExecutor soak: three nights of the demo mirror crawled and processed through the real
scheduler and Celery workers of infra/celery/up.sh (PostgreSQL metadata database, redis broker),
once with one worker and once with two. The two-worker run must spread its tasks over both
workers (the crawl of each source and the processing of each WARC file are mapped tasks) and end
with the same documents and story clusters as the one-worker run.

Select it with `-m celery`; it prints the wall time of each run (trigger of the first night to the
end of the last night's processing).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from airflow_harness import REPO_ROOT, VENV_BIN, AirflowServer, free_port

from kernel.settings import get_settings

pytestmark = [pytest.mark.celery, pytest.mark.airflow, pytest.mark.engine]

UP = REPO_ROOT / "infra" / "celery" / "up.sh"
DOWN = REPO_ROOT / "infra" / "celery" / "down.sh"
# Three nights, each crawling the demo articles published in its own window.
NIGHTS = [(date(2026, 11, 20), date(2026, 11, 22)), (date(2026, 11, 23), date(2026, 11, 25)),
          (date(2026, 11, 26), date(2026, 11, 28))]
RUN_TIMEOUT = 1200  # seconds per night and DAG: the machine is shared and small
# A schedule whose first interval after the DAGs' start date ends in 2032: unpausing the crawl
# DAG creates no scheduled run, so the soak's runs are exactly the nights it triggers.
NO_SCHEDULED_RUN = "0 2 29 2 *"


@dataclass
class SoakRun:
    workers: int
    wall_seconds: float
    hostnames: dict[str, set[str]]  # "dag_id.task_id" -> Celery hostnames that ran it
    documents: dict[str, str | None]  # document id -> story_cluster
    sources: set[str]


def _runs(server: AirflowServer, dag_id: str, token: str) -> list[dict]:
    return server.api("GET", f"/dags/{dag_id}/dagRuns?limit=100", token=token)["dag_runs"]


def _wait_for_process_runs(server: AirflowServer, count: int) -> list[dict]:
    """Until `count` runs of newswire_process (scheduled on the crawl's asset) have succeeded."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        runs = _runs(server, "newswire_process", server.token())
        assert not [r for r in runs if r["state"] == "failed"], f"a processing run failed; logs in {server.log_path}"
        if len(runs) >= count and all(r["state"] == "success" for r in runs):
            return runs
        time.sleep(3)
    raise TimeoutError(f"{count} newswire_process runs not done after {RUN_TIMEOUT}s; logs in {server.log_path}")


def _hostnames(server: AirflowServer, runs: dict[str, list[dict]]) -> dict[str, set[str]]:
    token = server.token()
    seen: dict[str, set[str]] = {}
    for dag_id, dag_runs in runs.items():
        for run in dag_runs:
            instances = server.api("GET", f"/dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances",
                                   token=token)["task_instances"]
            for ti in instances:
                seen.setdefault(f"{dag_id}.{ti['task_id']}", set()).add(ti["hostname"])
    return seen


def _demo_articles_in_nights() -> list[str]:
    """Paths of the demo mirror's articles published inside one of the nights."""
    from crawler.demo_site import load_articles

    return [article["path"] for article in load_articles()
            if any(since <= datetime.fromisoformat(str(article["published"])).date() <= until
                   for since, until in NIGHTS)]


def soak(workers: int, engine_settings, mirror_urls: dict[str, str], data_dir: Path) -> SoakRun:
    """Bring the deployment up with `workers` Celery workers, run the nights, bring it down."""
    deployment = Path(tempfile.mkdtemp(prefix=f"newswire-celery-{workers}w-"))  # postgres must reach it
    index_prefix = f"{engine_settings.index_prefix}-celery{workers}"
    env = {
        **os.environ,
        "NEWSWIRE_VENV_BIN": str(VENV_BIN),
        "NEWSWIRE_DATA_DIR": str(data_dir),
        "NEWSWIRE_INDEX_PREFIX": index_prefix,
        "NEWSWIRE_ENABLED_SOURCES": json.dumps(sorted(mirror_urls)),
        "NEWSWIRE_BASE_URL_OVERRIDES": json.dumps(mirror_urls),
        "NEWSWIRE_CRAWL_SCHEDULE": NO_SCHEDULED_RUN,
    }
    api_port = free_port()
    # One task slot per worker: two workers have twice the slots of one.
    subprocess.run(["bash", str(UP), str(deployment), "--workers", str(workers), "--concurrency", "1",
                    "--api-port", str(api_port), "--pg-port", str(free_port()), "--redis-port", str(free_port())],
                   env=env, check=True, timeout=900)
    try:
        home = deployment / "airflow"
        password = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
        server = AirflowServer(url=f"http://127.0.0.1:{api_port}", home=home, username="admin",
                               password=password, env=env, log_path=deployment / "logs")
        server.wait_for_dag("newswire_process", timeout=600)
        server.wait_for_dag("newswire_crawl", timeout=600)
        started = time.monotonic()
        crawl_runs = []
        for night, (since, until) in enumerate(NIGHTS, start=1):
            run = server.api("POST", "/dags/newswire_crawl/dagRuns", {
                "logical_date": f"{until + timedelta(days=1)}T02:00:00Z",
                "conf": {"since": since.isoformat(), "until": until.isoformat()}})
            finished = server.wait_for_run("newswire_crawl", run["dag_run_id"], timeout=RUN_TIMEOUT)
            assert finished["state"] == "success", f"crawl of night {night} {finished['state']}; logs in {deployment}"
            crawl_runs.append(finished)
            # One night after the other, as the schedule does: processing of night n ends before
            # night n+1 is crawled, so both runs cluster the same batches.
            process_runs = _wait_for_process_runs(server, night)
        wall_seconds = time.monotonic() - started
        hostnames = _hostnames(server, {"newswire_crawl": crawl_runs, "newswire_process": process_runs})
    finally:
        subprocess.run(["bash", str(DOWN), str(deployment)], check=True, timeout=600)
    shutil.rmtree(deployment, ignore_errors=True)

    from pipelines.index import SearchEngine

    engine = SearchEngine.connect(get_settings(index_prefix=index_prefix, data_dir=data_dir))
    engine.refresh()
    hits = engine.request("POST", f"/{engine.settings.read_alias}/_search",
                          {"size": 1000, "_source": ["story_cluster", "source_id"]})["hits"]["hits"]
    return SoakRun(workers=workers, wall_seconds=wall_seconds, hostnames=hostnames,
                   documents={hit["_id"]: hit["_source"]["story_cluster"] for hit in hits},
                   sources={hit["_source"]["source_id"] for hit in hits})


def test_two_celery_workers_share_the_nights_and_index_what_one_worker_indexes(engine_settings,
                                                                             tmp_path_factory):
    from crawler.mirror import serve_demo_mirror

    with serve_demo_mirror() as mirror:
        one = soak(1, engine_settings, mirror.base_urls, tmp_path_factory.mktemp("celery-data-1w"))
    with serve_demo_mirror() as mirror:
        two = soak(2, engine_settings, mirror.base_urls, tmp_path_factory.mktemp("celery-data-2w"))
        hosts = {f"w{n}@{os.uname().nodename}" for n in (1, 2)}

    print(f"\nCeleryExecutor soak, {len(NIGHTS)} nights of {len(mirror.base_urls)} sources: "
          f"1 worker {one.wall_seconds:.0f}s, 2 workers {two.wall_seconds:.0f}s "
          f"(ratio {two.wall_seconds / one.wall_seconds:.2f}); {len(two.documents)} documents, "
          f"{len(set(two.documents.values()))} story clusters")
    for task, names in sorted(two.hostnames.items()):
        print(f"  {task}: {', '.join(sorted(names))}")

    assert set().union(*one.hostnames.values()) == {f"w1@{os.uname().nodename}"}
    assert set().union(*two.hostnames.values()) == hosts, two.hostnames
    # The nights' WARC files (one per source) were processed side by side, by both workers.
    assert two.hostnames["newswire_process.process_warc_file"] == hosts, two.hostnames
    assert one.sources == two.sources == set(mirror.base_urls)
    assert len(one.documents) == len(_demo_articles_in_nights())
    assert two.documents == one.documents
