"""The local stack that `newswire demo` and `newswire airflow-local` both stand on: the local
search engine and the bundled demo mirror, so nothing reaches a real site."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from kernel.settings import Settings
from newswire.cli.output import console


@contextmanager
def local_engine_and_demo_mirror(settings: Settings) -> Iterator:
    """Start the local engine (left running afterwards) and serve the demo mirror while inside."""
    from crawler.mirror import serve_demo_mirror
    from pipelines import local_engine

    with console.status("starting the local search engine ..."):
        engine = local_engine.start(settings)
    console.print(f"search engine: {engine.url} ({engine.version})")
    with serve_demo_mirror() as mirror:
        console.print(f"demo mirror serving {', '.join(mirror.base_urls)}")
        yield mirror
