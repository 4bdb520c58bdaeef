"""Reading the raw WARC archive (the source of truth) for processing and reprocessing.

Where the files are is :mod:`kernel.archive`; this module reads what is inside them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import brotli
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from kernel.dates import parse_iso_datetime
from kernel.storage import open_url


@dataclass
class ArchivedResponse:
    """One archived HTTP response, as the server sent it."""

    warc_file: str
    record_id: str
    url: str
    status: int
    content_type: str | None
    body: bytes
    crawled_at: datetime | None
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class UnreadableRecord:
    """A part of a WARC file that could not be read, or a response that cannot be processed (its
    body does not decode, or it kills the worker processing it); it goes to the dead-letter file."""

    warc_file: str
    record_id: str
    offset: int
    reason: str
    url: str = ""


def _payload(record) -> bytes:
    """The response body as the page, decoded from its Content-Encoding (the WARC keeps the wire
    bytes). warcio decodes gzip and deflate, but its br decoder sets an attribute the brotli
    package's Decompressor does not have (webrecorder/warcio#73), so br is decoded here; the
    crawler capped the decoded size when it fetched the page."""
    http = record.http_headers
    if http and (http.get_header("Content-Encoding") or "").strip().lower() == "br":
        return brotli.decompress(record.raw_stream.read())
    return record.content_stream().read()


def _offset(iterator: ArchiveIterator) -> int:
    return iterator.offset if hasattr(iterator, "offset") else -1


def iter_responses(warc_url: str) -> Iterator[ArchivedResponse | UnreadableRecord]:
    """Every archived response of one WARC file with its crawler metadata.

    A damaged part yields an :class:`UnreadableRecord` instead of stopping the batch; reading ends
    there because a gzip stream cannot be resynchronised after a broken member. A response whose
    br body does not decode is one such record too, and reading goes on: the file itself is whole.
    (warcio answers a gzip or deflate body that does not decode with the bytes it could read.)
    """
    pending: dict[str, ArchivedResponse] = {}
    with open_url(warc_url, "rb") as stream:
        iterator = ArchiveIterator(stream)
        try:
            for record in iterator:
                rtype = record.rec_type
                record_id = record.rec_headers.get_header("WARC-Record-ID") or ""
                if rtype == "response":
                    http = record.http_headers
                    url = record.rec_headers.get_header("WARC-Target-URI") or ""
                    try:
                        body = _payload(record)
                    except brotli.error as exc:
                        yield UnreadableRecord(warc_file=warc_url, record_id=record_id, offset=_offset(iterator),
                                               reason=f"undecodable body (Content-Encoding br): {exc}", url=url)
                        continue
                    response = ArchivedResponse(
                        warc_file=warc_url,
                        record_id=record_id,
                        url=url,
                        status=int(http.get_statuscode()) if http else 0,
                        content_type=http.get_header("Content-Type") if http else None,
                        body=body,
                        crawled_at=parse_iso_datetime(record.rec_headers.get_header("WARC-Date")),
                    )
                    pending[record_id] = response
                elif rtype == "metadata":
                    refers_to = record.rec_headers.get_header("WARC-Refers-To") or ""
                    response = pending.pop(refers_to, None)
                    if response is not None:
                        try:
                            response.metadata = json.loads(record.content_stream().read() or b"{}")
                        except ValueError:
                            response.metadata = {}
                        yield response
            # Responses without a metadata record are still articles we fetched.
            yield from pending.values()
        except (ArchiveLoadFailed, OSError, EOFError, ValueError) as exc:
            yield from pending.values()
            yield UnreadableRecord(
                warc_file=warc_url,
                record_id="",
                offset=_offset(iterator),
                reason=f"unreadable WARC data: {exc.__class__.__name__}: {exc}",
            )
