"""Shared output helpers: rich for humans, stable JSON for scripts, one line per error."""

from __future__ import annotations

import json
import re
import sys
import textwrap
from typing import Any

from rich.console import Console
from rich.markup import escape

console = Console(stderr=True)
"""Progress and messages go to stderr so that stdout stays clean for results and --json."""

stdout_console = Console(highlight=False)
"""Results for a person at a terminal."""

MARK_START, MARK_END = "\ufff9", "\ufffb"
"""Stand-ins for highlight tags while a line is reordered: bidi-neutral and never mirrored, so
each pair still brackets its word in display order (the end may then come first)."""
_MARKS = re.compile(f"[{MARK_START}{MARK_END}]")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def error_line(message: str) -> None:
    """One line on stderr, whatever the message holds (no wrapping, no markup)."""
    sys.stderr.write(" ".join(message.split()) + "\n")


def terminal_lines(text: str, width: int) -> list[str]:
    """Rich markup of `text` for a terminal without bidi support: wrapped in reading order,
    then each line shaped (joined letter forms) and put in display order; the words between
    MARK_START and MARK_END in bold."""
    import arabic_reshaper  # here: only terminal output is shaped, `--json` is not
    from bidi import get_display

    lines = []
    for line in textwrap.wrap(text, width) or [""]:
        parts = _MARKS.split(get_display(arabic_reshaper.reshape(line)))
        lines.append("".join(f"[bold yellow]{escape(part)}[/]" if odd else escape(part)
                             for odd, part in ((i % 2 == 1, part) for i, part in enumerate(parts))))
    return lines
