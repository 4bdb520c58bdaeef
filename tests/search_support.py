"""Shared by the index/search/evaluation/Kibana tests: an isolated index prefix on the real engine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from kernel.settings import Settings
from pipelines.index import SearchEngine


@contextmanager
def isolated_engine(engine_settings: Settings, name: str) -> Iterator[SearchEngine]:
    """An engine whose indices, aliases and template live under their own prefix, removed afterwards.

    Other test modules index into the run's default prefix; a prefix of our own keeps their
    documents out of our rankings.
    """
    settings = engine_settings.model_copy(update={"index_prefix": f"{engine_settings.index_prefix}-{name}"})
    engine = SearchEngine.connect(settings)
    try:
        yield engine
    finally:
        for index in engine.request("GET", f"/{settings.index_prefix}-*", params={"expand_wildcards": "all"}):
            engine.delete_index(index)
        if engine.exists(f"/_index_template/{settings.index_prefix}-articles"):
            engine.request("DELETE", f"/_index_template/{settings.index_prefix}-articles")
