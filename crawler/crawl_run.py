"""What one source's spider knows about the crawl run it belongs to."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime

from crawler.report import CrawlReport
from kernel.registry import Source
from kernel.settings import Settings


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
