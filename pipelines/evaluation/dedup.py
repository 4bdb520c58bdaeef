"""Duplicate grouping measured on labelled pairs in ``pipelines/data/labels``.

``dedup_pairs.jsonl`` labels pairs of articles as the same story or not. Corpus articles are
referenced by line in ../shared/data (never copied); ``dedup_texts.jsonl`` holds our own
handwritten variants. All referenced articles are clustered together as one batch (the way
the pipeline sees them) and every labelled pair is checked: precision is the share of pairs
put in one cluster that really are one story, recall the share of same-story pairs put in
one cluster. Pairs whose corpus text is absent are skipped.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

from pipelines.clean import clean_body
from pipelines.dedup import assign_story_clusters

LABELS_DIR = Path(__file__).resolve().parent.parent / "data" / "labels"
PAIRS = LABELS_DIR / "dedup_pairs.jsonl"
TEXTS = LABELS_DIR / "dedup_texts.jsonl"
DEFAULT_SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@dataclass(frozen=True)
class PairOutcome:
    pair_id: str
    same_story: bool
    same_cluster: bool


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _doc_key(ref: dict) -> str:
    return f"hand:{ref['handwritten']}" if "handwritten" in ref else f"{ref['dataset']}:{ref['line']}"


def _corpus_texts(shared_data: Path | None, refs: list[dict]) -> dict[str, str]:
    texts: dict[str, str] = {}
    by_dataset: dict[str, set[int]] = {}
    for ref in refs:
        by_dataset.setdefault(ref["dataset"], set()).add(ref["line"])
    for dataset, lines in by_dataset.items():
        path = shared_data / dataset if shared_data else None
        if path is None or not path.exists():
            continue
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if number in lines:
                    texts[f"{dataset}:{number}"] = json.loads(line)["content"]
    return texts


def load_documents(pairs: list[dict], shared_data: Path | None) -> dict[str, str]:
    texts = {f"hand:{row['doc_id']}": row["text"] for row in _read_jsonl(TEXTS)}
    corpus_refs = [ref for pair in pairs for ref in (pair["a"], pair["b"]) if "dataset" in ref]
    texts.update(_corpus_texts(shared_data, corpus_refs))
    return texts


def evaluate(pairs: list[dict], documents: dict[str, str]) -> tuple[list[PairOutcome], int]:
    """Outcome of every labelled pair whose two texts are available, and how many were skipped."""
    clusters = assign_story_clusters((key, clean_body(text).body) for key, text in sorted(documents.items()))
    outcomes, skipped = [], 0
    for pair in pairs:
        a, b = _doc_key(pair["a"]), _doc_key(pair["b"])
        if a not in clusters or b not in clusters:
            skipped += 1
            continue
        outcomes.append(PairOutcome(pair["pair_id"], pair["same_story"], clusters[a] == clusters[b]))
    return outcomes, skipped


def scores(outcomes: list[PairOutcome]) -> dict:
    true_pos = sum(o.same_story and o.same_cluster for o in outcomes)
    false_pos = sum(not o.same_story and o.same_cluster for o in outcomes)
    false_neg = sum(o.same_story and not o.same_cluster for o in outcomes)
    precision = true_pos / (true_pos + false_pos) if true_pos + false_pos else 1.0
    recall = true_pos / (true_pos + false_neg) if true_pos + false_neg else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"pairs": len(outcomes), "same_story_pairs": true_pos + false_neg,
            "true_positive": true_pos, "false_positive": false_pos, "false_negative": false_neg,
            "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def run(shared_data: Path | None = DEFAULT_SHARED_DATA) -> dict:
    pairs = _read_jsonl(PAIRS)
    outcomes, skipped = evaluate(pairs, load_documents(pairs, shared_data))
    return {
        **scores(outcomes),
        "skipped_pairs": skipped,
        "errors": [{"pair_id": o.pair_id, "same_story": o.same_story, "same_cluster": o.same_cluster}
                   for o in outcomes if o.same_story != o.same_cluster],
    }
