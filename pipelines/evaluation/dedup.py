"""Duplicate grouping measured on labelled pairs in ``pipelines/data/labels``.

``dedup_pairs.jsonl`` labels pairs of articles as the same story or not. Corpus articles are
referenced by line in ../shared/data (never copied); ``dedup_texts.jsonl`` holds our own
handwritten variants. Every referenced article becomes a record through the production stage
sequence (:func:`pipelines.stages.text_page` and :func:`~pipelines.stages.analyse_page`, as
``newswire annotate`` and nightly processing build them), and the articles of each split are
clustered as one batch of their own on :func:`~pipelines.stages.story_text` (title and cleaned
body) by the production :func:`~pipelines.dedup.assign_story_clusters`. Every labelled pair is
then checked: precision is the share of pairs put in one cluster that really are one story,
recall the share of same-story pairs put in one cluster. Pairs whose corpus text is absent are
skipped.

Each pair belongs to a split, scored on its own. A split's batch holds only the articles of its
own pairs (an article labelled in two splits is in both batches): word rarity is the document
frequency in the batch, so clustering the splits together would let the tuning articles move the
held-out figures, and labelling more tuning pairs would change them.

- ``handwritten``: our own variants (retyped, trimmed, templated) in ``dedup_texts.jsonl``.
- ``tune``: corpus pairs whose two articles both come from the seven tuning outlets (all but
  3alyoum, aljazirah, alwatan, arreyadi and sabq) and from July 2015; the rules and thresholds
  are chosen on these and the handwritten pairs.
- ``heldout``: pairs whose two articles both come from the five held-out outlets and from
  August 2015, labelled by hand before the rules they judge were changed and never used to
  choose anything: the figure the tests assert.
- ``seen``: older corpus pairs that touch a held-out outlet or August 2015. They were looked
  at while earlier rules were designed, so they are neither tuning nor held-out; they are
  printed, never used to choose a rule.

The same pairs are also scored *night by night* (``nights``): each split's corpus articles are
replayed, apart from the other splits', one crawl day at a time (the day the corpus collected them) through
:func:`pipelines.stories.cluster_batch`, the sequence nightly processing runs, with the stories
of earlier nights kept in memory as the index keeps them. That shows whether a copy collected on
a later night joins the earlier copy's story, and how far the night-by-night clusters differ from
the split's one batch (``agreement``: pairs of its articles, labelled or not, that both put in one
story or both apart).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations
from pathlib import Path

from pipelines.dedup import assign_story_clusters
from pipelines.evaluation import (
    DEFAULT_SHARED_DATA,
    LABELS_DIR,
    Scores,
    corpus_lines,
    read_jsonl,
)
from pipelines.stages import analyse_page, story_text, text_page
from pipelines.stories import StoryMember, cluster_batch

NIGHTLY_WINDOW_DAYS = 3
"""The replay's window: the production default of ``story_window_days``."""

SPLITS = ("handwritten", "tune", "heldout", "seen")
PAIRS = LABELS_DIR / "dedup_pairs.jsonl"
TEXTS = LABELS_DIR / "dedup_texts.jsonl"


@dataclass(frozen=True)
class PairOutcome:
    pair_id: str
    split: str
    same_story: bool
    same_cluster: bool


def _doc_key(ref: dict) -> str:
    return f"hand:{ref['handwritten']}" if "handwritten" in ref else f"{ref['dataset']}:{ref['line']}"


@dataclass(frozen=True)
class Document:
    """One labelled article as it reaches processing: title, text and the page's byline."""

    title: str
    text: str
    byline: str = ""
    collected_at: datetime | None = None
    """When the corpus collected the article (its crawl time); None for handwritten texts."""


