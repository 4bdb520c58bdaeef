"""`newswire extract|process|reprocess|dead-letters|demo`: processing the raw archive into searchable records."""

from __future__ import annotations

import json
import subprocess
import sys
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Literal

import typer
from rich.markup import escape
from rich.table import Table

from kernel.settings import get_settings
from newswire.cli.app import app
from newswire.cli.local_stack import local_engine_and_demo_mirror
from newswire.cli.options import known_sources, parse_day
from newswire.cli.output import console, print_json, stdout_console

# The processing stack is imported inside the commands: it loads datasketch, scipy and the
# langdetect profiles, which every other `newswire` command would pay for.

SINCE = typer.Option(None, "--since", help="First crawl day (YYYY-MM-DD), inclusive.")
UNTIL = typer.Option(None, "--until", help="Last crawl day (YYYY-MM-DD), inclusive.")
SOURCES = typer.Option(None, "--source", help="Source id (repeatable); default: all.")
AS_JSON = typer.Option(False, "--json", help="Print the summary as JSON on stdout.")


@contextmanager
def _progress(enabled: bool = True):
    """A progress display whose callback matches pipelines.batch.ProgressCallback."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True,
                  disable=not enabled or not console.is_terminal) as bar:  # a pipe or log gets the summary only
        tasks: dict[str, int] = {}

        def advance(stage: str, amount: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=None)
            bar.advance(tasks[stage], amount)

        yield advance


def _print_summary(summary: dict, title: str) -> None:
    table = Table(title=title, show_header=False)
    for key in ("warc_files", "responses", "records", "ok", "flagged", "errors", "dead_letter", "superseded",
                "attributed", "story_clusters", "indexed", "index_rejected", "index_failed", "failure_rate",
                "index"):
        if key in summary:
            table.add_row(key.replace("_", " "), str(summary[key]))
    for key in ("languages", "agencies", "error_reasons"):
        if summary.get(key):
            table.add_row(key.replace("_", " "), ", ".join(f"{k}: {v}" for k, v in sorted(summary[key].items())))
    console.print(table)


def window_options(since: str | None, until: str | None, sources: list[str] | None) -> dict:
    """The archive window shared by `process` and `reprocess`: crawl days and sources."""
    return {"since": parse_day(since, "--since"), "until": parse_day(until, "--until"),
            "sources": known_sources(sources or [], get_settings()) or None}


def _over_window(window: dict, as_json: bool, run) -> tuple:
    """Run `run(settings, window, progress)` with a progress display unless JSON is asked for.

    Processing checks the engine before it extracts anything; an engine that cannot be reached
    or refuses a request ends the command with one line naming the cause (exit 1), written by
    the CLI's one error boundary (newswire/cli/__init__.py).
    """
    settings = get_settings()
    with _progress(not as_json) as advance:
        return settings, run(settings, window, advance)


@app.command()
def extract(
    page: Path = typer.Argument(..., exists=True, dir_okay=False, help="A saved article page (HTML)."),
    url: str = typer.Option(..., "--url", help="The URL the page was fetched from."),
    source: str | None = typer.Option(None, "--source", help="Source id from the registry."),
    index: bool = typer.Option(False, "--index", help="Also index the record."),
) -> None:
    """Process one saved page and print its record as JSON (for debugging a page).

    A page that yields no article (not HTML, no text) is an error (exit 1), not a record.
    """
    from pipelines.batch import source_profiles
    from pipelines.stages import DEFAULT_PROFILE, process_page

    settings = get_settings()
    profiles = source_profiles(settings)
    profile = profiles[known_sources([source], settings)[0]] if source else DEFAULT_PROFILE
    article = process_page(page.read_bytes(), url, source_id=source,
                           crawled_at=datetime.fromtimestamp(page.stat().st_mtime).astimezone(),
                           profile=profile)
    if article.status == "error":
        sys.stderr.write(f"newswire extract: {page}: {article.error}\n")
        raise typer.Exit(1)
    sys.stdout.write(article.model_dump_json(indent=2) + "\n")
    if index:
        from pipelines.index import SearchEngine

        engine = SearchEngine.connect(settings)
        engine.ensure_ready()
        result = engine.bulk_upsert([article])
        engine.refresh()
        console.print(f"indexed {result.indexed} document as {article.id}")


@app.command("process")
def process_command(
    since: str | None = SINCE,
    until: str | None = UNTIL,
    sources: list[str] | None = SOURCES,
    all_files: bool = typer.Option(False, "--all", help="Also files processed before."),
    no_index: bool = typer.Option(False, "--no-index", help="Write records only, do not index."),
    workers: int | None = typer.Option(
        None, "--workers", min=1,
        help="Worker processes (default: NEWSWIRE_PROCESS_WORKERS, fewer for a small batch); same output."),
    as_json: bool = AS_JSON,
) -> None:
    """Process newly archived crawls: records, dead letters and the index."""
    from pipelines.batch import process_archive

    settings, summary = _over_window(window_options(since, until, sources), as_json,
                                     lambda settings, window, advance: process_archive(
                                         settings, **window, index=not no_index, only_new=not all_files,
                                         progress=advance, workers=workers))
    _finish(summary, "processing", as_json, settings)


@app.command()
def reprocess(
    since: str | None = SINCE,
    until: str | None = UNTIL,
    sources: list[str] | None = SOURCES,
    mode: Literal["update", "rebuild"] = typer.Option(
        "update", "--mode", help="update (in place) or rebuild (new index version)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be processed."),
    as_json: bool = AS_JSON,
) -> None:
    """Process archived crawls again (after a parser improves); reads only the raw archive."""
    from pipelines.rebuild import reprocess as run_reprocess

    settings, summary = _over_window(window_options(since, until, sources), as_json,
                                     lambda settings, window, advance: run_reprocess(
                                         settings, **window, mode=mode, dry_run=dry_run, progress=advance))
    if dry_run:
        if as_json:
            print_json(summary)
        else:
            console.print(f"would reprocess {len(summary['warc_files'])} WARC files in mode {mode}:")
            for name in summary["warc_files"]:
                console.print(f"  {name}")
        return
    _finish(summary, f"reprocessing ({mode})", as_json, settings)


def _finish(summary: dict, title: str, as_json: bool, settings) -> None:
    from pipelines.batch import (
        FailureRateExceeded,
        IndexingIncomplete,
        raise_if_failure_rate_exceeded,
    )

    if as_json:
        print_json(summary)
    else:
        _print_summary(summary, title)
    try:
        raise_if_failure_rate_exceeded(summary, settings)
    except IndexingIncomplete as exc:
        console.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(1) from None
    except FailureRateExceeded as exc:
        console.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(2) from None


@app.command("dead-letters")
def dead_letters_command(
    since: str | None = SINCE,
    until: str | None = UNTIL,
    sources: list[str] | None = SOURCES,
    as_json: bool = typer.Option(False, "--json", help="Print the dead letters by file as JSON on stdout."),
) -> None:
    """List what failed in the latest processing of each WARC file, and why (NEWSWIRE_DEAD_LETTER_ROOT)."""
    from pipelines.batch import dead_letters

    settings = get_settings()
    by_file = dead_letters(settings, **window_options(since, until, sources))
    if as_json:
        print_json(by_file)
        return
    table = Table("WARC file", "reason", "URL or WARC record")
    for letters in by_file.values():
        for letter in letters:
            warc_name = str(letter.get("warc_file") or "").rsplit("/", 1)[-1]
            table.add_row(escape(warc_name), escape(str(letter.get("reason", ""))),
                          escape(str(letter.get("url") or letter.get("warc_record_id") or "")))
    if table.row_count:
        stdout_console.print(table)
    console.print(f"{table.row_count} dead letters in {len(by_file)} files under {escape(settings.dead_letters)}")


@app.command()
def demo(
    query: str = typer.Option("الإرهاب في إدلب", "--query", help="What to search for at the end."),
) -> None:
    """The main job on the embedded default: local engine, bundled demo mirror, crawl, process, search."""
    from pipelines.batch import process_archive

    settings = get_settings()
    with local_engine_and_demo_mirror(settings) as mirror:
        command = [sys.executable, "-m", "newswire.cli", "crawl", "--json"]
        for source_id, base_url in mirror.base_urls.items():
            command += ["--source", source_id, "--base-url-override", f"{source_id}={base_url}"]
        crawl = subprocess.run(command, stdout=subprocess.PIPE, check=True)
    for manifest in json.loads(crawl.stdout):
        counts = manifest.get("counts", {})
        console.print(f"  {manifest['source_id']}: archived {counts.get('archived', 0)} "
                      f"of {counts.get('discovered', 0)} discovered")
    with _progress() as advance:
        summary = process_archive(settings, progress=advance)
    _print_summary(summary, "processing")
    from newswire.cli.search_commands import search

    console.rule(f"search: {query}")
    search(query=query, agency=None, lang=None, since=None, until=None, size=10, as_json=False, reorder=None)
