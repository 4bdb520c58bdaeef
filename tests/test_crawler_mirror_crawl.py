"""The real spider, run by `newswire crawl` in a subprocess, against the edge-case test mirror
(tests/fixtures/mirror/: tasnim by RSS, spa by robots.txt -> sitemap index -> news sitemap,
sana by a listing page) served on 127.0.0.1. Three runs: first, again, and after one new article.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import fsspec
import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.mirror import Page, serve_directories
from pipelines.extract import decode_html

FIXTURE_MIRROR = Path(__file__).resolve().parent / "fixtures" / "mirror"
NEWSWIRE = str(Path(sys.executable).with_name("newswire"))
SOURCES = ["tasnim", "spa", "sana"]

NEW_ARTICLE_PATH = "/ar/news/2026/11/28/2299010/"
NEW_ARTICLE = """<!DOCTYPE html><html lang="ar"><head><meta charset="utf-8">
<title>خبر جديد بعد الزحف الثاني</title>
<link rel="canonical" href="https://www.tasnimnews.com/ar/news/2026/11/28/2299010/"></head>
<body><h1>خبر جديد بعد الزحف الثاني</h1><p>نص الخبر الجديد.</p></body></html>""".encode()


def run_crawl(mirror_urls: dict[str, str], env: dict[str, str]) -> list[dict]:
    args = [NEWSWIRE, "crawl", "--since", "2026-11-20", "--until", "2026-11-30", "--json"]
    for source in SOURCES:
        args += ["--source", source, "--base-url-override", f"{source}={mirror_urls[source]}"]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return {m["source_id"]: m for m in json.loads(done.stdout)}


def warc_records(warc_url: str) -> list:
    """(type, target URI, WARC headers, HTTP headers, raw payload, metadata, decoded payload) of
    every record."""
    records = []
    with fsspec.open(warc_url, "rb") as stream:
        for record in ArchiveIterator(stream):
            raw = record.raw_stream.read() if record.rec_type == "response" else None
            http = record.http_headers
            decoded = raw and gzip.decompress(raw) if http and http.get_header("Content-Encoding") else raw
            records.append((record.rec_type, record.rec_headers.get_header("WARC-Target-URI"),
                            record.rec_headers, http, raw,
                            json.loads(record.content_stream().read()) if record.rec_type == "metadata" else None,
                            decoded))
    return records


@pytest.fixture(scope="module")
def crawls(tmp_path_factory):
    """Run 1, run 2 (unchanged mirror), then run 3 after one article is added to the feed."""
    data = tmp_path_factory.mktemp("crawl")
    env = {
        **os.environ,
        "NEWSWIRE_DATA_DIR": str(data),
        "NEWSWIRE_ARCHIVE_ROOT": f"file://{data}/archive",  # the archive root is an fsspec URL
        "NEWSWIRE_DOWNLOAD_TIMEOUT": "1",
        "NEWSWIRE_MAX_PAGE_BYTES": "100000",
        "NEWSWIRE_CRAWL_DELAY": "0",
        "NEWSWIRE_RETRY_BACKOFF": "0.1",
        "NEWSWIRE_ENABLED_SOURCES": "[]",
        "NEWSWIRE_BASE_URL_OVERRIDES": "{}",
    }
    with serve_directories({s: FIXTURE_MIRROR / s for s in SOURCES}) as mirror:
        first = run_crawl(mirror.base_urls, env)
        requests_first = {s: list(server.requests) for s, server in mirror.servers.items()}
        second = run_crawl(mirror.base_urls, env)
        tasnim = mirror.servers["tasnim"]
        tasnim.site.add(NEW_ARTICLE_PATH, Page(NEW_ARTICLE))
        feed = tasnim.site.lookup("/ar/rss/feed/0/8/0/")
        item = (f"<item><title>جديد</title><link>{tasnim.base_url}{NEW_ARTICLE_PATH}</link>"
                "<pubDate>Sat, 28 Nov 2026 09:00:00 +0330</pubDate></item></channel>").encode()
        tasnim.site.add("/ar/rss/feed/0/8/0/", Page(feed.body.replace(b"</channel>", item), feed.content_type))
        third = run_crawl(mirror.base_urls, env)
        yield {"runs": [first, second, third], "mirror": mirror, "requests_first": requests_first,
               "env": env, "data": data}


def archived_paths(manifest: dict) -> list[str]:
    return sorted(a["url"].split("/", 3)[3] for a in manifest["archived"])


def test_first_run_archives_exactly_the_expected_articles(crawls):
    first = crawls["runs"][0]
    assert archived_paths(first["tasnim"]) == [
        "ar/news/2026/11/25/2299001/?utm_source=rss&utm_medium=feed",  # first of its two URLs
        "ar/news/2026/11/25/2299002/",
        "ar/news/2026/11/26/2299003/",
    ]
    assert archived_paths(first["spa"]) == ["N2299101", "ar/N2299105"]
    assert archived_paths(first["sana"]) == ["?p=2299201", "?p=2299203"]


def test_first_run_counts_skips_and_failures_by_reason(crawls):
    tasnim, spa, sana = (crawls["runs"][0][s] for s in SOURCES)
    assert tasnim["counts"] == {"discovered": 8, "fetched": 3, "archived": 3, "skipped": 5, "failed": 0}
    assert tasnim["skipped_by_reason"] == {
        "duplicate_url": 1, "not_article": 1, "off_site": 1, "out_of_window": 1, "robots_disallowed": 1}
    skipped = {s["url"].split("/", 3)[3]: s["reason"] for s in tasnim["skipped"]}
    assert skipped == {
        "ar/news/2026/11/25/1111111/": "off_site",  # partner.example: never fetched
        "ar/news/2026/11/25/2299001/?fbclid=IwAR0xyz": "duplicate_url",
        "ar/service/1/politics": "not_article",
        "ar/news/2026/11/10/2298000/": "out_of_window",
        "ar/news/2026/11/26/2299004/": "robots_disallowed",
    }
    assert spa["counts"] == {"discovered": 5, "fetched": 3, "archived": 2, "skipped": 0, "failed": 3}
    assert {f["url"].rsplit("/", 1)[1]: f["reason"] for f in spa["failed"]} == {
        "N2299102": "http_404", "N2299103": "timeout", "N2299104": "too_large"}
    assert sana["counts"] == {"discovered": 5, "fetched": 3, "archived": 2, "skipped": 3, "failed": 0}
    assert sana["skipped_by_reason"] == {"duplicate_canonical": 1, "not_article": 2}
    assert [s["url"].split("/", 3)[3] for s in sana["skipped"] if s["reason"] == "duplicate_canonical"] == [
        "?p=2299202"]
    for manifest in (tasnim, spa, sana):
        c = manifest["counts"]
        assert c["discovered"] == c["archived"] + c["skipped"] + c["failed"]
        assert manifest["window"] == {"since": "2026-11-20", "until": "2026-11-30"}
        assert manifest["discovery_errors"] == []


def test_links_to_the_real_site_are_fetched_from_the_mirror(crawls):
    # the feed names 2299002 on www.tasnimnews.com; the mirror stands in for that host
    tasnim = crawls["runs"][0]["tasnim"]
    mirror_url = crawls["mirror"].base_urls["tasnim"] + "/ar/news/2026/11/25/2299002/"
    assert mirror_url in [a["url"] for a in tasnim["archived"]]


def test_a_canonical_naming_no_article_is_not_trusted(crawls):
    sana = crawls["runs"][0]["sana"]
    metadata = [r[5] for r in warc_records(sana["warc_file"]) if r[0] == "metadata"]
    meta = next(m for m in metadata if m["requested_url"].endswith("?p=2299203"))
    assert meta["page_canonical"] == "https://sana.sy/"
    assert meta["warnings"] == ["canonical_not_article"]
    assert meta["url_keys"] == ["https://sana.sy/?p=2299203"]


def test_robots_disallowed_page_is_never_requested(crawls):
    assert "/ar/news/2026/11/26/2299004/" not in crawls["requests_first"]["tasnim"]
    assert "/robots.txt" in crawls["requests_first"]["tasnim"]


def test_retry_after_500_and_redirect_are_recorded(crawls):
    tasnim_requests = crawls["requests_first"]["tasnim"]
    assert tasnim_requests.count("/ar/news/2026/11/25/2299002/") == 2  # 500, then 200
    spa = crawls["runs"][0]["spa"]
    redirected = next(a for a in spa["archived"] if a["url"].endswith("/ar/N2299105"))
    assert redirected["final_url"].endswith("/N2299106")
    metadata = [r[5] for r in warc_records(spa["warc_file"]) if r[0] == "metadata"]
    meta = next(m for m in metadata if m["requested_url"].endswith("/ar/N2299105"))
    assert meta["final_url"].endswith("/N2299106")
    assert [u.rsplit("/", 2)[-2:] for u in meta["redirects"]] == [["ar", "N2299105"]]
    assert meta["discovered_via"] == "sitemap"
    assert meta["listed_published_at"] == "2026-11-27T00:00:00"  # the sitemap's <lastmod>
    assert "https://www.spa.gov.sa/N2299106" in meta["url_keys"]


def test_warc_records_hold_the_exact_bytes_the_server_sent(crawls):
    tasnim = crawls["runs"][0]["tasnim"]
    site = crawls["mirror"].servers["tasnim"].site
    records = warc_records(tasnim["warc_file"])
    assert [r[0] for r in records] == ["warcinfo"] + ["request", "response", "metadata"] * 3
    responses = {uri.split("/", 3)[3]: (http, raw) for kind, uri, _, http, raw, *_ in records if kind == "response"}
    for path, (http, raw) in responses.items():
        sent = site.lookup("/" + path).body
        # the mirror compresses like real sites: the wire bytes are kept with their real header
        assert http.get_header("Content-Encoding") == "gzip", path
        assert gzip.decompress(raw) == sent, path
        assert http.get_statuscode() == "200"
    # the request record names the honest User-Agent with its contact URL
    request = next(r for r in records if r[0] == "request")
    assert request[3].get_header("User-Agent") == "newswire/0.1 (+https://example.org/newswire-crawler)"
    response_ids = {r[2].get_header("WARC-Record-ID") for r in records if r[0] == "response"}
    assert {r[2].get_header("WARC-Refers-To") for r in records if r[0] == "metadata"} == response_ids


def test_windows_1256_page_is_archived_as_sent_and_decodes_to_arabic(crawls):
    tasnim = crawls["runs"][0]["tasnim"]
    records = warc_records(tasnim["warc_file"])
    http, raw = next((r[3], r[6]) for r in records if r[0] == "response" and "2299003" in r[1])
    assert http.get_header("Content-Type") == "text/html"  # no charset in the header
    assert raw == (FIXTURE_MIRROR / "tasnim/ar/news/2026/11/26/2299003/index.html").read_text(
        encoding="utf-8").encode("windows-1256")
    text = decode_html(raw, http.get_header("Content-Type"))
    assert "<title>وزير الزراعة يفتتح سوق الجملة الجديد في كرج</title>" in text


def test_second_run_archives_nothing_new(crawls):
    second = crawls["runs"][1]
    for source in SOURCES:
        assert second[source]["counts"]["archived"] == 0, source
        assert second[source]["warc_file"] is None
    # both URLs of the tracking-parameter pair now match the archived article's key
    assert second["tasnim"]["skipped_by_reason"] == {
        "already_archived": 4, "not_article": 1, "off_site": 1, "out_of_window": 1, "robots_disallowed": 1}
    assert second["tasnim"]["counts"]["fetched"] == 0
    assert second["sana"]["skipped_by_reason"] == {"already_archived": 3, "not_article": 2}
    # failures are tried again on the next run: they were never archived
    assert second["spa"]["failed_by_reason"] == {"http_404": 1, "timeout": 1, "too_large": 1}


def test_third_run_archives_exactly_the_new_article(crawls):
    third = crawls["runs"][2]
    assert archived_paths(third["tasnim"]) == [NEW_ARTICLE_PATH.lstrip("/")]
    assert third["spa"]["counts"]["archived"] == 0
    assert third["sana"]["counts"]["archived"] == 0
    records = warc_records(third["tasnim"]["warc_file"])
    assert [r[6] for r in records if r[0] == "response"] == [NEW_ARTICLE]


def test_every_run_wrote_its_own_files_and_manifests(crawls):
    runs = crawls["runs"]
    assert len({m["run_id"] for run in runs for m in run.values()}) == 3
    fs = fsspec.filesystem("file")
    warcs = sorted(fs.glob(f"{crawls['data']}/archive/*/*/*/*/*.warc.gz"))
    manifests = sorted(fs.glob(f"{crawls['data']}/archive/*/*/*/*/*.manifest.json"))
    assert len(warcs) == 4  # run 1: three sources; run 2: none; run 3: tasnim
    assert len(manifests) == 9
    on_disk = json.loads(Path(runs[2]["tasnim"]["manifest_file"].removeprefix("file://")).read_text())
    assert on_disk == runs[2]["tasnim"]


def test_seen_state_is_rebuilt_from_the_archive(crawls):
    env = crawls["env"]
    state = Path(crawls["data"]) / "state" / "crawl-seen.sqlite3"
    state.unlink()
    done = subprocess.run([NEWSWIRE, "crawl-state", "rebuild", "--json"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    # one key per archived article, plus the redirect target's key for spa's moved URL
    assert json.loads(done.stdout) == {"sana": 2, "spa": 3, "tasnim": 4}


def test_a_source_whose_discovery_fails_is_reported_and_fails_the_command(tmp_path):
    env = {**os.environ, "NEWSWIRE_DATA_DIR": str(tmp_path), "NEWSWIRE_CRAWL_DELAY": "0",
           "NEWSWIRE_RETRY_BACKOFF": "0", "NEWSWIRE_ARCHIVE_ROOT": str(tmp_path / "archive")}
    (tmp_path / "empty").mkdir()
    with serve_directories({"tasnim": tmp_path / "empty"}) as mirror:  # no feed: every path is a 404
        done = subprocess.run(
            [NEWSWIRE, "crawl", "--source", "tasnim", "--base-url-override",
             f"tasnim={mirror.base_urls['tasnim']}", "--json"],
            env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    [manifest] = json.loads(done.stdout)
    assert manifest["counts"]["discovered"] == 0
    assert [(e["url"].removeprefix(mirror.base_urls["tasnim"]), e["reason"]) for e in manifest["discovery_errors"]] == [
        ("/ar/rss/feed/0/8/0/", "http_404")]
