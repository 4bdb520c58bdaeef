"""The attribution evaluation: the labelled set, the scoring, the thresholds and the command."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from newswire.cli import app
from pipelines.evaluation import read_jsonl
from pipelines.evaluation.attribution import (
    CORPUS_REFERENCES,
    HANDWRITTEN,
    AttributionCase,
    evaluate,
    label_summary,
    load_corpus_cases,
    load_handwritten,
    run,
)

MIN_PRECISION = 0.97
MIN_RECALL = 0.95


def test_corpus_labels_are_references_not_texts():
    rows = read_jsonl(CORPUS_REFERENCES)
    assert len(rows) >= 250
    assert len({row["case_id"] for row in rows}) == len(rows)
    for row in rows:
        assert set(row) == {"case_id", "provenance", "url", "credited", "note"}
        assert row["provenance"] == f"saudinewsnet:{row['case_id'].split('-')[1]}"
        assert row["url"].startswith("http")


def test_handwritten_labels_have_provenance_and_text():
    rows = read_jsonl(HANDWRITTEN)
    assert {row["provenance"] for row in rows} == {"handwritten"}
    assert len({row["case_id"] for row in rows}) == len(rows)


def test_handwritten_cases_meet_the_thresholds():
    cases = load_handwritten()
    report = evaluate(cases)
    assert len(cases) >= 100
    assert report.overall.precision >= MIN_PRECISION, report.errors
    assert report.overall.recall >= MIN_RECALL, report.errors


def test_scores_are_micro_averaged_over_agencies():
    cases = [
        AttributionCase("a", "handwritten", "الرياض - رويترز: أقر المجلس النظام.", "", frozenset({"spa"})),
        AttributionCase("b", "handwritten", "أبوظبي - وام: افتتح المعرض.", "", frozenset({"wam"})),
        AttributionCase("c", "handwritten", "خبر بلا وكالة.", "", frozenset({"kuna"})),
        AttributionCase("d", "handwritten", "خبر بلا وكالة.", "", frozenset()),
    ]
    report = evaluate(cases)
    assert (report.overall.true_positives, report.overall.false_positives, report.overall.false_negatives) == (1, 1, 2)
    assert report.overall.precision == pytest.approx(0.5)
    assert report.overall.recall == pytest.approx(1 / 3)
    assert report.per_agency["reuters"].precision == 0.0 and report.per_agency["wam"].f1 == 1.0
    assert [error["case_id"] for error in report.errors] == ["a", "c"]


def test_corpus_cases_are_skipped_with_a_reason_without_the_dataset(tmp_path):
    cases, skipped = load_corpus_cases(tmp_path)
    assert cases == []
    references = len(read_jsonl(CORPUS_REFERENCES))
    dataset = tmp_path / "saudinewsnet/articles.jsonl.gz"
    assert skipped == [f"{references} saudinewsnet cases skipped: {dataset} not found"]


@pytest.mark.shared_data
def test_whole_labelled_set_meets_the_thresholds(shared_data):
    report = run(shared_data)
    assert report.skipped == []
    assert report.labels["cases"] >= 300
    assert report.labels["credited_cases"] >= 100
    assert report.labels["distinct_agencies"] >= 15
    assert report.per_source["saudinewsnet"].true_positives >= 90
    print(f"\nattribution: {report.labels} overall P={report.overall.precision:.4f} "
          f"R={report.overall.recall:.4f} F1={report.overall.f1:.4f}; corpus only "
          f"P={report.per_source['saudinewsnet'].precision:.4f} R={report.per_source['saudinewsnet'].recall:.4f}")
    assert report.overall.precision >= MIN_PRECISION, report.errors
    assert report.overall.recall >= MIN_RECALL, report.errors
    # SPA's own dated datelines ("تبوك 21 شوال 1436 ه الموافق 06 اغسطس 2015 م واس") are in the set
    assert report.per_agency["spa"].true_positives >= 60
    assert report.per_agency["spa"].precision >= MIN_PRECISION, report.errors
    assert report.per_agency["spa"].recall >= MIN_RECALL, report.errors


def test_eval_attribution_command_prints_json(tmp_path):
    result = CliRunner().invoke(app, ["eval-attribution", "--json", "--shared-data", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["cases"] == len(load_handwritten())
    assert report["skipped"] and "saudinewsnet cases skipped" in report["skipped"][0]
    assert report["labels"]["distinct_agencies"] >= 15
    assert set(report["per_agency"]["tasnim"]) == {"precision", "recall", "f1", "true_positives",
                                                  "false_positives", "false_negatives"}
    assert report["overall"]["precision"] >= MIN_PRECISION


def test_label_summary_counts_named_agencies_only():
    cases = [AttributionCase("a", "handwritten", "", "", frozenset({"agencies"})),
             AttributionCase("b", "handwritten", "", "", frozenset({"spa", "reuters"})),
             AttributionCase("c", "handwritten", "", "", frozenset())]
    assert label_summary(cases) == {"cases": 3, "credited_cases": 2, "distinct_agencies": 2}
