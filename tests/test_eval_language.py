"""The language labelled set and the accuracy thresholds of issue 6."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from typer.testing import CliRunner

from newswire.cli import app
from pipelines.evaluation import language as evaluation


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def test_labelled_set_shape_and_provenance():
    handwritten, corpus = rows(evaluation.HANDWRITTEN), rows(evaluation.CORPUS_REFERENCES)
    heldout = rows(evaluation.HELDOUT_REFERENCES)
    assert {case["split"] for case in handwritten + corpus} == {"tune"}
    assert {case["split"] for case in heldout} == {"heldout"} and len(heldout) >= 150
    assert all("before any language rule changed" in case["provenance"] and "text" not in case for case in heldout)
    assert not {case["case_id"] for case in heldout} & {case["case_id"] for case in handwritten + corpus}
    assert len(handwritten) + len(corpus) >= 400
    assert all(case["provenance"] for case in handwritten + corpus)
    assert len({case["case_id"] for case in handwritten + corpus}) == len(handwritten) + len(corpus)
    # Corpus cases are references (line, field, paragraph): the texts are never copied.
    assert all("text" not in case and case["ref"]["line"] > 0 for case in corpus)
    kinds = Counter((case["language"], case["kind"]) for case in handwritten + corpus)
    for language in ("ar", "fa", "ur", "en", "ckb"):
        assert kinds[(language, "paragraph")] >= 10 and kinds[(language, "title")] >= 10, language


def test_accuracy_on_handwritten_cases_without_the_corpus():
    result = evaluation.run(shared_data=None)
    corpus_cases = (evaluation.LABELS_DIR / "language_corpus.jsonl").read_text("utf-8").strip().splitlines()
    assert result["skipped_corpus_cases"] == len(corpus_cases) + len(rows(evaluation.HELDOUT_REFERENCES))
    assert result["heldout"]["cases"] == 0
    result = result["tune"]
    assert result["paragraph"]["accuracy"] >= 0.99
    assert result["title"]["accuracy"] >= 0.95


def test_accuracy_on_the_heldout_set(shared_data: Path):
    """Held-out Arabic titles and paragraphs from outlets and days the tuning cases do not use."""
    result = evaluation.run(shared_data)["heldout"]
    assert result["cases"] >= 150 and result["by_language"] == {"ar": result["cases"]}
    print(f"\nlanguage held-out: paragraphs {result['paragraph']['accuracy']:.4f}, titles {result['title']['accuracy']:.4f}")
    assert result["paragraph"]["accuracy"] >= 0.99, result["paragraph"]["errors"]
    assert result["title"]["accuracy"] >= 0.95, result["title"]["errors"]


def test_accuracy_on_the_tuning_set(shared_data: Path):
    full = evaluation.run(shared_data)
    assert full["skipped_corpus_cases"] == 0
    result = full["tune"]
    assert result["cases"] >= 400
    assert set(result["by_language"]) == {"ar", "fa", "ur", "en", "ckb"}
    assert result["paragraph"]["accuracy"] >= 0.99
    assert result["title"]["accuracy"] >= 0.95
    assert result["paragraph"]["confusion"]["ar"]["ar"] == result["by_language"]["ar"] - result["title"]["confusion"]["ar"]["ar"]


def test_eval_language_command_json(shared_data: Path):
    result = CliRunner().invoke(app, ["eval-language", "--json", "--shared-data", str(shared_data)])
    assert result.exit_code == 0
    figures = json.loads(result.stdout)
    assert figures["heldout"]["cases"] >= 150
    figures = figures["tune"]
    assert figures["paragraph"]["accuracy"] >= 0.99 and figures["title"]["accuracy"] >= 0.95
    assert figures["paragraph"]["expected"] == ["ar", "ckb", "en", "fa", "ur"]
