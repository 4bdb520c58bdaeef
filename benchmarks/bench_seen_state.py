"""What a crawler on a machine with an empty state dir pays per archived WARC file to learn its
URL keys (crawler/state.py): from the file's manifest, as it does, vs from the WARC's metadata
records (every record decompressed), the fallback for a file without a manifest.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_seen_state.py [--articles 100] [--rounds 20]

Writes one WARC file of corpus articles and its manifest with the crawler's own writers into a
temporary folder, then reads the keys both ways in alternating rounds. Prints the load, a table and
``BENCH_JSON {...}``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.corpus_site import load_articles, render_article
from benchmarks.harness import Row, alternate, loadavg, median, print_table
from crawler.archive import WarcArchive, archived_entry, write_manifest
from crawler.items import ArchivedPage, HttpExchange
from crawler.state import archived_entries, seen_entries_in_warc
from kernel.archive import parse_warc_path, run_paths

BASE_URL = "https://www.spa.gov.sa"


def write_archived_file(root: Path, articles: list[dict]) -> tuple[str, int]:
    """(WARC URL, its size in bytes): the articles as one crawl of `spa` archived them."""
    fetched_at = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
    warc_url, manifest_url = run_paths(str(root), "spa", "bench", fetched_at)
    archive, archived = WarcArchive(warc_url, {"software": "newswire bench"}), []
    for number, article in enumerate(articles):
        url = BASE_URL + article["path"]
        body = render_article(article, articles[number + 1:number + 4], BASE_URL)
        exchange = HttpExchange("GET", url, [], "HTTP/1.1", 200, [("Content-Type", "text/html; charset=utf-8")],
                                body, fetched_at)
        record_id = archive.write(ArchivedPage("spa", url, url, [], "sitemap", None, url, [url], exchange))
        archived.append(archived_entry(url, url, record_id, [url]))
    size = archive.close()
    write_manifest(manifest_url, {"source_id": "spa", "warc_file": warc_url, "archived": archived})
    return warc_url, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    print(f"load at start: {loadavg()}")
    with tempfile.TemporaryDirectory(prefix="newswire-bench-seen-") as tmp:
        warc_url, warc_bytes = write_archived_file(Path(tmp), load_articles(args.articles))
        warc = parse_warc_path(warc_url)
        manifest_bytes = Path(warc.manifest_url).stat().st_size
        expected = sorted(e.url_key for e in seen_entries_in_warc(warc))
        assert sorted(e.url_key for e in archived_entries(warc)) == expected and len(expected) == args.articles

        def timed(read) -> float:
            started = time.perf_counter()
            read()
            return (time.perf_counter() - started) * 1000

        figures = alternate(args.rounds, manifest=lambda: timed(lambda: archived_entries(warc)),
                            warc=lambda: timed(lambda: seen_entries_in_warc(warc)))
    rows = [Row(f"URL keys of a WARC file of {args.articles} articles", median(figures["manifest"]),
                median(figures["warc"]), "ms", baseline_name="its metadata records")]
    print(f"WARC file {warc_bytes} bytes, manifest {manifest_bytes} bytes")
    print_table(rows)
    print(f"load at end: {loadavg()}")
    print("BENCH_JSON " + json.dumps({"rows": [row.as_dict() for row in rows], "rounds": figures}))


if __name__ == "__main__":
    main()
