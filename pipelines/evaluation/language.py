"""Language identification measured on the labelled set in ``pipelines/data/labels``.

Two files hold the cases: ``language_handwritten.jsonl`` (our own sentences, with their text)
and ``language_corpus.jsonl`` (references into ../shared/data/saudinewsnet: line, field and
paragraph index, never the text, which may not be redistributed). Corpus cases are resolved
when the dataset is present and counted as skipped otherwise.

Every case has a ``split``: ``tune`` (both files above, which the rules were written against) or
``heldout`` (``language_heldout.jsonl``: Arabic titles and paragraphs of the attribution held-out
outlets and days, labelled before any language rule changed, never used to choose one). Figures
are reported per split.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.evaluation import (
    DEFAULT_SHARED_DATA,
    LABELS_DIR,
    corpus_lines,
    read_jsonl,
)
from pipelines.stages import analyse_page, text_page

HANDWRITTEN = LABELS_DIR / "language_handwritten.jsonl"
CORPUS_REFERENCES = LABELS_DIR / "language_corpus.jsonl"
HELDOUT_REFERENCES = LABELS_DIR / "language_heldout.jsonl"
KINDS = ("paragraph", "title")
SPLITS = ("tune", "heldout")


@dataclass(frozen=True)
class LanguageCase:
    case_id: str
    kind: str  # "paragraph" | "title"
    language: str
    text: str
    provenance: str
    split: str = "tune"


@dataclass
class KindReport:
    total: int = 0
    correct: int = 0
    confusion: Counter = field(default_factory=Counter)  # (expected, predicted) -> count
    errors: list[dict] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def as_dict(self) -> dict:
        expected = sorted({exp for exp, _ in self.confusion})
        predicted = sorted({pred for _, pred in self.confusion} | set(expected))
        return {
            "total": self.total,
            "correct": self.correct,
            "accuracy": round(self.accuracy, 4),
            "expected": expected,
            "predicted": predicted,
            "confusion": {exp: {pred: self.confusion[(exp, pred)] for pred in predicted} for exp in expected},
            "errors": self.errors,
        }


def _resolve(reference: dict, row: dict) -> str:
    if reference["field"] == "title":
        return row["title"].strip()
    paragraphs = [p.strip() for p in row["content"].split("\n") if p.strip()]
    return paragraphs[reference["paragraph"]]


def load_cases(shared_data: Path | None = DEFAULT_SHARED_DATA) -> tuple[list[LanguageCase], int]:
    """All cases whose text is available, and how many corpus cases were skipped."""
    cases = [LanguageCase(c["case_id"], c["kind"], c["language"], c["text"], c["provenance"], c["split"])
             for c in read_jsonl(HANDWRITTEN)]
    references = read_jsonl(CORPUS_REFERENCES) + read_jsonl(HELDOUT_REFERENCES)
    by_dataset: dict[str, list[dict]] = {}
    for ref in references:
        by_dataset.setdefault(ref["ref"]["dataset"], []).append(ref)
    skipped = 0
    for dataset, refs in by_dataset.items():
        path = shared_data / dataset if shared_data else None
        if path is None or not path.exists():
            skipped += len(refs)
            continue
        rows = corpus_lines(path, {r["ref"]["line"] for r in refs})
        cases += [LanguageCase(r["case_id"], r["kind"], r["language"],
                               _resolve(r["ref"], rows[r["ref"]["line"]]), r["provenance"], r["split"])
                  for r in refs]
    return cases, skipped


def predict(case: LanguageCase) -> str:
    """Titles are identified alone (as for a record without body); paragraphs as a body."""
    page = text_page(case.text, "") if case.kind == "title" else text_page("", case.text)
    return analyse_page(page, {"id": case.case_id, "url": "", "canonical_url": ""}).language


def evaluate(cases: list[LanguageCase]) -> dict[str, KindReport]:
    reports = {kind: KindReport() for kind in KINDS}
    for case in cases:
        predicted = predict(case)
        report = reports[case.kind]
        report.total += 1
        report.confusion[(case.language, predicted)] += 1
        if predicted == case.language:
            report.correct += 1
        else:
            report.errors.append({"case_id": case.case_id, "expected": case.language, "predicted": predicted})
    return reports


def run(shared_data: Path | None = DEFAULT_SHARED_DATA) -> dict:
    """The figures of each split ("tune", "heldout"), and how many corpus cases were skipped."""
    cases, skipped = load_cases(shared_data)
    result: dict = {"skipped_corpus_cases": skipped}
    for split in SPLITS:
        chosen = [case for case in cases if case.split == split]
        reports = evaluate(chosen)
        result[split] = {
            "cases": len(chosen),
            "by_language": dict(sorted(Counter(c.language for c in chosen).items())),
            **{kind: reports[kind].as_dict() for kind in KINDS},
        }
    return result
