"""Where processing spends its CPU: milliseconds per article per stage of ``process_archive``.

Crawls the corpus site (or reads ``--data-dir``, a data dir a crawl wrote), then runs
``process_archive(index=False)`` once to warm up and once measured, with every stage function
wrapped in a CPU-time counter (``time.process_time``, this process only, so with one worker). "other" is what is left
of the whole batch: reading WARC records, building and writing the records, JSON round trips.
``--cprofile N`` also prints cProfile's top N functions by cumulative time.

    PYTHONPATH=. .venv/bin/python benchmarks/profile_processing.py [--articles 1000] [--cprofile 25]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from benchmarks import corpus_site
from benchmarks.bench_suite import Bench, batch_settings, crawl_archive, warc_files
from pipelines import batch, stages, stories
from pipelines.batch import process_archive

STAGES = {  # module, function name, stage label
    (stages, "extract_page"): "extract (trafilatura + metadata)",
    (stages, "cut_trailers"): "clean (trailers)",
    (stages, "normalize_text"): "normalize",
    (stages, "detect_language"): "language",
    (stages, "tag_attribution"): "attribution",
    (stages, "content_hash"): "content hash",
    (batch, "story_features"): "story features (words, MinHash, profile)",
    (stories, "grouped_story_clusters"): "story clustering (LSH, grouping)",
}


def _timed(function: Callable, label: str, spent: dict[str, float]) -> Callable:
    def wrapper(*args, **kwargs):
        started = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label] += time.process_time() - started
    return wrapper


def stage_profile(data_dir: Path, bench: Bench) -> dict:
    files = warc_files(data_dir)
    process_archive(batch_settings(bench, data_dir), warc_files=files, index=False, only_new=False,
                    workers=1)  # warm-up
    spent: dict[str, float] = defaultdict(float)
    originals = {(module, name): getattr(module, name) for module, name in STAGES}
    for (module, name), label in STAGES.items():
        setattr(module, name, _timed(originals[(module, name)], label, spent))
    try:
        started = time.process_time()
        summary = process_archive(batch_settings(bench, data_dir), warc_files=files, index=False, only_new=False,
                                  workers=1)
        total = time.process_time() - started
    finally:
        for (module, name), function in originals.items():
            setattr(module, name, function)
    records = summary["records"]
    per_article = {label: round(seconds / records * 1000, 2) for label, seconds in spent.items()}
    per_article["other (WARC reading, records, JSON)"] = round((total - sum(spent.values())) / records * 1000, 2)
    return {"records": records, "cpu_ms_per_article": round(total / records * 1000, 2), "stages": per_article}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--data-dir", type=Path, help="a data dir with a crawl of the corpus site (skips crawling)")
    parser.add_argument("--cprofile", type=int, default=0, metavar="N", help="also print cProfile's top N functions")
    args = parser.parse_args()
    bench = Bench(Path(tempfile.mkdtemp(prefix="newswire-profile-")), rounds=1)
    data_dir = args.data_dir or crawl_archive(bench, corpus_site.load_articles(args.articles))
    figures = stage_profile(data_dir, bench)
    total = figures["cpu_ms_per_article"]
    print(f"{figures['records']} records, {total} CPU ms per article")
    for label, ms in sorted(figures["stages"].items(), key=lambda kv: -kv[1]):
        print(f"  {label:40s} {ms:7.2f} ms  {ms / total:6.1%}")
    print("PROFILE_JSON " + json.dumps(figures | {"data_dir": str(data_dir)}))
    if args.cprofile:
        profiler = cProfile.Profile()
        profiler.runcall(process_archive, batch_settings(bench, data_dir), warc_files=warc_files(data_dir),
                         index=False, only_new=False, workers=1)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.cprofile)


if __name__ == "__main__":
    main()
