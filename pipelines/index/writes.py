"""Writing documents: bulk indexing by id, and copying one index version into the next."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice

from kernel.records import Article
from kernel.settings import Settings
from pipelines.index.documents import bulk_lines
from pipelines.index.transport import SearchEngineError


@dataclass
class BulkResult:
    indexed: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


class DocumentWrites:
    """Bulk writes; mixed into :class:`pipelines.index.SearchEngine`."""

    settings: Settings

    def bulk_upsert(self, articles: Iterable[Article], index: str | None = None) -> BulkResult:
        """Index articles by id in chunks (indexing again replaces, never duplicates)."""
        target = index or self.settings.write_alias
        result = BulkResult()
        lines = bulk_lines(articles, target)
        while chunk := list(islice(lines, self.settings.bulk_chunk_size)):
            answer = self.request("POST", "/_bulk", "".join(chunk).encode("utf-8"), ndjson=True)
            for item in answer["items"]:
                outcome = item["index"]
                if outcome.get("error"):
                    result.failed += 1
                    reason = outcome["error"].get("reason", outcome["error"].get("type"))
                    result.errors.append(f"{outcome['_id']}: {reason}")
                else:
                    result.indexed += 1
        return result

    def copy_documents(self, source: str, target: str) -> int:
        """Copy every document of ``source`` into ``target`` (server-side reindex); returns how many."""
        answer = self.request("POST", "/_reindex", {"source": {"index": source}, "dest": {"index": target}},
                              params={"wait_for_completion": "true", "refresh": "true"})
        if answer.get("failures"):
            reasons = [failure.get("cause", {}).get("reason", str(failure)) for failure in answer["failures"][:3]]
            raise SearchEngineError(f"copying {source} to {target}: {len(answer['failures'])} failures: {reasons}")
        return answer["created"] + answer["updated"]
