"""Run a crawl in this process: one spider per source, one WARC file and manifest per source.

Twisted's reactor starts once per process, so :func:`crawl` is called once per process (the CLI
and the DAG tasks each run ``newswire crawl`` in their own process).
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import UTC, date, datetime

from scrapy.crawler import CrawlerProcess

from crawler.crawl_run import new_run_id, prepare_run
from crawler.settings import scrapy_settings
from crawler.spiders.registry_spider import RegistrySpider
from crawler.state import CrawlBusyError, crawl_lock, open_state
from kernel.registry import select_sources
from kernel.settings import Settings


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

