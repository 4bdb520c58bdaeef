"""Nightly crawl: every enabled source in its own mapped task, then the raw-archive asset.

The schedule is NEWSWIRE_CRAWL_SCHEDULE (default 02:00 UTC). Each run crawls the articles
published in its data interval (the time since the previous scheduled run) that are not archived
yet; a manual run may widen the window with `since` / `until`.
"""

from __future__ import annotations

from airflow.sdk import (
    CronDataIntervalTimetable,
    TriggerRule,
    dag,
    get_current_context,
    task,
)

from kernel.settings import get_settings
from newswire import airflow_support as support

settings = get_settings()


@dag(
    dag_id="newswire_crawl",
    schedule=CronDataIntervalTimetable(settings.crawl_schedule, timezone="UTC"),
    default_args=support.QUICK_TASK_ARGS,
    doc_md=__doc__,
    params=support.day_window_params(
        since=("Published since", "First publication day to crawl. Empty: the start of the run's data interval."),
        until=("Published until", "Last publication day to crawl, inclusive. Empty: the end of the run's data interval."),
    ),
    **support.DAG_DEFAULTS,
)
def newswire_crawl():
    @task
    def enabled_sources() -> list[str]:
        return support.crawl_source_ids(support.task_settings())

    @task(map_index_template="{{ source_id }}", **support.CRAWL_TASK_ARGS)
    def crawl(source_id: str) -> dict:
        context = get_current_context()
        context["source_id"] = source_id  # names the mapped task in the UI
        since, until = support.crawl_window(context.get("data_interval_start"), context.get("data_interval_end"),
                                            context["params"], lookback_days=settings.crawl_lookback_days)
        return support.run_crawl(source_id, since, until)

    # Runs once every source has finished, as long as the crawl of at least one of them succeeded.
    @task(trigger_rule=TriggerRule.ALL_DONE_MIN_ONE_SUCCESS, outlets=[support.RAW_ARCHIVE])
    def publish_raw_archive(manifests: list[dict | None], *, outlet_events=None) -> dict:
        extra = support.archive_event_extra(manifests)
        outlet_events[support.RAW_ARCHIVE].extra = extra
        return extra

    # The run turns red when a source failed, after the others were published.
    @task(trigger_rule=TriggerRule.ALL_DONE)
    def check_every_source_crawled(source_ids: list[str], manifests: list[dict | None]) -> list[str]:
        return support.raise_if_sources_failed(source_ids, manifests)

    source_ids = enabled_sources()
    manifests = crawl.expand(source_id=source_ids)
    publish_raw_archive(manifests) >> check_every_source_crawled(source_ids, manifests)


newswire_crawl()
