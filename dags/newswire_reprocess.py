"""Reprocess archived crawls from the trigger form; reads the raw archive only, never the sites.

`rebuild` builds the next index version and moves both aliases to it only when it is complete,
so searches keep answering and a failed rebuild leaves the old index serving.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, get_current_context, task

from kernel.settings import get_settings
from newswire import airflow_support as support

SOURCES = support.source_choices(get_settings())


@dag(
    dag_id="newswire_reprocess",
    schedule=None,
    default_args=support.REPROCESS_TASK_ARGS,
    doc_md=__doc__,
    params={
        **support.day_window_params(
            since=("From (crawl day)", "First crawl day to reprocess (UTC). Empty: from the oldest archived crawl."),
            until=("Until (crawl day)", "Last crawl day to reprocess, inclusive (UTC). Empty: up to the newest crawl."),
        ),
        "sources": Param(
            None, type=["null", "array"], title="Sources",
            description="Sources to reprocess. Empty: every source.",
            items={"type": "string", "enum": list(SOURCES)}, uniqueItems=True,
            examples=list(SOURCES), values_display=SOURCES,
        ),
        "mode": Param(
            "update", type="string", title="Mode", enum=["update", "rebuild"],
            description="Update the records in the serving index, or build a new index version.",
            values_display={
                "update": "update in place",
                "rebuild": "rebuild into a new index version and switch the aliases when it is complete",
            },
        ),
        "dry_run": Param(
            False, type="boolean", title="Dry run",
            description="Only list the archived WARC files that would be reprocessed.",
        ),
    },
    **support.DAG_DEFAULTS,
)
def newswire_reprocess():
    @task
    def reprocess_archive() -> dict:
        return support.reprocess_from_params(support.task_settings(), get_current_context()["params"])

    reprocess_archive()


newswire_reprocess()
