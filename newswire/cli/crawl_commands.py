"""Crawl commands: `newswire crawl`, `newswire crawl-state rebuild`, `newswire mirror serve`."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer
from rich.table import Table

from kernel.settings import get_settings
from newswire.cli.app import app
from newswire.cli.options import parse_day
from newswire.cli.output import console, print_json

mirror_app = typer.Typer(help="Local mirrors of news sites, for demos and tests.", no_args_is_help=True)
state_app = typer.Typer(help="The crawler's seen-state (what is already archived).", no_args_is_help=True)
app.add_typer(mirror_app, name="mirror")
app.add_typer(state_app, name="crawl-state")


def _parse_overrides(pairs: list[str]) -> dict[str, str]:
    overrides = {}
    for pair in pairs:
        source_id, sep, url = pair.partition("=")
        if not sep or not source_id or not url.startswith(("http://", "https://")):
            raise typer.BadParameter(f"expected ID=http(s)://HOST[:PORT], got {pair!r}",
                                     param_hint="--base-url-override")
        overrides[source_id.strip()] = url.strip()
    return overrides


def _with_reasons(count: int, by_reason: dict[str, int]) -> str:
    reasons = ", ".join(f"{reason} {n}" for reason, n in by_reason.items())
    return f"{count} ({reasons})" if count else "0"


def _summary(manifests: list[dict]) -> Table:
    table = Table(title="crawl", show_lines=False)
    for column in ("source", "discovered", "fetched", "archived", "skipped", "failed", "WARC"):
        table.add_column(column)
    for m in manifests:
        if "error" in m:
            table.add_row(m["source_id"], "", "", "", "", f"[red]{m['error']}[/red]", "")
            continue
        c = m["counts"]
        table.add_row(
            m["source_id"], str(c["discovered"]), str(c["fetched"]), str(c["archived"]),
            _with_reasons(c["skipped"], m["skipped_by_reason"]),
            _with_reasons(c["failed"], m["failed_by_reason"]),
            m["warc_file"] or "-",
        )
    return table


def _broken(manifest: dict) -> bool:
    """A source whose crawl stopped, or whose every discovery document failed."""
    return "error" in manifest or (manifest["counts"]["discovered"] == 0 and bool(manifest["discovery_errors"]))


@app.command()
def crawl(
    source: Annotated[list[str] | None, typer.Option("--source", "-s", help="Source id (repeatable); "
                      "default: settings.enabled_sources, else every enabled source.")] = None,
    since: Annotated[str | None, typer.Option(help="First publication date (YYYY-MM-DD); "
                     "default: no lower bound, i.e. everything not yet archived.")] = None,
    until: Annotated[str | None, typer.Option(help="Last publication date (YYYY-MM-DD), inclusive.")] = None,
    base_url_override: Annotated[list[str] | None, typer.Option(
        "--base-url-override", help="ID=URL: crawl source ID at URL (a mirror) instead (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifests as JSON on stdout.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Scrapy's INFO log.")] = False,
) -> None:
    """Crawl sources once: new articles into the WARC archive, one manifest per source."""
    from crawler.run import crawl as run_crawl
    from kernel.registry import RegistryError

    settings = get_settings()
    overrides = {**settings.base_url_overrides, **_parse_overrides(base_url_override or [])}
    settings = settings.model_copy(update={"base_url_overrides": overrides})
    window = (parse_day(since, "--since"), parse_day(until, "--until"))
    try:
        with console.status("crawling ..."):
            manifests = run_crawl(settings, source or [], since=window[0], until=window[1],
                                  log_level="INFO" if verbose else "WARNING")
    except (RegistryError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if as_json:
        print_json(manifests)
    else:
        console.print(_summary(manifests))
    if any(_broken(m) for m in manifests):
        raise typer.Exit(1)


@state_app.command("rebuild")
def rebuild_state(
    source: Annotated[str | None, typer.Option("--source", "-s", help="Only this source.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Clear this machine's seen-state and load it again from the archive (manifests, else WARC files)."""
    from crawler.state import rebuild_state as rebuild

    counts = rebuild(get_settings(), source)
    if as_json:
        print_json(counts)
    else:
        for source_id, keys in sorted(counts.items()):
            console.print(f"{source_id}: {keys} archived URL keys")


@mirror_app.command("serve")
def serve_mirror(
    port_base: Annotated[int, typer.Option(help="First port; sources get port_base, +1, ... "
                         "(0: free ports).")] = 8701,
    as_json: Annotated[bool, typer.Option("--json", help="Print the base URLs as JSON.")] = False,
) -> None:
    """Serve the bundled demo mirror (tasnim, spa, sana) on 127.0.0.1 until interrupted."""
    from crawler.mirror import serve_demo_mirror

    with serve_demo_mirror(port_base) as mirror:
        if as_json:
            print_json(mirror.base_urls)
        else:
            for source_id, url in mirror.base_urls.items():
                typer.echo(f"{source_id}={url}")
        sys.stdout.flush()
        overrides = " ".join(f"--source {s} --base-url-override {s}={u}" for s, u in mirror.base_urls.items())
        console.print(f"crawl it with: newswire crawl {overrides}\n(Ctrl-C to stop)")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            console.print("mirror stopped")
