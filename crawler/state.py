"""Seen-state: which article URLs are already in the raw archive, per source.

Stored in a small SQLite file under ``settings.state_dir`` so it survives between runs. It is a
cache of what the archive holds: :func:`rebuild_state` recreates it from the WARC metadata records.

A crawl adds its keys once its file is published, and a killed crawl saves nothing here: its open
WARC file, flushed after every article, is the record of what it archived, and
:func:`recover_unpublished` publishes it and adds its keys before the next crawl of that source
reads the state, so only articles in a published file count as seen. On object storage nothing of
a file is there before it is closed: the next crawl fetches a killed crawl's articles again.
"""

from __future__ import annotations

import fcntl
import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from crawler.archive import publish_recovered
from kernel.archive import list_warc_files
from kernel.settings import Settings
from kernel.storage import open_url

STATE_FILE = "crawl-seen.sqlite3"
LOCK_DIR = "crawl-locks"


class CrawlBusyError(RuntimeError):
    """Another crawl of the same source is running."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    source_id TEXT NOT NULL,
    url_key TEXT NOT NULL,
    warc_file TEXT NOT NULL,
    record_id TEXT NOT NULL,
    PRIMARY KEY (source_id, url_key)
)
"""


@dataclass(frozen=True)
class SeenEntry:
    source_id: str
    url_key: str
    warc_file: str
    record_id: str


class SeenState:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        with closing(self._connect()) as db, db:
            db.execute(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def keys(self, source_id: str) -> set[str]:
        with closing(self._connect()) as db:
            rows = db.execute("SELECT url_key FROM seen WHERE source_id = ?", (source_id,))
            return {key for (key,) in rows}

    def add(self, entries: Iterable[SeenEntry]) -> int:
        """Record entries (first archive wins); returns how many keys were new."""
        rows = [(e.source_id, e.url_key, e.warc_file, e.record_id) for e in entries]
        with closing(self._connect()) as db, db:
            before = db.total_changes
            db.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?, ?, ?)", rows)
            return db.total_changes - before

    def clear(self, source_id: str | None = None) -> None:
        with closing(self._connect()) as db, db:
            if source_id is None:
                db.execute("DELETE FROM seen")
            else:
                db.execute("DELETE FROM seen WHERE source_id = ?", (source_id,))


def open_state(settings: Settings) -> SeenState:
    return SeenState(Path(settings.state_dir) / STATE_FILE)


def seen_entries_in_warc(warc_url: str) -> Iterator[SeenEntry]:
    """The keys recorded in a WARC's metadata records by the crawler."""
    with open_url(warc_url, "rb") as stream:
        for record in ArchiveIterator(stream):
            if record.rec_type != "metadata":
                continue
            meta = json.loads(record.content_stream().read())
            for key in meta.get("url_keys", []):
                yield SeenEntry(meta["source_id"], key, warc_url,
                                record.rec_headers.get_header("WARC-Refers-To") or "")


@contextmanager
def crawl_lock(settings: Settings, source_id: str) -> Iterator[None]:
    """Held while a source is crawled or its open files recovered: one writer per source.

    An flock, so the kernel releases it when a crawl process dies however it dies.
    """
    path = Path(settings.state_dir) / LOCK_DIR / f"{source_id}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CrawlBusyError(f"another crawl of {source_id} is running") from None
        yield


def recover_unpublished(settings: Settings, source_id: str) -> list[str]:
    """Publish the WARC files killed crawls of the source left open, and add their keys to the
    seen-state; returns the published URLs. The caller holds the source's :func:`crawl_lock`."""
    state = open_state(settings)
    published = []
    for warc in list_warc_files(settings.archive, sources=[source_id], unpublished=True):
        if publish_recovered(warc):
            state.add(seen_entries_in_warc(warc.url))
            published.append(warc.url)
    return published


def rebuild_state(settings: Settings, source_id: str | None = None) -> dict[str, int]:
    """Recreate the seen-state from the archive (after recovering what killed crawls left open
    by sources not being crawled now); returns keys per source."""
    for open_source in sorted({w.source_id for w in list_warc_files(
            settings.archive, sources=[source_id] if source_id else None, unpublished=True)}):
        try:
            with crawl_lock(settings, open_source):
                recover_unpublished(settings, open_source)
        except CrawlBusyError:
            pass  # a crawl is writing that file now and will publish it
    state = open_state(settings)
    state.clear(source_id)
    sources: set[str] = set()
    for warc in list_warc_files(settings.archive, sources=[source_id] if source_id else None):
        entries = list(seen_entries_in_warc(warc.url))
        state.add(entries)
        sources.update(entry.source_id for entry in entries)
    return {sid: len(state.keys(sid)) for sid in sorted(sources)}
