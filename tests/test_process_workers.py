"""Issue 12: processing in worker processes writes the same bytes as one process.

The demo mirror's pages in WARC files of three sources, one of them with pages that fail (a 404,
an empty page, a binary file, a torn tail) and one crawled twice (every record superseded once),
processed with one, two and three workers: the processed records, the dead letters (but for the
time they were written) and the summary are the same.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from warc_builder import COPY_NUMBER, SEED_NUMBER, FakePage, demo_pages, write_warc

from kernel.records import article_id
from kernel.settings import Settings
from pipelines import batch

CRAWL_DAY = date(2026, 11, 28)
RUN = "20261128T020000Z-a1b2c3"
BAD_PAGES = [
    FakePage("https://www.tasnimnews.com/ar/news/2026/11/28/1/", b"gone", status=404),
    FakePage("https://www.tasnimnews.com/ar/news/2026/11/28/2/", b""),
    FakePage("https://www.tasnimnews.com/ar/news/2026/11/28/3/", b"\x00\x01binary", "application/octet-stream"),
]


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("archive")
    pages = demo_pages()
    tasnim = pages.pop("tasnim")
    # the failing pages among the good ones, so that every worker's share has some of both
    write_warc(root, "tasnim", CRAWL_DAY, RUN, tasnim[:3] + BAD_PAGES + tasnim[3:], broken_tail=True)
    for source_id, own in pages.items():
        write_warc(root, source_id, CRAWL_DAY, RUN, own)
    write_warc(root, "spa", CRAWL_DAY, RUN + "-again", pages["spa"])
    return root


def process(archive: Path, data_dir: Path, workers: int) -> tuple[dict, dict[str, bytes], dict[str, list[dict]]]:
    """The summary (output paths relative to the data dir), each processed file's bytes and each
    dead-letter file's entries without their time."""
    settings = Settings(data_dir=data_dir, archive_root=str(archive))
    summary = batch.process_archive(settings, index=False, only_new=False, workers=workers)
    summary["outputs"] = [str(Path(output).relative_to(data_dir)) for output in summary["outputs"]]
    processed = {str(path.relative_to(data_dir)): path.read_bytes()
                 for path in sorted((data_dir / "processed").rglob("*.jsonl"))}
    dead = {str(Path(url).relative_to(data_dir)): [{k: v for k, v in letter.items() if k != "at"} for letter in letters]
            for url, letters in batch.dead_letters(settings).items()}
    return summary, processed, dead


def test_two_and_three_workers_write_the_same_records_and_dead_letters_as_one(archive, tmp_path):
    one = process(archive, tmp_path / "one", workers=1)
    summary, processed, dead = one

    # what the batch holds, so that the comparison below has something to compare
    assert summary["warc_files"] == 4
    assert summary["responses"] == 35 + len(BAD_PAGES) + 13  # spa's 13 pages crawled twice
    assert (summary["records"], summary["superseded"], summary["errors"], summary["unreadable"]) == (35, 13, 2, 1)
    assert summary["agencies"] == {"sana": 6, "tasnim": 9, "spa": 6}
    assert len(processed) == 4
    records = [json.loads(line) for body in processed.values() for line in body.splitlines()]
    clusters = {r["id"]: r["story_cluster"] for r in records}
    seed_id, copy_id = (article_id(f"https://www.tasnimnews.com/ar/news/2020/02/29/{number}/")
                        for number in (SEED_NUMBER, COPY_NUMBER))
    assert clusters[seed_id] == clusters[copy_id] == min(seed_id, copy_id)
    tasnim_dead = next(entries for name, entries in dead.items() if "tasnim" in name)
    assert [d["reason"].split(":")[0] for d in tasnim_dead] == [
        "http status 404", "extraction failed", "extraction failed", "unreadable WARC data"]
    assert [d["url"] for d in tasnim_dead[:3]] == [page.url for page in BAD_PAGES]

    assert process(archive, tmp_path / "two", workers=2) == one
    assert process(archive, tmp_path / "three", workers=3) == one


def test_a_small_batch_runs_in_one_process_unless_workers_are_asked_for(archive, tmp_path):
    settings = Settings(data_dir=tmp_path, archive_root=str(archive), process_workers=4)
    warcs = batch.list_warc_files(settings.archive)
    assert len(warcs) == 4
    assert batch._worker_count(settings, warcs, None) == 1  # a few hundred KB: not worth a process start
    assert batch._worker_count(settings, warcs, 3) == 3
    assert batch._worker_count(settings.model_copy(update={"process_workers": 1}), warcs, None) == 1
