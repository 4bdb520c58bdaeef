"""The WARC archive writer and the seen-state, through fsspec (memory:// here, file:// in the
end-to-end crawl test)."""

import gzip
import json
import uuid
from datetime import UTC, date, datetime

import fsspec
import pytest
from warc_builder import FakePage, write_warc
from warcio.archiveiterator import ArchiveIterator

from crawler.archive import ArchiveExistsError, WarcArchive, write_manifest
from crawler.items import ArchivedPage, HttpExchange
from crawler.state import SeenEntry, load_archived, open_state, rebuild_state
from kernel.archive import parse_warc_path, run_paths
from kernel.settings import get_settings

HTML = "<html><head><title>عنوان الخبر</title></head><body><p>نص</p></body></html>".encode()


def page(body: bytes, headers: list[tuple[str, str]], url="https://s.example/ar/news/1") -> ArchivedPage:
    exchange = HttpExchange("GET", url, [("User-Agent", "newswire-test")], "HTTP/1.1", 200, headers, body,
                            datetime(2026, 11, 28, 2, 0, tzinfo=UTC))
    return ArchivedPage("tasnim", url, url, [], "rss", None, url, [url], exchange)


@pytest.fixture()
def root():
    return f"memory://archive-{uuid.uuid4().hex[:8]}"


def test_run_paths_follow_the_archive_layout(root):
    started = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
    warc, manifest = run_paths(root, "spa", "20261129T020000Z-a1b2c3", started)
    assert warc == f"{root}/spa/2026/11/29/spa-20261129T020000Z-a1b2c3.warc.gz"
    assert manifest == f"{root}/spa/2026/11/29/spa-20261129T020000Z-a1b2c3.manifest.json"


def test_records_are_readable_and_keep_the_wire_bytes(root):
    compressed = gzip.compress(HTML)
    warc_url = f"{root}/tasnim/2026/11/28/tasnim-run1.warc.gz"
    archive = WarcArchive(warc_url, {"software": "test"})
    archive.write(page(HTML, [("Content-Type", "text/html; charset=utf-8"), ("Transfer-Encoding", "chunked")]))
    archive.write(page(compressed, [("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
                       url="https://s.example/ar/news/2"))
    assert archive.close() > 0
    with fsspec.open(warc_url, "rb") as stream:
        records = [(r.rec_type, r.http_headers, r.raw_stream.read() if r.rec_type == "response" else None,
                    r.rec_headers) for r in ArchiveIterator(stream)]
    assert [r[0] for r in records] == ["warcinfo"] + ["request", "response", "metadata"] * 2
    first, second = records[2], records[5]
    assert first[2] == HTML
    # de-chunked by the crawler, so the header is kept only under its archival name
    assert first[1].get_header("Transfer-Encoding") is None
    assert first[1].get_header("X-Archive-Orig-Transfer-Encoding") == "chunked"
    assert second[2] == compressed and second[1].get_header("Content-Encoding") == "gzip"
    with fsspec.open(warc_url, "rb") as stream:
        decoded = [r.content_stream().read() for r in ArchiveIterator(stream) if r.rec_type == "response"]
    assert decoded == [HTML, HTML]  # readers still get the decoded page
    assert records[1][3].get_header("WARC-Concurrent-To") == first[3].get_header("WARC-Record-ID")


def test_archived_files_are_never_rewritten(root):
    warc_url = f"{root}/tasnim/2026/11/28/tasnim-run1.warc.gz"
    first = WarcArchive(warc_url, {})
    first.write(page(HTML, []))
    first.close()
    with pytest.raises(ArchiveExistsError, match="refusing to overwrite"):
        WarcArchive(warc_url, {}).write(page(HTML, []))
    write_manifest(f"{root}/m.json", {"a": 1})
    with pytest.raises(ArchiveExistsError):
        write_manifest(f"{root}/m.json", {"a": 2})
    with fsspec.open(f"{root}/m.json", "r") as f:
        assert json.load(f) == {"a": 1}


def test_an_archive_without_articles_writes_no_warc(root):
    archive = WarcArchive(f"{root}/spa/2026/11/28/spa-run.warc.gz", {})
    assert archive.close() == 0 and not archive.written
    assert not fsspec.filesystem("memory").exists(f"{root}/spa/2026/11/28/spa-run.warc.gz".removeprefix("memory://"))


def test_seen_state_survives_and_is_rebuilt_from_the_archive(root, tmp_path):
    settings = get_settings(data_dir=tmp_path, archive_root=root)
    warc_url = f"{root}/tasnim/2026/11/28/tasnim-run1.warc.gz"
    archive = WarcArchive(warc_url, {})
    record_id = archive.write(page(HTML, []))
    archive.close()
    state = open_state(settings)
    warc = parse_warc_path(warc_url)
    assert state.load(warc, [SeenEntry("tasnim", "https://s.example/ar/news/1", warc_url, record_id)]) == 1
    assert state.load(warc, [SeenEntry("tasnim", "https://s.example/ar/news/1", warc_url, record_id)]) == 0
    assert open_state(settings).keys("tasnim") == {"https://s.example/ar/news/1"}  # a new handle sees it
    assert open_state(settings).loaded("tasnim") == {"tasnim/2026/11/28/tasnim-run1.warc.gz"}
    state.clear()
    assert (open_state(settings).keys("tasnim"), open_state(settings).loaded()) == (set(), set())
    assert rebuild_state(settings) == {"tasnim": 1}
    assert open_state(settings).keys("tasnim") == {"https://s.example/ar/news/1"}
    assert open_state(settings).loaded() == {"tasnim/2026/11/28/tasnim-run1.warc.gz"}


def test_a_published_file_with_a_torn_tail_and_no_manifest_gives_the_keys_of_its_complete_articles(tmp_path):
    settings = get_settings(data_dir=tmp_path, archive_root=str(tmp_path / "archive"))
    urls = [f"https://www.tasnimnews.com/ar/news/2026/11/28/{n}/" for n in (1, 2)]
    write_warc(tmp_path / "archive", "tasnim", date(2026, 11, 28), "run1", [FakePage(u, HTML) for u in urls],
               broken_tail=True)
    [warc] = load_archived(settings, "tasnim")
    assert warc.archive_path == "tasnim/2026/11/28/tasnim-run1.warc.gz"
    assert open_state(settings).keys("tasnim") == set(urls)
    assert load_archived(settings, "tasnim") == []  # loaded once
