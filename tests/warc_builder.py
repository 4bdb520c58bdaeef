"""Writes small WARC files in the archive layout, for processing tests that need no crawl."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from io import BytesIO
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter


@dataclass
class FakePage:
    url: str
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200


def write_warc(archive_root: Path, source_id: str, crawl_day: date, run_id: str, pages: list[FakePage],
               broken_tail: bool = False) -> Path:
    """A WARC file as the crawler writes it; `broken_tail` appends a damaged gzip member."""
    folder = archive_root / source_id / f"{crawl_day:%Y/%m/%d}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{source_id}-{run_id}.warc.gz"
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        for page in pages:
            http = StatusAndHeaders(f"{page.status} OK", [("Content-Type", page.content_type)],
                                    protocol="HTTP/1.1")
            response = writer.create_warc_record(page.url, "response", payload=BytesIO(page.body),
                                                 http_headers=http)
            writer.write_record(response)
            metadata = {"source_id": source_id, "requested_url": page.url, "final_url": page.url,
                        "redirects": [], "discovered_via": "rss", "listed_published_at": None}
            meta = writer.create_warc_record(
                page.url, "metadata", payload=BytesIO(json.dumps(metadata).encode()),
                warc_content_type="application/json",
                warc_headers_dict={"WARC-Refers-To": response.rec_headers.get_header("WARC-Record-ID")},
            )
            writer.write_record(meta)
        if broken_tail:
            # A gzip member header followed by garbage: what a torn write leaves behind.
            out.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"not a warc record" * 4)
    return path
