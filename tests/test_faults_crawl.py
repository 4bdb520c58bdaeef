"""Fault injection, crawler half (issue 10, cases 0, 2, 3 and 11): the real `newswire crawl` in a
subprocess against local sites on 127.0.0.1 that compress, answer slowly, get killed mid-run,
ask for a pause or redirect where they should not; processing through
:func:`pipelines.batch.process_archive` without an engine. Each test asserts counts and ids.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import fsspec
import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from crawler.archive import WarcArchive
from crawler.items import ArchivedPage, HttpExchange
from crawler.middlewares import MAX_RETRY_AFTER, is_internal_host, retry_after_seconds
from crawler.mirror import MirrorServer, Page, Site
from crawler.state import CrawlBusyError, crawl_lock, open_state, recover_unpublished
from kernel.archive import OPEN_SUFFIX, list_warc_files, run_paths
from kernel.records import article_id
from kernel.settings import get_settings
from kernel.urls import canonicalize_url
from pipelines.archive import iter_responses
from pipelines.batch import already_processed, process_archive
from pipelines.batch import dead_letters as batch_dead_letters

REPO = Path(__file__).resolve().parent.parent
NEWSWIRE = str(Path(sys.executable).with_name("newswire"))
SOURCE = "tasnim"
REAL_SITE = "https://www.tasnimnews.com"
FEED = "/ar/rss/feed/0/8/0/"
WORDS = ("الوزير", "المدينة", "الحكومة", "المشروع", "الاقتصاد", "الطلاب", "المستشفى", "الطريق", "المياه",
         "الزراعة", "الصناعة", "المعرض", "الجامعة", "الشركة", "السوق", "المصنع", "الميناء", "المطار",
         "افتتح", "أعلن", "زار", "ناقش", "أكد", "بحث", "وقع", "اليوم", "الجديد", "الكبير", "في", "مع")
# What every variant of case 0 sends: (Content-Encoding when accepted, chunked)
WIRE_VARIANTS = [("gzip", False), ("br", False), ("gzip", True), ("identity", True), ("br", True)]


def article_path(n: int) -> str:
    return f"/ar/news/2026/11/25/{2300000 + n}/"


def article_title(n: int) -> str:
    return f"خبر رقم {n} عن {WORDS[n % 18]} و{WORDS[(n * 7) % 18]}"


def article_html(n: int) -> bytes:
    """An article page in tasnim's layout; its words are drawn per article, so no two match."""
    rng = random.Random(n)
    paragraphs = "".join(
        "<p>" + " ".join(rng.choice(WORDS) for _ in range(40)) + ".</p>" for _ in range(4))
    return (f'<!DOCTYPE html><html lang="ar"><head><meta charset="utf-8"><title>{article_title(n)}</title>'
            f'<link rel="canonical" href="{REAL_SITE}{article_path(n)}"></head><body>'
            f'<h1 class="title">{article_title(n)}</h1><div class="story">{paragraphs}</div>'
            "</body></html>").encode()


def expected_id(n: int) -> str:
    return article_id(canonicalize_url(REAL_SITE + article_path(n)))


def news_site(numbers, **page_options) -> Site:
    """robots.txt, an RSS feed naming every article on the real site's host, and the articles."""
    site = Site()
    site.add("/robots.txt", Page(b"User-agent: *\nAllow: /\n", "text/plain"))
    items = "".join(f"<item><title>{n}</title><link>{REAL_SITE}{article_path(n)}</link>"
                    "<pubDate>Wed, 25 Nov 2026 09:00:00 +0330</pubDate></item>" for n in numbers)
    site.add(FEED, Page(f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
                        f"<title>t</title>{items}</channel></rss>".encode(), "application/rss+xml"))
    for n in numbers:
        site.add(article_path(n), Page(article_html(n), **page_options))
    return site


