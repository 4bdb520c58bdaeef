"""What only the DAGs need: settings from the `newswire_search` Connection, the raw-archive
asset, the crawl subprocess contract, the trigger-form fields, the failure policy and the
failure notification.

The DAG files only wire these together; the work itself is done by the CLI (crawling, in a
subprocess so that Scrapy's reactor is fresh every time) and by :mod:`pipelines.batch` and
:mod:`pipelines.rebuild`. Source selection and date parsing are the CLI's own
(:func:`kernel.registry.select_sources`, :func:`kernel.dates.parse_day`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
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


def day_window_params(since: tuple[str, str], until: tuple[str, str]) -> dict[str, Param]:
    """The optional YYYY-MM-DD `since` and `until` fields of a trigger form, as (title, description)."""
    return {name: Param(None, type=["null", "string"], format="date", title=title, description=description)
            for name, (title, description) in (("since", since), ("until", until))}


# --------------------------------------------------------------------------- failure notification

_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/\s@]+@", re.IGNORECASE)


def _one_line_error(error: object, settings: Settings) -> str:
    """The exception as one line, with any user:password@ of a URL and any configured secret
    masked: the message goes to a chat channel, where credentials must never appear."""
    if error is None:
        return "no exception recorded (killed, timed out or marked failed)"
    text = str(error).strip()
    line = f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__
    line = _URL_CREDENTIALS.sub(r"\g<scheme>***@", line)
    for secret in (settings.search_password, settings.search_api_key):
        if secret and secret.get_secret_value():
            line = line.replace(secret.get_secret_value(), "***")
    return line[:500]


def failure_notice(context: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """What a failed task reports: which DAG, run, task and night, and why, as one JSON object."""
    ti = context.get("ti") or context.get("task_instance")
    logical_date = context.get("logical_date")
    map_index = getattr(ti, "map_index", -1)
    return {
        "event": "newswire_task_failed",
        "dag_id": getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", None),
        "run_id": context.get("run_id") or getattr(ti, "run_id", None),
        "task_id": getattr(ti, "task_id", None),
        "map_index": map_index if map_index is not None and map_index >= 0 else None,
        "try_number": getattr(ti, "try_number", None),
        "logical_date": logical_date.isoformat() if logical_date else None,
        "error": _one_line_error(context.get("exception"), settings),
    }


class FailedTasksAlreadyNotified(AirflowFailException):
    """Raised by a DAG's last step to turn the run red for tasks that failed before it: each of
    those notified when it failed, so this failure is logged but not sent again."""


def notify_failure(context: Mapping[str, Any]) -> None:
    """`on_failure_callback` of every newswire task: log the failure at ERROR and POST it as
    JSON to NEWSWIRE_ALERT_WEBHOOK when set. Airflow calls it once a task has failed for good
    (after its retries), so a red night always reaches whoever watches the channel.

    Never raises: a webhook that is down must not hide the original failure.
    """
    settings = get_settings()
    notice = failure_notice(context, settings)
    log.error("newswire task failed: %s", json.dumps(notice, ensure_ascii=False))
    if settings.alert_webhook is None or isinstance(context.get("exception"), FailedTasksAlreadyNotified):
        return
    request = urllib.request.Request(
        settings.alert_webhook.get_secret_value(), method="POST",
        data=json.dumps(notice, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=10):
            pass
    except (urllib.error.URLError, OSError, ValueError) as exc:
        # The webhook URL may hold a token (Slack-style): only the reason is logged.
        log.error("the failure notification could not be sent to NEWSWIRE_ALERT_WEBHOOK: %s",
                  getattr(exc, "reason", None) or type(exc).__name__)


def _task_args(retries: int, first_retry: timedelta, longest_retry: timedelta, timeout: timedelta) -> dict[str, Any]:
    """Task defaults; retries back off exponentially from `first_retry` up to `longest_retry`;
    a task that fails for good notifies (:func:`notify_failure`)."""
    return {"retries": retries, "retry_delay": first_retry, "retry_exponential_backoff": 2.0,
            "max_retry_delay": longest_retry, "execution_timeout": timeout,
            "on_failure_callback": notify_failure}


# A site that is down at 02:00 is tried again a few minutes later, then less and less often,
# instead of hammering it.
CRAWL_TASK_ARGS = _task_args(3, timedelta(minutes=5), timedelta(hours=1), timedelta(hours=2))
PROCESS_TASK_ARGS = _task_args(2, timedelta(minutes=2), timedelta(minutes=30), timedelta(hours=4))
# A failed rebuild deletes its half-built index, so one retry is safe.
REPROCESS_TASK_ARGS = _task_args(1, timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=12))
QUICK_TASK_ARGS = _task_args(1, timedelta(seconds=30), timedelta(minutes=5), timedelta(minutes=5))


class CrawlFailed(RuntimeError):
    pass


# --------------------------------------------------------------------------- workers

WORKER_HOSTNAME_ENV = "NEWSWIRE_CELERY_HOSTNAME"


def worker_hostname() -> str:
    """Airflow's `core.hostname_callable` in infra/celery/up.sh: the Celery worker's own name
    (w1@HOST, set per worker in NEWSWIRE_CELERY_HOSTNAME), recorded as each task instance's
    hostname; the machine's name in the other processes. Several workers on one machine would
    all be recorded as the machine otherwise."""
    return os.environ.get(WORKER_HOSTNAME_ENV) or socket.getfqdn()


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
        raise FailedTasksAlreadyNotified(f"crawl failed for {', '.join(failed)}; the other sources were published")
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


MAX_FILES_PER_RUN = 500
"""Mapped processing tasks of one run at most: Airflow refuses to map more than
``[core] max_map_length`` (1,024) and a run that cannot map would never catch anything up."""


def new_warc_files(settings: Settings, events: Mapping | None) -> list[str]:
    """The archived WARC files not processed yet, oldest crawl day first, one mapped processing
    task each, at most MAX_FILES_PER_RUN (the rest is taken by the next runs).

    Not only the files the triggering events name: a night whose processing failed (engine down
    through every retry) is caught up by the next run.
    """
    from pipelines.batch import unprocessed_warc_files

    announced = warc_files_from_events(events)
    warcs = sorted(unprocessed_warc_files(settings), key=lambda warc: (warc.crawl_date, warc.url))
    log.info("%d WARC files not processed yet%s%s", len(warcs),
             f" ({len(announced)} announced by the triggering crawl runs)" if announced is not None else "",
             f"; the oldest {MAX_FILES_PER_RUN} now, the rest in the next runs" if len(warcs) > MAX_FILES_PER_RUN else "")
    return [warc.url for warc in warcs[:MAX_FILES_PER_RUN]]


def warc_label(warc_file: str) -> str:
    """How a file's mapped task is named in the UI: source, crawl day and run."""
    from kernel.archive import parse_warc_path

    warc = parse_warc_path(warc_file)
    return f"{warc.source_id} {warc.crawl_date:%Y-%m-%d} {warc.stem}" if warc else warc_file


