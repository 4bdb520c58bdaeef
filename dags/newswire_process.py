"""Process new crawls: runs whenever the crawl DAG updates the raw-archive asset.

Extract, clean, language, attribution, dedup, processed records per source and day, bulk index;
records that fail go to the dead-letter files. Fails only above NEWSWIRE_MAX_FAILURE_RATE.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from newswire import airflow_support as support


@dag(
    dag_id="newswire_process",
    schedule=[support.RAW_ARCHIVE],
    default_args=support.PROCESS_TASK_ARGS,
    doc_md=__doc__,
    **support.DAG_DEFAULTS,
)
def newswire_process():
    @task(inlets=[support.RAW_ARCHIVE])
    def process_new_crawls(*, triggering_asset_events=None) -> dict:
        return support.process_new_crawls(support.task_settings(), triggering_asset_events)

    process_new_crawls()


newswire_process()