def crawl_env(data: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
        "NEWSWIRE_DATA_DIR": str(data),
        "NEWSWIRE_ARCHIVE_ROOT": str(data / "archive"),
        "NEWSWIRE_CRAWL_DELAY": "0",
        "NEWSWIRE_RETRY_BACKOFF": "0.1",
        "NEWSWIRE_DOWNLOAD_TIMEOUT": "10",
        "NEWSWIRE_ENABLED_SOURCES": "[]",
        "NEWSWIRE_BASE_URL_OVERRIDES": "{}",
    }


def crawl_args(base_url: str) -> list[str]:
    return [NEWSWIRE, "crawl", "--source", SOURCE, "--base-url-override", f"{SOURCE}={base_url}",
            "--since", "2026-11-20", "--until", "2026-11-30", "--json"]


def crawl(base_url: str, data: Path) -> dict:
    done = subprocess.run(crawl_args(base_url), env=crawl_env(data), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    [manifest] = json.loads(done.stdout)
    return manifest


def process(data: Path) -> tuple[dict, list[dict]]:
    """process_archive without an engine: (summary, every processed record)."""
    settings = get_settings(data_dir=data, archive_root=str(data / "archive"))
    summary = process_archive(settings, index=False)
    records = [json.loads(line) for out in summary["outputs"] for line in Path(out).read_text().splitlines()]
    return summary, records


def dead_letters(data: Path) -> list[dict]:
    return [letter for letters in batch_dead_letters(get_settings(data_dir=data)).values() for letter in letters]


def archived_urls(data: Path) -> list[str]:
    """The requested URL of every article in every published WARC file."""
    urls = []
    for warc in list_warc_files(str(data / "archive")):
        with fsspec.open(warc.url, "rb") as stream:
            urls += [json.loads(r.content_stream().read())["requested_url"]
                     for r in ArchiveIterator(stream) if r.rec_type == "metadata"]
    return urls


# --- case 0: compressed and chunked responses ---------------------------------------------

def test_compressed_and_chunked_pages_are_archived_decodable_and_all_become_records(tmp_path):
    numbers = range(1, 16)
    site = news_site(numbers)
    for n in numbers:
        encoding, chunked = WIRE_VARIANTS[n % len(WIRE_VARIANTS)]
        site.add(article_path(n), Page(article_html(n), content_encoding=encoding, chunked=chunked))
    server = MirrorServer(site)
    try:
        manifest = crawl(server.base_url, tmp_path)
    finally:
        server.close()
    assert manifest["counts"]["archived"] == 15 and manifest["failed"] == []

    # the wire bytes are kept with their real Content-Encoding (the WARC standard's "as received")
    encodings = {}
    with fsspec.open(manifest["warc_file"], "rb") as stream:
        for record in ArchiveIterator(stream):
            if record.rec_type == "response":
                n = int(record.rec_headers.get_header("WARC-Target-URI").rstrip("/").rsplit("/", 1)[1]) - 2300000
                encodings[n] = record.http_headers.get_header("Content-Encoding")
    sent = {n: WIRE_VARIANTS[n % len(WIRE_VARIANTS)][0] for n in numbers}
    assert encodings == {n: None if coding == "identity" else coding for n, coding in sent.items()}
    # the archive reader hands processing the page itself
    bodies = {r.url.rstrip("/").rsplit("/", 1)[1]: r.body for r in iter_responses(manifest["warc_file"])}
    assert bodies == {str(2300000 + n): article_html(n) for n in numbers}

    summary, records = process(tmp_path)
    assert summary["records"] == 15 and summary["dead_letter"] == 0, summary["error_reasons"]
    assert dead_letters(tmp_path) == []
    assert sorted(r["id"] for r in records) == sorted(expected_id(n) for n in numbers)
    assert {r["id"]: r["title"] for r in records} == {expected_id(n): article_title(n) for n in numbers}


# --- case 3: a WARC still being written is never taken ------------------------------------

def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def warc_paths(data: Path) -> list[Path]:
    return sorted((data / "archive").rglob("*.warc.gz*"))


def articles_written(data: Path) -> int:
    """Complete articles in the WARC files so far, open or published (a torn tail is not one)."""
    count = 0
    for path in warc_paths(data):
        with path.open("rb") as stream:
            iterator = ArchiveIterator(stream)
            with contextlib.suppress(ArchiveLoadFailed, OSError, EOFError, ValueError, zlib.error):
                for record in iterator:  # up to the member being written
                    count += record.rec_type == "metadata"
    return count


def kill_mid_crawl(base_url: str, data: Path, articles: int) -> None:
    """Start a crawl and kill -9 it once `articles` are in its file."""
    crawling = subprocess.Popen(crawl_args(base_url), env=crawl_env(data),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: articles_written(data) >= articles, 60, f"{articles} archived articles")
    finally:
        crawling.send_signal(signal.SIGKILL)
        crawling.wait(timeout=30)


def test_processing_during_a_crawl_never_takes_the_file_being_written(tmp_path):
    numbers = range(1, 31)
    server = MirrorServer(news_site(numbers, delay=0.4))
    try:
        crawling = subprocess.Popen(crawl_args(server.base_url), env=crawl_env(tmp_path),
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # once a few articles are in the crawl's file, process while it keeps writing
        wait_for(lambda: articles_written(tmp_path) >= 5, 60, "the crawl to archive articles")
        during, records_during = process(tmp_path)
        [being_written] = warc_paths(tmp_path)
        still_running = crawling.poll() is None
        stdout, stderr = crawling.communicate(timeout=300)
    finally:
        server.close()
    assert crawling.returncode == 0, stderr[-3000:]
    assert still_running
    assert (during["warc_files"], during["records"], records_during) == (0, 0, [])
    assert being_written.name.endswith(".warc.gz.open")
    settings = get_settings(data_dir=tmp_path, archive_root=str(tmp_path / "archive"))
    assert already_processed(settings) == set()

    [manifest] = json.loads(stdout)
    after, records = process(tmp_path)
    assert (after["warc_files"], after["records"], after["dead_letter"]) == (1, 30, 0)
    assert already_processed(settings) == {manifest["warc_file"]}
    assert sorted(r["id"] for r in records) == sorted(expected_id(n) for n in numbers)
    again, _ = process(tmp_path)
    assert (again["warc_files"], again["records"]) == (0, 0)  # each article processed exactly once


def test_a_killed_crawl_is_recovered_and_nothing_is_archived_twice(tmp_path):
    numbers = range(1, 31)
    server = MirrorServer(news_site(numbers, delay=0.3))
    try:
        kill_mid_crawl(server.base_url, tmp_path, 8)
        [left_open] = warc_paths(tmp_path)
        assert left_open.name.endswith(".warc.gz.open")
        assert list_warc_files(str(tmp_path / "archive")) == []  # not published, so never processed
        second = crawl(server.base_url, tmp_path)
    finally:
        server.close()

    # the next run published the killed run's articles and fetched only the others
    published = list_warc_files(str(tmp_path / "archive"))
    assert len(published) == 2 and not list((tmp_path / "archive").rglob("*.open"))
    recovered = json.loads(Path(published[0].manifest_url).read_text())
    assert recovered["recovered"] is True
    kept = recovered["counts"]["archived"]
    assert 8 <= kept < 30
    assert second["counts"]["archived"] == 30 - kept
    assert second["skipped_by_reason"] == {"already_archived": kept}
    urls = archived_urls(tmp_path)
    assert len(urls) == len(set(urls)) == 30  # every article archived exactly once across the files
    assert {canonicalize_url(u) for u in urls} == {
        canonicalize_url(server.base_url + article_path(n)) for n in numbers}

    summary, records = process(tmp_path)
    assert (summary["warc_files"], summary["records"], summary["dead_letter"]) == (2, 30, 0)
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)) and set(ids) == {expected_id(n) for n in numbers}

    # `crawl-state rebuild` finds the same: each key once, in the published files
    done = subprocess.run([NEWSWIRE, "crawl-state", "rebuild", "--json"], env=crawl_env(tmp_path),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {SOURCE: 30}


def test_crawl_state_rebuild_publishes_a_file_a_killed_crawl_left_open(tmp_path):
    server = MirrorServer(news_site(range(1, 21), delay=0.3))
    try:
        kill_mid_crawl(server.base_url, tmp_path, 5)
    finally:
        server.close()
    done = subprocess.run([NEWSWIRE, "crawl-state", "rebuild", "--json"], env=crawl_env(tmp_path),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert len(list_warc_files(str(tmp_path / "archive"))) == 1
    kept = len(archived_urls(tmp_path))
    assert kept >= 5 and json.loads(done.stdout) == {SOURCE: kept}
    summary, records = process(tmp_path)
    assert summary["records"] == kept == len({r["id"] for r in records})


def test_a_torn_last_article_is_cut_and_the_complete_ones_published(tmp_path):
    settings = get_settings(data_dir=tmp_path, archive_root=str(tmp_path / "archive"))
    warc_url, manifest_url = run_paths(settings.archive, SOURCE, "run1", datetime(2026, 11, 28, tzinfo=UTC))
    archive = WarcArchive(warc_url, {})
    for n in (1, 2, 3):
        url = REAL_SITE + article_path(n)
        exchange = HttpExchange("GET", url, [], "HTTP/1.1", 200, [("Content-Type", "text/html")],
                                article_html(n), datetime(2026, 11, 28, tzinfo=UTC))
        archive.write(ArchivedPage(SOURCE, url, url, [], "rss", None, url, [url], exchange))
    open_file = Path(warc_url + OPEN_SUFFIX)
    os.truncate(open_file, open_file.stat().st_size - 100)  # killed inside the third metadata record
    assert list_warc_files(settings.archive) == []

    with crawl_lock(settings, SOURCE):
        assert recover_unpublished(settings, SOURCE) == [warc_url]
    assert not open_file.exists()
    assert open_state(settings).keys(SOURCE) == {REAL_SITE + article_path(n) for n in (1, 2)}
    read = list(iter_responses(warc_url))
    assert [r.url for r in read] == [REAL_SITE + article_path(n) for n in (1, 2)]  # nothing unreadable
    manifest = json.loads(Path(manifest_url).read_text())
    assert (manifest["recovered"], manifest["counts"]) == (True, {"archived": 2})


def test_a_second_crawl_of_a_source_being_crawled_is_refused(tmp_path):
    settings = get_settings(data_dir=tmp_path)
    with crawl_lock(settings, SOURCE), pytest.raises(CrawlBusyError, match="another crawl of tasnim"):
        with crawl_lock(settings, SOURCE):
            pass
    with crawl_lock(settings, SOURCE):  # released with its holder
        pass


# --- case 11: politeness and safety -------------------------------------------------------

def test_retry_after_is_honoured_on_429_and_503(tmp_path):
    site = news_site([1, 2, 3])
    site.add(article_path(1), Page(article_html(1), statuses=(429,), headers=(("Retry-After", "3"),)))
    site.add(article_path(2), Page(article_html(2), statuses=(503,), headers=(("Retry-After", "2"),)))
    server = MirrorServer(site)
    try:
        manifest = crawl(server.base_url, tmp_path)
    finally:
        server.close()
    assert sorted(a["url"].removeprefix(server.base_url) for a in manifest["archived"]) == [
        article_path(n) for n in (1, 2, 3)]

    def gaps(path: str) -> list[float]:
        times = [t for target, t in zip(server.requests, server.arrivals, strict=True) if target == path]
        return [later - earlier for earlier, later in itertools.pairwise(times)]

    [after_429] = gaps(article_path(1))
    [after_503] = gaps(article_path(2))
    assert after_429 >= 3.0 and after_503 >= 2.0, (after_429, after_503)
    assert gaps(article_path(3)) == []


def test_retry_after_reads_seconds_and_http_dates_and_is_capped():
    now = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("120", now) == 120.0
    assert retry_after_seconds("Tue, 01 Dec 2026 12:00:07 GMT", now) == 7.0
    assert retry_after_seconds("Tue, 01 Dec 2026 11:00:00 GMT", now) == 0.0  # already past
    assert retry_after_seconds("86400", now) == MAX_RETRY_AFTER
    assert retry_after_seconds((now + timedelta(days=2)).strftime("%a, %d %b %Y %H:%M:%S GMT"), now) == 600.0
    assert retry_after_seconds("soon", now) is None


@pytest.mark.parametrize(("host", "internal"), [
    ("127.0.0.1", True), ("127.1", True), ("0x7f.0.0.1", True), ("2130706433", True), ("localhost", True),
    ("10.1.2.3", True), ("192.168.0.1", True), ("169.254.169.254", True), ("::1", True),
    ("::ffff:127.0.0.1", True), ("0.0.0.0", True), ("fe80::1", True),
    ("93.184.216.34", False), ("www.tasnimnews.com", False), ("2606:4700::1111", False),
])
def test_internal_addresses_are_recognised_in_every_spelling(host, internal):
    assert is_internal_host(host) is internal


def test_redirects_off_site_to_internal_addresses_and_loops_are_refused_and_listed(tmp_path):
    numbers = list(range(1, 11))
    site = news_site(numbers)
    other_port = MirrorServer(news_site([99]))  # another service on this machine
    server = MirrorServer(site)
    base, other = server.base_url, other_port.base_url
    port = base.rsplit(":", 1)[1]
    redirects = {
        2: f"{other}{article_path(99)}",  # on-site page -> another port of 127.0.0.1
        3: "https://partner.example/ar/news/2026/11/25/1/",  # another site
        4: "http://169.254.169.254/latest/meta-data/",  # link-local (cloud metadata)
        5: f"http://localhost:{port}{article_path(1)}",  # the mirror's port under another name
        6: f"{base}/ar/news/2026/11/25/loop/",  # -> 6 again
        7: f"{base}{article_path(107)}",  # moved on the same site: followed
        8: f"{base}{article_path(1)}",  # moved to an article listed in its own right
    }
    for n, location in redirects.items():
        site.add(article_path(n), Page(redirect=location))
    site.add("/ar/news/2026/11/25/loop/", Page(redirect=f"{base}{article_path(6)}"))
    site.add(article_path(107), Page(article_html(7)))
    try:
        manifest = crawl(base, tmp_path)
    finally:
        server.close()
        other_port.close()

    assert other_port.requests == []  # not even its robots.txt
    counts = manifest["counts"]
    assert counts["discovered"] == 10
    assert counts["discovered"] == counts["archived"] + counts["skipped"] + counts["failed"]
    listed = [*manifest["archived"], *manifest["skipped"], *manifest["failed"]]
    assert sorted(e["url"] for e in listed) == sorted(base + article_path(n) for n in numbers)
    assert sorted(a["url"].removeprefix(base) for a in manifest["archived"]) == [
        article_path(n) for n in (1, 7, 9, 10)]
    assert {f["url"].removeprefix(base): f["reason"] for f in manifest["failed"]} == {
        article_path(2): "redirect_internal_address",
        article_path(3): "redirect_off_site",
        article_path(4): "redirect_internal_address",
        article_path(5): "redirect_internal_address",
        article_path(6): "redirect_loop",
    }
    assert {s["url"].removeprefix(base): s["reason"] for s in manifest["skipped"]} == {
        article_path(8): "duplicate_canonical"}
    moved = next(a for a in manifest["archived"] if a["url"].endswith(article_path(7)))
    assert moved["final_url"] == base + article_path(107)
    assert sorted(archived_urls(tmp_path)) == sorted(base + article_path(n) for n in (1, 7, 9, 10))
