"""Processing: raw archive -> extract -> clean -> language -> attribution -> dedup -> records -> index.

The stage functions are pure and live in their own modules; this module is the I/O edge that reads
WARC files, writes processed records (JSON Lines, one file per source, crawl day and run), writes
dead-letter records, and bulk-indexes. It streams: a batch is written to temporary files first and
only ids and texts are read back for story clustering.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import fsspec

from pipelines.archive import ArchivedResponse, UnreadableRecord, WarcFile, iter_responses, list_warc_files, parse_warc_path
from pipelines.attribution import tag_attribution
from pipelines.clean import clean_body, normalize_text
from pipelines.dedup import assign_story_clusters, content_hash
from pipelines.extract import ExtractionError, extract_page
from pipelines.language import detect_language
from pipelines.records import Article, Provenance, RecordStatus, article_id
from pipelines.settings import Settings
from pipelines.urls import canonicalize_url

ProgressCallback = Callable[[str, int], None]
"""Called with (stage, amount) as work advances; the CLI turns it into a progress bar."""


class FailureRateExceeded(RuntimeError):
    pass


@dataclass(frozen=True)
class SourceProfile:
    """What processing needs to know about a source: its language and time zone."""

    language: str = "ar"
    timezone: str | None = None


def process_page(
    raw: bytes | str,
    url: str,
    *,
    source_id: str | None = None,
    content_type: str | None = None,
    crawled_at: datetime | None = None,
    provenance: Provenance | None = None,
    profile: SourceProfile = SourceProfile(),
) -> Article:
    """One article page to one record. Never raises: bad input gives an error or flagged record."""
    canonical = canonicalize_url(url)
    base = dict(url=url, canonical_url=canonical, id=article_id(canonical), source_id=source_id,
                crawled_at=crawled_at, provenance=provenance)
    try:
        page = extract_page(raw, url, content_type=content_type, timezone=profile.timezone)
    except ExtractionError as exc:
        return Article(**base, status=RecordStatus.ERROR, error=f"extraction failed: {exc.reason}")
    except Exception as exc:  # a parser bug must flag one record, not stop the night's batch
        return Article(**base, status=RecordStatus.ERROR, error=f"extraction crashed: {exc!r}")

    if page.canonical_url:
        canonical = canonicalize_url(page.canonical_url)
        base.update(canonical_url=canonical, id=article_id(canonical))
    try:
        return _analyse(page, base, profile)
    except Exception as exc:
        return Article(**base, title=page.title, status=RecordStatus.ERROR,
                       error=f"processing crashed: {exc!r}")


def _analyse(page, base: dict, profile: SourceProfile) -> Article:
    title = normalize_text(page.title)
    full_text = normalize_text(page.body)
    cleaned = clean_body(page.body)
    attribution = tag_attribution(full_text, title)
    language = detect_language(title, cleaned.body)
    warnings = list(page.warnings) + [f"language:{flag}" for flag in language.flags]
    status = RecordStatus.OK
    if language.language != profile.language:
        status = RecordStatus.FLAGGED
        warnings.append(f"language {language.language} where the source publishes {profile.language}")
    elif language.flags:
        status = RecordStatus.FLAGGED
    lead = normalize_text(page.lead) if page.lead else cleaned.body.split("\n", 1)[0]
    return Article(
        **base,
        title=title,
        body=cleaned.body,
        lead=lead,
        published_at=page.published_at,
        language=language.language,
        language_confidence=round(language.confidence, 4),
        attribution=attribution.credited[0] if attribution.credited else None,
        credits=attribution.credited,
        cited_agencies=attribution.cited_agencies,
        removed_trailers=cleaned.removed,
        content_hash=content_hash(cleaned.body),
        warnings=warnings,
        status=status,
    )


# --------------------------------------------------------------------------- archive batches


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
        return {
            "warc_files": self.warc_files, "responses": self.responses, "records": self.records,
            "ok": self.ok, "flagged": self.flagged, "errors": self.errors,
            "dead_letter": self.dead_letter, "unreadable": self.unreadable, "attributed": self.attributed,
            "story_clusters": self.story_clusters, "indexed": self.indexed,
            "index_failed": self.index_failed, "failure_rate": round(self.failure_rate, 4),
            "languages": dict(self.languages), "agencies": dict(self.agencies),
            "error_reasons": dict(self.error_reasons), "outputs": self.outputs, "index": self.index,
            "also_indexed_into": self.also_indexed_into,
        }


def source_profiles(settings: Settings) -> dict[str, SourceProfile]:
    from crawler.registry import load_registry

    return {source.id: SourceProfile(language=source.language, timezone=source.timezone)
            for source in load_registry(settings)}


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
    profile = profiles.get(warc.source_id, SourceProfile())
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
            (article.id, f"{article.title}\n{article.body}")
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


# --------------------------------------------------------------------------- reprocessing


def reprocess(
    settings: Settings,
    *,
    since: date | None,
    until: date | None,
    sources: list[str] | None,
    mode: str = "update",
    dry_run: bool = False,
    progress: ProgressCallback = lambda stage, amount: None,
) -> dict:
    """Run processing again over archived crawls, never the sites.

    ``update`` overwrites the records in the current index. ``rebuild`` builds the next index
    version (a copy of the current one with the window processed again on top), checks it and
    only then moves both aliases atomically; on any failure the old index keeps serving.
    """
    if mode not in ("update", "rebuild"):
        raise ValueError(f"unknown mode {mode!r}: use 'update' or 'rebuild'")
    warcs = list_warc_files(settings.archive, since=since, until=until, sources=sources)
    plan = {"mode": mode, "dry_run": dry_run, "since": str(since) if since else None,
            "until": str(until) if until else None, "sources": sources or "all",
            "warc_files": [w.url for w in warcs]}
    if dry_run:
        return plan
    files = [w.url for w in warcs]
    if mode == "update":
        return plan | process_archive(settings, warc_files=files, progress=progress)

    from pipelines.index import SearchEngine

    engine = SearchEngine.connect(settings)
    old_index = engine.ensure_ready()
    new_index = engine.create_next_version()
    try:
        copied = engine.copy_documents(old_index, new_index)
        summary = process_archive(settings, warc_files=files, target_index=new_index, progress=progress)
        expected = max(copied, engine.count(old_index))
        got = engine.count(new_index)
        if got < expected:
            raise RuntimeError(f"rebuild of {new_index} has {got} documents, fewer than the {expected} serving now")
    except Exception:
        engine.delete_index(new_index)
        raise
    engine.switch_aliases(new_index)
    return plan | summary | {"previous_index": old_index, "index": new_index, "documents": got}
