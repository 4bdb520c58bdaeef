"""Issue 6 acceptance: processing the same batch twice gives the same language, attribution and
story cluster for every record, whatever order the batch arrives in.

Checked at batch scale three ways: ``annotate`` over 402 public corpus articles (skipped without
../shared), ``annotate`` over the repo's own demo articles and seed, and ``process_archive`` over
WARC files of the demo-mirror pages, the second time with the pages shuffled into other files.
"""

from __future__ import annotations

import gzip
import io
import json
import random
from collections import Counter
from datetime import date
from pathlib import Path

from warc_builder import COPY_NUMBER, SEED_NUMBER, demo_pages, write_warc

from crawler.demo_site import load_articles as load_demo_articles
from kernel.records import article_id
from kernel.settings import get_settings
from newswire.cli.annotate_commands import annotate_stream
from pipelines import batch

CORPUS = Path("saudinewsnet") / "articles.jsonl.gz"
CORPUS_LINES = range(20232, 23443, 8)
"""402 corpus articles, every eighth of those crawled on 2015-08-06 (lines 20232-23442, eleven
papers): several papers carry the same wire stories that day, so the batch has real story
clusters to keep stable."""


def outcome(record: dict) -> tuple:
    """What must not change between two runs: language, credited agency and its evidence,
    story cluster."""
    credit = record["attribution"]
    return (record["language"], credit and (credit["agency_id"], credit["evidence"]), record["story_cluster"])


def annotate_twice(records: list[dict], seed: int) -> tuple[dict[str, tuple], dict[str, tuple]]:
    """Annotate the records as given, then shuffled; each run's outcome per record id."""
    shuffled = records[:]
    random.Random(seed).shuffle(shuffled)
    runs = []
    for records_in_order in (records, shuffled):
        sink = io.StringIO()
        counts = annotate_stream(io.StringIO("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records_in_order)), sink)
        assert counts["errors"] == 0
        runs.append({r["id"]: outcome(r) for r in map(json.loads, sink.getvalue().splitlines())})
    return runs[0], runs[1]


def multi_member_clusters(outcomes: dict[str, tuple]) -> int:
    return sum(size > 1 for size in Counter(o[2] for o in outcomes.values()).values())


def test_corpus_batch_annotated_twice_in_another_order_gives_the_same_outcomes(shared_data: Path):
    records = []
    with gzip.open(shared_data / CORPUS, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if number in CORPUS_LINES:
                row = json.loads(line)
                records.append({"id": f"saudinewsnet-{number}", "title": row["title"], "text": row["content"]})
            elif number >= CORPUS_LINES.stop:
                break
    assert len(records) == 402
    first, second = annotate_twice(records, seed=6)
    assert first.keys() == second.keys() == {r["id"] for r in records}
    assert first == second
    # The comparison has teeth: many clusters, several agencies, more than one language would all show.
    assert multi_member_clusters(first) >= 10
    assert len({o[1][0] for o in first.values() if o[1]}) >= 3


def test_demo_and_seed_annotated_twice_in_another_order_give_the_same_outcomes(seed_text: str):
    records = [{"id": f"{a['source']}:{a['slug']}", "title": a["title"],
                "text": "\n".join([*a["paragraphs"], *a.get("trailer", [])])} for a in load_demo_articles()]
    lines = seed_text.splitlines()
    records.append({"id": "seed", "title": lines[0], "text": "\n".join(lines[1:])})
    # A republished copy of the seed, so that the batch has a story with two records.
    records.append({"id": "seed-copy", "title": lines[0], "text": "طهران - تسنيم\n" + "\n".join(lines[1:-2])})
    first, second = annotate_twice(records, seed=7)
    assert len(first) == len(records) == 35
    assert first == second
    assert first["seed"] == ("ar", ("tasnim", "المصدر : وكالة تسنيم للأنباء"), "seed")
    assert first["seed-copy"][2] == "seed"
    assert {o[1][0] for o in first.values() if o[1]} == {"tasnim", "spa", "sana"}


def processed_outcomes(settings) -> dict[str, tuple]:
    summary = batch.process_archive(settings, index=False, only_new=False)
    records = [json.loads(line) for output in summary["outputs"]
               for line in Path(output).read_text("utf-8").splitlines()]
    assert len(records) == len({r["id"] for r in records})
    return {r["id"]: outcome(r) for r in records}


def test_archive_processed_twice_and_reshuffled_gives_the_same_records(tmp_path, monkeypatch):
    pages = demo_pages()
    assert sum(map(len, pages.values())) == 35
    crawl_day, run_id = date(2026, 11, 28), "20261128T020000Z-d3e7a1"

    monkeypatch.setenv("NEWSWIRE_DATA_DIR", str(tmp_path / "first"))
    first_settings = get_settings()
    for source_id, own in pages.items():
        write_warc(Path(first_settings.archive), source_id, crawl_day, run_id, own)
    first = processed_outcomes(first_settings)
    again = processed_outcomes(first_settings)

    # The same pages of each source in another order, cut into two files per source.
    monkeypatch.setenv("NEWSWIRE_DATA_DIR", str(tmp_path / "second"))
    second_settings = get_settings()
    for source_id, own in pages.items():
        shuffled = own[:]
        random.Random(8).shuffle(shuffled)
        half = len(shuffled) // 2
        for part, chunk in enumerate((shuffled[half:], shuffled[:half])):
            write_warc(Path(second_settings.archive), source_id, crawl_day, f"{run_id}{part}", chunk)
    reshuffled = processed_outcomes(second_settings)

    assert len(first) == 35
    assert first == again == reshuffled
    seed_id, copy_id = (article_id(f"https://www.tasnimnews.com/ar/news/2020/02/29/{number}/")
                        for number in (SEED_NUMBER, COPY_NUMBER))
    seed_credit = ("tasnim", "المصدر : وكالة تسنيم للأنباء")
    assert first[seed_id] == first[copy_id] == ("ar", seed_credit, min(seed_id, copy_id))
    assert {o[1][0] for o in first.values() if o[1]} == {"tasnim", "spa", "sana"}
    assert {o[0] for o in first.values()} == {"ar"}
