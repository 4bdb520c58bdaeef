"""Files under the archive and processed roots: local paths or any fsspec URL (``s3://bucket/x``).

The roots are shared by processes (a crawl writes while another process lists, Airflow tasks
follow each other), so listings are never cached: fsspec's object-store filesystems otherwise
keep a process's first listing of a folder for the life of the process, and would answer
"not there" for a WARC file or a marker another process wrote since.
"""

from __future__ import annotations

import fsspec
from fsspec.core import OpenFile
from fsspec.spec import AbstractFileSystem

_OPTIONS = {"use_listings_cache": False}


def url_to_fs(url: str) -> tuple[AbstractFileSystem, str]:
    """The filesystem of `url` and the path on it, as that filesystem spells it."""
    return fsspec.core.url_to_fs(url, **_OPTIONS)


def open_url(url: str, mode: str = "rb", **kwargs) -> OpenFile:
    return fsspec.open(url, mode, **kwargs, **_OPTIONS)
