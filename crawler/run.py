"""Run a crawl in this process: one spider per source, one WARC file and manifest per source.

Twisted's reactor starts once per process, so :func:`crawl` is called once per process (the CLI
and the DAG tasks each run ``newswire crawl`` in their own process).
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import UTC, date, datetime

from scrapy.crawler import CrawlerProcess

from crawler.crawl_run import CrawlRun, new_run_id
from crawler.report import CrawlReport
from crawler.settings import scrapy_settings
from crawler.spiders.registry_spider import RegistrySpider
from crawler.state import (
    CrawlBusyError,
    SeenState,
    crawl_lock,
    load_archived,
    open_state,
    recover_unpublished,
)
from kernel.dates import parse_day
from kernel.registry import Source, select_sources
from kernel.settings import Settings, get_settings


def crawl(settings: Settings, source_ids: list[str], *, since: date | None, until: date | None,
          log_level: str = "WARNING") -> list[dict]:
    """Crawl the sources (or settings.enabled_sources, or every enabled one) once.

    Returns one manifest per source, in the order of ``source_ids``; a source whose crawl broke
    off before writing its manifest gets ``{"source_id": ..., "error": ...}`` instead.
    """
    if since and until and since > until:
        raise ValueError(f"--since {since} is after --until {until}")
    sources = select_sources(settings, source_ids)
    started_at = datetime.now(UTC)
    run_id = new_run_id(started_at)
    state = open_state(settings)
    manifests: list[dict] = []
    busy: dict[str, str] = {}
    process = CrawlerProcess(scrapy_settings(settings, log_level=log_level))
    with ExitStack() as locks:
        for source in sources:
            try:
                locks.enter_context(crawl_lock(settings, source.id))
            except CrawlBusyError as exc:
                busy[source.id] = str(exc)
                continue
            process.crawl(RegistrySpider, run=prepare_run(settings, source, run_id, since, until, started_at,
                                                          state, manifests))
        if len(busy) < len(sources):
            process.start()
    by_source = {m["source_id"]: m for m in manifests}
    return [
        by_source.get(s.id) or {"source_id": s.id, "run_id": run_id, "error": busy.get(
            s.id, "the crawl stopped before its manifest was written; see the log")}
        for s in sources
    ]


def prepare_run(settings: Settings, source: Source, run_id: str, since: date | None, until: date | None,
                started_at: datetime, state: SeenState, manifests: list[dict]) -> CrawlRun:
    """One source's part of a run; the caller holds the source's :func:`crawl_lock`."""
    # before the state is read: what killed crawls left open, and what other machines archived
    recover_unpublished(settings, source.id)
    load_archived(settings, source.id)
    base_url = settings.base_url_overrides.get(source.id, source.base_url).rstrip("/")
    report = CrawlReport(source.id, run_id, base_url, since, until, started_at)
    return CrawlRun(settings, source, base_url, run_id, since, until, frozenset(state.keys(source.id)), report,
                    manifests)


def run_for_scrapy_tool(source_id: str | None, since: str | None, until: str | None) -> tuple[CrawlRun, ExitStack]:
    """The run of `scrapy crawl registry -a source=ID [-a since=YYYY-MM-DD] [-a until=YYYY-MM-DD]`
    (scrapy.cfg): the same archive, seen-state, lock and manifest as `newswire crawl --source ID`.
    Closing the returned stack releases the source's lock."""
    from scrapy.exceptions import UsageError

    if not source_id:
        raise UsageError("name the source: scrapy crawl registry -a source=ID")
    settings = get_settings()
    try:
        [source] = select_sources(settings, [source_id])
        window = parse_day(since, "since"), parse_day(until, "until")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    lock = ExitStack()
    lock.enter_context(crawl_lock(settings, source.id))
    started_at = datetime.now(UTC)
    return prepare_run(settings, source, new_run_id(started_at), *window, started_at, open_state(settings), []), lock
