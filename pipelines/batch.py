"""The batch edge of processing: WARC files in, processed records, dead letters and the index out.

Reads archived WARC files, runs :func:`pipelines.stages.process_page` on every response, writes
processed records (JSON Lines, one file per source, crawl day and run) and dead-letter records,
clusters the batch into stories and bulk-indexes. It streams: a batch is written to temporary
files first, with what story clustering needs of each record (:class:`pipelines.dedup.StoryFeatures`,
computed by the workers beside the record), and only that is read back for clustering.
"""

from __future__ import annotations

import heapq
import json
import logging
import math
import multiprocessing
import pickle
import re
import tempfile
import uuid
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import IO, TypeVar

from pydantic import create_model

from kernel.agencies import BUNDLED_AGENCIES
from kernel.archive import (
    WARC_SUFFIX,
    WarcFile,
    list_warc_files,
    parse_warc_path,
    url_of,
)
from kernel.dates import parse_iso_datetime
from kernel.records import Article, Provenance, RecordStatus, representative
from kernel.registry import load_registry
from kernel.settings import Settings
from kernel.storage import open_url, reaching, url_to_fs
from pipelines.archive import ArchivedResponse, UnreadableRecord, iter_responses
from pipelines.attribution import load_gazetteer
from pipelines.dedup import StoryFeatures, story_features
from pipelines.index.writes import BulkResult
from pipelines.stages import DEFAULT_PROFILE, SourceProfile, process_page, story_text
from pipelines.stories import (
    STORED_FIELDS,
    StoryAssignment,
    StoryMember,
    cluster_batch,
    first_seen,
    stored_member,
    window_query,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

ProgressCallback = Callable[[str, int], None]
"""Called with (stage, amount) as work advances; the CLI turns it into a progress bar."""


class FailureRateExceeded(RuntimeError):
    pass


class IndexingIncomplete(RuntimeError):
    """The engine could not take some documents now; their WARC files stay unprocessed and the
    next run takes them again (a retry is the right answer, unlike FailureRateExceeded)."""


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
    superseded: int = 0
    attributed: int = 0
    story_clusters: int = 0
    story_merges: int = 0
    """Stories already indexed that tonight's articles joined into one."""
    stories_renamed: int = 0
    """Stored articles given their story's new name (they joined or merged)."""
    indexed: int = 0
    index_rejected: int = 0
    index_failed: int = 0
    languages: Counter = field(default_factory=Counter)
    agencies: Counter = field(default_factory=Counter)
    error_reasons: Counter = field(default_factory=Counter)
    outputs: list[str] = field(default_factory=list)
    pending_warc_files: list[str] = field(default_factory=list)
    index_failure: str | None = None
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


def _per_warc_path(root: str, warc: WarcFile) -> str:
    """``{root}/{source}/{YYYY}/{MM}/{DD}/{source}-{run}.jsonl``: the archive's layout, one file per WARC file."""
    return f"{root.rstrip('/')}/{warc.archive_path.removesuffix(WARC_SUFFIX)}.jsonl"


def processed_path(settings: Settings, warc: WarcFile) -> str:
    return _per_warc_path(settings.processed, warc)


def dead_letter_path(settings: Settings, warc: WarcFile) -> str:
    return _per_warc_path(settings.dead_letters, warc)


def dead_letters(settings: Settings, *, since: date | None = None, until: date | None = None,
                 sources: list[str] | None = None) -> dict[str, list[dict]]:
    """The dead letters of the WARC files crawled within [since, until] (inclusive), by their
    dead-letter file (URL), oldest crawl day first. A line that is not a JSON object (a file
    edited by hand) is skipped with a warning."""
    fs, root = url_to_fs(settings.dead_letters)
    if not fs.exists(root):
        return {}
    found = []
    for source in sorted(set(sources or ["*"])):
        for path in fs.glob(f"{root.rstrip('/')}/{source}/*/*/*/*.jsonl"):
            warc = parse_warc_path(path.removesuffix(".jsonl") + WARC_SUFFIX)  # the file it is of
            if warc and not (since and warc.crawl_date < since or until and warc.crawl_date > until):
                found.append((warc.crawl_date, path))
    letters: dict[str, list[dict]] = {}
    for _, path in sorted(found):
        url = url_of(fs, path)
        letters[url] = []
        with fs.open(path, "r", encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                try:
                    letter = json.loads(line)
                except ValueError:
                    letter = None
                if isinstance(letter, dict):
                    letters[url].append(letter)
                else:
                    log.warning("skipping line %d of %s, not a JSON object: %r", number, url, line[:200])
    return letters


PROCESSED_MARKER = ".done.json"
"""Suffix of the marker written beside a WARC file's records once the file is done: each of
its records acknowledged by the engine or dead-lettered. One marker per file, written whole under
a temporary name and renamed, so workers processing different files never write the same state."""


def marker_path(settings: Settings, warc: WarcFile) -> str:
    return processed_path(settings, warc).removesuffix(".jsonl") + PROCESSED_MARKER


def _legacy_state(settings: Settings) -> Path:
    """The one processed-files list of earlier versions, turned into markers on first sight."""
    return settings.state_dir / "processed-warcs.jsonl"


def _migrate_legacy_state(settings: Settings) -> None:
    path = _legacy_state(settings)
    if not path.exists():
        return
    files = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            log.warning("skipping a torn line of %s: %r", path, line[:200])  # that file is taken again
            continue
        if isinstance(entry, dict) and (warc := parse_warc_path(str(entry.get("warc_file", "")))) is not None:
            files.append(warc)
    _mark_processed(settings, files)
    path.rename(path.with_name(f"{path.name}.migrated"))


def already_processed(settings: Settings, warcs: list[WarcFile] | None = None) -> set[str]:
    """The WARC files (URLs) whose marker exists, among `warcs` (default: the whole archive)."""
    _migrate_legacy_state(settings)
    fs, root = url_to_fs(settings.processed)
    with reaching(settings.processed):
        markers = {path for path in fs.find(root) if path.endswith(PROCESSED_MARKER)} if fs.exists(root) else set()
    candidates = list_warc_files(settings.archive) if warcs is None else warcs
    # Paths as the processed root's filesystem spells them, so find's answers compare.
    return {warc.url for warc in candidates if url_to_fs(marker_path(settings, warc))[1] in markers}


def unprocessed_warc_files(settings: Settings, *, since: date | None = None, until: date | None = None,
                           sources: list[str] | None = None) -> list[WarcFile]:
    """The archived WARC files of the window (default: all) without a processed marker."""
    warcs = list_warc_files(settings.archive, since=since, until=until, sources=sources)
    done = already_processed(settings, warcs)
    return [warc for warc in warcs if warc.url not in done]


def _mark_processed(settings: Settings, warcs: Iterable[WarcFile]) -> None:
    now = datetime.now(UTC).isoformat()
    for warc in warcs:
        with _replaced(marker_path(settings, warc)) as out:
            out.write(json.dumps({"warc_file": warc.url, "processed_at": now}) + "\n")


@contextmanager
def _replaced(url: str) -> Iterator[IO[str]]:
    """Write a text file under a temporary name and rename it into place when complete, so a
    reader never sees half a file (fsspec: local paths and object stores alike)."""
    fs, path = url_to_fs(url)
    fs.makedirs(fs._parent(path), exist_ok=True)
    temporary = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        with fs.open(temporary, "w", encoding="utf-8") as out:
            yield out
        fs.mv(temporary, path)
    finally:
        if fs.exists(temporary):
            fs.rm(temporary)


def _dead_letter(response: ArchivedResponse | UnreadableRecord, reason: str, url: str = "") -> dict:
    return {"reason": reason, "warc_file": response.warc_file, "warc_record_id": response.record_id,
            "url": url, "offset": getattr(response, "offset", None),
            "at": datetime.now(UTC).isoformat()}


def _rejected_letter(article: Article, reason: str) -> dict:
    provenance = article.provenance
    return {"reason": f"index rejected: {reason}", "warc_file": provenance.warc_file if provenance else None,
            "warc_record_id": provenance.warc_record_id if provenance else None, "url": article.url,
            "id": article.id, "offset": None, "at": datetime.now(UTC).isoformat()}


# A worker costs a process start and its own import of the processing stack (seconds); below
# this much archived data per worker the batch is faster in one process.
MIN_WARC_BYTES_PER_WORKER = 2_000_000


@dataclass(frozen=True)
class _Share:
    """One worker's part of one WARC file: the records at positions stride, stride + strides, ...
    (every worker reads the whole file, which costs little next to extraction, and the shares
    of a file are merged back in record order)."""

    warc: WarcFile
    stride: int
    strides: int
    partial: Path
    story_features: bool
    """Also compute each record's StoryFeatures into the partial's features file (see
    :func:`_features_path`): the per-article part of story clustering, done in the workers."""
    skipped: frozenset[int] = frozenset()
    """Positions left out: records that killed the worker (:func:`_share_without_killers`)."""
    started_log: Path | None = None
    """Where each record's position, id and URL is noted (flushed) before it is processed, so
    that the record a worker died on is known."""


@dataclass
class _ShareResult:
    share: _Share
    summary: BatchSummary
    dead: list[tuple[int, dict]]  # (record position, dead letter)


def _process_share(share: _Share, profiles: dict[str, SourceProfile],
                   progress: ProgressCallback = lambda stage, amount: None) -> _ShareResult:
    """Process the records of one share into its partial file, each line prefixed with the
    record's position in the WARC file. A top-level function: worker processes run it."""
    warc = share.warc
    profile = profiles.get(warc.source_id, DEFAULT_PROFILE)
    summary, dead = BatchSummary(), []
    with ExitStack() as files:
        out = files.enter_context(share.partial.open("w", encoding="utf-8"))
        features = files.enter_context(_features_path(share.partial).open("wb")) if share.story_features else None
        started = files.enter_context(share.started_log.open("a", encoding="utf-8")) if share.started_log else None
        for position, item in enumerate(iter_responses(warc.url)):
            if position % share.strides != share.stride or position in share.skipped:
                continue
            if isinstance(item, UnreadableRecord):
                dead.append((position, _dead_letter(item, item.reason, item.url)))
                summary.unreadable += 1
                summary.error_reasons["unreadable_warc"] += 1
                continue
            summary.responses += 1
            progress("records", 1)
            if not 200 <= item.status < 300:
                dead.append((position, _dead_letter(item, f"http status {item.status}", item.url)))
                summary.error_reasons["http_status"] += 1
                continue
            if started is not None:
                started.write(f"{position}\t{item.record_id}\t{item.url}\n")
                started.flush()
            try:
                article = _process_response(item, warc, profile)
                line = article.model_dump_json() + "\n"
            except Exception as exc:  # one poison record is a dead letter, never the night's batch
                log.exception("record %s of %s crashed", item.record_id, warc.url)
                dead.append((position, _dead_letter(item, f"processing crashed: {exc!r}", item.url)))
                summary.errors += 1
                summary.error_reasons["processing crashed"] += 1
                continue
            if article.status == RecordStatus.ERROR:
                dead.append((position, _dead_letter(item, article.error or "error", item.url)))
                summary.errors += 1
                summary.error_reasons[(article.error or "error").split(":")[0]] += 1
            out.write(f"{position}\t{line}")
            if features is not None:
                entry = None if article.status == RecordStatus.ERROR else story_features(story_text(article))
                pickle.dump((position, entry), features, protocol=pickle.HIGHEST_PROTOCOL)
    return _ShareResult(share, summary, dead)


def _features_path(partial: Path) -> Path:
    """Beside a share's partial file of records: one pickled (position, StoryFeatures) per line of
    it, (position, None) for an error record (the record's StoryMember is read from the record)."""
    return partial.with_name(f"{partial.name}.features")


def _pickled(path: Path) -> Iterator:
    """The objects pickled one after another into a file."""
    with path.open("rb") as stream:
        while True:
            try:
                yield pickle.load(stream)
            except EOFError:
                return


def _worker_count(settings: Settings, warcs: list[WarcFile], requested: int | None) -> int:
    """Workers of the first pass: as requested, else the setting, fewer for a small batch."""
    if requested is not None:
        return max(1, requested)
    if settings.process_workers == 1 or not warcs:
        return 1
    size = 0
    for warc in warcs:
        fs, path = url_to_fs(warc.url)
        size += fs.size(path)
    return max(1, min(settings.process_workers, size // MIN_WARC_BYTES_PER_WORKER))


def _worker_context() -> multiprocessing.context.BaseContext:
    """Workers forked from multiprocessing's fork server, which loads what they need once
    (:mod:`pipelines.worker_preload`; the first batch of this process starts it) instead of each
    spawned worker loading it again: the server is a fresh single-threaded process, so forking it
    is safe where forking this one (threads, open connections) is not."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["pipelines.worker_preload"])
    return context


def _first_pass(warcs: list[WarcFile], profiles: dict[str, SourceProfile], tmp: Path, workers: int,
                dead: dict[str, list[dict]], summary: BatchSummary,
                progress: ProgressCallback, story_features: bool) -> list[tuple[WarcFile, Path, list[Path]]]:
    """Every response of every WARC file into a local partial file of records per WARC file, with
    its shares' features files (read in record order by :func:`_merged_features`).

    With several workers, each file is split into one share per worker, run in worker processes
    (forked from a fresh server process: nothing of this process is shared but the arguments),
    and the shares' partial files are merged back in record order, so the partial files, and
    everything made of them, are the same bytes as with one process. A daemonic process (Celery's
    pool processes run Airflow's tasks so), which multiprocessing refuses children, is one worker.
    """
    if workers > 1 and multiprocessing.current_process().daemon:
        log.info("processing in this process: it is daemonic (a Celery pool process), and multiprocessing "
                 "refuses a daemonic process children")
        workers = 1
    shares = [_Share(warc, stride, workers, tmp / f"{number}-{stride}-{warc.stem}.jsonl", story_features)
              for number, warc in enumerate(warcs) for stride in range(workers)]
    if workers == 1:
        results = [_process_share(share, profiles, progress) for share in shares]
    else:
        results, lost = [], []
        with ProcessPoolExecutor(max_workers=workers, mp_context=_worker_context()) as pool:
            futures = {pool.submit(_process_share, share, profiles): share for share in shares}
            for future in as_completed(futures):
                try:
                    results.append(future.result())
                except BrokenProcessPool:  # a worker died: every share not finished is lost with it
                    lost.append(futures[future])
                    continue
                progress("records", results[-1].summary.responses)
        for share in sorted(lost, key=lambda share: share.partial.name):
            log.warning("a worker died before finishing %s (share %d); taking it again in a worker of its own",
                        share.warc.url, share.stride)
            results.append(_share_without_killers(share, profiles))
            progress("records", results[-1].summary.responses)
    by_file: dict[str, list[_ShareResult]] = {}
    for result in sorted(results, key=lambda r: r.share.stride):
        by_file.setdefault(result.share.warc.url, []).append(result)
        for name in ("responses", "unreadable", "errors"):
            setattr(summary, name, getattr(summary, name) + getattr(result.summary, name))
        summary.error_reasons.update(result.summary.error_reasons)
    partials = []
    for number, warc in enumerate(warcs):
        parts = by_file[warc.url]
        dead[warc.url].extend(letter for _, letter in sorted(
            (entry for part in parts for entry in part.dead), key=lambda entry: entry[0]))
        partial = tmp / f"{number}-{warc.stem}.jsonl"
        _merge_shares([part.share.partial for part in parts], partial)
        partials.append((warc, partial, [_features_path(part.share.partial) for part in parts] if story_features
                         else []))
    return partials


KILLED_WORKER = "processing killed its worker process"
MAX_UNEXPLAINED_DEATHS = 3
"""Deaths of a share's worker in a row, each on another record, before the batch fails: the
machine is killing workers (memory), not a page."""


def _share_without_killers(share: _Share, profiles: dict[str, SourceProfile]) -> _ShareResult:
    """A share whose worker died, run again in a worker of its own that notes each record before
    processing it. A record the worker dies on twice in a row is a dead letter (a page that
    crashes the parser or exhausts memory would take every night's batch down) and the share runs
    again without it; a worker killed once from outside (an operator, the OOM killer) costs
    only the run again. A worker that dies before starting any record is the machine's fault:
    the batch fails."""
    log_path = share.partial.with_name(share.partial.name + ".started")
    killers: dict[int, dict] = {}
    suspect, unexplained = None, 0
    while True:
        log_path.write_text("")
        attempt = replace(share, skipped=frozenset(killers), started_log=log_path)
        with ProcessPoolExecutor(max_workers=1, mp_context=_worker_context()) as pool:
            try:
                result = pool.submit(_process_share, attempt, profiles).result()
            except BrokenProcessPool as died:
                lines = log_path.read_text(encoding="utf-8").splitlines()
                if not lines:
                    raise BrokenProcessPool(f"the worker for {share.warc.url} died before its first record") from died
                position, record_id, url = lines[-1].split("\t", 2)
                if suspect != position:
                    # once may be a kill from outside: run again before blaming the record
                    suspect, unexplained = position, unexplained + 1
                    if unexplained > MAX_UNEXPLAINED_DEATHS:
                        raise BrokenProcessPool(f"workers for {share.warc.url} keep dying, each time on another "
                                                "record") from died
                    continue
                log.error("record %s (%s) of %s killed its worker twice: dead letter", record_id, url, share.warc.url)
                killer = UnreadableRecord(share.warc.url, record_id, -1, KILLED_WORKER, url)
                killers[int(position)] = _dead_letter(killer, killer.reason, killer.url)
                suspect, unexplained = None, 0
                continue
        log_path.unlink()
        result.dead.extend(killers.items())
        result.summary.responses += len(killers)
        result.summary.errors += len(killers)
        if killers:
            result.summary.error_reasons[KILLED_WORKER] += len(killers)
        return result


def _merge_shares(paths: list[Path], merged: Path) -> None:
    """The shares' position-prefixed lines, in position order and without the prefix, into one file."""
    with ExitStack() as files, merged.open("w", encoding="utf-8") as out:
        streams = [files.enter_context(path.open(encoding="utf-8")) for path in paths]
        numbered = [((int(line.split("\t", 1)[0]), line) for line in stream) for stream in streams]
        for _, line in heapq.merge(*numbered, key=lambda entry: entry[0]):
            out.write(line.split("\t", 1)[1])
    for path in paths:
        path.unlink()


def _merged_features(paths: list[Path]) -> Iterator:
    """The entries of the shares' (position, entry) pickles in position order: one per line of the
    merged partial file. Merged as read, so no entry is unpickled and pickled again."""
    for _, entry in heapq.merge(*map(_pickled, paths), key=lambda entry: entry[0]):
        yield entry


def _process_response(item: ArchivedResponse, warc: WarcFile, profile: SourceProfile) -> Article:
    provenance = Provenance(warc_file=warc.url, warc_record_id=item.record_id, crawl_run=warc.run_id)
    return process_page(item.body, item.url, source_id=warc.source_id, content_type=item.content_type,
                        crawled_at=item.crawled_at, provenance=provenance, profile=profile,
                        listed_published_at=parse_iso_datetime(item.metadata.get("listed_published_at")))


def _read_partial(path: Path | str) -> Iterator[Article]:
    """The records of a local partial file or of a processed file (an fsspec URL)."""
    with open_url(str(path), "r", encoding="utf-8") as lines:
        for line in lines:
            yield Article.model_validate_json(line)


_RecordHead = create_model("_RecordHead", **{name: (field.annotation, field) for name, field in Article.model_fields.items()
                                              if name in ("id", "published_at", "crawled_at", "language", "attribution",
                                                          "status")})
"""The fields of a processed record that choosing its indexed copy and counting it read: validating
only these leaves the body, title and credits unbuilt."""

_Tally = tuple[RecordStatus, str | None, str | None]
"""A record's status, language and credited agency, as the batch summary counts them."""


@dataclass(frozen=True)
class _IndexedCopies:
    """Of each file of a batch, which of its records are indexed, held compactly (line numbers in
    arrays; of each record its id and when it was first seen, no object of its own), so a large
    batch costs little memory until it is named."""

    lines: list[array]
    """Per file: the line numbers of its records that are indexed, ascending."""
    ids: list[list[str]]
    """Per file: those records' ids, in the same order."""
    first_seen: dict[str, datetime | None]
    """Every record indexed, by id (in file and line order): when it was first seen."""
    tallies: Counter[_Tally]
    records: int
    """The records (copies; errors not counted) the files hold."""

    def of(self, number: int, items: Iterable[T]) -> Iterator[tuple[str, T]]:
        """The items of file `number` (its lines, records or features, in line order) that are
        indexed, each with its record's id."""
        wanted = zip(self.lines[number], self.ids[number])
        line, article_id = next(wanted, (-1, None))
        for position, item in enumerate(items):
            if position == line:
                yield article_id, item
                line, article_id = next(wanted, (-1, None))

    def __len__(self) -> int:
        return len(self.first_seen)

    def count_into(self, summary: BatchSummary) -> None:
        for (status, language, agency), count in self.tallies.items():
            summary.records += count
            if status == RecordStatus.FLAGGED:
                summary.flagged += count
            else:
                summary.ok += count
            summary.languages[language or "und"] += count
            if agency is not None:
                summary.attributed += count
                summary.agencies[agency] += count


def _indexed_copies(partials: list[tuple]) -> _IndexedCopies:
    """Which records of the files (the first two items of each of `partials`: WarcFile, path or
    URL) are indexed: every record but errors and superseded copies.

    One article can be archived twice in a batch (a killed crawl crawled again, two URLs with one
    canonical); the latest crawl wins, ties broken by crawl run and position, so every run over
    the same files picks the same copy.
    """
    def rank(copy: int) -> tuple:
        warc = partials[numbers[copy]][0]
        return crawled[copy], warc.run_id, warc.url, lines_of[copy]

    # Of each record (a copy; errors left out), by its place in the batch: what choosing the copy
    # and naming its story read, in flat arrays and lists rather than an object per record.
    ids: list[str] = []
    first_seen_of: list[datetime | None] = []
    crawled, numbers, lines_of, tally_of = array("d"), array("I"), array("I"), array("I")
    tally_numbers: dict[_Tally, int] = {}
    latest: dict[str, int] = {}  # id -> the place of its latest copy
    for number, (_, partial, *_) in enumerate(partials):
        with open_url(str(partial), "r", encoding="utf-8") as lines:
            for line, text in enumerate(lines):
                head = _RecordHead.model_validate_json(text)
                if head.status == RecordStatus.ERROR:
                    continue
                copy = len(ids)
                tally = (head.status, head.language, head.attribution.agency_id if head.attribution else None)
                ids.append(head.id)
                first_seen_of.append(_in_shared_zone(first_seen(head.published_at, head.crawled_at)))
                crawled.append(head.crawled_at.timestamp() if head.crawled_at else -math.inf)
                numbers.append(number)
                lines_of.append(line)
                tally_of.append(tally_numbers.setdefault(tally, len(tally_numbers)))
                held = latest.get(head.id)
                if held is None or rank(copy) > rank(held):
                    latest[head.id] = copy
    tallies_by_number = list(tally_numbers)
    indexed = _IndexedCopies([array("I") for _ in partials], [[] for _ in partials], {}, Counter(), len(ids))
    for copy, article_id in enumerate(ids):
        if latest[article_id] == copy:
            indexed.lines[numbers[copy]].append(lines_of[copy])
            indexed.ids[numbers[copy]].append(article_id)
            indexed.first_seen[article_id] = first_seen_of[copy]
            indexed.tallies[tallies_by_number[tally_of[copy]]] += 1
    return indexed


def _in_shared_zone(moment: datetime | None) -> datetime | None:
    """The same moment, written with the same offset, in the one timezone object of its offset:
    a datetime validated from JSON has a timezone object of its own, which a batch would hold once
    per record."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.replace(tzinfo=_zone(moment.utcoffset()))


@lru_cache(maxsize=None)  # a batch's records have a handful of offsets
def _zone(offset: timedelta) -> timezone:
    return timezone(offset)


_STORY_CLUSTER = re.compile(r'"story_cluster":(?:null|"(?:[^"\\]|\\.)*"),')
"""The field in a line of Article.model_dump_json: the first such key, because a quote inside a
string value is escaped and no nested model has the field."""


def _with_story_cluster(line: str, name: str) -> str:
    """A record's JSON line (model_dump_json) with its story_cluster set: the bytes model_dump_json
    gives, without validating and dumping the whole record again (json.dumps without ensure_ascii
    escapes a string as pydantic does)."""
    updated, found = _STORY_CLUSTER.subn(lambda _: f'"story_cluster":{json.dumps(name, ensure_ascii=False)},',
                                         line, count=1)
    if not found:
        raise ValueError("a processed record without its story_cluster field")
    return updated


def _engine_for(settings: Settings, target_index: str | None):
    """The engine, checked before anything is extracted: a dead engine fails in seconds, not
    after the whole first pass."""
    from pipelines.index import SearchEngine

    engine = SearchEngine.connect(settings)
    engine.check_health()
    return engine, target_index or engine.ensure_ready()


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
    workers: int | None = None,
    stories: bool = True,
) -> dict:
    """Process archived WARC files into records, dead letters and (optionally) the index.

    Without `warc_files`, every file in the window that was not processed before is taken
    (`only_new=False` takes them all again, as reprocessing does). A file is marked processed
    only when each of its records was acknowledged by the engine or written to its dead-letter
    file; a file with a document the engine could not take now (see
    :mod:`pipelines.index.writes`) stays unprocessed and is named in ``pending_warc_files``.
    ``workers``: processes of the first pass (default: ``settings.process_workers``, fewer for
    a small batch); the output is the same whatever their number.
    ``stories=False`` leaves each article provisionally its own story and reads no stored story:
    files processed one by one, side by side (the mapped tasks of one run), are named together
    by :func:`reconcile_stories` afterwards.
    """
    if warc_files is not None:
        warcs = [w for w in (parse_warc_path(f) for f in warc_files) if w is not None]
    elif only_new:
        warcs = unprocessed_warc_files(settings, since=since, until=until, sources=sources)
    else:
        warcs = list_warc_files(settings.archive, since=since, until=until, sources=sources)
    summary = BatchSummary(warc_files=len(warcs))
    engine, summary.index = _engine_for(settings, target_index) if index else (None, None)
    profiles = source_profiles(settings)
    dead: dict[str, list[dict]] = {warc.url: [] for warc in warcs}
    pending: set[str] = set()

    with tempfile.TemporaryDirectory(prefix="newswire-batch-") as tmp:
        partials = _first_pass(warcs, profiles, Path(tmp), _worker_count(settings, warcs, workers),
                               dead, summary, progress, story_features=stories)
        indexed = _indexed_copies(partials)

        def batch_features() -> Iterator[tuple[str, StoryFeatures]]:
            """What the workers computed for clustering, of the records that are indexed (by the ids
            the members hold: the clusterer keeps them, and one string of each id is enough)."""
            for number, (_, _, features) in enumerate(partials):
                yield from indexed.of(number, _merged_features(features))

        stored_stories = IndexedStories(engine, target_index) if engine is not None else None
        assignment = (cluster_batch(indexed.first_seen, batch_features, stored_stories, settings.story_window_days)
                      if stories
                      else StoryAssignment(clusters={article_id: article_id for article_id in indexed.first_seen}))
        clusters = assignment.clusters
        summary.story_merges = assignment.merges
        summary.story_clusters = len({clusters[article_id] for article_id in indexed.first_seen})

        def finished_records() -> Iterator[str]:
            """The JSON line of each record indexed, as written to its processed file."""
            for number, (warc, partial, _) in enumerate(partials):
                out_path = processed_path(settings, warc)
                with _replaced(out_path) as out, partial.open(encoding="utf-8") as lines:
                    for article_id, record in indexed.of(number, lines):
                        record = _with_story_cluster(record, clusters[article_id])
                        out.write(record)
                        progress("indexed", 1)
                        yield record
                summary.outputs.append(out_path)

        if engine is None:
            for _ in finished_records():
                pass
        else:
            result = engine.bulk_upsert(map(Article.model_validate_json, finished_records()), index=target_index)
            summary.indexed = result.indexed
            if target_index is None and (building := engine.version_being_built()):
                # A rebuild copied the serving index before these records existed; without this
                # they would vanish from search when it switches the aliases.
                also = engine.bulk_upsert(_read_outputs(summary.outputs), index=building)
                result.retryable.update(also.retryable)
                result.rejected = also.rejected | result.rejected
                summary.also_indexed_into = building
            _settle(result, summary.outputs, warcs, dead, pending, summary)
            if assignment.renames and not pending:
                # Only once tonight's articles are in: a story may now be named after one of them.
                # With some pending, the retry's window finds these articles again and renames them.
                summary.stories_renamed = stored_stories.rename(assignment.renames)
        indexed.count_into(summary)
        summary.superseded = indexed.records - len(indexed)

    for warc in warcs:
        _write_dead_letters(settings, warc, dead[warc.url])
    summary.dead_letter = sum(len(letters) for letters in dead.values())
    summary.pending_warc_files = sorted(pending)
    _mark_processed(settings, [warc for warc in warcs if warc.url not in pending])
    if engine is not None:
        engine.refresh(target_index)
        if summary.also_indexed_into:
            engine.refresh(summary.also_indexed_into)
    return summary.as_dict()


def reconcile_stories(settings: Settings, warc_files: list[str], *, target_index: str | None = None) -> dict:
    """Name the stories of WARC files processed side by side with ``stories=False`` (the mapped
    tasks of one run) as one batch over all of them would: the same clusters, the same copy of
    an article archived in two of the files, the same processed files.

    The processed records of the files are the batch (each file's latest processing); tonight's
    articles are clustered with the stored ones around them, the index is given each changed
    story name (and the latest copy of an article that two files hold), then the processed
    files are rewritten where they changed, then stored articles of other runs are renamed. A
    write the engine refuses raises IndexingIncomplete before any file is rewritten, and the
    retry reconciles again from the same files.
    """
    from pipelines.index import SearchEngine

    warcs = [warc for warc in map(parse_warc_path, warc_files) if warc is not None]
    outputs: list[tuple[WarcFile, str]] = [(warc, processed_path(settings, warc)) for warc in warcs]
    outputs = [(warc, url) for warc, url in outputs if _exists(url)]
    summary = BatchSummary(warc_files=len(outputs))  # its record counts: each article once
    if not outputs:
        return summary.as_dict() | {"stories_reassigned": 0, "outputs_rewritten": 0}
    engine = SearchEngine.connect(settings)
    engine.check_health()
    indexed = _indexed_copies(outputs)

    def batch_texts() -> Iterator[tuple[str, str]]:
        for number, (_, url) in enumerate(outputs):
            yield from ((article_id, story_text(article)) for article_id, article in indexed.of(number, _read_partial(url)))

    store = IndexedStories(engine, target_index)
    assignment = cluster_batch(indexed.first_seen, batch_texts, store, settings.story_window_days)
    copies = Counter(article.id for _, url in outputs for article in _read_partial(url))
    latest: list[Article] = []  # of an article two files hold: which copy is indexed was a race
    named: dict[str, dict] = {}
    changed_files: set[int] = set()
    for number, (_, url) in enumerate(outputs):
        indexed_lines = set(indexed.lines[number])
        for line, article in enumerate(_read_partial(url)):
            story = assignment.clusters[article.id]
            if line not in indexed_lines:
                changed_files.add(number)  # a superseded copy leaves this file
                continue
            if article.story_cluster != story:
                changed_files.add(number)
            if copies[article.id] > 1:
                latest.append(article.model_copy(update={"story_cluster": story}))
            elif article.story_cluster != story:
                named[article.id] = {"story_cluster": story, "story_representative": representative(story, article.id)}
    targets = [target_index] if target_index else [None, *filter(None, [engine.version_being_built()])]
    for index in targets:
        failed = [engine.bulk_upsert(latest, index=index), engine.update_fields(named, index=index)]
        refused = sum(len(result.retryable) + len(result.rejected) for result in failed)
        if refused:
            raise IndexingIncomplete(f"{refused} story names could not be stored now; the retry reconciles again")
    for number in sorted(changed_files):
        url = outputs[number][1]
        records = [article.model_copy(update={"story_cluster": assignment.clusters[article.id]})
                   for _, article in indexed.of(number, _read_partial(url))]
        with _replaced(url) as out:
            out.writelines(article.model_dump_json() + "\n" for article in records)
    summary.stories_renamed = store.rename(assignment.renames) if assignment.renames else 0
    for index in targets:
        engine.refresh(index)
    summary.story_clusters = len({assignment.clusters[article_id] for article_id in indexed.first_seen})
    summary.story_merges = assignment.merges
    indexed.count_into(summary)
    summary.superseded = sum(copies.values()) - len(indexed)
    return summary.as_dict() | {"stories_reassigned": len(named), "outputs_rewritten": len(changed_files)}


def _exists(url: str) -> bool:
    fs, path = url_to_fs(url)
    return fs.exists(path)


def combine_summaries(summaries: Iterable[dict]) -> dict:
    """One batch's summary (:meth:`BatchSummary.as_dict`) from those of its parts, processed apart."""
    total = BatchSummary()
    for part in summaries:
        for item in fields(total):
            value, mine = part.get(item.name), getattr(total, item.name)
            if isinstance(mine, Counter):
                mine.update(value or {})
            elif isinstance(mine, list):
                mine.extend(value or [])
            elif isinstance(mine, int):
                setattr(total, item.name, mine + (value or 0))
            elif mine is None:
                setattr(total, item.name, value)
    return total.as_dict()


class IndexedStories:
    """The stories already indexed (a :class:`pipelines.stories.StoryStore` over the engine)."""

    def __init__(self, engine, index: str | None):
        self.engine, self.index = engine, index

    def window(self, since: datetime, until: datetime) -> Iterator[tuple[StoryMember, str]]:
        for source in self.engine.stored_documents(window_query(since, until), STORED_FIELDS, index=self.index):
            yield stored_member(source)

    def members_of(self, names: list[str]) -> Iterator[tuple[str, str]]:
        for source in self.engine.stored_documents({"terms": {"story_cluster": names}}, ["id", "story_cluster"],
                                                   index=self.index):
            yield source["id"], source["story_cluster"]

    def rename(self, clusters: dict[str, str]) -> int:
        result = self.engine.update_fields(
            {doc_id: {"story_cluster": name, "story_representative": representative(name, doc_id)}
             for doc_id, name in sorted(clusters.items())}, index=self.index)
        if result.failed:
            # The next run's window reads these articles again and renames them then.
            log.warning("%d stored articles keep an outdated story name for now: %s", result.failed,
                        "; ".join(result.errors[:5]))
        return result.indexed


def _settle(result: BulkResult, outputs: list[str], warcs: list[WarcFile], dead: dict[str, list[dict]],
            pending: set[str], summary: BatchSummary) -> None:
    """Rejected documents become dead letters of their WARC file; a file with a document the
    engine could not take now stays pending (every file, when the engine named no document).
    The records sent are those of `outputs`: those the engine named are read back from them, so
    no record of the batch is held while it is indexed."""
    named = result.rejected.keys() | result.retryable.keys()
    files: dict[str, str] = {}  # named id -> its WARC file
    letters: dict[str, dict] = {}  # rejected id -> its dead letter
    for article in _read_outputs(outputs) if named else ():
        if article.id in named:
            files[article.id] = article.provenance.warc_file
            if article.id in result.rejected:
                letters[article.id] = _rejected_letter(article, result.rejected[article.id])
    unknown = {record_id: reason for record_id, reason in result.rejected.items() if record_id not in files}
    for record_id in result.rejected:
        if record_id in letters:
            dead[files[record_id]].append(letters[record_id])
            summary.error_reasons["index rejected"] += 1
    for record_id, reason in (result.retryable | unknown).items():
        pending.update([files[record_id]] if record_id in files else [w.url for w in warcs])
        summary.index_failure = summary.index_failure or reason
    summary.index_rejected = len(result.rejected) - len(unknown)
    summary.index_failed = len(result.retryable) + len(unknown)


def _read_outputs(paths: list[str]) -> Iterator[Article]:
    for path in paths:
        with open_url(path, "r", encoding="utf-8") as lines:
            for line in lines:
                yield Article.model_validate_json(line)


def _write_dead_letters(settings: Settings, warc: WarcFile, dead: list[dict]) -> None:
    """The dead letters of one WARC file, as of its latest processing (like its processed records)."""
    url = dead_letter_path(settings, warc)
    if not dead:
        fs, path = url_to_fs(url)
        if fs.exists(path):
            fs.rm(path)  # a fixed parser leaves no stale failures behind
        return
    with _replaced(url) as out:
        for entry in dead:
            out.write(json.dumps(entry, ensure_ascii=False) + "\n")


def raise_if_failure_rate_exceeded(summary: dict, settings: Settings) -> None:
    """FailureRateExceeded when too many records went to the dead letters; IndexingIncomplete
    first when the engine could not take some documents now (their files are taken again)."""
    if summary.get("pending_warc_files"):
        raise IndexingIncomplete(
            f"{summary['index_failed']} documents could not be indexed now ({summary['index_failure']}); "
            f"{len(summary['pending_warc_files'])} WARC files stay unprocessed and are taken again on the next run")
    if summary["failure_rate"] > settings.max_failure_rate:
        raise FailureRateExceeded(
            f"{summary['dead_letter']} of the batch failed ({summary['failure_rate']:.1%}), above the "
            f"allowed {settings.max_failure_rate:.0%}; see `newswire dead-letters` (files under {settings.dead_letters})"
        )


