"""Story clusters across nights: naming (pure), and republished copies joining the stored story."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from warc_builder import FakePage, write_warc

from kernel.records import article_id
from pipelines import batch, rebuild
from pipelines.evaluation import dedup as dedup_evaluation
from pipelines.stories import StoryMember, name_stories

# --- naming (no engine) -----------------------------------------------------------------------


def seen(day: int) -> datetime:
    return datetime(2026, 11, day, 8, tzinfo=UTC)


def test_a_batch_story_is_named_after_its_earliest_member_not_its_smallest_id():
    members = {"a": StoryMember("a", seen(27)), "b": StoryMember("b", seen(26)), "c": StoryMember("c", None)}
    named = name_stories({"a": "a", "b": "a", "c": "a"}, members)
    assert named.clusters == {"a": "b", "b": "b", "c": "b"}
    assert (named.moved, named.merges) == ({}, 0)


def test_a_new_copy_joins_the_stored_story_whose_first_article_is_outside_the_window():
    members = {"old-copy": StoryMember("old-copy", seen(26), stored_cluster="first"),
               "tonight": StoryMember("tonight", seen(25))}  # even when dated earlier than the stored copy
    named = name_stories({"old-copy": "g", "tonight": "g"}, members)
    assert named.clusters == {"old-copy": "first", "tonight": "first"}
    assert (named.moved, named.renamed) == ({}, {})


def test_an_article_linking_two_stored_stories_merges_them_into_the_earliest():
    members = {"x1": StoryMember("x1", seen(24), stored_cluster="x1"),
               "x2": StoryMember("x2", seen(25), stored_cluster="x1"),
               "y1": StoryMember("y1", seen(23), stored_cluster="y1"),
               "link": StoryMember("link", seen(27))}
    named = name_stories({"x1": "g", "x2": "g", "y1": "g", "link": "g"}, members)
    assert set(named.clusters.values()) == {"y1"}
    assert named.moved == {"x1": "y1", "x2": "y1"}
    assert (named.renamed, named.merges) == ({"x1": "y1"}, 1)


def test_stored_stories_that_the_clusterer_now_parts_keep_their_names():
    members = {"s1": StoryMember("s1", seen(24), stored_cluster="s1"),
               "s2": StoryMember("s2", seen(25), stored_cluster="s1")}
    named = name_stories({"s1": "s1", "s2": "s2"}, members)
    assert named.clusters == {"s1": "s1", "s2": "s1"} and named.moved == {}



def test_a_stored_copy_grouped_away_from_its_story_does_not_carry_the_name_to_tonights_texts():
    members = {f"x{n}": StoryMember(f"x{n}", seen(23 + n), stored_cluster="x1") for n in (1, 2, 3)}
    members["tonight"] = StoryMember("tonight", seen(27))
    named = name_stories({"x1": "g", "x2": "g", "x3": "h", "tonight": "h"}, members)
    assert named.clusters == {"x1": "x1", "x2": "x1", "x3": "x1", "tonight": "tonight"}
    assert (named.moved, named.renamed, named.merges) == ({}, {}, 0)

# --- nights through the engine -----------------------------------------------------------------

TEXTS = {row["doc_id"]: row["text"] for row in
         map(json.loads, dedup_evaluation.TEXTS.read_text("utf-8").splitlines())}
SPA = "https://www.spa.gov.sa"
# night (day of November) -> (page number, handwritten text): h1a/h1b/h1c are one story (h1b
# retyped, h1c rewritten), h2a/h2b another; h1d (another ambassador) and h3c stand alone.
NIGHTS = {26: [(1, "h1a"), (2, "h2a"), (3, "h3c")], 27: [(4, "h1b"), (5, "h2b"), (6, "h1d")], 28: [(7, "h1c")]}


def page_id(number: int) -> str:
    return article_id(f"{SPA}/ar/N{number}")


def story_page(number: int, text_id: str, day: int) -> FakePage:
    lines = [line for line in TEXTS[text_id].splitlines() if line.strip()]
    title = " ".join(next(line for line in lines if len(line.split()) > 5).split()[:8])  # as papers title a cable
    paragraphs = "".join(f"<p>{line}</p>" for line in lines)
    html = (f'<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="utf-8"><title>{title}</title>'
            f'<meta property="article:published_time" content="2026-11-{day:02d}T08:00:00+03:00"></head>'
            f"<body><article><h1>{title}</h1>{paragraphs}</article></body></html>")
    return FakePage(f"{SPA}/ar/N{number}", html.encode())


def archive_nights(settings, nights) -> list[Path]:
    return [write_warc(Path(settings.archive), "spa", date(2026, 11, day), f"202611{day:02d}T020000Z-a",
                       [story_page(number, text_id, day) for number, text_id in pages])
            for day, pages in nights.items()]


def stored_stories(settings) -> dict[str, tuple[str, bool]]:
    from pipelines.index import SearchEngine

    engine = SearchEngine.connect(settings)
    engine.refresh()
    hits = engine.request("POST", f"/{settings.read_alias}/_search", {"size": 100, "_source": [
        "story_cluster", "story_representative"]})["hits"]["hits"]
    return {hit["_id"]: (hit["_source"]["story_cluster"], hit["_source"]["story_representative"]) for hit in hits}


EXPECTED = {page_id(n): (page_id(first), n == first)
            for n, first in [(1, 1), (4, 1), (7, 1), (2, 2), (5, 2), (3, 3), (6, 6)]}


@pytest.fixture()
def nightly(engine_settings, tmp_path, request):
    suffix = abs(hash(request.node.name)) % 10**6
    return engine_settings.model_copy(update={"data_dir": tmp_path, "index_prefix": f"{engine_settings.index_prefix}-st{suffix}"})


@pytest.mark.engine
def test_copies_republished_on_later_nights_join_the_earliest_copys_story(nightly):
    summaries = []
    for warc in archive_nights(nightly, NIGHTS):
        summaries.append(batch.process_archive(nightly, warc_files=[str(warc)]))
    assert stored_stories(nightly) == EXPECTED
    assert [s["story_clusters"] for s in summaries] == [3, 3, 1]  # each night's articles, by the story they joined
    assert [s["story_merges"] for s in summaries] == [0, 0, 0]
    assert [s["stories_renamed"] for s in summaries] == [0, 0, 0]  # nobody earlier had to change name


@pytest.mark.engine
def test_story_ids_are_the_same_in_one_batch_and_after_reprocessing(nightly):
    archive_nights(nightly, NIGHTS)
    batch.process_archive(nightly)  # all three nights at once
    assert stored_stories(nightly) == EXPECTED
    rebuild.reprocess(nightly, since=None, until=None, sources=None, mode="update")
    assert stored_stories(nightly) == EXPECTED


@pytest.mark.engine
def test_a_copy_crawled_late_but_published_first_renames_the_stored_story(nightly):
    archive_nights(nightly, {27: [(4, "h1b")], 28: [(7, "h1c")]})
    for warc in sorted(Path(nightly.archive).rglob("*.warc.gz")):
        batch.process_archive(nightly, warc_files=[str(warc)])
    late = archive_nights(nightly, {26: [(1, "h1a")]})  # the original, archived only now
    summary = batch.process_archive(nightly, warc_files=[str(late[0])])
    assert stored_stories(nightly) == {page_id(n): (page_id(1), n == 1) for n in (1, 4, 7)}
    assert summary["stories_renamed"] == 2
