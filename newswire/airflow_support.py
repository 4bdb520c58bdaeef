"""What only the DAGs need: settings from the `newswire_search` Connection, the raw-archive
asset, the crawl subprocess contract, the trigger-form fields and the failure policy.

The DAG files only wire these together; the work itself is done by the CLI (crawling, in a
subprocess so that Scrapy's reactor is fresh every time) and by :mod:`pipelines.batch` and
:mod:`pipelines.rebuild`. Source selection and date parsing are the CLI's own
(:func:`kernel.registry.select_sources`, :func:`kernel.dates.parse_day`).
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import Asset, Connection, Param
from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException

from kernel.dates import check_window, parse_day
from kernel.registry import load_registry, select_sources
from kernel.settings import Settings, get_settings
from pipelines.index.transport import redact_url

log = logging.getLogger(__name__)

SEARCH_CONN_ID = "newswire_search"

RAW_ARCHIVE = Asset(name="newswire_raw_archive", uri="newswire://raw-archive")
"""Updated by every crawl run in which at least one source was crawled; its event names the new
WARC files. The processing DAG is scheduled on it."""

START_DATE = datetime(2026, 1, 1, tzinfo=UTC)

DAG_DEFAULTS: dict[str, Any] = {"start_date": START_DATE, "catchup": False, "max_active_runs": 1,
                                "tags": ["newswire"]}
"""The @dag arguments every newswire DAG shares."""


def day_param(title: str, description: str) -> Param:
    """An optional YYYY-MM-DD field of a trigger form."""
    return Param(None, type=["null", "string"], format="date", title=title, description=description)


def _task_args(retries: int, first_retry: timedelta, longest_retry: timedelta, timeout: timedelta) -> dict[str, Any]:
    """Task defaults; retries back off exponentially from `first_retry` up to `longest_retry`."""
    return {"retries": retries, "retry_delay": first_retry, "retry_exponential_backoff": 2.0,
            "max_retry_delay": longest_retry, "execution_timeout": timeout}


# A site that is down at 02:00 is tried again a few minutes later, then less and less often,
# instead of hammering it.
CRAWL_TASK_ARGS = _task_args(3, timedelta(minutes=5), timedelta(hours=1), timedelta(hours=2))
PROCESS_TASK_ARGS = _task_args(2, timedelta(minutes=2), timedelta(minutes=30), timedelta(hours=4))
# A failed rebuild deletes its half-built index, so one retry is safe.
REPROCESS_TASK_ARGS = _task_args(1, timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=12))
QUICK_TASK_ARGS = _task_args(1, timedelta(seconds=30), timedelta(minutes=5), timedelta(minutes=5))


class CrawlFailed(RuntimeError):
    pass


# --------------------------------------------------------------------------- settings


def search_overrides(conn: Connection) -> dict[str, Any]:
    """Settings fields for the search engine described by an Airflow Connection.

    host may be a bare host name or a full URL; `schema` is the URL scheme (http/https);
    extra may hold ``api_key``, ``ca_certs`` and ``index_prefix``.
    """
    extra = conn.extra_dejson or {}
    overrides: dict[str, Any] = {}
    if conn.host:
        host = conn.host.rstrip("/")
        if "://" not in host:
            scheme = conn.schema or ("https" if extra.get("ca_certs") else "http")
            host = f"{scheme}://{host}"
        if conn.port and host.count(":") < 2:
            host = f"{host}:{conn.port}"
        overrides["search_url"] = host
    if conn.login:
        overrides["search_user"] = conn.login
    if conn.password:
        overrides["search_password"] = conn.password
    for key, field in (("api_key", "search_api_key"), ("ca_certs", "search_ca_certs"),
                       ("index_prefix", "index_prefix")):
        if extra.get(key):
            overrides[field] = extra[key]
    return overrides


def task_settings(conn_id: str = SEARCH_CONN_ID) -> Settings:
    """Settings for a task: NEWSWIRE_* environment, with the search engine from the Connection
    when it is defined (the CLI, which has no Airflow, uses the environment alone)."""
    try:
        conn = Connection.get(conn_id)
    except AirflowNotFoundException:
        log.info("no Airflow connection %r; search engine settings come from NEWSWIRE_* env", conn_id)
        return get_settings()
    overrides = search_overrides(conn)
    # Only the URL, without user:password@ when the host was written as a full URL.
    log.info("search engine from Airflow connection %r: %s", conn_id, redact_url(overrides.get("search_url", "")))
    return get_settings(**overrides)


# --------------------------------------------------------------------------- sources


def crawl_source_ids(settings: Settings) -> list[str]:
    """The sources one crawl run covers, chosen as `newswire crawl` chooses them."""
    return [source.id for source in select_sources(settings)]


def source_choices(settings: Settings) -> dict[str, str]:
    """Every registered source id with the label shown in the reprocess form."""
    return {source.id: f"{source.name_en} — {source.name_ar}" for source in load_registry(settings)}


# --------------------------------------------------------------------------- crawling


def crawl_window(start: datetime | None, end: datetime | None, params: Mapping | None = None, *,
                 today: date | None = None, lookback_days: int = 0) -> tuple[date, date]:
    """The publication days a run crawls: `since`/`until` from the trigger form when given, else
    the run's data interval, else (a run without one) yesterday and today; widened by
    `lookback_days` before the start, because with catchup off a failed night is never run again
    and the seen-state keeps the overlap from being archived twice."""
    params = params or {}
    if start is None or end is None:
        end_day = today or datetime.now(UTC).date()
        start_day = end_day - timedelta(days=1)
    else:
        start_day, end_day = start.date(), end.date()
    start_day -= timedelta(days=lookback_days)
    since = parse_day(params.get("since"), "since") or start_day
    until = parse_day(params.get("until"), "until") or end_day
    check_window(since, until)
    return since, until


def newswire_command() -> list[str]:
    """The `newswire` CLI of the interpreter running this task (the venv's script when present)."""
    beside = shutil.which("newswire", path=str(Path(sys.executable).parent))
    if beside:
        return [beside]
    return [sys.executable, "-c", "from newswire.cli import main; main()"]


def parse_manifest(stdout: str, source_id: str) -> dict:
    """The manifest printed by `newswire crawl --json` (a manifest, or a list of one per source)."""
    try:
        data = json.loads(stdout)
    except ValueError as exc:
        raise CrawlFailed(f"crawl of {source_id} printed no JSON manifest: {stdout[-500:]!r}") from exc
    if isinstance(data, list):
        matching = [m for m in data if isinstance(m, dict) and m.get("source_id", source_id) == source_id]
        if len(matching) != 1:
            raise CrawlFailed(f"crawl of {source_id} printed {len(data)} manifests, none or several for it")
        data = matching[0]
    if not isinstance(data, dict):
        raise CrawlFailed(f"crawl of {source_id} printed {type(data).__name__}, not a manifest")
    return data


def run_crawl(source_id: str, since: date, until: date) -> dict:
    """Crawl one source in a fresh process and return the summary of its run manifest.

    The crawler's progress and errors go straight to this task's log (stderr is inherited). The
    full manifest, every skipped URL included, is the file next to the WARC file
    (``manifest_file``); the task log and the task's result (XCom) hold its counts only.
    """
    command = [*newswire_command(), "crawl", "--source", source_id,
               "--since", since.isoformat(), "--until", until.isoformat(), "--json"]
    log.info("running %s", " ".join(command))
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        raise CrawlFailed(f"crawl of {source_id} exited with {done.returncode}; its log is above")
    manifest = parse_manifest(done.stdout, source_id)
    if manifest.get("error"):
        raise CrawlFailed(f"crawl of {source_id} broke off: {manifest['error']}")
    summary = manifest_summary(manifest)
    log.info("crawl of %s: %s", source_id, json.dumps(summary, ensure_ascii=False))
    return summary


def manifest_summary(manifest: Mapping) -> dict:
    """What a crawl run's task passes on: where its WARC file and full manifest are, and counts."""
    return {key: manifest.get(key) for key in ("source_id", "run_id", "window", "warc_file", "manifest_file",
                                               "counts", "skipped_by_reason", "failed_by_reason")}


def manifest_warc_files(manifest: Mapping) -> list[str]:
    """The WARC file a crawl run wrote (none when it archived nothing)."""
    return [manifest["warc_file"]] if manifest.get("warc_file") else []


def archive_event_extra(manifests: Iterable[Mapping | None]) -> dict:
    """The extra of one raw-archive asset event: which new WARC files the crawl run wrote.

    Sources whose crawl failed have no manifest (None) and are left out.
    """
    crawled = [m for m in manifests if m]
    return {
        "warc_files": sorted({f for m in crawled for f in manifest_warc_files(m)}),
        "sources": sorted({str(m.get("source_id")) for m in crawled if m.get("source_id")}),
    }


def raise_if_sources_failed(source_ids: Iterable[str], manifests: Iterable[Mapping | None]) -> list[str]:
    """Fail the crawl run, after the archive asset was published, when any source failed.

    The articles of the sources that worked are already published for processing; failing here
    makes the run red so that whoever watches the nightly schedule sees the broken source.
    """
    crawled = {str(m.get("source_id")) for m in manifests if m}
    failed = sorted(set(source_ids) - crawled)
    if failed:
        raise AirflowFailException(f"crawl failed for {', '.join(failed)}; the other sources were published")
    return sorted(crawled)


# --------------------------------------------------------------------------- processing


def warc_files_from_events(events: Mapping | None) -> list[str] | None:
    """New WARC files named by the asset events that triggered a run; None when there were none
    (a manual run), which means "every file not processed yet"."""
    if not events:
        return None
    files: set[str] = set()
    seen_event = False
    for asset_events in events.values():
        for event in asset_events:
            seen_event = True
            files.update((event.extra or {}).get("warc_files") or [])
    return sorted(files) if seen_event else None


def log_counts(title: str, counts: Mapping) -> None:
    """One line per count in the task log; lists (the WARC files of a dry run) one item a line."""
    log.info("%s", title)
    for key, value in counts.items():
        if isinstance(value, list) and value:
            log.info("  %-16s %d:", key, len(value))
            for item in value:
                log.info("      %s", item)
        else:
            log.info("  %-16s %s", key, value)


def process_new_crawls(settings: Settings, events: Mapping | None) -> dict:
    """Process the WARC files of the triggering crawl runs (or all unprocessed ones) and index them.

    Fails only when the share of records that went to the dead-letter files is above
    ``settings.max_failure_rate``; the counts per stage are the task result either way.
    """
    from pipelines.batch import (
        FailureRateExceeded,
        process_archive,
        raise_if_failure_rate_exceeded,
    )

    warc_files = warc_files_from_events(events)
    log.info("processing %s", f"{len(warc_files)} new WARC files" if warc_files is not None
             else "every WARC file not processed yet")
    summary = process_archive(settings, since=None, until=None, sources=None, warc_files=warc_files)
    log_counts("counts per stage", summary)
    try:
        raise_if_failure_rate_exceeded(summary, settings)
    except FailureRateExceeded as exc:
        # The same files would fail the same way again: no retry (retries are for an engine outage).
        raise AirflowFailException(str(exc)) from exc
    return summary


# --------------------------------------------------------------------------- reprocessing


def reprocess_from_params(settings: Settings, params: Mapping) -> dict:
    """Run :func:`pipelines.rebuild.reprocess` with the values of the trigger form."""
    try:
        since = parse_day(params.get("since"), "since")
        until = parse_day(params.get("until"), "until")
        check_window(since, until)
    except ValueError as exc:
        raise AirflowFailException(str(exc)) from exc  # a wrong form value is not worth a retry
    sources = list(params.get("sources") or []) or None
    from pipelines.rebuild import reprocess

    result = reprocess(settings, since=since, until=until, sources=sources,
                       mode=params.get("mode", "update"), dry_run=bool(params.get("dry_run")))
    log_counts(f"reprocess ({result.get('mode')}, dry run: {result.get('dry_run')})", result)
    return result
