"""Process new crawls: runs whenever the crawl DAG updates the raw-archive asset.

One mapped task per WARC file not processed yet (extract, clean, language, attribution,
processed records, bulk index; failed records go to the dead-letter files), so Celery workers
take the files side by side; then one step names the stories of all of them together and fails
the run when a file failed or the dead letters are above NEWSWIRE_MAX_FAILURE_RATE.
"""

from __future__ import annotations

from airflow.sdk import TriggerRule, dag, get_current_context, task

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
    def new_warc_files(*, triggering_asset_events=None) -> list[str]:
        return support.new_warc_files(support.task_settings(), triggering_asset_events)

    @task(map_index_template="{{ warc_label }}")
    def process_warc_file(warc_file: str) -> dict:
        get_current_context()["warc_label"] = support.warc_label(warc_file)  # names the mapped task in the UI
        return support.process_warc_file(support.task_settings(), warc_file)

    # Runs once every file's task has finished, whether or not all of them succeeded.
    @task(trigger_rule=TriggerRule.ALL_DONE_MIN_ONE_SUCCESS)
    def reconcile_stories(warc_files: list[str], summaries: list[dict | None]) -> dict:
        return support.reconcile_run(support.task_settings(), warc_files, summaries)

    warc_files = new_warc_files()
    reconcile_stories(warc_files, process_warc_file.expand(warc_file=warc_files))


newswire_process()
