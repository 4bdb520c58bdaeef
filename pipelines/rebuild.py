"""Reprocessing archived crawls after a parser improves: in place, or as a new index version.

A rebuild is a transaction: the next index version is filled beside the serving one and both
aliases move to it in one request only when it is complete; on any failure it is deleted and
the old index keeps serving.
"""

from __future__ import annotations

import logging
from datetime import date

from kernel.archive import list_warc_files
from kernel.settings import Settings
from pipelines.batch import IndexingIncomplete, ProgressCallback, process_archive

log = logging.getLogger(__name__)


def reprocess(
    settings: Settings,
    *,
    since: date | None,
    until: date | None,
    sources: list[str] | None,
    mode: str = "update",
    dry_run: bool = False,
    progress: ProgressCallback = lambda stage, amount: None,
) -> dict:
    """Run processing again over archived crawls, never the sites.

    ``update`` overwrites the records in the current index. ``rebuild`` builds the next index
    version (a copy of the current one with the window processed again on top), checks it and
    only then moves both aliases atomically; on any failure the old index keeps serving.
    """
    if mode not in ("update", "rebuild"):
        raise ValueError(f"unknown mode {mode!r}: use 'update' or 'rebuild'")
    warcs = list_warc_files(settings.archive, since=since, until=until, sources=sources)
    plan = {"mode": mode, "dry_run": dry_run, "since": str(since) if since else None,
            "until": str(until) if until else None, "sources": sources or "all",
            "warc_files": [w.url for w in warcs]}
    if dry_run:
        return plan
    files = [w.url for w in warcs]
    if mode == "update":
        return plan | process_archive(settings, warc_files=files, progress=progress)

    from pipelines.index import SearchEngine

    engine = SearchEngine.connect(settings)
    engine.check_health()
    old_index = engine.ensure_ready()
    new_index = engine.create_next_version()
    try:
        copied = engine.copy_documents(old_index, new_index)
        summary = process_archive(settings, warc_files=files, target_index=new_index, progress=progress)
        if summary["pending_warc_files"]:
            raise IndexingIncomplete(f"rebuild of {new_index}: {summary['index_failed']} documents could not be "
                                     f"indexed ({summary['index_failure']})")
        expected = max(copied, engine.count(old_index))
        got = engine.count(new_index)
        if got < expected:
            raise RuntimeError(f"rebuild of {new_index} has {got} documents, fewer than the {expected} serving now")
    except BaseException:
        try:
            engine.delete_index(new_index)
        except Exception:  # the engine may be what failed: report the rebuild's own error, not this
            log.exception("could not delete the half-built %s; `newswire index retire %s` removes it",
                          new_index, new_index)
        raise
    engine.switch_aliases(new_index)
    return plan | summary | {"previous_index": old_index, "index": new_index, "documents": got}
