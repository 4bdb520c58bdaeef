"""Files under the archive and processed roots: local paths or any fsspec URL (``s3://bucket/x``).

The roots are shared by processes (a crawl writes while another process lists, Airflow tasks
follow each other), so listings are never cached: fsspec's object-store filesystems otherwise
keep a process's first listing of a folder for the life of the process, and would answer
"not there" for a WARC file or a marker another process wrote since.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import fsspec
from fsspec.core import OpenFile
from fsspec.spec import AbstractFileSystem

_OPTIONS = {"use_listings_cache": False}


class StorageError(RuntimeError):
    """A root cannot be reached: unknown protocol, its package missing, refused, no server."""


@contextmanager
def reaching(url: str) -> Iterator[None]:
    """Errors while `url` is first reached become a :class:`StorageError` naming it.

    Each fsspec backend raises its own (s3fs: PermissionError for refused credentials, botocore's
    EndpointConnectionError for no server; fsspec: ValueError for an unknown protocol,
    ImportError for a missing package), so every error is taken here, around a listing only.
    """
    try:
        yield
    except StorageError:
        raise
    except Exception as error:
        raise StorageError(f"{url}: {type(error).__name__}: {error}") from error


def url_to_fs(url: str) -> tuple[AbstractFileSystem, str]:
    """The filesystem of `url` and the path on it, as that filesystem spells it."""
    with reaching(url):
        return fsspec.core.url_to_fs(url, **_OPTIONS)


def open_url(url: str, mode: str = "rb", **kwargs) -> OpenFile:
    return fsspec.open(url, mode, **kwargs, **_OPTIONS)
