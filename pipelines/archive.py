"""Reading the raw WARC archive (the source of truth) for processing and reprocessing.

Layout (written by the crawler): ``{root}/{source_id}/{YYYY}/{MM}/{DD}/{source_id}-{run_id}.warc.gz``
with ``{source_id}-{run_id}.manifest.json`` beside it. The root may be a local folder or any fsspec
URL (``s3://bucket/newswire``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

import fsspec
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

WARC_PATH = re.compile(
    r"(?P<source>[^/]+)/(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/(?P<name>(?P=source)-(?P<run>[^/]+))\.warc\.gz$"
)


@dataclass(frozen=True)
class WarcFile:
    url: str  # as fsspec understands it, with protocol where the root had one
    source_id: str
    crawl_date: date
    run_id: str

    @property
    def stem(self) -> str:
        return f"{self.source_id}-{self.run_id}"


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
    """A part of a WARC file that could not be read; it goes to the dead-letter file."""

    warc_file: str
    record_id: str
    offset: int
    reason: str


def parse_warc_path(path: str) -> WarcFile | None:
    match = WARC_PATH.search(path)
    if not match:
        return None
    return WarcFile(
        url=path,
        source_id=match["source"],
        crawl_date=date(int(match["y"]), int(match["m"]), int(match["d"])),
        run_id=match["run"],
    )


def list_warc_files(
    root: str, *, since: date | None = None, until: date | None = None, sources: list[str] | None = None
) -> list[WarcFile]:
    """WARC files under `root` crawled within [since, until] (inclusive), oldest first."""
    fs, base = fsspec.core.url_to_fs(root)
    if not fs.exists(base):
        return []
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    found = []
    for path in fs.glob(f"{base.rstrip('/')}/*/*/*/*/*.warc.gz"):
        full = path if protocol == "file" else f"{protocol}://{path}"
        warc = parse_warc_path(full)
        if warc is None:
            continue
        if sources and warc.source_id not in sources:
            continue
        if since and warc.crawl_date < since or until and warc.crawl_date > until:
            continue
        found.append(warc)
    return sorted(found, key=lambda w: (w.crawl_date, w.run_id, w.source_id))


def _warc_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def iter_responses(warc_url: str) -> Iterator[ArchivedResponse | UnreadableRecord]:
    """Every archived response of one WARC file with its crawler metadata.

    A damaged part yields an :class:`UnreadableRecord` instead of stopping the batch; reading ends
    there because a gzip stream cannot be resynchronised after a broken member.
    """
    pending: dict[str, ArchivedResponse] = {}
    with fsspec.open(warc_url, "rb") as stream:
        iterator = ArchiveIterator(stream)
        try:
            for record in iterator:
                rtype = record.rec_type
                record_id = record.rec_headers.get_header("WARC-Record-ID") or ""
                if rtype == "response":
                    http = record.http_headers
                    response = ArchivedResponse(
                        warc_file=warc_url,
                        record_id=record_id,
                        url=record.rec_headers.get_header("WARC-Target-URI") or "",
                        status=int(http.get_statuscode()) if http else 0,
                        content_type=http.get_header("Content-Type") if http else None,
                        body=record.content_stream().read(),
                        crawled_at=_warc_date(record.rec_headers.get_header("WARC-Date")),
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
                offset=iterator.offset if hasattr(iterator, "offset") else -1,
                reason=f"unreadable WARC data: {exc.__class__.__name__}: {exc}",
            )
