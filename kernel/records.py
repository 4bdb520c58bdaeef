"""Typed records shared by every stage, from the crawl to the index."""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

RECORD_VERSION = "1"
"""Bumped whenever processing changes what a record contains; stored on every record."""



class RecordStatus(StrEnum):
    OK = "ok"
    FLAGGED = "flagged"  # kept and indexed, but something about it needs a human look
    ERROR = "error"  # could not be processed; goes to the dead-letter file, not the index


class Attribution(BaseModel):
    """One credit of a story to an agency, with the exact text that shows it."""

    agency_id: str
    name_ar: str
    name_en: str
    evidence: str = Field(description="The credit exactly as it appears in the text.")
    position: int = Field(description="Character offset of the evidence in the text searched.")
    rule: str = Field(description="Which rule found it: trailer, parenthetical, dateline, byline, ...")
    confidence: float
    origin: str = Field("body", description="Where the credit was read: body (the text), byline (the page's "
                                            "byline above the text) or metadata (the JSON-LD / meta author); "
                                            "position and evidence refer to that string.")


class Provenance(BaseModel):
    """Where in the raw archive a record came from, so it can always be processed again."""

    warc_file: str
    warc_record_id: str
    crawl_run: str | None = None


class Article(BaseModel):
    id: str
    url: str
    canonical_url: str
    source_id: str | None = None
    title: str = ""
    body: str = ""
    lead: str = ""
    published_at: datetime | None = None
    crawled_at: datetime | None = None
    language: str | None = None
    language_confidence: float | None = None
    attribution: Attribution | None = Field(None, description="The agency the story is credited to.")
    credits: list[Attribution] = Field(default_factory=list, description="Every credit found.")
    cited_agencies: list[str] = Field(default_factory=list)
    removed_trailers: list[str] = Field(
        default_factory=list, description="End markers and source lines cut from the body."
    )
    content_hash: str = ""
    story_cluster: str | None = None
    warnings: list[str] = Field(default_factory=list)
    status: RecordStatus = RecordStatus.OK
    error: str | None = None
    provenance: Provenance | None = None
    pipeline_version: str = RECORD_VERSION


def article_id(canonical_url: str) -> str:
    """Deterministic id: the same canonical URL gives the same id on every machine."""
    return hashlib.sha256(canonical_url.encode("utf-8")).hexdigest()[:32]


def representative(cluster: str | None, article_id: str) -> bool:
    """The member a story is named after stands for it (an article alone is its own story)."""
    return cluster in (None, article_id)
