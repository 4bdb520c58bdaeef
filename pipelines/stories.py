"""Story clusters that persist across nights: tonight's articles join the stories already indexed.

A batch is clustered together with the articles the index already holds from the days around it
(``story_window_days`` either side), with the same clusterer as ever
(:func:`pipelines.dedup.grouped_story_clusters`). Each group is then named:

- after the earliest story name it holds: a stored story whose members in the window are mostly in
  the group, or a batch member's own id, ordered by when the named article was first seen
  (published, else crawled, then id). A stored name whose article is not in the window is older
  than the window, hence the earliest. So a story republished on a later night keeps the name it
  has, and an article alone is its own story. A stored article that tonight's clusterer puts with
  texts away from the rest of its story keeps its story's name without passing it on: a name
  carried by one copy would chain two stories through that copy;
- a group that holds two or more stored stories merges them: the later names move to the
  earliest, and every stored member of the later stories is renamed, in the window or not.

Stored stories never split here: a stored member keeps at least its own story's name. Only
reprocessing an article (which then is in the batch, not among the stored) recomputes its story.

Where the stored stories live is a :class:`StoryStore`: the index in production (see
:mod:`pipelines.batch`), memory in the evaluation that replays labelled articles night by night;
:func:`cluster_batch` is the one sequence both run.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import chain
from typing import Any, Protocol

from kernel.dates import parse_iso_datetime
from pipelines.dedup import StoryFeatures, grouped_story_clusters

STORED_FIELDS = ["id", "title", "body", "published_at", "crawled_at", "story_cluster"]
"""What the window query reads of each stored article."""


@dataclass(frozen=True, slots=True)
class StoryMember:
    """What naming a story needs to know of one article (its text goes to the clusterer only)."""

    id: str
    first_seen: datetime | None
    stored_cluster: str | None = None
    """The cluster the index holds for a stored article; None for an article of the batch."""


@dataclass
class StoryAssignment:
    clusters: dict[str, str] = field(default_factory=dict)
    """Every member id (batch and stored) -> its story cluster."""
    moved: dict[str, str] = field(default_factory=dict)
    """Stored member id -> its new cluster, where that changed."""
    renamed: dict[str, str] = field(default_factory=dict)
    """Stored cluster name that changed -> the story's name now (its members outside the window
    are renamed through this)."""
    merges: int = 0
    """Groups that met two or more stored stories, now one."""
    renames: dict[str, str] = field(default_factory=dict)
    """Every stored article -> its story's new name, where that changed (the members of a story
    merged away outside the window included): what the caller stores once the batch is."""


class StoryStore(Protocol):
    """The stories already stored, by the articles that belong to them."""

    def window(self, since: datetime, until: datetime) -> Iterable[tuple[StoryMember, str]]:
        """Stored articles first seen in the span, each with its clustering text."""

    def members_of(self, names: list[str]) -> Iterable[tuple[str, str]]:
        """(article id, story name) of every stored article of the named stories."""

    def rename(self, clusters: dict[str, str]) -> int:
        """Store each article's new story name; returns how many were stored."""


def cluster_batch(batch: Mapping[str, datetime | None],
                  texts: Callable[[], Iterable[tuple[str, str | StoryFeatures]]],
                  store: StoryStore | None, window_days: int) -> StoryAssignment:
    """Tonight's stories: the batch (each article's id and when it was first seen, and its texts or
    their StoryFeatures read once) clustered with the stored articles of the days around it. Reads
    the store only: the caller renames (``store.rename(assignment.renames)``) once the batch itself
    is stored, so no stored article is named after a batch article that is not there yet."""
    stored: dict[str, StoryMember] = {}
    stored_texts: list[tuple[str, str]] = []
    bounds = window_bounds(batch.values(), window_days)
    if store is not None and bounds is not None and window_days > 0:
        for member, text in store.window(*bounds):
            # an article of the batch is reprocessed, not stored
            if member.id not in batch and member.id not in stored:
                stored[member.id] = member
                stored_texts.append((member.id, text))
    assignment = name_stories(grouped_story_clusters(item for part in (texts(), stored_texts) for item in part),
                              _Members(batch, stored))
    assignment.renames = dict(assignment.moved)
    if store is not None and assignment.renamed:
        for article_id, name in store.members_of(sorted(assignment.renamed)):
            if article_id not in batch:
                assignment.renames.setdefault(article_id, assignment.renamed[name])
    return assignment


