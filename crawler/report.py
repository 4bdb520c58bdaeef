"""Per-source run report: what was discovered, fetched, archived, skipped or failed, and why."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from crawler.archive import archived_entry


@dataclass
class CrawlReport:
    source_id: str
    run_id: str
    base_url: str
    since: date | None
    until: date | None
    started_at: datetime
    discovered: int = 0
    fetched: int = 0
    archived: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    discovery_errors: list[dict] = field(default_factory=list)
    body_bytes: int = 0

    def skip(self, url: str, reason: str) -> None:
        self.skipped.append({"url": url, "reason": reason})

    def fail(self, url: str, reason: str, detail: str = "") -> None:
        self.failed.append({"url": url, "reason": reason, "detail": detail})

    def archive(self, requested_url: str, final_url: str, record_id: str, url_keys: list[str],
                body_bytes: int) -> None:
        self.archived.append(archived_entry(requested_url, final_url, record_id, url_keys))
        self.body_bytes += body_bytes

    def manifest(self, *, finished_at: datetime, warc_file: str | None, warc_bytes: int,
                 manifest_file: str, new_seen_keys: int) -> dict:
        """The manifest: every discovered link ends archived, skipped or failed exactly once."""
        return {
            "source_id": self.source_id,
            "run_id": self.run_id,
            "base_url": self.base_url,
            "window": {"since": _iso(self.since), "until": _iso(self.until)},
            "started_at": self.started_at.isoformat(),
            "finished_at": finished_at.isoformat(),
            "duration_s": round((finished_at - self.started_at).total_seconds(), 3),
            "warc_file": warc_file,
            "manifest_file": manifest_file,
            "counts": {
                "discovered": self.discovered,
                "fetched": self.fetched,
                "archived": len(self.archived),
                "skipped": len(self.skipped),
                "failed": len(self.failed),
            },
            "skipped_by_reason": dict(sorted(Counter(s["reason"] for s in self.skipped).items())),
            "failed_by_reason": dict(sorted(Counter(f["reason"] for f in self.failed).items())),
            "bytes": {"bodies": self.body_bytes, "warc": warc_bytes},
            "new_seen_keys": new_seen_keys,
            "archived": self.archived,
            "skipped": self.skipped,
            "failed": self.failed,
            "discovery_errors": self.discovery_errors,
        }


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None
