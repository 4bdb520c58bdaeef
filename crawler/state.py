"""Seen-state: which article URLs are already in the raw archive, per source.

The archive (shared by every crawling machine) is the truth: each published WARC file's
manifest lists the URL keys of its articles (and its metadata records hold them too, for a file
whose manifest is missing). This machine keeps a cache of it in a small SQLite file under
``settings.state_dir``: the keys, and which published files it has loaded them from. Before a
crawl of a source reads its keys, :func:`load_archived` loads every published file of that source
not loaded yet (those another machine wrote, or every one on a fresh state_dir), and a crawl that
publishes a file adds its keys and marks it loaded. :func:`rebuild_state` clears the cache and
loads it again.

A crawl adds its keys once its file is published, and a killed crawl saves nothing here: its open
WARC file, flushed after every article, is the record of what it archived, and
:func:`recover_unpublished` publishes it and adds its keys before the next crawl of that source
reads the state, so only articles in a published file count as seen. On object storage nothing of
a file is there before it is closed: the next crawl fetches a killed crawl's articles again.

One crawl per source at a time, across machines: :func:`crawl_lock` is an flock in state_dir,
so it only excludes crawls on the same machine. Across machines the scheduler does it: the crawl
DAG runs one ``crawl`` task per source per run and one run at a time (``max_active_runs=1``). Two
machines crawling *different* sources at once never touch each other's files or keys; two
crawling the same source at once would archive its new articles twice, and one would publish
(as recovered) the file the other is still writing. docs/scaling.md says so too.
"""

from __future__ import annotations

import fcntl
import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from crawler.archive import complete_articles, publish_recovered
from kernel.archive import WarcFile, list_warc_files
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
);
CREATE TABLE IF NOT EXISTS loaded (
    source_id TEXT NOT NULL,
    archive_path TEXT NOT NULL,
    PRIMARY KEY (source_id, archive_path)
);
"""
"""``seen``: the keys; ``loaded``: the published WARC files (by their path under the archive root,
however the root is spelled) whose keys are all in ``seen``. A state file of an earlier version
has no ``loaded`` table: every file is loaded once more, adding no key twice."""


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
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def keys(self, source_id: str) -> set[str]:
        with closing(self._connect()) as db:
            rows = db.execute("SELECT url_key FROM seen WHERE source_id = ?", (source_id,))
            return {key for (key,) in rows}

    def loaded(self, source_id: str | None = None) -> set[str]:
        """Archive paths of the published files whose keys are loaded (of one source, or all)."""
        with closing(self._connect()) as db:
            rows = (db.execute("SELECT archive_path FROM loaded WHERE source_id = ?", (source_id,)) if source_id
                    else db.execute("SELECT archive_path FROM loaded"))
            return {path for (path,) in rows}

    def load(self, warc: WarcFile, entries: Iterable[SeenEntry]) -> int:
        """Record the keys of one published file (first archive wins) and mark the file loaded, in
        one transaction; returns how many keys were new."""
        rows = [(e.source_id, e.url_key, e.warc_file, e.record_id) for e in entries]
        with closing(self._connect()) as db, db:
            before = db.total_changes
            db.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?, ?, ?)", rows)
            new_keys = db.total_changes - before
            db.execute("INSERT OR IGNORE INTO loaded VALUES (?, ?)", (warc.source_id, warc.archive_path))
            return new_keys

    def clear(self, source_id: str | None = None) -> None:
        with closing(self._connect()) as db, db:
            for table in ("seen", "loaded"):
                if source_id is None:
                    db.execute(f"DELETE FROM {table}")
                else:
                    db.execute(f"DELETE FROM {table} WHERE source_id = ?", (source_id,))


def open_state(settings: Settings) -> SeenState:
    return SeenState(Path(settings.state_dir) / STATE_FILE)


def seen_entries_in_warc(warc: WarcFile) -> list[SeenEntry]:
    """The keys recorded in a WARC's metadata records by the crawler (up to a torn tail)."""
    with open_url(warc.url, "rb") as stream:
        _, articles = complete_articles(stream)
    return [SeenEntry(warc.source_id, key, warc.url, article["warc_record_id"] or "")
            for article in articles for key in article["url_keys"]]


def archived_entries(warc: WarcFile) -> list[SeenEntry]:
    """The keys of a published WARC file: from its manifest (a few kB), or from the file itself
    when the manifest is missing (a crawl killed between publishing and writing it), torn or
    older than the keys in it."""
    try:
        with open_url(warc.manifest_url, "r", encoding="utf-8") as stream:
            archived = json.load(stream)["archived"]
        return [SeenEntry(warc.source_id, key, warc.url, article["warc_record_id"])
                for article in archived for key in article["url_keys"]]
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return seen_entries_in_warc(warc)


def load_archived(settings: Settings, source_id: str | None = None) -> list[WarcFile]:
    """Load the keys of every published WARC file of the source (default: all) that this
    machine's state has not loaded yet; returns those files."""
    state = open_state(settings)
    loaded = state.loaded(source_id)
    fresh = [warc for warc in list_warc_files(settings.archive, sources=[source_id] if source_id else None)
             if warc.archive_path not in loaded]
    for warc in fresh:
        state.load(warc, archived_entries(warc))
    return fresh


@contextmanager
def crawl_lock(settings: Settings, source_id: str) -> Iterator[None]:
    """Held while a source is crawled or its open files recovered: one writer per source.

    An flock, so the kernel releases it when a crawl process dies however it dies; it excludes
    crawls on this machine only (across machines: the module's docstring).
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
            state.load(warc, archived_entries(warc))
            published.append(warc.url)
    return published


def rebuild_state(settings: Settings, source_id: str | None = None) -> dict[str, int]:
    """Recreate the seen-state from the archive (after recovering what killed crawls left open
    by sources not being crawled on this machine now); returns keys per source.

    The crawl lock is this machine's: with several crawling machines, run it while no other
    machine crawls, or it may publish a file that machine is still writing."""
    for open_source in sorted({w.source_id for w in list_warc_files(
            settings.archive, sources=[source_id] if source_id else None, unpublished=True)}):
        try:
            with crawl_lock(settings, open_source):
                recover_unpublished(settings, open_source)
        except CrawlBusyError:
            pass  # a crawl is writing that file now and will publish it
    state = open_state(settings)
    state.clear(source_id)
    sources = {warc.source_id for warc in load_archived(settings, source_id)}
    return {sid: len(state.keys(sid)) for sid in sorted(sources)}
