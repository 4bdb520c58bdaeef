"""The source registry: which agencies are crawled, where, and how their articles are found.

The registry is the `crawl:` part of the agency table (:mod:`kernel.agencies`, or
``settings.agencies_file``); this module validates it into typed :class:`Source` records.
Adding a source is one entry in that table.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from functools import cached_property
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kernel.agencies import (
    BUNDLED_AGENCIES,
    AgencyTableError,
    load_agencies,
    validate_entries,
)
from kernel.settings import Settings
from kernel.urls import canonicalize_url


class RegistryError(ValueError):
    """The registry file is missing, malformed, or names an unknown source."""


class DiscoveryType(StrEnum):
    # Declared in order of preference: feeds first, listing pages last.
    RSS = "rss"
    ATOM = "atom"
    NEWS_SITEMAP = "news_sitemap"
    ROBOTS_SITEMAPS = "robots_sitemaps"  # sitemaps named by `Sitemap:` lines in robots.txt
    SITEMAP_INDEX = "sitemap_index"
    LISTING = "listing"

    @property
    def preference(self) -> int:
        return list(DiscoveryType).index(self)

    @property
    def via(self) -> str:
        """The family recorded in archive metadata: rss | sitemap | listing."""
        if self in (DiscoveryType.RSS, DiscoveryType.ATOM):
            return "rss"
        return "listing" if self is DiscoveryType.LISTING else "sitemap"


class Discovery(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: DiscoveryType
    url: str = Field(description="Path on the site (or absolute URL) of the feed, sitemap or listing.")


class Source(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    name_ar: str
    name_en: str
    base_url: str
    enabled: bool = True
    language: str = "ar"
    timezone: str
    discovery: list[Discovery] = Field(min_length=1)
    article_pattern: str = Field(
        description="Regex searched against the URL's path and query (no host), so it also "
        "matches on a mirror. Named groups year/month/day give a publication date."
    )
    hints: dict[str, Any] = Field(default_factory=dict, description="Per-site extraction hints.")

    @field_validator("base_url")
    @classmethod
    def _absolute_base(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be an absolute http(s) URL, got {value!r}")
        return value.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("article_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"article_pattern does not compile: {exc}") from exc
        return value

    @cached_property
    def article_regex(self) -> re.Pattern[str]:
        return re.compile(self.article_pattern)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def discovery_in_preference_order(self) -> list[Discovery]:
        return sorted(self.discovery, key=lambda d: d.type.preference)


def path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def article_match(source: Source, url: str) -> re.Match[str] | None:
    return source.article_regex.search(path_and_query(url))


def date_from_match(match: re.Match[str]) -> date | None:
    """The publication date spelled in the URL, when the pattern names year/month/day."""
    groups = match.groupdict()
    try:
        return date(int(groups["year"]), int(groups["month"]), int(groups["day"]))
    except (KeyError, TypeError, ValueError):
        return None


def rebase(url: str, from_base: str, to_base: str) -> str:
    """``url`` on ``from_base``'s host moved to ``to_base``'s host (mirror -> real site)."""
    src, dst, parts = urlsplit(from_base), urlsplit(to_base), urlsplit(url)
    if (parts.scheme, parts.netloc.lower()) != (src.scheme, src.netloc.lower()):
        return url
    return urlunsplit((dst.scheme, dst.netloc, parts.path, parts.query, parts.fragment))


def url_key(source: Source, url: str, effective_base: str) -> str:
    """The seen-state key: canonical URL as it is on the real site, whichever mirror served it."""
    return canonicalize_url(rebase(url, effective_base, source.base_url))


def absolute(base_url: str, url: str) -> str:
    return urljoin(base_url + "/", url)


def parse_registry(entries: list[dict], origin: str = "registry") -> list[Source]:
    sources, errors = validate_entries(Source, entries, "source")
    if errors:
        raise RegistryError(f"{origin} is invalid:\n" + "\n".join(errors))
    return sources


def load_registry(settings: Settings) -> list[Source]:
    """Every crawled source of the agency table (enabled or not), in table order."""
    path = settings.agencies_file or BUNDLED_AGENCIES
    try:
        agencies = load_agencies(path)
    except AgencyTableError as exc:
        raise RegistryError(str(exc)) from exc
    entries = [{"id": a.id, "name_ar": a.name_ar, "name_en": a.name_en, **a.crawl} for a in agencies if a.crawl]
    return parse_registry(entries, origin=str(path))


def select_sources(settings: Settings, source_ids: list[str] | None = None) -> list[Source]:
    """The sources to crawl: the ids given, else settings.enabled_sources, else every enabled one."""
    registry = {s.id: s for s in load_registry(settings)}
    wanted = source_ids or settings.enabled_sources
    if not wanted:
        return [s for s in registry.values() if s.enabled]
    unknown = [i for i in wanted if i not in registry]
    if unknown:
        raise RegistryError(f"unknown source id(s): {', '.join(unknown)}; known: {', '.join(registry)}")
    return [registry[i] for i in dict.fromkeys(wanted)]
