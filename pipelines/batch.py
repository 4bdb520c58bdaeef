"""The batch edge of processing: WARC files in, processed records, dead letters and the index out.

Reads archived WARC files, runs :func:`pipelines.stages.process_page` on every response, writes
processed records (JSON Lines, one file per source, crawl day and run) and dead-letter records,
clusters the batch into stories and bulk-indexes. It streams: a batch is written to temporary
files first and only ids and texts are read back for story clustering.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from pathlib import Path

import fsspec

from kernel.agencies import BUNDLED_AGENCIES
from kernel.archive import WarcFile, list_warc_files, parse_warc_path
from kernel.records import Article, Provenance, RecordStatus
from kernel.registry import load_registry
from kernel.settings import Settings
from pipelines.archive import ArchivedResponse, UnreadableRecord, iter_responses
from pipelines.attribution import load_gazetteer
from pipelines.dedup import assign_story_clusters
from pipelines.stages import DEFAULT_PROFILE, SourceProfile, process_page, story_text

ProgressCallback = Callable[[str, int], None]
"""Called with (stage, amount) as work advances; the CLI turns it into a progress bar."""


class FailureRateExceeded(RuntimeError):
    pass


@dataclass
class BatchSummary:
    warc_files: int = 0
    responses: int = 0
    records: int = 0
    ok: int = 0
    flagged: int = 0
    errors: int = 0
    dead_letter: int = 0
    unreadable: int = 0
    attributed: int = 0
    story_clusters: int = 0
    indexed: int = 0
    index_failed: int = 0
    languages: Counter = field(default_factory=Counter)
    agencies: Counter = field(default_factory=Counter)
    error_reasons: Counter = field(default_factory=Counter)
    outputs: list[str] = field(default_factory=list)
    index: str | None = None
    also_indexed_into: str | None = None

    @property
    def failure_rate(self) -> float:
        inputs = self.responses + self.unreadable
        return (self.dead_letter / inputs) if inputs else 0.0

    def as_dict(self) -> dict:
        counts = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: dict(value) if isinstance(value, Counter) else value for name, value in counts.items()} | {
            "failure_rate": round(self.failure_rate, 4)}


def source_profiles(settings: Settings) -> dict[str, SourceProfile]:
    gazetteer = load_gazetteer(settings.agencies_file or BUNDLED_AGENCIES)
    return {source.id: SourceProfile.of(source, gazetteer) for source in load_registry(settings)}


def processed_path(settings: Settings, warc: WarcFile) -> str:
    day = warc.crawl_date
    return f"{settings.processed.rstrip('/')}/{warc.source_id}/{day:%Y/%m/%d}/{warc.stem}.jsonl"


def dead_letter_path(settings: Settings, warc: WarcFile) -> Path:
    return settings.dead_letter_dir / warc.source_id / f"{warc.crawl_date:%Y/%m/%d}" / f"{warc.stem}.jsonl"


def _processed_state(settings: Settings) -> Path:
    return settings.state_dir / "processed-warcs.jsonl"


def already_processed(settings: Settings) -> set[str]:
    path = _processed_state(settings)
    if not path.exists():
        return set()
    return {json.loads(line)["warc_file"] for line in path.read_text().splitlines() if line.strip()}


def _mark_processed(settings: Settings, warcs: Iterable[WarcFile]) -> None:
    path = _processed_state(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC).isoformat()
    with path.open("a", encoding="utf-8") as out:
        for warc in warcs:
            out.write(json.dumps({"warc_file": warc.url, "processed_at": now}) + "\n")


def _dead_letter(response: ArchivedResponse | UnreadableRecord, reason: str, url: str = "") -> dict:
    return {"reason": reason, "warc_file": response.warc_file, "warc_record_id": response.record_id,
            "url": url, "offset": getattr(response, "offset", None),
            "at": datetime.now(UTC).isoformat()}


def _first_pass(warc: WarcFile, profiles: dict[str, SourceProfile], partial: Path,
                dead: list[dict], summary: BatchSummary, progress: ProgressCallback) -> None:
    """Process every response of one WARC file into a local partial file of records."""
    profile = profiles.get(warc.source_id, DEFAULT_PROFILE)
    with partial.open("w", encoding="utf-8") as out:
        for item in iter_responses(warc.url):
            if isinstance(item, UnreadableRecord):
                dead.append(_dead_letter(item, item.reason))
                summary.unreadable += 1
                summary.error_reasons["unreadable_warc"] += 1
                continue
            summary.responses += 1
            progress("records", 1)
            provenance = Provenance(warc_file=warc.url, warc_record_id=item.record_id,
                                    crawl_run=warc.run_id)
            if not 200 <= item.status < 300:
                dead.append(_dead_letter(item, f"http status {item.status}", item.url))
                summary.error_reasons["http_status"] += 1
                continue
            article = process_page(item.body, item.url, source_id=warc.source_id,
                                   content_type=item.content_type, crawled_at=item.crawled_at,
                                   provenance=provenance, profile=profile)
            if article.status == RecordStatus.ERROR:
                dead.append(_dead_letter(item, article.error or "error", item.url))
                summary.errors += 1
                summary.error_reasons[(article.error or "error").split(":")[0]] += 1
            out.write(article.model_dump_json() + "\n")


def _read_partial(path: Path) -> Iterator[Article]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            yield Article.model_validate_json(line)


def process_archive(
    settings: Settings,
    *,
    since: date | None = None,
    until: date | None = None,
    sources: list[str] | None = None,
    warc_files: list[str] | None = None,
    index: bool = True,
    target_index: str | None = None,
    only_new: bool = True,
    progress: ProgressCallback = lambda stage, amount: None,
) -> dict:
    """Process archived WARC files into records, dead letters and (optionally) the index.

    Without `warc_files`, every file in the window that was not processed before is taken
    (`only_new=False` takes them all again, as reprocessing does).
    """
    if warc_files is not None:
        warcs = [w for w in (parse_warc_path(f) for f in warc_files) if w is not None]
    else:
        warcs = list_warc_files(settings.archive, since=since, until=until, sources=sources)
        if only_new:
            done = already_processed(settings)
            warcs = [w for w in warcs if w.url not in done]
    summary = BatchSummary(warc_files=len(warcs))
    profiles = source_profiles(settings)

    with tempfile.TemporaryDirectory(prefix="newswire-batch-") as tmp:
        partials: list[tuple[WarcFile, Path]] = []
        for warc in warcs:
            partial = Path(tmp) / f"{warc.stem}.jsonl"
            dead: list[dict] = []
            _first_pass(warc, profiles, partial, dead, summary, progress)
            _write_dead_letters(settings, warc, dead)
            summary.dead_letter += len(dead)
            partials.append((warc, partial))

        clusters = assign_story_clusters(
            (article.id, story_text(article))
            for _, partial in partials
            for article in _read_partial(partial)
            if article.status != RecordStatus.ERROR
        )
        summary.story_clusters = len(set(clusters.values()))

        def finished_records() -> Iterator[Article]:
            for warc, partial in partials:
                out_path = processed_path(settings, warc)
                with fsspec.open(out_path, "w", encoding="utf-8", auto_mkdir=True) as out:
                    for article in _read_partial(partial):
                        if article.status == RecordStatus.ERROR:
                            continue
                        article.story_cluster = clusters.get(article.id)
                        out.write(article.model_dump_json() + "\n")
                        _count(summary, article)
                        progress("indexed", 1)
                        yield article
                summary.outputs.append(out_path)

        if index:
            from pipelines.index import SearchEngine

            engine = SearchEngine.connect(settings)
            summary.index = target_index or engine.ensure_ready()
            result = engine.bulk_upsert(finished_records(), index=target_index)
            summary.indexed, summary.index_failed = result.indexed, result.failed
            if target_index is None and (building := engine.version_being_built()):
                # A rebuild copied the serving index before these records existed; without this
                # they would vanish from search when it switches the aliases.
                engine.bulk_upsert(_read_outputs(summary.outputs), index=building)
                engine.refresh(building)
                summary.also_indexed_into = building
            engine.refresh(target_index)
        else:
            for _ in finished_records():
                pass
    _mark_processed(settings, warcs)
    return summary.as_dict()


def _read_outputs(paths: list[str]) -> Iterator[Article]:
    for path in paths:
        with fsspec.open(path, "r", encoding="utf-8") as lines:
            for line in lines:
                yield Article.model_validate_json(line)


def _count(summary: BatchSummary, article: Article) -> None:
    summary.records += 1
    if article.status == RecordStatus.FLAGGED:
        summary.flagged += 1
    else:
        summary.ok += 1
    summary.languages[article.language or "und"] += 1
    if article.attribution:
        summary.attributed += 1
        summary.agencies[article.attribution.agency_id] += 1


def _write_dead_letters(settings: Settings, warc: WarcFile, dead: list[dict]) -> None:
    """The dead letters of one WARC file, as of its latest processing (like its processed records)."""
    path = dead_letter_path(settings, warc)
    if not dead:
        path.unlink(missing_ok=True)  # a fixed parser leaves no stale failures behind
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for entry in dead:
            out.write(json.dumps(entry, ensure_ascii=False) + "\n")


def raise_if_failure_rate_exceeded(summary: dict, settings: Settings) -> None:
    if summary["failure_rate"] > settings.max_failure_rate:
        raise FailureRateExceeded(
            f"{summary['dead_letter']} of the batch failed ({summary['failure_rate']:.1%}), above the "
            f"allowed {settings.max_failure_rate:.0%}; see the dead-letter files under {settings.dead_letter_dir}"
        )