def process_warc_file(settings: Settings, warc_file: str) -> dict:
    """Process and index one WARC file, each article provisionally its own story (the run's last
    step names the stories of all its files together). Fails with retries (IndexingIncomplete)
    when the engine could not take some documents now; the failure rate is judged for the whole
    run by :func:`reconcile_run`."""
    from pipelines.batch import IndexingIncomplete, process_archive

    summary = process_archive(settings, warc_files=[warc_file], stories=False)
    log_counts(f"counts for {warc_label(warc_file)}", summary)
    if summary["pending_warc_files"]:
        raise IndexingIncomplete(f"{summary['index_failed']} documents could not be indexed now "
                                 f"({summary['index_failure']}); the retry takes the file again")
    return summary


def reconcile_run(settings: Settings, warc_files: list[str], summaries: Iterable[Mapping | None]) -> dict:
    """The run's last step: name the stories of every file its tasks processed as one batch over
    them would (:func:`pipelines.batch.reconcile_stories`), then turn the run red when a file's
    task failed or too many records went to the dead letters. The counts per stage, for the
    whole run, are the task result either way.

    A file whose task failed has no marker, so the next run takes it again.
    """
    from kernel.archive import parse_warc_path
    from pipelines.batch import (
        FailureRateExceeded,
        already_processed,
        combine_summaries,
        raise_if_failure_rate_exceeded,
        reconcile_stories,
    )

    done = already_processed(settings, [w for w in map(parse_warc_path, warc_files) if w is not None])
    processed = [f for f in warc_files if f in done]
    summary = combine_summaries(dict(s) for s in summaries if s)
    stories = reconcile_stories(settings, processed)
    # Each article once, as one batch over the files counts it: a copy that two files hold was
    # processed and indexed by both tasks.
    summary |= {name: stories[name] for name in ("records", "ok", "flagged", "languages", "attributed", "agencies",
                                                 "story_clusters", "story_merges", "stories_renamed",
                                                 "stories_reassigned")}
    summary["indexed"] -= stories["superseded"]
    summary["superseded"] += stories["superseded"]  # copies in two files, besides those within one
    log_counts("counts per stage", summary)
    if missing := sorted(set(warc_files) - done):
        raise FailedTasksAlreadyNotified(f"{len(missing)} of {len(warc_files)} WARC files were not processed "
                                   f"(first: {missing[0]}); the next run takes them again")
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
