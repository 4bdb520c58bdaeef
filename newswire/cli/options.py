"""Option values shared by several commands."""

from __future__ import annotations

from datetime import date

import typer

from kernel import dates
from kernel.settings import Settings


def parse_day(value: str | None, option: str) -> date | None:
    """A YYYY-MM-DD option value; a wrong one is a usage error naming the option (exit 2)."""
    try:
        return dates.parse_day(value, option)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def known_sources(values: list[str], settings: Settings) -> list[str]:
    """`--source` values, each a source of the registry; an unknown one is a usage error listing them."""
    from kernel.registry import load_registry

    ids = [source.id for source in load_registry(settings)]
    unknown = [value for value in values if value not in ids]
    if unknown:
        raise typer.BadParameter(f"unknown source {', '.join(map(repr, unknown))}; known: {', '.join(ids)}",
                                 param_hint="--source")
    return values
