"""Throughput and memory of processing: clean + language + attribution + story clustering.

Reads the first N articles (default 5,000) of ../shared/data/saudinewsnet (SaudiNewsNet corpus by
Mazen Abdulaziz, CC BY-NC-SA 4.0; used here for measurement only) and runs them through the
production stage sequence (:func:`pipelines.stages.analyse_page`, then story clustering on
:func:`pipelines.stages.story_text`), in one process. Prints articles per second per core (CPU
time of this one process, so it does not depend on what else the machine runs), wall time,
clustering time and peak memory (peak RSS from getrusage; with --tracemalloc also the peak of
Python allocations, which slows the run down).

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
from collections import Counter
from itertools import islice
from pathlib import Path

from pipelines.dedup import StoryClusterer
from pipelines.stages import analyse_page, story_text, text_page

DATASET = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "saudinewsnet" / "articles.jsonl.gz"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(limit: int, trace: bool) -> dict:
    with gzip.open(DATASET, "rt", encoding="utf-8") as handle:
        articles = [json.loads(line) for line in islice(handle, limit)]
    if trace:
        tracemalloc.start()
    languages: Counter = Counter()
    agencies: Counter = Counter()
    clusterer = StoryClusterer()
    wall, cpu = time.perf_counter(), _cpu()
    for number, item in enumerate(articles, start=1):
        record_id = f"{number:06d}"
        article = analyse_page(text_page(item["title"], item["content"], byline=item.get("author") or ""),
                               {"id": record_id, "url": item.get("url", ""), "canonical_url": ""})
        clusterer.add(record_id, story_text(article))
        languages[article.language] += 1
        agencies[article.attribution.agency_id if article.attribution else None] += 1
    t0 = _cpu()
    clusters = clusterer.clusters()
    clustering_seconds = _cpu() - t0
    cpu_seconds, wall_seconds = _cpu() - cpu, time.perf_counter() - wall
    traced_peak = tracemalloc.get_traced_memory()[1] if trace else None
    return {
        "articles": len(articles),
        "cpu_seconds": round(cpu_seconds, 2),
        "wall_seconds": round(wall_seconds, 2),
        "articles_per_second_per_core": round(len(articles) / cpu_seconds, 1),
        "final_clustering_seconds": round(clustering_seconds, 2),
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