def _corpus_texts(shared_data: Path | None, refs: list[dict]) -> dict[str, Document]:
    texts: dict[str, Document] = {}
    by_dataset: dict[str, set[int]] = {}
    for ref in refs:
        by_dataset.setdefault(ref["dataset"], set()).add(ref["line"])
    for dataset, lines in by_dataset.items():
        path = shared_data / dataset if shared_data else None
        if path is not None and path.exists():
            texts.update({f"{dataset}:{n}": Document(row.get("title") or "", row["content"], row.get("author") or "",
                                                      _collected(row.get("date_extracted")))
                          for n, row in corpus_lines(path, lines).items()})
    return texts


def _collected(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def load_documents(pairs: list[dict], shared_data: Path | None) -> dict[str, Document]:
    """The documents the pairs refer to whose texts are available."""
    referenced = {_doc_key(ref) for pair in pairs for ref in (pair["a"], pair["b"])}
    texts = {key: document for row in read_jsonl(TEXTS)
             for key, document in [(f"hand:{row['doc_id']}", Document(row.get("title", ""), row["text"]))]
             if key in referenced}
    corpus_refs = [ref for pair in pairs for ref in (pair["a"], pair["b"]) if "dataset" in ref]
    texts.update(_corpus_texts(shared_data, corpus_refs))
    return texts


def split_batches(pairs: list[dict], documents: dict[str, Document]) -> dict[str, tuple[list[dict], dict[str, Document]]]:
    """Each split's pairs and the documents of those pairs: the batch that split is clustered in."""
    batches: dict[str, tuple[list[dict], dict[str, Document]]] = {}
    for pair in pairs:
        split_pairs, split_documents = batches.setdefault(pair["split"], ([], {}))
        split_pairs.append(pair)
        split_documents.update((key, documents[key]) for key in map(_doc_key, (pair["a"], pair["b"]))
                               if key in documents)
    return batches


def production_story_texts(documents: dict[str, Document]) -> list[tuple[str, str]]:
    """(key, what production clusters) for every document, built by the stage sequence."""
    items = []
    for key, document in sorted(documents.items()):
        article = analyse_page(text_page(document.title, document.text, byline=document.byline),
                               {"id": key, "url": "", "canonical_url": ""})
        items.append((key, story_text(article)))
    return items


def _outcomes(pairs: list[dict], clusters: dict[str, str]) -> tuple[list[PairOutcome], int]:
    outcomes, skipped = [], 0
    for pair in pairs:
        a, b = _doc_key(pair["a"]), _doc_key(pair["b"])
        if a not in clusters or b not in clusters:
            skipped += 1
            continue
        outcomes.append(PairOutcome(pair["pair_id"], pair["split"], pair["same_story"], clusters[a] == clusters[b]))
    return outcomes, skipped


class RememberedStories:
    """The stories of earlier nights, kept in memory as the index keeps them (a StoryStore)."""

    def __init__(self) -> None:
        self.members: dict[str, StoryMember] = {}
        self.texts: dict[str, str] = {}

    def window(self, since: datetime, until: datetime) -> Iterator[tuple[StoryMember, str]]:
        for member in self.members.values():
            if member.first_seen is not None and since <= member.first_seen <= until:
                yield member, self.texts[member.id]

    def members_of(self, names: list[str]) -> Iterator[tuple[str, str]]:
        wanted = set(names)
        return ((m.id, m.stored_cluster) for m in self.members.values() if m.stored_cluster in wanted)

    def rename(self, clusters: dict[str, str]) -> int:
        for article_id, name in clusters.items():
            self.members[article_id] = StoryMember(article_id, self.members[article_id].first_seen, name)
        return len(clusters)

    def store(self, first_seen: dict[str, datetime | None], texts: dict[str, str], clusters: dict[str, str]) -> None:
        for article_id, seen in first_seen.items():
            self.members[article_id] = StoryMember(article_id, seen, clusters[article_id])
            self.texts[article_id] = texts[article_id]


def nightly_clusters(documents: dict[str, Document], window_days: int = NIGHTLY_WINDOW_DAYS) -> dict[str, str]:
    """Story of every dated document when they arrive one collection day at a time."""
    texts = dict(production_story_texts({k: d for k, d in documents.items() if d.collected_at is not None}))
    stories = RememberedStories()
    for day in sorted({documents[key].collected_at.date() for key in texts}):
        tonight = {key: documents[key].collected_at for key in sorted(texts) if documents[key].collected_at.date() == day}
        assignment = cluster_batch(tonight, lambda: ((key, texts[key]) for key in tonight), stories, window_days)
        stories.store(tonight, texts, assignment.clusters)
        stories.rename(assignment.renames)
    return {article_id: member.stored_cluster for article_id, member in stories.members.items()}


def agreement(one: dict[str, str], other: dict[str, str]) -> float:
    """Share of document pairs that two clusterings treat alike (both one story, or both apart)."""
    keys = sorted(one.keys() & other.keys())
    pairs = [(a, b) for a, b in combinations(keys, 2)]
    alike = sum((one[a] == one[b]) == (other[a] == other[b]) for a, b in pairs)
    return round(alike / len(pairs), 4) if pairs else 1.0


def scores(outcomes: list[PairOutcome]) -> dict:
    """Pairwise precision and recall of "put in one story cluster" against "is one story"."""
    counts = Scores(
        true_positives=sum(o.same_story and o.same_cluster for o in outcomes),
        false_positives=sum(not o.same_story and o.same_cluster for o in outcomes),
        false_negatives=sum(o.same_story and not o.same_cluster for o in outcomes),
    )
    return {"pairs": len(outcomes), "same_story_pairs": counts.true_positives + counts.false_negatives,
            **counts.as_dict()}


def run(shared_data: Path | None = DEFAULT_SHARED_DATA, splits: Iterable[str] = SPLITS) -> dict:
    """Figures of the labelled pairs of the given splits, each split clustered as a batch of its
    own (one batch, then night by night), so a split's figures do not depend on the others'
    articles; asking for some splits only lets rules be worked on without seeing the held-out
    outcomes."""
    wanted = set(splits)
    pairs = [pair for pair in read_jsonl(PAIRS) if pair["split"] in wanted]
    documents = load_documents(pairs, shared_data)
    outcomes: list[PairOutcome] = []
    night_outcomes: list[PairOutcome] = []
    agreements: dict[str, float] = {}
    skipped = 0
    for split, (split_pairs, split_documents) in sorted(split_batches(pairs, documents).items()):
        one_batch = assign_story_clusters(production_story_texts(split_documents))
        split_outcomes, split_skipped = _outcomes(split_pairs, one_batch)
        outcomes += split_outcomes
        skipped += split_skipped
        if split_outcomes:
            nightly = nightly_clusters(split_documents)
            night_outcomes += _outcomes(split_pairs, nightly)[0]
            agreements[split] = agreement(one_batch, nightly)
    present = sorted({o.split for o in outcomes})
    across = [o for o, pair in zip(*_with_pairs(night_outcomes, pairs))
              if documents[_doc_key(pair["a"])].collected_at.date() != documents[_doc_key(pair["b"])].collected_at.date()]
    return {
        **scores(outcomes),
        "skipped_pairs": skipped,
        "splits": {split: scores([o for o in outcomes if o.split == split]) for split in present},
        "nights": {
            "window_days": NIGHTLY_WINDOW_DAYS,
            "splits": {split: scores([o for o in night_outcomes if o.split == split]) for split in present},
            "across_nights": {split: scores([o for o in across if o.split == split]) for split in present},
            "agreement_with_one_batch": agreements,
        },
        "errors": [{"pair_id": o.pair_id, "split": o.split, "same_story": o.same_story,
                    "same_cluster": o.same_cluster}
                   for o in outcomes if o.same_story != o.same_cluster],
    }


def _with_pairs(outcomes: list[PairOutcome], pairs: list[dict]) -> tuple[list[PairOutcome], list[dict]]:
    """Each outcome with its labelled pair (outcomes keep the pairs' order, skipping absent texts)."""
    by_id = {pair["pair_id"]: pair for pair in pairs}
    return outcomes, [by_id[o.pair_id] for o in outcomes]
