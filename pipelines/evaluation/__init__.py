"""Measurements of the processing steps on labelled sets kept in ``pipelines/data/labels``.

Labels are data with provenance: our own hand-written cases (with their text), and references
into the public corpus in ../shared/data (line number + url, never the text, which may not be
redistributed). Corpus cases are resolved when the dataset is present and skipped otherwise.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

LABELS_DIR = Path(__file__).resolve().parent.parent / "data" / "labels"
DEFAULT_SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SAUDINEWSNET = Path("saudinewsnet") / "articles.jsonl.gz"


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def corpus_lines(dataset: Path, wanted: set[int]) -> dict[int, dict]:
    """The JSON records on the given 1-based line numbers of a gzipped JSON Lines file."""
    found: dict[int, dict] = {}
    with gzip.open(dataset, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if number in wanted:
                found[number] = json.loads(line)
                if len(found) == len(wanted):
                    break
    return found


@dataclass
class Scores:
    """Counts of one label; precision is 1.0 when nothing was predicted (no false claims)."""

    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    @property
    def precision(self) -> float:
        predicted = self.true_positives + self.false_positives
        return self.true_positives / predicted if predicted else 1.0

    @property
    def recall(self) -> float:
        expected = self.true_positives + self.false_negatives
        return self.true_positives / expected if expected else 1.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    def add(self, other: "Scores") -> None:
        self.true_positives += other.true_positives
        self.false_positives += other.false_positives
        self.false_negatives += other.false_negatives

    def as_dict(self) -> dict:
        return {
            "precision": round(self.precision, 4), "recall": round(self.recall, 4), "f1": round(self.f1, 4),
            "true_positives": self.true_positives, "false_positives": self.false_positives,
            "false_negatives": self.false_negatives,
        }
