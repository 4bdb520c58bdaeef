"""Every figure of issue 12, each as a ratio against a baseline measured in the same run on the same
pages: crawl, processing, processing with indexing, indexing, peak memory and search latency.

Serves the corpus site (:mod:`benchmarks.corpus_site`) on 127.0.0.1, crawls it with ``newswire
crawl`` and with the bare Scrapy spider of :mod:`benchmarks.bare_spider`, processes the WARC file
newswire wrote, indexes into a private engine (port 9490, its own home) and searches it. Each pair
is measured in alternating rounds and the medians are compared. Prints the machine load at start
and end, a table and one JSON line (``BENCH_JSON {...}``).

    make bench          # 3,400 articles; memory at 1k / 3.4k / 27k
    make bench-quick    # 300 articles; memory at 300 / 1k
    PYTHONPATH=. .venv/bin/python benchmarks/bench_suite.py --help
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import urllib.request
from contextlib import nullcontext
from pathlib import Path

import trafilatura

from benchmarks import corpus_site
from benchmarks.harness import (
    NEWSWIRE,
    PRIVATE_ENGINE_PORT,
    Row,
    alternate,
    loadavg,
    median,
    newswire_env,
    peak_rss_mb,
    print_table,
    private_engine,
    timed_run,
)
from kernel.archive import list_warc_files
from kernel.records import Article
from kernel.settings import Settings
from pipelines.archive import ArchivedResponse, iter_responses
from pipelines.batch import process_archive
from pipelines.index import SearchEngine
from pipelines.index.documents import articles_index_body, bulk_lines
from pipelines.search import search_articles, search_request

BARE_SPIDER = Path(__file__).with_name("bare_spider.py")
SEARCH_QUERIES = 60
SEARCH_ROUNDS = 3


class Bench:
    def __init__(self, work: Path, rounds: int):
        self.work = work
        self.rounds = rounds
        self.rows: list[Row] = []
        self.facts: dict = {}
        self._count = 0

    def fresh(self, name: str) -> Path:
        self._count += 1
        path = self.work / f"{self._count:03d}-{name}"
        path.mkdir(parents=True)
        return path


# --- crawl ------------------------------------------------------------------------------

def crawl_once(bench: Bench, base_url: str) -> tuple[Path, float, int]:
    """``newswire crawl`` of the site into a fresh data dir: (data dir, seconds, pages archived)."""
    data_dir = bench.fresh("crawl")
    seconds, done = timed_run([str(NEWSWIRE), "crawl", "--source", corpus_site.SOURCE_ID, "--json",
                               "--base-url-override", f"{corpus_site.SOURCE_ID}={base_url}"],
                              newswire_env(data_dir))
    manifest = json.loads(done.stdout)[0]
    return data_dir, seconds, manifest["counts"]["archived"]


def bench_crawl(bench: Bench, articles: list[dict]) -> Path:
    """newswire crawl vs the bare spider writing WARC; returns a data dir newswire crawled."""
    crawled: list[Path] = []

    def newswire() -> float:
        data_dir, seconds, pages = crawl_once(bench, base_url)
        if pages != len(articles):
            raise RuntimeError(f"newswire crawl archived {pages} of {len(articles)} pages")
        crawled.append(data_dir)
        return pages / seconds

    def bare() -> float:
        out = bench.fresh("bare") / "bare.warc.gz"
        _, done = timed_run([sys.executable, str(BARE_SPIDER), f"{base_url}/sitemap.xml", str(out)], newswire_env(out.parent))
        result = json.loads(done.stdout)
        if result["pages"] != len(articles):
            raise RuntimeError(f"bare spider fetched {result['pages']} of {len(articles)} pages")
        bench.facts["bare_warc_bytes"] = out.stat().st_size
        return result["pages"] / result["seconds"]

    with corpus_site.serve_corpus(articles) as mirrors:
        base_url = mirrors.base_urls[corpus_site.SOURCE_ID]
        figures = alternate(bench.rounds, newswire=newswire, bare=bare)
    bench.facts["crawl_pages_per_s"] = figures
    bench.rows.append(Row(f"crawl, {len(articles)} pages (politeness off)", median(figures["newswire"]),
                          median(figures["bare"]), "pages/s", "bare Scrapy + warcio", ">= 0.8"))
    return crawled[-1]


def crawl_archive(bench: Bench, articles: list[dict]) -> Path:
    """A data dir with one newswire crawl of ``articles`` (for the memory figures)."""
    with corpus_site.serve_corpus(articles) as mirrors:
        data_dir, _, pages = crawl_once(bench, mirrors.base_urls[corpus_site.SOURCE_ID])
    if pages != len(articles):
        raise RuntimeError(f"newswire crawl archived {pages} of {len(articles)} pages")
    return data_dir


# --- processing -------------------------------------------------------------------------

def warc_files(data_dir: Path) -> list[str]:
    return [w.url for w in list_warc_files(str(data_dir / "archive"))]


def batch_settings(bench: Bench, crawl_dir: Path, **overrides) -> Settings:
    return Settings(data_dir=bench.fresh("process"), archive_root=str(crawl_dir / "archive"), **overrides)


def bench_processing(bench: Bench, crawl_dir: Path, engine: Settings) -> list[Article]:
    """process_archive(index=False) vs bare trafilatura.extract(); with index vs without."""
    files = warc_files(crawl_dir)
    pages = [r.body for f in files for r in iter_responses(f) if isinstance(r, ArchivedResponse)]
    outputs: list[str] = []

    def process(index: bool) -> float:
        overrides = {"search_url": engine.search_url, "index_prefix": "bench-process"} if index else {}
        settings = batch_settings(bench, crawl_dir, **overrides)
        started = time.perf_counter()
        summary = process_archive(settings, warc_files=files, index=index, only_new=False)
        seconds = time.perf_counter() - started
        if summary["records"] != len(pages) or (index and summary["indexed"] != summary["records"]):
            raise RuntimeError(f"processing wrote {summary['records']} records of {len(pages)} pages: {summary}")
        outputs[:] = summary["outputs"]
        return len(pages) / seconds

    def bare_trafilatura() -> float:
        started = time.perf_counter()
        extracted = [trafilatura.extract(page) for page in pages]
        seconds = time.perf_counter() - started
        if sum(1 for text in extracted if text) < 0.95 * len(pages):
            raise RuntimeError("trafilatura extracted too few pages: the baseline would be meaningless")
        return len(pages) / seconds

    without = alternate(bench.rounds, newswire=lambda: process(False), trafilatura=bare_trafilatura)
    bench.facts["processing_articles_per_s"] = without
    bench.rows.append(Row(f"processing (no index), {len(pages)} articles", median(without["newswire"]),
                          median(without["trafilatura"]), "articles/s", "bare trafilatura.extract()", ">= 1.2"))
    process(True)  # the index and its mapping exist before the measured rounds
    indexed = alternate(bench.rounds, with_index=lambda: process(True), without=lambda: process(False))
    bench.facts["processing_index_articles_per_s"] = indexed
    bench.rows.append(Row("processing with indexing vs without", median(indexed["with_index"]),
                          median(indexed["without"]), "articles/s", "same, --no-index", ">= 0.9"))
    return [Article.model_validate_json(line) for path in outputs for line in Path(path).read_text().splitlines()]


# --- indexing ---------------------------------------------------------------------------

def post(url: str, body: bytes, content_type: str = "application/x-ndjson") -> dict:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=120) as answer:
        return json.load(answer)


def bench_indexing(bench: Bench, articles: list[Article], engine_settings: Settings) -> None:
    """SearchEngine.bulk_upsert vs the same documents as pre-built _bulk bodies over urllib."""
    engine = SearchEngine.connect(engine_settings)
    ours, raw = "bench-bulk-newswire", "bench-bulk-urllib"
    for index in (ours, raw):
        if engine.exists(f"/{index}"):
            engine.delete_index(index)
        engine.create_index(index, articles_index_body())
    lines = list(bulk_lines(articles, raw))
    size = engine_settings.bulk_chunk_size
    bodies = ["".join(lines[i:i + size]).encode("utf-8") for i in range(0, len(lines), size)]

    def newswire() -> float:
        started = time.perf_counter()
        result = engine.bulk_upsert(articles, index=ours)
        if result.failed or result.indexed != len(articles):
            raise RuntimeError(f"bulk_upsert: {result.indexed} indexed, {result.failed} failed")
        return len(articles) / (time.perf_counter() - started)

    def urllib_bulk() -> float:
        started = time.perf_counter()
        for body in bodies:
            if post(f"{engine_settings.search_url}/_bulk", body)["errors"]:
                raise RuntimeError("raw _bulk reported errors")
        return len(articles) / (time.perf_counter() - started)

    figures = alternate(bench.rounds, newswire=newswire, urllib=urllib_bulk)
    bench.facts["indexing_docs_per_s"] = figures
    bench.rows.append(Row(f"indexing, {len(articles)} docs, chunks of {size}", median(figures["newswire"]),
                          median(figures["urllib"]), "docs/s", "pre-built _bulk over urllib", ">= 0.9"))


# --- memory -----------------------------------------------------------------------------

def bench_memory(bench: Bench, crawl_dirs: dict[int, Path]) -> Path:
    """Peak RSS of ``newswire process --no-index`` per corpus size, of the command's process and
    of its largest worker; returns the largest run's data dir."""
    peaks: dict[int, float] = {}
    worker_peaks: dict[int, float] = {}
    largest = max(crawl_dirs)
    for size, crawl_dir in sorted(crawl_dirs.items()):
        data_dir = bench.fresh(f"memory-{size}")
        peaks[size], worker_peaks[size], seconds = peak_rss_mb(
            ["process", "--no-index", "--json"],
            newswire_env(data_dir, NEWSWIRE_ARCHIVE_ROOT=str(crawl_dir / "archive")))
        bench.facts[f"process_cli_seconds_{size}"] = round(seconds, 1)
        if size == largest:
            largest_dir = data_dir
    smallest = min(peaks)
    for size, peak in sorted(peaks.items()):
        bench.rows.append(Row(f"peak RSS of process --no-index, {size} articles", peak,
                              peaks[smallest] if size != smallest else None, "MB",
                              f"peak at {smallest}" if size != smallest else "", "<= 1.1" if size != smallest else ""))
        if worker_peaks[size]:
            bench.rows.append(Row(f"  largest worker's peak RSS, {size} articles", worker_peaks[size], None, "MB"))
    bench.facts["peak_rss_mb"] = peaks
    bench.facts["worker_peak_rss_mb"] = worker_peaks
    return largest_dir


