"""Reading dates as the web writes them, for the crawler and processing alike."""

from __future__ import annotations

from datetime import date, datetime


def parse_iso_datetime(value: str | None) -> datetime | None:
    """An ISO 8601 date or date-time, or None when absent or unreadable.

    Python 3.11's ``fromisoformat`` reads ``Z`` and ``+0330`` offsets itself.
    """
    if not value or not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        return None


def parse_day(value: str | None, name: str) -> date | None:
    """A YYYY-MM-DD value of option or form field `name`; None when empty.

    Raises ValueError naming the field, so the CLI and the Airflow forms say the same.
    """
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{name} must be a date as YYYY-MM-DD, got {value!r}") from None


def check_window(since: date | None, until: date | None) -> None:
    if since and until and since > until:
        raise ValueError(f"since ({since}) is after until ({until})")
