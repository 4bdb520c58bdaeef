"""eval-dedup on the labelled pairs: the production input, the split rule, and the held-out goal."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newswire.cli import app
from pipelines.evaluation import SAUDINEWSNET
from pipelines.evaluation import dedup as dedup_evaluation
from pipelines.evaluation.dedup import Document, production_story_texts

HELDOUT_OUTLETS = {"3alyoum", "aljazirah", "alwatan", "arreyadi", "sabq"}
"""The split rule in the labels' provenance: held-out pairs are these outlets in August 2015,
tuning pairs the other outlets in July 2015."""


@pytest.fixture(scope="module")
def result(shared_data: Path) -> dict:
    return dedup_evaluation.run(shared_data)


def test_clustered_text_is_the_title_and_the_cleaned_body():
    body = "أعلنت وزارة الصحة اليوم افتتاح مستشفى جديد في المدينة بسعة مئتي سرير لخدمة السكان."
    [(key, text)] = production_story_texts({"k": Document("افتتاح مستشفى جديد", f"{body}\n\n\n")})
    assert (key, text) == ("k", f"افتتاح مستشفى جديد\n{body}")


def test_command_prints_each_split_and_skips_absent_corpus_texts(tmp_path: Path):
    printed = CliRunner().invoke(app, ["eval-dedup", "--shared-data", str(tmp_path)])
    assert printed.exit_code == 0 and "536 skipped" in printed.output
    as_json = json.loads(CliRunner().invoke(app, ["eval-dedup", "--json", "--shared-data", str(tmp_path)]).output)
    assert (as_json["skipped_pairs"], list(as_json["splits"])) == (536, ["handwritten"])
    assert as_json["splits"]["handwritten"]["true_positives"] == 5


def test_command_prints_only_the_splits_asked_for(tmp_path: Path):
    as_json = json.loads(CliRunner().invoke(app, ["eval-dedup", "--json", "--split", "handwritten", "--split", "tune",
                                                  "--shared-data", str(tmp_path)]).output)
    assert (as_json["pairs"], as_json["skipped_pairs"], list(as_json["splits"])) == (11, 205, ["handwritten"])
    assert {error["split"] for error in as_json["errors"]} <= {"handwritten"}
    refused = CliRunner().invoke(app, ["eval-dedup", "--split", "held-out", "--shared-data", str(tmp_path)])
    assert refused.exit_code == 2 and "unknown split(s) ['held-out']" in refused.output


def test_a_split_alone_scores_as_in_the_full_run(result, shared_data: Path):
    alone = dedup_evaluation.run(shared_data, ["tune"])
    assert list(alone["splits"]) == ["tune"] and alone["splits"]["tune"] == result["splits"]["tune"]
    assert alone["nights"]["splits"]["tune"] == result["nights"]["splits"]["tune"]


def test_each_split_is_a_batch_of_its_own_articles():
    pairs = [{"pair_id": f"p{n}", "split": split, "a": {"handwritten": a}, "b": {"handwritten": b}, "same_story": True}
             for n, (split, a, b) in enumerate([("tune", "t1", "t2"), ("heldout", "h1", "h2"), ("tune", "t2", "t3"),
                                                 ("seen", "t1", "h1")])]
    documents = {key: Document("", key) for key in ("hand:t1", "hand:t2", "hand:h1", "hand:h2")}
    batches = dedup_evaluation.split_batches(pairs, documents)
    assert {split: ([p["pair_id"] for p in split_pairs], sorted(docs)) for split, (split_pairs, docs) in batches.items()} == {
        "tune": (["p0", "p2"], ["hand:t1", "hand:t2"]), "heldout": (["p1"], ["hand:h1", "hand:h2"]),
        "seen": (["p3"], ["hand:h1", "hand:t1"])}


def test_every_labelled_pair_is_scored(result):
    assert result["skipped_pairs"] == 0 and result["pairs"] == 547
    assert {split: scores["pairs"] for split, scores in result["splits"].items()} == {
        "handwritten": 11, "heldout": 209, "seen": 122, "tune": 205}


def test_heldout_and_tuning_pairs_come_from_other_outlets_and_days(shared_data: Path):
    pairs = [row for row in map(json.loads, dedup_evaluation.PAIRS.read_text("utf-8").splitlines())
             if row["split"] in ("tune", "heldout")]
    lines = {ref["line"] for row in pairs for ref in (row["a"], row["b"])}
    with gzip.open(shared_data / SAUDINEWSNET, "rt", encoding="utf-8") as handle:
        articles = {n: json.loads(line) for n, line in enumerate(handle, start=1) if n in lines}

    def side(line: int) -> str:
        article = articles[line]
        heldout = (article["source"] in HELDOUT_OUTLETS, article["date_extracted"].startswith("2015-08"))
        return {(True, True): "heldout", (False, False): "tune"}.get(heldout, "neither")

    assert {row["pair_id"]: {side(row["a"]["line"]), side(row["b"]["line"])} for row in pairs} == {
        row["pair_id"]: {row["split"]} for row in pairs}


@pytest.mark.xfail(strict=True, reason="issue 11: with the tuning pairs labelled 2026-12-03, tuning precision is "
                                       "below 0.95 (README, 2026-12-03)")
def test_tuning_pairs_reach_the_goal(result):
    tune = result["splits"]["tune"]
    assert tune["same_story_pairs"] == 123
    assert tune["precision"] >= 0.95 and tune["recall"] >= 0.85


def test_heldout_pairs_hold_their_measured_level(result):
    heldout = result["splits"]["heldout"]
    assert heldout["same_story_pairs"] == 102
    # The level measured 2026-12-03, each split its own batch and with the title evidence, which
    # was chosen on the tuning pairs (README): more copies found, a little precision lost. The
    # figure check (2026-12-04, README) keeps it, rounded down.
    assert heldout["precision"] >= 0.93 and heldout["recall"] >= 0.85


@pytest.mark.xfail(strict=True, reason="issue 11 goal not reached: held-out precision is below 0.95 (README, 2026-12-03)")
def test_heldout_pairs_reach_the_goal(result):
    heldout = result["splits"]["heldout"]
    assert heldout["precision"] >= 0.95 and heldout["recall"] >= 0.85


def test_night_by_night_replay_clusters_as_one_batch_does(result):
    nights = result["nights"]
    assert nights["window_days"] == 3
    assert nights["splits"]["heldout"]["pairs"] == 209 and nights["across_nights"]["heldout"]["pairs"] > 100
    assert set(nights["agreement_with_one_batch"]) == {"handwritten", "heldout", "seen", "tune"}
    assert min(nights["agreement_with_one_batch"].values()) >= 0.999
    # Copies collected on later nights join the earlier copy's story (held-out level measured 2026-12-02).
    across = nights["across_nights"]["heldout"]
    assert across["precision"] >= 0.95 and across["recall"] >= 0.70


def test_a_later_nights_copy_joins_the_story_of_the_earlier_night():
    first, copy = (datetime(2015, 7, day, 2, tzinfo=UTC) for day in (20, 21))
    texts = {row["doc_id"]: row["text"] for row in map(json.loads, dedup_evaluation.TEXTS.read_text("utf-8").splitlines())}
    documents = {"hand:h1b": Document("", texts["h1b"], collected_at=copy),
                 "hand:h1a": Document("", texts["h1a"], collected_at=first),
                 "hand:h3c": Document("", texts["h3c"], collected_at=copy)}
    assert dedup_evaluation.nightly_clusters(documents) == {"hand:h1a": "hand:h1a", "hand:h1b": "hand:h1a",
                                                            "hand:h3c": "hand:h3c"}
    assert dedup_evaluation.nightly_clusters(documents, window_days=0)["hand:h1b"] == "hand:h1b"
