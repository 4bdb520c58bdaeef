"""`newswire search`, `newswire index ...`, `newswire eval-search` and `newswire kibana-setup`."""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from kernel.dates import check_window
from kernel.settings import get_settings
from newswire.cli.app import app
from newswire.cli.options import parse_day
from newswire.cli.output import (
    MARK_END,
    MARK_START,
    console,
    error_line,
    print_json,
    stdout_console,
    terminal_lines,
)
from pipelines.index import SearchEngine, SearchEngineError
from pipelines.kibana import (
    FLAVOURS,
    KibanaSetupError,
    detect_target,
    import_saved_objects,
    saved_objects,
    to_ndjson,
)
from pipelines.search import (
    HIGHLIGHT_POST,
    HIGHLIGHT_PRE,
    SearchHit,
    check_language,
    explain_no_hits,
    resolve_agency,
    search_articles,
)

index_app = typer.Typer(help="Versioned article indices behind read and write aliases.")
app.add_typer(index_app, name="index")

_MARK = re.compile(re.escape(HIGHLIGHT_PRE) + "(.*?)" + re.escape(HIGHLIGHT_POST))
_INDENT = "   "


def _connect() -> SearchEngine:
    """The engine of the settings; one that does not answer ends the command (main's error line, exit 1)."""
    return SearchEngine.connect(get_settings())


@contextmanager
def _reported(action: str) -> Iterator[None]:
    """Index commands' own input errors (a version that does not exist) end in one line, exit 1."""
    try:
        yield
    except (SearchEngineError, FileNotFoundError, ValueError) as error:
        error_line(f"newswire {action}: {error}")
        raise typer.Exit(1) from None


def _answer(as_json: bool, data: dict, line: str) -> None:
    """What an index command did: JSON on stdout, or one line for a person."""
    if as_json:
        print_json(data)
    else:
        console.print(line)



@contextmanager
def _option(name: str) -> Iterator[None]:
    """A value the option's check refuses is a usage error naming the option (exit 2)."""
    try:
        yield
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint=name) from None


def _print_hits(hits: list[SearchHit], reorder: bool) -> None:
    """The hits on stdout: rank, agency, day and URL on one line, then title and snippet.

    The metadata line is Latin, so a bidi terminal keeps it left to right; the Arabic lines are
    shaped and put in display order (``reorder``) for terminals that do neither themselves.
    """
    width = max(40, shutil.get_terminal_size().columns - len(_INDENT))
    for rank, hit in enumerate(hits, 1):
        day = (hit.published_at or "")[:10] or "undated"
        about = f"{rank}. {hit.agency or hit.source_id or '?'}  {day}  {hit.url}"
        if not reorder:  # a file or a pipe: the text as stored, in reading order
            plain = _MARK.sub(r"\1", hit.snippet).strip()
            sys.stdout.write(f"{about}\n{_INDENT}{hit.title}\n{_INDENT}{plain}\n")
            continue
        snippet = _MARK.sub(rf"{MARK_START}\1{MARK_END}", hit.snippet).strip()
        lines = [escape(about), *(f"{_INDENT}[bold]{line}[/]" for line in terminal_lines(hit.title, width)),
                 *(_INDENT + line for line in terminal_lines(snippet, width))]
        stdout_console.print("\n".join(lines), soft_wrap=True)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help='Words to find, as you would type them (spelling variants match); '
                                         '"OR" between words, -word to exclude, "quoted words" as a phrase.')],
    agency: Annotated[str | None, typer.Option(help="Only stories credited to this agency: id, name or "
                                                    "abbreviation (spa, SANA, سانا).")] = None,
    lang: Annotated[str | None, typer.Option(help="Only this language code (ar, fa, ur, ckb, en, ...).")] = None,
    since: Annotated[str | None, typer.Option(help="Published on or after this day (YYYY-MM-DD, UTC).")] = None,
    until: Annotated[str | None, typer.Option(help="Published on or before this day (YYYY-MM-DD, UTC).")] = None,
    size: Annotated[int, typer.Option(min=1, max=1000, help="Number of hits.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Hits as JSON on stdout.")] = False,
    reorder: Annotated[bool | None, typer.Option(
        "--reorder/--no-reorder", help="Shape Arabic letters and put lines in display order, for terminals "
        "without bidi support; default: when stdout is a terminal (never with --json).")] = None,
) -> None:
    """Ranked hits on stdout with agency, date, title and a highlighted snippet.

    Finding nothing is an answer (exit 0); the line on stderr says whether the words match no
    article at all or which filter removed every match.
    """
    filters = {"since": parse_day(since, "--since"), "until": parse_day(until, "--until")}
    with _option("--agency"):
        filters["agency"] = resolve_agency(agency) if agency is not None else None
    with _option("--lang"):
        filters["lang"] = check_language(lang) if lang is not None else None
    with _option("--since/--until"):
        check_window(filters["since"], filters["until"])
    engine = _connect()
    hits = search_articles(engine, query, size=size, **filters)
    why_none = explain_no_hits(engine, query, **filters) if not hits else None
    if as_json:
        print_json({"query": query, "filters": filters, "hits": [hit.as_dict() for hit in hits], "no_hits": why_none})
    else:
        _print_hits(hits, reorder if reorder is not None else sys.stdout.isatty())
    if why_none:
        error_line(f"no hits: {why_none}")
    elif not as_json:
        console.print(f"{len(hits)} hit(s) for {escape(query)!r}")