# --- search -----------------------------------------------------------------------------

def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(share * 100) - 1]


def search_queries(articles: list[dict]) -> list[str]:
    """Two-word queries from the titles of the served corpus (chosen with a fixed seed)."""
    chooser = random.Random(12)
    queries = []
    for article in chooser.sample(articles, SEARCH_QUERIES):
        words = [w for w in article["title"].split() if len(w) > 3] or article["title"].split()
        queries.append(" ".join(words[:2]))
    return queries


def bench_search(bench: Bench, processed_dir: Path, corpus: list[dict], engine_settings: Settings) -> None:
    """Latency of search_articles (the adapter) vs the same request body over urllib, and the
    wall time of ``newswire search --json``."""
    settings = engine_settings.model_copy(update={"index_prefix": "bench-search"})
    engine = SearchEngine.connect(settings)
    engine.ensure_ready()
    records = [Article.model_validate_json(line)
               for path in sorted(processed_dir.glob("processed/**/*.jsonl")) for line in path.read_text().splitlines()]
    engine.bulk_upsert(records)
    engine.refresh()
    documents = engine.count()
    queries = search_queries(corpus)
    url = f"{settings.search_url}/{settings.read_alias}/_search"
    for query in queries:  # warm the caches both contenders then use alike
        search_articles(engine, query)

    def adapter() -> list[float]:
        timings = []
        for query in queries:
            started = time.perf_counter()
            search_articles(engine, query)
            timings.append((time.perf_counter() - started) * 1000)
        return timings

    def raw() -> list[float]:
        timings = []
        for query in queries:
            started = time.perf_counter()
            post(url, json.dumps(search_request(query, flavour=engine.flavour)).encode("utf-8"), "application/json")
            timings.append((time.perf_counter() - started) * 1000)
        return timings

    latencies = {"adapter": [], "urllib": []}
    for _ in range(SEARCH_ROUNDS):
        latencies["adapter"] += adapter()
        latencies["urllib"] += raw()
    for share in (0.5, 0.95):
        name = f"p{int(share * 100)}"
        bench.rows.append(Row(f"search {name}, {documents} docs (adapter)", percentile(latencies["adapter"], share),
                              percentile(latencies["urllib"], share), "ms", "same body over urllib",
                              "< 100 ms" if share == 0.95 else ""))
    env = newswire_env(bench.fresh("search-cli"), NEWSWIRE_SEARCH_URL=settings.search_url,
                       NEWSWIRE_INDEX_PREFIX=settings.index_prefix)
    cli = [timed_run([str(NEWSWIRE), "search", "--json", query], env)[0] for query in queries[:5]]
    helps = [timed_run([str(NEWSWIRE), "search", "--help"], env)[0] for _ in range(3)]
    bench.rows.append(Row("newswire search --json wall time", median(cli) * 1000, None, "ms", "", "< 500 ms"))
    bench.rows.append(Row("newswire search --help wall time", median(helps) * 1000, None, "ms"))
    bench.facts["search_documents"] = documents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 articles; memory at 300 and 1,000")
    parser.add_argument("--articles", type=int, help="articles of the crawl/processing/indexing rounds")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per pair (default 3)")
    parser.add_argument("--memory-sizes", type=lambda v: [int(n) for n in v.split(",")],
                        help="corpus sizes of the peak-RSS runs, comma-separated (the largest is searched)")
    parser.add_argument("--only", choices=["pairs", "crawl", "memory"],
                        help="pairs: crawl, processing and indexing only; crawl: the crawl pair only; "
                             "memory: peak RSS and search only")
    parser.add_argument("--engine-port", type=int, default=PRIVATE_ENGINE_PORT,
                        help=f"port of the private engine (default {PRIVATE_ENGINE_PORT})")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    corpus_site.dataset_or_exit()
    size = args.articles or (300 if args.quick else 3400)
    memory_sizes = args.memory_sizes or ([300, 1000] if args.quick else [1000, 3400, corpus_site.FULL_CORPUS])
    load_start = loadavg()
    print(f"load at start: {load_start}")
    corpus = corpus_site.load_articles(max([size] if args.only in ("pairs", "crawl") else [size, *memory_sizes]))
    memory_sizes = [min(n, len(corpus)) for n in memory_sizes]
    work = Path(tempfile.mkdtemp(prefix="newswire-bench-"))
    bench = Bench(work, args.rounds)
    started = time.perf_counter()
    # the crawl pair alone needs no engine
    with nullcontext() if args.only == "crawl" else private_engine(work / "engine", args.engine_port) as engine:
        crawl_dir = None
        if args.only != "memory":
            crawl_dir = bench_crawl(bench, corpus[:size])
        if args.only in (None, "pairs"):
            records = bench_processing(bench, crawl_dir, engine)
            bench_indexing(bench, records, engine)
        if args.only in (None, "memory"):
            crawl_dirs = {n: crawl_dir if n == size and crawl_dir else crawl_archive(bench, corpus[:n])
                          for n in memory_sizes}
            largest = bench_memory(bench, crawl_dirs)
            bench_search(bench, largest, corpus[:max(memory_sizes)], engine)
    load_end = loadavg()
    print()
    print_table(bench.rows)
    print(f"\nload at start: {load_start}; at end: {load_end}; {time.perf_counter() - started:.0f} s; "
          f"work dir {work}{'' if args.keep else ' (removed)'}")
    print("BENCH_JSON " + json.dumps({
        "load_start": load_start, "load_end": load_end, "articles": size, "rounds": args.rounds,
        "rows": [row.as_dict() for row in bench.rows], "facts": bench.facts,
    }, ensure_ascii=False))
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
