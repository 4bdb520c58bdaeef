"""The raw archive's layout, written by the crawler and read by processing: one module for both.

``{root}/{source_id}/{YYYY}/{MM}/{DD}/{source_id}-{run_id}.warc.gz`` with the run's manifest,
``{source_id}-{run_id}.manifest.json``, beside it; the date is the run's UTC start day. The root
may be a local folder or any fsspec URL (``s3://bucket/newswire``).

While a crawl writes, its file is named ``….warc.gz.open``; it gets its published name when the
run ends (or when a killed run's file is recovered), so processing never lists a file still
being written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from fsspec.spec import AbstractFileSystem

from kernel.storage import reaching, url_to_fs

WARC_SUFFIX = ".warc.gz"
MANIFEST_SUFFIX = ".manifest.json"
OPEN_SUFFIX = ".open"

_WARC_PATH = re.compile(
    r"(?P<source>[^/]+)/(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/(?P=source)-(?P<run>[^/]+)"
    + re.escape(WARC_SUFFIX) + "$"
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

    @property
    def archive_path(self) -> str:
        """The file's path under the archive root, the same however the root is spelled."""
        return f"{self.source_id}/{self.crawl_date:%Y/%m/%d}/{self.stem}{WARC_SUFFIX}"

    @property
    def manifest_url(self) -> str:
        return self.url[: -len(WARC_SUFFIX)] + MANIFEST_SUFFIX

    @property
    def open_url(self) -> str:
        """Where the file is while it is being written."""
        return self.url + OPEN_SUFFIX


def run_stem(archive_root: str, source_id: str, run_id: str, started_at: datetime | date) -> str:
    """The archive path of one source's run without its suffix."""
    return f"{archive_root.rstrip('/')}/{source_id}/{started_at:%Y/%m/%d}/{source_id}-{run_id}"


def run_paths(archive_root: str, source_id: str, run_id: str, started_at: datetime) -> tuple[str, str]:
    """(WARC URL, manifest URL) of one source's run."""
    stem = run_stem(archive_root, source_id, run_id, started_at)
    return stem + WARC_SUFFIX, stem + MANIFEST_SUFFIX


def parse_warc_path(path: str) -> WarcFile | None:
    match = _WARC_PATH.search(path)
    if not match:
        return None
    return WarcFile(url=path, source_id=match["source"],
                    crawl_date=date(int(match["y"]), int(match["m"]), int(match["d"])), run_id=match["run"])


def url_of(fs: AbstractFileSystem, path: str) -> str:
    """What fsspec opens again for a path one of its filesystems listed: a local path as it is,
    any other with its protocol (``s3://bucket/x``)."""
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return path if protocol == "file" else f"{protocol}://{path}"


def list_warc_files(
    root: str, *, since: date | None = None, until: date | None = None, sources: list[str] | None = None,
    unpublished: bool = False,
) -> list[WarcFile]:
    """Published WARC files under `root` crawled within [since, until] (inclusive), oldest first.

    With `unpublished`, the files still open instead (being written, or left by a killed crawl),
    named by the URL they will be published under.
    """
    fs, base = url_to_fs(root)
    suffix = WARC_SUFFIX + OPEN_SUFFIX if unpublished else WARC_SUFFIX
    patterns = [f"{base.rstrip('/')}/{source}/*/*/*/*{suffix}" for source in sorted(set(sources or ["*"]))]
    with reaching(root):
        if not fs.exists(base):
            return []
        paths = [path for pattern in patterns for path in fs.glob(pattern)]  # listing only what is asked
    found = []
    for path in paths:
        path = path.removesuffix(OPEN_SUFFIX) if unpublished else path
        warc = parse_warc_path(url_of(fs, path))
        if warc is None:
            continue
        if since and warc.crawl_date < since or until and warc.crawl_date > until:
            continue
        found.append(warc)
    return sorted(found, key=lambda w: (w.crawl_date, w.run_id, w.source_id))