@index_app.command("init")
def index_init(as_json: bool = typer.Option(False, "--json")) -> None:
    """Install the index template and lifecycle policy; create the first version and its aliases."""
    engine = _connect()
    with _reported("index init"):
        current = engine.ensure_ready()
        lifecycle = engine.install_lifecycle_policy()
    if as_json:
        print_json({"current_index": current, "lifecycle": lifecycle})
    else:
        console.print(f"index ready: {current} behind {engine.settings.read_alias} / "
                      f"{engine.settings.write_alias}; {lifecycle}")


@index_app.command("status")
def index_status(as_json: bool = typer.Option(False, "--json")) -> None:
    """Flavour, aliases, versions and document counts."""
    engine = _connect()
    with _reported("index status"):
        status = engine.status()
    if as_json:
        print_json(status)
        return
    table = Table("index", "documents", "aliases", "role")
    for name, count in status["versions"].items():
        table.add_row(name, str(count), "read+write" if name == status["current_index"] else "",
                      status["roles"].get(name, ""))
    console.print(f"{status['flavour']} {status['version']} at {status['url']}")
    console.print(table)


@index_app.command("new-version")
def index_new_version(as_json: bool = typer.Option(False, "--json")) -> None:
    """Create the next versioned index (empty, current template) for a rebuild."""
    engine = _connect()
    with _reported("index new-version"):
        index = engine.create_next_version(held_by_this_process=False)
    _answer(as_json, {"index": index}, f"created {index}")


@index_app.command("switch")
def index_switch(index: str = typer.Argument(..., help="The versioned index to move both aliases to."),
                 as_json: bool = typer.Option(False, "--json")) -> None:
    """Move the read and write alias to INDEX atomically; the old version goes to the lifecycle policy."""
    engine = _connect()
    with _reported("index switch"):
        engine.switch_aliases(index)
        _answer(as_json, {"current_index": engine.current_index()}, f"aliases now on {index}")


@index_app.command("retire")
def index_retire(index: str = typer.Argument(..., help="A versioned index no alias points at (an orphan)."),
                 as_json: bool = typer.Option(False, "--json")) -> None:
    """Delete a version that holds no alias: an orphan left by a killed rebuild, or a superseded one."""
    with _reported("index retire"):
        _connect().retire_version(index)
    _answer(as_json, {"deleted": index}, f"deleted {index}")


@app.command("eval-search")
def eval_search(
    sets: Annotated[list[str] | None, typer.Option(
        "--set", help="A judged set to run: saudinewsnet or demo (repeatable; default both).")] = None,
    as_json: bool = typer.Option(False, "--json", help="The full report as JSON on stdout."),
) -> None:
    """Relevance of the project mapping vs the built-in `arabic` and `standard` analyzers, per split."""
    from pipelines.evaluation.search import K, check_set_names, evaluate

    with _option("--set"):
        check_set_names(sets)
    engine = _connect()
    with _reported("eval-search"), console.status("indexing each corpus under three mappings and scoring ..."):
        report = evaluate(engine, sets)
    if as_json:
        print_json(report.as_dict())
        return
    for name, reason in report.skipped.items():
        console.print(f"{name}: skipped, {reason}")
    for judged in report.sets.values():
        table = Table("split", "queries", "mapping", f"recall@{K}", "MRR", f"nDCG@{K}", f"unjudged@{K}",
                      title=f"{judged.title} ({judged.documents} documents; metrics from {judged.metrics_from})")
        for split in judged.splits():
            queries = sum(q.split == split for q in judged.queries)
            for mapping in judged.per_query:
                scores = judged.scores(mapping, split)
                table.add_row(split, str(queries), mapping, f"{scores['recall']:.3f}", f"{scores['mrr']:.3f}",
                              f"{scores['ndcg']:.3f}", str(judged.unjudged(mapping, split)))
        console.print(table)


@app.command("kibana-export")
def kibana_export(flavour: str = typer.Option("kibana", help=f"One of {', '.join(FLAVOURS)}.")) -> None:
    """Print the saved objects for this index prefix as NDJSON (for a manual import in the UI)."""
    if flavour not in FLAVOURS:
        raise typer.BadParameter(f"expected one of {', '.join(FLAVOURS)}", param_hint="--flavour")
    sys.stdout.write(to_ndjson(saved_objects(get_settings().read_alias, flavour)))


@app.command("kibana-setup")
def kibana_setup(
    kibana_url: str = typer.Option(..., envvar="NEWSWIRE_KIBANA_URL", help="e.g. http://localhost:5601"),
    file: Path | None = typer.Option(None, exists=True, dir_okay=False,
                                     help="An NDJSON file to import instead of the objects for this index prefix."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Import the data view, saved search, charts and dashboard the server's version reads (overwriting)."""
    settings = get_settings()
    try:
        # The server's own version picks the object set (Kibana 8.x, 9.x or OpenSearch Dashboards).
        target, version = detect_target(kibana_url, settings)
        ndjson = file.read_text(encoding="utf-8") if file else to_ndjson(
            saved_objects(settings.read_alias, target.flavour, target.name))
        answer = import_saved_objects(kibana_url, ndjson, settings, flavour=target.flavour)
    except KibanaSetupError as error:
        console.print(f"[red]kibana-setup failed:[/] {escape(str(error))}")
        raise typer.Exit(1) from None
    summary = {"kibana_url": kibana_url, "flavour": target.flavour, "server_version": version,
               "object_set": target.name, "imported": answer.get("successCount", 0)}
    if as_json:
        print_json(summary)
    else:
        console.print(f"imported {summary['imported']} saved objects ({target.name}) into {escape(kibana_url)}"
                      f" ({target.flavour} {version})")
