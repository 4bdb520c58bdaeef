"""The agency table (``kernel/agencies.yaml``): the one list of agencies newswire knows.

The crawler registry (:mod:`kernel.registry`), the attribution gazetteer and the index's agency
synonyms are derived from it, so an id that is crawled, credited or searched always exists here.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

M = TypeVar("M", bound=BaseModel)

BUNDLED_AGENCIES = Path(__file__).resolve().parent / "agencies.yaml"


class AgencyTableError(ValueError):
    """The agency table is missing or malformed."""


class Agency(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    name_ar: str
    name_en: str
    names: tuple[str, ...] = ()
    short: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    generic: bool = False
    search_synonyms: bool = False
    crawl: dict[str, Any] | None = Field(None, description="Registry fields of a crawled agency.")


def _read(path: Path) -> list[dict]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise AgencyTableError(f"cannot read the agency table {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("agencies"), list):
        raise AgencyTableError(f"{path}: expected a mapping with an `agencies:` list")
    return data["agencies"]


def validate_entries(model: type[M], entries: list, kind: str) -> tuple[list[M], list[str]]:
    """Each entry as `model`, and one error line per invalid entry or repeated id."""
    valid, errors = [], []
    for position, entry in enumerate(entries):
        try:
            valid.append(model.model_validate(entry))
        except ValidationError as exc:
            name = entry.get("id", f"#{position}") if isinstance(entry, dict) else f"#{position}"
            errors.append(f"{kind} {name}: {exc}")
    ids = [item.id for item in valid]
    errors += [f"duplicate {kind} id {i!r}" for i in sorted({i for i in ids if ids.count(i) > 1})]
    return valid, errors


@lru_cache(maxsize=8)
def load_agencies(path: Path = BUNDLED_AGENCIES) -> tuple[Agency, ...]:
    """Every agency of the table, in file order; ids are unique."""
    agencies, errors = validate_entries(Agency, _read(path), "agency")
    if errors:
        raise AgencyTableError(f"{path} is invalid:\n" + "\n".join(errors))
    return tuple(agencies)


def _arabic(term: str) -> bool:
    return any("\u0600" <= char <= "\u06ff" for char in term)


def synonym_groups(agencies: tuple[Agency, ...]) -> list[str]:
    """``synonym_graph`` rules: each agency's one-word Arabic abbreviations with its Arabic names."""
    groups = []
    for agency in agencies:
        if not agency.search_synonyms:
            continue
        short = [term for term in agency.short if _arabic(term) and len(term.split()) == 1]
        names = [term for term in agency.names if _arabic(term)]
        terms = list(dict.fromkeys(short + [agency.name_ar] + names))
        if len(terms) > 1:
            groups.append(", ".join(terms))
    return groups
