"""Throughput and memory of processing: clean + language + attribution + story clustering.

Reads the first N articles (default 5,000) of ../shared/data/saudinewsnet (SaudiNewsNet corpus by
Mazen Abdulaziz, CC BY-NC-SA 4.0; used here for measurement only) and runs each stage the way
pipelines.process does, in one process. Prints articles per second per core (CPU time of this one
process, so it does not depend on what else the machine runs), wall time, time per stage and
peak memory (peak RSS from getrusage; with --tracemalloc also the peak of Python allocations,
which slows the run down).

    .venv/bin/python benchmarks/bench_processing.py [--limit 5000] [--tracemalloc] [--json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import sys
import time
import tracemalloc
from collections import Counter, defaultdict
from itertools import islice
from pathlib import Path

from pipelines.attribution import tag_attribution
from pipelines.clean import clean_body, normalize_text
from pipelines.dedup import StoryClusterer, content_hash
from pipelines.language import detect_language

DATASET = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "saudinewsnet" / "articles.jsonl.gz"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(limit: int, trace: bool) -> dict:
    with gzip.open(DATASET, "rt", encoding="utf-8") as handle:
        articles = [json.loads(line) for line in islice(handle, limit)]
    if trace:
        tracemalloc.start()
    stage_cpu: dict[str, float] = defaultdict(float)
    languages: Counter = Counter()
    agencies: Counter = Counter()
    clusterer = StoryClusterer()
    wall, cpu = time.perf_counter(), _cpu()
    for number, article in enumerate(articles, start=1):
        t0 = _cpu()
        cleaned = clean_body(article["content"])
        t1 = _cpu()
        language = detect_language(article["title"], cleaned.body)
        t2 = _cpu()
        credit = tag_attribution(normalize_text(article["content"]), article["title"])
        t3 = _cpu()
        content_hash(cleaned.body)
        clusterer.add(f"{number:06d}", cleaned.body)
        t4 = _cpu()
        for stage, spent in (("clean", t1 - t0), ("language", t2 - t1), ("attribution", t3 - t2), ("dedup", t4 - t3)):
            stage_cpu[stage] += spent
        languages[language.language] += 1
        agencies[credit.credited[0].agency_id if credit.credited else None] += 1
    t0 = _cpu()
    clusters = clusterer.clusters()
    stage_cpu["dedup"] += _cpu() - t0
    cpu_seconds, wall_seconds = _cpu() - cpu, time.perf_counter() - wall
    traced_peak = tracemalloc.get_traced_memory()[1] if trace else None
    return {
        "articles": len(articles),
        "cpu_seconds": round(cpu_seconds, 2),
        "wall_seconds": round(wall_seconds, 2),
        "articles_per_second_per_core": round(len(articles) / cpu_seconds, 1),
        "stage_ms_per_article": {k: round(1000 * v / len(articles), 3) for k, v in stage_cpu.items()},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "tracemalloc_peak_mb": round(traced_peak / 2**20, 1) if traced_peak is not None else None,
        "story_clusters": len(set(clusters.values())),
        "languages": dict(languages.most_common()),
        "credited": sum(v for k, v in agencies.items() if k),
        "top_agencies": {k: v for k, v in agencies.most_common(8) if k},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=5000, help="articles to process (default 5000)")
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if not DATASET.exists():
        sys.exit(f"dataset not found: {DATASET} (benchmarks need ../shared/data)")
    figures = run(args.limit, args.tracemalloc)
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
        return
    for key, value in figures.items():
        print(f"{key:30s} {value}")


if __name__ == "__main__":
    main()