class _Members(Mapping[str, StoryMember]):
    """The batch's articles and the stored ones as one mapping of members, without a copy: a batch
    article's member is made when asked for, so a large batch holds no member object per article."""

    def __init__(self, batch: Mapping[str, datetime | None], stored: dict[str, StoryMember]):
        self._batch, self._stored = batch, stored

    def __getitem__(self, article_id: str) -> StoryMember:
        stored = self._stored.get(article_id)
        return stored if stored is not None else StoryMember(article_id, self._batch[article_id])

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._batch or article_id in self._stored

    def __iter__(self) -> Iterator[str]:
        return chain(self._batch, self._stored)

    def __len__(self) -> int:
        return len(self._batch) + len(self._stored)


def first_seen(published_at: datetime | None, crawled_at: datetime | None) -> datetime | None:
    return published_at or crawled_at


def window_bounds(first_seen: Iterable[datetime | None], days: int) -> tuple[datetime, datetime] | None:
    """The span of first-seen times the stored articles are read from; None without dated members."""
    seen = [moment for moment in first_seen if moment is not None]
    if not seen:
        return None
    return min(seen) - timedelta(days=days), max(seen) + timedelta(days=days)


def window_query(since: datetime, until: datetime) -> dict[str, Any]:
    """Stored articles first seen between `since` and `until` (published, else crawled)."""
    span = {"gte": since.isoformat(), "lte": until.isoformat()}
    return {"bool": {"minimum_should_match": 1, "should": [
        {"range": {"published_at": span}},
        {"bool": {"must_not": [{"exists": {"field": "published_at"}}], "filter": [{"range": {"crawled_at": span}}]}},
    ]}}


def stored_member(source: dict[str, Any]) -> tuple[StoryMember, str]:
    """A stored article (the window query's fields) as a member, and its clustering text."""
    member = StoryMember(
        id=source["id"],
        first_seen=first_seen(_date(source.get("published_at")), _date(source.get("crawled_at"))),
        stored_cluster=source.get("story_cluster") or source["id"],
    )
    return member, f"{source.get('title') or ''}\n{source.get('body') or ''}"


def _date(value: str | None) -> datetime | None:
    return parse_iso_datetime(value) if value else None


def _seniority(first: datetime | None, name: str) -> tuple:
    """Sort key of a story name: the earliest first; undated after dated; then by id."""
    return (first is None, first.timestamp() if first else 0.0, name)


def name_stories(groups: dict[str, str], members: Mapping[str, StoryMember]) -> StoryAssignment:
    """Name the clusterer's groups (member id -> any group key; absent: alone) as the module says."""
    assignment = StoryAssignment()
    shared_keys = {key for record_id, key in groups.items() if key != record_id}
    grouped: dict[str, list[StoryMember]] = defaultdict(list)
    for member in members.values():
        key = groups.get(member.id, member.id)
        if key == member.id and key not in shared_keys and member.stored_cluster is None:
            # A batch article alone, as most are: its own story, without a group of its own.
            assignment.clusters[member.id] = member.id
        else:
            grouped[key].append(member)
    window_size = Counter(m.stored_cluster for m in members.values() if m.stored_cluster is not None)

    for group in grouped.values():
        in_group = Counter(m.stored_cluster for m in group if m.stored_cluster is not None)
        # A stored story is this group's only when most of its members in the window are here: one
        # stored copy that tonight's clusterer put with other texts does not carry its story's name
        # to them (that chains two stories through the copy).
        stored_names = {name for name, count in in_group.items() if 2 * count > window_size[name]}
        candidates = stored_names | {m.id for m in group if m.stored_cluster is None}
        name = min(candidates, key=lambda candidate: _seniority_of(candidate, members), default=None)
        assignment.merges += len(stored_names) > 1
        for loser in sorted(stored_names - {name}):
            assignment.renamed[loser] = name
        for member in group:
            joins = member.stored_cluster is None or member.stored_cluster in stored_names
            assignment.clusters[member.id] = name if joins else member.stored_cluster
            if member.stored_cluster is not None and joins and member.stored_cluster != name:
                assignment.moved[member.id] = name
    return assignment


def _seniority_of(candidate: str, members: Mapping[str, StoryMember]) -> tuple:
    if candidate in members:
        return _seniority(members[candidate].first_seen, candidate)
    # A stored name whose article is outside the window: older than everything in it.
    return (False, float("-inf"), candidate)
