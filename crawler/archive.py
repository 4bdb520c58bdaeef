"""Writing the raw archive: one gzipped WARC file (ISO 28500, via warcio) per source per run.

Where the files go is :mod:`kernel.archive`. Files go through fsspec, so the root may be a
folder or ``s3://...``, and are only ever created, never rewritten once published: a run writes
under the open name and renames the file when it ends; a file a killed run left open is cut
after its last complete article and published by :func:`publish_recovered`.
"""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime
from http import HTTPStatus
from io import BytesIO
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.items import ArchivedPage, HttpExchange
from kernel.archive import OPEN_SUFFIX, WarcFile
from kernel.storage import url_to_fs

# Scrapy hands over de-chunked bodies; a kept Transfer-Encoding header would make WARC readers
# de-chunk them again, so it is stored under the WARC convention for original headers.
RENAMED_HEADERS = {"transfer-encoding": "X-Archive-Orig-Transfer-Encoding"}


class ArchiveExistsError(FileExistsError):
    """Archived files are never rewritten: a run must not reuse another run's file name."""


def warc_date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _response_headers(exchange: HttpExchange) -> StatusAndHeaders:
    reason = HTTPStatus(exchange.status).phrase if exchange.status in HTTPStatus._value2member_map_ else ""
    headers = [(RENAMED_HEADERS.get(name.lower(), name), value) for name, value in exchange.response_headers]
    return StatusAndHeaders(f"{exchange.status} {reason}".strip(), headers, protocol=exchange.protocol)


def _request_headers(exchange: HttpExchange) -> StatusAndHeaders:
    parts = urlsplit(exchange.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = [("Host", parts.netloc), *exchange.request_headers]
    return StatusAndHeaders(f"{exchange.method} {target} HTTP/1.1", headers, is_http_request=True)


def metadata_payload(page: ArchivedPage) -> dict:
    return {
        "source_id": page.source_id,
        "requested_url": page.requested_url,
        "final_url": page.final_url,
        "redirects": page.redirects,
        "discovered_via": page.discovered_via,
        "listed_published_at": page.listed_published_at.isoformat() if page.listed_published_at else None,
        "page_canonical": page.page_canonical,
        "url_keys": page.url_keys,
        "warnings": page.warnings,
    }


GZIP_LEVEL = 1
"""Compression of each WARC record. warcio's own gzip writer always uses level 9, which costs the
crawl's one process much CPU for a file only somewhat smaller (the figures: ``make bench``)."""


class _GzipMembers:
    """What warcio's ``gzip=True`` writes, one gzip member per record (warcio flushes its output
    at the end of each record), compressed at GZIP_LEVEL."""

    def __init__(self, out):
        self._out = out
        self._compressor = self._member()

    @staticmethod
    def _member():
        return zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS + 16)

    def write(self, data: bytes) -> None:
        self._out.write(self._compressor.compress(data))

    def flush(self) -> None:
        self._out.write(self._compressor.flush())
        self._compressor = self._member()


