"""Where duplicate grouping goes wrong on the tuning pairs: candidate generation, confirmation or grouping.

Clusters each chosen split's articles as ``newswire eval-dedup`` does (the production stage
sequence, one batch a split), then, for each pair of the split that comes out wrong, prints the
step that lost or made it:

- ``candidates``: a same-story pair that MinHash/LSH never proposed (its estimated word-set
  Jaccard similarity is printed beside ``CANDIDATE_THRESHOLD``);
- ``confirmation``: a candidate that the rare-word check (``is_same_story``) rejected;
- ``grouping``: a same-story pair the check confirmed that ``story_groups`` put in two groups,
  or a pair of two stories that it put in one group without the check confirming them;
- a pair of two stories that the check confirmed is a ``confirmation`` false positive;

with the rare-word evidence of the pair. It then lists the pairs the night-by-night replay gets
wrong beside the one-batch outcome, and with ``--sweep`` the splits' precision and recall when one
threshold of ``pipelines.dedup`` moves while the others stay. Only the tuning side can be asked
for: held-out pairs are never used to choose a rule, so their errors are not printed here.

    PYTHONPATH=. .venv/bin/python benchmarks/dedup_misses.py [--split tune] [--sweep]
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from pipelines import dedup
from pipelines.evaluation import dedup as dedup_evaluation
from pipelines.evaluation import read_jsonl

TUNING_SPLITS = ("tune", "handwritten")
SWEEP = {  # threshold -> the values tried; every other threshold keeps its value
    "CANDIDATE_THRESHOLD": (0.2, 0.3),
    "LEAD_OVERLAP": (0.45, 0.65),
    "LEAD_RARE_CONTAINMENT": (0.4, 0.6),
    "RARE_WORD_AGREEMENT": (0.6, 0.8),
    "RARE_WORD_CONTAINMENT": (0.8, 0.95),
    "MIN_LENGTH_RATIO": (0.2, 0.4),
    "LEAD_WORDS": (25, 60),
    "LEAD_RAREST": (3, 6),
    "LEAD_AGREEMENT": (0.25, 0.75),
    "TITLE_OVERLAP": (0.15, 0.35),
    "TITLE_RARE_CONTAINMENT": (0.7, 0.85),
    "TITLE_LEAD_AGREEMENT": (0.5, 1.0),
    "GROUP_LINK_DENSITY": (0.3, 0.7),
    "FIGURE_DISAGREEMENT": (0.5, 0.7),
}


def _evidence_line(evidence: dedup.PairEvidence | None) -> str:
    if evidence is None:
        return "too short to compare"
    return " ".join(f"{name}={value:.2f}" for name, value in vars(evidence).items())


def one_batch_errors(pairs: list[dict], items: list[tuple[str, str]]) -> Counter:
    """Print each wrong pair with the step it went wrong at; returns (kind, step) counts."""
    clusterer = dedup.StoryClusterer()
    for key, text in items:
        clusterer.add(key, text)
    clusters = clusterer.clusters()
    candidates = set(map(frozenset, clusterer.candidate_pairs()))
    confirmed = set(map(frozenset, clusterer.confirmed_pairs()))
    texts = dict(items)
    steps: Counter = Counter()
    for pair in pairs:
        a, b = dedup_evaluation._doc_key(pair["a"]), dedup_evaluation._doc_key(pair["b"])
        if a not in clusters or b not in clusters or (clusters[a] == clusters[b]) == pair["same_story"]:
            continue
        key = frozenset((a, b))
        if not pair["same_story"]:
            kind, step = "false positive", "confirmation" if key in confirmed else "grouping"
        else:
            kind = "miss"
            step = "grouping" if key in confirmed else "confirmation" if key in candidates else "candidates"
        steps[kind, step] += 1
        signatures = [dedup.minhash_signature(texts[a]), dedup.minhash_signature(texts[b])]
        estimate = signatures[0].jaccard(signatures[1]) if None not in signatures else float("nan")
        print(f"{kind:14} {step:12} {pair['pair_id']:22} estimated_jaccard={estimate:.2f} "
              f"(candidates from {dedup.CANDIDATE_THRESHOLD}) confirmed={key in confirmed}")
        print(f"{'':28}{_evidence_line(clusterer.evidence(a, b))}")
    return steps


def nightly_errors(pairs: list[dict], documents: dict, one_batch: dict[str, str]) -> Counter:
    """Print the pairs the night-by-night replay gets wrong; returns counts by whether one batch
    gets them right."""
    nightly = dedup_evaluation.nightly_clusters(documents)
    counts: Counter = Counter()
    for pair in pairs:
        a, b = dedup_evaluation._doc_key(pair["a"]), dedup_evaluation._doc_key(pair["b"])
        if a not in nightly or b not in nightly or (nightly[a] == nightly[b]) == pair["same_story"]:
            continue
        kind = "miss" if pair["same_story"] else "false positive"
        one_batch_right = (one_batch[a] == one_batch[b]) == pair["same_story"]
        counts[kind, "one batch right" if one_batch_right else "one batch wrong too"] += 1
        print(f"{kind:14} {pair['pair_id']:22} nights {documents[a].collected_at.date()} "
              f"{documents[b].collected_at.date()} one batch right={one_batch_right}")
    return counts


def sweep(pairs: list[dict], items: list[tuple[str, str]], splits: list[str]) -> None:
    def figures() -> str:
        outcomes, _ = dedup_evaluation._outcomes(pairs, dedup.assign_story_clusters(items))
        return "  ".join(f"{split} P={s['precision']:.3f} R={s['recall']:.3f} FP={s['false_positives']} "
                         f"FN={s['false_negatives']}"
                         for split in splits
                         for s in [dedup_evaluation.scores([o for o in outcomes if o.split == split])])

    print(f"{'as is':34} {figures()}")
    lsh_threshold = dedup.LSH_THRESHOLD
    for name, values in SWEEP.items():
        kept = getattr(dedup, name)
        for value in values:
            setattr(dedup, name, value)
            # LSH proposes pairs from below the candidate threshold, as it does as is
            dedup.LSH_THRESHOLD = min(lsh_threshold, dedup.CANDIDATE_THRESHOLD - 0.05)
            print(f"{f'{name}={value} (is {kept})':34} {figures()}")
        setattr(dedup, name, kept)
        dedup.LSH_THRESHOLD = lsh_threshold


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared-data", type=Path, default=dedup_evaluation.DEFAULT_SHARED_DATA)
    parser.add_argument("--split", action="append", choices=TUNING_SPLITS,
                        help="tuning-side split(s) to inspect (default: tune)")
    parser.add_argument("--sweep", action="store_true", help="also move each threshold one step either side")
    args = parser.parse_args(argv)
    splits = args.split or ["tune"]
    corpus = args.shared_data / "saudinewsnet" / "articles.jsonl.gz"
    if not corpus.exists():
        print(f"skipped: {corpus} is absent")
        return 0
    pairs = [pair for pair in read_jsonl(dedup_evaluation.PAIRS) if pair["split"] in splits]
    documents = dedup_evaluation.load_documents(pairs, args.shared_data)
    for split, (split_pairs, split_documents) in sorted(dedup_evaluation.split_batches(pairs, documents).items()):
        # each split is its own batch, as eval-dedup clusters it, so the document frequencies match
        items = dedup_evaluation.production_story_texts(split_documents)
        print(f"{split}: one batch ({len(items)} articles), wrong pairs:")
        steps = one_batch_errors(split_pairs, items)
        print("by step:", dict(steps))
        print(f"{split}: night by night ({dedup_evaluation.NIGHTLY_WINDOW_DAYS}-day window), wrong pairs:")
        print("by one-batch outcome:",
              dict(nightly_errors(split_pairs, split_documents, dedup.assign_story_clusters(items))))
        if args.sweep:
            sweep(split_pairs, items, [split])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
