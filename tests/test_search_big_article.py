"""Issue 10 case 9: one 4.5 MB article must not hang search, on a private engine of its own."""

from __future__ import annotations

import random
import time

import pytest
from search_support import isolated_engine

from kernel.settings import get_settings
from pipelines import local_engine
from pipelines.evaluation.search import seed_article
from pipelines.search import search_articles

pytestmark = pytest.mark.engine
PRIVATE_PORT = 9437


@pytest.fixture(scope="module")
def private_engine_settings(engine_settings):
    settings = get_settings(engine_port=PRIVATE_PORT, engine_heap="1g", search_url=f"http://127.0.0.1:{PRIVATE_PORT}",
                            index_prefix=engine_settings.index_prefix)
    local_engine.start(settings)
    yield settings
    local_engine.stop(settings)


def test_a_huge_article_is_found_and_highlighted_within_seconds(private_engine_settings, seed_text):
    seed = seed_article(seed_text)
    words, rng, parts, size = seed.body.split(), random.Random(1), [], 0
    while size < 4_500_000:  # generated from the seed's own words: no sentence ends to speak of
        parts.append(rng.choice(words))
        size += len(parts[-1].encode()) + 1
    big = seed.model_copy(update={"id": "huge", "url": "demo://x/huge", "body": " ".join(parts)})
    with isolated_engine(private_engine_settings, "huge") as engine:
        engine.ensure_ready()
        assert engine.bulk_upsert([big]).indexed == 1
        engine.refresh()
        started = time.monotonic()
        hits = search_articles(engine, "إدلب")
        elapsed = time.monotonic() - started
        print(f"4.5 MB article: search with highlight answered in {elapsed:.2f} s")
        assert [hit.id for hit in hits] == ["huge"]
        assert "<mark>إدلب</mark>" in hits[0].snippet
        assert elapsed < 10