class WarcArchive:
    """One run's WARC file for one source, created on the first article (under its open name)
    and published under ``warc_url`` by :meth:`close`."""

    def __init__(self, warc_url: str, warcinfo: dict[str, str]):
        self.url = warc_url
        self._warcinfo = warcinfo
        self._file = None
        self._writer: WARCWriter | None = None

    def _open(self) -> WARCWriter:
        fs, path = url_to_fs(self.url)
        if fs.exists(path) or fs.exists(path + OPEN_SUFFIX):
            raise ArchiveExistsError(f"refusing to overwrite archived file {self.url}")
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        self._file = fs.open(path + OPEN_SUFFIX, "wb")
        writer = WARCWriter(_GzipMembers(self._file), gzip=False, warc_version="1.1")
        writer.write_record(writer.create_warcinfo_record(self.url.rsplit("/", 1)[-1], self._warcinfo))
        return writer

    def write(self, page: ArchivedPage) -> str:
        """Write request, response and metadata records; returns the response's WARC-Record-ID."""
        writer = self._writer = self._writer or self._open()
        exchange = page.exchange
        date = warc_date(exchange.fetched_at)
        response = writer.create_warc_record(
            page.final_url, "response", payload=BytesIO(exchange.body), length=len(exchange.body),
            http_headers=_response_headers(exchange), warc_headers_dict={"WARC-Date": date},
        )
        response_id = response.rec_headers.get_header("WARC-Record-ID")
        request = writer.create_warc_record(
            exchange.url, "request", http_headers=_request_headers(exchange),
            warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": response_id},
        )
        metadata = json.dumps(metadata_payload(page), ensure_ascii=False).encode("utf-8")
        meta_record = writer.create_warc_record(
            page.final_url, "metadata", payload=BytesIO(metadata), length=len(metadata),
            warc_content_type="application/json",
            warc_headers_dict={"WARC-Date": date, "WARC-Refers-To": response_id},
        )
        for record in (request, response, meta_record):
            writer.write_record(record)
        # what a killed crawl leaves is then every article but the one being written
        self._file.flush()
        return response_id

    def close(self) -> int:
        """Close the file and publish it under its name (an atomic rename on a local archive);
        returns its size in bytes (0 when no article was written)."""
        if self._file is None:
            return 0
        self._file.close()
        fs, path = url_to_fs(self.url)
        fs.mv(path + OPEN_SUFFIX, path)
        return fs.size(path)

    @property
    def written(self) -> bool:
        return self._file is not None


def complete_articles(stream) -> tuple[int, list[dict]]:
    """(end offset of the last complete article, the manifest entry of every complete article).

    The crawler writes request, response, then metadata, one gzip member each: a complete
    metadata record means its response is complete too. Reading stops at the torn tail.
    """
    end, articles = 0, []
    iterator = ArchiveIterator(stream)
    try:
        for record in iterator:
            if record.rec_type == "metadata":
                payload = json.loads(record.content_stream().read())
                iterator.read_to_end(record)
                end = iterator.get_record_offset() + iterator.get_record_length()
                articles.append(archived_entry(payload["requested_url"], payload["final_url"],
                                               record.rec_headers.get_header("WARC-Refers-To"),
                                               payload["url_keys"]))
    except (ArchiveLoadFailed, OSError, EOFError, ValueError, zlib.error):
        pass  # the member being written when the crawl was killed
    return end, articles


def publish_recovered(warc: WarcFile) -> list[dict]:
    """Publish the file a killed crawl left open, cut after its last complete article, with a
    manifest saying so; returns the manifest entries of the articles it holds (none: the file is
    removed).

    The caller holds the source's crawl lock (:func:`crawler.state.crawl_lock`), so no crawl is
    still writing it.
    """
    fs, path = url_to_fs(warc.open_url)
    with fs.open(path, "rb") as stream:
        end, articles = complete_articles(stream)
    if not articles:
        fs.rm(path)
        return []
    if end < fs.size(path):
        with fs.open(path, "rb") as stream:
            fs.pipe_file(path, stream.read(end))
    fs.mv(path, path.removesuffix(OPEN_SUFFIX))
    now = datetime.now(UTC)
    write_manifest(warc.manifest_url, {
        "source_id": warc.source_id,
        "run_id": warc.run_id,
        "recovered": True,  # the run was killed: what it discovered or skipped is not known
        "finished_at": now.isoformat(),
        "warc_file": warc.url,
        "manifest_file": warc.manifest_url,
        "counts": {"archived": len(articles)},
        "archived": articles,
    })
    return articles


def archived_entry(requested_url: str, final_url: str, record_id: str, url_keys: list[str]) -> dict:
    """One archived article in a manifest. Its seen-state keys are there so that a crawler on
    another machine learns what the file holds from the small manifest (crawler.state)."""
    return {"url": requested_url, "final_url": final_url, "warc_record_id": record_id, "url_keys": url_keys}


def write_manifest(manifest_url: str, manifest: dict) -> None:
    fs, path = url_to_fs(manifest_url)
    if fs.exists(path):
        raise ArchiveExistsError(f"refusing to overwrite manifest {manifest_url}")
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    with fs.open(path, "w", encoding="utf-8") as out:
        json.dump(manifest, out, ensure_ascii=False, indent=2)
