"""Option values shared by several commands."""

from __future__ import annotations

from datetime import date

import typer

from kernel import dates


def parse_day(value: str | None, option: str) -> date | None:
    """A YYYY-MM-DD option value; a wrong one is a usage error naming the option (exit 2)."""
    try:
        return dates.parse_day(value, option)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None
