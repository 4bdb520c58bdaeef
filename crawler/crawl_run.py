"""One source's part of a crawl run: what its spider knows, and how a run is prepared (by `newswire crawl` or by `scrapy crawl registry`)."""

from __future__ import annotations

import secrets
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime

from crawler.report import CrawlReport
from crawler.state import (
    SeenState,
    crawl_lock,
    load_archived,
    open_state,
    recover_unpublished,
)
from kernel.dates import parse_day
from kernel.registry import Source, select_sources
from kernel.settings import Settings, get_settings


@dataclass
class CrawlRun:
    """Everything one source's spider needs to know about the run it belongs to."""

    settings: Settings
    source: Source
    base_url: str  # the real site, or the mirror it is overridden with
    run_id: str
    since: date | None
    until: date | None
    seen: frozenset[str]  # seen-state keys archived by earlier runs
    report: CrawlReport
    manifests: list[dict]


def new_run_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


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
