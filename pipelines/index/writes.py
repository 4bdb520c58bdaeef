"""Writing documents: bulk indexing and partial updates by id, reading stored documents back, and
copying one index version into the next.

Bulk writes go through the client's own ``streaming_bulk`` (chunks by count and by bytes, 429
back-off), with the client's transport retrying 5xx answers and timeouts. Every document ends
in exactly one of three outcomes, so a caller can tell which input is done:

- acknowledged by the engine;
- *rejected*: the engine refused this document for what it is (a mapping error, an immense
  term); sending it again would fail again, so it belongs in the dead letters;
- *retryable*: the engine could not take it now (429 after the back-off, 5xx, no connection,
  or a ``cluster_block_exception``: a write block or the disk flood stage, lifted by an
  operator); the same document succeeds once the engine recovers, so its input stays pending.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from kernel.records import Article, RecordStatus
from kernel.settings import Settings
from pipelines.index.documents import article_document
from pipelines.index.transport import UNSUPPORTED_ENDPOINT, SearchEngineError, Transport

log = logging.getLogger(__name__)

BULK_MAX_BYTES = 10 * 1024 * 1024  # per request: far below the engines' 100 MB http.max_content_length
BULK_RETRIES = {"max_retries": 5, "initial_backoff": 2, "max_backoff": 60}  # 429: the engine asks to slow down
BULK_IN_FLIGHT = 2
"""Bulk requests sent at once: the engine indexes one chunk while the next is built and sent."""
_RETRYABLE_TYPES = {"cluster_block_exception", "es_rejected_execution_exception",
                    "opensearch_rejected_execution_exception", "unavailable_shards_exception"}


@dataclass
class BulkResult:
    indexed: int = 0
    rejected: dict[str, str] = field(default_factory=dict)
    """Document id -> the engine's reason, for documents the engine refused for what they are."""
    retryable: dict[str, str] = field(default_factory=dict)
    """Document id -> the reason, for documents the engine could not take now."""

    @property
    def failed(self) -> int:
        return len(self.rejected) + len(self.retryable)

    @property
    def errors(self) -> list[str]:
        return [f"{doc_id}: {reason}" for doc_id, reason in {**self.rejected, **self.retryable}.items()]


def is_retryable(status: Any, error: Any) -> bool:
    """True when a failed write would succeed later unchanged (see the module docstring).

    ``error`` is the item's error object, or the text of a whole-request failure.
    """
    text = json.dumps(error) if isinstance(error, dict) else str(error)
    if any(kind in text for kind in _RETRYABLE_TYPES):
        return True
    return not isinstance(status, int) or status == 429 or status >= 500


def _reason(error: Any) -> str:
    if isinstance(error, dict):
        reason = f"{error.get('type', 'error')}: {error.get('reason', '')}"
        caused = error.get("caused_by")
        return f"{reason} ({caused.get('reason', caused.get('type'))})" if isinstance(caused, dict) else reason
    return str(error)


def _sort_outcomes(outcomes: list[tuple[bool, dict]], result: BulkResult) -> None:
    for ok, item in outcomes:
        outcome = next(iter(item.values()))
        if ok:
            result.indexed += 1
            continue
        error = outcome.get("error")
        failures = result.retryable if is_retryable(outcome.get("status"), error) else result.rejected
        failures[str(outcome.get("_id"))] = _reason(error)


def _actions(articles: Iterable[Article], index: str) -> Iterator[dict]:
    for article in articles:
        if article.status != RecordStatus.ERROR:
            yield {"_op_type": "index", "_index": index, "_id": article.id, "_source": article_document(article)}


class DocumentWrites:
    """Bulk writes; mixed into :class:`pipelines.index.SearchEngine`."""

    settings: Settings
    _transport: Transport

    def bulk_upsert(self, articles: Iterable[Article], index: str | None = None) -> BulkResult:
        """Index articles by id (indexing again replaces, never duplicates); error records are skipped."""
        return self._write(_actions(articles, index or self.settings.write_alias))

    def _write(self, actions: Iterable[dict]) -> BulkResult:
        """Send bulk actions with the client's helper and sort each outcome (see the module docstring).

        Chunks are sent from BULK_IN_FLIGHT threads, each through the helper (its chunking by
        bytes and 429 back-off), while this thread builds the next chunk; outcomes are sorted in
        the order of the chunks, so the result is the same as one chunk after the other.
        """
        result = BulkResult()

        def send(chunk: list[dict]) -> list[tuple[bool, dict]]:
            return list(self._transport.streaming_bulk(
                chunk, chunk_size=self.settings.bulk_chunk_size, max_chunk_bytes=BULK_MAX_BYTES,
                raise_on_error=False, raise_on_exception=False, **BULK_RETRIES))

        with ThreadPoolExecutor(max_workers=BULK_IN_FLIGHT, thread_name_prefix="bulk") as senders:
            in_flight: deque[Future] = deque()
            remaining = iter(actions)
            for chunk in iter(lambda: list(islice(remaining, self.settings.bulk_chunk_size)), []):
                in_flight.append(senders.submit(send, chunk))
                if len(in_flight) == BULK_IN_FLIGHT:
                    _sort_outcomes(in_flight.popleft().result(), result)
            while in_flight:
                _sort_outcomes(in_flight.popleft().result(), result)
        return result

    def stored_documents(self, query: dict[str, Any], fields: list[str], index: str | None = None,
                         page_size: int = 1000) -> Iterator[dict[str, Any]]:
        """The `fields` of every document matching `query`, page by page (``search_after`` on the
        id), through the same request path as every other call, so one client serves both majors."""
        body: dict[str, Any] = {"query": query, "_source": fields, "size": page_size, "sort": [{"id": "asc"}],
                                "track_total_hits": False}
        while True:
            hits = self.request("POST", f"/{index or self.settings.write_alias}/_search", body)["hits"]["hits"]
            yield from (hit["_source"] for hit in hits)
            if len(hits) < page_size:
                return
            body["search_after"] = hits[-1]["sort"]

    def update_fields(self, fields_by_id: dict[str, dict[str, Any]], index: str | None = None) -> BulkResult:
        """Partial updates by id: the given fields change, the rest of each document stays."""
        target = index or self.settings.write_alias
        return self._write({"_op_type": "update", "_index": target, "_id": doc_id, "doc": doc}
                           for doc_id, doc in fields_by_id.items())

    def copy_documents(self, source: str, target: str) -> int:
        """Copy every document of ``source`` into ``target``; returns how many.

        Server-side ``_reindex`` where the engine has it; where it answers that it has no such
        endpoint (the local Elasticsearch node has no reindex module), the client's own
        scan-and-bulk helper copies the documents instead.
        """
        try:
            answer = self.request("POST", "/_reindex", {"source": {"index": source}, "dest": {"index": target}},
                                  params={"wait_for_completion": "true", "refresh": "true"})
        except SearchEngineError as error:
            if error.status not in UNSUPPORTED_ENDPOINT:
                raise
            log.info("no _reindex on this engine; copying %s to %s with the client's reindex helper", source, target)
            copied = self._transport.reindex(source, target)
            self.request("POST", f"/{target}/_refresh")
            return copied
        if answer.get("failures"):
            reasons = [failure.get("cause", {}).get("reason", str(failure)) for failure in answer["failures"][:3]]
            raise SearchEngineError(f"copying {source} to {target}: {len(answer['failures'])} failures: {reasons}")
        return answer["created"] + answer["updated"]
