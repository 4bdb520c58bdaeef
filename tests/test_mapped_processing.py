"""Processing as mapped tasks: files processed apart, side by side, then their stories named together.

Whatever order the files are processed in and whichever copy of an article two files hold the
index got last, :func:`pipelines.batch.reconcile_stories` must leave the index and the processed
files exactly as one batch over the same files does.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from test_stories import (
    EXPECTED,
    NIGHTS,
    archive_nights,
    page_id,
    stored_stories,
    story_page,
)
from warc_builder import write_warc

from pipelines import batch

pytestmark = pytest.mark.engine


def _settings(engine_settings, tmp_path: Path, name: str):
    return engine_settings.model_copy(update={"data_dir": tmp_path / name,
                                              "index_prefix": f"{engine_settings.index_prefix}-{name}"})


def _tonight(settings) -> list[Path]:
    """Nights 27 and 28, and a second crawl on the 28th that archived page 4 (of the 27th) again."""
    files = archive_nights(settings, {day: NIGHTS[day] for day in (27, 28)})
    return files + [write_warc(Path(settings.archive), "spa", date(2026, 11, 28), "20261128T030000Z-b",
                               [story_page(4, "h1b", 27)])]


def _processed(settings) -> dict[str, list[str]]:
    """Each processed file's lines, with the data directory's own path and the WARC record ids
    (random per archive) spelt alike in provenance."""
    root = Path(settings.processed)
    return {str(path.relative_to(root)): [
        re.sub(r'"warc_record_id":"[^"]*"', '"warc_record_id":"R"', line.replace(str(settings.data_dir), "DATA"))
        for line in path.read_text("utf-8").splitlines()] for path in sorted(root.rglob("*.jsonl"))}


def _indexed_copy(settings, article: str) -> str:
    from pipelines.index import SearchEngine

    return SearchEngine.connect(settings).request(
        "GET", f"/{settings.read_alias}/_doc/{article}")["_source"]["warc_file"]


@pytest.fixture()
def one_batch_and_mapped(engine_settings, tmp_path):
    single, mapped = _settings(engine_settings, tmp_path, "single"), _settings(engine_settings, tmp_path, "mapped")
    for settings in (single, mapped):  # last night is stored already
        batch.process_archive(settings, warc_files=[str(f) for f in archive_nights(settings, {26: NIGHTS[26]})])
    one_batch = batch.process_archive(single, warc_files=[str(f) for f in _tonight(single)])
    return single, mapped, _tonight(mapped), one_batch


def test_files_processed_apart_then_reconciled_equal_one_batch(one_batch_and_mapped):
    single, mapped, files, _ = one_batch_and_mapped
    # The latest copy of page 4 first, the older one last: the index holds the older one until reconciled.
    for warc in reversed(files):
        summary = batch.process_archive(mapped, warc_files=[str(warc)], stories=False)
        assert (summary["story_merges"], summary["stories_renamed"]) == (0, 0)
    assert _indexed_copy(mapped, page_id(4)) == str(files[0])
    assert stored_stories(mapped)[page_id(4)] == (page_id(4), True)  # provisionally alone

    result = batch.reconcile_stories(mapped, [str(f) for f in files])

    assert stored_stories(mapped) == stored_stories(single) == EXPECTED
    assert _indexed_copy(mapped, page_id(4)) == str(files[2])
    assert _indexed_copy(single, page_id(4)).endswith("20261128T030000Z-b.warc.gz")
    assert _processed(mapped).keys() == _processed(single).keys()
    assert [name for name, data in _processed(mapped).items() if data != _processed(single)[name]] == []
    assert (result["warc_files"], result["records"], result["superseded"]) == (3, 4, 1)
    assert result["story_clusters"] == 3  # tonight's four articles: stories 1 and 2 of last night, and page 6
    assert result["stories_reassigned"] == 2  # pages 5 and 7 joined last night's stories by a partial update


def test_reconciling_again_changes_nothing(one_batch_and_mapped):
    _, mapped, files, _ = one_batch_and_mapped
    for warc in files:
        batch.process_archive(mapped, warc_files=[str(warc)], stories=False)
    batch.reconcile_stories(mapped, [str(f) for f in files])
    before = _processed(mapped)
    again = batch.reconcile_stories(mapped, [str(f) for f in files])
    assert (again["stories_reassigned"], again["outputs_rewritten"], again["stories_renamed"]) == (0, 0, 0)
    assert _processed(mapped) == before
    assert stored_stories(mapped) == EXPECTED


def test_the_runs_counts_are_those_of_one_batch(one_batch_and_mapped):
    from newswire import airflow_support

    _, mapped, files, expected = one_batch_and_mapped
    summaries = [airflow_support.process_warc_file(mapped, str(warc)) for warc in files]
    counts = airflow_support.reconcile_run(mapped, [str(f) for f in files], summaries)
    names = ("warc_files", "records", "ok", "flagged", "languages", "attributed", "agencies", "superseded",
             "indexed", "story_clusters", "dead_letter")
    assert {name: counts[name] for name in names} == {name: expected[name] for name in names}
    assert (counts["records"], counts["superseded"], counts["indexed"]) == (4, 1, 4)
