"""Option values shared by several commands."""

from __future__ import annotations

from datetime import date

import typer


def parse_day(value: str | None, option: str) -> date | None:
    """A YYYY-MM-DD option value; a wrong one is a usage error naming the option (exit 2)."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date like 2026-11-29", param_hint=option) from None
